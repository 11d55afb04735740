package router

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

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

// typeParam returns a validated miner type from the :name path parameter
// (types are adapter names: a subset of what names allow).
func typeParam(ps httprouter.Params) (string, error) {
	typ := ps.ByName("name")
	if err := miner.ValidateName(typ); err != nil {
		return "", fmt.Errorf("miner type: %w", err)
	}
	return typ, nil
}

// reply writes v as JSON with status.
func reply(w http.ResponseWriter, status int, v any) error {
	writeJSON(w, status, v)
	return nil
}

func (a *API) listMiners(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	list := a.cfg.Miners.List()
	if list == nil {
		list = []miner.Info{}
	}
	return reply(w, http.StatusOK, list)
}

func (a *API) startMiner(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req miner.StartRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if req.ProfileID != "" {
		if req.Type != "" || !isZeroProfile(req) {
			return apiError(http.StatusBadRequest, CodeBadRequest, `give either "profile_id" or "type" and "profile", not both`)
		}
		sr, err := a.profileStart(r.Context(), req.ProfileID, ProfileStartRequest{Name: req.Name, Binary: req.Binary, Autostart: req.Autostart, Watchdog: req.Watchdog})
		if err != nil {
			return err
		}
		req = sr
	}
	if req.Type == "" {
		return apiError(http.StatusBadRequest, CodeBadRequest, `"type" (see GET /miners/available) or "profile_id" is required`)
	}
	info, err := a.cfg.Miners.Start(r.Context(), req)
	if err != nil {
		return fmt.Errorf("start miner: %w", err)
	}
	return reply(w, http.StatusCreated, info)
}

func isZeroProfile(req miner.StartRequest) bool {
	p := req.Profile
	return p.Algo == "" && p.Coin == "" && len(p.Pools) == 0 && p.Worker == "" && p.Threads == 0 &&
		len(p.Devices) == 0 && p.Intensity == 0 && len(p.Options) == 0 && len(p.ExtraArgs) == 0
}

func (a *API) getMiner(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	info, err := a.cfg.Miners.Get(name)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, info)
}

func (a *API) stopMiner(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	info, err := a.cfg.Miners.Stop(r.Context(), name)
	if err != nil {
		return fmt.Errorf("stop miner %q: %w", name, err)
	}
	return reply(w, http.StatusOK, info)
}

func (a *API) minerStats(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	info, err := a.cfg.Miners.Get(name)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, info.Stats)
}

// minerLogs returns the latest lines: ?lines=N (default 100, max 10000),
// ?since=SEQ (instead the first N lines after that sequence number: a
// client follows by passing the last seq it got), ?strip=1 (remove ANSI).
// JSON by default; Accept: text/plain returns the raw lines.
func (a *API) minerLogs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	n, err := intParam(q.Get("lines"), 100, 1, 10000, "lines")
	if err != nil {
		return err
	}
	var since uint64
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			return apiError(http.StatusBadRequest, CodeBadRequest, "since must be a line sequence number")
		}
	}
	strip, err := boolParam(q.Get("strip"), "strip")
	if err != nil {
		return err
	}
	lines, err := a.cfg.Miners.Logs(name, miner.LogQuery{Lines: n, Since: since, Strip: strip})
	if err != nil {
		return err
	}
	if strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		bw := bufio.NewWriter(w)
		for _, l := range lines {
			bw.WriteString(l.Text)
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	if lines == nil {
		lines = []miner.LogLine{}
	}
	return reply(w, http.StatusOK, LogsResult{Miner: name, Lines: lines})
}

func (a *API) minerStdin(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	var req StdinRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := a.cfg.Miners.SendInput(r.Context(), name, req.Input); err != nil {
		return fmt.Errorf("stdin of miner %q: %w", name, err)
	}
	return reply(w, http.StatusOK, StdinResult{Miner: name, Written: len(req.Input)})
}

func (a *API) minerHashrateHistory(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	h, err := a.cfg.Miners.HashrateHistory(name)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, h)
}

func (a *API) minerIncidents(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	list, err := a.cfg.Miners.Incidents(name)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, list)
}

// availableMiners lists the catalog's types with installed and latest
// versions. Latest versions are looked up in parallel, 3 s at most.
func (a *API) availableMiners(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.Adapters == nil {
		return notImplemented("the adapter catalog is not available")
	}
	list := a.cfg.Adapters.List()
	out := make([]AvailableMiner, 0, len(list))
	for _, ad := range list {
		if ad.Status == "error" && ad.Name == "" {
			continue // a file that did not load names no type
		}
		out = append(out, AvailableMiner{Name: ad.Name, DisplayName: ad.DisplayName, AdapterVersion: ad.Version, AdapterStatus: ad.Status})
	}
	if in := a.cfg.Installer; in != nil {
		ctx, cancel := boundedCtx(r.Context(), 3*time.Second)
		defer cancel()
		done := make(chan struct{}, len(out))
		for i := range out {
			go func() {
				defer func() { done <- struct{}{} }()
				m := &out[i]
				if vs, err := in.Installed(ctx, m.Name); err == nil {
					for _, v := range vs {
						if v.Current {
							m.InstalledVersion, m.Binary = v.Version, v.Binary
						}
					}
				}
				if lr, err := in.Latest(ctx, m.Name); err != nil {
					m.LatestError = err.Error()
				} else {
					m.LatestVersion = lr.Version
				}
			}()
		}
		for range out {
			<-done
		}
	} else {
		for i := range out {
			out[i].LatestError = "the installer is not available"
		}
	}
	return reply(w, http.StatusOK, out)
}

