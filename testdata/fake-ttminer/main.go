// Command fake-ttminer imitates TT-Miner for rigd's tests: no real TT-Miner
// binary can be fetched in CI, so this program accepts TT-Miner's flags,
// prints its console lines in the real formats (the captures in
// adapters/ttminer/testdata) and answers Claymore's miner_getstat1 on the
// -b address the way TT-Miner does (hashrates in H/s, uptime in minutes).
//
// What it does is scripted by a scenario: a JSON file named by the
// FAKE_TTMINER_SCENARIO environment variable or by the fake-only flag
// -scenario FILE (the flag wins). See README.md for the format. Without
// one it mines with a single RTX 3060 at 21.50 MH/s.
//
// It is a testdata program: `go build ./...` and `go vet ./...` skip it;
// tests build it with
//
//	go build -o DIR/TT-Miner ./testdata/fake-ttminer
//
// from the repository root.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// scenario scripts one run. Zero values mean the defaults in brackets.
type scenario struct {
	// Version is the TT-Miner version printed and reported ["2023.4.0"].
	Version string `json:"version"`
	// Beta > 0 makes the banner say " - Beta N" and is the N of the
	// expiry line.
	Beta int `json:"beta"`
	// NoMillis prints "HH:MM:SS" timestamps (2023.1.x) instead of
	// "HH:MM:SS.mmm" (2023.4.x and later).
	NoMillis bool `json:"no_millis"`
	// IntervalMS is the report interval in milliseconds; 0 uses -rep-i
	// seconds [10 s].
	IntervalMS int `json:"interval_ms"`
	// GPUs are the devices the machine "has"; -d selects among them by id
	// [one RTX 3060].
	GPUs []gpu `json:"gpus"`
	// ZeroUntilShare is the number of reports printed (and served by the
	// API) with 0 H/s and no shares before the first share, TT-Miner's
	// known quirk.
	ZeroUntilShare int `json:"zero_until_share"`
	// Expired prints the beta expiry line right after start-up, as the real
	// 2024.2.1 Beta 5 does, and exits with ExpiryExit.
	Expired bool `json:"expired"`
	// ExpireAfter > 0 prints the expiry line after that many reports and
	// exits with ExpiryExit.
	ExpireAfter int `json:"expire_after"`
	// ExpiryExit is the exit code after the expiry line [1].
	ExpiryExit int `json:"expiry_exit"`
	// CrashAfter > 0 crashes after that many reports, the way Crash says.
	CrashAfter int `json:"crash_after"`
	// Crash is "exit" (exit with CrashExit, no message), "segv" (a nil
	// pointer dereference with GOTRACEBACK=crash: a SIGSEGV report on
	// stderr, then death by SIGABRT) or "kill" (SIGKILL to itself) ["exit"].
	Crash string `json:"crash"`
	// CrashExit is the exit code of Crash "exit" [3].
	CrashExit int `json:"crash_exit"`
	// Difficulty is the pool difficulty; printed as hashes (x 2^32) [1].
	Difficulty float64 `json:"difficulty"`
	// APIClose closes the API connection after each reply; by default the
	// connection stays open for more request lines until the client closes
	// it or is idle for 10 s.
	APIClose bool `json:"api_close"`
	// MaxRuntimeS bounds the run: the fake exits 0 after that many seconds
	// [600].
	MaxRuntimeS int `json:"max_runtime_s"`
}

