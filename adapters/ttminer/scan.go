package ttminer

import (
	"math/bits"

	"github.com/rigd/rigd/sdk"
)

// The parsers' own scanning helpers; the general ones (SWAR word scans,
// numbers, ANSI escapes) are the SDK's. In the wasm guest every loop
// iteration, taken branch and call costs an exit to the host, see package
// sdk.

// cutWord returns the first space-separated word of b and the rest after it
// (starting at the separator).
func cutWord(b []byte) (w, rest []byte) {
	if i := sdk.WordEnd(b, 0); i < len(b) {
		return b[:i], b[i:]
	}
	return b, nil
}

// cutField returns the text up to the next run of two or more spaces (TT-Miner
// separates the fields of its statistics lines that way; a field such as
// "CClk:405.0 MHz-0%" contains single spaces) and the rest after the run.
func cutField(b []byte) (f, rest []byte) {
	b = sdk.TrimLeft(b)
	// Each step reads 8 bytes at i and at i+1: a separator in both is the
	// start of a run of two. (The 0 padding is not a separator.)
	for i := 0; i+1 < len(b); i += 8 {
		var x, y uint64
		if i+9 <= len(b) {
			x, y = sdk.Load64(b[i:]), sdk.Load64(b[i+1:])
		} else {
			x, y = sdk.Tail64(b, i), sdk.Tail64(b, i+1)
		}
		if m := sdk.SpaceMask(x) & sdk.SpaceMask(y); m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			return b[:j], sdk.TrimLeft(b[j:])
		}
	}
	return sdk.TrimRight(b), nil
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
// ignoring the case of b. It looks, 8 bytes at a time, for the rarest
// letter of s (an 'e' would match often) and compares s there a word at a
// time.
func containsFold(b []byte, s string) bool {
	n := len(s)
	if n == 0 {
		return true
	}
	if n > len(b) {
		return false
	}
	a := anchor(s)
	c := s[a]
	for i := a; i <= len(b)-n+a; i += 8 {
		var x uint64
		if i+8 <= len(b) {
			x = sdk.Load64(b[i:])
		} else {
			x = sdk.Tail64(b, i)
		}
		for m := sdk.ByteMask(lowerWord(x), c); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3 - a // where s would start
			if j > len(b)-n {
				return false
			}
			if foldEqualAt(b, j, s) {
				return true
			}
		}
	}
	return false
}

// anchor returns the index of the byte of s that is rarest in text.
func anchor(s string) int {
	best, rank := 0, 256
	for i := 0; i < len(s); i++ {
		if r := int(letterRank[s[i]]); r < rank {
			best, rank = i, r
		}
	}
	return best
}

// letterRank orders bytes by how common they are in English text (rare
// letters first); anything else ranks 0, as rarer still.
var letterRank = func() (t [256]uint8) {
	for i, c := range "qjzxkvbpygfwmucldrhsnioate " {
		t[c] = uint8(1 + i)
	}
	return t
}()

// foldEqualAt reports whether b[j:j+len(s)], lower-cased, is s.
func foldEqualAt(b []byte, j int, s string) bool {
	for k := 0; k < len(s); k += 8 {
		var x uint64
		if j+k+8 <= len(b) {
			x = sdk.Load64(b[j+k:])
		} else {
			x = sdk.Tail64(b, j+k)
		}
		var w uint64 // s[k:k+8], padded with 0
		for l := min(len(s), k+8) - 1; l >= k; l-- {
			w = w<<8 | uint64(s[l])
		}
		n := min(8, len(s)-k)
		mask := ^uint64(0)
		if n < 8 {
			mask = 1<<(8*uint(n)) - 1
		}
		if (lowerWord(x)^w)&mask != 0 {
			return false
		}
	}
	return true
}

// lowerWord lower-cases the ASCII letters among the bytes of x.
func lowerWord(x uint64) uint64 {
	y := x &^ sdk.HighBits
	upper := (y + (0x80-'A')*0x0101010101010101) &^ (y + (0x80-'Z'-1)*0x0101010101010101) &^ x & sdk.HighBits
	return x | upper>>2
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
	if len(line) < 8 || !sdk.IsDigit(line[0]) || !sdk.IsDigit(line[1]) || line[2] != ':' ||
		!sdk.IsDigit(line[3]) || !sdk.IsDigit(line[4]) || line[5] != ':' || !sdk.IsDigit(line[6]) || !sdk.IsDigit(line[7]) {
		return nil, line
	}
	n := 8
	if n < len(line) && line[n] == '.' {
		n++
		for n < len(line) && n < 13 && sdk.IsDigit(line[n]) {
			n++
		}
	}
	if n < len(line) && !sdk.IsSpace(line[n]) {
		return nil, line
	}
	return line[:n], sdk.TrimLeft(line[n:])
}

// siExp maps a sdk.Decimal SI prefix ("", k, M, G, T, P) to its power of ten.
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
	for i < len(b) && (sdk.IsDigit(b[i]) || b[i] == '.') {
		i++
	}
	num := sdk.ParseDecimal(b[:i])
	if !num.OK {
		return 0, false
	}
	rest := b[i:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	for _, u := range units {
		if !sdk.HasSuffix(rest, u) {
			continue
		}
		if exp, ok := siExp(rest[:len(rest)-len(u)]); ok {
			return num.Scaled(exp), true
		}
	}
	return 0, false
}
