//go:build !linux

package proc

import "time"

// pacer spaces a reader's reads of a trickle by a ticker rather than by
// time.Sleep: re-arming a sleep's timer wakes the netpoller thread every
// time, while a running ticker re-arms itself. It is stopped while the
// reader waits for a dry pipe, so a quiet miner costs no ticks.
type pacer struct {
	every   time.Duration
	t       *time.Ticker
	running bool
}

// wait waits for the next tick, starting the ticker if it is stopped (the
// first wait after a pause is then a whole period).
func (p *pacer) wait() {
	switch {
	case p.t == nil:
		p.t = time.NewTicker(p.every)
	case !p.running:
		p.t.Reset(p.every)
	}
	p.running = true
	<-p.t.C
}

// pause stops the ticker.
func (p *pacer) pause() {
	if p.running {
		p.t.Stop()
		p.running = false
	}
}

// close stops the ticker for good.
func (p *pacer) close() { p.pause() }
