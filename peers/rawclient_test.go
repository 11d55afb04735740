package peers

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"
)

// tapConn wraps a client's TCP connection: it remembers the last write
// (one write is one WebSocket frame) and can flip a bit of the next one.
type tapConn struct {
	net.Conn
	mu       sync.Mutex
	last     []byte
	flipNext bool
}

func (c *tapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.last = append(c.last[:0], b...)
	flip := c.flipNext
	c.flipNext = false
	c.mu.Unlock()
	if flip {
		b = append([]byte(nil), b...)
		b[len(b)-20] ^= 0x04 // inside the ciphertext, before the tag
	}
	return c.Conn.Write(b)
}

// replayLast writes the last frame again, byte for byte.
func (c *tapConn) replayLast() error {
	c.mu.Lock()
	b := append([]byte(nil), c.last...)
	c.mu.Unlock()
	_, err := c.Conn.Write(b)
	return err
}

func (c *tapConn) flip() {
	c.mu.Lock()
	c.flipNext = true
	c.mu.Unlock()
}

// rawPeer is a key that speaks the protocol by hand, so tests can send
// what a real Node never would.
type rawPeer struct {
	key keyPair
	id  NodeID
}

func newRawPeer(t testing.TB) rawPeer {
	t.Helper()
	k, err := generateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return rawPeer{key: k, id: IDFromPublicKey(k.public[:])}
}

type rawConn struct {
	sc  *secureConn
	tap *tapConn
}

// connect completes the handshake (messages 1-3) with the node at addr
// and returns before reading the node's verdict.
func (r rawPeer) connect(t testing.TB, addr string) *rawConn {
	t.Helper()
	var tap *tapConn
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fc, err := dialWS(ctx, addr, 5*time.Second, func(c net.Conn) net.Conn { tap = &tapConn{Conn: c}; return tap })
	if err != nil {
		t.Fatal(err)
	}
	fc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	sc, err := clientHandshake(fc, r.key, r.id, hello{V: 1, Name: "raw", Role: NodeWorker}, preamble{mode: modeXX}, nil,
		func(NodeID, hello) (Role, error) { return RoleNone, nil })
	if err != nil {
		fc.conn.Close()
		t.Fatal(err)
	}
	fc.conn.SetDeadline(time.Time{})
	t.Cleanup(func() { fc.conn.Close() })
	return &rawConn{sc: sc, tap: tap}
}

// verdict reads the auth frame's plaintext.
func (c *rawConn) verdict(t testing.TB) []byte {
	t.Helper()
	c.sc.fc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.sc.readMsg()
	if err != nil {
		t.Fatalf("reading the auth frame: %v", err)
	}
	return b
}

func (c *rawConn) close() { c.sc.fc.conn.Close() }

func (c *rawConn) send(t testing.TB, env envelope) {
	t.Helper()
	if env.V == 0 {
		env.V = ProtocolVersion
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.sc.writeMsg(b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// recv returns the next envelope, or the error that ended the connection.
func (c *rawConn) recv(timeout time.Duration) (envelope, error) {
	c.sc.fc.conn.SetReadDeadline(time.Now().Add(timeout))
	b, err := c.sc.readMsg()
	if err != nil {
		return envelope{}, err
	}
	return decodeEnvelope(b)
}

// closedWithin reads until the node closes the connection and returns how
// long that took (or fails after limit).
func (c *rawConn) closedWithin(t testing.TB, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := c.recv(limit)
		if err != nil {
			d := time.Since(start)
			if d > limit {
				t.Fatalf("connection not closed within %v", limit)
			}
			return d
		}
	}
}

// allow puts a raw peer in n's allow-list.
func allow(t testing.TB, n *testNode, r rawPeer, role Role) {
	t.Helper()
	if _, err := n.addPeer(context.Background(), PeerRecord{ID: r.id, Name: "raw", Role: role, Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func startBody(name string) json.RawMessage {
	return json.RawMessage(`{"type":"xmrig","name":"` + name + `","profile":{"algo":"rx/0","pools":[{"url":"p:1","user":"u"}]}}`)
}
