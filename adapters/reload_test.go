package adapters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// withCustomSection returns a copy of wasm with a custom section appended:
// a different module (new digest, new generation) with the same behaviour.
func withCustomSection(wasm []byte, tag string) []byte {
	payload := append(wname("rigd-test"), tag...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0)
	out = append(out, uleb(uint64(len(payload)))...)
	return append(out, payload...)
}

// writeOld writes a file with an mtime old enough for Scan to pick it up.
func writeOld(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(path, old, old)
}

func newTestCatalog(t testing.TB, dir string, mutate func(*CatalogConfig)) *Catalog {
	t.Helper()
	rt, err := NewRuntime(context.Background(), Config{CacheDir: filepath.Join(os.TempDir(), "rigd-test-wasm-cache"), Deadlines: Deadlines{ParseLine: 5 * time.Second, ParseAPI: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := CatalogConfig{Dir: dir, Builtins: map[string][]byte{"xmrig": Builtins()["xmrig"]}}
	if mutate != nil {
		mutate(&cfg)
	}
	c := NewCatalog(rt, cfg)
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close(context.Background())
		rt.Close(context.Background())
	})
	return c
}

func info(t testing.TB, c *Catalog, name string) Info {
	t.Helper()
	for _, i := range c.List() {
		if i.Name == name && i.Status != StatusError {
			return i
		}
	}
	t.Fatalf("no %s in %+v", name, c.List())
	return Info{}
}

// Hot swap under load: lines keep flowing through one session while the
// adapter file is replaced 20 times. Every share is counted exactly once
// and the session follows each generation without an error.
func TestHotSwapUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("replaces an adapter 20 times; skipped with -short")
	}
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	ctx := context.Background()
	sess, err := c.NewSession(ctx, "xmrig")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	xmrig := Builtins()["xmrig"]
	path := filepath.Join(dir, "xmrig.wasm")

	const swaps, perSwap = 20, 25 // 100 lines/s for 5 s of simulated time
	var mu sync.Mutex
	var got []int64
	var stats abi.Stats
	n := 0
	feed := func(lines int) {
		for range lines {
			n++
			l := fmt.Sprintf("[2026-11-26 22:55:19.643]  cpu      accepted (%d/0) diff 50 (1 ms)", n)
			res, err := sess.ParseLines(ctx, abi.Stdout, [][]byte{[]byte(l)})
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			mu.Lock()
			for _, e := range res.Events {
				if e.Type == abi.EventShareAccepted {
					got = append(got, *e.Accepted)
				}
			}
			stats.Merge(res.Stats)
			mu.Unlock()
		}
	}
	startGen := info(t, c, "xmrig").Generation
	for i := range swaps {
		done := make(chan struct{})
		go func() { defer close(done); feed(perSwap) }()
		// Two variants alternate: every swap is a new generation with a new
		// digest, and after the first two the compilation cache is warm.
		writeOld(t, path, withCustomSection(xmrig, fmt.Sprint("gen", i%2)))
		os.Chtimes(path, time.Now().Add(-time.Hour), time.Now().Add(-time.Duration(i+1)*time.Second))
		if err := c.Scan(ctx); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		<-done
	}
	feed(perSwap)
	if g := info(t, c, "xmrig").Generation; g != startGen+swaps {
		t.Fatalf("generation %d, want %d", g, startGen+swaps)
	}
	if len(got) != n {
		t.Fatalf("%d share events for %d lines", len(got), n)
	}
	for i, a := range got {
		if a != int64(i+1) {
			t.Fatalf("share %d reported as %d: lost or duplicated", i+1, a)
		}
	}
	if *stats.Accepted != int64(n) {
		t.Fatalf("accepted %d, want %d", *stats.Accepted, n)
	}
}

