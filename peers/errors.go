package peers

import (
	"errors"
	"fmt"
)

// Errors callers branch on. The REST layer maps them to status codes; the
// suggested mapping is in brackets.
var (
	ErrUnknownPeer     = errors.New("peers: unknown peer")                                           // [404]
	ErrInvalidID       = errors.New("peers: invalid node id")                                        // [400]
	ErrInvalidRole     = errors.New("peers: invalid role")                                           // [400]
	ErrInvalidRequest  = errors.New("peers: invalid request")                                        // [400]
	ErrInvalidAddress  = errors.New("peers: invalid address")                                        // [400]
	ErrForbidden       = errors.New("peers: forbidden")                                              // [403]
	ErrUnauthorized    = errors.New("peers: this node is not authorized by the remote node")         // [403]
	ErrNotConnected    = errors.New("peers: peer not connected")                                     // [409]
	ErrConflict        = errors.New("peers: conflict on the remote node")                            // [409]
	ErrRateLimited     = errors.New("peers: rate limited")                                           // [429]
	ErrInviteInvalid   = errors.New("peers: invalid invite code")                                    // [400]
	ErrInviteExpired   = errors.New("peers: invite expired")                                         // [400]
	ErrInviteUsed      = errors.New("peers: invite already used")                                    // [409]
	ErrTooManyInvites  = errors.New("peers: too many open invites")                                  // [429]
	ErrPendingApproval = errors.New("peers: added; waiting for the remote node to approve this one") // [202]
	ErrPeerMismatch    = errors.New("peers: remote node id does not match")                          // [502]
	ErrHandshake       = errors.New("peers: handshake failed")                                       // [502]
	ErrRemoteNotFound  = errors.New("peers: not found on the remote node")                           // [404]
	ErrRemoteFailed    = errors.New("peers: the remote node failed the request")                     // [502]
	ErrNoListener      = errors.New("peers: the p2p listener is off")                                // [409]
	ErrClosed          = errors.New("peers: node closed")                                            // [503]
	ErrInvalidKeyFile  = errors.New("peers: invalid node key file")
)

// Wire error codes (the "code" of an error message). The set is fixed.
const (
	codeUnauthorizedPeer   = "unauthorized_peer"
	codeForbidden          = "forbidden"
	codeRateLimited        = "rate_limited"
	codeBusy               = "busy"
	codeBadRequest         = "bad_request"
	codeUnsupportedVersion = "unsupported_version"
	codeUnknownType        = "unknown_type"
	codeNotFound           = "not_found"
	codeConflict           = "conflict"
	codeInvalidProfile     = "invalid_profile"
	codeUnavailable        = "unavailable"
	codeReplay             = "replay"
	codeTooLarge           = "too_large"
	codeInternal           = "internal"
)

// RemoteError is an error message a peer answered with. errors.Is matches
// it against the sentinel of its code (forbidden → ErrForbidden,
// rate_limited and busy → ErrRateLimited, not_found → ErrRemoteNotFound,
// conflict → ErrConflict, bad_request, invalid_profile, unknown_type and
// unsupported_version → ErrInvalidRequest, unauthorized_peer →
// ErrUnauthorized, anything else → ErrRemoteFailed).
type RemoteError struct {
	Peer    NodeID
	Code    string
	Message string
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("peers: peer %s: %s", e.Peer.Short(), e.Code)
	}
	return fmt.Sprintf("peers: peer %s: %s: %s", e.Peer.Short(), e.Code, e.Message)
}

// Unwrap returns the sentinel of the code.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case codeForbidden:
		return ErrForbidden
	case codeRateLimited, codeBusy:
		return ErrRateLimited
	case codeNotFound:
		return ErrRemoteNotFound
	case codeConflict:
		return ErrConflict
	case codeBadRequest, codeInvalidProfile, codeUnknownType, codeUnsupportedVersion:
		return ErrInvalidRequest
	case codeUnauthorizedPeer:
		return ErrUnauthorized
	}
	return ErrRemoteFailed
}

// Internal connection errors (never returned by the API unwrapped).
var (
	errFrame         = errors.New("peers: websocket frame error")
	errTooBig        = errors.New("peers: message over the size limit")
	errDecrypt       = errors.New("peers: decrypt failed")
	errPeerClosed    = errors.New("peers: connection closed by peer")
	errProtocol      = errors.New("peers: protocol violation")
	errReplay        = errors.New("peers: replayed or reordered sequence number")
	errRevoked       = errors.New("peers: peer revoked")
	errReplaced      = errors.New("peers: session replaced by a newer one")
	errSessionClosed = errors.New("peers: session closed")
)
