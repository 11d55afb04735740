package ttminer

// refAdapter is the console parser as it was before the hot path was
// rewritten for the wasm guest, kept as the reference:
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

// maxTracked bounds every per-session list (devices listed, ids of a report
// cycle): far above any rig, so that no input can grow the state.
const refMaxTracked = 64

// gpuInfo is what the start-up device list says about a device TT-Miner
// was told to use (a "* #NN PCI bus vendor name ..." line).
type refGpuInfo struct {
	id   int
	kind string
	name string
	bus  string
}

// lineState is what the console parser remembers across batches of one
// session.
type refLineState struct {
	// section is the start-up list being printed: 'g' for a GPU list
	// ("CUDA-GPU information", "OpenCl-Devices information"), 'c' for the
	// CPU list, 0 otherwise.
	section byte
	// selected are the devices marked '*' in the GPU lists, in list order.
	selected []refGpuInfo
	// marked is set once a line carried the '*' marker newer TT-Miner
	// versions put before the values of the active algorithm/coin; from
	// then on statistics lines without it belong to an inactive one.
	marked bool
	// pool is "host:port" of the pool last connected to.
	pool string
	// diff is the current share difficulty (hashes / 2^32), 0 if unknown.
	diff float64
	// cycle holds the device ids of the GPU lines of the report being
	// printed; lastCycle those of the last complete report. ParseAPI maps
	// the API's per-GPU lists onto them.
	cycle, lastCycle []int
}

func (s *refLineState) reset() {
	s.section, s.marked, s.pool, s.diff = 0, false, "", 0
	s.selected = s.selected[:0]
	s.cycle = s.cycle[:0]
	s.lastCycle = s.lastCycle[:0]
}

// device returns the listed facts about device id, if any.
func (s *refLineState) device(id int) *refGpuInfo {
	for i := range s.selected {
		if s.selected[i].id == id {
			return &s.selected[i]
		}
	}
	return nil
}

// kind is the device kind of id: from the device list's model name, else
// "nvidia" (TT-Miner is a CUDA miner first; neither its statistics lines
// nor its API name the vendor).
func (s *refLineState) kind(id int) string {
	if g := s.device(id); g != nil {
		return g.kind
	}
	return "nvidia"
}

// delta collects what one batch changed; it becomes LineResult.Stats.
type refDelta struct {
	any        bool
	hr         *float64
	accepted   *int64
	rejected   *int64
	stale      *int64
	pool       string
	connected  *bool
	difficulty *float64
	uptime     *float64
	algo       string
	version    string
	devices    []abi.Device
}

// batch holds per-call backing storage so that the many small pointers of
// events do not cost one allocation each. It is fresh for every call: the
// returned events point into it.
type refBatch struct {
	ints   []int64
	floats []float64
	devs   []abi.Device // the devices of device_stats events
	bools  [2]bool
	// text backs the strings of the batch's events. Bytes are only ever
	// appended into spare capacity, never overwritten, so strings made over
	// it stay immutable; a full chunk is replaced by a new one.
	text []byte
}

// str returns x as a string backed by the batch's text chunk.
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

// device returns a copy of d owned by the batch, for an event.
func (b *refBatch) device(d *abi.Device) *abi.Device {
	if len(b.devs) == cap(b.devs) {
		b.devs = make([]abi.Device, 0, 16)
	}
	b.devs = append(b.devs, *d)
	return &b.devs[len(b.devs)-1]
}

func (b *refBatch) int(v int64) *int64 {
	if len(b.ints) == cap(b.ints) {
		b.ints = make([]int64, 0, 64)
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

func (b *refBatch) float(v float64) *float64 {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, 128)
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
		evs = a.parseLine(line, evs, &d, &b)
	}
	res := abi.LineResult{Events: evs}
	if res.Events == nil {
		res.Events = []abi.Event{}
	}
	if d.any {
		res.Stats = &abi.Stats{
			HashrateHS: d.hr, Accepted: d.accepted, Rejected: d.rejected, Stale: d.stale,
			Pool: d.pool, PoolConnected: d.connected, Difficulty: d.difficulty, UptimeS: d.uptime,
			Algorithm: d.algo, Version: d.version, Devices: d.devices,
		}
	}
	return res, nil
}

