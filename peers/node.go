package peers

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/rigd/rigd/agent/miner"
)

// Defaults of Config's tunables.
const (
	DefaultListen           = ":9091"
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultIdleTimeout      = 90 * time.Second
	DefaultRequestTimeout   = 20 * time.Second // below the REST write timeout and the CLI's --timeout (30 s): a hung peer is an error reply, not a cut one
	DefaultStatsTimeout     = 5 * time.Second
	DefaultReconnectMin     = 1 * time.Second
	DefaultReconnectMax     = 2 * time.Minute
	DefaultRateLimit        = 10 // requests per second per peer
	DefaultRateBurst        = 20
	DefaultMinerOps         = 6 // start/stop/restart per miner per peer per minute
	DefaultMaxPreAuth       = 64
	DefaultMaxPreAuthSource = 16
	DefaultMaxPending       = 64

	// MaxLogLines is the most log lines one get_logs returns.
	MaxLogLines = 10000
)

// Config configures a Node.
type Config struct {
	// DataDir holds node.key. Required unless KeyFile is set.
	DataDir string
	// KeyFile overrides <DataDir>/node.key.
	KeyFile string
	// Name is the node's display name (default: the host name).
	Name string
	// Role is what the node is for (default dual).
	Role NodeRole
	// Listen is the P2P listen address (the agent's --p2p-listen,
	// default ":9091"); "" means no listener: the node can still dial
	// its peers but cannot be dialed or make invites.
	Listen string
	// Advertise is the address put in invites and handshakes (default:
	// the listener's address, with an unspecified host replaced by this
	// host's first non-loopback IPv4 address).
	Advertise string

	Local Local // required
	// Profiles resolves profile ids of remote starts (nil: only inline
	// profiles can be started remotely).
	Profiles Profiles
	Store    Store // required
	Logger   *slog.Logger

	// Tunables; zero means the default above.
	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	// IdleTimeout closes a session that received nothing for this long;
	// it is raised to 3×PingInterval if not above PingInterval.
	IdleTimeout    time.Duration
	RequestTimeout time.Duration
	StatsTimeout   time.Duration
	ReconnectMin   time.Duration
	ReconnectMax   time.Duration
	InviteTTL      time.Duration
	RateLimit      float64
	RateBurst      int
	MinerOps       int
	MaxPreAuth     int
	// MaxPreAuthSource caps the connections in the handshake from one
	// source (an IPv4 address, an IPv6 /64), so that one host cannot take
	// all of MaxPreAuth.
	MaxPreAuthSource int
	MaxPending       int
}

