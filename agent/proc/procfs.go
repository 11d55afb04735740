package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper marks the calling process a "child subreaper"
// (prctl PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to
// it instead of PID 1, so the process groups this package kills are reaped
// by the agent even where PID 1 does not reap. Call it once, early, from the
// composition root; it affects the whole agent process.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("proc: become child subreaper: %w", err)
	}
	return nil
}

// procStat holds the fields of /proc/<pid>/stat this package uses.
type procStat struct {
	state      byte
	ppid       int
	pgrp       int
	startTicks uint64 // clock ticks after boot
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

var errBadStat = errors.New("proc: malformed /proc stat")

// parseStat parses "pid (comm) state ppid pgrp session tty tpgid flags
// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
// num_threads itrealvalue starttime …"; comm may hold spaces and parens.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errBadStat
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errBadStat
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, errBadStat
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, startTicks: start}, nil
}

// StartTicks returns the start time of process pid in clock ticks after
// boot, as /proc/<pid>/stat reports it. Recorded with the PID, it identifies
// the process even after the PID is reused.
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

// member is a process of a group, as found in /proc.
type member struct {
	pid, ppid int
	state     byte
}

// groupMembers lists the processes of group pgid.
func groupMembers(pgid int) []member {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var ms []member
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid {
			continue
		}
		ms = append(ms, member{pid: pid, ppid: st.ppid, state: st.state})
	}
	return ms
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
