package miner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/agent/restart"
	"github.com/rigd/rigd/sdk/abi"
)

func TestMain(m *testing.M) {
	agenttest.RunFakeMinerIfInvoked()
	os.Exit(m.Run())
}

type env struct {
	m        *miner.Manager
	adapters *agenttest.FakeAdapters
	runDir   string
}

func newEnv(t *testing.T, mutate func(*miner.Config)) *env {
	t.Helper()
	e := &env{adapters: agenttest.NewFakeAdapters(), runDir: t.TempDir()}
	cfg := miner.Config{
		RunDir:       e.runDir,
		Adapters:     e.adapters,
		PollInterval: time.Hour, // tests poll with PollOnce
		PollTimeout:  2 * time.Second,
		PollRetries:  -1,
		StopGrace:    2 * time.Second,
		Restart:      restart.Config{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := miner.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx, true); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

func (e *env) start(t *testing.T, bin string, mutate func(*miner.StartRequest)) (miner.Info, error) {
	t.Helper()
	req := miner.StartRequest{Type: "fake", Binary: bin, Profile: abi.Profile{Algo: "fake"}}
	if mutate != nil {
		mutate(&req)
	}
	return e.m.Start(context.Background(), req)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, m *miner.Manager, name string) miner.Info {
	t.Helper()
	i, err := m.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// A zombie still has a stat file; state is the field after ") ".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestStartParseStop(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Banner: []string{"fake miner 1.0"},
		Lines: []agenttest.FakeLine{
			{Text: "pool 127.0.0.1:3333"},
			{Text: "accepted 1"},
			{Text: "hashrate 42.5"},
			{Text: "accepted 2"},
			// Order across stdout and stderr is not defined (two pipes read
			// concurrently), so stderr carries an independent fact.
			{Text: "rejected 1 low-difficulty", Stderr: true},
		},
		HTTP:   map[string]json.RawMessage{"/stats": json.RawMessage(`{"hashrate_hs": 50, "uptime_s": 7}`)},
		RunFor: time.Minute,
		TERM:   "exit",
	})
	sub := e.m.Bus().Subscribe(100, nil)
	defer sub.Close()

	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "fake-fake" || info.State != miner.StateRunning || info.PID == 0 || info.Autostart != true {
		t.Fatalf("start returned %+v", info)
	}
	waitFor(t, 5*time.Second, "console stats", func() bool {
		st := get(t, e.m, info.Name).Stats
		return st.Accepted != nil && *st.Accepted == 2 && st.HashrateHS != nil && *st.HashrateHS == 42.5 &&
			st.Pool == "127.0.0.1:3333" && st.Rejected != nil && st.LastRejectReason == "low-difficulty"
	})
	// The API poll merges on top: hashrate from the API, counters kept.
	waitFor(t, 5*time.Second, "api stats", func() bool {
		e.m.PollOnce(context.Background())
		st := get(t, e.m, info.Name).Stats
		return st.HashrateHS != nil && *st.HashrateHS == 50 && st.UptimeS != nil && *st.UptimeS == 7 && *st.Accepted == 2
	})
	hist, err := e.m.HashrateHistory(info.Name)
	if err != nil || len(hist.Raw) == 0 || hist.Raw[len(hist.Raw)-1].HashrateHS != 50 {
		t.Fatalf("history %+v, %v", hist, err)
	}
	lines, err := e.m.Logs(info.Name, miner.LogQuery{Lines: 10})
	if err != nil || len(lines) != 6 || !slices.ContainsFunc(lines, func(l miner.LogLine) bool { return l.Text == "fake miner 1.0" && l.Stream == "stdout" }) {
		t.Fatalf("logs %+v, %v", lines, err)
	}

	stopped, err := e.m.Stop(context.Background(), info.Name)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.State != miner.StateStopped || stopped.LastExit == nil || !stopped.LastExit.Requested {
		t.Fatalf("stop returned %+v", stopped)
	}
	if !processGone(info.PID) {
		t.Fatalf("pid %d still running after stop", info.PID)
	}
	if _, err := e.m.Get(info.Name); !errors.Is(err, miner.ErrNotFound) {
		t.Fatalf("after stop Get = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(e.runDir, info.Name)); !os.IsNotExist(err) {
		t.Fatalf("instance dir left after stop: %v", err)
	}
	// Events: started, the parsed shares, stopped.
	seen := map[string]int{}
	for len(sub.C) > 0 {
		ev := <-sub.C
		seen[ev.Type]++
	}
	if seen[miner.EventMinerStarted] != 1 || seen[abi.EventShareAccepted] != 2 || seen[miner.EventMinerStopped] != 1 {
		t.Fatalf("events %v", seen)
	}
}

func TestBadStartRequests(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{RunFor: time.Minute})
	notExec := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notExec, []byte("x"), 0o644)
	for _, tc := range []struct {
		name   string
		mutate func(*miner.StartRequest)
		check  func(error) bool
	}{
		{"unknown type", func(r *miner.StartRequest) { r.Type = "nope" }, func(err error) bool { return errors.Is(err, miner.ErrUnknownType) }},
		{"missing binary", func(r *miner.StartRequest) { r.Binary = "/nonexistent/xmrig" }, func(err error) bool { return errors.Is(err, miner.ErrNoBinary) }},
		{"binary not executable", func(r *miner.StartRequest) { r.Binary = notExec }, func(err error) bool { return errors.Is(err, miner.ErrNoBinary) }},
		{"no binary installed", func(r *miner.StartRequest) { r.Binary = "" }, func(err error) bool { return errors.Is(err, miner.ErrNoBinary) }},
		{"profile rejected", func(r *miner.StartRequest) { r.Profile.Algo = "reject" }, func(err error) bool {
			var ae *abi.Error
			return errors.As(err, &ae) && ae.Code == abi.CodeInvalidProfile
		}},
		{"name ../x", func(r *miner.StartRequest) { r.Name = "../x" }, func(err error) bool { return errors.Is(err, miner.ErrInvalidName) }},
		{"name a/b", func(r *miner.StartRequest) { r.Name = "a/b" }, func(err error) bool { return errors.Is(err, miner.ErrInvalidName) }},
		{"name -x", func(r *miner.StartRequest) { r.Name = "-x" }, func(err error) bool { return errors.Is(err, miner.ErrInvalidName) }},
		{"name x;y", func(r *miner.StartRequest) { r.Name = "x;y" }, func(err error) bool { return errors.Is(err, miner.ErrInvalidName) }},
		{"name available", func(r *miner.StartRequest) { r.Name = miner.ReservedName }, func(err error) bool { return errors.Is(err, miner.ErrInvalidName) }},
		{"file over the pid record", func(r *miner.StartRequest) {
			r.Profile.Options = map[string]abi.RawMessage{"file": abi.RawMessage(`"rigd-pid.json/x"`)}
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "rigd-") }},
		{"watchdog share_probability 1", func(r *miner.StartRequest) { r.Watchdog = &miner.WatchdogConfig{ShareProbability: 1} }, func(err error) bool {
			return errors.Is(err, miner.ErrInvalidInput) && strings.Contains(err.Error(), "share_probability")
		}},
		{"watchdog negative restarts", func(r *miner.StartRequest) { r.Watchdog = &miner.WatchdogConfig{MaxRestartsPerHour: -1} }, func(err error) bool {
			return errors.Is(err, miner.ErrInvalidInput) && strings.Contains(err.Error(), "max_restarts_per_hour")
		}},
		{"watchdog negative grace", func(r *miner.StartRequest) { r.Watchdog = &miner.WatchdogConfig{Grace: miner.Duration(-time.Second)} }, func(err error) bool {
			return errors.Is(err, miner.ErrInvalidInput) && strings.Contains(err.Error(), "grace")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.start(t, bin, tc.mutate)
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			if l := e.m.List(); len(l) != 0 {
				t.Fatalf("something was started: %+v", l)
			}
		})
	}
	entries, _ := os.ReadDir(e.runDir)
	if len(entries) != 0 {
		t.Fatalf("run dir not empty after refused starts: %v", entries)
	}

	// A duplicate name conflicts and leaves the first miner alone.
	first, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.start(t, bin, nil); !errors.Is(err, miner.ErrConflict) {
		t.Fatalf("duplicate start: %v", err)
	}
	if i := get(t, e.m, first.Name); i.State != miner.StateRunning || i.PID != first.PID {
		t.Fatalf("first miner disturbed: %+v", i)
	}
	// stdin to an unknown miner, and to a stopped one.
	if err := e.m.SendInput(context.Background(), "nope", "h"); !errors.Is(err, miner.ErrNotFound) {
		t.Fatalf("stdin to unknown: %v", err)
	}
	if err := e.m.SendInput(context.Background(), first.Name, ""); !errors.Is(err, miner.ErrInvalidInput) {
		t.Fatalf("empty stdin: %v", err)
	}
	if err := e.m.SendInput(context.Background(), first.Name, "\x03"); !errors.Is(err, miner.ErrInvalidInput) || !strings.Contains(err.Error(), "control character") {
		t.Fatalf("Ctrl+C to stdin: %v", err)
	}
	if err := e.m.SendInput(context.Background(), first.Name, "h\n"); err != nil {
		t.Fatalf("a key and a newline: %v", err)
	}
	if _, err := e.m.Stop(context.Background(), first.Name); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SendInput(context.Background(), first.Name, "h"); !errors.Is(err, miner.ErrNotFound) {
		t.Fatalf("stdin to stopped miner: %v", err)
	}
}

