package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
	"github.com/rigd/rigd/sdk/abi"
)

func TestMain(m *testing.M) {
	agenttest.RunFakeMinerIfInvoked()
	os.Exit(m.Run())
}

// run runs the CLI and returns its exit status, stdout and stderr.
func run(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// walk calls fn for every command with its path.
func walk(cmd *command, path []string, fn func(path []string, cmd *command)) {
	for _, s := range cmd.subs {
		p := append(append([]string(nil), path...), s.name)
		fn(p, s)
		walk(s, p, fn)
	}
}

// TestHelp: rigd --help lists every command, and every command and
// group answers --help with its usage and exit status 0.
func TestHelp(t *testing.T) {
	code, out, _ := run(t.Context(), "--help")
	if code != 0 {
		t.Fatalf("rigd --help: exit %d", code)
	}
	for _, want := range []string{"serve", "status", "start", "stop", "logs", "stdin", "profiles", "history", "install", "uninstall",
		"node", "peers", "remote", "adapters", "version", "systemd-unit", "info", "events", "available", "audit"} {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(want) + ` `).MatchString(out) {
			t.Errorf("rigd --help does not list %q:\n%s", want, out)
		}
	}
	n, clients := 0, 0
	walk(root(), nil, func(path []string, cmd *command) {
		n++
		code, out, errs := run(t.Context(), append(path, "--help")...)
		if strings.Contains(out, "-agent URL") {
			clients++
		}
		if code != 0 || !strings.HasPrefix(out, "Usage: rigd "+strings.Join(path, " ")) || errs != "" {
			t.Errorf("rigd %s --help: exit %d, stdout %q, stderr %q", strings.Join(path, " "), code, out, errs)
		}
		if len(cmd.subs) > 0 {
			for _, s := range cmd.subs {
				if !strings.Contains(out, "  "+s.name+" ") {
					t.Errorf("rigd %s --help does not list %s", strings.Join(path, " "), s.name)
				}
			}
		}
		// Commands that talk to the agent take --json.
		if strings.Contains(out, "-agent URL") && !strings.Contains(out, "-json") {
			t.Errorf("rigd %s has no --json", strings.Join(path, " "))
		}
	})
	if n < 30 || clients < 25 {
		t.Fatalf("walked only %d commands, %d of them client commands", n, clients)
	}
	// rigd help CMD is rigd CMD --help.
	if code, out, _ := run(t.Context(), "help", "peers", "add"); code != 0 || !strings.HasPrefix(out, "Usage: rigd peers add") {
		t.Errorf("rigd help peers add: exit %d\n%s", code, out)
	}
	// Usage errors: exit 2 with one line.
	code, _, errs := run(t.Context(), "stop")
	if code != 2 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("rigd stop: exit %d, stderr %q", code, errs)
	}
	code, _, errs = run(t.Context(), "nope")
	if code != 2 || !strings.Contains(errs, `unknown command "nope"`) {
		t.Fatalf("rigd nope: exit %d, stderr %q", code, errs)
	}
	// Usage errors leave stdout alone (it may be piped into jq), and
	// commands refuse arguments they do not take.
	for _, args := range [][]string{
		{"status", "--json", "--timeout", "abc"}, {"audit", "50"}, {"events", "xmrig-rx-0"}, {"info", "x"},
		{"available", "x"}, {"profiles", "list", "x"}, {"version", "x"}, {"node", "x"}, {"peers", "list", "x"},
		{"logs", "m", "--lines", "0"}, {"logs", "m", "--lines", "-5"},
	} {
		code, out, errs := run(t.Context(), args...)
		if code != 2 || out != "" || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "want -") {
			t.Errorf("rigd %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
		}
	}
}

// TestCLINoAgent: a client command without an agent fails with one line.
func TestCLINoAgent(t *testing.T) {
	code, out, errs := run(t.Context(), "status", "--data-dir", t.TempDir(), "--agent", "127.0.0.1:1")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "cannot reach the agent at http://127.0.0.1:1/api/v1/mining") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestCLI drives a real in-process agent with a fake miner through the
