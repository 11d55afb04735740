package router

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
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

// collector reads the Manager's snapshot at scrape time. Gauges live in
// vectors that keep their label pairs from scrape to scrape (the series of
// a rig change rarely), so a scrape sets values instead of building every
// series anew; series whose miner, device or value went away are deleted.
// Counters (shares, restarts) are built per scrape: a vector cannot set a
// counter.
type collector struct {
	miners Miners
	peers  Peers
	now    func() time.Time

	mu   sync.Mutex        // one scrape at a time updates the vectors
	seen map[string]string // miner -> fingerprint of its series' labels

	shares, restarts, up                   *prometheus.Desc
	p2pPeers, p2pRefused, incidents        *prometheus.Desc
	hashrate, uptime, state, poolUp        *prometheus.GaugeVec
	devHashrate, devTemp, devFan, devPower *prometheus.GaugeVec
	vecs                                   []*prometheus.GaugeVec
}

func newCollector(miners Miners, peers Peers) *collector {
	ml := []string{"miner", "type"}
	dl := []string{"miner", "type", "device", "kind", "name"}
	gv := func(name, help string, labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	c := &collector{
		miners:      miners,
		peers:       peers,
		now:         time.Now,
		seen:        map[string]string{},
		up:          prometheus.NewDesc("rigd_miners", "Number of miners the agent supervises.", nil, nil),
		shares:      prometheus.NewDesc("rigd_miner_shares_total", "Shares of the current miner process by result (accepted, rejected, stale); resets when the process restarts.", append(ml, "result"), nil),
		restarts:    prometheus.NewDesc("rigd_miner_restarts_total", "Automatic restarts since the miner was started.", ml, nil),
		p2pPeers:    prometheus.NewDesc("rigd_p2p_peers", "Paired P2P peers by connection status.", []string{"status"}, nil),
		p2pRefused:  prometheus.NewDesc("rigd_p2p_refused_connections_total", "P2P connections closed at accept because too many were in the handshake (in all, or from their source).", nil, nil),
		incidents:   prometheus.NewDesc("rigd_watchdog_incidents_total", "Watchdog incidents since the agent started, by rule.", []string{"rule"}, nil),
		hashrate:    gv("rigd_miner_hashrate_hs", "Miner hashrate in H/s over a window (10s, 60s, 15m) as the miner reports it.", append(ml, "window")),
		uptime:      gv("rigd_miner_uptime_seconds", "Seconds since the miner process started (0 when not running).", ml),
		state:       gv("rigd_miner_state", "Lifecycle state of the miner: 1 for the current state, 0 for the others.", append(ml, "state")),
		poolUp:      gv("rigd_miner_pool_connected", "1 when the miner is connected to its pool.", ml),
		devHashrate: gv("rigd_device_hashrate_hs", "Device hashrate in H/s.", dl),
		devTemp:     gv("rigd_device_temperature_celsius", "Device temperature in °C.", dl),
		devFan:      gv("rigd_device_fan_percent", "Device fan speed in percent.", dl),
		devPower:    gv("rigd_device_power_watts", "Device power draw in W.", dl),
	}
	c.vecs = []*prometheus.GaugeVec{c.hashrate, c.uptime, c.state, c.poolUp, c.devHashrate, c.devTemp, c.devFan, c.devPower}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.shares, c.restarts, c.p2pPeers, c.p2pRefused, c.incidents} {
		ch <- d
	}
	for _, v := range c.vecs {
		v.Describe(ch)
	}
}

// setOrDelete sets a series to *v, or deletes it when v is nil (unknown
// values are absent, never 0).
func setOrDelete(vec *prometheus.GaugeVec, v *float64, labels ...string) {
	if v == nil {
		vec.DeleteLabelValues(labels...)
		return
	}
	vec.WithLabelValues(labels...).Set(*v)
}

