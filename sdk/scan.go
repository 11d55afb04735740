package sdk

import (
	"math"
	"math/bits"
)

// Byte scanning for console parsers: what the built-in adapters use to read
// miner output without regexp and without allocating.
//
// In a wasm guest each loop iteration, each taken branch and each call of
// a function that is not a leaf passes an interrupt check; under wazero's
// WithCloseOnContextDone, which rigd used before its own checks, each was
// an exit from the guest, as dear as about a hundred instructions. So these helpers read 8 bytes at a
// time ("SWAR": SIMD within a register) and their common cases (a word
// shorter than 8 bytes, one or two separating spaces, a number of up to 8
// digits) take no loop at all. The word primitives (Load64, Tail64,
// ByteMask, SpaceMask, DigitMask) are exported for adapters that need a
// scan of their own; a flag in a mask is the high bit of the byte's lane,
// lane 0 being the first byte.

// HighBits has the high bit of each of the 8 byte lanes of a word set.
const HighBits = 0x8080808080808080

const lowBits = 0x0101010101010101

// Tail64 returns the bytes of b from i, of which there must be fewer than
// 8, as a little-endian word padded with 0: inline, from the last 8 bytes
// of b, when b has 8.
func Tail64(b []byte, i int) uint64 {
	if len(b) >= 8 { // (a shift by 64 or more gives 0 when i >= len(b))
		return Load64(b[len(b)-8:]) >> (8 * uint(i+8-len(b)))
	}
	return tailWord(b, i)
}

// tailWord is Tail64 without a loop, out of line: a call costs as much as
// a loop iteration, so the helpers inline Load64 and call tailWord only
// for the last bytes of a short line.
//
//go:noinline
func tailWord(b []byte, i int) uint64 {
	if i >= len(b) {
		return 0
	}
	if len(b) >= 8 {
		return Load64(b[len(b)-8:]) >> (8 * uint(i+8-len(b)))
	}
	b = b[i:]
	var w uint64
	k := 0
	if len(b)&4 != 0 {
		w = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
		k = 4
	}
	if len(b)&2 != 0 {
		w |= (uint64(b[k]) | uint64(b[k+1])<<8) << (8 * k)
		k += 2
	}
	if len(b)&1 != 0 {
		w |= uint64(b[k]) << (8 * k)
	}
	return w
}

// ByteMask flags every byte of x equal to c, exactly.
func ByteMask(x uint64, c byte) uint64 {
	v := x ^ (lowBits * uint64(c))
	return ^((v&^HighBits + ^uint64(HighBits)) | v) & HighBits
}

// SpaceMask flags the separators of IsSpace: ' ', '\t', '\r'.
func SpaceMask(x uint64) uint64 { return ByteMask(x, ' ') | ByteMask(x, '\t') | ByteMask(x, '\r') }

// DigitMask flags the ASCII digits among the bytes of x.
func DigitMask(x uint64) uint64 {
	y := x &^ HighBits
	ge0 := (y + (0x80-'0')*lowBits) & HighBits
	gt9 := (y + (0x80-'9'-1)*lowBits) & HighBits
	return ge0 &^ gt9 &^ x
}

// firstBytes flags the first n (0..8) bytes.
func firstBytes(n int) uint64 {
	if n >= 8 {
		return HighBits
	}
	return HighBits & (1<<(8*uint(n)) - 1)
}

// IsSpace reports the separators of console output: ' ', '\t' and '\r'.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// IsDigit reports an ASCII digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// WordEnd returns the index of the first separator at or after i, or
// len(b). A word that ends within 8 bytes costs no loop iteration.
func WordEnd(b []byte, i int) int {
	if i+8 <= len(b) {
		if m := SpaceMask(Load64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		for i += 8; i+8 <= len(b); i += 8 {
			if m := SpaceMask(Load64(b[i:])); m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
		}
	}
	if m := SpaceMask(Tail64(b, i)); m != 0 {
		return i + bits.TrailingZeros64(m)>>3 // the 0 padding is not flagged
	}
	return len(b)
}

// SkipSpace returns the index of the first byte at or after i that is not
// a separator, or len(b); up to 8 separators cost no loop iteration.
func SkipSpace(b []byte, i int) int {
	if i >= len(b) || !IsSpace(b[i]) {
		return min(i, len(b))
	}
	if i+8 <= len(b) {
		if m := ^SpaceMask(Load64(b[i:])) & HighBits; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		for i += 8; i+8 <= len(b); i += 8 {
			if m := ^SpaceMask(Load64(b[i:])) & HighBits; m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
		}
	}
	if m := ^SpaceMask(Tail64(b, i)) & HighBits; m != 0 {
		return min(i+bits.TrailingZeros64(m)>>3, len(b)) // the 0 padding is flagged
	}
	return len(b)
}

// NextWord returns the bounds of the first word at or after i (after any
// separators); start == end == len(b) when there is none. Fewer than 8
// separators and a word shorter than 8 bytes, away from the end of b, cost
// this call and nothing more.
func NextWord(b []byte, i int) (start, end int) {
	if i+8 <= len(b) {
		if m := ^SpaceMask(Load64(b[i:])) & HighBits; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
		} else {
			i = SkipSpace(b, i+8)
		}
	} else {
		i = SkipSpace(b, i)
	}
	if i+8 <= len(b) {
		if m := SpaceMask(Load64(b[i:])); m != 0 {
			return i, i + bits.TrailingZeros64(m)>>3
		}
	}
	return i, WordEnd(b, i)
}

