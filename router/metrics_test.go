package router

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.fm.add("gpu", "ttminer", 2)
	ta.cfg.Peers.(*fakePeers).peers = []Peer{{ID: "a", Connected: true}, {ID: "b"}, {ID: "c", Connected: true}}
	m := ta.api.Metrics()
	m.ObserveAdapterCall("xmrig", "adapter_parse_line", 3*time.Millisecond, nil)
	m.ObserveAdapterCall("xmrig", "adapter_parse_api", 2*time.Second, errors.New("timeout"))

	resp, b := ta.do("GET", "//metrics", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := string(b)
	for _, want := range []string{
		`rigd_build_info{arch=`,
		`version="test"} 1`,
		`rigd_miners 1`,
		`rigd_miner_hashrate_hs{miner="gpu",type="ttminer",window="10s"} 1234.5`,
		`rigd_miner_hashrate_hs{miner="gpu",type="ttminer",window="60s"} 1200`,
		`rigd_miner_shares_total{miner="gpu",result="accepted",type="ttminer"} 10`,
		`rigd_miner_shares_total{miner="gpu",result="rejected",type="ttminer"} 1`,
		`rigd_miner_restarts_total{miner="gpu",type="ttminer"} 1`,
		`rigd_miner_state{miner="gpu",state="running",type="ttminer"} 1`,
		`rigd_miner_state{miner="gpu",state="stopped",type="ttminer"} 0`,
		`rigd_miner_uptime_seconds{miner="gpu",type="ttminer"}`,
		`rigd_miner_pool_connected{miner="gpu",type="ttminer"} 1`,
		`rigd_device_hashrate_hs{device="nvidia1",kind="nvidia",miner="gpu",name="RTX 3070",type="ttminer"} 100`,
		`rigd_device_temperature_celsius{device="nvidia0",kind="nvidia",miner="gpu",name="RTX 3070",type="ttminer"} 60`,
		`rigd_device_fan_percent{device="nvidia0"`,
		`rigd_device_power_watts{device="nvidia0"`,
		`rigd_adapter_call_duration_seconds_bucket{adapter="xmrig",export="adapter_parse_line",result="ok",le="0.005"} 1`,
		`rigd_adapter_call_duration_seconds_count{adapter="xmrig",export="adapter_parse_api",result="error"} 1`,
		`rigd_p2p_peers{status="connected"} 2`,
		`rigd_p2p_peers{status="disconnected"} 1`,
		`rigd_p2p_refused_connections_total 7`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Unknown values are absent, not 0 (the fake has no 15m hashrate).
	if strings.Contains(body, `window="15m"`) {
		t.Error("a null 15m hashrate was exported")
	}
	// The registry is consistent (no duplicate series, valid names).
	if _, err := m.Gatherer().Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
	// Scrape-time: a value that becomes unknown and a device that goes
	// away disappear.
	ta.fm.mu.Lock()
	info := ta.fm.miners["gpu"]
	info.Stats.HashrateHS = nil
	info.Stats.Devices = info.Stats.Devices[:1]
	ta.fm.miners["gpu"] = info
	ta.fm.mu.Unlock()
	_, b = ta.do("GET", "//metrics", "", nil)
	if strings.Contains(string(b), `window="10s"`) || strings.Contains(string(b), `device="nvidia1"`) || !strings.Contains(string(b), `device="nvidia0"`) {
		t.Errorf("stale series after the snapshot changed:\n%s", b)
	}
	// Scrape-time: a stopped miner disappears without any event handling.
	ta.fm.Stop(t.Context(), "gpu")
	_, b = ta.do("GET", "//metrics", "", nil)
	if strings.Contains(string(b), `miner="gpu"`) {
		t.Error("a removed miner is still exported")
	}
	// The API's metrics live in a private registry, not the global one.
	if n, _ := countSeries(m.Gatherer(), "rigd_miners"); n != 1 {
		t.Errorf("rigd_miners count %d", n)
	}
	if n, _ := countSeries(prometheus.DefaultGatherer, "rigd_miners"); n != 0 {
		t.Errorf("rigd metrics leaked into the global registry")
	}
}

func TestMetricsManyMiners(t *testing.T) {
	fm := newFakeMiners()
	for i := range 10 {
		fm.add(fmt.Sprintf("m%d", i), "ttminer", 8)
	}
	api := New(fullConfig(fm))
	n, err := countSeries(api.Metrics().Gatherer(), "rigd_device_temperature_celsius")
	if err != nil || n != 80 {
		t.Fatalf("%d device temperature series (%v), want 80", n, err)
	}
}

// countSeries counts the series of one metric family.
func countSeries(g prometheus.Gatherer, name string) (int, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), nil
		}
	}
	return 0, nil
}
