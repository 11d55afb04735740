package miner

import (
	"sync"
	"testing"
	"time"
)

func TestBusDeliversInOrderAndFilters(t *testing.T) {
	b := NewBus(nil)
	all := b.Subscribe(100, nil)
	onlyA := b.Subscribe(100, func(e *Event) bool { return e.Miner == "a" })
	for i := range 10 {
		m := "a"
		if i%2 == 1 {
			m = "b"
		}
		b.Publish(Event{Type: EventStats, Miner: m})
	}
	var last uint64
	for range 10 {
		e := <-all.C
		if e.Seq != last+1 {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		if e.Time.IsZero() {
			t.Fatal("event not stamped")
		}
		last = e.Seq
	}
	for range 5 {
		if e := <-onlyA.C; e.Miner != "a" {
			t.Fatalf("filter let through %q", e.Miner)
		}
	}
	select {
	case e := <-onlyA.C:
		t.Fatalf("unexpected event %+v", e)
	default:
	}
	all.Close()
	onlyA.Close()
	if _, ok := <-all.C; ok {
		t.Fatal("channel open after Close")
	}
}

// A subscriber that never reads is dropped and never blocks publishers or
// other subscribers.
func TestBusDropsSlowSubscriber(t *testing.T) {
	b := NewBus(nil)
	slow := b.Subscribe(2, nil)
	fast := b.Subscribe(1000, nil)
	var wg sync.WaitGroup
	got := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range fast.C {
			got++
			if got == 500 {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		for range 500 {
			b.Publish(Event{Type: EventStats})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publishing blocked on a slow subscriber")
	}
	wg.Wait()
	if !slow.Dropped() {
		t.Fatal("slow subscriber not dropped")
	}
	n := 0
	for range slow.C { // drains the buffer, then sees the close
		n++
	}
	if n != 2 {
		t.Fatalf("slow subscriber got %d buffered events, want 2", n)
	}
	if fast.Dropped() {
		t.Fatal("fast subscriber dropped")
	}
	fast.Close()
	slow.Close() // closing a dropped subscription is fine
}
