package router

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// TestRoutes calls every route with every service faked and checks the
// status, the JSON answer and what reached the service.
func TestRoutes(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.fm.add("cpu", "xmrig", 1)
	profiles := ta.cfg.Profiles.(*fakeProfiles)
	sp, _ := profiles.Create(t.Context(), miner.ProfileInput{Name: "p", Type: "xmrig"})
	ta.cfg.Peers.(*fakePeers).peers = []Peer{{ID: "PEER-1", Connected: true}}
	ta.cfg.Installer.(*fakeInstaller).installed = map[string]InstalledMiner{"xmrig": {Type: "xmrig", Version: "6.21.0", Current: true}}
	ta.cfg.AdapterFiles.(*fakeAdapterFiles).added = map[string][]byte{"custom": nil}

	tests := []struct {
		method, path, body string
		want               int
		contains           string
	}{
		{"GET", "/health", "", 200, `"status":"ok"`},
		{"GET", "/ready", "", 200, `"status":"degraded"`},
		{"GET", "/info", "", 200, `"data_dir":"/data"`},
		{"GET", "/openapi.json", "", 200, `"openapi": "3.0.3"`},
		{"GET", "/miners", "", 200, `"name":"cpu"`},
		{"GET", "/miners/available", "", 200, `"latest_version":"6.22.0"`},
		{"GET", "/miners/cpu", "", 200, `"state":"running"`},
		{"GET", "/miners/cpu/stats", "", 200, `"hashrate_hs":1234.5`},
		{"GET", "/miners/cpu/logs?lines=10&strip=1", "", 200, `"text":" * XMRig 6.16.0"`},
		{"GET", "/miners/cpu/logs?since=1", "", 200, `"seq":2`},
		{"POST", "/miners/cpu/stdin", `{"input":"h"}`, 200, `"written":1`},
		{"GET", "/miners/cpu/hashrate-history", "", 200, `"minutes"`},
		{"GET", "/miners/cpu/incidents", "", 200, `"rule":"low_hashrate"`},
		{"POST", "/adapters/xmrig/rollback", "", 200, `"generation":3`},
		{"POST", "/adapters/other/rollback", "", 409, `"code":"conflict"`},
		{"GET", "/miners/nope/incidents", "", 404, `"code":"not_found"`},
		{"POST", "/miners", `{"type":"xmrig","name":"gpu","profile":{"algo":"rx/0"}}`, 201, `"name":"gpu"`},
		{"POST", "/miners", `{"profile_id":"` + sp.ID + `","name":"fromprofile","watchdog":{"grace":"1m"}}`, 201, `"profile_id":"` + sp.ID + `"`},
		{"DELETE", "/miners/gpu", "", 200, `"state":"stopped"`},
		{"POST", "/miners/xmrig/install", `{"version":"6.21.1"}`, 200, `"version":"6.21.1"`},
		{"POST", "/miners/xmrig/install", "", 200, `"version":"6.21.0"`},
		{"POST", "/update", "", 200, `"available":true`},
		{"POST", "/update", `{"type":"xmrig"}`, 200, `"latest"`},
		{"GET", "/profiles", "", 200, `"id":"` + sp.ID + `"`},
		{"POST", "/profiles", `{"name":"n","type":"xmrig","profile":{"algo":"rx/0"}}`, 201, `"id":"p2"`},
		{"GET", "/profiles/" + sp.ID, "", 200, `"name":"p"`},
		{"PUT", "/profiles/p2", `{"name":"renamed","type":"xmrig","profile":{}}`, 200, `"name":"renamed"`},
		{"POST", "/profiles/p2/start", `{"name":"started-p2"}`, 201, `"name":"started-p2"`},
		{"DELETE", "/profiles/p2", "", 200, `"deleted":"p2"`},
		{"GET", "/history/miners", "", 200, `"series":"gpu"`},
		{"GET", "/history/miners/cpu", "", 200, `"series":"cpu"`},
		{"GET", "/history/miners/cpu?device=cpu0", "", 200, `"series":"cpu/cpu0"`},
		{"GET", "/history/miners/cpu/hashrate?since=2h&step=1m", "", 200, `"source":"storage"`},
		{"GET", "/adapters", "", 200, `"name":"ttminer"`},
		{"POST", "/adapters", "\x00asm\x01\x00\x00\x00", 201, `"name":"custom"`},
		{"DELETE", "/adapters/custom", "", 200, `"deleted":"custom"`},
		{"GET", "/node/info", "", 200, `"node_id":"AAAA-BBBB-CCCC"`},
		{"POST", "/node/invite", `{"role":"controller"}`, 201, `"invite":"secret"`},
		{"GET", "/node/pending", "", 200, `"id":"PEND-1"`},
		{"GET", "/peers", "", 200, `"id":"PEER-1"`},
		{"POST", "/peers", `{"address":"10.0.0.2:9091","invite":"good"}`, 201, `"id":"PEER-2"`},
		{"POST", "/peers/PEER-2/ping", "", 200, `"rtt_ms":0.4`},
		{"POST", "/peers/PEND-1/approve", `{"role":"observer"}`, 200, `"role":"observer"`},
		{"DELETE", "/peers/PEER-2", "", 200, `"deleted":"PEER-2"`},
		{"GET", "/remote/stats", "", 200, `"error":"timeout"`},
		{"GET", "/remote/rig2/stats", "", 200, `"node_id":"PEER-2"`},
		{"POST", "/remote/rig2/start", `{"type":"xmrig","profile":{"algo":"rx/0"}}`, 201, `"name":"remote-xmrig"`},
		{"POST", "/remote/rig2/stop", `{"name":"cpu"}`, 200, `"state":"stopped"`},
		{"GET", "/remote/rig2/logs/cpu?lines=5", "", 200, `hello from rig2`},
		{"POST", "/miners", `{"type":"xmrig","name":"own","binary":"/opt/xmrig/xmrig","profile":{"algo":"rx/0"}}`, 201, `"name":"own"`},
		{"DELETE", "/miners/xmrig/uninstall", "", 200, `"fromprofile"`},
		{"DELETE", "/miners/xmrig/uninstall", "", 404, `"code":"not_found"`},
	}
	for _, tc := range tests {
		hdr := map[string]string{}
		if tc.path == "/adapters" && tc.method == "POST" {
			hdr["Content-Type"] = "application/wasm"
		}
		resp, b := ta.do(tc.method, tc.path, tc.body, hdr)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.want, b)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
		if !json.Valid(b) {
			t.Errorf("%s %s: invalid JSON %q", tc.method, tc.path, b)
		}
		if !bytes.Contains(b, []byte(tc.contains)) {
			t.Errorf("%s %s: body lacks %s:\n%s", tc.method, tc.path, tc.contains, b)
		}
	}
	if wd := ta.fm.reqs["fromprofile"].Watchdog; wd == nil || time.Duration(wd.Grace) != time.Minute {
		t.Errorf("the start request's watchdog did not reach the start from a profile: %+v", wd)
	}
	if got := ta.fm.stdin["cpu"]; got != "h" {
		t.Errorf("stdin reached the miner as %q", got)
	}
	if u := ta.cfg.Installer.(*fakeInstaller).uninstalled; len(u) != 1 || u[0] != "xmrig" {
		t.Errorf("uninstalled %v", u)
	}
	if _, err := ta.fm.Get("fromprofile"); err == nil {
		t.Errorf("uninstall left the xmrig miner running")
	}
	// The cpu miner was added as xmrig too, running the installed binary:
	// both were stopped. The miner with its own binary runs on, through
	// the failed second uninstall too.
	if l := ta.fm.List(); len(l) != 1 || l[0].Name != "own" || l[0].State != miner.StateRunning {
		t.Errorf("miners left after uninstalling their type: %+v", l)
	}
	q := ta.cfg.History.(*fakeHistory).queries
	if len(q) != 1 || q[0].Until.Sub(q[0].Since).Hours() != 2 || q[0].Step.Minutes() != 1 {
		t.Errorf("history query %+v", q)
	}
}

