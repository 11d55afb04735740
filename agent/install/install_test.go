package install

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

var (
	v1Body = []byte("#!fake xmrig 6.16.0 binary\n")
	v2Body = []byte("#!fake xmrig 6.21.0 binary, a bit longer\n")
)

func TestInstallTarGz(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxExtractBytes = 64 << 20 })
	meta := xmrigMeta()
	body := fakeXMRigBytes(t)
	archive := goodArchive(t, meta, "6.16.0", body)
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): archive}, true)

	var reports []Progress
	got, err := e.inst.Install(e.ctx(), meta, "6.16.0", func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(e.data, "miners", "xmrig", "6.16.0")
	if got.Version != "6.16.0" || got.Dir != wantDir || got.Binary != filepath.Join(wantDir, "xmrig-6.16.0", "xmrig") ||
		got.Trust != TrustSHA256Sums || !got.Current || got.Unchanged || got.Pinned ||
		got.BinarySHA256 != sha256Hex(body) || got.ArchiveSHA256 != sha256Hex(archive) ||
		got.Asset != "xmrig-6.16.0-linux-static-x64.tar.gz" ||
		got.Source != e.gh.srv.URL+"/xmrig/xmrig/releases/download/v6.16.0/xmrig-6.16.0-linux-static-x64.tar.gz" ||
		!got.InstalledAt.Equal(e.clock.Now()) {
		t.Errorf("Installed = %+v", got)
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done || reports[len(reports)-1].Bytes != int64(len(archive)) ||
		reports[len(reports)-1].Total != int64(len(archive)) || reports[len(reports)-1].File != got.Asset {
		t.Errorf("progress reports = %+v", reports)
	}
	fi, err := os.Stat(got.Binary)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(wantDir, "xmrig-6.16.0", "config.json")); err != nil || string(b) != "{}" {
		t.Errorf("config.json: %q, %v", b, err)
	}
	// The installed binary runs and reports its version.
	if v, err := ProbeVersion(e.ctx(), got.Binary, meta.VersionProbe); err != nil || v != "6.16.0" {
		t.Errorf("ProbeVersion(installed) = %q, %v", v, err)
	}
	e.assertWorks("xmrig", "6.16.0", body)
	list, err := e.inst.Installed("xmrig")
	if err != nil || len(list) != 1 || list[0].Version != "6.16.0" || !list[0].Current {
		t.Errorf("Installed() = %+v, %v", list, err)
	}
	assertNoTemp(t, e.data)
	// The record on disk is what doc.go says.
	raw, err := os.ReadFile(filepath.Join(e.data, "miners", "xmrig", "installed.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"current": "6.16.0"`, `"binary": "xmrig-6.16.0/xmrig"`, `"trust": "sha256sums"`, `"binary_sha256": "` + sha256Hex(body) + `"`, `"archive_sha256": "` + sha256Hex(archive) + `"`, `"installed_at": "2025-06-01T12:00:00Z"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("installed.json lacks %s:\n%s", want, raw)
		}
	}
}

func TestInstallZip(t *testing.T) {
	e := newEnv(t)
	meta := zipMeta()
	got := e.installGood(meta, "1.2.3", v1Body)
	if got.Binary != filepath.Join(e.data, "miners", "zminer", "1.2.3", "zminer-1.2.3", "zminer") || got.Trust != TrustSHA256Sums {
		t.Errorf("Installed = %+v", got)
	}
	if fi, err := os.Stat(got.Binary); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary mode: %v %v", fi, err)
	}
	e.assertWorks("zminer", "1.2.3", v1Body)
	assertNoTemp(t, e.data)
}

func TestInstallBareBinaryAsset(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	meta.Release.Assets[0].Archive = "binary"
	meta.Release.Assets[0].Name = "xmrig-{version}-linux"
	e.gh.release(meta, "6.16.0", map[string][]byte{"xmrig-6.16.0-linux": v1Body}, true)
	got, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Binary != filepath.Join(e.data, "miners", "xmrig", "6.16.0", "xmrig") {
		t.Errorf("binary at %s", got.Binary)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
}

func TestInstallLatestAndAgainIsNoop(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.gh.setLatest(meta, "v6.16.0")
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): goodArchive(t, meta, "6.16.0", v1Body)}, true)
	got, err := e.inst.Install(e.ctx(), meta, "", nil)
	if err != nil || got.Version != "6.16.0" {
		t.Fatalf("Install(latest) = %+v, %v", got, err)
	}
	assetPath := downloadPath("xmrig/xmrig", "v6.16.0", assetName(meta, "6.16.0"))
	if n := e.gh.hitCount(assetPath); n != 1 {
		t.Fatalf("asset fetched %d times", n)
	}
	before := snapshot(t, e.outer)
	again, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil || !again.Unchanged || again.BinarySHA256 != got.BinarySHA256 {
		t.Fatalf("second Install = %+v, %v", again, err)
	}
	if n := e.gh.hitCount(assetPath); n != 1 {
		t.Errorf("asset fetched again (%d)", n)
	}
	if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
		t.Errorf("a no-op install changed files:\n%s", d)
	}
}

