package router

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// Event stream limits.
const (
	// streamBuffer is how many events a client may lag behind before it is
	// dropped.
	streamBuffer = 256
	// wsMaxFrame and wsMaxMessage cap what a WebSocket client may send: it
	// has nothing meaningful to say (control frames carry at most 125
	// bytes), so anything larger closes the connection.
	wsMaxFrame   = 512
	wsMaxMessage = 4096
)

func timeNowPlus(d time.Duration) time.Time { return time.Now().Add(d) }

// hub fans the API's own events (install progress) out to stream
// clients; like the bus, it never blocks and drops a full client.
type hub struct {
	mu   sync.Mutex
	subs map[chan StreamEvent]struct{}
}

func newHub() *hub { return &hub{subs: map[chan StreamEvent]struct{}{}} }

func (h *hub) subscribe() chan StreamEvent {
	c := make(chan StreamEvent, streamBuffer)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c
}

// unsubscribe removes c; it is never closed (the reader stops selecting
// on it).
func (h *hub) unsubscribe(c chan StreamEvent) {
	h.mu.Lock()
	delete(h.subs, c)
	h.mu.Unlock()
}

func (h *hub) publish(e StreamEvent) {
	h.mu.Lock()
	subs := make([]chan StreamEvent, 0, len(h.subs))
	for c := range h.subs {
		subs = append(subs, c)
	}
	h.mu.Unlock()
	// Channels are never closed, so a client that unsubscribed meanwhile
	// only gets an event nobody reads.
	for _, c := range subs {
		select {
		case c <- e:
		default: // a client this far behind loses progress reports only
		}
	}
}

// streamSink writes events to one client.
type streamSink interface {
	send(e *StreamEvent) error
	keepalive() error
	// closed is closed when the client goes away.
	closed() <-chan struct{}
}

// events serves GET /events as a WebSocket or an SSE stream.
func (a *API) events(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.Events == nil {
		return notImplemented("the event stream is not wired into this agent")
	}
	var names map[string]bool
	if s := r.URL.Query().Get("miners"); s != "" {
		names = map[string]bool{}
		for _, n := range strings.Split(s, ",") {
			n = strings.TrimSpace(n)
			if err := miner.ValidateName(n); err != nil {
				return fmt.Errorf("miners: %w", err)
			}
			names[n] = true
		}
	}
	isWS := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	isSSE := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if !isWS && !isSSE {
		return apiError(http.StatusBadRequest, CodeNotAcceptable, "GET /events is a WebSocket (Upgrade: websocket) or an SSE stream (Accept: text/event-stream)")
	}
	if isWS {
		if err := checkWSHandshake(r); err != nil {
			return err
		}
	}

	a.streamMu.Lock()
	select {
	case <-a.done:
		a.streamMu.Unlock()
		return fmt.Errorf("event stream: %w", miner.ErrClosed)
	default:
	}
	if a.nStreams >= a.cfg.MaxStreams {
		a.streamMu.Unlock()
		return apiError(http.StatusTooManyRequests, CodeRateLimited, fmt.Sprintf("too many event-stream clients (%d)", a.cfg.MaxStreams))
	}
	a.nStreams++
	a.wg.Add(1)
	a.streamMu.Unlock()
	defer func() {
		a.streamMu.Lock()
		a.nStreams--
		a.streamMu.Unlock()
		a.wg.Done()
	}()

	filter := func(e *miner.Event) bool { return names == nil || names[e.Miner] }
	// Subscribe before the snapshot: nothing is missed in between, and an
	// event that also made it into the snapshot only repeats a state.
	sub := a.cfg.Events.Subscribe(streamBuffer, filter)
	defer sub.Close()
	local := a.hub.subscribe()
	defer a.hub.unsubscribe(local)

	var sink streamSink
	if isWS {
		s, err := a.upgradeWS(w, r)
		if err != nil {
			return nil // the upgrader answered the client
		}
		defer s.close()
		sink = s
	} else {
		s, err := a.startSSE(w, r)
		if err != nil {
			return err
		}
		sink = s
	}

	now := a.now()
	for _, m := range a.cfg.Miners.List() {
		if names != nil && !names[m.Name] {
			continue
		}
		m := m
		if err := sink.send(&StreamEvent{Event: miner.Event{Time: now, Type: EventSnapshot, Miner: m.Name, State: m.State, Info: &m}}); err != nil {
			return nil
		}
	}
	tick := time.NewTicker(a.cfg.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-a.done:
			return nil
		case <-r.Context().Done():
			return nil
		case <-sink.closed():
			return nil
		case <-tick.C:
			if sink.keepalive() != nil {
				return nil
			}
		case e, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					_ = sink.send(&StreamEvent{Event: miner.Event{Time: a.now(), Type: EventDropped, Cause: fmt.Sprintf("client too slow: more than %d events behind", streamBuffer)}})
				}
				return nil
			}
			if sink.send(&StreamEvent{Event: e}) != nil {
				return nil
			}
		case e := <-local:
			if names != nil {
				continue // agent-level events are not any miner's
			}
			if sink.send(&e) != nil {
				return nil
			}
		}
	}
}

