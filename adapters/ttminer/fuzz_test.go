package ttminer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// checkCallOutput asserts what the host relies on: status 0 with valid JSON
// of the right shape, or status 1 with an abi.Error that is not a bug.
func checkCallOutput(t *testing.T, st int32, out []byte, result any) {
	t.Helper()
	switch st {
	case abi.StatusOK:
		if !json.Valid(out) {
			t.Fatalf("invalid JSON output: %.300q", out)
		}
		if err := json.Unmarshal(out, result); err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
	case abi.StatusError:
		var e abi.Error
		if err := json.Unmarshal(out, &e); err != nil || e.Code == "" {
			t.Fatalf("error output is not an abi.Error: %v %.300q", err, out)
		}
		if e.Code == abi.CodeInternal {
			t.Fatalf("internal error (a bug): %s", e.Message)
		}
	default:
		t.Fatalf("status %d", st)
	}
	if len(out) > abi.MaxOutput {
		t.Fatalf("output %d bytes is over the ABI limit", len(out))
	}
}

func FuzzParseLines(f *testing.F) {
	logs, _ := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		lines := bytes.Split(b, []byte("\n"))
		for i := 0; i < len(lines); i += 8 {
			f.Add(append([]byte{byte(abi.Stdout)}, bytes.Join(lines[i:min(i+8, len(lines))], []byte("\n"))...))
		}
	}
	f.Add([]byte{2, 0x1b, '[', '1', ';', '3', '7', 'm'})
	f.Add([]byte("\x01GPU[00-DEF]:  *1.0 GH/s [A1:R2:S3 0%]  CClk:1 GHz  0\xc2\xb0C  5%  1 W  1 TB left"))
	a := New()
	f.Fuzz(func(t *testing.T, in []byte) {
		// The same adapter across inputs: session state must survive anything.
		st, out := sdk.Call(a, abi.ExportParseLine, in)
		if len(in) == 0 {
			if st != abi.StatusError {
				t.Fatalf("empty input: status %d", st)
			}
			return
		}
		var res abi.LineResult
		checkCallOutput(t, st, out, &res)
		if st != abi.StatusOK {
			t.Fatalf("parse_line failed on console bytes: %s", out)
		}
		if _, err := a.ParseLines(abi.Stream(in[0]), bytes.Split(in[1:], []byte("\n"))); err != nil {
			var ae *abi.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *abi.Error", err)
			}
		}
		if len(a.lines.selected) > maxTracked || len(a.lines.cycle) > maxTracked || len(a.lines.lastCycle) > maxTracked {
			t.Fatalf("session state grew: %d %d %d", len(a.lines.selected), len(a.lines.cycle), len(a.lines.lastCycle))
		}
	})
}

func FuzzParseAPI(f *testing.F) {
	replies, _ := filepath.Glob(filepath.Join("testdata", "*", "*-getstat.json"))
	for _, path := range replies {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		req, _ := json.Marshal(abi.APIRequest{Responses: []abi.APIResponse{{Name: endpointGetstat, Body: string(body)}}})
		f.Add(req)
		f.Add(body)
	}
	f.Add([]byte(`{"result":["1","1e400","1;1;1","off;;;","","","0;0;;x","a;b",""],"error":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		// The input as a whole parse_api request...
		st, out := sdk.Call(New(), abi.ExportParseAPI, in)
		var s abi.Stats
		checkCallOutput(t, st, out, &s)
		// ...and as the body of a getstat reply, on an adapter with state.
		a := New()
		a.ParseLines(abi.Stdout, [][]byte{[]byte("********* CUDA-GPU information"), []byte("* #03 PCI 01:00.0 X  NVIDIA GeForce RTX 3060  12.00 GB")})
		req, _ := json.Marshal(abi.APIRequest{Responses: []abi.APIResponse{{Name: endpointGetstat, Body: string(in)}}})
		st, out = sdk.Call(a, abi.ExportParseAPI, req)
		checkCallOutput(t, st, out, &s)
		if _, err := a.ParseAPI(abi.APIRequest{Responses: []abi.APIResponse{{Name: endpointGetstat, Body: string(in)}}}); err != nil {
			var ae *abi.Error
			if !errors.As(err, &ae) || ae.Code != abi.CodeBadInput {
				t.Fatalf("error %v is not a bad_input *abi.Error", err)
			}
		}
	})
}

func FuzzBuildCommand(f *testing.F) {
	p := baseProfile()
	p.Devices, p.Intensity = []int{0, 1}, 20
	p.Options = opts("report_interval", "5")
	p.ExtraArgs = []string{"-luck", "-PP", "3"}
	b, _ := json.Marshal(abi.BuildRequest{Profile: p, Instance: testInstance})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, out := sdk.Call(New(), abi.ExportBuildCommand, in)
		var cmd abi.Command
		checkCallOutput(t, st, out, &cmd)
		if st != abi.StatusOK {
			return
		}
		var req abi.BuildRequest
		_ = json.Unmarshal(in, &req)
		if err := abi.ValidateCommand(&cmd, &req.Instance); err != nil {
			t.Fatalf("invalid command: %v", err)
		}
		// Whatever the profile, the API stays on loopback and there is
		// exactly one -b.
		n := 0
		for i, a := range cmd.Args {
			if a == "-b" {
				n++
				if i+1 >= len(cmd.Args) || cmd.Args[i+1] != "127.0.0.1:"+itoa(req.Instance.APIPort) {
					t.Fatalf("-b %q", cmd.Args[i+1:])
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d -b flags in %q", n, cmd.Args)
		}
	})
}
