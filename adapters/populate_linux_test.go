package adapters

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLinearMemoryPrefault: the pages below prefault are resident as soon
// as they are made accessible; the others only once touched.
func TestLinearMemoryPrefault(t *testing.T) {
	const page = 64 << 10
	var mem *linearMemory
	lm := memoryAllocator(&mem, 2*page+100).Allocate(0, 16*page)
	if mem == nil || lm != mem {
		t.Fatalf("allocator made %T, not a mapped memory", lm)
	}
	mem.exit()
	defer mem.Free()
	b := mem.Reallocate(4 * page)
	vec := make([]byte, len(b)/unix.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	if want := (2*page + 100 + unix.Getpagesize() - 1) / unix.Getpagesize(); resident != want {
		t.Fatalf("%d of %d pages resident after the commit, want the %d below the prefault mark", resident, len(vec), want)
	}
	if b[3*page] != 0 || b[2*page] != 0 {
		t.Fatal("not zeroed")
	}
}
