package ttminer

import (
	"math"
	"math/bits"
)

// Hand-written scanning helpers for the console and API parsers: no regexp
// and no allocation on the hot path.

// In the wasm guest (wazero with WithCloseOnContextDone) every loop
// iteration, every call and every taken branch (Go's wasm code jumps
// between basic blocks through a dispatch loop) costs an exit from the
// guest, as much as a hundred instructions. So the helpers read 8 bytes at
// a time ("SWAR": SIMD within a register), and the common cases take no
// loop at all.

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// le64 returns the first 8 bytes of b as a little-endian word (one i64
// load in wasm). It is small enough to be inlined, unlike any function
// that also handles the end of b: a call costs as much as a loop
// iteration, so the helpers below inline le64 and call tailWord only for
// the last bytes of a line.
func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// tail returns the bytes of b from i (fewer than 8) as a little-endian word
// padded with 0: from the last 8 bytes of b, inline, when b has 8.
func tail(b []byte, i int) uint64 {
	if len(b) >= 8 && i < len(b) {
		return le64(b[len(b)-8:]) >> (8 * uint(i+8-len(b)))
	}
	return tailWord(b, i)
}

// tailWord returns the bytes of b from i (fewer than 8) as a little-endian
// word padded with 0, without a loop.
//
//go:noinline
func tailWord(b []byte, i int) uint64 {
	if i >= len(b) {
		return 0
	}
	if len(b) >= 8 {
		return le64(b[len(b)-8:]) >> (8 * uint(i+8-len(b)))
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

// eqMask flags (high bit of the byte) every byte of x equal to c, exactly.
func eqMask(x uint64, c byte) uint64 {
	v := x ^ (swarOnes * uint64(c))
	return ^((v&^swarHighs + ^uint64(swarHighs)) | v) & swarHighs
}

// spaceMask flags the separators of isSpace: ' ', '\t', '\r'.
func spaceMask(x uint64) uint64 { return eqMask(x, ' ') | eqMask(x, '\t') | eqMask(x, '\r') }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// wordEnd returns the index of the first separator at or after i, or
// len(b). A word that ends within 8 bytes costs no loop iteration.
func wordEnd(b []byte, i int) int {
	if i+8 <= len(b) {
		if m := spaceMask(le64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		for i += 8; i+8 <= len(b); i += 8 {
			if m := spaceMask(le64(b[i:])); m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
		}
	}
	if m := spaceMask(tail(b, i)); m != 0 {
		return i + bits.TrailingZeros64(m)>>3 // the 0 padding is not flagged
	}
	return len(b)
}

// indexByte is bytes.IndexByte, 32 bytes per loop iteration (a line is
// 2 to 4), then 8 at a time.
func indexByte(b []byte, c byte) int {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		m0, m1 := eqMask(le64(b[i:]), c), eqMask(le64(b[i+8:]), c)
		m2, m3 := eqMask(le64(b[i+16:]), c), eqMask(le64(b[i+24:]), c)
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
		if m := eqMask(le64(b[i:]), c); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < len(b) {
		var x uint64
		if len(b) >= 8 {
			x = le64(b[len(b)-8:]) >> (8 * uint(i+8-len(b))) // the last bytes, inline
		} else {
			x = tailWord(b, i)
		}
		if m := eqMask(x, c); m != 0 {
			if j := i + bits.TrailingZeros64(m)>>3; j < len(b) {
				return j
			}
		}
	}
	return -1 // (past the end only the 0 padding can match, for c == 0)
}

// stripANSI appends line to dst without ANSI escape sequences: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), charset
// designations (ESC ( B) and other two-byte escapes.
//
// A coloured XMRig line has a dozen escapes. In the wasm guest every taken
// branch costs an exit to the host (Go's wasm code jumps between basic
// blocks through a dispatch loop), so this runs a small state machine over
// 8 bytes per loop iteration without branches: each byte's class and the
// state give, from a table, the next state and whether the byte is kept,
// and a kept byte is written by advancing the output index. An OSC
// sequence, which none of the miners print, takes stripANSISlow.
func stripANSI(dst, line []byte) []byte {
	n := len(dst)
	dst = append(dst, line...) // room for the result, overwritten below
	out := dst[n:]
	st, bad := uint8(0), uint8(0)
	k := 0 // bytes written to out
	i := 0
	for ; i+8 <= len(line); i += 8 {
		w := line[i : i+8 : i+8]
		e := ansiNext[(st<<3|ansiClass[w[0]])&63]
		out[k] = w[0]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[1]])&63]
		out[k] = w[1]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[2]])&63]
		out[k] = w[2]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[3]])&63]
		out[k] = w[3]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[4]])&63]
		out[k] = w[4]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[5]])&63]
		out[k] = w[5]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[6]])&63]
		out[k] = w[6]
		k, st, bad = k+int(e>>4), e&7, bad|e
		e = ansiNext[(st<<3|ansiClass[w[7]])&63]
		out[k] = w[7]
		k, st, bad = k+int(e>>4), e&7, bad|e
	}
	for ; i < len(line); i++ {
		e := ansiNext[(st<<3|ansiClass[line[i]])&63]
		out[k] = line[i]
		k, st, bad = k+int(e>>4), e&7, bad|e
	}
	if bad&ansiOSC != 0 {
		return stripANSISlow(dst[:n], line)
	}
	return dst[:n+k]
}

