package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// childEnv selects a child mode when the test binary re-executes itself:
// the kill -9 ingester, the second opener of a locked dir, the RSS probe.
const childEnv = "KV_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	before := runtime.NumGoroutine()
	code := m.Run()
	if seeded.dir != "" {
		os.RemoveAll(filepath.Dir(seeded.dir))
	}
	if code == 0 {
		if err := checkGoroutines(before); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines fails if goroutines started by the tests (a store not
// closed keeps Pebble's) are still running after a grace period.
func checkGoroutines(before int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines leaked (%d before the tests):\n%s", n-before, before, strings.TrimSpace(string(buf)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runChild(mode string) int {
	var err error
	switch mode {
	case "ingest":
		err = childIngest()
	case "open":
		err = childOpen()
	case "rss":
		err = childRSS()
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	return 0
}

// childCmdEnv is the environment of a child in mode, with env added.
func childCmdEnv(mode string, env ...string) []string {
	return append(append(os.Environ(), childEnv+"="+mode), env...)
}