// IndexByte is bytes.IndexByte, 32 bytes per loop iteration (a console
// line is 2 to 4), then 8 at a time.
func IndexByte(b []byte, c byte) int {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		m0, m1 := ByteMask(Load64(b[i:]), c), ByteMask(Load64(b[i+8:]), c)
		m2, m3 := ByteMask(Load64(b[i+16:]), c), ByteMask(Load64(b[i+24:]), c)
		if m0|m1|m2|m3 != 0 {
			switch {
			case m0 != 0:
				return i + bits.TrailingZeros64(m0)>>3
			case m1 != 0:
				return i + 8 + bits.TrailingZeros64(m1)>>3
			case m2 != 0:
				return i + 16 + bits.TrailingZeros64(m2)>>3
			}
			return i + 24 + bits.TrailingZeros64(m3)>>3
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if m := ByteMask(Load64(b[i:]), c); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < len(b) {
		if m := ByteMask(Tail64(b, i), c); m != 0 {
			if j := i + bits.TrailingZeros64(m)>>3; j < len(b) {
				return j
			}
		}
	}
	return -1 // (past the end only the 0 padding can match, for c == 0)
}

// LastIndexByte is bytes.LastIndexByte, 8 bytes per step.
func LastIndexByte(b []byte, c byte) int {
	i := len(b) - 8
	for ; i >= 0; i -= 8 {
		if m := ByteMask(Load64(b[i:]), c); m != 0 {
			return i + (63-bits.LeadingZeros64(m))>>3
		}
	}
	if i > -8 {
		// The first len(b)%8 bytes, aligned as they would be at i.
		if m := ByteMask(tailWord(b[:i+8], 0)<<(8*uint(-i)), c); m != 0 {
			if j := i + (63-bits.LeadingZeros64(m))>>3; j >= 0 {
				return j
			}
		}
	}
	return -1
}

// TrimLeft returns b without leading separators.
func TrimLeft(b []byte) []byte { return b[SkipSpace(b, 0):] }

// TrimRight returns b without trailing separators.
func TrimRight(b []byte) []byte {
	for len(b) > 0 && IsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// TrimSpace returns b without leading and trailing separators.
func TrimSpace(b []byte) []byte {
	if len(b) > 0 && IsSpace(b[0]) {
		b = TrimLeft(b)
	}
	return TrimRight(b)
}

// HasPrefix is bytes.HasPrefix for a string prefix.
func HasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// HasSuffix is bytes.HasSuffix for a string suffix.
func HasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// A Prefix is a string of at most 16 bytes (none of them NUL) prepared
// for comparing with the start of a line as two words: no call and no
// loop, where HasPrefix costs a wasm guest a call of runtime.memequal for
// any string over 6 bytes.
//
//	var newJob = sdk.MakePrefix("new job from ")
//	w0, w1 := sdk.Head16(msg)
//	if newJob.Of(w0, w1) { ... }
type Prefix struct {
	w, m [2]uint64 // the bytes and the mask of their lanes
	n    int
}

// MakePrefix prepares s; it panics if s is longer than 16 bytes or holds
// a NUL (Head16's padding would match it).
func MakePrefix(s string) Prefix {
	if len(s) > 16 || IndexByte([]byte(s), 0) >= 0 {
		panic("sdk.MakePrefix: more than 16 bytes or a NUL: " + s)
	}
	var p Prefix
	for i := 0; i < len(s); i++ {
		p.w[i/8] |= uint64(s[i]) << (8 * (i % 8))
		p.m[i/8] |= 0xff << (8 * (i % 8))
	}
	p.n = len(s)
	return p
}

// Len is the length of the prefix.
func (p Prefix) Len() int { return p.n }

// Of reports whether the line whose first 16 bytes (Head16) are w0, w1
// starts with p. A line shorter than p does not: its padding is NUL.
func (p Prefix) Of(w0, w1 uint64) bool {
	return (w0^p.w[0])&p.m[0]|(w1^p.w[1])&p.m[1] == 0
}

// Head16 returns the first 16 bytes of b as two little-endian words,
// padded with NUL past len(b). A caller with a hot path can load them
// itself when len(b) >= 16 (Load64(b), Load64(b[8:])) and call Head16
// only for shorter lines.
func Head16(b []byte) (w0, w1 uint64) {
	if len(b) >= 16 {
		return Load64(b), Load64(b[8:])
	}
	if len(b) > 8 {
		return Load64(b), tailWord(b, 8)
	}
	return tailWord(b, 0), 0
}

// token8 returns the n (at most 8) bytes of b as a word padded with 0:
// read from b's capacity (normally the rest of the line) when it has 8.
func token8(b []byte) uint64 {
	if cap(b) >= 8 {
		return Load64(b[:8]) & (1<<(8*uint(len(b))) - 1 | -(uint64(len(b)) >> 3))
	}
	return tailWord(b, 0)
}

// digits8 returns the value of the n (1..8) ASCII digits in the low bytes
// of x (first digit lowest): the classic SWAR conversion, after moving the
// digits to the top so that the missing ones are leading zeros.
func digits8(x uint64, n int) uint64 {
	x -= 0x3030303030303030
	x <<= 8 * uint(8-n)
	x = x*10 + x>>8
	x = (x&0x000000FF000000FF)*(100+1000000<<32) + (x>>16&0x000000FF000000FF)*(1+10000<<32)
	return x >> 32
}

// ParseUint parses a non-negative decimal integer of 1 to 18 digits (no
// sign, no separators); up to 8 digits take no loop.
func ParseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	if len(b) <= 8 {
		x := token8(b)
		if DigitMask(x)&firstBytes(len(b)) != firstBytes(len(b)) {
			return 0, false
		}
		return int64(digits8(x, len(b))), true
	}
	var n int64
	for _, c := range b {
		if !IsDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Decimal is a parsed decimal number Mant * 10^-Frac, kept exact so that
// scaling by a unit (kH/s, MH/s) adds no binary rounding noise.
type Decimal struct {
	Mant uint64
	Frac int
	OK   bool // the text was a number
}

// ParseDecimal parses "39.77", "0", "1234.5" (up to 19 bytes, digits and at
// most one '.'); "n/a" and anything else is not OK. Up to 8 bytes take no
// loop.
func ParseDecimal(b []byte) Decimal {
	var d Decimal
	if len(b) == 0 || len(b) > 19 {
		return d
	}
	if len(b) <= 8 {
		n := len(b)
		var x uint64 // as token8, inline
		if cap(b) >= 8 {
			x = Load64(b[:8]) & (1<<(8*uint(n)) - 1 | -(uint64(n) >> 3))
		} else {
			x = tailWord(b, 0)
		}
		first := firstBytes(n)
		dot := ByteMask(x, '.') & first
		hasDot := int((dot | -dot) >> 63)
		// Digits and at most one '.', not the '.' alone.
		if (DigitMask(x)|dot)&first != first || dot&(dot-1) != 0 || n == hasDot {
			return d
		}
		// Drop the '.' without a branch: the bytes after it move down one
		// (with no '.', p is 8 and below is every byte).
		p := bits.TrailingZeros64(dot) >> 3
		below := uint64(1)<<(8*uint(p)) - 1
		x = x&below | x>>8&^below
		n -= hasDot
		d.Frac = (n - p) * hasDot
		d.Mant, d.OK = digits8(x, n), true
		return d
	}
	seenDot, digits := false, 0
	for _, c := range b {
		switch {
		case IsDigit(c):
			d.Mant = d.Mant*10 + uint64(c-'0')
			digits++
			if seenDot {
				d.Frac++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return Decimal{}
		}
	}
	d.OK = digits > 0
	return d
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Scaled returns the value times 10^exp.
func (d Decimal) Scaled(exp int) float64 {
	e := exp - d.Frac
	m := float64(d.Mant)
	switch {
	case e >= 0 && e < len(pow10):
		return m * pow10[e]
	case e < 0 && -e < len(pow10):
		return m / pow10[-e]
	}
	return m * math.Pow(10, float64(e))
}