// The states of stripANSI and the classes of bytes.
const (
	ansText    = iota // text: bytes are kept
	ansESC            // after ESC
	ansCSI            // in a CSI sequence, until a final byte (0x40-0x7e)
	ansCharset        // the byte after ESC ( and the like
	ansOSC            // ESC ]: stripANSISlow handles it

	clsOther   = 0
	clsESC     = 1
	clsCSI     = 2 // '[': also a final byte
	clsCharset = 3 // ( ) * + # %
	clsFinal   = 4 // 0x40-0x7e other than [ and ]
	clsOSC     = 5 // ']': also a final byte

	ansiOSC = 8 // flag in ansiNext: an OSC was seen
)

// ansiClass is the class of each byte.
var ansiClass = func() (t [256]uint8) {
	for c := 0x40; c <= 0x7e; c++ {
		t[c] = clsFinal
	}
	t[0x1b], t['['], t[']'] = clsESC, clsCSI, clsOSC
	for _, c := range "()*+#%" {
		t[c] = clsCharset
	}
	return t
}()

// ansiNext[state<<3|class] is the next state, ansiOSC if that is an OSC,
// and 1<<4 if the byte is kept.
var ansiNext = func() (t [64]uint8) {
	const keep = 1 << 4
	for cls := range 8 {
		t[ansText<<3|cls] = ansText | keep
		t[ansESC<<3|cls] = ansText // a two-byte escape
		t[ansCSI<<3|cls] = ansCSI
		t[ansCharset<<3|cls] = ansText
		t[ansOSC<<3|cls] = ansOSC | ansiOSC
	}
	t[ansText<<3|clsESC] = ansESC
	t[ansESC<<3|clsCSI] = ansCSI
	t[ansESC<<3|clsCharset] = ansCharset
	t[ansESC<<3|clsOSC] = ansOSC | ansiOSC
	t[ansCSI<<3|clsCSI] = ansText
	t[ansCSI<<3|clsFinal] = ansText
	t[ansCSI<<3|clsOSC] = ansText
	return t
}()

// stripANSISlow is stripANSI byte by byte, with OSC sequences.
func stripANSISlow(dst, line []byte) []byte {
	for i := 0; i < len(line); i++ {
		if line[i] != 0x1b {
			dst = append(dst, line[i])
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
		default:
			i = otherEscape(line, i) - 1
		}
	}
	return dst
}

// otherEscape returns where the escape at e (not CSI) ends: after an OSC
// (ESC ] ... BEL or ESC \), a charset designation (ESC ( B) or another
// two-byte escape.
func otherEscape(line []byte, e int) int {
	p := e + 2
	switch line[e+1] {
	case ']':
		for p < len(line) && line[p] != 0x07 && !(line[p] == 0x1b && p+1 < len(line) && line[p+1] == '\\') {
			p++
		}
		if p < len(line) && line[p] == 0x1b {
			p++
		}
		p++
	case '(', ')', '*', '+', '#', '%':
		p++ // charset designation: ESC ( B
	}
	return p
}

