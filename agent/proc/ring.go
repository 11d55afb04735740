package proc

// LineOverhead is the size charged to the ring for each line on top of its
// text, so that a flood of empty lines is bounded as well.
const LineOverhead = 64

// ring is a bounded FIFO of lines. It is not safe for concurrent use; a
// Process guards it with its mutex.
type ring struct {
	limit int    // maximum size in bytes
	buf   []Line // circular; len(buf) is 0 or a power of two
	head  int    // index of the oldest line
	n     int    // number of lines held
	size  int    // sum of len(Text)+LineOverhead over held lines
}

func lineSize(l *Line) int { return len(l.Text) + LineOverhead }

// push appends l and drops the oldest lines until the ring fits its limit.
// The newest line is always kept, even when it alone exceeds the limit.
func (r *ring) push(l Line) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = l
	r.n++
	r.size += lineSize(&l)
	for r.size > r.limit && r.n > 1 {
		old := &r.buf[r.head]
		r.size -= lineSize(old)
		*old = Line{} // release the text
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.n--
	}
	// Give memory back after a burst of many small lines.
	if len(r.buf) > 1024 && r.n < len(r.buf)/8 {
		r.resize(len(r.buf) / 4)
	}
}

func (r *ring) grow() {
	c := 2 * len(r.buf)
	if c == 0 {
		c = 64
	}
	r.resize(c)
}

func (r *ring) resize(c int) {
	nb := make([]Line, c)
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = nb, 0
}

// at returns the i-th oldest line held.
func (r *ring) at(i int) *Line { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// lines returns copies of at most n lines (all if n <= 0), oldest first:
// the newest n, or with since > 0 the first n whose Seq is greater than
// since, so that a reader paging forward from the last Seq it saw misses
// nothing the ring still holds.
func (r *ring) lines(n int, since uint64) []Line {
	// Seqs are increasing; find the first line newer than since.
	lo, hi := 0, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.at(m).Seq <= since {
			lo = m + 1
		} else {
			hi = m
		}
	}
	hi = r.n
	if n > 0 && hi-lo > n {
		if since > 0 {
			hi = lo + n
		} else {
			lo = hi - n
		}
	}
	out := make([]Line, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, *r.at(i))
	}
	return out
}
