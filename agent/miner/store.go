package miner

import (
	"context"
	"errors"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// The storage ports. kv implements them on Pebble; agenttest has in-memory
// fakes. Both ports may be nil in a Manager (nothing is persisted).

// ErrStoreNotFound is returned by stores for a missing document.
var ErrStoreNotFound = errors.New("store: not found")

// Point is one sample of a time series. Series is the miner name for the
// miner's totals, or "<miner>/<kind><id>" (e.g. "gpu-rig/nvidia0") for a
// device. Accepted and Rejected are the cumulative counters of the miner
// process at that time (rollups store their delta).
type Point struct {
	Series     string    `json:"series"`
	Time       time.Time `json:"time"`
	HashrateHS float64   `json:"hashrate_hs"`
	Accepted   int64     `json:"accepted"`
	Rejected   int64     `json:"rejected"`
}

// Resolution of stored points.
type Resolution string

// Resolutions, finest first.
const (
	ResolutionRaw    Resolution = "raw"
	ResolutionMinute Resolution = "1m"
	ResolutionHour   Resolution = "1h"
)

// HistoryQuery selects points of one series.
type HistoryQuery struct {
	Series       string
	Since, Until time.Time
	// Step is the wanted spacing; the store answers from the coarsest
	// resolution that is not coarser than Step (0: raw).
	Step time.Duration
}

// HistoryPoint is a point of a query result: a raw sample (Count 1) or a
// rollup over [Time, Time+resolution).
type HistoryPoint struct {
	Time time.Time `json:"time"`
	// AvgHS is the mean hashrate; MinHS and MaxHS its extremes.
	AvgHS float64 `json:"avg_hs"`
	MinHS float64 `json:"min_hs"`
	MaxHS float64 `json:"max_hs"`
	Count int64   `json:"count"`
	// AcceptedDelta and RejectedDelta are the shares found in the interval.
	AcceptedDelta int64      `json:"accepted_delta"`
	RejectedDelta int64      `json:"rejected_delta"`
	Resolution    Resolution `json:"resolution"`
}

// HistorySummary describes a series' whole stored history.
type HistorySummary struct {
	Series    string    `json:"series"`
	Count     int64     `json:"count"`
	AvgHS     float64   `json:"avg_hs"`
	MinHS     float64   `json:"min_hs"`
	MaxHS     float64   `json:"max_hs"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Accepted  int64     `json:"accepted"`
	Rejected  int64     `json:"rejected"`
}

// History stores hashrate time series.
type History interface {
	// Append stores points; it returns only after they are durable (a
	// synced commit).
	Append(ctx context.Context, points []Point) error
	// Query returns the points of q.Series in [Since, Until] in time
	// order with no duplicate timestamps.
	Query(ctx context.Context, q HistoryQuery) ([]HistoryPoint, error)
	// Summary summarises one series; ErrStoreNotFound if it has no points.
	Summary(ctx context.Context, series string) (HistorySummary, error)
	// Series lists the stored series names.
	Series(ctx context.Context) ([]string, error)
}

// StoredProfile is a saved profile: what to mine, with which miner type.
type StoredProfile struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Type    string      `json:"type"`
	Profile abi.Profile `json:"profile"`
	// Watchdog is the profile's watchdog section (nil: the defaults).
	Watchdog  *WatchdogConfig `json:"watchdog,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// SessionRecord is one run of a miner process, from start to exit.
type SessionRecord struct {
	Miner         string    `json:"miner"`
	Type          string    `json:"type"`
	Start         time.Time `json:"start"`
	Stop          time.Time `json:"stop"`
	ExitCode      int       `json:"exit_code"`
	Signal        string    `json:"signal,omitempty"`
	Cause         string    `json:"cause"`
	Accepted      int64     `json:"accepted"`
	Rejected      int64     `json:"rejected"`
	AvgHashrateHS float64   `json:"avg_hashrate_hs"`
}

// AuditEntry records one state-changing command.
type AuditEntry struct {
	Time time.Time `json:"time"`
	// Who is "api:<remote addr>", "cli", or "peer:<node id>".
	Who    string `json:"who"`
	Action string `json:"action"` // "start_miner", "stop_miner", "put_profile", ...
	Target string `json:"target,omitempty"`
	// Result is "ok" or the error.
	Result string `json:"result"`
}

// Store keeps the agent's documents.
type Store interface {
	ListProfiles(ctx context.Context) ([]StoredProfile, error)
	// GetProfile returns ErrStoreNotFound for an unknown id.
	GetProfile(ctx context.Context, id string) (StoredProfile, error)
	PutProfile(ctx context.Context, p StoredProfile) error
	// DeleteProfile returns ErrStoreNotFound for an unknown id.
	DeleteProfile(ctx context.Context, id string) error

	// SetAutostart marks a miner to be started with req when the agent
	// starts; ClearAutostart unmarks it (no error if it was not marked).
	SetAutostart(ctx context.Context, name string, req StartRequest) error
	ClearAutostart(ctx context.Context, name string) error
	Autostart(ctx context.Context) (map[string]StartRequest, error)

	AddSession(ctx context.Context, s SessionRecord) error
	// Sessions returns the latest sessions of a miner ("" for all), newest
	// first, at most limit.
	Sessions(ctx context.Context, miner string, limit int) ([]SessionRecord, error)

	AddAudit(ctx context.Context, e AuditEntry) error
	// Audit returns the latest entries, newest first, at most limit.
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)

	// GetSetting decodes the JSON setting key into v (ErrStoreNotFound if
	// unset); PutSetting stores v as JSON.
	GetSetting(ctx context.Context, key string, v any) error
	PutSetting(ctx context.Context, key string, v any) error
}
