package xmrig

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// apiRequest builds the parse_api input from a "<prefix>-summary.json" and,
// when it exists, the matching "<prefix>-backends.json".
func apiRequest(t testing.TB, summaryPath string) abi.APIRequest {
	t.Helper()
	req := abi.APIRequest{Responses: []abi.APIResponse{{Name: "summary", Status: 200, Body: string(readFile(t, summaryPath))}}}
	backends := strings.TrimSuffix(summaryPath, "-summary.json") + "-backends.json"
	if b, err := os.ReadFile(backends); err == nil {
		req.Responses = append(req.Responses, abi.APIResponse{Name: "backends", Status: 200, Body: string(b)})
	}
	return req
}

func callAPI(t testing.TB, req abi.APIRequest) (abi.Stats, *abi.Error) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	st, out := sdk.Call(New(), abi.ExportParseAPI, in)
	switch st {
	case abi.StatusOK:
		var s abi.Stats
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("output is not Stats: %v: %s", err, out)
		}
		return s, nil
	case abi.StatusError:
		var e abi.Error
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("error output is not an Error: %v: %s", err, out)
		}
		return abi.Stats{}, &e
	}
	t.Fatalf("status %d", st)
	return abi.Stats{}, nil
}

// TestGoldenAPI parses every captured summary (with its backends) and
// compares the Stats with <prefix>.stats.json.
func TestGoldenAPI(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*-summary.json"))
	if len(files) < 5 {
		t.Fatalf("want at least 5 API captures, found %v", files)
	}
	for _, path := range files {
		t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
			st, aerr := callAPI(t, apiRequest(t, path))
			if aerr != nil {
				t.Fatalf("parse_api: %+v", aerr)
			}
			checkGolden(t, strings.TrimSuffix(path, "-summary.json")+".stats.json", indentJSON(t, st))
		})
	}
}

// TestParseAPIFacts spells out the values of the real 6.16.0 captures.
func TestParseAPIFacts(t *testing.T) {
	st, aerr := callAPI(t, apiRequest(t, "testdata/6.16.0/api-summary.json"))
	if aerr != nil {
		t.Fatal(aerr)
	}
	if *st.HashrateHS != 39.65 || st.Hashrate60sHS != nil || st.Hashrate15mHS != nil || *st.HashrateMaxHS != 40.07 {
		t.Errorf("hashrate = %v %v %v %v", ptrString(st.HashrateHS), ptrString(st.Hashrate60sHS), ptrString(st.Hashrate15mHS), ptrString(st.HashrateMaxHS))
	}
	if *st.Accepted != 18 || *st.Rejected != 0 || *st.Difficulty != 50 || st.Pool != "127.0.0.1:13334" ||
		!*st.PoolConnected || *st.PoolPingMS != 1 || *st.UptimeS != 24 || st.Algorithm != "rx/0" ||
		st.Version != "6.16.0" || *st.Paused {
		t.Errorf("stats = %s", indentJSON(t, st))
	}
	if len(st.Devices) != 1 || st.Devices[0].Kind != "cpu" || st.Devices[0].ID != 0 ||
		st.Devices[0].Name != "AMD EPYC" || *st.Devices[0].HashrateHS != 39.65 {
		t.Errorf("devices = %s", indentJSON(t, st.Devices))
	}

	st, _ = callAPI(t, apiRequest(t, "testdata/6.16.0/api-mining-summary.json"))
	if *st.Accepted != 3 || *st.Rejected != 1 {
		t.Errorf("mining capture: accepted %v rejected %v, want 3 and 1", ptrString(st.Accepted), ptrString(st.Rejected))
	}
	st, _ = callAPI(t, apiRequest(t, "testdata/6.16.0/api-paused-summary.json"))
	if st.Paused == nil || !*st.Paused || st.Devices != nil {
		t.Errorf("paused capture: paused %v devices %v", ptrString(st.Paused), st.Devices)
	}
	st, _ = callAPI(t, apiRequest(t, "testdata/6.16.0/api-disconnected-summary.json"))
	if st.PoolConnected == nil || *st.PoolConnected || st.Difficulty != nil || st.PoolPingMS != nil || *st.Accepted != 2 {
		t.Errorf("disconnected capture: connected %v difficulty %v ping %v accepted %v",
			ptrString(st.PoolConnected), ptrString(st.Difficulty), ptrString(st.PoolPingMS), ptrString(st.Accepted))
	}

	// GPU backends (a synthetic body in XMRig's documented shape): threads
	// of one GPU are summed, zero sensors are unknown.
	st, _ = callAPI(t, apiRequest(t, "testdata/synthetic/api-gpu-summary.json"))
	got := map[string]abi.Device{}
	for _, d := range st.Devices {
		got[d.Kind+"/"+itoa(d.ID)] = d
	}
	if len(st.Devices) != 4 {
		t.Fatalf("devices = %s", indentJSON(t, st.Devices))
	}
	if d := got["amd/0"]; *d.HashrateHS != 1810.5 || d.Name != "Radeon RX 580 Series" || d.BusID != "01:00.0" ||
		*d.TempC != 61 || *d.PowerW != 95 || d.FanPct != nil {
		t.Errorf("amd/0 = %s", indentJSON(t, d))
	}
	if d := got["nvidia/0"]; *d.HashrateHS != 2000 || *d.FanPct != 45 || *d.TempC != 64 || *d.PowerW != 120 || *d.CoreClockMHz != 1500 {
		t.Errorf("nvidia/0 = %s", indentJSON(t, d))
	}
	if d := got["nvidia/1"]; d.TempC != nil || d.PowerW != nil || d.FanPct != nil || *d.HashrateHS != 1200 {
		t.Errorf("nvidia/1 = %s", indentJSON(t, d))
	}
	if d := got["cpu/0"]; *d.HashrateHS != 5123.4 {
		t.Errorf("cpu/0 = %s", indentJSON(t, d))
	}
}

