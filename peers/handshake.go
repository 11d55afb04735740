package peers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// secureConn is a WebSocket connection after the Noise handshake: every
// binary message is one Noise transport message. readMsg is called by one
// goroutine and writeMsg by one goroutine.
type secureConn struct {
	fc        *frameConn
	t         *transport
	peerID    NodeID
	peerHello hello
	// initiator is the node that dialed (used to break ties between two
	// sessions of the same pair).
	initiator NodeID
	wbuf      []byte
}

// readMsg returns the next decrypted message. A decrypt failure is final.
func (c *secureConn) readMsg() ([]byte, error) {
	ct, err := c.fc.readMessage()
	if err != nil {
		return nil, err
	}
	return c.t.decrypt(nil, ct)
}

// writeMsg encrypts and sends one message.
func (c *secureConn) writeMsg(pt []byte) error {
	ct, err := c.t.encrypt(c.wbuf[:0], pt)
	if err != nil {
		return err
	}
	c.wbuf = ct[:0]
	if cap(c.wbuf) > 2*MaxMessage {
		c.wbuf = nil
	}
	return c.fc.writeFrame(ws.OpBinary, ct)
}

func (c *secureConn) close() error { return c.fc.conn.Close() }

// clientHandshake runs the initiator's side up to and including message 3;
// the responder's verdict (the auth frame) is read by the caller. check
// sees the responder's id and hello after message 2 and returns the role
// this node grants it, or an error to abort.
func clientHandshake(fc *frameConn, key keyPair, self NodeID, me hello, pre preamble, psk []byte,
	check func(NodeID, hello) (Role, error)) (*secureConn, error) {
	prologue := pre.bytes()
	hs, err := newHandshake(true, key, prologue, psk)
	if err != nil {
		return nil, err
	}
	m1, _, err := hs.writeMessage(nil)
	if err != nil {
		return nil, err
	}
	if err := fc.writeFrame(ws.OpBinary, append(prologue, m1...)); err != nil {
		return nil, err
	}
	m2, err := fc.readMessage()
	if err != nil {
		return nil, inviteCloseError(err)
	}
	payload, _, err := hs.readMessage(m2)
	if err != nil {
		return nil, err
	}
	rh, err := decodeHello(payload)
	if err != nil {
		return nil, err
	}
	pub := hs.peerStatic()
	if pub == nil {
		return nil, fmt.Errorf("%w: no static key", ErrHandshake)
	}
	id := IDFromPublicKey(pub)
	grant, err := check(id, rh)
	if err != nil {
		return nil, err
	}
	me.Grant = grant
	p3, err := json.Marshal(me)
	if err != nil {
		return nil, err
	}
	m3, t, err := hs.writeMessage(p3)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("%w: handshake did not complete", ErrHandshake)
	}
	if err := fc.writeFrame(ws.OpBinary, m3); err != nil {
		return nil, err
	}
	return &secureConn{fc: fc, t: t, peerID: id, peerHello: rh, initiator: self}, nil
}

// inviteCloseError maps the responder's refusal of an invite (a close
// frame before message 2) to the invite errors.
func inviteCloseError(err error) error {
	var ce *closeError
	if errors.As(err, &ce) {
		switch ce.code {
		case closeInviteInvalid:
			return ErrInviteInvalid
		case closeInviteExpired:
			return ErrInviteExpired
		case closeInviteUsed:
			return ErrInviteUsed
		}
	}
	return fmt.Errorf("%w: %v", ErrHandshake, err)
}

// serverHandshake runs the responder's side: message 1 (with its
// clear-text preamble), message 2 carrying our hello, message 3 carrying
// the initiator's. invite resolves an invite id to its PSK; when it fails
// the connection gets a close frame naming the reason. The caller decides
// on the initiator and sends the auth frame.
func serverHandshake(fc *frameConn, key keyPair, me hello, invite func([inviteIDSize]byte) ([]byte, error)) (*secureConn, preamble, error) {
	m1, err := fc.readMessage()
	if err != nil {
		return nil, preamble{}, err
	}
	pre, prologue, n1, err := parsePreamble(m1)
	if err != nil {
		return nil, pre, err
	}
	var psk []byte
	if pre.mode == modeInvite {
		psk, err = invite(pre.inviteID)
		if err != nil {
			code := closeInviteInvalid
			switch {
			case errors.Is(err, ErrInviteExpired):
				code = closeInviteExpired
			case errors.Is(err, ErrInviteUsed):
				code = closeInviteUsed
			}
			fc.writeClose(code, "invite refused")
			lingerClose(fc.conn)
			return nil, pre, err
		}
	}
	hs, err := newHandshake(false, key, prologue, psk)
	if err != nil {
		return nil, pre, err
	}
	if _, _, err := hs.readMessage(n1); err != nil {
		return nil, pre, err
	}
	p2, err := json.Marshal(me)
	if err != nil {
		return nil, pre, err
	}
	m2, _, err := hs.writeMessage(p2)
	if err != nil {
		return nil, pre, err
	}
	if err := fc.writeFrame(ws.OpBinary, m2); err != nil {
		return nil, pre, err
	}
	m3, err := fc.readMessage()
	if err != nil {
		return nil, pre, err
	}
	payload, t, err := hs.readMessage(m3)
	if err != nil {
		return nil, pre, err
	}
	if t == nil {
		return nil, pre, fmt.Errorf("%w: handshake did not complete", ErrHandshake)
	}
	ih, err := decodeHello(payload)
	if err != nil {
		return nil, pre, err
	}
	pub := hs.peerStatic()
	if pub == nil {
		return nil, pre, fmt.Errorf("%w: no static key", ErrHandshake)
	}
	id := IDFromPublicKey(pub)
	return &secureConn{fc: fc, t: t, peerID: id, peerHello: ih, initiator: id}, pre, nil
}
