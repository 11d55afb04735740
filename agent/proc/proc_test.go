package proc_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/proc"
)

func TestStartRejects(t *testing.T) {
	dir := t.TempDir()
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{})
	link := filepath.Join(dir, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec proc.Spec
		is   error
	}{
		{"relative path", proc.Spec{Path: "xmrig"}, proc.ErrBadSpec},
		{"empty path", proc.Spec{}, proc.ErrBadSpec},
		{"missing binary", proc.Spec{Path: filepath.Join(dir, "nope")}, fs.ErrNotExist},
		{"not executable", proc.Spec{Path: bin + ".json"}, fs.ErrPermission},
		{"NUL in arg", proc.Spec{Path: bin, Args: []string{"a\x00b"}}, proc.ErrBadSpec},
		{"negative grace", proc.Spec{Path: bin, Grace: -1}, proc.ErrBadSpec},
		{"relative dir", proc.Spec{Path: bin, Dir: "work"}, proc.ErrBadSpec},
		{"files without dir", proc.Spec{Path: bin, Files: []proc.File{{Path: "a"}}}, proc.ErrBadSpec},
		{"dotdot file", proc.Spec{Path: bin, Dir: filepath.Join(dir, "w"), Files: []proc.File{{Path: "../a"}}}, proc.ErrBadSpec},
		{"symlink dir", proc.Spec{Path: bin, Dir: link}, proc.ErrUnsafeDir},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := proc.Start(context.Background(), c.spec)
			if err == nil {
				_ = p.Stop(context.Background())
				t.Fatal("started")
			}
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if !strings.HasPrefix(err.Error(), "proc: start ") {
				t.Errorf("err = %q, want the operation and path", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := proc.Start(ctx, proc.Spec{Path: bin}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v", err)
	}
}

func TestOutputAndExit(t *testing.T) {
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/9.3.0", "\x1b[1;32m * POOL\x1b[0m ok\r"},
		Lines: []agenttest.FakeLine{
			{Text: "to stderr", Stderr: true},
			{Text: "", Delay: 10 * time.Millisecond},
			{Raw: []byte("bad \xff\xfe utf8 and \x00 NUL")},
		},
		ExitCode: 3,
	})
	var (
		mu     sync.Mutex
		plains []string
	)
	p := startProc(t, proc.Spec{Path: bin, Args: []string{"--any", "-x", "ignored"}, OnLines: func(s proc.Stream, ls []proc.Line) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range ls {
			plains = append(plains, s.String()+":"+l.Plain)
		}
	}})
	if p.Pid() <= 1 || p.StartTicks() == 0 || p.StartTime().IsZero() {
		t.Errorf("pid %d, start ticks %d, start %v", p.Pid(), p.StartTicks(), p.StartTime())
	}
	e := wait(t, p, 20*time.Second)
	if e.Code != 3 || e.Signal != 0 || e.Stopped || e.Err != nil || e.String() != "exit status 3" {
		t.Errorf("exit = %+v (%s)", e, e)
	}
	if e.RunTime() <= 0 {
		t.Errorf("run time %v", e.RunTime())
	}
	// Order is kept within a stream; across the two pipes it is the order
	// the agent read them in, which the delays make likely but not certain.
	lines := p.Lines(0, 0)
	wantOut := []string{" * ABOUT        XMRig/6.16.0 gcc/9.3.0", "\x1b[1;32m * POOL\x1b[0m ok", "", "bad \xff\xfe utf8 and \x00 NUL"}
	var gotOut, gotErr []string
	for i, l := range lines {
		if l.Seq != uint64(i+1) || l.Time.IsZero() || l.Plain != "" || l.Truncated {
			t.Errorf("line %d = %+v", i, l)
		}
		if l.Stream == proc.Stderr {
			gotErr = append(gotErr, l.Text)
		} else {
			gotOut = append(gotOut, l.Text)
		}
	}
	if !slices.Equal(gotOut, wantOut) || !slices.Equal(gotErr, []string{"to stderr"}) {
		t.Errorf("stdout %q, stderr %q; want %q", gotOut, gotErr, wantOut)
	}
	if !slices.Equal(e.Lines, lines) {
		t.Errorf("exit lines = %q", texts(e.Lines))
	}
	if got := p.Lines(2, 0); !slices.Equal(got, lines[3:]) {
		t.Errorf("Lines(2, 0) = %q", texts(got))
	}
	if got := p.Lines(0, 4); !slices.Equal(got, lines[4:]) {
		t.Errorf("Lines(0, 4) = %q", texts(got))
	}
	mu.Lock()
	slices.Sort(plains)
	wantPlain := []string{"stderr:to stderr", "stdout:", "stdout: * ABOUT        XMRig/6.16.0 gcc/9.3.0", "stdout: * POOL ok", "stdout:bad \xff\xfe utf8 and \x00 NUL"}
	if !slices.Equal(plains, wantPlain) {
		t.Errorf("plain = %q, want %q", plains, wantPlain)
	}
	mu.Unlock()
	st := p.Stats()
	if st.Lines != 5 || st.Dropped != 0 || st.Truncated != 0 || st.RingLines != 5 {
		t.Errorf("stats = %+v", st)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("stop after exit: %v", err)
	}
	if e2, ok := p.Exit(); !ok || e2.Stopped {
		t.Errorf("exit after stop = %+v, %v", e2, ok)
	}
}

func TestTruncation(t *testing.T) {
	long := strings.Repeat("x", 300)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Lines: []agenttest.FakeLine{{Text: "short"}, {Text: long}, {Text: "after"}, {Text: long[:100]}},
	})
	p := startProc(t, proc.Spec{Path: bin, MaxLine: 100})
	wait(t, p, 20*time.Second)
	lines := p.Lines(0, 0)
	if got := texts(lines); !slices.Equal(got, []string{"short", long[:100], "after", long[:100]}) {
		t.Fatalf("lines = %q", got)
	}
	if lines[0].Truncated || !lines[1].Truncated || lines[2].Truncated || lines[3].Truncated {
		t.Errorf("truncated flags: %+v", lines)
	}
	if st := p.Stats(); st.Truncated != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRingBound(t *testing.T) {
	sc := agenttest.FakeScenario{Repeat: 200}
	for i := range 10 {
		sc.Lines = append(sc.Lines, agenttest.FakeLine{Text: strings.Repeat(string(rune('a'+i)), 50)})
	}
	p := startProc(t, proc.Spec{Path: agenttest.FakeMiner(t, sc), RingBytes: 4096})
	wait(t, p, 20*time.Second)
	st := p.Stats()
	if st.Lines != 2000 || st.RingBytes > 4096 || st.RingLines != 4096/(50+proc.LineOverhead) {
		t.Errorf("stats = %+v", st)
	}
	lines := p.Lines(0, 0)
	if len(lines) != st.RingLines || lines[len(lines)-1].Seq != 2000 || lines[0].Seq != uint64(2000-len(lines)+1) {
		t.Errorf("ring holds seq %d..%d (%d lines)", lines[0].Seq, lines[len(lines)-1].Seq, len(lines))
	}
}

