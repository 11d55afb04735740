package xmrig

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
// of the right shape, or status 1 with an abi.Error.
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
	})
}

func FuzzParseAPI(f *testing.F) {
	sums, _ := filepath.Glob(filepath.Join("testdata", "*", "*-summary.json"))
	for _, path := range sums {
		req := apiRequest(f, path)
		b, _ := json.Marshal(req)
		f.Add(b)
		for _, r := range req.Responses {
			// Raw bodies as the whole request, too.
			f.Add([]byte(r.Body))
		}
	}
	f.Add([]byte(`{"responses":[{"name":"summary","status":200,"body":"{\"hashrate\":{\"total\":[1e308,null,-0]}}"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		st, out := sdk.Call(New(), abi.ExportParseAPI, in)
		var s abi.Stats
		checkCallOutput(t, st, out, &s)
		// The decoded request body itself through ParseAPI directly.
		var req abi.APIRequest
		if json.Unmarshal(in, &req) == nil {
			if _, err := New().ParseAPI(req); err != nil {
				var ae *abi.Error
				if !errors.As(err, &ae) {
					t.Fatalf("error %v is not an *abi.Error", err)
				}
			}
		}
		// And the input as a summary body.
		_, err := New().ParseAPI(abi.APIRequest{Responses: []abi.APIResponse{{Name: "summary", Body: string(in)}, {Name: "backends", Body: string(in)}}})
		var ae *abi.Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *abi.Error", err)
		}
	})
}

func FuzzBuildCommand(f *testing.F) {
	p := baseProfile()
	p.Threads = 2
	p.Options = opts("randomx_mode", `"light"`, "donate_level", "1")
	p.ExtraArgs = []string{"--cpu-affinity", "0x3", "--dns-ttl=60"}
	b, _ := json.Marshal(abi.BuildRequest{Profile: p, Instance: testInstance})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, out := sdk.Call(New(), abi.ExportBuildCommand, in)
		var cmd abi.Command
		checkCallOutput(t, st, out, &cmd)
		if st == abi.StatusOK {
			var req abi.BuildRequest
			_ = json.Unmarshal(in, &req)
			if err := abi.ValidateCommand(&cmd, &req.Instance); err != nil {
				t.Fatalf("invalid command: %v", err)
			}
			for _, a := range cmd.Args[2:] {
				flag, _, _ := bytes.Cut([]byte(a), []byte("="))
				if _, ok := allowedArgs[string(flag)]; !ok {
					t.Fatalf("arg %q is not on the allow-list", a)
				}
			}
		}
	})
}
