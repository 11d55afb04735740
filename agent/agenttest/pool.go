package agenttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of PoolOptions.
const (
	// DefaultPoolDifficulty makes XMRig 6.16.0 in RandomX light mode with one
	// thread (≈30–40 H/s) find a share every 1–2 s.
	DefaultPoolDifficulty = 50
	// DefaultPoolAlgo is the algorithm the pool's jobs ask for.
	DefaultPoolAlgo = "rx/0"
	// DefaultPoolHeight is the block height of the first job.
	DefaultPoolHeight = 3_200_000
	// DefaultPoolMaxLine caps one line from a miner; a longer line closes
	// the connection.
	DefaultPoolMaxLine = 64 << 10
	// DefaultPoolMaxBadMessages is how many malformed lines one connection
	// may send (each answered with a JSON-RPC error) before it is closed.
	DefaultPoolMaxBadMessages = 3
	// DefaultPoolMaxSessions caps concurrent connections.
	DefaultPoolMaxSessions = 64
	// DefaultPoolIdleTimeout closes a connection that sends nothing for so
	// long. XMRig sends a keepalived after 60 s without traffic when the
	// pool offers the "keepalive" extension, as this one does.
	DefaultPoolIdleTimeout = 10 * time.Minute
	// DefaultPoolRejectReason is the message of a rejection asked for with
	// RejectNext without a reason.
	DefaultPoolRejectReason = "Rejected by test pool"
)

// JSON-RPC error codes the pool answers with.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcPoolError      = -1 // login and submit failures, as Monero pools send them
)

const (
	poolWriteTimeout = 5 * time.Second
	poolOutQueue     = 32 // messages queued per connection before it counts as stuck
	poolKeptJobs     = 4  // jobs a share may still be submitted for (current + stale grace)
	poolMaxSeen      = 1 << 16
)

// PoolOptions configure a test pool. The zero value is usable.
type PoolOptions struct {
	// Difficulty of every job (DefaultPoolDifficulty when 0).
	Difficulty uint64
	// Algo of every job (DefaultPoolAlgo when empty).
	Algo string
	// Height of the first job; each NewJob adds one (DefaultPoolHeight when 0).
	Height uint64
	// SeedHash is the RandomX seed as 64 hex digits (random when empty).
	// Changing the seed makes XMRig rebuild its RandomX cache, so NewJob
	// keeps it.
	SeedHash string
	// MaxLineBytes caps one line from a miner (DefaultPoolMaxLine when 0).
	MaxLineBytes int
	// MaxBadMessages is how many malformed lines a connection may send
	// before it is closed (DefaultPoolMaxBadMessages when 0).
	MaxBadMessages int
	// MaxSessions caps concurrent connections (DefaultPoolMaxSessions when 0).
	MaxSessions int
	// IdleTimeout closes a silent connection (DefaultPoolIdleTimeout when 0).
	IdleTimeout time.Duration
	// Trace, when set, sees every line read from a miner (fromMiner true) or
	// written to it, without the newline. It is called from the
	// connections' goroutines, possibly concurrently, and must not block;
	// line must not be retained.
	Trace func(remote string, fromMiner bool, line []byte)
}

// PoolJob is one mining job as the pool sends it (the "job" object of a
// login result and the params of a "job" notification).
type PoolJob struct {
	Blob     string `json:"blob"`
	JobID    string `json:"job_id"`
	Target   string `json:"target"`
	Algo     string `json:"algo"`
	Height   uint64 `json:"height"`
	SeedHash string `json:"seed_hash"`
}

// WorkerStats are the pool's counts for one login name.
type WorkerStats struct {
	Logins   int
	Accepted int64
	Rejected int64
	Agent    string // agent string of the latest login
	RigID    string // rigid of the latest login
}

