package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

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
	session, err3 := strconv.Atoi(string(f[3]))
	start, err4 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return procStat{}, errBadStat
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, session: session, startTicks: start}, nil
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

// GroupLeadersIn returns, for each of dirs, the live process group leaders
// whose working directory it is, with their start times (the arguments of
// KillGroup). It finds a miner whose PID record was lost: each runs in a
// directory of its own, in a group of its own but not a session of its
// own, so a shell someone opened there (a session leader) is not one.
func GroupLeadersIn(dirs []string) map[string]map[int]uint64 {
	want := map[string]bool{}
	for _, d := range dirs {
		want[d] = true
	}
	out := map[string]map[int]uint64{}
	d, err := os.Open("/proc")
	if err != nil {
		return out
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 1 {
			continue
		}
		cwd, err := os.Readlink("/proc/" + n + "/cwd")
		if err != nil || !want[cwd] {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pid && st.session != pid && !dead(st.state) {
			if out[cwd] == nil {
				out[cwd] = map[int]uint64{}
			}
			out[cwd][pid] = st.startTicks
		}
	}
	return out
}

// cloexecPipe returns a new pipe whose ends are closed on exec.
func cloexecPipe(fds *[2]int) error { return unix.Pipe2(fds[:], unix.O_CLOEXEC) }

// setPipeSize asks for a pipe buffer of n bytes and ignores a refusal.
func setPipeSize(f *os.File, n int) { _, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, n) }
