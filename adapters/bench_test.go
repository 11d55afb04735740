package adapters

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// The performance budgets of issue 2 ("Performance"), measured through the
// host against the real XMRig module; the numbers are in BENCH.md.
//
//	go test -run '^$' -bench . -benchmem ./adapters
//	RIGD_MEMORY_CALLS=250000 go test -run TestMemoryPerInstanceIntegration -v ./adapters
//
// Besides ns/op (the mean, which includes the guest's occasional GC cycles)
// the call benchmarks report the median and the slowest call: on a shared
// machine the median is the steadier figure.

const xmrigTestdata = "xmrig/testdata/6.16.0"

// benchDeadlines are long enough that a slow call on a loaded machine is
// measured instead of poisoning the instance (the longest call is reported
// as max-µs).
var benchDeadlines = Deadlines{ParseLine: 10 * time.Second, ParseAPI: 10 * time.Second}

// benchXMRig loads the built-in XMRig module on a fresh in-memory runtime.
func benchXMRig(tb testing.TB) *Module {
	tb.Helper()
	rt := newTestRuntime(tb, benchDeadlines)
	m, err := rt.Load(context.Background(), SourceBuiltin, Builtins()["xmrig"])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.close(context.Background()) })
	return m
}

// realLines returns n real console lines as supervision passes them to
// parse_line: the timestamped lines of every 6.16.0 capture made with
// --no-color (rigd always runs XMRig so, and the host strips any escape
// sequences before parsing), in order, repeated until there are n. With
// color, the coloured capture's lines are used instead.
func realLines(tb testing.TB, n int, color bool) [][]byte {
	tb.Helper()
	pattern := "*-nocolor.log"
	if color {
		pattern = "*-color.log"
	}
	logs, err := filepath.Glob(filepath.Join(xmrigTestdata, pattern))
	if err != nil || len(logs) == 0 {
		tb.Fatalf("no XMRig logs %s in %s: %v", pattern, xmrigTestdata, err)
	}
	var all [][]byte
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(l) > 0 && l[0] == '[' {
				all = append(all, l)
			}
		}
	}
	var lines [][]byte
	for len(lines) < n {
		lines = append(lines, all...)
	}
	return lines[:n]
}

// apiSummaryRequest is one poll of the real 6.16.0 /2/summary and
// /2/backends.
func apiSummaryRequest(tb testing.TB) abi.APIRequest {
	tb.Helper()
	var req abi.APIRequest
	for _, ep := range []string{"summary", "backends"} {
		b, err := os.ReadFile(filepath.Join(xmrigTestdata, "api-"+ep+".json"))
		if err != nil {
			tb.Fatal(err)
		}
		req.Responses = append(req.Responses, abi.APIResponse{Name: ep, Status: 200, Body: string(b)})
	}
	return req
}

// loopTimed runs op for every iteration of b and reports, besides the mean
// wall time (ns/op), the fastest, median and slowest iteration and, where
// the OS says (Linux), the process CPU time per iteration. On a shared
// machine the wall times grow with the load; min-µs and cpu-µs/op much
// less so.
func loopTimed(b *testing.B, op func()) {
	b.Helper()
	var took []time.Duration
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		start := time.Now()
		op()
		took = append(took, time.Since(start))
	}
	cpu1, _ := processCPU()
	slices.Sort(took)
	b.ReportMetric(float64(took[0].Nanoseconds())/1e3, "min-µs")
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)-1].Nanoseconds())/1e3, "max-µs")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/float64(len(took)), "cpu-µs/op")
	}
}

// processCPU returns the CPU time (user + system, all threads) the process
// has used, from /proc/self/stat; false where there is no such file. The
// resolution is a clock tick (10 ms), fine over a benchmark's second.
func processCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may
	// contain anything: state is field 3, utime and stime are 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on every Linux port Go supports
	return time.Duration(utime+stime) * tick, true
}

// BenchmarkParseLine64 is one parse_line call with a full batch of 64 real
// lines through a Session, as supervision makes it: join the lines, call
// the guest (split, parse, encode), decode the result (budget: 400 µs).
func BenchmarkParseLine64(b *testing.B) { benchParseLine64(b, false) }

