package adapters

import (
	"cmp"
	"slices"
)

// joinGap is the widest run of zero bytes joinData writes out to join two
// data segments.
const joinGap = 1 << 10

// joinData returns a data section's payload with its segments joined where
// they are at most joinGap bytes apart, the gaps written as zeros, and
// whether it joined any. The Go linker starts a new segment at every run
// of 8 zero bytes (27,515 in the XMRig adapter for 0.7 MB of data), which
// wazero decodes at every load and copies one by one at every
// instantiation; instrument copies the module anyway, so joining them is
// nearly free.
//
// Joining is exact only when every segment is active in memory 0 at a
// constant offset and no two overlap: the order in which they are written
// then does not matter, and the gaps are bytes no segment writes, zero in
// a new memory. The caller must also know that nothing names a segment by
// its index (memory.init and data.drop need a data count section). Any
// other payload, and one whose gaps would more than double it, is
// returned as it is.
func joinData(p []byte) ([]byte, bool) {
	type segment struct {
		off  uint64
		data []byte
	}
	r := wasmReader{b: p}
	n := r.uleb()
	if r.bad || n > uint64(len(p)) {
		return p, false
	}
	segs := make([]segment, 0, n)
	for range n {
		if r.uleb() != 0 || r.byte() != 0x41 { // active in memory 0, i32.const
			return p, false
		}
		off := uint64(uint32(r.leb(true))) // offsets of 2 GiB and up are negative
		if r.byte() != 0x0b {              // end
			return p, false
		}
		size := r.uleb()
		if r.bad || size > uint64(len(p)-r.i) {
			return p, false
		}
		segs = append(segs, segment{off, p[r.i : r.i+int(size)]})
		r.i += int(size)
	}
	if r.bad || r.i != len(p) {
		return p, false
	}
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.off, b.off) })
	var fill uint64
	for i := 1; i < len(segs); i++ {
		end := segs[i-1].off + uint64(len(segs[i-1].data))
		if segs[i].off < end {
			return p, false // overlapping: the order matters
		}
		if gap := segs[i].off - end; gap <= joinGap {
			fill += gap
		}
	}
	if fill > uint64(len(p)) {
		return p, false
	}
	var body []byte
	joined := uint64(0)
	for i := 0; i < len(segs); {
		j, end := i, segs[i].off+uint64(len(segs[i].data))
		for j+1 < len(segs) && segs[j+1].off-end <= joinGap {
			j++
			end = segs[j].off + uint64(len(segs[j].data))
		}
		body = appendSLEB(append(body, 0x00, 0x41), int64(int32(uint32(segs[i].off))))
		body = appendULEB(append(body, 0x0b), end-segs[i].off)
		pos := segs[i].off
		for _, s := range segs[i : j+1] {
			body = append(body, make([]byte, s.off-pos)...)
			body = append(body, s.data...)
			pos = s.off + uint64(len(s.data))
		}
		joined++
		i = j + 1
	}
	if joined == n {
		return p, false
	}
	return append(appendULEB(make([]byte, 0, len(body)+5), joined), body...), true
}