func (c *Config) setDefaults() error {
	if c.Local == nil {
		return errors.New("peers: Config.Local is required")
	}
	if c.Store == nil {
		return errors.New("peers: Config.Store is required")
	}
	if c.KeyFile == "" {
		if c.DataDir == "" {
			return errors.New("peers: Config.DataDir or Config.KeyFile is required")
		}
		c.KeyFile = filepath.Join(c.DataDir, KeyFileName)
	}
	if c.Name == "" {
		h, _ := os.Hostname()
		c.Name = h
	}
	if len(c.Name) > maxNameLen {
		c.Name = c.Name[:maxNameLen]
	}
	if checkName(c.Name) != nil {
		c.Name = "rigd"
	}
	if c.Role == "" {
		c.Role = NodeDual
	}
	if !c.Role.valid() {
		return fmt.Errorf("%w: node role %q", ErrInvalidRole, c.Role)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.StatsTimeout, DefaultStatsTimeout)
	def(&c.ReconnectMin, DefaultReconnectMin)
	def(&c.ReconnectMax, DefaultReconnectMax)
	def(&c.InviteTTL, DefaultInviteTTL)
	if c.IdleTimeout <= c.PingInterval {
		c.IdleTimeout = 3 * c.PingInterval
	}
	if c.Advertise != "" {
		a, err := normalizeAddr(c.Advertise, false)
		if err != nil {
			return fmt.Errorf("peers: Config.Advertise: %w", err)
		}
		c.Advertise = a
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.RateLimit <= 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst <= 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.MinerOps <= 0 {
		c.MinerOps = DefaultMinerOps
	}
	if c.MaxPreAuth <= 0 {
		c.MaxPreAuth = DefaultMaxPreAuth
	}
	if c.MaxPreAuthSource <= 0 {
		c.MaxPreAuthSource = DefaultMaxPreAuthSource
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	return nil
}

// Node is one rig's P2P endpoint: its identity, listener, allow-list,
// sessions and the remote operations. Its methods are safe for concurrent
// use. Methods taking a peer id as a string accept the full id, a short id
// naming exactly one known (or pending) peer, or the name of exactly one
// known peer.
type Node struct {
	cfg       Config
	log       *slog.Logger
	key       keyPair
	id        NodeID
	store     Store
	local     Local
	profiles  Profiles
	ln        net.Listener
	advertise string

	// preauth bounds connections that have not finished the handshake:
	// in all and per source.
	preauth preauthCap

	// Counters (tests and metrics).
	parsed  atomic.Int64 // envelopes decoded
	panics  atomic.Int64 // recovered panics
	refused atomic.Int64 // connections refused at the pre-auth cap

	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the node starts
	runDone chan struct{}

	// wrapConn wraps outgoing TCP connections (tests).
	wrapConn func(net.Conn) net.Conn

	mu          sync.Mutex
	peers       map[NodeID]*peer
	pending     map[NodeID]*PendingPeer
	invites     map[[inviteIDSize]byte]*inviteState
	handshaking map[net.Conn]struct{}
	// refusedAudit and auditSuppressed bound audit entries of refused
	// connections.
	refusedAudit    bucket
	auditSuppressed int
	running         bool
	closed          bool
}

// peer is the live state of one allow-listed peer. Fields other than the
// watermarks are guarded by Node.mu.
type peer struct {
	rec        PeerRecord
	sessions   map[*session]struct{}
	current    *session
	remoteRole Role // what the peer grants this node ("" unknown)
	lastSeen   time.Time
	rtt        time.Duration

	sendNext  uint64 // next sequence number to send
	recvLast  uint64 // highest sequence number accepted
	unflushed int    // messages accepted since recvLast was saved

	limiter  bucket
	minerOps map[string][]time.Time

	forbidAudit      bucket
	forbidSuppressed int
	cmds             cmdCache

	dialing  bool
	stopDial context.CancelFunc
	wake     chan struct{} // cap 1: the current session ended

	sent, recv watermark // persisted counters (own locks)
}

func newPeer(rec PeerRecord, sent, recv uint64) *peer {
	p := &peer{
		rec:      rec,
		sessions: map[*session]struct{}{},
		sendNext: sent + 1,
		recvLast: recv,
		minerOps: map[string][]time.Time{},
		wake:     make(chan struct{}, 1),
	}
	p.sent.saved = sent
	p.recv.saved = recv
	return p
}

// PendingPeer is a node that completed the handshake but is not in the
// allow-list. The list is in memory, capped (oldest dropped).
type PendingPeer struct {
	ID        NodeID    `json:"id"`
	ShortID   string    `json:"short_id"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	NodeRole  NodeRole  `json:"node_role"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Count     int       `json:"count"`

	lastAudit time.Time
}

// NodeInfo describes this node.
type NodeInfo struct {
	ID      NodeID   `json:"id"`
	ShortID string   `json:"short_id"`
	Name    string   `json:"name"`
	Role    NodeRole `json:"role"`
	// Listen is the bound P2P address ("" when the listener is off).
	Listen string `json:"listen"`
	// Address is what invites and handshakes advertise.
	Address string `json:"address"`
	// PublicKey is the X25519 static public key, hex.
	PublicKey string `json:"public_key"`
}

// PeerInfo describes an allow-listed peer.
type PeerInfo struct {
	ID      NodeID `json:"id"`
	ShortID string `json:"short_id"`
	Name    string `json:"name"`
	Address string `json:"address"`
	// Role is what the peer may do on this node.
	Role Role `json:"role"`
	// RemoteRole is what this node may do on the peer, as the peer last
	// said ("" until the first session).
	RemoteRole Role      `json:"remote_role,omitempty"`
	NodeRole   NodeRole  `json:"node_role,omitempty"`
	Added      time.Time `json:"added"`
	Connected  bool      `json:"connected"`
	// LastSeen is when the last message arrived (nil: not since start).
	LastSeen *time.Time `json:"last_seen"`
	// RTT is the last measured round trip (0: none yet).
	RTT   time.Duration `json:"-"`
	RTTMS float64       `json:"rtt_ms"`
}

// New loads (or creates) the node key, loads the allow-list and the
// sequence counters from the store and opens the listener. Call Run to
// serve and Close to stop.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:         cfg,
		log:         cfg.Logger,
		key:         key,
		id:          IDFromPublicKey(key.public[:]),
		store:       cfg.Store,
		local:       cfg.Local,
		profiles:    cfg.Profiles,
		preauth:     preauthCap{max: cfg.MaxPreAuth, maxSource: cfg.MaxPreAuthSource, bySource: map[netip.Prefix]int{}},
		runDone:     make(chan struct{}),
		peers:       map[NodeID]*peer{},
		pending:     map[NodeID]*PendingPeer{},
		invites:     map[[inviteIDSize]byte]*inviteState{},
		handshaking: map[net.Conn]struct{}{},
	}
	recs, err := cfg.Store.Peers(ctx)
	if err != nil {
		return nil, fmt.Errorf("peers: load allow-list: %w", err)
	}
	for _, r := range recs {
		if r.ID.IsZero() || r.ID == n.id {
			continue
		}
		sent, err := cfg.Store.LoadSeq(ctx, r.ID, SeqSent)
		if err != nil {
			return nil, fmt.Errorf("peers: load sequence of %s: %w", r.ID.Short(), err)
		}
		recv, err := cfg.Store.LoadSeq(ctx, r.ID, SeqRecv)
		if err != nil {
			return nil, fmt.Errorf("peers: load sequence of %s: %w", r.ID.Short(), err)
		}
		n.peers[r.ID] = newPeer(r, sent, recv)
	}
	if cfg.Listen != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("peers: listen on %s: %w", cfg.Listen, err)
		}
		n.ln = ln
	}
	n.advertise = n.advertiseAddr()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

