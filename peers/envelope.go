package peers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"unicode/utf8"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// ProtocolVersion is the envelope and handshake version.
const ProtocolVersion = 1

// Message types.
const (
	msgPing         = "ping"
	msgPong         = "pong"
	msgGetStats     = "get_stats"
	msgGetLogs      = "get_logs"
	msgStartMiner   = "start_miner"
	msgStopMiner    = "stop_miner"
	msgRestartMiner = "restart_miner"
	msgResult       = "result"
	msgError        = "error"

	// Admin verbs: part of the protocol so that they can be named, but
	// no peer ever holds RoleAdmin, so they are always refused.
	msgAddPeer     = "add_peer"
	msgRemovePeer  = "remove_peer"
	msgApprovePeer = "approve_peer"
	msgSetRole     = "set_role"
	msgInvite      = "create_invite"
)

// required maps each request type to the role it needs. Responses are not
// in it.
var required = map[string]Role{
	msgPing:         RoleNone,
	msgGetStats:     RoleObserver,
	msgGetLogs:      RoleObserver,
	msgStartMiner:   RoleController,
	msgStopMiner:    RoleController,
	msgRestartMiner: RoleController,
	msgAddPeer:      RoleAdmin,
	msgRemovePeer:   RoleAdmin,
	msgApprovePeer:  RoleAdmin,
	msgSetRole:      RoleAdmin,
	msgInvite:       RoleAdmin,
}

// isCommand reports whether a request changes state (audited, its result
// cached by id, its seq persisted before it runs).
func isCommand(typ string) bool {
	return typ == msgStartMiner || typ == msgStopMiner || typ == msgRestartMiner
}

func isResponse(typ string) bool { return typ == msgPong || typ == msgResult || typ == msgError }