// A broken replacement is refused and the previous generation keeps
// serving; the listing says why.
func TestBrokenReplacementKeepsServing(t *testing.T) {
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "wat.wasm")
	writeOld(t, path, goodModule())
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	gen := info(t, c, "wat").Generation

	meta, cmd := []byte(testMetadataJSON), []byte(testCommandJSON)
	v2 := adapterSpec{marker: "adapter_abi_v2", calls: map[string][]byte{
		"adapter_metadata": writeStatic(0, uint32(len(meta)), 0), "adapter_build_command": writeStatic(4096, uint32(len(cmd)), 0)},
		data: []wdata{{0, meta}, {4096, cmd}}}.module().assemble()
	trapping := adapterSpec{calls: map[string][]byte{
		"adapter_metadata": writeStatic(0, uint32(len(meta)), 0), "adapter_build_command": cat(opUnreachable, i32c(0))},
		data: []wdata{{0, meta}, {4096, cmd}}}.module().assemble()
	for _, tc := range []struct {
		name     string
		wasm     []byte
		fixtures string
		want     string
	}{
		{"wrong ABI", v2, "", "declares ABI v2"},
		{"trapping", trapping, "", "trap"},
		{"failing fixture", withCustomSection(goodModule(), "x"), `{"build": [{"name": "args", "profile": {}, "want_args": ["--other"]}]}`, "fixtures failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := FixturesPath(path)
			if tc.fixtures != "" {
				writeOld(t, fx, []byte(tc.fixtures))
				defer os.Remove(fx)
			}
			writeOld(t, path, tc.wasm)
			os.Chtimes(path, time.Now().Add(-time.Hour), time.Now().Add(-time.Duration(len(tc.name))*time.Minute))
			err := c.Scan(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("scan error %v, want %q", err, tc.want)
			}
			i := info(t, c, "wat")
			if i.Generation != gen || i.Status != StatusOK || !strings.Contains(i.Error, "replacement refused") {
				t.Fatalf("listing after a refused replacement: %+v", i)
			}
			if _, err := c.BuildCommand(ctx, "wat", sampleRequest(c.mustGet(t, "wat").Metadata())); err != nil {
				t.Fatalf("the serving generation stopped working: %v", err)
			}
		})
	}
}

func (c *Catalog) mustGet(t testing.TB, name string) *Module {
	t.Helper()
	m, err := c.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A drop-in named like a built-in wins; deleting it falls back; rollback
// returns to the built-in.
func TestDropInShadowsBuiltinAndFallsBack(t *testing.T) {
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "my-xmrig.wasm")
	writeOld(t, path, withCustomSection(Builtins()["xmrig"], "dropin"))
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if i := info(t, c, "xmrig"); i.Source != path || i.Shadows != SourceBuiltin {
		t.Fatalf("drop-in does not win: %+v", i)
	}
	os.Remove(path)
	c.Scan(ctx)
	if i := info(t, c, "xmrig"); i.Source != SourceBuiltin {
		t.Fatalf("after delete: %+v", i)
	}

	// Rollback: built-in -> drop-in v1 -> drop-in v2, then back twice.
	writeOld(t, path, withCustomSection(Builtins()["xmrig"], "v1"))
	c.Scan(ctx)
	v1 := info(t, c, "xmrig").Digest
	writeOld(t, path, withCustomSection(Builtins()["xmrig"], "v2"))
	os.Chtimes(path, time.Now().Add(-time.Hour), time.Now().Add(-2*time.Minute))
	c.Scan(ctx)
	if d := info(t, c, "xmrig").Digest; d == v1 {
		t.Fatal("v2 not loaded")
	}
	if i, err := c.Rollback(ctx, "xmrig"); err != nil || i.Digest != v1 {
		t.Fatalf("rollback to v1: %+v %v", i, err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(withCustomSection(Builtins()["xmrig"], "v1")) {
		t.Fatal("rollback did not persist v1 on disk")
	}
	c.Scan(ctx) // the watcher must not undo the rollback
	if i := info(t, c, "xmrig"); i.Digest != v1 {
		t.Fatalf("after rescan: %+v", i)
	}
}

func TestDigestAllowList(t *testing.T) {
	dir := t.TempDir()
	good := goodModule()
	other := withCustomSection(good, "unlisted")
	c := newTestCatalog(t, dir, func(cfg *CatalogConfig) {
		m, _ := NewRuntime(context.Background(), Config{})
		defer m.Close(context.Background())
		mod, err := m.Load(context.Background(), "x", good)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AllowedDigests = []string{mod.Digest()}
	})
	ctx := context.Background()
	writeOld(t, filepath.Join(dir, "listed.wasm"), good)
	writeOld(t, filepath.Join(dir, "unlisted.wasm"), other)
	err := c.Scan(ctx)
	if !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("scan: %v, want ErrNotAllowed for the unlisted module", err)
	}
	var sawListed, sawRefused bool
	for _, i := range c.List() {
		if i.Source == filepath.Join(dir, "listed.wasm") && i.Status == StatusOK {
			sawListed = true
		}
		if i.Source == filepath.Join(dir, "unlisted.wasm") && i.Status == StatusError && strings.Contains(i.Error, "allow-list") {
			sawRefused = true
		}
	}
	if !sawListed || !sawRefused {
		t.Fatalf("listing %+v", c.List())
	}
	// Built-ins always load.
	info(t, c, "xmrig")
}

// A running session keeps working when its adapter file is deleted and no
// built-in exists.
func TestSessionSurvivesRemoval(t *testing.T) {
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "wat.wasm")
	writeOld(t, path, goodModule())
	c.Scan(ctx)
	s, err := c.NewSession(ctx, "wat")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	c.Scan(ctx)
	if _, err := c.Get("wat"); err == nil {
		t.Fatal("removed adapter still listed")
	}
	if _, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("x")}); err != nil {
		t.Fatalf("running session broke when its adapter was removed: %v", err)
	}
}

