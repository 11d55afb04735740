package proc_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/proc"
)

// TestStartStopCycles is the figure: 1,000 start/stop cycles leave
// 0 zombies and the goroutine count back to baseline ±10. A re-exec of the
// race-enabled test binary costs ~80 ms of CPU, so most cycles run
// sleep(1); every 25th runs the fake miner with two children holding
// stdout, so group cleanup and reaping are part of the loop. -short runs
// 100 cycles.
func TestStartStopCycles(t *testing.T) {
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	const parallel = 4
	budget := 45 * time.Second
	fake := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Children: 2, ChildrenHoldingStdout: 2, ChildLifetime: time.Minute,
		Banner: []string{"up"}, RunFor: time.Minute,
	})
	runtime.GC()
	baseline := runtime.NumGoroutine()

	var (
		next, done atomic.Int64
		mu         sync.Mutex
		pgids      []int
		firstErr   error
	)
	deadline := time.Now().Add(budget)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(cycles) || time.Now().After(deadline) {
					return
				}
				spec := proc.Spec{Path: sleepBin, Args: []string{"60"}, Grace: 5 * time.Second}
				if i%25 == 0 {
					spec = proc.Spec{Path: fake, Grace: 5 * time.Second}
				}
				err := func() error {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					p, err := proc.Start(ctx, spec)
					if err != nil {
						return err
					}
					mu.Lock()
					pgids = append(pgids, p.Pid())
					mu.Unlock()
					if i%25 == 0 {
						// Let the fake fork its children before stopping it.
						for len(p.Lines(1, 0)) == 0 && ctx.Err() == nil {
							time.Sleep(2 * time.Millisecond)
						}
					}
					return p.Stop(ctx)
				}()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	n := int(done.Load())
	if n < cycles {
		t.Errorf("only %d of %d cycles within %v", n, cycles, budget)
	}
	left := groupProcs(pgids...)
	children := childProcs()
	got := settleGoroutines(baseline+10, 5*time.Second)
	t.Logf("%d cycles in %v (%v each, parallelism %d): %d processes left in their groups, %d zombie children, goroutines %d → %d",
		n, elapsed.Round(time.Millisecond), (elapsed / time.Duration(max(n, 1))).Round(time.Microsecond), parallel,
		len(left), zombies(children), baseline, got)
	if len(left) != 0 {
		t.Errorf("processes left: %+v", left)
	}
	if zombies(children) != 0 {
		t.Errorf("zombie children: %+v", children)
	}
	if got > baseline+10 {
		t.Errorf("goroutines %d, baseline %d", got, baseline)
	}
}

// TestLogFlood is the figure: 50 MB/s for 10 s in 1 MiB lines with
// invalid UTF-8: ring ≤ 1 MiB, RSS growth ≤ 32 MiB, and the miner never
// blocked on a write for more than 100 ms.
func TestLogFlood(t *testing.T) {
	const (
		rate     = 50_000_000
		dur      = 10 * time.Second
		lineLen  = 1 << 20
		maxBlock = 100 * time.Millisecond
		maxRSS   = 32 << 20
	)
	report := filepath.Join(t.TempDir(), "flood.json")
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Flood: &agenttest.FakeFlood{BytesPerSec: rate, Duration: dur, LineLen: lineLen, InvalidUTF8: true, Report: report},
	})
	var batches atomic.Int64
	runtime.GC()
	debug.FreeOSMemory()
	base := vmRSS(t)
	var peak atomic.Int64
	peak.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample RSS; owned by this test
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if r := vmRSS(t); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	p := startProc(t, proc.Spec{Path: bin, OnLines: func(_ proc.Stream, ls []proc.Line) { batches.Add(1) }})
	e := wait(t, p, dur+30*time.Second)
	close(stop)
	wg.Wait()

	var rep agenttest.FakeFloodReport
	if err := agenttest.ReadFakeJSON(report, &rep); err != nil {
		t.Fatalf("flood report: %v; lines %q", err, texts(p.Lines(5, 0)))
	}
	st := p.Stats()
	growth := peak.Load() - base
	t.Logf("flood: %d MB in %v (%.1f MB/s), %d writes, max write block %v; ring %d bytes / %d lines; %d lines (%d truncated), %d batches, %d dropped; RSS %d MiB → peak %d MiB (growth %.1f MiB)",
		rep.Bytes/1e6, rep.Elapsed.Round(time.Millisecond), float64(rep.Bytes)/rep.Elapsed.Seconds()/1e6, rep.Writes, rep.MaxBlock,
		st.RingBytes, st.RingLines, st.Lines, st.Truncated, batches.Load(), st.Dropped, base>>20, peak.Load()>>20, float64(growth)/(1<<20))
	if e.Code != 0 {
		t.Errorf("exit = %s; lines %q", e, texts(p.Lines(3, 0)))
	}
	if rep.Bytes != rate*int64(dur/time.Second) || st.Bytes != uint64(rep.Bytes) {
		t.Errorf("wrote %d bytes, read %d", rep.Bytes, st.Bytes)
	}
	if rep.MaxBlock > maxBlock {
		t.Errorf("the miner blocked %v on a write", rep.MaxBlock)
	}
	if st.RingBytes > proc.DefaultRingBytes {
		t.Errorf("ring holds %d bytes", st.RingBytes)
	}
	held := 0
	for _, l := range p.Lines(0, 0) {
		held += len(l.Text)
		if !l.Truncated || len(l.Text) != proc.DefaultMaxLine {
			t.Fatalf("line %d: %d bytes, truncated %v", l.Seq, len(l.Text), l.Truncated)
		}
		if !strings.Contains(l.Text, "\xff\xfe\xc3") || !strings.Contains(l.Text, "\x00") {
			t.Fatalf("line %d lost its invalid UTF-8 or NUL", l.Seq)
		}
	}
	if held > proc.DefaultRingBytes {
		t.Errorf("ring text %d bytes", held)
	}
	if want := uint64((rep.Bytes + lineLen - 1) / lineLen); st.Lines != want || st.Truncated != want {
		t.Errorf("lines %d, truncated %d, want %d", st.Lines, st.Truncated, want)
	}
	if growth > maxRSS {
		t.Errorf("RSS grew by %d MiB", growth>>20)
	}
}

