package miner

import (
	"context"

	"github.com/rigd/rigd/sdk/abi"
)

// Adapters resolves a miner type to its adapter. The adapters package
// implements it on top of wazero; tests use agenttest fakes.
//
// Errors a caller branches on: an *abi.Error is the adapter's own verdict
// (a profile it rejects is a client error); anything else means the adapter
// is missing or broken.
type Adapters interface {
	// Metadata returns the adapter's metadata.
	Metadata(ctx context.Context, typ string) (abi.Metadata, error)
	// BuildCommand validates a profile and returns how to run the miner.
	BuildCommand(ctx context.Context, typ string, req abi.BuildRequest) (abi.Command, error)
	// NewSession opens a parse session for one running miner. Sessions
	// keep per-miner parse state and are used by one goroutine at a time.
	NewSession(ctx context.Context, typ string) (Session, error)
}

// Session is an adapter instance bound to one running miner.
type Session interface {
	// ParseLines parses a batch of console lines (ANSI stripped).
	ParseLines(ctx context.Context, stream abi.Stream, lines [][]byte) (abi.LineResult, error)
	// ParseAPI turns the bodies of one API poll into Stats.
	ParseAPI(ctx context.Context, req abi.APIRequest) (abi.Stats, error)
	// Reset clears parse state; called when the miner process restarts.
	Reset(ctx context.Context) error
	// Close releases the session.
	Close() error
}

// AdapterInfo describes one adapter in a listing (`rigd adapters list
// --json`, GET /adapters).
type AdapterInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Version     string `json:"version,omitempty"`
	// ABI is "MAJOR.MINOR" of the ABI the adapter was written against.
	ABI string `json:"abi"`
	// Source is "builtin" or the path of the .wasm file.
	Source string `json:"source"`
	// Status is "ok", "error" (the file could not be loaded) or
	// "quarantined" (a call did not return).
	Status string `json:"status"`
	// Error says why the status is not ok.
	Error  string `json:"error,omitempty"`
	Digest string `json:"sha256,omitempty"`
	// Generation counts the modules published under this name.
	Generation int `json:"generation,omitempty"`
	// Shadows is set when a drop-in replaces a built-in of the same name.
	Shadows string `json:"shadows,omitempty"`
}