// TestInstallBadDownloads: every failure of the release server leaves the
// data directory as it was and the installed version working.
func TestInstallBadDownloads(t *testing.T) {
	meta := xmrigMeta()
	const v2 = "6.21.0"
	asset := assetName(meta, v2)
	assetPath := downloadPath("xmrig/xmrig", "v"+v2, asset)
	sumsPath := downloadPath("xmrig/xmrig", "v"+v2, "SHA256SUMS")
	good := func(t *testing.T) []byte { return goodArchive(t, meta, v2, v2Body) }

	tests := []struct {
		name  string
		setup func(t *testing.T, e *testEnv)
		cfg   func(*Config)
		want  error
		check func(t *testing.T, err error)
	}{
		{
			name: "checksum mismatch",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.setFile(assetPath, goodArchive(t, meta, v2, []byte("tampered")))
			},
			want: ErrChecksumMismatch,
			check: func(t *testing.T, err error) {
				var de *DigestError
				if !errors.As(err, &de) || de.Expected == de.Actual || !isSHA256Hex(de.Expected) || !strings.Contains(de.Path, asset) {
					t.Errorf("want a *DigestError naming the asset, got %#v", err)
				}
			},
		},
		{
			name: "asset missing from SHA256SUMS",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.setFile(sumsPath, []byte(sha256Hex(good(t))+" *xmrig-6.21.0-macos-x64.tar.gz\n"))
			},
			want: ErrNotListed,
		},
		{
			name: "SHA256SUMS is garbage",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.setFile(sumsPath, []byte("<html>not a checksum file</html>\n"))
			},
			want: ErrNotListed,
		},
		{
			name: "SHA256SUMS 404",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, false)
			},
			want: ErrNotFound,
		},
		{
			name: "asset 404",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.handle(assetPath, http.NotFound)
			},
			want: ErrNotFound,
			check: func(t *testing.T, err error) {
				var he *HTTPError
				if !errors.As(err, &he) || he.StatusCode != 404 || !strings.Contains(he.URL, assetPath) {
					t.Errorf("want *HTTPError 404 for the asset, got %v", err)
				}
			},
		},
		{
			name: "asset 500",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.handle(assetPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
			},
			want: ErrUnavailable,
		},
		{
			name: "asset 403 rate limited",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.handle(assetPath, rateLimited)
			},
			want: ErrRateLimited,
		},
		{
			name: "truncated: Content-Length lies, every time",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				body := good(t)
				e.gh.handle(assetPath, func(w http.ResponseWriter, r *http.Request) { closeEarly(t, w, body, len(body)/2) })
			},
			want: ErrTruncated,
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "4 attempts") {
					t.Errorf("error should say it retried: %v", err)
				}
			},
		},
		{
			name: "truncated: no Content-Length, connection closed early",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				body := good(t)
				e.gh.handle(assetPath, func(w http.ResponseWriter, r *http.Request) { closeEarly(t, w, body, -1) })
			},
			want: ErrChecksumMismatch, // the checksum catches what HTTP cannot
		},
		{
			name: "server unreachable",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
				e.gh.handle(assetPath, func(w http.ResponseWriter, r *http.Request) {
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close()
				})
			},
			want: ErrUnavailable,
		},
		{
			name: "download over the size limit",
			cfg:  func(c *Config) { c.MaxDownloadBytes = 4096 },
			setup: func(t *testing.T, e *testEnv) {
				big := make([]byte, 8192)
				rand.Read(big)
				e.gh.release(meta, v2, map[string][]byte{asset: goodArchive(t, meta, v2, big)}, true)
			},
			want: ErrTooLarge,
		},
		{
			name: "no asset for the version range",
			setup: func(t *testing.T, e *testEnv) {
				e.gh.release(meta, v2, map[string][]byte{asset: good(t)}, true)
			},
			want: ErrNoAsset,
		},
		{
			name: "invalid version",
			want: ErrInvalidVersion,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mut []func(*Config)
			if tc.cfg != nil {
				mut = append(mut, tc.cfg)
			}
			e := newEnv(t, mut...)
			m := meta
			e.installGood(m, "6.16.0", v1Body)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			version := v2
			switch tc.name {
			case "no asset for the version range":
				m.Release.Assets = []abi.Asset{m.Release.Assets[0]}
				m.Release.Assets[0].BeforeVersion = "6.20.0"
			case "invalid version":
				version = "../../etc"
			}
			before := snapshot(t, e.outer)
			_, err := e.inst.Install(e.ctx(), m, version, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Install error = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), "install xmrig") {
				t.Errorf("error does not say what failed: %v", err)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
			if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
				t.Errorf("files changed by a failed install:\n%s", d)
			}
			e.assertWorks("xmrig", "6.16.0", v1Body)
		})
	}
}

func rateLimited(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("X-RateLimit-Reset", "1748782800")
	http.Error(w, `{"message":"API rate limit exceeded for 127.0.0.1."}`, http.StatusForbidden)
}

