package miner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rigd/rigd/agent/proc"
	"github.com/rigd/rigd/agent/restart"
	"github.com/rigd/rigd/sdk/abi"
)

// Clock is the Manager's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Binaries finds installed miner binaries. The installer implements it;
// every launch asks again so that a changed binary is caught.
type Binaries interface {
	// Binary returns the path and version of the current installed binary
	// of typ after verifying it against its recorded digest. It returns an
	// error wrapping ErrNoBinary when none is installed.
	Binary(ctx context.Context, typ string) (path, version string, err error)
}

// VersionProbe asks a binary for its version as the adapter's metadata
// describes (used for binaries given by path).
type VersionProbe func(ctx context.Context, binary string, vp abi.VersionProbe) (string, error)

// Config configures a Manager.
type Config struct {
	// RunDir holds one private directory per miner instance (its config
	// files) and the PID records used after an agent crash.
	RunDir   string
	Adapters Adapters
	// Binaries may be nil: then every start needs an explicit binary.
	Binaries Binaries
	// Probe may be nil: binaries given by path then have no version.
	Probe VersionProbe
	// Store keeps the autostart set and miner sessions; History receives
	// every poll's points. Both may be nil.
	Store   Store
	History History
	// Alerts is told about watchdog restarts and failures; may be nil.
	Alerts Notifier
	Logger *slog.Logger
	Clock  Clock
	// Bus receives the events; a new one is created if nil.
	Bus *Bus
	// Restart is the restart policy configuration (zero: defaults).
	Restart restart.Config
	// PollInterval, PollTimeout and PollRetries drive the stats Collector
	// (defaults 10 s, 5 s, 2).
	PollInterval time.Duration
	PollTimeout  time.Duration
	PollRetries  int
	// StopGrace is the SIGTERM-to-SIGKILL grace period (default 10 s).
	StopGrace time.Duration
	// RingBytes bounds each miner's output ring (default 1 MiB).
	RingBytes int
	// LineBatchDelay is how long a trickle of output gathers in the pipe
	// before it is read and parsed, in one adapter call per 64 lines
	// (default 100 ms). A flood is read and parsed without delay.
	LineBatchDelay time.Duration
}

// Manager owns the running miners: it starts, stops and supervises them
// and collects their stats. Its methods are safe for concurrent use.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	clock  Clock
	bus    *Bus
	poller *apiPoller

	mu     sync.Mutex
	miners map[string]*supervisor
	closed bool

	wg     sync.WaitGroup // supervisors
	points chan []Point   // to the history writer started by Run

	imu       sync.Mutex
	incidents map[string][]Incident // by miner, the latest maxIncidents
	incSeq    uint64
	incCounts map[string]uint64 // by rule, since the agent started
}

// maxIncidents is how many incidents are kept per miner.
const maxIncidents = 200

// NewManager returns a Manager. Call Run to start collecting stats and
// Close (or cancel Run's context) to stop.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Adapters == nil {
		return nil, errors.New("miner: Config.Adapters is required")
	}
	if cfg.RunDir == "" {
		return nil, errors.New("miner: Config.RunDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Bus == nil {
		cfg.Bus = NewBus(cfg.Clock.Now)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 5 * time.Second
	}
	if cfg.PollRetries < 0 {
		cfg.PollRetries = 0
	} else if cfg.PollRetries == 0 {
		cfg.PollRetries = 2
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = proc.DefaultGrace
	}
	if cfg.LineBatchDelay <= 0 {
		cfg.LineBatchDelay = 100 * time.Millisecond
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("miner: run dir: %w", err)
	}
	return &Manager{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		bus:       cfg.Bus,
		poller:    newAPIPoller(cfg.PollTimeout, cfg.PollRetries),
		miners:    map[string]*supervisor{},
		points:    make(chan []Point, 1024),
		incidents: map[string][]Incident{},
		incCounts: map[string]uint64{},
	}, nil
}

