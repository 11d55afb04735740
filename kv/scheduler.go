package kv

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// schedulerTick is how often the scheduler looks for compactions it was not
// told about.
const schedulerTick = 2 * time.Second

// scheduler is the pebble.CompactionScheduler of the one database of an
// agent: it runs as many compactions as the database allows without
// permission, as pebble's default does. Pebble's default looks for them ten
// times a second, which was most of an idle agent's CPU (0.26 % of a core
// here, against 0.04 % with this one); this one looks when pebble pokes it
// (after a flush), when a compaction ends, and every schedulerTick for
// debt that grew without either. A rig writes a few kilobytes a second, so
// a compaction that starts up to two seconds late costs nothing.
//
// All calls into the database are made by the granter goroutine, without
// s.mu held (pebble orders its own mutexes before the scheduler's), except
// GetAllowedWithoutPermission, which pebble allows under them.
type scheduler struct {
	db   pebble.DBForCompaction
	poke chan struct{} // one slot: ask the granter to look now
	stop chan struct{} // closed by Unregister
	done chan struct{} // closed when the granter returns

	mu struct {
		sync.Mutex
		running      int
		unregistered bool
	}
}

var (
	_ pebble.CompactionScheduler   = (*scheduler)(nil)
	_ pebble.CompactionGrantHandle = (*scheduler)(nil)
)

func newScheduler() *scheduler {
	return &scheduler{poke: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Register starts the granter. Pebble calls it once, when the DB opens.
func (s *scheduler) Register(_ int, db pebble.DBForCompaction) {
	s.db = db
	go s.granter()
}

// Unregister stops the granter and waits for it: no call into the DB
// happens after it returns.
func (s *scheduler) Unregister() {
	s.mu.Lock()
	s.mu.unregistered = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}

// TrySchedule grants a compaction the DB wants to run now if it is within
// what the DB allows without permission.
func (s *scheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	if !s.takeSlot() {
		return false, nil
	}
	return true, s
}

// UpdateGetAllowedWithoutPermission is pebble telling that more
// compactions may be allowed now (after a flush).
func (s *scheduler) UpdateGetAllowedWithoutPermission() { s.wake() }

// Done is a granted compaction ending: its slot may go to a waiting one.
func (s *scheduler) Done() {
	s.releaseSlot()
	s.wake()
}

// Started, MeasureCPU and CumulativeStats feed resource accounting, which
// this scheduler does not do.
func (s *scheduler) Started()                                          {}
func (s *scheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (s *scheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// takeSlot counts one more running compaction if the DB allows it
// without permission.
func (s *scheduler) takeSlot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.unregistered || s.db.GetAllowedWithoutPermission() <= s.mu.running {
		return false
	}
	s.mu.running++
	return true
}

func (s *scheduler) releaseSlot() {
	s.mu.Lock()
	s.mu.running--
	s.mu.Unlock()
}

func (s *scheduler) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

func (s *scheduler) granter() {
	defer close(s.done)
	tick := time.NewTicker(schedulerTick)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.poke:
		}
		s.grant()
	}
}

// grant starts waiting compactions while the DB allows more. A slot is
// taken before Schedule, since the compaction may be Done before Schedule
// returns.
func (s *scheduler) grant() {
	for s.takeSlot() {
		if waiting, _ := s.db.GetWaitingCompaction(); !waiting || !s.db.Schedule(s) {
			s.releaseSlot()
			return
		}
	}
}
