package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults and bounds.
const (
	DefaultRingBytes = 1 << 20          // ring size when Spec.RingBytes is 0
	DefaultMaxLine   = 64 << 10         // line cap when Spec.MaxLine is 0
	DefaultGrace     = 10 * time.Second // SIGTERM→SIGKILL delay when Spec.Grace is 0

	// KillWait bounds the wait for the group to go after SIGKILL.
	KillWait = 5 * time.Second
	// DrainWait is how long the readers may still read after the group is
	// gone, for a process that left the group but holds a pipe.
	DrainWait = 2 * time.Second
	// WriteTimeout bounds Process.Write when ctx has no earlier deadline.
	WriteTimeout = 5 * time.Second
	// ExitLines is how many of the last lines Exit carries.
	ExitLines = 50

	readBufSize  = 64 << 10
	pipeSize     = 1 << 20 // stdout and stderr pipe capacity (F_SETPIPE_SZ)
	queueBatches = 16      // OnLines queue length, in batches (one per read)
)

// Sentinel errors.
var (
	ErrNotRunning   = errors.New("proc: not running")
	ErrBadSpec      = errors.New("proc: invalid spec")
	ErrUnsafeDir    = errors.New("proc: unsafe working directory")
	ErrStopTimeout  = errors.New("proc: process group still there after SIGKILL")
	ErrWriteTimeout = errors.New("proc: stdin write timed out")
)

// Spec describes a process to start.
type Spec struct {
	// Path is the absolute path of the executable; it is also argv[0].
	Path string
	// Args are the arguments after argv[0], passed as they are.
	Args []string
	// Env is the complete environment ("KEY=value"); nil means empty.
	Env []string
	// Dir is the private working directory, created 0700; "" runs the
	// process in the agent's working directory and allows no Files.
	Dir string
	// Files are written into Dir before the process starts.
	Files []File
	// RingBytes bounds the output ring (text plus LineOverhead per line);
	// 0 means DefaultRingBytes.
	RingBytes int
	// MaxLine caps a line's length in bytes; 0 means DefaultMaxLine.
	MaxLine int
	// Grace is how long Stop waits after SIGTERM before SIGKILL; 0 means
	// DefaultGrace.
	Grace time.Duration
	// FirstSeq is the Seq before the process's first line (0: lines are
	// numbered from 1). A supervisor passes the last Seq of the previous
	// process of the same miner, so that a reader following its output
	// with since=SEQ sees the lines of the next process too.
	FirstSeq uint64
	// OnLines, if set, receives the lines of each read as a batch, on a
	// goroutine of the Process (off the read path), never concurrently with
	// itself. It may do bounded work, such as one adapter parse call of at
	// most ~100 ms, but while it runs further batches queue up (16 of them)
	// and are then dropped, counted in Stats.Dropped; and Done waits for it
	// to return. The slice and its lines belong to the callee.
	OnLines func(stream Stream, lines []Line)
	// Coalesce, if positive, is how long a reader waits after a small read
	// (under 16 KiB) before reading again, so that a miner printing a line
	// every few milliseconds costs one wakeup per Coalesce rather than one
	// per line. Large reads are never delayed: a flood is drained at once
	// (the pipe holds 1 MiB meanwhile). Lines are stamped when read, so
	// their Time can be up to Coalesce late.
	Coalesce time.Duration
}

// Exit describes how a process ended.
type Exit struct {
	// Code is the exit status, or -1 if a signal killed the process.
	Code int
	// Signal is the signal that killed the process; 0 if it exited.
	Signal syscall.Signal
	// Stopped reports that Stop was called before the process exited.
	Stopped bool
	// Start and End are when the process was started and reaped.
	Start, End time.Time
	// Err is set when waiting for the process failed for another reason
	// than its exit status (rare).
	Err error
	// Lines are the last (up to ExitLines) lines of output.
	Lines []Line
}

// RunTime is how long the process ran.
func (e Exit) RunTime() time.Duration { return e.End.Sub(e.Start) }

func (e Exit) String() string {
	var s string
	switch {
	case e.Err != nil:
		s = "wait failed: " + e.Err.Error()
	case e.Signal != 0:
		s = "killed by signal " + e.Signal.String()
	default:
		s = fmt.Sprintf("exit status %d", e.Code)
	}
	if e.Stopped {
		s += " (stopped)"
	}
	return s
}

