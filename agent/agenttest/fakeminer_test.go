package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this package's test binary act as the fake miner. It is the
// only TestMain of package agenttest: tests added here get the fake for free.
func TestMain(m *testing.M) {
	RunFakeMinerIfInvoked()
	os.Exit(m.Run())
}

// runFake runs the fake to its end and returns stdout, stderr and the exit
// code.
func runFake(t *testing.T, bin string, dir string, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run fake: %v", err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestFakeMinerLinesAndExit(t *testing.T) {
	bin := FakeMiner(t, FakeScenario{
		Banner: []string{" * ABOUT        XMRig/6.16.0", " * POOL #1      pool:3333"},
		Lines: []FakeLine{
			{Text: "line a"},
			{Text: "err b", Stderr: true, Delay: 5 * time.Millisecond},
			{Raw: []byte("raw \xff\x00")},
		},
		Repeat:   2,
		ExitCode: 7,
	})
	if filepath.Base(bin) != "fake-miner" {
		t.Errorf("binary %s", bin)
	}
	out, errOut, code := runFake(t, bin, "", nil, "--donate-level", "1", "-o", "x", "--weird=arg")
	wantOut := " * ABOUT        XMRig/6.16.0\n * POOL #1      pool:3333\nline a\nraw \xff\x00\nline a\nraw \xff\x00\n"
	if out != wantOut || errOut != "err b\nerr b\n" || code != 7 {
		t.Errorf("stdout %q, stderr %q, code %d", out, errOut, code)
	}
}

func TestFakeMinerStdin(t *testing.T) {
	bin := FakeMiner(t, FakeScenario{
		Stdin:  map[string][]string{"h": {"| HASHRATE |"}, "p": {"paused"}, "resume": {"resumed"}},
		RunFor: 300 * time.Millisecond,
	})
	// Keys act at once and are consumed; longer commands need a newline.
	out, _, code := runFake(t, bin, "", strings.NewReader("hxp\nresume\nh"))
	if out != "| HASHRATE |\npaused\nresumed\n| HASHRATE |\n" || code != 0 {
		t.Errorf("stdout %q, code %d", out, code)
	}
}

func TestFakeMinerTERM(t *testing.T) {
	cases := []struct {
		term     string
		wantSig  syscall.Signal
		wantCode int
		wantOut  string
	}{
		{"", syscall.SIGTERM, -1, "up\n"},
		{"exit", 0, 0, "up\nfake-miner: SIGTERM received, exiting\n"},
		{"ignore", syscall.SIGKILL, -1, "up\n"},
	}
	for _, c := range cases {
		t.Run("term="+c.term, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready.json")
			bin := FakeMiner(t, FakeScenario{TERM: c.term, Banner: []string{"up"}, ReadyFile: ready, RunFor: time.Minute})
			cmd := exec.Command(bin)
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitReadyFile(t, ready)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			timer := time.AfterFunc(time.Second, func() { _ = cmd.Process.Kill() })
			defer timer.Stop()
			_ = cmd.Wait()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			sig := syscall.Signal(0)
			if ws.Signaled() {
				sig = ws.Signal()
			}
			if sig != c.wantSig || cmd.ProcessState.ExitCode() != c.wantCode || out.String() != c.wantOut {
				t.Errorf("signal %v, code %d, out %q", sig, cmd.ProcessState.ExitCode(), out.String())
			}
		})
	}
}