// TestLogsPlainText: Accept: text/plain returns the raw lines, ANSI kept.
func TestLogsPlainText(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.fm.add("cpu", "xmrig", 0)
	resp, b := ta.do("GET", "/miners/cpu/logs", "", map[string]string{"Accept": "text/plain"})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(b), "\x1b[32m * XMRig") {
		t.Fatalf("plain logs %q lack the ANSI banner", b)
	}
}

// TestNotImplemented: with only Miners configured, every other service's
// routes answer 501 not_implemented with a message.
func TestNotImplemented(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) {
		*c = Config{Miners: c.Miners, Token: testToken, Now: c.Now}
	})
	tests := []struct{ method, path, body string }{
		{"GET", "/ready", ""}, {"GET", "/info", ""}, {"GET", "/events", ""},
		{"GET", "/miners/available", ""}, {"POST", "/miners/xmrig/install", ""}, {"DELETE", "/miners/xmrig/uninstall", ""}, {"POST", "/update", ""},
		{"GET", "/profiles", ""}, {"POST", "/profiles", `{"name":"x","type":"xmrig"}`}, {"GET", "/profiles/p1", ""},
		{"PUT", "/profiles/p1", `{"name":"x","type":"xmrig"}`}, {"DELETE", "/profiles/p1", ""}, {"POST", "/profiles/p1/start", ""},
		{"POST", "/miners", `{"profile_id":"p1"}`},
		{"GET", "/adapters", ""}, {"POST", "/adapters", "\x00asm"}, {"DELETE", "/adapters/x", ""},
		{"GET", "/node/info", ""}, {"POST", "/node/invite", ""}, {"GET", "/node/pending", ""},
		{"GET", "/peers", ""}, {"POST", "/peers", `{"address":"a:1","invite":"i"}`}, {"DELETE", "/peers/x", ""},
		{"POST", "/peers/x/ping", ""}, {"POST", "/peers/x/approve", `{"role":"observer"}`},
		{"GET", "/remote/stats", ""}, {"GET", "/remote/x/stats", ""}, {"POST", "/remote/x/start", `{"profile_id":"p"}`},
		{"POST", "/remote/x/stop", `{"name":"cpu"}`}, {"GET", "/remote/x/logs/cpu", ""},
	}
	for _, tc := range tests {
		hdr := map[string]string{"Accept": "text/event-stream"}
		if tc.path == "/adapters" {
			hdr["Content-Type"] = "application/wasm"
		}
		resp, b := ta.do(tc.method, tc.path, tc.body, hdr)
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s, want 501", tc.method, tc.path, resp.StatusCode, b)
			continue
		}
		if eb := errorBody(t, resp, b); eb.Code != CodeNotImplemented || !strings.Contains(eb.Error, "not") {
			t.Errorf("%s %s: %+v", tc.method, tc.path, eb)
		}
	}
	// History falls back to the Manager's memory.
	ta.fm.add("cpu", "xmrig", 0)
	resp, b := ta.do("GET", "/history/miners/cpu/hashrate?since=2h&step=10m", "", nil)
	var hr HistoryRange
	decodeJSON(t, b, &hr)
	if resp.StatusCode != 200 || hr.Source != "memory" || len(hr.Points) == 0 {
		t.Fatalf("memory history: %d %s", resp.StatusCode, b)
	}
	for i := 1; i < len(hr.Points); i++ {
		if d := hr.Points[i].Time.Sub(hr.Points[i-1].Time); d.Minutes() < 10 {
			t.Fatalf("points %d and %d are %v apart with step 10m", i-1, i, d)
		}
	}
	resp, b = ta.do("GET", "/history/miners", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"series":"cpu"`) {
		t.Fatalf("memory summaries: %d %s", resp.StatusCode, b)
	}
}

// TestBadInput covers the bad-input list that is about requests
// (auth, hosts and slowloris have their own tests).
func TestBadInput(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.fm.add("cpu", "xmrig", 0)
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
		code                     string
		contains                 string
	}{
		{"malformed JSON", "POST", "/miners", `{"type":`, nil, 400, CodeInvalidJSON, "unexpected end"},
		{"syntax error", "POST", "/miners", `{"type" "xmrig"}`, nil, 400, CodeInvalidJSON, "invalid JSON at byte"},
		{"empty body", "POST", "/miners", ``, nil, 400, CodeInvalidJSON, "empty"},
		{"two values", "POST", "/miners", `{"type":"xmrig"} {}`, nil, 400, CodeInvalidJSON, "more than one value"},
		{"negative since", "GET", "/history/miners/cpu/hashrate?since=-5m", "", nil, 400, CodeBadRequest, "duration back from now"},
		{"history of nothing", "GET", "/history/miners/nohistory/hashrate", "", nil, 404, CodeNotFound, "nohistory"},
		{"two objects", "POST", "/miners/cpu/stdin", `{"input":"h"} {"input":"p"}`, nil, 400, CodeInvalidJSON, "more than one value"},
		{"wrong type", "POST", "/miners", `{"type":42}`, nil, 400, CodeInvalidJSON, "field type: got JSON number, want string"},
		{"wrong nested type", "POST", "/miners", `{"type":"xmrig","profile":{"threads":"many"}}`, nil, 400, CodeInvalidJSON, "profile.threads"},
		{"unknown fields listed", "POST", "/miners", `{"type":"xmrig","colour":"red","profile":{"algo":"rx/0","poolz":[],"pools":[{"url":"x","tls":true,"sni":"y"}]}}`, nil, 400, CodeUnknownField, "colour, profile.pools.0.sni, profile.poolz"},
		{"unknown field stdin", "POST", "/miners/cpu/stdin", `{"input":"h","enter":true}`, nil, 400, CodeUnknownField, "enter"},
		{"missing type", "POST", "/miners", `{"profile":{}}`, nil, 400, CodeBadRequest, `"type"`},
		{"profile_id and type", "POST", "/miners", `{"profile_id":"p1","type":"xmrig"}`, nil, 400, CodeBadRequest, "not both"},
		{"unknown type", "POST", "/miners", `{"type":"nope"}`, nil, 400, CodeUnknownType, "nope"},
		{"adapter rejects", "POST", "/miners", `{"type":"xmrig","profile":{"algo":"reject"}}`, nil, 400, "invalid_profile", "refused"},
		{"conflict", "POST", "/miners", `{"type":"xmrig","name":"cpu"}`, nil, 409, CodeConflict, "cpu"},
		{"wrong content type", "POST", "/miners", `{"type":"xmrig"}`, map[string]string{"Content-Type": "text/plain"}, 415, CodeUnsupportedMedia, "text/plain"},
		{"form from a browser", "POST", "/miners", `{"type":"xmrig"}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://" + ta.srv.Listener.Addr().String()}, 415, CodeUnsupportedMedia, "not application/json"},
		{"wasm as json", "POST", "/adapters", `{}`, map[string]string{"Content-Type": "application/json"}, 415, CodeUnsupportedMedia, "application/wasm"},
		{"name ../x", "GET", "/miners/../x", "", nil, 404, CodeNotFound, "no route"},
		{"name a/b", "GET", "/miners/a/b", "", nil, 404, CodeNotFound, "no route"},
		{"name %2e%2e", "GET", "/miners/%2e%2e", "", nil, 400, CodeInvalidName, "invalid name"},
		{"name %2e%2e stats", "GET", "/miners/%2e%2e/stats", "", nil, 400, CodeInvalidName, "invalid name"},
		{"name a%2fb", "DELETE", "/miners/a%2fb", "", nil, 404, CodeNotFound, "no route"},
		{"name 65 chars", "GET", "/miners/" + long, "", nil, 400, CodeInvalidName, "65 characters"},
		{"name 65 chars start", "POST", "/miners", `{"type":"xmrig","name":"` + long + `"}`, nil, 400, CodeInvalidName, "65 characters"},
		{"name -x", "POST", "/miners", `{"type":"xmrig","name":"-x"}`, nil, 400, CodeInvalidName, "-x"},
		{"name x;y", "POST", "/miners", `{"type":"xmrig","name":"x;y"}`, nil, 400, CodeInvalidName, "x;y"},
		{"type ../x install", "POST", "/miners/%2e%2e/install", "", nil, 400, CodeInvalidName, "miner type"},
		{"profile id bad", "GET", "/profiles/a.b", "", nil, 400, CodeBadRequest, "id"},
		{"peer id bad", "DELETE", "/peers/%2e%2e", "", nil, 400, CodeBadRequest, "peer"},
		{"not found", "GET", "/miners/nope", "", nil, 404, CodeNotFound, "nope"},
		{"stdin empty", "POST", "/miners/cpu/stdin", `{"input":""}`, nil, 400, CodeBadRequest, "empty"},
		{"stdin unknown miner", "POST", "/miners/nope/stdin", `{"input":"h"}`, nil, 404, CodeNotFound, "nope"},
		{"lines too many", "GET", "/miners/cpu/logs?lines=10001", "", nil, 400, CodeBadRequest, "lines"},
		{"since not a number", "GET", "/miners/cpu/logs?since=x", "", nil, 400, CodeBadRequest, "since"},
		{"strip bad", "GET", "/miners/cpu/logs?strip=yes", "", nil, 400, CodeBadRequest, "strip"},
		{"history since bad", "GET", "/history/miners/cpu/hashrate?since=yesterday", "", nil, 400, CodeBadRequest, "RFC 3339"},
		{"history since with an unencoded +", "GET", "/history/miners/cpu/hashrate?since=2026-11-27T16:43:00+01:00", "", nil, 400, CodeBadRequest, "%2B"},
		{"history since zero", "GET", "/history/miners/cpu/hashrate?since=0", "", nil, 400, CodeBadRequest, "more than 0"},
		{"history reversed", "GET", "/history/miners/cpu/hashrate?since=1h&until=2h", "", nil, 400, CodeBadRequest, "before"},
		{"history too many points", "GET", "/history/miners/cpu/hashrate?since=400d&step=1s", "", nil, 400, CodeBadRequest, "larger step"},
		{"history too many points without a step", "GET", "/history/miners/huge/hashrate?since=400d", "", nil, 400, CodeBadRequest, "give a step"},
		{"history device bad", "GET", "/history/miners/cpu?device=../x", "", nil, 400, CodeInvalidName, "device"},
		{"unknown route", "GET", "/nothing/here", "", nil, 404, CodeNotFound, "no route GET"},
		{"unknown root route", "GET", "//favicon.ico", "", nil, 404, CodeNotFound, "no route"},
		{"trailing slash", "GET", "/miners/", "", nil, 404, CodeNotFound, "no route"},
		{"remote 2 segments", "GET", "/remote/rig2", "", nil, 404, CodeNotFound, "no route"},
		{"wrong method", "PATCH", "/miners", `{}`, nil, 405, CodeMethodNotAllowed, "(allowed: GET, HEAD, POST)"},
		{"wrong method on param", "PUT", "/miners/cpu", `{}`, nil, 405, CodeMethodNotAllowed, "DELETE"},
		{"events without stream", "GET", "/events", "", nil, 400, CodeNotAcceptable, "text/event-stream"},
		{"events bad filter", "GET", "/events?miners=a,../b", "", map[string]string{"Accept": "text/event-stream"}, 400, CodeInvalidName, "miners"},
		{"ws bad handshake", "GET", "/events", "", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}, 400, CodeBadRequest, "Sec-WebSocket-Key"},
		{"remote start neither", "POST", "/remote/rig2/start", `{}`, nil, 400, CodeBadRequest, "profile_id"},
		{"remote forbidden", "POST", "/remote/observer/start", `{"profile_id":"p1"}`, nil, 403, CodeForbidden, "observer"},
		{"add peer missing", "POST", "/peers", `{"address":"x"}`, nil, 400, CodeBadRequest, "invite"},
		{"adapter remove builtin", "DELETE", "/adapters/xmrig", "", nil, 409, CodeConflict, "built in"},
		{"adapter invalid", "POST", "/adapters", "nope", map[string]string{"Content-Type": "application/wasm"}, 400, CodeBadRequest, "not a wasm"},
		{"upload unknown part", "POST", "/adapters", "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n",
			map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, 400, CodeBadRequest, `unknown part "other"`},
		{"upload without module", "POST", "/adapters", "--b\r\nContent-Disposition: form-data; name=\"fixtures\"\r\n\r\n{}\r\n--b--\r\n",
			map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, 400, CodeBadRequest, `no "module" part`},
		{"upload without boundary", "POST", "/adapters", "x", map[string]string{"Content-Type": "multipart/form-data"}, 400, CodeBadRequest, "boundary"},
		{"install unknown type", "POST", "/miners/nope/install", "", nil, 400, CodeUnknownType, "nope"},
		{"uninstall bad version", "DELETE", "/miners/xmrig/uninstall?version=../1", "", nil, 400, CodeBadRequest, "version"},
		{"uninstall dot-dot", "DELETE", "/miners/xmrig/uninstall?version=..", "", nil, 400, CodeBadRequest, "version"},
		{"install from relative", "POST", "/miners/xmrig/install", `{"from":"relative/xmrig.tar.gz"}`, nil, 400, CodeBadRequest, "absolute path"},
		{"install from and version", "POST", "/miners/xmrig/install", `{"from":"/tmp/x.tar.gz","version":"6.16.0"}`, nil, 400, CodeBadRequest, "drop version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := ta.do(tc.method, tc.path, tc.body, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			eb := errorBody(t, resp, b)
			if eb.Code != tc.code || !strings.Contains(eb.Error, tc.contains) {
				t.Fatalf("got %+v, want code %s and %q in the message", eb, tc.code, tc.contains)
			}
		})
	}
	if n := len(ta.fm.List()); n != 1 {
		t.Fatalf("bad input started or stopped miners: %d miners", n)
	}
}

