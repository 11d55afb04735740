package agent

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
)

// chattyScenario prints a real-format XMRig line every 10 ms for d.
func chattyScenario(d time.Duration) agenttest.FakeScenario {
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
		RunFor: time.Minute,
		TERM:   "exit",
	}
}

// cpuTime is this process's user+system CPU time (children excluded: the
// miners are not the agent).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
// XMRig adapter, batched, merged, published). One op is one second of
// supervision; the figure is %cpu of one core (budget: ≤ 1 %).
func BenchmarkSupervisionChattyMiner(b *testing.B) {
	_, api := testServer(b, func(c *serveConfig) { c.PollInterval = 10 * time.Second })
	startFake(b, api, "chatty", agenttest.FakeMiner(b, chattyScenario(time.Duration(b.N+5)*time.Second)))
	time.Sleep(2 * time.Second) // warm-up: adapter instance, first batches
	b.ResetTimer()
	c0, t0 := cpuTime(), time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	cpu, wall := cpuTime()-c0, time.Since(t0)
	b.StopTimer()
	var st miner.Info
	api.do("GET", "/miners/chatty", nil, &st)
	if st.Stats.Accepted == nil {
		b.Fatal("the chatty miner's lines were not parsed")
	}
	b.ReportMetric(100*float64(cpu)/float64(wall), "%cpu")
}

// BenchmarkIdleRSSTwoMiners reports the agent's resident memory while it
// supervises two quiet miners (budget: ≤ 64 MiB). The figure is the test
// process's RSS, an upper bound of the agent's.
func BenchmarkIdleRSSTwoMiners(b *testing.B) {
	_, api := testServer(b, nil)
	sc := agenttest.FakeScenario{Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0"}, RunFor: time.Minute, TERM: "exit"}
	startFake(b, api, "idle1", agenttest.FakeMiner(b, sc))
	startFake(b, api, "idle2", agenttest.FakeMiner(b, sc))
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	b.ReportMetric(float64(rssBytes())/(1<<20), "MiB-rss")
}


