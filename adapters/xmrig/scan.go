package xmrig

import (
	"math"
	"math/bits"
	"unsafe"
)

// Hand-written scanning helpers for the console parser: no regexp and no
// allocation on the hot path.
//
// In the wasm guest (wazero with WithCloseOnContextDone) every loop
// iteration and every call of a function that is not a leaf costs an exit
// from the guest, about as much as a hundred instructions. So the helpers
// read 8 bytes at a time ("SWAR": SIMD within a register) and the common
// cases (a word shorter than 8 bytes, one or two separating spaces) take
// no loop at all.

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

// Flags of wordScan: the word has a '<' or a ':' after its first byte.
const (
	hasLT    = 1
	hasColon = 2
)

// wordScan returns the end of the word that starts at 0 in b (as
// wordEnd(b, 0)) and whether it has a '<' or a ':' after its first byte:
// the two questions message asks of a first word, in one pass.
func wordScan(b []byte) (end int, flags int) {
	for i := 0; ; i += 8 {
		var x uint64
		switch {
		case i+8 <= len(b):
			x = le64(b[i:])
		case i < len(b):
			x = tail(b, i)
		default:
			return len(b), flags
		}
		sp := spaceMask(x)
		in := ^uint64(0) // the bytes of the word in x
		if sp != 0 {
			in = sp&-sp - 1
		}
		if i == 0 {
			in &^= 0xff // not the first byte
		}
		if eqMask(x, '<')&in != 0 {
			flags |= hasLT
		}
		if eqMask(x, ':')&in != 0 {
			flags |= hasColon
		}
		if sp != 0 {
			return i + bits.TrailingZeros64(sp)>>3, flags
		}
	}
}

// nextWord returns the bounds of the first word at or after i (after any
// separators); start == end == len(b) when there is none. Fewer than 8
// separators and a word shorter than 8 bytes, away from the end of b, cost
// this call and nothing more.
func nextWord(b []byte, i int) (start, end int) {
	if i+8 <= len(b) {
		if m := ^spaceMask(le64(b[i:])) & swarHighs; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
		} else {
			i = skipSpace(b, i+8)
		}
	} else {
		i = skipSpace(b, i)
	}
	if i+8 <= len(b) {
		if m := spaceMask(le64(b[i:])); m != 0 {
			return i, i + bits.TrailingZeros64(m)>>3
		}
	}
	return i, wordEnd(b, i)
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

// lastIndexByte is bytes.LastIndexByte, 8 bytes per step.
func lastIndexByte(b []byte, c byte) int {
	i := len(b) - 8
	for ; i >= 0; i -= 8 {
		if m := eqMask(le64(b[i:]), c); m != 0 {
			return i + (63-bits.LeadingZeros64(m))>>3
		}
	}
	if i > -8 {
		// The first len(b)%8 bytes, aligned as they would be at i.
		if m := eqMask(tailWord(b, 0)<<(8*uint(-i)), c); m != 0 {
			if j := i + (63-bits.LeadingZeros64(m))>>3; j >= 0 {
				return j
			}
		}
	}
	return -1
}

func trimLeft(b []byte) []byte { return b[skipSpace(b, 0):] }

func trimSpace(b []byte) []byte {
	if len(b) > 0 && isSpace(b[0]) {
		b = trimLeft(b)
	}
	if len(b) > 0 && isSpace(b[len(b)-1]) {
		for len(b) > 0 && isSpace(b[len(b)-1]) {
			b = b[:len(b)-1]
		}
	}
	return b
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// containsShort is bytes.Contains for a short string s (at most 8 bytes) in a
// short b, comparing a word at each candidate position of s's first byte.
func containsShort(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); {
		j := indexByte(b[i:len(b)-len(s)+1], s[0])
		if j < 0 {
			return false
		}
		if string(b[i+j:i+j+len(s)]) == s {
			return true
		}
		i += j + 1
	}
	return false
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

// splitTime splits "[2021-11-28 12:09:05.552] rest" (or without
// milliseconds) into the timestamp text and the rest. Lines without a
// timestamp are returned whole.
func splitTime(line []byte) (ts, rest []byte) {
	if len(line) < 21 || line[0] != '[' || !digit(line[1]) || line[5] != '-' || line[11] != ' ' || line[14] != ':' {
		return nil, line
	}
	n := 20 // "[YYYY-MM-DD HH:MM:SS"
	if line[n] == '.' {
		// Milliseconds, the usual case, without a loop.
		if len(line) > 24 && digit(line[21]) && digit(line[22]) && digit(line[23]) && line[24] == ']' {
			return line[1:24], trimLeft(line[25:])
		}
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

// parseInt parses an optionally '#'-prefixed non-negative decimal integer.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '#' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	if len(b) <= 8 {
		// The token's bytes padded with 0, read from its slice's capacity
		// (the rest of the line) when there are 8.
		var x uint64
		if cap(b) >= 8 {
			x = le64(b[:8]) & (1<<(8*uint(len(b))) - 1 | -(uint64(len(b)) >> 3))
		} else {
			x = tailWord(b, 0)
		}
		if digitsMask(x)&lowBytes(len(b)) != lowBytes(len(b)) {
			return 0, false
		}
		return int64(digits8(x, len(b))), true
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
	q := indexByte(b, '"')
	if q < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b)-1)
	for q >= 0 {
		out = append(out, b[:q]...)
		b = b[q+1:]
		q = indexByte(b, '"')
	}
	out = append(out, b...)
	return unsafe.String(unsafe.SliceData(out), len(out)) // out is not written again
}
