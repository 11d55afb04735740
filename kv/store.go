package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

// Compile-time guards: Store implements both storage ports.
var (
	_ miner.History = (*Store)(nil)
	_ miner.Store   = (*Store)(nil)
)

// SchemaVersion is the layout version this build writes and reads.
const SchemaVersion = 1

// Sentinel errors callers branch on.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("kv: store closed")
	// ErrInUse is returned by Open when another process (or another Store
	// in this process) holds the data dir.
	ErrInUse = errors.New("kv: data dir in use")
	// ErrSchemaTooNew is returned by Open for a database written by a newer
	// rigd.
	ErrSchemaTooNew = errors.New("kv: schema version too new")
	// ErrDegraded is returned for writes while storage is degraded, and by
	// Healthy; the error says why.
	ErrDegraded = errors.New("kv: storage degraded")
	// ErrDiskFull is wrapped (with ErrDegraded) when the cause is a full
	// disk.
	ErrDiskFull = errors.New("kv: disk full")
)

// Retention says how long each kind of data is kept. Zero fields take the
// defaults of DefaultRetention.
type Retention struct {
	Raw    time.Duration // raw points; default 48 h
	Minute time.Duration // 1-minute rollups; default 30 days
	Hour   time.Duration // 1-hour rollups; default 365 days

	Audit        time.Duration // audit entries; default 90 days
	AuditEntries int           // at most this many audit entries; default 100,000
	Sessions     time.Duration // miner sessions; default 365 days
	SessionCount int           // at most this many sessions; default 100,000
}

// DefaultRetention is used for the zero fields of Options.Retention.
var DefaultRetention = Retention{
	Raw:          48 * time.Hour,
	Minute:       30 * 24 * time.Hour,
	Hour:         365 * 24 * time.Hour,
	Audit:        90 * 24 * time.Hour,
	AuditEntries: 100_000,
	Sessions:     365 * 24 * time.Hour,
	SessionCount: 100_000,
}

func (r Retention) withDefaults() Retention {
	d := DefaultRetention
	pick := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return v
	}
	pickN := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	return Retention{
		Raw: pick(r.Raw, d.Raw), Minute: pick(r.Minute, d.Minute), Hour: pick(r.Hour, d.Hour),
		Audit: pick(r.Audit, d.Audit), AuditEntries: pickN(r.AuditEntries, d.AuditEntries),
		Sessions: pick(r.Sessions, d.Sessions), SessionCount: pickN(r.SessionCount, d.SessionCount),
	}
}

// Validate reports a retention the store refuses, zero fields standing
// for their defaults.
func (r Retention) Validate() error { return r.withDefaults().validate() }

func (r Retention) validate() error {
	switch {
	case r.Raw < 10*time.Minute:
		return fmt.Errorf("kv: raw retention %v: at least 10m", r.Raw)
	case r.Minute < 2*time.Hour:
		return fmt.Errorf("kv: minute retention %v: at least 2h", r.Minute)
	case r.Hour < r.Minute:
		return fmt.Errorf("kv: hour retention %v: at least the minute retention %v", r.Hour, r.Minute)
	case r.Audit <= 0 || r.AuditEntries <= 0 || r.Sessions <= 0 || r.SessionCount <= 0:
		return fmt.Errorf("kv: audit and session retention must be positive")
	}
	return nil
}

// DefaultReserveBytes is the default size of the disk-space reserve.
const DefaultReserveBytes = 64 << 20

// Options configure Open.
type Options struct {
	// Dir is the database directory, "<data-dir>/db". Created if missing.
	Dir string
	// Logger receives kv's and Pebble's messages; nil discards them.
	Logger *slog.Logger
	// Retention of each kind of data; zero fields take DefaultRetention.
	Retention Retention
	// FS replaces the operating system's file system (tests: Pebble's
	// in-memory, crashable or fault-injecting file systems). With an FS set
	// the pid lock file is not taken (it needs a real file); Pebble's own
	// LOCK still is.
	FS vfs.FS
	// NoSync makes Append and every other write return before the commit
	// is synced. Only for the control run of the durability test: with it
	// an acknowledged point can be lost.
	NoSync bool
	// Now is the clock (default time.Now). It decides which rollup
	// intervals are complete and what retention cuts off.
	Now func() time.Time
	// ReserveBytes is the size of the disk-space reserve ("ballast") file
	// kept beside the database and released when the disk fills up; 0
	// means DefaultReserveBytes, negative disables it.
	ReserveBytes int64
}