// closeEarly answers 200 with body cut after n bytes and then closes the
// connection; declared < 0 sends no Content-Length.
func closeEarly(t *testing.T, w http.ResponseWriter, body []byte, declared int) {
	c, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	n := len(body) / 2
	hdr := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
	if declared >= 0 {
		hdr += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	buf.WriteString(hdr + "\r\n")
	buf.Write(body[:n])
	buf.Flush()
}

// TestInstallBadArchives: hostile archives fail with a clear error, write
// nothing outside the install root (nothing at all survives), and the
// installed version keeps working.
func TestInstallBadArchives(t *testing.T) {
	const v2 = "6.21.0"
	bin := "xmrig-6.21.0/xmrig"
	zbin := "zminer-6.21.0/zminer"
	escape := filepath.Join(os.TempDir(), "rigd-install-escape-"+strconv.Itoa(os.Getpid()))

	tests := []struct {
		name    string
		zip     bool
		tar     func(t *testing.T) []byte
		zipBody func(t *testing.T) []byte
		want    error
	}{
		{name: "dot-dot to cron.d", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x", mode: 0o755}, tEntry{name: "../../etc/cron.d/x", body: "* * * * * root rm -rf /\n"})
		}},
		{name: "deep dot-dot to the real tmp", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: "../../../../../../../../../../.." + escape, body: "pwned"}, tEntry{name: bin, body: "x"})
		}},
		{name: "dot-dot that cleans away", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/../x", body: "x"})
		}},
		{name: "absolute path", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: escape, body: "pwned"})
		}},
		{name: "symlink to /", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/root", typ: tar.TypeSymlink, link: "/"})
		}},
		{name: "symlink escaping, then a file written through it", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"},
				tEntry{name: "xmrig-6.21.0/up", typ: tar.TypeSymlink, link: "../../../../../../../../../../../tmp"},
				tEntry{name: "xmrig-6.21.0/up/" + filepath.Base(escape), body: "pwned"})
		}},
		{name: "symlink escaping alone", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/up", typ: tar.TypeSymlink, link: "../.."})
		}},
		{name: "symlink chain through a link to dot", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			// dot -> . is harmless alone; dot/x -> .. would resolve from
			// the root's parent.
			return tarGz(t, tEntry{name: bin, body: "x"},
				tEntry{name: "dot", typ: tar.TypeSymlink, link: "."},
				tEntry{name: "dot/x", typ: tar.TypeSymlink, link: ".."})
		}},
		{name: "symlink target through another link", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"},
				tEntry{name: "dot", typ: tar.TypeSymlink, link: "."},
				tEntry{name: "y", typ: tar.TypeSymlink, link: "dot/.."})
		}},
		{name: "hardlink escaping", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/passwd", typ: tar.TypeLink, link: "../../../../../../etc/passwd"})
		}},
		{name: "hardlink absolute", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/passwd", typ: tar.TypeLink, link: "/etc/passwd"})
		}},
		{name: "char device", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/null", typ: tar.TypeChar})
		}},
		{name: "block device", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: "xmrig-6.21.0/sda", typ: tar.TypeBlock}, tEntry{name: bin, body: "x"})
		}},
		{name: "fifo", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/fifo", typ: tar.TypeFifo})
		}},
		{name: "duplicate entry", want: ErrUnsafeEntry, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: bin, body: "y"})
		}},
		{name: "no binary", want: ErrNoBinary, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: "xmrig-6.21.0/README", body: "x"})
		}},
		{name: "binary is a directory", want: ErrNoBinary, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin + "/", typ: tar.TypeDir, mode: 0o755})
		}},
		{name: "binary is a symlink", want: ErrNoBinary, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: "xmrig-6.21.0/real", body: "x"}, tEntry{name: bin, typ: tar.TypeSymlink, link: "real"})
		}},
		{name: "tar.gz bomb: 5 GB of zeros", want: ErrTooLarge, tar: func(t *testing.T) []byte {
			return tarGzBomb(t, []tEntry{{name: bin, body: "x"}}, "xmrig-6.21.0/bomb")
		}},
		{name: "tar bomb: header claims 5 GB, stream ends early", want: ErrTooLarge, tar: func(t *testing.T) []byte {
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/big", body: string(make([]byte, 64<<10)), size: 5 << 30})
		}},
		{name: "over the total extract limit", want: ErrTooLarge, tar: func(t *testing.T) []byte {
			half := string(make([]byte, 600<<10))
			return tarGz(t, tEntry{name: bin, body: "x"}, tEntry{name: "xmrig-6.21.0/a", body: half}, tEntry{name: "xmrig-6.21.0/b", body: half})
		}},
		{name: "too many entries", want: ErrTooLarge, tar: func(t *testing.T) []byte {
			entries := []tEntry{{name: bin, body: "x"}}
			for k := 0; k < 60; k++ {
				entries = append(entries, tEntry{name: "xmrig-6.21.0/f" + strconv.Itoa(k), body: "x"})
			}
			return tarGz(t, entries...)
		}},
		{name: "not a gzip", want: ErrUnsupportedArchive, tar: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: bin, body: []byte("x")})
		}},
		{name: "corrupt gzip", want: ErrUnsupportedArchive, tar: func(t *testing.T) []byte {
			b := tarGz(t, tEntry{name: bin, body: string(make([]byte, 100<<10))})
			return b[:len(b)/2]
		}},

		{name: "zip dot-dot", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: "../../etc/cron.d/x", body: []byte("x")})
		}},
		{name: "zip backslash dot-dot", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: `..\..\x`, body: []byte("x")})
		}},
		{name: "zip absolute", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: escape, body: []byte("x")})
		}},
		{name: "zip drive letter", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: `C:\Windows\x`, body: []byte("x")})
		}},
		{name: "zip symlink to /", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: "zminer-6.21.0/root", body: []byte("/"), mode: fs.ModeSymlink | 0o777})
		}},
		{name: "zip symlink then a file through it", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")},
				zEntry{name: "zminer-6.21.0/up", body: []byte("../../../../../../../tmp"), mode: fs.ModeSymlink | 0o777},
				zEntry{name: "zminer-6.21.0/up/" + filepath.Base(escape), body: []byte("pwned")})
		}},
		{name: "zip device", zip: true, want: ErrUnsafeEntry, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: zbin, body: []byte("x")}, zEntry{name: "zminer-6.21.0/null", mode: fs.ModeDevice | fs.ModeCharDevice | 0o644})
		}},
		{name: "zip bomb: 5 GB of zeros", zip: true, want: ErrTooLarge, zipBody: func(t *testing.T) []byte {
			return zipBomb(t, []zEntry{{name: zbin, body: []byte("x")}}, "zminer-6.21.0/bomb", 0)
		}},
		{name: "zip bomb claiming 1000 bytes", zip: true, want: ErrUnsupportedArchive, zipBody: func(t *testing.T) []byte {
			return zipBomb(t, []zEntry{{name: zbin, body: []byte("x")}}, "zminer-6.21.0/bomb", 1000)
		}},
		{name: "zip no binary", zip: true, want: ErrNoBinary, zipBody: func(t *testing.T) []byte {
			return zipBytes(t, zEntry{name: "zminer-6.21.0/zminer.exe", body: []byte("x")})
		}},
		{name: "zip truncated", zip: true, want: ErrUnsupportedArchive, zipBody: func(t *testing.T) []byte {
			b := zipBytes(t, zEntry{name: zbin, body: []byte("x")})
			return b[:len(b)-10]
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meta := xmrigMeta()
			build := tc.tar
			if tc.zip {
				meta = zipMeta()
				build = tc.zipBody
			}
			e := newEnv(t)
			e.installGood(meta, "6.16.0", v1Body)
			archive := build(t)
			e.gh.release(meta, v2, map[string][]byte{assetName(meta, v2): archive}, true)
			before := snapshot(t, e.outer)
			start := time.Now()
			_, err := e.inst.Install(e.ctx(), meta, v2, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Install error = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if el := time.Since(start); el > 20*time.Second {
				t.Errorf("took %v", el)
			}
			if !strings.Contains(err.Error(), "install "+meta.Name+" "+v2) {
				t.Errorf("error does not name the install: %v", err)
			}
			if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
				t.Errorf("files changed by a failed install:\n%s", d)
			}
			if _, err := os.Lstat(escape); err == nil {
				os.Remove(escape)
				t.Errorf("%s was written outside the data dir", escape)
			}
			e.assertWorks(meta.Name, "6.16.0", v1Body)
		})
	}
}

func deflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestInstallAcceptsSafeLinks(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	archive := tarGz(t,
		tEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tEntry{name: "./xmrig-6.16.0/xmrig", body: string(v1Body), mode: 0o755},
		tEntry{name: "xmrig-6.16.0/lib/libfoo.so.1", body: "lib"},
		tEntry{name: "xmrig-6.16.0/lib/libfoo.so", typ: tar.TypeSymlink, link: "libfoo.so.1"},
		tEntry{name: "xmrig-6.16.0/bin-link", typ: tar.TypeSymlink, link: "../xmrig-6.16.0/lib/../xmrig"},
		tEntry{name: "xmrig-6.16.0/hard", typ: tar.TypeLink, link: "xmrig-6.16.0/lib/libfoo.so.1"},
		tEntry{name: "xmrig-6.16.0/setuid", body: "s", mode: 0o4777},
	)
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): archive}, true)
	got, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(got.Dir, "xmrig-6.16.0", "lib", "libfoo.so")); err != nil || string(b) != "lib" {
		t.Errorf("through the link: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(got.Dir, "xmrig-6.16.0", "hard")); err != nil || string(b) != "lib" {
		t.Errorf("hard link copy: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(got.Dir, "xmrig-6.16.0", "setuid")); err != nil || fi.Mode()&(fs.ModeSetuid|0o022) != 0 {
		t.Errorf("setuid/world-writable bits kept: %v %v", fi.Mode(), err)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
}

func TestPinOnFirstUse(t *testing.T) {
	e := newEnv(t)
	meta := tofuMeta()
	const v1, v2 = "2023.1.0", "2023.2.0"
	first := e.installGood(meta, v1, v1Body)
	archive1 := goodArchive(t, meta, v1, v1Body)
	if !first.Pinned || first.Trust != TrustPinned || first.ArchiveSHA256 != sha256Hex(archive1) {
		t.Fatalf("first install = %+v, want pinned with the archive digest", first)
	}
	second := e.installGood(meta, v2, v2Body)
	archive2 := goodArchive(t, meta, v2, v2Body)
	pins, err := e.inst.Pins("ttminer")
	if err != nil || len(pins) != 2 || pins[1].Version != v2 || pins[1].SHA256 != sha256Hex(archive2) || pins[1].Asset != "TT-Miner-2023.2.0.zip" {
		t.Fatalf("Pins = %+v, %v", pins, err)
	}
	_ = second
	if err := e.inst.Use("ttminer", v1); err != nil {
		t.Fatal(err)
	}
	// v2 is removed and upstream re-publishes it with other bytes.
	if err := e.inst.Uninstall(e.ctx(), "ttminer", v2); err != nil {
		t.Fatal(err)
	}
	evil := goodArchive(t, meta, v2, []byte("replaced upstream"))
	e.gh.setFile(downloadPath("tt/ttminer", v2, "TT-Miner-2023.2.0.zip"), evil)
	before := snapshot(t, e.outer)
	_, err = e.inst.Install(e.ctx(), meta, v2, nil)
	var de *DigestError
	if !errors.Is(err, ErrPinMismatch) || !errors.As(err, &de) || de.Expected != sha256Hex(archive2) || de.Actual != sha256Hex(evil) {
		t.Fatalf("reinstall with another digest: %v", err)
	}
	if !strings.Contains(err.Error(), "pins.json") { // it said nothing of what to do
		t.Errorf("the refusal does not say how to accept a re-published release: %v", err)
	}
	if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
		t.Errorf("files changed by a refused install:\n%s", d)
	}
	e.assertWorks("ttminer", v1, v1Body)
	// The user accepts the new release explicitly.
	if err := e.inst.Unpin(e.ctx(), "ttminer", v2); err != nil {
		t.Fatal(err)
	}
	again, err := e.inst.Install(e.ctx(), meta, v2, nil)
	if err != nil || !again.Pinned || again.ArchiveSHA256 != sha256Hex(evil) {
		t.Fatalf("install after Unpin = %+v, %v", again, err)
	}
	// Reinstalling the pinned version with the same digest is a no-op.
	same, err := e.inst.Install(e.ctx(), meta, v2, nil)
	if err != nil || !same.Unchanged || same.Pinned {
		t.Fatalf("same install = %+v, %v", same, err)
	}
}

func TestVerifyDetectsChangedBinary(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	got := e.installGood(meta, "6.16.0", v1Body)
	b, _ := os.ReadFile(got.Binary)
	b[3] ^= 0x01
	if err := os.WriteFile(got.Binary, b, 0o755); err != nil {
		t.Fatal(err)
	}
	err := e.inst.Verify("xmrig", "6.16.0")
	var de *DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrBinaryChanged) || de.Path != got.Binary || de.Expected != sha256Hex(v1Body) || de.Actual != sha256Hex(b) {
		t.Fatalf("Verify after corruption = %v", err)
	}
	if !strings.Contains(err.Error(), "verify xmrig 6.16.0") || !strings.Contains(err.Error(), got.Binary) {
		t.Errorf("unclear error: %v", err)
	}
	// Install repairs it (a corrupt install is not "already installed").
	fixed, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil || fixed.Unchanged {
		t.Fatalf("repair = %+v, %v", fixed, err)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
	assertNoTemp(t, e.data)

	os.Remove(got.Binary)
	if err := e.inst.Verify("xmrig", ""); !errors.Is(err, ErrBinaryMissing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Verify of a missing binary = %v", err)
	}
	os.Symlink("/bin/true", got.Binary)
	if err := e.inst.Verify("xmrig", ""); !errors.Is(err, ErrBinaryMissing) {
		t.Errorf("Verify of a binary replaced by a symlink = %v", err)
	}
	if err := e.inst.Verify("xmrig", "1.0.0"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Verify of an unknown version = %v", err)
	}
}

func TestRollback(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.installGood(meta, "6.16.0", v1Body)
	e.installGood(meta, "6.21.0", v2Body)
	e.assertWorks("xmrig", "6.21.0", v2Body)
	if err := e.inst.Use("xmrig", "6.16.0"); err != nil {
		t.Fatal(err)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
	list, err := e.inst.Installed("xmrig")
	if err != nil || len(list) != 2 || list[0].Version != "6.21.0" || list[0].Current || list[1].Version != "6.16.0" || !list[1].Current {
		t.Fatalf("Installed = %+v, %v", list, err)
	}
	for _, v := range list {
		if err := e.inst.Verify("xmrig", v.Version); err != nil {
			t.Errorf("Verify %s: %v", v.Version, err)
		}
	}
	if err := e.inst.Use("xmrig", "9.9.9"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Use(unknown) = %v", err)
	}
	if err := e.inst.Use("nosuch", "1.0.0"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Use(unknown type) = %v", err)
	}
	// "rigd install xmrig --version 6.21.0" switches forward without a
	// download.
	got, err := e.inst.Install(e.ctx(), meta, "6.21.0", nil)
	if err != nil || !got.Unchanged || !got.Current {
		t.Fatalf("Install of the installed version = %+v, %v", got, err)
	}
	e.assertWorks("xmrig", "6.21.0", v2Body)
}

func TestUninstall(t *testing.T) {
	e := newEnv(t)
	meta := tofuMeta()
	e.installGood(meta, "1.0.0", v1Body)
	e.installGood(meta, "2.0.0", v2Body)
	if err := e.inst.Uninstall(e.ctx(), "ttminer", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	e.assertWorks("ttminer", "1.0.0", v1Body) // the newest remaining became current
	if _, err := os.Stat(filepath.Join(e.data, "miners", "ttminer", "2.0.0")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("2.0.0 still on disk: %v", err)
	}
	if err := e.inst.Uninstall(e.ctx(), "ttminer", "2.0.0"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second uninstall = %v", err)
	}
	if err := e.inst.Uninstall(e.ctx(), "ttminer", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.inst.Binary("ttminer"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Binary after uninstall = %v", err)
	}
	if list, err := e.inst.Installed("ttminer"); err != nil || len(list) != 0 {
		t.Errorf("Installed after uninstall = %v, %v", list, err)
	}
	left := snapshot(t, filepath.Join(e.data, "miners", "ttminer"))
	for p := range left {
		switch p {
		case ".", pinsFile, lockFile:
		default:
			t.Errorf("left after uninstall: %s", p)
		}
	}
	if pins, _ := e.inst.Pins("ttminer"); len(pins) != 2 {
		t.Errorf("pins not kept: %v", pins)
	}
	if err := e.inst.Uninstall(e.ctx(), "ttminer", ""); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall of nothing = %v", err)
	}
	if err := e.inst.Uninstall(e.ctx(), "never", ""); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall of an unknown type = %v", err)
	}
	if err := e.inst.Uninstall(e.ctx(), "../etc", ""); !errors.Is(err, ErrInvalidType) {
		t.Errorf("uninstall of a bad type = %v", err)
	}
}

func TestLatest(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	api := latestPath("xmrig/xmrig")
	ctx := e.ctx()

	// No answer yet and GitHub rate limits: a clear error, nothing cached.
	e.gh.handle(api, rateLimited)
	_, err := e.inst.Latest(ctx, meta)
	var he *HTTPError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &he) || he.StatusCode != 403 || he.Reset.Unix() != 1748782800 || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("rate limited without cache: %v", err)
	}

	e.gh.setLatest(meta, "v6.21.0")
	lr, err := e.inst.Latest(ctx, meta)
	if err != nil || lr.Version != "6.21.0" || lr.Tag != "v6.21.0" || lr.Cached || lr.Err != nil || !lr.CheckedAt.Equal(e.clock.Now()) {
		t.Fatalf("Latest = %+v, %v", lr, err)
	}
	hits := e.gh.hitCount(api)

	// Fresh: served from the cache without a request.
	e.clock.Add(5 * time.Minute)
	lr, err = e.inst.Latest(ctx, meta)
	if err != nil || lr.Version != "6.21.0" || !lr.Cached || lr.Err != nil || e.gh.hitCount(api) != hits {
		t.Fatalf("fresh cache: %+v, %v, hits %d→%d", lr, err, hits, e.gh.hitCount(api))
	}

	// Stale but ≤ 1 h, API rate limited / down: the cached answer with the
	// reason.
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
	}{
		{"403 rate limit", rateLimited, ErrRateLimited},
		{"429", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, ErrRateLimited},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "unicorn", 500) }, ErrUnavailable},
		{"503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }, ErrUnavailable},
		{"connection reset", func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}, ErrUnavailable},
		{"bad JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Add(8 * time.Minute) // 13..53 min old across the cases
			e.gh.handle(api, tc.h)
			lr, err := e.inst.Latest(ctx, meta)
			if err != nil || lr.Version != "6.21.0" || !lr.Cached || !errors.Is(lr.Err, tc.want) || lr.CheckedAt.IsZero() {
				t.Fatalf("Latest = %+v, %v; want the cached answer with %v", lr, err, tc.want)
			}
		})
	}

	// Older than 1 h: the error.
	e.clock.Add(10 * time.Minute)
	e.gh.handle(api, rateLimited)
	if _, err := e.inst.Latest(ctx, meta); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "latest release of xmrig") {
		t.Fatalf("stale cache: %v", err)
	}
	// A 404 is not an outage: no cached answer stands in.
	e.gh.setLatest(meta, "v6.22.0")
	if lr, err := e.inst.Latest(ctx, meta); err != nil || lr.Version != "6.22.0" {
		t.Fatalf("recovered: %+v %v", lr, err)
	}
	e.clock.Add(15 * time.Minute)
	e.gh.handle(api, http.NotFound)
	if _, err := e.inst.Latest(ctx, meta); !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
	// A tag that is no usable version.
	e.gh.setLatest(meta, "v../../x")
	if _, err := e.inst.Latest(ctx, meta); !errors.Is(err, ErrInvalidVersion) {
		t.Fatalf("bad tag: %v", err)
	}
	// No GitHub source.
	m := meta
	m.Release.GitHub = "not a repo"
	if _, err := e.inst.Latest(ctx, m); !errors.Is(err, ErrNoReleaseSource) {
		t.Fatalf("bad repo: %v", err)
	}
	assertNoTemp(t, e.data)
}