// countingReader counts what the server read of a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestBodyTooLarge: a 2 MB body is refused with 413 after the server read
// at most 1 MiB of it.
func TestBodyTooLarge(t *testing.T) {
	api := New(fullConfig(newFakeMiners()))
	body := `{"type":"xmrig","name":"` + strings.Repeat("x", 2<<20) + `"}`
	cr := &countingReader{r: strings.NewReader(body)}
	req := httptest.NewRequest("POST", api.Prefix()+"/miners", cr)
	req.Header.Set("Content-Type", "application/json")
	rec := serveAs(api, "127.0.0.1:5000", req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var eb ErrorBody
	decodeJSON(t, rec.Body.Bytes(), &eb)
	if eb.Code != CodeTooLarge {
		t.Fatalf("%+v", eb)
	}
	// MaxBytesReader reads one byte past the limit to notice it; the
	// reader may hand over a little more in the same Read.
	if n := cr.n.Load(); n > MaxBody+32<<10 {
		t.Fatalf("the server read %d bytes of a 2 MB body; want about 1 MiB", n)
	}

	// The same over a real connection.
	ta := newTestAPI(t, nil)
	resp, b := ta.do("POST", "/miners", body, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorBody(t, resp, b).Code != CodeTooLarge {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestCurlDefaultContentType: curl -d sends
// application/x-www-form-urlencoded; accepted without an Origin header.
func TestCurlDefaultContentType(t *testing.T) {
	ta := newTestAPI(t, nil)
	resp, b := ta.do("POST", "/miners", `{"type":"xmrig","name":"curl"}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestHead: HEAD answers wherever GET does, with the headers and no body
// (health checks use it); event streams are GET only.
func TestHead(t *testing.T) {
	ta := newTestAPI(t, nil)
	for _, path := range []string{"/health", "/miners", "/openapi.json"} {
		resp, b := ta.do("HEAD", path, "", nil)
		if resp.StatusCode != http.StatusOK || len(b) != 0 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s: %d %q %v", path, resp.StatusCode, b, resp.Header)
		}
	}
	if resp, _ := ta.do("HEAD", "/events", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /events: %d", resp.StatusCode)
	}
	if resp, _ := ta.do("HEAD", "/miners/nope", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of an unknown miner: %d", resp.StatusCode)
	}
}
