package router

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// handler is a route's handler; an error is written by writeError.
type handler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

// route is one route of the API. The route table (routeTable) is the one
// place routes are declared: registration on httprouter and the OpenAPI
// document are both made from it.
type route struct {
	Method string
	// Path is the documented path, relative to the prefix unless Root:
	// "/miners/{name}/stats".
	Path string
	// Pattern is the httprouter pattern relative to the prefix when it is
	// not Path with {x} turned into :x. httprouter v1.3.0 allows one
	// parameter name per position and no static segment beside a
	// parameter, so "/miners/available" is served by "/miners/:name" and
	// "/miners/{type}/install" by "/miners/:name/install"; the handler of
	// a shared pattern dispatches on the parameter's value.
	Pattern string
	Root    bool // not under the prefix (/metrics)
	Summary string
	Tag     string
	Handle  handler
	// Stream and Long responses get no write deadline: event streams, and
	// installs that download for minutes.
	Stream bool
	Long   bool
	// Query documents the query parameters.
	Query []param
	// Body is a value of the request body's type (nil: no body);
	// BodyOptional allows an empty body; BodyMedia is the media type if
	// not JSON.
	Body         any
	BodyOptional bool
	BodyMedia    string
	// Multipart, if set, is a struct of the parts a multipart/form-data
	// body may carry instead ([]byte fields: files).
	Multipart any
	// Resp is a value of the response's type; RespMedia its media type if
	// not JSON. Status is the success status (default 200).
	Resp      any
	RespMedia string
	Status    int
	// Public routes need no token even beyond loopback.
	Public bool
}

type param struct {
	Name, Type, Desc string
}

// registration is one pattern handed to httprouter.
type registration struct {
	Method, Pattern string
}

var (
	qLines  = param{"lines", "integer", "number of latest lines (1-10000, default 100)"}
	qSince  = param{"since", "integer", "only lines after this sequence number"}
	qStrip  = param{"strip", "boolean", "1 removes ANSI escape sequences"}
	qMiners = param{"miners", "string", "comma-separated miner names to follow (default all)"}
	qHSince = param{"since", "string", "start: RFC 3339 time or a duration back from now like 24h (default 24h)"}
	qHUntil = param{"until", "string", "end: RFC 3339 time or a duration back from now (default now)"}
	qHStep  = param{"step", "string", "spacing of points, a duration like 1m (default: raw points)"}
	qDevice = param{"device", "string", "a device series of the miner, like nvidia0 or cpu0"}
	qVer    = param{"version", "string", "one version (default every version)"}
)

