package abi

import (
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON encoders for the hot results (parse_line's LineResult,
// parse_api's Stats). Inside a wasm guest, encoding/json's reflection cost
// about as much as parsing a batch of lines, ≈7× these encoders (see
// adapters/BENCH.md); they do no reflection and allocate only when the
// buffer grows.
//
// For every value encoding/json can marshal, the output is byte for byte
// what json.Marshal produces (same keys in the same order, omitempty
// honoured, nil pointers and nil slices as null, strings escaped the same
// way including <, >, &, U+2028, U+2029 and invalid UTF-8 as \ufffd,
// numbers formatted by the same ES6 rules). The one difference: json.Marshal
// fails on a NaN or an infinite float, while these encoders write null —
// "unknown", which is what such a value means in Stats. A key whose value
// is null decodes to a nil pointer whether or not the field has omitempty,
// so the result still decodes to the value json.Marshal would have given
// with those floats unset.
//
// Adding a field to LineResult, Event, Stats or Device means adding it
// here too; TestAppendJSONCoversAllFields fails until that is done.

// The encoders call one helper per field, which appends the key (a
// literal such as `,"time":`) and the value: in wasm, Go's code for an
// inline append of a literal is a few hundred bytes, and module size is
// what loading an adapter costs (see adapters/BENCH.md). The helpers that
// would be inlined are marked noinline for that reason.

// AppendJSON appends the JSON encoding of r to b and returns the extended
// buffer.
func (r *LineResult) AppendJSON(b []byte) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"events":`...)
	if r.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Events[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	if r.Stats != nil {
		b = append(b, `,"stats":`...)
		b = r.Stats.AppendJSON(b)
	}
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of e to b and returns the extended
// buffer.
func (e *Event) AppendJSON(b []byte) []byte {
	if e == nil {
		return append(b, "null"...)
	}
	b = appendStr(b, `{"type":`, e.Type, true)
	if e.Time != "" {
		b = appendStr(b, `,"time":`, e.Time, true)
	}
	if e.Message != "" {
		b = appendStr(b, `,"message":`, e.Message, true)
	}
	if e.Accepted != nil {
		b = appendInt(b, `,"accepted":`, *e.Accepted)
	}
	if e.Rejected != nil {
		b = appendInt(b, `,"rejected":`, *e.Rejected)
	}
	if e.Reason != "" {
		b = appendStr(b, `,"reason":`, e.Reason, true)
	}
	if e.Difficulty != nil {
		b = appendFloat(b, `,"difficulty":`, *e.Difficulty)
	}
	if e.LatencyMS != nil {
		b = appendFloat(b, `,"latency_ms":`, *e.LatencyMS)
	}
	if e.Pool != "" {
		b = appendStr(b, `,"pool":`, e.Pool, true)
	}
	if e.Algo != "" {
		b = appendStr(b, `,"algo":`, e.Algo, true)
	}
	if e.Height != nil {
		b = appendInt(b, `,"height":`, *e.Height)
	}
	if e.Donate {
		b = appendLit(b, `,"donate":true`)
	}
	if e.HashrateHS != nil {
		b = appendFloat(b, `,"hashrate_hs":`, *e.HashrateHS)
	}
	if e.Device != nil {
		b = appendLit(b, `,"device":`)
		b = e.Device.AppendJSON(b)
	}
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of s to b and returns the extended
// buffer.
func (s *Stats) AppendJSON(b []byte) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = appendFloatPtr(b, `{"hashrate_hs":`, s.HashrateHS)
	b = appendFloatPtr(b, `,"hashrate_60s_hs":`, s.Hashrate60sHS)
	b = appendFloatPtr(b, `,"hashrate_15m_hs":`, s.Hashrate15mHS)
	b = appendFloatPtr(b, `,"hashrate_max_hs":`, s.HashrateMaxHS)
	b = appendFloatPtr(b, `,"effective_hashrate_hs":`, s.EffectiveHashrateHS)
	b = appendFloatPtr(b, `,"effective_window_s":`, s.EffectiveWindowS)
	b = appendIntPtr(b, `,"accepted":`, s.Accepted)
	b = appendIntPtr(b, `,"rejected":`, s.Rejected)
	b = appendIntPtr(b, `,"stale":`, s.Stale)
	b = appendStr(b, `,"last_reject_reason":`, s.LastRejectReason, true)
	b = appendStr(b, `,"pool":`, s.Pool, true)
	b = appendBoolPtr(b, `,"pool_connected":`, s.PoolConnected)
	b = appendFloatPtr(b, `,"pool_ping_ms":`, s.PoolPingMS)
	b = appendFloatPtr(b, `,"difficulty":`, s.Difficulty)
	b = appendFloatPtr(b, `,"uptime_s":`, s.UptimeS)
	b = appendStr(b, `,"algorithm":`, s.Algorithm, true)
	b = appendStr(b, `,"version":`, s.Version, true)
	b = appendBoolPtr(b, `,"paused":`, s.Paused)
	b = appendLit(b, `,"devices":`)
	if s.Devices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range s.Devices {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.Devices[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	if s.HashrateReading {
		b = appendLit(b, `,"hashrate_reading":true`)
	}
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of d to b and returns the extended
// buffer.
func (d *Device) AppendJSON(b []byte) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	b = appendInt(b, `{"id":`, int64(d.ID))
	b = appendStr(b, `,"bus_id":`, d.BusID, true)
	b = appendStr(b, `,"name":`, d.Name, true)
	b = appendStr(b, `,"kind":`, d.Kind, true)
	b = appendFloatPtr(b, `,"hashrate_hs":`, d.HashrateHS)
	b = appendFloatPtr(b, `,"temp_c":`, d.TempC)
	b = appendFloatPtr(b, `,"fan_pct":`, d.FanPct)
	b = appendFloatPtr(b, `,"power_w":`, d.PowerW)
	b = appendIntPtr(b, `,"accepted":`, d.Accepted)
	b = appendIntPtr(b, `,"rejected":`, d.Rejected)
	b = appendIntPtr(b, `,"stale":`, d.Stale)
	if d.CoreClockMHz != nil {
		b = appendFloat(b, `,"core_clock_mhz":`, *d.CoreClockMHz)
	}
	if d.MemClockMHz != nil {
		b = appendFloat(b, `,"mem_clock_mhz":`, *d.MemClockMHz)
	}
	if d.VRAMFreeMiB != nil {
		b = appendFloat(b, `,"vram_free_mib":`, *d.VRAMFreeMiB)
	}
	return append(b, '}')
}

// appendLit appends the literal s.
//
//go:noinline
func appendLit(b []byte, s string) []byte { return append(b, s...) }

// appendInt appends key and n.
//
//go:noinline
func appendInt(b []byte, key string, n int64) []byte {
	return appendIntDigits(append(b, key...), n)
}

// appendFloatPtr appends key and *p, or null.
//
//go:noinline
func appendFloatPtr(b []byte, key string, p *float64) []byte {
	if p == nil {
		return append(append(b, key...), "null"...)
	}
	return appendFloat(b, key, *p)
}

// appendIntPtr appends key and *p, or null.
//
//go:noinline
func appendIntPtr(b []byte, key string, p *int64) []byte {
	b = append(b, key...)
	if p == nil {
		return append(b, "null"...)
	}
	return appendIntDigits(b, *p)
}

// appendBoolPtr appends key and *p, or null.
//
//go:noinline
func appendBoolPtr(b []byte, key string, p *bool) []byte {
	b = append(b, key...)
	switch {
	case p == nil:
		return append(b, "null"...)
	case *p:
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendFloat appends key and f formatted as encoding/json does (ES6
// number to string: %f between 1e-6 and 1e21, %e outside, shortest digits
// that round-trip), and NaN and ±Inf as null.
func appendFloat(b []byte, key string, f float64) []byte {
	b = append(b, key...)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	// Fast path for whole numbers (most counters and many rates): below
	// 1e15 every integer is exact and its shortest form is its digits.
	if abs < 1e15 && f == math.Trunc(f) && (f != 0 || !math.Signbit(f)) {
		if f < 0 {
			b = append(b, '-')
		}
		return appendUint(b, uint64(abs))
	}
	// Fast path for a few decimals (hashrates, temperatures): if n/10^k is
	// f for the smallest such k, those digits are the shortest form. Both
	// n and 10^k are exact, so the division is the correctly rounded value
	// of the decimal, which is what parsing it gives; below 1e11 the gap
	// between doubles is under 10^-4, so no other n of k decimals is f.
	// (n is abs·10^k rounded half up; where that is not the nearest
	// integer the check fails and the slow path decides.) Unrolled: a loop
	// iteration costs a guest as much as all of one k's arithmetic.
	if abs < 1e11 && abs >= 1e-4 {
		if n := math.Floor(abs*10 + 0.5); n/10 == abs {
			return appendDecimal(b, f < 0, uint64(n), 1)
		}
		if n := math.Floor(abs*100 + 0.5); n/100 == abs {
			return appendDecimal(b, f < 0, uint64(n), 2)
		}
		if n := math.Floor(abs*1000 + 0.5); n/1000 == abs {
			return appendDecimal(b, f < 0, uint64(n), 3)
		}
		if n := math.Floor(abs*10000 + 0.5); n/10000 == abs {
			return appendDecimal(b, f < 0, uint64(n), 4)
		}
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

var pow10u = [...]uint64{1, 10, 100, 1000, 10000}

// appendDecimal appends n/10^k with exactly k decimals (1 ≤ k ≤ 4).
func appendDecimal(b []byte, neg bool, n uint64, k int) []byte {
	if neg {
		b = append(b, '-')
	}
	p := pow10u[k]
	b = appendUint(b, n/p)
	// The fraction's k digits, leading zeros included: the last k of the
	// 8 digits digitWord writes.
	w := digitWord(n%p)>>(8*uint(8-k)) + 0x3030303030303030
	var buf [8]byte
	buf[0] = '.'
	buf[1], buf[2], buf[3], buf[4] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	return append(b, buf[:1+k]...)
}

// digitWord returns the 8 decimal digits of v < 10^8 (with leading zeros)
// as byte values 0-9, the most significant in the lowest byte, computed in
// parallel in the lanes of a uint64 (no loop, no division instruction).
func digitWord(v uint64) uint64 {
	x := v/10000 | v%10000<<32                // two 4-digit halves
	y := x * 10486 >> 20 & 0x0000007F0000007F // each half / 100
	x = (x-y*100)<<16 | y                     // 2-digit quarters
	y = x * 103 >> 10 & 0x000F000F000F000F    // each quarter / 10
	return (x-y*10)<<8 | y                    // digits
}

// appendUint is strconv.AppendUint(b, v, 10) without loops for v < 10^16.
func appendUint(b []byte, v uint64) []byte {
	if v >= 1e16 {
		return strconv.AppendUint(b, v, 10)
	}
	var lo uint64
	full := v >= 1e8
	if full {
		v, lo = v/1e8, v%1e8
	}
	w := digitWord(v)
	z := 7 // leading zero digits, for v == 0 all but one
	if w != 0 {
		z = bits.TrailingZeros64(w) >> 3
	}
	w = w>>(8*uint(z)) + 0x3030303030303030
	var buf [16]byte
	buf[0], buf[1], buf[2], buf[3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	buf[4], buf[5], buf[6], buf[7] = byte(w>>32), byte(w>>40), byte(w>>48), byte(w>>56)
	n := 8 - z
	if full {
		w = digitWord(lo) + 0x3030303030303030
		buf[n], buf[n+1], buf[n+2], buf[n+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		buf[n+4], buf[n+5], buf[n+6], buf[n+7] = byte(w>>32), byte(w>>40), byte(w>>48), byte(w>>56)
		n += 8
	}
	return append(b, buf[:n]...)
}

// appendIntDigits is strconv.AppendInt(b, n, 10).
func appendIntDigits(b []byte, n int64) []byte {
	if n < 0 {
		if n == math.MinInt64 {
			return strconv.AppendInt(b, n, 10)
		}
		b = append(b, '-')
		n = -n
	}
	return appendUint(b, uint64(n))
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that encoding/json writes as they are:
// jsonSafe[1] with HTML escaping (its htmlSafeSet: not a control character,
// '"', '\\', '<', '>' or '&'), jsonSafe[0] without (its safeSet).
var jsonSafe = func() (t [2][utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[0][c], t[1][c] = true, true
	}
	for _, c := range `"\` {
		t[0][c], t[1][c] = false, false
	}
	for _, c := range `<>&` {
		t[1][c] = false
	}
	return t
}()

// SWAR ("SIMD within a register") constants: one byte value repeated in
// each of the 8 bytes of a uint64.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// swarSpecial returns a mask whose lowest set bit is the high bit of the
// first byte of x (little endian) that appendString cannot copy as it is:
// a control character, '"', '\\', a non-ASCII byte and with html '<', '>'
// or '&'; 0 if there is none. (Bits above the lowest may be false
// positives.)
func swarSpecial(x uint64, html bool) uint64 {
	// A byte of v is zero where x has the byte c; (v-1)&^v&0x80 flags it
	// (the classic "has zero byte" test, exact for the lowest flag).
	q, bs := x^(swarOnes*'"'), x^(swarOnes*'\\')
	m := x | // non-ASCII
		(x-swarOnes*0x20)&^x | // < 0x20
		(q-swarOnes)&^q | (bs-swarOnes)&^bs
	// <, > and & only with html, without a branch (a taken branch costs an
	// exit in wasm).
	lt, gt, amp := x^(swarOnes*'<'), x^(swarOnes*'>'), x^(swarOnes*'&')
	m |= ((lt-swarOnes)&^lt | (gt-swarOnes)&^gt | (amp-swarOnes)&^amp) & -uint64(b2i(html))
	return m & swarHighs
}

// load8 returns the 8 bytes of s at i as a little-endian uint64 (one i64
// load once the compiler has combined the byte loads).
func load8(s string, i int) uint64 {
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// nextSpecial returns the index of the first byte at or after i that may
// need escaping (see swarSpecial; it may stop early at a safe byte, never
// late), or len(s). It reads 8 bytes at a time, the last window
// overlapping the previous one, so a string costs len/8+1 iterations.
func nextSpecial(s string, i int, html bool) int {
	if len(s) < 8 {
		safe := &jsonSafe[b2i(html)]
		for ; i < len(s) && safe[s[i]&0x7f] && s[i] < utf8.RuneSelf; i++ {
		}
		return i
	}
	for ; i+8 <= len(s); i += 8 {
		if m := swarSpecial(load8(s, i), html); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < len(s) {
		// The final 8 bytes; the flags of the bytes before i, already
		// seen, are shifted out.
		skip := 8 - (len(s) - i)
		if m := swarSpecial(load8(s, len(s)-8), html) >> (8 * skip); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i = len(s)
	}
	return i
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendString appends s as a JSON string, escaped exactly as json.Marshal
// escapes it (with HTML escaping).
func appendString(b []byte, s string) []byte { return appendStr(b, "", s, true) }

// AppendString appends s as a JSON string, escaped exactly as encoding/json
// escapes it: with escapeHTML as json.Marshal does (<, > and & as \u003c,
// \u003e, \u0026), without as an Encoder after SetEscapeHTML(false). Either
// way control characters, U+2028 and U+2029 are escaped and invalid UTF-8
// becomes \ufffd.
//
// Plain runs are skipped 8 bytes at a time: inside a wasm guest every loop
// iteration passes an interrupt check (a call out of the guest under
// wazero's WithCloseOnContextDone), so loop counts are what dominate.
func AppendString(b []byte, s string, escapeHTML bool) []byte { return appendStr(b, "", s, escapeHTML) }

// appendStr appends key and s as AppendString does. It copies s, then
// checks the copy 8 bytes at a time, inline (the last window overlapping
// what precedes it in b); only a string that needs escaping takes the
// slower loop, which writes it again. The copies are made without append
// (see reserve).
func appendStr(b []byte, key, s string, escapeHTML bool) []byte {
	b = reserve(b, len(key)+len(s)+2)
	n := len(b)
	at := n + len(key) + 1
	b = b[:at+len(s)]
	copy(b[n:], key)
	b[at-1] = '"'
	copy(b[at:], s)
	i := at
	for ; i+8 <= len(b); i += 8 {
		if swarSpecial(le64(b[i:]), escapeHTML) != 0 {
			goto escape
		}
	}
	if i < len(b) {
		if len(b) < 8 {
			goto escape // tiny: let the loop below decide
		}
		// Only the flags of s's last bytes count; those of the bytes
		// shifted out (the key's quote) cannot reach them.
		if swarSpecial(le64(b[len(b)-8:])>>(8*uint(i+8-len(b))), escapeHTML)&(1<<(8*uint(len(b)-i))-1) != 0 {
			goto escape
		}
	}
	b = b[:len(b)+1] // reserved
	b[len(b)-1] = '"'
	return b
escape:
	b = b[:at]
	return appendEscaped(b, s, escapeHTML)
}

// reserve returns b with room for n more bytes, to be written without
// append: in a wasm guest append costs an exit to the host even when it
// need not grow (its fast path jumps over the growing code), where this
// check's call is out of line.
func reserve(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		b = grown(b, n)
	}
	return b
}

//go:noinline
func grown(b []byte, n int) []byte { return append(b[:cap(b)], make([]byte, n)...)[:len(b)] }

// appendEscaped appends s escaped and the closing quote.
func appendEscaped(b []byte, s string, escapeHTML bool) []byte {
	safe := &jsonSafe[b2i(escapeHTML)]
	start := 0
	for i := 0; ; {
		if i = nextSpecial(s, i, escapeHTML); i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] { // a false positive of nextSpecial
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Other control characters, and <, > and &.
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid in JSON but not in JavaScript
		// source; encoding/json escapes them.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
