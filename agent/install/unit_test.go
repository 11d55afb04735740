package install

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

func TestParseSHA256Sums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 64)
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  bool
	}{
		{"binary mode", a + " *xmrig-6.16.0-linux-static-x64.tar.gz\n", map[string]string{"xmrig-6.16.0-linux-static-x64.tar.gz": a}, false},
		{"text mode, CRLF, upper hex", b + "  file.zip\r\n", map[string]string{"file.zip": strings.ToLower(b)}, false},
		{"single space, ./ prefix", a + " ./dir/f\n", map[string]string{"dir/f": a}, false},
		{"BSD", "SHA256 (x (1).zip) = " + a + "\n", map[string]string{"x (1).zip": a}, false},
		{"escaped name", `\` + a + ` *we\\ird\nname` + "\n", map[string]string{"we\\ird\nname": a}, false},
		{"comments and junk skipped", "# sums\n\nnot a line\n" + a + " *f\n" + "xyz *g\n", map[string]string{"f": a}, false},
		{"same twice is fine", a + " *f\n" + a + "  f\n", map[string]string{"f": a}, false},
		{"conflicting twice", a + " *f\n" + strings.Repeat("c", 64) + " *f\n", nil, true},
		{"nothing", "<html>\n", nil, true},
		{"short hex", strings.Repeat("a", 63) + "  f\n", nil, true},
		{"no name", a + " *\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSHA256Sums([]byte(tc.in))
			if (err != nil) != tc.err || !maps.Equal(got, tc.want) {
				t.Errorf("parse(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseSHA256Sums(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 64) + " *xmrig-6.16.0-linux-static-x64.tar.gz\n"))
	f.Add([]byte("SHA256 (a) = " + strings.Repeat("0", 64)))
	f.Add([]byte(`\` + strings.Repeat("f", 64) + ` *a\nb\\c`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := parseSHA256Sums(data)
		if err != nil {
			return
		}
		if len(sums) == 0 {
			t.Fatal("no error and no sums")
		}
		for name, d := range sums {
			if name == "" || strings.HasPrefix(name, "./") || strings.IndexByte(name, 0) >= 0 {
				t.Fatalf("bad name %q", name)
			}
			if !isSHA256Hex(d) {
				t.Fatalf("bad digest %q", d)
			}
		}
	})
}

func TestSanitizeEntryName(t *testing.T) {
	ok := map[string]string{
		"xmrig-6.16.0/xmrig": "xmrig-6.16.0/xmrig",
		"./xmrig":            "xmrig",
		"a//b/":              "a/b",
		`win\dir\x.exe`:      "win/dir/x.exe",
		"./":                 ".",
		".":                  ".",
		"a/./b":              "a/b",
		"..a/b..":            "..a/b..",
	}
	for in, want := range ok {
		if got, err := sanitizeEntryName(in); err != nil || got != want {
			t.Errorf("sanitize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "../x", "a/../b", "a/..", `..\x`, `C:\x`, "c:x", "a\x00b", "//x", strings.Repeat("a/", 70) + "x", strings.Repeat("x", 5000)} {
		if got, err := sanitizeEntryName(in); !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("sanitize(%.60q) = %q, %v; want ErrUnsafeEntry", in, got, err)
		}
	}
}

func FuzzSanitizeEntryName(f *testing.F) {
	for _, s := range []string{"xmrig-6.16.0/xmrig", "../../etc/cron.d/x", "/abs", `C:\x`, "./", "a/./../b", `a\..\b`} {
		f.Add(s)
	}
	root := filepath.Join(string(filepath.Separator), "install", "root")
	f.Fuzz(func(t *testing.T, name string) {
		c, err := sanitizeEntryName(name)
		if err != nil {
			if !errors.Is(err, ErrUnsafeEntry) {
				t.Fatalf("error %v is not ErrUnsafeEntry", err)
			}
			return
		}
		if c == "." {
			return
		}
		if strings.ContainsAny(c, "\x00\\") || strings.HasPrefix(c, "/") || !filepath.IsLocal(filepath.FromSlash(c)) {
			t.Fatalf("sanitize(%q) = %q: not a clean local path", name, c)
		}
		for _, el := range strings.Split(c, "/") {
			if el == ".." || el == "." || el == "" {
				t.Fatalf("sanitize(%q) = %q: element %q", name, c, el)
			}
		}
		if j := filepath.Join(root, filepath.FromSlash(c)); !strings.HasPrefix(j, root+string(filepath.Separator)) {
			t.Fatalf("sanitize(%q) = %q joins to %q, outside %q", name, c, j, root)
		}
	})
}

func TestCheckLink(t *testing.T) {
	x := &extractor{kinds: map[string]entryKind{"dir": kindDir, "dir/sub": kindDir, "dir/link": kindSymlink, "top": kindSymlink}}
	good := []pendingLink{{"dir/a", "sub/x"}, {"dir/a", "../dir/sub"}, {"dir/a", "link"}, {"dir/sub/a", "../../top"}, {"a", "dir/./sub/"}}
	bad := []pendingLink{{"a", "/"}, {"a", "/etc"}, {"a", ".."}, {"dir/a", "../.."}, {"dir/a", "link/x"}, {"dir/a", "link/.."}, {"a", "top/.."}, {"a", ""}, {"a", `..\x`}}
	for _, l := range good {
		if err := x.checkLink(l); err != nil {
			t.Errorf("checkLink(%v) = %v", l, err)
		}
	}
	for _, l := range bad {
		if err := x.checkLink(l); !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("checkLink(%v) = %v, want ErrUnsafeEntry", l, err)
		}
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestZipBombStopsAtCap extracts bombs directly, so the bytes written before
// the failure can be counted: never more than the cap, and fast.
func TestZipBombStopsAtCap(t *testing.T) {
	const limit = 1 << 20
	inst, err := New(Config{DataDir: t.TempDir(), MaxExtractBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 600<<10)
	tests := []struct {
		name   string
		format string
		data   []byte
		want   error
	}{
		{"zip: 5 GB of zeros", formatZip, zipBomb(t, nil, "bomb", 0), ErrTooLarge},
		{"zip: 5 GB of zeros claiming 1000 bytes", formatZip, zipBomb(t, nil, "bomb", 1000), ErrUnsupportedArchive},
		{"zip: 5 GB of zeros claiming the cap", formatZip, zipBomb(t, nil, "bomb", limit), ErrUnsupportedArchive},
		{"zip: bad CRC", formatZip, zipBytes(t, zEntry{name: "a", raw: true, body: deflate(t, []byte("hello")), claimed: 5, crc: 12345}), ErrUnsupportedArchive},
		{"zip: entries summing over the cap", formatZip, zipBytes(t, zEntry{name: "a", body: zeros}, zEntry{name: "b", body: zeros}), ErrTooLarge},
		{"tar.gz: 5 GB of zeros", formatTarGz, tarGzBomb(t, []tEntry{{name: "a", body: "x"}}, "bomb"), ErrTooLarge},
		{"tar.gz: entries summing over the cap", formatTarGz, tarGz(t, tEntry{name: "a", body: string(zeros)}, tEntry{name: "b", body: string(zeros)}), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "archive")
			os.WriteFile(src, tc.data, 0o644)
			dst := filepath.Join(dir, "root")
			start := time.Now()
			_, err := inst.extractFile(context.Background(), tc.format, src, dst)
			el := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Fatalf("extract = %v, want %v", err, tc.want)
			}
			if n := dirBytes(t, dst); n > limit {
				t.Errorf("wrote %d bytes, over the %d cap", n, limit)
			}
			if el > 5*time.Second {
				t.Errorf("took %v: the bomb was decompressed", el)
			}
		})
	}
}

// The copy itself stops at the cap when no size is claimed.
func TestExtractorCapsUnclaimedSize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	x, err := newExtractor(context.Background(), dir, 1000, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.file("a", 0o644, -1, bytes.NewReader(make([]byte, 600))); err != nil {
		t.Fatal(err)
	}
	if err := x.file("b", 0o644, -1, bytes.NewReader(make([]byte, 5000))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
	if n := dirBytes(t, dir); n != 1000 {
		t.Errorf("wrote %d bytes, want exactly the 1000 cap", n)
	}
	// Exactly at the cap is fine.
	dir2 := filepath.Join(t.TempDir(), "root")
	x2, _ := newExtractor(context.Background(), dir2, 1000, 10)
	defer x2.Close()
	if err := x2.file("a", 0o644, -1, bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Errorf("at the cap: %v", err)
	}
	// A canceled context stops extraction.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x3, _ := newExtractor(ctx, filepath.Join(t.TempDir(), "root"), 1000, 10)
	defer x3.Close()
	if err := x3.file("a", 0o644, -1, bytes.NewReader(make([]byte, 10))); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"6.16.0", "6.16.0", 0},
		{"6.16.0", "6.21.0", -1},
		{"6.9.0", "6.10.0", -1},
		{"v6.16.0", "6.16.0", 0},
		{"6.16", "6.16.0", 0},
		{"6.16.0.1", "6.16.0", 1},
		{"6.21.0-beta", "6.21.0", -1},
		{"6.21.0-beta.2", "6.21.0-beta.10", -1},
		{"6.21.0-alpha", "6.21.0-beta", -1},
		{"6.21.0-1", "6.21.0-alpha", -1},
		{"6.21.0-beta", "6.21.0-beta.1", -1},
		{"6.21.0+build5", "6.21.0", 0},
		{"2023.1.0", "6.21.0", 1},
		{"99999999999999999999.0", "1.0", 1},
	}
	for _, tc := range tests {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestSelectAsset(t *testing.T) {
	meta := xmrigMeta()
	meta.Release.Assets = []abi.Asset{
		{OS: "windows", Arch: "amd64", Name: "win-{version}.zip", Archive: "zip", Binary: "xmrig.exe"},
		{OS: "linux", Arch: "amd64", Name: "old-{version}.tar.gz", Archive: "tar.gz", Binary: "xmrig", BeforeVersion: "6.0.0"},
		{OS: "linux", Arch: "amd64", Name: "new-{version}.tar.gz", Archive: "tar.gz", Binary: "xmrig-{version}/xmrig", MinVersion: "6.0.0"},
		{OS: "linux", Arch: "arm64", Name: "bad/{version}", Archive: "tar.gz", Binary: "x"},
	}
	for _, tc := range []struct{ os, arch, version, name, bin string }{
		{"linux", "amd64", "5.11.1", "old-5.11.1.tar.gz", "xmrig"},
		{"linux", "amd64", "6.0.0", "new-6.0.0.tar.gz", "xmrig-6.0.0/xmrig"},
		{"linux", "amd64", "6.16.0", "new-6.16.0.tar.gz", "xmrig-6.16.0/xmrig"},
		{"windows", "amd64", "6.16.0", "win-6.16.0.zip", "xmrig.exe"},
	} {
		a, err := selectAsset(&meta, tc.os, tc.arch, tc.version)
		if err != nil || a.Name != tc.name || a.Binary != tc.bin {
			t.Errorf("selectAsset(%s/%s %s) = %+v, %v", tc.os, tc.arch, tc.version, a, err)
		}
	}
	for _, tc := range []struct{ os, arch string }{{"darwin", "arm64"}, {"linux", "arm64"}} {
		if _, err := selectAsset(&meta, tc.os, tc.arch, "6.16.0"); !errors.Is(err, ErrNoAsset) {
			t.Errorf("selectAsset(%s/%s) = %v", tc.os, tc.arch, err)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{
		"bytes 100-199/200": {100, 200, 1},
		"bytes 0-0/*":       {0, -1, 1},
		"bytes 100-99/200":  {0, 0, 0},
		"bytes 100-199/150": {0, 0, 0},
		"items 1-2/3":       {0, 0, 0},
		"bytes x-1/2":       {0, 0, 0},
	} {
		s, tot, ok := parseContentRange(in)
		if ok != (want[2] == 1) || ok && (s != want[0] || tot != want[1]) {
			t.Errorf("parseContentRange(%q) = %d %d %v", in, s, tot, ok)
		}
	}
}

func TestProbeVersion(t *testing.T) {
	bin := fakeXMRigBinary(t)
	ctx := context.Background()
	vp := abi.VersionProbe{Args: []string{"--version"}, Regex: `XMRig (\d+\.\d+\.\d+)`}
	if v, err := ProbeVersion(ctx, bin, vp); err != nil || v != "6.16.0" {
		t.Errorf("ProbeVersion = %q, %v", v, err)
	}
	if v, err := ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--version"}}); err != nil || v != "6.16.0" {
		t.Errorf("default regex: %q, %v", v, err)
	}
	// Exit status 2 and no match: the error says what came out.
	_, err := ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--help"}, Regex: vp.Regex})
	if !errors.Is(err, ErrVersionProbe) || !strings.Contains(err.Error(), "usage: xmrig") {
		t.Errorf("no match: %v", err)
	}
	// Lots of output is capped, not buffered without end.
	_, err = ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--noise"}, Regex: vp.Regex})
	if !errors.Is(err, ErrVersionProbe) || len(err.Error()) > 2000 {
		t.Errorf("noise: %.300v", err)
	}
	// A hanging binary is killed when ctx ends.
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ProbeVersion(tctx, bin, abi.VersionProbe{Args: []string{"--sleep"}, Regex: vp.Regex})
	if !errors.Is(err, ErrVersionProbe) || time.Since(start) > 5*time.Second {
		t.Errorf("hanging binary: %v after %v", err, time.Since(start))
	}
	if left := processesRunning(bin, "--sleep"); left != 0 {
		t.Errorf("%d probed processes still running", left)
	}
	// A binary that prints its version and runs on is stopped at once.
	start = time.Now()
	if v, err := ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--mine"}, Regex: `XMRig/(\d+\.\d+\.\d+)`}); err != nil || v != "6.16.0" || time.Since(start) > 5*time.Second {
		t.Errorf("version then work: %q, %v after %v", v, err, time.Since(start))
	}
	if left := processesRunning(bin, "--mine"); left != 0 {
		t.Errorf("%d probed processes still running", left)
	}
	if _, err := ProbeVersion(ctx, filepath.Join(t.TempDir(), "missing"), vp); !errors.Is(err, ErrVersionProbe) {
		t.Errorf("missing binary: %v", err)
	}
	if _, err := ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--version"}, Regex: `XMRig`}); err == nil {
		t.Error("regex without submatch accepted")
	}
	if _, err := ProbeVersion(ctx, bin, abi.VersionProbe{Args: []string{"--version"}, Regex: `(XMRig .*)`}); !errors.Is(err, ErrInvalidVersion) {
		t.Errorf("version that is no version: %v", err)
	}
	if runtime.GOOS != "windows" {
		notExec := filepath.Join(t.TempDir(), "x")
		os.WriteFile(notExec, []byte("just text"), 0o755)
		if _, err := ProbeVersion(ctx, notExec, vp); !errors.Is(err, ErrVersionProbe) {
			t.Errorf("not an executable: %v", err)
		}
	}
}

func TestHTTPErrorText(t *testing.T) {
	e := &HTTPError{URL: "https://api.github.com/x", StatusCode: 403, rateLimit: true, Reset: time.Unix(1748782800, 0), Message: "API rate limit exceeded"}
	s := e.Error()
	for _, want := range []string{"rate limit", "403", "https://api.github.com/x", "2025-06-01T13:00:00Z", "API rate limit exceeded"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if !errors.Is(&HTTPError{StatusCode: 502}, ErrUnavailable) || !errors.Is(&HTTPError{StatusCode: 404}, ErrNotFound) || errors.Unwrap(&HTTPError{StatusCode: 401}) != nil {
		t.Error("HTTPError classification")
	}
}

// processesRunning counts processes whose command line is binary followed
// by arg (Linux /proc; 0 elsewhere).
func processesRunning(binary, arg string) int {
	want := binary + "\x00" + arg + "\x00"
	n := 0
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n = 0
		dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range dirs {
			if b, err := os.ReadFile(p); err == nil && string(b) == want {
				n++
			}
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
	}
}
