//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package kv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidLock is an exclusive flock on a file that holds the holder's pid. The
// kernel drops the lock when the process dies, however it dies, so a stale
// file never blocks a restart.
type pidLock struct{ f *os.File }

// lockWait is how long lockDir retries a held lock (an agent that is just
// exiting) before it reports the holder.
const lockWait = 300 * time.Millisecond

func lockDir(path string) (*pidLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kv: lock %s: %w", path, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("kv: lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("%w by pid %s (lock file %s)", ErrInUse, holderPID(path), path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		_ = f.Close() // closing drops the lock
		return nil, fmt.Errorf("kv: lock %s: write pid: %w", path, err)
	}
	return &pidLock{f: f}, nil
}

// holderPID reads the pid the holder wrote ("?" if it cannot be read, e.g.
// the holder has not written it yet).
func holderPID(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(s); err != nil {
		return "?"
	}
	return s
}

func (l *pidLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