// Stats are counters of a process's output.
type Stats struct {
	Lines     uint64 // lines read, both streams
	Bytes     uint64 // bytes read, both streams
	Truncated uint64 // lines cut at MaxLine
	Dropped   uint64 // lines not given to OnLines because it fell behind
	RingLines int    // lines held in the ring
	RingBytes int    // ring size as charged: text plus LineOverhead per line
}

// Process is a started process. Its methods are safe for concurrent use.
type Process struct {
	path       string
	pid        int
	start      time.Time
	startTicks uint64
	grace      time.Duration
	coalesce   time.Duration
	onLines    func(Stream, []Line)

	cmd          *exec.Cmd
	stdin        *os.File                   // write end; closed by wait
	stdinSem     chan struct{}              // one slot: serialises Write
	stopRead     atomic.Bool                // set by wait: readers give up
	parked       [2]atomic.Pointer[os.File] // a reader's file while it waits for data
	queue        chan batch                 // to dispatch; nil without OnLines; closed by wait
	readerDone   chan struct{}              // one value per finished reader
	dispatchDone chan struct{}
	done         chan struct{}

	lines, bytes, truncated, dropped atomic.Uint64

	mu struct {
		sync.Mutex
		ring    ring
		nextSeq uint64
		exited  bool      // the leader was reaped
		stopAt  time.Time // when Stop was first called, zero if never
		exit    Exit      // final once done is closed
	}
}

type batch struct {
	stream Stream
	lines  []Line
}

// Start starts the process described by spec. ctx bounds the start only.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	p, err := start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("proc: start %q: %w", spec.Path, err)
	}
	return p, nil
}

func checkSpec(spec *Spec) error {
	if spec.Path == "" || !filepath.IsAbs(spec.Path) {
		return fmt.Errorf("%w: path %q is not absolute", ErrBadSpec, spec.Path)
	}
	for _, a := range append([]string{spec.Path}, spec.Args...) {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: NUL byte in argv", ErrBadSpec)
		}
	}
	if spec.RingBytes < 0 || spec.MaxLine < 0 || spec.Grace < 0 {
		return fmt.Errorf("%w: negative RingBytes, MaxLine or Grace", ErrBadSpec)
	}
	if spec.RingBytes == 0 {
		spec.RingBytes = DefaultRingBytes
	}
	if spec.MaxLine == 0 {
		spec.MaxLine = DefaultMaxLine
	}
	if spec.Grace == 0 {
		spec.Grace = DefaultGrace
	}
	return nil
}

