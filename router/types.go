package router

import (
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// Request and response bodies of the API that are not miner types.

// Health is the body of GET /health.
type Health struct {
	Status  string `json:"status"` // always "ok"
	Version string `json:"version"`
}

// Check statuses in Readiness.
const (
	CheckOK       = "ok"
	CheckDegraded = "degraded"
	// CheckDisabled is a subsystem that is not configured (P2P off).
	CheckDisabled = "disabled"
)

// Check is the state of one subsystem.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Readiness is the body of GET /ready: Status is "ok" when no check is
// degraded.
type Readiness struct {
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
}

// SystemInfo is the body of GET /info.
type SystemInfo struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	Hostname  string    `json:"hostname"`
	CPU       CPUInfo   `json:"cpu"`
	Memory    MemInfo   `json:"memory"`
	DataDir   string    `json:"data_dir"`
	StartedAt time.Time `json:"started_at"`
	UptimeS   float64   `json:"uptime_s"`
	// Miners are the installed miner binaries.
	Miners   []InstalledMiner    `json:"miners"`
	Adapters []miner.AdapterInfo `json:"adapters"`
}

// CPUInfo describes the host's processors.
type CPUInfo struct {
	Model   string `json:"model"`
	Threads int    `json:"threads"`
}

// MemInfo is the host's memory in bytes (0 when unknown).
type MemInfo struct {
	TotalBytes     uint64 `json:"total_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
}

// AvailableMiner is one entry of GET /miners/available: a miner type the
// adapter catalog knows.
type AvailableMiner struct {
	Name             string `json:"name"`
	DisplayName      string `json:"display_name"`
	AdapterVersion   string `json:"adapter_version"`
	AdapterStatus    string `json:"adapter_status"`
	InstalledVersion string `json:"installed_version"`
	// Binary is the current installed binary's path.
	Binary        string `json:"binary,omitempty"`
	LatestVersion string `json:"latest_version"`
	// LatestError says why the latest version is unknown.
	LatestError string `json:"latest_error,omitempty"`
}

// StartRequest is the body of POST /miners: a type and an inline
// profile, or a profile_id of a stored profile (then name, binary and
// autostart may still be given).
type StartRequest = miner.StartRequest

// ProfileStartRequest is the optional body of POST /profiles/:id/start.
type ProfileStartRequest struct {
	Name      string `json:"name,omitempty"`
	Binary    string `json:"binary,omitempty"`
	Autostart *bool  `json:"autostart,omitempty"`
	// Watchdog replaces the profile's watchdog section for this miner.
	Watchdog *miner.WatchdogConfig `json:"watchdog,omitempty"`
}

// StdinRequest is the body of POST /miners/:name/stdin.
type StdinRequest struct {
	Input string `json:"input"`
}

// StdinResult is the answer to POST /miners/:name/stdin.
type StdinResult struct {
	Miner   string `json:"miner"`
	Written int    `json:"written"`
}

// LogsResult is the JSON answer of GET /miners/:name/logs.
type LogsResult struct {
	Miner string          `json:"miner"`
	Lines []miner.LogLine `json:"lines"`
}

// InstallRequest is the optional body of POST /miners/:type/install.
type InstallRequest struct {
	// Version to install; the latest release if empty.
	Version string `json:"version,omitempty"`
	// From is a local archive, binary or directory on the agent's machine
	// (an offline install); Version is then detected.
	From string `json:"from,omitempty"`
}

// InstalledMiner is one installed version of a miner.
type InstalledMiner struct {
	Type         string    `json:"type"`
	Version      string    `json:"version"`
	Dir          string    `json:"dir"`
	Binary       string    `json:"binary"`
	BinarySHA256 string    `json:"binary_sha256"`
	Source       string    `json:"source"`
	Trust        string    `json:"trust"`
	InstalledAt  time.Time `json:"installed_at"`
	Current      bool      `json:"current"`
	// Pinned: this install pinned the archive digest (trust on first
	// use); ArchiveSHA256 is the digest to compare with another source.
	Pinned        bool   `json:"pinned,omitempty"`
	ArchiveSHA256 string `json:"archive_sha256,omitempty"`
	// Unchanged: the version was already installed; nothing was written.
	Unchanged bool `json:"unchanged,omitempty"`
}

// InstallProgress reports a running download; it travels on the event
// stream as an "install_progress" event.
type InstallProgress struct {
	Type  string  `json:"type"`
	File  string  `json:"file"`
	Bytes int64   `json:"bytes"`
	Total int64   `json:"total"` // -1 when unknown
	Rate  float64 `json:"rate"`  // bytes per second
	ETAS  float64 `json:"eta_s"`
	Done  bool    `json:"done"`
}

// LatestRelease is the newest release of a miner type known.
type LatestRelease struct {
	Version   string    `json:"version"`
	Tag       string    `json:"tag"`
	CheckedAt time.Time `json:"checked_at"`
	Cached    bool      `json:"cached"`
}

// UpdateInfo compares the current and the latest version of a type.
type UpdateInfo struct {
	Type      string        `json:"type"`
	Current   string        `json:"current"`
	Latest    LatestRelease `json:"latest"`
	Available bool          `json:"available"`
	Error     string        `json:"error,omitempty"`
}

// UpdateRequest is the optional body of POST /update: one type, or every
// type of the catalog when empty.
type UpdateRequest struct {
	Type string `json:"type,omitempty"`
}

// Uninstalled is the answer to DELETE /miners/:type/uninstall.
type Uninstalled struct {
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
	// Stopped are the miners of that type stopped first.
	Stopped []string `json:"stopped"`
}

// HistoryRange is the answer of GET /history/miners/:name/hashrate.
type HistoryRange struct {
	Series string    `json:"series"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	StepS  float64   `json:"step_s"`
	// Source is "storage" or "memory" (no storage configured: the
	// Manager's last 24 h of a running miner).
	Source string               `json:"source"`
	Points []miner.HistoryPoint `json:"points"`
}

