package adapters

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

var update = flag.Bool("update", false, "rewrite golden and generated testdata files")

// hostileDir holds the assembled hostile modules `rigd adapters validate`
// is checked against.
const hostileDir = "../testdata/hostile"

type hostile struct {
	name string
	wasm []byte
	want string // substring of the one-line error
}

func hostileModules() []hostile {
	meta := []byte(testMetadataJSON)
	cmd := []byte(testCommandJSON)
	okBuild := writeStatic(4096, uint32(len(cmd)), 0)
	data := []wdata{{0, meta}, {4096, cmd}}
	spec := func(metaBody []byte) adapterSpec {
		return adapterSpec{
			calls: map[string][]byte{"adapter_metadata": metaBody, "adapter_build_command": okBuild},
			data:  data,
		}
	}
	okMeta := writeStatic(0, uint32(len(meta)), 0)

	noMarker := spec(okMeta)
	noMarker.marker = "-"

	socket := spec(okMeta)
	socket.imports = []wimport{{"wasi_snapshot_preview1", "sock_accept", []byte{tI32, tI32, tI32}, []byte{tI32}}}

	badSig := adapterSpec{
		calls:   map[string][]byte{"adapter_build_command": okBuild},
		extra:   []wfunc{{params: []byte{tI32}, results: []byte{tI32}, body: i32c(0)}},
		extraEx: []wexport{{"adapter_metadata", 0, 0}},
		data:    data,
	}

	v2 := spec(okMeta)
	v2.marker = "adapter_abi_v2"
	v2.imports = []wimport{{"miner_adapter_v2", "input_read", []byte{tI32, tI32}, []byte{tI32}}}

	// Function indexes: output_write 0, marker 1, adapter_build_command 2,
	// adapter_metadata 3.
	recursion := spec(call(3))

	grow4G := spec(cat(i32c(65535), opMemGrow, opDrop, i32c(-16), i32c(1), i32store(0), i32c(0)))

	hugeMin := spec(okMeta)
	hugeMin.memMin = 65536

	leak := spec(cat(i32c(16), opMemGrow, opDrop, okMeta))

	flood := spec(cat(
		opLoopVoid,
		i32c(0), i32c(65536), call(0), opDrop,
		localGet(0), i32c(1), opI32Add, localTee(0), i32c(40), opI32LtU, opBrIf0,
		opEnd,
		i32c(0)))
	flood.locals = map[string][]byte{"adapter_metadata": {tI32}}

	badJSON := spec(okMeta)
	badJSON.data = []wdata{{0, []byte("{not json")}, {4096, cmd}}
	badJSON.calls["adapter_metadata"] = writeStatic(0, 9, 0)

	return []hostile{
		{"not-wasm", []byte("this is not a WebAssembly module\n"), "not WebAssembly"},
		{"no-marker", noMarker.module().assemble(), "missing the adapter_abi_v1 marker"},
		{"socket-import", socket.module().assemble(), "forbidden import: wasi_snapshot_preview1.sock_accept"},
		{"bad-signature", badSig.module().assemble(), "export adapter_metadata is (i32) -> (i32), want () -> (i32)"},
		{"abi-v2", v2.module().assemble(), "module declares ABI v2; this agent speaks v1"},
		{"infinite-loop", spec(cat(opLoopVoid, opBr0, opEnd, i32c(0))).module().assemble(), "call deadline exceeded"},
		// A stack overflow trap; on a slow machine the deadline, or — since
		// recursion has no loop header where the deadline is checked — the
		// quarantine that catches calls outrunning it (DESIGN §2).
		{"deep-recursion", recursion.module().assemble(), "trap|call deadline exceeded|adapter quarantined"},
		{"trap", spec(cat(opUnreachable, i32c(0))).module().assemble(), "trap"},
		{"alloc-4gib", grow4G.module().assemble(), "out of bounds memory access"},
		{"huge-memory", hugeMin.module().assemble(), "not a valid adapter module"},
		{"leak", leak.module().assemble(), "(leak)"},
		{"output-2mib", flood.module().assemble(), "output over the 1048576 byte limit"},
		{"invalid-json", badJSON.module().assemble(), "output is not a valid *abi.Metadata document"},
		{"bad-status", spec(cat(okMeta, opDrop, i32c(7))).module().assemble(), "returned status 7"},
	}
}