// A built-in loaded a second time from the same cache directory compiles
// nothing until a call needs it, and then works like any module.
func TestLazyBuiltin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rt1, err := NewRuntime(ctx, Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first, err := rt1.LoadBuiltin(ctx, Builtins()["xmrig"])
	if err != nil {
		t.Fatal(err)
	}
	// The first load compiles (filling the cache) and remembers the
	// metadata, then returns the module lazy, as every later load does.
	if first.compiledModule() != nil {
		t.Fatal("the first load kept its machine code")
	}
	if metas, _ := filepath.Glob(filepath.Join(dir, "rigd-meta", "*.json")); len(metas) != 1 {
		t.Fatalf("remembered metadata: %v", metas)
	}
	rt1.Close(ctx)

	rt2, err := NewRuntime(ctx, Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close(ctx)
	m, err := rt2.LoadBuiltin(ctx, Builtins()["xmrig"])
	if err != nil {
		t.Fatal(err)
	}
	if m.compiledModule() != nil {
		t.Fatal("the second load compiled eagerly")
	}
	if m.Metadata().Name != "xmrig" || !m.Has(abi.ExportParseLine) || m.Digest() != first.Digest() {
		t.Fatalf("lazy module: %+v", m.info())
	}
	s := m.NewSession()
	defer s.Close()
	res, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("[2026-11-26 22:55:19.643]  cpu      accepted (3/0) diff 50 (5 ms)")})
	if err != nil || res.Stats == nil || *res.Stats.Accepted != 3 {
		t.Fatalf("lazy module call: %+v %v", res, err)
	}
	if m.compiledModule() == nil {
		t.Fatal("not compiled after a call")
	}
}

