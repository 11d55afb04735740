package proc

import (
	"testing"
	"time"
)

// The pacer ticks every period, the first wait after a pause lasting a
// whole period: a paused pacer keeps no tick for later.
func TestPacer(t *testing.T) {
	const every = 30 * time.Millisecond
	p := &pacer{every: every}
	defer p.close()
	start := time.Now()
	for range 3 {
		p.wait()
	}
	if took := time.Since(start); took < 3*every-5*time.Millisecond || took > 3*every+time.Second {
		t.Fatalf("3 waits took %v, want about %v", took, 3*every)
	}
	p.pause()
	time.Sleep(3 * every) // a running timer would have expired meanwhile
	start = time.Now()
	p.wait()
	if took := time.Since(start); took < every-5*time.Millisecond {
		t.Fatalf("the first wait after a pause took %v, want a whole period (%v)", took, every)
	}
	p.close()
	p.close() // idempotent
}