// BenchmarkParseLine64Color is the same with the lines of XMRig run
// without --no-color, escape sequences left in (the SDK strips them in the
// guest): what a drop-in adapter's miner that insists on colour costs.
func BenchmarkParseLine64Color(b *testing.B) { benchParseLine64(b, true) }

func benchParseLine64(b *testing.B, color bool) {
	m := benchXMRig(b)
	s := m.NewSession()
	defer s.Close()
	ctx := context.Background()
	lines := realLines(b, abi.MaxLineBatch, color)
	if res, err := s.ParseLines(ctx, abi.Stdout, lines); err != nil || len(res.Events) == 0 {
		b.Fatalf("ParseLines = %d events, %v", len(res.Events), err)
	}
	loopTimed(b, func() {
		if _, err := s.ParseLines(ctx, abi.Stdout, lines); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseLine64TTMiner is BenchmarkParseLine64 for the built-in
// TT-Miner module and 64 lines of its real captures (no budget of its own;
// the same guest costs).
func BenchmarkParseLine64TTMiner(b *testing.B) {
	rt := newTestRuntime(b, benchDeadlines)
	m, err := rt.Load(context.Background(), SourceBuiltin, Builtins()["ttminer"])
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.close(context.Background()) })
	s := m.NewSession()
	defer s.Close()
	ctx := context.Background()
	logs, err := filepath.Glob(filepath.Join("ttminer", "testdata", "*", "*.log"))
	if err != nil || len(logs) == 0 {
		b.Fatalf("no TT-Miner logs: %v", err)
	}
	var all [][]byte
	for _, p := range logs {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				all = append(all, l)
			}
		}
	}
	var lines [][]byte
	for len(lines) < abi.MaxLineBatch {
		lines = append(lines, all...)
	}
	lines = lines[:abi.MaxLineBatch]
	if res, err := s.ParseLines(ctx, abi.Stdout, lines); err != nil || len(res.Events) == 0 {
		b.Fatalf("ParseLines = %d events, %v", len(res.Events), err)
	}
	loopTimed(b, func() {
		if _, err := s.ParseLines(ctx, abi.Stdout, lines); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseAPISummary is one parse_api call on the real /2/summary and
// /2/backends through a Session (budget: 1 ms).
func BenchmarkParseAPISummary(b *testing.B) {
	m := benchXMRig(b)
	s := m.NewSession()
	defer s.Close()
	ctx := context.Background()
	req := apiSummaryRequest(b)
	if st, err := s.ParseAPI(ctx, req); err != nil || st.HashrateHS == nil || len(st.Devices) == 0 {
		b.Fatalf("ParseAPI = %+v, %v", st, err)
	}
	loopTimed(b, func() {
		if _, err := s.ParseAPI(ctx, req); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLoadFromCache is loading a built-in adapter at an agent start
// with a warm compilation cache (budget: 100 ms): a new Runtime on the
// cache directory, LoadBuiltin (its remembered metadata), and the compile
// from the cache with the static checks that the first miner of the type
// triggers. Instantiating is BenchmarkInstantiate's budget.
func BenchmarkLoadFromCache(b *testing.B) {
	benchLoad(b, func(ctx context.Context, rt *Runtime, wasm []byte) (*Module, error) {
		m, err := rt.LoadBuiltin(ctx, wasm)
		if err != nil {
			return nil, err
		}
		if m.compiledModule() != nil {
			b.Fatal("LoadBuiltin compiled the module: its metadata was not remembered")
		}
		_, _, err = m.ensureCompiled(ctx)
		return m, err
	})
}

// BenchmarkLoadDropIn is the same for a drop-in adapter, which Load reads
// the metadata of at every start: the compile from the cache, an instance
// and the metadata call (no budget of its own; about both of the above).
func BenchmarkLoadDropIn(b *testing.B) {
	benchLoad(b, func(ctx context.Context, rt *Runtime, wasm []byte) (*Module, error) {
		return rt.Load(ctx, "xmrig.wasm", wasm)
	})
}

func benchLoad(b *testing.B, load func(context.Context, *Runtime, []byte) (*Module, error)) {
	ctx := context.Background()
	dir := b.TempDir()
	wasm := Builtins()["xmrig"]
	once := func() {
		rt, err := NewRuntime(ctx, Config{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close(ctx)
		m, err := load(ctx, rt, wasm)
		if err != nil {
			b.Fatal(err)
		}
		m.close(ctx)
	}
	rt, err := NewRuntime(ctx, Config{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rt.LoadBuiltin(ctx, wasm); err != nil { // fills the cache, remembers the metadata
		b.Fatal(err)
	}
	rt.Close(ctx)
	loopTimed(b, once)
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64(len(wasm))/1e6, "module-MB")
}

// BenchmarkInstantiate is one fresh instance of the loaded XMRig module
// (the guest's _initialize included) and its close (budget: 10 ms).
func BenchmarkInstantiate(b *testing.B) {
	m := benchXMRig(b)
	ctx := context.Background()
	loopTimed(b, func() {
		in, err := m.newInstance(ctx)
		if err != nil {
			b.Fatal(err)
		}
		in.close()
	})
}

// TestMemoryPerInstanceIntegration makes many parse_line calls on one
// session (250k for the budget) and checks the host memory the instance
// holds: the growth of the Go heap in use (which includes the instance's
// linear memory, a Go slice) and the linear memory itself (budget: 16 MiB
// each). This is the real-clock regression guard: with wazero's fake clock
// a Go guest's GC never runs and the instance grows until it is recycled or
// dies. It takes minutes, so it runs only when RIGD_MEMORY_CALLS says how
// many calls to make, and never under -short.
func TestMemoryPerInstanceIntegration(t *testing.T) {
	v := os.Getenv("RIGD_MEMORY_CALLS")
	if testing.Short() || v == "" {
		t.Skip("set RIGD_MEMORY_CALLS=250000 to run (minutes; skipped under -short)")
	}
	calls, err := strconv.Atoi(v)
	if err != nil || calls <= 0 {
		t.Fatalf("RIGD_MEMORY_CALLS=%q: want a positive number of calls", v)
	}
	m := benchXMRig(t)
	ctx := context.Background()
	lines := realLines(t, abi.MaxLineBatch, false)
	base := heapInUse()
	s := m.NewSession()
	defer s.Close()
	var (
		first *instance
		slow  int           // calls over the default parse_line deadline
		worst time.Duration // the slowest call
	)
	start := time.Now()
	for i := range calls {
		t0 := time.Now()
		if _, err := s.ParseLines(ctx, abi.Stdout, lines); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		took := time.Since(t0)
		if i == 0 {
			first = s.inst
			continue // includes instantiation
		}
		worst = max(worst, took)
		if took > DefaultDeadlines.ParseLine {
			slow++
		}
		if (i+1)%(max(calls/5, 1)) == 0 {
			t.Logf("after %d calls: guest linear memory %d KiB", i+1, s.inst.memoryBytes()>>10)
		}
	}
	elapsed := time.Since(start)
	if s.inst != first {
		t.Errorf("the instance was replaced during %d calls (recycled above %d MiB?)", calls, RecycleBytes>>20)
	}
	after := heapInUse()
	linear := uint64(s.inst.memoryBytes())
	var growth uint64
	if after > base {
		growth = after - base
	}
	t.Logf("%d parse_line calls in %v (%v per call): host heap in use %d → %d KiB (%+d KiB for the instance), guest linear memory %d KiB",
		calls, elapsed.Round(time.Second), (elapsed / time.Duration(calls)).Round(time.Microsecond), base>>10, after>>10, int64(after-base)>>10, linear>>10)
	t.Logf("slowest call %v; %d calls took longer than the default %v deadline", worst.Round(time.Microsecond), slow, DefaultDeadlines.ParseLine)
	// The linear memory is mapped outside the Go heap (memory.go): the
	// instance costs the host both.
	const budget = 16 << 20
	if growth+linear > budget {
		t.Errorf("one instance costs %d KiB of host memory (heap +%d KiB, linear memory %d KiB), budget %d KiB",
			(growth+linear)>>10, growth>>10, linear>>10, budget>>10)
	}
}