func (n *Node) advertiseAddr() string {
	if n.cfg.Advertise != "" {
		return n.cfg.Advertise
	}
	if n.ln == nil {
		return ""
	}
	host, port, err := net.SplitHostPort(n.ln.Addr().String())
	if err != nil {
		return n.ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if in, ok := a.(*net.IPNet); ok && !in.IP.IsLoopback() && in.IP.To4() != nil && !in.IP.IsLinkLocalUnicast() {
					host = in.IP.String()
					break
				}
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// Run serves the listener and keeps connections to the known peers until
// ctx is done or Close is called; then it closes every session and returns
// nil once all of the node's goroutines have ended.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return ErrClosed
	case n.running:
		n.mu.Unlock()
		return errors.New("peers: Run called twice")
	}
	n.running = true
	if n.ln != nil {
		n.goLocked(n.acceptLoop)
	}
	for _, p := range n.peers {
		n.startDialerLocked(p)
	}
	n.mu.Unlock()
	defer close(n.runDone)
	stop := context.AfterFunc(ctx, n.shutdown)
	defer stop()
	<-n.ctx.Done()
	n.shutdown()
	n.wg.Wait()
	return nil
}

// Close stops the node: the listener, dialers and sessions, and waits for
// every goroutine it started. It is safe to call more than once.
func (n *Node) Close() error {
	n.shutdown()
	n.wg.Wait()
	n.mu.Lock()
	running := n.running
	n.mu.Unlock()
	if running {
		<-n.runDone
	}
	return nil
}

func (n *Node) shutdown() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	var sessions []*session
	for _, p := range n.peers {
		for s := range p.sessions {
			sessions = append(sessions, s)
		}
	}
	conns := make([]net.Conn, 0, len(n.handshaking))
	for c := range n.handshaking {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	n.cancel()
	if n.ln != nil {
		n.ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	for _, s := range sessions {
		s.close(ErrClosed)
	}
}

// goLocked starts f as a goroutine owned by the node (Close waits for
// it). n.mu must be held. It returns false once the node is closed.
func (n *Node) goLocked(f func()) bool {
	if n.closed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.recoverPanic()
		f()
	}()
	return true
}

func (n *Node) spawn(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.goLocked(f)
}

// recoverPanic keeps one connection's bug from taking the agent down; it
// is logged with its stack and counted.
func (n *Node) recoverPanic() {
	if r := recover(); r != nil {
		n.panics.Add(1)
		n.log.Error("peers: panic recovered", "panic", r, "stack", string(debug.Stack()))
	}
}

// Info describes this node.
func (n *Node) Info() NodeInfo {
	info := NodeInfo{
		ID: n.id, ShortID: n.id.Short(), Name: n.cfg.Name, Role: n.cfg.Role,
		Address: n.advertise, PublicKey: hex.EncodeToString(n.key.public[:]),
	}
	if n.ln != nil {
		info.Listen = n.ln.Addr().String()
	}
	return info
}

// ID returns this node's id.
func (n *Node) ID() NodeID { return n.id }

// Connected returns how many peers have a live session (for /metrics).
func (n *Node) Connected() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, p := range n.peers {
		if p.current != nil {
			c++
		}
	}
	return c
}

// Metrics are the node's counters for /metrics.
type Metrics struct {
	// Peers is the allow-list size; Connected those with a live session.
	Peers     int
	Connected int
	// Pending is the number of refused nodes listed.
	Pending int
	// RefusedPreAuth counts connections closed at accept because
	// MaxPreAuth connections, or MaxPreAuthSource from the same source,
	// were already in the handshake.
	RefusedPreAuth int64
	// Envelopes counts messages parsed from authorized peers.
	Envelopes int64
	// Panics counts panics recovered in connection goroutines (a bug).
	Panics int64
}

// Metrics returns the node's counters.
func (n *Node) Metrics() Metrics {
	n.mu.Lock()
	m := Metrics{Peers: len(n.peers), Pending: len(n.pending)}
	for _, p := range n.peers {
		if p.current != nil {
			m.Connected++
		}
	}
	n.mu.Unlock()
	m.RefusedPreAuth, m.Envelopes, m.Panics = n.refused.Load(), n.parsed.Load(), n.panics.Load()
	return m
}

func (n *Node) hello() hello {
	return hello{V: ProtocolVersion, Name: n.cfg.Name, Role: n.cfg.Role, Addr: n.advertise}
}

// --- accepting ---

func (n *Node) acceptLoop() {
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("peers: accept", "err", err)
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		src := sourceOf(conn.RemoteAddr())
		if !n.preauth.acquire(src) {
			// Too many connections are still handshaking: refuse at once.
			n.refused.Add(1)
			conn.Close()
			continue
		}
		if !n.spawn(func() { n.serveConn(conn, src) }) {
			n.preauth.release(src)
			conn.Close()
			return
		}
	}
}

func (n *Node) track(conn net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.handshaking[conn] = struct{}{}
	return true
}

func (n *Node) untrack(conn net.Conn) {
	n.mu.Lock()
	delete(n.handshaking, conn)
	n.mu.Unlock()
}

