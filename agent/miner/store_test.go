package miner_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

func TestAutostartAndSessions(t *testing.T) {
	store := agenttest.NewMemStore()
	runDir := t.TempDir()
	adapters := agenttest.NewFakeAdapters()
	cfg := miner.Config{RunDir: runDir, Adapters: adapters, Store: store, StopGrace: time.Second}
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{RunFor: time.Minute, TERM: "exit", Lines: []agenttest.FakeLine{{Text: "accepted 3"}}})
	ctx := context.Background()

	m1, err := miner.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	for _, r := range []miner.StartRequest{
		{Type: "fake", Name: "keep", Binary: bin, Profile: abi.Profile{Algo: "fake"}},
		{Type: "fake", Name: "once", Binary: bin, Profile: abi.Profile{Algo: "fake"}, Autostart: &no},
		{Type: "fake", Name: "stopped", Binary: bin, Profile: abi.Profile{Algo: "fake"}},
	} {
		if _, err := m1.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "shares parsed", func() bool {
		i, _ := m1.Get("stopped")
		return i.Stats.Accepted != nil
	})
	if _, err := m1.Stop(ctx, "stopped"); err != nil { // an explicit stop clears autostart
		t.Fatal(err)
	}
	set, _ := store.Autostart(ctx)
	if len(set) != 1 || set["keep"].Binary != bin {
		t.Fatalf("autostart set %v", set)
	}
	// Agent shutdown stops miners but keeps the set.
	if err := m1.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	if set, _ := store.Autostart(ctx); len(set) != 1 {
		t.Fatalf("shutdown changed the autostart set: %v", set)
	}
	sessions, _ := store.Sessions(ctx, "stopped", 0)
	if len(sessions) != 1 || sessions[0].Accepted != 3 || !strings.Contains(sessions[0].Cause, "stopped by request") || sessions[0].Stop.IsZero() {
		t.Fatalf("sessions of 'stopped': %+v", sessions)
	}
	if all, _ := store.Sessions(ctx, "", 0); len(all) != 3 {
		t.Fatalf("%d sessions recorded, want 3 (one per process)", len(all))
	}

	m2, err := miner.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(ctx, true)
	started, err := m2.Autostart(ctx)
	if err != nil || len(started) != 1 || started[0] != "keep" {
		t.Fatalf("autostart started %v, %v", started, err)
	}
	if i, err := m2.Get("keep"); err != nil || i.State != miner.StateRunning {
		t.Fatalf("autostarted miner %+v, %v", i, err)
	}
}

// A miner of the autostart set that cannot start (its binary is gone, its
// adapter is missing) is listed as failed with the reason; it vanished
// from the list, leaving only a log line. DELETE forgets it.
func TestAutostartFailureListed(t *testing.T) {
	store := agenttest.NewMemStore()
	ctx := context.Background()
	store.SetAutostart(ctx, "nobin", miner.StartRequest{Type: "fake", Name: "nobin", Binary: "/nonexistent/miner", Profile: abi.Profile{Algo: "fake"}})
	store.SetAutostart(ctx, "notype", miner.StartRequest{Type: "gone", Name: "notype", Binary: "/bin/true"})
	m, err := miner.NewManager(miner.Config{RunDir: t.TempDir(), Adapters: agenttest.NewFakeAdapters(), Store: store, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx, true)
	if started, err := m.Autostart(ctx); err == nil || len(started) != 0 {
		t.Fatalf("autostart %v, %v", started, err)
	}
	for _, name := range []string{"nobin", "notype"} {
		i, err := m.Get(name)
		if err != nil || i.State != miner.StateFailed || !strings.HasPrefix(i.Message, "autostart failed: ") {
			t.Fatalf("%s: %+v, %v", name, i, err)
		}
	}
	if _, err := m.Stop(ctx, "nobin"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get("nobin"); err == nil {
		t.Fatal("a deleted failed miner is still listed")
	}
	if set, _ := store.Autostart(ctx); len(set) != 1 {
		t.Fatalf("autostart set after DELETE: %v", set)
	}
}

func TestPollsGoToHistory(t *testing.T) {
	store := agenttest.NewMemStore()
	e := newEnv(t, func(c *miner.Config) {
		c.History = store
		c.PollInterval = 50 * time.Millisecond
	})
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		HTTP: map[string]json.RawMessage{"/stats": json.RawMessage(
			`{"hashrate_hs": 100, "accepted": 4, "devices": [{"id": 0, "kind": "nvidia", "hashrate_hs": 60}, {"id": 1, "kind": "nvidia", "hashrate_hs": 40}]}`)},
		RunFor: time.Minute,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.m.Run(ctx); close(done) }()
	info, err := e.start(t, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "points in history", func() bool {
		return len(store.Points(info.Name)) > 0 && len(store.Points(info.Name+"/nvidia1")) > 0
	})
	cancel()
	<-done
	p := store.Points(info.Name)[0]
	if p.HashrateHS != 100 || p.Accepted != 4 {
		t.Fatalf("miner point %+v", p)
	}
	if d := store.Points(info.Name + "/nvidia1")[0]; d.HashrateHS != 40 {
		t.Fatalf("device point %+v", d)
	}
}
