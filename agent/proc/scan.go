package proc

import (
	"io"
	"time"
)

// ScanLines reads r to the end and calls fn for every line, split, capped
// at maxLine bytes and stripped exactly as a process's output is (Plain is
// set), so that a recorded log replays like live output. fn's error stops
// the scan and is returned.
func ScanLines(r io.Reader, maxLine int, fn func(Line) error) error {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	sp := splitter{max: maxLine}
	var seq uint64
	var ferr error
	emit := func(text []byte, truncated bool) {
		if ferr != nil {
			return
		}
		seq++
		ferr = fn(Line{
			Seq:       seq,
			Time:      time.Now(),
			Stream:    Stdout,
			Text:      string(text),
			Plain:     string(StripANSI(text)),
			Truncated: truncated,
		})
	}
	buf := make([]byte, 64<<10)
	for ferr == nil {
		n, err := r.Read(buf)
		sp.feed(buf[:n], emit)
		if err == io.EOF {
			sp.flush(emit)
			return ferr
		}
		if err != nil {
			return err
		}
	}
	return ferr
}
