package peers

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// benchConfig lifts the per-peer rate limits, which would otherwise be
// what a benchmark measures.
func benchConfig(b *testing.B, name string, role NodeRole) Config {
	cfg := testConfig(b, name, role)
	cfg.RateLimit, cfg.RateBurst, cfg.MinerOps = 1e9, 1e9, 1e9
	return cfg
}

// newNode creates a node without running it.
func newNode(b *testing.B, cfg Config) *testNode {
	b.Helper()
	n, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return &testNode{Node: n, t: b, cfg: cfg, store: cfg.Store.(*MemStore), local: cfg.Local.(*fakeLocal), runErr: make(chan error, 1)}
}

func (tn *testNode) run() {
	go func() { tn.runErr <- tn.Run(context.Background()) }()
	tn.t.Cleanup(func() { tn.stop() })
}

// BenchmarkHandshake is one full connection set-up on loopback: TCP
// connect, WebSocket upgrade, the three Noise XX messages, authorization
// and the auth frame.
func BenchmarkHandshake(b *testing.B) {
	srv := newNode(b, benchConfig(b, "server", NodeWorker))
	cli := newNode(b, benchConfig(b, "client", NodeController))
	defer cli.Close()
	if _, err := srv.addPeer(context.Background(), PeerRecord{ID: cli.ID(), Name: "client", Role: RoleObserver}); err != nil {
		b.Fatal(err)
	}
	srv.run()
	addr := srv.Info().Listen
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sc, auth, err := cli.dial(ctx, addr, dialTarget{id: srv.ID()})
		if err != nil || auth.Status != "ok" {
			b.Fatal(err, auth)
		}
		sc.close()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/handshake")
}

// BenchmarkRemoteStatsFanout50 asks 50 in-process peers (two miners each)
// for their stats in parallel.
func BenchmarkRemoteStatsFanout50(b *testing.B) {
	ctx := context.Background()
	ctl := newNode(b, benchConfig(b, "controller", NodeController))
	for i := range 50 {
		cfg := benchConfig(b, "worker", NodeWorker)
		cfg.Name = "worker-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		cfg.Local = newFakeLocal("xmrig-rx0", "ttminer-kawpow")
		w := newNode(b, cfg)
		if _, err := w.addPeer(ctx, PeerRecord{ID: ctl.ID(), Name: "controller", Role: RoleObserver}); err != nil {
			b.Fatal(err)
		}
		if _, err := ctl.addPeer(ctx, PeerRecord{ID: w.ID(), Name: cfg.Name, Address: w.Info().Listen, Role: RoleNone}); err != nil {
			b.Fatal(err)
		}
		w.run()
	}
	ctl.run()
	waitFor(b, 30*time.Second, "50 sessions", func() bool { return ctl.Connected() == 50 })
	rs := ctl.RemoteStats(ctx)
	for _, r := range rs {
		if !r.OK || len(r.Miners) != 2 {
			b.Fatalf("%s: %s", r.Name, r.Error)
		}
	}
	if len(rs) != 50 {
		b.Fatalf("%d answers", len(rs))
	}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		rs := ctl.RemoteStats(ctx)
		lat = append(lat, time.Since(t0))
		if !rs[49].OK {
			b.Fatal(rs[49].Error)
		}
	}
	reportLatency(b, lat, "fanout")
}

// BenchmarkCommandRoundTrip is a start_miner or stop_miner from the
// controller's API call to the answer (the fake agent starts instantly).
func BenchmarkCommandRoundTrip(b *testing.B) {
	ctx := context.Background()
	w := newNode(b, benchConfig(b, "worker", NodeWorker))
	ctl := newNode(b, benchConfig(b, "controller", NodeController))
	w.addPeer(ctx, PeerRecord{ID: ctl.ID(), Name: "controller", Role: RoleController})
	ctl.addPeer(ctx, PeerRecord{ID: w.ID(), Name: "worker", Address: w.Info().Listen, Role: RoleNone})
	w.run()
	ctl.run()
	waitFor(b, 10*time.Second, "session", func() bool { return ctl.connectedTo(w.ID()) })
	prof := abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "p:1", User: "u"}}}
	id := w.ID().String()
	var lat []time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		var err error
		if i%2 == 0 {
			_, err = ctl.RemoteStart(ctx, id, StartSpec{Type: "xmrig", Name: "bench", Profile: &prof})
		} else {
			_, err = ctl.RemoteStop(ctx, id, "bench")
		}
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportLatency(b, lat, "cmd")
}

// BenchmarkPing is the encrypted ping round trip.
func BenchmarkPing(b *testing.B) {
	ctx := context.Background()
	w := newNode(b, benchConfig(b, "worker", NodeWorker))
	ctl := newNode(b, benchConfig(b, "controller", NodeController))
	w.addPeer(ctx, PeerRecord{ID: ctl.ID(), Name: "controller", Role: RoleObserver})
	ctl.addPeer(ctx, PeerRecord{ID: w.ID(), Name: "worker", Address: w.Info().Listen, Role: RoleNone})
	w.run()
	ctl.run()
	waitFor(b, 10*time.Second, "session", func() bool { return ctl.connectedTo(w.ID()) })
	id := w.ID().String()
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		rtt, err := ctl.Ping(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, rtt)
	}
	reportLatency(b, lat, "ping")
}

func reportLatency(b *testing.B, lat []time.Duration, name string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), name+"-p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), name+"-p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), name+"-max-ms")
}