// checkWSHandshake checks what the upgrader would refuse with a plain-text
// answer, so that clients get a JSON error instead.
func checkWSHandshake(r *http.Request) error {
	bad := func(msg string) error {
		return apiError(http.StatusBadRequest, CodeBadRequest, "WebSocket handshake: "+msg)
	}
	switch {
	case r.ProtoMajor != 1 || r.ProtoMinor < 1:
		return bad("HTTP/1.1 required")
	case !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade"):
		return bad(`"Connection: Upgrade" missing`)
	case len(r.Header.Get("Sec-WebSocket-Key")) != 24:
		return bad("bad Sec-WebSocket-Key")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return bad("Sec-WebSocket-Version must be 13")
	}
	return nil
}

// sseSink writes Server-Sent Events.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	done    <-chan struct{}
}

func (a *API) startSSE(w http.ResponseWriter, r *http.Request) (*sseSink, error) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseSink{w: w, rc: rc, timeout: a.cfg.StreamWriteTimeout, done: r.Context().Done()}
	if err := s.write([]byte(": rigd event stream\n\n")); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sseSink) write(b []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) send(e *StreamEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var buf []byte
	if e.Seq > 0 {
		buf = fmt.Appendf(buf, "id: %d\n", e.Seq)
	}
	buf = fmt.Appendf(buf, "event: %s\ndata: %s\n\n", e.Type, b)
	return s.write(buf)
}

func (s *sseSink) keepalive() error        { return s.write([]byte(": keepalive\n\n")) }
func (s *sseSink) closed() <-chan struct{} { return s.done }

// wsSink writes WebSocket text messages and reads (and mostly ignores)
// what the client sends, answering pings and closes.
type wsSink struct {
	conn    net.Conn
	timeout time.Duration

	wmu sync.Mutex // one writer at a time: events, pings, pongs, close

	done     chan struct{} // closed when the reader ends
	readDone chan struct{}
}

func (a *API) upgradeWS(w http.ResponseWriter, r *http.Request) (*wsSink, error) {
	u := ws.HTTPUpgrader{Timeout: a.cfg.StreamWriteTimeout}
	conn, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	s := &wsSink{conn: conn, timeout: a.cfg.StreamWriteTimeout, done: make(chan struct{}), readDone: make(chan struct{})}
	// The reader is owned by this sink: close() stops it and waits.
	go s.read(rw.Reader, a.cfg.KeepAlive*3)
	return s, nil
}

// read consumes client frames: control frames are handled, data frames
// discarded; anything over the limits, any error, or silence longer than
// idle (the client answers our pings with pongs) ends the connection.
func (s *wsSink) read(br *bufio.Reader, idle time.Duration) {
	defer close(s.readDone)
	defer close(s.done)
	rd := &wsutil.Reader{
		Source:         br,
		State:          ws.StateServerSide,
		MaxFrameSize:   wsMaxFrame,
		MaxMessageSize: wsMaxMessage,
		CheckUTF8:      true,
	}
	fail := func(err error) {
		if errors.Is(err, wsutil.ErrFrameTooLarge) || errors.Is(err, wsutil.ErrMessageTooLarge) {
			s.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusMessageTooBig, "message too big")))
		}
	}
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(idle))
		hdr, err := rd.NextFrame()
		if err != nil {
			fail(err)
			return
		}
		if hdr.OpCode.IsControl() {
			payload, err := io.ReadAll(rd) // ≤ 125 bytes: checked by NextFrame
			if err != nil {
				return
			}
			switch hdr.OpCode {
			case ws.OpPing:
				if s.writeFrame(ws.NewPongFrame(payload)) != nil {
					return
				}
			case ws.OpClose:
				s.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
				return
			}
			continue
		}
		// Reading to the end of the message also reads its continuation
		// frames (and control frames between them are dropped: a client
		// has no business fragmenting here).
		if _, err := io.Copy(io.Discard, rd); err != nil {
			fail(err)
			return
		}
	}
}

func (s *wsSink) writeFrame(f ws.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	return ws.WriteFrame(s.conn, f)
}

func (s *wsSink) send(e *StreamEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.writeFrame(ws.NewTextFrame(b))
}

func (s *wsSink) keepalive() error        { return s.writeFrame(ws.NewPingFrame(nil)) }
func (s *wsSink) closed() <-chan struct{} { return s.done }

// close sends a close frame (best effort), closes the connection and
// waits for the reader.
func (s *wsSink) close() {
	select {
	case <-s.done:
	default:
		s.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "")))
	}
	s.conn.Close()
	<-s.readDone
}
