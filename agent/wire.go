package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rigd/rigd/adapters"
	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/peers"
	"github.com/rigd/rigd/router"
	"github.com/rigd/rigd/sdk/abi"
)

// The adapters between the packages the composition root wires together:
// each turns one package's API and errors into the port another declares.

// installService puts agent/install behind router.Installer and
// miner.Binaries.
type installService struct {
	in  *install.Installer
	cat *adapters.Catalog
	log *slog.Logger
}

var (
	_ router.Installer = (*installService)(nil)
	_ miner.Binaries   = (*installService)(nil)
)

// classed gives err the API class of a sentinel (its status and code)
// and keeps err's own message: a reused invite is a 409 saying "peers:
// invite already used", not "miner: name already in use: peers: ...".
func classed(class, err error) error { return &classedError{class: class, err: err} }

type classedError struct{ class, err error }

func (e *classedError) Error() string   { return e.err.Error() }
func (e *classedError) Unwrap() []error { return []error{e.class, e.err} }

// installErr maps the installer's conditions onto the API's, for a
// download from the release source.
func installErr(err error) error { return installErrFrom(err, false) }

// installErrFrom is installErr; local says the archive or binary was the
// caller's own file (install from), whose faults are the caller's (400),
// where a release's are the release source's (502).
func installErrFrom(err error, local bool) error {
	bad := func(code string) error {
		if local {
			return classed(miner.ErrInvalidInput, err)
		}
		return &router.Error{Status: http.StatusBadGateway, Code: code, Msg: err.Error()}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, install.ErrNotInstalled), errors.Is(err, install.ErrNotFound), errors.Is(err, install.ErrNoAsset):
		return classed(miner.ErrNotFound, err)
	case errors.Is(err, install.ErrInvalidVersion), errors.Is(err, install.ErrInvalidType), errors.Is(err, fs.ErrNotExist):
		return classed(miner.ErrInvalidInput, err)
	case errors.Is(err, install.ErrVersionInstalled):
		return classed(miner.ErrConflict, err)
	case errors.Is(err, install.ErrVersionProbe) && local:
		// The user's own file that does not run as this miner.
		return classed(miner.ErrInvalidInput, err)
	case errors.Is(err, install.ErrUnsupportedArchive), errors.Is(err, install.ErrNoBinary),
		errors.Is(err, install.ErrUnsafeEntry), errors.Is(err, install.ErrTooLarge), errors.Is(err, install.ErrVersionProbe):
		return bad("release_invalid")
	case errors.Is(err, install.ErrChecksumMismatch):
		return bad("checksum_mismatch")
	case errors.Is(err, install.ErrNotListed):
		return bad("checksum_not_listed")
	case errors.Is(err, install.ErrPinMismatch):
		return bad("pin_mismatch")
	case errors.Is(err, install.ErrTruncated):
		return bad("download_truncated")
	case errors.Is(err, install.ErrRateLimited):
		return &router.Error{Status: http.StatusServiceUnavailable, Code: "release_source_rate_limited", Msg: err.Error()}
	case errors.Is(err, install.ErrUnavailable):
		return &router.Error{Status: http.StatusBadGateway, Code: "release_source_unavailable", Msg: err.Error()}
	}
	return err
}

func (s *installService) meta(ctx context.Context, typ string) (abi.Metadata, error) {
	return s.cat.Metadata(ctx, typ)
}

func (s *installService) Install(ctx context.Context, typ string, req router.InstallRequest, progress func(router.InstallProgress)) (router.InstalledMiner, error) {
	meta, err := s.meta(ctx, typ)
	if err != nil {
		return router.InstalledMiner{}, err
	}
	var inst install.Installed
	if req.From != "" {
		inst, err = s.in.InstallFrom(ctx, meta, req.From, nil)
	} else {
		inst, err = s.in.Install(ctx, meta, req.Version, func(p install.Progress) {
			if progress != nil {
				progress(router.InstallProgress{Type: typ, File: p.File, Bytes: p.Bytes, Total: p.Total, Rate: p.Rate, ETAS: p.ETA.Seconds(), Done: p.Done})
			}
		})
	}
	if err != nil {
		// The caller gets the error; the agent's log keeps it too (a
		// checksum mismatch is worth finding later).
		s.log.Warn("install failed", "type", typ, "version", req.Version, "from", req.From, "err", err)
		return router.InstalledMiner{}, installErrFrom(err, req.From != "")
	}
	return installedOf(inst), nil
}

