//go:build !wasip1

package abi

import (
	"fmt"
	"strconv"
)

// The checks of parse results are host-side only: a guest has no use for
// them, and they would add to every adapter's code.

// Check reports the first value of a parse_line result that no miner can
// have printed: a negative count, rate, difficulty, latency or height. The
// host refuses such a result rather than let it reach the API, the history
// and the watchdog (a negative hashrate reads as a stalled miner).
func (r *LineResult) Check() error {
	for i := range r.Events {
		e := &r.Events[i]
		c := checker{list: "events", idx: i}
		c.i("accepted", e.Accepted)
		c.i("rejected", e.Rejected)
		c.i("height", e.Height)
		c.f("difficulty", e.Difficulty)
		c.f("latency_ms", e.LatencyMS)
		c.f("hashrate_hs", e.HashrateHS)
		if e.Device != nil {
			c.sub = "device."
			c.device(e.Device)
		}
		if c.err != nil {
			return c.err
		}
	}
	if r.Stats == nil {
		return nil
	}
	return r.Stats.Check()
}

// Check is LineResult.Check for Stats (a parse_api result).
func (s *Stats) Check() error {
	c := checker{list: "stats", idx: -1}
	c.f("hashrate_hs", s.HashrateHS)
	c.f("hashrate_60s_hs", s.Hashrate60sHS)
	c.f("hashrate_15m_hs", s.Hashrate15mHS)
	c.f("hashrate_max_hs", s.HashrateMaxHS)
	c.f("effective_hashrate_hs", s.EffectiveHashrateHS)
	c.f("effective_window_s", s.EffectiveWindowS)
	c.i("accepted", s.Accepted)
	c.i("rejected", s.Rejected)
	c.i("stale", s.Stale)
	c.f("pool_ping_ms", s.PoolPingMS)
	c.f("difficulty", s.Difficulty)
	c.f("uptime_s", s.UptimeS)
	for i := range s.Devices {
		c.list, c.idx = "stats.devices", i
		c.device(&s.Devices[i])
	}
	return c.err
}

// checker records the first negative value it is shown. The field's path
// (list[idx].sub) is only spelt out for the error: results are checked on
// every batch.
type checker struct {
	list string
	idx  int // -1: list is not a list
	sub  string
	err  error
}

func (c *checker) where(name string) string {
	if c.idx < 0 {
		return c.list + "." + c.sub + name
	}
	return c.list + "[" + strconv.Itoa(c.idx) + "]." + c.sub + name
}

func (c *checker) f(name string, v *float64) {
	if c.err == nil && v != nil && *v < 0 {
		c.err = fmt.Errorf("%s is negative (%v)", c.where(name), *v)
	}
}

func (c *checker) i(name string, v *int64) {
	if c.err == nil && v != nil && *v < 0 {
		c.err = fmt.Errorf("%s is negative (%d)", c.where(name), *v)
	}
}

func (c *checker) device(d *Device) {
	c.f("hashrate_hs", d.HashrateHS)
	c.f("power_w", d.PowerW)
	c.i("accepted", d.Accepted)
	c.i("rejected", d.Rejected)
	c.i("stale", d.Stale)
	c.f("core_clock_mhz", d.CoreClockMHz)
	c.f("mem_clock_mhz", d.MemClockMHz)
	c.f("vram_free_mib", d.VRAMFreeMiB)
	c.f("fan_pct", d.FanPct)
}
