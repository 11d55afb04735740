package ttminer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// callAPI runs parse_api through sdk.Call with one getstat reply.
func callAPI(t testing.TB, a *Adapter, body string) (abi.Stats, *abi.Error) {
	t.Helper()
	in, err := json.Marshal(abi.APIRequest{Responses: []abi.APIResponse{{Name: endpointGetstat, Body: body}}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := sdk.Call(a, abi.ExportParseAPI, in)
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

// TestParseAPIUnits: H/s stays H/s (not kH/s as in Claymore's original) and
// uptime minutes become seconds.
func TestParseAPIUnits(t *testing.T) {
	st, aerr := callAPI(t, New(), `{"id":0,"jsonrpc":"2.0","result":["2023.4.0","125","66750000;3;1","21500000;45250000","0;0","off;off","62;60;64;65","rvn.example.org:3333","0;0;0;0"]}`)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if !eq(st.HashrateHS, 66.75e6) || !eq(st.UptimeS, 7500) || !eqI(st.Accepted, 3) || !eqI(st.Rejected, 1) ||
		st.Version != "2023.4.0" || st.Pool != "rvn.example.org:3333" || st.PoolConnected == nil || !*st.PoolConnected {
		t.Errorf("stats = %s", indentJSON(t, st))
	}
	if len(st.Devices) != 2 {
		t.Fatalf("devices = %s", indentJSON(t, st.Devices))
	}
	for i, want := range []struct{ hr, temp, fan float64 }{{21.5e6, 62, 60}, {45.25e6, 64, 65}} {
		d := st.Devices[i]
		if d.ID != i || d.Kind != "nvidia" || !eq(d.HashrateHS, want.hr) || !eq(d.TempC, want.temp) || !eq(d.FanPct, want.fan) {
			t.Errorf("device %d = %s", i, indentJSON(t, d))
		}
	}
}

// TestParseAPIDeviceIDs: after the console showed which devices mine (ids 0
// and 2 of three), the API's positions map onto those ids and names; when a
// GPU drops out of the report the last report's ids are used.
func TestParseAPIDeviceIDs(t *testing.T) {
	a := New()
	lines := strings.Split(string(readFile(t, "testdata/synthetic/two-gpus-kawpow.log")), "\n")
	feed := func(ls []string) {
		var bs [][]byte
		for _, l := range ls {
			bs = append(bs, []byte(l))
		}
		if _, err := a.ParseLines(abi.Stdout, bs); err != nil {
			t.Fatal(err)
		}
	}
	feed(lines[:8]) // banner and the device list only
	st, aerr := callAPI(t, a, `{"result":["2023.4.0","1","0;0;0","0;0","","","58;55;61;60","rvn.example.org:3333",""]}`)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if len(st.Devices) != 2 || st.Devices[0].ID != 0 || st.Devices[1].ID != 2 || st.Devices[1].Name != "NVIDIA GeForce RTX 3090" || st.Devices[1].BusID != "03:00.0" {
		t.Fatalf("from the device list: %s", indentJSON(t, st.Devices))
	}
	feed(lines[8:23]) // up to the report where GPU 2 is gone
	st, aerr = callAPI(t, a, `{"result":["2023.4.0","1","21750000;2;0","21750000","","","63;61","rvn.example.org:3333",""]}`)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if len(st.Devices) != 1 || st.Devices[0].ID != 0 || !eq(st.Devices[0].HashrateHS, 21.75e6) {
		t.Fatalf("after the drop: %s", indentJSON(t, st.Devices))
	}
	a.Reset()
	st, _ = callAPI(t, a, `{"result":["2023.4.0","1","0;0;0","0;0","","","58;55;61;60","",""]}`)
	if len(st.Devices) != 2 || st.Devices[1].ID != 1 || st.PoolConnected == nil || *st.PoolConnected {
		t.Fatalf("after Reset: %s", indentJSON(t, st))
	}
}

func TestParseAPIValues(t *testing.T) {
	tests := []struct {
		name, body string
		check      func(t *testing.T, st abi.Stats)
	}{
		{"zero before the first share is a known 0", `{"result":["2023.4.0","0","0;0;0","0;0","0;0","off;off","58;55;61;60","p:1",""]}`,
			func(t *testing.T, st abi.Stats) {
				if !eq(st.HashrateHS, 0) || !eq(st.Devices[0].HashrateHS, 0) || !eq(st.UptimeS, 0) {
					t.Errorf("%s", indentJSON(t, st))
				}
			}},
		{"0 °C is an unread sensor", `{"result":["2024.3.2","3","1250000000;4;0","1250000000","0;0","off","0;0","","0;0;0;0"]}`,
			func(t *testing.T, st abi.Stats) {
				if st.Devices[0].TempC != nil || st.Devices[0].FanPct != nil || !eq(st.HashrateHS, 1.25e9) {
					t.Errorf("%s", indentJSON(t, st))
				}
			}},
		{"numbers instead of strings, short result", `{"result":["2023.4.0",7,"100;1;0"]}`,
			func(t *testing.T, st abi.Stats) {
				if !eq(st.UptimeS, 420) || st.Devices != nil || st.PoolConnected != nil {
					t.Errorf("%s", indentJSON(t, st))
				}
			}},
		{"off GPU", `{"result":["1","1","5;0;0","off;5","","","",""]}`,
			func(t *testing.T, st abi.Stats) {
				if len(st.Devices) != 2 || st.Devices[0].HashrateHS != nil || !eq(st.Devices[1].HashrateHS, 5) {
					t.Errorf("%s", indentJSON(t, st))
				}
			}},
		{"version forms", `{"result":["TT-Miner/2024.1.6 - ETH","1","5","","","","",""]}`,
			func(t *testing.T, st abi.Stats) {
				if st.Version != "2024.1.6" || st.Accepted != nil {
					t.Errorf("%s", indentJSON(t, st))
				}
			}},
		{"dual pool list", `{"result":["1","1","5;1;0","5","","","60;50","a.example:1;b.example:2",""]}`,
			func(t *testing.T, st abi.Stats) {
				if st.Pool != "a.example:1" {
					t.Errorf("pool %q", st.Pool)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, aerr := callAPI(t, New(), tc.body)
			if aerr != nil {
				t.Fatal(aerr)
			}
			tc.check(t, st)
		})
	}
}

// TestParseAPIMalformed: every reply that is not miner_getstat1's shape is a
// bad_input error, never a panic or a guess.
func TestParseAPIMalformed(t *testing.T) {
	for _, body := range []string{
		``, `   `, `not json`, `[]`, `{}`, `{"result":null}`, `{"result":[]}`, `{"result":["1","2"]}`,
		`{"result":["1","x","1;2;3"]}`, `{"result":["1","1","fast;1;2"]}`, `{"result":["1","1",";1;2"]}`,
		`{"result":["1","1","1;-1;2"]}`, `{"result":["1","1","1;1;2","a;b"]}`, `{"result":["1","1","1;1;2","1","","","hot;cold"]}`,
		`{"result":["1","1","1;1;2",{"x":1}]}`, `{"error":"Unknown method","result":null}`, `{"error":{"code":-1},"result":["1","1","1"]}`,
		`{"result":["1","1","1;1;2","` + strings.Repeat("1;", 300) + `1"]}`, `{"result":["1","1","1",[]]}`, `{"result":["1","1","1e9;0;0"]}`,
		`{"result":["1","1","1","1","","","","` + strings.Repeat("h", 300) + `"]}`,
	} {
		st, aerr := callAPI(t, New(), body)
		if aerr == nil || aerr.Code != abi.CodeBadInput {
			t.Errorf("%.80q: want bad_input, got %+v %s", body, aerr, indentJSON(t, st))
		}
	}
	// The response must be there, by name, with status 0 or 200.
	for _, req := range []abi.APIRequest{
		{},
		{Responses: []abi.APIResponse{{Name: "summary", Body: `{"result":["1","1","1"]}`}}},
		{Responses: []abi.APIResponse{{Name: endpointGetstat, Status: 500, Body: `{"result":["1","1","1"]}`}}},
	} {
		if _, err := New().ParseAPI(req); err == nil {
			t.Errorf("%+v: no error", req)
		} else if ae, ok := err.(*abi.Error); !ok || ae.Code != abi.CodeBadInput {
			t.Errorf("%+v: %v", req, err)
		}
	}
}
