package router

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testAPI is an API behind a real loopback server.
type testAPI struct {
	t   *testing.T
	api *API
	srv *httptest.Server
	fm  *fakeMiners
	cfg Config
}

// newTestAPI serves the API with every service faked; mutate may change
// the config (set services to nil, add security settings).
func newTestAPI(t *testing.T, mutate func(*Config)) *testAPI {
	t.Helper()
	fm := newFakeMiners()
	cfg := fullConfig(fm)
	if mutate != nil {
		mutate(&cfg)
	}
	api := New(cfg)
	srv := httptest.NewUnstartedServer(api)
	srv.Config = NewServer(api, ServerConfig{})
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		api.Close()
	})
	return &testAPI{t: t, api: api, srv: srv, fm: fm, cfg: cfg}
}

// do sends a request to the API (path relative to the prefix unless it
// starts with "//", which means from the root) and returns the response
// and its body.
func (ta *testAPI) do(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	ta.t.Helper()
	u := ta.srv.URL + ta.api.Prefix() + path
	if strings.HasPrefix(path, "//") {
		u = ta.srv.URL + path[1:]
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		ta.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ta.srv.Client().Do(req)
	if err != nil {
		ta.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ta.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

// serveAs runs one request in-process with a chosen client address.
func serveAs(api *API, remote string, req *http.Request) *httptest.ResponseRecorder {
	req.RemoteAddr = remote
	if req.Host == "example.com" { // httptest.NewRequest's default
		req.Host = "localhost:9090"
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	return rec
}

// errorBody decodes an error response and checks its shape.
func errorBody(t *testing.T, resp *http.Response, b []byte) ErrorBody {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response Content-Type %q, want application/json; body %q", ct, b)
	}
	var eb ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error == "" || eb.Code == "" {
		t.Fatalf("error body %q is not {\"error\",\"code\"} (%v)", b, err)
	}
	return eb
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

func jsonBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func readAll(resp *http.Response) []byte {
	b, _ := io.ReadAll(resp.Body)
	return b
}
