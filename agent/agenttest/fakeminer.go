package agenttest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fake miner is the test binary itself, started through a symlink named
// "fake-…": RunFakeMinerIfInvoked, called first thing in TestMain, sees the
// name, runs the scenario stored next to the symlink and exits.
//
//	func TestMain(m *testing.M) {
//		agenttest.RunFakeMinerIfInvoked()
//		os.Exit(m.Run())
//	}
//
//	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{Banner: []string{" * XMRig 6.16.0"}, RunFor: time.Minute})
//
// Every loop of a scenario has a count or a deadline, and a fake never runs
// longer than FakeMaxLifetime.

// FakeMaxLifetime caps how long a fake miner (or one of its forked
// children) runs, whatever its scenario says.
const FakeMaxLifetime = 15 * time.Minute

const (
	fakePrefix     = "fake-"
	fakeSleeperArg = "__agenttest_fake_sleeper"
)

// FakeScenario is what a fake miner does, in this order: set up its SIGTERM
// handling, fork its children, start its HTTP server and stdin responder,
// print the banner, write ReadyFile, play Lines Repeat times, flood, run
// RunFor longer (answering stdin and HTTP), exit with ExitCode.
type FakeScenario struct {
	// Banner lines are printed to stdout once setup is done.
	Banner []string `json:"banner,omitempty"`
	// Lines are printed in order, each after its Delay.
	Lines []FakeLine `json:"lines,omitempty"`
	// Repeat is how many times Lines are played; 0 means once.
	Repeat int `json:"repeat,omitempty"`

	// Stdin maps what the fake may read on stdin to the lines it then
	// prints to stdout. A one-byte key matches that byte anywhere (XMRig
	// reads single keys, without Enter) and is consumed; a longer key
	// matches a whole line.
	Stdin map[string][]string `json:"stdin,omitempty"`

	// TERM is what SIGTERM does: "" or "die" (the default action),
	// "exit" (print "fake-miner: SIGTERM received, exiting", wait
	// TermDelay, exit 0) or "ignore".
	TERM      string        `json:"term,omitempty"`
	TermDelay time.Duration `json:"term_delay,omitempty"`

	// Children are forked copies of the fake that sleep for ChildLifetime
	// (default one minute) in the fake's process group; the first
	// ChildrenHoldingStdout of them keep the fake's stdout open.
	Children              int           `json:"children,omitempty"`
	ChildrenHoldingStdout int           `json:"children_holding_stdout,omitempty"`
	ChildrenIgnoreTERM    bool          `json:"children_ignore_term,omitempty"`
	ChildLifetime         time.Duration `json:"child_lifetime,omitempty"`

	// Flood, if set, is played after Lines.
	Flood *FakeFlood `json:"flood,omitempty"`

	// HTTP maps URL paths to JSON bodies served on 127.0.0.1 (GET, 200,
	// application/json; other paths 404). The port is HTTPPort, else the
	// --http-port argument, else http.port of config.json in the working
	// directory (or of the file given by -c/--config), else any free port
	// (see ReadyFile). An access token from --http-access-token or
	// http.access-token is required as "Authorization: Bearer …" (401).
	HTTP     map[string]json.RawMessage `json:"http,omitempty"`
	HTTPPort int                        `json:"http_port,omitempty"`

	// ReadyFile, if set, is written (atomically, JSON FakeReady) once setup
	// is done and the banner printed.
	ReadyFile string `json:"ready_file,omitempty"`

	// RunFor is how long the fake keeps running after Lines and Flood;
	// 0 exits right away.
	RunFor time.Duration `json:"run_for,omitempty"`
	// ExitCode is the exit status at the end.
	ExitCode int `json:"exit_code,omitempty"`
}

// FakeLine is a line a fake miner prints.
type FakeLine struct {
	Text string `json:"text"`
	// Raw, if set, is printed instead of Text: bytes that are not valid
	// UTF-8 do not survive Text's trip through JSON.
	Raw    []byte        `json:"raw,omitempty"`
	Stderr bool          `json:"stderr,omitempty"`
	Delay  time.Duration `json:"delay,omitempty"` // before printing
}

// FakeFlood makes a fake miner write BytesPerSec bytes per second for
// Duration, in lines of LineLen bytes (newline included), and report how
// long its writes blocked.
type FakeFlood struct {
	BytesPerSec int           `json:"bytes_per_sec"`
	Duration    time.Duration `json:"duration"`
	LineLen     int           `json:"line_len"`
	// InvalidUTF8 mixes invalid UTF-8 and NUL bytes into the lines.
	InvalidUTF8 bool `json:"invalid_utf8,omitempty"`
	Stderr      bool `json:"stderr,omitempty"`
	// Report is the file the FakeFloodReport is written to.
	Report string `json:"report,omitempty"`
}