// Pool is a loopback Monero stratum pool for tests: JSON-RPC 2.0 over
// newline-delimited TCP, the dialect XMRig speaks.
//
//	miner: {"id":1,"jsonrpc":"2.0","method":"login","params":{"login":…,"pass":…,"agent":…,"algo":[…]}}
//	pool:  {"id":1,"jsonrpc":"2.0","error":null,"result":{"id":SESSION,"job":{"blob","job_id","target","algo","height","seed_hash"},"extensions":["algo","keepalive"],"status":"OK"}}
//	miner: {"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":SESSION,"job_id":…,"nonce":"8 hex","result":"64 hex","algo":"rx/0"}}
//	pool:  {"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}
//	   or  {"id":2,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"},"result":null}
//	pool:  {"jsonrpc":"2.0","method":"job","params":{…a job…}}      (NewJob)
//	miner: {"id":3,"jsonrpc":"2.0","method":"keepalived","params":{"id":SESSION}}
//	pool:  {"id":3,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}
//
// Every login and every NewJob gets a job of its own (a fresh blob and job
// id), as from a real pool. Shares are counted, not hashed: a share is
// accepted when it names one of its connection's recent jobs, is not a
// duplicate, and the hash the miner reports meets the target.
type Pool struct {
	opts PoolOptions
	ln   net.Listener
	addr string
	wg   sync.WaitGroup
	done chan struct{}
	stop sync.Once

	mu           sync.Mutex
	closed       bool
	sessions     map[*poolSession]struct{}
	height       uint64 // of the jobs made now
	jobSeq       uint64
	logins       int
	accepted     int64
	rejected     int64
	rejectNext   int
	rejectReason string
	workers      map[string]*WorkerStats
	changed      chan struct{} // closed and replaced whenever a count changes
}

