package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// Defaults of Config.
const (
	DefaultReleaseBaseURL   = "https://github.com"
	DefaultAPIBaseURL       = "https://api.github.com"
	DefaultMaxDownloadBytes = 512 << 20
	DefaultMaxExtractBytes  = 2 << 30
	DefaultMaxExtractFiles  = 10_000
	DefaultDownloadTimeout  = 10 * time.Minute
	DefaultStallTimeout     = time.Minute
)

// Config configures an Installer. Only DataDir is required.
type Config struct {
	// DataDir is the agent's data directory; miners go to
	// <DataDir>/miners/<type>/.
	DataDir string
	// ReleaseBaseURL is where release files are downloaded from:
	// <ReleaseBaseURL>/<owner>/<repo>/releases/download/<tag>/<asset>.
	// Default DefaultReleaseBaseURL.
	ReleaseBaseURL string
	// APIBaseURL is the GitHub API: <APIBaseURL>/repos/<owner>/<repo>/
	// releases/latest. Default DefaultAPIBaseURL.
	APIBaseURL string
	// HTTPClient is used for every request. Default: a client that follows
	// at most 10 redirects and never from https to http.
	HTTPClient *http.Client
	// MaxDownloadBytes caps one download. Default DefaultMaxDownloadBytes.
	MaxDownloadBytes int64
	// MaxExtractBytes caps the bytes extracted from one archive (or copied
	// from a directory). Default DefaultMaxExtractBytes.
	MaxExtractBytes int64
	// MaxExtractFiles caps the entries of one archive. Default
	// DefaultMaxExtractFiles.
	MaxExtractFiles int
	// DownloadTimeout bounds all requests of one Install together.
	// Default DefaultDownloadTimeout.
	DownloadTimeout time.Duration
	// StallTimeout gives up on a response whose body sends nothing for
	// that long (the download is then resumed, as after a broken
	// connection). Default DefaultStallTimeout.
	StallTimeout time.Duration
	// Logger receives progress and warnings. Default: discard.
	Logger *slog.Logger
	// Now is the clock (for the latest-release cache and progress).
	// Default time.Now.
	Now func() time.Time
}

// Trust says why an installed binary is believed to be the real one.
type Trust string

const (
	// TrustSHA256Sums: the archive matched the release's checksum file.
	TrustSHA256Sums Trust = "sha256sums"
	// TrustPinned: the project publishes no checksums; the archive matched
	// the digest pinned when this version was first downloaded (or was
	// that first download).
	TrustPinned Trust = "pinned-on-first-use"
	// TrustLocal: installed from a local file or directory the user chose.
	TrustLocal Trust = "local"
)

// Installed describes one installed version of a miner.
type Installed struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	// Dir is the version directory, <data-dir>/miners/<type>/<version>.
	Dir string `json:"dir"`
	// Binary is the absolute path of the miner binary.
	Binary       string `json:"binary"`
	BinarySHA256 string `json:"binary_sha256"`
	// Source is the URL downloaded, or the absolute local path installed
	// from.
	Source string `json:"source"`
	// Asset is the release asset's name (empty for local installs).
	Asset string `json:"asset,omitempty"`
	// ArchiveSHA256 is the digest of the downloaded or local file (empty
	// for a directory).
	ArchiveSHA256 string    `json:"archive_sha256,omitempty"`
	InstalledAt   time.Time `json:"installed_at"`
	Trust         Trust     `json:"trust"`
	// Current is set on the version Binary returns.
	Current bool `json:"current"`

	// Set only in the result of Install and InstallFrom:

	// Pinned is set when this install pinned ArchiveSHA256 as the trusted
	// digest of the version (trust on first use): show it to the user so
	// they can compare it with another source.
	Pinned bool `json:"pinned,omitempty"`
	// Unchanged is set when the version was already installed with the
	// same binary: nothing was downloaded or written except that it became
	// the current version.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Pin is a trust-on-first-use digest: the SHA-256 of a release asset of a
// miner that publishes no checksums, recorded when it was first installed.
type Pin struct {
	Version  string    `json:"version"`
	Asset    string    `json:"asset"`
	SHA256   string    `json:"sha256"`
	Source   string    `json:"source"`
	PinnedAt time.Time `json:"pinned_at"`
}

