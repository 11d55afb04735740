package xmrig

import (
	"math"
	"strings"
)

// Hand-written scanning helpers for the console parser: no regexp and no
// allocation on the hot path.

// stripANSI appends line to dst without ANSI escape sequences: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), charset
// designations (ESC ( B) and other two-byte escapes.
func stripANSI(dst, line []byte) []byte {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != 0x1b {
			dst = append(dst, c)
			continue
		}
		if i+1 >= len(line) {
			break
		}
		switch line[i+1] {
		case '[':
			i += 2
			for i < len(line) && (line[i] < 0x40 || line[i] > 0x7e) {
				i++
			}
		case ']':
			i += 2
			for i < len(line) && line[i] != 0x07 && !(line[i] == 0x1b && i+1 < len(line) && line[i+1] == '\\') {
				i++
			}
			if i < len(line) && line[i] == 0x1b {
				i++
			}
		case '(', ')', '*', '+', '#', '%':
			i += 2 // charset designation: ESC ( B
		default:
			i++
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func trimLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func trimSpace(b []byte) []byte {
	b = trimLeft(b)
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// cutWord returns the first space-separated word of b and the rest after it
// (starting at the separator).
func cutWord(b []byte) (w, rest []byte) {
	for i := 0; i < len(b); i++ {
		if isSpace(b[i]) {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// word reports whether msg is w or starts with w followed by a separator
// (" ", "," or ":").
func word(msg []byte, w string) bool {
	if !hasPrefix(msg, w) {
		return false
	}
	if len(msg) == len(w) {
		return true
	}
	c := msg[len(w)]
	return c == ' ' || c == ',' || c == ':'
}

// splitTime splits "[2021-11-28 12:09:05.552] rest" (or without
// milliseconds) into the timestamp text and the rest. Lines without a
// timestamp are returned whole.
func splitTime(line []byte) (ts, rest []byte) {
	if len(line) < 21 || line[0] != '[' || !digit(line[1]) || line[5] != '-' || line[11] != ' ' || line[14] != ':' {
		return nil, line
	}
	n := 20 // "[YYYY-MM-DD HH:MM:SS"
	if line[n] == '.' {
		n++
		for n < len(line) && n < 28 && digit(line[n]) {
			n++
		}
	}
	if n >= len(line) || line[n] != ']' {
		return nil, line
	}
	return line[1:n], trimLeft(line[n+1:])
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

func digitOrLetter(c byte) bool {
	return digit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseInt parses an optionally '#'-prefixed non-negative decimal integer.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '#' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !digit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// decimal is a parsed decimal number mant * 10^-frac, kept exact so that
// unit scaling (kH/s, MH/s) does not add binary rounding noise.
type decimal struct {
	mant uint64
	frac int
	ok   bool
}

// parseDecimal parses "39.77", "0", "1234.5"; "n/a" and anything else is
// not ok.
func parseDecimal(b []byte) decimal {
	var d decimal
	if len(b) == 0 || len(b) > 19 {
		return d
	}
	seenDot, digits := false, 0
	for _, c := range b {
		switch {
		case digit(c):
			d.mant = d.mant*10 + uint64(c-'0')
			digits++
			if seenDot {
				d.frac++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return decimal{}
		}
	}
	d.ok = digits > 0
	return d
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scaled returns the value times 10^exp.
func (d decimal) scaled(exp int) float64 {
	e := exp - d.frac
	m := float64(d.mant)
	switch {
	case e >= 0 && e < len(pow10):
		return m * pow10[e]
	case e < 0 && -e < len(pow10):
		return m / pow10[-e]
	}
	return m * math.Pow(10, float64(e))
}

// unitExp maps a hashrate unit to its power of ten.
func unitExp(u []byte) (int, bool) {
	switch string(u) {
	case "H/s", "h/s":
		return 0, true
	case "kH/s", "KH/s", "kh/s":
		return 3, true
	case "MH/s", "Mh/s":
		return 6, true
	case "GH/s", "Gh/s":
		return 9, true
	case "TH/s":
		return 12, true
	}
	return 0, false
}

// parseDiff parses a difficulty as XMRig prints it: "50", "43118K", "862M"
// (XMRig divides by 1000 or 1000000 and appends K or M).
func parseDiff(b []byte) (float64, bool) {
	exp := 0
	if len(b) > 1 {
		switch b[len(b)-1] {
		case 'K', 'k':
			exp = 3
		case 'M':
			exp = 6
		case 'G':
			exp = 9
		case 'T':
			exp = 12
		}
		if exp != 0 {
			b = b[:len(b)-1]
		}
	}
	v := parseDecimal(b)
	if !v.ok {
		return 0, false
	}
	return v.scaled(exp), true
}

// unquote drops the double quotes XMRig puts around error texts:
// `connect error: "connection refused"` -> `connect error: connection refused`.
func unquote(b []byte) string {
	s := string(b)
	if strings.IndexByte(s, '"') < 0 {
		return s
	}
	return strings.ReplaceAll(s, `"`, "")
}
