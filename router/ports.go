package router

import (
	"context"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// The services the API uses, each declared here with the few methods its
// routes call. Only Miners is required; a nil service makes its routes
// answer 501 not_implemented with a message naming what is missing.

// Miners is what the API needs from the miner Manager.
type Miners interface {
	Start(ctx context.Context, req miner.StartRequest) (miner.Info, error)
	Stop(ctx context.Context, name string) (miner.Info, error)
	List() []miner.Info
	Get(name string) (miner.Info, error)
	Logs(name string, q miner.LogQuery) ([]miner.LogLine, error)
	SendInput(ctx context.Context, name, text string) error
	HashrateHistory(name string) (miner.HashrateHistory, error)
	// Incidents lists the watchdog's incidents of a miner, also after it
	// stopped.
	Incidents(name string) ([]miner.Incident, error)
}

// Events is the event bus GET /events streams from; *miner.Bus fits.
type Events interface {
	Subscribe(n int, filter func(*miner.Event) bool) *miner.Subscription
}

// Profiles stores profiles validated by their adapter; *miner.Profiles
// fits.
type Profiles interface {
	List(ctx context.Context) ([]miner.StoredProfile, error)
	Get(ctx context.Context, id string) (miner.StoredProfile, error)
	Create(ctx context.Context, in miner.ProfileInput) (miner.StoredProfile, error)
	Update(ctx context.Context, id string, in miner.ProfileInput) (miner.StoredProfile, error)
	Delete(ctx context.Context, id string) error
	StartRequest(ctx context.Context, id string) (miner.StartRequest, error)
}

// History is the stored hashrate history; miner.History (kv.Store) fits.
// Without it the history routes answer from the Manager's in-memory
// history (the last 24 h of running miners).
type History interface {
	Query(ctx context.Context, q miner.HistoryQuery) ([]miner.HistoryPoint, error)
	Summary(ctx context.Context, series string) (miner.HistorySummary, error)
	Series(ctx context.Context) ([]string, error)
}

// Adapters lists the adapter catalog (GET /adapters, GET
// /miners/available); *adapters.Catalog fits.
type Adapters interface {
	List() []miner.AdapterInfo
}

// AdapterFiles adds and removes drop-in adapters (POST /adapters, DELETE
// /adapters/:name).
//
// Add validates wasm statically, reads its metadata and self-tests it,
// and only then writes it atomically into the adapters directory as
// <name>.wasm and publishes it in the catalog; a module that fails any
// step leaves nothing behind and returns an error wrapping
// miner.ErrInvalidInput (400). filename is the client's file name, for
// messages only. Remove deletes the drop-in <name>.wasm and unloads it (a
// built-in of the same name becomes current again); an unknown name wraps
// miner.ErrNotFound (404), a built-in without a drop-in wraps
// miner.ErrConflict (409).
type AdapterFiles interface {
	// Add validates, installs and publishes a module, with its fixtures
	// (NAME.tests.json) when not nil.
	Add(ctx context.Context, filename string, wasm, fixtures []byte) (miner.AdapterInfo, error)
	Remove(ctx context.Context, name string) error
	// Rollback makes the previous generation of name current again; no
	// earlier generation wraps miner.ErrConflict (409).
	Rollback(ctx context.Context, name string) (miner.AdapterInfo, error)
}

// Installer installs miner binaries (agent/install behind an adapter in
// the agent). Errors: an unknown type wraps miner.ErrUnknownType (400), a
// version or release that does not exist or is not installed wraps
// miner.ErrNotFound (404), a bad request (bad version string, a From path
// that does not exist) wraps miner.ErrInvalidInput (400); anything else
// (download or checksum failures) is a 500 with the installer's message.
type Installer interface {
	// Install installs req.Version (latest if empty) of typ, or the local
	// archive, binary or directory req.From, and makes it current.
	// progress, if non-nil, is called during downloads (at most every
	// 200 ms and once at the end).
	Install(ctx context.Context, typ string, req InstallRequest, progress func(InstallProgress)) (InstalledMiner, error)
	// Uninstall removes version of typ ("" for every version). The API
	// stops the type's running miners before calling it.
	Uninstall(ctx context.Context, typ, version string) error
	// Installed lists the installed versions of typ (empty if none).
	Installed(ctx context.Context, typ string) ([]InstalledMiner, error)
	// Latest returns the newest release known (a cached answer is fine);
	// the API bounds ctx to a few seconds when it lists types.
	Latest(ctx context.Context, typ string) (LatestRelease, error)
	// CheckUpdates compares the current version with the latest release.
	CheckUpdates(ctx context.Context, typ string) (UpdateInfo, error)
}

// System describes the agent for GET /info and GET /ready.
type System interface {
	Info(ctx context.Context) (SystemInfo, error)
	// Ready reports each subsystem (storage, adapters, p2p).
	Ready(ctx context.Context) []Check
}

// Peers is this node's P2P identity and its peer list (the peers
// package behind an adapter in the agent). Unknown ids wrap
// miner.ErrNotFound (404); a bad address or invite wraps
// miner.ErrInvalidInput (400); an id already paired wraps
// miner.ErrConflict (409).
type Peers interface {
	Node(ctx context.Context) (NodeInfo, error)
	Peers(ctx context.Context) ([]Peer, error)
	// Pending lists unknown nodes that tried to connect.
	Pending(ctx context.Context) ([]PendingPeer, error)
	// Invite creates a single-use invite for another node.
	Invite(ctx context.Context, req InviteRequest) (Invite, error)
	// AddPeer connects to a node by address and redeems its invite.
	AddPeer(ctx context.Context, req AddPeerRequest) (Peer, error)
	// ApprovePeer turns a pending node into a peer with a role.
	ApprovePeer(ctx context.Context, id string, req ApproveRequest) (Peer, error)
	RemovePeer(ctx context.Context, id string) error
	Ping(ctx context.Context, id string) (PingResult, error)
}

// Remote runs operations on paired peers. peer is a node id or a peer
// name; an unknown one wraps miner.ErrNotFound, a peer that refuses the
// role wraps ErrForbidden (403).
type Remote interface {
	// Stats asks every connected peer in parallel (peer == "") or one
	// peer; a peer that fails is marked !OK with its error.
	Stats(ctx context.Context, peer string) ([]RemoteNode, error)
	Start(ctx context.Context, peer string, req RemoteStartRequest) (miner.Info, error)
	Stop(ctx context.Context, peer, name string) (miner.Info, error)
	Logs(ctx context.Context, peer, name string, lines int) ([]miner.LogLine, error)
}

// Clock is the time source of the API (rate limits, uptime, relative
// history ranges); tests inject a fake one.
type Clock func() time.Time
