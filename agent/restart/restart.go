package restart

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultInitial           = time.Second
	DefaultMax               = 5 * time.Minute
	DefaultJitter            = 0.2
	DefaultResetAfter        = 10 * time.Minute
	DefaultCrashLoopFailures = 10
	DefaultCrashLoopWindow   = 10 * time.Minute
)

// Config tunes a Policy; zero fields take the defaults.
type Config struct {
	Initial time.Duration // first wait
	Max     time.Duration // longest wait; the wait of a crash-looping miner
	// Jitter is the relative spread of a wait, in [0, 1); negative means
	// none.
	Jitter            float64
	ResetAfter        time.Duration // run time that counts as healthy
	CrashLoopFailures int           // failures within CrashLoopWindow that make a crash loop
	CrashLoopWindow   time.Duration
	// Rand returns numbers in [0, 1) for the jitter; nil means
	// math/rand/v2.Float64.
	Rand func() float64
}

func (c Config) withDefaults() Config {
	if c.Initial <= 0 {
		c.Initial = DefaultInitial
	}
	if c.Max <= 0 {
		c.Max = DefaultMax
	}
	c.Max = max(c.Max, c.Initial)
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	case c.Jitter >= 1:
		c.Jitter = 0.99
	}
	if c.ResetAfter <= 0 {
		c.ResetAfter = DefaultResetAfter
	}
	if c.CrashLoopFailures <= 0 {
		c.CrashLoopFailures = DefaultCrashLoopFailures
	}
	if c.CrashLoopWindow <= 0 {
		c.CrashLoopWindow = DefaultCrashLoopWindow
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Action is what to do after a failure.
type Action int

// Actions.
const (
	Restart   Action = iota + 1 // start again after Delay
	CrashLoop                   // crash-looping: start again after Delay (≈ Max)
	GiveUp                      // permanent error: do not start again
)

func (a Action) String() string {
	switch a {
	case Restart:
		return "restart"
	case CrashLoop:
		return "crashloop"
	case GiveUp:
		return "give-up"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Decision is the answer to a failure.
type Decision struct {
	Action Action
	// Delay is how long to wait before the next start; 0 with GiveUp.
	Delay time.Duration
	// Failures counts consecutive failures since the last reset, this one
	// included.
	Failures int
	// Recent counts failures within the crash-loop window, this one
	// included.
	Recent int
}

type failure struct {
	at      time.Time
	runTime time.Duration
}

// Policy is the restart state of one miner.
type Policy struct {
	cfg          Config
	failures     int       // consecutive, since the last reset
	recent       []failure // the last CrashLoopFailures failures, oldest first
	crashLooping bool
}

// New returns a Policy with no failures.
func New(cfg Config) *Policy {
	cfg = cfg.withDefaults()
	return &Policy{cfg: cfg, recent: make([]failure, 0, cfg.CrashLoopFailures)}
}

// Config returns the configuration in effect, defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Failure records a run that ended at now after runTime without being
// asked to, and decides what comes next. permanent marks an error a
// restart cannot fix.
func (p *Policy) Failure(now time.Time, runTime time.Duration, permanent bool) Decision {
	if runTime >= p.cfg.ResetAfter {
		p.Reset()
	}
	p.failures++
	if len(p.recent) == p.cfg.CrashLoopFailures {
		copy(p.recent, p.recent[1:])
		p.recent = p.recent[:len(p.recent)-1]
	}
	p.recent = append(p.recent, failure{now, max(runTime, 0)})
	n := p.recentCount(now)
	if n >= p.cfg.CrashLoopFailures {
		p.crashLooping = true
	}
	d := Decision{Failures: p.failures, Recent: n}
	switch {
	case permanent:
		d.Action = GiveUp
	case p.crashLooping:
		d.Action, d.Delay = CrashLoop, p.jitter(p.cfg.Max)
	default:
		d.Action, d.Delay = Restart, p.jitter(p.backoff())
	}
	return d
}

// recentCount counts the latest failures that fit in the crash-loop window,
// measured in wall-clock time or in run time, whichever counts more.
func (p *Policy) recentCount(now time.Time) int {
	wall := 0
	for _, f := range p.recent {
		if now.Sub(f.at) <= p.cfg.CrashLoopWindow {
			wall++
		}
	}
	run, sum := 0, time.Duration(0)
	for i := len(p.recent) - 1; i >= 0; i-- {
		sum += p.recent[i].runTime
		if sum > p.cfg.CrashLoopWindow {
			break
		}
		run++
	}
	return max(wall, run)
}

// backoff is the un-jittered wait after p.failures failures.
func (p *Policy) backoff() time.Duration {
	d := p.cfg.Initial
	for i := 1; i < p.failures && d < p.cfg.Max; i++ {
		d *= 2
	}
	return min(d, p.cfg.Max)
}

func (p *Policy) jitter(d time.Duration) time.Duration {
	f := 1 + p.cfg.Jitter*(2*p.cfg.Rand()-1)
	return min(time.Duration(float64(d)*f), p.cfg.Max)
}

// Healthy tells the policy the current run has lasted runTime so far. Once
// runTime reaches ResetAfter the run is healthy: the policy resets and
// Healthy returns true.
func (p *Policy) Healthy(runTime time.Duration) bool {
	if runTime < p.cfg.ResetAfter {
		return false
	}
	p.Reset()
	return true
}

// Reset forgets all failures, as after a healthy run or a start by the
// user.
func (p *Policy) Reset() {
	p.failures = 0
	p.recent = p.recent[:0]
	p.crashLooping = false
}

// CrashLooping reports whether the policy is in the crash-looping state.
func (p *Policy) CrashLooping() bool { return p.crashLooping }