// NewPool starts a pool on 127.0.0.1 with a free port. It is closed when
// the test ends.
func NewPool(t testing.TB, opts PoolOptions) *Pool {
	t.Helper()
	p, err := startPool(opts)
	if err != nil {
		t.Fatalf("agenttest: start stratum pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func startPool(opts PoolOptions) (*Pool, error) {
	if opts.Difficulty == 0 {
		opts.Difficulty = DefaultPoolDifficulty
	}
	if opts.Algo == "" {
		opts.Algo = DefaultPoolAlgo
	}
	if opts.Height == 0 {
		opts.Height = DefaultPoolHeight
	}
	if opts.SeedHash == "" {
		opts.SeedHash = hex.EncodeToString(poolRandomBytes(32))
	}
	if b, err := hex.DecodeString(opts.SeedHash); err != nil || len(b) != 32 {
		return nil, fmt.Errorf("seed hash %q is not 64 hex digits", opts.SeedHash)
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultPoolMaxLine
	}
	if opts.MaxBadMessages <= 0 {
		opts.MaxBadMessages = DefaultPoolMaxBadMessages
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultPoolMaxSessions
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultPoolIdleTimeout
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Pool{
		opts:     opts,
		ln:       ln,
		addr:     ln.Addr().String(),
		done:     make(chan struct{}),
		sessions: make(map[*poolSession]struct{}),
		height:   opts.Height,
		workers:  make(map[string]*WorkerStats),
		changed:  make(chan struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the pool's "127.0.0.1:port".
func (p *Pool) Addr() string { return p.addr }

// URL is the pool's "stratum+tcp://127.0.0.1:port".
func (p *Pool) URL() string { return "stratum+tcp://" + p.addr }

// Difficulty is the difficulty of the pool's jobs.
func (p *Pool) Difficulty() uint64 { return p.opts.Difficulty }

// Accepted counts the shares accepted so far, from all connections.
func (p *Pool) Accepted() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Rejected counts the submits answered with an error so far (rejections
// asked for with RejectNext, stale, duplicate, low-difficulty, malformed or
// unauthenticated shares).
func (p *Pool) Rejected() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rejected
}

// Logins counts the successful logins so far.
func (p *Pool) Logins() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logins
}

// Sessions is the number of connections open now.
func (p *Pool) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// Workers returns a copy of the counts per login name.
func (p *Pool) Workers() map[string]WorkerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]WorkerStats, len(p.workers))
	for k, v := range p.workers {
		out[k] = *v
	}
	return out
}

// Height is the block height of the jobs the pool hands out now.
func (p *Pool) Height() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.height
}

// RejectNext makes the pool reject the next n shares that would otherwise
// be accepted, with reason as the error message (DefaultPoolRejectReason
// when empty). It replaces an earlier request; n ≤ 0 cancels it.
func (p *Pool) RejectNext(n int, reason string) {
	if reason == "" {
		reason = DefaultPoolRejectReason
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rejectNext = max(n, 0)
	p.rejectReason = reason
}

// NewJob moves the pool to the next block height and sends every
// logged-in connection a fresh job for it (new blob and job id, same seed
// and difficulty) as a "job" notification. Shares for a connection's few
// previous jobs are still accepted. It returns how many connections were
// sent a job.
func (p *Pool) NewJob() int {
	type notice struct {
		s   *poolSession
		msg []byte
	}
	p.mu.Lock()
	p.height++
	notices := make([]notice, 0, len(p.sessions))
	for s := range p.sessions {
		if s.loggedIn {
			job := p.newJobLocked(s)
			notices = append(notices, notice{s, poolJSON(rpcNotification{JSONRPC: "2.0", Method: "job", Params: job})})
		}
	}
	p.mu.Unlock()

	for _, n := range notices {
		n.s.send(n.msg)
	}
	return len(notices)
}

// Disconnect closes every open connection (miners reconnect by
// themselves) and reports how many there were.
func (p *Pool) Disconnect() int {
	p.mu.Lock()
	all := make([]*poolSession, 0, len(p.sessions))
	for s := range p.sessions {
		all = append(all, s)
	}
	p.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	return len(all)
}

// WaitAccepted blocks until at least n shares were accepted, ctx ends or
// the pool is closed.
func (p *Pool) WaitAccepted(ctx context.Context, n int64) error {
	return p.wait(ctx, func() bool { return p.accepted >= n },
		func() string { return fmt.Sprintf("%d of %d shares accepted", p.accepted, n) })
}

// WaitLogins blocks until at least n logins succeeded, ctx ends or the
// pool is closed.
func (p *Pool) WaitLogins(ctx context.Context, n int) error {
	return p.wait(ctx, func() bool { return p.logins >= n },
		func() string { return fmt.Sprintf("%d of %d logins", p.logins, n) })
}

func (p *Pool) wait(ctx context.Context, doneLocked func() bool, stateLocked func() string) error {
	for {
		p.mu.Lock()
		if doneLocked() {
			p.mu.Unlock()
			return nil
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			state := stateLocked()
			p.mu.Unlock()
			return fmt.Errorf("agenttest: pool: %s: %w", state, ctx.Err())
		case <-p.done:
			return errors.New("agenttest: pool closed")
		}
	}
}

// Close stops the listener, closes every connection and waits for all of
// the pool's goroutines. It may be called more than once.
func (p *Pool) Close() {
	p.stop.Do(func() {
		close(p.done)
		p.ln.Close()
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.Disconnect()
	})
	p.wg.Wait()
}

func (p *Pool) acceptLoop() {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (out of file descriptors): back off a little.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-p.done:
				return
			}
			continue
		}
		backoff = 0
		s := &poolSession{
			pool:   p,
			conn:   conn,
			remote: conn.RemoteAddr().String(),
			out:    make(chan []byte, poolOutQueue),
			done:   make(chan struct{}),
		}
		p.mu.Lock()
		if p.closed || len(p.sessions) >= p.opts.MaxSessions {
			p.mu.Unlock()
			conn.Close()
			continue
		}
		p.sessions[s] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go s.readLoop()
		go s.writeLoop()
	}
}

