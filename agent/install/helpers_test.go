package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// testTmp holds what tests share (the fake XMRig build); made by TestMain.
var testTmp string

func TestMain(m *testing.M) {
	var err error
	testTmp, err = os.MkdirTemp("", "rigd-install-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(testTmp)
	if code == 0 {
		if leaks := leakedGoroutines(); leaks != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to 5 s for goroutines started by this package's
// code (HTTP connections, child processes) to end and returns the stacks
// of those that did not.
func leakedGoroutines() string {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	var bad []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		bad = bad[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "TestMain") || strings.Contains(g, "leakedGoroutines") {
				continue
			}
			if strings.Contains(g, "agent/install.") || strings.Contains(g, "net/http.") || strings.Contains(g, "os/exec.") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- a fake XMRig, built once per test binary ---

const fakeXMRigSource = `package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	for _, a := range os.Args[1:] {
		switch a {
		case "--version":
			v := "6.16.0"
			if b, err := os.ReadFile("fake-version"); err == nil {
				v = strings.TrimSpace(string(b))
			}
			// Colour codes as the real XMRig prints them.
			fmt.Printf("\x1b[1;37mXMRig %s\x1b[0m\n built on Dec  1 2021 with GCC 10.3.1\n features: 64-bit AES\n", v)
			return
		case "--sleep":
			time.Sleep(time.Hour)
		case "--mine":
			// A miner that does not know --version: its banner, then work.
			fmt.Println(" * ABOUT        XMRig/6.16.0 gcc/10.3.1")
			time.Sleep(time.Hour)
		case "--noise":
			for i := 0; i < 200000; i++ {
				fmt.Println("lots of output without any version in it")
			}
			os.Exit(3)
		}
	}
	fmt.Fprintln(os.Stderr, "usage: xmrig --version")
	os.Exit(2)
}
`

var fakeXMRig struct {
	once sync.Once
	path string
	err  error
}

// fakeXMRigBinary returns a tiny Go program that answers --version like
// XMRig 6.16.0 (or the version in ./fake-version), built once.
func fakeXMRigBinary(t testing.TB) string {
	t.Helper()
	fakeXMRig.once.Do(func() {
		dir := filepath.Join(testTmp, "fakexmrig")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fakeXMRig.err = err
			return
		}
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fakexmrig\n\ngo 1.26\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(fakeXMRigSource), 0o644)
		goBin, err := exec.LookPath("go")
		if err != nil {
			fakeXMRig.err = err
			return
		}
		out := filepath.Join(dir, "xmrig")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
		if b, err := cmd.CombinedOutput(); err != nil {
			fakeXMRig.err = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		fakeXMRig.path = out
	})
	if fakeXMRig.err != nil {
		t.Fatalf("building the fake XMRig: %v", fakeXMRig.err)
	}
	return fakeXMRig.path
}

func fakeXMRigBytes(t testing.TB) []byte {
	b, err := os.ReadFile(fakeXMRigBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- metadata ---

// xmrigMeta is a minimal adapter metadata for XMRig: tar.gz assets with a
// SHA256SUMS file, binary inside a versioned directory.
func xmrigMeta() abi.Metadata {
	return abi.Metadata{
		Name:        "xmrig",
		DisplayName: "XMRig",
		Version:     "1.0.0",
		Release: abi.Release{
			GitHub:    "xmrig/xmrig",
			TagPrefix: "v",
			Assets: []abi.Asset{{
				OS: runtime.GOOS, Arch: runtime.GOARCH,
				Name:    "xmrig-{version}-linux-static-x64.tar.gz",
				Archive: "tar.gz",
				Binary:  "xmrig-{version}/xmrig",
			}},
			Checksum: abi.Checksum{File: "SHA256SUMS", Format: abi.ChecksumSHA256Sums},
		},
		VersionProbe: abi.VersionProbe{Args: []string{"--version"}, Regex: `XMRig (\d+\.\d+\.\d+)`},
	}
}

// zipMeta is like xmrigMeta with zip assets.
func zipMeta() abi.Metadata {
	m := xmrigMeta()
	m.Name = "zminer"
	m.Release.GitHub = "zminer/zminer"
	m.Release.Assets[0].Name = "zminer-{version}.zip"
	m.Release.Assets[0].Archive = "zip"
	m.Release.Assets[0].Binary = "zminer-{version}/zminer"
	return m
}

// tofuMeta is a miner that publishes no checksums (TT-Miner style), zip.
func tofuMeta() abi.Metadata {
	m := zipMeta()
	m.Name = "ttminer"
	m.Release.GitHub = "tt/ttminer"
	m.Release.TagPrefix = ""
	m.Release.Assets[0].Name = "TT-Miner-{version}.zip"
	m.Release.Assets[0].Binary = "TT-Miner"
	m.Release.Checksum = abi.Checksum{Format: abi.ChecksumNone}
	return m
}

func assetName(meta abi.Metadata, version string) string {
	return expand(meta.Release.Assets[0].Name, version)
}

func binaryName(meta abi.Metadata, version string) string {
	return expand(meta.Release.Assets[0].Binary, version)
}

// --- archives ---

type tEntry struct {
	name string
	body string
	mode int64
	typ  byte   // tar type; 0 = regular
	link string // link target
	size int64  // claimed size when > 0 (tar only; the body is written as is)
}

func tarGz(t testing.TB, entries ...tEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	writeTar(t, gz, entries)
	gz.Close()
	return buf.Bytes()
}

// tarPlain is an uncompressed tar.
func tarPlain(t testing.TB, entries ...tEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	writeTar(t, &buf, entries)
	return buf.Bytes()
}

// writeTar writes entries; an entry with a claimed size leaves the archive
// unfinished right after its body.
func writeTar(t testing.TB, w io.Writer, entries []tEntry) {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
			if e.size > 0 {
				h.Size = e.size
			}
		}
		if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
		if e.size > 0 { // a lying or huge header: leave the archive unfinished
			return
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

type zEntry struct {
	name string
	body []byte
	mode fs.FileMode // 0 = 0644 file (0755 for names ending in the binary)
	// raw: write body as the compressed deflate stream and claim this
	// uncompressed size.
	raw     bool
	claimed uint64
	crc     uint32 // raw only; 0 means unset (archive/zip then skips the check)
}

func zipBytes(t testing.TB, entries ...zEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		if e.raw {
			h.CompressedSize64 = uint64(len(e.body))
			h.UncompressedSize64 = e.claimed
			h.CRC32 = e.crc
			w, err := zw.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.body)
			continue
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goodArchive is a release archive of meta at version holding binary.
func goodArchive(t testing.TB, meta abi.Metadata, version string, binary []byte) []byte {
	bin := binaryName(meta, version)
	if meta.Release.Assets[0].Archive == "zip" {
		entries := []zEntry{{name: bin, body: binary, mode: 0o755}, {name: path.Dir(bin) + "/README.md", body: []byte("readme")}}
		if path.Dir(bin) == "." {
			entries[1].name = "README.md"
		}
		return zipBytes(t, entries...)
	}
	entries := []tEntry{{name: path.Dir(bin) + "/", typ: tar.TypeDir, mode: 0o755}, {name: bin, body: string(binary), mode: 0o755}, {name: path.Dir(bin) + "/config.json", body: "{}"}}
	return tarGz(t, entries...)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// --- a fake GitHub: releases API and release downloads ---

type fakeGitHub struct {
	srv *httptest.Server

	mu       sync.Mutex
	files    map[string][]byte
	handlers map[string]http.HandlerFunc
	hits     map[string]int
	ranges   []string
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	g := &fakeGitHub{files: map[string][]byte{}, handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	g.srv = httptest.NewServer(g) // listens on 127.0.0.1
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.hits[r.URL.Path]++
	if rg := r.Header.Get("Range"); rg != "" {
		g.ranges = append(g.ranges, rg)
	}
	h := g.handlers[r.URL.Path]
	body, ok := g.files[r.URL.Path]
	g.mu.Unlock()
	switch {
	case h != nil:
		h(w, r)
	case ok:
		w.Header().Set("ETag", `"`+sha256Hex(body)[:16]+`"`)
		http.ServeContent(w, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(body))
	default:
		http.NotFound(w, r)
	}
}

func downloadPath(repo, tag, file string) string {
	return "/" + repo + "/releases/download/" + tag + "/" + file
}

func latestPath(repo string) string { return "/repos/" + repo + "/releases/latest" }

// release publishes files under tag, with a SHA256SUMS listing them all
// when sums is set.
func (g *fakeGitHub) release(meta abi.Metadata, version string, files map[string][]byte, sums bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tag := meta.Release.TagPrefix + version
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		g.files[downloadPath(meta.Release.GitHub, tag, name)] = files[name]
		lines = append(lines, sha256Hex(files[name])+" *"+name)
	}
	if sums {
		lines = append(lines, strings.Repeat("ab", 32)+" *xmrig-"+version+"-other-platform.tar.gz")
		g.files[downloadPath(meta.Release.GitHub, tag, "SHA256SUMS")] = []byte(strings.Join(lines, "\n") + "\n")
	}
}

func (g *fakeGitHub) setFile(p string, body []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files[p] = body
}

func (g *fakeGitHub) handle(p string, h http.HandlerFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handlers[p] = h
}

func (g *fakeGitHub) hitCount(p string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[p]
}

func (g *fakeGitHub) rangeHeaders() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ranges)
}

// setLatest makes the releases API answer tag.
func (g *fakeGitHub) setLatest(meta abi.Metadata, tag string) {
	g.handle(latestPath(meta.Release.GitHub), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"tag_name": %q, "name": "XMRig", "assets": []}`, tag)
	})
}

// --- a test environment: server, clock, installer in <outer>/data ---

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testEnv struct {
	t     *testing.T
	gh    *fakeGitHub
	clock *fakeClock
	outer string // holds data/ and nothing else the installer may write
	data  string
	inst  *Installer
}

func newEnv(t *testing.T, mutate ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, gh: newFakeGitHub(t), clock: &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}}
	e.outer = t.TempDir()
	e.data = filepath.Join(e.outer, "data")
	cfg := Config{
		DataDir:         e.data,
		ReleaseBaseURL:  e.gh.srv.URL,
		APIBaseURL:      e.gh.srv.URL,
		MaxExtractBytes: 1 << 20,
		MaxExtractFiles: 50,
		DownloadTimeout: 30 * time.Second,
		Now:             e.clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	inst, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.inst = inst
	return e
}

func (e *testEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// installGood publishes and installs a good release of meta at version
// with binary content body.
func (e *testEnv) installGood(meta abi.Metadata, version string, body []byte) Installed {
	e.t.Helper()
	e.gh.release(meta, version, map[string][]byte{assetName(meta, version): goodArchive(e.t, meta, version, body)}, meta.Release.Checksum.Format == abi.ChecksumSHA256Sums)
	got, err := e.inst.Install(e.ctx(), meta, version, nil)
	if err != nil {
		e.t.Fatalf("installing good %s %s: %v", meta.Name, version, err)
	}
	return got
}

// assertWorks checks that version is the current one and intact.
func (e *testEnv) assertWorks(typ, version string, body []byte) {
	e.t.Helper()
	bin, v, err := e.inst.Binary(typ)
	if err != nil || v != version {
		e.t.Fatalf("Binary(%s) = %q, %q, %v; want version %s", typ, bin, v, err, version)
	}
	if err := e.inst.Verify(typ, ""); err != nil {
		e.t.Fatalf("Verify(%s) after: %v", typ, err)
	}
	if got, err := os.ReadFile(bin); err != nil || !bytes.Equal(got, body) {
		e.t.Fatalf("binary %s: %v, content differs: %v", bin, err, !bytes.Equal(got, body))
	}
}

// snapshot describes every path under dir: "d", "f <sha256> <perm>" or
// "l <target>".
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "l " + target
		case d.IsDir():
			out[rel] = "d"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, _ := d.Info()
			out[rel] = fmt.Sprintf("f %s %v", sha256Hex(b), fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(before, after map[string]string) string {
	var d []string
	for k, v := range after {
		if w, ok := before[k]; !ok {
			d = append(d, "+ "+k+" "+v)
		} else if w != v {
			d = append(d, "~ "+k+" "+w+" -> "+v)
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			d = append(d, "- "+k+" "+v)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n")
}

// assertNoTemp checks that no work directory or temp file is left.
func assertNoTemp(t testing.TB, data string) {
	t.Helper()
	for p := range snapshot(t, data) {
		if strings.Contains(p, tmpPrefix) {
			t.Errorf("left behind: %s", p)
		}
	}
}

// --- real 5 GiB bombs in a few MB ---

const bombSize = 5 << 30

var zeroChunk struct {
	once sync.Once
	b    []byte
}

// deflateBomb returns a raw deflate stream of prefix followed by mib MiB of
// zeros. Each MiB is the same self-contained compressed chunk (it only
// refers back into its own output), so the stream is built by repetition
// instead of compressing gigabytes.
func deflateBomb(t testing.TB, prefix []byte, mib int) []byte {
	t.Helper()
	zeroChunk.once.Do(func() {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(make([]byte, 1<<20))
		w.Flush() // ends on a byte boundary, not final
		zeroChunk.b = buf.Bytes()
	})
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(prefix)
	w.Flush()
	buf.Grow(mib*len(zeroChunk.b) + 5)
	for k := 0; k < mib; k++ {
		buf.Write(zeroChunk.b)
	}
	buf.Write([]byte{1, 0, 0, 0xff, 0xff}) // final empty stored block
	return buf.Bytes()
}

// zipBomb is a zip whose entry name decompresses to 5 GiB of zeros and
// says so (claimed 0) or claims a size of its own.
func zipBomb(t testing.TB, before []zEntry, name string, claimed uint64) []byte {
	if claimed == 0 {
		claimed = bombSize
	}
	return zipBytes(t, append(before, zEntry{name: name, raw: true, body: deflateBomb(t, nil, bombSize>>20), claimed: claimed})...)
}

// tarGzBomb is a tar.gz with the entries before, then name: a regular file
// of 5 GiB of zeros (an honest header), compressed to a few MB.
func tarGzBomb(t testing.TB, before []tEntry, name string) []byte {
	var prefix bytes.Buffer
	tw := tar.NewWriter(&prefix)
	for _, e := range before {
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(e.body))})
		tw.Write([]byte(e.body))
	}
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: bombSize})
	tw.Flush() // pads the previous entry; the header is already written
	var out bytes.Buffer
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	out.Write(deflateBomb(t, prefix.Bytes(), bombSize>>20))
	out.Write(make([]byte, 8)) // CRC-32 and size: never reached
	return out.Bytes()
}