// refuseLimit is how long refusing a hostile module may take: 5 s, as
// `rigd adapters validate` must. Under the race detector 10 s: deep
// recursion grows wazero's guest stack to ≈ 100 MB by doubling before it
// overflows, and the detector's bookkeeping of those allocations stalls
// the whole process for up to 2 s past the 3 s quarantine (60 ms – 1.2 s
// in all without it).
func refuseLimit() time.Duration {
	if raceEnabled {
		return 10 * time.Second
	}
	return 5 * time.Second
}

func newTestRuntime(t testing.TB, d Deadlines) *Runtime {
	t.Helper()
	rt, err := NewRuntime(context.Background(), Config{Deadlines: d})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// loadAndTest is what `rigd adapters validate` does.
func loadAndTest(ctx context.Context, rt *Runtime, source string, wasm []byte) error {
	m, err := rt.Load(ctx, source, wasm)
	if err != nil {
		return err
	}
	defer m.close(ctx)
	return m.SelfTest(ctx)
}

func TestHostileModulesAreRefused(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	for _, h := range hostileModules() {
		t.Run(h.name, func(t *testing.T) {
			start := time.Now()
			err := loadAndTest(ctx, rt, h.name+".wasm", h.wasm)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("hostile module %s was accepted", h.name)
			}
			msg := err.Error()
			if !slices.ContainsFunc(strings.Split(h.want, "|"), func(w string) bool { return strings.Contains(msg, w) }) {
				t.Errorf("error %q does not contain %q", msg, h.want)
			}
			if !strings.Contains(msg, h.name+".wasm") && !strings.Contains(msg, "wat") {
				t.Errorf("error %q does not name the adapter", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error is not one line: %q", msg)
			}
			if limit := refuseLimit(); took > limit {
				t.Errorf("refusing %s took %v, want ≤ %v", h.name, took, limit)
			}
		})
	}
	// The runtime still serves a good adapter after all of that.
	if err := loadAndTest(ctx, rt, "good.wasm", goodModule()); err != nil {
		t.Fatalf("good module after hostile ones: %v", err)
	}
}

// TestHostileTestdataMatchesSource keeps ../testdata/hostile/*.wasm (used
// by `rigd adapters validate` checks and the README) identical to the
// modules assembled above; -update rewrites them.
func TestHostileTestdataMatchesSource(t *testing.T) {
	for _, h := range hostileModules() {
		path := filepath.Join(hostileDir, h.name+".wasm")
		if *update {
			if err := os.MkdirAll(hostileDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, h.wasm, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./adapters -run TestHostileTestdata -update)", err)
		}
		if !bytes.Equal(got, h.wasm) {
			t.Errorf("%s differs from the module assembled in hostile_test.go; run with -update", path)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestHostileModulesReturnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("repeats every hostile module; skipped with -short")
	}
	rt := newTestRuntime(t, Deadlines{Metadata: 200 * time.Millisecond, Build: 200 * time.Millisecond})
	ctx := context.Background()
	mods := hostileModules()
	round := func() {
		for _, h := range mods {
			_ = loadAndTest(ctx, rt, h.name, h.wasm)
		}
	}
	// A quarantined call (deep-recursion, here or in an earlier test) may
	// still be returning, holding a guest stack grown to tens of MiB:
	// measure once every call is back.
	settled := func() uint64 {
		for deadline := time.Now().Add(30 * time.Second); running.Load() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("%d adapter calls still running after 30 s", running.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return heapInUse()
	}
	round() // warm caches and lazily initialised runtime state
	base := settled()
	for range 5 {
		round()
	}
	after := settled()
	const slack = 16 << 20
	if after > base+slack {
		t.Fatalf("heap in use grew from %d MiB to %d MiB after 5 rounds of hostile modules", base>>20, after>>20)
	}
	t.Logf("heap in use: %d KiB before, %d KiB after 5 rounds", base>>10, after>>10)
}

func TestGoodModuleCalls(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	m, err := rt.Load(ctx, "good.wasm", goodModule())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Metadata().Name; got != "wat" {
		t.Fatalf("metadata name = %q", got)
	}
	cmd, err := m.BuildCommand(ctx, sampleRequest(m.Metadata()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd.Args) != 1 || cmd.Args[0] != "--run" {
		t.Fatalf("args = %q", cmd.Args)
	}
	// No parse_line export: an empty result, not an error.
	s := m.NewSession()
	defer s.Close()
	res, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("x")})
	if err != nil || len(res.Events) != 0 {
		t.Fatalf("ParseLines without export = %+v, %v", res, err)
	}
	if _, err := s.ParseAPI(ctx, abi.APIRequest{}); err == nil {
		t.Fatal("ParseAPI without export succeeded")
	} else if ae := new(abi.Error); !errors.As(err, &ae) || ae.Code != abi.CodeUnsupported {
		t.Fatalf("ParseAPI without export: %v", err)
	}
}

func TestUnsafeCommandIsRefused(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	for _, tc := range []struct{ cmd, want string }{
		{`{"args":["x"],"files":[{"path":"../etc/passwd","content":"x"}]}`, "not a clean relative path"},
		{`{"args":["x"],"files":[{"path":"/etc/passwd","content":"x"}]}`, "is absolute"},
		{`{"args":["x"],"env":{"LD_PRELOAD":"/tmp/x.so"}}`, `env "LD_PRELOAD" is not allowed`},
		{`{"args":["x"],"api":[{"name":"s","kind":"http-json","url":"http://example.com:45678/"}]}`, "must start with http://127.0.0.1:45678/"},
		{`{"args":["x"],"api":[{"name":"s","kind":"tcp-jsonrpc","address":"127.0.0.1:22"}]}`, "must be 127.0.0.1:45678"},
	} {
		meta, cmd := []byte(testMetadataJSON), []byte(tc.cmd)
		wasm := adapterSpec{
			calls: map[string][]byte{
				"adapter_metadata":      writeStatic(0, uint32(len(meta)), 0),
				"adapter_build_command": writeStatic(4096, uint32(len(cmd)), 0),
			},
			data: []wdata{{0, meta}, {4096, cmd}},
		}.module().assemble()
		m, err := rt.Load(ctx, "unsafe.wasm", wasm)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.BuildCommand(ctx, sampleRequest(m.Metadata()))
		if err == nil || !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("command %s: err = %v, want protocol violation containing %q", tc.cmd, err, tc.want)
		}
		m.close(ctx)
	}
}

func TestAdapterErrorTravels(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	meta, e := []byte(testMetadataJSON), []byte(`{"code":"invalid_profile","message":"no pools"}`)
	wasm := adapterSpec{
		calls: map[string][]byte{
			"adapter_metadata":      writeStatic(0, uint32(len(meta)), 0),
			"adapter_build_command": writeStatic(4096, uint32(len(e)), 1),
		},
		data: []wdata{{0, meta}, {4096, e}},
	}.module().assemble()
	m, err := rt.Load(ctx, "rejects.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	_, err = m.BuildCommand(ctx, sampleRequest(m.Metadata()))
	var ae *abi.Error
	if !errors.As(err, &ae) || ae.Code != abi.CodeInvalidProfile || ae.Message != "no pools" {
		t.Fatalf("err = %v, want the adapter's invalid_profile error", err)
	}
	if got := err.Error(); got != "adapter wat (rejects.wasm): adapter_build_command: invalid_profile: no pools" {
		t.Fatalf("message = %q", got)
	}
	// An adapter error does not poison: the pooled instance is reused.
	if _, err := m.BuildCommand(ctx, sampleRequest(m.Metadata())); !errors.As(err, &ae) {
		t.Fatalf("second call: %v", err)
	}
}

// A session whose instance grows past RecycleBytes gets a fresh instance
// and keeps answering.
func TestSessionRecyclesGrowingInstance(t *testing.T) {
	// Growing memory copies it; on a loaded machine that can take longer
	// than the production parse_line deadline, which is not under test.
	rt := newTestRuntime(t, Deadlines{ParseLine: 10 * time.Second})
	ctx := context.Background()
	meta, cmd, res := []byte(testMetadataJSON), []byte(testCommandJSON), []byte(`{"events":[{"type":"ready"}]}`)
	wasm := adapterSpec{
		calls: map[string][]byte{
			"adapter_metadata":      writeStatic(0, uint32(len(meta)), 0),
			"adapter_build_command": writeStatic(4096, uint32(len(cmd)), 0),
			// Grows by 4 MiB per call, then answers.
			"adapter_parse_line": cat(i32c(64), opMemGrow, opDrop, writeStatic(8192, uint32(len(res)), 0)),
		},
		data: []wdata{{0, meta}, {4096, cmd}, {8192, res}},
	}.module().assemble()
	m, err := rt.Load(ctx, "grow.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	s := m.NewSession()
	defer s.Close()
	for i := range 40 {
		r, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("line")})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(r.Events) != 1 || r.Events[0].Type != abi.EventReady {
			t.Fatalf("call %d: %+v", i, r)
		}
		s.mu.Lock()
		if s.inst != nil && s.inst.memoryBytes() > RecycleBytes+4<<20 {
			t.Fatalf("call %d: instance memory %d MiB was not recycled", i, s.inst.memoryBytes()>>20)
		}
		s.mu.Unlock()
	}
}

// A call that never returns — even past its context — quarantines the
// module and frees the caller.
func TestGuardQuarantinesStuckCall(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{Grace: 50 * time.Millisecond})
	ctx := context.Background()
	m, err := rt.Load(ctx, "good.wasm", goodModule())
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	release := make(chan struct{}, 1)
	start := time.Now()
	err = m.guard(ctx, "stuck", 20*time.Millisecond, func(context.Context) error { <-release; return nil })
	if !errors.Is(err, ErrQuarantined) {
		t.Fatalf("err = %v, want ErrQuarantined", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("caller freed after %v", d)
	}
	if _, err := m.BuildCommand(ctx, sampleRequest(m.Metadata())); !errors.Is(err, ErrQuarantined) {
		t.Fatalf("call on a quarantined module: %v", err)
	}
	if q := m.info(); q.Status != StatusQuarantined {
		t.Fatalf("status = %q", q.Status)
	}
	// Once the stuck call comes back, the module serves again.
	release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for m.Quarantined() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := m.BuildCommand(ctx, sampleRequest(m.Metadata())); err != nil {
		t.Fatalf("after the late return: %v", err)
	}
}

// A parse result with a value no miner prints is refused as a protocol
// violation, and nothing of it is returned to be merged.
func TestImpossibleParseResultsRefused(t *testing.T) {
	rt := newTestRuntime(t, Deadlines{})
	ctx := context.Background()
	meta := []byte(testMetadataJSON)
	for _, tc := range []struct{ export, out, want string }{
		{"adapter_parse_line", `{"events":[],"stats":{"accepted":-3}}`, "stats.accepted is negative (-3)"},
		{"adapter_parse_line", `{"events":[{"type":"share_accepted"},{"type":"hashrate","hashrate_hs":-1.5}]}`, "events[1].hashrate_hs is negative (-1.5)"},
		{"adapter_parse_line", `{"events":[{"type":"device_stats","device":{"id":0,"power_w":-40}}]}`, "events[0].device.power_w is negative (-40)"},
		{"adapter_parse_api", `{"hashrate_hs":100,"devices":[{"id":0},{"id":1,"hashrate_hs":-2}]}`, "stats.devices[1].hashrate_hs is negative (-2)"},
	} {
		out := []byte(tc.out)
		m, err := rt.Load(ctx, "negative.wasm", adapterSpec{
			calls: map[string][]byte{
				"adapter_metadata":      writeStatic(0, uint32(len(meta)), 0),
				"adapter_build_command": writeStatic(0, uint32(len(meta)), 0),
				tc.export:               writeStatic(4096, uint32(len(out)), 0),
			},
			data: []wdata{{0, meta}, {4096, out}},
		}.module().assemble())
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewSession()
		var empty bool
		if tc.export == "adapter_parse_line" {
			var res abi.LineResult
			res, err = s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("x")})
			empty = res.Events == nil && res.Stats == nil
		} else {
			var st abi.Stats
			st, err = s.ParseAPI(ctx, abi.APIRequest{})
			empty = st.HashrateHS == nil && st.Devices == nil
		}
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "output refused: "+tc.want) || !empty {
			t.Errorf("%s %s: err = %v, result empty %v; want a protocol violation naming %q and no result", tc.export, tc.out, err, empty, tc.want)
		}
		s.Close()
		m.close(ctx)
	}
}
