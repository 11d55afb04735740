package peers

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"
)

// Invite is a single-use pairing secret made by Node.Invite. Its code is
// what the user copies to the other node, which redeems it with
// AddPeer(ctx, Address, Code).
type Invite struct {
	// Code is the copyable invite: 39 base32 characters and a check
	// character in eight groups of five. It carries the 128-bit secret
	// and the first 64 bits of the inviter's node ID (so the redeemer
	// knows whom it reached).
	Code string `json:"invite"`
	// NodeID and Address tell the redeemer whom and where to dial.
	NodeID  NodeID `json:"node_id"`
	Address string `json:"address"`
	// Role is what the redeemer will be allowed to do on this node.
	Role    Role      `json:"role"`
	Expires time.Time `json:"expires"`
}

const (
	inviteSecretSize = 16 // 128 bits
	invitePinSize    = 8  // bytes of the inviter's node id in the code
	inviteCodeChars  = 39 // base32 of secret + pin
	inviteCodeLen    = inviteCodeChars + 1

	// DefaultInviteTTL is how long an invite can be redeemed.
	DefaultInviteTTL = 10 * time.Minute
	// maxOpenInvites bounds the invites waiting to be redeemed.
	maxOpenInvites = 32
)

// inviteCode is a decoded invite code.
type inviteCode struct {
	secret [inviteSecretSize]byte
	pin    [invitePinSize]byte
}

func newInviteCode(inviter NodeID) (inviteCode, error) {
	var c inviteCode
	if _, err := rand.Read(c.secret[:]); err != nil {
		return c, fmt.Errorf("peers: invite secret: %w", err)
	}
	copy(c.pin[:], inviter[:])
	return c, nil
}

// String renders the code in groups of five with a check character.
func (c inviteCode) String() string {
	s := b32.EncodeToString(append(c.secret[:], c.pin[:]...))
	return group(s+string(luhn32(s)), 5)
}

// id is what the redeemer sends in clear to name the invite: 64 bits of
// SHA-256 over a label and the secret. It reveals nothing useful about the
// secret.
func (c inviteCode) id() [inviteIDSize]byte {
	var id [inviteIDSize]byte
	h := sha256.Sum256(append([]byte("rigd invite id v1"), c.secret[:]...))
	copy(id[:], h[:])
	return id
}

// psk is the 256-bit Noise pre-shared key derived from the secret.
func (c inviteCode) psk() []byte {
	h := sha256.Sum256(append([]byte("rigd invite psk v1"), c.secret[:]...))
	return h[:]
}

// matches reports whether the inviter's node id agrees with the pin.
func (c inviteCode) matches(id NodeID) bool {
	return [invitePinSize]byte(id[:invitePinSize]) == c.pin
}

// parseInviteCode decodes a code; any typo is ErrInviteInvalid.
func parseInviteCode(s string) (inviteCode, error) {
	var c inviteCode
	n := normalizeCode(s)
	if len(n) != inviteCodeLen || !isBase32(n) {
		return c, fmt.Errorf("%w: want 40 characters of A-Z and 2-7", ErrInviteInvalid)
	}
	data := n[:inviteCodeChars]
	if luhn32(data) != n[inviteCodeChars] {
		return c, fmt.Errorf("%w: check character does not match (mistyped?)", ErrInviteInvalid)
	}
	b, err := b32.DecodeString(data)
	if err != nil || len(b) != inviteSecretSize+invitePinSize {
		return c, fmt.Errorf("%w: does not decode", ErrInviteInvalid)
	}
	copy(c.secret[:], b)
	copy(c.pin[:], b[inviteSecretSize:])
	if b32.EncodeToString(b) != data {
		return inviteCode{}, fmt.Errorf("%w: not canonical", ErrInviteInvalid)
	}
	return c, nil
}

// inviteState is an open invite on the inviter's side (in memory only: a
// restart forgets open invites).
type inviteState struct {
	code    inviteCode
	role    Role
	expires time.Time
	// used is set by the first handshake that proves the secret.
	used bool
}