// skipSpace returns the index of the first byte at or after i that is not
// a separator, or len(b); up to 8 separators cost no loop iteration.
func skipSpace(b []byte, i int) int {
	if i >= len(b) || !isSpace(b[i]) {
		return min(i, len(b))
	}
	if i+8 <= len(b) {
		if m := ^spaceMask(le64(b[i:])) & swarHighs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		for i += 8; i+8 <= len(b); i += 8 {
			if m := ^spaceMask(le64(b[i:])) & swarHighs; m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
		}
	}
	if m := ^spaceMask(tail(b, i)) & swarHighs; m != 0 {
		return min(i+bits.TrailingZeros64(m)>>3, len(b)) // the 0 padding is flagged
	}
	return len(b)
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

func trimLeft(b []byte) []byte { return b[skipSpace(b, 0):] }

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
	if i := wordEnd(b, 0); i < len(b) {
		return b[:i], b[i:]
	}
	return b, nil
}

// cutField returns the text up to the next run of two or more spaces (TT-Miner
// separates the fields of its statistics lines that way; a field such as
// "CClk:405.0 MHz-0%" contains single spaces) and the rest after the run.
func cutField(b []byte) (f, rest []byte) {
	b = trimLeft(b)
	// Each step reads 8 bytes at i and at i+1: a separator in both is the
	// start of a run of two. (The 0 padding is not a separator.)
	for i := 0; i+1 < len(b); i += 8 {
		var x, y uint64
		if i+9 <= len(b) {
			x, y = le64(b[i:]), le64(b[i+1:])
		} else {
			x, y = tail(b, i), tail(b, i+1)
		}
		if m := spaceMask(x) & spaceMask(y); m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			return b[:j], trimLeft(b[j:])
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
			x = le64(b[i:])
		} else {
			x = tail(b, i)
		}
		for m := eqMask(lowerWord(x), c); m != 0; m &= m - 1 {
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
			x = le64(b[j+k:])
		} else {
			x = tail(b, j+k)
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
	y := x &^ swarHighs
	upper := (y + (0x80-'A')*swarOnes) &^ (y + (0x80-'Z'-1)*swarOnes) &^ x & swarHighs
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

// digitsMask flags the ASCII digits among the bytes of x.
func digitsMask(x uint64) uint64 {
	y := x &^ swarHighs
	ge0 := (y + (0x80-'0')*swarOnes) & swarHighs
	gt9 := (y + (0x80-'9'-1)*swarOnes) & swarHighs
	return ge0 &^ gt9 &^ x
}

// lowBytes flags the high bits of the first n (0..8) bytes.
func lowBytes(n int) uint64 {
	if n >= 8 {
		return swarHighs
	}
	return swarHighs & (1<<(8*uint(n)) - 1)
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

// parseDecimal parses "39.77", "0", "1234.5"; "n/a" and anything else is
// not ok.
func parseDecimal(b []byte) decimal {
	var d decimal
	if len(b) == 0 || len(b) > 19 {
		return d
	}
	if len(b) <= 8 {
		// Digits and at most one '.', without a loop.
		n := len(b)
		var x uint64 // the token's bytes padded with 0, as in parseInt
		if cap(b) >= 8 {
			x = le64(b[:8]) & (1<<(8*uint(n)) - 1 | -(uint64(n) >> 3))
		} else {
			x = tailWord(b, 0)
		}
		dot := eqMask(x, '.') & lowBytes(n)
		if (digitsMask(x)|dot)&lowBytes(n) != lowBytes(n) || dot&(dot-1) != 0 {
			return d
		}
		if dot != 0 {
			p := bits.TrailingZeros64(dot) >> 3
			if n == 1 {
				return d // "." alone has no digit
			}
			// Drop the '.': the bytes after it move down one.
			below := uint64(1)<<(8*uint(p)) - 1
			x = x&below | x>>8&^below
			n--
			d.frac = n - p
		}
		d.mant, d.ok = digits8(x, n), true
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