// FakeFloodReport is what a flood measured.
type FakeFloodReport struct {
	Bytes    int64         `json:"bytes"`
	Writes   int           `json:"writes"`
	Elapsed  time.Duration `json:"elapsed"`
	MaxBlock time.Duration `json:"max_block"` // the longest single write
}

// FakeReady is the content of FakeScenario.ReadyFile.
type FakeReady struct {
	PID      int   `json:"pid"`
	Children []int `json:"children,omitempty"`
	HTTPPort int   `json:"http_port,omitempty"`
}

// FakeMiner returns the path of a fake miner running sc: a symlink named
// "fake-miner" to the test binary in a new temporary directory, with the
// scenario beside it. The test binary's TestMain must call
// RunFakeMinerIfInvoked.
func FakeMiner(t testing.TB, sc FakeScenario) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("fake miner: %v", err)
	}
	link := filepath.Join(t.TempDir(), fakePrefix+"miner")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatalf("fake miner: %v", err)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatalf("fake miner: %v", err)
	}
	if err := os.WriteFile(link+".json", b, 0o600); err != nil {
		t.Fatalf("fake miner: %v", err)
	}
	return link
}

// ReadFakeJSON reads a ReadyFile or a flood Report into v.
func ReadFakeJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// RunFakeMinerIfInvoked runs the fake miner and exits if the program was
// started through a "fake-…" symlink; otherwise it returns at once.
func RunFakeMinerIfInvoked() {
	argv0 := os.Args[0]
	if !strings.HasPrefix(filepath.Base(argv0), fakePrefix) {
		return
	}
	if len(os.Args) > 1 && os.Args[1] == fakeSleeperArg {
		fakeExit(runSleeper(os.Args[2:]))
	}
	fakeExit(runFakeMiner(argv0, os.Args[1:]))
}

// fakeExit ends the fake at once. os.Exit(0) in a -race binary with
// goroutines alive sleeps a second first (the race runtime's
// atexit_sleep_ms), which would make every fake slow to exit and to stop.
func fakeExit(code int) {
	syscall.Exit(code)
}

// runSleeper is a forked child: sleep, optionally deaf to SIGTERM.
func runSleeper(args []string) int {
	d := time.Minute
	if len(args) > 0 {
		if v, err := time.ParseDuration(args[0]); err == nil {
			d = v
		}
	}
	if len(args) > 1 && args[1] == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	}
	time.Sleep(min(d, FakeMaxLifetime))
	return 0
}

// fakeOut serialises whole lines onto a stream.
type fakeOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *fakeOut) println(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(o.w, s+"\n")
}

func runFakeMiner(argv0 string, args []string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "fake-miner: %v\n", err)
		return 2
	}
	var sc FakeScenario
	if err := ReadFakeJSON(argv0+".json", &sc); err != nil {
		return fail(fmt.Errorf("scenario: %w", err))
	}
	hardStop := time.AfterFunc(FakeMaxLifetime, func() { fakeExit(3) })
	defer hardStop.Stop()
	stdout := &fakeOut{w: os.Stdout}
	stderr := &fakeOut{w: os.Stderr}

	switch sc.TERM {
	case "", "die":
	case "ignore":
		signal.Ignore(syscall.SIGTERM)
	case "exit":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		go func() {
			<-ch
			stdout.println("fake-miner: SIGTERM received, exiting")
			time.Sleep(min(sc.TermDelay, FakeMaxLifetime))
			fakeExit(0)
		}()
	default:
		return fail(fmt.Errorf("unknown TERM %q", sc.TERM))
	}

	ready := FakeReady{PID: os.Getpid()}
	lifetime := sc.ChildLifetime
	if lifetime <= 0 {
		lifetime = time.Minute
	}
	for i := range sc.Children {
		mode := "-"
		if sc.ChildrenIgnoreTERM {
			mode = "ignore-term"
		}
		c := exec.Command(argv0, fakeSleeperArg, lifetime.String(), mode)
		if i < sc.ChildrenHoldingStdout {
			c.Stdout = os.Stdout
		}
		if err := c.Start(); err != nil {
			return fail(fmt.Errorf("fork child: %w", err))
		}
		ready.Children = append(ready.Children, c.Process.Pid)
		go func() { _ = c.Wait() }() // reap it if it ends first
	}

	if len(sc.HTTP) > 0 {
		port, err := fakeServeHTTP(sc, args)
		if err != nil {
			return fail(err)
		}
		ready.HTTPPort = port
	}
	if len(sc.Stdin) > 0 {
		go fakeAnswerStdin(sc.Stdin, stdout)
	}

	for _, l := range sc.Banner {
		stdout.println(l)
	}
	if sc.ReadyFile != "" {
		if err := writeJSONAtomic(sc.ReadyFile, ready); err != nil {
			return fail(err)
		}
	}

	for range max(sc.Repeat, 1) {
		for _, l := range sc.Lines {
			time.Sleep(min(l.Delay, FakeMaxLifetime))
			text := l.Text
			if l.Raw != nil {
				text = string(l.Raw)
			}
			if l.Stderr {
				stderr.println(text)
			} else {
				stdout.println(text)
			}
		}
	}
	if f := sc.Flood; f != nil {
		out := stdout
		if f.Stderr {
			out = stderr
		}
		if err := fakeFlood(f, out); err != nil {
			return fail(err)
		}
	}
	time.Sleep(min(sc.RunFor, FakeMaxLifetime))
	return sc.ExitCode
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fakeAnswerStdin prints the configured answers to what it reads, until
// stdin ends (the fake's exit ends it in any case).
func fakeAnswerStdin(answers map[string][]string, out *fakeOut) {
	say := func(key string) {
		for _, l := range answers[key] {
			out.println(l)
		}
	}
	r := bufio.NewReader(os.Stdin)
	var line []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return
		}
		if c == '\n' || c == '\r' {
			if k := strings.TrimSpace(string(line)); len(k) > 1 {
				say(k)
			}
			line = line[:0]
			continue
		}
		if k := string([]byte{c}); answers[k] != nil {
			say(k) // a key, consumed at once
			continue
		}
		if len(line) < 4096 {
			line = append(line, c)
		}
	}
}

