package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/rigd/rigd/sdk/abi"
)

// The conformance fixtures of every built-in adapter
// (<name>/<name>.tests.json) pass against the embedded module, and each
// built-in ships at least a build case, a refused profile, line cases and
// API cases.
func TestBuiltinFixtures(t *testing.T) {
	ctx := context.Background()
	// A compilation cache shared across test runs: compiling a Go adapter
	// takes ~20 s under the race detector. Generous deadlines: this checks
	// conformance, not speed.
	rt, err := NewRuntime(ctx, Config{
		CacheDir:  filepath.Join(os.TempDir(), "rigd-test-wasm-cache"),
		Deadlines: Deadlines{ParseLine: 5 * time.Second, ParseAPI: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	builtins := Builtins()
	names := make([]string, 0, len(builtins))
	for name := range builtins {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m, err := rt.Load(ctx, SourceBuiltin, builtins[name])
			if err != nil {
				t.Fatal(err)
			}
			defer m.close(ctx)
			path := FixturesPath(filepath.Join(name, name+".wasm"))
			f, err := ReadFixtures(path)
			if err != nil {
				t.Fatalf("built-in %s has no readable fixtures: %v", name, err)
			}
			refused := slices.ContainsFunc(f.Build, func(b BuildFixture) bool { return b.WantError != "" })
			if len(f.Build) < 2 || !refused || len(f.Lines) == 0 || len(f.API) == 0 {
				t.Errorf("%s: want build cases (one of them a refused profile), line cases and API cases; have %d build (refused: %v), %d lines, %d api",
					path, len(f.Build), refused, len(f.Lines), len(f.API))
			}
			checkResults(t, m.RunFixtures(ctx, f))
		})
	}
}

func checkResults(t *testing.T, results []FixtureResult) {
	t.Helper()
	if len(results) == 0 {
		t.Fatal("no fixtures ran")
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s %q: %s", r.Kind, r.Name, r.Problem)
		}
	}
	if err := FixturesError(results); (err != nil) != t.Failed() {
		t.Errorf("FixturesError = %v, disagrees with the results", err)
	}
}

// ---- the WAT adapter (testdata/wat-adapter) --------------------------------

const watDir = "../testdata/wat-adapter"

