package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
)

// testServer starts an in-process agent on a temp data dir.
func testServer(t testing.TB, mutate func(*serveConfig)) (*server, *apiClient) {
	t.Helper()
	cfg := serveConfig{
		Listen:           "127.0.0.1:0",
		DataDir:          t.TempDir(),
		APIPrefix:        "/api/v1/mining",
		StopMinersOnExit: true,
		PollInterval:     time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	shareWasmCache(t, cfg.DataDir)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := startServer(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return srv, &apiClient{t: t, base: "http://" + srv.Addr() + cfg.APIPrefix}
}

// shareWasmCache points dataDir's wasm compilation cache at one shared
// by every test run (under agenttest.CacheDir): compiling the built-in
// adapters takes seconds, much longer under -race.
func shareWasmCache(t testing.TB, dataDir string) {
	t.Helper()
	base, err := agenttest.CacheDir()
	if err != nil {
		return
	}
	shared := filepath.Join(base, "wasm-cache")
	if err := os.MkdirAll(shared, 0o700); err != nil {
		return
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, layout{dataDir}.wasmCache()); err != nil && !os.IsExist(err) {
		t.Logf("not sharing the wasm cache: %v", err)
	}
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type apiClient struct {
	t    testing.TB
	base string
}

// do sends a JSON request and decodes a JSON reply into out (if non-nil);
// it returns the status code.
func (c *apiClient) do(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond every 250 ms until it returns "" or the timeout
// passes, then fails with cond's last complaint.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestRealXMRigIntegration runs the real XMRig 6.16.0 through the REST API
// against the loopback stratum pool (issue 3, "Real miner, end to end").
func TestRealXMRigIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real XMRig; skipped with -short")
	}
	xmrig := agenttest.XMRig(t)
	pool := agenttest.NewPool(t, agenttest.PoolOptions{Difficulty: 50})
	_, api := testServer(t, nil)

	var info miner.Info
	start := map[string]any{
		"type":   "xmrig",
		"binary": xmrig,
		"profile": map[string]any{
			"algo":    "rx/0",
			"pools":   []map[string]any{{"url": pool.URL(), "user": "wallet", "pass": "x"}},
			"worker":  "itest",
			"threads": 1,
			"options": map[string]any{"randomx_mode": "light", "donate_level": 0},
		},
	}
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, info)
	}
	name := info.Name
	if name != "xmrig-rx-0" || info.State != miner.StateRunning || info.PID == 0 {
		t.Fatalf("start returned %+v", info)
	}

	// Within 60 s: running, hashing, shares equal to the pool's count.
	eventually(t, 60*time.Second, func() string {
		api.do("GET", "/miners/"+name, nil, &info)
		st := info.Stats
		switch {
		case info.State != miner.StateRunning:
			return fmt.Sprintf("state %s (%s)", info.State, info.Message)
		case st.HashrateHS == nil || *st.HashrateHS <= 0:
			return "no hashrate yet"
		case st.Accepted == nil || *st.Accepted < 2:
			return "fewer than 2 accepted shares"
		case math.Abs(float64(*st.Accepted-pool.Accepted())) > 2:
			return fmt.Sprintf("accepted %d, pool counted %d", *st.Accepted, pool.Accepted())
		case st.Pool != pool.Addr():
			return fmt.Sprintf("pool %q, want %q", st.Pool, pool.Addr())
		}
		return ""
	})
	t.Logf("stats: hashrate %.1f H/s, accepted %d (pool %d), pool %s", *info.Stats.HashrateHS, *info.Stats.Accepted, pool.Accepted(), info.Stats.Pool)

	logs := func() string {
		var out struct{ Lines []miner.LogLine }
		api.do("GET", "/miners/"+name+"/logs?lines=1000&strip=1", nil, &out)
		var b strings.Builder
		for _, l := range out.Lines {
			b.WriteString(l.Text + "\n")
		}
		return b.String()
	}
	if l := logs(); !strings.Contains(l, "XMRig/6.16.0") {
		t.Fatalf("logs lack the XMRig banner:\n%s", l)
	}

	// stdin 'h' prints the hashrate table.
	var w map[string]any
	if code := api.do("POST", "/miners/"+name+"/stdin", map[string]string{"input": "h"}, &w); code != http.StatusOK {
		t.Fatalf("stdin: %d %v", code, w)
	}
	eventually(t, 10*time.Second, func() string {
		if strings.Contains(logs(), "CPU # | AFFINITY") {
			return ""
		}
		return "no hashrate table after 'h'"
	})

	// SIGKILL behind the agent's back: a crash with its cause, then a restart.
	oldPID := info.PID
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		api.do("GET", "/miners/"+name, nil, &info)
		switch {
		case info.LastExit == nil || info.LastExit.Signal != "SIGKILL":
			return fmt.Sprintf("no SIGKILL exit recorded (last_exit %+v)", info.LastExit)
		case info.Restarts != 1 || info.State != miner.StateRunning || info.PID == oldPID || info.PID == 0:
			return fmt.Sprintf("not restarted: state %s restarts %d pid %d", info.State, info.Restarts, info.PID)
		}
		return ""
	})
	if !strings.Contains(info.LastExit.Cause, "killed by SIGKILL") {
		t.Fatalf("crash cause %q", info.LastExit.Cause)
	}
	newPID := info.PID

	// DELETE stops it and no xmrig process remains.
	if code := api.do("DELETE", "/miners/"+name, nil, &info); code != http.StatusOK || info.State != miner.StateStopped {
		t.Fatalf("stop: %d %+v", code, info)
	}
	for _, pid := range []int{oldPID, newPID} {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), "xmrig") {
				t.Fatalf("xmrig pid %d still exists after stop", pid)
			}
		}
	}
	var list []miner.Info
	api.do("GET", "/miners", nil, &list)
	if len(list) != 0 {
		t.Fatalf("miners after stop: %+v", list)
	}
}
