package ttminer

import (
	"math"
	"strings"
	"unsafe"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// maxTracked bounds every per-session list (devices listed, ids of a report
// cycle): far above any rig, so that no input can grow the state.
const maxTracked = 64

// gpuInfo is what the start-up device list says about a device TT-Miner
// was told to use (a "* #NN PCI bus vendor name ..." line).
type gpuInfo struct {
	id   int
	kind string
	name string
	bus  string
}

// lineState is what the console parser remembers across batches of one
// session.
type lineState struct {
	// section is the start-up list being printed: 'g' for a GPU list
	// ("CUDA-GPU information", "OpenCl-Devices information"), 'c' for the
	// CPU list, 0 otherwise.
	section byte
	// selected are the devices marked '*' in the GPU lists, in list order.
	selected []gpuInfo
	// marked is set once a line carried the '*' marker newer TT-Miner
	// versions put before the values of the active algorithm/coin; from
	// then on statistics lines without it belong to an inactive one.
	marked bool
	// pool is "host:port" of the pool last connected to.
	pool string
	// uptime is set once a totals line gave the uptime to the second:
	// the API's, in whole minutes, is then not used.
	uptime bool
	// diff is the current share difficulty (hashes / 2^32), 0 if unknown.
	diff float64
	// cycle holds the device ids of the GPU lines of the report being
	// printed; lastCycle those of the last complete report. ParseAPI maps
	// the API's per-GPU lists onto them.
	cycle, lastCycle []int
}

func (s *lineState) reset() {
	s.section, s.marked, s.pool, s.diff, s.uptime = 0, false, "", 0, false
	s.selected = s.selected[:0]
	s.cycle = s.cycle[:0]
	s.lastCycle = s.lastCycle[:0]
}

// device returns the listed facts about device id, if any.
func (s *lineState) device(id int) *gpuInfo {
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
func (s *lineState) kind(id int) string {
	if g := s.device(id); g != nil {
		return g.kind
	}
	return "nvidia"
}

// delta collects what one batch changed; it becomes LineResult.Stats.
type delta struct {
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
// events do not cost one allocation each: the returned events point into
// it. The numbers and devices are reused by the next call, as the events
// are; the text is not.
type batch struct {
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

// device returns a copy of d owned by the batch, for an event.
func (b *batch) device(d *abi.Device) *abi.Device {
	if len(b.devs) == cap(b.devs) {
		// A new chunk: the pointers already handed out keep the old one.
		b.devs = make([]abi.Device, 0, max(16, 2*cap(b.devs)))
	}
	b.devs = append(b.devs, *d)
	return &b.devs[len(b.devs)-1]
}

func (b *batch) int(v int64) *int64 {
	if len(b.ints) == cap(b.ints) {
		b.ints = make([]int64, 0, max(64, 2*cap(b.ints)))
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

func (b *batch) float(v float64) *float64 {
	if len(b.floats) == cap(b.floats) {
		b.floats = make([]float64, 0, max(128, 2*cap(b.floats)))
	}
	b.floats = append(b.floats, v)
	return &b.floats[len(b.floats)-1]
}

// ParseLines turns console lines into events and the stats they change.
// Lines arrive without ANSI escapes (the host strips them, and the SDK
// strips any that slip through). Nothing in a line can make it fail.
//
// The result's Events slice, and the numbers and devices its events point
// to, are the adapter's and are reused by its next call (the SDK encodes
// them before then): allocating them for every batch cost a guest more
// than parsing a dozen lines. Strings are never overwritten.
func (a *Adapter) ParseLines(stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var d delta
	b := batch{ints: a.ints[:0], floats: a.floats[:0], devs: a.devs[:0]}
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
	a.ints, a.floats, a.devs = b.ints[:0], b.floats[:0], b.devs[:0]
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

func (a *Adapter) parseLine(line []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	line = sdk.TrimSpace(line)
	if len(line) == 0 {
		return evs
	}
	ts, msg := splitTime(line)
	if len(msg) == 0 {
		return evs
	}
	s := &a.lines
	switch msg[0] {
	case '*':
		if sdk.HasPrefix(msg, "*********") {
			return a.banner(ts, sdk.TrimLeft(msg[9:]), evs, d, b)
		}
		if s.section == 'g' {
			return a.listed(ts, sdk.TrimLeft(msg[1:]), evs, d, b)
		}
	case '#':
		return evs // an unselected device of the start-up list
	case 'G':
		if sdk.HasPrefix(msg, "GPU[") {
			return a.gpu(ts, msg[4:], evs, d, b)
		}
	case 'A':
		if sdk.HasPrefix(msg, "All[") {
			return a.all(ts, msg[4:], evs, d, b)
		}
	case 'P':
		if sdk.HasPrefix(msg, "Pool[") {
			return a.poolLine(ts, msg[5:], evs, d, b)
		}
	}
	if expiry(msg) {
		return append(evs, abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)})
	}
	return evs
}

// expiry recognises the line a beta prints when its test period is over and
// it refuses to mine: "Beta 5 test period expired - please check for a new
// version of TT-Miner." (2024.2.1 Beta 5, TT-Miner-beta issues #9 and #10).
// Wordings of other builds are not known, so any untagged line that says
// "expired" together with "test period", "beta" or "version" counts.
func expiry(msg []byte) bool {
	return containsFold(msg, "expired") &&
		(containsFold(msg, "test period") || containsFold(msg, "beta") || containsFold(msg, "version"))
}

// banner handles "********* ..." lines: the version, and the headers of
// the start-up device lists.
func (a *Adapter) banner(ts, msg []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	s := &a.lines
	if expiry(msg) {
		s.section = 0
		return append(evs, abi.Event{Type: abi.EventFatal, Time: b.str(ts), Message: b.str(msg)})
	}
	switch {
	case sdk.HasPrefix(msg, "TT-Miner"):
		// "TT-Miner - Version: 2023.4.0 (Sep  7 2023 13:13:32)",
		// "TT-Miner - Version: 2024.2.1 - Beta 5 (Jun  9 2024 10:55:05)".
		if i := index(msg, "Version:"); i >= 0 {
			v, _ := cutWord(sdk.TrimLeft(msg[i+len("Version:"):]))
			if len(v) > 0 && sdk.IsDigit(v[0]) && len(v) <= 32 {
				d.any, d.version = true, b.str(v)
			}
		}
		s.section = 0
	case containsFold(msg, "information") && (containsFold(msg, "cpu") || containsFold(msg, "core")):
		s.section = 'c'
	case containsFold(msg, "information") && (containsFold(msg, "gpu") || containsFold(msg, "device")):
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
func (a *Adapter) listed(ts, msg []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	if len(msg) < 2 || msg[0] != '#' {
		return evs
	}
	idTok, rest := cutWord(msg[1:])
	id, ok := sdk.ParseUint(idTok)
	if !ok || id > 1<<16 {
		return evs
	}
	rest = sdk.TrimLeft(rest)
	var bus []byte
	if sdk.HasPrefix(rest, "PCI ") {
		bus, rest = cutWord(sdk.TrimLeft(rest[4:]))
	}
	// Fields are separated by runs of spaces: [vendor] name, then the
	// memory ("8.000 GB / 7.776 GB"); the name is the field before the
	// first one that starts with a digit.
	var name []byte
	for len(rest) > 0 {
		var f []byte
		f, rest = cutField(rest)
		if len(f) == 0 || sdk.IsDigit(f[0]) {
			break
		}
		name = f
	}
	s := &a.lines
	g := s.device(int(id))
	if g == nil {
		if len(s.selected) >= maxTracked {
			return evs
		}
		s.selected = append(s.selected, gpuInfo{id: int(id)})
		g = &s.selected[len(s.selected)-1]
	}
	g.name, g.bus, g.kind = string(name), string(bus), vendorKind(name)
	dev := abi.Device{ID: g.id, Kind: g.kind, Name: g.name, BusID: g.bus}
	d.any = true
	putDevice(d, dev)
	return append(evs, abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: b.device(&dev)})
}

// vendorKind guesses the device kind from a model name.
func vendorKind(name []byte) string {
	switch {
	case containsFold(name, "radeon") || containsFold(name, "amd"):
		return "amd"
	case containsFold(name, "intel"):
		return "intel"
	}
	return "nvidia"
}

// putDevice sets dev as the batch's value for its (Kind, ID): a later line
// of the same device in the batch overrides the values it has, and keeps
// the others. The pointers point into the batch's storage; nothing is
// copied.
func putDevice(d *delta, dev abi.Device) {
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
func tag(msg []byte) (inside, rest []byte, marked, ok bool) {
	end := sdk.IndexByte(msg[:min(len(msg), 40)], ']')
	if end < 0 || end+1 >= len(msg) || msg[end+1] != ':' {
		return nil, nil, false, false
	}
	rest = sdk.TrimLeft(msg[end+2:])
	for len(rest) > 0 && rest[0] == '*' {
		rest, marked = rest[1:], true
	}
	return msg[:end], sdk.TrimLeft(rest), marked, true
}

// active reports whether a statistics or pool line counts: every line
// before the first '*' marker (older versions print none), afterwards only
// marked lines.
func (s *lineState) active(marked bool) bool {
	if marked {
		s.marked = true
		return true
	}
	return !s.marked
}

// rateAndShares parses "21.50 MH/s [A12:R1:S0 7.7%]", the first field of
// GPU and All lines.
func rateAndShares(f []byte) (hr float64, hrOK bool, acc, rej, stale int64, sharesOK bool) {
	num, r := cutWord(f)
	unit, r := cutWord(sdk.TrimLeft(r))
	if v := sdk.ParseDecimal(num); v.OK && sdk.HasSuffix(unit, "H/s") {
		if exp, ok := siExp(unit[:len(unit)-3]); ok {
			hr, hrOK = v.Scaled(exp), true
		}
	}
	r = sdk.TrimLeft(r)
	if len(r) < 2 || r[0] != '[' {
		return
	}
	end := 1
	for end < len(r) && r[end] != ']' && !sdk.IsSpace(r[end]) {
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
		for j < len(p) && sdk.IsDigit(p[j]) {
			j++
		}
		n, ok := sdk.ParseUint(p[1:j])
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
func (a *Adapter) gpu(ts, msg []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	inside, rest, marked, ok := tag(msg)
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
	id64, ok := sdk.ParseUint(idTok)
	s := &a.lines
	if !ok || id64 > 1<<16 || !s.active(marked) {
		return evs
	}
	id := int(id64)
	first, rest := cutField(rest)
	hr, hrOK, acc, rej, stale, sharesOK := rateAndShares(first)
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
		f, rest = cutField(rest)
		switch {
		case sdk.HasPrefix(f, "CClk:"):
			if v, ok := clockMHz(f[5:]); ok {
				dev.CoreClockMHz = b.float(v)
			}
		case sdk.HasPrefix(f, "MClk:"):
			if v, ok := clockMHz(f[5:]); ok {
				dev.MemClockMHz = b.float(v)
			}
		case len(f) > 1 && f[len(f)-1] == 'C':
			temp, tempOK = celsius(f[:len(f)-1])
		case len(f) > 1 && f[len(f)-1] == '%':
			if v := sdk.ParseDecimal(f[:len(f)-1]); v.OK {
				fan, fanOK = v.Scaled(0), true
			}
		case sdk.HasSuffix(f, " W"):
			if v := sdk.ParseDecimal(f[:len(f)-2]); v.OK && v.Mant > 0 {
				dev.PowerW = b.float(v.Scaled(0))
			}
		case sdk.HasSuffix(f, "B left") || sdk.HasSuffix(f, "B"):
			if v, ok := mebibytes(f); ok {
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
	if len(s.cycle) < maxTracked {
		s.cycle = append(s.cycle, id)
	}
	d.any = true
	putDevice(d, dev)
	return append(evs, abi.Event{Type: abi.EventDeviceStats, Time: b.str(ts), Device: b.device(&dev)})
}

// clockMHz parses "405.0 MHz-0%", "1.845 GHz-100%", "0 Hz" into MHz; 0 is
// unknown.
func clockMHz(f []byte) (float64, bool) {
	for i, c := range f {
		if c == '-' {
			f = f[:i]
			break
		}
	}
	v, ok := quantity(sdk.TrimSpace(f), "Hz")
	if !ok || !(v > 0) {
		return 0, false
	}
	return v / 1e6, true
}

// celsius parses the temperature before the final 'C': "56°" (UTF-8), or
// with the degree sign lost in a code-page conversion ("56?", "56\xb0",
// U+FFFD, "56 ").
func celsius(f []byte) (float64, bool) {
	for len(f) > 0 && !sdk.IsDigit(f[len(f)-1]) {
		c := f[len(f)-1]
		if c != ' ' && c != '?' && c < 0x80 {
			return 0, false
		}
		f = f[:len(f)-1]
	}
	v := sdk.ParseDecimal(f)
	return v.Scaled(0), v.OK
}

// mebibytes parses free GPU memory, "5.777 GB left", "436.8 MB", "3.818 GB",
// into MiB. TT-Miner's GPU memory units are binary: an 8 GiB RTX 3060 Ti
// is listed with "8.000 GB", a 12 GiB RTX 3060 with "12.00 GB".
func mebibytes(f []byte) (float64, bool) {
	if sdk.HasSuffix(f, " left") {
		f = f[:len(f)-5]
	}
	num, unit := cutWord(f)
	unit = sdk.TrimLeft(unit)
	v := sdk.ParseDecimal(num)
	if !v.OK {
		return 0, false
	}
	switch string(unit) {
	case "B":
		return v.Scaled(0) / (1 << 20), true
	case "kB", "KB":
		return v.Scaled(0) / 1024, true
	case "MB":
		return v.Scaled(0), true
	case "GB":
		return v.Scaled(0) * 1024, true
	case "TB":
		return v.Scaled(0) * 1024 * 1024, true
	}
	return 0, false
}

// all parses the rig totals: "DEF]:      43.00 MH/s [A12:R0:S0 0.0%]  230 W
// 187.0 kH/s/W  uptime: 0 00:10:07  last: 00:05" (and the 2025 form with
// "mining-time: ...").
func (a *Adapter) all(ts, msg []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	_, rest, marked, ok := tag(msg)
	s := &a.lines
	if !ok || !s.active(marked) {
		return evs
	}
	first, rest := cutField(rest)
	hr, hrOK, acc, rej, stale, sharesOK := rateAndShares(first)
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
		f, rest = cutField(rest)
		if sdk.HasPrefix(f, "uptime:") {
			if secs, ok := uptime(sdk.TrimLeft(f[7:])); ok {
				d.uptime = b.float(secs)
				s.uptime = true
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
func uptime(f []byte) (float64, bool) {
	dayTok, rest := cutWord(f)
	days, ok := sdk.ParseUint(dayTok)
	rest = sdk.TrimLeft(rest)
	if !ok || len(rest) != 8 || rest[2] != ':' || rest[5] != ':' || days > 1e6 {
		return 0, false
	}
	h, okH := sdk.ParseUint(rest[0:2])
	m, okM := sdk.ParseUint(rest[3:5])
	sec, okS := sdk.ParseUint(rest[6:8])
	if !okH || !okM || !okS || m > 59 || sec > 60 {
		return 0, false
	}
	return float64(((days*24+h)*60+m)*60 + sec), true
}

// poolLine parses "DEF-0]:   Connected to: host:port - IP4/IP6: …",
// "Difficulty changed from 0 H to 1.310 kH", "*Difficulty set to 85.90 GH",
// "Received new job#: 3d6", "Working on Block#: 119957 - Blocks until epoch
// change: 5172", "**** Summary for: Novo / SHA256DT" and connection errors.
func (a *Adapter) poolLine(ts, msg []byte, evs []abi.Event, d *delta, b *batch) []abi.Event {
	_, rest, marked, ok := tag(msg)
	s := &a.lines
	if !ok || len(rest) == 0 || !s.active(marked) {
		return evs
	}
	switch rest[0] {
	case 'C':
		if sdk.HasPrefix(rest, "Connected to:") {
			host, _ := cutWord(sdk.TrimLeft(rest[len("Connected to:"):]))
			if len(host) == 0 || len(host) > 260 {
				return evs
			}
			s.pool = string(host)
			d.any, d.pool, d.connected = true, s.pool, &b.bools[1]
			return append(evs, abi.Event{Type: abi.EventPoolConnected, Time: b.str(ts), Pool: s.pool})
		}
		if sdk.HasPrefix(rest, "Connecting to:") {
			return evs
		}
	case 'D':
		if sdk.HasPrefix(rest, "Difficulty ") {
			// The new value is the last two words: "... to 1.310 kH",
			// "set to 85.90 GH".
			if i := lastIndex(rest, " to "); i >= 0 {
				if h, ok := quantity(sdk.TrimSpace(rest[i+4:]), "H"); ok {
					s.diff = roundSig(h/shareFactor, 4)
					d.any, d.difficulty = true, b.float(s.diff)
				}
			}
			return evs
		}
	case 'R':
		if sdk.HasPrefix(rest, "Received new job") {
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
		if sdk.HasPrefix(rest, "Working on Block#:") {
			// The height belongs to the job received just before.
			n := len(evs)
			if n > 0 && evs[n-1].Type == abi.EventNewJob && evs[n-1].Height == nil {
				h, _ := cutWord(sdk.TrimLeft(rest[len("Working on Block#:"):]))
				if v, ok := sdk.ParseUint(h); ok {
					evs[n-1].Height = b.int(v)
				}
			}
			return evs
		}
	case 'S':
		if sdk.HasPrefix(rest, "Summary for:") {
			// "Summary for: Novo / SHA256DT": the coin and the algorithm.
			if i := index(rest, " / "); i >= 0 {
				name, _ := cutWord(rest[i+3:])
				if al := lookupAlgo(string(name)); al != nil {
					d.any, d.algo = true, al.name
				} else if len(name) > 0 && len(name) <= 32 {
					d.any, d.algo = true, strings.ToLower(string(name))
				}
			}
			return evs
		}
	}
	if poolTrouble(rest) {
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
func poolTrouble(msg []byte) bool {
	if containsFold(msg, "ignored") {
		return false
	}
	for _, w := range [...]string{"disconnect", "connection lost", "connection closed", "connection failed",
		"could not connect", "cannot connect", "unable to connect", "refused", "timed out", "timeout", "error", "failure"} {
		if containsFold(msg, w) {
			return true
		}
	}
	return false
}

// roundSig rounds v to n significant digits: TT-Miner prints difficulties
// with four ("85.90 GH" for 20 x 2^32), so more digits after the division
// by 2^32 would only be rounding noise (20.00015...).
func roundSig(v float64, n int) float64 {
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
func lastIndex(b []byte, s string) int {
	for i := len(b) - len(s); i >= 0; i-- {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
