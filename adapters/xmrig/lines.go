package xmrig

import (
	"bytes"
	"math/bits"
	"unsafe"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// lineState is what the console parser remembers across batches of one
// session.
type lineState struct {
	// pool is the user's pool ("host:port") last seen in use.
	pool string
	// donate is true inside a dev-donate window ("dev donate started" until
	// "dev donate finished"): jobs and shares then belong to the donation.
	donate bool
}

// delta collects what one batch changed; it becomes LineResult.Stats.
type delta struct {
	any        bool
	hr         [4]*float64 // 10 s, 60 s, 15 min, max
	hrReading  bool        // a speed line set hr[0:3], n/a as nil
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
// events do not cost one allocation each: the returned events point into
// it. The numbers are reused by the next call, as the events are; the text
// is not, since the session state keeps strings of it.
type batch struct {
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
func (b *batch) str(x []byte) string {
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

func (b *batch) int(v int64) *int64 {
	if len(b.ints) == cap(b.ints) {
		// A new chunk: the pointers already handed out keep the old one.
		b.ints = make([]int64, 0, max(32, 2*cap(b.ints)))
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

func (b *batch) float(v float64) *float64 {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, max(32, 2*cap(b.floats)))
	}
	b.floats = append(b.floats, v)
	return &b.floats[len(b.floats)-1]
}

// ParseLines turns console lines into events and the stats they change.
// Lines arrive without ANSI escapes (the host strips them, and the SDK
// strips any that slip through). Nothing in a line can make it fail.
//
// The result's Events slice is the adapter's and is reused by its next
// call (the SDK encodes it before then): allocating it for every batch
// cost a guest more than parsing a dozen lines. What the events point to
// (strings, numbers, devices) is never overwritten.
func (a *Adapter) ParseLines(stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var d delta
	b := batch{ints: a.ints[:0], floats: a.floats[:0]}
	b.bools = [2]bool{false, true}
	evs := a.events[:0]
	if cap(evs) < len(lines) && len(lines) > 4 {
		evs = make([]abi.Event, 0, len(lines))
	}
	for _, line := range lines {
		evs = a.parseLine(line, evs, &d, &b)
	}
	if cap(evs) <= abi.MaxLineBatch {
		a.events = evs[:0]
	}
	a.ints, a.floats = b.ints[:0], b.floats[:0]
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

// parseLine parses one line. In the wasm guest a call costs about as much
// as 2 loop iterations or a hundred instructions, so the usual line
// ("[2021-11-28 12:09:05.552]  net      new job from ...") takes the inline
// fast paths here and calls little more than wordScan and message.
func (a *Adapter) parseLine(line []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	// A separator first or last (two lanes of a word: no branch per test).
	if len(line) > 0 && sdk.SpaceMask(uint64(line[0])|uint64(line[len(line)-1])<<8) != 0 {
		line = sdk.TrimSpace(line)
	}
	if len(line) < 4 {
		return evs
	}
	if line[0] == '*' && line[1] == ' ' {
		return a.banner(line[2:], evs, d)
	}
	var ts, msg []byte
	if len(line) > 27 && line[0] == '[' && line[20] == '.' && line[24] == ']' && sdk.IsSpace(line[25]) &&
		sdk.IsDigit(line[1]) && line[5] == '-' && line[11] == ' ' && line[14] == ':' && sdk.IsDigit(line[21]) && sdk.IsDigit(line[22]) && sdk.IsDigit(line[23]) {
		// splitTime's usual case, inline, with one or two spaces after.
		ts, msg = line[1:24], line[26:]
		if sdk.IsSpace(msg[0]) {
			msg = msg[1:]
			if sdk.IsSpace(msg[0]) {
				msg = sdk.TrimLeft(msg)
			}
		}
	} else {
		ts, msg = splitTime(line)
	}
	w, flags := wordScan(msg) // the first word: a 5.x/6.x module tag or the message's
	if len(msg) > 0 && (firstByteMatters[msg[0]] || flags&hasLT != 0) {
		if evs, ok := a.message(nil, ts, msg, w, flags, d, b, evs); ok {
			return evs
		}
	}
	// 5.x/6.x lines carry a module tag ("net", "cpu", "miner", ...) before
	// the message; 2.x lines have none.
	if w == 0 || w > 12 || w == len(msg) {
		return evs
	}
	tag := msg[:w]
	// The tag's padding: XMRig 6.x pads tags to 8 columns.
	i := w
	if i+8 <= len(msg) {
		if m := ^sdk.SpaceMask(sdk.Load64(msg[i:])) & sdk.HighBits; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
		} else {
			i = sdk.SkipSpace(msg, i)
		}
	} else {
		i = sdk.SkipSpace(msg, i)
	}
	evs, _ = a.message(tag, ts, msg[i:], -1, 0, d, b, evs) // its first word only if needed
	return evs
}

// firstByteMatters marks the first bytes for which message may recognise
// a line without a tag (the cases of its switch): with any other, and no
// '<' in the first word, it would not, and is not called.
var firstByteMatters = func() (t [256]bool) {
	for _, c := range "sarpnuRd[#IUK" {
		t[c] = true
	}
	return t
}()

// The prefixes of the messages most lines are (see sdk.Prefix).
var (
	prefixSpeed        = sdk.MakePrefix("speed ")
	prefixAccepted     = sdk.MakePrefix("accepted (")
	prefixRejected     = sdk.MakePrefix("rejected (")
	prefixNewJob       = sdk.MakePrefix("new job from ")
	prefixNoActive     = sdk.MakePrefix("no active pools")
	prefixUsePool      = sdk.MakePrefix("use pool ")
	prefixUseDaemon    = sdk.MakePrefix("use daemon ")
	prefixUsePoolColon = sdk.MakePrefix("use pool: ")
)

// message parses one message (after the timestamp and tag), appending its
// event to evs; msg[:w] is its first word and flags say what wordScan found
// in it (w < 0: not scanned yet). ok reports that the line was recognised
// (and may have changed d).
func (a *Adapter) message(tag, ts, msg []byte, w, flags int, d *delta, b *batch, evs []abi.Event) ([]abi.Event, bool) {
	if len(msg) == 0 {
		return evs, false
	}
	// The first 16 bytes, for the prefixes of the common messages.
	var w0, w1 uint64
	if len(msg) >= 16 {
		w0, w1 = sdk.Load64(msg), sdk.Load64(msg[8:])
	} else {
		w0, w1 = sdk.Head16(msg)
	}
	switch msg[0] {
	case 's':
		if prefixSpeed.Of(w0, w1) {
			return a.speed(ts, msg[prefixSpeed.Len():], d, b, evs), true
		}
	case 'a':
		if prefixAccepted.Of(w0, w1) {
			return a.share(abi.EventShareAccepted, ts, msg[len("accepted "):], d, b, evs), true
		}
	case 'r':
		if prefixRejected.Of(w0, w1) {
			return a.share(abi.EventShareRejected, ts, msg[len("rejected "):], d, b, evs), true
		}
		if word(msg, "resumed") {
			d.any, d.paused = true, &b.bools[0]
			return b.event(evs, abi.EventResumed, ts, nil), true
		}
	case 'p':
		if word(msg, "paused") {
			d.any, d.paused = true, &b.bools[1]
			return b.event(evs, abi.EventPaused, ts, msg), true
		}
	case 'n':
		if prefixNewJob.Of(w0, w1) {
			return a.newJob(ts, msg[prefixNewJob.Len():], d, b, evs), true
		}
		if prefixNoActive.Of(w0, w1) {
			d.any, d.connected = true, &b.bools[0]
			return append(evs, abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Reason: b.str(msg), Pool: a.lines.pool}), true
		}
		if sdk.HasPrefix(msg, "no valid configuration found") {
			return b.event(evs, abi.EventFatal, ts, msg), true
		}
	case 'u':
		if prefixUsePool.Of(w0, w1) || prefixUseDaemon.Of(w0, w1) || prefixUsePoolColon.Of(w0, w1) {
			// "use pool HOST:PORT", "use daemon HOST:PORT": the word after the next.
			hs, he := sdk.NextWord(msg, sdk.WordEnd(msg, 4))
			return a.usePool(ts, msg[hs:he], d, b, evs), true
		}
	case 'R':
		if word(msg, "READY") {
			return b.event(evs, abi.EventReady, ts, msg), true
		}
	case 'd':
		if sdk.HasPrefix(msg, "dev donate started") {
			a.lines.donate = true
			return append(evs, abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate started", Donate: true}), true
		}
		if sdk.HasPrefix(msg, "dev donate finished") {
			a.lines.donate = false
			return append(evs, abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate finished", Pool: a.lines.pool}), true
		}
	case '[':
		// 2.x-5.x: "[host:port] connect error: ..."
		if end := sdk.IndexByte(msg, ']'); end > 1 {
			if evs, ok := a.clientError(ts, msg[1:end], sdk.TrimLeft(msg[end+1:]), d, b, evs); ok {
				return evs, true
			}
		}
	case '#':
		if kind := gpuKind(tag); kind != "" {
			return a.health(kind, ts, msg[1:], d, b, evs)
		}
	case 'I', 'U':
		if sdk.HasPrefix(msg, "Incompatible algorithm") || sdk.HasPrefix(msg, "Unknown/unsupported algorithm") {
			return b.event(evs, abi.EventError, ts, msg), true
		}
	case 'K':
		if sdk.HasPrefix(msg, "KawPow failed") {
			return b.event(evs, abi.EventError, ts, msg), true
		}
	}
	if tag != nil && digitOrLetter(msg[0]) {
		// 6.x: "net      host:port connect error: ..."
		if w < 0 {
			w, flags = wordScan(msg)
		}
		if flags&hasColon != 0 {
			if evs, ok := a.clientError(ts, msg[:w], sdk.TrimLeft(msg[w:]), d, b, evs); ok {
				return evs, true
			}
		}
	}
	if tag == nil && w >= 0 && flags&hasLT != 0 && containsShort(msg[:w], "<line:") {
		// A config file JSON error: "config.json<line:1, position:2>: ...".
		return b.event(evs, abi.EventError, ts, msg), true
	}
	return evs, false
}

// event appends an event of type typ with the line's time and, if msg is
// not nil, the message.
func (b *batch) event(evs []abi.Event, typ string, ts, msg []byte) []abi.Event {
	return append(evs, abi.Event{Type: typ, Time: b.str(ts), Message: b.str(msg)})
}

// speed parses "10s/60s/15m 38.50 n/a n/a H/s max 38.60 H/s" (and the 2.x
// "2.5s/60s/15m ... H/s max: ... H/s").
func (a *Adapter) speed(ts, msg []byte, d *delta, b *batch, evs []abi.Event) []abi.Event {
	i := sdk.WordEnd(msg, 0) // the window names
	var vals [4]sdk.Decimal
	s, e := sdk.NextWord(msg, i)
	vals[0] = sdk.ParseDecimal(msg[s:e])
	s, e = sdk.NextWord(msg, e)
	vals[1] = sdk.ParseDecimal(msg[s:e])
	s, e = sdk.NextWord(msg, e)
	vals[2] = sdk.ParseDecimal(msg[s:e])
	s, e = sdk.NextWord(msg, e)
	exp, unitOK := unitExp(msg[s:e])
	ev := abi.Event{Type: abi.EventHashrate, Time: b.str(ts)}
	if !unitOK {
		return append(evs, ev)
	}
	maxExp, maxOK := 0, false
	if s, e = sdk.NextWord(msg, e); string(msg[s:e]) == "max" || string(msg[s:e]) == "max:" {
		s, e = sdk.NextWord(msg, e)
		vals[3] = sdk.ParseDecimal(msg[s:e])
		s, e = sdk.NextWord(msg, e)
		maxExp, maxOK = unitExp(msg[s:e])
	}
	d.any, d.hrReading = true, true
	for i := 0; i < 3; i++ {
		d.hr[i] = nil // "n/a": no hashes in the window
		if vals[i].OK {
			d.hr[i] = b.float(vals[i].Scaled(exp))
		}
	}
	if maxOK && vals[3].OK {
		d.hr[3] = b.float(vals[3].Scaled(maxExp))
	}
	ev.HashrateHS = d.hr[0]
	if !vals[0].OK {
		ev.HashrateHS = nil
	}
	return append(evs, ev)
}

// share parses "(N/M) diff D (L ms)" and "(N/M) diff D "reason" (L ms)".
func (a *Adapter) share(typ string, ts, msg []byte, d *delta, b *batch, evs []abi.Event) []abi.Event {
	ev := abi.Event{Type: typ, Time: b.str(ts), Donate: a.lines.donate}
	end := sdk.IndexByte(msg, ')')
	if end < 0 {
		return append(evs, ev)
	}
	counts := msg[1:end]
	if slash := sdk.IndexByte(counts, '/'); slash >= 0 {
		acc, okA := parseInt(counts[:slash])
		rej, okR := parseInt(counts[slash+1:])
		if okA && okR {
			ev.Accepted, ev.Rejected = b.int(acc), b.int(rej)
			d.any, d.accepted, d.rejected = true, ev.Accepted, ev.Rejected
		}
	}
	rest := sdk.TrimLeft(msg[end+1:])
	if sdk.HasPrefix(rest, "diff ") {
		e := sdk.WordEnd(rest, 5)
		if v, ok := parseDiff(rest[5:e]); ok {
			ev.Difficulty = b.float(v)
		}
		rest = rest[sdk.SkipSpace(rest, e):]
	}
	if typ == abi.EventShareRejected && len(rest) > 0 && rest[0] == '"' {
		if q := sdk.LastIndexByte(rest, '"'); q > 0 {
			ev.Reason = b.str(rest[1:q])
			rest = rest[sdk.SkipSpace(rest, q+1):]
			if !a.lines.donate {
				d.any, d.reason = true, ev.Reason
			}
		}
	}
	if len(rest) > 0 && rest[0] == '(' {
		if e := sdk.WordEnd(rest, 1); e > 1 {
			if v := sdk.ParseDecimal(rest[1:e]); v.OK {
				ev.LatencyMS = b.float(v.Scaled(0))
			}
		}
	}
	return append(evs, ev)
}

// newJob parses "HOST:PORT diff D algo A height H".
func (a *Adapter) newJob(ts, msg []byte, d *delta, b *batch, evs []abi.Event) []abi.Event {
	i := sdk.WordEnd(msg, 0)
	host := msg[:i]
	ev := abi.Event{Type: abi.EventNewJob, Time: b.str(ts), Pool: b.str(host)}
	ev.Donate = a.lines.donate || donateHost(host)
	for i < len(msg) {
		ks, ke := sdk.NextWord(msg, i)
		vs, ve := sdk.NextWord(msg, ke)
		i = ve
		val := msg[vs:ve]
		switch string(msg[ks:ke]) {
		case "diff":
			if v, ok := parseDiff(val); ok {
				ev.Difficulty = b.float(v)
			}
		case "algo":
			ev.Algo = b.str(val)
		case "height":
			if h, ok := parseInt(val); ok {
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
	return append(evs, ev)
}

func (a *Adapter) usePool(ts, host []byte, d *delta, b *batch, evs []abi.Event) []abi.Event {
	ev := abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Pool: b.str(host)}
	if a.lines.donate || donateHost(host) {
		ev.Donate = true
		return append(evs, ev)
	}
	if len(host) > 0 {
		a.lines.pool = ev.Pool
		d.any, d.pool, d.connected = true, ev.Pool, &b.bools[1]
	}
	return append(evs, ev)
}

// clientError handles the stratum client's errors for one pool: "connect
// error: "..."", "read error: ...", "login error code: N", "error: ...,
// code: N", DNS errors, timeouts and the like.
func (a *Adapter) clientError(ts, host, text []byte, d *delta, b *batch, evs []abi.Event) ([]abi.Event, bool) {
	if !(bytes.Contains(text, []byte("error")) || bytes.Contains(text, []byte("failed")) ||
		bytes.Contains(text, []byte("timeout")) || sdk.HasPrefix(text, "duplicate job")) {
		return evs, false
	}
	ev := abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Pool: b.str(host), Reason: unquote(text)}
	if a.lines.donate || donateHost(host) {
		ev.Donate = true
		return append(evs, ev), true
	}
	// A failover pool retrying in the background does not disconnect the
	// pool in use.
	if a.lines.pool == "" || a.lines.pool == ev.Pool {
		d.any, d.connected = true, &b.bools[0]
	}
	return append(evs, ev), true
}

// health parses GPU health lines: CUDA "#0 02:00.0  70W 64C 1500/5000 MHz
// fan0:45%" and OpenCL "#0 03:00.0  94W 55C 1904RPM 1080/2040MHz". XMRig
// prints 0 for a sensor it cannot read, so 0 W and 0 C are unknown.
func (a *Adapter) health(kind string, ts, msg []byte, d *delta, b *batch, evs []abi.Event) ([]abi.Event, bool) {
	i := sdk.WordEnd(msg, 0)
	id, ok := parseInt(msg[:i])
	if !ok || id < 0 || id > 1<<16 {
		return evs, false
	}
	dev := abi.Device{ID: int(id), Kind: kind}
	s, e := sdk.NextWord(msg, i)
	dev.BusID = b.str(msg[s:e])
	for i = e; i < len(msg); {
		s, e := sdk.NextWord(msg, i)
		i = e
		tok := msg[s:e]
		switch {
		case len(tok) > 1 && tok[len(tok)-1] == 'W':
			if v := sdk.ParseDecimal(tok[:len(tok)-1]); v.OK && v.Mant > 0 {
				dev.PowerW = b.float(v.Scaled(0))
			}
		case len(tok) > 1 && tok[len(tok)-1] == 'C':
			if v := sdk.ParseDecimal(tok[:len(tok)-1]); v.OK && v.Mant > 0 {
				dev.TempC = b.float(v.Scaled(0))
			}
		case sdk.HasPrefix(tok, "fan") && len(tok) > 1 && tok[len(tok)-1] == '%' && dev.FanPct == nil:
			if c := sdk.IndexByte(tok, ':'); c > 0 {
				if v := sdk.ParseDecimal(tok[c+1 : len(tok)-1]); v.OK {
					dev.FanPct = b.float(v.Scaled(0))
				}
			}
		case sdk.IndexByte(tok, '/') > 0:
			core, mem, _ := bytes.Cut(bytes.TrimSuffix(tok, []byte("MHz")), []byte{'/'})
			if v := sdk.ParseDecimal(core); v.OK && v.Mant > 0 {
				dev.CoreClockMHz = b.float(v.Scaled(0))
			}
			if v := sdk.ParseDecimal(mem); v.OK && v.Mant > 0 {
				dev.MemClockMHz = b.float(v.Scaled(0))
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
	return append(evs, abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: &c}), true
}

// banner reads the " * ABOUT XMRig/6.16.0 gcc/5.4.0" (6.x) or " * VERSIONS:
// XMRig/2.6.0 ..." (2.x) version and reports backends that failed to load.
func (a *Adapter) banner(line []byte, evs []abi.Event, d *delta) []abi.Event {
	line = sdk.TrimLeft(line)
	if sdk.HasPrefix(line, "ABOUT") || sdk.HasPrefix(line, "VERSIONS") {
		if i := bytes.Index(line, []byte("XMRig")); i >= 0 {
			if j := sdk.IndexByte(line[i:], '/'); j > 0 {
				v := line[i+j+1:]
				v = v[:sdk.WordEnd(v, 0)]
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

func gpuKind(tag []byte) string {
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
func donateHost(host []byte) bool {
	return sdk.HasPrefix(host, "donate.") || sdk.HasPrefix(host, "donate2.") || containsXMRig(host)
}

// containsXMRig is bytes.Contains(host, ".xmrig.com"), cheaper for a host
// without an 'x'.
func containsXMRig(host []byte) bool {
	return sdk.IndexByte(host, 'x') >= 0 && bytes.Contains(host, []byte(".xmrig.com"))
}
