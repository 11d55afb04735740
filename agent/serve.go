package agent

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rigd/rigd/adapters"
	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/agent/proc"
	"github.com/rigd/rigd/kv"
	"github.com/rigd/rigd/peers"
	"github.com/rigd/rigd/router"
)

// serveConfig is everything `rigd serve` is configured with.
type serveConfig struct {
	Listen           string
	DataDir          string
	AdaptersDir      string
	APIPrefix        string
	LogLevel         string
	LogFormat        string
	StopMinersOnExit bool
	PollInterval     time.Duration

	// API access and limits (router.Config, router.ServerConfig).
	AllowHosts        []string
	CORSOrigins       []string
	ReadHeaderTimeout time.Duration
	RateLimit         float64
	RateBurst         int

	// Installer.
	ReleaseBaseURL string
	ReleaseAPIURL  string
	// Adapters.
	AdapterDigests []string
	WatchInterval  time.Duration
	// Storage retention.
	Retention kv.Retention
	// Watchdog alerts.
	AlertWebhook string
	AlertCommand string // a JSON array of argv
	// P2P.
	P2PListen string
	NodeName  string
	NodeRole  string
}

func serveCommand() *command {
	return &command{name: "serve", summary: "run the agent: supervise miners and serve the REST API", run: runServe}
}

func runServe(c *cli, args []string) error {
	cmd := &command{summary: "Run the agent: supervise miners, collect their stats and serve the REST API.\n" +
		"Stops on SIGINT/SIGTERM: in-flight requests finish (5 s), miners are stopped unless\n--stop-miners-on-exit=false."}
	fs := c.flags(cmd)
	cfg := serveFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 0, "no arguments"); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	return serve(c, *cfg)
}

// check refuses flag values the agent cannot work with (a zero poll
// interval was taken as the default, silently) and puts the adapter
// digests in the form the catalog compares (lower-case hex, as sha256sum
// prints them; Get-FileHash prints upper case).
func (cfg *serveConfig) check() error {
	for i, d := range cfg.AdapterDigests {
		d = strings.ToLower(strings.TrimSpace(d))
		if b, err := hex.DecodeString(d); err != nil || len(b) != sha256.Size {
			return usagef("--adapter-digest %q: want a SHA-256 digest, 64 hex digits", cfg.AdapterDigests[i])
		}
		cfg.AdapterDigests[i] = d
	}
	if cfg.PollInterval < time.Second {
		return usagef("--poll-interval %s: must be at least 1s", cfg.PollInterval)
	}
	for _, r := range []time.Duration{cfg.Retention.Raw, cfg.Retention.Minute, cfg.Retention.Hour} {
		if r <= 0 {
			return usagef("--retention-raw, --retention-minute and --retention-hour must be positive")
		}
	}
	if err := cfg.Retention.Validate(); err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), "kv: "))
	}
	if cfg.WatchInterval < 0 {
		return usagef("--adapters-watch %s: must be 0 (never) or more", cfg.WatchInterval)
	}
	if fi, err := os.Stat(cfg.AdaptersDir); cfg.AdaptersDir != "" && err == nil && !fi.IsDir() {
		return usagef("--adapters-dir %s: not a directory", cfg.AdaptersDir)
	}
	if _, err := newLogger(io.Discard, cfg.LogLevel, cfg.LogFormat); err != nil {
		return usagef("%v", err)
	}
	if err := checkAddr(cfg.Listen); err != nil {
		return usagef("--listen %q: %v", cfg.Listen, err)
	}
	if err := checkAddr(cfg.P2PListen); cfg.P2PListen != "" && err != nil {
		return usagef("--p2p-listen %q: %v (empty turns the listener off)", cfg.P2PListen, err)
	}
	if _, err := peers.ParseNodeRole(cmp.Or(cfg.NodeRole, "dual")); err != nil {
		return usagef("--node-role: %v", err)
	}
	if _, err := alertCommand(cfg.AlertCommand); err != nil {
		return err
	}
	for _, u := range []struct{ flag, v string }{
		{"alert-webhook", cfg.AlertWebhook}, {"release-base-url", cfg.ReleaseBaseURL}, {"release-api-url", cfg.ReleaseAPIURL},
	} {
		if p, err := url.Parse(u.v); u.v != "" && (err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "") {
			return usagef("--%s %q: want an http:// or https:// URL", u.flag, u.v)
		}
	}
	// The router mounts the API at "/" + the prefix without its outer
	// slashes; what is left must be a plain path.
	if p := "/" + strings.Trim(cfg.APIPrefix, "/"); path.Clean(p) != p || strings.ContainsAny(p, "?#% \t") {
		return usagef("--api-prefix %q: want a plain path such as /api/v1/mining", cfg.APIPrefix)
	}
	switch {
	case math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) || cfg.RateLimit == 0:
		return usagef("--rate-limit %v: want requests per second, or a negative number for no limit", cfg.RateLimit)
	case cfg.RateBurst < 1:
		return usagef("--rate-burst %d: must be at least 1", cfg.RateBurst)
	case cfg.ReadHeaderTimeout <= 0:
		return usagef("--read-header-timeout %s: must be positive", cfg.ReadHeaderTimeout)
	}
	return nil
}