func waitReadyFile(t *testing.T, path string) FakeReady {
	t.Helper()
	var r FakeReady
	deadline := time.Now().Add(20 * time.Second)
	for ReadFakeJSON(path, &r) != nil {
		if time.Now().After(deadline) {
			t.Fatal("fake miner not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func TestFakeMinerChildren(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	bin := FakeMiner(t, FakeScenario{
		Children: 3, ChildrenHoldingStdout: 2, ChildLifetime: 200 * time.Millisecond,
		ReadyFile: ready, RunFor: 2 * time.Second, Banner: []string{"up"},
	})
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := waitReadyFile(t, ready)
	if r.PID != cmd.Process.Pid || len(r.Children) != 3 {
		t.Fatalf("ready %+v", r)
	}
	for _, c := range r.Children {
		pgid, err := syscall.Getpgid(c)
		if err != nil || pgid != cmd.Process.Pid {
			t.Errorf("child %d: pgid %d, %v", c, pgid, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "up\n" {
		t.Errorf("stdout %q", out.String())
	}
	// The children ended on their own (and the fake reaped them, unless a
	// loaded machine made one outlive it).
	for _, c := range r.Children {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(c) + "/stat"); err == nil && !bytes.Contains(b, []byte(") Z ")) {
			t.Errorf("child %d still running: %s", c, b)
		}
	}
}

func TestFakeMinerHTTP(t *testing.T) {
	freePort := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	summary := json.RawMessage(`{"worker_id":"rig","hashrate":{"total":[1234.5,null,null]}}`)
	get := func(port int, path, token string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name   string
		config string // config.json in the working directory; %d is the port
		args   []string
		token  string
	}{
		{"config.json", `{"http":{"enabled":true,"host":"127.0.0.1","port":%d,"access-token":"s3cret"}}`, nil, "s3cret"},
		{"flag", "", []string{"--http-port", "%d", "--http-access-token=tok"}, "tok"},
		{"flag=", "", []string{"--http-port=%d"}, ""},
		{"-c file", "", []string{"-c", "cfg.json"}, "other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort()
			if c.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), fmt.Appendf(nil, c.config, port), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "cfg.json"), fmt.Appendf(nil, `{"http":{"port":%d,"access-token":"other"}}`, port), 0o600); err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "%d", strconv.Itoa(port))
			}
			ready := filepath.Join(t.TempDir(), "ready.json")
			bin := FakeMiner(t, FakeScenario{HTTP: map[string]json.RawMessage{"/2/summary": summary}, ReadyFile: ready, RunFor: time.Minute})
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			r := waitReadyFile(t, ready)
			if r.HTTPPort != port {
				t.Fatalf("listening on %d, want %d", r.HTTPPort, port)
			}
			if code, body := get(port, "/2/summary", c.token); code != 200 || body != string(summary) {
				t.Errorf("summary: %d %q", code, body)
			}
			if code, _ := get(port, "/nope", c.token); code != 404 {
				t.Errorf("unknown path: %d", code)
			}
			if c.token != "" {
				if code, _ := get(port, "/2/summary", "wrong"); code != 401 {
					t.Errorf("wrong token: %d", code)
				}
			}
		})
	}
}

func TestFakeMinerFlood(t *testing.T) {
	report := filepath.Join(t.TempDir(), "flood.json")
	bin := FakeMiner(t, FakeScenario{Flood: &FakeFlood{BytesPerSec: 1_000_000, Duration: 300 * time.Millisecond, LineLen: 1000, InvalidUTF8: true, Report: report}})
	t0 := time.Now()
	out, _, code := runFake(t, bin, "", nil)
	took := time.Since(t0)
	var rep FakeFloodReport
	if err := ReadFakeJSON(report, &rep); err != nil {
		t.Fatal(err)
	}
	if code != 0 || rep.Bytes != 300_000 || len(out) != 300_000 || strings.Count(out, "\n") != 300 {
		t.Errorf("code %d, report %+v, %d bytes, %d lines", code, rep, len(out), strings.Count(out, "\n"))
	}
	if !strings.Contains(out, "\xff\xfe\xc3") || !strings.Contains(out, "\x00") {
		t.Error("no invalid UTF-8 or NUL")
	}
	if rep.Elapsed < 250*time.Millisecond || took > 10*time.Second {
		t.Errorf("flood elapsed %v, run took %v", rep.Elapsed, took)
	}
}

func TestRunFakeMinerIfInvokedReturns(t *testing.T) {
	RunFakeMinerIfInvoked() // this binary is not named fake-…: a no-op
}