// File names kv keeps in Dir beside Pebble's files.
const (
	lockFileName    = "rigd.lock"
	ballastFileName = "rigd.reserve"
)

// Store is rigd's storage on one Pebble database. It implements
// miner.History and miner.Store. All methods are safe for concurrent use.
type Store struct {
	dir       string
	log       *slog.Logger
	plog      pebbleLogger
	ret       Retention
	now       func() time.Time
	writeOpts *pebble.WriteOptions
	reserve   int64
	baseFS    vfs.FS // the caller's FS (or vfs.Default): the reserve lives here
	pebbleFS  vfs.FS // baseFS wrapped to release the reserve on ENOSPC
	pidLock   *pidLock
	seq       atomic.Uint64 // disambiguates log keys of the same millisecond
	closing   atomic.Bool   // set by Close: long maintenance stops early
	maint     chan struct{} // one maintenance pass at a time

	// state guards the Pebble handle: every operation holds it shared for
	// its duration, Close and reopen hold it exclusively.
	state struct {
		sync.RWMutex
		db     *pebble.DB
		closed bool
	}

	mu struct {
		sync.Mutex
		degraded      error     // nil when writes are accepted; wraps ErrDegraded
		damaged       error     // a read met a damaged file; wraps ErrDegraded, stays
		walBroken     bool      // a Pebble write failed: reopen before writing again
		reserved      bool      // the reserve file exists
		lastProbe     time.Time // last free-space check while degraded (monotonic)
		lastRetention time.Time // last retention pass (Options.Now)
		// series is every series seen (raw points or a minute marker):
		// what maintenance rolls up. Append adds to it; the first pass
		// adds what the database holds (seriesLoaded).
		series       map[string]struct{}
		seriesLoaded bool
		// retained is how far retention has deleted each series and
		// resolution in this process.
		retained map[retainKey]int64
		// appending holds the oldest point time of each Append in flight.
		appending  map[uint64]int64
		nextAppend uint64
	}
}

// Open opens (creating if needed) the database in opts.Dir, takes the data
// dir lock, checks the schema version and creates the disk-space reserve.
// It starts no goroutine: call Run (or Maintain every minute) for rollups
// and retention.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("kv: open: no directory")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", opts.Dir, err)
	}
	s := &Store{
		dir:       opts.Dir,
		log:       opts.Logger,
		ret:       opts.Retention.withDefaults(),
		now:       opts.Now,
		writeOpts: pebble.Sync,
		reserve:   opts.ReserveBytes,
		baseFS:    opts.FS,
		maint:     make(chan struct{}, 1),
	}
	s.mu.series = map[string]struct{}{}
	s.mu.appending = map[uint64]int64{}
	if err := s.ret.validate(); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.plog = pebbleLogger{s.log.With("component", "pebble")}
	s.log = s.log.With("component", "kv")
	if s.now == nil {
		s.now = time.Now
	}
	if opts.NoSync {
		s.writeOpts = pebble.NoSync
		s.log.Warn("kv: NoSync is set: acknowledged points can be lost in a crash")
	}
	if s.reserve == 0 {
		s.reserve = DefaultReserveBytes
	}
	s.seq.Store(uint64(time.Now().UnixNano()))
	if s.baseFS == nil {
		s.baseFS = vfs.Default
		if err := vfs.Default.MkdirAll(s.dir, 0o755); err != nil {
			return nil, fmt.Errorf("kv: open %s: %w", s.dir, err)
		}
		l, err := lockDir(filepath.Join(s.dir, lockFileName))
		if err != nil {
			return nil, err
		}
		s.pidLock = l
	} else if err := s.baseFS.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", s.dir, err)
	}
	s.pebbleFS = vfs.OnDiskFull(s.baseFS, s.onDiskFull)

	db, err := s.openPebble()
	if err == nil {
		err = s.checkSchema(db)
		if err != nil {
			_ = db.Close()
		}
		if pebble.IsCorruptionError(err) {
			err = fmt.Errorf("kv: open %s: the database is damaged: restore it from a backup, or move it away to start with an empty one (%v)", s.dir, firstLine(err))
		}
	}
	if err != nil {
		s.pidLock.unlock()
		return nil, err
	}
	s.state.db = db
	s.ensureReserve()
	return s, nil
}

