package xmrig

// refAdapter is the console parser as it was before the hot path was
// rewritten for the wasm guest (commit 0ccb3d5), kept as the reference:
// TestParseLinesMatchesReference and FuzzParseLinesReference check that
// the rewrite gives the same events, stats and session state.

import (
	"bytes"
	"math"
	"strings"
	"unsafe"

	"github.com/rigd/rigd/sdk/abi"
)

type refAdapter struct {
	lines   refLineState
	scratch []byte
}

// lineState is what the console parser remembers across batches of one
// session.
type refLineState struct {
	// pool is the user's pool ("host:port") last seen in use.
	pool string
	// donate is true inside a dev-donate window ("dev donate started" until
	// "dev donate finished"): jobs and shares then belong to the donation.
	donate bool
}

// delta collects what one batch changed; it becomes LineResult.Stats.
type refDelta struct {
	any        bool
	hr         [4]*float64 // 10 s, 60 s, 15 min, max
	hrReading  bool
	accepted   *int64
	rejected   *int64
	reason     string
	pool       string
	connected  *bool
	difficulty *float64
	algo       string
	version    string
	paused     *bool
	devices    []abi.Device
}

// batch holds per-call backing storage so that the many small pointers of
// events do not cost one allocation each. It is fresh for every call: the
// returned events point into it.
type refBatch struct {
	ints   []int64
	floats []float64
	bools  [2]bool
	// text backs the strings of the batch's events. Bytes are only ever
	// appended into spare capacity, never overwritten, so strings made over
	// it stay immutable; a full chunk is replaced by a new one.
	text []byte
}

// str returns x as a string backed by the batch's text chunk: one
// allocation for all the timestamps, pools and messages of a batch.
func (b *refBatch) str(x []byte) string {
	if len(x) == 0 {
		return ""
	}
	if cap(b.text)-len(b.text) < len(x) {
		b.text = make([]byte, 0, max(len(x), 2048))
	}
	start := len(b.text)
	b.text = append(b.text, x...)
	return unsafe.String(&b.text[start], len(x))
}

func (b *refBatch) int(v int64) *int64 {
	if len(b.ints) == cap(b.ints) {
		b.ints = make([]int64, 0, 32)
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

func (b *refBatch) float(v float64) *float64 {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, 32)
	}
	b.floats = append(b.floats, v)
	return &b.floats[len(b.floats)-1]
}

// ParseLines turns console lines into events and the stats they change.
// Lines arrive with ANSI escapes stripped by the host; escapes that slip
// through are removed here. Nothing in a line can make it fail.
func (a *refAdapter) refParseLines(stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var (
		d   refDelta
		b   refBatch
		evs []abi.Event
	)
	b.bools = [2]bool{false, true}
	if len(lines) > 4 {
		evs = make([]abi.Event, 0, len(lines))
	}
	for _, line := range lines {
		evs = a.refParseLine(line, evs, &d, &b)
	}
	res := abi.LineResult{Events: evs}
	if res.Events == nil {
		res.Events = []abi.Event{}
	}
	if d.any {
		res.Stats = &abi.Stats{
			HashrateHS: d.hr[0], Hashrate60sHS: d.hr[1], Hashrate15mHS: d.hr[2], HashrateMaxHS: d.hr[3], HashrateReading: d.hrReading,
			Accepted: d.accepted, Rejected: d.rejected, LastRejectReason: d.reason,
			Pool: d.pool, PoolConnected: d.connected, Difficulty: d.difficulty,
			Algorithm: d.algo, Version: d.version, Paused: d.paused, Devices: d.devices,
		}
	}
	return res, nil
}

func (a *refAdapter) refParseLine(line []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	if bytes.IndexByte(line, 0x1b) >= 0 {
		a.scratch = refStripANSI(a.scratch[:0], line)
		line = a.scratch
	}
	line = refTrimSpace(line)
	if len(line) < 4 {
		return evs
	}
	if line[0] == '*' && line[1] == ' ' {
		return a.refBanner(line[2:], evs, d)
	}
	ts, msg := refSplitTime(line)
	if ev, ok := a.refMessage(nil, ts, msg, d, b); ok {
		if ev.Type != "" {
			evs = append(evs, ev)
		}
		return evs
	}
	// 5.x/6.x lines carry a module tag ("net", "cpu", "miner", ...) before
	// the message; 2.x lines have none.
	tag, rest := refCutWord(msg)
	if len(tag) == 0 || len(tag) > 12 || len(rest) == 0 {
		return evs
	}
	if ev, ok := a.refMessage(tag, ts, refTrimLeft(rest), d, b); ok && ev.Type != "" {
		evs = append(evs, ev)
	}
	return evs
}

