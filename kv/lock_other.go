//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package kv

import (
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// pidLock falls back to Pebble's file lock where flock is not available;
// the holder's pid is then not known.
type pidLock struct{ c io.Closer }

func lockDir(path string) (*pidLock, error) {
	c, err := vfs.Default.Lock(path)
	if err != nil {
		return nil, fmt.Errorf("%w by another process (lock file %s): %v", ErrInUse, path, err)
	}
	return &pidLock{c: c}, nil
}

func (l *pidLock) unlock() {
	if l == nil || l.c == nil {
		return
	}
	_ = l.c.Close()
	l.c = nil
}
