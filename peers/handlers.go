package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

const (
	// maxLineText is the longest log line sent to a peer (longer ones are
	// cut and marked truncated).
	maxLineText = 4096
	// maxLogBytes bounds one get_logs answer; the oldest lines go first.
	maxLogBytes = 4 << 20
	// commandTimeout bounds the local work of one command.
	commandTimeout = 2 * time.Minute
)

// execute runs one admitted request for p and returns the reply
// message(s). The role check happens here, on the receiving node, with
// the peer's role as it is now.
func (n *Node) execute(p *peer, env envelope) []outMsg {
	who := "peer:" + p.rec.ID.String()
	need := required[env.Type]
	role := n.roleOf(p)
	if need == RoleAdmin || role.rank() < need.rank() {
		if ok, suppressed := n.allowForbiddenAudit(p); ok {
			result := codeForbidden
			if suppressed > 0 {
				result += fmt.Sprintf(" (and %d forbidden requests from this peer not logged)", suppressed)
			}
			n.audit(who, env.Type, targetOf(env.Body), result)
		}
		msg := fmt.Sprintf("%s needs the %s role; this node grants you %s", env.Type, need, role)
		if need == RoleAdmin {
			msg = env.Type + " is an admin verb: only the rig's own user may change the allow-list"
		}
		return errReply(codeForbidden, msg)
	}
	ctx, cancel := context.WithTimeout(n.ctx, commandTimeout)
	defer cancel()
	switch env.Type {
	case msgPing:
		return []outMsg{{typ: msgPong, body: json.RawMessage("{}")}}
	case msgGetStats:
		return n.getStats()
	case msgGetLogs:
		return n.getLogs(env.Body)
	case msgStartMiner, msgStopMiner, msgRestartMiner:
		info, target, err := n.command(ctx, p, env)
		result := "ok"
		if err != nil {
			result = err.Error()
		}
		n.audit(who, env.Type, target, result)
		if err != nil {
			code, msg := wireError(err)
			return errReply(code, msg)
		}
		b, err := json.Marshal(minerResult{Miner: forPeers(info)})
		if err != nil {
			return errReply(codeInternal, "encode result")
		}
		return []outMsg{{typ: msgResult, body: b}}
	}
	return errReply(codeUnknownType, env.Type)
}

// allowForbiddenAudit bounds the audit entries of one peer's forbidden
// requests: 20 at once, then one every 10 s; the next entry written says
// how many were left out.
func (n *Node) allowForbiddenAudit(p *peer) (bool, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !p.forbidAudit.take(time.Now(), 0.1, auditBurst) {
		p.forbidSuppressed++
		return false, 0
	}
	s := p.forbidSuppressed
	p.forbidSuppressed = 0
	return true, s
}

func errReply(code, msg string) []outMsg {
	return []outMsg{{typ: msgError, body: errBody(code, msg)}}
}

