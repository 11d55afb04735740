package router

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/rigd/rigd/agent/miner"
)

// sseClient reads events from an SSE response.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func openSSE(t *testing.T, ta *testAPI, query string) *sseClient {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ta.srv.URL+ta.api.Prefix()+"/events"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := ta.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseClient{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event (comments skipped).
func (c *sseClient) next() StreamEvent {
	c.t.Helper()
	var typ string
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var e StreamEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				c.t.Fatal(err)
			}
			if e.Type != typ {
				c.t.Fatalf("event: %s but data type %s", typ, e.Type)
			}
			return e
		}
	}
	c.t.Fatalf("stream ended: %v", c.sc.Err())
	return StreamEvent{}
}

func TestEventsSSE(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.KeepAlive = 50 * time.Millisecond })
	ta.fm.add("a", "xmrig", 0)
	ta.fm.add("b", "xmrig", 0)

	all := openSSE(t, ta, "")
	onlyB := openSSE(t, ta, "?miners=b")
	// The current state first, one event per miner.
	for _, want := range []string{"a", "b"} {
		e := all.next()
		if e.Type != EventSnapshot || e.Miner != want || e.Info == nil || e.State != miner.StateRunning {
			t.Fatalf("snapshot %+v, want miner %s", e, want)
		}
	}
	if e := onlyB.next(); e.Type != EventSnapshot || e.Miner != "b" {
		t.Fatalf("filtered snapshot %+v", e)
	}
	// Then live events, filtered.
	ta.fm.Stop(t.Context(), "a")
	ta.fm.Stop(t.Context(), "b")
	if e := all.next(); e.Type != miner.EventMinerStopped || e.Miner != "a" || e.Seq == 0 {
		t.Fatalf("live event %+v", e)
	}
	if e := onlyB.next(); e.Type != miner.EventMinerStopped || e.Miner != "b" {
		t.Fatalf("filtered live event %+v (a must not pass the filter)", e)
	}
	all.next() // b stopped
	// Install progress reaches unfiltered clients.
	if resp, b := ta.do("POST", "/miners/xmrig/install", "", nil); resp.StatusCode != 200 {
		t.Fatalf("install: %d %s", resp.StatusCode, b)
	}
	for i := 1; i <= 3; i++ {
		e := all.next()
		if e.Type != EventInstallProgress || e.Progress == nil || e.Progress.Type != "xmrig" || e.Progress.Bytes != int64(i*100) {
			t.Fatalf("progress %d: %+v %+v", i, e, e.Progress)
		}
	}
	// Keepalive comments flow while idle (the scanner sees them).
	deadline := time.Now().Add(2 * time.Second)
	for all.sc.Scan() {
		if all.sc.Text() == ": keepalive" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no keepalive")
		}
	}
}

// dialWS opens a WebSocket to /events.
func dialWS(t *testing.T, ta *testAPI, query string) (net.Conn, *bufio.Reader) {
	t.Helper()
	u := "ws://" + ta.srv.Listener.Addr().String() + ta.api.Prefix() + "/events" + query
	conn, br, _, err := ws.Dial(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return conn, br
}

func readWSEvent(t *testing.T, conn net.Conn, br *bufio.Reader) StreamEvent {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		b, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{br, conn})
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if op != ws.OpText {
			continue
		}
		var e StreamEvent
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
}

