package miner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rigd/rigd/agent/proc"
	"github.com/rigd/rigd/agent/restart"
	"github.com/rigd/rigd/sdk/abi"
)

// supervisor runs one miner: it launches the process, feeds its output to
// the adapter, restarts it by the restart policy and reports its state.
type supervisor struct {
	m      *Manager
	name   string
	typ    string
	req    StartRequest
	meta   abi.Metadata
	token  string
	log    *slog.Logger
	policy *restart.Policy

	ctx    context.Context // cancelled when the supervisor ends
	cancel context.CancelFunc

	stopCh   chan struct{} // closed by stop
	detachCh chan struct{} // closed by detach
	done     chan struct{} // closed when run returns
	stopOnce sync.Once

	session Session // used by onLines and polls; serialised inside
	// feeders batch each stream's lines for the session. Only onLines
	// uses them, and proc calls it for one process at a time.
	feeders [3]*LineFeeder // by proc.Stream

	wdRestart chan *Incident // the watchdog asks the run loop to restart
	wdFail    chan *Incident // ... or to stop for good

	mu struct {
		sync.Mutex
		info          Info
		proc          *proc.Process
		cmd           abi.Command
		launch        int    // launches so far; tags polls
		fatal         string // message of the first fatal event
		polling       bool
		hist          memHistory
		lastStats     time.Time // last stats event
		dropped       uint64    // lines of the current process not parsed: parsing fell behind
		parseErrs     int
		apiFails      int // consecutive failed polls
		lastAPIErr    string
		hsSum         float64 // hashrate samples of the current process, for its session record
		hsCount       int
		fatalCh       chan struct{} // closed on the current process's first fatal event
		wd            *watchdog
		watchdogCause string        // why the watchdog stopped the current process
		shares        []shareSample // for the effective hashrate
	}
}

// shareSample is the accepted counter and difficulty seen at a poll.
type shareSample struct {
	t          time.Time
	accepted   int64
	difficulty float64
}

func newSupervisor(m *Manager, name string, req StartRequest, meta abi.Metadata) *supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervisor{
		m:         m,
		name:      name,
		typ:       req.Type,
		req:       req,
		meta:      meta,
		token:     randomToken(),
		log:       m.log.With("miner", name),
		policy:    restart.New(m.cfg.Restart),
		ctx:       ctx,
		cancel:    cancel,
		stopCh:    make(chan struct{}),
		detachCh:  make(chan struct{}),
		done:      make(chan struct{}),
		wdRestart: make(chan *Incident, 1),
		wdFail:    make(chan *Incident, 1),
	}
	wd := WatchdogConfig{}
	if req.Watchdog != nil {
		wd = *req.Watchdog
	}
	s.mu.wd = newWatchdog(wd, meta, req.Profile.Algo)
	autostart := req.Autostart == nil || *req.Autostart
	s.mu.info = Info{
		Name:      name,
		Type:      req.Type,
		State:     StateStarting,
		Binary:    req.Binary,
		Autostart: autostart,
		ProfileID: req.ProfileID,
		Profile:   req.Profile,
	}
	return s
}

// permanentError marks a launch failure that a restart cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// begin opens the adapter session and performs the first launch. On error
// nothing is left running.
func (s *supervisor) begin(ctx context.Context) error {
	sess, err := s.m.cfg.Adapters.NewSession(ctx, s.typ)
	if err != nil {
		s.abort()
		return err
	}
	s.session = sess
	s.feeders = [3]*LineFeeder{
		proc.Stdout: NewLineFeeder(sess, abi.Stdout, s.onParse),
		proc.Stderr: NewLineFeeder(sess, abi.Stderr, s.onParse),
	}
	if err := s.launch(ctx); err != nil {
		s.abort()
		return err
	}
	return nil
}

// abort undoes a failed begin.
func (s *supervisor) abort() {
	if s.session != nil {
		s.session.Close()
	}
	s.cancel()
	close(s.done)
}

