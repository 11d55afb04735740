package proc

import (
	"bytes"
	"fmt"
	"time"
)

// Stream identifies the output stream a line came from; the values are the
// file descriptor numbers.
type Stream uint8

// The streams of a process.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("stream(%d)", uint8(s))
}

// Line is one line of a process's output.
type Line struct {
	// Seq increases by one for each line of the process, across both
	// streams, starting at Spec.FirstSeq+1.
	Seq uint64
	// Time is when the agent read the line.
	Time   time.Time
	Stream Stream
	// Text is the line as the process wrote it, without the '\n' (and
	// without a '\r' right before it): ANSI sequences, invalid UTF-8 and
	// NUL bytes are kept.
	Text string
	// Plain is Text without escape sequences (see StripANSI). It is set only
	// in the batches given to Spec.OnLines, not in the ring.
	Plain string
	// Truncated reports that the line was longer than Spec.MaxLine bytes;
	// Text holds its first MaxLine bytes and the rest was discarded.
	Truncated bool
}

// splitter cuts a byte stream into lines of at most max bytes.
type splitter struct {
	max        int
	cur        []byte // the start of a line not yet terminated
	truncated  bool   // cur was cut at max bytes
	discarding bool   // skipping the rest of an over-long line
	crPending  bool   // cur holds max bytes and a '\r'
}

// feed splits b, calling emit for every line completed by it. The slice
// given to emit is only valid during the call.
func (s *splitter) feed(b []byte, emit func(text []byte, truncated bool)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.add(b)
			return
		}
		if len(s.cur) == 0 && !s.discarding && i <= s.max {
			emit(trimCR(b[:i]), false) // fast path: the whole line is in b
		} else {
			s.add(b[:i])
			s.flush(emit)
		}
		b = b[i+1:]
	}
}

// add appends part of a line, cutting it at max bytes. A '\r' right after
// max bytes is held back: if '\n' follows, it is part of the terminator.
func (s *splitter) add(b []byte) {
	if s.discarding || len(b) == 0 {
		return
	}
	if s.crPending { // the line goes on after max bytes and a '\r'
		s.cur = s.cur[:s.max]
		s.truncated, s.discarding, s.crPending = true, true, false
		return
	}
	room := s.max - len(s.cur)
	if len(b) > room {
		if len(b) == room+1 && b[room] == '\r' {
			s.cur = append(s.cur, b...)
			s.crPending = true
			return
		}
		s.cur = append(s.cur, b[:room]...)
		s.truncated, s.discarding = true, true
		return
	}
	s.cur = append(s.cur, b...)
}

// flush emits the pending line, if any, and starts a new one.
func (s *splitter) flush(emit func([]byte, bool)) {
	if len(s.cur) > 0 || s.truncated {
		text := s.cur
		if !s.truncated {
			text = trimCR(text)
		}
		emit(text, s.truncated)
	}
	s.cur = s.cur[:0] // kept: at most MaxLine bytes per stream
	s.truncated, s.discarding, s.crPending = false, false, false
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
