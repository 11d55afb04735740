package miner_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
)

// recorder collects alerts as a miner.Notifier.
type recorder struct{ c chan miner.Incident }

func (r recorder) Notify(i miner.Incident) { r.c <- i }

// Hashrate 0 past the grace period: one restart, an incident with the
// numbers and the log lines, an incident event, an alert.
func TestWatchdogRestartsZeroHashrateMiner(t *testing.T) {
	alerts := recorder{make(chan miner.Incident, 10)}
	e := newEnv(t, func(c *miner.Config) { c.Alerts = alerts })
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Banner: []string{"fake miner starting"},
		HTTP:   map[string]json.RawMessage{"/stats": json.RawMessage(`{"hashrate_hs": 0}`)},
		RunFor: time.Minute,
		TERM:   "exit",
	})
	sub := e.m.Bus().Subscribe(100, func(ev *miner.Event) bool { return ev.Type == miner.EventIncident })
	defer sub.Close()
	info, err := e.start(t, bin, func(r *miner.StartRequest) {
		r.Watchdog = &miner.WatchdogConfig{Grace: miner.Duration(time.Millisecond), LowHashrateFor: miner.Duration(100 * time.Millisecond), NoStatsPolls: 1000}
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a watchdog restart", func() bool {
		e.m.PollOnce(context.Background())
		return get(t, e.m, info.Name).Restarts == 1
	})
	incs, err := e.m.Incidents(info.Name)
	if err != nil || len(incs) == 0 {
		t.Fatalf("incidents %v, %v", incs, err)
	}
	// The fake adapter offers pause/resume: the ladder starts soft.
	var restart *miner.Incident
	for i := range incs {
		if incs[i].Action == miner.ActionRestart {
			restart = &incs[i]
			break
		}
	}
	if incs[0].Action != miner.ActionPauseResume || restart == nil {
		t.Fatalf("ladder %+v", incs)
	}
	if restart.Rule != miner.RuleLowHashrate || restart.Measured != 0 || restart.Unit != "H/s" ||
		!strings.Contains(strings.Join(restart.LogLines, "\n"), "fake miner starting") {
		t.Fatalf("restart incident %+v", restart)
	}
	if i := get(t, e.m, info.Name); i.LastExit == nil || !strings.Contains(i.LastExit.Cause, "watchdog restart: low_hashrate") {
		t.Fatalf("last exit %+v", i.LastExit)
	}
	select {
	case a := <-alerts.c:
		if a.Action != miner.ActionRestart {
			t.Fatalf("alert %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert for the restart")
	}
	if ev := <-sub.C; ev.Incident == nil || ev.Incident.Miner != info.Name {
		t.Fatalf("incident event %+v", ev)
	}
	if c := e.m.IncidentCounts(); c[miner.RuleLowHashrate] < 2 {
		t.Fatalf("incident counts %v", c)
	}
}

// A webhook that fails twice then succeeds gets the alert exactly once.
func TestWebhookRetriesThenDeliversOnce(t *testing.T) {
	var calls, ok atomic.Int32
	var got miner.Incident
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		ok.Add(1)
	}))
	defer srv.Close()
	a := miner.NewAlerter(miner.AlertConfig{WebhookURL: srv.URL, RetryBase: miner.Duration(10 * time.Millisecond)}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	inc := miner.Incident{ID: 7, Miner: "m", Rule: miner.RuleLowHashrate, Action: miner.ActionRestart, Detail: "hashrate 0"}
	a.Notify(inc)
	a.Notify(inc) // rate-limited: same miner and rule
	deadline := time.Now().Add(5 * time.Second)
	for ok.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if calls.Load() != 3 || ok.Load() != 1 || got.ID != 7 {
		t.Fatalf("calls %d, delivered %d, body %+v", calls.Load(), ok.Load(), got)
	}
}

func TestCommandHookGetsIncidentEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "alert")
	a := miner.NewAlerter(miner.AlertConfig{Command: []string{"sh", "-c", `printf '%s|%s|%s' "$RIGD_INCIDENT_MINER" "$RIGD_INCIDENT_RULE" "$RIGD_INCIDENT_TEXT" > "$0"`, out}}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	a.Notify(miner.Incident{Miner: "rig1", Rule: miner.RuleNoShares, Action: miner.ActionFail, Detail: "no share"})
	var b []byte
	deadline := time.Now().Add(5 * time.Second)
	for len(b) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		b, _ = os.ReadFile(out)
	}
	cancel()
	<-done
	if got := string(b); got != "rig1|no_shares|rigd: miner rig1: no_shares -> fail: no share" {
		t.Fatalf("command saw %q", got)
	}
}
