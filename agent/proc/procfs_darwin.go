package proc

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS has no /proc: process facts come from sysctl kern.proc. Only the
// Linux implementation runs in CI.

// BecomeSubreaper does nothing on macOS, which has no child subreaper:
// orphaned descendants go to launchd, which reaps them.
func BecomeSubreaper() error { return nil }

// szomb is a zombie's p_stat (sys/proc.h).
const szomb = 5

func statOf(k *unix.KinfoProc) procStat {
	st := procStat{state: 'S', ppid: int(k.Eproc.Ppid), pgrp: int(k.Eproc.Pgid)}
	if k.Proc.P_stat == szomb {
		st.state = 'Z'
	}
	t := k.Proc.P_starttime
	st.startTicks = uint64(t.Sec)*1e6 + uint64(t.Usec)
	return st
}

func readStat(pid int) (procStat, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return procStat{}, err
	}
	if int(k.Proc.P_pid) != pid {
		return procStat{}, fmt.Errorf("proc: no process %d", pid)
	}
	return statOf(k), nil
}

// groupMembers lists the processes of group pgid.
func groupMembers(pgid int) []member {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.pgrp", pgid)
	if err != nil {
		return nil
	}
	ms := make([]member, 0, len(ks))
	for i := range ks {
		st := statOf(&ks[i])
		ms = append(ms, member{pid: int(ks[i].Proc.P_pid), ppid: st.ppid, state: st.state})
	}
	return ms
}

// GroupLeadersIn finds nothing on macOS, which has no portable way to read
// another process's working directory: a lost PID record stays lost.
func GroupLeadersIn([]string) map[string]map[int]uint64 { return map[string]map[int]uint64{} }

// cloexecPipe returns a new pipe whose ends are closed on exec. macOS has no
// pipe2: the fork lock keeps a concurrent exec from inheriting the ends
// before they are marked.
func cloexecPipe(fds *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := unix.Pipe(fds[:]); err != nil {
		return err
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return nil
}

// setPipeSize does nothing: macOS pipes grow on their own (up to 64 KiB).
func setPipeSize(*os.File, int) {}
