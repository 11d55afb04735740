package miner

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// Watchdog rules.
const (
	RuleNoStats     = "no_stats"     // the miner's API gave no stats for N polls
	RuleLowHashrate = "low_hashrate" // hashrate 0 or below the floor for a while
	RuleNoShares    = "no_shares"    // no accepted share for far longer than the share rate predicts
	RuleDeviceLost  = "device_lost"  // the miner reports fewer devices than it did
	RuleFatal       = "fatal"        // the miner printed a fatal line
)

// Watchdog actions, the rungs of the ladder.
const (
	ActionPauseResume = "pause_resume" // soft: pause and resume through stdin
	ActionRestart     = "restart"      // restart through the restart policy's backoff
	ActionFail        = "fail"         // stop for good, state failed, alert
)

// Duration is a time.Duration that reads and writes JSON as "5m30s" (a
// number is taken as seconds).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string like \"5m\" or seconds, got %s", b)
		}
		if !(math.Abs(n) <= maxWatchdogDuration.Seconds()) { // NaN too
			return fmt.Errorf("duration: %s seconds is out of range", b)
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}

// WatchdogConfig tunes the watchdog of one miner. Zero values take the
// defaults documented on each field.
type WatchdogConfig struct {
	// Disabled turns the watchdog off for this miner.
	Disabled bool `json:"disabled,omitempty"`
	// NoStatsPolls is how many failed API polls in a row fire no_stats
	// (default 6, one minute at the default poll interval).
	NoStatsPolls int `json:"no_stats_polls,omitempty"`
	// MinHashrateHS is an absolute hashrate floor (default 0: only a
	// hashrate of exactly 0 is low).
	MinHashrateHS float64 `json:"min_hashrate_hs,omitempty"`
	// MinHashratePct is a floor relative to the miner's own median over the
	// last hour (default 50; negative disables).
	MinHashratePct float64 `json:"min_hashrate_pct,omitempty"`
	// LowHashrateFor is how long the hashrate must stay low (default 5m).
	LowHashrateFor Duration `json:"low_hashrate_for,omitempty"`
	// ShareProbability: no_shares fires when the probability of seeing no
	// share for so long, at the measured hashrate and pool difficulty, drops
	// below it (default 1e-4; negative disables).
	ShareProbability float64 `json:"share_probability,omitempty"`
	// Grace is the start-up period without checks (default 3m; 10m for
	// algorithms that build a DAG).
	Grace Duration `json:"grace,omitempty"`
	// PoolSwitchGrace is the period without checks after the pool changed
	// (default 2m).
	PoolSwitchGrace Duration `json:"pool_switch_grace,omitempty"`
	// MaxRestartsPerHour caps watchdog restarts; past it the miner fails
	// for good (default 6).
	MaxRestartsPerHour int `json:"max_restarts_per_hour,omitempty"`
	// NoSoftAction skips the pause/resume rung.
	NoSoftAction bool `json:"no_soft_action,omitempty"`
}

// maxWatchdogDuration bounds the watchdog's periods: a week.
const maxWatchdogDuration = 7 * 24 * time.Hour

// Validate refuses settings that would make a rule fire on every poll or
// never make sense (zero fields take the defaults; the negative values
// documented as "disables" are allowed).
func (c WatchdogConfig) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: watchdog %s %s", ErrInvalidInput, field, why)
	}
	switch {
	case c.NoStatsPolls < 0:
		return bad("no_stats_polls", "must not be negative")
	case !(c.MinHashrateHS >= 0) || math.IsInf(c.MinHashrateHS, 0):
		return bad("min_hashrate_hs", "must be a hashrate ≥ 0")
	case !(c.MinHashratePct <= 100) || math.IsInf(c.MinHashratePct, 0):
		return bad("min_hashrate_pct", "must be at most 100 (negative disables the relative floor)")
	case !(c.ShareProbability < 1) || math.IsInf(c.ShareProbability, 0):
		return bad("share_probability", "must be below 1 (negative disables no_shares)")
	case c.MaxRestartsPerHour < 0:
		return bad("max_restarts_per_hour", "must not be negative")
	}
	for _, d := range []struct {
		field string
		d     Duration
	}{{"low_hashrate_for", c.LowHashrateFor}, {"grace", c.Grace}, {"pool_switch_grace", c.PoolSwitchGrace}} {
		if d.d < 0 || time.Duration(d.d) > maxWatchdogDuration {
			return bad(d.field, "must be between 0 and "+maxWatchdogDuration.String())
		}
	}
	return nil
}