// client commands.
func TestCLI(t *testing.T) {
	srv, _ := testServer(t, nil)
	dir := srv.cfg.DataDir
	fake := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Banner: []string{"\x1b[1;32m * ABOUT\x1b[0m XMRig/6.16.0 gcc/9.3.0", " * fake banner"},
		Stdin:  map[string][]string{"h": {"| CPU # | AFFINITY | 10s H/s |"}},
		RunFor: 2 * time.Minute,
		TERM:   "exit",
	})
	ctx := t.Context()
	cli := func(args ...string) (string, string) {
		t.Helper()
		code, out, errs := run(ctx, append(args, "--data-dir", dir)...)
		if code != 0 {
			t.Fatalf("rigd %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
		}
		return out, errs
	}
	fails := func(want string, args ...string) {
		t.Helper()
		code, out, errs := run(ctx, append(args, "--data-dir", dir)...)
		if code == 0 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rigd") || !strings.Contains(errs, want) {
			t.Fatalf("rigd %s: exit %d, stdout %q, stderr %q; want one line with %q", strings.Join(args, " "), code, out, errs, want)
		}
	}

	// The address and the token come from the data dir.
	b, err := os.ReadFile(filepath.Join(dir, "agent.addr"))
	if err != nil || strings.TrimSpace(string(b)) != srv.URL() {
		t.Fatalf("agent.addr %q, want %s (%v)", b, srv.URL(), err)
	}

	if out, _ := cli("status"); !strings.Contains(out, "no miners") {
		t.Fatalf("status: %s", out)
	}
	out, _ := cli("start", "xmrig", "--binary", fake, "--name", "cli1", "--algo", "rx/0", "--pool", "127.0.0.1:3333", "--user", "wallet", "--threads", "1")
	if !strings.Contains(out, "started cli1 (xmrig") {
		t.Fatalf("start: %s", out)
	}
	fails("name already in use", "start", "xmrig", "--binary", fake, "--name", "cli1", "--algo", "rx/0", "--pool", "127.0.0.1:3333")
	fails("--profile-id cannot be combined", "start", "xmrig", "--profile-id", "x")

	out, _ = cli("status")
	if !regexp.MustCompile(`(?m)^cli1\s+xmrig\s+running\s+\d+`).MatchString(out) {
		t.Fatalf("status table:\n%s", out)
	}
	out, _ = cli("status", "--json")
	var list []miner.Info
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Name != "cli1" {
		t.Fatalf("status --json: %v %s", err, out)
	}
	out, _ = cli("status", "cli1")
	if !strings.Contains(out, "cli1 (xmrig") || !strings.Contains(out, "restarts") {
		t.Fatalf("status cli1:\n%s", out)
	}
	// Logs, with and without ANSI.
	var logs string
	eventually(t, 10*time.Second, func() string {
		logs, _ = cli("logs", "cli1")
		if !strings.Contains(logs, "fake banner") {
			return "no banner in the logs yet"
		}
		return ""
	})
	if !strings.Contains(logs, "\x1b[1;32m") {
		t.Fatalf("logs lost the ANSI codes: %q", logs)
	}
	if out, _ := cli("logs", "cli1", "--strip", "--lines", "1"); strings.Contains(out, "\x1b[") || strings.Count(out, "\n") != 1 {
		t.Fatalf("logs --strip --lines 1: %q", out)
	}
	// logs -f follows new lines until interrupted.
	fctx, cancel := context.WithCancel(ctx)
	var fout bytes.Buffer
	var fwg sync.WaitGroup
	var fcode int
	fwg.Go(func() {
		fcode = Main(fctx, []string{"logs", "-f", "--strip", "--data-dir", dir, "cli1"}, &syncWriter{w: &fout}, &bytes.Buffer{})
	})
	time.Sleep(300 * time.Millisecond)
	if out, _ := cli("stdin", "cli1", "h"); !strings.Contains(out, "sent 1 byte(s) to cli1") {
		t.Fatalf("stdin: %s", out)
	}
	eventually(t, 10*time.Second, func() string {
		if strings.Contains(syncString(&fout), "AFFINITY") {
			return ""
		}
		return "logs -f did not show the line printed after stdin"
	})
	cancel()
	fwg.Wait()
	if fcode != 0 {
		t.Fatalf("logs -f exit %d", fcode)
	}

	if out, _ := cli("history", "cli1", "--since", "1h"); !strings.Contains(out, "cli1") {
		t.Fatalf("history: %s", out)
	}
	if out, _ := cli("available"); !regexp.MustCompile(`(?m)^xmrig\s+XMRig`).MatchString(out) {
		t.Fatalf("available:\n%s", out)
	}
	if out, _ := cli("info"); !strings.Contains(out, dir) || !strings.Contains(out, "adapter") || !strings.Contains(out, "ready") {
		t.Fatalf("info:\n%s", out)
	}
	// The start and the stdin above are in the audit log, newest first.
	if out, _ := cli("audit"); !regexp.MustCompile(`(?s)POST /miners/\{name\}/stdin\s+cli1\s+ok\n.*POST /miners\s+-\s+ok\n`).MatchString(out) {
		t.Fatalf("audit:\n%s", out)
	}
	var entries []miner.AuditEntry
	if out, _ := cli("audit", "--limit", "1", "--json"); json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 {
		t.Fatalf("audit --limit 1 --json: %s", out)
	}
	fails("--limit 0", "audit", "--limit", "0")
	// Storage and P2P are wired: empty lists, and this node's identity.
	if out, _ := cli("profiles", "list"); !strings.Contains(out, "no profiles") {
		t.Fatalf("profiles list: %s", out)
	}
	// A profile with a watchdog section, started without autostart.
	out, _ = cli("profiles", "create", "--name", "night", "--type", "xmrig", "--algo", "rx/0", "--pool", "127.0.0.1:3333",
		"--watchdog", `{"min_hashrate_hs":1000,"low_hashrate_for":"10m"}`, "--json")
	var sp miner.StoredProfile
	if err := json.Unmarshal([]byte(out), &sp); err != nil || sp.Watchdog == nil || sp.Watchdog.MinHashrateHS != 1000 {
		t.Fatalf("profiles create --watchdog: %v %s", err, out)
	}
	fails("share_probability", "profiles", "create", "--name", "x", "--type", "xmrig", "--algo", "rx/0", "--pool", "127.0.0.1:3333", "--watchdog", `{"share_probability":2}`)
	fails("--watchdog", "start", "xmrig", "--algo", "rx/0", "--watchdog", `{"nope":1}`)
	out, _ = cli("profiles", "start", sp.ID, "--name", "night1", "--binary", fake, "--no-autostart", "--json")
	var started miner.Info
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.Name != "night1" || started.Autostart {
		t.Fatalf("profiles start --no-autostart: %v %s", err, out)
	}
	cli("stop", "night1")
	cli("peers", "list")
	cli("remote", "stats")
	if out, _ := cli("node", "--json"); !strings.Contains(out, `"node_id"`) {
		t.Fatalf("node: %s", out)
	}
	fails("not found", "incidents", "nope")
	// Events: the snapshot of each miner first.
	ectx, ecancel := context.WithTimeout(ctx, 2*time.Second)
	_, eout, _ := run(ectx, "events", "--json", "--data-dir", dir)
	ecancel()
	if !strings.Contains(eout, `"type":"snapshot"`) || !strings.Contains(eout, `"miner":"cli1"`) {
		t.Fatalf("events: %q", eout)
	}

	out, _ = cli("stop", "cli1")
	if !strings.Contains(out, "stopped cli1") {
		t.Fatalf("stop: %s", out)
	}
	fails("not found", "stop", "cli1")
	fails("../x", "logs", "../x")
	fails("missing.tar.gz", "install", "xmrig", "--from", filepath.Join(dir, "missing.tar.gz"))
}

