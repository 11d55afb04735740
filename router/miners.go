package router

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// nameParam returns the validated :name path parameter.
func nameParam(ps httprouter.Params) (string, error) {
	name := ps.ByName("name")
	if err := miner.ValidateName(name); err != nil {
		return "", err
	}
	return name, nil
}

func (a *API) listMiners(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	list := a.cfg.Miners.List()
	if list == nil {
		list = []miner.Info{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *API) startMiner(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req miner.StartRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Type == "" {
		writeError(w, apiError(http.StatusBadRequest, CodeBadRequest, `"type" is required (see GET /miners/available)`))
		return
	}
	info, err := a.cfg.Miners.Start(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (a *API) getMiner(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := a.cfg.Miners.Get(name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *API) stopMiner(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := a.cfg.Miners.Stop(r.Context(), name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *API) minerStats(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := a.cfg.Miners.Get(name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info.Stats)
}

// minerLogs returns the latest lines: ?lines=N (default 100, max 10000),
// ?since=SEQ (lines after that sequence number), ?strip=1 (remove ANSI).
// JSON by default; Accept: text/plain returns the raw lines.
func (a *API) minerLogs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	n, err := intParam(q.Get("lines"), 100, 1, 10000, "lines")
	if err != nil {
		writeError(w, err)
		return
	}
	var since uint64
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, apiError(http.StatusBadRequest, CodeBadRequest, "since must be a line sequence number"))
			return
		}
	}
	strip, err := boolParam(q.Get("strip"), "strip")
	if err != nil {
		writeError(w, err)
		return
	}
	lines, err := a.cfg.Miners.Logs(name, miner.LogQuery{Lines: n, Since: since, Strip: strip})
	if err != nil {
		writeError(w, err)
		return
	}
	if strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		bw := bufio.NewWriter(w)
		for _, l := range lines {
			bw.WriteString(l.Text)
			bw.WriteByte('\n')
		}
		bw.Flush()
		return
	}
	if lines == nil {
		lines = []miner.LogLine{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"miner": name, "lines": lines})
}

type stdinRequest struct {
	Input string `json:"input"`
}

func (a *API) minerStdin(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	var req stdinRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := a.cfg.Miners.SendInput(r.Context(), name, req.Input); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"miner": name, "written": len(req.Input)})
}

func (a *API) minerHashrateHistory(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name, err := nameParam(ps)
	if err != nil {
		writeError(w, err)
		return
	}
	h, err := a.cfg.Miners.HashrateHistory(name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func intParam(s string, def, lo, hi int, name string) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, apiError(http.StatusBadRequest, CodeBadRequest, name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

func boolParam(s, name string) (bool, error) {
	switch s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, apiError(http.StatusBadRequest, CodeBadRequest, name+" must be 1 or 0")
}