func TestStdinReachesMiner(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Stdin:  map[string][]string{"h": {"hashrate 12.5"}},
		RunFor: time.Minute,
	})
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.SendInput(context.Background(), info.Name, "h"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the answer to h", func() bool {
		st := get(t, e.m, info.Name).Stats
		return st.HashrateHS != nil && *st.HashrateHS == 12.5
	})
}

// A binary that exits at once goes through backoff into crashlooping,
// visible with its last lines, and is never started in a busy loop.
func TestExitAtOnceCrashLoops(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{Banner: []string{"cannot start: no GPU"}, ExitCode: 3})
	sub := e.m.Bus().Subscribe(1000, func(ev *miner.Event) bool { return ev.Type == miner.EventMinerStarted })
	defer sub.Close()
	states := e.m.Bus().Subscribe(1000, func(ev *miner.Event) bool { return ev.Type == miner.EventMinerState })
	defer states.Close()
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "crashlooping", func() bool {
		return get(t, e.m, info.Name).State == miner.StateCrashLooping
	})
	i := get(t, e.m, info.Name)
	if i.LastExit == nil || i.LastExit.Code != 3 || !strings.Contains(strings.Join(i.LastExit.LastLines, "\n"), "cannot start: no GPU") {
		t.Fatalf("last exit %+v", i.LastExit)
	}
	if !strings.Contains(i.Message, "crash looping") || i.NextRestartAt == nil {
		t.Fatalf("crashlooping miner without explanation: %+v", i)
	}
	// 10 failures make a crash loop; starts are spaced by the backoff.
	starts := len(sub.C)
	if starts < 10 || starts > 12 {
		t.Fatalf("%d starts before crashlooping, want 10-12", starts)
	}
	backoffs := 0
	for len(states.C) > 0 {
		if ev := <-states.C; ev.State == miner.StateBackoff {
			backoffs++
		}
	}
	if backoffs < 9 {
		t.Fatalf("%d backoff states before crashlooping, want one per failure", backoffs)
	}
}

