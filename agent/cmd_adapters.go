package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/rigd/rigd/adapters"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/agent/proc"
	"github.com/rigd/rigd/sdk/abi"
)

func adaptersCommand() *command {
	return &command{
		name:    "adapters",
		summary: "list, validate, test, replay and scaffold miner adapters",
		subs: []*command{
			{name: "list", summary: "list built-in and drop-in adapters", run: runAdaptersList},
			{name: "validate", args: "FILE.wasm", summary: "statically check an adapter, read its metadata and self-test it", run: runAdaptersValidate},
			{name: "test", args: "FILE.wasm [--fixtures F] [--json]", summary: "run an adapter's conformance fixtures (FILE.tests.json) and print a pass/fail table", run: runAdaptersTest},
			{name: "new", args: "NAME [--dir DIR]", summary: "scaffold a Go adapter: module, stubs, tests, fixtures and the build command", run: runAdaptersNew},
			{name: "replay", args: "NAME|FILE.wasm LOGFILE [--api [ENDPOINT=]FILE.json]...",
				summary: "feed a recorded miner log (and API captures) through an adapter as live supervision does; print events and the final stats as JSON lines",
				run:     runAdaptersReplay},
		},
	}
}

// adapterEnv is a runtime and catalog opened for a CLI command.
type adapterEnv struct {
	rt  *adapters.Runtime
	cat *adapters.Catalog
}

func (e *adapterEnv) close(ctx context.Context) {
	e.cat.Close(ctx)
	e.rt.Close(ctx)
}

// openAdapters opens a runtime (see fileRuntime) and loads the catalog.
func openAdapters(ctx context.Context, dataDir, adaptersDir string, guestLog io.Writer) (*adapterEnv, error) {
	rt, err := fileRuntime(ctx, dataDir, guestLog)
	if err != nil {
		return nil, err
	}
	if adaptersDir == "" {
		adaptersDir = layout{dataDir}.adapters()
	}
	cat := adapters.NewCatalog(rt, adapters.CatalogConfig{Dir: adaptersDir, Builtins: adapters.Builtins()})
	_ = cat.Load(ctx) // failures are listed per file
	return &adapterEnv{rt: rt, cat: cat}, nil
}

func adaptersDirFlag(fs *flag.FlagSet) *string {
	return fs.String("adapters-dir", "", "drop-in adapters directory (default DATA_DIR/adapters)")
}

func runAdaptersList(c *cli, args []string) error {
	cmd := &command{args: "", summary: "List the built-in adapters and every *.wasm in the adapters directory with its status."}
	fs := c.flags(cmd)
	dataDir := dataDirFlag(fs)
	dir := adaptersDirFlag(fs)
	asJSON := fs.Bool("json", false, "print a JSON array")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 0, "no arguments"); err != nil {
		return err
	}
	env, err := openAdapters(c.ctx, *dataDir, *dir, nil)
	if err != nil {
		return err
	}
	defer env.close(c.ctx)
	list := env.cat.List()
	if *asJSON {
		return writeJSON(c.stdout, list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tABI\tSTATUS\tSOURCE")
	for _, a := range list {
		status := a.Status
		if a.Error != "" {
			status += ": " + a.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, orDash(a.Version), orDash(a.ABI), status, a.Source)
	}
	return tw.Flush()
}

func runAdaptersValidate(c *cli, args []string) error {
	cmd := &command{args: "FILE.wasm", summary: "Statically validate an adapter module, read and check its metadata, and run its self-test.\nExits non-zero with a one-line reason if anything is wrong."}
	fs := c.flags(cmd)
	dataDir := dataDirFlag(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "FILE.wasm"); err != nil {
		return err
	}
	ctx := c.ctx
	rt, err := fileRuntime(ctx, *dataDir, nil) // the verdict is one line
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	m, err := loadFile(ctx, rt, args[0])
	if err != nil {
		return err
	}
	if err := m.SelfTest(ctx); err != nil {
		return err
	}
	meta := m.Metadata()
	fmt.Fprintf(c.stdout, "ok: %s %s (%s), ABI %d.%d, sha256 %s\n", meta.Name, meta.Version, meta.DisplayName, abi.Major, meta.ABIMinor, m.Digest())
	return nil
}

// fileRuntime opens a runtime for a CLI command, with the data dir's
// compilation cache when the data dir exists: compiling a Go adapter takes
// about a second, loading it from the cache a few tens of milliseconds.
// The adapters' own log records go to guestLog (nil: nowhere) from
// RIGD_LOG_LEVEL (default info) up: what an author debugging with replay
// or test wants to see.
func fileRuntime(ctx context.Context, dataDir string, guestLog io.Writer) (*adapters.Runtime, error) {
	cfg := adapters.Config{}
	if fi, err := os.Stat(dataDir); err == nil && fi.IsDir() {
		cfg.CacheDir = layout{dataDir}.wasmCache()
	}
	if guestLog != nil {
		l, err := newLogger(guestLog, getenv("RIGD_LOG_LEVEL", "info"), "text")
		if err != nil {
			return nil, usagef("RIGD_LOG_LEVEL: %v", err)
		}
		cfg.GuestLogger = l
	}
	return adapters.NewRuntime(ctx, cfg)
}

func loadFile(ctx context.Context, rt *adapters.Runtime, path string) (*adapters.Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", path, err)
	}
	return rt.Load(ctx, path, b)
}

