package router

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// In-memory fakes of the API's services.

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fptr(v float64) *float64 { return &v }
func iptr(v int64) *int64     { return &v }

type fakeMiners struct {
	bus *miner.Bus

	mu     sync.Mutex
	miners map[string]miner.Info
	logs   map[string][]miner.LogLine
	stdin  map[string]string
	reqs   map[string]miner.StartRequest // the start request of each miner
}

var _ Miners = (*fakeMiners)(nil)

func newFakeMiners() *fakeMiners {
	return &fakeMiners{bus: miner.NewBus(nil), miners: map[string]miner.Info{}, logs: map[string][]miner.LogLine{}, stdin: map[string]string{}, reqs: map[string]miner.StartRequest{}}
}

// add puts a running miner with stats and devices.
func (f *fakeMiners) add(name, typ string, devices int) miner.Info {
	started := t0
	// The binary is the current version fakeInstaller installs.
	info := miner.Info{Name: name, Type: typ, State: miner.StateRunning, PID: 1000 + len(f.miners), StartedAt: &started, Restarts: 1,
		Binary: "/data/miners/" + typ + "/6.21.0/" + typ,
		Stats:  abi.Stats{HashrateHS: fptr(1234.5), Hashrate60sHS: fptr(1200), Accepted: iptr(10), Rejected: iptr(1), Stale: iptr(0), PoolConnected: new(bool)}}
	*info.Stats.PoolConnected = true
	for d := 0; d < devices; d++ {
		info.Stats.Devices = append(info.Stats.Devices, abi.Device{ID: d, Kind: "nvidia", Name: "RTX 3070", HashrateHS: fptr(100), TempC: fptr(60), FanPct: fptr(70), PowerW: fptr(120)})
	}
	f.mu.Lock()
	f.miners[name] = info
	f.logs[name] = []miner.LogLine{{Seq: 1, Time: t0, Stream: "stdout", Text: "\x1b[32m * XMRig 6.16.0\x1b[0m"}, {Seq: 2, Time: t0, Stream: "stdout", Text: "speed 10s/60s/15m 1234.5"}}
	f.mu.Unlock()
	return info
}

func (f *fakeMiners) Start(ctx context.Context, req miner.StartRequest) (miner.Info, error) {
	if req.Type != "xmrig" && req.Type != "fake" {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrUnknownType, req.Type)
	}
	if req.Profile.Algo == "reject" {
		return miner.Info{}, &abi.Error{Code: abi.CodeInvalidProfile, Message: "algo reject is refused"}
	}
	name := req.Name
	if name == "" {
		name = miner.DefaultName(req.Type, req.Profile.Algo)
	}
	if err := miner.ValidateName(name); err != nil {
		return miner.Info{}, err
	}
	f.mu.Lock()
	if _, ok := f.miners[name]; ok {
		f.mu.Unlock()
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrConflict, name)
	}
	f.mu.Unlock()
	info := f.add(name, req.Type, 0)
	info.Profile, info.ProfileID = req.Profile, req.ProfileID
	if req.Binary != "" {
		info.Binary = req.Binary
	}
	f.mu.Lock()
	f.miners[name] = info
	f.reqs[name] = req
	f.mu.Unlock()
	f.bus.Publish(miner.Event{Type: miner.EventMinerStarted, Miner: name, State: miner.StateRunning, Info: &info})
	return info, nil
}

func (f *fakeMiners) Stop(ctx context.Context, name string) (miner.Info, error) {
	f.mu.Lock()
	info, ok := f.miners[name]
	delete(f.miners, name)
	f.mu.Unlock()
	if !ok {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrNotFound, name)
	}
	info.State = miner.StateStopped
	f.bus.Publish(miner.Event{Type: miner.EventMinerStopped, Miner: name, State: miner.StateStopped, Info: &info})
	return info, nil
}

func (f *fakeMiners) List() []miner.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]miner.Info, 0, len(f.miners))
	for _, m := range f.miners {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b miner.Info) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return out
}

func (f *fakeMiners) Get(name string) (miner.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.miners[name]
	if !ok {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrNotFound, name)
	}
	return info, nil
}

