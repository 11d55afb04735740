package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
	"github.com/rigd/rigd/sdk/abi"
)

// buildSimpleMiner builds testdata/simpleminer into a temp dir.
func buildSimpleMiner(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "simpleminer")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/simpleminer")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/simpleminer: %v\n%s", err, out)
	}
	return bin
}

// TestNonGoAdapterIntegration is issue 10's proof that the ABI is
// language-neutral: the adapter hand-written in WAT
// (testdata/wat-adapter/simple.wasm) is dropped into an agent's adapters
// directory, and the agent supervises testdata/simpleminer with it through
// the REST API until stats arrive, then stops it.
func TestNonGoAdapterIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs simpleminer; skipped with -short")
	}
	bin := buildSimpleMiner(t)
	dir := t.TempDir()
	wasm, err := os.ReadFile(filepath.Join("..", "testdata", "wat-adapter", "simple.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "simple.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, api := testServer(t, func(cfg *serveConfig) { cfg.AdaptersDir = dir })

	var list []miner.AdapterInfo
	if code := api.do("GET", "/adapters", nil, &list); code != http.StatusOK {
		t.Fatalf("GET /adapters: %d", code)
	}
	found := false
	for _, a := range list {
		if a.Name == "simple" {
			found = true
			if a.Status != "ok" || a.Version != "1.0.0" || a.Source != filepath.Join(dir, "simple.wasm") {
				t.Fatalf("simple adapter listed as %+v", a)
			}
		}
	}
	if !found {
		t.Fatalf("simple adapter not listed: %+v", list)
	}

	// The adapter's version probe reads the binary's version.
	meta, err := srv.catalog.Metadata(context.Background(), "simple")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := install.ProbeVersion(context.Background(), bin, meta.VersionProbe); err != nil || v != "1.2.3" {
		t.Fatalf("version probe of simpleminer: %q, %v; want 1.2.3", v, err)
	}

	// A profile the adapter refuses is refused before anything starts.
	var refused map[string]any
	bad := map[string]any{"type": "simple", "binary": bin, "profile": map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333"}}}}
	if code := api.do("POST", "/miners", bad, &refused); code < 400 || code >= 500 || !strings.Contains(fmt.Sprint(refused), "sha256d") {
		t.Fatalf("refused profile: %d %v", code, refused)
	}

	start := map[string]any{
		"type":   "simple",
		"binary": bin,
		"profile": map[string]any{
			"algo":  "sha256d",
			"pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "wallet", "pass": "x"}},
		},
		"autostart": false,
	}
	var info miner.Info
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, info)
	}
	name := info.Name
	if name != "simple-sha256d" || info.State != miner.StateRunning || info.PID == 0 {
		t.Fatalf("start returned %+v (want simple-sha256d running)", info)
	}
	pid := info.PID

	// The WAT adapter's build_command, parse_line and reset at work: the
	// miner reports every second, so stats come within a few seconds.
	var st abi.Stats
	eventually(t, 30*time.Second, func() string {
		if code := api.do("GET", "/miners/"+name+"/stats", nil, &st); code != http.StatusOK {
			return fmt.Sprintf("GET stats: %d", code)
		}
		switch {
		case st.HashrateHS == nil || *st.HashrateHS <= 0:
			return "no hashrate yet"
		case st.Accepted == nil || *st.Accepted <= 0:
			return "no accepted share yet"
		}
		return ""
	})
	t.Logf("stats: hashrate %.1f H/s, accepted %d, rejected %v", *st.HashrateHS, *st.Accepted, ptrStr(st.Rejected))

	// The adapter names no API: each poll samples the console's stats
	// into the history (in memory and stored).
	eventually(t, 10*time.Second, func() string {
		var h miner.HashrateHistory
		api.do("GET", "/miners/"+name+"/hashrate-history", nil, &h)
		var stored router.HistoryRange
		api.do("GET", "/history/miners/"+name+"/hashrate?since=1h", nil, &stored)
		if len(h.Raw) == 0 || len(stored.Points) == 0 {
			return fmt.Sprintf("history: %d in memory, %d stored", len(h.Raw), len(stored.Points))
		}
		return ""
	})

	var logs struct{ Lines []miner.LogLine }
	api.do("GET", "/miners/"+name+"/logs?lines=100&strip=1", nil, &logs)
	var text strings.Builder
	for _, l := range logs.Lines {
		text.WriteString(l.Text + "\n")
	}
	if !strings.Contains(text.String(), "starting: pool stratum+tcp://127.0.0.1:3333, user wallet") {
		t.Fatalf("the miner did not get the adapter's argv:\n%s", text.String())
	}

	if code := api.do("DELETE", "/miners/"+name, nil, &info); code != http.StatusOK || info.State != miner.StateStopped {
		t.Fatalf("stop: %d %+v", code, info)
	}
	if info.LastExit != nil && info.LastExit.Signal == "SIGKILL" {
		t.Fatalf("simpleminer needed SIGKILL: %+v", info.LastExit)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), "simpleminer") {
		t.Fatalf("simpleminer pid %d still running after stop", pid)
	}
}

