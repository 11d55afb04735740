package peers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

const (
	outQueue     = 64 // messages waiting for the writer
	maxInflight  = 32 // requests of one session running at once (above the burst)
	writeTimeout = 10 * time.Second
	flushEvery   = 64 // accepted messages between saves of the receive counter
	sendBlock    = 1024
	maxParts     = 256 // parts of one multi-part result
	cmdCacheSize = 256 // command results kept per peer
)

// session is one authenticated connection with a peer. Its reader
// goroutine decrypts and dispatches; its writer goroutine is the only one
// that writes (numbering, encrypting and framing messages, and the
// keepalive pings). Requests run in goroutines of their own, at most
// maxInflight at once.
type session struct {
	n  *Node
	p  *peer
	sc *secureConn

	out      chan outMsg
	ctrl     chan []byte   // WebSocket pong payloads
	probe    chan struct{} // send a keepalive ping now
	done     chan struct{}
	once     sync.Once
	inflight chan struct{}

	mu       sync.Mutex
	err      error
	calls    map[string]*call
	pingID   string
	pingSent time.Time
}

// outMsg is a message for the writer; the writer assigns its seq.
type outMsg struct {
	typ, id, replyTo string
	body             json.RawMessage
	// closeAfter closes the session once the message is written.
	closeAfter error
	// seq forces a sequence number (tests).
	seq uint64
}

// call is a request waiting for its response(s).
type call struct {
	ch   chan envelope
	gone chan struct{}
}

func newSession(n *Node, p *peer, sc *secureConn) *session {
	s := &session{
		n: n, p: p, sc: sc,
		out:      make(chan outMsg, outQueue),
		ctrl:     make(chan []byte, 4),
		probe:    make(chan struct{}, 1),
		done:     make(chan struct{}),
		inflight: make(chan struct{}, maxInflight),
		calls:    map[string]*call{},
	}
	sc.fc.onPing = func(b []byte) {
		select {
		case s.ctrl <- append([]byte(nil), b...):
		default:
		}
	}
	return s
}

// close ends the session (idempotent): the connection is closed, which
// unblocks the reader; the writer sees done.
func (s *session) close(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
		s.sc.close()
	})
}

func (s *session) probeNow() {
	select {
	case s.probe <- struct{}{}:
	default:
	}
}

func newMsgID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// --- writer ---

func (s *session) writeLoop() {
	t := time.NewTicker(s.n.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.n.ctx.Done():
			s.close(ErrClosed)
			return
		case m := <-s.out:
			if err := s.write(m); err != nil {
				s.close(err)
				return
			}
			if m.closeAfter != nil {
				s.close(m.closeAfter)
				return
			}
		case b := <-s.ctrl:
			s.sc.fc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := s.sc.fc.writeFrame(ws.OpPong, b); err != nil {
				s.close(err)
				return
			}
		case <-s.probe:
			if err := s.keepalive(); err != nil {
				s.close(err)
				return
			}
		case <-t.C:
			if err := s.keepalive(); err != nil {
				s.close(err)
				return
			}
		}
	}
}

func (s *session) keepalive() error {
	id := newMsgID()
	s.mu.Lock()
	s.pingID, s.pingSent = id, time.Now()
	s.mu.Unlock()
	return s.write(outMsg{typ: msgPing, id: id, body: json.RawMessage("{}")})
}

// write numbers, encrypts and sends one message (writer goroutine only).
func (s *session) write(m outMsg) error {
	seq := m.seq
	if seq == 0 {
		var err error
		if seq, err = s.n.nextSeq(s.p); err != nil {
			return err
		}
	}
	b, err := json.Marshal(envelope{V: ProtocolVersion, ID: m.id, Type: m.typ, ReplyTo: m.replyTo, Seq: seq, Body: m.body})
	if err != nil {
		return fmt.Errorf("peers: encode %s: %w", m.typ, err)
	}
	if len(b) > maxPlaintext {
		// A bug on this side, not the peer's: answer with an error
		// instead of a message the peer would refuse.
		eb, _ := json.Marshal(errorBody{Code: codeTooLarge, Message: "result over the message limit"})
		if b, err = json.Marshal(envelope{V: ProtocolVersion, ID: m.id, Type: msgError, ReplyTo: m.replyTo, Seq: seq, Body: eb}); err != nil {
			return err
		}
	}
	s.sc.fc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return s.sc.writeMsg(b)
}

