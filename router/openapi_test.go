package router

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
)

// walkRouter lists every (method, pattern) registered in an httprouter
// tree. httprouter v1.3.0 has no walk API, so this reads its unexported
// tree by reflection (read-only).
func walkRouter(t *testing.T, r *httprouter.Router) []registration {
	t.Helper()
	trees := reflect.ValueOf(r).Elem().FieldByName("trees")
	if !trees.IsValid() {
		t.Fatal("httprouter.Router has no trees field: the walk needs updating for this httprouter version")
	}
	var out []registration
	var walk func(method, prefix string, n reflect.Value)
	walk = func(method, prefix string, n reflect.Value) {
		if n.IsNil() {
			return
		}
		n = n.Elem()
		path := prefix + n.FieldByName("path").String()
		if !n.FieldByName("handle").IsNil() {
			out = append(out, registration{method, path})
		}
		ch := n.FieldByName("children")
		for i := 0; i < ch.Len(); i++ {
			walk(method, path, ch.Index(i))
		}
	}
	iter := trees.MapRange()
	for iter.Next() {
		walk(iter.Key().String(), "", iter.Value())
	}
	return out
}

type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Summary     string `json:"summary"`
		RequestBody *struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

func parseDoc(t *testing.T, b []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3 document: %.200s", b)
	}
	return doc
}

// docRoutes lists "METHOD path" of the document.
func docRoutes(doc openAPIDoc) []string {
	var out []string
	for p, ops := range doc.Paths {
		for m := range ops {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(out)
	return out
}

// samplePath fills the path parameters of a documented path.
func samplePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case "{type}":
			segs[i] = "xmrig"
		case "{id}", "{peer}":
			segs[i] = "id1"
		case "{name}", "{miner}":
			segs[i] = "cpu"
		}
	}
	return strings.Join(segs, "/")
}

// TestOpenAPIMatchesRegistrations: the document lists exactly the routes
// registered on httprouter, and each documented path reaches a handler.
func TestOpenAPIMatchesRegistrations(t *testing.T) {
	for _, prefix := range []string{"", "/custom/v2"} {
		api := New(Config{Miners: newFakeMiners(), Prefix: prefix})
		walked := walkRouter(t, api.router)
		// HEAD mirrors GET; it is not documented on its own.
		var heads []registration
		walked = slices.DeleteFunc(walked, func(r registration) bool {
			if r.Method == "HEAD" {
				heads = append(heads, r)
			}
			return r.Method == "HEAD"
		})
		for _, h := range heads {
			if !slices.Contains(walked, registration{"GET", h.Pattern}) {
				t.Errorf("HEAD %s has no GET", h.Pattern)
			}
		}
		if len(heads) < 20 {
			t.Errorf("only %d HEAD registrations", len(heads))
		}
		sortRegs := func(r []registration) {
			slices.SortFunc(r, func(a, b registration) int { return strings.Compare(a.Method+" "+a.Pattern, b.Method+" "+b.Pattern) })
		}
		sortRegs(walked)
		reg := slices.Clone(api.registered)
		sortRegs(reg)
		if !slices.Equal(walked, reg) {
			t.Fatalf("httprouter holds\n%v\nthe route table registered\n%v", walked, reg)
		}

		doc := parseDoc(t, api.OpenAPI())
		var table []string
		patterns := map[registration]bool{}
		for _, rt := range api.routes {
			table = append(table, rt.Method+" "+api.fullPath(rt))
			patterns[registration{rt.Method, api.pattern(rt)}] = true
		}
		slices.Sort(table)
		if got := docRoutes(doc); !slices.Equal(got, table) {
			t.Fatalf("document routes\n%v\nroute table\n%v", got, table)
		}
		// Every registration serves at least one documented route, and
		// every documented route's pattern is registered.
		for _, w := range walked {
			if !patterns[w] {
				t.Errorf("%s %s is registered but serves no documented route", w.Method, w.Pattern)
			}
		}
		if len(patterns) != len(walked) {
			t.Errorf("%d patterns in the table, %d registered", len(patterns), len(walked))
		}
		ids := map[string]bool{}
		for _, r := range docRoutes(doc) {
			method, p, _ := strings.Cut(r, " ")
			if h, _, _ := api.router.Lookup(method, samplePath(p)); h == nil {
				t.Errorf("%s %s: no handler for %s", method, p, samplePath(p))
			}
			op := doc.Paths[p][strings.ToLower(method)]
			if op.OperationID == "" || ids[op.OperationID] || op.Summary == "" {
				t.Errorf("%s %s: operationId %q (duplicate: %v), summary %q", method, p, op.OperationID, ids[op.OperationID], op.Summary)
			}
			ids[op.OperationID] = true
		}
		if prefix == "" && !slices.Contains(docRoutes(doc), "GET /api/v1/mining/miners/available") {
			t.Error("the default prefix is not used")
		}
		if !slices.Contains(docRoutes(doc), "GET /metrics") {
			t.Error("/metrics is not at the root")
		}
		for _, name := range []string{"miner.Info", "abi.Stats", "ErrorBody", "InstalledMiner"} {
			if _, ok := doc.Components.Schemas[name]; !ok {
				t.Errorf("schema %s missing", name)
			}
		}
	}
}

