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
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	if e.Time != "" {
		b = append(b, `,"time":`...)
		b = appendString(b, e.Time)
	}
	if e.Message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, e.Message)
	}
	if e.Accepted != nil {
		b = append(b, `,"accepted":`...)
		b = strconv.AppendInt(b, *e.Accepted, 10)
	}
	if e.Rejected != nil {
		b = append(b, `,"rejected":`...)
		b = strconv.AppendInt(b, *e.Rejected, 10)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, e.Reason)
	}
	if e.Difficulty != nil {
		b = append(b, `,"difficulty":`...)
		b = appendFloat(b, *e.Difficulty)
	}
	if e.LatencyMS != nil {
		b = append(b, `,"latency_ms":`...)
		b = appendFloat(b, *e.LatencyMS)
	}
	if e.Pool != "" {
		b = append(b, `,"pool":`...)
		b = appendString(b, e.Pool)
	}
	if e.Algo != "" {
		b = append(b, `,"algo":`...)
		b = appendString(b, e.Algo)
	}
	if e.Height != nil {
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, *e.Height, 10)
	}
	if e.Donate {
		b = append(b, `,"donate":true`...)
	}
	if e.HashrateHS != nil {
		b = append(b, `,"hashrate_hs":`...)
		b = appendFloat(b, *e.HashrateHS)
	}
	if e.Device != nil {
		b = append(b, `,"device":`...)
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
	b = append(b, `{"hashrate_hs":`...)
	b = appendFloatPtr(b, s.HashrateHS)
	b = append(b, `,"hashrate_60s_hs":`...)
	b = appendFloatPtr(b, s.Hashrate60sHS)
	b = append(b, `,"hashrate_15m_hs":`...)
	b = appendFloatPtr(b, s.Hashrate15mHS)
	b = append(b, `,"hashrate_max_hs":`...)
	b = appendFloatPtr(b, s.HashrateMaxHS)
	b = append(b, `,"effective_hashrate_hs":`...)
	b = appendFloatPtr(b, s.EffectiveHashrateHS)
	b = append(b, `,"effective_window_s":`...)
	b = appendFloatPtr(b, s.EffectiveWindowS)
	b = append(b, `,"accepted":`...)
	b = appendIntPtr(b, s.Accepted)
	b = append(b, `,"rejected":`...)
	b = appendIntPtr(b, s.Rejected)
	b = append(b, `,"stale":`...)
	b = appendIntPtr(b, s.Stale)
	b = append(b, `,"last_reject_reason":`...)
	b = appendString(b, s.LastRejectReason)
	b = append(b, `,"pool":`...)
	b = appendString(b, s.Pool)
	b = append(b, `,"pool_connected":`...)
	b = appendBoolPtr(b, s.PoolConnected)
	b = append(b, `,"pool_ping_ms":`...)
	b = appendFloatPtr(b, s.PoolPingMS)
	b = append(b, `,"difficulty":`...)
	b = appendFloatPtr(b, s.Difficulty)
	b = append(b, `,"uptime_s":`...)
	b = appendFloatPtr(b, s.UptimeS)
	b = append(b, `,"algorithm":`...)
	b = appendString(b, s.Algorithm)
	b = append(b, `,"version":`...)
	b = appendString(b, s.Version)
	b = append(b, `,"paused":`...)
	b = appendBoolPtr(b, s.Paused)
	b = append(b, `,"devices":`...)
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
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of d to b and returns the extended
// buffer.
func (d *Device) AppendJSON(b []byte) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(d.ID), 10)
	b = append(b, `,"bus_id":`...)
	b = appendString(b, d.BusID)
	b = append(b, `,"name":`...)
	b = appendString(b, d.Name)
	b = append(b, `,"kind":`...)
	b = appendString(b, d.Kind)
	b = append(b, `,"hashrate_hs":`...)
	b = appendFloatPtr(b, d.HashrateHS)
	b = append(b, `,"temp_c":`...)
	b = appendFloatPtr(b, d.TempC)
	b = append(b, `,"fan_pct":`...)
	b = appendFloatPtr(b, d.FanPct)
	b = append(b, `,"power_w":`...)
	b = appendFloatPtr(b, d.PowerW)
	b = append(b, `,"accepted":`...)
	b = appendIntPtr(b, d.Accepted)
	b = append(b, `,"rejected":`...)
	b = appendIntPtr(b, d.Rejected)
	b = append(b, `,"stale":`...)
	b = appendIntPtr(b, d.Stale)
	if d.CoreClockMHz != nil {
		b = append(b, `,"core_clock_mhz":`...)
		b = appendFloat(b, *d.CoreClockMHz)
	}
	if d.MemClockMHz != nil {
		b = append(b, `,"mem_clock_mhz":`...)
		b = appendFloat(b, *d.MemClockMHz)
	}
	if d.VRAMFreeMiB != nil {
		b = append(b, `,"vram_free_mib":`...)
		b = appendFloat(b, *d.VRAMFreeMiB)
	}
	return append(b, '}')
}

