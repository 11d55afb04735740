package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// How long an answer of the releases API is reused.
const (
	// LatestFresh: an answer younger than this is returned from the cache
	// without asking the API (60 unauthenticated requests an hour is
	// GitHub's limit, and a dashboard polls).
	LatestFresh = 10 * time.Minute
	// LatestMaxAge: when the API is rate limited or down, an answer up to
	// this old is returned instead of the error (with the error attached).
	LatestMaxAge = time.Hour
)

const (
	maxAPIBytes = 1 << 20
	apiTimeout  = 30 * time.Second // one releases-API request
)

// LatestRelease is the newest release of a miner as the releases API (or
// its cache) knows it.
type LatestRelease struct {
	// Version is the tag without the adapter's tag prefix.
	Version string `json:"version"`
	Tag     string `json:"tag"`
	// CheckedAt is when the API gave this answer.
	CheckedAt time.Time `json:"checked_at"`
	// Cached is set when the answer comes from the on-disk cache.
	Cached bool `json:"cached"`
	// Err is set when the API could not be asked or failed (rate limit,
	// outage) and a cached answer at most LatestMaxAge old stands in.
	Err error `json:"-"`
}

var githubRepo = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

func repoOf(meta *abi.Metadata) (string, error) {
	r := meta.Release.GitHub
	if !githubRepo.MatchString(r) || strings.Contains(r, "..") {
		return "", fmt.Errorf("%w: release.github %q is not owner/repo", ErrNoReleaseSource, r)
	}
	return r, nil
}

// Latest returns the newest release of the miner meta describes: the GitHub
// API's releases/latest tag_name, minus the adapter's tag prefix. Answers
// are cached on disk: one younger than LatestFresh is returned without a
// request; when the API is rate limited (ErrRateLimited) or unreachable
// (ErrUnavailable), an answer at most LatestMaxAge old is returned with
// Cached set and the failure in Err, and the error is nil. Without such an
// answer the error says what failed (an *HTTPError carries the status and,
// for a rate limit, when it lifts).
func (i *Installer) Latest(ctx context.Context, meta abi.Metadata) (LatestRelease, error) {
	typeDir, err := i.typeDir(meta.Name)
	if err != nil {
		return LatestRelease{}, fmt.Errorf("latest release: %w", err)
	}
	lr, err := i.latest(ctx, &meta, typeDir)
	if err != nil {
		return LatestRelease{}, fmt.Errorf("latest release of %s: %w", meta.Name, err)
	}
	return lr, nil
}

func (i *Installer) latest(ctx context.Context, meta *abi.Metadata, typeDir string) (LatestRelease, error) {
	repo, err := repoOf(meta)
	if err != nil {
		return LatestRelease{}, err
	}
	now := i.now()
	cache, haveCache := readLatestCache(typeDir)
	age := now.Sub(cache.CheckedAt)
	haveCache = haveCache && cache.Repo == repo && age >= -time.Minute
	fromCache := func(err error) LatestRelease {
		return LatestRelease{Version: cache.Version, Tag: cache.Tag, CheckedAt: cache.CheckedAt, Cached: true, Err: err}
	}
	if haveCache && age < LatestFresh {
		return fromCache(nil), nil
	}
	lr, err := i.fetchLatest(ctx, meta, repo)
	if err == nil {
		c := latestCache{Schema: schemaVersion, Repo: repo, Tag: lr.Tag, Version: lr.Version, CheckedAt: lr.CheckedAt}
		if err := ensureDir(typeDir); err != nil {
			i.log.Warn("cannot cache latest release", "type", meta.Name, "err", err)
		} else if err := writeJSONAtomic(filepath.Join(typeDir, latestFile), c); err != nil {
			i.log.Warn("cannot cache latest release", "type", meta.Name, "err", err)
		}
		return lr, nil
	}
	if ctx.Err() == nil && haveCache && age <= LatestMaxAge &&
		(errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)) {
		i.log.Warn("releases API failed, using cached answer", "type", meta.Name, "version", cache.Version, "age", age.Round(time.Second), "err", err)
		return fromCache(err), nil
	}
	return LatestRelease{}, err
}