// Installer installs, lists, verifies and removes miner binaries under one
// data directory. It is safe for concurrent use, also by several processes
// sharing the data directory.
type Installer struct {
	dataDir         string
	releaseBase     string
	apiBase         string
	client          *http.Client
	maxDownload     int64
	maxExtract      int64
	maxFiles        int
	downloadTimeout time.Duration
	stallTimeout    time.Duration
	log             *slog.Logger
	now             func() time.Time
	goos, goarch    string // the platform assets are chosen for

	mu    sync.Mutex
	locks map[string]chan struct{} // per type directory; used where flock is not
}

// New returns an Installer for cfg.
func New(cfg Config) (*Installer, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("install: Config.DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("install: data dir: %w", err)
	}
	i := &Installer{
		dataDir:         dir,
		releaseBase:     strings.TrimRight(orDefault(cfg.ReleaseBaseURL, DefaultReleaseBaseURL), "/"),
		apiBase:         strings.TrimRight(orDefault(cfg.APIBaseURL, DefaultAPIBaseURL), "/"),
		client:          cfg.HTTPClient,
		maxDownload:     cfg.MaxDownloadBytes,
		maxExtract:      cfg.MaxExtractBytes,
		maxFiles:        cfg.MaxExtractFiles,
		downloadTimeout: cfg.DownloadTimeout,
		stallTimeout:    cfg.StallTimeout,
		log:             cfg.Logger,
		now:             cfg.Now,
		goos:            runtime.GOOS,
		goarch:          runtime.GOARCH,
		locks:           map[string]chan struct{}{},
	}
	if i.client == nil {
		i.client = &http.Client{CheckRedirect: checkRedirect}
	}
	if i.maxDownload <= 0 {
		i.maxDownload = DefaultMaxDownloadBytes
	}
	if i.maxExtract <= 0 {
		i.maxExtract = DefaultMaxExtractBytes
	}
	if i.stallTimeout <= 0 {
		i.stallTimeout = DefaultStallTimeout
	}
	if i.maxFiles <= 0 {
		i.maxFiles = DefaultMaxExtractFiles
	}
	if i.downloadTimeout <= 0 {
		i.downloadTimeout = DefaultDownloadTimeout
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if i.now == nil {
		i.now = time.Now
	}
	return i, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

// typeDir returns <data-dir>/miners/<type> for a valid type.
func (i *Installer) typeDir(typ string) (string, error) {
	if !abi.ValidName(typ) {
		return "", fmt.Errorf("%w: %q", ErrInvalidType, truncate(typ, 40))
	}
	return filepath.Join(i.dataDir, "miners", typ), nil
}

func ensureDir(dir string) error { return os.MkdirAll(dir, 0o755) }

func (i *Installer) installed(typ, typeDir string, rec *record, v *versionRecord) Installed {
	dir := filepath.Join(typeDir, v.Version)
	return Installed{
		Type:          typ,
		Version:       v.Version,
		Dir:           dir,
		Binary:        filepath.Join(dir, filepath.FromSlash(v.Binary)),
		BinarySHA256:  v.BinarySHA256,
		Source:        v.Source,
		Asset:         v.Asset,
		ArchiveSHA256: v.ArchiveSHA256,
		InstalledAt:   v.InstalledAt,
		Trust:         v.Trust,
		Current:       rec.Current == v.Version,
	}
}

// Install downloads, verifies and installs version of the miner meta
// describes, and makes it the current version. version "" or "latest"
// means Latest's answer.
//
// The asset for this OS/arch is chosen by the adapter's metadata. With
// checksum format "sha256sum" the release's checksum file must list the
// asset with the digest of the download (else ErrNotListed or a
// *DigestError for ErrChecksumMismatch); with "none" the digest is pinned
// on the first install of the version (Installed.Pinned) and a later
// download with another digest is refused (ErrPinMismatch). The archive is
// extracted safely into a temporary directory next to the version
// directories and renamed into place; the binary Asset.Binary names must be
// in it (ErrNoBinary). A version that is already installed from the same
// asset with an intact binary is not downloaded again (Installed.Unchanged).
//
// Whatever fails, nothing is left behind and the versions installed before
// keep working. progress (may be nil) is called from Install's goroutine
// during the download; it must not block.
func (i *Installer) Install(ctx context.Context, meta abi.Metadata, version string, progress func(Progress)) (Installed, error) {
	typeDir, err := i.typeDir(meta.Name)
	if err != nil {
		return Installed{}, fmt.Errorf("install: %w", err)
	}
	if version == "" || version == "latest" {
		lr, err := i.latest(ctx, &meta, typeDir)
		if err != nil {
			return Installed{}, fmt.Errorf("install %s latest: %w", meta.Name, err)
		}
		version = lr.Version
	}
	inst, err := i.install(ctx, &meta, typeDir, version, progress)
	if err != nil {
		return Installed{}, fmt.Errorf("install %s %s: %w", meta.Name, truncate(version, 64), err)
	}
	return inst, nil
}

func (i *Installer) install(ctx context.Context, meta *abi.Metadata, typeDir, version string, progress func(Progress)) (Installed, error) {
	if !validVersion(version) {
		return Installed{}, fmt.Errorf("%w: %q", ErrInvalidVersion, version)
	}
	repo, err := repoOf(meta)
	if err != nil {
		return Installed{}, err
	}
	asset, err := selectAsset(meta, i.goos, i.goarch, version)
	if err != nil {
		return Installed{}, err
	}
	format := meta.Release.Checksum.Format
	switch format {
	case abi.ChecksumSHA256Sums, abi.ChecksumNone:
	case "":
		format = abi.ChecksumNone
	default:
		return Installed{}, fmt.Errorf("%w: checksum format %q", ErrNoReleaseSource, format)
	}
	if inst, ok, err := i.useIfInstalled(ctx, meta.Name, typeDir, version, asset.Name); err != nil || ok {
		return inst, err
	}

	ctx, cancel := context.WithTimeout(ctx, i.downloadTimeout)
	defer cancel()
	work, err := i.workDir(typeDir)
	if err != nil {
		return Installed{}, err
	}
	defer os.RemoveAll(work)

	tag := meta.Release.TagPrefix + version
	var expected string
	if format == abi.ChecksumSHA256Sums {
		sumsName := expand(meta.Release.Checksum.File, version)
		sumsURL := i.releaseURL(repo, tag, sumsName)
		data, err := i.fetchSmall(ctx, sumsURL, nil, maxSumsBytes)
		if err != nil {
			return Installed{}, fmt.Errorf("checksum file: %w", err)
		}
		sums, err := parseSHA256Sums(data)
		if err != nil {
			return Installed{}, fmt.Errorf("%w: %s: %s does not list %s: %v", ErrNotListed, sumsURL, sumsName, asset.Name, err)
		}
		var ok bool
		if expected, ok = sums[asset.Name]; !ok {
			return Installed{}, fmt.Errorf("%w: %s does not list %s", ErrNotListed, sumsURL, asset.Name)
		}
	}

	assetURL := i.releaseURL(repo, tag, asset.Name)
	archive := filepath.Join(work, "download")
	i.log.Info("downloading miner", "type", meta.Name, "version", version, "url", assetURL)
	digest, _, err := i.download(ctx, assetURL, archive, asset.Name, progress)
	if err != nil {
		return Installed{}, err
	}
	trust := TrustSHA256Sums
	var pin *Pin
	if format == abi.ChecksumSHA256Sums {
		if digest != expected {
			return Installed{}, &DigestError{Err: ErrChecksumMismatch, Path: assetURL, Expected: expected, Actual: digest}
		}
	} else {
		trust = TrustPinned
		pins, err := readPins(typeDir)
		if err != nil {
			return Installed{}, err
		}
		if p := pins.find(version, asset.Name); p != nil {
			if p.SHA256 != digest {
				return Installed{}, &DigestError{Err: ErrPinMismatch, Path: assetURL, Expected: p.SHA256, Actual: digest}
			}
		} else {
			pin = &Pin{Version: version, Asset: asset.Name, SHA256: digest, Source: assetURL, PinnedAt: i.now().UTC()}
		}
	}

	root := filepath.Join(work, "root")
	binRel, err := i.unpackAsset(ctx, asset, archive, root)
	if err != nil {
		return Installed{}, err
	}
	binDigest, err := fileSHA256(filepath.Join(root, filepath.FromSlash(binRel)))
	if err != nil {
		return Installed{}, err
	}
	vr := versionRecord{
		Version:       version,
		Binary:        binRel,
		BinarySHA256:  binDigest,
		Source:        assetURL,
		Asset:         asset.Name,
		ArchiveSHA256: digest,
		InstalledAt:   i.now().UTC(),
		Trust:         trust,
	}
	return i.commit(ctx, meta.Name, typeDir, work, vr, pin)
}

// useIfInstalled makes version current if it is installed from asset with
// an intact binary.
func (i *Installer) useIfInstalled(ctx context.Context, typ, typeDir, version, asset string) (Installed, bool, error) {
	rec, err := readRecord(typeDir, typ)
	if err != nil {
		return Installed{}, false, err
	}
	v := rec.find(version)
	if v == nil || v.Asset != asset || v.Trust == TrustLocal || verifyFile(filepath.Join(typeDir, version, filepath.FromSlash(v.Binary)), v.BinarySHA256) != nil {
		return Installed{}, false, nil
	}
	unlock, err := i.lockType(ctx, typeDir)
	if err != nil {
		return Installed{}, false, err
	}
	defer unlock()
	rec, err = readRecord(typeDir, typ)
	if err != nil {
		return Installed{}, false, err
	}
	if v = rec.find(version); v == nil || v.Asset != asset {
		return Installed{}, false, nil // changed meanwhile: install normally
	}
	if rec.Current != version {
		rec.Current = version
		if err := writeJSONAtomic(filepath.Join(typeDir, recordFile), &rec); err != nil {
			return Installed{}, false, err
		}
	}
	inst := i.installed(typ, typeDir, &rec, v)
	inst.Unchanged = true
	return inst, true, nil
}

// workDir creates a private work directory inside the type directory (on
// the same filesystem as the version directories, so the final rename is
// atomic) and removes work directories a crashed process left behind.
func (i *Installer) workDir(typeDir string) (string, error) {
	if err := ensureDir(typeDir); err != nil {
		return "", err
	}
	if entries, err := os.ReadDir(typeDir); err == nil {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			if fi, err := e.Info(); err == nil && i.now().Sub(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(typeDir, e.Name()))
			}
		}
	}
	return os.MkdirTemp(typeDir, tmpPrefix+"install-")
}

