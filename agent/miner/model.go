package miner

import (
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// State is a miner's lifecycle state; see the package documentation for
// the state machine.
type State string

// States.
const (
	StateStarting     State = "starting"
	StateRunning      State = "running"
	StateStopping     State = "stopping"
	StateStopped      State = "stopped"
	StateCrashed      State = "crashed"
	StateBackoff      State = "backoff"
	StateCrashLooping State = "crashlooping"
	StateFailed       State = "failed"
)

// Info is the public snapshot of one miner (the REST miner object).
type Info struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	State State  `json:"state"`
	// Message explains a failed, crashlooping or backoff state.
	Message   string     `json:"message,omitempty"`
	PID       int        `json:"pid"`
	StartedAt *time.Time `json:"started_at"`
	// Restarts counts automatic restarts since the miner was started.
	Restarts int `json:"restarts"`
	// NextRestartAt is set in backoff and crashlooping.
	NextRestartAt *time.Time  `json:"next_restart_at,omitempty"`
	LastExit      *Exit       `json:"last_exit"`
	Binary        string      `json:"binary"`
	Version       string      `json:"version"`
	Autostart     bool        `json:"autostart"`
	ProfileID     string      `json:"profile_id,omitempty"`
	Profile       abi.Profile `json:"profile"`
	// StatsAt is when Stats last changed (nil before any stats).
	StatsAt *time.Time `json:"stats_at"`
	Stats   abi.Stats  `json:"stats"`
}

// Exit describes how a miner process ended.
type Exit struct {
	At     time.Time `json:"at"`
	Code   int       `json:"code"`   // -1 when killed by a signal
	Signal string    `json:"signal"` // "" unless killed by a signal
	// Cause is a human explanation ("exited with code 1", "killed by
	// SIGKILL", "stopped by request", "fatal: beta expired").
	Cause string `json:"cause"`
	// Requested is true when rigd stopped the miner on purpose.
	Requested bool `json:"requested"`
	// Uptime is how long the process ran, in seconds.
	UptimeS float64 `json:"uptime_s"`
	// LastLines are the miner's last output lines before it ended.
	LastLines []string `json:"last_lines,omitempty"`
}
