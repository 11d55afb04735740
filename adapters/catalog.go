package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

var _ miner.Adapters = (*Catalog)(nil)

// SourceBuiltin is the Source of adapters embedded in the binary.
const SourceBuiltin = "builtin"

// Adapter statuses in listings.
const (
	StatusOK          = "ok"
	StatusError       = "error"       // the file could not be loaded
	StatusQuarantined = "quarantined" // a call did not return
)

// Errors of catalog operations.
var (
	// ErrNotAllowed is a drop-in whose digest is not in the allow-list.
	ErrNotAllowed = errors.New("adapters: module digest not in the allow-list")
	// ErrBuiltin is a removal of an adapter that only exists built in.
	ErrBuiltin = errors.New("adapters: built-in adapters cannot be removed")
	// ErrNoGeneration is a rollback with nothing to roll back to.
	ErrNoGeneration = errors.New("adapters: no earlier generation")
)

// Info describes one adapter in a listing (`rigd adapters list --json`,
// GET /adapters); the type is declared in miner so the API can use it.
type Info = miner.AdapterInfo

// Change is what the catalog reports through CatalogConfig.OnChange.
type Change struct {
	// Action is "loaded", "refused", "removed" or "rolled_back".
	Action     string
	Name       string // the adapter name, "" if the file never loaded
	Source     string
	Generation int
	Err        error // why a file was refused
}

// CatalogConfig configures a Catalog.
type CatalogConfig struct {
	// Dir is the drop-in adapters directory; empty means none.
	Dir string
	// Builtins maps a label to embedded module bytes (see Builtins).
	Builtins map[string][]byte
	// AllowedDigests, when not empty, lists the only hex SHA-256 digests of
	// drop-in modules that may load; anything else is refused. Built-ins
	// are part of the binary and always load.
	AllowedDigests []string
	// OnChange, if set, is told about every drop-in loaded, refused,
	// removed or rolled back (outside the catalog's locks).
	OnChange func(Change)
}

// Catalog is the set of adapters the agent knows: built-ins plus drop-ins,
// each name served by its current generation. It implements
// miner.Adapters and is safe for concurrent use.
//
// A drop-in goes through static validation, its metadata, the self-test,
// its NAME.tests.json fixtures and the digest allow-list before it is
// published; a module that fails any of them leaves the previous
// generation serving. Running sessions move to a new generation on their
// next call; the old one is closed when no call uses it.
type Catalog struct {
	rt  *Runtime
	cfg CatalogConfig

	loadMu sync.Mutex // serialises loads, removals and rollbacks

	mu      sync.Mutex
	entries map[string]*entry    // by adapter name
	byPath  map[string]string    // drop-in path -> adapter name
	broken  map[string]Info      // drop-in files that never loaded
	seen    map[string]fileState // what the watcher saw last
}

type entry struct {
	builtin    *Module
	dropin     *Module
	dropinWasm []byte
	gen        int          // generations published under this name
	history    []generation // earlier drop-in generations, newest last
	refused    string       // why the last replacement was refused
}

// generation is an earlier state of an entry, for rollback; source ""
// means "no drop-in" (the built-in served).
type generation struct {
	source string
	wasm   []byte
}

// maxHistory is how many earlier generations rollback can go back to.
const maxHistory = 3

type fileState struct {
	size   int64
	mtime  time.Time
	digest string
}

func (e *entry) current() *Module {
	if e.dropin != nil {
		return e.dropin
	}
	return e.builtin
}

// NewCatalog returns an empty catalog; call Load to fill it.
func NewCatalog(rt *Runtime, cfg CatalogConfig) *Catalog {
	return &Catalog{rt: rt, cfg: cfg, entries: map[string]*entry{}, byPath: map[string]string{},
		broken: map[string]Info{}, seen: map[string]fileState{}}
}

// Load loads the built-ins and every *.wasm in the adapters directory. A
// module that fails to load is listed with its reason and does not stop
// the others; the joined load errors are returned for logging.
func (c *Catalog) Load(ctx context.Context) error {
	var errs []error
	labels := make([]string, 0, len(c.cfg.Builtins))
	for l := range c.cfg.Builtins {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	for _, l := range labels {
		m, err := c.rt.LoadBuiltin(ctx, c.cfg.Builtins[l])
		if err != nil {
			errs = append(errs, fmt.Errorf("built-in %s: %w", l, err))
			continue
		}
		c.mu.Lock()
		e := c.entryLocked(m.meta.Name)
		old := e.builtin
		e.builtin = m
		if e.gen == 0 {
			e.gen = 1
		}
		m.gen = e.gen
		c.mu.Unlock()
		if old != nil {
			old.retire()
		}
	}
	return errors.Join(append(errs, c.scan(ctx, 0))...)
}

func (c *Catalog) entryLocked(name string) *entry {
	e := c.entries[name]
	if e == nil {
		e = &entry{}
		c.entries[name] = e
	}
	return e
}

// Watch rescans the adapters directory every interval until ctx is done:
// new and changed files are loaded, removed ones unloaded (falling back to
// the built-in of the same name).
func (c *Catalog) Watch(ctx context.Context, interval time.Duration) {
	if c.cfg.Dir == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.scan(ctx, settle)
		}
	}
}