// envelope is every application message, JSON inside one Noise message:
//
//	{"v":1,"id":"…","type":"get_stats","reply_to":"…","seq":17,"body":{…}}
type envelope struct {
	V       int             `json:"v"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	ReplyTo string          `json:"reply_to,omitempty"`
	Seq     uint64          `json:"seq"`
	Body    json.RawMessage `json:"body,omitempty"`
}

const (
	// maxPlaintext is the largest envelope: a Noise message minus its tag.
	maxPlaintext = noiseMaxMessage - noiseTagSize
	// maxBody is what a single result body may use, leaving room for the
	// envelope's other fields.
	maxBody  = maxPlaintext - 512
	maxIDLen = 64
)

var (
	errUnsupportedVersion = errors.New("peers: unsupported protocol version")
	errUnknownType        = errors.New("peers: unknown message type")
)

// decodeEnvelope parses and validates one envelope. Unknown fields,
// trailing data, a missing or malformed id, seq 0, a response without
// reply_to or a request with one are errors. An unknown version or type
// returns errUnsupportedVersion or errUnknownType together with the
// envelope (its id is valid) so the receiver can answer it.
func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) > maxPlaintext {
		return e, fmt.Errorf("%w: envelope of %d bytes", errTooBig, len(b))
	}
	if err := strictUnmarshal(b, &e); err != nil {
		return envelope{}, fmt.Errorf("%w: envelope: %v", errProtocol, err)
	}
	if !validMsgID(e.ID) {
		return envelope{}, fmt.Errorf("%w: envelope id %q", errProtocol, e.ID)
	}
	if e.Seq == 0 {
		return envelope{}, fmt.Errorf("%w: envelope without seq", errProtocol)
	}
	if e.V != ProtocolVersion {
		return e, fmt.Errorf("%w: %d", errUnsupportedVersion, e.V)
	}
	switch {
	case isResponse(e.Type):
		if !validMsgID(e.ReplyTo) {
			return envelope{}, fmt.Errorf("%w: %s without a valid reply_to", errProtocol, e.Type)
		}
	case required[e.Type] != "":
		if e.ReplyTo != "" {
			return envelope{}, fmt.Errorf("%w: request %s with reply_to", errProtocol, e.Type)
		}
	default:
		if len(e.Type) > 64 || !utf8.ValidString(e.Type) {
			return envelope{}, fmt.Errorf("%w: bad type", errProtocol)
		}
		return e, fmt.Errorf("%w: %q", errUnknownType, e.Type)
	}
	if len(e.Body) > 0 && e.Body[0] != '{' {
		return envelope{}, fmt.Errorf("%w: body is not an object", errProtocol)
	}
	return e, nil
}

// validMsgID: 1-64 characters of [A-Za-z0-9_-].
func validMsgID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields
// and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeBody decodes a request body strictly; an empty body is {}.
func decodeBody(b json.RawMessage, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := strictUnmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return nil
}

// Bodies.

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	// LastSeq, on a replay error, is the highest sequence number the
	// refusing node accepted from the sender: a sender whose counter went
	// back (its data restored from an older copy) continues past it.
	LastSeq uint64 `json:"last_seq,omitempty"`
}

type nodeSummary struct {
	ID   NodeID   `json:"id"`
	Name string   `json:"name"`
	Role NodeRole `json:"role"`
}

type statsResult struct {
	Node   nodeSummary  `json:"node"`
	Miners []miner.Info `json:"miners"`
	More   bool         `json:"more,omitempty"`
}

type logsRequest struct {
	Miner string `json:"miner"`
	Lines int    `json:"lines,omitempty"`
	Since uint64 `json:"since,omitempty"`
	Strip bool   `json:"strip,omitempty"`
}

type logsResult struct {
	Lines []miner.LogLine `json:"lines"`
	More  bool            `json:"more,omitempty"`
	// Truncated is set when older lines were dropped to fit the limits.
	Truncated bool `json:"truncated,omitempty"`
}

type nameRequest struct {
	Name string `json:"name"`
}

type minerResult struct {
	Miner miner.Info `json:"miner"`
}

// StartSpec is a remote start request: either a profile stored on the
// remote node ({"profile_id": …}) or an inline profile ({"type": …,
// "profile": …}) that the remote adapter validates. A remote peer can never
// choose the binary that runs: there is no field for it.
type StartSpec struct {
	ProfileID string       `json:"profile_id,omitempty"`
	Type      string       `json:"type,omitempty"`
	Profile   *abi.Profile `json:"profile,omitempty"`
	// Name is the instance name (default "<type>-<algo>").
	Name string `json:"name,omitempty"`
	// Autostart marks the miner to start with the remote agent (nil:
	// the remote default, true).
	Autostart *bool `json:"autostart,omitempty"`
	// CommandID makes a retried request idempotent: the remote node runs
	// a command id once and answers repeats with the stored result. Empty:
	// a fresh random id.
	CommandID string `json:"command_id,omitempty"`
}

// validate checks the shape (not the profile: the remote adapter does).
func (s StartSpec) validate() error {
	switch {
	case s.ProfileID != "" && (s.Type != "" || s.Profile != nil):
		return fmt.Errorf("%w: give profile_id or type and profile, not both", ErrInvalidRequest)
	case s.ProfileID == "" && (s.Type == "" || s.Profile == nil):
		return fmt.Errorf("%w: give profile_id, or type and profile", ErrInvalidRequest)
	case len(s.ProfileID) > 128, len(s.Type) > 64, len(s.Name) > miner.MaxNameLen:
		return fmt.Errorf("%w: field too long", ErrInvalidRequest)
	case s.CommandID != "" && !validMsgID(s.CommandID):
		return fmt.Errorf("%w: command_id must be 1-64 characters of A-Z a-z 0-9 _ -", ErrInvalidRequest)
	}
	return nil
}

// Handshake payloads.

// hello is the handshake payload each side sends: the responder in
// message 2, the initiator in message 3 (both encrypted by Noise).
type hello struct {
	V    int      `json:"v"`
	Name string   `json:"name"`
	Role NodeRole `json:"role"`
	// Addr is where the sender listens ("" if it does not); a host left
	// empty or unspecified means "the address you see me at".
	Addr string `json:"addr,omitempty"`
	// Grant is the role the initiator grants the responder (message 3
	// only); informational.
	Grant Role `json:"grant,omitempty"`
}

const (
	maxHelloSize = 1024
	maxNameLen   = 64
	maxAddrLen   = 255
)

// decodeHello parses a hello. Unknown fields are ignored (newer minor
// versions may add some); sizes, the name, role and address are checked.
func decodeHello(b []byte) (hello, error) {
	var h hello
	if len(b) > maxHelloSize {
		return h, fmt.Errorf("%w: hello of %d bytes", ErrHandshake, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&h); err != nil {
		return hello{}, fmt.Errorf("%w: hello: %v", ErrHandshake, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return hello{}, fmt.Errorf("%w: hello: trailing data", ErrHandshake)
	}
	if h.V != ProtocolVersion {
		return hello{}, fmt.Errorf("%w: protocol version %d, want %d", ErrHandshake, h.V, ProtocolVersion)
	}
	if err := checkName(h.Name); err != nil {
		return hello{}, fmt.Errorf("%w: hello: %v", ErrHandshake, err)
	}
	if !h.Role.valid() {
		return hello{}, fmt.Errorf("%w: hello: node role %q", ErrHandshake, h.Role)
	}
	if h.Addr != "" {
		if _, err := normalizeAddr(h.Addr, true); err != nil {
			return hello{}, fmt.Errorf("%w: hello: %v", ErrHandshake, err)
		}
	}
	if h.Grant != "" && !h.Grant.grantable() {
		return hello{}, fmt.Errorf("%w: hello: grant %q", ErrHandshake, h.Grant)
	}
	return h, nil
}

// checkName: 1-64 bytes of printable UTF-8.
func checkName(s string) error {
	if s == "" || len(s) > maxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("node name must be 1-%d bytes of UTF-8", maxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("node name has control characters")
		}
	}
	return nil
}

// authFrame is the responder's first transport message: the verdict on
// the initiator, sent before any envelope is read.
type authFrame struct {
	Status string `json:"status"` // "ok" or "unauthorized_peer"
	// Role is what the initiator may do on the responder.
	Role Role `json:"role,omitempty"`
	// Paired is set when this handshake redeemed an invite.
	Paired bool `json:"paired,omitempty"`
}

// unauthorizedFrame is the one fixed frame an unknown node gets.
var unauthorizedFrame = []byte(`{"status":"unauthorized_peer"}`)

func decodeAuth(b []byte) (authFrame, error) {
	var a authFrame
	if len(b) > maxHelloSize {
		return a, fmt.Errorf("%w: auth frame of %d bytes", ErrHandshake, len(b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return authFrame{}, fmt.Errorf("%w: auth frame: %v", ErrHandshake, err)
	}
	switch a.Status {
	case "ok":
		if !a.Role.grantable() {
			return authFrame{}, fmt.Errorf("%w: auth frame: role %q", ErrHandshake, a.Role)
		}
	case codeUnauthorizedPeer:
	default:
		return authFrame{}, fmt.Errorf("%w: auth frame: status %q", ErrHandshake, a.Status)
	}
	return a, nil
}

// The first WebSocket message of a connection starts with a clear-text
// header, then Noise message 1:
//
//	"rigd/p2p" | version (1 byte, 1) | mode (1 byte) [| invite id (8 bytes)]
//
// mode 0 is Noise_XX_25519_ChaChaPoly_BLAKE2s, mode 1 is
// Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s redeeming the invite whose id
// follows. The header is the Noise prologue, so changing it breaks the
// handshake.
var helloMagic = []byte("rigd/p2p")

const (
	modeXX       byte = 0
	modeInvite   byte = 1
	inviteIDSize      = 8
)

type preamble struct {
	mode     byte
	inviteID [inviteIDSize]byte
}

func (p preamble) bytes() []byte {
	b := append(append([]byte(nil), helloMagic...), ProtocolVersion, p.mode)
	if p.mode == modeInvite {
		b = append(b, p.inviteID[:]...)
	}
	return b
}

// parsePreamble splits the first message into its header and the Noise
// message that follows.
func parsePreamble(msg []byte) (preamble, []byte, []byte, error) {
	var p preamble
	n := len(helloMagic) + 2
	if len(msg) < n || !bytes.Equal(msg[:len(helloMagic)], helloMagic) {
		return p, nil, nil, fmt.Errorf("%w: not a rigd p2p hello", ErrHandshake)
	}
	if v := msg[len(helloMagic)]; v != ProtocolVersion {
		return p, nil, nil, fmt.Errorf("%w: protocol version %d, want %d", ErrHandshake, v, ProtocolVersion)
	}
	p.mode = msg[len(helloMagic)+1]
	switch p.mode {
	case modeXX:
	case modeInvite:
		if len(msg) < n+inviteIDSize {
			return p, nil, nil, fmt.Errorf("%w: short invite hello", ErrHandshake)
		}
		copy(p.inviteID[:], msg[n:])
		n += inviteIDSize
	default:
		return p, nil, nil, fmt.Errorf("%w: mode %d", ErrHandshake, p.mode)
	}
	return p, msg[:n], msg[n:], nil
}

// normalizeAddr checks "host:port" (a "ws://host:port[/p2p/v1]" URL is
// accepted too) and returns it. allowEmptyHost admits ":9091".
func normalizeAddr(addr string, allowEmptyHost bool) (string, error) {
	if len(addr) > maxAddrLen {
		return "", fmt.Errorf("%w: too long", ErrInvalidAddress)
	}
	a := addr
	if len(a) > 5 && a[:5] == "ws://" {
		a = a[5:]
		if len(a) >= len(Path) && a[len(a)-len(Path):] == Path {
			a = a[:len(a)-len(Path)]
		}
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidAddress, addr, err)
	}
	if host == "" && !allowEmptyHost {
		return "", fmt.Errorf("%w: %q has no host", ErrInvalidAddress, addr)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c <= ' ' || c == '/' || c == '?' || c == '#' || c == '@' || c >= 0x7f {
			return "", fmt.Errorf("%w: %q has a bad host", ErrInvalidAddress, addr)
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%w: %q has a bad port", ErrInvalidAddress, addr)
	}
	return net.JoinHostPort(host, port), nil
}