// A fatal line is permanent: the miner is stopped and not restarted.
func TestFatalLineFailsForGood(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Lines:  []agenttest.FakeLine{{Text: "fatal this beta version has expired"}},
		RunFor: time.Minute,
		TERM:   "exit",
	})
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "failed", func() bool { return get(t, e.m, info.Name).State == miner.StateFailed })
	i := get(t, e.m, info.Name)
	if !strings.Contains(i.Message, "this beta version has expired") || i.Restarts != 0 {
		t.Fatalf("failed miner %+v", i)
	}
	time.Sleep(300 * time.Millisecond) // longer than the test backoff
	if i := get(t, e.m, info.Name); i.State != miner.StateFailed || i.Restarts != 0 {
		t.Fatalf("fatal miner was restarted: %+v", i)
	}
	if !processGone(info.PID) {
		t.Fatal("fatal miner still running")
	}
}

func TestKilledMinerRestarts(t *testing.T) {
	e := newEnv(t, nil)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{Lines: []agenttest.FakeLine{{Text: "pool 127.0.0.1:3333"}, {Text: "hashrate 99"}, {Text: "accepted 5"}}, RunFor: time.Minute})
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "accepted", func() bool { return get(t, e.m, info.Name).Stats.Accepted != nil })
	if st := get(t, e.m, info.Name).Stats; st.HashrateHS == nil || st.PoolConnected == nil {
		t.Fatalf("running stats: %+v", st)
	}
	before, err := e.m.Logs(info.Name, miner.LogQuery{})
	if err != nil || len(before) == 0 {
		t.Fatalf("logs of the first process: %v %v", before, err)
	}
	var crashed miner.Info
	sub := e.m.Bus().Subscribe(16, func(ev *miner.Event) bool { return ev.Type == miner.EventMinerCrashed })
	defer sub.Close()
	starts := e.m.Bus().Subscribe(16, func(ev *miner.Event) bool { return ev.Type == miner.EventMinerStarted })
	defer starts.Close()
	syscall.Kill(info.PID, syscall.SIGKILL)
	select {
	case ev := <-sub.C:
		crashed = *ev.Info
	case <-time.After(10 * time.Second):
		t.Fatal("no crash event")
	}
	// While it waits to restart, it hashes nothing and has no uptime; its
	// shares stay told.
	if st := crashed.Stats; st.HashrateHS != nil || st.PoolConnected != nil || st.Accepted == nil || *st.Accepted != 5 || crashed.StartedAt != nil {
		t.Fatalf("the crashed miner: %+v", crashed)
	}
	// The restarted process's miner_started already counts the restart.
	select {
	case ev := <-starts.C:
		if ev.Info.Restarts != 1 {
			t.Fatalf("miner_started of the restart says %d restarts", ev.Info.Restarts)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no miner_started after the crash")
	}
	waitFor(t, 10*time.Second, "restart", func() bool {
		i := get(t, e.m, info.Name)
		return i.Restarts == 1 && i.State == miner.StateRunning && i.PID != info.PID
	})
	i := get(t, e.m, info.Name)
	if i.LastExit == nil || i.LastExit.Signal != "SIGKILL" || i.LastExit.Cause != "killed by SIGKILL" {
		t.Fatalf("last exit %+v", i.LastExit)
	}
	// The new process's lines follow the old one's: a reader following
	// with since misses none of them.
	last := before[len(before)-1].Seq
	waitFor(t, 5*time.Second, "the new process's lines after the old one's", func() bool {
		after, err := e.m.Logs(info.Name, miner.LogQuery{Since: last})
		return err == nil && len(after) >= 3 && after[0].Seq == last+1
	})
}

