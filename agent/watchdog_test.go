package agent

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
)

// TestWatchdogLadderIntegration replays a recorded incident — the real
// XMRig 6.16.0 API answering with a hashrate that dropped to 0 — through
// a fake miner under the real XMRig adapter, and checks the exact ladder
// in `rigd incidents`: pause/resume, restart, pause/resume, fail (one
// restart allowed per hour).
func TestWatchdogLadderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the watchdog ladder end to end; skipped with -short")
	}
	dir := filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0")
	summary := readJSONMap(t, filepath.Join(dir, "api-summary.json"))
	summary["hashrate"] = map[string]any{"total": []any{0.0, 0.0, 0.0}, "highest": 40.07}
	backends, err := os.ReadFile(filepath.Join(dir, "api-backends.json"))
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := json.Marshal(summary)
	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{
		Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0", "[2026-11-26 22:55:18.068]  cpu      READY threads 1/1 (1) huge pages 100% 1/1 memory 2048 KB (6 ms)"},
		Stdin:  map[string][]string{"p": {"[2026-11-26 23:34:39.232]  miner    paused, press  r  to resume"}, "r": {"[2026-11-26 23:34:42.234]  miner    resumed"}},
		HTTP:   map[string]json.RawMessage{"/2/summary": sb, "/2/backends": backends},
		RunFor: 2 * time.Minute,
		TERM:   "exit",
	})
	srv, api := testServer(t, nil)
	start := map[string]any{"type": "xmrig", "name": "ladder", "binary": bin,
		"profile":  map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:1", "user": "w"}}},
		"watchdog": map[string]any{"grace": "1s", "low_hashrate_for": "2s", "max_restarts_per_hour": 1}}
	var info miner.Info
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, info)
	}
	eventually(t, 90*time.Second, func() string {
		api.do("GET", "/miners/ladder", nil, &info)
		if info.State != miner.StateFailed {
			return "state " + string(info.State)
		}
		return ""
	})
	if !strings.Contains(info.Message, "watchdog gave up") || info.Restarts != 1 {
		t.Fatalf("failed miner %+v", info)
	}
	code, out, errs := run(t.Context(), "incidents", "ladder", "--lines", "2", "--data-dir", srv.cfg.DataDir)
	if code != 0 {
		t.Fatalf("rigd incidents: exit %d %s", code, errs)
	}
	var ladder []string
	for _, m := range regexp.MustCompile(`(?m)^#\d+ \S+ \S+\s+(\S+)\s+(\S+)\s+measured (\S+) H/s`).FindAllStringSubmatch(out, -1) {
		if m[1] != miner.RuleLowHashrate || m[3] != "0" {
			t.Fatalf("incident line %q", m[0])
		}
		ladder = append(ladder, m[2])
	}
	want := []string{miner.ActionPauseResume, miner.ActionRestart, miner.ActionPauseResume, miner.ActionFail}
	if strings.Join(ladder, ",") != strings.Join(want, ",") {
		t.Fatalf("ladder %v, want %v:\n%s", ladder, want, out)
	}
	if !strings.Contains(out, "| [2026-11-26") {
		t.Fatalf("incidents without their log lines:\n%s", out)
	}
	t.Logf("rigd incidents ladder:\n%s", out)
}

func readJSONMap(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