// unpackAsset puts the downloaded asset into the new directory root and
// returns the binary's path relative to it.
func (i *Installer) unpackAsset(ctx context.Context, asset abi.Asset, archive, root string) (string, error) {
	bin, err := sanitizeEntryName(asset.Binary)
	if err != nil || bin == "." {
		return "", fmt.Errorf("%w: adapter's binary path %q: %v", ErrNoBinary, asset.Binary, err)
	}
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	format, err := sniffFormat(f)
	f.Close()
	if err != nil {
		return "", err
	}
	switch asset.Archive {
	case formatBinary:
		bin = path.Base(bin)
		x, err := newExtractor(ctx, root, i.maxExtract, i.maxFiles)
		if err != nil {
			return "", err
		}
		defer x.Close()
		if err := copyFileInto(x, archive, bin); err != nil {
			return "", err
		}
	case formatTarGz, formatZip:
		if format != asset.Archive {
			return "", fmt.Errorf("%w: %s should be %s but looks like %s", ErrUnsupportedArchive, asset.Name, asset.Archive, format)
		}
		x, err := i.extractFile(ctx, format, archive, root)
		if err != nil {
			return "", err
		}
		if x.kinds[bin] != kindFile {
			return "", fmt.Errorf("%w: %s has no file %s", ErrNoBinary, asset.Name, bin)
		}
	default:
		return "", fmt.Errorf("%w: archive type %q", ErrUnsupportedArchive, asset.Archive)
	}
	if err := makeExecutable(root, bin); err != nil {
		return "", err
	}
	return bin, nil
}