// fakeServeHTTP starts the HTTP server and returns its port.
func fakeServeHTTP(sc FakeScenario, args []string) (int, error) {
	port, token := sc.HTTPPort, ""
	config := "config.json"
	argPort := 0
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		consumed := !hasVal
		switch name {
		case "--http-port":
			argPort, _ = strconv.Atoi(val)
		case "--http-access-token":
			token = val
		case "-c", "--config":
			config = val
		default:
			consumed = false
		}
		if consumed {
			i++
		}
	}
	var cfg struct {
		HTTP struct {
			Port        int    `json:"port"`
			AccessToken string `json:"access-token"`
		} `json:"http"`
	}
	if b, err := os.ReadFile(config); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return 0, fmt.Errorf("config %s: %w", config, err)
		}
	}
	if port == 0 {
		port = argPort
	}
	if port == 0 {
		port = cfg.HTTP.Port
	}
	if token == "" {
		token = cfg.HTTP.AccessToken
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"status":401,"error":"Unauthorized"}`)
			return
		}
		body, ok := sc.HTTP[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with the process
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// fakeFlood writes f.BytesPerSec for f.Duration in f.LineLen-byte lines, in
// writes of at most 16 KiB, timing each, and writes the report.
func fakeFlood(f *FakeFlood, out *fakeOut) error {
	if f.BytesPerSec <= 0 || f.Duration <= 0 {
		return errors.New("flood: BytesPerSec and Duration must be positive")
	}
	lineLen := max(f.LineLen, 1)
	line := make([]byte, lineLen)
	for i := range line {
		line[i] = 'a' + byte(i%26)
		if f.InvalidUTF8 {
			switch i % 97 {
			case 10:
				line[i] = 0xff
			case 11:
				line[i] = 0xfe
			case 12:
				line[i] = 0xc3 // a lead byte followed by ASCII
			case 30:
				line[i] = 0
			}
		}
	}
	line[lineLen-1] = '\n'
	const chunk = 16 << 10
	total := int64(float64(f.BytesPerSec) * f.Duration.Seconds())

	out.mu.Lock()
	defer out.mu.Unlock()
	var rep FakeFloodReport
	start := time.Now()
	deadline := start.Add(f.Duration + 10*time.Second)
	pos := 0
	for rep.Bytes < total && time.Now().Before(deadline) {
		// Pace: never ahead of the rate by more than 10 ms.
		due := time.Duration(float64(rep.Bytes) / float64(f.BytesPerSec) * float64(time.Second))
		if ahead := due - time.Since(start); ahead > 10*time.Millisecond {
			time.Sleep(ahead)
		}
		n := min(chunk, lineLen-pos, int(total-rep.Bytes))
		t0 := time.Now()
		w, err := out.w.Write(line[pos : pos+n])
		rep.MaxBlock = max(rep.MaxBlock, time.Since(t0))
		rep.Writes++
		rep.Bytes += int64(w)
		if err != nil {
			return fmt.Errorf("flood: %w", err)
		}
		pos = (pos + n) % lineLen
	}
	rep.Elapsed = time.Since(start)
	if f.Report != "" {
		return writeJSONAtomic(f.Report, rep)
	}
	return nil
}