func readSimpleWasm(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(watDir, "simple.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// simple.wasm, hand-written in WAT, loads through the host like any
// adapter, passes the self-test and its fixtures, and is what the
// integration test and the README expect.
func TestWATAdapter(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	path := filepath.Join(watDir, "simple.wasm")
	m, err := rt.Load(ctx, path, readSimpleWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)

	meta := m.Metadata()
	if meta.Name != "simple" || meta.Version != "1.0.0" || meta.ABIMinor != 0 || meta.DisplayName == "" ||
		len(meta.Algorithms) != 1 || meta.Algorithms[0].Name != "sha256d" || !slices.Equal(meta.Algorithms[0].Devices, []string{"cpu"}) ||
		meta.Release.Checksum.Format != abi.ChecksumNone || meta.API.Kind != "" || len(meta.StdinCommands) != 0 ||
		!slices.Equal(meta.VersionProbe.Args, []string{"--version"}) {
		t.Errorf("metadata %+v", meta)
	}
	if got := regexp.MustCompile(meta.VersionProbe.Regex).FindStringSubmatch("simpleminer 1.2.3\n"); len(got) != 2 || got[1] != "1.2.3" {
		t.Errorf("version probe regex %q on \"simpleminer 1.2.3\": %q", meta.VersionProbe.Regex, got)
	}
	for export, want := range map[string]bool{abi.ExportParseLine: true, abi.ExportReset: true, abi.ExportParseAPI: false} {
		if m.Has(export) != want {
			t.Errorf("Has(%s) = %v, want %v", export, !want, want)
		}
	}
	if err := m.SelfTest(ctx); err != nil {
		t.Fatal(err)
	}

	f, err := ReadFixtures(FixturesPath(path))
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, m.RunFixtures(ctx, f))

	// Counts carry across batches of one session; reset starts them over.
	s := m.NewSession()
	defer s.Close()
	batch := func(lines ...string) abi.LineResult {
		t.Helper()
		b := make([][]byte, len(lines))
		for i, l := range lines {
			b[i] = []byte(l)
		}
		res, err := s.ParseLines(ctx, abi.Stdout, b)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	batch("share accepted", "share accepted")
	res := batch("share rejected: x", "share accepted")
	if st := res.Stats; st == nil || st.Accepted == nil || *st.Accepted != 3 || *st.Rejected != 1 || st.HashrateHS != nil {
		t.Fatalf("second batch stats %+v, want accepted 3 rejected 1 and no hashrate", st)
	}
	if res := batch("nothing to see"); res.Stats != nil || len(res.Events) != 0 {
		t.Fatalf("a batch without known lines gave %+v", res)
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if res := batch("share accepted"); *res.Events[0].Accepted != 1 || *res.Events[0].Rejected != 0 {
		t.Fatalf("after reset: %+v", res.Events[0])
	}
}

// The build record names the npm wabt tool and a command that writes
// exactly the committed file, run from the repository root.
func TestWATAdapterBuildRecord(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(watDir, "simple.wasm.build"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "wabt 1.0.39") ||
		lines[1] != "npx --yes -p wabt@1.0.39 wat2wasm testdata/wat-adapter/simple.wat -o testdata/wat-adapter/simple.wasm" {
		t.Fatalf("simple.wasm.build: %q", lines)
	}
	if _, err := os.Stat(filepath.Join(watDir, "simple.wat")); err != nil {
		t.Fatal(err)
	}
}

// rawGuest runs a module on a bare wazero runtime that provides only
// input_read and output_write — no WASI, no log — and returns each call's
// status and raw output bytes, to check what the host's JSON decoding would
// otherwise smooth over (invalid UTF-8, duplicate keys).
type rawGuest struct {
	mod      api.Module
	in, out  []byte
	overflow bool
}

func newRawGuest(t testing.TB, wasm []byte) *rawGuest {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(MemoryLimitPages))
	t.Cleanup(func() { r.Close(ctx) })
	g := &rawGuest{}
	_, err := r.NewHostModuleBuilder(abi.HostModule).
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, buf, limit uint32) uint32 {
		n := uint32(len(g.in))
		if limit > 0 && n > 0 && n <= limit && !m.Memory().Write(buf, g.in) {
			panic("input_read: buffer out of range")
		}
		return n
	}).Export(abi.ImportInputRead).
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr, n uint32) int32 {
		b, ok := m.Memory().Read(ptr, n)
		if !ok {
			panic("output_write: buffer out of range")
		}
		if len(g.out)+len(b) > abi.MaxOutput {
			g.overflow = true
			return -1
		}
		g.out = append(g.out, b...)
		return 0
	}).Export(abi.ImportOutputWrite).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != abi.HostModule || (name != abi.ImportInputRead && name != abi.ImportOutputWrite) {
			t.Fatalf("simple.wasm imports %s.%s; it needs only input_read and output_write", mod, name)
		}
	}
	if g.mod, err = r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig()); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *rawGuest) call(t testing.TB, export string, in []byte) (int32, []byte) {
	t.Helper()
	g.in, g.out, g.overflow = in, nil, false
	res, err := g.mod.ExportedFunction(export).Call(context.Background())
	if err != nil {
		t.Fatalf("%s trapped on %d input bytes: %v", export, len(in), err)
	}
	if g.overflow {
		t.Fatalf("%s wrote more than %d bytes", export, abi.MaxOutput)
	}
	if export == abi.ExportReset && status(res) == abi.StatusOK && len(g.out) == 0 {
		return abi.StatusOK, nil // reset's output is empty
	}
	if !json.Valid(g.out) || !utf8.Valid(g.out) {
		t.Fatalf("%s wrote invalid JSON or UTF-8 for %d input bytes: %.300q", export, len(in), g.out)
	}
	return status(res), g.out
}

func status(res []uint64) int32 { return api.DecodeI32(res[0]) }

