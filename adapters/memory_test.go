package adapters

import (
	"context"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/rigd/rigd/sdk/abi"
)

// newTestMemory makes a linear memory as an instantiation would, with no
// call in progress.
func newTestMemory(t *testing.T, max uint64) *linearMemory {
	t.Helper()
	if !mmapSupported {
		t.Skip("no anonymous mappings on this OS: wazero keeps linear memory in the Go heap")
	}
	var mem *linearMemory
	lm := memoryAllocator(&mem, 0).Allocate(0, max)
	if mem == nil || lm != mem {
		t.Fatalf("allocator made %T, not a mapped memory", lm)
	}
	mem.exit()
	return mem
}

func TestLinearMemoryGrowsInPlace(t *testing.T) {
	const page = 64 << 10
	mem := newTestMemory(t, 16*page)
	defer mem.Free()
	b := mem.Reallocate(page)
	if len(b) != page || b[0] != 0 || b[page-1] != 0 {
		t.Fatalf("first page: len %d, not zeroed", len(b))
	}
	b[0], b[page-1] = 1, 2
	b2 := mem.Reallocate(4 * page)
	if unsafe.SliceData(b2) != unsafe.SliceData(b) || len(b2) != 4*page {
		t.Fatal("the memory moved or did not grow")
	}
	if b2[0] != 1 || b2[page-1] != 2 || b2[4*page-1] != 0 {
		t.Fatal("growing lost or dirtied bytes")
	}
	b2[4*page-1] = 3 // the new pages are writable
	if mem.Reallocate(16*page) == nil {
		t.Fatal("could not grow to the reservation")
	}
	if mem.Reallocate(17*page) != nil {
		t.Fatal("grew past the reservation")
	}
}

// TestLinearMemoryFreeWaitsForCalls: wazero frees the memory when the
// module is closed, which a quarantine does while the call runs on; the
// mapping must stay until the call returns (or the guest faults the agent).
func TestLinearMemoryFreeWaitsForCalls(t *testing.T) {
	mem := newTestMemory(t, 1<<20)
	b := mem.Reallocate(64 << 10)
	mem.enter()
	mem.Free()
	b[100] = 1 // still mapped: this would fault the test binary otherwise
	if mem.Reallocate(128<<10) != nil {
		t.Error("a freed memory grew")
	}
	mem.exit()
	if mem.buf != nil {
		t.Error("the memory was not unmapped when the last call returned")
	}
	mem2 := newTestMemory(t, 1<<20)
	mem2.Free()
	if mem2.buf != nil {
		t.Error("an idle memory was not unmapped at once")
	}
}