// seedRoutes are the routes the issue lists (issue 4, plus POST /update of
// the installer issue and the remote logs of the P2P issue).
var seedRoutes = []string{
	"GET /info", "GET /health", "GET /ready",
	"GET /miners", "POST /miners", "GET /miners/available", "DELETE /miners/{name}",
	"GET /miners/{name}/stats", "GET /miners/{name}/logs", "POST /miners/{name}/stdin", "GET /miners/{name}/hashrate-history", "GET /miners/{name}/incidents",
	"POST /miners/{type}/install", "DELETE /miners/{type}/uninstall", "POST /update",
	"GET /profiles", "POST /profiles", "GET /profiles/{id}", "PUT /profiles/{id}", "DELETE /profiles/{id}", "POST /profiles/{id}/start",
	"GET /history/miners", "GET /history/miners/{name}", "GET /history/miners/{name}/hashrate",
	"GET /node/info", "GET /peers", "POST /peers", "DELETE /peers/{id}", "POST /peers/{id}/ping",
	"GET /remote/stats", "GET /remote/{peer}/stats", "POST /remote/{peer}/start", "POST /remote/{peer}/stop", "GET /remote/{peer}/logs/{miner}",
	"GET /adapters", "POST /adapters", "DELETE /adapters/{name}", "POST /adapters/{name}/rollback",
	"GET /events", "GET /openapi.json",
	"GET //metrics", // at the root
}

// TestRouteCoverage walks the seed routes and the OpenAPI
// document and finds every route answering JSON (the event stream answers
// SSE, /metrics the Prometheus text format), with every service present
// and with none.
func TestRouteCoverage(t *testing.T) {
	for _, setup := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"all services", nil},
		{"miners only", func(c *Config) { *c = Config{Miners: c.Miners, Now: c.Now} }},
	} {
		t.Run(setup.name, func(t *testing.T) {
			ta := newTestAPI(t, setup.mutate)
			ta.fm.add("cpu", "xmrig", 1)
			_, b := ta.do("GET", "/openapi.json", "", nil)
			doc := parseDoc(t, b)
			routes := docRoutes(doc)
			for _, s := range seedRoutes {
				method, p, _ := strings.Cut(s, " ")
				full := ta.api.Prefix() + p
				if strings.HasPrefix(p, "//") {
					full = p[1:]
				}
				if !slices.Contains(routes, method+" "+full) {
					t.Errorf("seed route %s is not in the OpenAPI document", s)
				}
			}
			for _, r := range routes {
				method, p, _ := strings.Cut(r, " ")
				path := samplePath(p)
				op := doc.Paths[p][strings.ToLower(method)]
				req, _ := http.NewRequestWithContext(t.Context(), method, ta.srv.URL+path, nil)
				if op.RequestBody != nil {
					for media := range op.RequestBody.Content {
						req.Header.Set("Content-Type", media)
						req.Body = http.NoBody
						if media == "application/json" {
							req.Body = jsonBody("{}")
						}
					}
				}
				if strings.HasSuffix(p, "/events") {
					req.Header.Set("Accept", "text/event-stream")
				}
				resp, err := ta.srv.Client().Do(req)
				if err != nil {
					t.Fatalf("%s: %v", r, err)
				}
				ct := resp.Header.Get("Content-Type")
				var first []byte
				if strings.HasSuffix(p, "/events") && resp.StatusCode == 200 {
					first, _ = bufio.NewReader(resp.Body).ReadBytes('\n')
				} else {
					first = readAll(resp)
				}
				resp.Body.Close()
				switch {
				case strings.HasSuffix(p, "/events") && resp.StatusCode == 200:
					if ct != "text/event-stream" || !strings.HasPrefix(string(first), ":") {
						t.Errorf("%s: %d %s %q", r, resp.StatusCode, ct, first)
					}
				case p == "/metrics":
					if !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(first), "rigd_build_info") {
						t.Errorf("%s: %d %s", r, resp.StatusCode, ct)
					}
				default:
					if ct != "application/json" || !json.Valid(first) {
						t.Errorf("%s: %d %s %.200q", r, resp.StatusCode, ct, first)
					}
					if resp.StatusCode == 405 || (resp.StatusCode == 404 && strings.Contains(string(first), "no route")) {
						t.Errorf("%s: not routed: %d %s", r, resp.StatusCode, first)
					}
				}
			}
		})
	}
}

// TestREADMEListsEveryRoute: README.md, the user's manual, has a row for
// every route, as "`METHOD /path`".
func TestREADMEListsEveryRoute(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	api := New(Config{Miners: newFakeMiners()})
	for _, rt := range api.routes {
		row := regexp.MustCompile("`" + regexp.QuoteMeta(rt.Method+" "+rt.Path) + "[` ?]")
		if !row.Match(readme) {
			t.Errorf("README.md does not list %s %s", rt.Method, rt.Path)
		}
	}
}
