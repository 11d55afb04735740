package router

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

const p2pMissing = "P2P is not available in this agent yet"

func (a *API) peers() (Peers, error) {
	if a.cfg.Peers == nil {
		return nil, notImplemented(p2pMissing)
	}
	return a.cfg.Peers, nil
}

func (a *API) remote() (Remote, error) {
	if a.cfg.Remote == nil {
		return nil, notImplemented(p2pMissing)
	}
	return a.cfg.Remote, nil
}

// peerParam returns a validated peer id or name from the path.
func peerParam(ps httprouter.Params, key string) (string, error) {
	id := ps.ByName(key)
	if err := validID(id); err != nil {
		return "", fmt.Errorf("peer: %w", err)
	}
	return id, nil
}

func (a *API) nodeInfo(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := a.peers()
	if err != nil {
		return err
	}
	n, err := p.Node(r.Context())
	if err != nil {
		return fmt.Errorf("node info: %w", err)
	}
	return reply(w, http.StatusOK, n)
}

func (a *API) invite(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req InviteRequest
	if err := a.decodeOptional(w, r, &req); err != nil {
		return err
	}
	p, err := a.peers()
	if err != nil {
		return err
	}
	inv, err := p.Invite(r.Context(), req)
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return reply(w, http.StatusCreated, inv)
}

func (a *API) pendingPeers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := a.peers()
	if err != nil {
		return err
	}
	list, err := p.Pending(r.Context())
	if err != nil {
		return fmt.Errorf("pending peers: %w", err)
	}
	if list == nil {
		list = []PendingPeer{}
	}
	return reply(w, http.StatusOK, list)
}

func (a *API) listPeers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := a.peers()
	if err != nil {
		return err
	}
	list, err := p.Peers(r.Context())
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	if list == nil {
		list = []Peer{}
	}
	return reply(w, http.StatusOK, list)
}

func (a *API) addPeer(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req AddPeerRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if req.Address == "" || req.Invite == "" {
		return apiError(http.StatusBadRequest, CodeBadRequest, `"address" and "invite" are required (see rigd peers invite on the other node)`)
	}
	p, err := a.peers()
	if err != nil {
		return err
	}
	peer, err := p.AddPeer(r.Context(), req)
	if err != nil {
		return fmt.Errorf("add peer %s: %w", req.Address, err)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(timeNowPlus(a.cfg.WriteTimeout))
	if peer.Pending {
		return reply(w, http.StatusAccepted, peer)
	}
	return reply(w, http.StatusCreated, peer)
}

func (a *API) removePeer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := peerParam(ps, "id")
	if err != nil {
		return err
	}
	p, err := a.peers()
	if err != nil {
		return err
	}
	if err := p.RemovePeer(r.Context(), id); err != nil {
		return fmt.Errorf("remove peer %s: %w", id, err)
	}
	return reply(w, http.StatusOK, Deleted{Deleted: id})
}

func (a *API) pingPeer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := peerParam(ps, "id")
	if err != nil {
		return err
	}
	p, err := a.peers()
	if err != nil {
		return err
	}
	res, err := p.Ping(r.Context(), id)
	if err != nil {
		return fmt.Errorf("ping peer %s: %w", id, err)
	}
	return reply(w, http.StatusOK, res)
}

func (a *API) approvePeer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := peerParam(ps, "id")
	if err != nil {
		return err
	}
	var req ApproveRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if req.Role == "" {
		return apiError(http.StatusBadRequest, CodeBadRequest, `"role" is required (observer or controller)`)
	}
	p, err := a.peers()
	if err != nil {
		return err
	}
	peer, err := p.ApprovePeer(r.Context(), id, req)
	if err != nil {
		return fmt.Errorf("approve peer %s: %w", id, err)
	}
	return reply(w, http.StatusOK, peer)
}

func (a *API) remoteStatsAll(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	rm, err := a.remote()
	if err != nil {
		return err
	}
	nodes, err := rm.Stats(r.Context(), "")
	if err != nil {
		return fmt.Errorf("remote stats: %w", err)
	}
	if nodes == nil {
		nodes = []RemoteNode{}
	}
	return reply(w, http.StatusOK, nodes)
}

func (a *API) remoteStats(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	peer, err := peerParam(ps, "peer")
	if err != nil {
		return err
	}
	rm, err := a.remote()
	if err != nil {
		return err
	}
	nodes, err := rm.Stats(r.Context(), peer)
	if err != nil {
		return fmt.Errorf("remote stats of %s: %w", peer, err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("%w: peer %q", miner.ErrNotFound, peer)
	}
	return reply(w, http.StatusOK, nodes[0])
}

func (a *API) remoteStart(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	peer, err := peerParam(ps, "peer")
	if err != nil {
		return err
	}
	var req RemoteStartRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.ProfileID == "" && (req.Type == "" || req.Profile == nil):
		return apiError(http.StatusBadRequest, CodeBadRequest, `give "profile_id" or "type" and "profile"`)
	case req.ProfileID != "" && (req.Type != "" || req.Profile != nil):
		return apiError(http.StatusBadRequest, CodeBadRequest, `give either "profile_id" or "type" and "profile", not both`)
	case req.Name != "":
		if err := miner.ValidateName(req.Name); err != nil {
			return err
		}
	}
	rm, err := a.remote()
	if err != nil {
		return err
	}
	info, err := rm.Start(r.Context(), peer, req)
	if err != nil {
		return fmt.Errorf("start on %s: %w", peer, err)
	}
	return reply(w, http.StatusCreated, info)
}

func (a *API) remoteStop(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	peer, err := peerParam(ps, "peer")
	if err != nil {
		return err
	}
	var req RemoteStopRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := miner.ValidateName(req.Name); err != nil {
		return err
	}
	rm, err := a.remote()
	if err != nil {
		return err
	}
	info, err := rm.Stop(r.Context(), peer, req.Name)
	if err != nil {
		return fmt.Errorf("stop %q on %s: %w", req.Name, peer, err)
	}
	return reply(w, http.StatusOK, info)
}

func (a *API) remoteLogs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	peer, err := peerParam(ps, "peer")
	if err != nil {
		return err
	}
	name := ps.ByName("miner")
	if err := miner.ValidateName(name); err != nil {
		return err
	}
	n, err := intParam(r.URL.Query().Get("lines"), 100, 1, 10000, "lines")
	if err != nil {
		return err
	}
	rm, err := a.remote()
	if err != nil {
		return err
	}
	lines, err := rm.Logs(r.Context(), peer, name, n)
	if err != nil {
		return fmt.Errorf("logs of %q on %s: %w", name, peer, err)
	}
	if lines == nil {
		lines = []miner.LogLine{}
	}
	return reply(w, http.StatusOK, RemoteLogs{Peer: peer, Miner: name, Lines: lines})
}