// serveConn runs the responder's side of a connection: upgrade, Noise
// handshake and authorization within HandshakeTimeout, then the session.
func (n *Node) serveConn(conn net.Conn, src netip.Prefix) {
	released := false
	release := func() {
		if !released {
			released = true
			n.preauth.release(src)
		}
	}
	defer release()
	if !n.track(conn) {
		conn.Close()
		return
	}
	defer n.untrack(conn)
	conn.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	fc, err := upgradeServer(conn)
	if err != nil {
		conn.Close()
		return
	}
	var inv *inviteState
	sc, _, err := serverHandshake(fc, n.key, n.hello(), func(id [inviteIDSize]byte) ([]byte, error) {
		var psk []byte
		var err error
		inv, psk, err = n.checkInvite(id)
		return psk, err
	})
	if err != nil {
		n.log.Debug("peers: inbound handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	if inv != nil {
		if err := n.claimInvite(inv); err != nil {
			// Another redeemer proved the same secret first.
			code := closeInviteUsed
			if errors.Is(err, ErrInviteExpired) {
				code = closeInviteExpired
			}
			fc.writeClose(code, "invite refused")
			lingerClose(conn)
			return
		}
	}
	p, auth, err := n.authorize(sc, inv, conn.RemoteAddr())
	if err != nil {
		if inv != nil {
			n.unclaimInvite(inv)
		}
		n.log.Warn("peers: authorize", "peer", sc.peerID.Short(), "err", err)
		conn.Close()
		return
	}
	if p == nil {
		// One fixed frame, then close. Nothing the peer sent after its
		// handshake message is read.
		sc.writeMsg(unauthorizedFrame)
		fc.writeClose(ws.StatusPolicyViolation, codeUnauthorizedPeer)
		lingerClose(conn)
		return
	}
	b, _ := json.Marshal(auth)
	if err := sc.writeMsg(b); err != nil {
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	n.untrack(conn)
	release()
	if _, err := n.attach(p, sc, sc.peerHello.Grant); err != nil {
		n.log.Debug("peers: attach inbound session", "peer", sc.peerID.Short(), "err", err)
	}
}

// authorize decides on an initiator right after the handshake, before
// anything else it sent is read. It returns the peer (nil: unauthorized)
// and the auth frame to send.
func (n *Node) authorize(sc *secureConn, inv *inviteState, remote net.Addr) (*peer, authFrame, error) {
	id, h := sc.peerID, sc.peerHello
	addr := resolveAddr(h.Addr, remote)
	if id == n.id {
		return nil, authFrame{}, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 5*time.Second)
	defer cancel()
	if inv != nil {
		n.mu.Lock()
		rec := PeerRecord{ID: id, Name: h.Name, Address: addr, Role: inv.role, NodeRole: h.Role, Added: time.Now().UTC()}
		if old := n.peers[id]; old != nil {
			rec.Added = old.rec.Added
			if rec.Address == "" {
				rec.Address = old.rec.Address
			}
		}
		n.mu.Unlock()
		p, err := n.addPeer(ctx, rec)
		if err != nil {
			return nil, authFrame{}, err
		}
		n.audit("peer:"+id.String(), "pair", string(rec.Role), "ok: invite redeemed")
		n.log.Info("peers: paired by invite", "peer", id.Short(), "name", h.Name, "role", rec.Role)
		return p, authFrame{Status: "ok", Role: rec.Role, Paired: true}, nil
	}
	n.mu.Lock()
	p := n.peers[id]
	var update *PeerRecord
	if p != nil && (p.rec.Name != h.Name || p.rec.NodeRole != h.Role || (addr != "" && p.rec.Address != addr)) {
		rec := p.rec
		rec.Name, rec.NodeRole = h.Name, h.Role
		if addr != "" {
			rec.Address = addr
		}
		update = &rec
	}
	n.mu.Unlock()
	if p == nil {
		if audit, suppressed := n.notePending(id, h, addr); audit {
			result := codeUnauthorizedPeer
			if suppressed > 0 {
				result += fmt.Sprintf(" (and %d refused connections not logged)", suppressed)
			}
			n.audit("peer:"+id.String(), "connect", "", result)
		}
		n.log.Info("peers: unknown node refused", "peer", id.Short(), "name", h.Name, "remote", remote.String())
		return nil, authFrame{}, nil
	}
	if update != nil {
		if err := n.store.PutPeer(ctx, *update); err != nil {
			n.log.Warn("peers: update peer record", "peer", id.Short(), "err", err)
		} else {
			n.mu.Lock()
			if n.peers[id] == p {
				p.rec = *update
			}
			n.mu.Unlock()
		}
	}
	return p, authFrame{Status: "ok", Role: n.roleOf(p)}, nil
}

// roleOf is what p may do here: its role, capped by this node's role.
func (n *Node) roleOf(p *peer) Role {
	n.mu.Lock()
	r := p.rec.Role
	n.mu.Unlock()
	if c := n.cfg.Role.cap(); r.rank() > c.rank() {
		return c
	}
	return r
}

// resolveAddr turns a peer's advertised address into one this node can
// dial: an empty, unspecified or loopback host (seen from a non-loopback
// address) is replaced by the address the connection came from.
func resolveAddr(adv string, remote net.Addr) string {
	if adv == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return ""
	}
	var rip net.IP
	if ta, ok := remote.(*net.TCPAddr); ok {
		rip = ta.IP
	}
	ip := net.ParseIP(host)
	if rip != nil && (host == "" || (ip != nil && ip.IsUnspecified()) || (ip != nil && ip.IsLoopback() && !rip.IsLoopback())) {
		host = rip.String()
	}
	return net.JoinHostPort(host, port)
}

// notePending records a refused node. It says whether to audit it: the
// first time an id is seen and then at most once a minute per id, and
// node-wide at most auditBurst entries at once refilling one a second, so
// a flood of fresh keys cannot fill the audit log; the suppressed count
// is reported with the next entry written.
func (n *Node) notePending(id NodeID, h hello, addr string) (audit bool, suppressed int) {
	now := time.Now().UTC()
	n.mu.Lock()
	defer n.mu.Unlock()
	pp := n.pending[id]
	if pp == nil {
		if len(n.pending) >= n.cfg.MaxPending {
			var oldest *PendingPeer
			for _, q := range n.pending {
				if oldest == nil || q.LastSeen.Before(oldest.LastSeen) {
					oldest = q
				}
			}
			delete(n.pending, oldest.ID)
		}
		pp = &PendingPeer{ID: id, ShortID: id.Short(), FirstSeen: now}
		n.pending[id] = pp
	}
	pp.Name, pp.NodeRole, pp.LastSeen = h.Name, h.Role, now
	if addr != "" {
		pp.Address = addr
	}
	pp.Count++
	if now.Sub(pp.lastAudit) < time.Minute {
		return false, 0
	}
	if !n.refusedAudit.take(now, 1, auditBurst) {
		n.auditSuppressed++
		return false, 0
	}
	pp.lastAudit = now
	suppressed, n.auditSuppressed = n.auditSuppressed, 0
	return true, suppressed
}

// auditBurst bounds audit entries for refused connections (refilling one
// a second).
const auditBurst = 20

// --- invites ---

// Invite makes a single-use invite granting role to whoever redeems it
// within InviteTTL (10 minutes). Open invites live in memory only.
// checkGrant refuses a role this node cannot grant: an unknown one, or
// more than its node role lets peers have (a controller-only node takes
// no commands, so a "controller" peer would be an observer that the
// listing called controller).
func (n *Node) checkGrant(role Role) error {
	if !role.grantable() {
		return fmt.Errorf("%w: %q (want none, observer or controller)", ErrInvalidRole, role)
	}
	if c := n.cfg.Role.cap(); role.rank() > c.rank() {
		return fmt.Errorf("%w: this node is %s-only and grants at most %s (run it with --node-role dual to take commands)", ErrInvalidRole, n.cfg.Role, c)
	}
	return nil
}

func (n *Node) Invite(role Role) (Invite, error) {
	if err := n.checkGrant(role); err != nil {
		return Invite{}, err
	}
	if n.ln == nil {
		return Invite{}, ErrNoListener
	}
	code, err := newInviteCode(n.id)
	if err != nil {
		return Invite{}, err
	}
	now := time.Now()
	exp := now.Add(n.cfg.InviteTTL)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return Invite{}, ErrClosed
	}
	open := 0
	for k, inv := range n.invites {
		if now.After(inv.expires) {
			delete(n.invites, k)
		} else if !inv.used {
			open++
		}
	}
	if open >= maxOpenInvites {
		return Invite{}, ErrTooManyInvites
	}
	n.invites[code.id()] = &inviteState{code: code, role: role, expires: exp}
	return Invite{Code: code.String(), NodeID: n.id, Address: n.advertise, Role: role, Expires: exp.UTC()}, nil
}