// checkAddr checks a listen address: host:port, the host optional.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want HOST:PORT, e.g. 127.0.0.1:9090")
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return errors.New("the port must be a number from 0 to 65535 or a service name")
	}
	return nil
}

// alertCommand parses --alert-command: a JSON array of argv, or nothing.
func alertCommand(s string) ([]string, error) {
	var argv []string
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &argv); err != nil || len(argv) == 0 || argv[0] == "" {
		return nil, usagef("--alert-command %q: want a JSON array of strings like '[\"notify-send\",\"rigd\"]'", s)
	}
	return argv, nil
}

// serveFlags registers the flags of `rigd serve` (also used to check the
// flags given to `rigd systemd-unit`).
func serveFlags(fs *flag.FlagSet) *serveConfig {
	var cfg serveConfig
	fs.StringVar(&cfg.Listen, "listen", getenv("RIGD_LISTEN", "127.0.0.1:9090"), "REST API address (env RIGD_LISTEN)")
	fs.StringVar(&cfg.DataDir, "data-dir", defaultDataDir(), "data directory (env RIGD_DATA_DIR)")
	fs.StringVar(&cfg.AdaptersDir, "adapters-dir", "", "drop-in adapters directory (default DATA_DIR/adapters)")
	fs.StringVar(&cfg.APIPrefix, "api-prefix", router.DefaultPrefix, "path prefix of the REST API")
	fs.StringVar(&cfg.LogLevel, "log-level", getenv("RIGD_LOG_LEVEL", "info"), "debug, info, warn or error (env RIGD_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	fs.BoolVar(&cfg.StopMinersOnExit, "stop-miners-on-exit", true, "stop the miners when the agent exits")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", 10*time.Second, "how often each miner's API is polled")
	apiFlags(fs, &cfg)
	fs.StringVar(&cfg.ReleaseBaseURL, "release-base-url", getenv("RIGD_RELEASE_BASE_URL", "https://github.com"), "where miner release files are downloaded from (env RIGD_RELEASE_BASE_URL)")
	fs.StringVar(&cfg.ReleaseAPIURL, "release-api-url", getenv("RIGD_RELEASE_API_URL", "https://api.github.com"), "the GitHub API used to find the latest releases (env RIGD_RELEASE_API_URL)")
	fs.Var(listFlag{&cfg.AdapterDigests}, "adapter-digest", "allow only drop-in adapters with this `SHA256` (repeatable; default: any that validates)")
	fs.DurationVar(&cfg.WatchInterval, "adapters-watch", 2*time.Second, "how often the adapters directory is rescanned (0: never)")
	fs.DurationVar(&cfg.Retention.Raw, "retention-raw", kv.DefaultRetention.Raw, "how long raw history points (one per poll) are kept")
	fs.DurationVar(&cfg.Retention.Minute, "retention-minute", kv.DefaultRetention.Minute, "how long 1-minute rollups are kept")
	fs.DurationVar(&cfg.Retention.Hour, "retention-hour", kv.DefaultRetention.Hour, "how long 1-hour rollups are kept")
	fs.StringVar(&cfg.AlertWebhook, "alert-webhook", getenv("RIGD_ALERT_WEBHOOK", ""), "POST watchdog incidents as JSON to this `URL` (env RIGD_ALERT_WEBHOOK)")
	fs.StringVar(&cfg.AlertCommand, "alert-command", getenv("RIGD_ALERT_COMMAND", ""), "run this command for watchdog incidents: a JSON array of argv, e.g. '[\"notify\",\"rig\"]' (env RIGD_ALERT_COMMAND)")
	fs.StringVar(&cfg.P2PListen, "p2p-listen", getenv("RIGD_P2P_LISTEN", ":9091"), "P2P listen address; empty turns the listener off (env RIGD_P2P_LISTEN)")
	fs.StringVar(&cfg.NodeName, "node-name", getenv("RIGD_NODE_NAME", ""), "this rig's name for its peers (default the host name)")
	fs.StringVar(&cfg.NodeRole, "node-role", getenv("RIGD_NODE_ROLE", "dual"), "controller, worker or dual")
	return &cfg
}

