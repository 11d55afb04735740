package adapters

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// Info describes one adapter in a listing (`rigd adapters list --json`,
// GET /adapters); the type is declared in miner so the API can use it.
type Info = miner.AdapterInfo

// CatalogConfig configures a Catalog.
type CatalogConfig struct {
	// Dir is the drop-in adapters directory; empty means none.
	Dir string
	// Builtins maps a label to embedded module bytes (see Builtins).
	Builtins map[string][]byte
}

// Catalog is the set of adapters the agent knows: built-ins plus drop-ins.
// It implements miner.Adapters and is safe for concurrent use.
type Catalog struct {
	rt  *Runtime
	cfg CatalogConfig

	mu      sync.Mutex
	entries map[string]*entry // by adapter name
	broken  []Info            // files that failed to load
}

type entry struct {
	builtin *Module
	dropin  *Module
}

func (e *entry) current() *Module {
	if e.dropin != nil {
		return e.dropin
	}
	return e.builtin
}

// NewCatalog returns an empty catalog; call Load to fill it.
func NewCatalog(rt *Runtime, cfg CatalogConfig) *Catalog {
	return &Catalog{rt: rt, cfg: cfg, entries: map[string]*entry{}}
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
		m, err := c.rt.Load(ctx, SourceBuiltin, c.cfg.Builtins[l])
		if err != nil {
			errs = append(errs, fmt.Errorf("built-in %s: %w", l, err))
			continue
		}
		c.mu.Lock()
		e := c.entryLocked(m.meta.Name)
		old := e.builtin
		e.builtin = m
		c.mu.Unlock()
		if old != nil {
			old.retire()
		}
	}
	if c.cfg.Dir != "" {
		files, err := filepath.Glob(filepath.Join(c.cfg.Dir, "*.wasm"))
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		slices.Sort(files)
		for _, f := range files {
			if _, err := c.LoadFile(ctx, f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Catalog) entryLocked(name string) *entry {
	e := c.entries[name]
	if e == nil {
		e = &entry{}
		c.entries[name] = e
	}
	return e
}

// LoadFile loads one drop-in file and publishes it under its adapter name,
// replacing an earlier drop-in of the same name (running sessions move to
// it on their next call). A failure leaves what was there before.
func (c *Catalog) LoadFile(ctx context.Context, path string) (*Module, error) {
	wasm, err := readModuleFile(path)
	if err == nil {
		var m *Module
		if m, err = c.rt.Load(ctx, path, wasm); err == nil {
			c.mu.Lock()
			c.clearBrokenLocked(path)
			e := c.entryLocked(m.meta.Name)
			if e.dropin != nil && e.dropin.source != path {
				other := e.dropin.source
				c.mu.Unlock()
				m.close(ctx)
				err = fmt.Errorf("adapter %s: name %q is already provided by %s", path, m.meta.Name, other)
				c.recordBroken(path, err)
				return nil, err
			}
			old := e.dropin
			e.dropin = m
			c.mu.Unlock()
			if old != nil {
				old.retire()
			}
			return m, nil
		}
	}
	c.recordBroken(path, err)
	return nil, err
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

func (c *Catalog) recordBroken(path string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearBrokenLocked(path)
	c.broken = append(c.broken, Info{
		Name:   strings.TrimSuffix(filepath.Base(path), ".wasm"),
		Source: path,
		Status: StatusError,
		Error:  err.Error(),
	})
}

func (c *Catalog) clearBrokenLocked(path string) {
	c.broken = slices.DeleteFunc(c.broken, func(i Info) bool { return i.Source == path })
}

// List returns every adapter, loaded or not, sorted by name then source.
func (c *Catalog) List() []Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Info
	for _, e := range c.entries {
		cur := e.current()
		if cur == nil {
			continue
		}
		info := cur.info()
		if e.dropin != nil && e.builtin != nil {
			info.Shadows = SourceBuiltin
		}
		out = append(out, info)
	}
	out = append(out, c.broken...)
	slices.SortFunc(out, func(a, b Info) int {
		if a.Name != b.Name {
			return strings.Compare(a.Name, b.Name)
		}
		return strings.Compare(a.Source, b.Source)
	})
	return out
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