func (s *installService) Uninstall(ctx context.Context, typ, version string) error {
	return installErr(s.in.Uninstall(ctx, typ, version))
}

func (s *installService) Installed(ctx context.Context, typ string) ([]router.InstalledMiner, error) {
	list, err := s.in.Installed(typ)
	if errors.Is(err, install.ErrNotInstalled) {
		return []router.InstalledMiner{}, nil
	}
	if err != nil {
		return nil, installErr(err)
	}
	out := make([]router.InstalledMiner, len(list))
	for i, x := range list {
		out[i] = installedOf(x)
	}
	return out, nil
}

func (s *installService) Latest(ctx context.Context, typ string) (router.LatestRelease, error) {
	meta, err := s.meta(ctx, typ)
	if err != nil {
		return router.LatestRelease{}, err
	}
	l, err := s.in.Latest(ctx, meta)
	if err != nil {
		return router.LatestRelease{}, installErr(err)
	}
	return router.LatestRelease{Version: l.Version, Tag: l.Tag, CheckedAt: l.CheckedAt, Cached: l.Cached}, nil
}

func (s *installService) CheckUpdates(ctx context.Context, typ string) (router.UpdateInfo, error) {
	meta, err := s.meta(ctx, typ)
	if err != nil {
		return router.UpdateInfo{}, err
	}
	u, err := s.in.CheckUpdates(ctx, meta)
	if err != nil {
		return router.UpdateInfo{}, installErr(err)
	}
	return router.UpdateInfo{Type: typ, Current: u.Current, Available: u.Available,
		Latest: router.LatestRelease{Version: u.Latest.Version, Tag: u.Latest.Tag, CheckedAt: u.Latest.CheckedAt, Cached: u.Latest.Cached}}, nil
}

// Binary implements miner.Binaries: the current installed binary, its
// digest checked against the one recorded at install time.
func (s *installService) Binary(_ context.Context, typ string) (string, string, error) {
	path, version, err := s.in.Binary(typ)
	if errors.Is(err, install.ErrNotInstalled) {
		return "", "", fmt.Errorf("%w: %s is not installed (rigd install %s, or give a \"binary\" path)", miner.ErrNoBinary, typ, typ)
	}
	if err != nil {
		return "", "", err
	}
	if err := s.in.Verify(typ, version); err != nil {
		var de *install.DigestError
		if errors.As(err, &de) {
			return "", "", fmt.Errorf("%w: refusing to start %s %s: the binary changed since it was installed (%v); reinstall it with rigd install %s --version %s", miner.ErrNoBinary, typ, version, err, typ, version)
		}
		return "", "", err
	}
	return path, version, nil
}

// adapterFiles puts the catalog's uploads behind router.AdapterFiles.
type adapterFiles struct{ cat *adapters.Catalog }

func (a adapterFiles) Add(ctx context.Context, filename string, wasm, fixtures []byte) (miner.AdapterInfo, error) {
	info, err := a.cat.Install(ctx, wasm, fixtures)
	var le *adapters.LoadError
	var ce *adapters.CallError
	if errors.As(err, &le) || errors.As(err, &ce) || errors.Is(err, adapters.ErrNotAllowed) {
		return info, classed(miner.ErrInvalidInput, err)
	}
	return info, err
}

func (a adapterFiles) Remove(ctx context.Context, name string) error {
	err := a.cat.Remove(ctx, name)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, miner.ErrUnknownType):
		return fmt.Errorf("%w: adapter %q", miner.ErrNotFound, name)
	case errors.Is(err, adapters.ErrBuiltin):
		return classed(miner.ErrConflict, err)
	}
	return err
}

func (a adapterFiles) Rollback(ctx context.Context, name string) (miner.AdapterInfo, error) {
	info, err := a.cat.Rollback(ctx, name)
	switch {
	case errors.Is(err, adapters.ErrNoGeneration):
		return info, classed(miner.ErrConflict, err)
	case errors.Is(err, miner.ErrUnknownType):
		return info, fmt.Errorf("%w: adapter %q", miner.ErrNotFound, name)
	}
	return info, err
}

// peersAPI puts a peers.Node behind router.Peers and router.Remote.
type peersAPI struct{ n *peers.Node }

var (
	_ router.Peers  = peersAPI{}
	_ router.Remote = peersAPI{}
)

