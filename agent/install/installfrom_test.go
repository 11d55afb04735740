package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixedProbe reports version for any binary, after checking that it was
// unpacked inside the data directory and is executable.
func fixedProbe(t *testing.T, data, version string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, bin string) (string, error) {
		if !strings.HasPrefix(bin, filepath.Join(data, "miners")+string(filepath.Separator)) {
			t.Errorf("probe runs %s, outside the data dir", bin)
		}
		fi, err := os.Stat(bin)
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("probed binary %s not executable: %v %v", bin, fi, err)
		}
		return version, nil
	}
}

func TestInstallFrom(t *testing.T) {
	meta := xmrigMeta()
	tests := []struct {
		name    string
		make    func(t *testing.T, dir string) string // returns the path to install from
		wantBin string                                // relative to the version dir
	}{
		{"tar.gz release", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "xmrig-6.16.0-linux-static-x64.tar.gz")
			os.WriteFile(p, goodArchive(t, meta, "6.16.0", v1Body), 0o644)
			return p
		}, "xmrig-6.16.0/xmrig"},
		{"zip named oddly, binary found by base name", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "download.bin")
			os.WriteFile(p, zipBytes(t, zEntry{name: "deep/er/xmrig", body: []byte("deeper")}, zEntry{name: "some/xmrig", body: v1Body}, zEntry{name: "some/xmrig.json", body: []byte("{}")}), 0o644)
			return p
		}, "some/xmrig"},
		{"uncompressed tar", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "x.tar")
			os.WriteFile(p, tarPlain(t, tEntry{name: "xmrig-6.16.0/xmrig", body: string(v1Body)}), 0o644)
			return p
		}, "xmrig-6.16.0/xmrig"},
		{"bare binary", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "xmrig-from-somewhere")
			os.WriteFile(p, v1Body, 0o600)
			return p
		}, "xmrig"},
		{"link to a directory", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "unpacked")
			os.MkdirAll(filepath.Join(d, "xmrig-6.16.0"), 0o755)
			os.WriteFile(filepath.Join(d, "xmrig-6.16.0", "xmrig"), v1Body, 0o755)
			os.Symlink(d, filepath.Join(dir, "current"))
			return filepath.Join(dir, "current")
		}, "xmrig-6.16.0/xmrig"},
		{"directory", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "unpacked")
			os.MkdirAll(filepath.Join(d, "xmrig-6.16.0"), 0o755)
			os.WriteFile(filepath.Join(d, "xmrig-6.16.0", "xmrig"), v1Body, 0o755)
			os.WriteFile(filepath.Join(d, "xmrig-6.16.0", "SHA256SUMS"), []byte("x"), 0o644)
			os.Symlink("xmrig", filepath.Join(d, "xmrig-6.16.0", "xmrig-link"))
			return d
		}, "xmrig-6.16.0/xmrig"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			src := tc.make(t, t.TempDir())
			got, err := e.inst.InstallFrom(e.ctx(), meta, src, fixedProbe(t, e.data, "6.16.0"))
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(e.data, "miners", "xmrig", "6.16.0", filepath.FromSlash(tc.wantBin))
			if got.Binary != want || got.Trust != TrustLocal || got.Source != src || got.Version != "6.16.0" || !got.Current || got.BinarySHA256 != sha256Hex(v1Body) {
				t.Errorf("Installed = %+v; want binary %s", got, want)
			}
			if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
				b, _ := os.ReadFile(src)
				if got.ArchiveSHA256 != sha256Hex(b) {
					t.Errorf("archive digest %s", got.ArchiveSHA256)
				}
			}
			e.assertWorks("xmrig", "6.16.0", v1Body)
			assertNoTemp(t, e.data)
		})
	}
}