// withDefaults fills zero fields.
func (c WatchdogConfig) withDefaults(dag bool) WatchdogConfig {
	if c.NoStatsPolls <= 0 {
		c.NoStatsPolls = 6
	}
	if c.MinHashratePct == 0 {
		c.MinHashratePct = 50
	}
	if c.LowHashrateFor <= 0 {
		c.LowHashrateFor = Duration(5 * time.Minute)
	}
	if c.ShareProbability == 0 {
		c.ShareProbability = 1e-4
	}
	if c.Grace <= 0 {
		c.Grace = Duration(3 * time.Minute)
		if dag {
			c.Grace = Duration(10 * time.Minute)
		}
	}
	if c.PoolSwitchGrace <= 0 {
		c.PoolSwitchGrace = Duration(2 * time.Minute)
	}
	if c.MaxRestartsPerHour <= 0 {
		c.MaxRestartsPerHour = 6
	}
	return c
}

// Incident is one watchdog decision, with the evidence behind it.
type Incident struct {
	ID    uint64    `json:"id"`
	Time  time.Time `json:"time"`
	Miner string    `json:"miner"`
	Rule  string    `json:"rule"`
	// Measured and Threshold are the numbers compared, in Unit.
	Measured  float64 `json:"measured"`
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit"`
	// Detail explains the decision in words.
	Detail string `json:"detail"`
	Action string `json:"action"`
	// RestartsLastHour counts the watchdog's restarts of this miner in the
	// hour before this incident.
	RestartsLastHour int `json:"restarts_last_hour"`
	// LogLines are the miner's last 50 output lines.
	LogLines []string `json:"log_lines,omitempty"`
}

// verdict is a rule that fired.
type verdict struct {
	rule                string
	measured, threshold float64
	unit, detail        string
}

type hsSample struct {
	t  time.Time
	hs float64
}

// watchdog holds one miner's evidence. It is pure: time comes in as an
// argument and decisions go out as values; the supervisor acts on them.
type watchdog struct {
	cfg    WatchdogConfig
	factor float64 // hashes per share at difficulty 1; 0 disables no_shares
	soft   bool    // the adapter has pause and resume commands

	launchedAt   time.Time
	poolSwitchAt time.Time
	pool         string
	failedPolls  int
	lowSince     time.Time
	lastShareAt  time.Time
	accepted     int64
	maxDevices   int
	samples      []hsSample  // the last hour of hashrate, for the median
	restarts     []time.Time // watchdog restarts in the last hour
	softDone     map[string]bool
	holdUntil    time.Time // after a soft action: time for it to work
}

func newWatchdog(cfg WatchdogConfig, meta abi.Metadata, algo string) *watchdog {
	w := &watchdog{softDone: map[string]bool{}}
	dag := false
	for _, a := range meta.Algorithms {
		if a.Name == algo {
			w.factor, dag = a.ShareFactor, a.DAG
		}
	}
	var pause, resume bool
	for _, c := range meta.StdinCommands {
		pause = pause || c.Name == "pause"
		resume = resume || c.Name == "resume"
	}
	w.cfg = cfg.withDefaults(dag)
	w.soft = pause && resume && !cfg.NoSoftAction
	return w
}

// launched resets the per-process evidence.
func (w *watchdog) launched(now time.Time) {
	w.launchedAt, w.lastShareAt = now, now
	w.poolSwitchAt, w.pool = time.Time{}, ""
	w.failedPolls, w.accepted, w.maxDevices = 0, 0, 0
	w.lowSince, w.holdUntil = time.Time{}, time.Time{}
	clear(w.softDone)
}

// inGrace reports whether checks are suspended at now.
func (w *watchdog) inGrace(now time.Time) bool {
	return now.Sub(w.launchedAt) < time.Duration(w.cfg.Grace) ||
		(!w.poolSwitchAt.IsZero() && now.Sub(w.poolSwitchAt) < time.Duration(w.cfg.PoolSwitchGrace))
}