// gpu is one device of the scenario.
type gpu struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`   // ["NVIDIA GeForce RTX 3060"]
	Vendor string `json:"vendor"` // board vendor ["ASUS"]
	Bus    string `json:"bus"`    // PCI bus id ["01:00.0" from the id]
	// HashrateHS is printed with 4 significant digits and a unit, as
	// TT-Miner does; the API serves it as an integer H/s.
	HashrateHS  float64 `json:"hashrate_hs"`
	TempC       int     `json:"temp_c"`
	FanPct      int     `json:"fan_pct"`
	PowerW      int     `json:"power_w"`
	CoreMHz     float64 `json:"core_mhz"`
	MemMHz      float64 `json:"mem_mhz"`
	VRAMTotalGB float64 `json:"vram_total_gb"` // [12]
	VRAMFreeGB  float64 `json:"vram_free_gb"`  // [VRAMTotalGB - 1]
	// SharesPerReport accepted shares are added every report after the
	// first share [1]; RejectEvery > 0 rejects every n-th share instead.
	SharesPerReport int `json:"shares_per_report"`
	RejectEvery     int `json:"reject_every"`
	// DropAfter > 0: the GPU stops reporting after that many reports (it
	// vanishes from the statistics lines and the API: the device count
	// falls).
	DropAfter int `json:"drop_after"`
}

// options are the TT-Miner flags the fake understands.
type options struct {
	algo, coin   string
	pools        []string
	devices      []int
	api          string
	noColor      bool
	repI         int
	scenarioFile string
	version      bool
	list         bool
}

func parseArgs(args []string) options {
	o := options{repI: 10}
	next := func(i *int) string {
		if *i+1 < len(args) {
			*i++
			return args[*i]
		}
		return ""
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-a", "-A", "-algo":
			o.algo = next(&i)
		case "-c", "-coin":
			o.coin = next(&i)
		case "-P", "-o", "-pool", "-url":
			o.pools = append(o.pools, next(&i))
		case "-d", "-device", "-devices", "-gpus":
			// "-d 0 1 2" or "-d 0,1,2".
			for i+1 < len(args) && isList(args[i+1]) {
				i++
				for _, f := range strings.Split(args[i], ",") {
					if n, err := strconv.Atoi(f); err == nil {
						o.devices = append(o.devices, n)
					}
				}
			}
		case "-i", "-intensity":
			for i+1 < len(args) && isList(args[i+1]) {
				i++
			}
		case "-b", "--api-bind", "-api-bind":
			o.api = next(&i)
		case "-no-color", "-nocolor":
			o.noColor = true
		case "-rep-i", "-report-interval":
			if n, err := strconv.Atoi(next(&i)); err == nil && n >= 0 {
				o.repI = n
			}
		case "-scenario":
			o.scenarioFile = next(&i)
		case "-v", "--version":
			o.version = true
		case "-l", "-list", "-n", "-ndevs":
			o.list = true
		default:
			// Unknown flags are ignored, with their value if one follows.
			if strings.HasPrefix(a, "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
		}
	}
	return o
}

func isList(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == ',') {
			return false
		}
	}
	return true
}

// defaultScenario is the scenario file used when neither the flag nor the
// environment names one; tests set it at build time
// (-ldflags "-X main.defaultScenario=/path/scenario.json") because rigd
// passes miners only an allow-listed environment.
var defaultScenario string

func loadScenario(o *options) (scenario, error) {
	var sc scenario
	file := o.scenarioFile
	if file == "" {
		file = os.Getenv("FAKE_TTMINER_SCENARIO")
	}
	if file == "" {
		file = defaultScenario
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return sc, err
		}
		if err := json.Unmarshal(b, &sc); err != nil {
			return sc, fmt.Errorf("scenario %s: %w", file, err)
		}
	}
	if sc.Version == "" {
		sc.Version = "2023.4.0"
	}
	if len(sc.GPUs) == 0 {
		sc.GPUs = []gpu{{ID: 0, HashrateHS: 21.5e6, TempC: 61, FanPct: 70, PowerW: 115, CoreMHz: 1500, MemMHz: 7000}}
	}
	for i := range sc.GPUs {
		g := &sc.GPUs[i]
		if g.Name == "" {
			g.Name = "NVIDIA GeForce RTX 3060"
		}
		if g.Vendor == "" {
			g.Vendor = "ASUS"
		}
		if g.Bus == "" {
			g.Bus = fmt.Sprintf("%02x:00.0", g.ID+1)
		}
		if g.VRAMTotalGB == 0 {
			g.VRAMTotalGB = 12
		}
		if g.VRAMFreeGB == 0 {
			g.VRAMFreeGB = g.VRAMTotalGB - 1
		}
		if g.SharesPerReport == 0 {
			g.SharesPerReport = 1
		}
	}
	if sc.ExpiryExit == 0 {
		sc.ExpiryExit = 1
	}
	if sc.CrashExit == 0 {
		sc.CrashExit = 3
	}
	if sc.Difficulty == 0 {
		sc.Difficulty = 1
	}
	if sc.MaxRuntimeS <= 0 {
		sc.MaxRuntimeS = 600
	}
	return sc, nil
}

// miner is the running fake.
type miner struct {
	sc    scenario
	o     options
	start time.Time
	out   *bufio.Writer

	mu      sync.Mutex
	reports int
	gpus    []*gpuState // the selected GPUs, in id order
	pool    string      // host:port
}

type gpuState struct {
	gpu
	acc, rej int
	shares   int
	hr       float64 // as last printed
	gone     bool
}

func main() {
	o := parseArgs(os.Args[1:])
	sc, err := loadScenario(&o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-ttminer:", err)
		os.Exit(2)
	}
	m := &miner{sc: sc, o: o, start: time.Now(), out: bufio.NewWriter(os.Stdout)}
	os.Exit(m.run())
}

func (m *miner) ts() string {
	if m.sc.NoMillis {
		return time.Now().Format("15:04:05")
	}
	return time.Now().Format("15:04:05.000")
}

// line prints one console line: timestamp, the tag padded to TT-Miner's
// column, the message; coloured unless -no-color.
func (m *miner) line(tag, msg string) {
	text := msg
	if tag != "" {
		text = fmt.Sprintf("%-15s%s", tag, msg)
	}
	if m.o.noColor {
		fmt.Fprintf(m.out, "%s %s\n", m.ts(), text)
	} else {
		fmt.Fprintf(m.out, "\x1b[37m%s\x1b[0m \x1b[32m%s\x1b[0m\n", m.ts(), text)
	}
	m.out.Flush()
}

func (m *miner) banner() string {
	b := "TT-Miner - Version: " + m.sc.Version
	if m.sc.Beta > 0 {
		b += fmt.Sprintf(" - Beta %d", m.sc.Beta)
	}
	return b + " (Sep  7 2023 13:13:32)"
}

func (m *miner) selected(id int) bool {
	if len(m.o.devices) == 0 {
		return true
	}
	for _, d := range m.o.devices {
		if d == id {
			return true
		}
	}
	return false
}

func (m *miner) deviceList() {
	m.line("", "********* CUDA-GPU information")
	m.line("", "GeForce Driver-Ver:    525.125.06")
	m.line("", "NVML-Ver:              12.525.125.06")
	m.line("", "CUDA-Ver:              12.0")
	m.line("", fmt.Sprintf("      CUDA devices:    %d", len(m.sc.GPUs)))
	for _, g := range m.sc.GPUs {
		mark := " "
		if m.selected(g.ID) {
			mark = "*"
		}
		m.line("", fmt.Sprintf("%s #%02d PCI %s %-6s %s  %s / %s  SM/Cores: 28/3584   {00000000-0000-0000-0000-%012d}",
			mark, g.ID, g.Bus, g.Vendor, g.Name, si(g.VRAMTotalGB, "GB"), si(g.VRAMFreeGB, "GB"), g.ID))
	}
}

func (m *miner) expire() int {
	beta := m.sc.Beta
	if beta == 0 {
		beta = 1
	}
	m.line("", fmt.Sprintf("Beta %d test period expired - please check for a new version of TT-Miner.", beta))
	return m.sc.ExpiryExit
}

func (m *miner) run() int {
	m.line("", "********* "+m.banner())
	if m.o.version {
		return 0
	}
	if m.sc.Beta > 0 {
		m.line("", "********* NO DEVFEE!")
	}
	m.line("", "********* Log system initialized...")
	if m.sc.Expired {
		return m.expire()
	}
	m.line("", "********* Internal event system initialized...")
	m.line("", "********* Worker threads initialized, using 4 threads...")
	m.line("", "********* Commandline: TT-Miner "+strings.Join(os.Args[1:], " "))
	m.deviceList()
	if m.o.list {
		return 0
	}
	for _, g := range m.sc.GPUs {
		if m.selected(g.ID) {
			m.gpus = append(m.gpus, &gpuState{gpu: g})
		}
	}
	if len(m.gpus) == 0 {
		m.line("", "********* No device selected - exit")
		return 1
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)

	if m.o.api != "" {
		ln, err := net.Listen("tcp", m.o.api)
		if err != nil {
			m.line("", "********* Could not start API Monitor Listener: "+err.Error())
			return 1
		}
		defer ln.Close()
		m.line("", "********* Start API Monitor Listener")
		go m.serve(ln)
	}
	m.line("", "********* Start mining")
	m.line("", fmt.Sprintf("********* Mining fee for '%s': 1.00%%", firstOf(m.o.coin, m.o.algo, "KawPow")))
	m.line("", "********* Start worker loop...")
	m.pool = "127.0.0.1:3333"
	if len(m.o.pools) > 0 {
		m.pool = poolHost(m.o.pools[0])
		m.line("Pool[DEF-0]:", "Connecting to: "+m.o.pools[0])
	}
	m.line("Pool[DEF-0]:", "Connected to: "+m.pool+" - IP4/IP6: 127.0.0.1")
	m.line("Pool[DEF-0]:", "Set pool extra nonce to: 0x54000072")
	m.line("Pool[DEF-0]:", "Difficulty changed from 0 H to "+si(m.sc.Difficulty*4294967296, "H"))
	m.line("Pool[DEF-0]:", "Received new job#: 3d6")
	m.line("Pool[DEF-0]:", "Working on Block#: 119957")

	interval := time.Duration(m.o.repI) * time.Second
	if m.sc.IntervalMS > 0 {
		interval = time.Duration(m.sc.IntervalMS) * time.Millisecond
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(time.Duration(m.sc.MaxRuntimeS) * time.Second)
	defer deadline.Stop()
	for job := 0x3d7; ; job++ {
		select {
		case <-sigs:
			// TT-Miner stops on SIGTERM/Ctrl-C; the fake exits at once.
			m.out.Flush()
			return 0
		case <-deadline.C:
			return 0
		case <-tick.C:
		}
		m.line("Pool[DEF-0]:", fmt.Sprintf("Received new job#: %x", job))
		if code, done := m.report(); done {
			return code
		}
	}
}

// report prints one round of statistics and applies the scenario's events.
func (m *miner) report() (int, bool) {
	m.mu.Lock()
	m.reports++
	n := m.reports
	mining := n > m.sc.ZeroUntilShare
	var lines []string
	var total float64
	var acc, rej, power int
	for _, g := range m.gpus {
		if g.DropAfter > 0 && n > g.DropAfter {
			g.gone = true
		}
		if g.gone {
			continue
		}
		g.hr = 0
		last := "-"
		if mining {
			g.hr = g.HashrateHS
			for k := 0; k < g.SharesPerReport; k++ {
				g.shares++
				if g.RejectEvery > 0 && g.shares%g.RejectEvery == 0 {
					g.rej++
				} else {
					g.acc++
				}
			}
			last = "00:01"
		}
		total += g.hr
		acc += g.acc
		rej += g.rej
		power += g.PowerW
		eff := "0 H/s/W"
		if g.PowerW > 0 && g.hr > 0 {
			eff = si(g.hr/float64(g.PowerW), "H/s/W")
		}
		lines = append(lines, fmt.Sprintf("GPU[%02d-DEF]:|%s [A%d:R%d:S0 %s]  CClk:%s-0%%  MClk:%s-0%%  %d°C  %d%%  %d W  %s  %s left  last: %s",
			g.ID, si(g.hr, "H/s"), g.acc, g.rej, pct(g.rej, g.acc+g.rej), si(g.CoreMHz*1e6, "Hz"), si(g.MemMHz*1e6, "Hz"),
			g.TempC, g.FanPct, g.PowerW, eff, si(g.VRAMFreeGB, "GB"), last))
	}
	up := int(time.Since(m.start).Seconds())
	eff := "0 H/s/W"
	if power > 0 && total > 0 {
		eff = si(total/float64(power), "H/s/W")
	}
	last := "-"
	if mining {
		last = "00:01"
	}
	lines = append(lines, fmt.Sprintf("All[DEF]:|%s [A%d:R%d:S0 %s]  %d W  %s  uptime: %d %02d:%02d:%02d  last: %s",
		si(total, "H/s"), acc, rej, pct(rej, acc+rej), power, eff, up/86400, up/3600%24, up/60%60, up%60, last))
	m.mu.Unlock()
	for _, l := range lines {
		tag, msg, _ := strings.Cut(l, "|")
		m.line(tag, msg)
	}
	if m.sc.ExpireAfter > 0 && n >= m.sc.ExpireAfter {
		return m.expire(), true
	}
	if m.sc.CrashAfter > 0 && n >= m.sc.CrashAfter {
		m.crash()
		return m.sc.CrashExit, true
	}
	return 0, false
}

func (m *miner) crash() {
	m.out.Flush()
	switch m.sc.Crash {
	case "segv":
		debug.SetTraceback("crash")
		var p *int
		*p = 1 // a real SIGSEGV; with traceback "crash" the runtime then aborts
	case "kill":
		self, _ := os.FindProcess(os.Getpid())
		self.Kill()
		time.Sleep(time.Second)
	}
}

// serve answers miner_getstat1 on each request line.
func (m *miner) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go m.conn(c)
	}
}

func (m *miner) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(io.LimitReader(c, 1<<20), 4096)
	for i := 0; i < 1000; i++ {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		req, err := r.ReadString('\n')
		if err != nil && req == "" {
			return
		}
		var q struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		reply := `{"id":0,"jsonrpc":"2.0","result":null,"error":"unknown method"}`
		if json.Unmarshal([]byte(req), &q) == nil && q.Method == "miner_getstat1" {
			reply = m.getstat()
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, reply+"\n"); err != nil || m.sc.APIClose {
			return
		}
	}
}

// getstat is Claymore's miner_getstat1 result with TT-Miner's units.
func (m *miner) getstat() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hrs, tf []string
	var total float64
	acc, rej := 0, 0
	for _, g := range m.gpus {
		if g.gone {
			continue
		}
		hrs = append(hrs, strconv.FormatFloat(math.Round(g.hr), 'f', -1, 64))
		tf = append(tf, strconv.Itoa(g.TempC), strconv.Itoa(g.FanPct))
		total += math.Round(g.hr)
		acc += g.acc
		rej += g.rej
	}
	res := []string{
		m.sc.Version,
		strconv.Itoa(int(time.Since(m.start).Minutes())),
		fmt.Sprintf("%s;%d;%d", strconv.FormatFloat(total, 'f', -1, 64), acc, rej),
		strings.Join(hrs, ";"),
		"0;0",
		strings.TrimSuffix(strings.Repeat("off;", len(hrs)), ";"),
		strings.Join(tf, ";"),
		m.pool,
		"0;0;0;0",
	}
	b, _ := json.Marshal(map[string]any{"id": 0, "jsonrpc": "2.0", "result": res})
	return string(b)
}

// si formats v with four significant digits and a decimal SI prefix, as
// TT-Miner prints hashrates, difficulties, clocks and memory: "21.50 MH/s",
// "268.4 MH", "1.500 GHz", "0 H/s". Units that already carry a prefix
// (GB) are only rounded.
func si(v float64, unit string) string {
	if v == 0 {
		return "0 " + unit
	}
	prefix := ""
	if unit != "GB" {
		for _, p := range []string{"k", "M", "G", "T", "P"} {
			if v < 1000 {
				break
			}
			v /= 1000
			prefix = p
		}
	}
	digits := 3
	switch {
	case v >= 100:
		digits = 1
	case v >= 10:
		digits = 2
	}
	return strconv.FormatFloat(v, 'f', digits, 64) + " " + prefix + unit
}

func pct(part, total int) string {
	if total == 0 {
		return "0.0%"
	}
	return strconv.FormatFloat(100*float64(part)/float64(total), 'f', 1, 64) + "%"
}

// poolHost returns host:port of a -P value
// "[scheme://]user[.worker][:pass]@host:port".
func poolHost(p string) string {
	if _, rest, ok := strings.Cut(p, "://"); ok {
		p = rest
	}
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
