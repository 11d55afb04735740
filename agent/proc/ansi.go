package proc

import "bytes"

const esc = 0x1b

// StripANSI returns b without terminal escape sequences: CSI (ESC [ … final
// byte), OSC (ESC ] … BEL or ESC \), DCS/SOS/PM/APC (ESC P|X|^|_ … ESC \),
// nF sequences (ESC, intermediate bytes, final byte) and two-byte escapes.
// An unterminated sequence at the end is dropped. Other bytes, including
// invalid UTF-8 and NUL, are kept.
//
// When b holds no ESC byte, StripANSI returns b itself without allocating;
// otherwise it returns a new slice and leaves b unchanged.
func StripANSI(b []byte) []byte {
	if bytes.IndexByte(b, esc) < 0 {
		return b
	}
	return appendStripped(make([]byte, 0, len(b)), b)
}

// appendStripped appends b without escape sequences to dst.
func appendStripped(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, esc)
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		b = skipEscape(b[i+1:])
	}
}

// skipEscape returns what follows the escape sequence whose ESC byte has
// already been consumed; b starts right after the ESC.
func skipEscape(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	switch c := b[0]; {
	case c == '[': // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E.
		for j := 1; j < len(b); j++ {
			switch d := b[j]; {
			case d >= 0x40 && d <= 0x7e:
				return b[j+1:]
			case d < 0x20 || d > 0x7e:
				// Malformed: end the sequence and keep the odd byte.
				return b[j:]
			}
		}
		return nil
	case c == ']': // OSC: ends with BEL or ST (ESC \).
		for j := 1; j < len(b); j++ {
			switch b[j] {
			case 0x07:
				return b[j+1:]
			case esc:
				if j+1 < len(b) && b[j+1] == '\\' {
					return b[j+2:]
				}
				return b[j:] // a new sequence starts; this one was cut short
			}
		}
		return nil
	case c == 'P' || c == 'X' || c == '^' || c == '_': // DCS, SOS, PM, APC: end with ST.
		for j := 1; j < len(b); j++ {
			if b[j] == esc {
				if j+1 < len(b) && b[j+1] == '\\' {
					return b[j+2:]
				}
				return b[j:]
			}
		}
		return nil
	case c >= 0x20 && c <= 0x2f: // nF: intermediates, then a final byte 0x30–0x7E.
		j := 1
		for j < len(b) && b[j] >= 0x20 && b[j] <= 0x2f {
			j++
		}
		if j < len(b) && b[j] >= 0x30 && b[j] <= 0x7e {
			return b[j+1:]
		}
		return b[j:]
	case c >= 0x30 && c <= 0x7e: // Fp, Fe, Fs: two-byte sequences.
		return b[1:]
	default: // ESC before a control or a high byte: drop the ESC alone.
		return b
	}
}