// notifyLocked wakes the waiters after a count changed.
func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// newJobLocked makes a job for one connection at the current height and
// makes it that connection's current job. Every job is unique, as a real
// pool's are (its extra nonce differs per miner): XMRig 6.16 drops a
// connection that is sent the same job twice, even across a reconnect.
func (p *Pool) newJobLocked(s *poolSession) PoolJob {
	p.jobSeq++
	job := PoolJob{
		Blob:     hex.EncodeToString(poolHashingBlob()),
		JobID:    fmt.Sprintf("%08x%04x", p.jobSeq, binary.LittleEndian.Uint16(poolRandomBytes(2))),
		Target:   TargetHex(p.opts.Difficulty),
		Algo:     p.opts.Algo,
		Height:   p.height,
		SeedHash: p.opts.SeedHash,
	}
	s.jobs = append(s.jobs, job)
	if len(s.jobs) > poolKeptJobs {
		s.jobs = append(s.jobs[:0], s.jobs[len(s.jobs)-poolKeptJobs:]...)
	}
	return job
}

func (s *poolSession) hasJobLocked(id string) bool {
	for _, j := range s.jobs {
		if j.JobID == id {
			return true
		}
	}
	return false
}

// TargetHex is the stratum target for a difficulty as XMRig reads it.
// Usually the compact form: 4 bytes, little-endian hex, t = ⌊(2³²−1)/diff⌋,
// which XMRig turns back into ⌊(2³²−1)/t⌋ = diff (e.g. 50 → "51b81e05").
// Where 4 bytes cannot carry diff exactly it is the 8-byte form
// ⌊(2⁶⁴−1)/diff⌋, exact below 2³² and off by a relative diff/2⁶⁴ at most
// above (no 64-bit target can do better).
func TargetHex(diff uint64) string {
	diff = max(diff, 1)
	if diff <= math.MaxUint32 {
		t := uint32(math.MaxUint32 / diff)
		if t != 0 && math.MaxUint32/uint64(t) == diff {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], t)
			return hex.EncodeToString(b[:])
		}
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.MaxUint64/diff)
	return hex.EncodeToString(b[:])
}

// poolHashingBlob is a plausible 76-byte Monero hashing blob: major and minor
// version 16, a varint timestamp (5 bytes), the previous block id, a zero
// nonce at offset 39 (XMRig treats a non-zero nonce as NiceHash mode), the
// merkle root and the transaction count.
func poolHashingBlob() []byte {
	b := make([]byte, 0, 76)
	b = append(b, 0x10, 0x10)
	b = binary.AppendUvarint(b, uint64(time.Now().Unix()))
	b = append(b, poolRandomBytes(32)...) // previous block id
	b = append(b, 0, 0, 0, 0)             // nonce
	b = append(b, poolRandomBytes(32)...) // merkle root
	b = append(b, 1+poolRandomBytes(1)[0]%100)
	return b
}

func poolRandomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return b
}

// Wire messages.

type rpcRequest struct {
	ID     json.RawMessage `json:"id"`
	Method *string         `json:"method"`
	Params json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	ID      json.RawMessage `json:"id"`
	JSONRPC string          `json:"jsonrpc"`
	Error   *rpcError       `json:"error"`
	Result  any             `json:"result"`
}

type rpcNotification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

type loginParams struct {
	Login string   `json:"login"`
	Pass  string   `json:"pass"`
	Agent string   `json:"agent"`
	RigID string   `json:"rigid"`
	Algo  []string `json:"algo"`
}

type loginResult struct {
	ID         string   `json:"id"`
	Job        PoolJob  `json:"job"`
	Extensions []string `json:"extensions"`
	Status     string   `json:"status"`
}

type submitParams struct {
	ID     string `json:"id"`
	JobID  string `json:"job_id"`
	Nonce  string `json:"nonce"`
	Result string `json:"result"`
	Algo   string `json:"algo"`
}

type statusResult struct {
	Status string `json:"status"`
}

// poolJSON encodes one wire message with its terminating newline. The
// result may be shared between connections and is never modified.
func poolJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("agenttest: pool: " + err.Error()) // only our own types are marshalled
	}
	return append(b, '\n')
}

