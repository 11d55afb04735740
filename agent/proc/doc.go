// Package proc runs one OS process the way the agent supervises a miner:
// argv only (never a shell), in its own process group, in a private 0700
// working directory, with a stdin pipe kept open and stdout/stderr drained
// continuously into one bounded ring of lines.
//
// # Starting
//
// [Start] validates a [Spec], creates Spec.Dir (MkdirAll, refuse a symlink,
// Chmod 0700), writes Spec.Files into it atomically (temp file + rename,
// through an [os.Root] so nothing escapes the directory), then execs
// Spec.Path, which must be absolute: no PATH lookup and no shell. The child
// gets exactly Spec.Env (nil means an empty environment: the agent's own
// environment, which may hold tokens, is never inherited implicitly) and is
// made leader of a new process group (Setpgid). The context bounds only the
// start; it does not limit the lifetime of the process.
//
// An exec error is returned wrapped; errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, fs.ErrPermission) tell a missing or non-executable binary,
// which a supervisor treats as permanent.
//
// # Output
//
// Two goroutines read stdout and stderr; they never wait for anything but
// the pipe and the ring's lock, and both pipes are enlarged to 1 MiB
// (F_SETPIPE_SZ, best effort), so a child does not block on a full pipe
// because the agent is slow or briefly descheduled. Lines are split on '\n' (a '\r' before it is
// dropped), capped at Spec.MaxLine bytes (the rest of an over-long line is
// discarded and the line is marked Truncated, never wrapped into new lines),
// stamped with a Seq that increases across both streams, and appended to one
// ring per process whose size (text bytes plus [LineOverhead] per line) never
// exceeds Spec.RingBytes: the oldest lines are dropped. Text is kept raw —
// ANSI sequences, invalid UTF-8 and NUL bytes included — for display;
// escaping is the API layer's job. [StripANSI] removes escape sequences for
// parsing.
//
// Spec.OnLines, if set, receives each read's lines as a batch, with
// Line.Plain set to the stripped text. It runs on a dedicated goroutine fed
// by a bounded queue: when the callback falls behind, whole batches are
// dropped and counted in [Stats].Dropped instead of stalling the readers.
// The callback must still be quick — a batch of at most ~100 ms of work,
// such as one adapter parse call; anything slower belongs on a queue of the
// caller's — and Done waits for it to return. It is never called
// concurrently with itself and never after Done.
//
// # Stopping
//
// [Process.Stop] sends SIGTERM to the group, waits up to Spec.Grace, sends
// SIGKILL to the group and waits at most [KillWait] plus [DrainWait]. It is
// idempotent and safe to call concurrently; a ctx that ends early turns it
// into an immediate SIGKILL. Nothing in this package ever stops a process
// on its own: there is no timer on a healthy process. Whenever the leader exits — on its own or
// because it was stopped — any group members left (forked helpers) are
// killed with SIGKILL, and those that were re-parented to the agent are
// reaped. Then the readers get [DrainWait] to reach end of file (a process
// that left the group may still hold a pipe) before the pipes are closed.
// Done is closed only after all of that, so after Done the ring is final and
// OnLines is not called again. exec.Cmd.WaitDelay is set as well, although
// the pipes are plain *os.File and Wait has nothing to copy.
//
// Orphaned members are re-parented to the nearest "child subreaper", or to
// PID 1. Where PID 1 does not reap (some containers), they stay zombies
// unless the agent calls [BecomeSubreaper] once at start-up; the process then
// reaps the members of its own groups (and only those: other children are
// left to their os/exec owners).
//
// # Adopting after an agent crash
//
// A miner survives its agent (no parent-death signal is set). A PID plus the
// process start time ([StartTicks], field 22 of /proc/<pid>/stat) identifies
// a process across PID reuse: [Alive] checks that pair and [KillGroup] kills
// the group it leads only when the pair still matches. The miner's console
// is lost with the agent, though: the read ends of its pipes are closed, so
// its next write to stdout or stderr fails with EPIPE or kills it with
// SIGPIPE. An adopted miner can be watched through its API and killed, not
// read.
//
// Processes that leave their group (setsid, setpgid) escape group signals;
// containing them would need cgroups, which this package does not use.
package proc
