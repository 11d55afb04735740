//go:build unix

package agenttest

import (
	"strings"
	"testing"
	"time"
)

func TestXMRigLockCacheIsExclusive(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockCache(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open files, so a second open in this process
	// contends like another test binary would.
	start := time.Now()
	if _, err := lockCache(dir, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("second lock while held: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %v, want about 300ms", d)
	}
	got := make(chan error, 1)
	go func() {
		unlock2, err := lockCache(dir, 5*time.Second)
		if err == nil {
			unlock2()
		}
		got <- err
	}()
	time.Sleep(150 * time.Millisecond)
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}