func TestParseAPIErrors(t *testing.T) {
	good := string(readFile(t, "testdata/6.16.0/api-summary.json"))
	tests := []struct {
		name      string
		responses []abi.APIResponse
		contains  string
	}{
		{"no responses", nil, `"summary" is missing`},
		{"only backends", []abi.APIResponse{{Name: "backends", Status: 200, Body: "[]"}}, `"summary" is missing`},
		{"unauthorized", []abi.APIResponse{{Name: "summary", Status: 401, Body: `{"error":"unauthorized"}`}}, `"summary": HTTP status 401`},
		{"empty body", []abi.APIResponse{{Name: "summary", Status: 200, Body: " "}}, `"summary": empty body`},
		{"not JSON", []abi.APIResponse{{Name: "summary", Status: 200, Body: "<html>"}}, `"summary"`},
		{"wrong shape", []abi.APIResponse{{Name: "summary", Status: 200, Body: "[1,2]"}}, `"summary"`},
		{"wrong field type", []abi.APIResponse{{Name: "summary", Status: 200, Body: `{"hashrate":{"total":"fast"}}`}}, `"summary"`},
		{"bad backends", []abi.APIResponse{{Name: "summary", Status: 200, Body: good}, {Name: "backends", Status: 200, Body: `{"type":"cpu"}`}}, `"backends"`},
		{"truncated", []abi.APIResponse{{Name: "summary", Status: 200, Body: good[:len(good)/2]}}, `"summary"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, aerr := callAPI(t, abi.APIRequest{Responses: tt.responses})
			if aerr == nil || aerr.Code != abi.CodeBadInput || !strings.Contains(aerr.Message, tt.contains) {
				t.Errorf("error = %+v, want bad_input containing %q", aerr, tt.contains)
			}
			_, err := New().ParseAPI(abi.APIRequest{Responses: tt.responses})
			var ae *abi.Error
			if !errors.As(err, &ae) {
				t.Errorf("ParseAPI error %v is not an *abi.Error", err)
			}
		})
	}
	// A request that is not JSON at all is refused by the SDK's decoding.
	if st, out := sdk.Call(New(), abi.ExportParseAPI, []byte("{")); st != abi.StatusError || !strings.Contains(string(out), abi.CodeBadInput) {
		t.Errorf("bad request: status %d %s", st, out)
	}
	// Odd but valid values stay unknown rather than wrong.
	st, aerr := callAPI(t, abi.APIRequest{Responses: []abi.APIResponse{{Name: "summary", Body: `{"hashrate":{"total":[-1,null]},"connection":{"pool":"","accepted":-5},"uptime":-3}`}}})
	if aerr != nil || st.HashrateHS != nil || st.UptimeS != nil || st.Accepted != nil || *st.PoolConnected {
		t.Errorf("odd values: %s %+v", indentJSON(t, st), aerr)
	}
}
