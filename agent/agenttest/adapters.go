package agenttest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

var _ miner.Adapters = (*FakeAdapters)(nil)

// FakeAdapters is an in-memory miner.Adapters offering one miner type,
// "fake", made for the fake miner:
//
//   - build_command passes --http-port=<api port> and
//     --http-access-token=<token> (so the fake miner serves its HTTP bodies
//     there) followed by the profile's ExtraArgs, and polls the http-json
//     endpoint /stats;
//   - parse_line understands "accepted N", "rejected N REASON",
//     "hashrate X", "pool HOST:PORT" and "fatal MESSAGE";
//   - parse_api decodes a /stats body that is itself a JSON abi.Stats.
//
// A profile with Algo "reject" is refused with an invalid_profile error.
type FakeAdapters struct {
	// ParseCalls counts parse_line calls, Sessions sessions opened.
	ParseCalls atomic.Int64
	Sessions   atomic.Int64

	mu   sync.Mutex
	meta abi.Metadata
}

// NewFakeAdapters returns the fake catalog.
func NewFakeAdapters() *FakeAdapters {
	return &FakeAdapters{meta: abi.Metadata{
		Name: "fake", DisplayName: "Fake miner", Version: "1.0.0",
		Algorithms:    []abi.Algorithm{{Name: "fake", Devices: []string{"cpu"}, ShareFactor: 1}},
		API:           abi.APISpec{Kind: abi.APIHTTPJSON, Endpoints: []string{"/stats"}},
		StdinCommands: []abi.StdinCommand{{Name: "hashrate", Input: "h"}, {Name: "pause", Input: "p"}, {Name: "resume", Input: "r"}},
		Release:       abi.Release{Checksum: abi.Checksum{Format: abi.ChecksumNone}},
	}}
}

func (f *FakeAdapters) check(typ string) error {
	if typ != "fake" {
		return fmt.Errorf("%w: %q", miner.ErrUnknownType, typ)
	}
	return nil
}

// Metadata implements miner.Adapters.
func (f *FakeAdapters) Metadata(_ context.Context, typ string) (abi.Metadata, error) {
	if err := f.check(typ); err != nil {
		return abi.Metadata{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.meta, nil
}

// BuildCommand implements miner.Adapters.
func (f *FakeAdapters) BuildCommand(_ context.Context, typ string, req abi.BuildRequest) (abi.Command, error) {
	if err := f.check(typ); err != nil {
		return abi.Command{}, err
	}
	if req.Profile.Algo == "reject" {
		return abi.Command{}, &abi.Error{Code: abi.CodeInvalidProfile, Message: "the fake adapter rejects algo \"reject\""}
	}
	port := strconv.Itoa(req.Instance.APIPort)
	var files []abi.File
	var file string // the option "file": a file the command asks for
	if raw, ok := req.Profile.Options["file"]; ok && json.Unmarshal(raw, &file) == nil {
		files = append(files, abi.File{Path: file, Content: "x"})
	}
	return abi.Command{
		Files: files,
		Args:  append([]string{"--http-port=" + port, "--http-access-token=" + req.Instance.APIToken}, req.Profile.ExtraArgs...),
		API: []abi.Endpoint{{
			Name: "stats", Kind: abi.APIHTTPJSON, URL: "http://127.0.0.1:" + port + "/stats",
			Headers: map[string]string{"Authorization": "Bearer " + req.Instance.APIToken},
		}},
	}, nil
}

// NewSession implements miner.Adapters.
func (f *FakeAdapters) NewSession(_ context.Context, typ string) (miner.Session, error) {
	if err := f.check(typ); err != nil {
		return nil, err
	}
	f.Sessions.Add(1)
	return &fakeSession{f: f}, nil
}

type fakeSession struct {
	f      *FakeAdapters
	closed atomic.Bool
}

func (s *fakeSession) ParseLines(_ context.Context, _ abi.Stream, lines [][]byte) (abi.LineResult, error) {
	s.f.ParseCalls.Add(1)
	var res abi.LineResult
	st := &abi.Stats{}
	changed := false
	for _, l := range lines {
		word, rest, _ := strings.Cut(strings.TrimSpace(string(l)), " ")
		switch word {
		case "accepted":
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil {
				st.Accepted, changed = abi.I(n), true
				res.Events = append(res.Events, abi.Event{Type: abi.EventShareAccepted, Accepted: abi.I(n)})
			}
		case "rejected":
			ns, reason, _ := strings.Cut(rest, " ")
			if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
				st.Rejected, st.LastRejectReason, changed = abi.I(n), reason, true
				res.Events = append(res.Events, abi.Event{Type: abi.EventShareRejected, Rejected: abi.I(n), Reason: reason})
			}
		case "hashrate":
			if x, err := strconv.ParseFloat(rest, 64); err == nil {
				st.HashrateHS, changed = abi.F(x), true
				res.Events = append(res.Events, abi.Event{Type: abi.EventHashrate, HashrateHS: abi.F(x)})
			}
		case "pool":
			st.Pool, st.PoolConnected, changed = rest, abi.B(true), true
			res.Events = append(res.Events, abi.Event{Type: abi.EventPoolConnected, Pool: rest})
		case "fatal":
			res.Events = append(res.Events, abi.Event{Type: abi.EventFatal, Message: rest})
		}
	}
	if changed {
		res.Stats = st
	}
	return res, nil
}

func (s *fakeSession) ParseAPI(_ context.Context, req abi.APIRequest) (abi.Stats, error) {
	var st abi.Stats
	for _, r := range req.Responses {
		if err := json.Unmarshal([]byte(r.Body), &st); err != nil {
			return st, &abi.Error{Code: abi.CodeBadInput, Message: "stats body: " + err.Error()}
		}
	}
	return st, nil
}

func (s *fakeSession) Reset(context.Context) error { return nil }

func (s *fakeSession) Close() error {
	s.closed.Store(true)
	return nil
}