func start(ctx context.Context, spec Spec) (_ *Process, err error) {
	if err := checkSpec(&spec); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := prepareDir(ctx, spec.Dir, spec.Files); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var files []*os.File // every end, closed on failure
	defer func() {
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	var readFDs []int // our output read ends until the readers own them
	defer func() {
		if err != nil {
			for _, fd := range readFDs {
				_ = unix.Close(fd)
			}
		}
	}()
	outputPipe := func() (r int, w *os.File, err error) {
		r, w, err = newOutputPipe()
		if err == nil {
			readFDs = append(readFDs, r)
			files = append(files, w)
		}
		return r, w, err
	}
	outR, outW, err := outputPipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := outputPipe()
	if err != nil {
		return nil, err
	}
	// A larger pipe lets the child write through a scheduling hiccup of
	// the agent; pages are allocated only when used. Best effort: the
	// per-user pipe limits may refuse it.
	for _, w := range []*os.File{outW, errW} {
		setPipeSize(w, pipeSize)
	}

	env := spec.Env
	if env == nil {
		env = []string{} // nil would inherit the agent's environment
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = env
	cmd.Dir = spec.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The child has its ends now; keep only ours.
	_, _, _ = inR.Close(), outW.Close(), errW.Close()

	p := &Process{
		path:         spec.Path,
		pid:          cmd.Process.Pid,
		start:        time.Now(),
		grace:        spec.Grace,
		coalesce:     spec.Coalesce,
		onLines:      spec.OnLines,
		cmd:          cmd,
		stdin:        inW,
		stdinSem:     make(chan struct{}, 1),
		readerDone:   make(chan struct{}, 2),
		dispatchDone: make(chan struct{}),
		done:         make(chan struct{}),
	}
	p.mu.ring.limit = spec.RingBytes
	p.mu.nextSeq = spec.FirstSeq
	// Not reaped yet (wait has not started), so /proc/<pid>/stat exists.
	p.startTicks, _ = StartTicks(p.pid)

	if p.onLines != nil {
		p.queue = make(chan batch, queueBatches)
		go p.dispatch()
	} else {
		close(p.dispatchDone)
	}
	go p.read(outR, Stdout, spec.MaxLine, &p.parked[0])
	go p.read(errR, Stderr, spec.MaxLine, &p.parked[1])
	go p.wait()
	return p, nil
}

// Pid returns the process ID, which is also the process group ID.
func (p *Process) Pid() int { return p.pid }

// StartTime returns when the process was started.
func (p *Process) StartTime() time.Time { return p.start }

// StartTicks returns the start time /proc reported for the process (see
// the package function StartTicks), or 0 if it could not be read.
func (p *Process) StartTicks() uint64 { return p.startTicks }

// Done is closed once the process was reaped, its group is gone and its
// output is drained; after that Lines is final and OnLines is not called.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns how the process ended, and false while it has not.
func (p *Process) Exit() (Exit, bool) {
	select {
	case <-p.done:
	default:
		return Exit{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.exit, true
}

// Wait waits until Done and returns how the process ended.
func (p *Process) Wait(ctx context.Context) (Exit, error) {
	select {
	case <-p.done:
		e, _ := p.Exit()
		return e, nil
	case <-ctx.Done():
		return Exit{}, fmt.Errorf("proc: wait for pid %d: %w", p.pid, ctx.Err())
	}
}

// Lines returns copies of at most n lines (all if n <= 0), oldest first:
// the newest n, or with sinceSeq > 0 the first n after sinceSeq (page
// forward from the last Seq seen). Line.Plain is not set.
func (p *Process) Lines(n int, sinceSeq uint64) []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.ring.lines(n, sinceSeq)
}

// LastSeq is the Seq of the latest line (FirstSeq before any).
func (p *Process) LastSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.nextSeq
}

// Stats returns the output counters.
func (p *Process) Stats() Stats {
	p.mu.Lock()
	rl, rb := p.mu.ring.n, p.mu.ring.size
	p.mu.Unlock()
	return Stats{
		Lines:     p.lines.Load(),
		Bytes:     p.bytes.Load(),
		Truncated: p.truncated.Load(),
		Dropped:   p.dropped.Load(),
		RingLines: rl,
		RingBytes: rb,
	}
}

// Write writes b to the process's stdin. It returns within ctx's deadline
// or WriteTimeout, whichever is earlier, even if the process does not read;
// on a timeout part of b may have been written. Writing to a process that
// has exited returns ErrNotRunning.
func (p *Process) Write(ctx context.Context, b []byte) error {
	wrap := func(err error) error { return fmt.Errorf("proc: write stdin of pid %d: %w", p.pid, err) }
	deadline := time.Now().Add(WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case p.stdinSem <- struct{}{}:
	case <-p.done:
		return wrap(ErrNotRunning)
	case <-ctx.Done():
		return wrap(ctx.Err())
	case <-timer.C:
		return wrap(ErrWriteTimeout)
	}
	defer func() { <-p.stdinSem }()
	p.mu.Lock()
	exited := p.mu.exited
	p.mu.Unlock()
	if exited {
		return wrap(ErrNotRunning)
	}

	if err := p.stdin.SetWriteDeadline(deadline); err != nil {
		return wrap(notRunning(err))
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = p.stdin.SetWriteDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired // do not let it touch the next Write's deadline
		}
	}()
	n, err := p.stdin.Write(b)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if cerr := ctx.Err(); cerr != nil {
			return wrap(fmt.Errorf("%d of %d bytes written: %w", n, len(b), cerr))
		}
		return wrap(fmt.Errorf("%d of %d bytes written: %w", n, len(b), ErrWriteTimeout))
	case errors.Is(err, syscall.EPIPE):
		// Nobody reads: the process has died, or it closed its stdin.
		select {
		case <-p.done:
			return wrap(ErrNotRunning)
		case <-time.After(100 * time.Millisecond):
			return wrap(fmt.Errorf("the process closed its stdin: %w", err))
		}
	default:
		return wrap(notRunning(err))
	}
}