// resolveBinary returns the binary to run: the explicit one, or the
// installed one (verified on every launch).
func (s *supervisor) resolveBinary(ctx context.Context) (path, version string, err error) {
	if s.req.Binary != "" {
		fi, err := os.Stat(s.req.Binary)
		switch {
		case err != nil:
			return "", "", fmt.Errorf("%w: %v", ErrNoBinary, err)
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			return "", "", fmt.Errorf("%w: %s is not an executable file", ErrNoBinary, s.req.Binary)
		}
		abs, err := filepath.Abs(s.req.Binary)
		if err != nil {
			return "", "", err
		}
		if s.m.cfg.Probe != nil && s.meta.VersionProbe.Regex != "" {
			if v, err := s.m.cfg.Probe(ctx, abs, s.meta.VersionProbe); err == nil {
				version = v
			} else {
				s.log.Warn("version probe failed", "binary", abs, "err", err)
			}
		}
		return abs, version, nil
	}
	if s.m.cfg.Binaries == nil {
		return "", "", fmt.Errorf("%w: no %s installed and no binary given (rigd install %s, or pass \"binary\")", ErrNoBinary, s.typ, s.typ)
	}
	return s.m.cfg.Binaries.Binary(ctx, s.typ)
}

// launch builds the command and starts the process. Errors a restart
// cannot fix are permanent.
func (s *supervisor) launch(ctx context.Context) error {
	binary, version, err := s.resolveBinary(ctx)
	if err != nil {
		return permanent(fmt.Errorf("start miner %q: %w", s.name, err))
	}
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("start miner %q: api port: %w", s.name, err)
	}
	inst := abi.Instance{
		Name:         s.name,
		APIPort:      port,
		APIToken:     s.token,
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
		MinerVersion: version,
	}
	cmd, err := s.m.cfg.Adapters.BuildCommand(ctx, s.typ, abi.BuildRequest{Profile: s.req.Profile, Instance: inst})
	if err != nil {
		return permanent(fmt.Errorf("start miner %q: %w", s.name, err))
	}
	if err := s.session.Reset(ctx); err != nil {
		s.log.Warn("adapter reset failed", "err", err)
	}
	files := make([]proc.File, len(cmd.Files))
	for i, f := range cmd.Files {
		// The host's own files in the directory (the PID record that keeps
		// an agent crash from leaving two copies of a miner) are not the
		// adapter's to shadow.
		if first, _, _ := strings.Cut(filepath.ToSlash(f.Path), "/"); strings.HasPrefix(first, "rigd-") {
			return permanent(fmt.Errorf("start miner %q: the adapter asked for the file %q: names starting with rigd- are the agent's", s.name, f.Path))
		}
		files[i] = proc.File{Path: f.Path, Content: []byte(f.Content), Mode: fs.FileMode(f.Mode)}
	}
	env := minerEnv(os.Environ())
	for k, v := range cmd.Env {
		env = append(env, k+"="+v)
	}
	var firstSeq uint64 // the miner's lines are numbered across its processes
	s.mu.Lock()
	if prev := s.mu.proc; prev != nil {
		firstSeq = prev.LastSeq()
	}
	s.mu.Unlock()
	p, err := proc.Start(ctx, proc.Spec{
		Path:      binary,
		Args:      cmd.Args,
		Env:       env,
		Dir:       s.m.instanceDir(s.name),
		Files:     files,
		RingBytes: s.m.cfg.RingBytes,
		Grace:     s.m.cfg.StopGrace,
		FirstSeq:  firstSeq,
		OnLines:   s.onLines,
		// A chatty miner is read, and its lines parsed, in gulps of
		// LineBatchDelay: one wakeup and one adapter call per gulp.
		Coalesce: s.m.cfg.LineBatchDelay,
	})
	if err != nil {
		err = fmt.Errorf("start miner %q: %w", s.name, err)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, proc.ErrBadSpec) || errors.Is(err, proc.ErrUnsafeDir) || errors.Is(err, syscall.ENOEXEC) {
			return permanent(err)
		}
		return err
	}
	if err := writePIDRecord(s.m.instanceDir(s.name), pidRecord{PID: p.Pid(), StartTicks: p.StartTicks(), Type: s.typ, Binary: binary, StartedAt: p.StartTime()}); err != nil {
		s.log.Warn("cannot record pid; a crash of the agent would leave this miner running", "err", err)
	}
	started := p.StartTime()
	s.mu.Lock()
	s.mu.proc = p
	s.mu.cmd = cmd
	s.mu.launch++
	s.mu.fatal = ""
	s.mu.fatalCh = make(chan struct{})
	s.mu.apiFails = 0
	s.mu.dropped = 0
	s.mu.hsSum, s.mu.hsCount = 0, 0
	s.mu.shares = nil
	s.mu.wd.launched(s.m.clock.Now())
	i := &s.mu.info
	if s.mu.launch > 1 {
		i.Restarts++ // before miner_started, which reports it
	}
	i.PID = p.Pid()
	i.StartedAt = &started
	i.Binary = binary
	i.Version = version
	i.State = StateRunning
	i.Message = ""
	i.NextRestartAt = nil
	// A new process starts its counters over. Its algorithm is the
	// profile's until it says otherwise: some miners (TT-Miner) never name
	// it where the adapter can read it.
	i.Stats = abi.Stats{Version: version, Algorithm: i.Profile.Algo}
	i.StatsAt = nil
	snap := s.infoLocked()
	s.mu.Unlock()
	s.log.Info("miner started", "pid", p.Pid(), "binary", binary, "version", version)
	s.m.bus.Publish(Event{Type: EventMinerStarted, Miner: s.name, State: StateRunning, Info: &snap})
	return nil
}