// TestSlowCallbackDoesNotBlock: a callback that stalls loses batches (and
// counts them) but never makes the child wait.
func TestSlowCallbackDoesNotBlock(t *testing.T) {
	report := filepath.Join(t.TempDir(), "flood.json")
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Flood: &agenttest.FakeFlood{BytesPerSec: 2_000_000, Duration: 2 * time.Second, LineLen: 100, Report: report},
	})
	var delivered atomic.Int64
	p := startProc(t, proc.Spec{Path: bin, OnLines: func(_ proc.Stream, ls []proc.Line) {
		delivered.Add(int64(len(ls)))
		time.Sleep(100 * time.Millisecond)
	}})
	e := wait(t, p, 30*time.Second)
	var rep agenttest.FakeFloodReport
	if err := agenttest.ReadFakeJSON(report, &rep); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("exit %s; max write block %v; %d lines, %d delivered, %d dropped", e, rep.MaxBlock, st.Lines, delivered.Load(), st.Dropped)
	if rep.MaxBlock > 100*time.Millisecond {
		t.Errorf("the child blocked %v", rep.MaxBlock)
	}
	if st.Lines != 40_000 || st.Dropped == 0 || uint64(delivered.Load())+st.Dropped != st.Lines {
		t.Errorf("lines %d, delivered %d, dropped %d", st.Lines, delivered.Load(), st.Dropped)
	}
}

// BenchmarkChattyMiner measures the agent's CPU for draining a miner that
// prints an XMRig-like coloured line every 10 ms, with an OnLines callback:
// cpu-ns/line is the agent's user+system CPU time per line, %core the
// share of one core it used.
func BenchmarkChattyMiner(b *testing.B) {
	line := "[2026-11-26 23:12:54.123]  \x1b[1;37mcpu      \x1b[0m \x1b[1;32maccepted\x1b[0m (12/0) diff \x1b[1;37m120001\x1b[0m \x1b[1;30m(37 ms)\x1b[0m"
	bin := agenttest.FakeMiner(b, agenttest.FakeScenario{
		Banner: []string{"up"},
		Lines:  []agenttest.FakeLine{{Text: line, Delay: 10 * time.Millisecond}},
		Repeat: b.N,
	})
	var got atomic.Int64
	p := startProc(b, proc.Spec{Path: bin, OnLines: func(_ proc.Stream, ls []proc.Line) { got.Add(int64(len(ls))) }})
	waitFor(b, 20*time.Second, "banner", func() bool { return got.Load() > 0 })
	b.ResetTimer()
	cpu0, t0 := cpuTime(b), time.Now()
	e := wait(b, p, time.Duration(b.N)*20*time.Millisecond+30*time.Second)
	cpu, wall := cpuTime(b)-cpu0, time.Since(t0)
	b.StopTimer()
	if e.Code != 0 || got.Load() != int64(b.N)+1 {
		b.Fatalf("exit %s, %d lines", e, got.Load())
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/line")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
