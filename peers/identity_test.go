package peers

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", KeyFileName)
	k1, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o, want 0600", fi.Mode().Perm())
	}
	if fi.Size() != 32 {
		t.Fatalf("size %d", fi.Size())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sub", ".node.key.tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	k2, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1 != k2 {
		t.Fatal("second start made a new key")
	}

	// Two processes starting at once end up with one key.
	race := filepath.Join(t.TempDir(), KeyFileName)
	var wg sync.WaitGroup
	keys := make([]keyPair, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := loadOrCreateKey(race)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatal("concurrent first starts disagree on the key")
		}
	}

	if runtime.GOOS != "windows" {
		os.Chmod(path, 0o644)
		if _, err := loadOrCreateKey(path); !errors.Is(err, ErrInvalidKeyFile) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("0644 key: %v", err)
		}
		os.Chmod(path, 0o600)
		link := filepath.Join(dir, "link.key")
		os.Symlink(path, link)
		if _, err := loadOrCreateKey(link); !errors.Is(err, ErrInvalidKeyFile) {
			t.Fatalf("symlinked key: %v", err)
		}
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("0123456789"), 0o600)
	if _, err := loadOrCreateKey(short); !errors.Is(err, ErrInvalidKeyFile) || !strings.Contains(err.Error(), "10 bytes") {
		t.Fatalf("short key: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "dir.key"), 0o700)
	if _, err := loadOrCreateKey(filepath.Join(dir, "dir.key")); !errors.Is(err, ErrInvalidKeyFile) {
		t.Fatalf("directory as key: %v", err)
	}
	// New refuses to start with a bad key.
	if _, err := New(t.Context(), Config{KeyFile: short, Local: newFakeLocal(), Store: NewMemStore()}); !errors.Is(err, ErrInvalidKeyFile) {
		t.Fatalf("New with a bad key: %v", err)
	}
}

func TestNodeID(t *testing.T) {
	k, _ := generateKeyPair()
	id := IDFromPublicKey(k.public[:])
	s := id.String()
	if len(s) != 41 || strings.Count(s, "-") != 6 {
		t.Fatalf("full form %q", s)
	}
	if sh := id.Short(); len(sh) != 11 || !strings.HasPrefix(s, sh) {
		t.Fatalf("short form %q of %q", sh, s)
	}
	for _, in := range []string{s, strings.ToLower(s), strings.ReplaceAll(s, "-", ""), " " + strings.ReplaceAll(s, "-", " ") + "\n"} {
		got, err := ParseNodeID(in)
		if err != nil || got != id {
			t.Fatalf("ParseNodeID(%q) = %v, %v", in, got, err)
		}
	}
	// Every single-character change is caught.
	compact := id.compact()
	for i := range compact {
		for _, c := range b32Alphabet {
			if byte(c) == compact[i] {
				continue
			}
			bad := compact[:i] + string(c) + compact[i+1:]
			if got, err := ParseNodeID(bad); err == nil {
				t.Fatalf("changing position %d to %c was accepted as %v", i, c, got)
			}
		}
	}
	for _, bad := range []string{"", "ABC", s + "A", strings.Replace(s, s[:1], "1", 1), strings.Repeat("A", 35)} {
		if _, err := ParseNodeID(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseNodeID(%q): %v", bad, err)
		}
	}
	b, _ := json.Marshal(struct{ ID NodeID }{id})
	var back struct{ ID NodeID }
	if err := json.Unmarshal(b, &back); err != nil || back.ID != id || !bytes.Contains(b, []byte(s)) {
		t.Fatalf("JSON round trip: %s %v", b, err)
	}
	if (NodeID{}).String() != "" || !(NodeID{}).IsZero() {
		t.Fatal("zero id")
	}
	// The id is a hash of the key with a label: another key, another id.
	k2, _ := generateKeyPair()
	if IDFromPublicKey(k2.public[:]) == id {
		t.Fatal("two keys, one id")
	}
}

func TestInviteCode(t *testing.T) {
	k, _ := generateKeyPair()
	id := IDFromPublicKey(k.public[:])
	c, err := newInviteCode(id)
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	got, err := parseInviteCode(strings.ToLower(s))
	if err != nil || got != c || !got.matches(id) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if len(c.psk()) != 32 || bytes.Equal(c.psk(), c.secret[:]) {
		t.Fatal("psk")
	}
	if _, err := parseInviteCode(id.String()); !errors.Is(err, ErrInviteInvalid) {
		t.Fatal("a node id parsed as an invite")
	}
	n := normalizeCode(s)
	for i := range n {
		bad := n[:i] + string(b32Alphabet[(strings.IndexByte(b32Alphabet, n[i])+1)%32]) + n[i+1:]
		if _, err := parseInviteCode(bad); err == nil {
			t.Fatalf("typo at %d accepted", i)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, s := range []string{"none", "observer", "Controller "} {
		if _, err := ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	for _, s := range []string{"admin", "", "root"} {
		if _, err := ParseRole(s); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	if r, err := ParseNodeRole("dual"); err != nil || r != NodeDual {
		t.Fatal(r, err)
	}
	if _, err := ParseNodeRole("boss"); err == nil {
		t.Fatal("node role boss")
	}
	if NodeController.cap() != RoleObserver || NodeWorker.cap() != RoleController {
		t.Fatal("caps")
	}
}
