package peers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to wait for goroutines running this
// package's non-test code to end and returns the stacks of the rest.
func leakedGoroutines(wait time.Duration) string {
	var bad []string
	for deadline := time.Now().Add(wait); ; {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		bad = bad[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "peers.(*Node)") || strings.Contains(g, "peers.(*session)") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- fakes ---

// fakeLocal is an in-memory agent: miners start and stop instantly; the
// adapter validation is "type must be xmrig or ttminer and the profile
// needs a pool".
type fakeLocal struct {
	mu     sync.Mutex
	miners map[string]miner.Info
	starts int
	stops  int
	lines  int // log lines each miner has
}

func newFakeLocal(names ...string) *fakeLocal {
	f := &fakeLocal{miners: map[string]miner.Info{}, lines: 50}
	for _, name := range names {
		typ, algo, _ := strings.Cut(name, "-")
		f.miners[name] = fakeInfo(name, typ, abi.Profile{Algo: algo, Pools: []abi.Pool{{URL: "pool:3333", User: "w", Pass: "s3cret"}}})
	}
	return f
}

func fakeInfo(name, typ string, prof abi.Profile) miner.Info {
	now := time.Now().UTC()
	return miner.Info{Name: name, Type: typ, State: miner.StateRunning, PID: 4242, StartedAt: &now,
		Profile: prof, Autostart: true, StatsAt: &now,
		Stats: abi.Stats{HashrateHS: abi.F(1234.5), Accepted: abi.I(7), Algorithm: prof.Algo}}
}

func (f *fakeLocal) List() []miner.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]miner.Info, 0, len(f.miners))
	for _, m := range f.miners {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b miner.Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fakeLocal) Start(_ context.Context, req miner.StartRequest) (miner.Info, error) {
	if req.Type != "xmrig" && req.Type != "ttminer" {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrUnknownType, req.Type)
	}
	if len(req.Profile.Pools) == 0 {
		return miner.Info{}, &abi.Error{Code: abi.CodeInvalidProfile, Message: "profile has no pool"}
	}
	if req.Binary != "" {
		return miner.Info{}, fmt.Errorf("fake: a binary path reached Start: %q", req.Binary)
	}
	name := req.Name
	if name == "" {
		name = miner.DefaultName(req.Type, req.Profile.Algo)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.miners[name]; ok {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrConflict, name)
	}
	f.starts++
	info := fakeInfo(name, req.Type, req.Profile)
	info.ProfileID = req.ProfileID
	f.miners[name] = info
	return info, nil
}

func (f *fakeLocal) Stop(_ context.Context, name string) (miner.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.miners[name]
	if !ok {
		return miner.Info{}, fmt.Errorf("%w: %q", miner.ErrNotFound, name)
	}
	f.stops++
	delete(f.miners, name)
	info.State = miner.StateStopped
	return info, nil
}

func (f *fakeLocal) Logs(name string, q miner.LogQuery) ([]miner.LogLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.miners[name]; !ok {
		return nil, fmt.Errorf("%w: %q", miner.ErrNotFound, name)
	}
	var out []miner.LogLine
	for i := 1; i <= f.lines; i++ {
		if uint64(i) <= q.Since {
			continue
		}
		out = append(out, miner.LogLine{Seq: uint64(i), Time: time.Unix(1700000000+int64(i), 0).UTC(), Stream: "stdout",
			Text: fmt.Sprintf("[%s] speed 10s/60s/15m 1234.5 n/a n/a H/s max 1300.0 H/s line %d", name, i)})
	}
	if q.Lines > 0 && len(out) > q.Lines {
		out = out[len(out)-q.Lines:]
	}
	return out, nil
}

func (f *fakeLocal) counts() (starts, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.stops
}

func (f *fakeLocal) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.miners[name]
	return ok
}

// fakeProfiles resolves profile ids.
type fakeProfiles map[string]miner.StartRequest

func (p fakeProfiles) StartRequest(_ context.Context, id string) (miner.StartRequest, error) {
	r, ok := p[id]
	if !ok {
		return miner.StartRequest{}, fmt.Errorf("%w: profile %q", miner.ErrNotFound, id)
	}
	return r, nil
}

// --- harness ---

// testNode is a running Node with its fakes.
type testNode struct {
	*Node
	t      testing.TB
	cfg    Config
	store  *MemStore
	local  *fakeLocal
	runErr chan error
}

// testConfig is a Config for loopback tests: fast reconnects.
func testConfig(t testing.TB, name string, role NodeRole) Config {
	return Config{
		DataDir:      t.TempDir(),
		Name:         name,
		Role:         role,
		Listen:       "127.0.0.1:0",
		Store:        NewMemStore(),
		Local:        newFakeLocal(),
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
		Logger:       testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("PEERS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startNode creates and runs a node; it is closed when the test ends.
func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, t: t, cfg: cfg, store: cfg.Store.(*MemStore), local: cfg.Local.(*fakeLocal), runErr: make(chan error, 1)}
	go func() { tn.runErr <- n.Run(context.Background()) }()
	t.Cleanup(func() { tn.stop() })
	return tn
}

// stop closes the node and checks that Run returned.
func (tn *testNode) stop() {
	tn.t.Helper()
	if err := tn.Close(); err != nil {
		tn.t.Errorf("Close: %v", err)
	}
	select {
	case err := <-tn.runErr:
		if err != nil && !errors.Is(err, ErrClosed) { // ErrClosed: closed before Run began
			tn.t.Errorf("Run: %v", err)
		}
		tn.runErr <- nil // a second stop finds it again
	case <-time.After(5 * time.Second):
		tn.t.Error("Run did not return after Close")
	}
}

// restart closes the node and opens a new one from the same key file,
// store and address.
func (tn *testNode) restart(whileDown ...func()) *testNode {
	tn.t.Helper()
	tn.stop()
	for _, f := range whileDown {
		f()
	}
	cfg := tn.cfg
	cfg.Listen = tn.Info().Listen
	var n2 *testNode
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := New(context.Background(), cfg)
		if err == nil {
			n2 = &testNode{Node: n, t: tn.t, cfg: cfg, store: tn.store, local: tn.local, runErr: make(chan error, 1)}
			break
		}
		if time.Now().After(deadline) {
			tn.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	go func() { n2.runErr <- n2.Run(context.Background()) }()
	tn.t.Cleanup(func() { n2.stop() })
	return n2
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (tn *testNode) connectedTo(id NodeID) bool {
	pi, err := tn.Peer(id.String())
	return err == nil && pi.Connected
}

// pairInvite pairs b with a through an invite of a granting role.
func pairInvite(t testing.TB, a, b *testNode, role Role) {
	t.Helper()
	inv, err := a.Invite(role)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.AddPeer(ctx, inv.Address, inv.Code); err != nil {
		t.Fatalf("AddPeer with invite: %v", err)
	}
	waitFor(t, 5*time.Second, "both sides connected", func() bool { return a.connectedTo(b.ID()) && b.connectedTo(a.ID()) })
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func auditHas(s *MemStore, who, action, result string) bool {
	for _, e := range s.Audit() {
		if e.Who == who && e.Action == action && strings.Contains(e.Result, result) {
			return true
		}
	}
	return false
}

// setRoleForTest changes a peer's role in memory only, as a record stored
// before a rule changed would have it.
func (tn *testNode) setRoleForTest(id NodeID, r Role) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.peers[id].rec.Role = r
}
