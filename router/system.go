package router

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

func (a *API) health(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	return reply(w, http.StatusOK, Health{Status: "ok", Version: a.cfg.Version})
}

// ready answers 200 with status "ok" or "degraded": a degraded agent
// still serves and mines; the checks say what is wrong.
func (a *API) ready(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.System == nil {
		return notImplemented("readiness checks are not wired into this agent")
	}
	checks := a.cfg.System.Ready(r.Context())
	if checks == nil {
		checks = []Check{}
	}
	res := Readiness{Status: CheckOK, Checks: checks}
	for _, c := range checks {
		if c.Status == CheckDegraded {
			res.Status = CheckDegraded
		}
	}
	return reply(w, http.StatusOK, res)
}

func (a *API) info(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.System == nil {
		return notImplemented("system information is not wired into this agent")
	}
	info, err := a.cfg.System.Info(r.Context())
	if err != nil {
		return fmt.Errorf("system info: %w", err)
	}
	return reply(w, http.StatusOK, info)
}