type exitHow int

const (
	exited exitHow = iota
	stopped
	detached
)

// run supervises until the miner is stopped or detached.
func (s *supervisor) run() {
	defer s.finish()
	for {
		ex, how := s.waitExit()
		if how != exited {
			return
		}
		s.recordExit(ex)
		if !s.restartLoop(ex.RunTime()) {
			return
		}
	}
}

// waitExit waits for the current process to end, for a stop or detach
// request, or for a fatal line (then the process is stopped).
func (s *supervisor) waitExit() (proc.Exit, exitHow) {
	s.mu.Lock()
	p, fatal := s.mu.proc, s.mu.fatalCh
	s.mu.Unlock()
	for {
		select {
		case <-p.Done():
			// Done waited for onLines: the process's last lines, which may
			// say why it died (an expired beta), are parsed.
			ex, _ := p.Exit()
			return ex, exited
		case <-s.stopCh:
			s.setState(StateStopping, "stopping by request")
			ex := s.stopProcess(p)
			s.recordStop(ex)
			return ex, stopped
		case <-s.detachCh:
			return proc.Exit{}, detached
		case inc := <-s.wdRestart:
			s.setState(StateStopping, "watchdog: "+inc.Detail)
			ex := s.stopProcess(p)
			s.mu.Lock()
			s.mu.watchdogCause = "watchdog restart: " + inc.Rule + ": " + inc.Detail
			s.mu.Unlock()
			return ex, exited
		case inc := <-s.wdFail:
			s.setState(StateStopping, "watchdog: "+inc.Detail)
			ex := s.stopProcess(p)
			s.mu.Lock()
			s.mu.fatal = "watchdog gave up after " + fmt.Sprint(inc.RestartsLastHour) + " restarts in an hour: " + inc.Rule + ": " + inc.Detail
			s.mu.Unlock()
			return ex, exited
		case <-fatal:
			fatal = nil // stop once, then wait for the exit
			s.log.Warn("fatal line from the miner; stopping it", "message", s.fatalMessage())
			go s.stopProcess(p)
		}
	}
}

func (s *supervisor) stopProcess(p *proc.Process) proc.Exit {
	ctx, cancel := context.WithTimeout(context.Background(), s.m.cfg.StopGrace+10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		s.log.Error("stop failed", "pid", p.Pid(), "err", err)
	}
	ex, _ := p.Exit()
	return ex
}

func (s *supervisor) fatalMessage() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.fatal
}