func serve(c *cli, cfg serveConfig) error {
	log, err := newLogger(c.stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return usagef("%v", err)
	}
	defer tuneRuntime(os.Getenv)()
	srv, err := startServer(c.ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "rigd %s serving on %s (data dir %s, API token in %s)\n", Version, srv.URL(), cfg.DataDir, layout{cfg.DataDir}.apiToken())
	<-c.ctx.Done()
	log.Info("shutting down")
	return srv.Close()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug", "info", "warn", "error":
		_ = lv.UnmarshalText([]byte(level))
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise.
const defaultMemoryLimit = 40 << 20

// tuneRuntime applies rigd serve's runtime settings and returns what
// undoes them (the benchmarks measure the agent under them too), each
// unless its environment variable (read through getenv) is set:
//   - a 40 MiB soft heap limit (GOMEMLIMIT), so that the garbage collector
//     works harder before the heap grows past it — the agent shares a small
//     rig with its miners; a bigger live heap still works;
//   - one processor for Go code (GOMAXPROCS): a goroutine that wakes
//     another then finds it on its own processor instead of waking a
//     second thread to look for work, and the agent's Go code never takes
//     more than one core from the miners. See README's "Why GOMAXPROCS=1?".
func tuneRuntime(getenv func(string) string) (restore func()) {
	limit := debug.SetMemoryLimit(-1)
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	procs := getenv("GOMAXPROCS") == ""
	if procs {
		runtime.GOMAXPROCS(1)
	}
	return func() {
		debug.SetMemoryLimit(limit)
		if procs {
			runtime.SetDefaultGOMAXPROCS()
		}
	}
}

// server is a running agent.
type server struct {
	cfg     serveConfig
	log     *slog.Logger
	rt      *adapters.Runtime
	catalog *adapters.Catalog
	store   *kv.Store
	manager *miner.Manager
	node    *peers.Node
	api     *router.API
	http    *http.Server
	ln      net.Listener

	services  apiServices // what newAPI plugs into the router
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	// addrWritten: this agent wrote DATA_DIR/agent.addr (Close removes it).
	addrWritten bool
}

// startServer wires the agent together and starts serving. Close stops it.
func startServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (_ *server, err error) {
	l := layout{cfg.DataDir}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if cfg.AdaptersDir == "" {
		cfg.AdaptersDir = l.adapters()
	}
	s := &server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := proc.BecomeSubreaper(); err != nil {
		log.Debug("not a child subreaper; orphaned miner helpers are reaped by init", "err", err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel

	// Storage first: it holds the data dir lock, so a second agent on the
	// same data dir stops here.
	if s.store, err = kv.Open(ctx, kv.Options{Dir: l.db(), Logger: log, Retention: cfg.Retention}); err != nil {
		return nil, err
	}
	s.wg.Go(func() { s.store.Run(bg) })

	metrics := router.NewMetrics(Version)
	if s.rt, err = adapters.NewRuntime(bg, adapters.Config{CacheDir: l.wasmCache(), Logger: log.With("component", "adapters"), OnCall: metrics.ObserveAdapterCall}); err != nil {
		return nil, err
	}
	bus := miner.NewBus(nil)
	s.catalog = adapters.NewCatalog(s.rt, adapters.CatalogConfig{
		Dir: cfg.AdaptersDir, Builtins: adapters.Builtins(), AllowedDigests: cfg.AdapterDigests,
		OnChange: func(ch adapters.Change) {
			cause := fmt.Sprintf("%s %s from %s", ch.Action, ch.Name, ch.Source)
			if ch.Err != nil {
				cause += ": " + ch.Err.Error()
			}
			bus.Publish(miner.Event{Type: miner.EventAdapter, Cause: cause})
		},
	})
	if err := s.catalog.Load(bg); err != nil {
		log.Warn("some adapters did not load", "err", err)
	}
	for _, a := range s.catalog.List() {
		log.Info("adapter", "name", a.Name, "version", a.Version, "source", a.Source, "status", a.Status)
	}
	if cfg.WatchInterval > 0 {
		s.wg.Go(func() { s.catalog.Watch(bg, cfg.WatchInterval) })
	}

	inst, err := install.New(install.Config{DataDir: cfg.DataDir, ReleaseBaseURL: cfg.ReleaseBaseURL, APIBaseURL: cfg.ReleaseAPIURL, Logger: log.With("component", "install")})
	if err != nil {
		return nil, err
	}
	installer := &installService{in: inst, cat: s.catalog, log: log.With("component", "install")}

	var alerts miner.Notifier
	if cfg.AlertWebhook != "" || cfg.AlertCommand != "" {
		ac := miner.AlertConfig{WebhookURL: cfg.AlertWebhook}
		if ac.Command, err = alertCommand(cfg.AlertCommand); err != nil {
			return nil, err
		}
		a := miner.NewAlerter(ac, log.With("component", "alerts"), nil)
		s.wg.Go(func() { a.Run(bg) })
		alerts = a
	}

	s.manager, err = miner.NewManager(miner.Config{
		RunDir:       l.run(),
		Adapters:     s.catalog,
		Binaries:     installer,
		Probe:        install.ProbeVersion,
		Store:        s.store,
		History:      s.store,
		Alerts:       alerts,
		Bus:          bus,
		Logger:       log.With("component", "miner"),
		PollInterval: cfg.PollInterval,
	})
	if err != nil {
		return nil, err
	}
	if names := s.manager.ReapOrphans(bg); len(names) > 0 {
		log.Warn("stopped miners left running by a previous agent", "miners", strings.Join(names, ","))
	}
	s.wg.Go(func() { s.manager.Run(bg) })
	profiles := miner.NewProfiles(s.store, s.catalog, uuid.NewString, nil)

	if cfg.NodeRole == "" {
		cfg.NodeRole = "dual"
	}
	role, err := peers.ParseNodeRole(cfg.NodeRole)
	if err != nil {
		return nil, usagef("--node-role: %v", err)
	}
	if s.node, err = peers.New(bg, peers.Config{
		DataDir: cfg.DataDir, Name: cfg.NodeName, Role: role, Listen: cfg.P2PListen,
		Local: s.manager, Profiles: profiles, Store: &peerStore{s: s.store}, Logger: log.With("component", "p2p"),
	}); err != nil {
		return nil, err
	}
	s.wg.Go(func() { s.node.Run(bg) })

	s.services = apiServices{profiles: profiles, installer: installer, metrics: metrics}

	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if s.api, err = s.newAPI(log); err != nil {
		return nil, err
	}
	s.http = router.NewServer(s.api, router.ServerConfig{
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
	s.wg.Go(func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	if err := writeAgentAddr(l.agentAddr(), s.URL()); err != nil {
		log.Warn("cannot record the agent address for the CLI", "err", err)
	} else {
		s.addrWritten = true
	}
	log.Info("serving", "addr", s.Addr(), "prefix", cfg.APIPrefix, "data_dir", cfg.DataDir)
	// Autostart once the API answers: a start can take seconds (a version
	// probe, a slow miner), and health checks and the CLI must not wait
	// for all of them.
	s.wg.Go(func() {
		started, err := s.manager.Autostart(bg)
		if err != nil {
			log.Error("autostart", "started", strings.Join(started, ","), "err", err)
		} else if len(started) > 0 {
			log.Info("autostart", "started", strings.Join(started, ","))
		}
	})
	return s, nil
}

// Addr is the address the API listens on.
func (s *server) Addr() string { return s.ln.Addr().String() }

// Close stops serving (in-flight requests get 5 s), stops or leaves the
// miners, and releases everything. It is safe to call more than once.
func (s *server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		// The miners first, while the API still serves: event streams
		// see them stop (or detach), and requests meanwhile get 503.
		if s.manager != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			errs = append(errs, s.manager.Close(ctx, s.cfg.StopMinersOnExit))
			cancel()
		}
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.http.Shutdown(ctx); err != nil {
				// In-flight requests got their 5 s; cut the rest off.
				s.log.Warn("requests still running after 5 s were cut off", "err", err)
				s.http.Close()
			}
			cancel()
		}
		if s.api != nil {
			s.api.Close() // event streams end with the shutdown; wait for them
		}
		if s.node != nil {
			errs = append(errs, s.node.Close())
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		// Storage last: the manager and the collector have stopped
		// writing; Close flushes and releases the data dir lock.
		if s.store != nil {
			errs = append(errs, s.store.Close())
		}
		if s.catalog != nil {
			s.catalog.Close(context.Background())
		}
		if s.rt != nil {
			errs = append(errs, s.rt.Close(context.Background()))
		}
		if s.addrWritten { // not another agent's, refused the data dir
			os.Remove(layout{s.cfg.DataDir}.agentAddr())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