func (a *refAdapter) parseLine(line []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	if bytes.IndexByte(line, 0x1b) >= 0 {
		a.scratch = refStripANSI(a.scratch[:0], line)
		line = a.scratch
	}
	line = refTrimSpace(line)
	if len(line) == 0 {
		return evs
	}
	ts, msg := refSplitTime(line)
	if len(msg) == 0 {
		return evs
	}
	s := &a.lines
	switch msg[0] {
	case '*':
		if refHasPrefix(msg, "*********") {
			return a.banner(ts, refTrimLeft(msg[9:]), evs, d, b)
		}
		if s.section == 'g' {
			return a.listed(ts, refTrimLeft(msg[1:]), evs, d, b)
		}
	case '#':
		return evs // an unselected device of the start-up list
	case 'G':
		if refHasPrefix(msg, "GPU[") {
			return a.gpu(ts, msg[4:], evs, d, b)
		}
	case 'A':
		if refHasPrefix(msg, "All[") {
			return a.all(ts, msg[4:], evs, d, b)
		}
	case 'P':
		if refHasPrefix(msg, "Pool[") {
			return a.poolLine(ts, msg[5:], evs, d, b)
		}
	}
	if refExpiry(msg) {
		return append(evs, abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)})
	}
	return evs
}

// expiry recognises the line a beta prints when its test period is over and
// it refuses to mine: "Beta 5 test period expired - please check for a new
// version of TT-Miner." (2024.2.1 Beta 5, TT-Miner-beta issues #9 and #10).
// Wordings of other builds are not known, so any untagged line that says
// "expired" together with "test period", "beta" or "version" counts.
func refExpiry(msg []byte) bool {
	return refContainsFold(msg, "expired") &&
		(refContainsFold(msg, "test period") || refContainsFold(msg, "beta") || refContainsFold(msg, "version"))
}

// banner handles "********* ..." lines: the version, and the headers of
// the start-up device lists.
func (a *refAdapter) banner(ts, msg []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	s := &a.lines
	if refExpiry(msg) {
		s.section = 0
		return append(evs, abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)})
	}
	switch {
	case refHasPrefix(msg, "TT-Miner"):
		// "TT-Miner - Version: 2023.4.0 (Sep  7 2023 13:13:32)",
		// "TT-Miner - Version: 2024.2.1 - Beta 5 (Jun  9 2024 10:55:05)".
		if i := refIndex(msg, "Version:"); i >= 0 {
			v, _ := refCutWord(refTrimLeft(msg[i+len("Version:"):]))
			if len(v) > 0 && refDigit(v[0]) && len(v) <= 32 {
				d.any, d.version = true, b.str(v)
			}
		}
		s.section = 0
	case refContainsFold(msg, "information") && (refContainsFold(msg, "cpu") || refContainsFold(msg, "core")):
		s.section = 'c'
	case refContainsFold(msg, "information") && (refContainsFold(msg, "gpu") || refContainsFold(msg, "device")):
		s.section = 'g'
	default:
		s.section = 0
	}
	return evs
}

// listed reads a device marked '*' (selected for mining) in a start-up GPU
// list:
// "#00 PCI 01:00.0 ASUS   NVIDIA GeForce RTX 3060 Ti  8.000 GB / 7.776 GB  SM/Cores: 38/4864 {uuid}"
// (the OpenCL list has no board vendor). It records the device's model,
// bus id and kind for the statistics lines and reports them.
func (a *refAdapter) listed(ts, msg []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	if len(msg) < 2 || msg[0] != '#' {
		return evs
	}
	idTok, rest := refCutWord(msg[1:])
	id, ok := refParseInt(idTok)
	if !ok || id > 1<<16 {
		return evs
	}
	rest = refTrimLeft(rest)
	var bus []byte
	if refHasPrefix(rest, "PCI ") {
		bus, rest = refCutWord(refTrimLeft(rest[4:]))
	}
	// Fields are separated by runs of spaces: [vendor] name, then the
	// memory ("8.000 GB / 7.776 GB"); the name is the field before the
	// first one that starts with a digit.
	var name []byte
	for len(rest) > 0 {
		var f []byte
		f, rest = refCutField(rest)
		if len(f) == 0 || refDigit(f[0]) {
			break
		}
		name = f
	}
	s := &a.lines
	g := s.device(int(id))
	if g == nil {
		if len(s.selected) >= refMaxTracked {
			return evs
		}
		s.selected = append(s.selected, refGpuInfo{id: int(id)})
		g = &s.selected[len(s.selected)-1]
	}
	g.name, g.bus, g.kind = string(name), string(bus), refVendorKind(name)
	dev := abi.Device{ID: g.id, Kind: g.kind, Name: g.name, BusID: g.bus}
	d.any = true
	refPutDevice(d, dev)
	return append(evs, abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: b.device(&dev)})
}