func ptrStr(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestDropInAppearsIntegration copies an adapter into the adapters
// directory of a running agent: within 5 s it is listed and offered as a
// miner type; removing it takes it away again.
func TestDropInAppearsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the adapters watcher; skipped with -short")
	}
	dir := t.TempDir()
	_, api := testServer(t, func(c *serveConfig) {
		c.AdaptersDir = dir
		c.WatchInterval = time.Second
	})
	wasm, err := os.ReadFile(filepath.Join("..", "testdata", "wat-adapter", "simple.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".simple.wasm.part")
	if err := os.WriteFile(tmp, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	copied := time.Now()
	if err := os.Rename(tmp, filepath.Join(dir, "simple.wasm")); err != nil {
		t.Fatal(err)
	}
	offered := func() bool {
		var avail []router.AvailableMiner
		api.do("GET", "/miners/available", nil, &avail)
		for _, a := range avail {
			if a.Name == "simple" {
				return true
			}
		}
		return false
	}
	for !offered() {
		if time.Since(copied) > 5*time.Second {
			t.Fatal("a copied adapter was not offered within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("offered %v after the copy", time.Since(copied).Round(time.Millisecond))
	os.Remove(filepath.Join(dir, "simple.wasm"))
	eventually(t, 10*time.Second, func() string {
		if offered() {
			return "a removed adapter is still offered"
		}
		return ""
	})
}

// TestUploadAdapterFreshDataDir: on a fresh data dir (no adapters
// directory yet) POST /adapters installs the module, creating the folder;
// rigd adapters add sends the fixtures beside the module with it.
func TestUploadAdapterFreshDataDir(t *testing.T) {
	srv, api := testServer(t, nil)
	if _, err := os.Stat(srv.cfg.AdaptersDir); !os.IsNotExist(err) {
		t.Fatalf("the adapters directory exists before any upload: %v", err)
	}
	wasm, err := os.Open(filepath.Join("..", "testdata", "wat-adapter", "simple.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer wasm.Close()
	resp, err := http.Post(api.base+"/adapters?filename=simple.wasm", "application/wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /adapters on a fresh data dir: %d %s", resp.StatusCode, b)
	}
	if _, err := os.Stat(filepath.Join(srv.cfg.AdaptersDir, "simple.wasm")); err != nil {
		t.Fatal(err)
	}
	// rigd adapters add takes the fixtures beside the module along.
	src := filepath.Join("..", "testdata", "wat-adapter", "simple.wasm")
	if code, out, errs := run(t.Context(), "adapters", "add", src, "--data-dir", srv.cfg.DataDir); code != 0 {
		t.Fatalf("rigd adapters add: exit %d\n%s%s", code, out, errs)
	}
	want, _ := os.ReadFile(filepath.Join("..", "testdata", "wat-adapter", "simple.tests.json"))
	if got, err := os.ReadFile(filepath.Join(srv.cfg.AdaptersDir, "simple.tests.json")); err != nil || string(got) != string(want) {
		t.Fatalf("the fixtures were not installed with the module: %v", err)
	}
}