func TestCheckUpdates(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.gh.setLatest(meta, "v6.21.0")
	u, err := e.inst.CheckUpdates(e.ctx(), meta)
	if err != nil || u.Current != "" || !u.Available || u.Latest.Version != "6.21.0" {
		t.Fatalf("nothing installed: %+v, %v", u, err)
	}
	e.installGood(meta, "6.16.0", v1Body)
	u, err = e.inst.CheckUpdates(e.ctx(), meta)
	if err != nil || u.Current != "6.16.0" || !u.Available || u.Type != "xmrig" {
		t.Fatalf("older installed: %+v, %v", u, err)
	}
	e.installGood(meta, "6.21.0", v2Body)
	u, err = e.inst.CheckUpdates(e.ctx(), meta)
	if err != nil || u.Current != "6.21.0" || u.Available {
		t.Fatalf("up to date: %+v, %v", u, err)
	}
	e.clock.Add(2 * time.Hour)
	e.gh.handle(latestPath("xmrig/xmrig"), rateLimited)
	u, err = e.inst.CheckUpdates(e.ctx(), meta)
	if !errors.Is(err, ErrRateLimited) || u.Current != "6.21.0" {
		t.Fatalf("rate limited: %+v, %v", u, err)
	}
}

func TestDownloadResumes(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	archive := goodArchive(t, meta, "6.16.0", bytes.Repeat([]byte("resumable "), 20000))
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): archive}, true)
	p := downloadPath("xmrig/xmrig", "v6.16.0", assetName(meta, "6.16.0"))
	var once sync.Once
	e.gh.handle(p, func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if first {
			closeEarly(t, w, archive, len(archive))
			return
		}
		w.Header().Set("ETag", `"`+sha256Hex(archive)[:16]+`"`)
		http.ServeContent(w, r, "a", time.Time{}, bytes.NewReader(archive))
	})
	var last Progress
	got, err := e.inst.Install(e.ctx(), meta, "6.16.0", func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if r := e.gh.rangeHeaders(); len(r) != 1 || r[0] != "bytes="+strconv.Itoa(len(archive)/2)+"-" {
		t.Errorf("Range headers = %q", r)
	}
	if got.ArchiveSHA256 != sha256Hex(archive) || !last.Done || last.Bytes != int64(len(archive)) {
		t.Errorf("got %+v, last progress %+v", got, last)
	}
}