// restartLoop applies the restart policy until a launch succeeds (true)
// or the miner fails for good or is stopped (false).
func (s *supervisor) restartLoop(ran time.Duration) bool {
	for {
		fatal := s.fatalMessage()
		now := s.m.clock.Now()
		d := s.policy.Failure(now, ran, fatal != "")
		if fatal != "" || d.Action == restart.GiveUp {
			msg := "fatal: " + fatal
			if fatal == "" {
				msg = fmt.Sprintf("not restarted after %d failures", d.Failures)
			}
			s.setState(StateFailed, msg)
			return s.waitStopped()
		}
		state := StateBackoff
		if d.Action == restart.CrashLoop {
			state = StateCrashLooping
		}
		next := now.Add(d.Delay)
		s.mu.Lock()
		s.mu.info.State = state
		s.mu.info.NextRestartAt = &next
		s.mu.info.Message = fmt.Sprintf("restarting in %s", d.Delay.Round(time.Millisecond))
		if state == StateCrashLooping {
			s.mu.info.Message = fmt.Sprintf("crash looping: %d failures within %s; next try in %s", d.Recent, s.policy.Config().CrashLoopWindow, d.Delay.Round(time.Second))
		}
		snap := s.infoLocked()
		s.mu.Unlock()
		s.m.bus.Publish(Event{Type: EventMinerState, Miner: s.name, State: state, Cause: snap.Message, Info: &snap})

		select {
		case <-s.m.clock.After(d.Delay):
		case <-s.stopCh:
			s.recordStop(proc.Exit{})
			return false
		case <-s.detachCh:
			return false
		}
		s.setState(StateStarting, "")
		err := s.launch(s.ctx)
		if err == nil {
			s.mu.Lock()
			snap := s.infoLocked()
			s.mu.Unlock()
			s.m.bus.Publish(Event{Type: EventMinerRestarted, Miner: s.name, State: StateRunning, Cause: lastCause(snap), Info: &snap})
			return true
		}
		s.log.Warn("restart failed", "err", err)
		if isPermanent(err) {
			s.setState(StateFailed, err.Error())
			return s.waitStopped()
		}
		s.mu.Lock()
		s.mu.info.LastExit = &Exit{At: s.m.clock.Now(), Code: -1, Cause: "launch failed: " + err.Error()}
		s.mu.Unlock()
		ran = 0
	}
}

func lastCause(i Info) string {
	if i.LastExit != nil {
		return i.LastExit.Cause
	}
	return ""
}

// waitStopped parks a failed miner until it is stopped or detached.
func (s *supervisor) waitStopped() bool {
	select {
	case <-s.stopCh:
		s.recordStop(proc.Exit{})
	case <-s.detachCh:
	}
	return false
}

// recordExit notes an unexpected exit.
func (s *supervisor) recordExit(ex proc.Exit) {
	removePIDRecord(s.m.instanceDir(s.name))
	e := exitOf(ex)
	s.mu.Lock()
	switch {
	case s.mu.fatal != "":
		e.Cause = "fatal: " + s.mu.fatal + " (" + e.Cause + ")"
	case s.mu.watchdogCause != "":
		e.Cause = s.mu.watchdogCause + " (" + e.Cause + ")"
		s.mu.watchdogCause = ""
	}
	s.mu.info.LastExit = &e
	s.mu.info.State = StateCrashed
	s.mu.info.PID, s.mu.info.StartedAt = 0, nil
	s.mu.info.Message = e.Cause
	sess := s.sessionLocked(ex, e)
	s.mu.info.Stats = endedStats(s.mu.info.Stats)
	snap := s.infoLocked()
	s.mu.Unlock()
	s.saveSession(sess)
	s.log.Warn("miner exited", "cause", e.Cause, "uptime_s", e.UptimeS)
	s.m.bus.Publish(Event{Type: EventMinerCrashed, Miner: s.name, State: StateCrashed, Cause: e.Cause, Info: &snap})
}

// recordStop notes a requested stop and removes the instance directory
// (it holds the miner's config with pool credentials and the API token).
func (s *supervisor) recordStop(ex proc.Exit) {
	dir := s.m.instanceDir(s.name)
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("cannot remove instance directory", "dir", dir, "err", err)
	}
	s.mu.Lock()
	var sess *SessionRecord
	if !ex.Start.IsZero() {
		e := exitOf(ex)
		e.Requested = true
		e.Cause = "stopped by request (" + e.Cause + ")"
		s.mu.info.LastExit = &e
		sess = s.sessionLocked(ex, e)
	}
	s.mu.info.Stats = endedStats(s.mu.info.Stats)
	s.mu.info.State = StateStopped
	s.mu.info.PID = 0
	s.mu.info.Message = ""
	s.mu.info.NextRestartAt = nil
	snap := s.infoLocked()
	s.mu.Unlock()
	s.saveSession(sess)
	s.log.Info("miner stopped")
	s.m.bus.Publish(Event{Type: EventMinerStopped, Miner: s.name, State: StateStopped, Cause: "stopped by request", Info: &snap})
}