// syncWriter guards a buffer written by a command running in a goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

var syncMu sync.Mutex

func (s *syncWriter) Write(p []byte) (int, error) {
	syncMu.Lock()
	defer syncMu.Unlock()
	return s.w.Write(p)
}

func syncString(b *bytes.Buffer) string {
	syncMu.Lock()
	defer syncMu.Unlock()
	return b.String()
}

// TestServeAccessRules checks the wiring of the access rules on a real
// agent: Host allow-list, cross-origin refusal, query tokens, the token
// file.
func TestServeAccessRules(t *testing.T) {
	srv, _ := testServer(t, func(c *serveConfig) { c.AllowHosts = []string{"rig1.lan"} })
	tokPath := filepath.Join(srv.cfg.DataDir, "api.token")
	fi, err := os.Stat(tokPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, err := readToken(tokPath)
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q: %v", tok, err)
	}
	do := func(method, path string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(`{"type":"xmrig"}`))
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		want               int
	}{
		{"plain", "GET", "/miners", nil, 200},
		{"allowed host", "GET", "/miners", map[string]string{"Host": "rig1.lan:9090"}, 200},
		{"foreign host", "GET", "/miners", map[string]string{"Host": "evil.example"}, 403},
		{"cross-origin post", "POST", "/miners", map[string]string{"Origin": "http://evil.example"}, 403},
		{"query token", "GET", "/miners?token=" + tok, nil, 401},
		{"wrong token", "GET", "/miners", map[string]string{"Authorization": "Bearer x"}, 401},
		{"right token", "GET", "/miners", map[string]string{"Authorization": "Bearer " + tok}, 200},
	} {
		if got := do(tc.method, tc.path, tc.hdr); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// A restarted agent keeps its token.
	tok2, created, err := loadOrCreateToken(tokPath)
	if err != nil || created || tok2 != tok {
		t.Fatalf("second load: %q %v %v", tok2, created, err)
	}
}