// addIncident records a watchdog decision, publishes it and alerts.
func (m *Manager) addIncident(s *supervisor, now time.Time, v *verdict, action string, restarts int) *Incident {
	inc := Incident{
		Time: now, Miner: s.name, Rule: v.rule, Measured: v.measured, Threshold: v.threshold,
		Unit: v.unit, Detail: v.detail, Action: action, RestartsLastHour: restarts,
	}
	for _, l := range s.logs(50, 0) {
		inc.LogLines = append(inc.LogLines, l.Text)
	}
	m.imu.Lock()
	m.incSeq++
	inc.ID = m.incSeq
	list := append(m.incidents[s.name], inc)
	if len(list) > maxIncidents {
		list = list[len(list)-maxIncidents:]
	}
	m.incidents[s.name] = list
	m.incCounts[v.rule]++
	m.imu.Unlock()
	m.log.Warn("watchdog", "miner", s.name, "rule", v.rule, "action", action, "detail", v.detail)
	m.bus.Publish(Event{Type: EventIncident, Miner: s.name, Cause: v.detail, Incident: &inc})
	if m.cfg.Alerts != nil && action != ActionPauseResume {
		m.cfg.Alerts.Notify(inc)
	}
	return &inc
}

// Incidents returns the watchdog incidents of a miner, oldest first. They
// outlive the miner: a stopped miner's incidents stay listed.
func (m *Manager) Incidents(name string) ([]Incident, error) {
	m.imu.Lock()
	list := slices.Clone(m.incidents[name])
	m.imu.Unlock()
	if list == nil {
		if _, err := m.get(name); err != nil {
			return nil, err
		}
		list = []Incident{}
	}
	return list, nil
}

// IncidentCounts returns how many incidents each rule caused since the
// agent started (for /metrics).
func (m *Manager) IncidentCounts() map[string]uint64 {
	m.imu.Lock()
	defer m.imu.Unlock()
	out := make(map[string]uint64, len(m.incCounts))
	for k, v := range m.incCounts {
		out[k] = v
	}
	return out
}

// Bus returns the event bus.
func (m *Manager) Bus() *Bus { return m.bus }

// StartRequest asks for a miner to be started.
type StartRequest struct {
	// Type is the adapter name ("xmrig").
	Type string `json:"type"`
	// Name is the instance name; default "<type>-<algo>".
	Name string `json:"name,omitempty"`
	// Binary is an explicit path to the miner binary; default the
	// installed one.
	Binary  string      `json:"binary,omitempty"`
	Profile abi.Profile `json:"profile"`
	// ProfileID records which stored profile this came from.
	ProfileID string `json:"profile_id,omitempty"`
	// Autostart marks the miner to be started again when the agent
	// starts; nil means true.
	Autostart *bool `json:"autostart,omitempty"`
	// Watchdog tunes the watchdog; nil means the defaults.
	Watchdog *WatchdogConfig `json:"watchdog,omitempty"`
}

// Start validates the request, launches the miner and supervises it. The
// first launch is synchronous: a miner that cannot start (unknown type,
// missing binary, a profile the adapter rejects) returns an error and
// leaves nothing behind.
func (m *Manager) Start(ctx context.Context, req StartRequest) (Info, error) {
	return m.start(ctx, req, false)
}

