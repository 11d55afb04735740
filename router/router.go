package router

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// DefaultPrefix is where the API is mounted.
const DefaultPrefix = "/api/v1/mining"

// Miners is what the API needs from the miner Manager.
type Miners interface {
	Start(ctx context.Context, req miner.StartRequest) (miner.Info, error)
	Stop(ctx context.Context, name string) (miner.Info, error)
	List() []miner.Info
	Get(name string) (miner.Info, error)
	Logs(name string, q miner.LogQuery) ([]miner.LogLine, error)
	SendInput(ctx context.Context, name, text string) error
	HashrateHistory(name string) (miner.HashrateHistory, error)
}

// Config configures the API.
type Config struct {
	// Prefix is the mount point of the API (default DefaultPrefix).
	Prefix string
	Miners Miners
	Logger *slog.Logger
}

// API is the REST API handler.
type API struct {
	cfg    Config
	log    *slog.Logger
	router *httprouter.Router
}

// New returns the API with every route registered.
func New(cfg Config) *API {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, log: cfg.Logger, router: httprouter.New()}
	r := a.router
	r.HandleMethodNotAllowed = true
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError(http.StatusNotFound, CodeNotFound, "no route "+r.Method+" "+r.URL.Path))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+w.Header().Get("Allow")+")"))
	})
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		a.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
		writeError(w, apiError(http.StatusInternalServerError, CodeInternal, "internal error"))
	}
	a.routes()
	return a
}

func (a *API) routes() {
	p := a.cfg.Prefix
	a.router.GET(p+"/miners", a.listMiners)
	a.router.POST(p+"/miners", a.startMiner)
	a.router.GET(p+"/miners/:name", a.getMiner)
	a.router.DELETE(p+"/miners/:name", a.stopMiner)
	a.router.GET(p+"/miners/:name/stats", a.minerStats)
	a.router.GET(p+"/miners/:name/logs", a.minerLogs)
	a.router.POST(p+"/miners/:name/stdin", a.minerStdin)
	a.router.GET(p+"/miners/:name/hashrate-history", a.minerHashrateHistory)
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.router.ServeHTTP(w, r)
}