// apiFlag collects repeated --api [ENDPOINT=]FILE values.
type apiFlag []string

func (a *apiFlag) String() string     { return strings.Join(*a, ",") }
func (a *apiFlag) Set(v string) error { *a = append(*a, v); return nil }

func runAdaptersReplay(c *cli, args []string) error {
	cmd := &command{args: "NAME|FILE.wasm LOGFILE",
		summary: "Feed a recorded console log through an adapter exactly as live supervision does (lines capped,\n" +
			"ANSI stripped, batches of 64) and print each event as one JSON line, then one line\n" +
			"{\"stats\": {...}} with the Stats accumulated from the whole log. API captures given with\n" +
			"--api are parsed after the log and merged into the final stats; ENDPOINT= names the\n" +
			"endpoint (default: the endpoint whose name appears in the file name, else the first).\n" +
			"A batch the adapter fails is skipped, as supervision skips it, and named on stderr; the\n" +
			"replay then exits 1."}
	fs := c.flags(cmd)
	dataDir := dataDirFlag(fs)
	dir := adaptersDirFlag(fs)
	var apis apiFlag
	fs.Var(&apis, "api", "an API capture `[ENDPOINT=]FILE.json` (repeatable)")
	stderrStream := fs.Bool("stderr", false, "treat the log as the miner's stderr")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 2, "NAME|FILE.wasm and LOGFILE"); err != nil {
		return err
	}
	ctx := c.ctx
	env, err := openAdapters(ctx, *dataDir, *dir, c.stderr)
	if err != nil {
		return err
	}
	defer env.close(ctx)
	var m *adapters.Module
	if strings.HasSuffix(args[0], ".wasm") || strings.ContainsRune(args[0], filepath.Separator) {
		if m, err = loadFile(ctx, env.rt, args[0]); err != nil {
			return err
		}
	} else if m, err = env.cat.Get(args[0]); err != nil {
		return fmt.Errorf("%w (see rigd adapters list)", err)
	}
	log, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer log.Close()

	s := m.NewSession()
	defer s.Close()
	if err := s.Reset(ctx); err != nil {
		return err
	}
	out := bufio.NewWriter(c.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	stream := abi.Stdout
	if *stderrStream {
		stream = abi.Stderr
	}
	stats, failed, err := replayLog(ctx, s, stream, log, enc, c.stderr)
	if err != nil {
		return fmt.Errorf("replay %s: %w", args[1], err)
	}
	if len(apis) > 0 {
		// The captures form one poll, as the collector sends them.
		var req abi.APIRequest
		for _, a := range apis {
			resp, err := readAPICapture(a, m.Metadata().API.Endpoints)
			if err != nil {
				return err
			}
			req.Responses = append(req.Responses, resp)
		}
		st, err := s.ParseAPI(ctx, req)
		if err != nil {
			return fmt.Errorf("replay API captures: %w", err)
		}
		stats.MergeAPI(&st)
	}
	if err := enc.Encode(struct {
		Stats abi.Stats `json:"stats"`
	}{stats}); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("replay %s: the adapter failed %d batch(es) (see above); supervision would have skipped them too", args[1], failed)
	}
	return nil
}

// maxReplayErrors is how many failed batches replay describes; it counts
// the rest.
const maxReplayErrors = 20