func TestEnvDirAndFiles(t *testing.T) {
	envBin, err1 := exec.LookPath("env")
	pwdBin, err2 := exec.LookPath("pwd")
	catBin, err3 := exec.LookPath("cat")
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Skip(err)
	}
	t.Setenv("RIGD_SECRET_TOKEN", "do-not-leak")

	p := startProc(t, proc.Spec{Path: envBin})
	wait(t, p, 10*time.Second)
	if got := texts(p.Lines(0, 0)); len(got) != 0 {
		t.Errorf("nil Env: child saw %q", got)
	}
	p = startProc(t, proc.Spec{Path: envBin, Env: []string{"A=1", "B=two words"}})
	wait(t, p, 10*time.Second)
	if got := texts(p.Lines(0, 0)); !slices.Equal(got, []string{"A=1", "B=two words"}) {
		t.Errorf("env = %q", got)
	}

	dir := filepath.Join(t.TempDir(), "miners", "cpu")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p = startProc(t, proc.Spec{Path: pwdBin, Dir: dir})
	wait(t, p, 10*time.Second)
	if got := texts(p.Lines(0, 0)); !slices.Equal(got, []string{dir}) {
		t.Errorf("pwd = %q, want %q", got, dir)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, %v", fi.Mode(), err)
	}

	p = startProc(t, proc.Spec{Path: catBin, Args: []string{"config.json", "sub/run.sh"}, Dir: dir, Files: []proc.File{
		{Path: "config.json", Content: []byte(`{"http":{"port":1}}`)},
		{Path: "sub/run.sh", Content: []byte("echo"), Mode: 0o755},
	}})
	wait(t, p, 10*time.Second)
	if got := texts(p.Lines(0, 0)); !slices.Equal(got, []string{`{"http":{"port":1}}echo`}) {
		t.Errorf("cat = %q", got)
	}
	for name, want := range map[string]fs.FileMode{"config.json": 0o600, "sub/run.sh": 0o700, "sub": fs.ModeDir | 0o700} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
}