func (i *Installer) fetchLatest(ctx context.Context, meta *abi.Metadata, repo string) (LatestRelease, error) {
	u := i.apiBase + "/repos/" + repo + "/releases/latest"
	hdr := http.Header{}
	hdr.Set("Accept", "application/vnd.github+json")
	hdr.Set("X-GitHub-Api-Version", "2022-11-28")
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	data, err := i.fetchSmall(ctx, u, hdr, maxAPIBytes)
	if err != nil {
		return LatestRelease{}, err
	}
	var body struct {
		TagName string `json:"tag_name"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return LatestRelease{}, fmt.Errorf("%w: %s: bad JSON: %v", ErrUnavailable, u, err)
	}
	v := strings.TrimPrefix(body.TagName, meta.Release.TagPrefix)
	if !validVersion(v) {
		return LatestRelease{}, fmt.Errorf("%w: %s: tag_name %q gives version %q", ErrInvalidVersion, u, truncate(body.TagName, 100), truncate(v, 100))
	}
	return LatestRelease{Version: v, Tag: body.TagName, CheckedAt: i.now()}, nil
}

// releaseURL is <base>/<owner>/<repo>/releases/download/<tag>/<file>.
func (i *Installer) releaseURL(repo, tag, file string) string {
	return i.releaseBase + "/" + repo + "/releases/download/" + url.PathEscape(tag) + "/" + url.PathEscape(file)
}

// expand fills the "{version}" template of an asset's name or binary.
func expand(tmpl, version string) string { return strings.ReplaceAll(tmpl, "{version}", version) }

// selectAsset picks the first asset for goos/goarch whose version range
// holds version, with its templates expanded.
func selectAsset(meta *abi.Metadata, goos, goarch, version string) (abi.Asset, error) {
	for _, a := range meta.Release.Assets {
		if a.OS != goos || a.Arch != goarch {
			continue
		}
		if a.MinVersion != "" && CompareVersions(version, a.MinVersion) < 0 ||
			a.BeforeVersion != "" && CompareVersions(version, a.BeforeVersion) >= 0 {
			continue
		}
		a.Name = expand(a.Name, version)
		a.Binary = expand(a.Binary, version)
		if a.Name == "" || a.Name == "." || a.Name == ".." || strings.ContainsAny(a.Name, "/\\\x00") {
			return abi.Asset{}, fmt.Errorf("%w: asset name %q is not a file name", ErrNoAsset, a.Name)
		}
		return a, nil
	}
	return abi.Asset{}, fmt.Errorf("%w: %s/%s, version %s", ErrNoAsset, goos, goarch, version)
}

// binaryPatterns are the ways to recognise the binary in a local archive of
// unknown version: the platform assets' Binary templates ("{version}"
// matching one path element's worth of characters), then their base names
// anywhere, then the miner type's name anywhere.
func binaryPatterns(meta *abi.Metadata, goos, goarch string) (exact, base []*regexp.Regexp) {
	seenBase := map[string]bool{}
	addBase := func(b string) {
		if b == "" || seenBase[b] {
			return
		}
		seenBase[b] = true
		base = append(base, templateRegexp(b))
	}
	for _, a := range meta.Release.Assets {
		if a.OS != goos || a.Arch != goarch || a.Binary == "" {
			continue
		}
		b := strings.ReplaceAll(a.Binary, `\`, "/")
		exact = append(exact, templateRegexp(strings.TrimPrefix(b, "./")))
		addBase(path.Base(b))
	}
	addBase(meta.Name)
	if goos == "windows" {
		addBase(meta.Name + ".exe")
	}
	return exact, base
}

func templateRegexp(tmpl string) *regexp.Regexp {
	parts := strings.Split(tmpl, "{version}")
	for k := range parts {
		parts[k] = regexp.QuoteMeta(parts[k])
	}
	return regexp.MustCompile("^" + strings.Join(parts, `[^/]+`) + "$")
}