// replayLog feeds log through s as supervision does, writing each event to
// enc and returning the merged stats. A batch the adapter fails is skipped,
// as supervision skips it, and described on errw with the lines it held;
// failed counts them. err is a failure to read the log or write events.
func replayLog(ctx context.Context, s miner.Session, stream abi.Stream, log io.Reader, enc *json.Encoder, errw io.Writer) (stats abi.Stats, failed int, err error) {
	var werr error
	counted := &countingSession{Session: s, next: 1, failed: func(first, last int, err error) {
		if failed++; failed <= maxReplayErrors {
			fmt.Fprintf(errw, "rigd: lines %d-%d: %v\n", first, last, err)
		}
	}}
	feed := miner.NewLineFeeder(counted, stream, func(res abi.LineResult) {
		for i := range res.Events {
			if err := enc.Encode(&res.Events[i]); err != nil && werr == nil {
				werr = err
			}
		}
		stats.Merge(res.Stats)
	})
	// The feeder's errors are the failed batches, described as they fail.
	err = proc.ScanLines(log, abi.MaxLineBytes, func(l proc.Line) error {
		_ = feed.Add(ctx, l.Plain)
		return werr
	})
	if err == nil {
		_ = feed.Flush(ctx)
		err = werr
	}
	if failed > maxReplayErrors {
		fmt.Fprintf(errw, "rigd: %d more failed batches not shown\n", failed-maxReplayErrors)
	}
	return stats, failed, err
}

// countingSession numbers the lines of the batches it passes on and tells
// failed which lines a failed batch held.
type countingSession struct {
	miner.Session
	next   int // the number of the next batch's first line
	failed func(first, last int, err error)
}

func (c *countingSession) ParseLines(ctx context.Context, stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	first := c.next
	c.next += len(lines)
	res, err := c.Session.ParseLines(ctx, stream, lines)
	if err != nil {
		c.failed(first, c.next-1, err)
	}
	return res, err
}