// TestSessionMemoryIsMapped: a real instance's memory is the mapped one,
// and closing the session unmaps it.
func TestSessionMemoryIsMapped(t *testing.T) {
	if !mmapSupported {
		t.Skip("no anonymous mappings on this OS")
	}
	ctx := context.Background()
	m, err := newTestRuntime(t, Deadlines{}).Load(ctx, "good.wasm", goodModule())
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	s := m.NewSession()
	if _, err := s.ParseLines(ctx, abi.Stdout, [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	mem := s.inst.mem
	if mem == nil || len(mem.buf) == 0 || uint32(len(mem.buf)) != s.inst.memoryBytes() {
		t.Fatalf("the session's instance does not use a mapped memory (%v)", mem)
	}
	s.Close()
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.buf != nil || !mem.freed {
		t.Error("closing the session did not unmap its memory")
	}
}

// A failed reservation (address space limited by ulimit -v, say) leaves
// the instance's memory in the Go heap, grown by copying as wazero does.
func TestSessionMemoryFallsBackToHeap(t *testing.T) {
	if !mmapSupported {
		t.Skip("no anonymous mappings on this OS")
	}
	defer func(r func(uint64) ([]byte, error)) { reserveMemory = r }(reserveMemory)
	reserveMemory = func(uint64) ([]byte, error) { return nil, syscall.ENOMEM }
	ctx := context.Background()
	// The first call grows the memory by copying it: 2–5 ms, but 35–50 ms
	// under the race detector (which shadows every byte copied) and past
	// 100 ms on a loaded CI machine. What is tested here is that the
	// fallback works, not its speed, so the deadline is generous.
	rt := newTestRuntime(t, Deadlines{ParseLine: 5 * time.Second})
	m, err := rt.Load(ctx, SourceBuiltin, Builtins()["xmrig"])
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(ctx)
	s := m.NewSession()
	defer s.Close()
	lines := realLines(t, abi.MaxLineBatch, false)
	for range 3 {
		res, err := s.ParseLines(ctx, abi.Stdout, lines)
		if err != nil || len(res.Events) == 0 {
			t.Fatalf("parse_line on a heap memory: %+v, %v", res, err)
		}
	}
	if s.inst.mem != nil {
		t.Fatal("the instance uses a mapped memory")
	}
	// The Go runtime grows its memory as it starts: through the fallback.
	mems := m.compiledModule().ExportedMemories()
	if len(mems) != 1 {
		t.Fatalf("%d exported memories", len(mems))
	}
	for _, d := range mems {
		if got := s.inst.memoryBytes(); got <= d.Min()*65536 {
			t.Errorf("memory %d bytes, not grown from its %d pages", got, d.Min())
		}
	}
}

func TestSliceMemory(t *testing.T) {
	s := &sliceMemory{max: 3 << 16}
	b := s.Reallocate(1 << 16)
	if len(b) != 1<<16 {
		t.Fatalf("len %d", len(b))
	}
	b[0], b[len(b)-1] = 1, 2
	b = s.Reallocate(2 << 16)
	if len(b) != 2<<16 || b[0] != 1 || b[1<<16-1] != 2 || b[1<<16] != 0 {
		t.Fatal("growing lost or dirtied bytes")
	}
	if s.Reallocate(4<<16) != nil {
		t.Error("grew past its maximum")
	}
	if b := s.Reallocate(3 << 16); len(b) != 3<<16 || b[0] != 1 {
		t.Error("cannot grow to its maximum after a refusal")
	}
	s.Free()
	if s.buf != nil {
		t.Error("Free kept the bytes")
	}
}

func TestDataEnd(t *testing.T) {
	seg := func(flags byte, rest ...[]byte) []byte { return cat(append([]byte{flags}, cat(rest...)...)) }
	vec := func(b []byte) []byte { return append(uleb(uint64(len(b))), b...) }
	mod := func(segs ...[]byte) []byte {
		return append([]byte("\x00asm\x01\x00\x00\x00"), section(11, segs)...)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want uint64
	}{
		{"hand-written adapter", goodModule(), 4096 + uint64(len(testCommandJSON))},
		{"highest segment first", mod(seg(0, i32c(70000), []byte{0x0b}, vec([]byte("ab"))), seg(0, i32c(16), []byte{0x0b}, vec([]byte("c")))), 70002},
		{"passive segments are not written", mod(seg(1, vec(make([]byte, 9000))), seg(0, i32c(8), []byte{0x0b}, vec([]byte("x")))), 9},
		{"explicit memory 0", mod(seg(2, uleb(0), i32c(100), []byte{0x0b}, vec([]byte("xyz")))), 103},
		{"offset from a global", mod(seg(0, []byte{0x23, 0x00, 0x0b}, vec([]byte("x")))), 0},
		{"offset 2^31 and up", mod(seg(0, i32c(-4096), []byte{0x0b}, vec([]byte("x")))), 1<<32 - 4095},
		{"no data section", mod()[:8], 0},
		{"unknown flags", mod(seg(7, vec([]byte("x")))), 0},
		{"segment longer than the module", append(mod(seg(0, i32c(0), []byte{0x0b}, uleb(100))), 'x'), 0},
	} {
		if got := dataEnd(tc.wasm); got != tc.want {
			t.Errorf("%s: dataEnd = %d, want %d", tc.name, got, tc.want)
		}
	}
	good := goodModule()
	for n := range len(good) {
		if got := dataEnd(good[:n]); got != 0 {
			t.Fatalf("the first %d of %d bytes: dataEnd = %d, want 0 (cut short)", n, len(good), got)
		}
	}
	// The real module: its data lies within the memory it starts with.
	m := benchXMRig(t)
	in, err := m.newInstance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	if m.dataEnd == 0 || m.dataEnd > uint64(in.memoryBytes()) {
		t.Fatalf("xmrig: dataEnd %d, linear memory %d bytes", m.dataEnd, in.memoryBytes())
	}
}

func FuzzDataEnd(f *testing.F) {
	f.Add(goodModule())
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if end := dataEnd(wasm); end > 1<<32+uint64(len(wasm)) {
			t.Fatalf("dataEnd %d for a %d-byte module", end, len(wasm))
		}
	})
}
