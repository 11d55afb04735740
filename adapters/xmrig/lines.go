package xmrig

import (
	"bytes"
	"unsafe"

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
		b.ints = make([]int64, 0, 32)
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

func (b *batch) float(v float64) *float64 {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, 32)
	}
	b.floats = append(b.floats, v)
	return &b.floats[len(b.floats)-1]
}

// ParseLines turns console lines into events and the stats they change.
// Lines arrive with ANSI escapes stripped by the host; escapes that slip
// through are removed here. Nothing in a line can make it fail.
func (a *Adapter) ParseLines(stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var (
		d   delta
		b   batch
		evs []abi.Event
	)
	b.bools = [2]bool{false, true}
	if len(lines) > 4 {
		evs = make([]abi.Event, 0, len(lines))
	}
	for _, line := range lines {
		evs = a.parseLine(line, evs, &d, &b)
	}
	res := abi.LineResult{Events: evs}
	if res.Events == nil {
		res.Events = []abi.Event{}
	}
	if d.any {
		res.Stats = &abi.Stats{
			HashrateHS: d.hr[0], Hashrate60sHS: d.hr[1], Hashrate15mHS: d.hr[2], HashrateMaxHS: d.hr[3],
			Accepted: d.accepted, Rejected: d.rejected, LastRejectReason: d.reason,
			Pool: d.pool, PoolConnected: d.connected, Difficulty: d.difficulty,
			Algorithm: d.algo, Version: d.version, Paused: d.paused, Devices: d.devices,
		}
	}
	return res, nil
}

func (a *Adapter) parseLine(line []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	if bytes.IndexByte(line, 0x1b) >= 0 {
		a.scratch = stripANSI(a.scratch[:0], line)
		line = a.scratch
	}
	line = trimSpace(line)
	if len(line) < 4 {
		return evs
	}
	if line[0] == '*' && line[1] == ' ' {
		return a.banner(line[2:], evs, d)
	}
	ts, msg := splitTime(line)
	if ev, ok := a.message(nil, ts, msg, d, b); ok {
		if ev.Type != "" {
			evs = append(evs, ev)
		}
		return evs
	}
	// 5.x/6.x lines carry a module tag ("net", "cpu", "miner", ...) before
	// the message; 2.x lines have none.
	tag, rest := cutWord(msg)
	if len(tag) == 0 || len(tag) > 12 || len(rest) == 0 {
		return evs
	}
	if ev, ok := a.message(tag, ts, trimLeft(rest), d, b); ok && ev.Type != "" {
		evs = append(evs, ev)
	}
	return evs
}