// poolSession is one miner connection.
type poolSession struct {
	pool   *Pool
	conn   net.Conn
	remote string
	out    chan []byte // nil message: flush what came before, then close
	done   chan struct{}
	once   sync.Once

	// guarded by pool.mu
	loggedIn bool
	jobs     []PoolJob // oldest first, at most poolKeptJobs

	// owned by the reader goroutine
	id   string
	user string
	bad  int
	seen map[string]struct{}
}

func (s *poolSession) close() {
	s.once.Do(func() {
		close(s.done)
		if s.conn != nil {
			s.conn.Close()
		}
	})
}

// send queues one message. A connection that does not read its messages
// fast enough to keep the queue from filling up is closed.
func (s *poolSession) send(msg []byte) {
	select {
	case <-s.done:
		return
	default:
	}
	select {
	case s.out <- msg:
	case <-s.done:
	default:
		s.close()
	}
}

// closeAfterFlush closes the connection once the messages queued before
// are written.
func (s *poolSession) closeAfterFlush() { s.send(nil) }

func (s *poolSession) writeLoop() {
	defer s.pool.wg.Done()
	defer s.close()
	for {
		select {
		case <-s.done:
			return
		case msg := <-s.out:
			if msg == nil {
				return
			}
			if tr := s.pool.opts.Trace; tr != nil {
				tr(s.remote, false, msg[:len(msg)-1])
			}
			s.conn.SetWriteDeadline(time.Now().Add(poolWriteTimeout))
			if _, err := s.conn.Write(msg); err != nil {
				return
			}
		}
	}
}

func (s *poolSession) readLoop() {
	defer s.pool.wg.Done()
	defer func() {
		s.pool.mu.Lock()
		delete(s.pool.sessions, s)
		s.pool.mu.Unlock()
		// Let the writer flush a final error reply; it closes the connection.
		s.closeAfterFlush()
	}()
	br := bufio.NewReaderSize(s.conn, s.pool.opts.MaxLineBytes)
	for {
		s.conn.SetReadDeadline(time.Now().Add(s.pool.opts.IdleTimeout))
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.replyError(nil, rpcInvalidRequest, fmt.Sprintf("line longer than %d bytes", s.pool.opts.MaxLineBytes))
			return
		}
		if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
			return
		}
		if !s.handle(line) || err != nil {
			return
		}
	}
}

// handle answers one line and reports whether the connection stays open.
func (s *poolSession) handle(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return true
	}
	if tr := s.pool.opts.Trace; tr != nil {
		tr(s.remote, true, line)
	}
	var req rpcRequest
	if err := json.Unmarshal(line, &req); err != nil {
		code, msg := rpcParseError, "Parse error"
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			code, msg = rpcInvalidRequest, "Invalid request"
		}
		return s.badMessage(nil, code, msg)
	}
	if req.Method == nil || *req.Method == "" {
		return s.badMessage(req.ID, rpcInvalidRequest, "Invalid request: no method")
	}
	switch *req.Method {
	case "login":
		s.login(req)
	case "submit":
		s.submit(req)
	case "keepalived":
		s.reply(req.ID, statusResult{Status: "KEEPALIVED"})
	case "getjob":
		if !s.authenticated(req) {
			return true
		}
		s.pool.mu.Lock()
		job := s.jobs[len(s.jobs)-1]
		s.pool.mu.Unlock()
		s.reply(req.ID, job)
	default:
		s.replyError(req.ID, rpcMethodNotFound, "Method not found")
	}
	return true
}

func (s *poolSession) badMessage(id json.RawMessage, code int, msg string) bool {
	s.bad++
	s.replyError(id, code, msg)
	return s.bad < s.pool.opts.MaxBadMessages
}

func (s *poolSession) reply(id json.RawMessage, result any) {
	s.send(poolJSON(rpcResponse{ID: poolRawID(id), JSONRPC: "2.0", Result: result}))
}

func (s *poolSession) replyError(id json.RawMessage, code int, msg string) {
	s.send(poolJSON(rpcResponse{ID: poolRawID(id), JSONRPC: "2.0", Error: &rpcError{Code: code, Message: msg}}))
}