// decodeStrict decodes out into v, refusing unknown keys.
func decodeStrict(t testing.TB, out []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not a %T: %v: %.300s", v, err, out)
	}
}

func parseLineInput(lines ...[]byte) []byte {
	return append([]byte{byte(abi.Stdout)}, bytes.Join(lines, []byte("\n"))...)
}

// No input makes simple.wasm trap or write anything but one valid JSON
// document of the right type.
func TestWATAdapterHostileInput(t *testing.T) {
	g := newRawGuest(t, readSimpleWasm(t))

	st, out := g.call(t, abi.ExportMetadata, nil)
	var meta abi.Metadata
	decodeStrict(t, out, &meta)
	if st != abi.StatusOK || meta.Validate() != nil {
		t.Fatalf("metadata: status %d, %v", st, meta.Validate())
	}

	lineResult := func(in []byte) abi.LineResult {
		t.Helper()
		st, out := g.call(t, abi.ExportParseLine, in)
		if st != abi.StatusOK {
			t.Fatalf("parse_line status %d: %s", st, out)
		}
		var res abi.LineResult
		decodeStrict(t, out, &res)
		return res
	}

	// Reasons: escaped, invalid UTF-8 replaced byte by byte as
	// encoding/json does, cut at 256 bytes.
	g.call(t, abi.ExportReset, nil)
	reasons := [][]byte{
		[]byte("\xff\xfe \xc3\x28 \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 ok \xf0\x9f\x98\x80 é"),
		[]byte("quote \" backslash \\ nul \x00 bell \x07 del \x7f"),
		bytes.Repeat([]byte("é"), 200), // cut inside a rune at byte 256
	}
	for _, r := range reasons {
		res := lineResult(parseLineInput(append([]byte("share rejected: "), r...)))
		want := r
		if len(want) > 256 {
			want = want[:256]
		}
		enc, _ := json.Marshal(string(want)) // encoding/json's replacement of invalid bytes
		var wantReason string
		json.Unmarshal(enc, &wantReason)
		if len(res.Events) != 1 || res.Events[0].Reason != wantReason || res.Stats.LastRejectReason != wantReason {
			t.Errorf("reason of %q: got %+v, want %q", r, res.Events, wantReason)
		}
	}

	// Empty input (no stream byte) is an adapter error; a stream byte alone is no lines.
	if st, out := g.call(t, abi.ExportParseLine, nil); st != abi.StatusError {
		t.Errorf("empty parse_line input: status %d %s", st, out)
	} else {
		var e abi.Error
		decodeStrict(t, out, &e)
	}
	if res := lineResult([]byte{1}); len(res.Events) != 0 || res.Stats != nil {
		t.Errorf("no lines: %+v", res)
	}

	// Long lines: keywords past the first 512 bytes are not looked for;
	// a number may run to the end of the line.
	long := bytes.Repeat([]byte("x"), abi.MaxLineBytes)
	g.call(t, abi.ExportReset, nil)
	res := lineResult(parseLineInput(long, append(bytes.Repeat([]byte(" "), 600), "share accepted"...),
		append([]byte("share rejected: "), long...), append([]byte("hashrate: 5"), bytes.Repeat([]byte(" "), 70000)...)))
	if len(res.Events) != 1 || res.Events[0].Type != abi.EventShareRejected || len(res.Events[0].Reason) != 256 {
		t.Errorf("long lines: %+v", res.Events)
	}

	// A huge batch (far more than the host sends) of short rejects with
	// escaped reasons: output stays under the cap, counts stay exact.
	g.call(t, abi.ExportReset, nil)
	line := append([]byte("share rejected: "), bytes.Repeat([]byte{1}, 300)...)
	const n = 20000
	many := make([][]byte, n)
	for i := range many {
		many[i] = line
	}
	res = lineResult(parseLineInput(many...))
	if len(res.Events) == 0 || len(res.Events) == n || *res.Stats.Rejected != n || *res.Stats.Accepted != 0 {
		t.Errorf("huge batch: %d events, stats %+v; want fewer than %d events and rejected %d", len(res.Events), res.Stats, n, n)
	}

	// Inputs over 16 MiB are refused.
	if st, _ := g.call(t, abi.ExportParseLine, make([]byte, 16<<20+1)); st != abi.StatusError {
		t.Errorf("17 MiB input: status %d", st)
	}

	// build_command on inputs the host never sends.
	for _, in := range []string{"", "{", "garbage", `{"profile":{"algo":"`, `{"profile":{"algo":"sha256d","pools":[{"url":"abc`,
		`{"profile":{"pools":[{"url":"a","user":"\`, `{"profile":{"pools":null}}`, "\xff\x00\"pools\":[{\"url\":\"\xff\""} {
		st, out := g.call(t, abi.ExportBuildCommand, []byte(in))
		if st == abi.StatusOK {
			var cmd abi.Command
			decodeStrict(t, out, &cmd)
			continue
		}
		var e abi.Error
		decodeStrict(t, out, &e)
		if e.Code == "" {
			t.Errorf("build_command(%q): error without a code: %s", in, out)
		}
	}
}

// Random bytes and random mixes of the known line forms never make
// parse_line trap or write invalid output (the fuzz target below explores
// further).
func TestWATAdapterRandomLines(t *testing.T) {
	g := newRawGuest(t, readSimpleWasm(t))
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"share accepted", "share rejected", ": ", "hashrate: ", "H/s", " ", "\n", "\r", ".", "0", "9", "é", "\xff", "\xe2\x82", "\"", "\\", "\x00"}
	for range 300 {
		var b []byte
		b = append(b, byte(rng.IntN(3)))
		for range rng.IntN(200) {
			if rng.IntN(4) == 0 {
				b = append(b, byte(rng.IntN(256)))
			} else {
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
		}
		if st, out := g.call(t, abi.ExportParseLine, b); st != abi.StatusOK {
			t.Fatalf("status %d on %q: %s", st, b, out)
		}
	}
}

func FuzzWATAdapterParseLine(f *testing.F) {
	f.Add([]byte("\x01hashrate: 12.5 H/s\nshare accepted\nshare rejected: low diff"))
	f.Add([]byte("\x02share rejected: \xff\xfe\x00\"\\"))
	f.Add([]byte("\x01hashrate: 0000000000000000001.99999999 H/s\r\n"))
	wasm, err := os.ReadFile(filepath.Join(watDir, "simple.wasm"))
	if err != nil {
		f.Fatal(err)
	}
	g := newRawGuest(f, wasm)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, out := g.call(t, abi.ExportParseLine, in)
		if len(in) > 0 && st != abi.StatusOK {
			t.Fatalf("status %d: %s", st, out)
		}
	})
}

// ---- the fixture runner itself ----------------------------------------------

func TestSubsetJSON(t *testing.T) {
	tests := []struct {
		name, want, got string
		problem         string // "" means it matches; else a substring of the error
	}{
		{"equal scalars", `1`, `1`, ""},
		{"numbers compare by value", `12.5`, `12.50`, ""},
		{"missing keys are not compared", `{"a":1}`, `{"a":1,"b":2}`, ""},
		{"empty object matches any object", `{}`, `{"a":1}`, ""},
		{"nested objects", `{"a":{"b":{"c":"x"}}}`, `{"a":{"b":{"c":"x","d":1},"e":2}}`, ""},
		{"null wants null", `{"a":null}`, `{"a":null,"b":1}`, ""},
		{"null matches a missing key", `{"a":null}`, `{"b":1}`, ""},
		{"arrays element by element", `[{"a":1},{"b":2}]`, `[{"a":1,"x":0},{"b":2}]`, ""},
		{"nested arrays", `{"d":[[1,2],[3]]}`, `{"d":[[1,2],[3]],"e":0}`, ""},
		{"scalar mismatch", `{"a":1}`, `{"a":2}`, "a: got 2, want 1"},
		{"string mismatch", `{"a":"x"}`, `{"a":"y"}`, `a: got "y", want "x"`},
		{"missing key", `{"a":1}`, `{"b":1}`, "a: got null, want 1"},
		{"null is not zero", `{"a":null}`, `{"a":0}`, "a: got 0, want null"},
		{"nested mismatch names the path", `{"a":{"b":[{"c":1}]}}`, `{"a":{"b":[{"c":2}]}}`, "a.b[0].c: got 2"},
		{"array length differs", `[1,2]`, `[1,2,3]`, "want 2 elements"},
		{"array element differs", `{"a":[1,2]}`, `{"a":[1,3]}`, "a[1]: got 3, want 2"},
		{"object wanted", `{"a":{}}`, `{"a":[]}`, "a: got [], want an object"},
		{"array wanted", `[]`, `{}`, "(root): got {}, want 0 elements"},
		{"type differs", `"1"`, `1`, "(root): got 1"},
		{"bad expectation", `{`, `{}`, "expectation is not JSON"},
		{"bad output", `{}`, `{`, "output is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := subsetJSON([]byte(tt.want), []byte(tt.got))
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("subsetJSON(%s, %s) = %v, want a match", tt.want, tt.got, err)
			case tt.problem != "" && err == nil:
				t.Fatalf("subsetJSON(%s, %s) matched, want %q", tt.want, tt.got, tt.problem)
			case tt.problem != "" && !strings.Contains(err.Error(), tt.problem):
				t.Fatalf("subsetJSON(%s, %s) = %q, want it to contain %q", tt.want, tt.got, err, tt.problem)
			}
		})
	}
}

func TestReadFixtures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.tests.json", `{"build":[{"name":"b","profile":{"algo":"x","pools":[{"url":"u"}]},"want_args":["a"]}],
		"lines":[{"name":"l","stream":"stderr","lines":["x"],"want_events":[],"want_stats":{"accepted":1}}],
		"api":[{"name":"a","responses":[{"name":"summary","status":200,"body":"{}"}],"want_error":"bad_input"}]}`)
	f, err := ReadFixtures(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Build) != 1 || f.Build[0].Profile.Pools[0].URL != "u" || len(f.Lines) != 1 || f.Lines[0].WantEvents == nil ||
		string(f.Lines[0].WantStats) != `{"accepted":1}` || len(f.API) != 1 || f.API[0].Responses[0].Name != "summary" {
		t.Fatalf("read %+v", f)
	}

	for name, body := range map[string]string{
		"top.tests.json":     `{"build":[],"line":[]}`,
		"nested.tests.json":  `{"lines":[{"name":"l","lines":[],"want_event":[]}]}`,
		"profile.tests.json": `{"build":[{"name":"b","profile":{"algorithm":"x"}}]}`,
		"api.tests.json":     `{"api":[{"name":"a","responses":[{"name":"s","code":200}]}]}`,
	} {
		_, err := ReadFixtures(write(name, body))
		if err == nil || !strings.Contains(err.Error(), "unknown field") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v, want an unknown-field error naming the file", name, err)
		}
	}
	if _, err := ReadFixtures(write("bad.tests.json", `{"build":`)); err == nil {
		t.Error("truncated JSON was accepted")
	}
	if _, err := ReadFixtures(filepath.Join(dir, "missing.tests.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
	if got := FixturesPath(filepath.Join("a", "simple.wasm")); got != filepath.Join("a", "simple.tests.json") {
		t.Errorf("FixturesPath = %q", got)
	}
}

// Failing fixtures fail with a problem that says what differed.
func TestFixtureFailuresAreReported(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	m, err := rt.Load(ctx, "simple.wasm", readSimpleWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	pools := []abi.Pool{{URL: "p:1"}}
	f := &Fixtures{
		Build: []BuildFixture{
			{Name: "args differ", Profile: abi.Profile{Pools: pools}, WantArgs: []string{"--url", "other"}},
			{Name: "error wanted", Profile: abi.Profile{Pools: pools}, WantError: "invalid_profile"},
			{Name: "other error", Profile: abi.Profile{}, WantError: "forbidden"},
			{Name: "unexpected error", Profile: abi.Profile{}},
			{Name: "no such file", Profile: abi.Profile{Pools: pools}, WantFiles: map[string]string{"config.json": "{}"}},
		},
		Lines: []LineFixture{
			{Name: "event count", Lines: []string{"share accepted"}, WantEvents: []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{}`)}},
			{Name: "event field", Lines: []string{"share accepted"}, WantEvents: []json.RawMessage{json.RawMessage(`{"accepted":2}`)}},
			{Name: "stats", Lines: []string{"hashrate: 5 H/s"}, WantStats: json.RawMessage(`{"hashrate_hs":6}`)},
			{Name: "stream", Stream: "stdin", Lines: []string{"x"}},
		},
		API: []APIFixture{{Name: "api", Responses: []abi.APIResponse{{Name: "s", Status: 200, Body: "{}"}}, WantStats: json.RawMessage(`{}`)}},
	}
	want := map[string]string{
		"args differ":      `args ["--url" "p:1" "--interval" "1s"], want ["--url" "other"]`,
		"error wanted":     `want adapter error "invalid_profile", got <nil>`,
		"other error":      `want adapter error "forbidden"`,
		"unexpected error": "invalid_profile: a pool is required",
		"no such file":     `no file "config.json"`,
		"event count":      "1 events, want 2",
		"event field":      "event 0: accepted: got 1, want 2",
		"stats":            "stats: hashrate_hs: got 5, want 6",
		"stream":           `stream "stdin" is not stdout or stderr`,
		"api":              "unsupported",
	}
	results := m.RunFixtures(ctx, f)
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		if r.Pass || !strings.Contains(r.Problem, want[r.Name]) || strings.ContainsAny(r.Problem, "\n\r") {
			t.Errorf("%s %q: pass %v, problem %q; want a failure containing %q", r.Kind, r.Name, r.Pass, r.Problem, want[r.Name])
		}
	}
	if err := FixturesError(results); err == nil || !strings.Contains(err.Error(), "10 of 10 fixtures failed") {
		t.Errorf("FixturesError = %v", err)
	}
}

