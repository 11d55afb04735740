package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/rigd/rigd/sdk/abi"
)

// Limits of the runtime.
const (
	// MemoryLimitPages caps every instance's linear memory (64 MiB).
	MemoryLimitPages = 1024
	// RecycleBytes is the linear memory size above which an instance is
	// replaced after a call (wasm memory never shrinks).
	RecycleBytes = 32 << 20
	// MaxModuleBytes is the largest .wasm file accepted.
	MaxModuleBytes = 32 << 20
)

// Deadlines are the per-call time limits. A call that has not returned
// within its deadline plus Grace quarantines the module.
type Deadlines struct {
	Metadata, Build, ParseLine, ParseAPI, Reset time.Duration
	Grace                                       time.Duration
}

// DefaultDeadlines are the deadlines of DESIGN §2.
var DefaultDeadlines = Deadlines{
	Metadata:  time.Second,
	Build:     time.Second,
	ParseLine: 100 * time.Millisecond,
	ParseAPI:  250 * time.Millisecond,
	Reset:     100 * time.Millisecond,
	Grace:     2 * time.Second,
}

func (d Deadlines) of(export string) time.Duration {
	switch export {
	case abi.ExportMetadata:
		return d.Metadata
	case abi.ExportBuildCommand:
		return d.Build
	case abi.ExportParseLine:
		return d.ParseLine
	case abi.ExportParseAPI:
		return d.ParseAPI
	}
	return d.Reset
}

// Config configures a Runtime.
type Config struct {
	// CacheDir holds wazero's compilation cache; empty means in memory only.
	CacheDir string
	// Logger receives guest log records and runtime events.
	Logger *slog.Logger
	// GuestLogger receives the adapters' own log records (the ABI's log
	// call); nil means Logger. The CLI's replay and test tools show them
	// without the runtime's own messages.
	GuestLogger *slog.Logger
	// Deadlines per call; zero fields take DefaultDeadlines.
	Deadlines Deadlines
	// PoolSize is the number of idle instances kept per module for
	// stateless calls (metadata, build_command). The default, 0, keeps
	// none: those calls are rare in an agent (a miner start, a profile
	// save) and an idle Go guest holds megabytes of linear memory.
	PoolSize int
	// OnCall, if set, observes every guest call of a named module (for
	// metrics; not the load's metadata call, made before the name is
	// known). It runs on the caller's goroutine and must be cheap.
	OnCall func(adapter, export string, d time.Duration, err error)
}

// Runtime is the agent's one wazero runtime with the miner_adapter_v1 host
// module. It is safe for concurrent use.
type Runtime struct {
	r         wazero.Runtime
	cache     wazero.CompilationCache
	log       *slog.Logger
	guestLog  *slog.Logger
	deadlines Deadlines
	poolSize  int
	onCall    func(adapter, export string, d time.Duration, err error)
	cacheDir  string
}

// NewRuntime creates the runtime. Close it to release compiled code.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	rt := &Runtime{log: cfg.Logger, deadlines: cfg.Deadlines, poolSize: cfg.PoolSize, onCall: cfg.OnCall}
	if rt.log == nil {
		rt.log = slog.New(slog.DiscardHandler)
	}
	rt.guestLog = cfg.GuestLogger
	if rt.guestLog == nil {
		rt.guestLog = rt.log
	}
	def := DefaultDeadlines
	for _, p := range []struct{ dst, d *time.Duration }{
		{&rt.deadlines.Metadata, &def.Metadata}, {&rt.deadlines.Build, &def.Build},
		{&rt.deadlines.ParseLine, &def.ParseLine}, {&rt.deadlines.ParseAPI, &def.ParseAPI},
		{&rt.deadlines.Reset, &def.Reset}, {&rt.deadlines.Grace, &def.Grace},
	} {
		if *p.dst <= 0 {
			*p.dst = *p.d
		}
	}
	// Guests are stopped at their deadline by the checks instrument
	// compiles in, not by WithCloseOnContextDone (see interrupt.go).
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(MemoryLimitPages)
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("adapters: compilation cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("adapters: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rt.cache, rt.cacheDir = cache, cfg.CacheDir
		rc = rc.WithCompilationCache(cache)
	}
	rt.r = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.r); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("adapters: wasi: %w", err)
	}
	if err := rt.instantiateHost(ctx); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("adapters: host module: %w", err)
	}
	return rt, nil
}

