package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files in <data-dir>/miners/<type>/.
const (
	recordFile = "installed.json" // record: installed versions and the current one
	pinsFile   = "pins.json"      // pinFile: trust-on-first-use digests
	latestFile = "latest.json"    // latestCache: last answer of the releases API
	lockFile   = ".lock"          // flock'd while records are changed
	tmpPrefix  = ".tmp-"          // work directories of running installs
)

// schemaVersion is written into every JSON file; a newer one is refused
// rather than misread.
const schemaVersion = 1

// record is installed.json.
type record struct {
	Schema   int             `json:"schema"`
	Type     string          `json:"type"`
	Current  string          `json:"current"`
	Versions []versionRecord `json:"versions"`
}

// versionRecord is one installed version.
type versionRecord struct {
	Version string `json:"version"`
	// Binary is the binary's path relative to the version directory, with
	// forward slashes.
	Binary        string    `json:"binary"`
	BinarySHA256  string    `json:"binary_sha256"`
	Source        string    `json:"source"`
	Asset         string    `json:"asset,omitempty"`
	ArchiveSHA256 string    `json:"archive_sha256,omitempty"`
	InstalledAt   time.Time `json:"installed_at"`
	Trust         Trust     `json:"trust"`
}

func (r *record) find(version string) *versionRecord {
	for k := range r.Versions {
		if r.Versions[k].Version == version {
			return &r.Versions[k]
		}
	}
	return nil
}

func (r *record) upsert(v versionRecord) {
	if p := r.find(v.Version); p != nil {
		*p = v
		return
	}
	r.Versions = append(r.Versions, v)
}

func (r *record) remove(version string) {
	r.Versions = slices.DeleteFunc(r.Versions, func(v versionRecord) bool { return v.Version == version })
}

// pinFile is pins.json.
type pinFile struct {
	Schema int   `json:"schema"`
	Pins   []Pin `json:"pins"`
}

func (p *pinFile) find(version, asset string) *Pin {
	for k := range p.Pins {
		if p.Pins[k].Version == version && p.Pins[k].Asset == asset {
			return &p.Pins[k]
		}
	}
	return nil
}

// latestCache is latest.json.
type latestCache struct {
	Schema    int       `json:"schema"`
	Repo      string    `json:"repo"`
	Tag       string    `json:"tag"`
	Version   string    `json:"version"`
	CheckedAt time.Time `json:"checked_at"`
}

// readRecord reads installed.json; a missing file is an empty record.
func readRecord(typeDir, typ string) (record, error) {
	rec := record{Schema: schemaVersion, Type: typ}
	data, err := os.ReadFile(filepath.Join(typeDir, recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, filepath.Join(typeDir, recordFile), err)
	}
	if err := rec.check(typ); err != nil {
		return rec, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, filepath.Join(typeDir, recordFile), err)
	}
	return rec, nil
}

// check validates a record read from disk: it decides which paths are
// opened and run, so it is treated as outside input.
func (r *record) check(typ string) error {
	if r.Schema != schemaVersion {
		return fmt.Errorf("schema %d, want %d", r.Schema, schemaVersion)
	}
	if r.Type != typ {
		return fmt.Errorf("type %q, want %q", r.Type, typ)
	}
	seen := map[string]bool{}
	for _, v := range r.Versions {
		switch {
		case !validVersion(v.Version):
			return fmt.Errorf("invalid version %q", v.Version)
		case seen[v.Version]:
			return fmt.Errorf("version %q listed twice", v.Version)
		case !filepath.IsLocal(filepath.FromSlash(v.Binary)) || strings.Contains(v.Binary, `\`):
			return fmt.Errorf("version %q: binary path %q is not local", v.Version, v.Binary)
		case !isSHA256Hex(v.BinarySHA256):
			return fmt.Errorf("version %q: binary_sha256 %q is not a sha256", v.Version, v.BinarySHA256)
		}
		seen[v.Version] = true
	}
	if r.Current != "" && !seen[r.Current] {
		return fmt.Errorf("current version %q is not listed", r.Current)
	}
	return nil
}

func readPins(typeDir string) (pinFile, error) {
	p := pinFile{Schema: schemaVersion}
	data, err := os.ReadFile(filepath.Join(typeDir, pinsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Schema != schemaVersion {
		return p, fmt.Errorf("%w: %s: schema %d, %v", ErrCorruptRecord, filepath.Join(typeDir, pinsFile), p.Schema, err)
	}
	return p, nil
}

// readLatestCache returns the cached releases-API answer, ok=false if there
// is none usable.
func readLatestCache(typeDir string) (latestCache, bool) {
	var c latestCache
	data, err := os.ReadFile(filepath.Join(typeDir, latestFile))
	if err != nil || json.Unmarshal(data, &c) != nil || c.Schema != schemaVersion || !validVersion(c.Version) {
		return latestCache{}, false
	}
	return c, true
}

// writeJSONAtomic writes v as JSON to path: a temp file in the same
// directory, fsync, rename, fsync of the directory. Readers see the old or
// the new file, never a torn one.
func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some filesystems cannot fsync a directory; the rename itself is
	// still atomic.
	if errors.Is(err, errors.ErrUnsupported) || isEINVAL(err) {
		return nil
	}
	return err
}
