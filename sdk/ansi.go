package sdk

// StripANSI appends line to dst without ANSI escape sequences: CSI
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
func StripANSI(dst, line []byte) []byte {
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

// The states of StripANSI and the classes of bytes.
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

// stripANSISlow is StripANSI byte by byte, with OSC sequences.
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