// routeTable returns every route of the API.
func (a *API) routeTable() []route {
	return []route{
		// System.
		{Method: "GET", Path: "/health", Tag: "system", Summary: "liveness: the agent answers", Handle: a.health, Resp: Health{}, Public: true},
		{Method: "GET", Path: "/ready", Tag: "system", Summary: "readiness of storage, adapters and p2p (each ok, degraded or disabled)", Handle: a.ready, Resp: Readiness{}},
		{Method: "GET", Path: "/audit", Tag: "system", Summary: "the audit log of state-changing API and peer commands, newest first", Handle: a.listAudit, Query: []param{{"limit", "integer", "most entries (1-10000, default 100)"}}, Resp: []miner.AuditEntry{}},
		{Method: "GET", Path: "/info", Tag: "system", Summary: "agent version, OS/arch, CPU, memory, installed miners, adapters, data dir, uptime", Handle: a.info, Resp: SystemInfo{}},
		{Method: "GET", Path: "/openapi.json", Tag: "system", Summary: "this OpenAPI 3 document", Handle: a.serveOpenAPI, Resp: map[string]any{}},
		{Method: "GET", Path: "/events", Tag: "system", Summary: "event stream: WebSocket (Upgrade: websocket) or SSE (Accept: text/event-stream); the current state of each miner first", Handle: a.events, Stream: true, Query: []param{qMiners}, Resp: StreamEvent{}, RespMedia: "text/event-stream"},
		{Method: "GET", Path: "/metrics", Root: true, Tag: "system", Summary: "Prometheus metrics", Handle: a.serveMetrics, RespMedia: "text/plain; version=0.0.4"},
		{Method: "POST", Path: "/update", Tag: "install", Summary: "check for newer miner releases without installing", Handle: a.checkUpdates, Body: UpdateRequest{}, BodyOptional: true, Resp: []UpdateInfo{}, Long: true},

		// Miners.
		{Method: "GET", Path: "/miners", Tag: "miners", Summary: "list miners with their state and stats", Handle: a.listMiners, Resp: []miner.Info{}},
		{Method: "POST", Path: "/miners", Tag: "miners", Summary: "start a miner from {type, name?, profile} or {profile_id}", Handle: a.startMiner, Body: StartRequest{}, Resp: miner.Info{}, Status: http.StatusCreated},
		{Method: "GET", Path: "/miners/available", Pattern: "/miners/:name", Tag: "miners", Summary: "miner types: adapter, installed and latest version", Handle: a.availableMiners, Resp: []AvailableMiner{}},
		{Method: "GET", Path: "/miners/{name}", Tag: "miners", Summary: "one miner", Handle: a.getMiner, Resp: miner.Info{}},
		{Method: "DELETE", Path: "/miners/{name}", Tag: "miners", Summary: "stop a miner", Handle: a.stopMiner, Resp: miner.Info{}},
		{Method: "GET", Path: "/miners/{name}/stats", Tag: "miners", Summary: "a miner's stats", Handle: a.minerStats, Resp: miner.Info{}.Stats},
		{Method: "GET", Path: "/miners/{name}/logs", Tag: "miners", Summary: "a miner's latest output lines (JSON, or plain text with Accept: text/plain)", Handle: a.minerLogs, Query: []param{qLines, qSince, qStrip}, Resp: LogsResult{}},
		{Method: "POST", Path: "/miners/{name}/stdin", Tag: "miners", Summary: "write to a miner's stdin", Handle: a.minerStdin, Body: StdinRequest{}, Resp: StdinResult{}},
		{Method: "GET", Path: "/miners/{name}/hashrate-history", Tag: "miners", Summary: "a running miner's in-memory hashrate history (5 min raw, 24 h per minute)", Handle: a.minerHashrateHistory, Resp: miner.HashrateHistory{}},
		{Method: "GET", Path: "/miners/{name}/incidents", Tag: "miners", Summary: "the watchdog's incidents for a miner (rule, measured value, threshold, action, last log lines)", Handle: a.minerIncidents, Resp: []miner.Incident{}},
		{Method: "POST", Path: "/miners/{type}/install", Pattern: "/miners/:name/install", Tag: "install", Summary: "install a miner version (latest by default) or a local archive; progress on /events", Handle: a.install, Body: InstallRequest{}, BodyOptional: true, Resp: InstalledMiner{}, Long: true},
		{Method: "DELETE", Path: "/miners/{type}/uninstall", Pattern: "/miners/:name/uninstall", Tag: "install", Summary: "stop the type's miners, then remove its installed versions", Handle: a.uninstall, Query: []param{qVer}, Resp: Uninstalled{}},

		// Profiles.
		{Method: "GET", Path: "/profiles", Tag: "profiles", Summary: "list profiles", Handle: a.listProfiles, Resp: []miner.StoredProfile{}},
		{Method: "POST", Path: "/profiles", Tag: "profiles", Summary: "create a profile (validated by its adapter)", Handle: a.createProfile, Body: ProfileBody{}, Resp: miner.StoredProfile{}, Status: http.StatusCreated},
		{Method: "GET", Path: "/profiles/{id}", Tag: "profiles", Summary: "one profile", Handle: a.getProfile, Resp: miner.StoredProfile{}},
		{Method: "PUT", Path: "/profiles/{id}", Tag: "profiles", Summary: "replace a profile (validated by its adapter)", Handle: a.updateProfile, Body: ProfileBody{}, Resp: miner.StoredProfile{}},
		{Method: "DELETE", Path: "/profiles/{id}", Tag: "profiles", Summary: "delete a profile", Handle: a.deleteProfile, Resp: Deleted{}},
		{Method: "POST", Path: "/profiles/{id}/start", Tag: "profiles", Summary: "start a miner from a profile", Handle: a.startProfile, Body: ProfileStartRequest{}, BodyOptional: true, Resp: miner.Info{}, Status: http.StatusCreated},

		// History.
		{Method: "GET", Path: "/history/miners", Tag: "history", Summary: "summaries of every miner's stored history", Handle: a.historyMiners, Resp: []miner.HistorySummary{}},
		{Method: "GET", Path: "/history/miners/{name}", Tag: "history", Summary: "summary of one miner's history", Handle: a.historyMiner, Query: []param{qDevice}, Resp: miner.HistorySummary{}},
		{Method: "GET", Path: "/history/miners/{name}/hashrate", Tag: "history", Summary: "hashrate points in a range", Handle: a.historyHashrate, Query: []param{qHSince, qHUntil, qHStep, qDevice}, Resp: HistoryRange{}},

		// Adapters.
		{Method: "GET", Path: "/adapters", Tag: "adapters", Summary: "list adapters (as rigd adapters list --json)", Handle: a.listAdapters, Resp: []miner.AdapterInfo{}},
		{Method: "POST", Path: "/adapters", Tag: "adapters", Summary: "upload a .wasm adapter: validated, self-tested, then added to the adapters directory", Handle: a.addAdapter, Body: []byte{}, BodyMedia: "application/wasm", Multipart: adapterUpload{}, Query: []param{{"filename", "string", "the file's name, for messages"}}, Resp: miner.AdapterInfo{}, Status: http.StatusCreated},
		{Method: "DELETE", Path: "/adapters/{name}", Tag: "adapters", Summary: "remove a drop-in adapter", Handle: a.removeAdapter, Resp: Deleted{}},
		{Method: "POST", Path: "/adapters/{name}/rollback", Tag: "adapters", Summary: "make the previous generation of an adapter current again (persisted in the adapters directory)", Handle: a.rollbackAdapter, Resp: miner.AdapterInfo{}},

		// P2P.
		{Method: "GET", Path: "/node/info", Tag: "p2p", Summary: "this node's P2P identity", Handle: a.nodeInfo, Resp: NodeInfo{}},
		{Method: "POST", Path: "/node/invite", Tag: "p2p", Summary: "create a single-use invite for another node", Handle: a.invite, Body: InviteRequest{}, BodyOptional: true, Resp: Invite{}, Status: http.StatusCreated},
		{Method: "GET", Path: "/node/pending", Tag: "p2p", Summary: "unknown nodes that tried to connect", Handle: a.pendingPeers, Resp: []PendingPeer{}},
		{Method: "GET", Path: "/peers", Tag: "p2p", Summary: "list peers", Handle: a.listPeers, Resp: []Peer{}},
		{Method: "POST", Path: "/peers", Tag: "p2p", Summary: "add a peer by address and invite", Handle: a.addPeer, Body: AddPeerRequest{}, Resp: Peer{}, Status: http.StatusCreated, Long: true},
		{Method: "DELETE", Path: "/peers/{id}", Tag: "p2p", Summary: "remove a peer (its sessions close)", Handle: a.removePeer, Resp: Deleted{}},
		{Method: "POST", Path: "/peers/{id}/ping", Tag: "p2p", Summary: "ping a peer", Handle: a.pingPeer, Resp: PingResult{}},
		{Method: "POST", Path: "/peers/{id}/approve", Tag: "p2p", Summary: "approve a pending node with a role", Handle: a.approvePeer, Body: ApproveRequest{}, Resp: Peer{}},
		{Method: "GET", Path: "/remote/stats", Pattern: "/remote/:peer", Tag: "remote", Summary: "stats of every connected peer (partial results marked)", Handle: a.remoteStatsAll, Resp: []RemoteNode{}},
		{Method: "GET", Path: "/remote/{peer}/stats", Tag: "remote", Summary: "stats of one peer", Handle: a.remoteStats, Resp: RemoteNode{}},
		{Method: "POST", Path: "/remote/{peer}/start", Tag: "remote", Summary: "start a miner on a peer", Handle: a.remoteStart, Body: RemoteStartRequest{}, Resp: miner.Info{}, Status: http.StatusCreated},
		{Method: "POST", Path: "/remote/{peer}/stop", Tag: "remote", Summary: "stop a miner on a peer", Handle: a.remoteStop, Body: RemoteStopRequest{}, Resp: miner.Info{}},
		{Method: "GET", Path: "/remote/{peer}/logs/{miner}", Tag: "remote", Summary: "a peer's miner's latest output lines", Handle: a.remoteLogs, Query: []param{qLines}, Resp: RemoteLogs{}},
	}
}

