//go:build linux || darwin || freebsd

package adapters

import "syscall"

const mmapSupported = true

// reserve maps n bytes of address space that cannot be accessed yet.
func reserve(n uint64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
}

// commit makes b (part of a reservation) readable and writable; the OS
// provides zeroed pages as they are first touched.
func commit(b []byte) error {
	return syscall.Mprotect(b, syscall.PROT_READ|syscall.PROT_WRITE)
}

// release unmaps a whole reservation.
func release(b []byte) { _ = syscall.Munmap(b) }