// endedStats keeps, of the stats of a process that ended, what stays true
// of it (its shares, pool, algorithm, version, best hashrate) and drops
// the live readings: a miner waiting to restart hashes nothing and is
// connected to no pool, and its API, metrics and status must not say it
// does.
func endedStats(st abi.Stats) abi.Stats {
	return abi.Stats{HashrateMaxHS: st.HashrateMaxHS, Accepted: st.Accepted, Rejected: st.Rejected, Stale: st.Stale,
		LastRejectReason: st.LastRejectReason, Pool: st.Pool, Algorithm: st.Algorithm, Version: st.Version}
}

func exitOf(ex proc.Exit) Exit {
	e := Exit{At: ex.End, Code: ex.Code, UptimeS: ex.RunTime().Seconds()}
	switch {
	case ex.Err != nil:
		e.Cause = "wait failed: " + ex.Err.Error()
	case ex.Signal != 0:
		e.Signal = signalName(ex.Signal)
		e.Cause = "killed by " + e.Signal
	default:
		e.Cause = fmt.Sprintf("exited with code %d", ex.Code)
	}
	for _, l := range ex.Lines {
		e.LastLines = append(e.LastLines, l.Text)
	}
	return e
}

func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
		syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGPIPE: "SIGPIPE", syscall.SIGTERM: "SIGTERM",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

func (s *supervisor) setState(st State, msg string) {
	s.mu.Lock()
	s.mu.info.State = st
	s.mu.info.Message = msg
	if st != StateBackoff && st != StateCrashLooping {
		s.mu.info.NextRestartAt = nil
	}
	snap := s.infoLocked()
	s.mu.Unlock()
	s.m.bus.Publish(Event{Type: EventMinerState, Miner: s.name, State: st, Cause: msg, Info: &snap})
}

// finish releases everything once run returns.
func (s *supervisor) finish() {
	s.cancel() // first: a detached process's late lines are then ignored
	s.session.Close()
	close(s.done)
}

// stop asks the supervisor to stop the miner and waits for it.
func (s *supervisor) stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopCh) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop miner %q: %w", s.name, ctx.Err())
	}
}

// detach ends supervision but leaves the process running; its PID record
// stays so the next agent finds it.
func (s *supervisor) detach(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.detachCh) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *supervisor) infoLocked() Info {
	i := s.mu.info
	i.Stats = s.mu.info.Stats.Clone()
	if i.LastExit != nil {
		e := *i.LastExit
		i.LastExit = &e
	}
	return i
}

func (s *supervisor) info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoLocked()
}

func (s *supervisor) logs(n int, since uint64) []proc.Line {
	s.mu.Lock()
	p := s.mu.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Lines(n, since)
}

func (s *supervisor) history() HashrateHistory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.hist.snapshot()
}

func (s *supervisor) write(ctx context.Context, b []byte) error {
	s.mu.Lock()
	p, st := s.mu.proc, s.mu.info.State
	s.mu.Unlock()
	if p == nil || st != StateRunning {
		return fmt.Errorf("%w: miner %q is %s", ErrNotRunning, s.name, st)
	}
	if err := p.Write(ctx, b); err != nil {
		if errors.Is(err, proc.ErrNotRunning) {
			return fmt.Errorf("%w: miner %q: %v", ErrNotRunning, s.name, err)
		}
		return fmt.Errorf("stdin of miner %q: %w", s.name, err)
	}
	return nil
}

// onLines parses one read's worth of lines (at most LineBatchDelay of a
// trickle, or a flood's gulp) through the adapter session. proc calls it on
// one goroutine per process, one batch at a time, and the process's Done
// waits for it, so a process that is done has all its lines parsed. While
// a call runs, proc queues further reads, and drops them (counted) if the
// adapter cannot keep up.
func (s *supervisor) onLines(stream proc.Stream, lines []proc.Line) {
	if s.ctx.Err() != nil {
		return // the supervisor is gone (detached): nobody to tell
	}
	f := s.feeders[stream]
	for _, l := range lines {
		if err := f.Add(s.ctx, l.Plain); err != nil {
			s.parseError(err)
		}
	}
	if err := f.Flush(s.ctx); err != nil {
		s.parseError(err)
	}
	s.mu.Lock()
	p, seen := s.mu.proc, s.mu.dropped
	s.mu.Unlock()
	if p == nil {
		return
	}
	if d := p.Stats().Dropped; d > seen {
		s.mu.Lock()
		s.mu.dropped = d
		s.mu.Unlock()
		if seen > 0 && d/10000 == seen/10000 {
			return // warned already for this ten thousand
		}
		s.log.Warn("adapter cannot keep up with the miner's output; lines not parsed", "dropped_lines", d)
	}
}