// TestUploadFixtures: an upload's fixtures are installed with it; failing
// ones are refused and leave the served adapter's in place; uploading the
// module being served changes nothing; removing a drop-in removes its
// fixtures too, so they cannot judge the next adapter of that name; the
// built-in serves again.
func TestUploadFixtures(t *testing.T) {
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	fixtures, err := os.ReadFile(filepath.Join("xmrig", "xmrig.tests.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Install(context.Background(), Builtins()["xmrig"], fixtures); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xmrig.wasm")
	if _, err := os.Stat(FixturesPath(path)); err != nil {
		t.Fatalf("fixtures not installed: %v", err)
	}
	// Fixtures the module fails are refused, and the served adapter's
	// fixtures stay as they were.
	bad := bytes.Replace(fixtures, []byte(`"accepted": 2,`), []byte(`"accepted": 3,`), 1)
	if bytes.Equal(bad, fixtures) {
		t.Fatal("the fixtures have no accepted count to break")
	}
	if _, err := c.Install(context.Background(), Builtins()["xmrig"], bad); err == nil || !strings.Contains(err.Error(), "fixtures") {
		t.Fatalf("failing fixtures: %v", err)
	}
	if b, _ := os.ReadFile(FixturesPath(path)); !bytes.Equal(b, fixtures) {
		t.Fatal("a refused upload left its fixtures in place of the served adapter's")
	}
	// The same bytes again: nothing new to publish.
	before := info(t, c, "xmrig").Generation
	if again, err := c.Install(context.Background(), Builtins()["xmrig"], nil); err != nil || again.Generation != before {
		t.Fatalf("the same module again: generation %d → %d, %v", before, again.Generation, err)
	}
	if err := c.Remove(context.Background(), "xmrig"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, FixturesPath(path)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if i := info(t, c, "xmrig"); i.Source != SourceBuiltin {
		t.Errorf("after the remove xmrig is %+v, want the built-in", i)
	}
}

// TestOnCallNames: every call reported to OnCall (the metrics) names its
// adapter; the load's metadata call, made before the name is known, is
// not reported.
func TestOnCallNames(t *testing.T) {
	var mu sync.Mutex
	names := map[string]int{}
	rt, err := NewRuntime(context.Background(), Config{OnCall: func(adapter, export string, d time.Duration, err error) {
		mu.Lock()
		names[adapter]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Load(context.Background(), SourceBuiltin, Builtins()["xmrig"])
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(context.Background())
	s := m.NewSession()
	defer s.Close()
	if _, err := s.ParseLines(context.Background(), abi.Stdout, [][]byte{[]byte("[2026-11-26 22:55:34.000]  cpu      accepted (4/1) diff 50 (1 ms)")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if names[""] != 0 || names["xmrig"] == 0 {
		t.Fatalf("OnCall names: %v", names)
	}
}

// TestRollbackFirstDropIn: the first drop-in of a name no built-in has
// has nothing to roll back to; a rollback says so and keeps it (it used
// to delete the adapter, then answer not found).
func TestRollbackFirstDropIn(t *testing.T) {
	dir := t.TempDir()
	c := newTestCatalog(t, dir, nil)
	wasm, err := os.ReadFile(filepath.Join("..", "testdata", "wat-adapter", "simple.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Install(context.Background(), wasm, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rollback(context.Background(), "simple"); !errors.Is(err, ErrNoGeneration) {
		t.Fatalf("rollback of a first drop-in: %v, want ErrNoGeneration", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "simple.wasm")); err != nil {
		t.Fatalf("the rollback removed the file: %v", err)
	}
	if i := info(t, c, "simple"); i.Status != StatusOK {
		t.Fatalf("simple after the refused rollback: %+v", i)
	}
}

// TestGuestLogger: the adapters' own log records go to GuestLogger when
// one is set (the CLI's replay and test show them), the runtime's to
// Logger.
func TestGuestLogger(t *testing.T) {
	meta := []byte(testMetadataJSON)
	msg := []byte("hello from the guest")
	importLog := wimport{"miner_adapter_v1", "log", []byte{tI32, tI32, tI32}, nil}
	wasm := adapterSpec{
		imports: []wimport{importLog},
		calls: map[string][]byte{
			// log(warn, msg), then the metadata.
			"adapter_metadata":      cat(i32c(4), i32c(8192), i32c(int32(len(msg))), call(1), writeStatic(0, uint32(len(meta)), 0)),
			"adapter_build_command": writeStatic(4096, uint32(len(testCommandJSON)), 0),
		},
		data: []wdata{{0, meta}, {4096, []byte(testCommandJSON)}, {8192, msg}},
	}.module().assemble()
	var guest, host bytes.Buffer
	rt, err := NewRuntime(context.Background(), Config{
		Logger:      slog.New(slog.NewTextHandler(&host, nil)),
		GuestLogger: slog.New(slog.NewTextHandler(&guest, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Load(context.Background(), "logger.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	m.close(context.Background())
	if !strings.Contains(guest.String(), "hello from the guest") || strings.Contains(host.String(), "hello from the guest") {
		t.Fatalf("guest log %q, runtime log %q", guest.String(), host.String())
	}
}

// A damaged compilation cache is emptied and the module compiled again:
// it made every built-in adapter fail to load, and no miner started.
func TestDamagedCompilationCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	load := func() error {
		rt, err := NewRuntime(ctx, Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(ctx)
		m, err := rt.Load(ctx, SourceBuiltin, goodModule())
		if err == nil {
			m.close(ctx)
		}
		return err
	}
	if err := load(); err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if len(entries) == 0 {
		t.Fatal("nothing cached")
	}
	for _, e := range entries {
		if err := os.WriteFile(e, []byte("garbage, not WAZEVO"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := load(); err != nil {
		t.Fatalf("load with a damaged cache: %v", err)
	}
	if err := load(); err != nil { // and the cache works again
		t.Fatalf("load after the repair: %v", err)
	}
}