func TestDownloadRestartsWhenRangeIgnored(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	archive := goodArchive(t, meta, "6.16.0", bytes.Repeat([]byte("restart "), 20000))
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): archive}, true)
	p := downloadPath("xmrig/xmrig", "v6.16.0", assetName(meta, "6.16.0"))
	var mu sync.Mutex
	n := 0
	e.gh.handle(p, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 1 {
			closeEarly(t, w, archive, len(archive))
			return
		}
		w.Write(archive) // 200, whole body, Range ignored
	})
	got, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil || got.ArchiveSHA256 != sha256Hex(archive) {
		t.Fatalf("%+v, %v", got, err)
	}
}

func TestInstallCanceled(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.installGood(meta, "6.16.0", v1Body)
	archive := goodArchive(t, meta, "6.21.0", v2Body)
	e.gh.release(meta, "6.21.0", map[string][]byte{assetName(meta, "6.21.0"): archive}, true)
	ctx, cancel := context.WithCancel(e.ctx())
	release := make(chan struct{})
	e.gh.handle(downloadPath("xmrig/xmrig", "v6.21.0", assetName(meta, "6.21.0")), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		w.Write(archive[:10])
		w.(http.Flusher).Flush()
		cancel()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	before := snapshot(t, e.outer)
	_, err := e.inst.Install(ctx, meta, "6.21.0", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Install = %v, want context.Canceled", err)
	}
	if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
		t.Errorf("files changed:\n%s", d)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
}

func TestDownloadTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DownloadTimeout = 300 * time.Millisecond })
	meta := xmrigMeta()
	e.stallingRelease(meta, "6.16.0", 10)
	start := time.Now()
	_, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("Install = %v after %v", err, time.Since(start))
	}
	assertNoTemp(t, e.data)
}