// targetOf digs the miner name or profile id out of a body for the audit
// log, best effort.
func targetOf(body json.RawMessage) string {
	var t struct {
		Name      string `json:"name"`
		Miner     string `json:"miner"`
		ProfileID string `json:"profile_id"`
	}
	json.Unmarshal(body, &t)
	s := t.Name
	if s == "" {
		s = t.Miner
	}
	if s == "" && t.ProfileID != "" {
		s = "profile:" + t.ProfileID
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// wireError maps a local error to a fixed wire code and a message.
func wireError(err error) (string, string) {
	msg := err.Error()
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		return codeInvalidProfile, msg
	case errors.Is(err, ErrRateLimited):
		return codeRateLimited, msg
	case errors.Is(err, ErrInvalidRequest), errors.Is(err, miner.ErrInvalidName),
		errors.Is(err, miner.ErrInvalidInput), errors.Is(err, miner.ErrUnknownType):
		return codeBadRequest, msg
	case errors.Is(err, miner.ErrNotFound), errors.Is(err, ErrRemoteNotFound):
		return codeNotFound, msg
	case errors.Is(err, miner.ErrConflict), errors.Is(err, miner.ErrNotRunning):
		return codeConflict, msg
	case errors.Is(err, miner.ErrNoBinary), errors.Is(err, miner.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return codeUnavailable, msg
	}
	return codeInternal, msg
}

// command runs start_miner, stop_miner or restart_miner.
func (n *Node) command(ctx context.Context, p *peer, env envelope) (miner.Info, string, error) {
	switch env.Type {
	case msgStartMiner:
		var spec StartSpec
		if err := decodeBody(env.Body, &spec); err != nil {
			return miner.Info{}, "", err
		}
		target := spec.Name
		if spec.ProfileID != "" && target == "" {
			target = "profile:" + spec.ProfileID
		}
		if err := spec.validate(); err != nil {
			return miner.Info{}, target, err
		}
		req, err := n.startRequest(ctx, spec)
		if err != nil {
			return miner.Info{}, target, err
		}
		name := req.Name
		if name == "" {
			algo := req.Profile.Algo
			if algo == "" {
				algo = req.Profile.Coin
			}
			name = miner.DefaultName(req.Type, algo)
		}
		if err := miner.ValidateName(name); err != nil {
			return miner.Info{}, name, err
		}
		if !n.allowMinerOp(p, name) {
			return miner.Info{}, name, fmt.Errorf("%w: over %d start/stop a minute for miner %q", ErrRateLimited, n.cfg.MinerOps, name)
		}
		info, err := n.local.Start(ctx, req)
		return info, name, err
	case msgStopMiner, msgRestartMiner:
		var r nameRequest
		if err := decodeBody(env.Body, &r); err != nil {
			return miner.Info{}, "", err
		}
		if err := miner.ValidateName(r.Name); err != nil {
			return miner.Info{}, "", err
		}
		if !n.allowMinerOp(p, r.Name) {
			return miner.Info{}, r.Name, fmt.Errorf("%w: over %d start/stop a minute for miner %q", ErrRateLimited, n.cfg.MinerOps, r.Name)
		}
		if env.Type == msgStopMiner {
			info, err := n.local.Stop(ctx, r.Name)
			return info, r.Name, err
		}
		list := n.local.List()
		i := slices.IndexFunc(list, func(m miner.Info) bool { return m.Name == r.Name })
		if i < 0 {
			return miner.Info{}, r.Name, fmt.Errorf("%w: %q", miner.ErrNotFound, r.Name)
		}
		old := list[i]
		if _, err := n.local.Stop(ctx, r.Name); err != nil && !errors.Is(err, miner.ErrNotFound) {
			return miner.Info{}, r.Name, err
		}
		auto := old.Autostart
		info, err := n.local.Start(ctx, miner.StartRequest{Type: old.Type, Name: old.Name, Profile: old.Profile, ProfileID: old.ProfileID, Autostart: &auto})
		return info, r.Name, err
	}
	return miner.Info{}, "", fmt.Errorf("%w: %s", ErrInvalidRequest, env.Type)
}

// startRequest turns a StartSpec into a local start request. The binary is
// always the installed one: a peer never names a path to execute.
func (n *Node) startRequest(ctx context.Context, spec StartSpec) (miner.StartRequest, error) {
	var req miner.StartRequest
	if spec.ProfileID != "" {
		if n.profiles == nil {
			return req, fmt.Errorf("%w: this node has no stored profiles", ErrRemoteNotFound)
		}
		r, err := n.profiles.StartRequest(ctx, spec.ProfileID)
		if err != nil {
			return req, err
		}
		req = r
	} else {
		req = miner.StartRequest{Type: spec.Type, Profile: *spec.Profile}
	}
	req.Binary = ""
	if spec.Name != "" {
		req.Name = spec.Name
	}
	if spec.Autostart != nil {
		req.Autostart = spec.Autostart
	}
	return req, nil
}

// forPeers is one miner's description as it leaves this node: the pool
// passwords blanked (they are often account credentials, and an observer
// may read stats), under the message limit.
func forPeers(info miner.Info) miner.Info {
	if len(info.Profile.Pools) > 0 {
		pools := slices.Clone(info.Profile.Pools)
		for i := range pools {
			if pools[i].Pass != "" {
				pools[i].Pass = redacted
			}
		}
		info.Profile.Pools = pools
	}
	return shrinkInfo(info)
}

// redacted replaces a secret in what is sent to peers.
const redacted = "(redacted)"

// shrinkInfo keeps one miner's description under the message limit.
func shrinkInfo(info miner.Info) miner.Info {
	if b, err := json.Marshal(info); err == nil && len(b) <= maxBody-1024 {
		return info
	}
	small := miner.Info{Name: info.Name, Type: info.Type, State: info.State, PID: info.PID,
		StartedAt: info.StartedAt, Restarts: info.Restarts, Version: info.Version,
		ProfileID: info.ProfileID, Message: "details too large for a peer message"}
	small.Stats.HashrateHS = info.Stats.HashrateHS
	small.Stats.Accepted = info.Stats.Accepted
	small.Stats.Rejected = info.Stats.Rejected
	return small
}

// pack splits raw JSON items into parts of at most budget bytes each (at
// least one part, possibly empty).
func pack(items []json.RawMessage, budget int) [][]json.RawMessage {
	var parts [][]json.RawMessage
	var cur []json.RawMessage
	size := 0
	for _, it := range items {
		if size+len(it)+1 > budget && len(cur) > 0 {
			parts = append(parts, cur)
			cur, size = nil, 0
		}
		cur = append(cur, it)
		size += len(it) + 1
	}
	return append(parts, cur)
}

func (n *Node) getStats() []outMsg {
	infos := n.local.List()
	items := make([]json.RawMessage, 0, len(infos))
	for _, info := range infos {
		b, err := json.Marshal(forPeers(info))
		if err != nil {
			continue
		}
		items = append(items, b)
	}
	node := nodeSummary{ID: n.id, Name: n.cfg.Name, Role: n.cfg.Role}
	parts := pack(items, maxBody-1024)
	out := make([]outMsg, 0, len(parts))
	for i, part := range parts {
		b, err := json.Marshal(struct {
			Node   nodeSummary       `json:"node"`
			Miners []json.RawMessage `json:"miners"`
			More   bool              `json:"more,omitempty"`
		}{node, nonNil(part), i < len(parts)-1})
		if err != nil {
			return errReply(codeInternal, "encode stats")
		}
		out = append(out, outMsg{typ: msgResult, body: b})
	}
	return out
}

func nonNil(p []json.RawMessage) []json.RawMessage {
	if p == nil {
		return []json.RawMessage{}
	}
	return p
}

func (n *Node) getLogs(body json.RawMessage) []outMsg {
	var q logsRequest
	if err := decodeBody(body, &q); err != nil {
		return errReply(codeBadRequest, err.Error())
	}
	if err := miner.ValidateName(q.Miner); err != nil {
		return errReply(codeBadRequest, err.Error())
	}
	if q.Lines <= 0 {
		q.Lines = 100
	}
	q.Lines = min(q.Lines, MaxLogLines)
	lines, err := n.local.Logs(q.Miner, miner.LogQuery{Lines: q.Lines, Since: q.Since, Strip: q.Strip})
	if err != nil {
		code, msg := wireError(err)
		return errReply(code, msg)
	}
	if len(lines) > q.Lines {
		lines = lines[len(lines)-q.Lines:]
	}
	items := make([]json.RawMessage, len(lines))
	total := 0
	for i, l := range lines {
		if len(l.Text) > maxLineText {
			l.Text = strings.ToValidUTF8(l.Text[:maxLineText], "")
			l.Truncated = true
		}
		b, err := json.Marshal(l)
		if err != nil {
			return errReply(codeInternal, "encode logs")
		}
		items[i] = b
		total += len(b)
	}
	truncated := false
	for total > maxLogBytes && len(items) > 0 {
		total -= len(items[0])
		items = items[1:]
		truncated = true
	}
	parts := pack(items, maxBody-256)
	out := make([]outMsg, 0, len(parts))
	for i, part := range parts {
		b, err := json.Marshal(struct {
			Lines     []json.RawMessage `json:"lines"`
			More      bool              `json:"more,omitempty"`
			Truncated bool              `json:"truncated,omitempty"`
		}{nonNil(part), i < len(parts)-1, truncated})
		if err != nil {
			return errReply(codeInternal, "encode logs")
		}
		out = append(out, outMsg{typ: msgResult, body: b})
	}
	return out
}

// --- the requester's API ---

// RemoteStats is one peer's answer to a stats fan-out (the REST
// /remote/stats array element).
type RemoteStats struct {
	NodeID NodeID `json:"node_id"`
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	// Error says why OK is false ("" when it is true).
	Error  string       `json:"error"`
	Miners []miner.Info `json:"miners"`
	// Err is the error behind Error, for errors.Is.
	Err error `json:"-"`
}

// withTimeout applies d unless ctx already ends sooner.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Ping measures the round trip to a connected peer.
func (n *Node) Ping(ctx context.Context, id string) (time.Duration, error) {
	nid, err := n.resolve(id)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withTimeout(ctx, n.cfg.StatsTimeout)
	defer cancel()
	start := time.Now()
	if _, err := n.call(ctx, nid, msgPing, "", struct{}{}); err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	n.mu.Lock()
	if p := n.peers[nid]; p != nil {
		p.rtt = rtt
	}
	n.mu.Unlock()
	return rtt, nil
}

// RemoteStatsOf asks one peer for its miners with their stats. The error
// is also in the result (OK false).
func (n *Node) RemoteStatsOf(ctx context.Context, id string) (RemoteStats, error) {
	nid, err := n.resolve(id)
	if err != nil {
		return RemoteStats{Miners: []miner.Info{}, Error: err.Error(), Err: err}, err
	}
	rs := n.remoteStats(ctx, nid)
	return rs, rs.Err
}

func (n *Node) remoteStats(ctx context.Context, id NodeID) RemoteStats {
	n.mu.Lock()
	rs := RemoteStats{NodeID: id, Miners: []miner.Info{}}
	if p := n.peers[id]; p != nil {
		rs.Name = p.rec.Name
	}
	n.mu.Unlock()
	ctx, cancel := withTimeout(ctx, n.cfg.StatsTimeout)
	defer cancel()
	parts, err := n.call(ctx, id, msgGetStats, "", struct{}{})
	for _, part := range parts {
		var r statsResult
		if err = json.Unmarshal(part.Body, &r); err != nil {
			err = fmt.Errorf("%w: bad stats from %s: %v", ErrRemoteFailed, id.Short(), err)
			break
		}
		if r.Node.Name != "" {
			rs.Name = r.Node.Name
		}
		rs.Miners = append(rs.Miners, r.Miners...)
	}
	if err != nil {
		rs.Miners = []miner.Info{}
		rs.Error, rs.Err = err.Error(), err
		return rs
	}
	rs.OK = true
	return rs
}

// RemoteStats asks every peer for its stats in parallel, each with its
// own StatsTimeout, and returns one entry per peer sorted by name:
// unreachable, disconnected or refusing peers are marked OK false with
// the reason. Peers known to grant this node no role (RoleNone) are left
// out.
func (n *Node) RemoteStats(ctx context.Context) []RemoteStats {
	n.mu.Lock()
	ids := make([]NodeID, 0, len(n.peers))
	for id, p := range n.peers {
		if p.remoteRole == RoleNone {
			continue
		}
		ids = append(ids, id)
	}
	n.mu.Unlock()
	out := make([]RemoteStats, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i] = n.remoteStats(ctx, id) })
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b RemoteStats) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.NodeID.String(), b.NodeID.String())
	})
	return out
}

