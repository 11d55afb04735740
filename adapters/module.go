package adapters

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/rigd/rigd/sdk/abi"
)

// Module is one compiled, validated generation of an adapter. Stateless
// calls (metadata, build_command) use a small pool of instances; sessions
// hold their own instance. It is safe for concurrent use.
type Module struct {
	rt       *Runtime
	wasm     []byte                // kept for a lazy module until it is compiled
	compiled wazero.CompiledModule // nil until needed for a lazy module
	source   string
	digest   string
	meta     abi.Metadata
	exports  map[string]bool
	gen      int    // generation number within its catalog entry
	dataEnd  uint64 // the linear memory its data segments fill (see linearMemory)

	compileMu  sync.Mutex // serialises the compile of a lazy module
	mu         sync.Mutex
	idle       []*instance
	refs       int   // sessions and calls in flight
	retired    bool  // close once refs drops to 0
	closed     bool  //
	quarantine error // set when a call did not return; fails all calls
}

func newModule(rt *Runtime, c wazero.CompiledModule, wasm []byte, source, digest string) *Module {
	m := &Module{rt: rt, compiled: c, source: source, digest: digest, exports: map[string]bool{}, dataEnd: dataEnd(wasm)}
	for name := range c.ExportedFunctions() {
		m.exports[name] = true
	}
	return m
}

func (m *Module) compiledModule() wazero.CompiledModule {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.compiled
}

// ensureCompiled compiles a lazy module on first use (from the
// compilation cache, normally). fresh reports that this call compiled it.
func (m *Module) ensureCompiled(ctx context.Context) (c wazero.CompiledModule, fresh bool, err error) {
	m.compileMu.Lock()
	defer m.compileMu.Unlock()
	if c := m.compiledModule(); c != nil {
		return c, false, nil
	}
	c, err = m.rt.compile(ctx, m.wasm)
	if err == nil {
		err = checkModule(c)
	}
	if err != nil {
		if c != nil {
			c.Close(ctx)
		}
		return nil, false, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	m.mu.Lock()
	closed := m.closed
	if !closed {
		m.compiled, m.wasm = c, nil
	}
	m.mu.Unlock()
	if closed {
		c.Close(ctx)
		return nil, false, ErrClosed
	}
	return c, true, nil
}

// Metadata returns the adapter's metadata, read once at load.
func (m *Module) Metadata() abi.Metadata { return m.meta }

// Source is "builtin" or the path the module was loaded from.
func (m *Module) Source() string { return m.source }

// Digest is the hex SHA-256 of the module bytes.
func (m *Module) Digest() string { return m.digest }

// Has reports whether the module exports the named ABI function.
func (m *Module) Has(export string) bool { return m.exports[export] }

// Quarantined returns the reason the module was quarantined, or nil.
func (m *Module) Quarantined() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.quarantine
}

// label names the module in errors and logs: "xmrig" for a built-in,
// "xmrig (/path/xmrig.wasm)" for a file, the source before its metadata is
// known.
func (m *Module) label() string {
	switch {
	case m.meta.Name == "":
		return m.source
	case m.source == SourceBuiltin:
		return m.meta.Name
	}
	return m.meta.Name + " (" + m.source + ")"
}

// CallError is a failed call into an adapter.
type CallError struct {
	Adapter string
	Export  string
	Err     error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("adapter %s: %s: %v", e.Adapter, e.Export, e.Err)
}
func (e *CallError) Unwrap() error { return e.Err }

type instance struct {
	mod       api.Module
	mem       *linearMemory // nil when wazero owns the memory (see memoryAllocator)
	fns       map[string]api.Function
	interrupt api.MutableGlobal // set to stop the guest (see instrument)
	stderr    *tail
	bad       bool // poisoned: never call again
}

// run calls fn, interrupting the guest when ctx is done: it then traps at
// its next interrupt check. late reports an interrupt that came as the
// guest returned: the flag stays set, so the caller must poison the
// instance (run may outlive a quarantined caller: it does not touch bad).
func (in *instance) run(ctx context.Context, fn api.Function) (res []uint64, late bool, err error) {
	stop := context.AfterFunc(ctx, func() { in.interrupt.Set(1) })
	in.enter()
	res, err = fn.Call(ctx)
	in.exit()
	return res, !stop(), err
}