func TestConcurrentInstalls(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): goodArchive(t, meta, "6.16.0", v1Body)}, true)
	e.gh.release(meta, "6.21.0", map[string][]byte{assetName(meta, "6.21.0"): goodArchive(t, meta, "6.21.0", v2Body)}, true)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for k := 0; k < 6; k++ {
		v := []string{"6.16.0", "6.21.0"}[k%2]
		wg.Go(func() {
			_, err := e.inst.Install(e.ctx(), meta, v, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	list, err := e.inst.Installed("xmrig")
	if err != nil || len(list) != 2 {
		t.Fatalf("Installed = %+v, %v", list, err)
	}
	for _, v := range list {
		if err := e.inst.Verify("xmrig", v.Version); err != nil {
			t.Error(err)
		}
	}
	assertNoTemp(t, e.data)
}

func TestCorruptRecord(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.installGood(meta, "6.16.0", v1Body)
	rec := filepath.Join(e.data, "miners", "xmrig", recordFile)
	good, _ := os.ReadFile(rec)
	for _, bad := range []string{
		"{not json",
		strings.Replace(string(good), `"binary": "xmrig-6.16.0/xmrig"`, `"binary": "../../../../bin/sh"`, 1),
		strings.Replace(string(good), `"binary": "xmrig-6.16.0/xmrig"`, `"binary": "/bin/sh"`, 1),
		strings.Replace(string(good), `"version": "6.16.0"`, `"version": "../6.16.0"`, 1),
		strings.Replace(string(good), `"schema": 1`, `"schema": 2`, 1),
	} {
		os.WriteFile(rec, []byte(bad), 0o644)
		if _, _, err := e.inst.Binary("xmrig"); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("Binary with record %.80q = %v", bad, err)
		}
		if err := e.inst.Verify("xmrig", ""); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("Verify with record %.80q = %v", bad, err)
		}
	}
}

func TestInvalidInputs(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	for _, typ := range []string{"", "../x", "X", strings.Repeat("a", 40)} {
		m := meta
		m.Name = typ
		if _, err := e.inst.Install(e.ctx(), m, "1.0.0", nil); !errors.Is(err, ErrInvalidType) {
			t.Errorf("Install type %q = %v", typ, err)
		}
		if _, _, err := e.inst.Binary(typ); !errors.Is(err, ErrInvalidType) {
			t.Errorf("Binary type %q = %v", typ, err)
		}
	}
	m := meta
	m.Release.Checksum.Format = "md5"
	if _, err := e.inst.Install(e.ctx(), m, "1.0.0", nil); !errors.Is(err, ErrNoReleaseSource) {
		t.Errorf("unknown checksum format = %v", err)
	}
	m = meta
	m.Release.Assets = nil
	if _, err := e.inst.Install(e.ctx(), m, "1.0.0", nil); !errors.Is(err, ErrNoAsset) {
		t.Errorf("no assets = %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without DataDir succeeded")
	}
	if _, err := os.Stat(e.outer + "/data"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("invalid input created the data dir: %v", err)
	}
}

// Redirects are followed, but never from https down to http.
func TestCheckRedirect(t *testing.T) {
	mk := func(u string) *http.Request {
		r, _ := http.NewRequest("GET", u, nil)
		return r
	}
	if err := checkRedirect(mk("http://objects.example/x"), []*http.Request{mk("https://github.com/a")}); err == nil {
		t.Error("https -> http allowed")
	}
	if err := checkRedirect(mk("https://objects.example/x"), []*http.Request{mk("https://github.com/a")}); err != nil {
		t.Error(err)
	}
	if err := checkRedirect(mk("http://127.0.0.1/x"), []*http.Request{mk("http://127.0.0.1/a")}); err != nil {
		t.Error(err)
	}
}

// An error page is not quoted into the error: it was the start of the
// release server's HTML in every message.
func TestHTMLErrorPageLeftOut(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.gh.handle(latestPath("xmrig/xmrig"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<!DOCTYPE HTML>\n<html lang=\"en\"><head><title>502</title></head><body>Bad gateway</body></html>")
	})
	_, err := e.inst.Latest(e.ctx(), meta)
	if err == nil || strings.Contains(err.Error(), "<") || !strings.HasSuffix(err.Error(), "/releases/latest") {
		t.Fatalf("error %v", err)
	}
}

// A server that stops sending mid-body is given up on after StallTimeout
// and the download resumed; it kept the download (and its progress line)
// frozen until the whole install timed out.
func TestStalledDownload(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.StallTimeout = 100 * time.Millisecond })
	meta := xmrigMeta()
	e.stallingRelease(meta, "6.16.0", 100)
	start := time.Now()
	_, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "no data for 100ms") {
		t.Fatalf("stalled download: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("gave up after %v", took)
	}
}

// stallingRelease publishes a good XMRig release (meta is xmrigMeta) at
// version whose archive download sends its first n bytes and then nothing.
func (e *testEnv) stallingRelease(meta abi.Metadata, version string, n int) {
	archive := goodArchive(e.t, meta, version, v1Body)
	e.gh.release(meta, version, map[string][]byte{assetName(meta, version): archive}, true)
	e.gh.handle(downloadPath("xmrig/xmrig", "v"+version, assetName(meta, version)), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		w.Write(archive[:n])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
}