// Miners left running by an agent that went away are found by the next
// one and stopped, so that autostart never makes a second copy: by their
// PID record, and on Linux by their directory when the record is torn or
// gone (it was deleted, and the miner left running beside a new copy).
func TestReapOrphans(t *testing.T) {
	for _, record := range []string{"kept", "torn", "gone"} {
		t.Run(record, func(t *testing.T) {
			if record != "kept" && runtime.GOOS != "linux" {
				t.Skip("a miner is found by its working directory on Linux only")
			}
			testReapOrphans(t, record)
		})
	}
}

func testReapOrphans(t *testing.T, record string) {
	// Through a link, as a data dir often is: a process's working
	// directory reads without it.
	runDir := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), runDir); err != nil {
		t.Fatal(err)
	}
	adapters := agenttest.NewFakeAdapters()
	m1, err := miner.NewManager(miner.Config{RunDir: runDir, Adapters: adapters})
	if err != nil {
		t.Fatal(err)
	}
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{RunFor: time.Minute, TERM: "exit"})
	info, err := m1.Start(context.Background(), miner.StartRequest{Type: "fake", Binary: bin, Profile: abi.Profile{Algo: "fake"}})
	if err != nil {
		t.Fatal(err)
	}
	// The first agent goes away without stopping its miner.
	if err := m1.Close(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if processGone(info.PID) {
		t.Fatal("miner died with the detached manager")
	}
	pidRecord := filepath.Join(runDir, info.Name, "rigd-pid.json")
	switch record {
	case "torn":
		err = os.WriteFile(pidRecord, []byte(`{"pid":`), 0o600)
	case "gone":
		err = os.Remove(pidRecord)
	}
	if err != nil {
		t.Fatal(err)
	}
	m2, err := miner.NewManager(miner.Config{RunDir: runDir, Adapters: adapters})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(context.Background(), true)
	reaped := m2.ReapOrphans(context.Background())
	if len(reaped) != 1 || reaped[0] != info.Name {
		t.Fatalf("reaped %v", reaped)
	}
	waitFor(t, 10*time.Second, "orphan gone", func() bool { return processGone(info.PID) })
	if again := m2.ReapOrphans(context.Background()); len(again) != 0 {
		t.Fatalf("second reap found %v", again)
	}
}

