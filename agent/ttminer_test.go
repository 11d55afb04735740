package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// buildFakeTTMiner builds testdata/fake-ttminer with a scenario baked in
// (rigd passes miners only an allow-listed environment, so the scenario
// cannot come from an environment variable).
func buildFakeTTMiner(t *testing.T, scenario string) string {
	t.Helper()
	dir := t.TempDir()
	sc := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(sc, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "TT-Miner")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.defaultScenario="+sc, "-o", bin, "./testdata/fake-ttminer")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fake TT-Miner: %v\n%s", err, out)
	}
	return bin
}

// TestFakeTTMinerIntegration installs the fake TT-Miner offline, runs it
// through the REST API and reads per-device GPU stats from the API and
// /metrics; a beta that expires ends in a permanent failure.
func TestFakeTTMinerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fake TT-Miner; skipped with -short")
	}
	bin := buildFakeTTMiner(t, `{"interval_ms": 300, "zero_until_share": 1, "gpus": [
		{"id": 0, "hashrate_hs": 21500000, "temp_c": 61, "fan_pct": 70, "power_w": 115},
		{"id": 1, "hashrate_hs": 30250000, "temp_c": 55, "fan_pct": 60, "power_w": 140}]}`)
	srv, api := testServer(t, nil)

	var im router.InstalledMiner
	if code := api.do("POST", "/miners/ttminer/install", router.InstallRequest{From: bin}, &im); code != http.StatusOK {
		t.Fatalf("install --from: %d %+v", code, im)
	}
	if im.Version != "2023.4.0" || im.Trust != "local" {
		t.Fatalf("installed %+v", im)
	}
	var info miner.Info
	start := map[string]any{"type": "ttminer", "profile": map[string]any{
		"algo":   "kawpow",
		"pools":  []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "RWallet"}},
		"worker": "rig1",
	}}
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, info)
	}
	if info.Version != "2023.4.0" || !strings.HasPrefix(info.Binary, srv.cfg.DataDir) {
		t.Fatalf("started %+v: not the installed binary", info)
	}
	var st miner.Info
	eventually(t, 30*time.Second, func() string {
		api.do("GET", "/miners/"+info.Name, nil, &st)
		s := st.Stats
		if st.State != miner.StateRunning {
			return "state " + string(st.State)
		}
		if len(s.Devices) != 2 {
			return fmt.Sprintf("%d devices", len(s.Devices))
		}
		for _, d := range s.Devices {
			if d.Kind != "nvidia" || d.HashrateHS == nil || *d.HashrateHS == 0 || d.TempC == nil || d.FanPct == nil || d.PowerW == nil {
				b, _ := json.Marshal(d)
				return "device without GPU values: " + string(b)
			}
		}
		if s.Accepted == nil || *s.Accepted == 0 || s.HashrateHS == nil {
			return "no shares yet"
		}
		return ""
	})
	d1 := st.Stats.Devices[1]
	if d1.ID != 1 || *d1.HashrateHS != 30.25e6 || *d1.TempC != 55 || *d1.FanPct != 60 || *d1.PowerW != 140 {
		b, _ := json.Marshal(d1)
		t.Fatalf("device 1 (units must stay H/s): %s", b)
	}

	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`rigd_device_hashrate_hs{device="nvidia1",kind="nvidia",miner="` + info.Name + `",name="NVIDIA GeForce RTX 3060",type="ttminer"} 3.025e+07`,
		`rigd_device_temperature_celsius{device="nvidia0",kind="nvidia",miner="` + info.Name + `"`,
		`rigd_device_fan_percent{device="nvidia0",kind="nvidia",miner="` + info.Name + `"`,
		`rigd_device_power_watts{device="nvidia1",kind="nvidia",miner="` + info.Name + `",name="NVIDIA GeForce RTX 3060",type="ttminer"} 140`,
		`rigd_miner_shares_total{miner="` + info.Name + `",result="accepted",type="ttminer"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code := api.do("DELETE", "/miners/"+info.Name, nil, &st); code != http.StatusOK || st.State != miner.StateStopped {
		t.Fatalf("stop: %d %+v", code, st)
	}

	// A beta that expires: one permanent failure, no restart loop.
	expiring := buildFakeTTMiner(t, `{"interval_ms": 200, "beta": 5, "expire_after": 2}`)
	start["binary"] = expiring
	start["name"] = "beta"
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated {
		t.Fatalf("start expiring: %d %+v", code, info)
	}
	eventually(t, 30*time.Second, func() string {
		api.do("GET", "/miners/beta", nil, &st)
		if st.State != miner.StateFailed {
			return "state " + string(st.State)
		}
		return ""
	})
	if !strings.Contains(st.Message, "expired") || st.Restarts != 0 {
		t.Fatalf("expired beta: %+v", st)
	}
	time.Sleep(2 * time.Second) // longer than the first backoff
	if api.do("GET", "/miners/beta", nil, &st); st.State != miner.StateFailed || st.Restarts != 0 {
		t.Fatalf("an expired beta was restarted: %+v", st)
	}
}

// TestDroppedGPUIntegration: a GPU that stops reporting (gone from the
// console and the API) leaves the stats and /metrics at the next poll; it
// showed its last hashrate and temperature for ever. The stats name the
// profile's algorithm.
func TestDroppedGPUIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fake TT-Miner; skipped with -short")
	}
	bin := buildFakeTTMiner(t, `{"interval_ms": 200, "gpus": [
		{"id": 0, "hashrate_hs": 21500000, "temp_c": 61},
		{"id": 1, "hashrate_hs": 30000000, "temp_c": 65, "drop_after": 5}]}`)
	srv, api := testServer(t, func(c *serveConfig) { c.PollInterval = time.Second })
	start := map[string]any{"type": "ttminer", "name": "drop", "binary": bin, "profile": map[string]any{
		"algo": "kawpow", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "RWallet"}}}}
	var st miner.Info
	if code := api.do("POST", "/miners", start, &st); code != http.StatusCreated {
		t.Fatalf("start: %d %+v", code, st)
	}
	devices := func(want int) func() string {
		return func() string {
			api.do("GET", "/miners/drop", nil, &st)
			if len(st.Stats.Devices) != want {
				return fmt.Sprintf("%d devices, want %d", len(st.Stats.Devices), want)
			}
			return ""
		}
	}
	eventually(t, 30*time.Second, devices(2))
	eventually(t, 30*time.Second, devices(1))
	time.Sleep(1500 * time.Millisecond) // another poll and more console lines
	if devices(1)(); len(st.Stats.Devices) != 1 || st.Stats.Devices[0].ID != 0 {
		t.Fatalf("devices %+v", st.Stats.Devices)
	}
	// TT-Miner does not name the algorithm where the adapter reads it: the
	// profile's stands (it was "").
	if st.Stats.Algorithm != "kawpow" {
		t.Fatalf("algorithm %q, want the profile's", st.Stats.Algorithm)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), `device="nvidia1",kind="nvidia",miner="drop"`) {
		t.Fatal("/metrics still has the dropped GPU")
	}
}