func copyFileInto(x *extractor, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return x.file(name, 0o755, fi.Size(), f)
}

func makeExecutable(root, rel string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Lstat(rel)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrNoBinary, rel)
	}
	return r.Chmod(rel, 0o755)
}

// InstallFrom installs the miner from a local file or directory without
// any network access, and makes it the current version: a .tar.gz, .tar
// or .zip archive (recognised by content), a bare binary, or a directory
// holding an unpacked release. The binary is found by the platform asset's
// Binary path ("{version}" matching anything), else by its base name (or
// the miner type's name) anywhere, preferring the shallowest. Its version
// is what probe reports when run on the unpacked binary; a nil probe runs
// ProbeVersion with meta.VersionProbe. The trust recorded is TrustLocal.
//
// A version already installed with the same binary is left as it is
// (Installed.Unchanged); one with a different binary is replaced, unless
// it came verified from its release (ErrVersionInstalled). A missing path
// fails with an error matching fs.ErrNotExist.
func (i *Installer) InstallFrom(ctx context.Context, meta abi.Metadata, src string, probe func(ctx context.Context, binary string) (string, error)) (Installed, error) {
	inst, err := i.installFrom(ctx, &meta, src, probe)
	if err != nil {
		return Installed{}, fmt.Errorf("install %s from %q: %w", meta.Name, src, err)
	}
	return inst, nil
}

