package proc

import (
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	r := ring{limit: 10 * (LineOverhead + 10)}
	for i := 1; i <= 1000; i++ {
		r.push(Line{Seq: uint64(i), Text: strings.Repeat("x", 10)})
		if r.size > r.limit {
			t.Fatalf("size %d > limit %d", r.size, r.limit)
		}
	}
	if r.n != 10 {
		t.Fatalf("holds %d lines", r.n)
	}
	seqs := func(ls []Line) (out []uint64) {
		for _, l := range ls {
			out = append(out, l.Seq)
		}
		return out
	}
	cases := []struct {
		n           int
		since       uint64
		first, last uint64
		count       int
	}{
		{0, 0, 991, 1000, 10},
		{3, 0, 998, 1000, 3},
		{0, 995, 996, 1000, 5},
		{2, 995, 996, 997, 2}, // paging forward: the first 2 after 995
		{2, 997, 998, 999, 2},
		{0, 1000, 0, 0, 0},
		{0, 5000, 0, 0, 0},
		{100, 990, 991, 1000, 10},
		{3, 100, 991, 993, 3}, // evicted past since: the oldest held
	}
	for _, c := range cases {
		got := seqs(r.lines(c.n, c.since))
		if len(got) != c.count || (c.count > 0 && (got[0] != c.first || got[len(got)-1] != c.last)) {
			t.Errorf("lines(%d, %d) = %v", c.n, c.since, got)
		}
	}

	// A line bigger than the limit is kept alone.
	r.push(Line{Seq: 1001, Text: strings.Repeat("y", 5000)})
	if got := seqs(r.lines(0, 0)); len(got) != 1 || got[0] != 1001 {
		t.Errorf("after a huge line: %v", got)
	}
	// Capacity shrinks back after a burst of small lines.
	big := ring{limit: 1 << 20}
	for i := 1; i <= 10000; i++ {
		big.push(Line{Seq: uint64(i)})
	}
	grown := len(big.buf)
	for i := 10001; i <= 10020; i++ {
		big.push(Line{Seq: uint64(i), Text: strings.Repeat("z", 300<<10)})
	}
	if len(big.buf) >= grown || big.n != 3 {
		t.Errorf("capacity %d (was %d), %d lines", len(big.buf), grown, big.n)
	}
}