// Close closes every module and the runtime.
func (rt *Runtime) Close(ctx context.Context) error {
	err := rt.r.Close(ctx)
	if rt.cache != nil {
		err = errors.Join(err, rt.cache.Close(ctx))
	}
	return err
}

// Load validates and compiles a module, reads its metadata and returns it
// ready for calls. source is "builtin" or the file's path; it names the
// module in errors and listings. Load runs no guest code before the static
// checks pass.
func (rt *Runtime) Load(ctx context.Context, source string, wasm []byte) (*Module, error) {
	label := source
	if err := checkHeader(wasm); err != nil {
		return nil, &LoadError{Source: label, Err: err}
	}
	sum := sha256.Sum256(wasm)
	compiled, err := rt.compile(ctx, wasm)
	if err != nil {
		return nil, &LoadError{Source: label, Err: fmt.Errorf("%w: %v", ErrInvalidModule, err)}
	}
	if err := checkModule(compiled); err != nil {
		compiled.Close(ctx)
		return nil, &LoadError{Source: label, Err: err}
	}
	m := newModule(rt, compiled, wasm, source, hex.EncodeToString(sum[:]))
	meta, err := m.readMetadata(ctx)
	if err != nil {
		m.close(ctx)
		return nil, &LoadError{Source: label, Err: err}
	}
	m.meta = meta
	return m, nil
}

// lazyMeta is what LoadBuiltin remembers of a module it loaded once, in
// the compilation cache directory, keyed by the module's digest.
type lazyMeta struct {
	Metadata abi.Metadata `json:"metadata"`
	Exports  []string     `json:"exports"`
}

// LoadBuiltin loads a module that ships with the agent. The first time it
// is loaded exactly like Load; its metadata and exports are then
// remembered beside the compilation cache, and later loads of the same
// bytes compile nothing until a call needs an instance. An agent that
// never runs a TT-Miner therefore never maps TT-Miner's adapter code.
func (rt *Runtime) LoadBuiltin(ctx context.Context, wasm []byte) (*Module, error) {
	if rt.cacheDir == "" {
		return rt.Load(ctx, SourceBuiltin, wasm)
	}
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	path := filepath.Join(rt.cacheDir, "rigd-meta", digest+".json")
	lazy := func(lm lazyMeta) *Module {
		m := &Module{rt: rt, wasm: wasm, source: SourceBuiltin, digest: digest, meta: lm.Metadata, exports: map[string]bool{}, dataEnd: dataEnd(wasm)}
		for _, e := range lm.Exports {
			m.exports[e] = true
		}
		return m
	}
	if b, err := os.ReadFile(path); err == nil {
		var lm lazyMeta
		if json.Unmarshal(b, &lm) == nil && lm.Metadata.Validate() == nil {
			return lazy(lm), nil
		}
	}
	m, err := rt.Load(ctx, SourceBuiltin, wasm)
	if err != nil {
		return nil, err
	}
	lm := lazyMeta{Metadata: m.meta}
	for e := range m.exports {
		lm.Exports = append(lm.Exports, e)
	}
	b, err := json.Marshal(lm)
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = writeFileAtomic(path, b)
		}
	}
	if err != nil {
		rt.log.Debug("cannot remember adapter metadata", "err", err)
		return m, nil
	}
	// From here on the module is what a later start gets: lazy. Its
	// machine code (≈ 10 MB a module) is dropped until a miner needs it,
	// from the cache then, and the garbage of compiling it (several times
	// that) goes back to the system now rather than staying in the agent's
	// resident memory.
	m.close(ctx)
	debug.FreeOSMemory()
	return lazy(lm), nil
}

