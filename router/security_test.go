package router

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func newReq(method, path, host string, hdr map[string]string) *http.Request {
	var body *strings.Reader
	if isStateChanging(method) {
		body = strings.NewReader(`{"input":"h"}`)
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.Host = host
	if isStateChanging(method) {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// TestToken covers missing, wrong and query-string tokens, per listen
// address and client address.
func TestToken(t *testing.T) {
	const (
		loopClient = "127.0.0.1:40000"
		lanClient  = "192.168.1.20:40000"
	)
	good := map[string]string{"Authorization": "Bearer " + testToken}
	tests := []struct {
		name, listen, client, method, path string
		hdr                                map[string]string
		want                               int
		contains                           string
	}{
		// Listening on loopback: reads need no token; writes need one
		// unless they come from loopback.
		{"loopback read", "127.0.0.1:9090", loopClient, "GET", "/miners", nil, 200, ""},
		{"loopback write from loopback", "127.0.0.1:9090", loopClient, "POST", "/miners/cpu/stdin", nil, 200, ""},
		{"write from the LAN without token", "127.0.0.1:9090", lanClient, "POST", "/miners/cpu/stdin", nil, 401, "another machine"},
		{"write from the LAN with token", "127.0.0.1:9090", lanClient, "POST", "/miners/cpu/stdin", good, 200, ""},
		{"delete from the LAN without token", "127.0.0.1:9090", lanClient, "DELETE", "/miners/nope", nil, 401, "token"},
		{"read from the LAN", "127.0.0.1:9090", lanClient, "GET", "/miners", nil, 200, ""},
		{"wrong token on a read", "127.0.0.1:9090", loopClient, "GET", "/miners", map[string]string{"Authorization": "Bearer nope"}, 401, "wrong API token"},
		{"basic auth", "127.0.0.1:9090", loopClient, "GET", "/miners", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, "malformed"},
		{"query token", "127.0.0.1:9090", loopClient, "GET", "/miners?token=" + testToken, nil, 401, "query string"},
		{"query access_token", "127.0.0.1:9090", loopClient, "GET", "/miners?access_token=" + testToken, good, 401, "query string"},
		{"query token on health", "127.0.0.1:9090", loopClient, "GET", "/health?token=x", nil, 401, "query string"},
		// Listening beyond loopback: everything but /health needs it.
		{"lan listen read without token", "0.0.0.0:9090", loopClient, "GET", "/miners", nil, 401, "beyond loopback"},
		{"lan listen metrics without token", "0.0.0.0:9090", lanClient, "GET", "//metrics", nil, 401, "token"},
		{"lan listen openapi without token", "0.0.0.0:9090", lanClient, "GET", "/openapi.json", nil, 401, "token"},
		{"lan listen health", "0.0.0.0:9090", lanClient, "GET", "/health", nil, 200, ""},
		{"lan listen read with token", "0.0.0.0:9090", lanClient, "GET", "/miners", good, 200, ""},
		{"lan listen metrics with token", "[::]:9090", lanClient, "GET", "//metrics", good, 200, ""},
		{"lan listen write from loopback without token", "0.0.0.0:9090", loopClient, "POST", "/miners/cpu/stdin", nil, 401, "token"},
		{"lan listen wrong token", "192.168.1.5:9090", lanClient, "GET", "/miners", map[string]string{"Authorization": "Bearer " + testToken[:63] + "0"}, 401, "wrong"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fm := newFakeMiners()
			fm.add("cpu", "xmrig", 0)
			cfg := fullConfig(fm)
			cfg.Listen = tc.listen
			api := New(cfg)
			path := api.Prefix() + tc.path
			if strings.HasPrefix(tc.path, "//") {
				path = tc.path[1:]
			}
			rec := serveAs(api, tc.client, newReq(tc.method, path, "192.168.1.5:9090", tc.hdr))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 401 {
				var eb ErrorBody
				decodeJSON(t, rec.Body.Bytes(), &eb)
				if eb.Code != CodeUnauthorized || !strings.Contains(eb.Error, tc.contains) {
					t.Fatalf("%+v, want %q", eb, tc.contains)
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate header")
				}
			}
		})
	}
	// An empty configured token never matches.
	if tokenEqual("", "") {
		t.Fatal("empty token matched")
	}
}

// TestHostAllowList refuses Host names that are not the agent's
// (DNS rebinding) before anything else.
func TestHostAllowList(t *testing.T) {
	cfg := fullConfig(newFakeMiners())
	cfg.Listen = "127.0.0.1:9090"
	cfg.AllowedHosts = []string{"rig1.lan", "Rig2.Example."}
	api := New(cfg)
	for host, want := range map[string]int{
		"localhost:9090":      200,
		"LOCALHOST":           200,
		"127.0.0.1:9090":      200,
		"[::1]:9090":          200,
		"192.168.1.5:9090":    200,
		"rig.localhost:9090":  200,
		"rig1.lan:9090":       200,
		"rig2.example":        200,
		"evil.example":        403,
		"evil.example:9090":   403,
		"localhost.evil.com":  403,
		"127.0.0.1.nip.io":    403,
		"":                    403,
		"rig1.lan.evil.com":   403,
		"attacker.rig1.lan":   403,
		"xn--80ak6aa92e.com":  403,
		"[::1]:9090@evil.com": 403,
	} {
		rec := serveAs(api, "127.0.0.1:1", newReq("GET", api.Prefix()+"/miners", host, nil))
		if rec.Code != want {
			t.Errorf("Host %q: %d, want %d: %s", host, rec.Code, want, rec.Body)
			continue
		}
		if want == 403 && !strings.Contains(rec.Body.String(), CodeForeignHost) {
			t.Errorf("Host %q: %s", host, rec.Body)
		}
	}
	// Even /health and a valid token do not get past a foreign Host.
	rec := serveAs(api, "127.0.0.1:1", newReq("GET", api.Prefix()+"/health", "evil.example", map[string]string{"Authorization": "Bearer " + testToken}))
	if rec.Code != 403 {
		t.Fatalf("health with a foreign Host: %d", rec.Code)
	}
	// A listen address with a name allows that name.
	cfg.Listen, cfg.AllowedHosts = "rig9.lan:9090", nil
	api = New(cfg)
	if rec := serveAs(api, "127.0.0.1:1", newReq("GET", api.Prefix()+"/health", "rig9.lan:9090", nil)); rec.Code != 200 {
		t.Fatalf("listen host refused: %d", rec.Code)
	}
}

// TestOrigin: cross-origin requests are refused unless configured; CORS
// answers preflights for configured origins only.
func TestOrigin(t *testing.T) {
	cfg := fullConfig(newFakeMiners())
	cfg.Listen = "127.0.0.1:9090"
	api := New(cfg)
	host := "127.0.0.1:9090"
	try := func(api *API, method, path, origin string, hdr map[string]string) *httptest.ResponseRecorder {
		h := map[string]string{"Origin": origin}
		for k, v := range hdr {
			h[k] = v
		}
		return serveAs(api, "127.0.0.1:1", newReq(method, api.Prefix()+path, host, h))
	}
	if rec := try(api, "POST", "/miners", "http://evil.example", nil); rec.Code != 403 || !strings.Contains(rec.Body.String(), CodeCrossOrigin) {
		t.Fatalf("cross-origin POST: %d %s", rec.Code, rec.Body)
	}
	if rec := try(api, "GET", "/miners", "http://evil.example", nil); rec.Code != 403 {
		t.Fatalf("cross-origin GET: %d", rec.Code)
	}
	if rec := try(api, "GET", "/events", "null", map[string]string{"Upgrade": "websocket"}); rec.Code != 403 {
		t.Fatalf("cross-origin WebSocket: %d", rec.Code)
	}
	if rec := try(api, "GET", "/miners", "http://"+host, nil); rec.Code != 200 {
		t.Fatalf("same-origin GET: %d %s", rec.Code, rec.Body)
	}
	if rec := try(api, "OPTIONS", "/miners", "http://evil.example", map[string]string{"Access-Control-Request-Method": "POST"}); rec.Code != 403 {
		t.Fatalf("preflight without CORS: %d", rec.Code)
	}
	if rec := try(api, "OPTIONS", "/miners", "", nil); rec.Code != 405 || !strings.Contains(rec.Body.String(), CodeMethodNotAllowed) {
		t.Fatalf("OPTIONS without Origin: %d %s", rec.Code, rec.Body)
	}

	cfg.CORSOrigins = []string{"https://dash.lan:3000", "http://grafana.lan"}
	api = New(cfg)
	rec := try(api, "OPTIONS", "/miners", "https://dash.lan:3000", map[string]string{"Access-Control-Request-Method": "POST"})
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://dash.lan:3000" || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
	rec = try(api, "GET", "/miners", "http://grafana.lan:80", nil)
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "http://grafana.lan:80" {
		t.Fatalf("CORS GET: %d %v", rec.Code, rec.Header())
	}
	// A cross-origin write needs the token even from loopback.
	rec = try(api, "POST", "/miners", "https://dash.lan:3000", nil)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "cross-origin") {
		t.Fatalf("CORS POST without token: %d %s", rec.Code, rec.Body)
	}
	rec = try(api, "POST", "/miners", "https://dash.lan:3000", map[string]string{"Authorization": "Bearer " + testToken})
	if rec.Code == 401 || rec.Code == 403 {
		t.Fatalf("CORS POST with token: %d %s", rec.Code, rec.Body)
	}
	if rec := try(api, "POST", "/miners", "https://evil.example", nil); rec.Code != 403 {
		t.Fatalf("unlisted origin: %d", rec.Code)
	}
}

// TestRateLimit: state-changing requests are limited per client; reads
// are not; the client map stays bounded.
func TestRateLimit(t *testing.T) {
	now := t0
	fm := newFakeMiners()
	fm.add("cpu", "xmrig", 0)
	cfg := fullConfig(fm)
	cfg.Now = func() time.Time { return now }
	cfg.RateLimit = RateLimit{PerSecond: 50, Burst: 100, MaxClients: 16}
	api := New(cfg)
	post := func(client string) *httptest.ResponseRecorder {
		return serveAs(api, client, newReq("POST", api.Prefix()+"/miners/cpu/stdin", "localhost", nil))
	}
	for i := range 100 {
		if rec := post("127.0.0.1:1"); rec.Code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post("127.0.0.1:1")
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), CodeRateLimited) {
		t.Fatalf("request 101: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// Reads are never limited.
	for range 300 {
		if rec := serveAs(api, "127.0.0.1:1", newReq("GET", api.Prefix()+"/miners", "localhost", nil)); rec.Code != 200 {
			t.Fatalf("read limited: %d", rec.Code)
		}
	}
	// Another client has its own bucket.
	if rec := serveAs(api, "10.0.0.2:1", newReq("POST", api.Prefix()+"/miners/cpu/stdin", "localhost", map[string]string{"Authorization": "Bearer " + testToken})); rec.Code != 200 {
		t.Fatalf("other client: %d %s", rec.Code, rec.Body)
	}
	// 50/s: after 100 ms, 5 more.
	now = now.Add(100 * time.Millisecond)
	for i := range 5 {
		if rec := post("127.0.0.1:1"); rec.Code != 200 {
			t.Fatalf("refilled request %d: %d", i, rec.Code)
		}
	}
	if rec := post("127.0.0.1:1"); rec.Code != 429 {
		t.Fatalf("past the refill: %d", rec.Code)
	}

	// Bounded: 1,000 clients leave at most MaxClients buckets.
	l := newLimiter(RateLimit{PerSecond: 50, Burst: 100, MaxClients: 16})
	for i := range 1000 {
		l.allow(netip.MustParseAddr(fmt.Sprintf("10.1.%d.%d", i/256, i%256)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.size(); n > 16 {
		t.Fatalf("%d clients tracked, limit 16", n)
	}
	// IPv6 clients share a bucket per /64.
	l = newLimiter(RateLimit{PerSecond: 1, Burst: 2, MaxClients: 16})
	a := netip.MustParseAddr("2001:db8::1")
	b := netip.MustParseAddr("2001:db8::ffff:2")
	l.allow(a, t0)
	l.allow(b, t0)
	if ok, _ := l.allow(a, t0); ok {
		t.Fatal("a /64 got more than its burst")
	}
}