// readAPICapture reads "[ENDPOINT=]FILE". Without ENDPOINT the endpoint is
// the first of endpoints whose last path element appears in the file name,
// else the first endpoint.
func readAPICapture(arg string, endpoints []string) (abi.APIResponse, error) {
	name, path, ok := strings.Cut(arg, "=")
	if !ok {
		name, path = "", arg
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return abi.APIResponse{}, err
	}
	if name == "" {
		base := filepath.Base(path)
		for _, e := range endpoints {
			if key := e[strings.LastIndex(e, "/")+1:]; key != "" && strings.Contains(base, key) {
				name = key
				break
			}
		}
		if name == "" && len(endpoints) > 0 {
			name = endpoints[0][strings.LastIndex(endpoints[0], "/")+1:]
		}
	}
	return abi.APIResponse{Name: name, Status: 200, Body: string(b)}, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// testReport is `rigd adapters test --json`.
type testReport struct {
	Adapter  string                   `json:"adapter"`
	Version  string                   `json:"version"`
	Source   string                   `json:"source"`
	Digest   string                   `json:"digest"`
	Fixtures string                   `json:"fixtures"`
	Passed   int                      `json:"passed"`
	Failed   int                      `json:"failed"`
	Results  []adapters.FixtureResult `json:"results"`
}

func runAdaptersTest(c *cli, args []string) error {
	cmd := &command{args: "FILE.wasm",
		summary: "Load an adapter module (static validation and metadata) and run its conformance fixtures:\n" +
			"build_command on profiles, parse_line on console lines, parse_api on API replies, each\n" +
			"compared with the expected values (a subset: keys left out are not compared). The fixtures\n" +
			"are FILE.tests.json beside the module unless --fixtures names another file. Prints a\n" +
			"pass/fail table and exits 1 if any fixture failed."}
	fs := c.flags(cmd)
	fixtures := fs.String("fixtures", "", "fixtures `FILE` (default: FILE.tests.json beside the module)")
	asJSON := fs.Bool("json", false, "print the results as a JSON object")
	dataDir := dataDirFlag(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "FILE.wasm"); err != nil {
		return err
	}
	ctx := c.ctx
	rt, err := fileRuntime(ctx, *dataDir, c.stderr)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	m, err := loadFile(ctx, rt, args[0])
	if err != nil {
		return err
	}
	path := *fixtures
	if path == "" {
		path = adapters.FixturesPath(args[0])
	}
	f, err := adapters.ReadFixtures(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("adapter %s: no fixtures file %s (write NAME.tests.json beside the module, or pass --fixtures)", args[0], path)
	} else if err != nil {
		return err
	}
	results := m.RunFixtures(ctx, f)
	if len(results) == 0 {
		return fmt.Errorf("adapter %s: %s has no fixtures", args[0], path)
	}
	meta := m.Metadata()
	rep := testReport{Adapter: meta.Name, Version: meta.Version, Source: args[0], Digest: m.Digest(), Fixtures: path, Results: results}
	for _, r := range results {
		if r.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	if *asJSON {
		if err := writeJSON(c.stdout, rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tNAME\tRESULT\tPROBLEM")
		for _, r := range results {
			res := "PASS"
			if !r.Pass {
				res = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, res, r.Problem)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s %s: %d fixtures, %d passed, %d failed (%s)\n", meta.Name, meta.Version, len(results), rep.Passed, rep.Failed, path)
	}
	if rep.Failed > 0 {
		return fmt.Errorf("adapter %s (%s): %d of %d fixtures failed", meta.Name, args[0], rep.Failed, len(results))
	}
	return nil
}

// rigdModule is the module path of this repository.
const rigdModule = "github.com/rigd/rigd"

func runAdaptersNew(c *cli, args []string) error {
	cmd := &command{args: "NAME",
		summary: "Scaffold a Go adapter named NAME: a standalone Go module in a new directory with go.mod\n" +
			"(requiring " + rigdModule + ", with a replace directive pointing at a local rigd checkout:\n" +
			"the module is not published), adapter.go (metadata, build_command and parse_line stubs that\n" +
			"drive rigd's test miner testdata/simpleminer), adapter_test.go (native tests through\n" +
			"sdk.Call), wasm/main.go (the ABI exports), NAME.tests.json (conformance fixtures) and\n" +
			"README.md with the exact build command. As generated it builds, passes its tests,\n" +
			"rigd adapters validate and rigd adapters test."}
	fs := c.flags(cmd)
	dir := fs.String("dir", "", "directory to create (default ./NAME); it must not exist or must be empty")
	module := fs.String("module", "", "Go module path of the adapter (default example.com/rigd-adapter-NAME)")
	rigdSrc := fs.String("rigd", "", "local rigd checkout for the replace directive (default: found above the current\ndirectory, the target directory or the rigd binary)")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "NAME"); err != nil {
		return err
	}
	name := args[0]
	if !abi.ValidName(name) {
		return usagef("adapter name %q must be 1-32 characters of [a-z0-9_-] starting with a letter", name)
	}
	target := *dir
	if target == "" {
		target = name
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		return fmt.Errorf("scaffold %s: %s exists and is not empty", name, target)
	} else if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("scaffold %s: %w", name, err)
	}
	src := *rigdSrc
	if src != "" {
		if src, err = filepath.Abs(src); err != nil {
			return err
		}
		if !isRigdCheckout(src) {
			return fmt.Errorf("scaffold %s: %s is not a rigd checkout (no go.mod declaring module %s)", name, src, rigdModule)
		}
	} else {
		starts := []string{target}
		if wd, err := os.Getwd(); err == nil {
			starts = append(starts, wd)
		}
		if exe, err := os.Executable(); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
		src = findRigdCheckout(starts...)
	}
	p := scaffoldParams{Name: name, Package: goPackageName(name), Module: *module, Rigd: src, GoVersion: "1.26"}
	if p.Module == "" {
		p.Module = "example.com/rigd-adapter-" + name
	}
	p.Display = strings.ToUpper(name[:1]) + name[1:]
	if src != "" {
		if v := goDirective(filepath.Join(src, "go.mod")); v != "" {
			p.GoVersion = v
		}
	}
	files := scaffoldFiles(p)
	for _, f := range files {
		path := filepath.Join(target, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("scaffold %s: %w", name, err)
		}
		if err := os.WriteFile(path, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("scaffold %s: %w", name, err)
		}
	}
	rel := target
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, target); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	fmt.Fprintf(c.stdout, "created %s: Go module %s, adapter %q\n", target, p.Module, name)
	for _, f := range files {
		fmt.Fprintf(c.stdout, "  %s\n", f.path)
	}
	if src != "" {
		fmt.Fprintf(c.stdout, "go.mod builds against the rigd checkout at %s (replace directive).\n", src)
	} else {
		fmt.Fprintf(c.stderr, "rigd: no rigd checkout found: edit the replace line in %s to point at one (see README.md)\n", filepath.Join(target, "go.mod"))
	}
	fmt.Fprintf(c.stdout, "\nNext:\n  cd %s\n  go test ./...\n  %s\n  rigd adapters validate %s.wasm\n  rigd adapters test %s.wasm\n", rel, scaffoldBuildCommand(name), name, name)
	return nil
}

// scaffoldBuildCommand is how a scaffolded adapter is built, from its
// directory.
func scaffoldBuildCommand(name string) string {
	return "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o " + name + ".wasm ./wasm"
}

// goPackageName turns an adapter name into a Go package name: letters and
// digits only, never a keyword or "main".
func goPackageName(name string) string {
	pkg := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' {
			return -1
		}
		return r
	}, name)
	if token.IsKeyword(pkg) || pkg == "main" {
		pkg += "adapter"
	}
	return pkg
}