// start is Start. keepFailed (autostart) keeps a miner that cannot start
// listed, failed, with the reason: a configured miner that vanished from
// /miners left its user nothing to see but a log line.
func (m *Manager) start(ctx context.Context, req StartRequest, keepFailed bool) (Info, error) {
	if req.Watchdog != nil {
		if err := req.Watchdog.Validate(); err != nil {
			return Info{}, err
		}
	}
	meta, err := m.cfg.Adapters.Metadata(ctx, req.Type)
	if err != nil {
		if keepFailed && ValidateName(req.Name) == nil {
			m.keepFailed(newSupervisor(m, req.Name, req, meta), err)
		}
		return Info{}, err
	}
	name := req.Name
	if name == "" {
		algo := req.Profile.Algo
		if algo == "" {
			algo = req.Profile.Coin
		}
		name = DefaultName(req.Type, algo)
	}
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if name == ReservedName {
		return Info{}, fmt.Errorf("%w: %q is reserved (GET /miners/available lists miner types)", ErrInvalidName, name)
	}
	s := newSupervisor(m, name, req, meta)

	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return Info{}, ErrClosed
	case m.miners[name] != nil:
		m.mu.Unlock()
		return Info{}, fmt.Errorf("%w: %q (stop it first or choose another name)", ErrConflict, name)
	}
	m.miners[name] = s // reserve the name while starting
	m.mu.Unlock()

	if err := s.begin(ctx); err != nil {
		m.mu.Lock()
		delete(m.miners, name)
		m.mu.Unlock()
		if keepFailed {
			m.keepFailed(s, err)
		}
		return Info{}, err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.run()
	}()
	info := s.info()
	if m.cfg.Store != nil {
		var err error
		if info.Autostart {
			req.Name, req.Autostart = name, ptr(true)
			err = m.cfg.Store.SetAutostart(ctx, name, req)
		} else {
			err = m.cfg.Store.ClearAutostart(ctx, name)
		}
		if err != nil {
			m.log.Warn("cannot update the autostart set", "miner", name, "err", err)
		}
	}
	return info, nil
}

// Autostart starts every miner of the stored autostart set (at agent
// start). Failures are logged and returned; the set is kept, so a miner
// whose binary is missing today starts when it is back.
func (m *Manager) Autostart(ctx context.Context) (started []string, err error) {
	if m.cfg.Store == nil {
		return nil, nil
	}
	set, err := m.cfg.Store.Autostart(ctx)
	if err != nil {
		return nil, fmt.Errorf("miner: autostart: %w", err)
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	for _, n := range names {
		req := set[n]
		req.Name = n
		if _, err := m.start(ctx, req, true); err != nil {
			m.log.Error("autostart failed", "miner", n, "err", err)
			errs = append(errs, fmt.Errorf("autostart %q: %w", n, err))
			continue
		}
		started = append(started, n)
	}
	return started, errors.Join(errs...)
}

// keepFailed lists s, which never started (its begin was aborted or never
// called), as failed with err as the reason. DELETE forgets it as any
// miner; the autostart set keeps it until then.
func (m *Manager) keepFailed(s *supervisor, err error) {
	select {
	case <-s.done:
	default:
		s.abort()
	}
	s.mu.Lock()
	s.mu.info.State, s.mu.info.Message = StateFailed, "autostart failed: "+err.Error()
	s.mu.Unlock()
	m.mu.Lock()
	if !m.closed && m.miners[s.name] == nil {
		m.miners[s.name] = s
	}
	m.mu.Unlock()
}

// Stop stops the named miner (SIGTERM, grace, SIGKILL) and forgets it.
func (m *Manager) Stop(ctx context.Context, name string) (Info, error) {
	s, err := m.get(name)
	if err != nil {
		return Info{}, err
	}
	if err := s.stop(ctx); err != nil {
		return s.info(), err
	}
	m.mu.Lock()
	if m.miners[name] == s {
		delete(m.miners, name)
	}
	m.mu.Unlock()
	if m.cfg.Store != nil {
		if err := m.cfg.Store.ClearAutostart(ctx, name); err != nil {
			m.log.Warn("cannot update the autostart set", "miner", name, "err", err)
		}
	}
	return s.info(), nil
}

func (m *Manager) get(name string) (*supervisor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.miners[name]
	if s == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return s, nil
}

func (m *Manager) all() []*supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*supervisor, 0, len(m.miners))
	for _, s := range m.miners {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *supervisor) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	return out
}

// List returns every miner, sorted by name.
func (m *Manager) List() []Info {
	ss := m.all()
	out := make([]Info, len(ss))
	for i, s := range ss {
		out[i] = s.info()
	}
	return out
}

// Get returns one miner.
func (m *Manager) Get(name string) (Info, error) {
	s, err := m.get(name)
	if err != nil {
		return Info{}, err
	}
	return s.info(), nil
}

// LogLine is one line of a miner's output.
type LogLine struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"`
	// Text is the line as printed, ANSI escapes included.
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

