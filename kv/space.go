package kv

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Disk-full handling (see doc.go, "Full disk").
const (
	// headroom is the free space (beyond a missing reserve) needed before
	// writes resume after the disk filled up.
	headroom = 16 << 20
	// lowWater: below this much free space Maintain degrades storage before
	// Pebble hits ENOSPC.
	lowWater = 4 << 20
)

// probeEvery limits free-space checks while degraded (a variable for tests).
var probeEvery = time.Second

func (s *Store) reservePath() string { return s.baseFS.PathJoin(s.dir, ballastFileName) }

// ensureReserve creates the reserve file if it is missing and there is room
// for it plus headroom.
func (s *Store) ensureReserve() {
	if s.reserve <= 0 {
		return
	}
	s.mu.Lock()
	has := s.mu.reserved
	s.mu.Unlock()
	if has {
		return
	}
	path := s.reservePath()
	if fi, err := s.baseFS.Stat(path); err == nil && fi.Size() >= s.reserve {
		s.setReserved(true)
		return
	}
	if avail, ok := s.freeBytes(); ok && avail < uint64(s.reserve)+headroom {
		s.log.Warn("kv: not enough free space for the disk reserve", "free_bytes", avail, "reserve_bytes", s.reserve)
		return
	}
	if err := writeZeros(s.baseFS, path, s.reserve); err != nil {
		_ = s.baseFS.Remove(path)
		s.log.Warn("kv: cannot create the disk reserve", "path", path, "err", err)
		return
	}
	s.setReserved(true)
}

func (s *Store) setReserved(v bool) {
	s.mu.Lock()
	s.mu.reserved = v
	s.mu.Unlock()
}

// writeZeros writes n real bytes (not a sparse file: the blocks must be
// allocated to reserve them) and syncs.
func writeZeros(fs vfs.FS, path string, n int64) error {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	buf := make([]byte, min(n, 1<<20))
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			_ = f.Close()
			return err
		}
		left -= k
	}
	return errors.Join(f.Sync(), f.Close())
}

// onDiskFull is called by Pebble's file system wrapper when a write fails
// with ENOSPC, while all other writes wait; the failed write is retried
// once when it returns. It frees the reserve so that the retry (a WAL or
// MANIFEST write Pebble cannot survive losing) and in-flight flushes
// succeed, and degrades storage so that no new writes reach Pebble.
func (s *Store) onDiskFull() {
	s.mu.Lock()
	had := s.mu.reserved
	s.mu.reserved = false
	why := "no reserve left to release"
	if had {
		why = fmt.Sprintf("released the %d-byte reserve", s.reserve)
	}
	s.mu.degraded = fmt.Errorf("%w: %w: %s", ErrDegraded, ErrDiskFull, why)
	s.mu.lastProbe = time.Now()
	s.mu.Unlock()
	if had {
		if err := s.baseFS.Remove(s.reservePath()); err != nil {
			s.log.Error("kv: disk full: cannot remove the reserve", "err", err)
		}
	}
	s.log.Error("kv: disk full: writes are refused until space is freed", "reserve_released", had)
}

// freeBytes reports the free space of the database's file system; ok is
// false when the file system cannot tell.
func (s *Store) freeBytes() (uint64, bool) {
	u, err := s.baseFS.GetDiskUsage(s.dir)
	if err != nil {
		return 0, false
	}
	return u.AvailBytes, true
}

// checkSpace degrades storage when free space is below lowWater, before
// Pebble itself runs into ENOSPC.
func (s *Store) checkSpace() {
	if avail, ok := s.freeBytes(); ok && avail < lowWater {
		s.setDiskFull(fmt.Sprintf("%d bytes free", avail))
	}
}

// maybeResume leaves the degraded state when there is room again: it
// reopens Pebble if a write failed (a failed WAL write is sticky) and
// recreates the reserve. It checks at most once per probeEvery.
func (s *Store) maybeResume() {
	s.mu.Lock()
	if s.mu.degraded == nil || time.Since(s.mu.lastProbe) < probeEvery {
		s.mu.Unlock()
		return
	}
	s.mu.lastProbe = time.Now()
	deg, reopen, reserved := s.mu.degraded, s.mu.walBroken, s.mu.reserved
	s.mu.Unlock()

	need := uint64(headroom)
	if s.reserve > 0 && !reserved {
		need += uint64(s.reserve)
	}
	if avail, ok := s.freeBytes(); ok && avail < need {
		return
	}
	if reopen {
		if err := s.reopen(); err != nil {
			s.log.Error("kv: reopen after a failed write", "err", err)
			return
		}
	}
	s.ensureReserve()
	s.mu.Lock()
	recovered := s.mu.degraded == deg // nothing new went wrong meanwhile
	if recovered {
		s.mu.degraded, s.mu.walBroken = nil, false
	}
	s.mu.Unlock()
	if recovered {
		s.log.Info("kv: storage recovered; writes resume")
	}
}

// reopen closes and reopens Pebble, waiting for operations in flight.
func (s *Store) reopen() error {
	s.state.Lock()
	defer s.state.Unlock()
	if s.state.closed {
		return ErrClosed
	}
	if s.state.db != nil {
		if err := s.state.db.Close(); err != nil {
			s.log.Warn("kv: close before reopen", "err", err)
		}
		s.state.db = nil
	}
	db, err := s.openPebble()
	if err != nil {
		return err
	}
	s.state.db = db
	return nil
}
