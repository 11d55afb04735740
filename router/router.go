package router

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
)

// DefaultPrefix is where the API is mounted.
const DefaultPrefix = "/api/v1/mining"

// Defaults of Config.
const (
	DefaultWriteTimeout       = 30 * time.Second
	DefaultBodyReadTimeout    = 30 * time.Second
	DefaultStreamWriteTimeout = 10 * time.Second
	DefaultKeepAlive          = 15 * time.Second
	DefaultMaxStreams         = 64
	DefaultMaxAdapterBytes    = 32 << 20
)

// Config configures the API. Only Miners is required: every other service
// may be nil, and its routes then answer 501 not_implemented.
type Config struct {
	// Prefix is the mount point of the API (default DefaultPrefix);
	// /metrics is always at the root.
	Prefix string
	// Version is the agent's version (in /health, /info and metrics).
	Version string
	// Listen is the address the API listens on: beyond loopback, every
	// request but /health needs the token, and its host is accepted in
	// the Host header.
	Listen string
	// Token is the API bearer token; see the package's access rules.
	Token string
	// AllowedHosts are extra Host header names accepted (the rig's DNS
	// name when users browse to it).
	AllowedHosts []string
	// CORSOrigins are the origins allowed cross-origin requests
	// ("https://dash.lan:3000"; "*" for any). None by default.
	CORSOrigins []string
	RateLimit   RateLimit

	Miners       Miners
	Events       Events
	Profiles     Profiles
	History      History
	Adapters     Adapters
	AdapterFiles AdapterFiles
	Installer    Installer
	System       System
	Peers        Peers
	Remote       Remote
	// Audit, if set, records every state-changing request and serves
	// GET /audit.
	Audit AuditLog
	// Metrics is the registry /metrics serves (a new one if nil; get it
	// with API.Metrics to hook adapter call timings).
	Metrics *Metrics

	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// WriteTimeout bounds writing one ordinary response (default 30 s).
	WriteTimeout time.Duration
	// BodyReadTimeout bounds reading a request body (default 30 s).
	BodyReadTimeout time.Duration
	// StreamWriteTimeout bounds each write to an event stream (default
	// 10 s): a client that does not read is closed.
	StreamWriteTimeout time.Duration
	// KeepAlive is the interval of SSE comments and WebSocket pings
	// (default 15 s).
	KeepAlive time.Duration
	// MaxStreams caps concurrent event-stream clients (default 64).
	MaxStreams int
	// MaxAdapterBytes caps an uploaded adapter (default 32 MiB).
	MaxAdapterBytes int64
}

// API is the REST API handler.
type API struct {
	cfg          Config
	log          *slog.Logger
	now          func() time.Time
	started      time.Time
	router       *httprouter.Router
	routes       []route
	registered   []registration // what was handed to httprouter
	hosts        map[string]struct{}
	cors         map[string]struct{}
	requireToken bool
	limiter      *limiter
	metrics      *Metrics
	hub          *hub
	openapi      []byte

	// streams: every event stream watches done and is counted in wg.
	streamMu sync.Mutex
	nStreams int
	done     chan struct{}
	doneOnce sync.Once
	wg       sync.WaitGroup
}

// New returns the API with every route registered. It panics if
// cfg.Miners is nil (a programming error).
func New(cfg Config) *API {
	if cfg.Miners == nil {
		panic("router: Config.Miners is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = strings.TrimRight("/"+strings.Trim(cfg.Prefix, "/"), "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.MaxAdapterBytes <= 0 {
		cfg.MaxAdapterBytes = DefaultMaxAdapterBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Version)
	}
	a := &API{
		cfg:          cfg,
		log:          cfg.Logger,
		now:          cfg.Now,
		started:      cfg.Now(),
		router:       httprouter.New(),
		hosts:        map[string]struct{}{},
		cors:         map[string]struct{}{},
		requireToken: cfg.Listen != "" && !isLoopbackListen(cfg.Listen),
		limiter:      newLimiter(cfg.RateLimit.withDefaults()),
		metrics:      cfg.Metrics,
		hub:          newHub(),
		done:         make(chan struct{}),
	}
	if cfg.Listen != "" {
		if h := hostOnly(cfg.Listen); h != "" {
			a.hosts[h] = struct{}{}
		}
	}
	for _, h := range cfg.AllowedHosts {
		if h = hostOnly(strings.TrimSpace(h)); h != "" {
			a.hosts[h] = struct{}{}
		}
	}
	for _, o := range cfg.CORSOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			a.cors["*"] = struct{}{}
		} else if k, ok := originKey(o); ok {
			a.cors[k] = struct{}{}
		}
	}
	a.metrics.watch(cfg.Miners, cfg.Peers)

	r := a.router
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = false // preflights are answered in ServeHTTP
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError(http.StatusNotFound, CodeNotFound, "no route "+r.Method+" "+r.URL.Path+" (see "+a.cfg.Prefix+"/openapi.json)"))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allow := w.Header().Get("Allow")
		if len(a.cors) == 0 { // httprouter always lists OPTIONS; only CORS preflights get an answer
			allow = strings.TrimSuffix(strings.ReplaceAll(allow+", ", "OPTIONS, ", ""), ", ")
			w.Header().Set("Allow", allow)
		}
		writeError(w, apiError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+allow+")"))
	})
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		a.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
		writeError(w, apiError(http.StatusInternalServerError, CodeInternal, "internal error"))
	}
	a.routes = a.routeTable()
	a.register()
	a.openapi = a.buildOpenAPI()
	return a
}

// Metrics returns the metrics registry /metrics serves.
func (a *API) Metrics() *Metrics { return a.metrics }

// Prefix is the API's mount point.
func (a *API) Prefix() string { return a.cfg.Prefix }

// ServeHTTP applies the access rules (see security.go), then routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if !a.hostAllowed(r.Host) {
		writeError(w, apiError(http.StatusForbidden, CodeForeignHost, "Host "+strconv.Quote(r.Host)+" is not allowed (DNS rebinding protection); use an IP address or localhost, or start the agent with --allow-host NAME"))
		return
	}
	crossOrigin := false
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
		allow := a.corsOrigin(origin)
		if allow == "" {
			writeError(w, apiError(http.StatusForbidden, CodeCrossOrigin, "cross-origin request from "+strconv.Quote(origin)+" refused (start the agent with --cors-origin to allow it)"))
			return
		}
		crossOrigin = true
		h.Set("Access-Control-Allow-Origin", allow)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if err := a.authorize(r, crossOrigin); err != nil {
		h.Set("WWW-Authenticate", `Bearer realm="rigd"`)
		writeError(w, err)
		return
	}
	if isStateChanging(r.Method) && a.limiter != nil {
		if ip, ok := remoteAddr(r); ok {
			if ok, retry := a.limiter.allow(ip, a.now()); !ok {
				h.Set("Retry-After", strconv.Itoa(int(retry/time.Second)+1))
				writeError(w, rateLimited(retry))
				return
			}
		}
	}
	a.router.ServeHTTP(w, r)
}

// Close ends every event stream and waits for their handlers; call it when
// the server shuts down (NewServer arranges the first half).
func (a *API) Close() {
	a.closeStreams()
	a.wg.Wait()
}

func (a *API) closeStreams() {
	a.doneOnce.Do(func() { close(a.done) })
}

// boundedCtx returns ctx bounded to d.
func boundedCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