// checkInvite looks up an invite named in a hello. It does not reserve
// it: only a handshake that proves knowledge of the secret (message 3)
// can claim it, so someone who merely saw the id cannot block it.
func (n *Node) checkInvite(id [inviteIDSize]byte) (*inviteState, []byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	inv := n.invites[id]
	switch {
	case inv == nil:
		return nil, nil, ErrInviteInvalid
	case inv.used:
		return nil, nil, ErrInviteUsed
	case time.Now().After(inv.expires):
		return nil, nil, ErrInviteExpired
	}
	return inv, inv.code.psk(), nil
}

// claimInvite marks inv used by the handshake that just proved its
// secret; the first one wins.
func (n *Node) claimInvite(inv *inviteState) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case inv.used:
		return ErrInviteUsed
	case time.Now().After(inv.expires):
		return ErrInviteExpired
	}
	inv.used = true
	return nil
}

// unclaimInvite gives an invite back when pairing failed after the claim
// (the store refused the peer).
func (n *Node) unclaimInvite(inv *inviteState) {
	n.mu.Lock()
	inv.used = false
	n.mu.Unlock()
}

// --- dialing ---

type dialTarget struct {
	id     NodeID      // expected peer (zero when redeeming an invite)
	invite *inviteCode // invite to redeem
}

