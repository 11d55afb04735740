//go:build unix

package install

import (
	"os/exec"
	"syscall"
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
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