func TestEventsWebSocket(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.KeepAlive = time.Hour })
	ta.fm.add("a", "xmrig", 0)
	conn, br := dialWS(t, ta, "")
	if e := readWSEvent(t, conn, br); e.Type != EventSnapshot || e.Miner != "a" {
		t.Fatalf("snapshot %+v", e)
	}
	ta.fm.Stop(t.Context(), "a")
	if e := readWSEvent(t, conn, br); e.Type != miner.EventMinerStopped {
		t.Fatalf("live %+v", e)
	}
	// A ping is answered with a pong carrying the same payload.
	if err := wsutil.WriteClientMessage(conn, ws.OpPing, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr, err := ws.ReadHeader(br)
	if err != nil || hdr.OpCode != ws.OpPong || hdr.Length != 2 {
		t.Fatalf("pong: %+v %v", hdr, err)
	}
	p := make([]byte, 2)
	br.Read(p)
	if string(p) != "hi" {
		t.Fatalf("pong payload %q", p)
	}
	// Text from the client is read and ignored.
	if err := wsutil.WriteClientText(conn, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// A frame over the limit closes the connection with 1009.
	if err := wsutil.WriteClientText(conn, make([]byte, wsMaxFrame+1)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr, err = ws.ReadHeader(br)
	if err != nil || hdr.OpCode != ws.OpClose {
		t.Fatalf("after an oversized frame: %+v %v", hdr, err)
	}
	body := make([]byte, hdr.Length)
	br.Read(body)
	if code, _ := ws.ParseCloseFrameData(body); code != ws.StatusMessageTooBig {
		t.Fatalf("close code %d", code)
	}
	waitStreams(t, ta.api, 0)
}

// TestEventsWebSocketMessageLimit: a fragmented message whose frames are
// each small but whose total is over the limit closes the connection.
func TestEventsWebSocketMessageLimit(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.KeepAlive = time.Hour })
	conn, br := dialWS(t, ta, "")
	frag := make([]byte, wsMaxFrame)
	ws.WriteFrame(conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, frag)))
	for range wsMaxMessage/wsMaxFrame + 1 {
		if err := ws.WriteFrame(conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, false, frag))); err != nil {
			break
		}
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		hdr, err := ws.ReadHeader(br)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if hdr.OpCode == ws.OpClose {
			break
		}
		br.Discard(int(hdr.Length))
	}
	waitStreams(t, ta.api, 0)
}

func waitStreams(t *testing.T, api *API, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		api.streamMu.Lock()
		n := api.nStreams
		api.streamMu.Unlock()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d event streams open, want %d", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventsSlowClient: a client that never reads is dropped and never
// holds up publishing or the other clients.
func TestEventsSlowClient(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) {
		c.KeepAlive = time.Hour
		c.StreamWriteTimeout = 500 * time.Millisecond
	})
	// The slow client: a WebSocket that never reads, with a tiny receive
	// buffer so the server's writes block quickly.
	slow, _ := dialWS(t, ta, "")
	slow.(*net.TCPConn).SetReadBuffer(4096)
	fast := openSSE(t, ta, "")

	const n, batch = 2000, 50
	got := make(chan int, n)
	go func() {
		for c := 1; c <= n; {
			if e := fast.next(); e.Type == miner.EventStats {
				got <- c
				c++
			}
		}
	}()
	big := strings.Repeat("x", 2000)
	var slowest time.Duration
	for i := 1; i <= n; i++ {
		start := time.Now()
		ta.fm.bus.Publish(miner.Event{Type: miner.EventStats, Miner: "m", Cause: big})
		slowest = max(slowest, time.Since(start))
		if i%batch == 0 { // the fast client keeps up: wait for it
			for c := 0; c < i; {
				select {
				case c = <-got:
				case <-time.After(10 * time.Second):
					t.Fatalf("the fast client is stuck at %d of %d events", c, i)
				}
			}
		}
	}
	if slowest > 100*time.Millisecond {
		t.Fatalf("one Publish took %v: a slow client blocked the bus", slowest)
	}
	// The slow client's stream ends (dropped, then its write times out).
	waitStreams(t, ta.api, 1)
}

// TestEventsMaxStreams caps concurrent clients.
func TestEventsMaxStreams(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.MaxStreams = 2 })
	openSSE(t, ta, "")
	openSSE(t, ta, "")
	waitStreams(t, ta.api, 2)
	resp, b := ta.do("GET", "/events", "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != 429 || errorBody(t, resp, b).Code != CodeRateLimited {
		t.Fatalf("third stream: %d %s", resp.StatusCode, b)
	}
}

// TestShutdownEndsStreams: Shutdown does not wait for event streams.
func TestShutdownEndsStreams(t *testing.T) {
	ta := newTestAPI(t, nil)
	openSSE(t, ta, "")
	dialWS(t, ta, "")
	waitStreams(t, ta.api, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ta.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	ta.api.Close() // waits for the WebSocket handler too
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v with open streams", d)
	}
	waitStreams(t, ta.api, 0)
}