// dial connects to addr, runs the initiator's handshake and reads the
// responder's verdict. An unauthorized verdict returns the (closed)
// connection with auth.Status "unauthorized_peer" and no error.
func (n *Node) dial(ctx context.Context, addr string, tgt dialTarget) (*secureConn, authFrame, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	stopOnClose := context.AfterFunc(n.ctx, cancel)
	defer stopOnClose()
	fc, err := dialWS(ctx, addr, n.cfg.HandshakeTimeout, n.wrapConn)
	if err != nil {
		return nil, authFrame{}, err
	}
	conn := fc.conn
	if !n.track(conn) {
		conn.Close()
		return nil, authFrame{}, ErrClosed
	}
	defer n.untrack(conn)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stopDeadline := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stopDeadline()
	fail := func(err error) (*secureConn, authFrame, error) {
		conn.Close()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, ErrPeerMismatch) {
			if n.ctx.Err() != nil {
				return nil, authFrame{}, ErrClosed
			}
			return nil, authFrame{}, fmt.Errorf("%w: %s: %v", ErrNotConnected, addr, cerr)
		}
		return nil, authFrame{}, err
	}
	pre := preamble{mode: modeXX}
	var psk []byte
	if tgt.invite != nil {
		pre = preamble{mode: modeInvite, inviteID: tgt.invite.id()}
		psk = tgt.invite.psk()
	}
	check := func(id NodeID, h hello) (Role, error) {
		switch {
		case id == n.id:
			return "", fmt.Errorf("%w: %s is this node", ErrInvalidRequest, addr)
		case tgt.invite != nil && !tgt.invite.matches(id):
			return "", fmt.Errorf("%w: the invite is from another node than %s (%s)", ErrPeerMismatch, addr, id.Short())
		case !tgt.id.IsZero() && id != tgt.id:
			return "", fmt.Errorf("%w: %s is %s, not %s", ErrPeerMismatch, addr, id.Short(), tgt.id.Short())
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if p := n.peers[id]; p != nil {
			return p.rec.Role, nil
		}
		return RoleNone, nil
	}
	sc, err := clientHandshake(fc, n.key, n.id, n.hello(), pre, psk, check)
	if err != nil {
		return fail(err)
	}
	pt, err := sc.readMsg()
	if err != nil {
		var ce *closeError
		switch {
		case errors.As(err, &ce) && ce.code >= closeInviteInvalid && ce.code <= closeInviteUsed:
			return fail(inviteCloseError(err)) // another redeemer was first
		case tgt.invite != nil:
			// With XXpsk3 a wrong secret shows here: the responder could
			// not read message 3 and hung up.
			return fail(fmt.Errorf("%w: the inviter refused the handshake (%v)", ErrInviteInvalid, err))
		}
		return fail(fmt.Errorf("%w: %v", ErrHandshake, err))
	}
	auth, err := decodeAuth(pt)
	if err != nil {
		return fail(err)
	}
	if auth.Status != "ok" {
		conn.Close()
		return sc, auth, nil
	}
	if !stopDeadline() {
		return fail(fmt.Errorf("%w: handshake deadline", ErrNotConnected))
	}
	conn.SetDeadline(time.Time{})
	return sc, auth, nil
}