// observe records one poll (st nil: the poll failed) and returns the rule
// that fires, if any.
func (w *watchdog) observe(now time.Time, st *abi.Stats) *verdict {
	if w.cfg.Disabled {
		return nil
	}
	if st == nil {
		w.failedPolls++
		if !w.inGrace(now) && w.failedPolls >= w.cfg.NoStatsPolls {
			return &verdict{rule: RuleNoStats, measured: float64(w.failedPolls), threshold: float64(w.cfg.NoStatsPolls), unit: "polls",
				detail: fmt.Sprintf("no stats from the miner's API for %d polls in a row", w.failedPolls)}
		}
		return nil
	}
	w.failedPolls = 0
	if st.Pool != "" && st.Pool != w.pool {
		if w.pool != "" {
			w.poolSwitchAt = now
		}
		w.pool = st.Pool
	}
	if st.Accepted != nil && *st.Accepted != w.accepted {
		if *st.Accepted > w.accepted {
			w.lastShareAt = now
		}
		w.accepted = *st.Accepted
	}
	hs := st.HashrateHS
	if hs != nil && !w.inGrace(now) {
		w.samples = append(w.samples, hsSample{now, *hs})
	}
	cut := 0
	for cut < len(w.samples) && now.Sub(w.samples[cut].t) > time.Hour {
		cut++
	}
	w.samples = w.samples[cut:]
	devices := len(st.Devices)
	if w.inGrace(now) || now.Before(w.holdUntil) {
		w.maxDevices = max(w.maxDevices, devices)
		w.lowSince = time.Time{}
		return nil
	}

	if devices < w.maxDevices {
		v := &verdict{rule: RuleDeviceLost, measured: float64(devices), threshold: float64(w.maxDevices), unit: "devices",
			detail: fmt.Sprintf("the miner reports %d devices, it had %d", devices, w.maxDevices)}
		w.maxDevices = devices // one incident per loss
		return v
	}
	w.maxDevices = max(w.maxDevices, devices)

	if hs == nil && st.PoolConnected != nil && *st.PoolConnected && (st.Paused == nil || !*st.Paused) {
		// Connected, not paused, and no hashrate (XMRig's "n/a"): no
		// hashes are being done, which is a hashrate of 0. Unknown while
		// paused or without a pool is no evidence either way.
		hs = new(float64)
	}
	if hs != nil {
		floor := w.cfg.MinHashrateHS
		if med, ok := w.median(now); ok && w.cfg.MinHashratePct > 0 {
			floor = max(floor, med*w.cfg.MinHashratePct/100)
		}
		if *hs <= 0 || *hs < floor {
			if w.lowSince.IsZero() {
				w.lowSince = now
			}
			if low := now.Sub(w.lowSince); low >= time.Duration(w.cfg.LowHashrateFor) {
				detail := fmt.Sprintf("hashrate %.4g H/s below %.4g H/s for %s", *hs, floor, low.Round(time.Second))
				if *hs <= 0 {
					detail = fmt.Sprintf("hashrate 0 H/s for %s", low.Round(time.Second))
				}
				return &verdict{rule: RuleLowHashrate, measured: *hs, threshold: floor, unit: "H/s", detail: detail}
			}
		} else {
			w.lowSince = time.Time{}
			delete(w.softDone, RuleLowHashrate)
		}
	}

	if w.factor > 0 && w.cfg.ShareProbability > 0 && hs != nil && *hs > 0 && st.Difficulty != nil && *st.Difficulty > 0 {
		expected := *st.Difficulty * w.factor / *hs // seconds per share
		since := now.Sub(w.lastShareAt).Seconds()
		// P(no share in since) = exp(-since/expected) for a Poisson process.
		limit := expected * math.Log(1/w.cfg.ShareProbability)
		if since > limit {
			return &verdict{rule: RuleNoShares, measured: since, threshold: limit, unit: "s",
				detail: fmt.Sprintf("no accepted share for %.0f s; at %.4g H/s and difficulty %.4g one is expected every %.0f s (P(none) = %.2g)",
					since, *hs, *st.Difficulty, expected, math.Exp(-since/expected))}
		}
		delete(w.softDone, RuleNoShares)
	}
	return nil
}

// median is the median hashrate of the last hour, once there are at least
// ten minutes of samples.
func (w *watchdog) median(now time.Time) (float64, bool) {
	if len(w.samples) < 3 || now.Sub(w.samples[0].t) < 10*time.Minute {
		return 0, false
	}
	v := make([]float64, len(w.samples))
	for i, s := range w.samples {
		v[i] = s.hs
	}
	slices.Sort(v)
	if n := len(v); n%2 == 1 {
		return v[n/2], true
	} else {
		return (v[n/2-1] + v[n/2]) / 2, true
	}
}

// decide picks the ladder's next rung for a fired rule: the soft action
// once per episode where the adapter offers one and it can help, then a
// restart while under the hourly cap, then failure.
func (w *watchdog) decide(now time.Time, v *verdict) (action string, restartsLastHour int) {
	cut := 0
	for cut < len(w.restarts) && now.Sub(w.restarts[cut]) >= time.Hour {
		cut++
	}
	w.restarts = w.restarts[cut:]
	n := len(w.restarts)
	softHelps := v.rule == RuleLowHashrate || v.rule == RuleNoShares
	switch {
	case w.soft && softHelps && !w.softDone[v.rule]:
		w.softDone[v.rule] = true
		w.holdUntil = now.Add(time.Duration(w.cfg.LowHashrateFor)) // time to recover
		w.lowSince = time.Time{}
		return ActionPauseResume, n
	case n < w.cfg.MaxRestartsPerHour:
		w.restarts = append(w.restarts, now)
		return ActionRestart, n
	}
	return ActionFail, n
}

// Notifier is told about incidents worth an alert (restarts and failures).
// It must not block.
type Notifier interface {
	Notify(Incident)
}