// A miner runs through 10 simulated minutes of timers (polls every 10 s)
// and is still the same running process: no timer ever kills it.
func TestMinerSurvivesTenMinutes(t *testing.T) {
	clock := agenttest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, func(c *miner.Config) {
		c.Clock = clock
		c.PollInterval = 10 * time.Second
	})
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		HTTP:   map[string]json.RawMessage{"/stats": json.RawMessage(`{"hashrate_hs": 10}`)},
		RunFor: 2 * time.Minute,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.m.Run(ctx)
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Let the fake's API come up in real time before simulated time runs.
	waitFor(t, 5*time.Second, "the first poll", func() bool {
		e.m.PollOnce(context.Background())
		h, _ := e.m.HashrateHistory(info.Name)
		return len(h.Raw) > 0
	})
	for step := 0; step < 60; step++ { // 60 × 10 s = 10 min
		waitFor(t, 5*time.Second, "the collector's timer", func() bool { return clock.Waiters() > 0 })
		clock.Advance(10 * time.Second)
	}
	waitFor(t, 5*time.Second, "polls through simulated time", func() bool {
		h, _ := e.m.HashrateHistory(info.Name)
		return len(h.Raw) > 0 && h.Raw[len(h.Raw)-1].Time.Sub(h.Raw[0].Time) >= 4*time.Minute
	})
	i := get(t, e.m, info.Name)
	if i.State != miner.StateRunning || i.PID != info.PID || i.Restarts != 0 || processGone(info.PID) {
		t.Fatalf("after 10 simulated minutes: %+v", i)
	}
	if got := clock.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != 10*time.Minute {
		t.Fatalf("clock advanced %v", got)
	}
}

func TestGoroutinesReturnAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := &env{adapters: agenttest.NewFakeAdapters(), runDir: t.TempDir()}
		m, err := miner.NewManager(miner.Config{RunDir: e.runDir, Adapters: e.adapters, StopGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		bin := agenttest.FakeMiner(t, agenttest.FakeScenario{RunFor: time.Minute, Lines: []agenttest.FakeLine{{Text: "accepted 1"}}})
		for i := range 5 {
			if _, err := m.Start(context.Background(), miner.StartRequest{Type: "fake", Name: fmt.Sprintf("m%d", i), Binary: bin, Profile: abi.Profile{Algo: "fake"}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Close(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	}()
	waitFor(t, 10*time.Second, "goroutines to return", func() bool { return runtime.NumGoroutine() <= before+10 })
}
