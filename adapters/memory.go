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
//
// The bytes below prefault (the end of the module's data segments, which
// instantiation writes at once) are faulted in by one system call when
// they are first made accessible rather than page by page: on a virtual
// machine a page's first touch is dear, and this was a third of an
// instantiation's time (p50 11 → 7.5 ms). The pages above it, which the
// guest may never touch, are left to fault on demand.
type linearMemory struct {
	mu       sync.Mutex
	buf      []byte // the whole reservation: len = accessible bytes, cap = reserved
	prefault uint64 // fault in the bytes below this as they are committed
	calls    int    // guest code running (instantiation counts as a call)
	freed    bool   // wazero freed it; unmap when calls drops to 0
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
		if end := min(size, l.prefault); end > n {
			populate(l.buf[n:end:end])
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
// code) until the caller's exit; prefault is the module's dataEnd. A nil
// allocator (no mappings on this OS, or the reservation failed) leaves the
// memory to wazero.
func memoryAllocator(mem **linearMemory, prefault uint64) experimental.MemoryAllocator {
	if !mmapSupported {
		return nil
	}
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		buf, err := reserveMemory(max)
		if err != nil {
			return &sliceMemory{max: max}
		}
		*mem = &linearMemory{buf: buf[:0], prefault: prefault, calls: 1}
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

// dataEnd returns the end of the highest active data segment of a wasm
// module: the linear memory instantiation writes. It returns 0 for a
// module it cannot read that far (wazero has validated it by the time it
// matters) or whose segment offsets are not constants.
func dataEnd(wasm []byte) uint64 {
	r := wasmReader{b: wasm, i: 8} // magic and version
	for r.i < len(r.b) {
		id := r.byte()
		size := r.uleb()
		if r.bad || size > uint64(len(r.b)-r.i) {
			return 0
		}
		if id != 11 { // data section
			r.i += int(size)
			continue
		}
		var end uint64
		for n := r.uleb(); n > 0 && !r.bad; n-- {
			flags := r.uleb()
			switch flags {
			case 1: // passive: not written at instantiation
				r.skip(r.uleb())
				continue
			case 2: // active, explicit memory index (only memory 0 exists)
				r.uleb()
			case 0:
			default:
				return 0
			}
			if r.byte() != 0x41 { // i32.const
				return 0
			}
			// An i32: offsets of 2 GiB and up are written as negative.
			off := uint64(uint32(r.leb(true)))
			if r.byte() != 0x0b { // end
				return 0
			}
			n := r.uleb()
			r.skip(n)
			end = max(end, off+n)
		}
		if r.bad {
			return 0
		}
		return end
	}
	return 0
}

// wasmReader reads the LEB128 integers of the wasm binary format; past the
// end or on an over-long number it sets bad and reads zeroes.
type wasmReader struct {
	b   []byte
	i   int
	bad bool
}

func (r *wasmReader) byte() byte {
	if r.i >= len(r.b) {
		r.bad = true
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *wasmReader) skip(n uint64) {
	if n > uint64(len(r.b)-r.i) {
		r.bad, r.i = true, len(r.b)
		return
	}
	r.i += int(n)
}

// uleb reads an unsigned LEB128 number of up to 32 bits.
func (r *wasmReader) uleb() uint64 { return r.leb(false) }

// leb reads a LEB128 number of up to 32 bits, sign-extended if signed.
func (r *wasmReader) leb(signed bool) uint64 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if signed && shift < 28 && c&0x40 != 0 {
				v |= ^uint64(0) << (shift + 7)
			}
			return v
		}
	}
	r.bad = true
	return 0
}