func (s *supervisor) parseError(err error) {
	if s.ctx.Err() != nil {
		return // closed under a detached process's late lines
	}
	s.mu.Lock()
	s.mu.parseErrs++
	n := s.mu.parseErrs
	s.mu.Unlock()
	if n <= 3 || n%100 == 0 {
		s.log.Warn("adapter could not parse output", "err", err, "errors", n)
	}
}

// onParse merges one batch's result and publishes its events.
func (s *supervisor) onParse(res abi.LineResult) {
	now := s.m.clock.Now()
	s.mu.Lock()
	if res.Stats != nil {
		s.mu.info.Stats.Merge(res.Stats)
		s.mu.info.StatsAt = &now
	}
	fatal := false
	for _, e := range res.Events {
		if e.Type == abi.EventFatal && s.mu.fatal == "" {
			s.mu.fatal = strings.TrimSpace(e.Message)
			if s.mu.fatal == "" {
				s.mu.fatal = "the miner reported a fatal error"
			}
			fatal = true
		}
	}
	var stats *abi.Stats
	if res.Stats != nil && now.Sub(s.mu.lastStats) >= time.Second {
		s.mu.lastStats = now
		st := s.mu.info.Stats.Clone()
		stats = &st
	}
	fatalMsg := s.mu.fatal
	var fatalCh chan struct{}
	if fatal {
		fatalCh = s.mu.fatalCh
	}
	s.mu.Unlock()
	if fatal {
		s.m.addIncident(s, now, &verdict{rule: RuleFatal, detail: "the miner printed a fatal line: " + fatalMsg}, ActionFail, 0)
		if fatalCh != nil {
			close(fatalCh) // once per process: fatal was empty before
		}
	}
	for i := range res.Events {
		e := res.Events[i]
		s.m.bus.Publish(Event{Type: e.Type, Miner: s.name, Adapter: &e})
	}
	if stats != nil {
		s.m.bus.Publish(Event{Type: EventStats, Miner: s.name, Stats: stats})
	}
}

// poll reads the miner's API once and merges the stats. A miner whose
// adapter names no API is sampled from its console stats instead: its
// history and watchdog work from what its lines said.
func (s *supervisor) poll(ctx context.Context) {
	s.mu.Lock()
	if s.mu.info.State != StateRunning || s.mu.polling {
		s.mu.Unlock()
		return
	}
	if len(s.mu.cmd.API) == 0 {
		now := s.m.clock.Now()
		snap, v := s.sampleLocked(now)
		s.mu.Unlock()
		s.m.record(pointsOf(s.name, now, &snap))
		s.watchdogVerdict(now, v)
		return
	}
	s.mu.polling = true
	eps, launch := s.mu.cmd.API, s.mu.launch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.mu.polling = false
		s.mu.Unlock()
	}()

	req, err := s.m.poller.poll(ctx, eps)
	var st abi.Stats
	if err == nil {
		st, err = s.session.ParseAPI(ctx, req)
	}
	now := s.m.clock.Now()
	s.mu.Lock()
	if s.mu.launch != launch { // restarted meanwhile: the reply is stale
		s.mu.Unlock()
		return
	}
	if err != nil {
		s.mu.apiFails++
		s.mu.lastAPIErr = err.Error()
		n := s.mu.apiFails
		v := s.mu.wd.observe(now, nil)
		s.mu.Unlock()
		if n == 1 || n%30 == 0 {
			s.log.Warn("miner API poll failed", "err", err, "consecutive", n)
		}
		s.watchdogVerdict(now, v)
		return
	}
	s.mu.apiFails = 0
	s.mu.info.Stats.MergeAPI(&st)
	s.effectiveLocked(now)
	s.mu.info.StatsAt = &now
	s.mu.lastStats = now
	snap, v := s.sampleLocked(now)
	s.mu.Unlock()
	s.m.record(pointsOf(s.name, now, &snap))
	s.m.bus.Publish(Event{Type: EventStats, Miner: s.name, Stats: &snap})
	s.watchdogVerdict(now, v)
}

