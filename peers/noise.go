package peers

// This file is the only one that imports github.com/flynn/noise. Its errors
// never leave it unwrapped: they become ErrHandshake or errDecrypt with
// the library's text.

import (
	"fmt"

	"github.com/flynn/noise"
)

// noiseSuite is Noise_XX_25519_ChaChaPoly_BLAKE2s (and its psk3 variant).
var noiseSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

const (
	// noiseMaxMessage is the largest Noise message (ciphertext), 65,535 bytes.
	noiseMaxMessage = noise.MaxMsgLen
	// noiseTagSize is the AEAD tag added to every encrypted payload.
	noiseTagSize = 16
	// pskSize is the Noise pre-shared key size.
	pskSize = 32
)

// handshake is one side of an XX (or XXpsk3) handshake.
type handshake struct {
	hs        *noise.HandshakeState
	initiator bool
}

// newHandshake starts a handshake. prologue is mixed into the transcript
// (both sides must use the same bytes); a non-nil psk selects XXpsk3.
func newHandshake(initiator bool, key keyPair, prologue, psk []byte) (*handshake, error) {
	cfg := noise.Config{
		CipherSuite:   noiseSuite,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      prologue,
		StaticKeypair: noise.DHKey{Private: key.private[:], Public: key.public[:]},
	}
	if psk != nil {
		if len(psk) != pskSize {
			return nil, fmt.Errorf("%w: psk is %d bytes", ErrHandshake, len(psk))
		}
		cfg.PresharedKey = psk
		cfg.PresharedKeyPlacement = 3
	}
	hs, err := noise.NewHandshakeState(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return &handshake{hs: hs, initiator: initiator}, nil
}

// writeMessage returns the next handshake message carrying payload. After
// the last message it also returns the transport ciphers.
func (h *handshake) writeMessage(payload []byte) ([]byte, *transport, error) {
	msg, cs1, cs2, err := h.hs.WriteMessage(nil, payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return msg, h.split(cs1, cs2), nil
}

// readMessage processes the peer's next handshake message and returns its
// payload. After the last message it also returns the transport ciphers.
func (h *handshake) readMessage(msg []byte) ([]byte, *transport, error) {
	if len(msg) > noiseMaxMessage {
		return nil, nil, fmt.Errorf("%w: message of %d bytes", ErrHandshake, len(msg))
	}
	payload, cs1, cs2, err := h.hs.ReadMessage(nil, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return payload, h.split(cs1, cs2), nil
}

// peerStatic returns the peer's static public key once it has been read
// (after message 2 for the initiator, message 3 for the responder).
func (h *handshake) peerStatic() []byte {
	k := h.hs.PeerStatic()
	if len(k) != keySize {
		return nil
	}
	return append([]byte(nil), k...)
}

func (h *handshake) split(cs1, cs2 *noise.CipherState) *transport {
	if cs1 == nil || cs2 == nil {
		return nil
	}
	// cs1 encrypts initiator→responder, cs2 responder→initiator.
	if h.initiator {
		return &transport{send: cs1, recv: cs2}
	}
	return &transport{send: cs2, recv: cs1}
}

// transport holds the two directions' ciphers after the handshake. send is
// used only by the connection's writer, recv only by its reader; each
// advances its nonce on every message, so a replayed, dropped, reordered
// or modified message fails to decrypt.
type transport struct {
	send, recv *noise.CipherState
}

// encrypt appends the ciphertext of plaintext to out.
func (t *transport) encrypt(out, plaintext []byte) ([]byte, error) {
	if len(plaintext)+noiseTagSize > noiseMaxMessage {
		return nil, fmt.Errorf("%w: plaintext of %d bytes", errTooBig, len(plaintext))
	}
	c, err := t.send.Encrypt(out, nil, plaintext)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	return c, nil
}

// decrypt appends the plaintext of ciphertext to out. Any failure is
// final: the caller closes the session.
func (t *transport) decrypt(out, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) > noiseMaxMessage || len(ciphertext) < noiseTagSize {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes", errDecrypt, len(ciphertext))
	}
	p, err := t.recv.Decrypt(out, nil, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDecrypt, err)
	}
	return p, nil
}