// LogQuery selects log lines.
type LogQuery struct {
	// Lines is the most lines returned, the latest ones (<= 0: all kept).
	Lines int
	// Since returns only lines with a higher sequence number.
	Since uint64
	// Strip removes ANSI escape sequences from the text.
	Strip bool
}

// Logs returns the miner's latest output lines.
func (m *Manager) Logs(name string, q LogQuery) ([]LogLine, error) {
	s, err := m.get(name)
	if err != nil {
		return nil, err
	}
	lines := s.logs(q.Lines, q.Since)
	out := make([]LogLine, len(lines))
	for i, l := range lines {
		text := l.Text
		if q.Strip {
			text = string(proc.StripANSI([]byte(text)))
		}
		out[i] = LogLine{Seq: l.Seq, Time: l.Time, Stream: l.Stream.String(), Text: text, Truncated: l.Truncated}
	}
	return out, nil
}

// SendInput writes text to the miner's stdin within 5 s.
func (m *Manager) SendInput(ctx context.Context, name, text string) error {
	if text == "" {
		return fmt.Errorf("%w: empty input", ErrInvalidInput)
	}
	if len(text) > 4096 {
		return fmt.Errorf("%w: input over 4096 bytes", ErrInvalidInput)
	}
	// Control characters are signals to a console (XMRig exits on the
	// Ctrl+C byte from its pipe): DELETE stops a miner, stdin does not.
	if i := strings.IndexFunc(text, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%w: input holds the control character %q (only tab and newlines are sent; stop a miner with DELETE)", ErrInvalidInput, text[i])
	}
	s, err := m.get(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.write(ctx, []byte(text))
}

// HashrateHistory returns the miner's in-memory hashrate history.
func (m *Manager) HashrateHistory(name string) (HashrateHistory, error) {
	s, err := m.get(name)
	if err != nil {
		return HashrateHistory{}, err
	}
	return s.history(), nil
}

// Run collects stats from every running miner every PollInterval and
// writes the points to History (batched, about once a second) until ctx
// is done. It does not stop the miners; see Close.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if m.cfg.History != nil {
		wg.Go(func() { m.writeHistory(ctx) })
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.clock.After(m.cfg.PollInterval):
		}
		m.PollOnce(ctx)
	}
}

// record queues a poll's points for the history writer without blocking.
func (m *Manager) record(points []Point) {
	if m.cfg.History == nil || len(points) == 0 {
		return
	}
	select {
	case m.points <- points:
	default:
		m.log.Warn("history writer is behind; points dropped", "points", len(points))
	}
}

// writeHistory appends queued points in batches at most a second old. It
// sleeps while no points come (no idle ticking).
func (m *Manager) writeHistory(ctx context.Context) {
	var batch []Point
	flush := func() {
		if len(batch) == 0 {
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := m.cfg.History.Append(wctx, batch)
		cancel()
		if err != nil {
			m.log.Warn("history: points not stored", "points", len(batch), "err", err)
		}
		clear(batch)
		batch = batch[:0]
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case p := <-m.points:
					batch = append(batch, p...)
				default:
					flush()
					return
				}
			}
		case p := <-m.points:
			if len(batch) == 0 {
				timer.Reset(time.Second)
			}
			batch = append(batch, p...)
			if len(batch) >= 10000 {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// PollOnce polls every running miner's API in parallel and waits for the
// polls to finish. A miner whose previous poll is still in flight is
// skipped.
func (m *Manager) PollOnce(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range m.all() {
		wg.Go(func() { s.poll(ctx) })
	}
	wg.Wait()
}

// Close stops every miner (stop=true) or leaves them running (their PID
// records let the next agent find them), then waits for the supervisors.
func (m *Manager) Close(ctx context.Context, stop bool) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, s := range m.all() {
		wg.Go(func() {
			var err error
			if stop {
				err = s.stop(ctx)
			} else {
				err = s.detach(ctx)
			}
			if err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("miner %q: %w", s.name, err))
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	m.wg.Wait()
	return errors.Join(errs...)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *Manager) instanceDir(name string) string { return filepath.Join(m.cfg.RunDir, name) }