// isRigdCheckout reports whether dir holds this module's go.mod.
func isRigdCheckout(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], "\"`") == rigdModule
		}
	}
	return false
}

// findRigdCheckout returns the first rigd checkout found in or above one
// of starts, or "".
func findRigdCheckout(starts ...string) string {
	for _, dir := range starts {
		for {
			if isRigdCheckout(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// goDirective returns the go directive's version in a go.mod, or "".
func goDirective(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			return f[1]
		}
	}
	return ""
}

type scaffoldParams struct {
	Name, Package, Display, Module, Rigd, GoVersion string
}

type scaffoldFile struct{ path, content string }

func scaffoldFiles(p scaffoldParams) []scaffoldFile {
	replace := "replace " + rigdModule + " => " + p.Rigd
	if p.Rigd == "" {
		replace = "// No rigd checkout was found: point this at one (the directory holding rigd's go.mod).\n// replace " + rigdModule + " => /path/to/rigd"
	}
	r := strings.NewReplacer(
		"{{NAME}}", p.Name, "{{PKG}}", p.Package, "{{DISPLAY}}", p.Display, "{{MODULE}}", p.Module,
		"{{GO}}", p.GoVersion, "{{REPLACE}}", replace, "{{BUILD}}", scaffoldBuildCommand(p.Name),
		"{{RIGD}}", rigdModule, "{{BT}}", "`",
	)
	return []scaffoldFile{
		{"go.mod", r.Replace(scaffoldGoMod)},
		{"README.md", r.Replace(scaffoldReadme)},
		{"adapter.go", r.Replace(scaffoldAdapter)},
		{"adapter_test.go", r.Replace(scaffoldAdapterTest)},
		{"wasm/main.go", r.Replace(scaffoldWasmMain)},
		{p.Name + ".tests.json", r.Replace(scaffoldFixtures)},
	}
}

const scaffoldGoMod = `module {{MODULE}}

go {{GO}}

require {{RIGD}} v0.0.0

// rigd is not published as a module: the adapter builds against a local
// checkout of it.
{{REPLACE}}
`

const scaffoldAdapter = `// Package {{PKG}} is a rigd adapter for {{DISPLAY}}: it tells rigd how to run
// the miner (Metadata, BuildCommand) and how to read its console output
// (ParseLines). It is plain Go, tested natively with go test; wasm/main.go
// exports it to rigd (ABI v1).
//
// The stubs drive rigd's test miner (testdata/simpleminer in the rigd
// repository), whose console lines are
//
//	[0001] hashrate: 926.0 H/s
//	[0001] share accepted
//	[0004] share rejected: stale job
//
// Replace the flags and the line formats with your miner's, and keep the
// tests and {{NAME}}.tests.json in step.
package {{PKG}}

import (
	"bytes"
	"strconv"

	"{{RIGD}}/sdk"
	"{{RIGD}}/sdk/abi"
)

// Adapter holds the parse state of one running miner: the host gives
// every miner its own instance.
type Adapter struct {
	accepted, rejected int64
}

// New returns an adapter with no parse state.
func New() *Adapter { return &Adapter{} }

// The optional parts of the sdk this adapter implements (sdk.APIParser
// reads a miner's own API).
var (
	_ sdk.LineParser = (*Adapter)(nil)
	_ sdk.Resetter   = (*Adapter)(nil)
)

const algo = "sha256d"

// Metadata describes the adapter and the miner. It must not depend on any
// input.
func (a *Adapter) Metadata() abi.Metadata {
	return abi.Metadata{
		Name:        "{{NAME}}",
		DisplayName: "{{DISPLAY}}",
		Version:     "0.1.0", // the adapter's own version
		ABIMinor:    0,       // the ABI minor version this adapter was written against
		Homepage:    "https://example.com/{{NAME}}",
		License:     "MIT", // the miner's licence (SPDX) or "proprietary"
		Algorithms:  []abi.Algorithm{{Name: algo, Devices: []string{"cpu"}}},
		// Where releases live, for rigd install: GitHub owner/repo, one
		// asset per OS/arch, the checksum file.
		Release: abi.Release{Checksum: abi.Checksum{Format: abi.ChecksumNone}},
		// How to ask a binary for its version: its first submatch.
		VersionProbe: abi.VersionProbe{Args: []string{"--version"}, Regex: "([0-9]+[.][0-9]+[.][0-9]+)"},
		// No API: stats come from the console (see abi.APISpec).
		API: abi.APISpec{},
	}
}

// BuildCommand turns a profile into the miner's argv. A profile the miner
// cannot run is an adapter error (sdk.Errorf with an abi.Code*), which the
// agent reports without starting anything.
func (a *Adapter) BuildCommand(req abi.BuildRequest) (abi.Command, error) {
	p := req.Profile
	switch {
	case p.Algo != "" && p.Algo != algo:
		return abi.Command{}, sdk.Errorf(abi.CodeInvalidProfile, "algo %q: {{NAME}} mines only %s", p.Algo, algo)
	case len(p.Pools) == 0 || p.Pools[0].URL == "":
		return abi.Command{}, sdk.Errorf(abi.CodeInvalidProfile, "a pool with a url is required")
	case len(p.Options) > 0:
		return abi.Command{}, sdk.Errorf(abi.CodeUnknownOption, "{{NAME}} has no options")
	case len(p.ExtraArgs) > 0:
		return abi.Command{}, sdk.Errorf(abi.CodeForbidden, "{{NAME}} accepts no extra_args")
	case p.Threads < 0:
		return abi.Command{}, sdk.Errorf(abi.CodeInvalidProfile, "threads %d is negative", p.Threads)
	}
	pool := p.Pools[0]
	args := []string{"--url", pool.URL, "--user", pool.User}
	if p.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(p.Threads))
	}
	return abi.Command{Args: args}, nil
}

var (
	shareAccepted = []byte("share accepted")
	shareRejected = []byte("share rejected")
	hashratePre   = []byte("hashrate: ")
)

// ParseLines reads a batch of console lines (ANSI escapes already removed
// by the host). It returns events and the stats the lines changed; stats
// left nil are unchanged. The line slices are only valid during the call.
func (a *Adapter) ParseLines(_ abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var res abi.LineResult
	var st abi.Stats
	changed := false
	for _, line := range lines {
		switch {
		case bytes.Contains(line, shareRejected):
			a.rejected++
			_, reason, _ := bytes.Cut(line, []byte("share rejected:"))
			r := string(bytes.TrimSpace(reason))
			res.Events = append(res.Events, abi.Event{Type: abi.EventShareRejected, Accepted: ptr(a.accepted), Rejected: ptr(a.rejected), Reason: r})
			st.Accepted, st.Rejected, st.LastRejectReason = ptr(a.accepted), ptr(a.rejected), r
			changed = true
		case bytes.Contains(line, shareAccepted):
			a.accepted++
			res.Events = append(res.Events, abi.Event{Type: abi.EventShareAccepted, Accepted: ptr(a.accepted), Rejected: ptr(a.rejected)})
			st.Accepted, st.Rejected = ptr(a.accepted), ptr(a.rejected)
			changed = true
		default:
			if hs, ok := hashrate(line); ok {
				res.Events = append(res.Events, abi.Event{Type: abi.EventHashrate, HashrateHS: ptr(hs)})
				st.HashrateHS = ptr(hs)
				changed = true
			}
		}
	}
	if changed {
		res.Stats = &st
	}
	return res, nil
}

// hashrate reads "hashrate: N H/s" anywhere in a line.
func hashrate(line []byte) (float64, bool) {
	_, rest, ok := bytes.Cut(line, hashratePre)
	if !ok {
		return 0, false
	}
	num, unit, ok := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
	if !ok || string(bytes.TrimSpace(unit)) != "H/s" {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(num), 64)
	if err != nil || !(v >= 0 && v < 1e18) { // rejects NaN and Inf too
		return 0, false
	}
	return v, true
}

// Reset clears the parse state: the host calls it when the miner process
// (re)starts.
func (a *Adapter) Reset() { a.accepted, a.rejected = 0, 0 }

func ptr[T any](v T) *T { return &v }
`

const scaffoldAdapterTest = `package {{PKG}}

import (
	"encoding/json"
	"slices"
	"testing"

	"{{RIGD}}/sdk"
	"{{RIGD}}/sdk/abi"
)

// call runs one ABI export through sdk.Call, which decodes, dispatches and
// encodes exactly as the wasm exports do, and decodes the output into out
// (an *abi.Error when the status is 1).
func call(t *testing.T, a *Adapter, export string, in, out any) int32 {
	t.Helper()
	var input []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		input = v
	default:
		var err error
		if input, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	status, output := sdk.Call(a, export, input)
	if status == abi.StatusError {
		var e abi.Error
		if err := json.Unmarshal(output, &e); err != nil {
			t.Fatalf("%s: error output %q: %v", export, output, err)
		}
		if p, ok := out.(*abi.Error); ok {
			*p = e
			return status
		}
		t.Fatalf("%s failed: %v", export, &e)
	}
	if out != nil && len(output) > 0 {
		if err := json.Unmarshal(output, out); err != nil {
			t.Fatalf("%s: output %q: %v", export, output, err)
		}
	}
	return status
}

func TestMetadata(t *testing.T) {
	var meta abi.Metadata
	call(t, New(), abi.ExportMetadata, nil, &meta)
	if err := meta.Validate(); err != nil {
		t.Fatal(err)
	}
	if meta.Name != "{{NAME}}" {
		t.Fatalf("name %q", meta.Name)
	}
}

func TestBuildCommand(t *testing.T) {
	pool := []abi.Pool{{URL: "stratum+tcp://127.0.0.1:3333", User: "wallet", Pass: "x"}}
	var cmd abi.Command
	req := abi.BuildRequest{Profile: abi.Profile{Algo: algo, Pools: pool, Threads: 2}}
	call(t, New(), abi.ExportBuildCommand, req, &cmd)
	want := []string{"--url", "stratum+tcp://127.0.0.1:3333", "--user", "wallet", "--threads", "2"}
	if !slices.Equal(cmd.Args, want) {
		t.Fatalf("args %q, want %q", cmd.Args, want)
	}

	for _, tt := range []struct {
		name string
		p    abi.Profile
		code string
	}{
		{"no pool", abi.Profile{Algo: algo}, abi.CodeInvalidProfile},
		{"other algorithm", abi.Profile{Algo: "rx/0", Pools: pool}, abi.CodeInvalidProfile},
		{"option", abi.Profile{Pools: pool, Options: map[string]json.RawMessage{"x": json.RawMessage("1")}}, abi.CodeUnknownOption},
		{"extra args", abi.Profile{Pools: pool, ExtraArgs: []string{"--duration", "1h"}}, abi.CodeForbidden},
	} {
		var e abi.Error
		if st := call(t, New(), abi.ExportBuildCommand, abi.BuildRequest{Profile: tt.p}, &e); st != abi.StatusError || e.Code != tt.code {
			t.Errorf("%s: status %d, error %+v; want %s", tt.name, st, e, tt.code)
		}
	}
}

func TestParseLines(t *testing.T) {
	a := New()
	parse := func(lines ...string) abi.LineResult {
		t.Helper()
		in := []byte{byte(abi.Stdout)}
		for i, l := range lines {
			if i > 0 {
				in = append(in, '\n')
			}
			in = append(in, l...)
		}
		var res abi.LineResult
		call(t, a, abi.ExportParseLine, in, &res)
		return res
	}
	res := parse("[0001] hashrate: 926.0 H/s", "[0001] share accepted", "[0002] share rejected: stale job", "unrelated")
	if len(res.Events) != 3 || res.Events[0].Type != abi.EventHashrate || *res.Events[0].HashrateHS != 926 ||
		res.Events[2].Type != abi.EventShareRejected || res.Events[2].Reason != "stale job" {
		t.Fatalf("events %+v", res.Events)
	}
	if st := res.Stats; st == nil || *st.HashrateHS != 926 || *st.Accepted != 1 || *st.Rejected != 1 {
		t.Fatalf("stats %+v", res.Stats)
	}
	// Counts carry across batches until reset.
	if res := parse("share accepted"); *res.Stats.Accepted != 2 {
		t.Fatalf("second batch: %+v", res.Stats)
	}
	call(t, a, abi.ExportReset, nil, nil)
	if res := parse("share accepted"); *res.Stats.Accepted != 1 || *res.Stats.Rejected != 0 {
		t.Fatalf("after reset: %+v", res.Stats)
	}
	if res := parse("hashrate: NaN H/s", "hashrate: 5 kH/s", ""); len(res.Events) != 0 || res.Stats != nil {
		t.Fatalf("unknown lines gave %+v", res)
	}
}
`

const scaffoldWasmMain = `//go:build wasip1

// Command wasm is the {{DISPLAY}} adapter compiled for rigd: the ABI v1
// exports over the adapter package, nothing else. Build it from the
// module's root with
//
//	{{BUILD}}
package main

import (
	impl "{{MODULE}}"

	"{{RIGD}}/sdk"
	"{{RIGD}}/sdk/abi"
)

var adapter = impl.New()

//go:wasmexport adapter_abi_v1
func marker() {}

//go:wasmexport adapter_metadata
func metadata() int32 { return sdk.Handle(adapter, abi.ExportMetadata) }

//go:wasmexport adapter_build_command
func buildCommand() int32 { return sdk.Handle(adapter, abi.ExportBuildCommand) }

//go:wasmexport adapter_parse_line
func parseLine() int32 { return sdk.Handle(adapter, abi.ExportParseLine) }

//go:wasmexport adapter_reset
func reset() int32 { return sdk.Handle(adapter, abi.ExportReset) }

// An adapter that reads the miner's API implements sdk.APIParser and adds:
//
//	//go:wasmexport adapter_parse_api
//	func parseAPI() int32 { return sdk.Handle(adapter, abi.ExportParseAPI) }

func main() {}
`

const scaffoldFixtures = `{
  "build": [
    {
      "name": "pool and threads",
      "profile": {"algo": "sha256d", "pools": [{"url": "stratum+tcp://127.0.0.1:3333", "user": "wallet", "pass": "x"}], "threads": 2},
      "want_args": ["--url", "stratum+tcp://127.0.0.1:3333", "--user", "wallet", "--threads", "2"]
    },
    {
      "name": "no pool is refused",
      "profile": {"algo": "sha256d", "pools": []},
      "want_error": "invalid_profile"
    }
  ],
  "lines": [
    {
      "name": "hashrate and shares",
      "lines": ["[0001] hashrate: 926.0 H/s", "[0001] share accepted", "[0002] share rejected: stale job", "[0003] finished after 3s"],
      "want_events": [
        {"type": "hashrate", "hashrate_hs": 926},
        {"type": "share_accepted", "accepted": 1, "rejected": 0},
        {"type": "share_rejected", "accepted": 1, "rejected": 1, "reason": "stale job"}
      ],
      "want_stats": {"hashrate_hs": 926, "accepted": 1, "rejected": 1, "last_reject_reason": "stale job"}
    }
  ]
}
`

const scaffoldReadme = `# {{DISPLAY}} adapter for rigd

A rigd miner adapter (ABI v1) written in Go, scaffolded by {{BT}}rigd adapters new {{NAME}}{{BT}}.
{{BT}}adapter.go{{BT}} is the adapter (plain Go), {{BT}}wasm/main.go{{BT}} exports it to rigd,
{{BT}}{{NAME}}.tests.json{{BT}} holds its conformance fixtures. As generated it drives rigd's
test miner, {{BT}}testdata/simpleminer{{BT}}; change the flags and line formats for your miner.

## Requirements

- Go {{GO}} or newer.
- A checkout of rigd: the module {{BT}}{{RIGD}}{{BT}} is not published, so
  {{BT}}go.mod{{BT}} points at a local copy with a {{BT}}replace{{BT}} directive (written by
  {{BT}}rigd adapters new{{BT}} when it found one; edit it if you move either).

## Test, build, check

~~~sh
go test ./...                     # the adapter natively, through sdk.Call
{{BUILD}}
rigd adapters validate {{NAME}}.wasm    # static checks, metadata, self-test
rigd adapters test {{NAME}}.wasm        # {{NAME}}.tests.json
rigd adapters replay {{NAME}}.wasm miner.log   # a recorded console log, as live
~~~

## Install and run

Copy the module (and its fixtures) into the agent's adapters directory
({{BT}}DATA_DIR/adapters{{BT}}, by default {{BT}}~/.local/share/rigd/adapters{{BT}}), or upload it to
a running agent:

~~~sh
cp {{NAME}}.wasm {{NAME}}.tests.json ~/.local/share/rigd/adapters/
# or: rigd adapters add {{NAME}}.wasm
rigd adapters list
~~~

Then start a miner with it (here rigd's test miner, built from the rigd
checkout with {{BT}}go build -o /tmp/simpleminer ./testdata/simpleminer{{BT}}):

~~~sh
rigd start {{NAME}} --algo sha256d --pool stratum+tcp://127.0.0.1:3333 --user wallet --binary /tmp/simpleminer
rigd status {{NAME}}-sha256d
~~~

## Fixtures

{{BT}}{{NAME}}.tests.json{{BT}} has three lists: {{BT}}build{{BT}} (a profile, optionally an instance,
and {{BT}}want_args{{BT}}, {{BT}}want_files{{BT}} or {{BT}}want_error{{BT}}), {{BT}}lines{{BT}} (console lines fed in
batches as live, {{BT}}want_events{{BT}} in order and {{BT}}want_stats{{BT}}), {{BT}}api{{BT}} (API responses
and {{BT}}want_stats{{BT}} or {{BT}}want_error{{BT}}). Expected objects are subsets: keys left out are
not compared, {{BT}}null{{BT}} means unknown. Unknown keys in the file are errors.
`