func appendFloatPtr(b []byte, p *float64) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendFloat(b, *p)
}

func appendIntPtr(b []byte, p *int64) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *p, 10)
}

func appendBoolPtr(b []byte, p *bool) []byte {
	switch {
	case p == nil:
		return append(b, "null"...)
	case *p:
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendFloat formats f as encoding/json does (ES6 number to string: %f
// between 1e-6 and 1e21, %e outside, shortest digits that round-trip), and
// NaN and ±Inf as null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	// Fast path for whole numbers (most counters and many rates): below
	// 1e15 every integer is exact and its shortest form is its digits.
	if abs < 1e15 && f == math.Trunc(f) && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	// Fast path for a few decimals (hashrates, temperatures): if n/10^k is
	// f for the smallest such k, those digits are the shortest form. Both
	// n and 10^k are exact, so the division is the correctly rounded value
	// of the decimal, which is what parsing it gives; below 1e11 the gap
	// between doubles is under 10^-4, so no other n of k decimals is f.
	if abs < 1e11 && abs >= 1e-4 {
		for k := 1; k <= 4; k++ {
			p := pow10[k]
			if n := math.Round(abs * p); n/p == abs {
				return appendDecimal(b, f < 0, uint64(n), k)
			}
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

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4}

// appendDecimal appends n/10^k with exactly k decimals (k ≥ 1).
func appendDecimal(b []byte, neg bool, n uint64, k int) []byte {
	if neg {
		b = append(b, '-')
	}
	p := uint64(pow10[k])
	b = strconv.AppendUint(b, n/p, 10)
	b = append(b, '.')
	frac := n % p
	for d := p / 10; d > frac && d > 1; d /= 10 {
		b = append(b, '0') // leading zeros of the fraction
	}
	return strconv.AppendUint(b, frac, 10)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that encoding/json writes as they are (its
// htmlSafeSet: not a control character, '"', '\\', '<', '>' or '&').
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
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
// a control character, '"', '\\', '<', '>', '&' or a non-ASCII byte; 0 if
// there is none. (Bits above the lowest may be false positives.)
func swarSpecial(x uint64) uint64 {
	// A byte of v is zero where x has the byte c; (v-1)&^v&0x80 flags it
	// (the classic "has zero byte" test, exact for the lowest flag).
	q, bs, lt, gt, amp := x^(swarOnes*'"'), x^(swarOnes*'\\'), x^(swarOnes*'<'), x^(swarOnes*'>'), x^(swarOnes*'&')
	return (x | // non-ASCII
		(x-swarOnes*0x20)&^x | // < 0x20
		(q-swarOnes)&^q | (bs-swarOnes)&^bs | (lt-swarOnes)&^lt | (gt-swarOnes)&^gt | (amp-swarOnes)&^amp) & swarHighs
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
func nextSpecial(s string, i int) int {
	if len(s) < 8 {
		for ; i < len(s) && jsonSafe[s[i]&0x7f] && s[i] < utf8.RuneSelf; i++ {
		}
		return i
	}
	for ; i+8 <= len(s); i += 8 {
		if m := swarSpecial(load8(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < len(s) {
		// The final 8 bytes; the flags of the bytes before i, already
		// seen, are shifted out.
		skip := 8 - (len(s) - i)
		if m := swarSpecial(load8(s, len(s)-8)) >> (8 * skip); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i = len(s)
	}
	return i
}

// appendString appends s as a JSON string, escaped exactly as encoding/json
// escapes it (with HTML escaping, as json.Marshal does).
//
// Plain runs are skipped 8 bytes at a time: inside a wasm guest run with
// wazero's WithCloseOnContextDone every loop iteration costs a call out of
// the guest, so a byte-at-a-time loop is what dominates.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; ; {
		if i = nextSpecial(s, i); i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] { // a false positive of nextSpecial
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