// addPeer stores rec and installs it in the allow-list (or updates the
// existing entry). A peer new to this node starts with its receive
// counter reset; the send counter continues from the store.
func (n *Node) addPeer(ctx context.Context, rec PeerRecord) (*peer, error) {
	n.mu.Lock()
	existing := n.peers[rec.ID]
	n.mu.Unlock()
	var sent uint64
	if existing == nil {
		var err error
		if sent, err = n.store.LoadSeq(ctx, rec.ID, SeqSent); err != nil {
			return nil, fmt.Errorf("peers: load sequence: %w", err)
		}
		if err := n.store.SaveSeq(ctx, rec.ID, SeqRecv, 0); err != nil {
			return nil, fmt.Errorf("peers: reset sequence: %w", err)
		}
	}
	if err := n.store.PutPeer(ctx, rec); err != nil {
		return nil, fmt.Errorf("peers: store peer: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pending, rec.ID)
	if p := n.peers[rec.ID]; p != nil {
		p.rec = rec
		return p, nil
	}
	p := newPeer(rec, sent, 0)
	n.peers[rec.ID] = p
	if n.running {
		n.startDialerLocked(p)
	}
	return p, nil
}

func (n *Node) startDialerLocked(p *peer) {
	if p.dialing || n.closed {
		return
	}
	ctx, cancel := context.WithCancel(n.ctx)
	if n.goLocked(func() { n.dialLoop(ctx, p) }) {
		p.dialing, p.stopDial = true, cancel
	} else {
		cancel()
	}
}

// stableSession is how long a session must last for the reconnect backoff
// to start over.
const stableSession = 10 * time.Second

// dialLoop keeps one connection to p while p is in the allow-list and has
// an address: when no session is live it dials, with a jittered backoff
// doubling from ReconnectMin to ReconnectMax after failures.
func (n *Node) dialLoop(ctx context.Context, p *peer) {
	backoff := n.cfg.ReconnectMin
	first := true
	for {
		n.mu.Lock()
		gone := n.peers[p.rec.ID] != p
		idle := p.current != nil || p.rec.Address == ""
		addr, id := p.rec.Address, p.rec.ID
		n.mu.Unlock()
		if gone || ctx.Err() != nil {
			return
		}
		if idle {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
			continue
		}
		if first {
			first = false
			if !sleep(ctx, jitter(n.cfg.ReconnectMin/4)) {
				return
			}
			continue // re-check: the peer may have dialed us meanwhile
		}
		sc, auth, err := n.dial(ctx, addr, dialTarget{id: id})
		switch {
		case err != nil:
			n.log.Debug("peers: dial", "peer", id.Short(), "addr", addr, "err", err)
		case auth.Status != "ok":
			n.log.Info("peers: peer does not (yet) authorize this node", "peer", id.Short(), "addr", addr)
		default:
			s, err := n.attach(p, sc, auth.Role)
			if err == nil {
				start := time.Now()
				select {
				case <-ctx.Done():
					return
				case <-s.done:
				}
				if time.Since(start) >= stableSession {
					backoff = n.cfg.ReconnectMin
				}
			}
		}
		if !sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(backoff*2, n.cfg.ReconnectMax)
	}
}

// jitter spreads d by ±20 %.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// attach makes sc a live session of p and starts its reader and writer.
// When p already has a session, the pair keeps one: a newer session from
// the same initiator replaces the older; between sessions dialed by
// different ends the one dialed by the lower node id wins. Both ends
// apply the same rule, so they agree without talking.
func (n *Node) attach(p *peer, sc *secureConn, remoteRole Role) (*session, error) {
	s := newSession(n, p, sc)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		sc.close()
		return nil, ErrClosed
	}
	if n.peers[p.rec.ID] != p {
		n.mu.Unlock()
		sc.close()
		return nil, errRevoked
	}
	var loser *session
	cur := p.current
	if cur != nil {
		if cur.sc.initiator == sc.initiator || bytes.Compare(sc.initiator[:], cur.sc.initiator[:]) < 0 {
			loser = cur
		} else {
			loser = s
		}
	}
	if loser == s {
		n.mu.Unlock()
		sc.close()
		// The survivor may be a dead connection the peer just replaced
		// (it restarted): probe it so that it fails fast if so.
		cur.probeNow()
		return nil, errReplaced
	}
	p.current = s
	p.sessions[s] = struct{}{}
	if remoteRole != "" {
		p.remoteRole = remoteRole
	}
	p.lastSeen = time.Now()
	n.goLocked(s.writeLoop)
	n.goLocked(s.readLoop)
	n.mu.Unlock()
	if loser != nil {
		loser.close(errReplaced)
	}
	n.log.Debug("peers: session up", "peer", p.rec.ID.Short(), "initiator", sc.initiator.Short())
	return s, nil
}

// detach removes an ended session and wakes the dialer.
func (n *Node) detach(s *session) {
	n.mu.Lock()
	p := s.p
	delete(p.sessions, s)
	wake := false
	if p.current == s {
		p.current = nil
		for o := range p.sessions {
			p.current = o
			break
		}
		wake = p.current == nil
	}
	n.mu.Unlock()
	if wake {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// --- the API the REST and CLI side uses ---

// resolve turns what a user typed into a NodeID: a full node id; a short
// id naming exactly one known or pending peer; or the name of exactly one
// known peer.
func (n *Node) resolve(s string) (NodeID, error) {
	if id, err := ParseNodeID(s); err == nil {
		return id, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var found []NodeID
	if c := normalizeCode(s); len(c) == shortIDTextLen && isBase32(c) {
		seen := map[NodeID]bool{}
		add := func(id NodeID) {
			if !seen[id] && strings.HasPrefix(id.compact(), c) {
				seen[id] = true
				found = append(found, id)
			}
		}
		for id := range n.peers {
			add(id)
		}
		for id := range n.pending {
			add(id)
		}
	}
	if len(found) == 0 && s != "" {
		for id, p := range n.peers {
			if p.rec.Name == s {
				found = append(found, id)
			}
		}
	}
	switch len(found) {
	case 0:
		if len(normalizeCode(s)) == nodeIDTextLen {
			_, err := ParseNodeID(s)
			return NodeID{}, err // a mistyped full id
		}
		return NodeID{}, fmt.Errorf("%w: %q", ErrUnknownPeer, s)
	case 1:
		return found[0], nil
	}
	return NodeID{}, fmt.Errorf("%w: %q names %d peers; use the full id", ErrInvalidID, s, len(found))
}

// AddPeer pairs with the node at address. code is either an invite code
// from that node (Invite): the pairing completes at once, both nodes
// store each other, and the inviter is stored here with RoleNone (it may
// ping but not read or control this node until Approve raises it). Or
// code is the node's full id: this node stores it (RoleNone) and dials;
// unless the other node already allows this one, the result is
// ErrPendingApproval and the other node lists this one as pending until
// its user approves it. Either way the connection is made with the key
// the code names, never with whatever answers at the address.
func (n *Node) AddPeer(ctx context.Context, address, code string) (PeerInfo, error) {
	addr, err := normalizeAddr(address, false)
	if err != nil {
		return PeerInfo{}, err
	}
	var tgt dialTarget
	if ic, err := parseInviteCode(code); err == nil {
		tgt.invite = &ic
	} else if id, err2 := ParseNodeID(code); err2 == nil {
		if id == n.id {
			return PeerInfo{}, fmt.Errorf("%w: that is this node's id", ErrInvalidRequest)
		}
		tgt.id = id
	} else if len(normalizeCode(code)) == nodeIDTextLen {
		return PeerInfo{}, err2
	} else {
		return PeerInfo{}, err
	}
	sc, auth, err := n.dial(ctx, addr, tgt)
	if err != nil {
		return PeerInfo{}, err
	}
	rec := PeerRecord{ID: sc.peerID, Name: sc.peerHello.Name, Address: addr, Role: RoleNone, NodeRole: sc.peerHello.Role, Added: time.Now().UTC()}
	n.mu.Lock()
	if old := n.peers[rec.ID]; old != nil {
		rec.Role, rec.Added = old.rec.Role, old.rec.Added
	}
	n.mu.Unlock()
	p, err := n.addPeer(ctx, rec)
	if err != nil {
		sc.close()
		return PeerInfo{}, err
	}
	if auth.Status != "ok" {
		n.mu.Lock()
		p.remoteRole = ""
		n.mu.Unlock()
		return n.peerInfo(rec.ID), ErrPendingApproval
	}
	if _, err := n.attach(p, sc, auth.Role); err != nil && !errors.Is(err, errReplaced) {
		return PeerInfo{}, err
	}
	n.log.Info("peers: added peer", "peer", rec.ID.Short(), "name", rec.Name, "invite", tgt.invite != nil, "granted", auth.Role)
	return n.peerInfo(rec.ID), nil
}

// Approve allows a pending node with role, or changes the role of a known
// peer (live sessions use the new role from their next request).
func (n *Node) Approve(ctx context.Context, id string, role Role) (PeerInfo, error) {
	if err := n.checkGrant(role); err != nil {
		return PeerInfo{}, err
	}
	nid, err := n.resolve(id)
	if err != nil {
		return PeerInfo{}, err
	}
	n.mu.Lock()
	p, pp := n.peers[nid], n.pending[nid]
	var rec PeerRecord
	switch {
	case p != nil:
		rec = p.rec
		rec.Role = role
	case pp != nil:
		rec = PeerRecord{ID: nid, Name: pp.Name, Address: pp.Address, Role: role, NodeRole: pp.NodeRole, Added: time.Now().UTC()}
	}
	n.mu.Unlock()
	if p == nil && pp == nil {
		return PeerInfo{}, fmt.Errorf("%w: %s", ErrUnknownPeer, id)
	}
	if _, err := n.addPeer(ctx, rec); err != nil {
		return PeerInfo{}, err
	}
	return n.peerInfo(nid), nil
}

// RemovePeer revokes a peer (or drops a pending node): it is deleted from
// the store, and its live sessions are closed before RemovePeer returns.
func (n *Node) RemovePeer(ctx context.Context, id string) error {
	nid, err := n.resolve(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	p, pp := n.peers[nid], n.pending[nid]
	n.mu.Unlock()
	if p == nil && pp == nil {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, id)
	}
	if p != nil {
		if err := n.store.DeletePeer(ctx, nid); err != nil {
			return fmt.Errorf("peers: delete peer: %w", err)
		}
	}
	var sessions []*session
	n.mu.Lock()
	delete(n.pending, nid)
	if p != nil && n.peers[nid] == p {
		delete(n.peers, nid)
		for s := range p.sessions {
			sessions = append(sessions, s)
		}
		if p.stopDial != nil {
			p.stopDial()
		}
	}
	n.mu.Unlock()
	for _, s := range sessions {
		s.close(errRevoked)
	}
	if p != nil {
		n.log.Info("peers: removed peer", "peer", nid.Short(), "sessions_closed", len(sessions))
	}
	return nil
}

// Peers lists the allow-list, sorted by name then id.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	out := make([]PeerInfo, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, peerInfoLocked(p))
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// Peer returns one peer.
func (n *Node) Peer(id string) (PeerInfo, error) {
	nid, err := n.resolve(id)
	if err != nil {
		return PeerInfo{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[nid]
	if p == nil {
		return PeerInfo{}, fmt.Errorf("%w: %s", ErrUnknownPeer, id)
	}
	return peerInfoLocked(p), nil
}

func (n *Node) peerInfo(id NodeID) PeerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.peers[id]; p != nil {
		return peerInfoLocked(p)
	}
	return PeerInfo{ID: id, ShortID: id.Short()}
}

func peerInfoLocked(p *peer) PeerInfo {
	pi := PeerInfo{
		ID: p.rec.ID, ShortID: p.rec.ID.Short(), Name: p.rec.Name, Address: p.rec.Address,
		Role: p.rec.Role, RemoteRole: p.remoteRole, NodeRole: p.rec.NodeRole, Added: p.rec.Added,
		Connected: p.current != nil, RTT: p.rtt, RTTMS: float64(p.rtt.Microseconds()) / 1000,
	}
	if !p.lastSeen.IsZero() {
		t := p.lastSeen.UTC()
		pi.LastSeen = &t
	}
	return pi
}

// Pending lists the nodes refused since start, most recent first.
func (n *Node) Pending() []PendingPeer {
	n.mu.Lock()
	out := make([]PendingPeer, 0, len(n.pending))
	for _, pp := range n.pending {
		c := *pp
		c.lastAudit = time.Time{}
		out = append(out, c)
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b PendingPeer) int { return b.LastSeen.Compare(a.LastSeen) })
	return out
}

// audit records an entry; failures are logged, not returned.
func (n *Node) audit(who, action, target, result string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 5*time.Second)
	defer cancel()
	err := n.store.AddAudit(ctx, miner.AuditEntry{Time: time.Now().UTC(), Who: who, Action: action, Target: target, Result: result})
	if err != nil {
		n.log.Warn("peers: audit", "err", err)
	}
}

// preauthCap counts the connections in the handshake, in all and per
// source.
type preauthCap struct {
	max, maxSource int
	mu             sync.Mutex
	total          int
	bySource       map[netip.Prefix]int
}

// acquire takes a slot for a connection from src, or reports that a cap
// is reached.
func (c *preauthCap) acquire(src netip.Prefix) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= c.max || c.bySource[src] >= c.maxSource {
		return false
	}
	c.total++
	c.bySource[src]++
	return true
}

func (c *preauthCap) release(src netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.bySource[src]--; c.bySource[src] <= 0 {
		delete(c.bySource, src)
	}
}

// sourceOf is the source a connection counts against: its IPv4 address,
// or its IPv6 /64 (one host is commonly given a whole /64).
func sourceOf(a net.Addr) netip.Prefix {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{} // not TCP: all such connections share one source
	}
	ip := t.AddrPort().Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
