package peers

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// TestMeshIntegration runs a controller and two workers in one process,
// each with its own key directory, store, listener and fake agent:
// pairing by invite and by approval, remote stats, remote start and stop,
// and a worker restart that keeps the pairing.
func TestMeshIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node mesh")
	}
	ctrlCfg := testConfig(t, "controller", NodeController)
	c := startNode(t, ctrlCfg)

	w1cfg := testConfig(t, "worker-1", NodeWorker)
	w1cfg.Local = newFakeLocal("xmrig-rx0")
	w1cfg.Profiles = fakeProfiles{"p-rx": {Type: "xmrig", Profile: abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "pool:3333", User: "wallet"}}}, ProfileID: "p-rx"}}
	w1 := startNode(t, w1cfg)

	w2cfg := testConfig(t, "worker-2", NodeWorker)
	w2cfg.Local = newFakeLocal("ttminer-kawpow", "xmrig-gr")
	w2 := startNode(t, w2cfg)

	ctx := ctxT(t, 60*time.Second)

	// Pair by invite: worker-1 grants the controller the controller role.
	inv, err := w1.Invite(RoleController)
	if err != nil {
		t.Fatal(err)
	}
	if inv.NodeID != w1.ID() || inv.Address != w1.Info().Listen || inv.Role != RoleController {
		t.Fatalf("invite %+v does not describe worker-1 (%s at %s)", inv, w1.ID(), w1.Info().Listen)
	}
	pi, err := c.AddPeer(ctx, inv.Address, inv.Code)
	if err != nil {
		t.Fatalf("redeem invite: %v", err)
	}
	if pi.ID != w1.ID() || pi.Role != RoleNone || pi.RemoteRole != RoleController || pi.Name != "worker-1" {
		t.Fatalf("controller's record of worker-1: %+v", pi)
	}
	waitFor(t, 5*time.Second, "worker-1 sees the controller", func() bool { return w1.connectedTo(c.ID()) })
	if got, _ := w1.Peer(c.ID().String()); got.Role != RoleController || got.Name != "controller" {
		t.Fatalf("worker-1's record of the controller: %+v", got)
	}
	// Single use.
	if _, err := c.AddPeer(ctx, inv.Address, inv.Code); !errors.Is(err, ErrInviteUsed) {
		t.Fatalf("second redemption: %v, want ErrInviteUsed", err)
	}

	// Pair by approval: the controller adds worker-2 by its id; worker-2's
	// user approves the pending controller.
	_, err = c.AddPeer(ctx, w2.Info().Address, w2.ID().String())
	if !errors.Is(err, ErrPendingApproval) {
		t.Fatalf("add by id: %v, want ErrPendingApproval", err)
	}
	pend := w2.Pending()
	if len(pend) != 1 || pend[0].ID != c.ID() || pend[0].Name != "controller" || pend[0].Count < 1 {
		t.Fatalf("worker-2 pending list: %+v", pend)
	}
	if _, err := w2.Approve(ctx, c.ID().Short(), RoleController); err != nil {
		t.Fatalf("approve by short id: %v", err)
	}
	if len(w2.Pending()) != 0 {
		t.Fatalf("pending after approval: %+v", w2.Pending())
	}
	waitFor(t, 5*time.Second, "controller reconnects to worker-2", func() bool { return c.connectedTo(w2.ID()) })
	if m := c.Metrics(); c.Connected() != 2 || m.Connected != 2 || m.Peers != 2 || m.Panics != 0 {
		t.Fatalf("controller connected to %d peers (%+v), want 2", c.Connected(), m)
	}

	// Remote stats: both workers' miners, in parallel.
	rs := c.RemoteStats(ctx)
	if len(rs) != 2 {
		t.Fatalf("remote stats: %d entries: %+v", len(rs), rs)
	}
	for _, r := range rs {
		if !r.OK {
			t.Fatalf("remote stats of %s: %s", r.Name, r.Error)
		}
	}
	if rs[0].Name != "worker-1" || len(rs[0].Miners) != 1 || rs[0].Miners[0].Name != "xmrig-rx0" ||
		rs[0].Miners[0].Stats.HashrateHS == nil || *rs[0].Miners[0].Stats.HashrateHS != 1234.5 {
		t.Fatalf("worker-1 stats: %+v", rs[0])
	}
	if rs[1].Name != "worker-2" || len(rs[1].Miners) != 2 {
		t.Fatalf("worker-2 stats: %+v", rs[1])
	}
	// Pool passwords do not leave their node.
	for _, r := range rs {
		for _, m := range r.Miners {
			if p := m.Profile.Pools; len(p) != 1 || p[0].Pass != "(redacted)" || p[0].User != "w" {
				t.Fatalf("%s's pools as a peer sees them: %+v", m.Name, p)
			}
		}
	}
	// A worker's own fan-out leaves out the controller, which granted it
	// nothing.
	if got := w1.RemoteStats(ctx); len(got) != 0 {
		t.Fatalf("worker-1's fan-out: %+v", got)
	}

	// Remote start by profile id (resolved on the worker) and inline.
	info, err := c.RemoteStart(ctx, w1.ID().String(), StartSpec{ProfileID: "p-rx", Name: "rx-two"})
	if err != nil {
		t.Fatalf("remote start by profile: %v", err)
	}
	if info.Name != "rx-two" || info.ProfileID != "p-rx" || !w1.local.has("rx-two") {
		t.Fatalf("started %+v", info)
	}
	prof := abi.Profile{Algo: "kawpow", Pools: []abi.Pool{{URL: "rvn:4444", User: "x"}}}
	info, err = c.RemoteStart(ctx, w2.ID().Short(), StartSpec{Type: "ttminer", Profile: &prof, Name: "tt2"})
	if err != nil || info.Name != "tt2" || !w2.local.has("tt2") {
		t.Fatalf("remote inline start: %+v %v", info, err)
	}
	// The worker's adapter validates the inline profile.
	bad := abi.Profile{Algo: "kawpow"}
	if _, err := c.RemoteStart(ctx, w2.ID().String(), StartSpec{Type: "ttminer", Profile: &bad}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("start with a profile the adapter rejects: %v", err)
	}
	var re *RemoteError
	if _, err := c.RemoteStart(ctx, w2.ID().String(), StartSpec{Type: "ttminer", Profile: &bad}); !errors.As(err, &re) || re.Code != codeInvalidProfile {
		t.Fatalf("want invalid_profile, got %v", err)
	}
	if _, err := c.RemoteStop(ctx, w1.ID().String(), "rx-two"); err != nil || w1.local.has("rx-two") {
		t.Fatalf("remote stop: %v", err)
	}
	if _, err := c.RemoteStop(ctx, w1.ID().String(), "rx-two"); !errors.Is(err, ErrRemoteNotFound) {
		t.Fatalf("stop of a stopped miner: %v, want ErrRemoteNotFound", err)
	}
	if info, err := c.RemoteRestart(ctx, w2.ID().String(), "tt2"); err != nil || info.Name != "tt2" || !w2.local.has("tt2") {
		t.Fatalf("remote restart: %+v %v", info, err)
	}
	logs, err := c.RemoteLogs(ctx, w2.ID().String(), "xmrig-gr", miner.LogQuery{Lines: 10})
	if err != nil || len(logs) != 10 || logs[9].Seq != 50 {
		t.Fatalf("remote logs: %d lines, %v", len(logs), err)
	}
	if rtt, err := c.Ping(ctx, w1.ID().String()); err != nil || rtt <= 0 {
		t.Fatalf("ping: %v %v", rtt, err)
	}
	if got, _ := c.Peer(w1.ID().String()); got.RTT <= 0 || got.LastSeen == nil {
		t.Fatalf("peer info after ping: %+v", got)
	}
	if !auditHas(w2.store, "peer:"+c.ID().String(), msgStartMiner, "ok") {
		t.Fatalf("worker-2 audit: %+v", w2.store.Audit())
	}

	// Worker restart: same key dir and store; the pairing survives and the
	// controller reconnects.
	oldID := w1.ID()
	w1 = w1.restart()
	if w1.ID() != oldID {
		t.Fatalf("restart changed the node id: %s → %s", oldID, w1.ID())
	}
	if got, err := w1.Peer(c.ID().String()); err != nil || got.Role != RoleController {
		t.Fatalf("restarted worker-1 lost the controller: %+v %v", got, err)
	}
	waitFor(t, 10*time.Second, "controller reconnects to the restarted worker-1", func() bool {
		return c.connectedTo(w1.ID()) && w1.connectedTo(c.ID())
	})
	rs = c.RemoteStats(ctx)
	if len(rs) != 2 || !rs[0].OK || !rs[1].OK {
		t.Fatalf("remote stats after restart: %+v", rs)
	}
	if _, err := c.RemoteStart(ctx, w1.ID().String(), StartSpec{ProfileID: "p-rx", Name: "rx-three"}); err != nil {
		t.Fatalf("remote start after restart: %v", err)
	}

	// Revoke: worker-2 removes the controller; the session closes and the
	// controller's next connection is refused and pending.
	if err := w2.RemovePeer(ctx, c.ID().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "revoked session closed", func() bool { return !c.connectedTo(w2.ID()) })
	waitFor(t, 5*time.Second, "revoked controller pending again", func() bool {
		return slices.ContainsFunc(w2.Pending(), func(p PendingPeer) bool { return p.ID == c.ID() })
	})
	rs = c.RemoteStats(ctx)
	if len(rs) != 2 || rs[1].OK || !errors.Is(rs[1].Err, ErrNotConnected) {
		t.Fatalf("remote stats with worker-2 revoking: %+v", rs)
	}
}