// rigd serve runs under a 40 MiB soft heap limit and one processor unless
// GOMEMLIMIT and GOMAXPROCS say otherwise (the runtime then keeps what it
// read from them), and restores both.
func TestTuneRuntime(t *testing.T) {
	limit, procs := debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		env       map[string]string
		wantLimit int64
		wantProcs int
	}{
		{nil, defaultMemoryLimit, 1},
		{map[string]string{"GOMEMLIMIT": "1GiB", "GOMAXPROCS": "3"}, limit, procs},
	} {
		restore := tuneRuntime(func(k string) string { return c.env[k] })
		gotLimit, gotProcs := debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0)
		restore()
		if gotLimit != c.wantLimit || gotProcs != c.wantProcs {
			t.Errorf("env %v: memory limit %d, GOMAXPROCS %d; want %d, %d", c.env, gotLimit, gotProcs, c.wantLimit, c.wantProcs)
		}
		if l, p := debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0); l != limit || p != procs {
			t.Fatalf("env %v: restored memory limit %d, GOMAXPROCS %d; want %d, %d", c.env, l, p, limit, procs)
		}
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api.token")
	// Concurrent first starts agree on one token.
	var wg sync.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Go(func() {
			tok, _, err := loadOrCreateToken(path)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] || len(tok) != 64 {
			t.Fatalf("tokens %v", toks)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
	os.Chmod(path, 0o644)
	if _, _, err := loadOrCreateToken(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable token was accepted: %v", err)
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, _, err := loadOrCreateToken(path); err == nil {
		t.Fatal("a short token was accepted")
	}
	// A directory in its place: chmod would not help (it said to).
	os.Remove(path)
	os.Mkdir(path, 0o755)
	if _, _, err := loadOrCreateToken(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a directory as the token: %v", err)
	}
}

// TestServeBadDurations: a duration the agent cannot work with, or a
// digest that is not one, is a usage error, not silently the default.
func TestServeBadDurations(t *testing.T) {
	for _, bad := range [][]string{{"--poll-interval", "0s"}, {"--poll-interval", "-5s"}, {"--adapters-watch", "-1s"}, {"--adapter-digest", "abc"}} {
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, bad...)
		if code, _, errs := run(t.Context(), args...); code != 2 || !strings.Contains(errs, bad[0]) || strings.Count(errs, "\n") != 1 {
			t.Errorf("serve %v: exit %d, stderr %q", bad, code, errs)
		}
	}
}

// TestSecondAgentRefused: a second agent on a data dir in use exits with
// "data dir in use" and leaves the first one's address file alone (the CLI
// finds the running agent through it).
func TestSecondAgentRefused(t *testing.T) {
	srv, _ := testServer(t, nil)
	addr := filepath.Join(srv.cfg.DataDir, "agent.addr")
	cfg := srv.cfg
	cfg.Listen = "127.0.0.1:0"
	if second, err := startServer(t.Context(), cfg, discardLogger()); err == nil {
		second.Close()
		t.Fatal("a second agent started on a data dir in use")
	} else if !strings.Contains(err.Error(), "data dir in use") {
		t.Fatalf("second agent: %v, want data dir in use", err)
	}
	if b, err := os.ReadFile(addr); err != nil || strings.TrimSpace(string(b)) != srv.URL() {
		t.Fatalf("the refused agent took the running one's agent.addr: %q, %v", b, err)
	}
}

// TestGracefulShutdown: Close returns promptly with an event stream open
// and an in-flight request finishing, the stream sees the miner stop
// before it ends, and the address file is removed.
func TestGracefulShutdown(t *testing.T) {
	cfg := serveConfig{Listen: "127.0.0.1:0", DataDir: t.TempDir(), APIPrefix: router.DefaultPrefix, StopMinersOnExit: true, PollInterval: time.Second}
	shareWasmCache(t, cfg.DataDir)
	srv, err := startServer(t.Context(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := router.NewClient(srv.URL(), "", nil)
	fake := agenttest.FakeMiner(t, agenttest.FakeScenario{Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0"}, RunFor: time.Minute, TERM: "exit"})
	if _, err := c.StartMiner(t.Context(), miner.StartRequest{Type: "xmrig", Name: "m", Binary: fake,
		Profile: abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "stratum+tcp://127.0.0.1:1", User: "w"}}}}); err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan error, 1)
	var stopped atomic.Bool
	go func() {
		got <- c.Events(ectx, nil, func(e router.StreamEvent) error {
			if e.Type == miner.EventMinerStopped && e.Miner == "m" {
				stopped.Store(true)
			}
			return nil
		})
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("close took %v with an event stream open", d)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("the event stream did not end with the agent")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream is still open after Close")
	}
	if !stopped.Load() {
		t.Fatal("the event stream ended before it told the miner stopped")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "agent.addr")); !os.IsNotExist(err) {
		t.Fatalf("agent.addr left behind: %v", err)
	}
	if _, err := c.Health(t.Context()); err == nil {
		t.Fatal("the agent still answers after Close")
	}
}