// fingerprint names the label sets of a miner's series: when it changes
// (type or devices), the miner's old series are deleted first.
func fingerprint(m *miner.Info) string {
	var b strings.Builder
	b.WriteString(m.Type)
	for i := range m.Stats.Devices {
		d := &m.Stats.Devices[i]
		b.WriteByte(0)
		b.WriteString(d.Kind)
		b.WriteString(strconv.Itoa(d.ID))
		b.WriteByte(0)
		b.WriteString(d.Name)
	}
	return b.String()
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	list := c.miners.List()
	now := c.now()
	// Metrics are sent after the lock is released (no channel send under
	// a lock); the vectors are safe for concurrent use.
	consts := make([]prometheus.Metric, 0, 1+4*len(list))
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		consts = append(consts, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
	}
	consts = append(consts, prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, float64(len(list))))

	c.mu.Lock()
	current := make(map[string]bool, len(list))
	for i := range list {
		m := &list[i]
		current[m.Name] = true
		if fp := fingerprint(m); c.seen[m.Name] != fp {
			c.forgetLocked(m.Name)
			c.seen[m.Name] = fp
		}
		st := &m.Stats
		setOrDelete(c.hashrate, st.HashrateHS, m.Name, m.Type, "10s")
		setOrDelete(c.hashrate, st.Hashrate60sHS, m.Name, m.Type, "60s")
		setOrDelete(c.hashrate, st.Hashrate15mHS, m.Name, m.Type, "15m")
		up := 0.0
		if m.StartedAt != nil && (m.State == miner.StateRunning || m.State == miner.StateStarting) {
			up = now.Sub(*m.StartedAt).Seconds()
		}
		c.uptime.WithLabelValues(m.Name, m.Type).Set(up)
		for _, s := range minerStates {
			v := 0.0
			if m.State == s {
				v = 1
			}
			c.state.WithLabelValues(m.Name, m.Type, string(s)).Set(v)
		}
		var pool *float64
		if st.PoolConnected != nil {
			v := 0.0
			if *st.PoolConnected {
				v = 1
			}
			pool = &v
		}
		setOrDelete(c.poolUp, pool, m.Name, m.Type)
		for j := range st.Devices {
			d := &st.Devices[j]
			dev := d.Kind + strconv.Itoa(d.ID)
			setOrDelete(c.devHashrate, d.HashrateHS, m.Name, m.Type, dev, d.Kind, d.Name)
			setOrDelete(c.devTemp, d.TempC, m.Name, m.Type, dev, d.Kind, d.Name)
			setOrDelete(c.devFan, d.FanPct, m.Name, m.Type, dev, d.Kind, d.Name)
			setOrDelete(c.devPower, d.PowerW, m.Name, m.Type, dev, d.Kind, d.Name)
		}
		for _, s := range []struct {
			name string
			v    *int64
		}{{"accepted", st.Accepted}, {"rejected", st.Rejected}, {"stale", st.Stale}} {
			if s.v != nil {
				counter(c.shares, float64(*s.v), m.Name, m.Type, s.name)
			}
		}
		counter(c.restarts, float64(m.Restarts), m.Name, m.Type)
	}
	for name := range c.seen {
		if !current[name] {
			c.forgetLocked(name)
			delete(c.seen, name)
		}
	}
	c.mu.Unlock()
	if ic, ok := c.miners.(incidentCounter); ok {
		for rule, n := range ic.IncidentCounts() {
			counter(c.incidents, float64(n), rule)
		}
	}
	for _, m := range consts {
		ch <- m
	}
	for _, v := range c.vecs {
		v.Collect(ch)
	}

	if c.peers != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if node, err := c.peers.Node(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.p2pPeers, prometheus.GaugeValue, float64(node.Connected), "connected")
			ch <- prometheus.MustNewConstMetric(c.p2pPeers, prometheus.GaugeValue, float64(node.Peers-node.Connected), "disconnected")
			ch <- prometheus.MustNewConstMetric(c.p2pRefused, prometheus.CounterValue, float64(node.RefusedConnections))
		}
	}
}

// incidentCounter is implemented by a Miners service with a watchdog
// (*miner.Manager).
type incidentCounter interface {
	IncidentCounts() map[string]uint64
}

// forgetLocked deletes every series of a miner.
func (c *collector) forgetLocked(name string) {
	for _, v := range c.vecs {
		v.DeletePartialMatch(prometheus.Labels{"miner": name})
	}
}