// nextSeq hands out the next sequence number towards p, moving the
// persisted reservation ahead by sendBlock when it is used up.
func (n *Node) nextSeq(p *peer) (uint64, error) {
	n.mu.Lock()
	seq := p.sendNext
	p.sendNext++
	n.mu.Unlock()
	if seq > p.sent.value() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 5*time.Second)
		defer cancel()
		err := p.sent.ensure(ctx, seq+sendBlock, func(ctx context.Context, v uint64) error {
			return n.store.SaveSeq(ctx, p.rec.ID, SeqSent, v)
		})
		if err != nil {
			return 0, fmt.Errorf("peers: save sequence: %w", err)
		}
	}
	return seq, nil
}

// enqueue hands m to the writer.
func (s *session) enqueue(ctx context.Context, m outMsg) error {
	select {
	case s.out <- m:
		return nil
	case <-s.done:
		return errSessionClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// --- reader ---

func (s *session) readLoop() {
	defer s.finish()
	for {
		s.sc.fc.conn.SetReadDeadline(time.Now().Add(s.n.cfg.IdleTimeout))
		pt, err := s.sc.readMsg()
		if err != nil {
			s.close(err)
			return
		}
		s.n.mu.Lock()
		s.p.lastSeen = time.Now()
		s.n.mu.Unlock()
		if err := s.handle(pt); err != nil {
			s.close(err)
			return
		}
	}
}

// finish runs when the reader ends: the session leaves the peer, waiting
// calls fail, and the receive counter is saved.
func (s *session) finish() {
	s.close(errSessionClosed)
	s.n.detach(s)
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	s.n.log.Debug("peers: session ended", "peer", s.p.rec.ID.Short(), "err", err)
	s.n.mu.Lock()
	last := s.p.recvLast
	s.p.unflushed = 0
	s.n.mu.Unlock()
	s.n.saveRecv(s.p, last)
}

func (n *Node) saveRecv(p *peer, v uint64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 5*time.Second)
	defer cancel()
	err := p.recv.ensure(ctx, v, func(ctx context.Context, v uint64) error {
		return n.store.SaveSeq(ctx, p.rec.ID, SeqRecv, v)
	})
	if err != nil {
		n.log.Warn("peers: save sequence", "peer", p.rec.ID.Short(), "err", err)
	}
	return err
}

// decode counts and decodes one envelope.
func (n *Node) decode(b []byte) (envelope, error) {
	n.parsed.Add(1)
	return decodeEnvelope(b)
}

// handle processes one decrypted message. An error closes the session.
func (s *session) handle(pt []byte) error {
	env, err := s.n.decode(pt)
	if err != nil && !errors.Is(err, errUnsupportedVersion) && !errors.Is(err, errUnknownType) {
		return err
	}
	// Sequence numbers only grow, across sessions too: an old one means a
	// replay (or a peer that lost its state), and ends the session. The
	// answer says where the sender must continue.
	if serr := s.n.acceptSeq(s.p, env); serr != nil {
		s.n.mu.Lock()
		last := s.p.recvLast
		s.n.mu.Unlock()
		b, _ := json.Marshal(errorBody{Code: codeReplay, Message: "sequence number not above the last accepted one", LastSeq: last})
		s.tryEnqueue(outMsg{typ: msgError, id: newMsgID(), replyTo: env.ID, body: b, closeAfter: serr})
		return nil
	}
	if env.Type == msgError {
		s.n.noteReplay(s.p, env.Body)
	}
	switch {
	case errors.Is(err, errUnsupportedVersion):
		s.tryEnqueue(outMsg{typ: msgError, id: newMsgID(), replyTo: env.ID, body: errBody(codeUnsupportedVersion, "this node speaks version 1")})
		return nil
	case errors.Is(err, errUnknownType):
		s.tryEnqueue(outMsg{typ: msgError, id: newMsgID(), replyTo: env.ID, body: errBody(codeUnknownType, env.Type)})
		return nil
	case isResponse(env.Type):
		s.deliver(env)
		return nil
	}
	return s.request(env)
}

// tryEnqueue queues m unless the queue is full, in which case the peer is
// not reading its answers and the session ends.
func (s *session) tryEnqueue(m outMsg) {
	select {
	case s.out <- m:
	default:
		s.close(fmt.Errorf("%w: peer does not read its answers", errProtocol))
	}
}

// noteReplay handles p's replay error: this node's counter towards p is
// behind what p accepted before (this node's store was restored from an
// older copy, or reset with its key kept), and every message would be
// refused for good. The counter moves past p's last; the refused message
// fails, the next session works.
func (n *Node) noteReplay(p *peer, body json.RawMessage) {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Code != codeReplay || eb.LastSeq == 0 || eb.LastSeq > maxSkipSeq {
		return
	}
	n.mu.Lock()
	behind := p.sendNext <= eb.LastSeq
	if behind {
		p.sendNext = eb.LastSeq + 1
	}
	n.mu.Unlock()
	if behind {
		n.log.Warn("peers: this node's sequence numbers towards the peer were behind what it accepted before (data restored from an older copy?); continuing past them",
			"peer", p.rec.ID.Short(), "last_accepted", eb.LastSeq)
	}
}

// maxSkipSeq bounds how far a peer can move this node's send counter.
const maxSkipSeq = 1 << 62

// acceptSeq checks and records the sequence number of a message from p.
// Before a command runs, the new value is saved.
func (n *Node) acceptSeq(p *peer, env envelope) error {
	n.mu.Lock()
	if env.Seq <= p.recvLast {
		last := p.recvLast
		n.mu.Unlock()
		return fmt.Errorf("%w: %d after %d", errReplay, env.Seq, last)
	}
	p.recvLast = env.Seq
	p.unflushed++
	flush := p.unflushed >= flushEvery || isCommand(env.Type)
	if flush {
		p.unflushed = 0
	}
	n.mu.Unlock()
	if flush {
		if err := n.saveRecv(p, env.Seq); err != nil && isCommand(env.Type) {
			return err
		}
	}
	return nil
}

// deliver hands a response to the call waiting for it.
func (s *session) deliver(env envelope) {
	s.mu.Lock()
	c := s.calls[env.ReplyTo]
	var rtt time.Duration
	if c == nil && env.Type == msgPong && env.ReplyTo == s.pingID {
		rtt = time.Since(s.pingSent)
		s.pingID = ""
	}
	s.mu.Unlock()
	if rtt > 0 {
		s.n.mu.Lock()
		s.p.rtt = rtt
		s.n.mu.Unlock()
		return
	}
	if c == nil {
		// Unsolicited or late: it costs the peer a request token.
		s.n.allowRequest(s.p)
		return
	}
	select {
	case c.ch <- env:
	case <-c.gone:
	case <-s.done:
	}
}

// request admits a request: rate limit, in-flight bound, duplicate
// command ids; the rest (role check, audit, the work) runs in a goroutine
// of its own.
func (s *session) request(env envelope) error {
	n, p := s.n, s.p
	n.mu.Lock()
	revoked := n.peers[p.rec.ID] != p
	n.mu.Unlock()
	if revoked {
		return errRevoked
	}
	if !n.allowRequest(p) {
		s.tryEnqueue(reply(env, errBody(codeRateLimited, "over 10 requests per second")))
		return nil
	}
	if env.Type == msgPing {
		// Needs no role and no work: answered by the reader itself.
		s.tryEnqueue(outMsg{typ: msgPong, id: newMsgID(), replyTo: env.ID, body: json.RawMessage("{}")})
		return nil
	}
	var entry *cmdEntry
	if isCommand(env.Type) {
		e, dup := n.cmdEntry(p, env)
		if dup {
			if e.typ != env.Type {
				s.tryEnqueue(reply(env, errBody(codeBadRequest, "command id reused for another command")))
				return nil
			}
			// A retry: answer with the stored result, never run twice.
			select {
			case s.inflight <- struct{}{}:
			default:
				s.tryEnqueue(reply(env, errBody(codeBusy, "too many requests in flight")))
				return nil
			}
			ok := n.spawn(func() {
				defer func() { <-s.inflight }()
				select {
				case <-e.done:
				case <-s.done:
					return
				}
				for _, r := range e.replies {
					r.id, r.replyTo = newMsgID(), env.ID
					if s.enqueue(n.ctx, r) != nil {
						return
					}
				}
			})
			if !ok {
				<-s.inflight
				return ErrClosed
			}
			return nil
		}
		entry = e
	}
	select {
	case s.inflight <- struct{}{}:
	default:
		if entry != nil {
			n.cmdForget(p, env.ID, entry)
		}
		s.tryEnqueue(reply(env, errBody(codeBusy, "too many requests in flight")))
		return nil
	}
	ok := n.spawn(func() {
		defer func() { <-s.inflight }()
		var replies []outMsg
		if entry != nil {
			// Even if the command panics, its id gets a result, so that
			// retries do not wait forever.
			defer func() {
				if replies == nil {
					replies = errReply(codeInternal, "the command failed")
				}
				n.cmdDone(entry, replies)
			}()
		}
		replies = n.execute(p, env)
		for _, r := range replies {
			r.id, r.replyTo = newMsgID(), env.ID
			if s.enqueue(n.ctx, r) != nil {
				return
			}
		}
	})
	if !ok {
		<-s.inflight
		return ErrClosed
	}
	return nil
}

func reply(env envelope, body json.RawMessage) outMsg {
	return outMsg{typ: msgError, id: newMsgID(), replyTo: env.ID, body: body}
}

func errBody(code, msg string) json.RawMessage {
	if len(msg) > 512 {
		msg = msg[:512]
	}
	b, _ := json.Marshal(errorBody{Code: code, Message: msg})
	return b
}

// --- requester side ---

// roundTrip sends a request on s and collects its response: one
// envelope, or several for a multi-part result.
func (s *session) roundTrip(ctx context.Context, typ, id string, body json.RawMessage) ([]envelope, error) {
	c := &call{ch: make(chan envelope, 8), gone: make(chan struct{})}
	s.mu.Lock()
	if _, dup := s.calls[id]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: request id %s already in flight", ErrInvalidRequest, id)
	}
	s.calls[id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.calls, id)
		s.mu.Unlock()
		close(c.gone)
	}()
	if err := s.enqueue(ctx, outMsg{typ: typ, id: id, body: body}); err != nil {
		return nil, err
	}
	var parts []envelope
	for {
		select {
		case env := <-c.ch:
			parts = append(parts, env)
			if env.Type != msgResult || !moreParts(env.Body) {
				return parts, nil
			}
			if len(parts) >= maxParts {
				return nil, fmt.Errorf("%w: result in over %d parts", ErrRemoteFailed, maxParts)
			}
		case <-s.done:
			return nil, errSessionClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func moreParts(body json.RawMessage) bool {
	var m struct {
		More bool `json:"more"`
	}
	return json.Unmarshal(body, &m) == nil && m.More
}

// current returns p's live session, waiting up to wait for one.
func (n *Node) current(ctx context.Context, id NodeID, wait time.Duration) (*session, error) {
	deadline := time.Now().Add(wait)
	for {
		n.mu.Lock()
		p := n.peers[id]
		var s *session
		if p != nil {
			s = p.current
		}
		closed := n.closed
		n.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case p == nil:
			return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, id.Short())
		case s != nil:
			return s, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("%w: %s", ErrNotConnected, id.Short())
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// call sends a request to peer id and returns the response parts. If the
// session ends before the answer (a replaced or dropped connection), the
// request is sent again with the same id on the next session: commands
// are answered from the peer's result cache, so nothing runs twice. A
// final error message becomes a *RemoteError.
func (n *Node) call(ctx context.Context, id NodeID, typ, cmdID string, body any) ([]envelope, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if cmdID == "" {
		cmdID = newMsgID()
	}
	var parts []envelope
	for attempt := 0; ; attempt++ {
		wait := time.Duration(0)
		if attempt > 0 {
			wait = time.Second
		}
		s, err := n.current(ctx, id, wait)
		if err != nil {
			return nil, err
		}
		parts, err = s.roundTrip(ctx, typ, cmdID, b)
		if errors.Is(err, errSessionClosed) && attempt < 2 && ctx.Err() == nil {
			continue
		}
		if err != nil {
			if errors.Is(err, errSessionClosed) {
				return nil, fmt.Errorf("%w: %s: session closed", ErrNotConnected, id.Short())
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: %s: no answer in time", ErrRemoteFailed, id.Short())
			}
			return nil, err
		}
		break
	}
	if last := parts[len(parts)-1]; last.Type == msgError {
		var eb errorBody
		json.Unmarshal(last.Body, &eb)
		if eb.Code == "" {
			eb.Code = codeInternal
		}
		return nil, &RemoteError{Peer: id, Code: eb.Code, Message: eb.Message}
	}
	return parts, nil
}

// --- small state types ---

// watermark is a counter persisted with monotonic, serialized writes; its
// mutex is never held during the write.
type watermark struct {
	mu    sync.Mutex
	saved uint64
	busy  chan struct{}
}

func (w *watermark) value() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.saved
}

// ensure saves v unless a value ≥ v is already saved.
func (w *watermark) ensure(ctx context.Context, v uint64, save func(context.Context, uint64) error) error {
	for {
		w.mu.Lock()
		if w.saved >= v {
			w.mu.Unlock()
			return nil
		}
		if b := w.busy; b != nil {
			w.mu.Unlock()
			select {
			case <-b:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		b := make(chan struct{})
		w.busy = b
		w.mu.Unlock()
		err := save(ctx, v)
		w.mu.Lock()
		if err == nil && v > w.saved {
			w.saved = v
		}
		w.busy = nil
		w.mu.Unlock()
		close(b)
		if err != nil {
			return err
		}
	}
}

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (n *Node) allowRequest(p *peer) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return p.limiter.take(time.Now(), n.cfg.RateLimit, n.cfg.RateBurst)
}

// allowMinerOp admits one start/stop/restart of miner name by p: at most
// MinerOps a minute.
func (n *Node) allowMinerOp(p *peer, name string) bool {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	keep := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) >= time.Minute {
			i++
		}
		return ts[i:]
	}
	if len(p.minerOps) > 256 {
		for k, ts := range p.minerOps {
			if ts = keep(ts); len(ts) == 0 {
				delete(p.minerOps, k)
			}
		}
	}
	ts := keep(p.minerOps[name])
	if len(ts) >= n.cfg.MinerOps {
		p.minerOps[name] = ts
		return false
	}
	p.minerOps[name] = append(ts, now)
	return true
}

// cmdEntry is a command's result, kept so that a retried id is answered
// without running the command again.
type cmdEntry struct {
	typ     string
	done    chan struct{}
	replies []outMsg
}

// cmdCache keeps the last cmdCacheSize command results of one peer.
type cmdCache struct {
	m     map[string]*cmdEntry
	order []string
}

// cmdEntry returns the entry for env's id, creating it (dup false) if new.
func (n *Node) cmdEntry(p *peer, env envelope) (*cmdEntry, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &p.cmds
	if e := c.m[env.ID]; e != nil {
		return e, true
	}
	if c.m == nil {
		c.m = map[string]*cmdEntry{}
	}
	e := &cmdEntry{typ: env.Type, done: make(chan struct{})}
	c.m[env.ID] = e
	c.order = append(c.order, env.ID)
	if len(c.order) > cmdCacheSize {
		delete(c.m, c.order[0])
		c.order = append([]string(nil), c.order[1:]...)
	}
	return e, false
}

func (n *Node) cmdForget(p *peer, id string, e *cmdEntry) {
	n.mu.Lock()
	if p.cmds.m[id] == e {
		delete(p.cmds.m, id)
	}
	n.mu.Unlock()
	close(e.done)
}

func (n *Node) cmdDone(e *cmdEntry, replies []outMsg) {
	n.mu.Lock()
	e.replies = replies
	n.mu.Unlock()
	close(e.done)
}