func (f *fakeMiners) Logs(name string, q miner.LogQuery) ([]miner.LogLine, error) {
	if _, err := f.Get(name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []miner.LogLine
	for _, l := range f.logs[name] {
		if l.Seq > q.Since {
			if q.Strip {
				l.Text = stripForTest(l.Text)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

func stripForTest(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func (f *fakeMiners) SendInput(ctx context.Context, name, text string) error {
	if text == "" {
		return fmt.Errorf("%w: empty input", miner.ErrInvalidInput)
	}
	if _, err := f.Get(name); err != nil {
		return err
	}
	f.mu.Lock()
	f.stdin[name] += text
	f.mu.Unlock()
	return nil
}

func (f *fakeMiners) Incidents(name string) ([]miner.Incident, error) {
	if _, err := f.Get(name); err != nil {
		return nil, err
	}
	return []miner.Incident{{ID: 1, Time: t0, Miner: name, Rule: miner.RuleLowHashrate, Unit: "H/s", Detail: "hashrate 0", Action: miner.ActionRestart}}, nil
}

func (f *fakeMiners) HashrateHistory(name string) (miner.HashrateHistory, error) {
	if _, err := f.Get(name); err != nil {
		return miner.HashrateHistory{}, err
	}
	var h miner.HashrateHistory
	for i := 0; i < 60; i++ {
		h.Minutes = append(h.Minutes, miner.HashratePoint{Time: t0.Add(time.Duration(i-60) * time.Minute), HashrateHS: float64(1000 + i), MinHS: fptr(900), MaxHS: fptr(1100), Count: 6})
	}
	for i := 0; i < 5; i++ {
		h.Raw = append(h.Raw, miner.HashratePoint{Time: t0.Add(time.Duration(i*10-50) * time.Second), HashrateHS: 1500, Count: 1})
	}
	return h, nil
}

type fakeProfiles struct {
	mu   sync.Mutex
	n    int
	byID map[string]miner.StoredProfile
}

var _ Profiles = (*fakeProfiles)(nil)

func newFakeProfiles() *fakeProfiles { return &fakeProfiles{byID: map[string]miner.StoredProfile{}} }

func (f *fakeProfiles) List(ctx context.Context) ([]miner.StoredProfile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []miner.StoredProfile
	for _, p := range f.byID {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b miner.StoredProfile) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out, nil
}

func (f *fakeProfiles) Get(ctx context.Context, id string) (miner.StoredProfile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.byID[id]
	if !ok {
		return p, fmt.Errorf("%w: profile %q", miner.ErrNotFound, id)
	}
	return p, nil
}

func (f *fakeProfiles) Create(ctx context.Context, in miner.ProfileInput) (miner.StoredProfile, error) {
	if in.Name == "" {
		return miner.StoredProfile{}, fmt.Errorf("%w: profile name is empty", miner.ErrInvalidInput)
	}
	if in.Profile.Algo == "reject" {
		return miner.StoredProfile{}, &abi.Error{Code: abi.CodeInvalidProfile, Message: "refused"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	p := miner.StoredProfile{ID: "p" + strconv.Itoa(f.n), Name: in.Name, Type: in.Type, Profile: in.Profile, CreatedAt: t0, UpdatedAt: t0}
	f.byID[p.ID] = p
	return p, nil
}

func (f *fakeProfiles) Update(ctx context.Context, id string, in miner.ProfileInput) (miner.StoredProfile, error) {
	p, err := f.Get(ctx, id)
	if err != nil {
		return p, err
	}
	p.Name, p.Type, p.Profile = in.Name, in.Type, in.Profile
	f.mu.Lock()
	f.byID[id] = p
	f.mu.Unlock()
	return p, nil
}

func (f *fakeProfiles) Delete(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byID[id]; !ok {
		return fmt.Errorf("%w: profile %q", miner.ErrNotFound, id)
	}
	delete(f.byID, id)
	return nil
}

func (f *fakeProfiles) StartRequest(ctx context.Context, id string) (miner.StartRequest, error) {
	p, err := f.Get(ctx, id)
	if err != nil {
		return miner.StartRequest{}, err
	}
	return miner.StartRequest{Type: p.Type, Profile: p.Profile, ProfileID: p.ID}, nil
}

type fakeHistory struct {
	queries []miner.HistoryQuery
	mu      sync.Mutex
}

var _ History = (*fakeHistory)(nil)

func (f *fakeHistory) Query(ctx context.Context, q miner.HistoryQuery) ([]miner.HistoryPoint, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	switch q.Series {
	case "nohistory":
		return nil, nil
	case "huge": // one point a second: what a long range of raw polls can be
		pts := make([]miner.HistoryPoint, maxHistoryPoints+1)
		for i := range pts {
			pts[i] = miner.HistoryPoint{Time: q.Since.Add(time.Duration(i) * time.Second), Count: 1}
		}
		return pts, nil
	}
	return []miner.HistoryPoint{{Time: q.Since, AvgHS: 100, MinHS: 90, MaxHS: 110, Count: 6, Resolution: miner.ResolutionMinute}}, nil
}

func (f *fakeHistory) Summary(ctx context.Context, series string) (miner.HistorySummary, error) {
	if series == "nohistory" {
		return miner.HistorySummary{}, miner.ErrStoreNotFound
	}
	return miner.HistorySummary{Series: series, Count: 10, AvgHS: 100}, nil
}

func (f *fakeHistory) Series(ctx context.Context) ([]string, error) {
	return []string{"cpu", "cpu/cpu0", "gpu"}, nil
}

type fakeAdapters struct{}

func (fakeAdapters) List() []miner.AdapterInfo {
	return []miner.AdapterInfo{
		{Name: "xmrig", DisplayName: "XMRig", Version: "1.0.0", ABI: "1.0", Source: "builtin", Status: "ok"},
		{Name: "ttminer", DisplayName: "TT-Miner", Version: "1.0.0", ABI: "1.0", Source: "/data/adapters/ttminer.wasm", Status: "ok"},
	}
}

type fakeAdapterFiles struct {
	mu       sync.Mutex
	added    map[string][]byte
	fixtures []byte // of the last Add
}

func (f *fakeAdapterFiles) Add(ctx context.Context, filename string, wasm, fixtures []byte) (miner.AdapterInfo, error) {
	if string(wasm[:min(4, len(wasm))]) != "\x00asm" {
		return miner.AdapterInfo{}, fmt.Errorf("%w: not a wasm module", miner.ErrInvalidInput)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.added == nil {
		f.added = map[string][]byte{}
	}
	f.added["custom"] = wasm
	f.fixtures = fixtures
	return miner.AdapterInfo{Name: "custom", Source: "/data/adapters/custom.wasm", Status: "ok", ABI: "1.0"}, nil
}

func (f *fakeAdapterFiles) Remove(ctx context.Context, name string) error {
	if name == "xmrig" {
		return fmt.Errorf("%w: xmrig is built in", miner.ErrConflict)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.added[name]; !ok {
		return fmt.Errorf("%w: adapter %q", miner.ErrNotFound, name)
	}
	delete(f.added, name)
	return nil
}

func (f *fakeAdapterFiles) Rollback(ctx context.Context, name string) (miner.AdapterInfo, error) {
	if name != "xmrig" {
		return miner.AdapterInfo{}, fmt.Errorf("%w: %q has no earlier generation", miner.ErrConflict, name)
	}
	return miner.AdapterInfo{Name: "xmrig", Source: "builtin", Status: "ok", ABI: "1.0", Generation: 3}, nil
}

type fakeInstaller struct {
	mu          sync.Mutex
	installed   map[string]InstalledMiner
	uninstalled []string
}

var _ Installer = (*fakeInstaller)(nil)

func (f *fakeInstaller) Install(ctx context.Context, typ string, req InstallRequest, progress func(InstallProgress)) (InstalledMiner, error) {
	if typ != "xmrig" {
		return InstalledMiner{}, fmt.Errorf("%w: %q", miner.ErrUnknownType, typ)
	}
	v := req.Version
	if v == "" {
		v = "6.21.0"
	}
	for i := int64(1); i <= 3; i++ {
		progress(InstallProgress{File: "xmrig.tar.gz", Bytes: i * 100, Total: 300, Done: i == 3})
	}
	im := InstalledMiner{Type: typ, Version: v, Dir: "/data/miners/xmrig/" + v, Binary: "/data/miners/xmrig/" + v + "/xmrig", Current: true, Trust: "sha256sums"}
	f.mu.Lock()
	if f.installed == nil {
		f.installed = map[string]InstalledMiner{}
	}
	f.installed[typ] = im
	f.mu.Unlock()
	return im, nil
}

func (f *fakeInstaller) Uninstall(ctx context.Context, typ, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.installed[typ]; !ok {
		return fmt.Errorf("%w: %s is not installed", miner.ErrNotFound, typ)
	}
	delete(f.installed, typ)
	f.uninstalled = append(f.uninstalled, typ)
	return nil
}

func (f *fakeInstaller) Installed(ctx context.Context, typ string) ([]InstalledMiner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if im, ok := f.installed[typ]; ok {
		return []InstalledMiner{im}, nil
	}
	return nil, nil
}

func (f *fakeInstaller) Latest(ctx context.Context, typ string) (LatestRelease, error) {
	if typ != "xmrig" {
		return LatestRelease{}, fmt.Errorf("%s publishes no releases", typ)
	}
	return LatestRelease{Version: "6.22.0", Tag: "v6.22.0", CheckedAt: t0}, nil
}

func (f *fakeInstaller) CheckUpdates(ctx context.Context, typ string) (UpdateInfo, error) {
	lr, err := f.Latest(ctx, typ)
	if err != nil {
		return UpdateInfo{Type: typ}, err
	}
	return UpdateInfo{Type: typ, Current: "6.21.0", Latest: lr, Available: true}, nil
}

type fakeSystem struct{}

func (fakeSystem) Info(ctx context.Context) (SystemInfo, error) {
	return SystemInfo{Version: "test", OS: "linux", Arch: "amd64", DataDir: "/data", CPU: CPUInfo{Threads: 2}}, nil
}

func (fakeSystem) Ready(ctx context.Context) []Check {
	return []Check{{Name: "storage", Status: CheckDegraded, Error: "disk full"}, {Name: "adapters", Status: CheckOK}, {Name: "p2p", Status: CheckDisabled}}
}

type fakePeers struct {
	mu    sync.Mutex
	peers []Peer
}

func (f *fakePeers) Node(ctx context.Context) (NodeInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := NodeInfo{NodeID: "AAAA-BBBB-CCCC", ShortID: "AAAA-BBBB", Name: "rig1", Role: "dual", Peers: len(f.peers), RefusedConnections: 7}
	for _, p := range f.peers {
		if p.Connected {
			n.Connected++
		}
	}
	return n, nil
}

func (f *fakePeers) Peers(ctx context.Context) ([]Peer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Peer(nil), f.peers...), nil
}

func (f *fakePeers) Pending(ctx context.Context) ([]PendingPeer, error) {
	return []PendingPeer{{ID: "PEND-1", Address: "10.0.0.9:9091", Count: 3}}, nil
}

func (f *fakePeers) Invite(ctx context.Context, req InviteRequest) (Invite, error) {
	return Invite{Invite: "secret", NodeID: "AAAA-BBBB-CCCC", Role: req.Role}, nil
}

func (f *fakePeers) AddPeer(ctx context.Context, req AddPeerRequest) (Peer, error) {
	if req.Invite != "good" {
		return Peer{}, fmt.Errorf("%w: invite refused", miner.ErrInvalidInput)
	}
	p := Peer{ID: "PEER-2", Address: req.Address, Role: "controller", Connected: true}
	f.mu.Lock()
	f.peers = append(f.peers, p)
	f.mu.Unlock()
	return p, nil
}

func (f *fakePeers) ApprovePeer(ctx context.Context, id string, req ApproveRequest) (Peer, error) {
	if id != "PEND-1" {
		return Peer{}, fmt.Errorf("%w: pending peer %q", miner.ErrNotFound, id)
	}
	return Peer{ID: id, Role: req.Role}, nil
}

func (f *fakePeers) RemovePeer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.peers {
		if p.ID == id {
			f.peers = slices.Delete(f.peers, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: peer %q", miner.ErrNotFound, id)
}

func (f *fakePeers) Ping(ctx context.Context, id string) (PingResult, error) {
	return PingResult{ID: id, RTTMS: 0.4}, nil
}

type fakeRemote struct{}

func (fakeRemote) Stats(ctx context.Context, peer string) ([]RemoteNode, error) {
	n := []RemoteNode{{NodeID: "PEER-2", Name: "rig2", OK: true, Miners: []miner.Info{{Name: "cpu", State: miner.StateRunning}}}, {NodeID: "PEER-3", Name: "rig3", Error: "timeout"}}
	if peer == "" {
		return n, nil
	}
	for _, x := range n {
		if x.NodeID == peer || x.Name == peer {
			return []RemoteNode{x}, nil
		}
	}
	return nil, fmt.Errorf("%w: peer %q", miner.ErrNotFound, peer)
}

func (fakeRemote) Start(ctx context.Context, peer string, req RemoteStartRequest) (miner.Info, error) {
	if peer == "observer" {
		return miner.Info{}, fmt.Errorf("%w: role observer cannot start miners", ErrForbidden)
	}
	return miner.Info{Name: "remote-" + req.Type, State: miner.StateRunning}, nil
}

func (fakeRemote) Stop(ctx context.Context, peer, name string) (miner.Info, error) {
	return miner.Info{Name: name, State: miner.StateStopped}, nil
}

func (fakeRemote) Logs(ctx context.Context, peer, name string, lines int) ([]miner.LogLine, error) {
	return []miner.LogLine{{Seq: 1, Text: "hello from " + peer}}, nil
}

// fullConfig returns a Config with every service faked.
func fullConfig(fm *fakeMiners) Config {
	return Config{
		Version:      "test",
		Token:        testToken,
		Miners:       fm,
		Events:       fm.bus,
		Profiles:     newFakeProfiles(),
		History:      &fakeHistory{},
		Adapters:     fakeAdapters{},
		AdapterFiles: &fakeAdapterFiles{},
		Installer:    &fakeInstaller{},
		System:       fakeSystem{},
		Peers:        &fakePeers{},
		Remote:       fakeRemote{},
		Now:          func() time.Time { return t0 },
	}
}

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
