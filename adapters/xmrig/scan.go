package xmrig

import (
	"math/bits"
	"unsafe"

	"github.com/rigd/rigd/sdk"
)

// The console parser's own scanning helpers; the general ones (SWAR word
// scans, numbers, ANSI escapes) are the SDK's. In the wasm guest every
// loop iteration, taken branch and call costs an exit to the host, see
// package sdk.

// Flags of wordScan: the word has a '<' or a ':' after its first byte.
const (
	hasLT    = 1
	hasColon = 2
)

// wordScan returns the end of the word that starts at 0 in b (as
// sdk.WordEnd(b, 0)) and whether it has a '<' or a ':' after its first byte:
// the two questions message asks of a first word, in one pass.
func wordScan(b []byte) (end int, flags int) {
	skip := uint64(0xff) // the first byte does not count
	for i := 0; ; i += 8 {
		var x uint64
		if i+8 <= len(b) {
			x = sdk.Load64(b[i:])
		} else if i < len(b) {
			x = sdk.Tail64(b, i)
		} else {
			return len(b), flags
		}
		// Without branches (each taken one is an exit in wasm): the bytes
		// of the word in x (all of them if no separator), its '<' and ':'.
		sp := sdk.SpaceMask(x)
		in := (sp&-sp - 1) &^ skip
		skip = 0
		lt, colon := sdk.ByteMask(x, '<')&in, sdk.ByteMask(x, ':')&in
		flags |= int((lt|-lt)>>63)*hasLT | int((colon|-colon)>>63)*hasColon
		if sp != 0 {
			return i + bits.TrailingZeros64(sp)>>3, flags
		}
	}
}

// containsShort is bytes.Contains for a short string s (at most 8 bytes) in a
// short b, comparing a word at each candidate position of s's first byte.
func containsShort(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); {
		j := sdk.IndexByte(b[i:len(b)-len(s)+1], s[0])
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
	if !sdk.HasPrefix(msg, w) {
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
	if len(line) < 21 || line[0] != '[' || !sdk.IsDigit(line[1]) || line[5] != '-' || line[11] != ' ' || line[14] != ':' {
		return nil, line
	}
	n := 20 // "[YYYY-MM-DD HH:MM:SS"
	if line[n] == '.' {
		// Milliseconds, the usual case, without a loop.
		if len(line) > 24 && sdk.IsDigit(line[21]) && sdk.IsDigit(line[22]) && sdk.IsDigit(line[23]) && line[24] == ']' {
			return line[1:24], sdk.TrimLeft(line[25:])
		}
		n++
		for n < len(line) && n < 28 && sdk.IsDigit(line[n]) {
			n++
		}
	}
	if n >= len(line) || line[n] != ']' {
		return nil, line
	}
	return line[1:n], sdk.TrimLeft(line[n+1:])
}

func digitOrLetter(c byte) bool {
	return sdk.IsDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseInt parses an optionally '#'-prefixed non-negative sdk.Decimal integer.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '#' {
		b = b[1:]
	}
	return sdk.ParseUint(b)
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
	v := sdk.ParseDecimal(b)
	if !v.OK {
		return 0, false
	}
	return v.Scaled(exp), true
}

// unquote drops the double quotes XMRig puts around error texts:
// `connect error: "connection refused"` -> `connect error: connection refused`.
func unquote(b []byte) string {
	q := sdk.IndexByte(b, '"')
	if q < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b)-1)
	for q >= 0 {
		out = append(out, b[:q]...)
		b = b[q+1:]
		q = sdk.IndexByte(b, '"')
	}
	out = append(out, b...)
	return unsafe.String(unsafe.SliceData(out), len(out)) // out is not written again
}