// vendorKind guesses the device kind from a model name.
func refVendorKind(name []byte) string {
	switch {
	case refContainsFold(name, "radeon") || refContainsFold(name, "amd"):
		return "amd"
	case refContainsFold(name, "intel"):
		return "intel"
	}
	return "nvidia"
}

// putDevice sets dev as the batch's value for its (Kind, ID): a later line
// of the same device in the batch overrides the values it has, and keeps
// the others. The pointers point into the batch's storage; nothing is
// copied.
func refPutDevice(d *refDelta, dev abi.Device) {
	for i := range d.devices {
		p := &d.devices[i]
		if p.Kind != dev.Kind || p.ID != dev.ID {
			continue
		}
		if dev.Name != "" {
			p.Name = dev.Name
		}
		if dev.BusID != "" {
			p.BusID = dev.BusID
		}
		for _, f := range [...][2]**float64{
			{&p.HashrateHS, &dev.HashrateHS}, {&p.TempC, &dev.TempC}, {&p.FanPct, &dev.FanPct},
			{&p.PowerW, &dev.PowerW}, {&p.CoreClockMHz, &dev.CoreClockMHz}, {&p.MemClockMHz, &dev.MemClockMHz},
			{&p.VRAMFreeMiB, &dev.VRAMFreeMiB},
		} {
			if *f[1] != nil {
				*f[0] = *f[1]
			}
		}
		for _, f := range [...][2]**int64{{&p.Accepted, &dev.Accepted}, {&p.Rejected, &dev.Rejected}, {&p.Stale, &dev.Stale}} {
			if *f[1] != nil {
				*f[0] = *f[1]
			}
		}
		return
	}
	if d.devices == nil {
		d.devices = make([]abi.Device, 0, 8)
	}
	d.devices = append(d.devices, dev)
}

// tag splits "00-DEF]:  rest" (after "GPU[") into the text inside the
// brackets and the message after "]:", with its leading '*' marker removed.
func refTag(msg []byte) (inside, rest []byte, marked, ok bool) {
	end := -1
	for i := 0; i < len(msg) && i < 40; i++ {
		if msg[i] == ']' {
			end = i
			break
		}
	}
	if end < 0 || end+1 >= len(msg) || msg[end+1] != ':' {
		return nil, nil, false, false
	}
	rest = refTrimLeft(msg[end+2:])
	for len(rest) > 0 && rest[0] == '*' {
		rest, marked = rest[1:], true
	}
	return msg[:end], refTrimLeft(rest), marked, true
}

// active reports whether a statistics or pool line counts: every line
// before the first '*' marker (older versions print none), afterwards only
// marked lines.
func (s *refLineState) active(marked bool) bool {
	if marked {
		s.marked = true
		return true
	}
	return !s.marked
}

