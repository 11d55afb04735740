package peers

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeyFileName is the node key's file name inside the data directory.
const KeyFileName = "node.key"

// keySize is the size of an X25519 private or public key.
const keySize = 32

// keyPair is the node's static X25519 key.
type keyPair struct {
	private [keySize]byte
	public  [keySize]byte
}

// newKeyPair derives the public key of an X25519 private key.
func newKeyPair(private []byte) (keyPair, error) {
	var kp keyPair
	if len(private) != keySize {
		return kp, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalidKeyFile, len(private), keySize)
	}
	pk, err := ecdh.X25519().NewPrivateKey(private)
	if err != nil {
		return kp, fmt.Errorf("%w: %v", ErrInvalidKeyFile, err)
	}
	copy(kp.private[:], private)
	copy(kp.public[:], pk.PublicKey().Bytes())
	return kp, nil
}

// generateKeyPair makes a fresh random key.
func generateKeyPair() (keyPair, error) {
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return keyPair{}, err
	}
	return newKeyPair(b)
}

// loadOrCreateKey reads the node key at path, creating it on first start.
//
// The file holds the 32 raw bytes of the X25519 private key. It is created
// with mode 0600 through a temporary file in the same directory that is
// synced and then linked into place, so a crash never leaves a partial key
// and two agents starting at once never overwrite each other's key. An
// existing file is refused if it is not a regular file, is readable or
// writable by group or others, or is not exactly 32 bytes.
func loadOrCreateKey(path string) (keyPair, error) {
	kp, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kp, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return kp, fmt.Errorf("peers: create key directory: %w", err)
	}
	kp, err = generateKeyPair()
	if err != nil {
		return kp, fmt.Errorf("peers: generate node key: %w", err)
	}
	if err := writeKeyFile(path, kp.private[:]); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use that one.
			return loadKey(path)
		}
		return kp, err
	}
	return kp, nil
}