// message parses one message (after the timestamp and tag). ok reports
// that the line was recognised; an ev with empty Type is recognised but
// produces no event.
func (a *refAdapter) refMessage(tag, ts, msg []byte, d *refDelta, b *refBatch) (ev abi.Event, ok bool) {
	if len(msg) == 0 {
		return ev, false
	}
	switch msg[0] {
	case 's':
		if refHasPrefix(msg, "speed ") {
			return a.refSpeed(ts, msg[6:], d, b), true
		}
	case 'a':
		if refHasPrefix(msg, "accepted (") {
			return a.refShare(abi.EventShareAccepted, ts, msg[len("accepted "):], d, b), true
		}
	case 'r':
		if refHasPrefix(msg, "rejected (") {
			return a.refShare(abi.EventShareRejected, ts, msg[len("rejected "):], d, b), true
		}
		if refWord(msg, "resumed") {
			d.any, d.paused = true, &b.bools[0]
			return abi.Event{Type: abi.EventResumed, Time: b.str(ts)}, true
		}
	case 'p':
		if refWord(msg, "paused") {
			d.any, d.paused = true, &b.bools[1]
			return abi.Event{Type: abi.EventPaused, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'n':
		if refHasPrefix(msg, "new job from ") {
			return a.refNewJob(ts, msg[len("new job from "):], d, b), true
		}
		if refHasPrefix(msg, "no active pools") {
			d.any, d.connected = true, &b.bools[0]
			return abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Reason: b.str(msg), Pool: a.lines.pool}, true
		}
		if refHasPrefix(msg, "no valid configuration found") {
			return abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'u':
		if refHasPrefix(msg, "use pool ") || refHasPrefix(msg, "use daemon ") || refHasPrefix(msg, "use pool: ") {
			_, rest := refCutWord(msg[4:])
			host, _ := refCutWord(refTrimLeft(rest))
			return a.refUsePool(ts, host, d, b), true
		}
	case 'R':
		if refWord(msg, "READY") {
			return abi.Event{Type: abi.EventReady, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'd':
		if refHasPrefix(msg, "dev donate started") {
			a.lines.donate = true
			return abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate started", Donate: true}, true
		}
		if refHasPrefix(msg, "dev donate finished") {
			a.lines.donate = false
			return abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate finished", Pool: a.lines.pool}, true
		}
	case '[':
		// 2.x-5.x: "[host:port] connect error: ..."
		if end := bytes.IndexByte(msg, ']'); end > 1 {
			if ev, ok := a.refClientError(ts, msg[1:end], refTrimLeft(msg[end+1:]), d, b); ok {
				return ev, true
			}
		}
	case '#':
		if kind := refGpuKind(tag); kind != "" {
			return a.refHealth(kind, ts, msg[1:], d, b)
		}
	case 'I', 'U':
		if refHasPrefix(msg, "Incompatible algorithm") || refHasPrefix(msg, "Unknown/unsupported algorithm") {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'K':
		if refHasPrefix(msg, "KawPow failed") {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	}
	if tag != nil && refDigitOrLetter(msg[0]) {
		// 6.x: "net      host:port connect error: ..."
		if host, rest := refCutWord(msg); bytes.IndexByte(host, ':') > 0 {
			if ev, ok := a.refClientError(ts, host, refTrimLeft(rest), d, b); ok {
				return ev, true
			}
		}
	}
	if tag == nil {
		// A config file JSON error: "config.json<line:1, position:2>: ...".
		if w, _ := refCutWord(msg); bytes.IndexByte(w, '<') > 0 && bytes.Contains(w, []byte("<line:")) {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	}
	return ev, false
}

// speed parses "10s/60s/15m 38.50 n/a n/a H/s max 38.60 H/s" (and the 2.x
// "2.5s/60s/15m ... H/s max: ... H/s").
func (a *refAdapter) refSpeed(ts, msg []byte, d *refDelta, b *refBatch) abi.Event {
	_, rest := refCutWord(msg) // the window names
	var vals [4]refDecimal
	for i := 0; i < 3; i++ {
		var tok []byte
		tok, rest = refCutWord(refTrimLeft(rest))
		vals[i] = refParseDecimal(tok)
	}
	unit, rest := refCutWord(refTrimLeft(rest))
	exp, unitOK := refUnitExp(unit)
	ev := abi.Event{Type: abi.EventHashrate, Time: b.str(ts)}
	if !unitOK {
		return ev
	}
	kw, rest := refCutWord(refTrimLeft(rest))
	maxExp, maxOK := 0, false
	if string(kw) == "max" || string(kw) == "max:" {
		var tok, u []byte
		tok, rest = refCutWord(refTrimLeft(rest))
		u, _ = refCutWord(refTrimLeft(rest))
		vals[3] = refParseDecimal(tok)
		maxExp, maxOK = refUnitExp(u)
	}
	d.any, d.hrReading = true, true
	for i := 0; i < 3; i++ {
		d.hr[i] = nil
		if vals[i].ok {
			d.hr[i] = b.float(vals[i].refScaled(exp))
		}
	}
	if maxOK && vals[3].ok {
		d.hr[3] = b.float(vals[3].refScaled(maxExp))
	}
	ev.HashrateHS = d.hr[0]
	if !vals[0].ok {
		ev.HashrateHS = nil
	}
	return ev
}

// share parses "(N/M) diff D (L ms)" and "(N/M) diff D "reason" (L ms)".
func (a *refAdapter) refShare(typ string, ts, msg []byte, d *refDelta, b *refBatch) abi.Event {
	ev := abi.Event{Type: typ, Time: b.str(ts), Donate: a.lines.donate}
	end := bytes.IndexByte(msg, ')')
	if end < 0 {
		return ev
	}
	accS, rejS, found := bytes.Cut(msg[1:end], []byte{'/'})
	acc, okA := refParseInt(accS)
	rej, okR := refParseInt(rejS)
	if found && okA && okR {
		ev.Accepted, ev.Rejected = b.int(acc), b.int(rej)
		d.any, d.accepted, d.rejected = true, ev.Accepted, ev.Rejected
	}
	rest := refTrimLeft(msg[end+1:])
	if refHasPrefix(rest, "diff ") {
		var tok []byte
		tok, rest = refCutWord(rest[5:])
		if v, ok := refParseDiff(tok); ok {
			ev.Difficulty = b.float(v)
		}
		rest = refTrimLeft(rest)
	}
	if typ == abi.EventShareRejected && len(rest) > 0 && rest[0] == '"' {
		if q := bytes.LastIndexByte(rest, '"'); q > 0 {
			ev.Reason = b.str(rest[1:q])
			rest = refTrimLeft(rest[q+1:])
			if !a.lines.donate {
				d.any, d.reason = true, ev.Reason
			}
		}
	}
	if len(rest) > 0 && rest[0] == '(' {
		if tok, _ := refCutWord(rest[1:]); len(tok) > 0 {
			if v := refParseDecimal(tok); v.ok {
				ev.LatencyMS = b.float(v.refScaled(0))
			}
		}
	}
	return ev
}

// newJob parses "HOST:PORT diff D algo A height H".
func (a *refAdapter) refNewJob(ts, msg []byte, d *refDelta, b *refBatch) abi.Event {
	host, rest := refCutWord(msg)
	ev := abi.Event{Type: abi.EventNewJob, Time: b.str(ts), Pool: b.str(host)}
	ev.Donate = a.lines.donate || refDonateHost(host)
	for len(rest) > 0 {
		var key, val []byte
		key, rest = refCutWord(refTrimLeft(rest))
		val, rest = refCutWord(refTrimLeft(rest))
		switch string(key) {
		case "diff":
			if v, ok := refParseDiff(val); ok {
				ev.Difficulty = b.float(v)
			}
		case "algo":
			ev.Algo = b.str(val)
		case "height":
			if h, ok := refParseInt(val); ok {
				ev.Height = b.int(h)
			}
		}
	}
	if !ev.Donate && len(host) > 0 {
		a.lines.pool = ev.Pool
		d.any, d.pool, d.connected = true, ev.Pool, &b.bools[1]
		if ev.Difficulty != nil {
			d.difficulty = ev.Difficulty
		}
		if ev.Algo != "" {
			d.algo = ev.Algo
		}
	}
	return ev
}

func (a *refAdapter) refUsePool(ts, host []byte, d *refDelta, b *refBatch) abi.Event {
	ev := abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Pool: b.str(host)}
	if a.lines.donate || refDonateHost(host) {
		ev.Donate = true
		return ev
	}
	if len(host) > 0 {
		a.lines.pool = ev.Pool
		d.any, d.pool, d.connected = true, ev.Pool, &b.bools[1]
	}
	return ev
}

// clientError handles the stratum client's errors for one pool: "connect
// error: "..."", "read error: ...", "login error code: N", "error: ...,
// code: N", DNS errors, timeouts and the like.
func (a *refAdapter) refClientError(ts, host, text []byte, d *refDelta, b *refBatch) (abi.Event, bool) {
	if !(bytes.Contains(text, []byte("error")) || bytes.Contains(text, []byte("failed")) ||
		bytes.Contains(text, []byte("timeout")) || refHasPrefix(text, "duplicate job")) {
		return abi.Event{}, false
	}
	ev := abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Pool: b.str(host), Reason: refUnquote(text)}
	if a.lines.donate || refDonateHost(host) {
		ev.Donate = true
		return ev, true
	}
	// A failover pool retrying in the background does not disconnect the
	// pool in use.
	if a.lines.pool == "" || a.lines.pool == ev.Pool {
		d.any, d.connected = true, &b.bools[0]
	}
	return ev, true
}

// health parses GPU health lines: CUDA "#0 02:00.0  70W 64C 1500/5000 MHz
// fan0:45%" and OpenCL "#0 03:00.0  94W 55C 1904RPM 1080/2040MHz". XMRig
// prints 0 for a sensor it cannot read, so 0 W and 0 C are unknown.
func (a *refAdapter) refHealth(kind string, ts, msg []byte, d *refDelta, b *refBatch) (abi.Event, bool) {
	idTok, rest := refCutWord(msg)
	id, ok := refParseInt(idTok)
	if !ok || id < 0 || id > 1<<16 {
		return abi.Event{}, false
	}
	dev := abi.Device{ID: int(id), Kind: kind}
	bus, rest := refCutWord(refTrimLeft(rest))
	dev.BusID = b.str(bus)
	for len(rest) > 0 {
		var tok []byte
		tok, rest = refCutWord(refTrimLeft(rest))
		switch {
		case len(tok) > 1 && tok[len(tok)-1] == 'W':
			if v := refParseDecimal(tok[:len(tok)-1]); v.ok && v.mant > 0 {
				dev.PowerW = b.float(v.refScaled(0))
			}
		case len(tok) > 1 && tok[len(tok)-1] == 'C':
			if v := refParseDecimal(tok[:len(tok)-1]); v.ok && v.mant > 0 {
				dev.TempC = b.float(v.refScaled(0))
			}
		case refHasPrefix(tok, "fan") && len(tok) > 1 && tok[len(tok)-1] == '%' && dev.FanPct == nil:
			if i := bytes.IndexByte(tok, ':'); i > 0 {
				if v := refParseDecimal(tok[i+1 : len(tok)-1]); v.ok {
					dev.FanPct = b.float(v.refScaled(0))
				}
			}
		case bytes.IndexByte(tok, '/') > 0:
			core, mem, _ := bytes.Cut(bytes.TrimSuffix(tok, []byte("MHz")), []byte{'/'})
			if v := refParseDecimal(core); v.ok && v.mant > 0 {
				dev.CoreClockMHz = b.float(v.refScaled(0))
			}
			if v := refParseDecimal(mem); v.ok && v.mant > 0 {
				dev.MemClockMHz = b.float(v.refScaled(0))
			}
		}
	}
	d.any = true
	replaced := false
	for i := range d.devices {
		if d.devices[i].Kind == dev.Kind && d.devices[i].ID == dev.ID {
			d.devices[i], replaced = dev, true
		}
	}
	if !replaced {
		d.devices = append(d.devices, dev)
	}
	c := dev // the event owns its copy; d.devices may change later in the batch
	return abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: &c}, true
}

// banner reads the " * ABOUT XMRig/6.16.0 gcc/5.4.0" (6.x) or " * VERSIONS:
// XMRig/2.6.0 ..." (2.x) version and reports backends that failed to load.
func (a *refAdapter) refBanner(line []byte, evs []abi.Event, d *refDelta) []abi.Event {
	line = refTrimLeft(line)
	if refHasPrefix(line, "ABOUT") || refHasPrefix(line, "VERSIONS") {
		if i := bytes.Index(line, []byte("XMRig")); i >= 0 {
			if j := bytes.IndexByte(line[i:], '/'); j > 0 {
				v, _ := refCutWord(line[i+j+1:])
				if len(v) > 0 && v[0] >= '0' && v[0] <= '9' {
					d.any, d.version = true, string(v)
				}
			}
		}
		return evs
	}
	if bytes.Contains(line, []byte("disabled (failed")) {
		return append(evs, abi.Event{Type: abi.EventError, Message: string(line)})
	}
	return evs
}

func refGpuKind(tag []byte) string {
	switch string(tag) {
	case "nvidia", "nv", "cuda":
		return "nvidia"
	case "opencl", "ocl":
		return "amd"
	}
	return ""
}

// donateHost reports the XMRig donation servers (donate.v2.xmrig.com,
// donate.ssl.xmrig.com, ...), whose jobs never describe the user's pool.
func refDonateHost(host []byte) bool {
	return refHasPrefix(host, "donate.") || refHasPrefix(host, "donate2.") || bytes.Contains(host, []byte(".xmrig.com"))
}

// Hand-written scanning helpers for the console parser: no regexp and no
// allocation on the hot path.

// stripANSI appends line to dst without ANSI escape sequences: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), charset
// designations (ESC ( B) and other two-byte escapes.
func refStripANSI(dst, line []byte) []byte {
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
			i += 2 // charset designation: ESC ( B
		default:
			i++
		}
	}
	return dst
}

func refIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func refTrimLeft(b []byte) []byte {
	for len(b) > 0 && refIsSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func refTrimSpace(b []byte) []byte {
	b = refTrimLeft(b)
	for len(b) > 0 && refIsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// cutWord returns the first space-separated word of b and the rest after it
// (starting at the separator).
func refCutWord(b []byte) (w, rest []byte) {
	for i := 0; i < len(b); i++ {
		if refIsSpace(b[i]) {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

func refHasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// word reports whether msg is w or starts with w followed by a separator
// (" ", "," or ":").
func refWord(msg []byte, w string) bool {
	if !refHasPrefix(msg, w) {
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
func refSplitTime(line []byte) (ts, rest []byte) {
	if len(line) < 21 || line[0] != '[' || !refDigit(line[1]) || line[5] != '-' || line[11] != ' ' || line[14] != ':' {
		return nil, line
	}
	n := 20 // "[YYYY-MM-DD HH:MM:SS"
	if line[n] == '.' {
		n++
		for n < len(line) && n < 28 && refDigit(line[n]) {
			n++
		}
	}
	if n >= len(line) || line[n] != ']' {
		return nil, line
	}
	return line[1:n], refTrimLeft(line[n+1:])
}

func refDigit(c byte) bool { return c >= '0' && c <= '9' }

func refDigitOrLetter(c byte) bool {
	return refDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseInt parses an optionally '#'-prefixed non-negative decimal integer.
func refParseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '#' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !refDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// decimal is a parsed decimal number mant * 10^-frac, kept exact so that
// unit scaling (kH/s, MH/s) does not add binary rounding noise.
type refDecimal struct {
	mant uint64
	frac int
	ok   bool
}

// parseDecimal parses "39.77", "0", "1234.5"; "n/a" and anything else is
// not ok.
func refParseDecimal(b []byte) refDecimal {
	var d refDecimal
	if len(b) == 0 || len(b) > 19 {
		return d
	}
	seenDot, digits := false, 0
	for _, c := range b {
		switch {
		case refDigit(c):
			d.mant = d.mant*10 + uint64(c-'0')
			digits++
			if seenDot {
				d.frac++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return refDecimal{}
		}
	}
	d.ok = digits > 0
	return d
}

var refPow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scaled returns the value times 10^exp.
func (d refDecimal) refScaled(exp int) float64 {
	e := exp - d.frac
	m := float64(d.mant)
	switch {
	case e >= 0 && e < len(refPow10):
		return m * refPow10[e]
	case e < 0 && -e < len(refPow10):
		return m / refPow10[-e]
	}
	return m * math.Pow(10, float64(e))
}

// unitExp maps a hashrate unit to its power of ten.
func refUnitExp(u []byte) (int, bool) {
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
func refParseDiff(b []byte) (float64, bool) {
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
	v := refParseDecimal(b)
	if !v.ok {
		return 0, false
	}
	return v.refScaled(exp), true
}

// unquote drops the double quotes XMRig puts around error texts:
// `connect error: "connection refused"` -> `connect error: connection refused`.
func refUnquote(b []byte) string {
	s := string(b)
	if strings.IndexByte(s, '"') < 0 {
		return s
	}
	return strings.ReplaceAll(s, `"`, "")
}