// rateAndShares parses "21.50 MH/s [A12:R1:S0 7.7%]", the first field of
// GPU and All lines.
func refRateAndShares(f []byte) (hr float64, hrOK bool, acc, rej, stale int64, sharesOK bool) {
	num, r := refCutWord(f)
	unit, r := refCutWord(refTrimLeft(r))
	if v := refParseDecimal(num); v.ok && refHasSuffix(unit, "H/s") {
		if exp, ok := refSiExp(unit[:len(unit)-3]); ok {
			hr, hrOK = v.scaled(exp), true
		}
	}
	r = refTrimLeft(r)
	if len(r) < 2 || r[0] != '[' {
		return
	}
	end := 1
	for end < len(r) && r[end] != ']' && !refIsSpace(r[end]) {
		end++
	}
	// "A12:R1:S0"
	var vals [3]int64
	want := [3]byte{'A', 'R', 'S'}
	p := r[1:end]
	for k := 0; k < 3; k++ {
		if len(p) == 0 || p[0] != want[k] {
			return
		}
		j := 1
		for j < len(p) && refDigit(p[j]) {
			j++
		}
		n, ok := refParseInt(p[1:j])
		if !ok {
			return
		}
		vals[k] = n
		p = p[j:]
		if k < 2 {
			if len(p) == 0 || p[0] != ':' {
				return
			}
			p = p[1:]
		}
	}
	return hr, hrOK, vals[0], vals[1], vals[2], true
}

// gpu parses "00-DEF]:   21.50 MH/s [A12:R0:S0 0.0%]  CClk:1.845 GHz-100%
// MClk:7.420 GHz-26%  56°C  70%  85 W  252.9 kH/s/W  1.718 GB left  last: 00:42"
// (2023.x) and "00-NOVO]:  *0 H/s [A0:R0:S0 0.0%]  CClk:0 Hz-0%  MClk:0 Hz
// 0°C  0%  3.818 GB   -" (2025).
func (a *refAdapter) gpu(ts, msg []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	inside, rest, marked, ok := refTag(msg)
	if !ok {
		return evs
	}
	idTok := inside
	for i, c := range inside {
		if c == '-' {
			idTok = inside[:i]
			break
		}
	}
	id64, ok := refParseInt(idTok)
	s := &a.lines
	if !ok || id64 > 1<<16 || !s.active(marked) {
		return evs
	}
	id := int(id64)
	first, rest := refCutField(rest)
	hr, hrOK, acc, rej, stale, sharesOK := refRateAndShares(first)
	if !hrOK && !sharesOK {
		return evs
	}
	dev := abi.Device{ID: id, Kind: s.kind(id)}
	if g := s.device(id); g != nil {
		dev.Name, dev.BusID = g.name, g.bus
	}
	if hrOK {
		dev.HashrateHS = b.float(hr)
	}
	if sharesOK {
		dev.Accepted, dev.Rejected, dev.Stale = b.int(acc), b.int(rej), b.int(stale)
	}
	var temp, fan float64
	tempOK, fanOK := false, false
	for len(rest) > 0 {
		var f []byte
		f, rest = refCutField(rest)
		switch {
		case refHasPrefix(f, "CClk:"):
			if v, ok := refClockMHz(f[5:]); ok {
				dev.CoreClockMHz = b.float(v)
			}
		case refHasPrefix(f, "MClk:"):
			if v, ok := refClockMHz(f[5:]); ok {
				dev.MemClockMHz = b.float(v)
			}
		case len(f) > 1 && f[len(f)-1] == 'C':
			temp, tempOK = refCelsius(f[:len(f)-1])
		case len(f) > 1 && f[len(f)-1] == '%':
			if v := refParseDecimal(f[:len(f)-1]); v.ok {
				fan, fanOK = v.scaled(0), true
			}
		case refHasSuffix(f, " W"):
			if v := refParseDecimal(f[:len(f)-2]); v.ok && v.mant > 0 {
				dev.PowerW = b.float(v.scaled(0))
			}
		case refHasSuffix(f, "B left") || refHasSuffix(f, "B"):
			if v, ok := refMebibytes(f); ok {
				dev.VRAMFreeMiB = b.float(v)
			}
		}
	}
	// A sensor TT-Miner cannot read shows as 0 (an RX 580 prints "0°C  0%"
	// and "0 Hz" clocks): 0 °C is unknown, and so is the fan then.
	if tempOK && temp > 0 {
		dev.TempC = b.float(temp)
		if fanOK {
			dev.FanPct = b.float(fan)
		}
	}
	if n := len(s.cycle); n > 0 && id <= s.cycle[n-1] {
		s.lastCycle = append(s.lastCycle[:0], s.cycle...)
		s.cycle = s.cycle[:0]
	}
	if len(s.cycle) < refMaxTracked {
		s.cycle = append(s.cycle, id)
	}
	d.any = true
	refPutDevice(d, dev)
	return append(evs, abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: b.device(&dev)})
}

