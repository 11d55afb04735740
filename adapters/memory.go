package adapters

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one instance's wasm linear memory with an anonymous
// mapping outside the Go heap (where the OS allows it, see memory_mmap.go):
// the instance's memory limit is reserved as address space once, and
// memory.grow only makes more of it accessible.
//
// With wazero's default, a slice of the Go heap, every grow of a Go guest's
// heap copied the whole memory into a new slice (calls of 30 to 90 ms,
// close to the 100 ms parse_line deadline), and every instance's memory
// counted as live Go heap, so the host's GC let the agent's own garbage
// grow by as much again (≈ 10 MiB of RSS with two miners). Pages the guest
// never touches cost nothing; closing the instance unmaps them all.
//
// The mapping must outlive any guest code that can still touch it: wazero
// frees the memory when the module is closed, which a quarantine does
// while the stuck call may still run. So calls are counted (enter, exit)
// and a free during a call is carried out when the last call returns.
type linearMemory struct {
	mu    sync.Mutex
	buf   []byte // the whole reservation: len = accessible bytes, cap = reserved
	calls int    // guest code running (instantiation counts as a call)
	freed bool   // wazero freed it; unmap when calls drops to 0
}

// Reallocate implements experimental.LinearMemory: grow in place, never
// moving (nil, a failed memory.grow, past the reservation).
func (l *linearMemory) Reallocate(size uint64) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > uint64(cap(l.buf)) || l.freed {
		return nil
	}
	if n := uint64(len(l.buf)); size > n {
		if err := commit(l.buf[n:size:size]); err != nil {
			return nil
		}
		l.buf = l.buf[:size]
	}
	return l.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (l *linearMemory) Free() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.freed = true
	if l.calls == 0 {
		l.unmapLocked()
	}
}

// enter and exit bracket guest code that may touch the memory.
func (l *linearMemory) enter() {
	l.mu.Lock()
	l.calls++
	l.mu.Unlock()
}

func (l *linearMemory) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls--; l.calls == 0 && l.freed {
		l.unmapLocked()
	}
}

func (l *linearMemory) unmapLocked() {
	if l.buf != nil {
		release(l.buf[:cap(l.buf)])
		l.buf = nil
	}
}

// memoryAllocator returns the allocator for one instance: it records the
// memory it makes in *mem, counted as in a call (instantiation runs guest
// code) until the caller's exit. A nil allocator (no mappings on this OS,
// or the reservation failed) leaves the memory to wazero.
func memoryAllocator(mem **linearMemory) experimental.MemoryAllocator {
	if !mmapSupported {
		return nil
	}
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		buf, err := reserveMemory(max)
		if err != nil {
			return &sliceMemory{max: max}
		}
		*mem = &linearMemory{buf: buf[:0], calls: 1}
		return *mem
	})
}

// reserveMemory is reserve; tests replace it to make reservations fail.
var reserveMemory = reserve

// sliceMemory is wazero's default behaviour, for when a reservation fails.
type sliceMemory struct {
	buf []byte
	max uint64
}

func (s *sliceMemory) Reallocate(size uint64) []byte {
	if size > s.max {
		return nil
	}
	if size > uint64(cap(s.buf)) {
		s.buf = append(s.buf[:cap(s.buf)], make([]byte, size-uint64(cap(s.buf)))...)
	}
	s.buf = s.buf[:size]
	return s.buf
}

func (s *sliceMemory) Free() { s.buf = nil }