// peerErr maps the peers package's conditions onto the API's.
func peerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, peers.ErrUnknownPeer), errors.Is(err, peers.ErrRemoteNotFound):
		return classed(miner.ErrNotFound, err)
	case errors.Is(err, peers.ErrInvalidID), errors.Is(err, peers.ErrInvalidRole), errors.Is(err, peers.ErrInvalidRequest),
		errors.Is(err, peers.ErrInvalidAddress), errors.Is(err, peers.ErrInviteInvalid), errors.Is(err, peers.ErrInviteExpired):
		return classed(miner.ErrInvalidInput, err)
	case errors.Is(err, peers.ErrForbidden), errors.Is(err, peers.ErrUnauthorized):
		return fmt.Errorf("%w: %v", router.ErrForbidden, err)
	case errors.Is(err, peers.ErrNotConnected), errors.Is(err, peers.ErrConflict), errors.Is(err, peers.ErrInviteUsed), errors.Is(err, peers.ErrNoListener):
		return classed(miner.ErrConflict, err)
	case errors.Is(err, peers.ErrRateLimited), errors.Is(err, peers.ErrTooManyInvites):
		return &router.Error{Status: http.StatusTooManyRequests, Code: router.CodeRateLimited, Msg: err.Error()}
	case errors.Is(err, peers.ErrPeerMismatch), errors.Is(err, peers.ErrHandshake), errors.Is(err, peers.ErrRemoteFailed):
		return &router.Error{Status: http.StatusBadGateway, Code: "peer_failed", Msg: err.Error()}
	}
	return err
}

func peerOf(p peers.PeerInfo) router.Peer {
	out := router.Peer{ID: p.ID.String(), Name: p.Name, Address: p.Address, Role: string(p.Role), AddedAt: p.Added,
		Connected: p.Connected, LastSeen: p.LastSeen}
	if p.RTT > 0 {
		ms := float64(p.RTT) / float64(time.Millisecond)
		out.RTTMS = &ms
	}
	return out
}

func (p peersAPI) Node(context.Context) (router.NodeInfo, error) {
	i := p.n.Info()
	m := p.n.Metrics()
	return router.NodeInfo{NodeID: i.ID.String(), ShortID: i.ShortID, Name: i.Name, Role: string(i.Role),
		Listen: i.Listen, Peers: m.Peers, Connected: m.Connected, RefusedConnections: m.RefusedPreAuth}, nil
}

func (p peersAPI) Peers(context.Context) ([]router.Peer, error) {
	list := p.n.Peers()
	out := make([]router.Peer, len(list))
	for i, x := range list {
		out[i] = peerOf(x)
	}
	return out, nil
}

func (p peersAPI) Pending(context.Context) ([]router.PendingPeer, error) {
	list := p.n.Pending()
	out := make([]router.PendingPeer, len(list))
	for i, x := range list {
		out[i] = router.PendingPeer{ID: x.ID.String(), Address: x.Address, FirstSeen: x.FirstSeen, LastSeen: x.LastSeen, Count: x.Count}
	}
	return out, nil
}

func (p peersAPI) Invite(_ context.Context, req router.InviteRequest) (router.Invite, error) {
	role := peers.RoleObserver
	if req.Role != "" {
		r, err := peers.ParseRole(req.Role)
		if err != nil {
			return router.Invite{}, peerErr(err)
		}
		role = r
	}
	inv, err := p.n.Invite(role)
	if err != nil {
		return router.Invite{}, peerErr(err)
	}
	return router.Invite{Invite: inv.Code, NodeID: inv.NodeID.String(), Address: inv.Address, Role: string(inv.Role), ExpiresAt: inv.Expires}, nil
}

func (p peersAPI) AddPeer(ctx context.Context, req router.AddPeerRequest) (router.Peer, error) {
	if req.Address == "" || req.Invite == "" {
		return router.Peer{}, fmt.Errorf("%w: address and invite are required", miner.ErrInvalidInput)
	}
	pi, err := p.n.AddPeer(ctx, req.Address, req.Invite)
	out := peerOf(pi)
	if errors.Is(err, peers.ErrPendingApproval) {
		out.Pending, err = true, nil
	}
	return out, peerErr(err)
}

func (p peersAPI) ApprovePeer(ctx context.Context, id string, req router.ApproveRequest) (router.Peer, error) {
	role, err := peers.ParseRole(req.Role)
	if err != nil {
		return router.Peer{}, peerErr(err)
	}
	pi, err := p.n.Approve(ctx, id, role)
	return peerOf(pi), peerErr(err)
}