func TestWithDefaultPort(t *testing.T) {
	for in, want := range map[string]string{
		"rig1.lan":                 "rig1.lan:9090",
		"127.0.0.1":                "127.0.0.1:9090",
		"127.0.0.1:9999":           "127.0.0.1:9999",
		"rig1.lan/custom/v2":       "rig1.lan:9090/custom/v2",
		"::1":                      "[::1]:9090",
		"[::1]":                    "[::1]:9090",
		"[::1]:1234":               "[::1]:1234",
		"http://rig1.lan":          "http://rig1.lan",
		"https://rig1.lan:8443/v1": "https://rig1.lan:8443/v1",
	} {
		if got := withDefaultPort(in); got != want {
			t.Errorf("withDefaultPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"xmrig-rx-0":                "xmrig-rx-0",
		"evil\x1b]0;PWNED\a\x1b[2J": "evil\uFFFD]0;PWNED\uFFFD\uFFFD[2J",
		"tab\tok, ünïcode ok":       "tab\tok, ünïcode ok",
		"c1\u009b2Jdel\x7f":         "c1\uFFFD2Jdel\uFFFD",
		"line\nbreak\rreturn":       "line\uFFFDbreak\uFFFDreturn",
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAutostartAfterServing: the API answers while autostart runs. A miner
// whose binary never prints a version costs a 10 s version probe at each
// start; an agent restarting with it in its autostart set serves at once.
func TestAutostartAfterServing(t *testing.T) {
	if testing.Short() {
		t.Skip("two 10 s version probes; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "silent-miner")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 120\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, api := testServer(t, nil)
	start := map[string]any{"type": "xmrig", "name": "silent", "binary": bin,
		"profile": map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:1", "user": "w"}}}}
	var info miner.Info
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, info)
	}
	cfg := srv.cfg
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	again, err := startServer(t.Context(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("the agent took %v to serve: autostart held it up", d)
	}
	api2 := &apiClient{t: t, base: again.URL()}
	if code := api2.do("GET", "/health", nil, nil); code != http.StatusOK {
		t.Fatalf("health: %d", code)
	}
	eventually(t, 30*time.Second, func() string {
		var now miner.Info
		if code := api2.do("GET", "/miners/silent", nil, &now); code != http.StatusOK || now.State != miner.StateRunning {
			return fmt.Sprintf("silent: %d %s", code, now.State)
		}
		return ""
	})
}

func TestAdapterDigestCase(t *testing.T) {
	upper := strings.Repeat("AB", 32)
	cfg := serveFlags(flag.NewFlagSet("serve", flag.ContinueOnError)) // the defaults
	cfg.AdapterDigests = []string{upper}
	if err := cfg.check(); err != nil || cfg.AdapterDigests[0] != strings.ToLower(upper) {
		t.Fatalf("an upper-case digest (as Get-FileHash prints it): %v %q", err, cfg.AdapterDigests)
	}
}