// RemoteStart starts a miner on a peer (controller role needed there).
func (n *Node) RemoteStart(ctx context.Context, id string, spec StartSpec) (miner.Info, error) {
	if err := spec.validate(); err != nil {
		return miner.Info{}, err
	}
	return n.minerCommand(ctx, id, msgStartMiner, spec.CommandID, spec)
}

// RemoteStop stops a miner on a peer.
func (n *Node) RemoteStop(ctx context.Context, id, name string) (miner.Info, error) {
	if err := miner.ValidateName(name); err != nil {
		return miner.Info{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return n.minerCommand(ctx, id, msgStopMiner, "", nameRequest{Name: name})
}

// RemoteRestart stops and starts a miner on a peer with the same profile.
func (n *Node) RemoteRestart(ctx context.Context, id, name string) (miner.Info, error) {
	if err := miner.ValidateName(name); err != nil {
		return miner.Info{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return n.minerCommand(ctx, id, msgRestartMiner, "", nameRequest{Name: name})
}

func (n *Node) minerCommand(ctx context.Context, id, typ, cmdID string, body any) (miner.Info, error) {
	nid, err := n.resolve(id)
	if err != nil {
		return miner.Info{}, err
	}
	ctx, cancel := withTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	parts, err := n.call(ctx, nid, typ, cmdID, body)
	if err != nil {
		return miner.Info{}, err
	}
	var r minerResult
	if err := json.Unmarshal(parts[0].Body, &r); err != nil {
		return miner.Info{}, fmt.Errorf("%w: bad answer from %s: %v", ErrRemoteFailed, nid.Short(), err)
	}
	return r.Miner, nil
}

// RemoteLogs returns a miner's latest log lines from a peer (at most
// MaxLogLines; q.Lines <= 0 means 100).
func (n *Node) RemoteLogs(ctx context.Context, id, minerName string, q miner.LogQuery) ([]miner.LogLine, error) {
	if err := miner.ValidateName(minerName); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if q.Lines > MaxLogLines {
		return nil, fmt.Errorf("%w: at most %d lines", ErrInvalidRequest, MaxLogLines)
	}
	nid, err := n.resolve(id)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	parts, err := n.call(ctx, nid, msgGetLogs, "", logsRequest{Miner: minerName, Lines: q.Lines, Since: q.Since, Strip: q.Strip})
	if err != nil {
		return nil, err
	}
	out := []miner.LogLine{}
	for _, part := range parts {
		var r logsResult
		if err := json.Unmarshal(part.Body, &r); err != nil {
			return nil, fmt.Errorf("%w: bad logs from %s: %v", ErrRemoteFailed, nid.Short(), err)
		}
		out = append(out, r.Lines...)
		if len(out) > MaxLogLines {
			return nil, fmt.Errorf("%w: %s sent over %d lines", ErrRemoteFailed, nid.Short(), MaxLogLines)
		}
	}
	return out, nil
}