// message parses one message (after the timestamp and tag). ok reports
// that the line was recognised; an ev with empty Type is recognised but
// produces no event.
func (a *Adapter) message(tag, ts, msg []byte, d *delta, b *batch) (ev abi.Event, ok bool) {
	if len(msg) == 0 {
		return ev, false
	}
	switch msg[0] {
	case 's':
		if hasPrefix(msg, "speed ") {
			return a.speed(ts, msg[6:], d, b), true
		}
	case 'a':
		if hasPrefix(msg, "accepted (") {
			return a.share(abi.EventShareAccepted, ts, msg[len("accepted "):], d, b), true
		}
	case 'r':
		if hasPrefix(msg, "rejected (") {
			return a.share(abi.EventShareRejected, ts, msg[len("rejected "):], d, b), true
		}
		if word(msg, "resumed") {
			d.any, d.paused = true, &b.bools[0]
			return abi.Event{Type: abi.EventResumed, Time: b.str(ts)}, true
		}
	case 'p':
		if word(msg, "paused") {
			d.any, d.paused = true, &b.bools[1]
			return abi.Event{Type: abi.EventPaused, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'n':
		if hasPrefix(msg, "new job from ") {
			return a.newJob(ts, msg[len("new job from "):], d, b), true
		}
		if hasPrefix(msg, "no active pools") {
			d.any, d.connected = true, &b.bools[0]
			return abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Reason: b.str(msg), Pool: a.lines.pool}, true
		}
		if hasPrefix(msg, "no valid configuration found") {
			return abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'u':
		if hasPrefix(msg, "use pool ") || hasPrefix(msg, "use daemon ") || hasPrefix(msg, "use pool: ") {
			_, rest := cutWord(msg[4:])
			host, _ := cutWord(trimLeft(rest))
			return a.usePool(ts, host, d, b), true
		}
	case 'R':
		if word(msg, "READY") {
			return abi.Event{Type: abi.EventReady, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'd':
		if hasPrefix(msg, "dev donate started") {
			a.lines.donate = true
			return abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate started", Donate: true}, true
		}
		if hasPrefix(msg, "dev donate finished") {
			a.lines.donate = false
			return abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Message: "dev donate finished", Pool: a.lines.pool}, true
		}
	case '[':
		// 2.x-5.x: "[host:port] connect error: ..."
		if end := bytes.IndexByte(msg, ']'); end > 1 {
			if ev, ok := a.clientError(ts, msg[1:end], trimLeft(msg[end+1:]), d, b); ok {
				return ev, true
			}
		}
	case '#':
		if kind := gpuKind(tag); kind != "" {
			return a.health(kind, ts, msg[1:], d, b)
		}
	case 'I', 'U':
		if hasPrefix(msg, "Incompatible algorithm") || hasPrefix(msg, "Unknown/unsupported algorithm") {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	case 'K':
		if hasPrefix(msg, "KawPow failed") {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	}
	if tag != nil && digitOrLetter(msg[0]) {
		// 6.x: "net      host:port connect error: ..."
		if host, rest := cutWord(msg); bytes.IndexByte(host, ':') > 0 {
			if ev, ok := a.clientError(ts, host, trimLeft(rest), d, b); ok {
				return ev, true
			}
		}
	}
	if tag == nil {
		// A config file JSON error: "config.json<line:1, position:2>: ...".
		if w, _ := cutWord(msg); bytes.IndexByte(w, '<') > 0 && bytes.Contains(w, []byte("<line:")) {
			return abi.Event{Type: abi.EventError, Time: b.str(ts), Message: b.str(msg)}, true
		}
	}
	return ev, false
}

// speed parses "10s/60s/15m 38.50 n/a n/a H/s max 38.60 H/s" (and the 2.x
// "2.5s/60s/15m ... H/s max: ... H/s").
func (a *Adapter) speed(ts, msg []byte, d *delta, b *batch) abi.Event {
	_, rest := cutWord(msg) // the window names
	var vals [4]decimal
	for i := 0; i < 3; i++ {
		var tok []byte
		tok, rest = cutWord(trimLeft(rest))
		vals[i] = parseDecimal(tok)
	}
	unit, rest := cutWord(trimLeft(rest))
	exp, unitOK := unitExp(unit)
	ev := abi.Event{Type: abi.EventHashrate, Time: b.str(ts)}
	if !unitOK {
		return ev
	}
	kw, rest := cutWord(trimLeft(rest))
	maxExp, maxOK := 0, false
	if string(kw) == "max" || string(kw) == "max:" {
		var tok, u []byte
		tok, rest = cutWord(trimLeft(rest))
		u, _ = cutWord(trimLeft(rest))
		vals[3] = parseDecimal(tok)
		maxExp, maxOK = unitExp(u)
	}
	d.any = true
	for i := 0; i < 3; i++ {
		if vals[i].ok {
			d.hr[i] = b.float(vals[i].scaled(exp))
		}
	}
	if maxOK && vals[3].ok {
		d.hr[3] = b.float(vals[3].scaled(maxExp))
	}
	ev.HashrateHS = d.hr[0]
	if !vals[0].ok {
		ev.HashrateHS = nil
	}
	return ev
}

// share parses "(N/M) diff D (L ms)" and "(N/M) diff D "reason" (L ms)".
func (a *Adapter) share(typ string, ts, msg []byte, d *delta, b *batch) abi.Event {
	ev := abi.Event{Type: typ, Time: b.str(ts), Donate: a.lines.donate}
	end := bytes.IndexByte(msg, ')')
	if end < 0 {
		return ev
	}
	accS, rejS, found := bytes.Cut(msg[1:end], []byte{'/'})
	acc, okA := parseInt(accS)
	rej, okR := parseInt(rejS)
	if found && okA && okR {
		ev.Accepted, ev.Rejected = b.int(acc), b.int(rej)
		d.any, d.accepted, d.rejected = true, ev.Accepted, ev.Rejected
	}
	rest := trimLeft(msg[end+1:])
	if hasPrefix(rest, "diff ") {
		var tok []byte
		tok, rest = cutWord(rest[5:])
		if v, ok := parseDiff(tok); ok {
			ev.Difficulty = b.float(v)
		}
		rest = trimLeft(rest)
	}
	if typ == abi.EventShareRejected && len(rest) > 0 && rest[0] == '"' {
		if q := bytes.LastIndexByte(rest, '"'); q > 0 {
			ev.Reason = b.str(rest[1:q])
			rest = trimLeft(rest[q+1:])
			if !a.lines.donate {
				d.any, d.reason = true, ev.Reason
			}
		}
	}
	if len(rest) > 0 && rest[0] == '(' {
		if tok, _ := cutWord(rest[1:]); len(tok) > 0 {
			if v := parseDecimal(tok); v.ok {
				ev.LatencyMS = b.float(v.scaled(0))
			}
		}
	}
	return ev
}

// newJob parses "HOST:PORT diff D algo A height H".
func (a *Adapter) newJob(ts, msg []byte, d *delta, b *batch) abi.Event {
	host, rest := cutWord(msg)
	ev := abi.Event{Type: abi.EventNewJob, Time: b.str(ts), Pool: b.str(host)}
	ev.Donate = a.lines.donate || donateHost(host)
	for len(rest) > 0 {
		var key, val []byte
		key, rest = cutWord(trimLeft(rest))
		val, rest = cutWord(trimLeft(rest))
		switch string(key) {
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
	return ev
}

func (a *Adapter) usePool(ts, host []byte, d *delta, b *batch) abi.Event {
	ev := abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Pool: b.str(host)}
	if a.lines.donate || donateHost(host) {
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
func (a *Adapter) clientError(ts, host, text []byte, d *delta, b *batch) (abi.Event, bool) {
	if !(bytes.Contains(text, []byte("error")) || bytes.Contains(text, []byte("failed")) ||
		bytes.Contains(text, []byte("timeout")) || hasPrefix(text, "duplicate job")) {
		return abi.Event{}, false
	}
	ev := abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Pool: b.str(host), Reason: unquote(text)}
	if a.lines.donate || donateHost(host) {
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
func (a *Adapter) health(kind string, ts, msg []byte, d *delta, b *batch) (abi.Event, bool) {
	idTok, rest := cutWord(msg)
	id, ok := parseInt(idTok)
	if !ok || id < 0 || id > 1<<16 {
		return abi.Event{}, false
	}
	dev := abi.Device{ID: int(id), Kind: kind}
	bus, rest := cutWord(trimLeft(rest))
	dev.BusID = b.str(bus)
	for len(rest) > 0 {
		var tok []byte
		tok, rest = cutWord(trimLeft(rest))
		switch {
		case len(tok) > 1 && tok[len(tok)-1] == 'W':
			if v := parseDecimal(tok[:len(tok)-1]); v.ok && v.mant > 0 {
				dev.PowerW = b.float(v.scaled(0))
			}
		case len(tok) > 1 && tok[len(tok)-1] == 'C':
			if v := parseDecimal(tok[:len(tok)-1]); v.ok && v.mant > 0 {
				dev.TempC = b.float(v.scaled(0))
			}
		case hasPrefix(tok, "fan") && len(tok) > 1 && tok[len(tok)-1] == '%' && dev.FanPct == nil:
			if i := bytes.IndexByte(tok, ':'); i > 0 {
				if v := parseDecimal(tok[i+1 : len(tok)-1]); v.ok {
					dev.FanPct = b.float(v.scaled(0))
				}
			}
		case bytes.IndexByte(tok, '/') > 0:
			core, mem, _ := bytes.Cut(bytes.TrimSuffix(tok, []byte("MHz")), []byte{'/'})
			if v := parseDecimal(core); v.ok && v.mant > 0 {
				dev.CoreClockMHz = b.float(v.scaled(0))
			}
			if v := parseDecimal(mem); v.ok && v.mant > 0 {
				dev.MemClockMHz = b.float(v.scaled(0))
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
func (a *Adapter) banner(line []byte, evs []abi.Event, d *delta) []abi.Event {
	line = trimLeft(line)
	if hasPrefix(line, "ABOUT") || hasPrefix(line, "VERSIONS") {
		if i := bytes.Index(line, []byte("XMRig")); i >= 0 {
			if j := bytes.IndexByte(line[i:], '/'); j > 0 {
				v, _ := cutWord(line[i+j+1:])
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
	return hasPrefix(host, "donate.") || hasPrefix(host, "donate2.") || bytes.Contains(host, []byte(".xmrig.com"))
}
