package router

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// AuditLog records state-changing requests and lists them (kv.Store
// fits). Optional: without it nothing is recorded and GET /audit is 501.
type AuditLog interface {
	AddAudit(ctx context.Context, e miner.AuditEntry) error
	Audit(ctx context.Context, limit int) ([]miner.AuditEntry, error)
}

// auditTimeout bounds writing one audit entry.
const auditTimeout = 5 * time.Second

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// audit records one state-changing request: who (api:<client address>,
// cli:<address> for the rigd CLI, by its self-declared User-Agent), what
// (the route), on what (its path parameters), and the outcome.
func (a *API) audit(r *http.Request, rt route, ps httprouter.Params, status int, err error) {
	who := "api"
	if r.UserAgent() == ClientUserAgent {
		who = "cli"
	}
	if ip, ok := remoteAddr(r); ok {
		who += ":" + ip.String()
	}
	var target []string
	for _, p := range ps {
		target = append(target, p.Value)
	}
	result := "ok"
	if err != nil {
		_, code := statusOf(err)
		result = strconv.Itoa(status) + " " + code + ": " + err.Error()
	} else if status >= 400 {
		result = strconv.Itoa(status)
	}
	e := miner.AuditEntry{Time: a.now().UTC(), Who: who, Action: rt.Method + " " + rt.Path, Target: strings.Join(target, "/"), Result: result}
	// The request's context may be cancelled already; the entry is
	// written anyway, briefly.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if aerr := a.cfg.Audit.AddAudit(ctx, e); aerr != nil {
		a.log.Warn("audit entry not recorded", "action", e.Action, "err", aerr)
	}
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.Audit == nil {
		return notImplemented("the audit log needs storage, which is not wired into this agent")
	}
	limit, err := intParam(r.URL.Query().Get("limit"), 100, 1, 10000, "limit")
	if err != nil {
		return err
	}
	list, err := a.cfg.Audit.Audit(r.Context(), limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []miner.AuditEntry{}
	}
	return reply(w, http.StatusOK, list)
}