// Deleted is the answer to a DELETE of a document.
type Deleted struct {
	Deleted string `json:"deleted"`
}

// NodeInfo is this node's P2P identity.
type NodeInfo struct {
	// NodeID is the full node id; ShortID the form shown in UIs.
	NodeID  string `json:"node_id"`
	ShortID string `json:"short_id"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Listen  string `json:"listen"`
	Peers   int    `json:"peers"`
	// Connected counts peers with a live session.
	Connected int `json:"connected"`
	// RefusedConnections counts connections closed at accept since the
	// agent started because too many were in the handshake, in all or
	// from their source: a flood on the P2P port.
	RefusedConnections int64 `json:"refused_connections"`
}

// Peer is a paired node.
type Peer struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	Role      string     `json:"role"`
	AddedAt   time.Time  `json:"added_at"`
	Connected bool       `json:"connected"`
	LastSeen  *time.Time `json:"last_seen"`
	RTTMS     *float64   `json:"rtt_ms"`
	// Pending: added here, waiting for the other node to approve this one
	// (POST /peers answers 202 then).
	Pending bool `json:"pending,omitempty"`
}

// PendingPeer is an unknown node that tried to connect.
type PendingPeer struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Count     int       `json:"count"`
}

// InviteRequest is the body of POST /node/invite.
type InviteRequest struct {
	// Role given to the node that redeems the invite (default observer).
	Role string `json:"role,omitempty"`
}

// Invite is a single-use pairing secret.
type Invite struct {
	Invite    string    `json:"invite"`
	NodeID    string    `json:"node_id"`
	Address   string    `json:"address"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AddPeerRequest is the body of POST /peers.
type AddPeerRequest struct {
	Address string `json:"address"`
	Invite  string `json:"invite"`
}

// ApproveRequest is the body of POST /peers/:id/approve.
type ApproveRequest struct {
	Role string `json:"role"`
}

// PingResult is the answer to POST /peers/:id/ping.
type PingResult struct {
	ID    string  `json:"id"`
	RTTMS float64 `json:"rtt_ms"`
}

// RemoteNode is one peer's answer to a remote stats request.
type RemoteNode struct {
	NodeID string       `json:"node_id"`
	Name   string       `json:"name"`
	OK     bool         `json:"ok"`
	Error  string       `json:"error,omitempty"`
	Miners []miner.Info `json:"miners"`
}

// RemoteStartRequest is the body of POST /remote/:peer/start: a stored
// profile of the remote node, or a type and an inline profile (validated by
// the remote adapter).
type RemoteStartRequest struct {
	ProfileID string       `json:"profile_id,omitempty"`
	Type      string       `json:"type,omitempty"`
	Name      string       `json:"name,omitempty"`
	Profile   *abi.Profile `json:"profile,omitempty"`
}

// RemoteStopRequest is the body of POST /remote/:peer/stop.
type RemoteStopRequest struct {
	Name string `json:"name"`
}

// RemoteLogs is the answer of GET /remote/:peer/logs/:miner.
type RemoteLogs struct {
	Peer  string          `json:"peer"`
	Miner string          `json:"miner"`
	Lines []miner.LogLine `json:"lines"`
}

// Event types the API adds to the bus's (see miner.Event*).
const (
	// EventSnapshot is sent first to a new event-stream client, one per
	// miner, with the miner's current Info.
	EventSnapshot = "snapshot"
	// EventInstallProgress carries an InstallProgress.
	EventInstallProgress = "install_progress"
	// EventDropped is the last event of a client too slow to keep up.
	EventDropped = "dropped"
)

// StreamEvent is one message of GET /events: a bus event, or an event
// of the API itself with its own payload.
type StreamEvent struct {
	miner.Event
	Progress *InstallProgress `json:"progress,omitempty"`
}
