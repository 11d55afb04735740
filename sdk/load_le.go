//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package sdk

import "unsafe"

// Load64 returns the first 8 bytes of b as a little-endian word (b must
// have 8): one i64 load. Written as a load rather than as the usual sum of
// shifted bytes (which the compiler turns into the same load) so that its
// inlining cost is low enough for the helpers that use it to be inlined
// in turn: in a wasm guest a call costs an exit to the host.
func Load64(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}