// enter and exit bracket guest code (see linearMemory).
func (in *instance) enter() {
	if in.mem != nil {
		in.mem.enter()
	}
}

func (in *instance) exit() {
	if in.mem != nil {
		in.mem.exit()
	}
}

// memoryBytes is the instance's current linear memory size.
func (in *instance) memoryBytes() uint32 {
	if mem := in.mod.Memory(); mem != nil {
		return mem.Size()
	}
	return 0
}

func (in *instance) close() {
	// A background context: closing must not be cut short by the caller.
	in.mod.Close(context.Background())
}

// acquire takes a reference for a call or a session.
func (m *Module) acquire() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.quarantine != nil:
		return m.quarantine
	case m.closed:
		return ErrClosed
	}
	m.refs++
	return nil
}

func (m *Module) release() {
	m.mu.Lock()
	m.refs--
	closeNow := m.refs == 0 && m.retired && !m.closed
	if closeNow {
		m.closed = true
	}
	idle := m.idle
	if closeNow {
		m.idle = nil
	}
	m.mu.Unlock()
	if closeNow {
		for _, in := range idle {
			in.close()
		}
		if m.compiled != nil {
			m.compiled.Close(context.Background())
		}
	}
}

// retire closes the module once nothing uses it any more.
func (m *Module) retire() {
	if err := m.acquire(); err != nil {
		// Quarantined or closed: close what is left now.
		m.close(context.Background())
		return
	}
	m.mu.Lock()
	m.retired = true
	m.mu.Unlock()
	m.release()
}

// close closes the module immediately.
func (m *Module) close(ctx context.Context) {
	m.mu.Lock()
	idle := m.idle
	m.idle, m.closed = nil, true
	m.mu.Unlock()
	for _, in := range idle {
		in.close()
	}
	if c := m.compiledModule(); c != nil {
		c.Close(ctx)
	}
}

func (m *Module) setQuarantine(err error) {
	m.mu.Lock()
	first := m.quarantine == nil
	if first {
		m.quarantine = err
	}
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, in := range idle {
		in.close()
	}
	if first {
		m.rt.log.Error("adapter quarantined", "adapter", m.label(), "source", m.source, "reason", err)
	}
}

// guard runs fn with a deadline, on its own goroutine so that a call that
// never returns cannot take its caller with it: past deadline+grace the
// module is quarantined and the caller gets an error.
func (m *Module) guard(ctx context.Context, what string, deadline time.Duration, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	done := make(chan error, 1)
	running.Add(1)
	go func() {
		defer running.Add(-1)
		done <- fn(cctx)
	}()
	t := time.NewTimer(deadline + m.rt.deadlines.Grace)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil && cctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("%w (%s)", ErrTimeout, deadline)
		}
		return err
	case <-t.C:
		err := fmt.Errorf("%w: %s did not return within %s", ErrQuarantined, what, deadline+m.rt.deadlines.Grace)
		m.setQuarantine(err)
		// A call that does come back was slow (a stalled host), not stuck:
		// lift the quarantine then. The instance stays poisoned.
		go func() {
			<-done
			m.liftQuarantine(err)
		}()
		return err
	}
}

// running counts the guarded calls whose guest code has not returned, in
// every runtime, quarantined ones included (tests wait for it to drain).
var running atomic.Int64

// liftQuarantine ends a quarantine set for err.
func (m *Module) liftQuarantine(err error) {
	m.mu.Lock()
	lifted := m.quarantine == err
	if lifted {
		m.quarantine = nil
	}
	m.mu.Unlock()
	if lifted {
		m.rt.log.Warn("adapter call returned late; quarantine lifted", "adapter", m.label(), "reason", err)
	}
}

