package proc_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/proc"
)

func TestMain(m *testing.M) {
	agenttest.RunFakeMinerIfInvoked()
	// PID 1 may not reap (containers, this test machine): make the test
	// binary reap the orphaned group members its processes leave, as
	// rigd serve does.
	if err := proc.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	baseline := runtime.NumGoroutine()
	code := m.Run()

	// Nothing may outlive the tests: no child process (zombie or not), no
	// goroutine of a Process.
	deadline := time.Now().Add(10 * time.Second)
	for len(childProcs()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := childProcs(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "child processes left after the tests: %+v\n", left)
		code = 1
	}
	if n := settleGoroutines(baseline+2, 5*time.Second); n > baseline+2 {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "%d goroutines left (baseline %d):\n%s\n", n, baseline, buf[:runtime.Stack(buf, true)])
		code = 1
	}
	os.Exit(code)
}
