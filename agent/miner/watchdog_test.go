package miner

import (
	"math"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func metaWith(soft bool, algo abi.Algorithm) abi.Metadata {
	m := abi.Metadata{Algorithms: []abi.Algorithm{algo}}
	if soft {
		m.StdinCommands = []abi.StdinCommand{{Name: "pause", Input: "p"}, {Name: "resume", Input: "r"}}
	}
	return m
}

var rx = abi.Algorithm{Name: "rx/0", ShareFactor: 1}

// stats builds a poll's stats; difficulty 0 leaves the share-rate rule out.
func stats(hs float64, accepted int64, diff float64) *abi.Stats {
	return &abi.Stats{HashrateHS: abi.F(hs), Accepted: abi.I(accepted), Difficulty: abi.F(diff), Pool: "pool:3333"}
}

// run feeds one poll every 10 s from start to end with stats from f and
// returns the actions taken, in order; a restart relaunches the miner.
func run(w *watchdog, start, end time.Time, f func(now time.Time) *abi.Stats) (actions []string, at []time.Time) {
	for now := start; !now.After(end); now = now.Add(10 * time.Second) {
		if v := w.observe(now, f(now)); v != nil {
			a, _ := w.decide(now, v)
			actions, at = append(actions, v.rule+":"+a), append(at, now)
			if a == ActionRestart {
				w.launched(now)
			}
			if a == ActionFail {
				return
			}
		}
	}
	return
}

func TestWatchdogZeroHashrateRestartsOnce(t *testing.T) {
	w := newWatchdog(WatchdogConfig{LowHashrateFor: Duration(2 * time.Minute)}, metaWith(false, rx), "rx/0")
	w.launched(t0)
	accepted := int64(0)
	drop := t0.Add(10 * time.Minute)
	actions, at := run(w, t0, t0.Add(15*time.Minute), func(now time.Time) *abi.Stats {
		if now.Before(drop) {
			accepted++
			return stats(1000, accepted, 1000)
		}
		return stats(0, accepted, 1000)
	})
	if len(actions) != 1 || actions[0] != "low_hashrate:restart" {
		t.Fatalf("actions %v", actions)
	}
	if got := at[0].Sub(drop); got != 2*time.Minute {
		t.Fatalf("restart %v after the drop, want the configured 2m", got)
	}
}

func TestWatchdogSoftActionFirst(t *testing.T) {
	w := newWatchdog(WatchdogConfig{LowHashrateFor: Duration(time.Minute)}, metaWith(true, rx), "rx/0")
	w.launched(t0)
	actions, _ := run(w, t0, t0.Add(10*time.Minute), func(now time.Time) *abi.Stats {
		if now.Before(t0.Add(4 * time.Minute)) {
			return stats(1000, 1, 0)
		}
		return stats(0, 1, 0)
	})
	// pause/resume, a minute to recover, then restart; after the restart
	// the grace period covers the rest of the run.
	if len(actions) < 2 || actions[0] != "low_hashrate:pause_resume" || actions[1] != "low_hashrate:restart" {
		t.Fatalf("actions %v", actions)
	}
}

// A high-difficulty pool: 1 share per 30 minutes expected, 10 minutes
// without one is normal.
func TestWatchdogHighDifficultyNoFalseAlarm(t *testing.T) {
	w := newWatchdog(WatchdogConfig{}, metaWith(true, rx), "rx/0")
	w.launched(t0)
	const hs = 100.0
	diff := hs * 1800 // expected share interval 30 min
	actions, _ := run(w, t0, t0.Add(10*time.Minute+w.cfg.Grace.d()), func(time.Time) *abi.Stats { return stats(hs, 0, diff) })
	if len(actions) != 0 {
		t.Fatalf("actions %v on a normal high-difficulty pool", actions)
	}
	// Silence far beyond the Poisson bound does fire: ln(1e4) × 30 min ≈ 4.6 h.
	limit := time.Duration(1800*math.Log(1e4)) * time.Second
	actions, at := run(w, t0.Add(10*time.Minute+w.cfg.Grace.d()), t0.Add(limit+time.Hour), func(time.Time) *abi.Stats { return stats(hs, 0, diff) })
	if len(actions) == 0 || actions[0] != "no_shares:pause_resume" {
		t.Fatalf("actions %v", actions)
	}
	if d := at[0].Sub(t0); d < limit || d > limit+time.Minute {
		t.Fatalf("no_shares fired after %v, want just past %v", d, limit)
	}
}

// Flapping around the threshold never exceeds the hourly restart cap.
func TestWatchdogFlappingRespectsCap(t *testing.T) {
	w := newWatchdog(WatchdogConfig{MinHashrateHS: 500, LowHashrateFor: Duration(time.Minute), Grace: Duration(time.Minute), MaxRestartsPerHour: 3},
		metaWith(false, rx), "rx/0")
	w.launched(t0)
	actions, at := run(w, t0, t0.Add(3*time.Hour), func(now time.Time) *abi.Stats {
		if int(now.Sub(t0).Minutes())%3 == 0 {
			return stats(510, 1, 0)
		}
		return stats(490, 1, 0) // just under the floor
	})
	restarts := 0
	for i, a := range actions {
		if a == "low_hashrate:restart" {
			restarts++
			n := 0
			for j := range i + 1 {
				if actions[j] == "low_hashrate:restart" && at[i].Sub(at[j]) < time.Hour {
					n++
				}
			}
			if n > 3 {
				t.Fatalf("%d restarts within an hour at %v: %v", n, at[i].Sub(t0), actions)
			}
		}
	}
	if restarts != 3 || actions[len(actions)-1] != "low_hashrate:fail" {
		t.Fatalf("want 3 restarts then fail, got %v", actions)
	}
}

// TT-Miner shows 0 H/s until its first share: no action during grace.
func TestWatchdogZeroUntilFirstShareInGrace(t *testing.T) {
	kawpow := abi.Algorithm{Name: "kawpow", ShareFactor: 1 << 32, DAG: true}
	w := newWatchdog(WatchdogConfig{}, metaWith(false, kawpow), "kawpow")
	w.launched(t0)
	firstShare := t0.Add(4 * time.Minute)
	actions, _ := run(w, t0, t0.Add(30*time.Minute), func(now time.Time) *abi.Stats {
		if now.Before(firstShare) {
			return stats(0, 0, 0.5)
		}
		return stats(30e6, int64(now.Sub(firstShare)/(20*time.Second))+1, 0.5)
	})
	if len(actions) != 0 {
		t.Fatalf("actions %v for a miner at 0 H/s before its first share", actions)
	}
	if w.cfg.Grace.d() != 10*time.Minute {
		t.Fatalf("DAG grace %v, want 10m", w.cfg.Grace.d())
	}
}

func TestWatchdogNoStatsAndDeviceLost(t *testing.T) {
	w := newWatchdog(WatchdogConfig{Grace: Duration(time.Minute)}, metaWith(false, rx), "rx/0")
	w.launched(t0)
	two := &abi.Stats{HashrateHS: abi.F(10), Devices: []abi.Device{{ID: 0, Kind: "nvidia"}, {ID: 1, Kind: "nvidia"}}}
	one := &abi.Stats{HashrateHS: abi.F(10), Devices: []abi.Device{{ID: 0, Kind: "nvidia"}}}
	now := t0.Add(2 * time.Minute)
	if v := w.observe(now, two); v != nil {
		t.Fatalf("verdict %+v", v)
	}
	if v := w.observe(now.Add(10*time.Second), one); v == nil || v.rule != RuleDeviceLost || v.measured != 1 || v.threshold != 2 {
		t.Fatalf("device lost verdict %+v", v)
	}
	if v := w.observe(now.Add(20*time.Second), one); v != nil {
		t.Fatalf("second verdict for the same loss: %+v", v)
	}
	var v *verdict
	for i := range 6 {
		v = w.observe(now.Add(time.Duration(30+10*i)*time.Second), nil)
		if i < 5 && v != nil {
			t.Fatalf("no_stats after %d failed polls", i+1)
		}
	}
	if v == nil || v.rule != RuleNoStats || v.measured != 6 {
		t.Fatalf("no_stats verdict %+v", v)
	}
}

func TestWatchdogPoolSwitchGrace(t *testing.T) {
	w := newWatchdog(WatchdogConfig{LowHashrateFor: Duration(30 * time.Second), Grace: Duration(time.Minute)}, metaWith(false, rx), "rx/0")
	w.launched(t0)
	switchAt := t0.Add(5 * time.Minute)
	actions, at := run(w, t0, t0.Add(10*time.Minute), func(now time.Time) *abi.Stats {
		if now.Before(switchAt) {
			return stats(1000, 1, 0)
		}
		s := stats(0, 1, 0) // reconnecting to the new pool
		s.Pool = "backup:3333"
		return s
	})
	if len(actions) == 0 || at[0].Sub(switchAt) != 2*time.Minute+30*time.Second {
		t.Fatalf("actions %v at %v: want the first 2m (pool-switch grace) + 30s (low for) after the switch", actions, at)
	}
}

func (d Duration) d() time.Duration { return time.Duration(d) }

// TestWatchdogNoHashrateWhileConnected: a miner connected to its pool,
// not paused, that reports no hashrate at all (XMRig's "n/a n/a n/a") is
// not hashing: low_hashrate fires. Paused, or without a pool, no hashrate
// is no evidence.
func TestWatchdogNoHashrateWhileConnected(t *testing.T) {
	for _, tc := range []struct {
		name      string
		connected bool
		paused    bool
		want      string
	}{
		{"connected", true, false, "low_hashrate:restart"},
		{"paused", true, true, ""},
		{"no pool", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatchdog(WatchdogConfig{LowHashrateFor: Duration(2 * time.Minute)}, metaWith(false, rx), "rx/0")
			w.launched(t0)
			drop := t0.Add(5 * time.Minute)
			actions, at := run(w, t0, t0.Add(10*time.Minute), func(now time.Time) *abi.Stats {
				st := stats(1000, 1, 0)
				if !now.Before(drop) {
					st.HashrateHS = nil
					st.PoolConnected, st.Paused = abi.B(tc.connected), abi.B(tc.paused)
				}
				return st
			})
			switch {
			case tc.want == "" && len(actions) > 0,
				tc.want != "" && (len(actions) == 0 || actions[0] != tc.want || at[0].Sub(drop) < 2*time.Minute):
				t.Fatalf("actions %v at %v, want %q after low_hashrate_for", actions, at, tc.want)
			}
		})
	}
}