// newInstance instantiates the module, running the guest's _initialize.
func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	in := &instance{stderr: newTail(4 << 10), fns: map[string]api.Function{}}
	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: many instances of one module
		WithStartFunctions(). // run below, under the deadline
		WithSysNanotime().    // real clocks are mandatory: with wazero's fake
		WithSysWalltime().    // clock a Go guest's GC never runs
		WithRandSource(rand.Reader).
		WithStdout(in.stderr).
		WithStderr(in.stderr)
	// Compiling runs no guest code: it is not under the call deadline.
	compiled, fresh, err := m.ensureCompiled(ctx)
	if err != nil {
		return nil, &CallError{Adapter: m.label(), Export: "instantiate", Err: err}
	}
	if fresh {
		// The garbage of loading the module (its instrumented copy,
		// wazero's decoding: ≈ 11 MB) goes back to the system now, as
		// LoadBuiltin's does, rather than staying in the agent's resident
		// memory for as long as the miner runs. Once per module.
		defer debug.FreeOSMemory()
	}
	var late bool
	err = m.guard(ctx, "instantiate", m.rt.deadlines.Metadata, func(cctx context.Context) error {
		mod, err := m.rt.r.InstantiateModule(experimental.WithMemoryAllocator(cctx, memoryAllocator(&in.mem, m.dataEnd)), compiled, cfg)
		in.exit() // the allocator counted instantiation as a call
		if err != nil {
			return err
		}
		in.mod = mod
		var ok bool
		if in.interrupt, ok = mod.ExportedGlobal(interruptExport).(api.MutableGlobal); !ok {
			return errors.New("the module was compiled without its interrupt checks")
		}
		// The module's start function (see instrument), then the reactor's
		// initialisation.
		for _, name := range []string{startExport, "_initialize"} {
			if fn := mod.ExportedFunction(name); fn != nil {
				if _, late, err = in.run(cctx, fn); err != nil || late {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		if in.mod != nil {
			in.close()
		}
		return nil, &CallError{Adapter: m.label(), Export: "instantiate", Err: fmt.Errorf("%w: %s%s", ErrProtocol, firstLine(err.Error()), in.stderr.suffix())}
	}
	if late {
		in.close()
		return nil, &CallError{Adapter: m.label(), Export: "instantiate", Err: fmt.Errorf("%w (%s)", ErrTimeout, m.rt.deadlines.Metadata)}
	}
	for name := range m.exports {
		if fn := in.mod.ExportedFunction(name); fn != nil {
			in.fns[name] = fn
		}
	}
	return in, nil
}

// call invokes one export on in. Any failure other than an adapter error
// poisons the instance.
func (m *Module) call(ctx context.Context, in *instance, export string, input []byte) ([]byte, error) {
	fn := in.fns[export]
	if fn == nil {
		return nil, &CallError{Adapter: m.label(), Export: export, Err: fmt.Errorf("%w: export missing", ErrProtocol)}
	}
	cs := &callState{in: input, mod: m}
	var res []uint64
	start := time.Now()
	var late bool
	err := m.guard(ctx, export, m.rt.deadlines.of(export), func(cctx context.Context) error {
		var err error
		res, late, err = in.run(context.WithValue(cctx, callStateKey{}, cs), fn)
		return err
	})
	if m.rt.onCall != nil && m.meta.Name != "" { // not the load's metadata call: no name yet
		m.rt.onCall(m.meta.Name, export, time.Since(start), err)
	}
	fail := func(err error) ([]byte, error) {
		in.bad = true
		return nil, &CallError{Adapter: m.label(), Export: export, Err: err}
	}
	var exit *sys.ExitError
	switch {
	case errors.Is(err, ErrQuarantined), errors.Is(err, ErrTimeout):
		return fail(err)
	case errors.As(err, &exit):
		return fail(fmt.Errorf("%w: guest exited with code %d%s", ErrProtocol, exit.ExitCode(), in.stderr.suffix()))
	case err != nil && ctx.Err() != nil:
		return fail(ctx.Err())
	case err != nil:
		return fail(fmt.Errorf("%w: trap: %s%s", ErrProtocol, firstLine(err.Error()), in.stderr.suffix()))
	case cs.overflow:
		return fail(fmt.Errorf("%w: output over the %d byte limit", ErrProtocol, abi.MaxOutput))
	case cs.oob:
		return fail(fmt.Errorf("%w: out-of-bounds pointer passed to the host", ErrProtocol))
	}
	if late || in.memoryBytes() > RecycleBytes {
		in.bad = true // not an error: replace the instance, keep the result
	}
	switch status := api.DecodeI32(res[0]); status {
	case abi.StatusOK:
		return cs.out, nil
	case abi.StatusError:
		ae := new(abi.Error)
		if err := json.Unmarshal(cs.out, ae); err != nil || ae.Code == "" && ae.Message == "" {
			return nil, &CallError{Adapter: m.label(), Export: export, Err: fmt.Errorf("%w: status 1 with an invalid error document", ErrProtocol)}
		}
		return nil, &CallError{Adapter: m.label(), Export: export, Err: ae}
	default:
		return fail(fmt.Errorf("%w: returned status %d (want 0 or 1)", ErrProtocol, status))
	}
}

// withInstance runs fn on a pooled instance and returns it to the pool if
// it is still healthy.
func (m *Module) withInstance(ctx context.Context, fn func(*instance) error) error {
	if err := m.acquire(); err != nil {
		return &CallError{Adapter: m.label(), Export: "call", Err: err}
	}
	defer m.release()
	m.mu.Lock()
	var in *instance
	if n := len(m.idle); n > 0 {
		in, m.idle = m.idle[n-1], m.idle[:n-1]
	}
	m.mu.Unlock()
	if in == nil {
		var err error
		if in, err = m.newInstance(ctx); err != nil {
			return err
		}
	}
	err := fn(in)
	m.mu.Lock()
	keep := !in.bad && !m.closed && m.quarantine == nil && len(m.idle) < m.rt.poolSize
	if keep {
		m.idle = append(m.idle, in)
	}
	m.mu.Unlock()
	if !keep {
		in.close()
	}
	return err
}

// callJSON runs a stateless call: input marshalled from in, output
// unmarshalled into out (if non-nil).
func (m *Module) callJSON(ctx context.Context, export string, in, out any) error {
	var input []byte
	if in != nil {
		var err error
		if input, err = json.Marshal(in); err != nil {
			return fmt.Errorf("adapter %s: %s: encode input: %w", m.label(), export, err)
		}
	}
	return m.withInstance(ctx, func(inst *instance) error {
		b, err := m.call(ctx, inst, export, input)
		if err != nil {
			return err
		}
		return m.decode(export, b, out)
	})
}

// decodeResult reads a parse result with the hand-written decoder (no
// reflection on the per-batch path).
// decodeResult decodes a parse result and refuses values no miner prints
// (abi.LineResult.Check).
func (m *Module) decodeResult(export string, d *abi.Decoder, b []byte, out interface {
	DecodeJSON(*abi.Decoder)
	Check() error
}) error {
	d.Reset(b)
	out.DecodeJSON(d)
	if err := d.Finish(); err != nil {
		return &CallError{Adapter: m.label(), Export: export, Err: fmt.Errorf("%w: output is not a valid %T document: %v", ErrProtocol, out, err)}
	}
	if err := out.Check(); err != nil {
		return &CallError{Adapter: m.label(), Export: export, Err: fmt.Errorf("%w: output refused: %v", ErrProtocol, err)}
	}
	return nil
}

func (m *Module) decode(export string, b []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &CallError{Adapter: m.label(), Export: export, Err: fmt.Errorf("%w: output is not a valid %T document: %v", ErrProtocol, out, err)}
	}
	return nil
}

func (m *Module) readMetadata(ctx context.Context) (abi.Metadata, error) {
	var meta abi.Metadata
	if err := m.callJSON(ctx, abi.ExportMetadata, nil, &meta); err != nil {
		return meta, err
	}
	if err := meta.Validate(); err != nil {
		return meta, &CallError{Adapter: m.label(), Export: abi.ExportMetadata, Err: fmt.Errorf("%w: invalid metadata: %v", ErrProtocol, err)}
	}
	return meta, nil
}

// BuildCommand asks the adapter how to run the miner for req and checks
// the answer against the instance facts.
func (m *Module) BuildCommand(ctx context.Context, req abi.BuildRequest) (abi.Command, error) {
	var cmd abi.Command
	if err := m.callJSON(ctx, abi.ExportBuildCommand, req, &cmd); err != nil {
		return cmd, err
	}
	if err := abi.ValidateCommand(&cmd, &req.Instance); err != nil {
		return cmd, &CallError{Adapter: m.label(), Export: abi.ExportBuildCommand, Err: fmt.Errorf("%w: unsafe command: %v", ErrProtocol, err)}
	}
	return cmd, nil
}

// tail keeps the last bytes a guest wrote to stdout/stderr, to explain
// traps and panics.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// suffix renders the tail for an error message: "; guest output: ...".
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) == 0 {
		return ""
	}
	s := string(t.b)
	if len(s) > 512 {
		s = "…" + s[len(s)-512:]
	}
	return fmt.Sprintf("; guest output: %q", s)
}

// firstLine cuts wazero's multi-line errors (stack traces) to their first
// line: errors here are shown as one line.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
