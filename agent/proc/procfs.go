package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// procStat is what this package needs to know of a process; readStat
// gets it from the operating system.
type procStat struct {
	state      byte // as in /proc/<pid>/stat: 'Z' a zombie, 'X' or 'x' dead
	ppid       int
	pgrp       int
	session    int    // 0 where unknown (macOS)
	startTicks uint64 // when it started, see StartTicks
}

// StartTicks returns the start time of process pid: on Linux in clock
// ticks after boot, as /proc/<pid>/stat reports it; on macOS in
// microseconds since the epoch. Recorded with the PID, it identifies the
// process even after the PID is reused.
func StartTicks(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, fmt.Errorf("proc: start time of pid %d: %w", pid, err)
	}
	return st.startTicks, nil
}

// Alive reports whether process pid exists, is not a zombie, and started at
// startTicks (see StartTicks).
func Alive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.startTicks == startTicks && !dead(st.state)
}

func dead(state byte) bool { return state == 'Z' || state == 'X' || state == 'x' }

// KillGroup sends SIGKILL to the process group led by pid, but only if the
// process pid is alive, started at startTicks and still leads its group — a
// recorded PID that was reused is left alone and KillGroup returns
// ErrNotRunning. It does not wait; poll Alive to see the leader go.
func KillGroup(pid int, startTicks uint64) error {
	if pid <= 1 {
		return fmt.Errorf("%w: pid %d", ErrBadSpec, pid)
	}
	st, err := readStat(pid)
	if err != nil || st.startTicks != startTicks || dead(st.state) {
		return fmt.Errorf("kill group of pid %d: %w", pid, ErrNotRunning)
	}
	if st.pgrp != pid {
		return fmt.Errorf("kill group of pid %d: %w: not a process group leader", pid, ErrBadSpec)
	}
	if err := killGroup(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("proc: kill group %d: %w", pid, err)
	}
	return nil
}

// killGroup signals process group pgid; a group that no longer exists is
// not an error.
func killGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 || pgid == syscall.Getpgrp() {
		return fmt.Errorf("%w: refusing to signal process group %d", ErrBadSpec, pgid)
	}
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupExists reports whether any process (zombies included) is in the
// process group pgid.
func groupExists(pgid int) bool {
	return syscall.Kill(-pgid, 0) != syscall.ESRCH
}

// member is a process of a group (see groupMembers).
type member struct {
	pid, ppid int
	state     byte
}

// cleanupGroup runs after the leader of group pgid was reaped: it kills the
// members left, reaps those that were re-parented to this process (see
// BecomeSubreaper) and returns when none is alive and none is ours to reap,
// or at the deadline.
func cleanupGroup(pgid int, deadline time.Time) {
	if !groupExists(pgid) {
		return
	}
	_ = killGroup(pgid, syscall.SIGKILL)
	self := os.Getpid()
	pause := 2 * time.Millisecond
	for {
		pending, live := false, false
		for _, m := range groupMembers(pgid) {
			live = live || !dead(m.state)
			if m.ppid == self {
				// Re-parented to us: reap it. WNOHANG: it may still be dying.
				var ws syscall.WaitStatus
				if wpid, _ := syscall.Wait4(m.pid, &ws, syscall.WNOHANG, nil); wpid == m.pid {
					continue
				}
				pending = true
			} else if !dead(m.state) {
				pending = true
			}
		}
		if !pending || time.Now().After(deadline) {
			return
		}
		if live {
			// Again, in case a member forked while the first signal was sent.
			_ = killGroup(pgid, syscall.SIGKILL)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}