// clockMHz parses "405.0 MHz-0%", "1.845 GHz-100%", "0 Hz" into MHz; 0 is
// unknown.
func refClockMHz(f []byte) (float64, bool) {
	for i, c := range f {
		if c == '-' {
			f = f[:i]
			break
		}
	}
	v, ok := refQuantity(refTrimSpace(f), "Hz")
	if !ok || !(v > 0) {
		return 0, false
	}
	return v / 1e6, true
}

// celsius parses the temperature before the final 'C': "56°" (UTF-8), or
// with the degree sign lost in a code-page conversion ("56?", "56\xb0",
// U+FFFD, "56 ").
func refCelsius(f []byte) (float64, bool) {
	for len(f) > 0 && !refDigit(f[len(f)-1]) {
		c := f[len(f)-1]
		if c != ' ' && c != '?' && c < 0x80 {
			return 0, false
		}
		f = f[:len(f)-1]
	}
	v := refParseDecimal(f)
	return v.scaled(0), v.ok
}

// mebibytes parses free GPU memory, "5.777 GB left", "436.8 MB", "3.818 GB",
// into MiB. TT-Miner's GPU memory units are binary: an 8 GiB RTX 3060 Ti
// is listed with "8.000 GB", a 12 GiB RTX 3060 with "12.00 GB".
func refMebibytes(f []byte) (float64, bool) {
	if refHasSuffix(f, " left") {
		f = f[:len(f)-5]
	}
	num, unit := refCutWord(f)
	unit = refTrimLeft(unit)
	v := refParseDecimal(num)
	if !v.ok {
		return 0, false
	}
	switch string(unit) {
	case "B":
		return v.scaled(0) / (1 << 20), true
	case "kB", "KB":
		return v.scaled(0) / 1024, true
	case "MB":
		return v.scaled(0), true
	case "GB":
		return v.scaled(0) * 1024, true
	case "TB":
		return v.scaled(0) * 1024 * 1024, true
	}
	return 0, false
}

// all parses the rig totals: "DEF]:      43.00 MH/s [A12:R0:S0 0.0%]  230 W
// 187.0 kH/s/W  uptime: 0 00:10:07  last: 00:05" (and the 2025 form with
// "mining-time: ...").
func (a *refAdapter) all(ts, msg []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	_, rest, marked, ok := refTag(msg)
	s := &a.lines
	if !ok || !s.active(marked) {
		return evs
	}
	first, rest := refCutField(rest)
	hr, hrOK, acc, rej, stale, sharesOK := refRateAndShares(first)
	if !hrOK && !sharesOK {
		return evs
	}
	ev := abi.Event{Type: abi.EventHashrate, Time: b.str(ts)}
	d.any = true
	if hrOK {
		d.hr = b.float(hr)
		ev.HashrateHS = d.hr
	}
	if sharesOK {
		d.accepted, d.rejected, d.stale = b.int(acc), b.int(rej), b.int(stale)
	}
	for len(rest) > 0 {
		var f []byte
		f, rest = refCutField(rest)
		if refHasPrefix(f, "uptime:") {
			if secs, ok := refUptime(refTrimLeft(f[7:])); ok {
				d.uptime = b.float(secs)
			}
		}
	}
	if len(s.cycle) > 0 {
		s.lastCycle = append(s.lastCycle[:0], s.cycle...)
		s.cycle = s.cycle[:0]
	}
	return append(evs, ev)
}

// uptime parses "d hh:mm:ss" ("0 00:00:07", "12 03:04:05") into seconds.
func refUptime(f []byte) (float64, bool) {
	dayTok, rest := refCutWord(f)
	days, ok := refParseInt(dayTok)
	rest = refTrimLeft(rest)
	if !ok || len(rest) != 8 || rest[2] != ':' || rest[5] != ':' || days > 1e6 {
		return 0, false
	}
	h, okH := refParseInt(rest[0:2])
	m, okM := refParseInt(rest[3:5])
	sec, okS := refParseInt(rest[6:8])
	if !okH || !okM || !okS || m > 59 || sec > 60 {
		return 0, false
	}
	return float64(((days*24+h)*60+m)*60 + sec), true
}