func (i *Installer) installFrom(ctx context.Context, meta *abi.Metadata, src string, probe func(ctx context.Context, binary string) (string, error)) (Installed, error) {
	typeDir, err := i.typeDir(meta.Name)
	if err != nil {
		return Installed{}, err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return Installed{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Installed{}, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return Installed{}, fmt.Errorf("%w: %s is not a file or directory", ErrUnsupportedArchive, abs)
	}
	// Read through links to the source itself (a linked directory would
	// otherwise be walked as a link); the record keeps the path given.
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return Installed{}, err
	}
	if fi.IsDir() {
		if rel, err := filepath.Rel(resolved, typeDir); err == nil && filepath.IsLocal(rel) || rel == "." {
			return Installed{}, fmt.Errorf("%w: %s contains the install directory %s", ErrUnsupportedArchive, abs, typeDir)
		}
	}
	if probe == nil {
		vp := meta.VersionProbe
		probe = func(ctx context.Context, binary string) (string, error) { return ProbeVersion(ctx, binary, vp) }
	}
	work, err := i.workDir(typeDir)
	if err != nil {
		return Installed{}, err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")

	var x *extractor
	var archiveDigest string
	if fi.IsDir() {
		if x, err = newExtractor(ctx, root, i.maxExtract, i.maxFiles); err != nil {
			return Installed{}, err
		}
		defer x.Close()
		if err := copyTree(x, resolved); err != nil {
			return Installed{}, err
		}
		if err := x.finish(); err != nil {
			return Installed{}, err
		}
	} else {
		f, err := os.Open(resolved)
		if err != nil {
			return Installed{}, err
		}
		format, err := sniffFormat(f)
		f.Close()
		if err != nil {
			return Installed{}, err
		}
		lower := strings.ToLower(abs)
		if format == formatBinary && (strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".tar")) {
			return Installed{}, fmt.Errorf("%w: %s is named like an archive but is not one", ErrUnsupportedArchive, abs)
		}
		if format == formatBinary {
			if fi.Size() > i.maxExtract {
				return Installed{}, fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit", ErrTooLarge, abs, fi.Size(), i.maxExtract)
			}
			if x, err = newExtractor(ctx, root, i.maxExtract, i.maxFiles); err != nil {
				return Installed{}, err
			}
			defer x.Close()
			if err := copyFileInto(x, resolved, bareBinaryName(meta, i.goos, i.goarch, abs)); err != nil {
				return Installed{}, err
			}
		} else if x, err = i.extractFile(ctx, format, resolved, root); err != nil {
			return Installed{}, err
		}
		if archiveDigest, err = fileSHA256(resolved); err != nil {
			return Installed{}, err
		}
	}
	binRel, err := locateBinary(x.files, meta, i.goos, i.goarch)
	if err != nil {
		return Installed{}, err
	}
	if err := makeExecutable(root, binRel); err != nil {
		return Installed{}, err
	}
	binPath := filepath.Join(root, filepath.FromSlash(binRel))
	version, err := probe(ctx, binPath)
	if err != nil && !errors.Is(err, ErrVersionProbe) {
		err = fmt.Errorf("%w: %v", ErrVersionProbe, err)
	}
	if err != nil {
		return Installed{}, err
	}
	if !validVersion(version) {
		return Installed{}, fmt.Errorf("%w: the version probe of %s gave %q", ErrInvalidVersion, binRel, truncate(version, 64))
	}
	binDigest, err := fileSHA256(binPath)
	if err != nil {
		return Installed{}, err
	}
	vr := versionRecord{
		Version:       version,
		Binary:        binRel,
		BinarySHA256:  binDigest,
		Source:        abs,
		ArchiveSHA256: archiveDigest,
		InstalledAt:   i.now().UTC(),
		Trust:         TrustLocal,
	}
	return i.commit(ctx, meta.Name, typeDir, work, vr, nil)
}

