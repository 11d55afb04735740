package restart_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/restart"
)

// fixed returns a Rand that always yields r.
func fixed(r float64) func() float64 { return func() float64 { return r } }

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestBackoffSequence(t *testing.T) {
	const s = time.Second
	cases := []struct {
		name   string
		rand   float64
		jitter float64
		want   []time.Duration
	}{
		{"no jitter", 0.5, 0, []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, 300 * s, 300 * s}},
		{"jitter low", 0, 0, []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond}},
		{"jitter high", 0.999999, 0, []time.Duration{1200 * time.Millisecond, 2400 * time.Millisecond, 4800 * time.Millisecond}},
		{"jitter disabled", 0, -1, []time.Duration{1 * s, 2 * s, 4 * s}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A wide crash-loop window setting keeps these failures apart.
			p := restart.New(restart.Config{Rand: fixed(c.rand), Jitter: c.jitter, CrashLoopFailures: 100})
			now := t0
			for i, want := range c.want {
				d := p.Failure(now, time.Second, false)
				if d.Action != restart.Restart || d.Failures != i+1 {
					t.Fatalf("failure %d: %+v", i+1, d)
				}
				if diff := d.Delay - want; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("failure %d: delay %v, want %v", i+1, d.Delay, want)
				}
				now = now.Add(d.Delay + time.Second)
			}
		})
	}
}

func TestMaxIsACeiling(t *testing.T) {
	p := restart.New(restart.Config{Rand: fixed(0.999999), CrashLoopFailures: 1000})
	now := t0
	for i := range 100 {
		d := p.Failure(now, 0, false)
		if d.Delay > restart.DefaultMax || d.Delay <= 0 {
			t.Fatalf("failure %d: delay %v", i+1, d.Delay)
		}
		now = now.Add(d.Delay)
	}
}