// compile compiles wasm, from the compilation cache when it holds it. A
// cache entry wazero cannot read (damaged on disk, copied half) empties
// the cache and the module is compiled again: a cache must never make an
// adapter unavailable. The module is compiled with rigd's interrupt checks
// (see instrument).
func (rt *Runtime) compile(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	wasm, err := instrument(wasm)
	if err != nil {
		return nil, err
	}
	c, err := rt.r.CompileModule(ctx, wasm)
	if err == nil || rt.cacheDir == "" || !strings.Contains(err.Error(), "compilationcache:") {
		return c, err
	}
	rt.log.Warn("the compilation cache is damaged: emptied, compiling again", "dir", rt.cacheDir, "err", err)
	entries, _ := filepath.Glob(filepath.Join(rt.cacheDir, "wazero-*", "*"))
	for _, e := range entries {
		_ = os.Remove(e)
	}
	return rt.r.CompileModule(ctx, wasm)
}

// LoadError is a module that could not be loaded, with the reason.
type LoadError struct {
	Source string
	Err    error
}

func (e *LoadError) Error() string {
	var ce *CallError
	if errors.As(e.Err, &ce) {
		return e.Err.Error() // already names the adapter
	}
	return fmt.Sprintf("adapter %s: %v", e.Source, e.Err)
}
func (e *LoadError) Unwrap() error { return e.Err }

// callState is the per-call state the host functions reach through ctx.
type callState struct {
	in       []byte
	out      []byte
	overflow bool
	oob      bool // the guest passed an out-of-range pointer
	logs     int
	mod      *Module
}

type callStateKey struct{}

const maxLogsPerCall = 64

func (rt *Runtime) instantiateHost(ctx context.Context) error {
	i32 := api.ValueTypeI32
	b := rt.r.NewHostModuleBuilder(abi.HostModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostInputRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "limit").Export(abi.ImportInputRead)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostOutputWrite), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").Export(abi.ImportOutputWrite)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").Export(abi.ImportLog)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostLogEnabled), []api.ValueType{i32}, []api.ValueType{i32}).
		WithParameterNames("level").Export(abi.ImportLogEnabled)
	_, err := b.Instantiate(ctx)
	return err
}

func stateOf(ctx context.Context) *callState {
	cs, _ := ctx.Value(callStateKey{}).(*callState)
	return cs
}

func hostInputRead(ctx context.Context, m api.Module, stack []uint64) {
	buf, limit := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	cs := stateOf(ctx)
	if cs == nil { // called outside a host call, e.g. from _initialize
		stack[0] = 0
		return
	}
	n := uint32(len(cs.in))
	if limit > 0 && n > 0 && n <= limit {
		if !m.Memory().Write(buf, cs.in) {
			cs.oob = true
		}
	}
	stack[0] = api.EncodeU32(n)
}

func hostOutputWrite(ctx context.Context, m api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	cs := stateOf(ctx)
	if cs == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	if cs.overflow || uint64(len(cs.out))+uint64(n) > abi.MaxOutput {
		cs.overflow = true
		stack[0] = api.EncodeI32(-1)
		return
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		cs.oob = true
		stack[0] = api.EncodeI32(-1)
		return
	}
	cs.out = append(cs.out, b...)
	stack[0] = 0
}

func (rt *Runtime) hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level, ptr, n := slog.Level(api.DecodeI32(stack[0])), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	cs := stateOf(ctx)
	if cs == nil || !rt.guestLog.Enabled(ctx, level) {
		return
	}
	if cs.logs++; cs.logs > maxLogsPerCall {
		return
	}
	if n > abi.MaxLogMessage {
		n = abi.MaxLogMessage
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		cs.oob = true
		return
	}
	rt.guestLog.Log(ctx, level, string(b), "adapter", cs.mod.label())
}

func (rt *Runtime) hostLogEnabled(ctx context.Context, _ api.Module, stack []uint64) {
	if rt.guestLog.Enabled(ctx, slog.Level(api.DecodeI32(stack[0]))) {
		stack[0] = 1
	} else {
		stack[0] = 0
	}
}