func (s *Store) openPebble() (*pebble.DB, error) {
	opts := &pebble.Options{
		FS:                 s.pebbleFS,
		Logger:             s.plog,
		MaxOpenFiles:       256,
		CacheSize:          8 << 20,
		MemTableSize:       4 << 20,
		FormatMajorVersion: pebble.FormatNewest,
		EventListener: &pebble.EventListener{
			BackgroundError: s.onBackgroundError,
			// Not Pebble's default, which is Logger.Fatalf: a damaged block
			// then panicked the agent (at every start, or in a background
			// goroutine); it is an error for the read that met it.
			DataCorruption: s.onCorruption,
			DiskSlow: func(info pebble.DiskSlowInfo) {
				s.log.Warn("kv: disk slow", "info", info.String())
			},
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				s.log.Warn("kv: write stall", "reason", info.Reason)
			},
		},
	}
	// 32 KiB blocks: queries scan long runs of one series (a 30-day chart
	// is ~2.5 MB of rollups); fewer, bigger blocks make a cold read of it
	// a few dozen block reads instead of hundreds. Level options inherit
	// from L0.
	opts.Levels[0].BlockSize = 32 << 10
	opts.Experimental.CompactionScheduler = newScheduler()
	db, err := pebble.Open(s.dir, opts)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", s.dir, err)
	}
	return db, nil
}

// checkSchema writes the schema version into a new database and refuses one
// written by a newer rigd.
func (s *Store) checkSchema(db *pebble.DB) error {
	v, closer, err := db.Get([]byte(keySchema))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		it, err := db.NewIter(nil)
		if err != nil {
			return fmt.Errorf("kv: open %s: %w", s.dir, err)
		}
		empty := !it.First()
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return fmt.Errorf("kv: open %s: %w", s.dir, err)
		}
		if !empty {
			return fmt.Errorf("kv: open %s: the database has data but no schema version: not a rigd database?", s.dir)
		}
		if err := db.Set([]byte(keySchema), []byte(strconv.Itoa(SchemaVersion)), pebble.Sync); err != nil {
			return fmt.Errorf("kv: open %s: write schema version: %w", s.dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("kv: open %s: read schema version: %w", s.dir, err)
	}
	got, perr := strconv.Atoi(string(v))
	_ = closer.Close()
	if perr != nil {
		return fmt.Errorf("kv: open %s: schema version: %w", s.dir, ErrCorrupt)
	}
	if got > SchemaVersion {
		return fmt.Errorf("%w: %s has schema version %d, this rigd supports up to %d: upgrade rigd or use another data dir",
			ErrSchemaTooNew, s.dir, got, SchemaVersion)
	}
	// Versions older than SchemaVersion would be migrated here.
	return nil
}

// Close closes the database and releases the data dir lock. It waits for
// operations in flight. A second Close returns nil.
func (s *Store) Close() error {
	s.closing.Store(true)
	s.state.Lock()
	defer s.state.Unlock()
	if s.state.closed {
		return nil
	}
	s.state.closed = true
	var err error
	if s.state.db != nil {
		err = s.state.db.Close()
		s.state.db = nil
	}
	s.pidLock.unlock()
	if err != nil {
		return fmt.Errorf("kv: close %s: %w", s.dir, err)
	}
	return nil
}

// acquire returns the database for one operation and the function that ends
// it. A write first tries to leave a degraded state and is refused while it
// lasts.
func (s *Store) acquire(write bool) (*pebble.DB, func(), error) {
	if write {
		s.maybeResume()
	}
	s.state.RLock()
	if s.state.closed {
		s.state.RUnlock()
		return nil, nil, ErrClosed
	}
	if s.state.db == nil { // a reopen failed
		s.state.RUnlock()
		if err := s.Healthy(); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrDegraded
	}
	if write {
		s.mu.Lock()
		err := s.mu.degraded // a damaged file does not stop writes elsewhere
		s.mu.Unlock()
		if err == nil && s.closing.Load() {
			err = ErrClosed
		}
		if err != nil {
			s.state.RUnlock()
			return nil, nil, err
		}
	}
	return s.state.db, s.state.RUnlock, nil
}