func TestWriteStdin(t *testing.T) {
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Stdin:  map[string][]string{"h": {"| CPU # | AFFINITY | 10s H/s |", "|     0 |       -1 |  1234.5 |"}, "pause": {"paused"}},
		Banner: []string{"ready"},
		RunFor: time.Minute,
	})
	p := startProc(t, proc.Spec{Path: bin})
	waitFor(t, 20*time.Second, "banner", func() bool { return len(p.Lines(0, 0)) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Write(ctx, []byte("h")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "hashrate table", func() bool { return len(p.Lines(0, 0)) == 3 })
	if err := p.Write(ctx, []byte("pause\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "paused", func() bool {
		l := p.Lines(1, 0)
		return len(l) == 1 && l[0].Text == "paused"
	})
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, []byte("h")); !errors.Is(err, proc.ErrNotRunning) {
		t.Errorf("write after stop: %v", err)
	}
}

func TestWriteNeverBlocks(t *testing.T) {
	// The fake does not read stdin: the pipe fills up.
	p := startProc(t, proc.Spec{Path: agenttest.FakeMiner(t, agenttest.FakeScenario{RunFor: time.Minute})})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := p.Write(ctx, make([]byte, 1<<20))
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("write took %v", el)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, proc.ErrWriteTimeout) {
		t.Errorf("err = %v", err)
	}
	// A second writer waiting for the first one is bounded too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel2() }()
	if err := p.Write(ctx2, make([]byte, 1<<20)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: %v", err)
	}
}

// TestStopEscalation is the figure: a miner that traps SIGTERM and
// forks 3 grandchildren (two holding stdout) stops within grace + 1 s with 0
// processes left.
func TestStopEscalation(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		TERM:                  "ignore",
		Children:              3,
		ChildrenHoldingStdout: 2,
		ChildrenIgnoreTERM:    true,
		ChildLifetime:         5 * time.Minute,
		Banner:                []string{"up"},
		ReadyFile:             ready,
		RunFor:                5 * time.Minute,
	})
	const grace = time.Second
	p := startProc(t, proc.Spec{Path: bin, Grace: grace})
	r := waitReady(t, ready)
	if got := len(groupProcs(p.Pid())); got != 4 || len(r.Children) != 3 {
		t.Fatalf("group has %d processes, children %v", got, r.Children)
	}
	t0 := time.Now()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	left := groupProcs(p.Pid())
	t.Logf("stop took %v (grace %v), %d processes left in the group", took, grace, len(left))
	if took > grace+time.Second || took < grace {
		t.Errorf("stop took %v, want in [grace, grace+1s]", took)
	}
	if len(left) != 0 {
		t.Errorf("left in group: %+v", left)
	}
	e, _ := p.Exit()
	if !e.Stopped || e.Signal != syscall.SIGKILL || e.Code != -1 {
		t.Errorf("exit = %+v (%s)", e, e)
	}
	if !slices.Equal(texts(e.Lines), []string{"up"}) {
		t.Errorf("exit lines = %q", texts(e.Lines))
	}
	for _, c := range r.Children {
		if _, ok := readStat(c); ok {
			t.Errorf("child %d still exists", c)
		}
	}
}

func TestStopGraceful(t *testing.T) {
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{TERM: "exit", TermDelay: 50 * time.Millisecond, Banner: []string{"up"}, RunFor: time.Minute})
	p := startProc(t, proc.Spec{Path: bin, Grace: 20 * time.Second})
	waitFor(t, 20*time.Second, "banner", func() bool { return len(p.Lines(0, 0)) > 0 })
	t0 := time.Now()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("graceful stop took %v", took)
	}
	e, _ := p.Exit()
	if e.Code != 0 || e.Signal != 0 || !e.Stopped || e.String() != "exit status 0 (stopped)" {
		t.Errorf("exit = %+v (%s)", e, e)
	}
	if got := texts(e.Lines); !slices.Equal(got, []string{"up", "fake-miner: SIGTERM received, exiting"}) {
		t.Errorf("lines = %q", got)
	}
}

