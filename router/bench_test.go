package router

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchAPI serves 10 miners with 8 devices each.
func benchAPI(tb testing.TB) (*API, *httptest.Server) {
	tb.Helper()
	fm := newFakeMiners()
	for i := range 10 {
		fm.add(fmt.Sprintf("miner-%d", i), "ttminer", 8)
	}
	api := New(fullConfig(fm))
	srv := httptest.NewUnstartedServer(api)
	srv.Config = NewServer(api, ServerConfig{})
	srv.Start()
	tb.Cleanup(func() {
		srv.Close()
		api.Close()
	})
	return api, srv
}

// loadResult is what a paced load run measured.
type loadResult struct {
	n             int
	p50, p99, max time.Duration
	// svc50 and svc99 count from the moment the request was sent: the
	// difference to p50/p99 is the load loop's own lateness.
	svc50, svc99 time.Duration
	errors       int
	elapsed      time.Duration
}

// paceLoad sends n requests to url at rate per second from a fixed pool
// of workers on keep-alive connections. Latency counts from the moment a
// request was due, so a stall delays the later requests too (no
// coordinated omission). Bounded by n and by timeout.
func paceLoad(url string, n, rate int, timeout time.Duration) loadResult {
	const workers = 16
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	due := make(chan time.Time, n)
	lat := make([]time.Duration, 0, n)
	svc := make([]time.Duration, 0, n)
	var mu sync.Mutex
	errs := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for d := range due {
				sent := time.Now()
				resp, err := client.Get(url)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l, sv := time.Since(d), time.Since(sent)
				mu.Lock()
				lat = append(lat, l)
				svc = append(svc, sv)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if time.Since(start) > timeout {
			break
		}
		time.Sleep(time.Until(at))
		due <- at
	}
	close(due)
	wg.Wait()
	slices.Sort(lat)
	slices.Sort(svc)
	r := loadResult{n: len(lat), errors: errs, elapsed: time.Since(start)}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
		r.max = lat[len(lat)-1]
		r.svc50 = svc[len(svc)/2]
		r.svc99 = svc[len(svc)*99/100]
	}
	return r
}

// BenchmarkListMinersLoad: GET /miners with 10 miners at 1,000 req/s
// for 3 s on loopback; reports p50/p99 latency.
func BenchmarkListMinersLoad(b *testing.B) {
	api, srv := benchAPI(b)
	url := srv.URL + api.Prefix() + "/miners"
	var r loadResult
	for b.Loop() {
		r = paceLoad(url, 3000, 1000, 10*time.Second)
	}
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.svc99.Microseconds())/1000, "sent-p99-ms")
	b.ReportMetric(float64(r.errors), "errors")
}

// BenchmarkListMiners is the handler alone, in-process.
func BenchmarkListMiners(b *testing.B) {
	api, _ := benchAPI(b)
	req := httptest.NewRequest("GET", api.Prefix()+"/miners", nil)
	req.Host = "localhost"
	req.RemoteAddr = "127.0.0.1:1"
	for b.Loop() {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
	}
}

// BenchmarkMetricsScrape: GET /metrics with 10 miners × 8 devices.
func BenchmarkMetricsScrape(b *testing.B) {
	api, _ := benchAPI(b)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "localhost"
	req.RemoteAddr = "127.0.0.1:1"
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// TestPerformanceIntegration serves GET /miners to 3,000 paced requests
// (1,000 req/s, 10 miners) and 200 /metrics scrapes (10 miners × 8
// devices): every one must succeed. With RIGD_PERF_STRICT=1 it also judges
// the figures, p99 ≤ 2 ms and an average scrape ≤ 5 ms. Only then:
// the load generator shares the machine's CPUs with the server, and on a
// 2-vCPU VM the p99 is 1.7–4.3 ms on a quiet machine (0.7–1.2 ms from the
// moment of sending; the rest is the generator waking late) and 5–29 ms
// on a busy one, and `go test ./...` must not depend on that. The
// benchmarks carry the budget (README, Performance).
// Skipped with -short and under the race detector.
func TestPerformanceIntegration(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing test: skipped with -short and -race")
	}
	judge := os.Getenv("RIGD_PERF_STRICT") != ""
	if !judge {
		t.Logf("load average %.1f on %d CPUs; figures logged, not judged (RIGD_PERF_STRICT=1 judges them)", loadAverage(), runtime.NumCPU())
	}
	api, srv := benchAPI(t)
	r := paceLoad(srv.URL+api.Prefix()+"/miners", 3000, 1000, 10*time.Second)
	t.Logf("GET /miners, 10 miners, 1000 req/s: %d requests in %v, p50 %v, p99 %v, max %v (from sending: p50 %v, p99 %v), %d errors",
		r.n, r.elapsed, r.p50, r.p99, r.max, r.svc50, r.svc99, r.errors)
	if r.n != 3000 || r.errors != 0 {
		t.Fatalf("%d requests, %d errors", r.n, r.errors)
	}
	if judge && r.p99 > 2*time.Millisecond {
		t.Errorf("p99 %v > 2 ms", r.p99)
	}

	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "localhost"
	req.RemoteAddr = "127.0.0.1:1"
	var worst, total time.Duration
	const scrapes = 200
	for range scrapes {
		start := time.Now()
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		if rec.Code != 200 {
			t.Fatalf("scrape %d", rec.Code)
		}
	}
	avg := total / scrapes
	t.Logf("/metrics, 10 miners × 8 devices: avg %v, worst %v over %d scrapes", avg, worst, scrapes)
	if judge && avg > 5*time.Millisecond {
		t.Errorf("average scrape %v > 5 ms", avg)
	}
}

// loadAverage is the 1-minute load average (Linux; 0 elsewhere).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