func FuzzWATAdapterBuildCommand(f *testing.F) {
	for _, p := range []abi.Profile{
		{Algo: "sha256d", Pools: []abi.Pool{{URL: "stratum+tcp://127.0.0.1:3333", User: "w\"\\é"}}},
		{Pools: []abi.Pool{{URL: "u"}}, Options: map[string]json.RawMessage{"x": json.RawMessage("1")}},
		{Algo: "rx/0"},
	} {
		b, _ := json.Marshal(abi.BuildRequest{Profile: p})
		f.Add(b)
	}
	f.Add([]byte(`{"profile":{"pools":[{"url":"\u12G4"}]}}`))
	wasm, err := os.ReadFile(filepath.Join(watDir, "simple.wasm"))
	if err != nil {
		f.Fatal(err)
	}
	g := newRawGuest(f, wasm)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, out := g.call(t, abi.ExportBuildCommand, in)
		if st == abi.StatusOK {
			var cmd abi.Command
			decodeStrict(t, out, &cmd)
		} else {
			var e abi.Error
			decodeStrict(t, out, &e)
		}
	})
}

// A fixture whose call misses its deadline is run again, up to
// fixtureAttempts times; any other outcome is final.
func TestFixtureDeadlineRetried(t *testing.T) {
	timeout := &CallError{Adapter: "x", Export: "adapter_parse_line", Err: fmt.Errorf("%w (100ms)", ErrTimeout)}
	for _, tc := range []struct {
		name     string
		outcomes []error
		calls    int
		want     error
	}{
		{"pass", []error{nil}, 1, nil},
		{"wrong answer is not retried", []error{errors.New("stats differ")}, 1, errors.New("stats differ")},
		{"slow once", []error{timeout, nil}, 2, nil},
		{"always too slow", []error{timeout, timeout, timeout, nil}, fixtureAttempts, timeout},
	} {
		calls := 0
		err := retryDeadline(func() error { calls++; return tc.outcomes[calls-1] })
		if calls != tc.calls || fmt.Sprint(err) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %d calls, err %v; want %d calls, err %v", tc.name, calls, err, tc.calls, tc.want)
		}
	}
}