// notRunning maps the error of a stdin closed because the process exited
// to ErrNotRunning.
func notRunning(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return ErrNotRunning
	}
	return err
}

// Stop stops the process: SIGTERM to the group, up to Grace for it to
// exit, SIGKILL to the group, then at most KillWait+DrainWait. It returns
// nil once Done is closed, and nil at once if it already is. If ctx ends
// first, Stop sends SIGKILL to the group and returns ctx's error; the
// process is still reaped in the background. Concurrent calls share one
// escalation, timed from the first call.
func (p *Process) Stop(ctx context.Context) error {
	p.mu.Lock()
	exited := p.mu.exited
	first := !exited && p.mu.stopAt.IsZero()
	if first {
		p.mu.stopAt = time.Now()
	}
	stopAt := p.mu.stopAt
	p.mu.Unlock()

	if !exited {
		if first {
			p.signal(syscall.SIGTERM)
		}
		if err := p.waitDone(ctx, time.Until(stopAt.Add(p.grace))); err == nil {
			return nil
		} else if ctx.Err() != nil {
			p.signal(syscall.SIGKILL)
			return fmt.Errorf("proc: stop pid %d: %w", p.pid, ctx.Err())
		}
		p.signal(syscall.SIGKILL)
	}
	if err := p.waitDone(ctx, KillWait+DrainWait); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("proc: stop pid %d: %w", p.pid, ctx.Err())
		}
		return fmt.Errorf("proc: stop pid %d: %w", p.pid, ErrStopTimeout)
	}
	return nil
}

var errTimedOut = errors.New("timed out")

// waitDone waits for done, ctx or d.
func (p *Process) waitDone(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errTimedOut
	}
}

// signal sends sig to the group while the leader is not reaped (after that
// wait cleans the group up), and to the leader itself if it left its group.
func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	exited := p.mu.exited
	p.mu.Unlock()
	if exited {
		return
	}
	_ = killGroup(p.pid, sig)
	if st, err := readStat(p.pid); err == nil && st.pgrp != p.pid {
		_ = p.cmd.Process.Signal(sig) // by pidfd: safe against PID reuse
	}
}

// newOutputPipe returns a pipe for one of the child's output streams. The
// child's write end is an ordinary blocking file; our read end is a raw
// non-blocking descriptor, see readFD.
func newOutputPipe() (r int, w *os.File, err error) {
	var fds [2]int
	if err := cloexecPipe(&fds); err != nil {
		return -1, nil, os.NewSyscallError("pipe", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		_, _ = unix.Close(fds[0]), unix.Close(fds[1])
		return -1, nil, os.NewSyscallError("fcntl", err)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), "|1"), nil
}

