package adapters

import (
	"cmp"
	"slices"
)

// joinGap is the widest run of zero bytes joinData writes out to join two
// data segments.
const joinGap = 1 << 10

// joinData plans joining a data section's segments where they are at most
// joinGap bytes apart, the gaps written as zeros; nil if it joins none.
// The Go linker starts a new segment at every run of 8 zero bytes (27,515
// in the XMRig adapter for 0.7 MB of data), which wazero copies one by one
// at every instantiation (joined: 2 ms less of a 6–9 ms instantiation).
// instrument copies the module anyway, so joining costs only the zeros
// written (≈ 3 ms of a load).
//
// Joining is exact only when every segment is active in memory 0 at a
// constant offset and no two overlap: the order in which they are written
// then does not matter, and the gaps are bytes no segment writes, zero in
// a new memory. The caller must also know that nothing names a segment by
// its index (memory.init and data.drop need a data count section). Any
// other payload, and one whose gaps would more than double it, is left as
// it is.
func joinData(p []byte) *dataJoin {
	r := wasmReader{b: p}
	n := r.uleb()
	if r.bad || n > uint64(len(p)) {
		return nil
	}
	j := &dataJoin{segs: make([]segment, 0, n)}
	for range n {
		if r.uleb() != 0 || r.byte() != 0x41 { // active in memory 0, i32.const
			return nil
		}
		off := uint64(uint32(r.leb(true))) // offsets of 2 GiB and up are negative
		if r.byte() != 0x0b {              // end
			return nil
		}
		size := r.uleb()
		if r.bad || size > uint64(len(p)-r.i) {
			return nil
		}
		j.segs = append(j.segs, segment{off, p[r.i : r.i+int(size)]})
		r.i += int(size)
	}
	if r.bad || r.i != len(p) || n < 2 {
		return nil
	}
	slices.SortStableFunc(j.segs, func(a, b segment) int { return cmp.Compare(a.off, b.off) })
	var fill uint64
	j.count = 1
	for i := 1; i < len(j.segs); i++ {
		end := j.segs[i-1].end()
		switch gap := j.segs[i].off - end; {
		case j.segs[i].off < end:
			return nil // overlapping: the order matters
		case gap <= joinGap:
			fill += gap
		default:
			j.count++
		}
	}
	if fill > uint64(len(p)) || j.count == n {
		return nil
	}
	j.size = len(p) + int(fill) // an upper bound: the joined headers are fewer
	return j
}

type segment struct {
	off  uint64
	data []byte
}

func (s segment) end() uint64 { return s.off + uint64(len(s.data)) }

// dataJoin is a planned join: the segments sorted by offset.
type dataJoin struct {
	segs  []segment
	count uint64 // segments once joined
	size  int    // at most the joined payload's size
}

// append appends the joined payload to dst.
func (j *dataJoin) append(dst []byte) []byte {
	dst = appendULEB(dst, j.count)
	for i := 0; i < len(j.segs); {
		k, end := i, j.segs[i].end()
		for k+1 < len(j.segs) && j.segs[k+1].off-end <= joinGap {
			k++
			end = j.segs[k].end()
		}
		dst = appendSLEB(append(dst, 0x00, 0x41), int64(int32(uint32(j.segs[i].off))))
		dst = appendULEB(append(dst, 0x0b), end-j.segs[i].off)
		pos := j.segs[i].off
		for _, s := range j.segs[i : k+1] {
			dst = append(dst, make([]byte, s.off-pos)...) // zeros, without allocating
			dst = append(dst, s.data...)
			pos = s.end()
		}
		i = k + 1
	}
	return dst
}
