package router

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rigd/rigd/agent/miner"
)

// Metrics is the agent's Prometheus registry (a private one, not the
// global). Miner and peer metrics are read from the Manager's snapshot at
// scrape time; nothing is updated per event. Adapter call latencies are
// observed as they happen through ObserveAdapterCall.
type Metrics struct {
	reg          *prometheus.Registry
	adapterCalls *prometheus.HistogramVec
	handler      http.Handler
	once         sync.Once
	col          *collector
}

// NewMetrics returns a registry with the build info and the adapter call
// histogram; New adds the miner and peer collector.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		adapterCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rigd_adapter_call_duration_seconds",
			Help:    "Duration of adapter (wasm) calls by adapter, export and result.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"adapter", "export", "result"}),
	}
	reg.MustRegister(m.adapterCalls)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "rigd_build_info",
		Help:        "rigd build information (always 1).",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH},
	}, func() float64 { return 1 }))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	return m
}

// ObserveAdapterCall records one adapter call; hook it into the adapter
// runtime. err != nil counts as result "error".
func (m *Metrics) ObserveAdapterCall(adapter, export string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.adapterCalls.WithLabelValues(adapter, export, result).Observe(d.Seconds())
}

// Gatherer is the registry, for tests and for serving it elsewhere.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// watch registers the snapshot collector (once: a Metrics serves one API).
func (m *Metrics) watch(miners Miners, peers Peers) {
	m.once.Do(func() {
		m.col = newCollector(miners, peers)
		m.reg.MustRegister(m.col)
	})
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	a.metrics.handler.ServeHTTP(w, r)
	return nil
}

var minerStates = []miner.State{
	miner.StateStarting, miner.StateRunning, miner.StateStopping, miner.StateStopped,
	miner.StateCrashed, miner.StateBackoff, miner.StateCrashLooping, miner.StateFailed,
}

// collector reads the Manager's snapshot at scrape time.
type collector struct {
	miners Miners
	peers  Peers
	now    func() time.Time

	hashrate, shares, uptime, restarts, state, poolUp    *prometheus.Desc
	devHashrate, devTemp, devFan, devPower, p2pPeers, up *prometheus.Desc
}

func newCollector(miners Miners, peers Peers) *collector {
	ml := []string{"miner", "type"}
	dl := []string{"miner", "type", "device", "kind", "name"}
	return &collector{
		miners:      miners,
		peers:       peers,
		now:         time.Now,
		up:          prometheus.NewDesc("rigd_miners", "Number of miners the agent supervises.", nil, nil),
		hashrate:    prometheus.NewDesc("rigd_miner_hashrate_hs", "Miner hashrate in H/s over a window (10s, 60s, 15m) as the miner reports it.", append(ml, "window"), nil),
		shares:      prometheus.NewDesc("rigd_miner_shares_total", "Shares of the current miner process by result (accepted, rejected, stale); resets when the process restarts.", append(ml, "result"), nil),
		uptime:      prometheus.NewDesc("rigd_miner_uptime_seconds", "Seconds since the miner process started (0 when not running).", ml, nil),
		restarts:    prometheus.NewDesc("rigd_miner_restarts_total", "Automatic restarts since the miner was started.", ml, nil),
		state:       prometheus.NewDesc("rigd_miner_state", "Lifecycle state of the miner: 1 for the current state, 0 for the others.", append(ml, "state"), nil),
		poolUp:      prometheus.NewDesc("rigd_miner_pool_connected", "1 when the miner is connected to its pool.", ml, nil),
		devHashrate: prometheus.NewDesc("rigd_device_hashrate_hs", "Device hashrate in H/s.", dl, nil),
		devTemp:     prometheus.NewDesc("rigd_device_temperature_celsius", "Device temperature in °C.", dl, nil),
		devFan:      prometheus.NewDesc("rigd_device_fan_percent", "Device fan speed in percent.", dl, nil),
		devPower:    prometheus.NewDesc("rigd_device_power_watts", "Device power draw in W.", dl, nil),
		p2pPeers:    prometheus.NewDesc("rigd_p2p_peers", "Paired P2P peers by connection status.", []string{"status"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.hashrate, c.shares, c.uptime, c.restarts, c.state, c.poolUp, c.devHashrate, c.devTemp, c.devFan, c.devPower, c.p2pPeers} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	list := c.miners.List()
	now := c.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.up, float64(len(list)))
	for i := range list {
		m := &list[i]
		st := &m.Stats
		for _, w := range []struct {
			name string
			v    *float64
		}{{"10s", st.HashrateHS}, {"60s", st.Hashrate60sHS}, {"15m", st.Hashrate15mHS}} {
			if w.v != nil {
				gauge(c.hashrate, *w.v, m.Name, m.Type, w.name)
			}
		}
		for _, s := range []struct {
			name string
			v    *int64
		}{{"accepted", st.Accepted}, {"rejected", st.Rejected}, {"stale", st.Stale}} {
			if s.v != nil {
				counter(c.shares, float64(*s.v), m.Name, m.Type, s.name)
			}
		}
		up := 0.0
		if m.StartedAt != nil && (m.State == miner.StateRunning || m.State == miner.StateStarting) {
			up = now.Sub(*m.StartedAt).Seconds()
		}
		gauge(c.uptime, up, m.Name, m.Type)
		counter(c.restarts, float64(m.Restarts), m.Name, m.Type)
		for _, s := range minerStates {
			v := 0.0
			if m.State == s {
				v = 1
			}
			gauge(c.state, v, m.Name, m.Type, string(s))
		}
		if st.PoolConnected != nil {
			v := 0.0
			if *st.PoolConnected {
				v = 1
			}
			gauge(c.poolUp, v, m.Name, m.Type)
		}
		for j := range st.Devices {
			d := &st.Devices[j]
			labels := []string{m.Name, m.Type, d.Kind + strconv.Itoa(d.ID), d.Kind, d.Name}
			for _, f := range []struct {
				desc *prometheus.Desc
				v    *float64
			}{{c.devHashrate, d.HashrateHS}, {c.devTemp, d.TempC}, {c.devFan, d.FanPct}, {c.devPower, d.PowerW}} {
				if f.v != nil {
					gauge(f.desc, *f.v, labels...)
				}
			}
		}
	}
	if c.peers != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if peers, err := c.peers.Peers(ctx); err == nil {
			var conn, disc float64
			for _, p := range peers {
				if p.Connected {
					conn++
				} else {
					disc++
				}
			}
			gauge(c.p2pPeers, conn, "connected")
			gauge(c.p2pPeers, disc, "disconnected")
		}
	}
}
