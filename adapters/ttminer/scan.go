package ttminer

import "math"

// Hand-written scanning helpers for the console and API parsers: no regexp
// and no allocation on the hot path.

// stripANSI appends line to dst without ANSI escape sequences: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \) and two-byte escapes.
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
			i += 2
		default:
			i++
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func digit(c byte) bool { return c >= '0' && c <= '9' }

func trimLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func trimSpace(b []byte) []byte { return trimRight(trimLeft(b)) }

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

// cutField returns the text up to the next run of two or more spaces (TT-Miner
// separates the fields of its statistics lines that way; a field such as
// "CClk:405.0 MHz-0%" contains single spaces) and the rest after the run.
func cutField(b []byte) (f, rest []byte) {
	b = trimLeft(b)
	for i := 0; i+1 < len(b); i++ {
		if isSpace(b[i]) && isSpace(b[i+1]) {
			return b[:i], trimLeft(b[i:])
		}
	}
	return trimRight(b), nil
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// index returns the first index of s in b, or -1.
func index(b []byte, s string) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	for i := 0; i+n <= len(b); i++ {
		if b[i] == s[0] && string(b[i:i+n]) == s {
			return i
		}
	}
	return -1
}

// containsFold reports whether b contains the lower-case ASCII string s,
// ignoring the case of b.
func containsFold(b []byte, s string) bool {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for j < n && lower(b[i+j]) == s[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// splitTime splits "HH:MM:SS rest" or "HH:MM:SS.mmm rest" into the
// timestamp text and the rest. Lines without a timestamp (TT-Miner's
// -notimestamp, continuation lines) are returned whole.
func splitTime(line []byte) (ts, rest []byte) {
	if len(line) < 8 || !digit(line[0]) || !digit(line[1]) || line[2] != ':' ||
		!digit(line[3]) || !digit(line[4]) || line[5] != ':' || !digit(line[6]) || !digit(line[7]) {
		return nil, line
	}
	n := 8
	if n < len(line) && line[n] == '.' {
		n++
		for n < len(line) && n < 13 && digit(line[n]) {
			n++
		}
	}
	if n < len(line) && !isSpace(line[n]) {
		return nil, line
	}
	return line[:n], trimLeft(line[n:])
}

// parseInt parses a non-negative decimal integer of at most 18 digits.
func parseInt(b []byte) (int64, bool) {
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
// unit scaling (kH/s, MH/s) adds no binary rounding noise.
type decimal struct {
	mant uint64
	frac int
	ok   bool
}

// parseDecimal parses "39.77", "0", "1234.5"; anything else is not ok.
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

// siExp maps a decimal SI prefix ("", k, M, G, T, P) to its power of ten.
func siExp(p []byte) (int, bool) {
	switch string(p) {
	case "":
		return 0, true
	case "k", "K":
		return 3, true
	case "M":
		return 6, true
	case "G":
		return 9, true
	case "T":
		return 12, true
	case "P":
		return 15, true
	}
	return 0, false
}

// quantity parses "<number> <prefix><unit>" (one space, as TT-Miner prints
// "21.50 MH/s", "1.310 kH", "405.0 MHz") or the same without the space, and
// returns the value scaled to the base unit. The unit must be one of units.
func quantity(b []byte, units ...string) (float64, bool) {
	i := 0
	for i < len(b) && (digit(b[i]) || b[i] == '.') {
		i++
	}
	num := parseDecimal(b[:i])
	if !num.ok {
		return 0, false
	}
	rest := b[i:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	for _, u := range units {
		if !hasSuffix(rest, u) {
			continue
		}
		if exp, ok := siExp(rest[:len(rest)-len(u)]); ok {
			return num.scaled(exp), true
		}
	}
	return 0, false
}
