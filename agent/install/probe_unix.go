//go:build unix

package install

import (
	"os/exec"
	"syscall"
	"time"
)

// setProcessGroup runs the probe in its own process group and kills the
// whole group on timeout, so a binary that forks cannot outlive the probe.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killProcessGroup kills what is left of the probe's group after it was
// reaped. While any member lives the group's ID cannot be reused; with none
// left the call fails with ESRCH, unless the kernel handed that very ID to
// a new group leader in the microseconds since Wait returned, which
// sequential PID allocation makes practically impossible.
//
// Members orphaned by the leader's death are re-parented to the agent when
// it is a child subreaper (rigd serve is): they are reaped here, or they
// would stay zombies of the agent, one or two for every probe.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGKILL)
	deadline := time.Now().Add(time.Second)
	for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		if pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil); err == nil && pid > 0 {
			continue // reaped one; maybe more
		}
		time.Sleep(5 * time.Millisecond) // dying, or not ours to reap
	}
}