func (p peersAPI) RemovePeer(ctx context.Context, id string) error {
	return peerErr(p.n.RemovePeer(ctx, id))
}

func (p peersAPI) Ping(ctx context.Context, id string) (router.PingResult, error) {
	d, err := p.n.Ping(ctx, id)
	if err != nil {
		return router.PingResult{}, peerErr(err)
	}
	return router.PingResult{ID: id, RTTMS: float64(d) / float64(time.Millisecond)}, nil
}

func remoteNodeOf(r peers.RemoteStats) router.RemoteNode {
	miners := r.Miners
	if miners == nil {
		miners = []miner.Info{}
	}
	return router.RemoteNode{NodeID: r.NodeID.String(), Name: r.Name, OK: r.OK, Error: r.Error, Miners: miners}
}

func (p peersAPI) Stats(ctx context.Context, peer string) ([]router.RemoteNode, error) {
	if peer == "" {
		list := p.n.RemoteStats(ctx)
		out := make([]router.RemoteNode, len(list))
		for i, r := range list {
			out[i] = remoteNodeOf(r)
		}
		return out, nil
	}
	// One peer: its failure is the answer's (403 for a role, 502 for a
	// peer that failed...), not a 200 marked ok:false as in the fan-out.
	r, err := p.n.RemoteStatsOf(ctx, peer)
	if err != nil {
		return nil, peerErr(err)
	}
	return []router.RemoteNode{remoteNodeOf(r)}, nil
}

func (p peersAPI) Start(ctx context.Context, peer string, req router.RemoteStartRequest) (miner.Info, error) {
	info, err := p.n.RemoteStart(ctx, peer, peers.StartSpec{ProfileID: req.ProfileID, Type: req.Type, Profile: req.Profile, Name: req.Name})
	return info, peerErr(err)
}

func (p peersAPI) Stop(ctx context.Context, peer, name string) (miner.Info, error) {
	info, err := p.n.RemoteStop(ctx, peer, name)
	return info, peerErr(err)
}

func (p peersAPI) Logs(ctx context.Context, peer, name string, lines int) ([]miner.LogLine, error) {
	l, err := p.n.RemoteLogs(ctx, peer, name, miner.LogQuery{Lines: lines})
	return l, peerErr(err)
}

// peerStore keeps the P2P allow-list and sequence counters in the agent's
// settings (peers.Store over miner.Store).
type peerStore struct {
	s  miner.Store
	mu sync.Mutex // serialises read-modify-write of the peer list
}

var _ peers.Store = (*peerStore)(nil)

const peerListKey = "p2p.peers"

func (p *peerStore) load(ctx context.Context) (map[string]peers.PeerRecord, error) {
	m := map[string]peers.PeerRecord{}
	err := p.s.GetSetting(ctx, peerListKey, &m)
	if errors.Is(err, miner.ErrStoreNotFound) {
		return map[string]peers.PeerRecord{}, nil
	}
	return m, err
}

func (p *peerStore) Peers(ctx context.Context) ([]peers.PeerRecord, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]peers.PeerRecord, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out, nil
}

func (p *peerStore) PutPeer(ctx context.Context, r peers.PeerRecord) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.load(ctx)
	if err != nil {
		return err
	}
	m[r.ID.String()] = r
	return p.s.PutSetting(ctx, peerListKey, m)
}

func (p *peerStore) DeletePeer(ctx context.Context, id peers.NodeID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.load(ctx)
	if err != nil {
		return err
	}
	delete(m, id.String())
	return p.s.PutSetting(ctx, peerListKey, m)
}

func seqKey(id peers.NodeID, kind peers.SeqKind) string {
	return "p2p.seq." + id.String() + "." + string(kind)
}

func (p *peerStore) LoadSeq(ctx context.Context, id peers.NodeID, kind peers.SeqKind) (uint64, error) {
	var s string
	err := p.s.GetSetting(ctx, seqKey(id, kind), &s)
	if errors.Is(err, miner.ErrStoreNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}

func (p *peerStore) SaveSeq(ctx context.Context, id peers.NodeID, kind peers.SeqKind, v uint64) error {
	return p.s.PutSetting(ctx, seqKey(id, kind), strconv.FormatUint(v, 10))
}

func (p *peerStore) AddAudit(ctx context.Context, e miner.AuditEntry) error {
	return p.s.AddAudit(ctx, e)
}
