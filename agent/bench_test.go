package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
)

// benchAPI is the real XMRig 6.16.0 API of a mining miner, served by the
// fakes of the benchmarks so that the agent's polls parse real answers.
func benchAPI(b *testing.B) map[string]json.RawMessage {
	dir := filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0")
	api := map[string]json.RawMessage{}
	for path, file := range map[string]string{"/2/summary": "api-mining-summary.json", "/2/backends": "api-mining-backends.json"} {
		body, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			b.Fatal(err)
		}
		api[path] = body
	}
	return api
}

// chattyScenario prints a real-format XMRig line every 10 ms for d.
func chattyScenario(b *testing.B, d time.Duration) agenttest.FakeScenario {
	lines := []agenttest.FakeLine{
		{Text: "[2026-11-26 22:55:19.643]  cpu      accepted (1/0) diff 50 (5 ms)", Delay: 10 * time.Millisecond},
		{Text: "[2026-11-26 22:55:33.074]  miner    speed 10s/60s/15m 38.50 n/a n/a H/s max 38.60 H/s", Delay: 10 * time.Millisecond},
		{Text: "[2026-11-26 22:55:17.395]  net      new job from 127.0.0.1:13334 diff 50 algo rx/0 height 100", Delay: 10 * time.Millisecond},
		{Text: "[2026-11-26 22:55:18.062]  cpu      use profile  *  (1 thread) scratchpad 2048 KB", Delay: 10 * time.Millisecond},
	}
	return agenttest.FakeScenario{
		Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0"},
		Lines:  lines,
		Repeat: int(d/(10*time.Millisecond))/len(lines) + 1,
		HTTP:   benchAPI(b),
		RunFor: d,
		TERM:   "exit",
	}
}

// usage is this process's user+system CPU time and its context switches
// (children excluded: the miners are not the agent).
func usage() (time.Duration, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw
}

func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitPolled waits until the agent has parsed a poll of each miner's API
// (the first comes a poll interval after the start): the warm-up.
func waitPolled(b *testing.B, api *apiClient, names ...string) {
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range names {
		for {
			var st miner.Info
			api.do("GET", "/miners/"+name, nil, &st)
			if st.Stats.UptimeS != nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("miner %s: no API poll parsed within 30 s: %+v", name, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func startFake(b *testing.B, api *apiClient, name, bin string) {
	var info miner.Info
	req := map[string]any{"type": "xmrig", "name": name, "binary": bin,
		"profile": map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:1", "user": "w"}}}}
	if code := api.do("POST", "/miners", req, &info); code != http.StatusCreated {
		b.Fatalf("start: %d %+v", code, info)
	}
}

// BenchmarkSupervisionChattyMiner measures the agent's CPU while it
// supervises one miner printing a line every 10 ms (parsed by the real
// XMRig adapter, batched, merged, published) and serving the real XMRig
// API, polled every 10 s as by default. One op is one second of
// supervision; the figure is %cpu of one core (budget: ≤ 1 %). The runtime
// has rigd serve's settings.
func BenchmarkSupervisionChattyMiner(b *testing.B) {
	b.Cleanup(tuneRuntime(os.Getenv))
	_, api := testServer(b, func(c *serveConfig) { c.PollInterval = 10 * time.Second })
	startFake(b, api, "chatty", agenttest.FakeMiner(b, chattyScenario(b, time.Duration(b.N+30)*time.Second)))
	waitPolled(b, api, "chatty")
	cpu := superviseFor(b)
	var st miner.Info
	api.do("GET", "/miners/chatty", nil, &st)
	if st.Stats.Accepted == nil {
		b.Fatal("the chatty miner's lines were not parsed")
	}
	b.ReportMetric(cpu, "%cpu")
}

// superviseFor lets the agent work for b.N seconds (the timed part of a
// benchmark) and returns the CPU it used, in % of one core. It also
// reports the context switches a second: where they are dear (a virtual
// machine) they are most of an idle agent's CPU, and they are a steadier
// figure than the CPU time.
func superviseFor(b *testing.B) float64 {
	b.ResetTimer()
	c0, s0 := usage()
	t0 := time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	c1, s1 := usage()
	wall := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(s1-s0)/wall.Seconds(), "ctxsw/s")
	return 100 * float64(c1-c0) / float64(wall)
}

// BenchmarkIdleRSSTwoMiners reports the agent's resident memory while it
// supervises two quiet miners (budget: ≤ 64 MiB), and its CPU. The miners
// serve the real XMRig API, polled every 10 s as by default. The figure is
// the test process's RSS, an upper bound of the agent's; the runtime has
// rigd serve's settings.
func BenchmarkIdleRSSTwoMiners(b *testing.B) {
	b.Cleanup(tuneRuntime(os.Getenv))
	_, api := testServer(b, func(c *serveConfig) { c.PollInterval = 10 * time.Second })
	sc := agenttest.FakeScenario{Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0"}, HTTP: benchAPI(b),
		RunFor: time.Duration(b.N+30) * time.Second, TERM: "exit"}
	startFake(b, api, "idle1", agenttest.FakeMiner(b, sc))
	startFake(b, api, "idle2", agenttest.FakeMiner(b, sc))
	waitPolled(b, api, "idle1", "idle2")
	cpu := superviseFor(b)
	for _, name := range []string{"idle1", "idle2"} {
		var st miner.Info
		if api.do("GET", "/miners/"+name, nil, &st); st.State != miner.StateRunning || st.Restarts != 0 {
			b.Fatalf("miner %s did not run quietly throughout: %+v", name, st)
		}
	}
	b.ReportMetric(float64(rssBytes())/(1<<20), "MiB-rss")
	b.ReportMetric(cpu, "%cpu")
}