func loadKey(path string) (keyPair, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return keyPair{}, err // fs.ErrNotExist is the caller's cue to create it
	}
	if !fi.Mode().IsRegular() {
		return keyPair{}, fmt.Errorf("%w: %s is not a regular file (%s)", ErrInvalidKeyFile, path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return keyPair{}, fmt.Errorf("%w: %s has mode %04o, which lets other users read or change it; run `chmod 600 %s`",
			ErrInvalidKeyFile, path, fi.Mode().Perm(), path)
	}
	if fi.Size() != keySize {
		return keyPair{}, fmt.Errorf("%w: %s is %d bytes, want %d (an X25519 private key); move it away to make a new identity",
			ErrInvalidKeyFile, path, fi.Size(), keySize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return keyPair{}, fmt.Errorf("peers: read node key: %w", err)
	}
	if len(b) != keySize {
		return keyPair{}, fmt.Errorf("%w: %s changed size while reading", ErrInvalidKeyFile, path)
	}
	return newKeyPair(b)
}

// writeKeyFile writes key to path atomically: temporary file (0600), write,
// fsync, hard link to path (fails if path exists), remove the temporary
// name, fsync the directory. Where hard links are not supported it falls
// back to rename after checking that path does not exist.
func writeKeyFile(path string, key []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".node.key.tmp-*")
	if err != nil {
		return fmt.Errorf("peers: write node key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("peers: write node key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("peers: write node key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("peers: write node key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("peers: write node key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if _, serr := os.Lstat(path); serr == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("peers: write node key: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// NodeID identifies a node. It is the first 168 bits of
//
//	SHA-256("rigd node id v1" || X25519 static public key)
//
// and is written as 34 base32 characters (RFC 4648 alphabet A-Z 2-7) plus
// one Luhn mod 32 check character, in seven groups of five:
// "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY-Z2345-67ABC". The check character catches
// any single mistyped character and most swapped neighbours. The short
// form, the first two groups ("ABCDE-FGHIJ", 50 bits), is for display
// only: the API accepts it where it names exactly one known or pending
// peer.
type NodeID [21]byte

const (
	nodeIDLabel    = "rigd node id v1"
	nodeIDChars    = 34 // base32 characters of the 21 bytes
	nodeIDTextLen  = nodeIDChars + 1
	shortIDTextLen = 10
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

const b32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// IDFromPublicKey returns the node ID of an X25519 public key.
func IDFromPublicKey(pub []byte) NodeID {
	h := sha256.New()
	h.Write([]byte(nodeIDLabel))
	h.Write(pub)
	var id NodeID
	copy(id[:], h.Sum(nil))
	return id
}

// IsZero reports whether id is the zero value (no node).
func (id NodeID) IsZero() bool { return id == NodeID{} }

// compact is the 35-character form without separators.
func (id NodeID) compact() string {
	s := b32.EncodeToString(id[:])
	return s + string(luhn32(s))
}

// String returns the full form, seven dash-separated groups of five.
func (id NodeID) String() string {
	if id.IsZero() {
		return ""
	}
	return group(id.compact(), 5)
}

// Short returns the display form: the first two groups.
func (id NodeID) Short() string {
	if id.IsZero() {
		return ""
	}
	return group(id.compact()[:shortIDTextLen], 5)
}

// MarshalText implements encoding.TextMarshaler (the full form).
func (id NodeID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseNodeID accepts.
func (id *NodeID) UnmarshalText(b []byte) error {
	v, err := ParseNodeID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseNodeID parses the full form of a node ID. Case, dashes and spaces
// do not matter; the check character must be right.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	c := normalizeCode(s)
	if len(c) != nodeIDTextLen {
		return id, fmt.Errorf("%w: %q is not 35 base32 characters", ErrInvalidID, s)
	}
	data, check := c[:nodeIDChars], c[nodeIDChars]
	if !isBase32(c) {
		return id, fmt.Errorf("%w: %q has characters outside A-Z and 2-7", ErrInvalidID, s)
	}
	if luhn32(data) != check {
		return id, fmt.Errorf("%w: %q fails its check character (mistyped?)", ErrInvalidID, s)
	}
	b, err := b32.DecodeString(data)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: %q does not decode", ErrInvalidID, s)
	}
	copy(id[:], b)
	if b32.EncodeToString(id[:]) != data { // non-zero padding bits
		return NodeID{}, fmt.Errorf("%w: %q is not canonical", ErrInvalidID, s)
	}
	if id.IsZero() {
		return NodeID{}, fmt.Errorf("%w: the zero id", ErrInvalidID)
	}
	return id, nil
}

// normalizeCode upper-cases s and drops dashes and white space.
func normalizeCode(s string) string {
	if len(s) > 256 {
		return ""
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(b32Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// luhn32 returns the Luhn mod 32 check character of s (base32 alphabet).
func luhn32(s string) byte {
	const n = 32
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		code := strings.IndexByte(b32Alphabet, s[i])
		if code < 0 {
			return 0
		}
		addend := factor * code
		if factor == 2 {
			factor = 1
		} else {
			factor = 2
		}
		sum += addend/n + addend%n
	}
	return b32Alphabet[(n-sum%n)%n]
}

// group inserts a dash every size characters.
func group(s string, size int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += size {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+size, len(s))])
	}
	return b.String()
}

// Role is what a peer may do on this node. The receiving node enforces it.
type Role string

// Roles, weakest first. RoleAdmin exists only on the rig itself (the local
// CLI and REST API); it is never granted to a peer.
const (
	// RoleNone pairs the nodes (they may connect and ping) and grants
	// nothing else. A node that redeems an invite stores the inviter with
	// this role.
	RoleNone Role = "none"
	// RoleObserver may read stats and logs.
	RoleObserver Role = "observer"
	// RoleController may also start, stop and restart miners.
	RoleController Role = "controller"
	// RoleAdmin may edit the allow-list; only the local user has it.
	RoleAdmin Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleObserver:
		return 1
	case RoleController:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// valid reports whether r can be granted to a peer.
func (r Role) grantable() bool {
	return r == RoleNone || r == RoleObserver || r == RoleController
}

// ParseRole parses a role that can be granted to a peer (none, observer,
// controller); "admin" and anything else is ErrInvalidRole.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.grantable() {
		return "", fmt.Errorf("%w: %q (want none, observer or controller; admin is never granted to a peer)", ErrInvalidRole, s)
	}
	return r, nil
}

// NodeRole says what a node is for. A controller-only node does not mine:
// it accepts at most observer requests from its peers, whatever role they
// were granted. Workers and dual nodes accept what the peer's role allows.
type NodeRole string

// Node roles.
const (
	NodeController NodeRole = "controller"
	NodeWorker     NodeRole = "worker"
	NodeDual       NodeRole = "dual"
)

func (r NodeRole) valid() bool { return r == NodeController || r == NodeWorker || r == NodeDual }

// ParseNodeRole parses controller, worker or dual.
func ParseNodeRole(s string) (NodeRole, error) {
	r := NodeRole(strings.ToLower(strings.TrimSpace(s)))
	if !r.valid() {
		return "", fmt.Errorf("%w: node role %q (want controller, worker or dual)", ErrInvalidRole, s)
	}
	return r, nil
}

// cap is the strongest role this node accepts from any peer.
func (r NodeRole) cap() Role {
	if r == NodeController {
		return RoleObserver
	}
	return RoleController
}