// TestSequenceAfterRestore: a node whose store went back (restored from an
// older copy, its key kept) sends sequence numbers its peer accepted
// before. The peer refuses the first message as a replay and says where
// to continue; the node moves past it and the next requests work.
func TestSequenceAfterRestore(t *testing.T) {
	c := startNode(t, testConfig(t, "controller", NodeController))
	wcfg := testConfig(t, "worker", NodeWorker)
	wcfg.Local = newFakeLocal("xmrig-rx0")
	w := startNode(t, wcfg)
	ctx := ctxT(t, 30*time.Second)
	inv, err := w.Invite(RoleController)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPeer(ctx, inv.Address, inv.Code); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "paired", func() bool { return c.connectedTo(w.ID()) && w.connectedTo(c.ID()) })
	// restartWith restarts the controller with its send counter towards
	// the worker set to sent, and waits for its stats requests to work.
	restartWith := func(sent uint64, what string, within time.Duration) {
		t.Helper()
		c = c.restart(func() {
			if err := c.store.SaveSeq(ctx, w.ID(), SeqSent, sent); err != nil {
				t.Fatal(err)
			}
		})
		waitFor(t, within, what, func() bool {
			rs, err := c.RemoteStatsOf(ctx, w.ID().String())
			return err == nil && rs.OK
		})
	}
	// A long-lived pairing: the worker accepted a million messages. Then
	// the controller's store goes back.
	restartWith(1_000_000, "stats before the restore", 5*time.Second)
	restartWith(0, "stats after the restore", 10*time.Second)
}
