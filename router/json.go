package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxBody is the largest JSON request body accepted.
const MaxBody = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes v into a buffer first: one write with a
// Content-Length instead of chunks, and an encoding error becomes a 500
// instead of half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		b, _ := json.Marshal(ErrorBody{Error: "internal error: encoding the answer: " + err.Error(), Code: CodeInternal})
		buf.Write(append(b, '\n'))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError && code == CodeInternal {
		msg = "internal error: " + msg
	}
	writeJSON(w, status, ErrorBody{Error: msg, Code: code})
}

// checkJSONType accepts a JSON Content-Type, none, or curl's default for
// -d (application/x-www-form-urlencoded) on a request without an Origin
// header. Browsers send that type cross-origin without a preflight, so it
// is only taken from non-browser clients: `curl -d '{...}'` works without
// -H 'Content-Type: application/json', a web page's form post does not.
func checkJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	curl := mt == "application/x-www-form-urlencoded" && r.Header.Get("Origin") == ""
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && !curl) {
		return apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q is not application/json", ct))
	}
	return nil
}

// readBody reads at most limit bytes of the request body within the
// body read timeout; more is a 413.
func (a *API) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(a.cfg.BodyReadTimeout))
	defer rc.SetReadDeadline(time.Time{})
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body over %d bytes", limit))
		}
		return nil, apiError(http.StatusBadRequest, CodeBadRequest, "reading the request body: "+err.Error())
	}
	return b, nil
}

// decode reads a JSON request body into v: the body at most MaxBody bytes,
// unknown fields rejected (all of them listed), nothing after the value.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return a.decodeBody(w, r, v, false)
}

// decodeOptional is decode for an optional body: an empty one leaves v
// as it is.
func (a *API) decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	return a.decodeBody(w, r, v, true)
}

func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	b, err := a.readBody(w, r, MaxBody)
	if err != nil {
		return err
	}
	if optional && len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeBytes(b, v)
}

// decodeBytes is the strict JSON decoding of a request body.
func decodeBytes(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if names := unknownFields(b, reflect.TypeOf(v), ""); len(names) > 0 {
				return apiError(http.StatusBadRequest, CodeUnknownField, "unknown field(s): "+strings.Join(names, ", "))
			}
		}
		return decodeError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err == nil {
			return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: more than one value in the body")
		}
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, "request body is empty; want a JSON object")
	case errors.As(err, &se):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return apiError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("field %s: got JSON %s, want %s", field, te.Value, te.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apiError(http.StatusBadRequest, CodeUnknownField, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: unexpected end of body")
	}
	return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: "+err.Error())
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// unknownFields lists every object key in data (a JSON value of type t)
// that t has no field for, as dotted paths ("profile.poolz").
func unknownFields(data []byte, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				out = append(out, path+k)
				continue
			}
			out = append(out, unknownFields(obj[k], ft, path+k+".")...)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		var arr []json.RawMessage
		if json.Unmarshal(data, &arr) != nil {
			return nil
		}
		for i, e := range arr {
			out = append(out, unknownFields(e, t.Elem(), fmt.Sprintf("%s%d.", path, i))...)
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		for k, e := range obj {
			out = append(out, unknownFields(e, t.Elem(), path+k+".")...)
		}
		slices.Sort(out)
	}
	return out
}

// jsonFields maps the lower-cased JSON names of a struct's fields
// (embedded structs flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
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
				for k, v := range jsonFields(ft) {
					if _, ok := m[k]; !ok {
						m[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[strings.ToLower(name)] = f.Type
	}
	return m
}
