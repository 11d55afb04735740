package peers

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Keepalive pings hold an otherwise silent session and measure the RTT; a
// peer that sends nothing is closed after IdleTimeout.
func TestKeepaliveAndIdle(t *testing.T) {
	cfgA := testConfig(t, "a", NodeWorker)
	cfgA.PingInterval, cfgA.IdleTimeout = 30*time.Millisecond, 150*time.Millisecond
	a := startNode(t, cfgA)
	cfgB := testConfig(t, "b", NodeWorker)
	cfgB.PingInterval, cfgB.IdleTimeout = 30*time.Millisecond, 150*time.Millisecond
	b := startNode(t, cfgB)
	pairInvite(t, a, b, RoleObserver)

	a.mu.Lock()
	first := a.peers[b.ID()].current
	a.mu.Unlock()
	deadline := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		cur := a.peers[b.ID()].current
		a.mu.Unlock()
		if cur != first {
			t.Fatal("the silent session was dropped despite keepalives")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pi, _ := a.Peer(b.ID().String()); pi.RTT <= 0 {
		t.Fatalf("no RTT from keepalives: %+v", pi)
	}

	// A peer that completes the handshake and then stays silent.
	rp := newRawPeer(t)
	allow(t, a, rp, RoleObserver)
	rc := rp.connect(t, a.Info().Listen)
	rc.verdict(t)
	pings := 0
	start := time.Now()
	for {
		env, err := rc.recv(2 * time.Second)
		if err != nil {
			break
		}
		if env.Type == msgPing {
			pings++
		}
	}
	d := time.Since(start)
	if d < 100*time.Millisecond || d > time.Second || pings < 2 {
		t.Fatalf("silent peer closed after %v with %d pings seen", d, pings)
	}
	t.Logf("silent peer closed after %v (idle timeout 150 ms), %d pings", d, pings)
}

// A peer that cannot be reached is redialed with a capped backoff, not in
// a tight loop, and the dialer stops when the peer is removed.
func TestReconnectBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close() // not a rigd node
		}
	}()
	cfg := testConfig(t, "dialer", NodeWorker)
	cfg.ReconnectMin, cfg.ReconnectMax = 10*time.Millisecond, 80*time.Millisecond
	ghost := newRawPeer(t)
	cfg.Store.PutPeer(context.Background(), PeerRecord{ID: ghost.id, Name: "ghost", Address: ln.Addr().String(), Role: RoleObserver})
	n := startNode(t, cfg)
	time.Sleep(time.Second)
	got := accepts.Load()
	// 10, 20, 40, 80, 80, … ms (±20 %) plus dial time: about 13-16 in 1 s.
	if got < 6 || got > 30 {
		t.Fatalf("%d dials in 1 s; want a backoff capped at 80 ms (about 14)", got)
	}
	if err := n.RemovePeer(context.Background(), ghost.id.String()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	after := accepts.Load()
	time.Sleep(300 * time.Millisecond)
	if accepts.Load() != after {
		t.Fatal("the dialer kept going after RemovePeer")
	}
	t.Logf("%d dials in the first second", got)
}

func TestLifecycle(t *testing.T) {
	cfg := testConfig(t, "n", NodeWorker)
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Close without Run releases the listener.
	addr := n.Info().Listen
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := n.Invite(RoleObserver); !errors.Is(err, ErrClosed) {
		t.Fatalf("Invite after Close: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listener not released: %v", err)
	}
	ln.Close()

	// Run ends when its context does; the same key gives the same id.
	cfg.Listen = "127.0.0.1:0"
	n2, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n2.ID() != n.ID() {
		t.Fatal("same key file, different id")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n2.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if err := n2.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	n2.Close()

	// Config validation.
	for _, bad := range []Config{
		{DataDir: t.TempDir(), Store: NewMemStore()},
		{DataDir: t.TempDir(), Local: newFakeLocal()},
		{Local: newFakeLocal(), Store: NewMemStore()},
		{DataDir: t.TempDir(), Local: newFakeLocal(), Store: NewMemStore(), Role: "boss"},
		{DataDir: t.TempDir(), Local: newFakeLocal(), Store: NewMemStore(), Advertise: "nowhere"},
	} {
		if _, err := New(context.Background(), bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	c := Config{DataDir: "x", Local: newFakeLocal(), Store: NewMemStore(), PingInterval: time.Minute, IdleTimeout: time.Second}
	if err := c.setDefaults(); err != nil || c.IdleTimeout != 3*time.Minute || c.Role != NodeDual || c.Name == "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	if n := leakedGoroutines(2 * time.Second); n != "" {
		t.Fatalf("goroutines left after Close:\n%s", n)
	}
}

func TestJitter(t *testing.T) {
	for range 1000 {
		d := jitter(time.Second)
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("jitter(1s) = %v", d)
		}
	}
	if jitter(0) != 0 {
		t.Fatal("jitter(0)")
	}
}

// The upgrade is refused with 403 when an Origin header is present (any
// browser page) and with 404 off /p2p/v1.
func TestUpgradeRefusals(t *testing.T) {
	n := startNode(t, testConfig(t, "n", NodeWorker))
	status := func(path, extra string) string {
		conn, err := net.Dial("tcp", n.Info().Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		return line
	}
	for _, tc := range []struct{ path, extra, want string }{
		{Path, "Origin: https://evil.example\r\n", " 403 "},
		{Path, "origin: null\r\n", " 403 "},
		{"/api/v1", "", " 404 "},
		{Path + "?x=1", "", " 404 "},
		{Path, "", " 101 "},
	} {
		if got := status(tc.path, tc.extra); !strings.Contains(got, tc.want) {
			t.Errorf("GET %s with %q: %q, want %s", tc.path, tc.extra, got, tc.want)
		}
	}
}
