package adapters

import (
	"bytes"
	"testing"
)

// dataImage writes a data section payload's active segments, in order, to
// a zeroed memory as instantiation does, and returns the memory and the
// segment count.
func dataImage(t *testing.T, p []byte) (mem []byte, n uint64) {
	t.Helper()
	r := wasmReader{b: p}
	n = r.uleb()
	for range n {
		if r.uleb() != 0 || r.byte() != 0x41 {
			t.Fatal("not an active segment at a constant offset")
		}
		off := uint64(uint32(r.leb(true)))
		r.byte()
		size := r.uleb()
		if r.bad || size > uint64(len(p)-r.i) || off+size > 16<<20 {
			t.Fatal("bad segment")
		}
		if end := off + size; end > uint64(len(mem)) {
			mem = append(mem, make([]byte, end-uint64(len(mem)))...)
		}
		copy(mem[off:], p[r.i:r.i+int(size)])
		r.i += int(size)
	}
	return mem, n
}

// dataPayload encodes active segments of memory 0 at the given offsets.
func dataPayload(segs ...any) []byte {
	p := appendULEB(nil, uint64(len(segs)/2))
	for i := 0; i < len(segs); i += 2 {
		data := []byte(segs[i+1].(string))
		p = appendSLEB(append(p, 0x00, 0x41), int64(segs[i].(int)))
		p = appendULEB(append(p, 0x0b), uint64(len(data)))
		p = append(p, data...)
	}
	return p
}

func TestJoinData(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want uint64 // segments after joining; 0: left as it is
	}{
		{"in order", dataPayload(16, "ab", 20, "cd", 30, "e"), 1},
		{"out of order", dataPayload(30, "e", 16, "ab", 20, "cd"), 1},
		{"a wide gap", dataPayload(16, "ab", 20+joinGap, "cd", 30+joinGap, "e"), 2},
		{"overlapping: the order matters", dataPayload(16, "abcd", 18, "xy"), 0},
		{"passive", append(dataPayload(16, "ab"), 0x01, 0x01, 'x'), 0},
		{"gaps that would double it", dataPayload(0, "a", 1000, "b", 2000, "c"), 0},
		{"one segment", dataPayload(16, "ab"), 0},
		{"no segment", dataPayload(), 0},
		{"truncated", dataPayload(16, "ab", 20, "cd")[:9], 0},
	} {
		j := joinData(tc.in)
		if (j != nil) != (tc.want > 0) {
			t.Errorf("%s: joined %v, want %v", tc.name, j != nil, tc.want > 0)
			continue
		}
		if j == nil {
			continue
		}
		out := j.append(nil)
		if len(out) > j.size {
			t.Errorf("%s: %d bytes, planned at most %d", tc.name, len(out), j.size)
		}
		want, _ := dataImage(t, tc.in)
		got, n := dataImage(t, out)
		if n != tc.want || !bytes.Equal(got, want) {
			t.Errorf("%s: %d segments writing %q, want %d writing %q", tc.name, n, got, tc.want, want)
		}
	}
}

// The built-in modules' data is written to the same bytes by far fewer
// segments once instrumented.
func TestJoinDataBuiltins(t *testing.T) {
	for name, wasm := range Builtins() {
		want, before := dataImage(t, sectionPayload(t, wasm, secData))
		got, after := dataImage(t, sectionPayload(t, mustInstrument(t, wasm), secData))
		if !bytes.Equal(got, want) || after > before/100 {
			t.Errorf("%s: %d segments → %d, same bytes: %v", name, before, after, bytes.Equal(got, want))
		}
	}
}

// sectionPayload returns the payload of a module's section id.
func sectionPayload(t *testing.T, wasm []byte, id byte) []byte {
	t.Helper()
	r := wasmReader{b: wasm, i: 8}
	for r.i < len(r.b) && !r.bad {
		sid, size := r.byte(), r.uleb()
		if r.bad || size > uint64(len(r.b)-r.i) {
			break
		}
		if sid == id {
			return r.b[r.i : r.i+int(size)]
		}
		r.i += int(size)
	}
	t.Fatalf("no section %d", id)
	return nil
}