// poolLine parses "DEF-0]:   Connected to: host:port - IP4/IP6: …",
// "Difficulty changed from 0 H to 1.310 kH", "*Difficulty set to 85.90 GH",
// "Received new job#: 3d6", "Working on Block#: 119957 - Blocks until epoch
// change: 5172", "**** Summary for: Novo / SHA256DT" and connection errors.
func (a *refAdapter) poolLine(ts, msg []byte, evs []abi.Event, d *refDelta, b *refBatch) []abi.Event {
	_, rest, marked, ok := refTag(msg)
	s := &a.lines
	if !ok || len(rest) == 0 || !s.active(marked) {
		return evs
	}
	switch rest[0] {
	case 'C':
		if refHasPrefix(rest, "Connected to:") {
			host, _ := refCutWord(refTrimLeft(rest[len("Connected to:"):]))
			if len(host) == 0 || len(host) > 260 {
				return evs
			}
			s.pool = string(host)
			d.any, d.pool, d.connected = true, s.pool, &b.bools[1]
			return append(evs, abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Pool: s.pool})
		}
		if refHasPrefix(rest, "Connecting to:") {
			return evs
		}
	case 'D':
		if refHasPrefix(rest, "Difficulty ") {
			// The new value is the last two words: "... to 1.310 kH",
			// "set to 85.90 GH".
			if i := refLastIndex(rest, " to "); i >= 0 {
				if h, ok := refQuantity(refTrimSpace(rest[i+4:]), "H"); ok {
					s.diff = refRoundSig(h/shareFactor, 4)
					d.any, d.difficulty = true, b.float(s.diff)
				}
			}
			return evs
		}
	case 'R':
		if refHasPrefix(rest, "Received new job") {
			ev := abi.Event{Type: abi.EventNewJob, Time: b.str(ts), Pool: s.pool}
			if s.diff > 0 {
				ev.Difficulty = b.float(s.diff)
			}
			if s.pool != "" {
				d.any, d.pool, d.connected = true, s.pool, &b.bools[1]
			}
			return append(evs, ev)
		}
	case 'W':
		if refHasPrefix(rest, "Working on Block#:") {
			// The height belongs to the job received just before.
			n := len(evs)
			if n > 0 && evs[n-1].Type == abi.EventNewJob && evs[n-1].Height == nil {
				h, _ := refCutWord(refTrimLeft(rest[len("Working on Block#:"):]))
				if v, ok := refParseInt(h); ok {
					evs[n-1].Height = b.int(v)
				}
			}
			return evs
		}
	case 'S':
		if refHasPrefix(rest, "Summary for:") {
			// "Summary for: Novo / SHA256DT": the coin and the algorithm.
			if i := refIndex(rest, " / "); i >= 0 {
				name, _ := refCutWord(rest[i+3:])
				if al := lookupAlgo(string(name)); al != nil {
					d.any, d.algo = true, al.name
				} else if len(name) > 0 && len(name) <= 32 {
					d.any, d.algo = true, strings.ToLower(string(name))
				}
			}
			return evs
		}
	}
	if refPoolTrouble(rest) {
		ev := abi.Event{Type: abi.EventPoolError, Time: b.str(ts), Pool: s.pool, Reason: b.str(rest)}
		d.any, d.connected = true, &b.bools[0]
		return append(evs, ev)
	}
	return evs
}

// poolTrouble recognises connection problems of a Pool[…] line. No capture
// of TT-Miner losing its pool is available, so this is deliberately broad;
// messages TT-Miner marks as ignored ("General failure - … - ignored") are
// not errors.
func refPoolTrouble(msg []byte) bool {
	if refContainsFold(msg, "ignored") {
		return false
	}
	for _, w := range [...]string{"disconnect", "connection lost", "connection closed", "connection failed",
		"could not connect", "cannot connect", "unable to connect", "refused", "timed out", "timeout", "error", "failure"} {
		if refContainsFold(msg, w) {
			return true
		}
	}
	return false
}