func (a *API) install(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	typ, err := typeParam(ps)
	if err != nil {
		return err
	}
	var req InstallRequest
	if err := a.decodeOptional(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.From != "" && req.Version != "":
		return apiError(http.StatusBadRequest, CodeBadRequest, "from detects the version itself: drop version")
	case req.From != "" && !filepath.IsAbs(req.From):
		return apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("from %q: want an absolute path on the agent's machine", req.From))
	}
	if a.cfg.Installer == nil {
		return notImplemented("installing miners is not wired into this agent yet")
	}
	progress := func(p InstallProgress) {
		p.Type = typ
		a.hub.publish(StreamEvent{Event: miner.Event{Type: EventInstallProgress, Time: a.now()}, Progress: &p})
	}
	im, err := a.cfg.Installer.Install(r.Context(), typ, req, progress)
	if err != nil {
		return err // the installer's errors say "install TYPE …"
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
	return reply(w, http.StatusOK, im)
}

func (a *API) uninstall(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	typ, err := typeParam(ps)
	if err != nil {
		return err
	}
	version := r.URL.Query().Get("version")
	// One path element; the installer checks the rest, as for an install
	// ("6.98.0-.." is a version).
	if len(version) > 64 || strings.ContainsAny(version, "/\\") || version == "." || version == ".." {
		return apiError(http.StatusBadRequest, CodeBadRequest, "invalid version")
	}
	if a.cfg.Installer == nil {
		return notImplemented("uninstalling miners is not wired into this agent yet")
	}
	// Only miners that run the files about to go are stopped: a miner
	// started with its own binary keeps running, and uninstalling what is
	// not installed stops nothing (the installer says 404).
	installed, err := a.cfg.Installer.Installed(r.Context(), typ)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", typ, err)
	}
	var removed []InstalledMiner
	for _, im := range installed {
		if version == "" || im.Version == version {
			removed = append(removed, im)
		}
	}
	res := Uninstalled{Type: typ, Version: version, Stopped: []string{}}
	for _, m := range a.cfg.Miners.List() {
		if m.Type != typ || !runsOneOf(m.Binary, removed) {
			continue
		}
		if _, err := a.cfg.Miners.Stop(r.Context(), m.Name); err != nil {
			return fmt.Errorf("uninstall %s: stop miner %q first: %w", typ, m.Name, err)
		}
		res.Stopped = append(res.Stopped, m.Name)
	}
	if err := a.cfg.Installer.Uninstall(r.Context(), typ, version); err != nil {
		return err // "uninstall TYPE …" already
	}
	return reply(w, http.StatusOK, res)
}

// runsOneOf reports whether binary is one of the installed versions' files.
func runsOneOf(binary string, versions []InstalledMiner) bool {
	if binary == "" {
		return false
	}
	binary = filepath.Clean(binary)
	for _, im := range versions {
		if im.Binary != "" && binary == filepath.Clean(im.Binary) ||
			im.Dir != "" && strings.HasPrefix(binary, filepath.Clean(im.Dir)+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (a *API) checkUpdates(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req UpdateRequest
	if err := a.decodeOptional(w, r, &req); err != nil {
		return err
	}
	if a.cfg.Installer == nil {
		return notImplemented("checking for miner updates is not wired into this agent yet")
	}
	var types []string
	if req.Type != "" {
		if err := miner.ValidateName(req.Type); err != nil {
			return fmt.Errorf("miner type: %w", err)
		}
		types = []string{req.Type}
	} else if a.cfg.Adapters != nil {
		for _, ad := range a.cfg.Adapters.List() {
			if ad.Name != "" && !slices.Contains(types, ad.Name) {
				types = append(types, ad.Name)
			}
		}
	}
	out := make([]UpdateInfo, 0, len(types))
	for _, t := range types {
		u, err := a.cfg.Installer.CheckUpdates(r.Context(), t)
		if err != nil {
			if req.Type != "" {
				return err // names the type
			}
			u.Type, u.Error = t, err.Error()
		}
		out = append(out, u)
	}
	return reply(w, http.StatusOK, out)
}

// profileStart turns a stored profile into a start request with the
// caller's overrides.
func (a *API) profileStart(ctx context.Context, id string, o ProfileStartRequest) (miner.StartRequest, error) {
	if a.cfg.Profiles == nil {
		return miner.StartRequest{}, notImplemented("profiles need storage, which is not wired into this agent yet")
	}
	if err := validID(id); err != nil {
		return miner.StartRequest{}, err
	}
	req, err := a.cfg.Profiles.StartRequest(ctx, id)
	if err != nil {
		return req, err
	}
	if o.Name != "" {
		req.Name = o.Name
	}
	req.Binary = o.Binary
	req.Autostart = o.Autostart
	if o.Watchdog != nil {
		req.Watchdog = o.Watchdog
	}
	return req, nil
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
