package router

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// The OpenAPI 3 document is generated from the route table, with JSON
// schemas derived from the Go types of bodies and responses.

type schemaGen struct {
	defs map[string]any
}

var timeType = reflect.TypeFor[time.Time]()

// schema returns the JSON schema of t, adding named struct types to defs
// and referring to them.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		nullable = true
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType || t.Kind() == reflect.Interface:
		s = map[string]any{}
	case t.Kind() == reflect.Struct:
		name := schemaName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // recursion guard
			g.defs[name] = g.object(t)
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if nullable {
			return map[string]any{"allOf": []any{ref}, "nullable": true}
		}
		return ref
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s = map[string]any{"type": "string", "format": "binary"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		s = map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	default:
		s = map[string]any{}
	}
	if nullable {
		s["nullable"] = true
	}
	return s
}

func schemaName(t reflect.Type) string {
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndex(pkg, "/")+1:]
	if pkg == "router" {
		return t.Name()
	}
	return pkg + "." + t.Name()
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	g.fields(t, props)
	return map[string]any{"type": "object", "properties": props}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		switch f.Type {
		case reflect.TypeFor[time.Duration]():
			props[name] = map[string]any{"type": "integer", "description": "nanoseconds"}
			continue
		case reflect.TypeFor[miner.Duration]():
			props[name] = map[string]any{"type": "string", "description": `a duration such as "5m" or "1h30m" (a number is taken as seconds)`}
			continue
		}
		props[name] = g.schema(f.Type)
	}
}

func (a *API) buildOpenAPI() []byte {
	g := &schemaGen{defs: map[string]any{}}
	errResp := map[string]any{
		"description": `an error: {"error": message, "code": code}`,
		"content":     map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeFor[ErrorBody]())}},
	}
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
		}
		var params []any
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": seg[1 : len(seg)-1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": map[string]any{"type": q.Type}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != nil {
			media := rt.BodyMedia
			if media == "" {
				media = "application/json"
			}
			content := map[string]any{media: map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}}
			if rt.Multipart != nil {
				content["multipart/form-data"] = map[string]any{"schema": g.schema(reflect.TypeOf(rt.Multipart))}
			}
			op["requestBody"] = map[string]any{"required": !rt.BodyOptional, "content": content}
		}
		status := rt.Status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		media := rt.RespMedia
		if media == "" {
			media = "application/json"
		}
		var sch map[string]any
		if rt.Resp != nil {
			sch = g.schema(reflect.TypeOf(rt.Resp))
		} else {
			sch = map[string]any{"type": "string"}
		}
		ok["content"] = map[string]any{media: map[string]any{"schema": sch}}
		op["responses"] = map[string]any{strconv.Itoa(status): ok, "default": errResp}
		if rt.Public {
			op["security"] = []any{}
		}
		p := a.fullPath(rt)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "rigd REST API",
			"version": a.cfg.Version,
			"description": "rigd supervises mining rigs. Errors are {\"error\", \"code\"}. A bearer token (DATA_DIR/api.token) is " +
				"required on every request but /health when the agent listens beyond loopback, and on state-changing requests " +
				"from other machines.",
		},
		"paths":      paths,
		"security":   []any{map[string]any{"bearer": []any{}}},
		"components": map[string]any{"schemas": g.defs, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("router: OpenAPI document: " + err.Error())
	}
	return append(b, '\n')
}

// operationID is a unique name of a route ("get_miners_name_stats").
func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, seg := range strings.Split(rt.Path, "/") {
		seg = strings.Trim(seg, "{}")
		if seg == "" {
			continue
		}
		b.WriteByte('_')
		b.WriteString(strings.NewReplacer("-", "_", ".", "_").Replace(seg))
	}
	return b.String()
}

func (a *API) serveOpenAPI(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(a.openapi)
	return err
}

// OpenAPI returns the OpenAPI 3 document of the API.
func (a *API) OpenAPI() []byte { return append([]byte(nil), a.openapi...) }