func TestDecisions(t *testing.T) {
	type step struct {
		at        time.Duration // since t0
		runTime   time.Duration
		permanent bool
		healthy   time.Duration // if set: call Healthy(healthy) instead of Failure
		reset     bool          // if set: call Reset instead
		want      restart.Action
		failures  int
		recent    int
		looping   bool
	}
	const (
		s   = time.Second
		min = time.Minute
	)
	cases := []struct {
		name  string
		steps []step
	}{
		{"permanent gives up", []step{
			{at: 0, permanent: true, want: restart.GiveUp, failures: 1, recent: 1},
		}},
		{"healthy run resets the backoff", []step{
			{at: 0, want: restart.Restart, failures: 1, recent: 1},
			{at: 10 * s, want: restart.Restart, failures: 2, recent: 2},
			{at: 20 * min, runTime: 10 * min, want: restart.Restart, failures: 1, recent: 1},
		}},
		{"a run just short of healthy does not", []step{
			{at: 0, want: restart.Restart, failures: 1, recent: 1},
			// Recent 2: the wall-clock window holds 1, run time 2.
			{at: 20 * min, runTime: 10*min - s, want: restart.Restart, failures: 2, recent: 2},
		}},
		{"ten failures in ten minutes crash-loop", []step{
			{at: 0, runTime: 50 * s, want: restart.Restart, failures: 1, recent: 1},
			{at: 1 * min, runTime: 50 * s, want: restart.Restart, failures: 2, recent: 2},
			{at: 2 * min, runTime: 50 * s, want: restart.Restart, failures: 3, recent: 3},
			{at: 3 * min, runTime: 50 * s, want: restart.Restart, failures: 4, recent: 4},
			{at: 4 * min, runTime: 50 * s, want: restart.Restart, failures: 5, recent: 5},
			{at: 5 * min, runTime: 50 * s, want: restart.Restart, failures: 6, recent: 6},
			{at: 6 * min, runTime: 50 * s, want: restart.Restart, failures: 7, recent: 7},
			{at: 7 * min, runTime: 50 * s, want: restart.Restart, failures: 8, recent: 8},
			{at: 8 * min, runTime: 50 * s, want: restart.Restart, failures: 9, recent: 9},
			{at: 10 * min, runTime: 50 * s, want: restart.CrashLoop, failures: 10, recent: 10, looping: true},
			// Sticky: later failures outside the window still crash-loop.
			{at: 30 * min, runTime: 9 * min, want: restart.CrashLoop, failures: 11, recent: 2, looping: true},
			// Permanent wins over crash looping.
			{at: 31 * min, runTime: 9 * min, permanent: true, want: restart.GiveUp, failures: 12, recent: 2, looping: true},
		}},
		{"ten failures spread over more than ten minutes, in both clocks, do not", []step{
			{at: 0, runTime: 110 * s, want: restart.Restart, failures: 1, recent: 1},
			{at: 2 * min, runTime: 110 * s, want: restart.Restart, failures: 2, recent: 2},
			{at: 4 * min, runTime: 110 * s, want: restart.Restart, failures: 3, recent: 3},
			{at: 6 * min, runTime: 110 * s, want: restart.Restart, failures: 4, recent: 4},
			{at: 8 * min, runTime: 110 * s, want: restart.Restart, failures: 5, recent: 5},
			{at: 10 * min, runTime: 110 * s, want: restart.Restart, failures: 6, recent: 6},
			{at: 12 * min, runTime: 110 * s, want: restart.Restart, failures: 7, recent: 6},
			{at: 14 * min, runTime: 110 * s, want: restart.Restart, failures: 8, recent: 6},
			{at: 16 * min, runTime: 110 * s, want: restart.Restart, failures: 9, recent: 6},
			{at: 18 * min, runTime: 110 * s, want: restart.Restart, failures: 10, recent: 6},
		}},
		{"ten instant failures stretched by the backoff crash-loop in run time", []step{
			{at: 0, want: restart.Restart, failures: 1, recent: 1},
			{at: 1200 * time.Millisecond, want: restart.Restart, failures: 2, recent: 2},
			{at: 3600 * time.Millisecond, want: restart.Restart, failures: 3, recent: 3},
			{at: 8400 * time.Millisecond, want: restart.Restart, failures: 4, recent: 4},
			{at: 18 * s, want: restart.Restart, failures: 5, recent: 5},
			{at: 37200 * time.Millisecond, want: restart.Restart, failures: 6, recent: 6},
			{at: 75600 * time.Millisecond, want: restart.Restart, failures: 7, recent: 7},
			{at: 152400 * time.Millisecond, want: restart.Restart, failures: 8, recent: 8},
			{at: 306 * s, want: restart.Restart, failures: 9, recent: 9},
			// 613 s after the first: 9 in the wall-clock window, 10 in run time.
			{at: 613200 * time.Millisecond, want: restart.CrashLoop, failures: 10, recent: 10, looping: true},
		}},
		{"healthy clears crash looping", []step{
			{at: 0}, {at: 1 * s}, {at: 2 * s}, {at: 3 * s}, {at: 4 * s}, {at: 5 * s}, {at: 6 * s}, {at: 7 * s}, {at: 8 * s},
			{at: 9 * s, want: restart.CrashLoop, failures: 10, recent: 10, looping: true},
			{healthy: 9 * min, looping: true},
			{healthy: 10 * min, looping: false},
			{at: 30 * min, runTime: 10 * min, want: restart.Restart, failures: 1, recent: 1},
		}},
		{"a long run ending in a failure clears crash looping", []step{
			{at: 0}, {at: 1 * s}, {at: 2 * s}, {at: 3 * s}, {at: 4 * s}, {at: 5 * s}, {at: 6 * s}, {at: 7 * s}, {at: 8 * s},
			{at: 9 * s, want: restart.CrashLoop, failures: 10, recent: 10, looping: true},
			{at: 30 * min, runTime: 25 * min, want: restart.Restart, failures: 1, recent: 1},
		}},
		{"reset by the user", []step{
			{at: 0}, {at: 1 * s}, {at: 2 * s}, {at: 3 * s}, {at: 4 * s}, {at: 5 * s}, {at: 6 * s}, {at: 7 * s}, {at: 8 * s},
			{at: 9 * s, want: restart.CrashLoop, failures: 10, recent: 10, looping: true},
			{reset: true},
			{at: 10 * s, want: restart.Restart, failures: 1, recent: 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := restart.New(restart.Config{Rand: fixed(0.5)})
			for i, st := range c.steps {
				switch {
				case st.reset:
					p.Reset()
					continue
				case st.healthy != 0:
					if got := p.Healthy(st.healthy); got != (st.healthy >= restart.DefaultResetAfter) {
						t.Errorf("step %d: Healthy(%v) = %v", i, st.healthy, got)
					}
				default:
					d := p.Failure(t0.Add(st.at), st.runTime, st.permanent)
					if st.want == 0 {
						continue // filler failure
					}
					if d.Action != st.want || d.Failures != st.failures || d.Recent != st.recent {
						t.Errorf("step %d: %+v, want %v failures %d recent %d", i, d, st.want, st.failures, st.recent)
					}
					switch d.Action {
					case restart.GiveUp:
						if d.Delay != 0 {
							t.Errorf("step %d: give-up with delay %v", i, d.Delay)
						}
					case restart.CrashLoop:
						if d.Delay != restart.DefaultMax {
							t.Errorf("step %d: crash-loop delay %v", i, d.Delay)
						}
					}
				}
				if p.CrashLooping() != st.looping {
					t.Errorf("step %d: CrashLooping = %v, want %v", i, p.CrashLooping(), st.looping)
				}
			}
		})
	}
}

// TestImmediateExitSimulation is the figure: a binary that exits at
// once is started at most 12 times in the first 10 simulated minutes and
// never more than 5 times in any 10 s, whatever the jitter draws.
func TestImmediateExitSimulation(t *testing.T) {
	const (
		runTime = 30 * time.Millisecond // start + immediate exit
		horizon = 2 * time.Hour
	)
	rands := map[string]func() float64{"min": fixed(0), "mid": fixed(0.5), "max": fixed(0.999999)}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, seed*7+1))
		rands["seed"+string(rune('A'+seed%26))+string(rune('0'+seed/26))] = r.Float64
	}
	worst10min, worst10s, worstLoopAt := 0, 0, time.Duration(0)
	for name, rnd := range rands {
		p := restart.New(restart.Config{Rand: rnd})
		var starts []time.Duration
		now := time.Duration(0)
		loopAt := time.Duration(-1)
		for now < horizon {
			starts = append(starts, now)
			now += runTime
			d := p.Failure(t0.Add(now), runTime, false)
			if d.Delay < 500*time.Millisecond {
				t.Fatalf("%s: delay %v", name, d.Delay)
			}
			if d.Action == restart.CrashLoop && loopAt < 0 {
				loopAt = now
			}
			now += d.Delay
		}
		in10min := 0
		for _, s := range starts {
			if s < 10*time.Minute {
				in10min++
			}
		}
		max10s := 0
		for i := range starts {
			n := 0
			for j := i; j < len(starts) && starts[j]-starts[i] < 10*time.Second; j++ {
				n++
			}
			max10s = maxInt(max10s, n)
		}
		if in10min > 12 || max10s > 5 {
			t.Errorf("%s: %d starts in the first 10 min, up to %d in 10 s", name, in10min, max10s)
		}
		if loopAt < 0 || loopAt > 15*time.Minute {
			t.Errorf("%s: crash-looping at %v", name, loopAt)
		}
		worst10min, worst10s, worstLoopAt = maxInt(worst10min, in10min), maxInt(worst10s, max10s), max(worstLoopAt, loopAt)
	}
	t.Logf("%d jitter sources: at most %d starts in the first 10 min, at most %d in any 10 s; crash-looping by %v at the latest",
		len(rands), worst10min, worst10s, worstLoopAt.Round(time.Second))
}

func maxInt(a, b int) int { return max(a, b) }

func TestConfigDefaults(t *testing.T) {
	c := restart.New(restart.Config{}).Config()
	if c.Initial != time.Second || c.Max != 5*time.Minute || c.Jitter != 0.2 || c.ResetAfter != 10*time.Minute ||
		c.CrashLoopFailures != 10 || c.CrashLoopWindow != 10*time.Minute || c.Rand == nil {
		t.Errorf("defaults = %+v", c)
	}
	if got := restart.Restart.String() + restart.CrashLoop.String() + restart.GiveUp.String(); got != "restartcrashloopgive-up" {
		t.Errorf("strings %q", got)
	}
}