// TestLeaderExitKillsGroup: when the leader exits on its own, forked
// children holding stdout are killed and reaped, and Done does not wait for
// them.
func TestLeaderExitKillsGroup(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Children: 2, ChildrenHoldingStdout: 2, ChildLifetime: 5 * time.Minute,
		ReadyFile: ready, Lines: []agenttest.FakeLine{{Text: "bye", Delay: 100 * time.Millisecond}}, ExitCode: 1,
	})
	p := startProc(t, proc.Spec{Path: bin})
	r := waitReady(t, ready)
	e := wait(t, p, 10*time.Second)
	if e.Code != 1 || e.Stopped {
		t.Errorf("exit = %s", e)
	}
	if left := groupProcs(p.Pid()); len(left) != 0 {
		t.Errorf("left in group: %+v", left)
	}
	for _, c := range r.Children {
		if _, ok := readStat(c); ok {
			t.Errorf("child %d still exists", c)
		}
	}
}

func TestStopConcurrentAndCancelled(t *testing.T) {
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{TERM: "ignore", Banner: []string{"up"}, RunFor: time.Minute})
	p := startProc(t, proc.Spec{Path: bin, Grace: time.Minute})
	waitFor(t, 20*time.Second, "banner", func() bool { return len(p.Lines(0, 0)) > 0 })

	// A Stop whose ctx ends during the grace period escalates to SIGKILL.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := context.Background()
			if i == 0 {
				c = ctx
			}
			errs[i] = p.Stop(c)
		}()
	}
	wg.Wait()
	if !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Errorf("stop with short ctx: %v", errs[0])
	}
	for _, err := range errs[1:] {
		if err != nil {
			t.Errorf("concurrent stop: %v", err)
		}
	}
	e := wait(t, p, 10*time.Second)
	if e.Signal != syscall.SIGKILL || !e.Stopped {
		t.Errorf("exit = %s", e)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("stop again: %v", err)
	}
}

func TestAliveAndKillGroup(t *testing.T) {
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{TERM: "ignore", Banner: []string{"up"}, RunFor: time.Minute})
	p := startProc(t, proc.Spec{Path: bin})
	waitFor(t, 20*time.Second, "banner", func() bool { return len(p.Lines(0, 0)) > 0 })
	pid, ticks := p.Pid(), p.StartTicks()
	if got, err := proc.StartTicks(pid); err != nil || got != ticks {
		t.Errorf("StartTicks = %d, %v; want %d", got, err, ticks)
	}
	if !proc.Alive(pid, ticks) || proc.Alive(pid, ticks+1) || proc.Alive(0, 0) {
		t.Error("Alive is wrong")
	}
	if err := proc.KillGroup(pid, ticks+1); !errors.Is(err, proc.ErrNotRunning) {
		t.Errorf("KillGroup with a wrong start time: %v", err)
	}
	if err := proc.KillGroup(1, 0); !errors.Is(err, proc.ErrBadSpec) {
		t.Errorf("KillGroup(1): %v", err)
	}
	if err := proc.KillGroup(pid, ticks); err != nil {
		t.Fatal(err)
	}
	e := wait(t, p, 10*time.Second)
	if e.Signal != syscall.SIGKILL || e.Stopped {
		t.Errorf("exit = %s", e)
	}
	if proc.Alive(pid, ticks) {
		t.Error("alive after kill")
	}
	if err := proc.KillGroup(pid, ticks); !errors.Is(err, proc.ErrNotRunning) {
		t.Errorf("KillGroup after exit: %v", err)
	}
}

// A process that leaves the group but keeps the pipes open (a daemonising
// child) does not keep the Process alive: once the leader is gone, the
// readers, parked on the silent pipes, give up after DrainWait.
func TestPipeHeldOutsideGroup(t *testing.T) {
	got := make(chan string, 4)
	p := startProc(t, proc.Spec{Path: "/bin/sh", Args: []string{"-c", "setsid sh -c 'echo $$; exec sleep 60' & sleep 1"},
		OnLines: func(_ proc.Stream, lines []proc.Line) {
			for _, l := range lines {
				got <- l.Plain
			}
		}})
	var pid int
	select {
	case l := <-got:
		var err error
		if pid, err = strconv.Atoi(l); err != nil {
			t.Fatalf("line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no line")
	}
	defer func() { // reap it: the test binary is the subreaper of orphans
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = syscall.Wait4(pid, nil, 0, nil)
	}()
	start := time.Now()
	e := wait(t, p, proc.DrainWait+5*time.Second)
	if d := time.Since(start); d < proc.DrainWait/2 || e.Code != 0 {
		t.Errorf("done after %v with %s; want the readers to wait about DrainWait (%v)", d, e, proc.DrainWait)
	}
	if _, ok := readStat(pid); !ok {
		t.Errorf("the process outside the group was killed (%d)", pid)
	}
}
