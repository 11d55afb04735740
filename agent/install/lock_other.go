//go:build !unix

package install

import (
	"context"
	"os"
)

// lockType serializes record changes for one type within this process
// (there is no portable file lock in the standard library).
func (i *Installer) lockType(ctx context.Context, typeDir string) (unlock func(), err error) {
	if err := os.MkdirAll(typeDir, 0o755); err != nil {
		return nil, err
	}
	i.mu.Lock()
	ch, ok := i.locks[typeDir]
	if !ok {
		ch = make(chan struct{}, 1)
		i.locks[typeDir] = ch
	}
	i.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isEINVAL(error) bool { return false }