// poolRawID echoes a request's id if it is a plain JSON scalar, else null.
func poolRawID(id json.RawMessage) json.RawMessage {
	id = bytes.TrimSpace(id)
	if len(id) == 0 || len(id) > 64 || id[0] == '{' || id[0] == '[' {
		return json.RawMessage("null")
	}
	return id
}

func (s *poolSession) login(req rpcRequest) {
	var lp loginParams
	if err := json.Unmarshal(req.Params, &lp); err != nil || strings.TrimSpace(lp.Login) == "" {
		s.replyError(req.ID, rpcPoolError, "Invalid login: missing login")
		return
	}
	p := s.pool
	if len(lp.Algo) > 0 && !poolHasAlgo(lp.Algo, p.opts.Algo) {
		s.replyError(req.ID, rpcPoolError, fmt.Sprintf("Unsupported algorithm: pool mines %s", p.opts.Algo))
		return
	}
	s.id = hex.EncodeToString(poolRandomBytes(8))
	s.user = lp.Login
	s.seen = make(map[string]struct{})

	p.mu.Lock()
	s.loggedIn = true
	p.logins++
	w := p.workerLocked(lp.Login)
	w.Logins++
	w.Agent = lp.Agent
	w.RigID = lp.RigID
	s.jobs = s.jobs[:0]
	job := p.newJobLocked(s)
	p.notifyLocked()
	p.mu.Unlock()

	s.reply(req.ID, loginResult{
		ID:         s.id,
		Job:        job,
		Extensions: []string{"algo", "keepalive"},
		Status:     "OK",
	})
}

func poolHasAlgo(list []string, algo string) bool {
	for _, a := range list {
		if strings.EqualFold(a, algo) {
			return true
		}
	}
	return false
}

func (s *poolSession) authenticated(req rpcRequest) bool {
	if s.id == "" {
		s.replyError(req.ID, rpcPoolError, "Unauthenticated")
		return false
	}
	return true
}

func (s *poolSession) submit(req rpcRequest) {
	p := s.pool
	var sp submitParams
	reason := ""
	switch err := json.Unmarshal(req.Params, &sp); {
	case s.id == "" || (err == nil && sp.ID != s.id):
		reason = "Unauthenticated"
	case err != nil:
		reason = "Malformed share"
	}
	var nonce, hash []byte
	if reason == "" {
		var err1, err2 error
		nonce, err1 = hex.DecodeString(sp.Nonce)
		hash, err2 = hex.DecodeString(sp.Result)
		if err1 != nil || err2 != nil || len(nonce) != 4 || len(hash) != 32 {
			reason = "Malformed share"
		}
	}

	p.mu.Lock()
	if reason == "" {
		ok := s.hasJobLocked(sp.JobID)
		key := sp.JobID + "/" + strings.ToLower(sp.Nonce)
		_, dup := s.seen[key]
		switch {
		case !ok:
			reason = "Block expired"
		case dup:
			reason = "Duplicate share"
		case binary.LittleEndian.Uint64(hash[24:]) > math.MaxUint64/p.opts.Difficulty:
			// XMRig compares the hash's last 8 bytes with the 64-bit target.
			reason = "Low difficulty share"
		case p.rejectNext > 0:
			p.rejectNext--
			reason = p.rejectReason
		}
		if ok && !dup && len(s.seen) < poolMaxSeen {
			s.seen[key] = struct{}{}
		}
	}
	var w *WorkerStats
	if s.user != "" {
		w = p.workerLocked(s.user)
	}
	if reason == "" {
		p.accepted++
		if w != nil {
			w.Accepted++
		}
	} else {
		p.rejected++
		if w != nil {
			w.Rejected++
		}
	}
	p.notifyLocked()
	p.mu.Unlock()

	if reason != "" {
		s.replyError(req.ID, rpcPoolError, reason)
		return
	}
	s.reply(req.ID, statusResult{Status: "OK"})
}

func (p *Pool) workerLocked(user string) *WorkerStats {
	w := p.workers[user]
	if w == nil {
		w = &WorkerStats{}
		p.workers[user] = w
	}
	return w
}