func TestInstallFromBadInput(t *testing.T) {
	meta := xmrigMeta()
	tests := []struct {
		name  string
		make  func(t *testing.T, dir string) string
		probe func(context.Context, string) (string, error)
		want  error
	}{
		{"path does not exist", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.tar.gz") }, nil, fs.ErrNotExist},
		{"unsafe archive", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "x.tar.gz")
			os.WriteFile(p, tarGz(t, tEntry{name: "xmrig", body: "x"}, tEntry{name: "../../etc/cron.d/x", body: "x"}), 0o644)
			return p
		}, nil, ErrUnsafeEntry},
		{"archive without the binary", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "x.zip")
			os.WriteFile(p, zipBytes(t, zEntry{name: "README", body: []byte("x")}, zEntry{name: "LICENSE", body: []byte("x")}), 0o644)
			return p
		}, nil, ErrNoBinary},
		{"named .tar.gz but not an archive", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "x.tar.gz")
			os.WriteFile(p, []byte("<html>404</html>"), 0o644)
			return p
		}, nil, ErrUnsupportedArchive},
		{"probe fails", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "xmrig")
			os.WriteFile(p, v1Body, 0o755)
			return p
		}, func(context.Context, string) (string, error) { return "", errors.New("exec format error") }, ErrVersionProbe},
		{"probe gives a path", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "xmrig")
			os.WriteFile(p, v1Body, 0o755)
			return p
		}, func(context.Context, string) (string, error) { return "../../../etc", nil }, ErrInvalidVersion},
		{"the data directory itself", func(t *testing.T, dir string) string {
			return ""
		}, nil, ErrUnsupportedArchive},
		{"directory with a link out", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "unpacked")
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "xmrig"), v1Body, 0o755)
			os.Symlink("/etc", filepath.Join(d, "etc"))
			return d
		}, nil, ErrUnsafeEntry},
		{"directory with a fifo", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "unpacked")
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "xmrig"), v1Body, 0o755)
			if err := mkfifo(filepath.Join(d, "fifo")); err != nil {
				t.Skip("no fifo support:", err)
			}
			return d
		}, nil, ErrUnsafeEntry},
		{"directory over the size limit", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "unpacked")
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "xmrig"), v1Body, 0o755)
			os.WriteFile(filepath.Join(d, "big"), make([]byte, 2<<20), 0o644)
			return d
		}, nil, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.installGood(meta, "6.15.0", v1Body)
			src := tc.make(t, t.TempDir())
			if src == "" {
				src = e.data
			}
			probe := tc.probe
			if probe == nil {
				probe = fixedProbe(t, e.data, "6.16.0")
			}
			before := snapshot(t, e.outer)
			_, err := e.inst.InstallFrom(e.ctx(), meta, src, probe)
			if !errors.Is(err, tc.want) {
				t.Fatalf("InstallFrom = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), fmt.Sprintf("install xmrig from %q", src)) {
				t.Errorf("error does not name the source: %v", err)
			}
			if d := diffSnapshots(before, snapshot(t, e.outer)); d != "" {
				t.Errorf("files changed by a failed install:\n%s", d)
			}
			e.assertWorks("xmrig", "6.15.0", v1Body)
		})
	}
}

// InstallFrom with the adapter's own probe (nil): the fake XMRig says
// 6.16.0, or what ./fake-version next to it says.
func TestInstallFromProbesVersion(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxExtractBytes = 64 << 20 })
	meta := xmrigMeta()
	body := fakeXMRigBytes(t)
	src := filepath.Join(t.TempDir(), "xmrig")
	os.WriteFile(src, body, 0o755)
	got, err := e.inst.InstallFrom(e.ctx(), meta, src, nil)
	if err != nil || got.Version != "6.16.0" || got.Trust != TrustLocal {
		t.Fatalf("InstallFrom = %+v, %v", got, err)
	}
	// The same binary again: unchanged.
	again, err := e.inst.InstallFrom(e.ctx(), meta, src, nil)
	if err != nil || !again.Unchanged {
		t.Fatalf("again = %+v, %v", again, err)
	}
	// A directory whose binary reports another version.
	d := filepath.Join(t.TempDir(), "rel")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "xmrig"), body, 0o755)
	os.WriteFile(filepath.Join(d, "fake-version"), []byte("6.22.2\n"), 0o644)
	got, err = e.inst.InstallFrom(e.ctx(), meta, d, nil)
	if err != nil || got.Version != "6.22.2" {
		t.Fatalf("InstallFrom dir = %+v, %v", got, err)
	}
	e.assertWorks("xmrig", "6.22.2", body)
	if list, _ := e.inst.Installed("xmrig"); len(list) != 2 {
		t.Errorf("Installed = %+v", list)
	}
	// A local install of an already verified version keeps the verified
	// record when the binary is the same.
	archive := goodArchive(t, meta, "6.16.0", body)
	e.gh.release(meta, "6.16.0", map[string][]byte{assetName(meta, "6.16.0"): archive}, true)
	net, err := e.inst.Install(e.ctx(), meta, "6.16.0", nil)
	if err != nil || net.Trust != TrustSHA256Sums || !net.Unchanged {
		t.Fatalf("verified install over the local one = %+v, %v", net, err)
	}
	loc, err := e.inst.InstallFrom(e.ctx(), meta, src, nil)
	if err != nil || loc.Trust != TrustSHA256Sums || !loc.Unchanged {
		t.Fatalf("local install over the verified one = %+v, %v", loc, err)
	}
}

// A file of the user's own with another binary does not silently take the
// place of a verified download of the same version: it is refused, and
// the verified binary stays.
func TestInstallFromKeepsVerifiedVersion(t *testing.T) {
	e := newEnv(t)
	meta := xmrigMeta()
	e.installGood(meta, "6.16.0", v1Body)
	src := filepath.Join(t.TempDir(), "xmrig")
	os.WriteFile(src, []byte("another binary"), 0o755)
	_, err := e.inst.InstallFrom(e.ctx(), meta, src, fixedProbe(t, e.data, "6.16.0"))
	if !errors.Is(err, ErrVersionInstalled) || !strings.Contains(err.Error(), "rigd uninstall xmrig --version 6.16.0") {
		t.Fatalf("InstallFrom over a verified version: %v", err)
	}
	e.assertWorks("xmrig", "6.16.0", v1Body)
	if list, _ := e.inst.Installed("xmrig"); len(list) != 1 || list[0].Trust != TrustSHA256Sums {
		t.Fatalf("Installed = %+v", list)
	}
}