// roundSig rounds v to n significant digits: TT-Miner prints difficulties
// with four ("85.90 GH" for 20 x 2^32), so more digits after the division
// by 2^32 would only be rounding noise (20.00015...).
func refRoundSig(v float64, n int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(v))))
	if math.IsInf(p, 0) || p == 0 {
		return v
	}
	return math.Round(v*p) / p
}

// lastIndex returns the last index of s in b, or -1.
func refLastIndex(b []byte, s string) int {
	for i := len(b) - len(s); i >= 0; i-- {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// Hand-written scanning helpers for the console and API parsers: no regexp
// and no allocation on the hot path.

// stripANSI appends line to dst without ANSI escape sequences: CSI
// (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \) and two-byte escapes.
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
			i += 2
		default:
			i++
		}
	}
	return dst
}

func refIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func refDigit(c byte) bool { return c >= '0' && c <= '9' }

func refTrimLeft(b []byte) []byte {
	for len(b) > 0 && refIsSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func refTrimRight(b []byte) []byte {
	for len(b) > 0 && refIsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func refTrimSpace(b []byte) []byte { return refTrimRight(refTrimLeft(b)) }

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

// cutField returns the text up to the next run of two or more spaces (TT-Miner
// separates the fields of its statistics lines that way; a field such as
// "CClk:405.0 MHz-0%" contains single spaces) and the rest after the run.
func refCutField(b []byte) (f, rest []byte) {
	b = refTrimLeft(b)
	for i := 0; i+1 < len(b); i++ {
		if refIsSpace(b[i]) && refIsSpace(b[i+1]) {
			return b[:i], refTrimLeft(b[i:])
		}
	}
	return refTrimRight(b), nil
}

func refHasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

func refHasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// index returns the first index of s in b, or -1.
func refIndex(b []byte, s string) int {
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
// ignoring the case of b.
func refContainsFold(b []byte, s string) bool {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for j < n && refLower(b[i+j]) == s[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func refLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// splitTime splits "HH:MM:SS rest" or "HH:MM:SS.mmm rest" into the
// timestamp text and the rest. Lines without a timestamp (TT-Miner's
// -notimestamp, continuation lines) are returned whole.
func refSplitTime(line []byte) (ts, rest []byte) {
	if len(line) < 8 || !refDigit(line[0]) || !refDigit(line[1]) || line[2] != ':' ||
		!refDigit(line[3]) || !refDigit(line[4]) || line[5] != ':' || !refDigit(line[6]) || !refDigit(line[7]) {
		return nil, line
	}
	n := 8
	if n < len(line) && line[n] == '.' {
		n++
		for n < len(line) && n < 13 && refDigit(line[n]) {
			n++
		}
	}
	if n < len(line) && !refIsSpace(line[n]) {
		return nil, line
	}
	return line[:n], refTrimLeft(line[n:])
}

// parseInt parses a non-negative decimal integer of at most 18 digits.
func refParseInt(b []byte) (int64, bool) {
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
// unit scaling (kH/s, MH/s) adds no binary rounding noise.
type refDecimal struct {
	mant uint64
	frac int
	ok   bool
}

// parseDecimal parses "39.77", "0", "1234.5"; anything else is not ok.
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
func (d refDecimal) scaled(exp int) float64 {
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

// siExp maps a decimal SI prefix ("", k, M, G, T, P) to its power of ten.
func refSiExp(p []byte) (int, bool) {
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
func refQuantity(b []byte, units ...string) (float64, bool) {
	i := 0
	for i < len(b) && (refDigit(b[i]) || b[i] == '.') {
		i++
	}
	num := refParseDecimal(b[:i])
	if !num.ok {
		return 0, false
	}
	rest := b[i:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	for _, u := range units {
		if !refHasSuffix(rest, u) {
			continue
		}
		if exp, ok := refSiExp(rest[:len(rest)-len(u)]); ok {
			return num.scaled(exp), true
		}
	}
	return 0, false
}
