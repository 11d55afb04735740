package peers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// Path is the HTTP path of the P2P WebSocket endpoint.
const Path = "/p2p/v1"

// Transport limits. gobwas/ws enforces none; every read goes through
// frameConn, which checks a frame's declared length before reading or
// allocating anything for it.
const (
	// MaxFrame is the largest WebSocket frame payload accepted.
	MaxFrame = 64 << 10
	// MaxMessage is the largest WebSocket message (all of its frames)
	// accepted. Every message carries one Noise message, whose own limit
	// is 65,535 bytes.
	MaxMessage = 64 << 10
	// maxControlBurst is how many control frames may arrive between two
	// data frames before the connection is closed.
	maxControlBurst = 64
	// upgradeBufferSize bounds the HTTP upgrade request's lines.
	upgradeBufferSize = 4096
)

// frameConn reads and writes WebSocket frames on one connection with
// explicit limits. Reads come from one goroutine and writes from one
// goroutine (they may be different).
type frameConn struct {
	conn   net.Conn
	r      *bufio.Reader
	server bool // peer frames must be masked; ours are not

	hdr [ws.MaxHeaderSize - 2]byte

	// onPing receives the payload of a ping frame (the reader's
	// goroutine calls it; it must not block).
	onPing func([]byte)

	wbuf bytes.Buffer
}

func newFrameConn(conn net.Conn, br *bufio.Reader, server bool) *frameConn {
	if br == nil {
		br = bufio.NewReaderSize(conn, 4096)
	}
	return &frameConn{conn: conn, r: br, server: server}
}

// closeError is a close frame received from the peer.
type closeError struct {
	code   ws.StatusCode
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("peers: connection closed by peer (%d %s)", e.code, e.reason)
}

func (e *closeError) Unwrap() error { return errPeerClosed }

// readMessage returns the payload of the next binary message. Control
// frames are handled on the way (ping → onPing, pong ignored, close →
// error). Text messages, reserved bits or opcodes, wrong masking, frames
// or messages over the limits are errors.
func (f *frameConn) readMessage() ([]byte, error) {
	var msg []byte
	fragmented := false
	controls := 0
	for {
		h, err := ws.ReadHeaderBuffer(f.r, f.hdr[:])
		if err != nil {
			return nil, readErr(err)
		}
		state := ws.StateClientSide
		if f.server {
			state = ws.StateServerSide
		}
		if fragmented {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, fmt.Errorf("%w: %v", errFrame, err)
		}
		if h.Length < 0 || h.Length > MaxFrame || int64(len(msg))+h.Length > MaxMessage {
			return nil, fmt.Errorf("%w: frame declares %d bytes (limit %d per frame and message)", errTooBig, h.Length, MaxFrame)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(f.r, payload); err != nil {
			return nil, readErr(err)
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			return nil, &closeError{code: code, reason: reason}
		case ws.OpPing, ws.OpPong:
			if controls++; controls > maxControlBurst {
				return nil, fmt.Errorf("%w: %d control frames in a row", errFrame, controls)
			}
			if h.OpCode == ws.OpPing && f.onPing != nil {
				f.onPing(payload)
			}
			continue
		case ws.OpText:
			return nil, fmt.Errorf("%w: text message (only binary messages are used)", errFrame)
		case ws.OpBinary, ws.OpContinuation:
			controls = 0
			msg = append(msg, payload...)
			if h.Fin {
				return msg, nil
			}
			fragmented = true
		default:
			return nil, fmt.Errorf("%w: opcode %d", errFrame, h.OpCode)
		}
	}
}

func readErr(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%w: %v", errPeerClosed, err)
	case errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, ws.ErrHeaderLengthUnexpected):
		return fmt.Errorf("%w: %v", errTooBig, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("%w: %v", errPeerClosed, err) // timeouts included
	}
	return fmt.Errorf("%w: %v", errFrame, err)
}

// writeFrame writes one complete frame (masked when we are the client).
func (f *frameConn) writeFrame(op ws.OpCode, payload []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))}
	if !f.server {
		h.Masked = true
		h.Mask = ws.NewMask()
	}
	f.wbuf.Reset()
	if err := ws.WriteHeader(&f.wbuf, h); err != nil {
		return fmt.Errorf("%w: %v", errFrame, err)
	}
	start := f.wbuf.Len()
	f.wbuf.Write(payload)
	if h.Masked {
		ws.Cipher(f.wbuf.Bytes()[start:], h.Mask, 0)
	}
	if _, err := f.conn.Write(f.wbuf.Bytes()); err != nil {
		return fmt.Errorf("%w: %v", errPeerClosed, err)
	}
	if f.wbuf.Cap() > 2*MaxFrame {
		f.wbuf = bytes.Buffer{}
	}
	return nil
}

// writeClose writes a close frame with a status code and reason.
func (f *frameConn) writeClose(code ws.StatusCode, reason string) error {
	return f.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// lingerClose half-closes conn after a refusal and discards (never
// parses) what the peer still sends for a moment, so that the refusal is
// not destroyed by a reset; then it closes.
func lingerClose(conn net.Conn) {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := conn.(closeWriter); ok {
		cw.CloseWrite()
		conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		io.CopyN(io.Discard, conn, 64<<10)
	}
	conn.Close()
}

// Close status codes of the pairing step (private range 4000-4999).
const (
	closeInviteInvalid ws.StatusCode = 4001
	closeInviteExpired ws.StatusCode = 4002
	closeInviteUsed    ws.StatusCode = 4003
)

// upgradeServer performs the server side of the WebSocket upgrade on conn:
// GET /p2p/v1 only, no Origin header (browsers always send one, so a web
// page can never reach the P2P port), request lines at most 4 KiB.
func upgradeServer(conn net.Conn) (*frameConn, error) {
	u := ws.Upgrader{
		ReadBufferSize:  upgradeBufferSize,
		WriteBufferSize: 512,
		OnRequest: func(uri []byte) error {
			if string(uri) != Path {
				return ws.RejectConnectionError(ws.RejectionStatus(404), ws.RejectionReason("not found"))
			}
			return nil
		},
		OnHeader: func(key, _ []byte) error {
			if bytes.EqualFold(key, []byte("Origin")) || bytes.EqualFold(key, []byte("Sec-WebSocket-Origin")) {
				return ws.RejectConnectionError(ws.RejectionStatus(403), ws.RejectionReason("origin not allowed"))
			}
			return nil
		},
	}
	if _, err := u.Upgrade(conn); err != nil {
		return nil, fmt.Errorf("%w: upgrade: %v", ErrHandshake, err)
	}
	return newFrameConn(conn, nil, true), nil
}

// dialWS connects to addr ("host:port") and upgrades to a WebSocket at
// Path. wrap, if not nil, wraps the TCP connection (tests).
func dialWS(ctx context.Context, addr string, timeout time.Duration, wrap func(net.Conn) net.Conn) (*frameConn, error) {
	d := ws.Dialer{
		Timeout:         timeout,
		ReadBufferSize:  4096,
		WriteBufferSize: 1024,
		WrapConn:        wrap,
	}
	conn, br, _, err := d.Dial(ctx, "ws://"+addr+Path)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrHandshake, addr, int(se))
		}
		return nil, fmt.Errorf("%w: dial %s: %v", ErrNotConnected, addr, err)
	}
	return newFrameConn(conn, br, false), nil
}
