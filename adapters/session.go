package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

var _ miner.Session = (*Session)(nil)

// Session is a dedicated adapter instance for one running miner. Calls are
// serialised. Before each call the session asks its resolver for the
// current generation of its adapter and moves to it if it changed, so a
// reloaded adapter takes over a running miner without a restart.
type Session struct {
	resolve func() (*Module, error)

	mu     sync.Mutex
	mod    *Module
	inst   *instance
	closed bool
	input  []byte      // reused parse_line input buffer
	dec    abi.Decoder // reused result decoder
}

func newSession(resolve func() (*Module, error)) *Session {
	return &Session{resolve: resolve}
}

// NewSession opens a session pinned to this module (used by replay and
// validation of a single file).
func (m *Module) NewSession() *Session {
	return newSession(func() (*Module, error) { return m, nil })
}

// instanceLocked returns the instance to call, switching generations and
// replacing poisoned instances as needed.
func (s *Session) instanceLocked(ctx context.Context) (*Module, *instance, error) {
	if s.closed {
		return nil, nil, ErrClosed
	}
	cur, err := s.resolve()
	if err != nil {
		if s.mod == nil {
			return nil, nil, err
		}
		// The adapter was removed: a running miner keeps the generation it
		// has until it stops.
		cur = s.mod
	}
	if cur != s.mod {
		if err := cur.acquire(); err != nil {
			return nil, nil, &CallError{Adapter: cur.label(), Export: "session", Err: err}
		}
		s.dropLocked()
		s.mod = cur
	}
	if s.inst == nil {
		in, err := s.mod.newInstance(ctx)
		if err != nil {
			return nil, nil, err
		}
		s.inst = in
	}
	return s.mod, s.inst, nil
}

// dropLocked releases the current instance and generation.
func (s *Session) dropLocked() {
	if s.inst != nil {
		s.inst.close()
		s.inst = nil
	}
	if s.mod != nil {
		s.mod.release()
		s.mod = nil
	}
}

// callLocked runs one call and retires a poisoned or oversized instance.
func (s *Session) callLocked(ctx context.Context, export string, input []byte) (*Module, []byte, bool, error) {
	m, in, err := s.instanceLocked(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if !m.Has(export) {
		return m, nil, false, nil
	}
	out, err := m.call(ctx, in, export, input)
	if in.bad {
		in.close()
		s.inst = nil
	}
	return m, out, true, err
}

// ParseLines sends a batch of console lines to the adapter. An adapter
// without parse_line yields an empty result.
func (s *Session) ParseLines(ctx context.Context, stream abi.Stream, lines [][]byte) (abi.LineResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := append(s.input[:0], byte(stream))
	for i, l := range lines {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, l...)
	}
	s.input = buf
	var res abi.LineResult
	m, out, called, err := s.callLocked(ctx, abi.ExportParseLine, buf)
	if err != nil || !called {
		return res, err
	}
	if err := m.decodeResult(abi.ExportParseLine, &s.dec, out, &res); err != nil {
		return abi.LineResult{}, err
	}
	return res, nil
}

// ParseAPI turns one poll's API replies into Stats.
func (s *Session) ParseAPI(ctx context.Context, req abi.APIRequest) (abi.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st abi.Stats
	input, err := json.Marshal(req)
	if err != nil {
		return st, fmt.Errorf("adapters: encode api request: %w", err)
	}
	m, out, called, err := s.callLocked(ctx, abi.ExportParseAPI, input)
	if err != nil {
		return st, err
	}
	if !called {
		return st, &CallError{Adapter: m.label(), Export: abi.ExportParseAPI, Err: &abi.Error{Code: abi.CodeUnsupported, Message: "adapter does not parse an API"}}
	}
	if err := m.decodeResult(abi.ExportParseAPI, &s.dec, out, &st); err != nil {
		return abi.Stats{}, err
	}
	return st, nil
}

// Reset clears the adapter's parse state for a new miner process.
func (s *Session) Reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, _, err := s.callLocked(ctx, abi.ExportReset, nil)
	return err
}

// Close releases the session's instance.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked()
	s.closed = true
	return nil
}