// pattern returns the route's httprouter pattern, prefix included.
func (a *API) pattern(rt route) string {
	p := rt.Pattern
	if p == "" {
		p = braceToColon(rt.Path)
	}
	if rt.Root {
		return p
	}
	return a.cfg.Prefix + p
}

// fullPath returns the documented path, prefix included.
func (a *API) fullPath(rt route) string {
	if rt.Root {
		return rt.Path
	}
	return a.cfg.Prefix + rt.Path
}

func braceToColon(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

// literalAt returns, for a route whose pattern has a parameter where its
// path has a fixed segment, that parameter's name and the fixed value.
func (a *API) literalAt(rt route) (param, value string) {
	ps := strings.Split(a.pattern(rt), "/")
	ds := strings.Split(a.fullPath(rt), "/")
	for i := range ps {
		if strings.HasPrefix(ps[i], ":") && i < len(ds) && !strings.HasPrefix(ds[i], "{") {
			return ps[i][1:], ds[i]
		}
	}
	return "", ""
}

// register hands the route table to httprouter, one handle per method
// and pattern; routes sharing a pattern are dispatched on the parameter.
func (a *API) register() {
	type key struct{ method, pattern string }
	groups := map[key][]route{}
	var order []key
	for _, rt := range a.routes {
		k := key{rt.Method, a.pattern(rt)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], rt)
	}
	for _, k := range order {
		rts := groups[k]
		var generic *route
		fixed := map[string]route{}
		var fixedParam string
		for i := range rts {
			if p, v := a.literalAt(rts[i]); p != "" {
				fixed[v] = rts[i]
				fixedParam = p
			} else if generic != nil {
				panic(fmt.Sprintf("router: two routes for %s %s", k.method, k.pattern))
			} else {
				generic = &rts[i]
			}
		}
		var h httprouter.Handle
		switch {
		case len(fixed) == 0:
			h = a.wrap(*generic)
		default:
			hs := map[string]httprouter.Handle{}
			for v, rt := range fixed {
				hs[v] = a.wrap(rt)
			}
			var gh httprouter.Handle
			if generic != nil {
				gh = a.wrap(*generic)
			}
			h = func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
				if fh, ok := hs[ps.ByName(fixedParam)]; ok {
					fh(w, r, ps)
					return
				}
				if gh == nil {
					a.router.NotFound.ServeHTTP(w, r)
					return
				}
				gh(w, r, ps)
			}
		}
		a.router.Handle(k.method, k.pattern, h)
		a.registered = append(a.registered, registration{k.method, k.pattern})
		// HEAD wherever GET answers (health checks use it; net/http sends
		// the headers and drops the body), except on event streams.
		if k.method == http.MethodGet && !slices.ContainsFunc(rts, func(rt route) bool { return rt.Stream }) {
			a.router.Handle(http.MethodHead, k.pattern, h)
		}
	}
}

// wrap turns a route's handler into an httprouter.Handle: a write
// deadline for ordinary responses, errors written as JSON.
func (a *API) wrap(rt route) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if !rt.Stream && !rt.Long {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
		}
		var rec *statusRecorder
		if a.cfg.Audit != nil && isStateChanging(rt.Method) {
			rec = &statusRecorder{ResponseWriter: w}
			w = rec
		}
		err := rt.Handle(w, r, ps)
		if err != nil {
			writeError(w, err)
		}
		if rec != nil {
			a.audit(r, rt, ps, rec.status, err)
		}
	}
}