// sampleLocked takes a poll's reading of the merged stats into the
// in-memory history and the watchdog; the caller stores the points and
// acts on the verdict once s.mu is released.
func (s *supervisor) sampleLocked(now time.Time) (abi.Stats, *verdict) {
	if hs := s.mu.info.Stats.HashrateHS; hs != nil {
		s.mu.hist.add(now, *hs)
		s.mu.hsSum += *hs
		s.mu.hsCount++
	}
	snap := s.mu.info.Stats.Clone()
	return snap, s.mu.wd.observe(now, &snap)
}

// pidRecord lets a restarted agent find a miner it started before it
// crashed: the PID plus the process start time identify the process.
type pidRecord struct {
	PID        int       `json:"pid"`
	StartTicks uint64    `json:"start_ticks"`
	Type       string    `json:"type"`
	Binary     string    `json:"binary"`
	StartedAt  time.Time `json:"started_at"`
}

const pidFile = "rigd-pid.json"

// writePIDRecord writes the record durably (a torn record after a power
// loss leaves ReapOrphans to look for the miner by its directory).
func writePIDRecord(dir string, r pidRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, pidFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, pidFile))
}

func removePIDRecord(dir string) { os.Remove(filepath.Join(dir, pidFile)) }

// ReapOrphans finds miners a previous agent started and did not stop (it
// crashed or was killed) and stops them, so that the autostart that
// follows never runs a second copy. It returns the names it stopped.
// rigd kills rather than adopts: a re-parented miner's console pipe is
// gone, so it could no longer be parsed or given input. A miner whose PID
// record is unreadable or missing is found by its working directory,
// which is its own (on Linux).
func (m *Manager) ReapOrphans(ctx context.Context) []string {
	dirs, _ := filepath.Glob(filepath.Join(m.cfg.RunDir, "*"))
	leaders := map[string]map[int]uint64{} // dir → group leaders found by their working directory
	var lost []string
	records := map[string]pidRecord{}
	for _, dir := range dirs {
		f := filepath.Join(dir, pidFile)
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			lost = append(lost, dir) // none written, or lost: look anyway
			continue
		}
		var r pidRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			m.log.Warn("unreadable pid record: looking for the miner by its directory", "file", f, "err", err)
			lost = append(lost, dir)
			continue
		}
		records[dir] = r
	}
	if len(lost) > 0 {
		// A process's working directory reads as an absolute path with no
		// links: compare the run dirs in that form.
		real := map[string]string{}
		for _, dir := range lost {
			r, err := filepath.EvalSymlinks(dir)
			if err == nil {
				r, err = filepath.Abs(r)
			}
			if err == nil {
				real[r] = dir
			}
		}
		for r, found := range proc.GroupLeadersIn(slices.Collect(maps.Keys(real))) {
			leaders[real[r]] = found
		}
	}
	for dir, r := range records {
		leaders[dir] = map[int]uint64{}
		if r.PID > 0 && proc.Alive(r.PID, r.StartTicks) {
			leaders[dir][r.PID] = r.StartTicks
		}
	}
	var names []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		stopped, failed := false, false
		for pid, ticks := range leaders[dir] {
			m.log.Warn("stopping a miner left running by a previous agent", "miner", name, "pid", pid, "binary", records[dir].Binary)
			if err := proc.KillGroup(pid, ticks); err != nil {
				m.log.Error("could not stop leftover miner", "miner", name, "pid", pid, "err", err)
				failed = true
				continue
			}
			stopped = true
		}
		if stopped {
			names = append(names, name)
		}
		if !failed {
			os.Remove(filepath.Join(dir, pidFile))
		}
	}
	return names
}

// minerEnv is the part of the agent's environment a miner inherits: the
// basics a program expects (PATH, HOME, locale, time zone, temp dir), the
// library path, and the GPU runtime variables adapters may set themselves.
// Anything else — tokens, proxies, RIGD_* — stays with the agent.
func minerEnv(environ []string) []string {
	keep := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true,
		"TZ": true, "TMPDIR": true, "LD_LIBRARY_PATH": true, "SYSTEMROOT": true}
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] || strings.HasPrefix(k, "LC_") || abi.EnvAllowed(k) {
			env = append(env, kv)
		}
	}
	return env
}

// sessionLocked builds the session record of the process that just ended.
func (s *supervisor) sessionLocked(ex proc.Exit, e Exit) *SessionRecord {
	r := &SessionRecord{
		Miner: s.name, Type: s.typ, Start: ex.Start, Stop: ex.End,
		ExitCode: e.Code, Signal: e.Signal, Cause: e.Cause,
	}
	if st := s.mu.info.Stats; st.Accepted != nil {
		r.Accepted = *st.Accepted
	}
	if st := s.mu.info.Stats; st.Rejected != nil {
		r.Rejected = *st.Rejected
	}
	if s.mu.hsCount > 0 {
		r.AvgHashrateHS = s.mu.hsSum / float64(s.mu.hsCount)
	}
	return r
}

