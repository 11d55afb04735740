package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
		summary: "list, validate and replay miner adapters",
		subs: []*command{
			{name: "list", summary: "list built-in and drop-in adapters", run: runAdaptersList},
			{name: "validate", args: "FILE.wasm", summary: "statically check an adapter, read its metadata and self-test it", run: runAdaptersValidate},
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

// openAdapters opens the wazero runtime (with the data dir's compilation
// cache when the data dir exists) and loads the catalog.
func openAdapters(ctx context.Context, dataDir, adaptersDir string) (*adapterEnv, error) {
	cfg := adapters.Config{}
	if fi, err := os.Stat(dataDir); err == nil && fi.IsDir() {
		cfg.CacheDir = layout{dataDir}.wasmCache()
	}
	rt, err := adapters.NewRuntime(ctx, cfg)
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
	env, err := openAdapters(c.ctx, *dataDir, *dir)
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
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "FILE.wasm"); err != nil {
		return err
	}
	ctx := c.ctx
	rt, err := adapters.NewRuntime(ctx, adapters.Config{})
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
			"endpoint (default: the endpoint whose name appears in the file name, else the first)."}
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
	env, err := openAdapters(ctx, *dataDir, *dir)
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
	var stats abi.Stats
	var werr error
	feed := miner.NewLineFeeder(s, stream, func(res abi.LineResult) {
		for i := range res.Events {
			if err := enc.Encode(&res.Events[i]); err != nil && werr == nil {
				werr = err
			}
		}
		stats.Merge(res.Stats)
	})
	err = proc.ScanLines(log, abi.MaxLineBytes, func(l proc.Line) error {
		if err := feed.Add(ctx, []byte(l.Plain)); err != nil {
			return err
		}
		return werr
	})
	if err == nil {
		err = feed.Flush(ctx)
	}
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
		stats.Merge(&st)
	}
	return enc.Encode(struct {
		Stats abi.Stats `json:"stats"`
	}{stats})
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
