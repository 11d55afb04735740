// Package install downloads, verifies, safely extracts, records and
// removes miner binaries, driven by the release description in an adapter's
// metadata (abi.Metadata.Release and VersionProbe). It imports only the
// standard library and sdk/abi.
//
// # API
//
// One *Installer per data directory, built with New(Config{DataDir: ...});
// the zero values of the other Config fields are the defaults (GitHub,
// 512 MiB download, 2 GiB / 10 000 entries extracted, 10 min per install).
//
//	Latest(ctx, meta) (LatestRelease, error)            newest release (cached, see below)
//	CheckUpdates(ctx, meta) (Update, error)             current vs latest
//	Install(ctx, meta, version, progress) (Installed, error)   "" = latest
//	InstallFrom(ctx, meta, path, probe) (Installed, error)    offline: archive, binary or directory
//	Installed(type) ([]Installed, error)                newest first
//	Use(type, version) error                            switch the current version (rollback)
//	Binary(type) (path, version string, err error)      the current version's binary
//	Verify(type, version) error                         re-hash before every launch
//	Uninstall(ctx, type, version) error                 "" = every version
//	Pins(type) ([]Pin, error), Unpin(ctx, type, version) error
//	ProbeVersion(ctx, binary, abi.VersionProbe) (string, error)
//	CompareVersions(a, b string) int
//
// Install and InstallFrom make the installed version current, also when it
// was already installed (then Installed.Unchanged is set and nothing is
// downloaded or written but the record). Use switches back. Stopping the
// miners that run a version before Uninstall is the caller's job, and so is
// refusing to launch when Verify fails.
//
// # Layout
//
//	<data-dir>/miners/<type>/
//	    installed.json      the record (below), replaced atomically
//	    pins.json           trust-on-first-use digests, kept by Uninstall
//	    latest.json         the last releases-API answer
//	    .lock               flock'd while records and directories change
//	    <version>/          one extracted release per installed version
//	    .tmp-install-*/     work directory of a running install: the
//	                        download and the extraction root, renamed to
//	                        <version>/ when complete; removed on failure
//	                        (and when a crash left one older than a day)
//
// installed.json:
//
//	{
//	  "schema": 1,
//	  "type": "xmrig",
//	  "current": "6.21.0",
//	  "versions": [
//	    {
//	      "version": "6.21.0",
//	      "binary": "xmrig-6.21.0/xmrig",            relative to the version dir
//	      "binary_sha256": "…",                      checked by Verify
//	      "source": "https://github.com/xmrig/xmrig/releases/download/v6.21.0/…",
//	      "asset": "xmrig-6.21.0-linux-static-x64.tar.gz",
//	      "archive_sha256": "…",
//	      "installed_at": "2025-01-02T03:04:05Z",
//	      "trust": "sha256sums"                      or "pinned-on-first-use" or "local"
//	    }
//	  ]
//	}
//
// The record is read as untrusted input (versions must be plain names,
// binary paths local, digests hex), and a version directory appears under
// its name only by an atomic rename of a fully extracted and checked tree.
//
// # Trust
//
// For a release with a checksum file (format "sha256sum", XMRig's
// SHA256SUMS) the file must list the asset and the download must match,
// else the install fails (ErrNotListed, ErrChecksumMismatch). For a miner
// that publishes none (format "none", TT-Miner) the digest of the first
// download of a (version, asset) is pinned and returned
// (Installed.Pinned, Installed.ArchiveSHA256); a later download with
// another digest fails with ErrPinMismatch. Offline installs are recorded
// as "local": the user vouched for the file. In every case the binary's own
// digest is recorded and Verify compares it before each launch
// (*DigestError, ErrBinaryChanged).
//
// # Safety
//
// Downloads go to the work directory inside the data directory with a size
// limit and a time limit; a connection that breaks is resumed with a Range
// request. Archives (.tar.gz, .tar, .zip) are extracted through an os.Root
// with: no absolute path or ".." element, no device, fifo or other special
// file, symbolic links created last and only when they resolve inside the
// root without passing through another link, hard links turned into copies
// of earlier files, and caps on the bytes written (checked against the
// sizes the archive claims before anything is decompressed, and while
// copying) and on the number of entries. Any failure removes the work
// directory; the installed versions and their record are untouched.
//
// # Latest release
//
// Latest asks <api>/repos/<owner>/<repo>/releases/latest. An answer younger
// than LatestFresh is reused without asking. When GitHub rate-limits
// (ErrRateLimited) or fails (ErrUnavailable), an answer up to LatestMaxAge
// old is returned with Cached set and the failure in LatestRelease.Err.
//
// # Errors
//
// Errors wrap the operation and identity ("install xmrig 6.21.0: …") around
// a sentinel of this package (ErrNotInstalled, ErrChecksumMismatch,
// ErrNotListed, ErrUnsafeEntry, ErrNoBinary, ErrTooLarge, ErrRateLimited,
// …), a context error, or an fs error (a missing InstallFrom path matches
// fs.ErrNotExist). *DigestError and *HTTPError carry the data.
package install
