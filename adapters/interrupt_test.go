package adapters

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// insertSection adds a section to an assembled module where the section
// order puts it.
func insertSection(wasm []byte, id byte, payload []byte) []byte {
	r := wasmReader{b: wasm, i: 8}
	for r.i < len(r.b) {
		at := r.i
		sid := r.byte()
		size := r.uleb()
		if sid != secCustom && sectionOrder[sid] > sectionOrder[id] {
			out := append([]byte{}, wasm[:at]...)
			out = append(append(append(out, id), uleb(uint64(len(payload)))...), payload...)
			return append(out, wasm[at:]...)
		}
		r.i += int(size)
	}
	return append(append(append(wasm, id), uleb(uint64(len(payload)))...), payload...)
}

// instrumentSpec is an adapter module with one extra function (index 4:
// output_write, the marker, build_command and metadata come first).
func instrumentSpec(extra wfunc, extraEx ...wexport) adapterSpec {
	s := goodSpec()
	s.extra, s.extraEx = []wfunc{extra}, extraEx
	return s
}

// A start function runs under the instantiation's deadline, like the rest
// of the guest's code: wazero would run it inside instantiation, where no
// interrupt can reach it yet, and a start function that never returned
// hung the caller until the quarantine.
func TestStartFunctionIsInterrupted(t *testing.T) {
	loop := instrumentSpec(wfunc{body: cat(opLoopVoid, opBr0, opEnd)})
	wasm := insertSection(loop.module().assemble(), secStart, uleb(4))
	rt := newTestRuntime(t, Deadlines{Metadata: 200 * time.Millisecond, Grace: 5 * time.Second})
	start := time.Now()
	_, err := rt.Load(context.Background(), "start-loop", wasm)
	if err == nil || !strings.Contains(err.Error(), "call deadline exceeded (200ms)") {
		t.Fatalf("load: %v, want the instantiation deadline", err)
	}
	if d := time.Since(start); d > refuseLimit() {
		t.Errorf("refused after %v, want about the 200 ms deadline", d)
	}
	// The guard's goroutine counts itself out just after handing over.
	for deadline := time.Now().Add(refuseLimit()); running.Load() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("%d guest calls still running", n)
	}

	// A start function that returns runs once, before the exports.
	ok := instrumentSpec(wfunc{body: cat(i32c(0), i32c('!'), []byte{0x3a, 0x00, 0x00})}) // i32.store8 "!" at 0
	wasm = insertSection(ok.module().assemble(), secStart, uleb(4))
	if _, err := rt.Load(context.Background(), "start-ok", wasm); err == nil || !strings.Contains(err.Error(), "!") {
		t.Fatalf("load: %v, want the metadata the start function spoiled", err)
	}
}

func TestInstrumentRefuses(t *testing.T) {
	good := instrumentSpec(wfunc{body: cat(opLoopVoid, opEnd)}).module().assemble()
	if _, err := instrument(good); err != nil {
		t.Fatalf("good module: %v", err)
	}
	for _, c := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"reserved export", instrumentSpec(wfunc{}, wexport{"rigd.x", 0, 4}).module().assemble(), `export "rigd.x" uses a name reserved for rigd`},
		{"instrumented twice", mustInstrument(t, good), `export "rigd.interrupt" uses a name reserved for rigd`},
		// The added global is the host's: no code may read or write it.
		{"global out of range", instrumentSpec(wfunc{body: []byte{0x23, 0x00, 0x1a}}).module().assemble(), "global index out of range"},
		{"unknown instruction", instrumentSpec(wfunc{body: []byte{0xff}}).module().assemble(), "unknown instruction 0xff"},
		{"truncated", good[:len(good)-3], "truncated"},
		// wazero would allocate 3.2 billion segments before reading one.
		{"a count larger than its section", append(slices.Clip(good), 11, 6, 0x80, 0xff, 0xff, 0xff, 0x0b, 0), "section 11 claims 3221225344 entries in 6 bytes"},
	} {
		_, err := instrument(c.wasm)
		if err == nil || !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an invalid module error with %q", c.name, err, c.want)
		}
	}
	// No prefix panics (one that ends between sections is a module).
	for n := range len(good) {
		_, _ = instrument(good[:n])
	}
}

func mustInstrument(t *testing.T, wasm []byte) []byte {
	t.Helper()
	out, err := instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The built-in modules get a check at every function entry and loop head,
// and wazero accepts the result (every other test runs them so).
func TestInstrumentBuiltins(t *testing.T) {
	for name, wasm := range Builtins() {
		out := mustInstrument(t, wasm)
		checks := bytes.Count(out, []byte{0x04, 0x40, 0x00, 0x0b}) - bytes.Count(wasm, []byte{0x04, 0x40, 0x00, 0x0b})
		if checks < 1000 || len(out) <= len(wasm) {
			t.Errorf("%s: %d checks added, %d → %d bytes", name, checks, len(wasm), len(out))
		}
		if dataEnd(out) != dataEnd(wasm) {
			t.Errorf("%s: data segments moved", name)
		}
	}
}

// FuzzInstrument: instrument never panics, never accepts its own output
// (the reserved names) and keeps a module wazero compiles compilable.
func FuzzInstrument(f *testing.F) {
	for _, h := range hostileModules() {
		f.Add(h.wasm)
	}
	loop := instrumentSpec(wfunc{body: cat(opLoopVoid, opBr0, opEnd)})
	f.Add(insertSection(loop.module().assemble(), secStart, uleb(4)))
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	f.Cleanup(func() { r.Close(ctx) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := instrument(wasm)
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("error %v is not an invalid module error", err)
			}
			return
		}
		if _, err := instrument(out); err == nil {
			t.Fatal("instrumented module instrumented again")
		}
		if c, err := r.CompileModule(ctx, wasm); err == nil {
			c.Close(ctx)
			c, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("wazero compiles the module but not its instrumented form: %v", err)
			}
			c.Close(ctx)
		}
	})
}

// A guest that loops for ever does not stall the garbage collector: the
// runtime cannot stop a goroutine inside guest machine code, and before
// the fuel countdown a collection that began during such a call waited for
// it for ever, with every goroutine, the one that would interrupt the
// guest included (the process hung).
func TestInterruptDuringGC(t *testing.T) {
	loop := instrumentSpec(wfunc{})
	loop.calls["adapter_metadata"] = cat(opLoopVoid, opBr0, opEnd, i32c(0))
	rt := newTestRuntime(t, Deadlines{Metadata: 300 * time.Millisecond})
	stop := make(chan struct{})
	var gcs atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
				gcs.Add(1)
			}
		}
	}()
	start := time.Now()
	_, err := rt.Load(context.Background(), "loop", loop.module().assemble())
	close(stop)
	if err == nil || !strings.Contains(err.Error(), "call deadline exceeded") {
		t.Fatalf("load: %v, want the deadline", err)
	}
	if d := time.Since(start); d > refuseLimit() {
		t.Errorf("refused after %v", d)
	}
	if gcs.Load() < 2 {
		t.Errorf("%d collections completed while the guest looped", gcs.Load())
	}
}
