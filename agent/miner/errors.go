package miner

import "errors"

// Errors callers branch on (the REST layer maps them to status codes). An
// *abi.Error from the adapter (a profile it rejects) also travels unchanged.
var (
	ErrNotFound     = errors.New("miner: not found")
	ErrConflict     = errors.New("miner: name already in use")
	ErrInvalidName  = errors.New("miner: invalid name")
	ErrUnknownType  = errors.New("miner: unknown miner type")
	ErrNoBinary     = errors.New("miner: no usable binary")
	ErrNotRunning   = errors.New("miner: not running")
	ErrInvalidInput = errors.New("miner: invalid input")
	ErrClosed       = errors.New("miner: manager closed")
)