// bareBinaryName names a bare binary in its version directory: the
// platform asset's binary base name when it has no template, else the
// source file's name.
func bareBinaryName(meta *abi.Metadata, goos, goarch, src string) string {
	for _, a := range meta.Release.Assets {
		if a.OS == goos && a.Arch == goarch && a.Binary != "" {
			b := path.Base(strings.ReplaceAll(a.Binary, `\`, "/"))
			if !strings.Contains(b, "{") && b != "." && b != ".." && b != "/" {
				return b
			}
		}
	}
	return filepath.Base(src)
}

// locateBinary finds the binary among the extracted regular files.
func locateBinary(files []string, meta *abi.Metadata, goos, goarch string) (string, error) {
	exact, base := binaryPatterns(meta, goos, goarch)
	for _, re := range exact {
		for _, f := range files {
			if re.MatchString(f) {
				return f, nil
			}
		}
	}
	for _, re := range base {
		var best string
		for _, f := range files {
			if re.MatchString(path.Base(f)) && (best == "" || strings.Count(f, "/") < strings.Count(best, "/") || strings.Count(f, "/") == strings.Count(best, "/") && f < best) {
				best = f
			}
		}
		if best != "" {
			return best, nil
		}
	}
	if len(files) == 1 {
		return files[0], nil
	}
	return "", fmt.Errorf("%w: no file matches the adapter's binary name for %s/%s", ErrNoBinary, goos, goarch)
}

// commit moves the unpacked version into place and records it, under the
// type lock. The version directory is swapped in by rename; the old
// directory of a reinstalled version is moved into work (removed by the
// caller) only after the record is written, and moved back if anything
// fails.
func (i *Installer) commit(ctx context.Context, typ, typeDir, work string, vr versionRecord, pin *Pin) (Installed, error) {
	unlock, err := i.lockType(ctx, typeDir)
	if err != nil {
		return Installed{}, err
	}
	defer unlock()
	if pin != nil {
		pins, err := readPins(typeDir)
		if err != nil {
			return Installed{}, err
		}
		if p := pins.find(pin.Version, pin.Asset); p != nil {
			if p.SHA256 != pin.SHA256 { // pinned by a concurrent install
				return Installed{}, &DigestError{Err: ErrPinMismatch, Path: pin.Source, Expected: p.SHA256, Actual: pin.SHA256}
			}
			pin = nil
		} else {
			pins.Pins = append(pins.Pins, *pin)
			if err := writeJSONAtomic(filepath.Join(typeDir, pinsFile), &pins); err != nil {
				return Installed{}, err
			}
		}
	}
	rec, err := readRecord(typeDir, typ)
	if err != nil {
		return Installed{}, err
	}
	verDir := filepath.Join(typeDir, vr.Version)
	if old := rec.find(vr.Version); old != nil && vr.Trust == TrustLocal && old.Trust != TrustLocal && old.BinarySHA256 != vr.BinarySHA256 &&
		verifyFile(filepath.Join(verDir, filepath.FromSlash(old.Binary)), old.BinarySHA256) == nil {
		// A file of the user's own does not silently take the place of a
		// verified download of the same version.
		return Installed{}, fmt.Errorf("%w: %s %s is installed from its release (trust: %s) with another binary; uninstall that version first (rigd uninstall %s --version %s)",
			ErrVersionInstalled, typ, vr.Version, old.Trust, typ, vr.Version)
	}
	unchanged := false
	if old := rec.find(vr.Version); old != nil && old.BinarySHA256 == vr.BinarySHA256 &&
		verifyFile(filepath.Join(verDir, filepath.FromSlash(old.Binary)), old.BinarySHA256) == nil {
		// The same binary is in place: keep its files. A verified download
		// upgrades the record of a local install; otherwise it stays.
		unchanged = true
		if old.Trust == TrustLocal && vr.Trust != TrustLocal {
			vr.Binary = old.Binary
			*old = vr
		}
	}
	var restore func()
	if !unchanged {
		aside := filepath.Join(work, "previous")
		moved := false
		if err := os.Rename(verDir, aside); err == nil {
			moved = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Installed{}, err
		}
		if err := os.Rename(filepath.Join(work, "root"), verDir); err != nil {
			if moved {
				os.Rename(aside, verDir)
			}
			return Installed{}, err
		}
		restore = func() {
			os.Rename(verDir, filepath.Join(work, "failed"))
			if moved {
				os.Rename(aside, verDir)
			}
		}
		rec.upsert(vr)
	}
	prevCurrent := rec.Current
	rec.Current = vr.Version
	if err := writeJSONAtomic(filepath.Join(typeDir, recordFile), &rec); err != nil {
		if restore != nil {
			restore()
		}
		return Installed{}, err
	}
	if err := syncDir(typeDir); err != nil {
		i.log.Warn("fsync of miner directory failed", "dir", typeDir, "err", err)
	}
	inst := i.installed(typ, typeDir, &rec, rec.find(vr.Version))
	inst.Pinned = pin != nil
	inst.Unchanged = unchanged
	i.log.Info("miner installed", "type", typ, "version", vr.Version, "previous", prevCurrent, "trust", inst.Trust, "binary_sha256", inst.BinarySHA256, "unchanged", unchanged)
	return inst, nil
}

// verifyFile checks that path is a regular file with the SHA-256 want.
func verifyFile(path, want string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBinaryMissing, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrBinaryMissing, path)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBinaryMissing, err)
	}
	if got != want {
		return &DigestError{Err: ErrBinaryChanged, Path: path, Expected: want, Actual: got}
	}
	return nil
}

// Binary returns the current version's binary path and version. It does not
// hash the binary: call Verify before running it.
func (i *Installer) Binary(typ string) (path, version string, err error) {
	typeDir, rec, err := i.record(typ)
	if err != nil {
		return "", "", fmt.Errorf("binary of %s: %w", typ, err)
	}
	v := rec.find(rec.Current)
	if v == nil {
		return "", "", fmt.Errorf("binary of %s: %w", typ, ErrNotInstalled)
	}
	return filepath.Join(typeDir, v.Version, filepath.FromSlash(v.Binary)), v.Version, nil
}

// Verify re-hashes the binary of an installed version ("" = current) and
// compares it with the digest recorded at install time. A changed binary
// is a *DigestError matching ErrBinaryChanged; a missing one matches
// ErrBinaryMissing. Call it before every launch.
func (i *Installer) Verify(typ, version string) error {
	typeDir, rec, err := i.record(typ)
	if err != nil {
		return fmt.Errorf("verify %s: %w", typ, err)
	}
	if version == "" {
		version = rec.Current
	}
	v := rec.find(version)
	if v == nil {
		return fmt.Errorf("verify %s %s: %w", typ, truncate(version, 64), ErrNotInstalled)
	}
	if err := verifyFile(filepath.Join(typeDir, v.Version, filepath.FromSlash(v.Binary)), v.BinarySHA256); err != nil {
		return fmt.Errorf("verify %s %s: %w", typ, version, err)
	}
	return nil
}

func (i *Installer) record(typ string) (string, record, error) {
	typeDir, err := i.typeDir(typ)
	if err != nil {
		return "", record{}, err
	}
	rec, err := readRecord(typeDir, typ)
	return typeDir, rec, err
}

// Installed lists the installed versions of a type, newest first (none is
// not an error).
func (i *Installer) Installed(typ string) ([]Installed, error) {
	typeDir, rec, err := i.record(typ)
	if err != nil {
		return nil, fmt.Errorf("installed %s: %w", typ, err)
	}
	out := make([]Installed, 0, len(rec.Versions))
	for k := range rec.Versions {
		out = append(out, i.installed(typ, typeDir, &rec, &rec.Versions[k]))
	}
	slices.SortFunc(out, func(a, b Installed) int { return CompareVersions(b.Version, a.Version) })
	return out, nil
}

// Use makes an installed version the current one (rollback and forward).
func (i *Installer) Use(typ, version string) error {
	typeDir, err := i.typeDir(typ)
	if err != nil {
		return fmt.Errorf("use %s: %w", typ, err)
	}
	if err := i.use(typeDir, typ, version); err != nil {
		return fmt.Errorf("use %s %s: %w", typ, truncate(version, 64), err)
	}
	return nil
}

func (i *Installer) use(typeDir, typ, version string) error {
	if _, err := os.Stat(typeDir); err != nil {
		return ErrNotInstalled
	}
	unlock, err := i.lockType(context.Background(), typeDir)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := readRecord(typeDir, typ)
	if err != nil {
		return err
	}
	v := rec.find(version)
	if v == nil {
		return ErrNotInstalled
	}
	if fi, err := os.Lstat(filepath.Join(typeDir, v.Version, filepath.FromSlash(v.Binary))); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s", ErrBinaryMissing, v.Binary)
	}
	if rec.Current == version {
		return nil
	}
	rec.Current = version
	return writeJSONAtomic(filepath.Join(typeDir, recordFile), &rec)
}

// Uninstall removes one installed version, or all of them when version is
// "", with their files and records. Removing the current version makes the
// newest remaining one current. Pins and the latest-release cache are
// kept: a reinstall is still checked against the pinned digest (see
// Unpin). Stopping miners that run the version is the caller's job.
func (i *Installer) Uninstall(ctx context.Context, typ, version string) error {
	typeDir, err := i.typeDir(typ)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", typ, err)
	}
	what := typ
	if version != "" {
		what += " " + truncate(version, 64)
	}
	if err := i.uninstall(ctx, typeDir, typ, version); err != nil {
		return fmt.Errorf("uninstall %s: %w", what, err)
	}
	return nil
}

func (i *Installer) uninstall(ctx context.Context, typeDir, typ, version string) error {
	if _, err := os.Stat(typeDir); err != nil {
		return ErrNotInstalled
	}
	unlock, err := i.lockType(ctx, typeDir)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := readRecord(typeDir, typ)
	if err != nil && version != "" {
		return err
	}
	var remove []string
	if version == "" {
		if err == nil && len(rec.Versions) == 0 {
			if _, serr := os.Stat(filepath.Join(typeDir, recordFile)); serr != nil {
				return ErrNotInstalled
			}
		}
		entries, err := os.ReadDir(typeDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch e.Name() {
			case pinsFile, latestFile, lockFile:
				continue
			}
			remove = append(remove, e.Name())
		}
		// The record goes first, so no record ever names a missing
		// directory.
		if err := os.Remove(filepath.Join(typeDir, recordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		if !validVersion(version) || rec.find(version) == nil {
			return ErrNotInstalled
		}
		rec.remove(version)
		if rec.Current == version {
			rec.Current = ""
			for _, v := range rec.Versions {
				if rec.Current == "" || CompareVersions(v.Version, rec.Current) > 0 {
					rec.Current = v.Version
				}
			}
		}
		if err := writeJSONAtomic(filepath.Join(typeDir, recordFile), &rec); err != nil {
			return err
		}
		remove = []string{version}
	}
	var errs []error
	for _, name := range remove {
		p := filepath.Join(typeDir, name)
		// Rename first so a half-removed directory never sits under a
		// version's name.
		gone := filepath.Join(typeDir, tmpPrefix+"remove-"+name)
		if err := os.Rename(p, gone); err == nil {
			p = gone
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	i.log.Info("miner uninstalled", "type", typ, "version", version, "current", rec.Current)
	return errors.Join(errs...)
}

// Pins lists the trust-on-first-use digests recorded for a type.
func (i *Installer) Pins(typ string) ([]Pin, error) {
	typeDir, err := i.typeDir(typ)
	if err != nil {
		return nil, fmt.Errorf("pins of %s: %w", typ, err)
	}
	p, err := readPins(typeDir)
	if err != nil {
		return nil, fmt.Errorf("pins of %s: %w", typ, err)
	}
	return p.Pins, nil
}

// Unpin forgets the pinned digests of a version ("" = all versions), for a
// release that was legitimately re-published. The next download is pinned
// afresh.
func (i *Installer) Unpin(ctx context.Context, typ, version string) error {
	typeDir, err := i.typeDir(typ)
	if err != nil {
		return fmt.Errorf("unpin %s: %w", typ, err)
	}
	if _, err := os.Stat(typeDir); err != nil {
		return nil
	}
	unlock, err := i.lockType(ctx, typeDir)
	if err != nil {
		return fmt.Errorf("unpin %s: %w", typ, err)
	}
	defer unlock()
	p, err := readPins(typeDir)
	if err != nil {
		return fmt.Errorf("unpin %s: %w", typ, err)
	}
	n := len(p.Pins)
	p.Pins = slices.DeleteFunc(p.Pins, func(x Pin) bool { return version == "" || x.Version == version })
	if len(p.Pins) == n {
		return nil
	}
	if err := writeJSONAtomic(filepath.Join(typeDir, pinsFile), &p); err != nil {
		return fmt.Errorf("unpin %s: %w", typ, err)
	}
	return nil
}

// Update compares the current version of a miner with the latest release.
type Update struct {
	Type string `json:"type"`
	// Current is the current installed version, "" when none.
	Current string        `json:"current"`
	Latest  LatestRelease `json:"latest"`
	// Available is set when Latest is newer than Current (or nothing is
	// installed).
	Available bool `json:"available"`
}

// CheckUpdates reports whether a newer release than the current version
// exists, without installing anything. On error the Update still carries
// Type and Current.
func (i *Installer) CheckUpdates(ctx context.Context, meta abi.Metadata) (Update, error) {
	u := Update{Type: meta.Name}
	typeDir, rec, err := i.record(meta.Name)
	if err != nil {
		return u, fmt.Errorf("check updates of %s: %w", meta.Name, err)
	}
	u.Current = rec.Current
	lr, err := i.latest(ctx, &meta, typeDir)
	if err != nil {
		return u, fmt.Errorf("check updates of %s: %w", meta.Name, err)
	}
	u.Latest = lr
	u.Available = u.Current == "" || CompareVersions(lr.Version, u.Current) > 0
	return u, nil
}