func (s *supervisor) saveSession(r *SessionRecord) {
	if r == nil || s.m.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.m.cfg.Store.AddSession(ctx, *r); err != nil {
		s.log.Warn("session not recorded", "err", err)
	}
}

// pointsOf turns a poll's stats into history points: the miner's totals
// and one series per device with a known hashrate.
func pointsOf(name string, t time.Time, st *abi.Stats) []Point {
	if st.HashrateHS == nil {
		return nil
	}
	p := Point{Series: name, Time: t, HashrateHS: *st.HashrateHS}
	if st.Accepted != nil {
		p.Accepted = *st.Accepted
	}
	if st.Rejected != nil {
		p.Rejected = *st.Rejected
	}
	points := []Point{p}
	for _, d := range st.Devices {
		if d.HashrateHS == nil {
			continue
		}
		dp := Point{Series: fmt.Sprintf("%s/%s%d", name, d.Kind, d.ID), Time: t, HashrateHS: *d.HashrateHS}
		if d.Accepted != nil {
			dp.Accepted = *d.Accepted
		}
		if d.Rejected != nil {
			dp.Rejected = *d.Rejected
		}
		points = append(points, dp)
	}
	return points
}

// effectiveWindow is the window of the effective hashrate.
const effectiveWindow = 10 * time.Minute

// effectiveLocked derives the effective hashrate from the accepted shares
// and their difficulty over the last effectiveWindow: Σ Δaccepted ×
// difficulty × share factor / elapsed.
func (s *supervisor) effectiveLocked(now time.Time) {
	st := &s.mu.info.Stats
	factor := s.mu.wd.factor
	if st.Accepted == nil || st.Difficulty == nil || factor <= 0 {
		return
	}
	s.mu.shares = append(s.mu.shares, shareSample{now, *st.Accepted, *st.Difficulty})
	cut := 0
	for cut < len(s.mu.shares)-1 && now.Sub(s.mu.shares[cut].t) > effectiveWindow {
		cut++
	}
	s.mu.shares = s.mu.shares[cut:]
	first := s.mu.shares[0]
	elapsed := now.Sub(first.t).Seconds()
	if elapsed < 60 {
		return
	}
	var hashes float64
	for i := 1; i < len(s.mu.shares); i++ {
		d := s.mu.shares[i].accepted - s.mu.shares[i-1].accepted
		if d < 0 { // the counter restarted
			d = s.mu.shares[i].accepted
		}
		hashes += float64(d) * s.mu.shares[i].difficulty * factor
	}
	st.EffectiveHashrateHS = ptr(hashes / elapsed)
	st.EffectiveWindowS = ptr(elapsed)
}

// watchdogVerdict climbs the ladder for a fired rule: it records the
// incident, then acts on it.
func (s *supervisor) watchdogVerdict(now time.Time, v *verdict) {
	if v == nil {
		return
	}
	s.mu.Lock()
	action, n := s.mu.wd.decide(now, v)
	p := s.mu.proc
	s.mu.Unlock()
	inc := s.m.addIncident(s, now, v, action, n)
	switch action {
	case ActionPauseResume:
		s.softAction(p)
	case ActionRestart:
		select {
		case s.wdRestart <- inc:
		default:
		}
	case ActionFail:
		select {
		case s.wdFail <- inc:
		default:
		}
	}
}

// softAction pauses the miner and resumes it a few seconds later through
// its stdin commands.
func (s *supervisor) softAction(p *proc.Process) {
	var pause, resume string
	for _, c := range s.meta.StdinCommands {
		switch c.Name {
		case "pause":
			pause = c.Input
		case "resume":
			resume = c.Input
		}
	}
	if p == nil || pause == "" || resume == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if err := p.Write(ctx, []byte(pause)); err != nil {
			s.log.Warn("watchdog: pause failed", "err", err)
			return
		}
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return
		}
		if err := p.Write(ctx, []byte(resume)); err != nil {
			s.log.Warn("watchdog: resume failed", "err", err)
		}
	}()
}