// Healthy returns nil when storage accepts writes, otherwise an error
// wrapping ErrDegraded (and ErrDiskFull when the disk is full) that says
// why. The agent's readiness check uses it. Reads keep working while
// degraded.
func (s *Store) Healthy() error {
	if s.closing.Load() {
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.degraded != nil {
		return s.mu.degraded
	}
	return s.mu.damaged
}

// noteWriteError records a failed Pebble commit: its WAL may be unusable, so
// writes stop until the database has been reopened.
func (s *Store) noteWriteError(err error) {
	var deg error
	if vfs.IsNoSpaceError(err) {
		deg = fmt.Errorf("%w: %w: write failed: %v", ErrDegraded, ErrDiskFull, err)
	} else {
		deg = fmt.Errorf("%w: write failed: %v", ErrDegraded, err)
	}
	s.mu.Lock()
	s.mu.walBroken = true
	s.mu.degraded = deg
	s.mu.lastProbe = time.Now()
	s.mu.Unlock()
	s.log.Error("kv: write failed; writes are refused until storage recovers", "err", err)
}

// onCorruption records a damaged file that a read met: the read fails
// with the corruption error, Healthy (/ready) reports the damage until the
// agent restarts, and the background rollups stop; writes go on (the
// rest of the database is sound). It is called on read paths, so it only
// logs and sets state.
func (s *Store) onCorruption(info pebble.DataCorruptionInfo) {
	s.log.Error("kv: the database is damaged; restore it from a backup, or move it away", "file", info.Path, "err", firstLine(info.Details))
	s.mu.Lock()
	s.mu.damaged = fmt.Errorf("%w: the database is damaged: %s", ErrDegraded, info.Path)
	s.mu.Unlock()
}

// firstLine is err's message up to its first newline (Pebble's errors
// carry their stacks after it).
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func (s *Store) onBackgroundError(err error) {
	s.log.Error("kv: background error", "err", err)
	if vfs.IsNoSpaceError(err) {
		s.setDiskFull("a flush or compaction hit ENOSPC")
	}
}

func (s *Store) setDiskFull(why string) {
	s.mu.Lock()
	s.mu.degraded = fmt.Errorf("%w: %w: %s", ErrDegraded, ErrDiskFull, why)
	s.mu.lastProbe = time.Now()
	s.mu.Unlock()
}

// commit commits b (synced unless NoSync). Every write of kv goes through
// it. A rollup batch holds its rollups and its marker, so after a crash
// either both are there or neither is.
//
// Pebble treats a failed WAL write as fatal: it calls Logger.Fatalf, which
// panics (pebbleLogger). That panic happens in this goroutine, after the
// commit pipeline has released its locks; it is turned into an error, and
// the store stops writing until it has reopened Pebble (maybeResume), so
// the broken WAL writer is never used again. Other panics are not touched.
func (s *Store) commit(b *pebble.Batch) error { return s.commitWith(b, s.writeOpts) }

// commitWith commits b with opts (NoSync is only used for maintenance
// writes, which can be redone: see pass).
func (s *Store) commitWith(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(*pebbleFatal)
			if !ok {
				panic(r)
			}
			err = f
			s.noteWriteError(err)
		}
	}()
	if err := b.Commit(opts); err != nil {
		s.noteWriteError(err)
		return err
	}
	return nil
}

// write commits one batch filled by fill.
func (s *Store) write(db *pebble.DB, fill func(b *pebble.Batch) error) error {
	b := db.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	return s.commit(b)
}

// pebbleFatal is the panic value of pebbleLogger.Fatalf: the message, and
// the first error among the arguments (the cause, for errors.Is).
type pebbleFatal struct {
	msg   string
	cause error
}

func (f *pebbleFatal) Error() string { return "pebble fatal: " + f.msg }
func (f *pebbleFatal) Unwrap() error { return f.cause }

// pebbleLogger routes Pebble's log to slog. Fatalf logs at error level and
// panics with a *pebbleFatal: Pebble calls it for states it cannot continue
// from (a failed WAL or MANIFEST write, a broken invariant) and must not see
// it return (after a failed commit it would report success); exiting
// silently would hide the cause. In a background goroutine the panic ends
// the process with the message and a stack; in a commit, commit recovers it.
type pebbleLogger struct{ l *slog.Logger }

// Infof logs at debug level: Pebble's progress reports (WALs replayed,
// tables flushed) are noise in an agent's log at every start.
func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	f := &pebbleFatal{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.cause = err
			break
		}
	}
	p.l.Error("pebble fatal: "+f.msg, "fatal", true)
	panic(f)
}

// writeFailed is the error a caller sees for a failed commit: the cause and
// the degraded state (ErrDegraded, ErrDiskFull) it put the store in.
func (s *Store) writeFailed(err error) error {
	switch {
	case errors.Is(err, ErrDegraded) || errors.Is(err, ErrClosed):
		return err
	case vfs.IsNoSpaceError(err):
		return fmt.Errorf("%w: %w: %w", ErrDegraded, ErrDiskFull, err)
	default:
		return fmt.Errorf("%w: %w", ErrDegraded, err)
	}
}
