package install

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Every error the package returns wraps one of these (or a
// context or fs error) together with the operation and the miner type and
// version concerned, so callers branch with errors.Is and show Error().
var (
	// ErrNotInstalled: the type, or the version asked for, is not installed.
	ErrNotInstalled = errors.New("install: not installed")
	// ErrInvalidType: the miner type is not a valid adapter name.
	ErrInvalidType = errors.New("install: invalid miner type")
	// ErrInvalidVersion: the version is empty or not usable as a directory
	// name (1-64 characters of [0-9A-Za-z._+-], starting with a letter or
	// digit).
	ErrInvalidVersion = errors.New("install: invalid version")
	// ErrNoReleaseSource: the adapter's metadata names no GitHub repository
	// (or a malformed one); only offline installs are possible.
	ErrNoReleaseSource = errors.New("install: adapter names no release source")
	// ErrNoAsset: the release has no asset for this OS/arch and version.
	ErrNoAsset = errors.New("install: no release asset for this platform")

	// ErrNotFound: the release server answered 404 (no such release, asset
	// or checksum file).
	ErrNotFound = errors.New("install: not found on release server")
	// ErrRateLimited: the release server refused because of its rate limit
	// (HTTP 429, or 403 with X-RateLimit-Remaining: 0).
	ErrRateLimited = errors.New("install: release server rate limit exceeded")
	// ErrUnavailable: the release server failed (5xx) or could not be
	// reached.
	ErrUnavailable = errors.New("install: release server unavailable")
	// ErrTruncated: a download ended before all its bytes arrived, and
	// resuming did not complete it.
	ErrTruncated = errors.New("install: download truncated")
	// ErrTooLarge: a download, an archive entry, the extracted total or the
	// number of extracted files is over its limit.
	ErrTooLarge = errors.New("install: size limit exceeded")

	// ErrChecksumMismatch: the download's SHA-256 differs from the one the
	// release's checksum file lists (a *DigestError carries both).
	ErrChecksumMismatch = errors.New("install: checksum mismatch")
	// ErrNotListed: the release's checksum file does not list the asset.
	ErrNotListed = errors.New("install: asset not listed in checksums")
	// ErrPinMismatch: for a miner that publishes no checksums, the download
	// differs from the digest pinned when this version was first installed
	// (a *DigestError carries both).
	ErrPinMismatch = errors.New("install: digest differs from the pinned digest")
	// ErrBinaryChanged: the installed binary's SHA-256 is no longer the one
	// recorded at install time (antivirus, tampering, disk corruption). A
	// *DigestError carries both digests and the path.
	ErrBinaryChanged = errors.New("install: binary changed since install")
	// ErrBinaryMissing: the installed binary is gone or not a regular file.
	ErrBinaryMissing = errors.New("install: binary missing")

	// ErrUnsafeEntry: an archive (or source directory) holds an absolute
	// path, a ".." element, a link leading out of the install root, a
	// device, a fifo, or another entry that cannot be extracted safely.
	ErrUnsafeEntry = errors.New("install: unsafe archive entry")
	// ErrUnsupportedArchive: the file is not a gzip'd tar, a tar or a zip
	// where one was expected, or is corrupt.
	ErrUnsupportedArchive = errors.New("install: unsupported or corrupt archive")
	// ErrNoBinary: the archive does not contain the miner binary.
	ErrNoBinary = errors.New("install: no binary in archive")
	// ErrVersionProbe: the binary's version could not be detected.
	ErrVersionProbe = errors.New("install: version not detected")
	// ErrCorruptRecord: an install record or pin file cannot be read.
	ErrCorruptRecord = errors.New("install: corrupt install record")
	// ErrVersionInstalled: an install from a local file of a version that
	// is installed, verified, with another binary.
	ErrVersionInstalled = errors.New("install: version already installed")
)

// DigestError reports a SHA-256 that differs from the expected one. Err is
// ErrBinaryChanged (Verify), ErrChecksumMismatch (download against the
// release's checksum file) or ErrPinMismatch (download against the digest
// pinned on first use); errors.Is matches it.
type DigestError struct {
	Err      error
	Path     string // the binary's path, or the asset's URL
	Expected string // hex
	Actual   string // hex
}

func (e *DigestError) Error() string {
	msg := fmt.Sprintf("%v: %s: expected sha256 %s, got %s", e.Err, e.Path, e.Expected, e.Actual)
	if errors.Is(e.Err, ErrPinMismatch) {
		msg += " (the release changed since its first install; if it was re-published on purpose, " +
			"remove its entry from miners/TYPE/pins.json in the data dir)"
	}
	return msg
}

func (e *DigestError) Unwrap() error { return e.Err }

// HTTPError is an unexpected HTTP status from the release server or its API.
// It unwraps to ErrNotFound (404), ErrRateLimited or ErrUnavailable (5xx)
// where one applies.
type HTTPError struct {
	URL        string
	StatusCode int
	// Reset is when a rate limit lifts (from X-RateLimit-Reset or
	// Retry-After); zero when unknown.
	Reset time.Time
	// Message is the start of the response body (GitHub explains rate
	// limits there), trimmed; may be empty.
	Message   string
	rateLimit bool
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	if s := e.Unwrap(); s != nil {
		b.WriteString(s.Error())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d from %s", e.StatusCode, e.URL)
	if !e.Reset.IsZero() {
		fmt.Fprintf(&b, " (retry after %s)", e.Reset.UTC().Format(time.RFC3339))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel that classifies the status, or nil.
func (e *HTTPError) Unwrap() error {
	switch {
	case e.rateLimit:
		return ErrRateLimited
	case e.StatusCode == 404:
		return ErrNotFound
	case e.StatusCode >= 500:
		return ErrUnavailable
	}
	return nil
}
