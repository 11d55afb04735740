package miner

import (
	"sync"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// Lifecycle event types published by the Manager. Adapter events
// (share_accepted, new_job, pool_error, ...) are published with the
// adapter's own type and the adapter event in Event.Adapter.
const (
	EventMinerStarted   = "miner_started"
	EventMinerStopped   = "miner_stopped"
	EventMinerCrashed   = "miner_crashed"
	EventMinerRestarted = "miner_restarted"
	EventMinerState     = "miner_state"
	EventStats          = "stats"
	EventIncident       = "incident"
	// EventAdapter reports an adapter loaded, refused, removed or rolled
	// back (Cause says which and why).
	EventAdapter = "adapter"
)

// Event is one thing that happened to a miner.
type Event struct {
	// Seq increases by one per published event.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Type string    `json:"type"`
	// Miner is the instance name.
	Miner string `json:"miner,omitempty"`
	State State  `json:"state,omitempty"`
	// Cause explains a crash, restart, stop or state change.
	Cause string `json:"cause,omitempty"`
	// Stats is set on stats events.
	Stats *abi.Stats `json:"stats,omitempty"`
	// Adapter is the adapter's event for events parsed from the miner.
	Adapter *abi.Event `json:"adapter,omitempty"`
	// Miner snapshot for lifecycle events.
	Info *Info `json:"info,omitempty"`
	// Incident is set on incident events.
	Incident *Incident `json:"incident,omitempty"`
}

// Bus fans events out to subscribers. Publishing never blocks: a
// subscriber whose buffer is full is dropped (its channel closed and
// Dropped reports true), so one slow client cannot hold up the others.
type Bus struct {
	pubMu sync.Mutex // serialises publishers so every subscriber sees Seq order
	mu    sync.Mutex
	seq   uint64
	subs  map[*Subscription]struct{}
	now   func() time.Time
}

// NewBus returns an empty bus; now stamps events (time.Now if nil).
func NewBus(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{subs: map[*Subscription]struct{}{}, now: now}
}

// Subscription receives events on C until Close, or until it is dropped
// for being too slow.
type Subscription struct {
	C <-chan Event

	bus    *Bus
	filter func(*Event) bool

	mu      sync.Mutex
	c       chan Event
	closed  bool
	dropped bool
}

// Subscribe returns a subscription with a buffer of n events (at least 1)
// receiving the events filter accepts (all if filter is nil).
func (b *Bus) Subscribe(n int, filter func(*Event) bool) *Subscription {
	if n < 1 {
		n = 1
	}
	c := make(chan Event, n)
	s := &Subscription{C: c, c: c, bus: b, filter: filter}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.c)
	}
}

// Dropped reports whether the bus closed the subscription because its
// buffer was full.
func (s *Subscription) Dropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// deliver sends e without blocking; a full buffer drops the subscriber.
func (s *Subscription) deliver(e *Event) (drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.c <- *e:
		return false
	default:
		s.closed, s.dropped = true, true
		close(s.c)
		return true
	}
}

// Publish stamps e with the next sequence number (and the time, if unset)
// and delivers it to every matching subscriber.
func (b *Bus) Publish(e Event) {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	var dropped []*Subscription
	for _, s := range subs {
		if s.filter != nil && !s.filter(&e) {
			continue
		}
		if s.deliver(&e) {
			dropped = append(dropped, s)
		}
	}
	if len(dropped) > 0 {
		b.mu.Lock()
		for _, s := range dropped {
			delete(b.subs, s)
		}
		b.mu.Unlock()
	}
}