// settle is how old a file's modification time must be before the
// watcher loads it, so that a file still being copied is not caught
// half-written.
const settle = 500 * time.Millisecond

// Scan compares the adapters directory with what it saw last and applies
// the differences, waiting for files modified in the last moment to
// settle; it returns the load errors.
func (c *Catalog) Scan(ctx context.Context) error { return c.scan(ctx, settle) }

// scan is Scan with a given settle time (0 at start-up: every file
// present is loaded).
func (c *Catalog) scan(ctx context.Context, settle time.Duration) error {
	if c.cfg.Dir == "" {
		return nil
	}
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	files, err := filepath.Glob(filepath.Join(c.cfg.Dir, "*.wasm"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	var errs []error
	present := map[string]bool{}
	for _, f := range files {
		present[f] = true
		fi, err := os.Stat(f)
		if err != nil {
			continue // gone meanwhile
		}
		c.mu.Lock()
		prev, known := c.seen[f]
		c.mu.Unlock()
		if known && prev.size == fi.Size() && prev.mtime.Equal(fi.ModTime()) {
			continue
		}
		if time.Since(fi.ModTime()) < settle {
			continue // still being written; next scan
		}
		wasm, err := readModuleFile(f)
		if err != nil {
			errs = append(errs, err)
			c.refuse(f, err)
			continue
		}
		sum := sha256.Sum256(wasm)
		st := fileState{size: fi.Size(), mtime: fi.ModTime(), digest: hex.EncodeToString(sum[:])}
		c.mu.Lock()
		c.seen[f] = st
		c.mu.Unlock()
		if known && prev.digest == st.digest {
			continue // touched, not changed
		}
		if _, err := c.loadLocked(ctx, f, wasm); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	var gone []string
	for f := range c.seen {
		if !present[f] {
			gone = append(gone, f)
		}
	}
	for f := range c.broken {
		if !present[f] {
			delete(c.broken, f)
		}
	}
	c.mu.Unlock()
	for _, f := range gone {
		c.unloadLocked(f)
	}
	return errors.Join(errs...)
}

// LoadFile loads one drop-in file now (see Scan for the directory).
func (c *Catalog) LoadFile(ctx context.Context, path string) (*Module, error) {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	wasm, err := readModuleFile(path)
	if err != nil {
		c.refuse(path, err)
		return nil, err
	}
	return c.loadLocked(ctx, path, wasm)
}

// admit runs every check a drop-in must pass before it is published.
func (c *Catalog) admit(ctx context.Context, path string, wasm []byte) (*Module, error) {
	if len(c.cfg.AllowedDigests) > 0 {
		sum := sha256.Sum256(wasm)
		d := hex.EncodeToString(sum[:])
		if !slices.Contains(c.cfg.AllowedDigests, d) {
			return nil, &LoadError{Source: path, Err: fmt.Errorf("%w: sha256 %s", ErrNotAllowed, d)}
		}
	}
	m, err := c.rt.Load(ctx, path, wasm)
	if err != nil {
		return nil, err
	}
	err = m.SelfTest(ctx)
	if err == nil {
		if f, ferr := ReadFixtures(FixturesPath(path)); ferr == nil {
			err = FixturesError(m.RunFixtures(ctx, f))
		} else if !errors.Is(ferr, os.ErrNotExist) {
			err = ferr
		}
		if err != nil {
			err = &LoadError{Source: path, Err: fmt.Errorf("conformance fixtures: %w", err)}
		}
	}
	if err != nil {
		m.close(ctx)
		return nil, err
	}
	return m, nil
}

// loadLocked admits and publishes a drop-in; loadMu is held.
func (c *Catalog) loadLocked(ctx context.Context, path string, wasm []byte) (*Module, error) {
	m, err := c.admit(ctx, path, wasm)
	if err != nil {
		c.refuse(path, err)
		return nil, err
	}
	if err := c.publish(path, m, wasm, true); err != nil {
		m.close(ctx)
		c.refuse(path, err)
		return nil, err
	}
	return m, nil
}

// publish makes m the current drop-in generation of its name.
func (c *Catalog) publish(path string, m *Module, wasm []byte, keepHistory bool) error {
	name := m.meta.Name
	c.mu.Lock()
	e := c.entryLocked(name)
	if e.dropin != nil && e.dropin.source != path {
		other := e.dropin.source
		c.mu.Unlock()
		return fmt.Errorf("adapter %s: name %q is already provided by %s", path, name, other)
	}
	// The file may have provided another adapter name before.
	var orphan *Module
	if prev, ok := c.byPath[path]; ok && prev != name {
		if pe := c.entries[prev]; pe != nil && pe.dropin != nil && pe.dropin.source == path {
			orphan = pe.dropin
			pe.dropin, pe.dropinWasm = nil, nil
			pe.gen++
		}
	}
	old := e.dropin
	// History holds what rollback can go back to: the previous drop-in,
	// or the built-in; the first drop-in of a name no built-in has has
	// nothing before it (going "back" would delete the adapter).
	if keepHistory && (old != nil || e.builtin != nil) {
		e.history = append(e.history, generation{source: sourceOf(old), wasm: e.dropinWasm})
		if len(e.history) > maxHistory {
			e.history = e.history[len(e.history)-maxHistory:]
		}
	}
	e.gen++
	m.gen = e.gen
	e.dropin, e.dropinWasm, e.refused = m, wasm, ""
	c.byPath[path] = name
	delete(c.broken, path)
	gen := e.gen
	c.mu.Unlock()
	for _, o := range []*Module{old, orphan} {
		if o != nil {
			o.retire()
		}
	}
	c.rt.log.Info("adapter published", "adapter", name, "source", path, "generation", gen, "sha256", m.digest)
	c.notify(Change{Action: "loaded", Name: name, Source: path, Generation: gen})
	return nil
}

func sourceOf(m *Module) string {
	if m == nil {
		return ""
	}
	return m.source
}

// refuse records why a file did not load. If an earlier generation of the
// same file serves, it keeps serving and the listing says why the new one
// was refused.
func (c *Catalog) refuse(path string, err error) {
	c.mu.Lock()
	name, serving := c.byPath[path]
	if e := c.entries[name]; serving && e != nil && e.dropin != nil && e.dropin.source == path {
		e.refused = fmt.Sprintf("replacement refused, generation %d still serving: %v", e.gen, err)
	} else {
		name = strings.TrimSuffix(filepath.Base(path), ".wasm")
		c.broken[path] = Info{Name: name, Source: path, Status: StatusError, Error: err.Error()}
	}
	c.mu.Unlock()
	c.rt.log.Warn("adapter refused", "source", path, "err", err)
	c.notify(Change{Action: "refused", Name: name, Source: path, Err: err})
}

// unloadLocked removes the drop-in loaded from path: its name falls back
// to the built-in, if any. Running sessions keep the generation they have.
func (c *Catalog) unloadLocked(path string) {
	c.mu.Lock()
	delete(c.seen, path)
	delete(c.broken, path)
	name, ok := c.byPath[path]
	delete(c.byPath, path)
	var old *Module
	gen := 0
	if e := c.entries[name]; ok && e != nil && e.dropin != nil && e.dropin.source == path {
		e.history = append(e.history, generation{source: path, wasm: e.dropinWasm})
		if len(e.history) > maxHistory {
			e.history = e.history[len(e.history)-maxHistory:]
		}
		old = e.dropin
		e.dropin, e.dropinWasm, e.refused = nil, nil, ""
		e.gen++
		gen = e.gen
		if e.builtin == nil {
			delete(c.entries, name)
		}
	}
	c.mu.Unlock()
	if old != nil {
		old.retire()
		c.rt.log.Info("adapter removed", "adapter", name, "source", path)
		c.notify(Change{Action: "removed", Name: name, Source: path, Generation: gen})
	}
}

func (c *Catalog) notify(ch Change) {
	if c.cfg.OnChange != nil {
		c.cfg.OnChange(ch)
	}
}

// Rollback makes the previous generation of name current again and
// persists it: the earlier file content is written back to the adapters
// directory, or the drop-in file is removed when the built-in served
// before it.
func (c *Catalog) Rollback(ctx context.Context, name string) (Info, error) {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	c.mu.Lock()
	e := c.entries[name]
	if e == nil {
		c.mu.Unlock()
		return Info{}, fmt.Errorf("%w: %q (no such adapter)", miner.ErrUnknownType, name)
	}
	if len(e.history) == 0 {
		c.mu.Unlock()
		return Info{}, fmt.Errorf("%w: %q has none to roll back to", ErrNoGeneration, name)
	}
	g := e.history[len(e.history)-1]
	cur := e.dropin
	c.mu.Unlock()

	if g.source == "" { // back to the built-in: remove the drop-in file
		if cur == nil {
			return Info{}, fmt.Errorf("adapters: %q already serves its built-in", name)
		}
		if err := os.Remove(cur.source); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Info{}, fmt.Errorf("adapters: rollback %q: %w", name, err)
		}
		c.unloadLocked(cur.source)
	} else {
		m, err := c.admit(ctx, g.source, g.wasm)
		if err != nil {
			return Info{}, fmt.Errorf("adapters: rollback %q: the earlier generation no longer loads: %w", name, err)
		}
		if err := writeFileAtomic(g.source, g.wasm); err != nil {
			m.close(ctx)
			return Info{}, fmt.Errorf("adapters: rollback %q: %w", name, err)
		}
		if cur != nil && cur.source != g.source {
			// The newer generation came from another file: remove it so a
			// restart does not bring it back.
			os.Remove(cur.source)
			c.unloadLocked(cur.source)
		}
		if err := c.publish(g.source, m, g.wasm, false); err != nil {
			m.close(ctx)
			return Info{}, err
		}
		if fi, err := os.Stat(g.source); err == nil {
			sum := sha256.Sum256(g.wasm)
			c.mu.Lock()
			c.seen[g.source] = fileState{size: fi.Size(), mtime: fi.ModTime(), digest: hex.EncodeToString(sum[:])}
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	if e := c.entries[name]; e != nil && len(e.history) > 0 {
		e.history = e.history[:len(e.history)-1]
	}
	c.mu.Unlock()
	m, err := c.Get(name)
	if err != nil {
		return Info{}, err
	}
	c.notify(Change{Action: "rolled_back", Name: name, Source: m.source, Generation: m.gen})
	return c.infoOf(name), nil
}

// Install validates a module (with the fixtures given, if any), writes it
// to the adapters directory as <name>.wasm and publishes it.
func (c *Catalog) Install(ctx context.Context, wasm []byte, fixtures []byte) (Info, error) {
	if c.cfg.Dir == "" {
		return Info{}, errors.New("adapters: no adapters directory configured")
	}
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	// Validate under a temporary name first to learn the adapter's name.
	probe := filepath.Join(c.cfg.Dir, ".upload-probe.wasm")
	m, err := c.rt.Load(ctx, probe, wasm)
	if err != nil {
		return Info{}, err
	}
	name, digest := m.meta.Name, m.digest
	m.close(ctx)
	path := filepath.Join(c.cfg.Dir, name+".wasm")
	c.mu.Lock()
	e := c.entries[name]
	same := e != nil && e.dropin != nil && e.dropin.source == path && e.dropin.digest == digest && e.refused == ""
	c.mu.Unlock()
	if same && len(fixtures) == 0 {
		return c.infoOf(name), nil // already serving these bytes: no new generation
	}
	if err := os.MkdirAll(c.cfg.Dir, 0o700); err != nil {
		return Info{}, fmt.Errorf("adapters: %w", err)
	}
	// The fixtures judge the module from their file (admit reads it); a
	// refused upload puts back the ones the served adapter had.
	restore := func() {}
	if len(fixtures) > 0 {
		fx := FixturesPath(path)
		old, oerr := os.ReadFile(fx)
		if err := writeFileAtomic(fx, fixtures); err != nil {
			return Info{}, err
		}
		restore = func() {
			if oerr == nil {
				writeFileAtomic(fx, old)
			} else {
				os.Remove(fx)
			}
		}
	}
	if m, err = c.admit(ctx, path, wasm); err != nil {
		restore()
		return Info{}, err
	}
	if err := writeFileAtomic(path, wasm); err != nil {
		m.close(ctx)
		restore()
		return Info{}, err
	}
	if err := c.publish(path, m, wasm, true); err != nil {
		m.close(ctx)
		restore()
		return Info{}, err
	}
	if fi, err := os.Stat(path); err == nil {
		c.mu.Lock()
		c.seen[path] = fileState{size: fi.Size(), mtime: fi.ModTime(), digest: m.digest}
		c.mu.Unlock()
	}
	return c.infoOf(name), nil
}

// Remove deletes the drop-in file of name and its fixtures (which would
// otherwise judge the next adapter of that name); the built-in of the same
// name, if any, serves again.
func (c *Catalog) Remove(ctx context.Context, name string) error {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	c.mu.Lock()
	e := c.entries[name]
	var path string
	if e != nil && e.dropin != nil {
		path = e.dropin.source
	}
	c.mu.Unlock()
	if path == "" {
		if e != nil {
			return fmt.Errorf("%w: %q", ErrBuiltin, name)
		}
		return fmt.Errorf("%w: %q (no such adapter)", miner.ErrUnknownType, name)
	}
	for _, p := range []string{path, FixturesPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("adapters: remove %q: %w", name, err)
		}
	}
	c.unloadLocked(path)
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func readModuleFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &LoadError{Source: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &LoadError{Source: path, Err: fmt.Errorf("%w: not a regular file", ErrInvalidModule)}
	}
	if fi.Size() > MaxModuleBytes {
		return nil, &LoadError{Source: path, Err: fmt.Errorf("%w: %d bytes is over the %d byte limit", ErrInvalidModule, fi.Size(), MaxModuleBytes)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{Source: path, Err: err}
	}
	return b, nil
}

// List returns every adapter, loaded or not, sorted by name then source.
func (c *Catalog) List() []Info {
	c.mu.Lock()
	names := make([]string, 0, len(c.entries))
	for n := range c.entries {
		names = append(names, n)
	}
	broken := make([]Info, 0, len(c.broken))
	for _, b := range c.broken {
		broken = append(broken, b)
	}
	c.mu.Unlock()
	var out []Info
	for _, n := range names {
		if i := c.infoOf(n); i.Name != "" {
			out = append(out, i)
		}
	}
	out = append(out, broken...)
	slices.SortFunc(out, func(a, b Info) int {
		if a.Name != b.Name {
			return strings.Compare(a.Name, b.Name)
		}
		return strings.Compare(a.Source, b.Source)
	})
	return out
}

// infoOf describes the current generation of name.
func (c *Catalog) infoOf(name string) Info {
	c.mu.Lock()
	e := c.entries[name]
	if e == nil || e.current() == nil {
		c.mu.Unlock()
		return Info{}
	}
	cur, shadows, refused := e.current(), e.dropin != nil && e.builtin != nil, e.refused
	c.mu.Unlock()
	i := cur.info()
	if shadows {
		i.Shadows = SourceBuiltin
	}
	if refused != "" && i.Error == "" {
		i.Error = refused
	}
	return i
}

func (m *Module) info() Info {
	i := Info{
		Name:        m.meta.Name,
		DisplayName: m.meta.DisplayName,
		Version:     m.meta.Version,
		ABI:         strconv.Itoa(abi.Major) + "." + strconv.Itoa(m.meta.ABIMinor),
		Source:      m.source,
		Status:      StatusOK,
		Digest:      m.digest,
		Generation:  m.gen,
	}
	if err := m.Quarantined(); err != nil {
		i.Status, i.Error = StatusQuarantined, err.Error()
	}
	return i
}

// Get returns the current generation of the named adapter.
func (c *Catalog) Get(name string) (*Module, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[name]; e != nil {
		if m := e.current(); m != nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (no such adapter)", miner.ErrUnknownType, name)
}

// Names returns the names of the loaded adapters, sorted.
func (c *Catalog) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for n, e := range c.entries {
		if e.current() != nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Metadata implements miner.Adapters.
func (c *Catalog) Metadata(_ context.Context, typ string) (abi.Metadata, error) {
	m, err := c.Get(typ)
	if err != nil {
		return abi.Metadata{}, err
	}
	return m.Metadata(), nil
}

// BuildCommand implements miner.Adapters.
func (c *Catalog) BuildCommand(ctx context.Context, typ string, req abi.BuildRequest) (abi.Command, error) {
	m, err := c.Get(typ)
	if err != nil {
		return abi.Command{}, err
	}
	return m.BuildCommand(ctx, req)
}

// NewSession implements miner.Adapters: the session follows the adapter
// named typ across reloads.
func (c *Catalog) NewSession(_ context.Context, typ string) (miner.Session, error) {
	if _, err := c.Get(typ); err != nil {
		return nil, err
	}
	return newSession(func() (*Module, error) { return c.Get(typ) }), nil
}

// Close closes every module.
func (c *Catalog) Close(ctx context.Context) {
	c.mu.Lock()
	entries := c.entries
	c.entries = map[string]*entry{}
	c.mu.Unlock()
	for _, e := range entries {
		for _, m := range []*Module{e.builtin, e.dropin} {
			if m != nil {
				m.close(ctx)
			}
		}
	}
}
