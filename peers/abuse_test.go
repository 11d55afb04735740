package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestAbuseIntegration throws 10,000 malformed frames over 50 concurrent
// connections, frames declaring 2^62 bytes and 1,000 idle upgrades at a
// node while a paired peer keeps using it.
func TestAbuseIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("abuse run")
	}
	cfg := testConfig(t, "target", NodeWorker)
	cfg.Local = newFakeLocal("xmrig-rx0")
	// Every connection comes from 127.0.0.1: lift the per-source cap to
	// the global one, which is what this test holds the node to
	// (TestPreAuthPerSource tests the other).
	cfg.MaxPreAuthSource = DefaultMaxPreAuth
	target := startNode(t, cfg)
	friend := startNode(t, testConfig(t, "friend", NodeController))
	pairInvite(t, target, friend, RoleObserver)
	addr := target.Info().Listen

	rss0 := rssBytes()

	// The paired peer asks for stats every 200 ms throughout.
	var friendOK, friendFail atomic.Int64
	var firstFail atomic.Value
	stopFriend := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-stopFriend:
				return
			case <-time.After(200 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rs, err := friend.RemoteStatsOf(ctx, target.ID().String())
			cancel()
			if err != nil || len(rs.Miners) != 1 {
				friendFail.Add(1)
				firstFail.CompareAndSwap(nil, err)
			} else {
				friendOK.Add(1)
			}
		}
	})
	// Sample how many connections are in the handshake at once.
	var maxPreAuth atomic.Int64
	bg.Go(func() {
		for {
			select {
			case <-stopFriend:
				return
			case <-time.After(2 * time.Millisecond):
			}
			target.mu.Lock()
			n := int64(len(target.handshaking))
			target.mu.Unlock()
			if n > maxPreAuth.Load() {
				maxPreAuth.Store(n)
			}
		}
	})
	// A heartbeat measures how late this process's own goroutines run:
	// a stall of the whole process (a loaded machine, the race detector)
	// is not the node's doing, and is added to the limits below.
	var stall atomic.Int64
	bg.Go(func() {
		for {
			t0 := time.Now()
			select {
			case <-stopFriend:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if late := time.Since(t0) - 5*time.Millisecond; int64(late) > stall.Load() {
				stall.Store(int64(late))
			}
		}
	})
	defer func() {
		close(stopFriend)
		bg.Wait()
	}()

	// Phase 1: 10,000 malformed frames, 50 connections at a time. Every
	// connection gets one malformed frame (a complete one: slow senders are
	// phase 2) and must be closed within 1 s.
	const workers, perWorker = 50, 200
	var (
		closeMax    atomic.Int64
		notClosed   atomic.Int64
		frames      atomic.Int64
		mu          sync.Mutex
		examples    []string
		capRefusals atomic.Int64
		slowest     = make([]time.Duration, numMalformed)
		all         []time.Duration
		stalls      []time.Duration // when (into phase 1) slow closes began
	)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range perWorker {
				kind := (w*perWorker + i) % numMalformed
				d, err := sendMalformed(addr, kind, rng)
				for retry := 0; errors.Is(err, errRefusedAtCap) && retry < 100; retry++ {
					// Refused at accept by the pre-auth cap before the frame
					// could be sent (closed at once, which is fine): send it
					// again so that every frame reaches the parser.
					capRefusals.Add(1)
					time.Sleep(time.Millisecond)
					d, err = sendMalformed(addr, kind, rng)
				}
				frames.Add(1)
				mu.Lock()
				all = append(all, d)
				if d > 500*time.Millisecond {
					stalls = append(stalls, time.Since(start)-d)
				}
				if d > slowest[kind] {
					slowest[kind] = d
				}
				mu.Unlock()
				if err != nil {
					notClosed.Add(1)
					mu.Lock()
					if len(examples) < 5 {
						examples = append(examples, malformedNames[kind]+": "+err.Error())
					}
					mu.Unlock()
					continue
				}
				for {
					m := closeMax.Load()
					if int64(d) <= m || closeMax.CompareAndSwap(m, int64(d)) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("phase 1: %d malformed frames in %v; slowest close %v; %d connections refused at the pre-auth cap and retried",
		frames.Load(), time.Since(start).Round(time.Millisecond), time.Duration(closeMax.Load()), capRefusals.Load())
	if len(stalls) > 0 {
		slices.Sort(stalls)
		t.Logf("  %d closes over 500 ms, starting between %v and %v into the phase", len(stalls), stalls[0].Round(time.Millisecond), stalls[len(stalls)-1].Round(time.Millisecond))
	}
	slices.Sort(all)
	t.Logf("  close time p50 %v p99 %v p99.9 %v max %v", all[len(all)/2], all[len(all)*99/100], all[len(all)*999/1000], all[len(all)-1])
	for k, d := range slowest {
		t.Logf("  %-22s slowest close %v", malformedNames[k], d.Round(time.Microsecond))
	}
	stall1 := time.Duration(stall.Load())
	t.Logf("  longest stall of the test process itself: %v", stall1.Round(time.Millisecond))
	late1 := 0
	for _, d := range all {
		if d > time.Second+stall1 {
			late1++
		}
	}
	if notClosed.Load() > 0 || late1 > 0 {
		t.Errorf("%d connections were not closed within 1 s (+ %v process stall), %d gave up, e.g. %v", late1, stall1, notClosed.Load(), examples)
	}

	// Phase 2: 1,000 idle upgrades at once. The first MaxPreAuth wait for
	// the handshake deadline (5 s); the rest are closed on accept.
	refused0 := target.refused.Load()
	start = time.Now()
	const idle = 1000
	var idleMax, refusedMax, idleLate, upgraded atomic.Int64
	storeMax := func(a *atomic.Int64, d time.Duration) {
		for {
			m := a.Load()
			if int64(d) <= m || a.CompareAndSwap(m, int64(d)) {
				return
			}
		}
	}
	for range idle {
		wg.Go(func() {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				idleLate.Add(1)
				return
			}
			defer conn.Close()
			t0 := time.Now()
			if writeUpgrade(conn, "") != nil {
				return // already closed
			}
			br := bufio.NewReader(conn)
			conn.SetReadDeadline(t0.Add(7 * time.Second))
			line, err := br.ReadString('\n')
			if err != nil || !strings.Contains(line, " 101 ") {
				// Refused at accept by the pre-auth cap. The accept loop
				// works through the burst of 1,000 one by one.
				d := time.Since(t0)
				storeMax(&refusedMax, d)
				if d > 5*time.Second {
					idleLate.Add(1)
				}
				return
			}
			upgraded.Add(1)
			t1 := time.Now()
			readUntilClosed(conn, br, t1.Add(7*time.Second))
			d := time.Since(t1)
			storeMax(&idleMax, d)
			if d > 5*time.Second+time.Duration(stall.Load()) {
				idleLate.Add(1)
			}
		})
	}
	wg.Wait()
	refused := target.refused.Load() - refused0
	t.Logf("phase 2: %d idle upgrades in %v: %d upgraded and held until the handshake deadline (slowest close %v after the 101), %d refused at the pre-auth cap (slowest close %v); most in handshake at once %d",
		idle, time.Since(start).Round(time.Millisecond), upgraded.Load(), time.Duration(idleMax.Load()).Round(time.Millisecond),
		refused, time.Duration(refusedMax.Load()).Round(time.Millisecond), maxPreAuth.Load())
	if idleLate.Load() > 0 {
		t.Errorf("%d idle connections were not closed within 5 s (+ %v process stall)", idleLate.Load(), time.Duration(stall.Load()))
	}
	if maxPreAuth.Load() > DefaultMaxPreAuth || upgraded.Load() > DefaultMaxPreAuth+1 {
		t.Errorf("pre-auth cap not held: %d at once, %d upgraded", maxPreAuth.Load(), upgraded.Load())
	}
	if refused == 0 {
		t.Error("no connection was refused at the cap")
	}

	// The paired peer worked throughout; nothing panicked; memory is back.
	if friendFail.Load() > 0 || friendOK.Load() < 10 {
		t.Errorf("paired peer: %d ok, %d failed (first: %v)", friendOK.Load(), friendFail.Load(), firstFail.Load())
	}
	if _, err := friend.Ping(ctxT(t, 2*time.Second), target.ID().String()); err != nil {
		t.Errorf("paired peer after the abuse: %v", err)
	}
	if p := target.panics.Load(); p != 0 {
		t.Errorf("%d panics", p)
	}
	if rss0 > 0 {
		rss1 := rssBytes()
		t.Logf("RSS %d MiB → %d MiB (growth %+d KiB); paired peer %d requests ok", rss0>>20, rss1>>20, (rss1-rss0)>>10, friendOK.Load())
		if rss1-rss0 > 32<<20 && !raceEnabled { // the race detector's shadow memory inflates RSS
			t.Errorf("RSS grew by %d MiB, limit 32", (rss1-rss0)>>20)
		}
	}
}

var malformedNames = []string{
	"random frame", "2^62 length", "2^63 length", "65537 length", "unmasked", "text", "rsv bits",
	"bad magic", "bad version", "junk noise message 1", "junk noise message 3", "unknown invite",
	"ping flood", "bad http", "origin header", "wrong path",
}

var numMalformed = len(malformedNames)

func maskedFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	var buf bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
	ws.WriteHeader(&buf, h)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, h.Mask, 0)
	buf.Write(p)
	return buf.Bytes()
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sendMalformed opens a connection, sends one kind of malformed input and
// returns how long the node took to close the connection (error: it did
// not within 1 s).
func sendMalformed(addr string, kind int, rng *rand.Rand) (time.Duration, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	name := malformedNames[kind]
	switch name {
	case "bad http":
		conn.Write([]byte("GET /p2p/v1 HTTP/1.0\r\nHost: x\r\n\r\n"))
		return waitClosed(conn, nil)
	case "origin header":
		writeUpgrade(conn, "Origin: https://evil.example\r\n")
		return waitClosed(conn, nil)
	case "wrong path":
		conn.Write([]byte("GET /api HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
		return waitClosed(conn, nil)
	}
	if err := writeUpgrade(conn, ""); err != nil {
		return 0, err
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return 0, errRefusedAtCap
	}
	if !strings.Contains(line, " 101 ") {
		return 0, errors.New("upgrade refused: " + line)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if l == "\r\n" {
			break
		}
	}
	// Every kind ends with a text frame, which is always refused, so that
	// a random frame that happens to be acceptable (a ping, a first
	// fragment) is still followed by something malformed.
	term := maskedFrame(ws.OpText, true, []byte("x"))
	var out []byte
	pre := append([]byte(nil), helloMagic...)
	switch name {
	case "random frame":
		op := ws.OpCode(rng.IntN(16))
		out = maskedFrame(op, rng.IntN(4) != 0, randBytes(rng, rng.IntN(300)))
		if rng.IntN(3) == 0 {
			out[0] |= byte(rng.IntN(8)) << 4 // rsv bits
		}
	case "2^62 length", "2^63 length":
		h := []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		n := uint64(1) << 62
		if name == "2^63 length" {
			n = 1<<63 | 5
		}
		binary.BigEndian.PutUint64(h[2:], n)
		out = h
	case "65537 length":
		h := []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		binary.BigEndian.PutUint64(h[2:], MaxFrame+1)
		out = h
	case "unmasked":
		out = []byte{0x82, 0x03, 1, 2, 3}
	case "text":
		out = maskedFrame(ws.OpText, true, []byte(`{"v":1}`))
	case "rsv bits":
		out = maskedFrame(ws.OpBinary, true, []byte("rigd"))
		out[0] |= 0x40
	case "bad magic":
		out = maskedFrame(ws.OpBinary, true, randBytes(rng, 1+rng.IntN(100)))
	case "bad version":
		out = maskedFrame(ws.OpBinary, true, append(append(pre, byte(2+rng.IntN(200)), 0), randBytes(rng, 32)...))
	case "junk noise message 1":
		out = maskedFrame(ws.OpBinary, true, append(append(pre, 1, 0), randBytes(rng, rng.IntN(31))...))
	case "junk noise message 3":
		// A plausible message 1, then junk where message 3 belongs.
		out = maskedFrame(ws.OpBinary, true, append(append(pre, 1, 0), randBytes(rng, 32)...))
		out = append(out, maskedFrame(ws.OpBinary, true, randBytes(rng, 48+rng.IntN(200)))...)
	case "unknown invite":
		out = maskedFrame(ws.OpBinary, true, append(append(pre, 1, 1), randBytes(rng, 8+32+16)...))
	case "ping flood":
		for range maxControlBurst + 10 {
			out = append(out, maskedFrame(ws.OpPing, true, []byte("p"))...)
		}
	}
	out = append(out, term...)
	conn.Write(out)
	return waitClosed(conn, br)
}

var errRefusedAtCap = errors.New("closed before the upgrade (pre-auth cap)")

func writeUpgrade(conn net.Conn, extra string) error {
	_, err := conn.Write([]byte("GET /p2p/v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"))
	return err
}

// waitClosed reads (and drops) whatever arrives until the peer closes,
// for at most 5 s; the caller judges the time.
func waitClosed(conn net.Conn, br *bufio.Reader) (time.Duration, error) {
	start := time.Now()
	if !readUntilClosed(conn, br, start.Add(5*time.Second)) {
		return 0, errors.New("not closed within 5 s")
	}
	return time.Since(start), nil
}

func readUntilClosed(conn net.Conn, br *bufio.Reader, deadline time.Time) bool {
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 4096)
	for {
		var err error
		if br != nil && br.Buffered() > 0 {
			_, err = br.Read(buf)
		} else {
			_, err = conn.Read(buf)
		}
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// rssBytes is the process's resident set after a GC (Linux; 0 elsewhere).
func rssBytes() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// One source holds at most MaxPreAuthSource connections in the handshake;
// the next is closed at accept, and a slot it frees is usable again.
func TestPreAuthPerSource(t *testing.T) {
	cfg := testConfig(t, "target", NodeWorker)
	cfg.MaxPreAuthSource = 4
	target := startNode(t, cfg)
	addr := target.Info().Listen
	upgrade := func() (net.Conn, bool) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if writeUpgrade(conn, "") != nil {
			return conn, false
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		return conn, err == nil && strings.Contains(line, " 101 ")
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range cfg.MaxPreAuthSource {
		conn, ok := upgrade()
		held = append(held, conn)
		if !ok {
			t.Fatalf("connection %d of %d from one source was refused", i+1, cfg.MaxPreAuthSource)
		}
	}
	refused0 := target.Metrics().RefusedPreAuth
	conn, ok := upgrade()
	conn.Close()
	if ok {
		t.Fatalf("connection %d from one source was upgraded (cap %d)", cfg.MaxPreAuthSource+1, cfg.MaxPreAuthSource)
	}
	if got := target.Metrics().RefusedPreAuth - refused0; got != 1 {
		t.Errorf("RefusedPreAuth grew by %d, want 1", got)
	}
	// Closing one idle connection ends its handshake and frees its slot.
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, ok := upgrade()
		held = append(held, conn)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot of a closed connection was not freed within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPreAuthCapSources(t *testing.T) {
	src := func(s string) netip.Prefix {
		return sourceOf(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)))
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1:1000", "192.0.2.1:2000", true},
		{"192.0.2.1:1000", "192.0.2.2:1000", false},
		{"[::ffff:192.0.2.1]:1000", "192.0.2.1:2000", true},
		{"[2001:db8::1]:1000", "[2001:db8::ffff:2]:1000", true},
		{"[2001:db8::1]:1000", "[2001:db8:0:1::1]:1000", false},
		{"[fe80::1%eth0]:1000", "[fe80::2%eth1]:1000", true},
	} {
		if got := src(c.a) == src(c.b); got != c.same {
			t.Errorf("%s and %s: same source %v, want %v", c.a, c.b, got, c.same)
		}
	}
	if sourceOf(&net.UnixAddr{Name: "x", Net: "unix"}).IsValid() {
		t.Error("a non-TCP address has a source")
	}

	c := preauthCap{max: 3, maxSource: 2, bySource: map[netip.Prefix]int{}}
	a, b, d := src("192.0.2.1:1"), src("192.0.2.2:1"), src("192.0.2.3:1")
	for i, want := range []bool{true, true, false} {
		if got := c.acquire(a); got != want {
			t.Fatalf("acquire %d from one source: %v, want %v", i+1, got, want)
		}
	}
	if !c.acquire(b) || c.acquire(d) {
		t.Fatal("the global cap of 3 was not applied across sources")
	}
	c.release(a)
	if !c.acquire(d) {
		t.Fatal("a released slot was not reusable by another source")
	}
	c.release(a)
	c.release(b)
	c.release(d)
	if c.total != 0 || len(c.bySource) != 0 {
		t.Errorf("after releasing everything: total %d, %d sources", c.total, len(c.bySource))
	}
}