// readFD reads what the pipe fd holds. It returns io.EOF when every write
// end is closed or wait gave up on the stream (stopRead).
//
// While output flows, fd is read directly, without Go's netpoller: the
// netpoller registers descriptors edge-triggered, so every line a miner
// prints would wake it, even while the reader is coalescing; those wakeups
// were most of the agent's CPU while it supervised a chatty miner. Only
// when the pipe runs dry does the reader wait for it in the netpoller, on
// a duplicate descriptor registered for that one read (a parked goroutine
// holds no thread; a goroutine blocked in poll(2) would, and would keep the
// runtime's monitor spinning).
func (p *Process) readFD(fd int, buf []byte, parked *atomic.Pointer[os.File], pace *pacer) (int, error) {
	for {
		if p.stopRead.Load() {
			return 0, io.EOF
		}
		n, err := rawRead(fd, buf)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, os.NewSyscallError("read", err)
		}
		pace.pause()
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, os.NewSyscallError("fcntl", err)
		}
		f := os.NewFile(uintptr(dup), "|0") // non-blocking: in the netpoller
		parked.Store(f)
		if p.stopRead.Load() { // wait may have looked before the Store
			n, err = 0, io.EOF
		} else {
			n, err = f.Read(buf)
		}
		parked.Store(nil)
		_ = f.Close()
		if errors.Is(err, os.ErrClosed) { // closed by wait
			err = io.EOF
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// rawRead is read(2) on a non-blocking descriptor, issued without telling
// the scheduler a system call is under way: it never blocks. Announced, each
// read woke the runtime's monitor thread from its sleep, and it then polled
// every 20 µs while the batch was handled, and where system calls are slow
// (virtual machines) it handed the reader's processor to another thread
// mid-read: with a chatty miner a third of the agent's context switches.
func rawRead(fd int, buf []byte) (int, error) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(p), uintptr(len(buf)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// read drains one output stream into the ring and the OnLines queue. It
// owns fd and closes it when the stream ends or wait gives up on it.
func (p *Process) read(fd int, stream Stream, maxLine int, parked *atomic.Pointer[os.File]) {
	defer func() {
		_ = unix.Close(fd)
		p.readerDone <- struct{}{}
	}()
	buf := make([]byte, readBufSize)
	sp := splitter{max: maxLine}
	pace := &pacer{every: p.coalesce}
	defer pace.close()
	var (
		lines   []Line
		scratch []byte
	)
	emit := func(text []byte, truncated bool) {
		l := Line{Stream: stream, Text: string(text), Truncated: truncated}
		if p.onLines != nil {
			if bytes.IndexByte(text, esc) < 0 {
				l.Plain = l.Text
			} else {
				scratch = appendStripped(scratch[:0], text)
				l.Plain = string(scratch)
			}
		}
		lines = append(lines, l)
	}
	for {
		n, err := p.readFD(fd, buf, parked, pace)
		if n > 0 {
			p.bytes.Add(uint64(n))
			sp.feed(buf[:n], emit)
		}
		if err != nil {
			sp.flush(emit)
		}
		if len(lines) > 0 {
			p.publish(stream, lines)
			if p.onLines != nil {
				lines = nil // handed over to the queue
			} else {
				clear(lines)
				lines = lines[:0]
			}
		}
		if err != nil {
			return
		}
		if p.coalesce > 0 && n < coalesceBelow {
			// A trickle: let a few more lines gather in the pipe so that one
			// wakeup reads them all. A flood (full reads) is read at once.
			pace.wait()
		}
	}
}

// coalesceBelow is the read size under which a reader waits Spec.Coalesce
// before reading again.
const coalesceBelow = 16 << 10

// publish stamps lines, adds them to the ring and queues them for OnLines
// without ever blocking.
func (p *Process) publish(stream Stream, lines []Line) {
	now := time.Now()
	var truncated uint64
	p.mu.Lock()
	for i := range lines {
		p.mu.nextSeq++
		lines[i].Seq, lines[i].Time = p.mu.nextSeq, now
		l := lines[i]
		l.Plain = ""
		p.mu.ring.push(l)
		if l.Truncated {
			truncated++
		}
	}
	p.mu.Unlock()
	p.lines.Add(uint64(len(lines)))
	p.truncated.Add(truncated)
	if p.queue != nil {
		select {
		case p.queue <- batch{stream, lines}:
		default:
			p.dropped.Add(uint64(len(lines)))
		}
	}
}

// dispatch calls OnLines for each queued batch until wait closes the queue.
func (p *Process) dispatch() {
	defer close(p.dispatchDone)
	for b := range p.queue {
		p.onLines(b.stream, b.lines)
	}
}

// wait reaps the leader, cleans up its group, lets the readers finish and
// closes done. It owns the pipes, the queue and the final Exit.
func (p *Process) wait() {
	werr := p.cmd.Wait()
	end := time.Now()
	p.mu.Lock()
	p.mu.exited = true
	p.mu.Unlock()
	_ = p.stdin.Close()

	cleanupGroup(p.pid, time.Now().Add(KillWait))

	drain := time.NewTimer(DrainWait)
	for pending := 2; pending > 0; {
		select {
		case <-p.readerDone:
			pending--
		case <-drain.C:
			// Someone outside the group holds a pipe: stop reading.
			p.stopRead.Store(true)
			for i := range p.parked {
				if f := p.parked[i].Load(); f != nil {
					_ = f.Close()
				}
			}
		}
	}
	drain.Stop()
	if p.queue != nil {
		close(p.queue)
	}
	<-p.dispatchDone

	e := Exit{Code: -1, Start: p.start, End: end}
	if ps := p.cmd.ProcessState; ps != nil {
		e.Code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		}
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		e.Err = werr
	}
	p.mu.Lock()
	e.Stopped = !p.mu.stopAt.IsZero()
	e.Lines = p.mu.ring.lines(ExitLines, 0)
	p.mu.exit = e
	p.mu.Unlock()
	close(p.done)
}
