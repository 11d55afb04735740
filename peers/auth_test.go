package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// An unpaired key completes the handshake and immediately sends
// start_miner: it gets the one fixed frame and is closed; nothing it sent
// after the handshake is parsed, the miner is untouched, the node is
// pending and the refusal is audited.
func TestUnpairedKeyRefusedBeforeParse(t *testing.T) {
	cfg := testConfig(t, "worker", NodeWorker)
	cfg.Local = newFakeLocal("xmrig-rx0")
	w := startNode(t, cfg)
	rp := newRawPeer(t)

	rc := rp.connect(t, w.Info().Listen)
	rc.send(t, envelope{ID: "c1", Type: msgStartMiner, Seq: 1, Body: startBody("evil")})
	rc.send(t, envelope{ID: "c2", Type: msgStopMiner, Seq: 2, Body: []byte(`{"name":"xmrig-rx0"}`)})
	if v := rc.verdict(t); !bytes.Equal(v, unauthorizedFrame) {
		t.Fatalf("verdict %q, want the fixed %q", v, unauthorizedFrame)
	}
	rc.closedWithin(t, time.Second)

	if got := w.parsed.Load(); got != 0 {
		t.Fatalf("parse counter %d, want 0", got)
	}
	if starts, stops := w.local.counts(); starts != 0 || stops != 0 || !w.local.has("xmrig-rx0") || w.local.has("evil") {
		t.Fatalf("miner state changed: starts %d stops %d", starts, stops)
	}
	pend := w.Pending()
	if len(pend) != 1 || pend[0].ID != rp.id || pend[0].Count != 1 || pend[0].Name != "raw" {
		t.Fatalf("pending: %+v", pend)
	}
	if !auditHas(w.store, "peer:"+rp.id.String(), "connect", codeUnauthorizedPeer) {
		t.Fatalf("audit: %+v", w.store.Audit())
	}

	// Again: counted, audited at most once a minute, still unparsed.
	rc = rp.connect(t, w.Info().Listen)
	if v := rc.verdict(t); !bytes.Equal(v, unauthorizedFrame) {
		t.Fatalf("second verdict %q", v)
	}
	if p := w.Pending(); p[0].Count != 2 || len(w.store.Audit()) != 1 {
		t.Fatalf("after a second attempt: pending %+v, %d audit entries", p, len(w.store.Audit()))
	}
	if w.parsed.Load() != 0 {
		t.Fatal("parse counter moved")
	}

	// A real node dialing an unknown node with a pinned id gets
	// ErrPendingApproval; with the wrong pinned id it never connects.
	other := startNode(t, testConfig(t, "other", NodeWorker))
	ctx := ctxT(t, 10*time.Second)
	if _, err := other.AddPeer(ctx, w.Info().Listen, other.ID().String()); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("adding its own id: %v", err)
	}
	if _, err := other.AddPeer(ctx, w.Info().Listen, rp.id.String()); !errors.Is(err, ErrPeerMismatch) {
		t.Fatalf("wrong pinned id: %v, want ErrPeerMismatch", err)
	}
	if len(other.Peers()) != 0 {
		t.Fatal("a mismatched peer was stored")
	}
	if _, err := other.AddPeer(ctx, w.Info().Listen, w.ID().String()); !errors.Is(err, ErrPendingApproval) {
		t.Fatalf("unknown to the remote: %v, want ErrPendingApproval", err)
	}
	if w.parsed.Load() != 0 {
		t.Fatal("parse counter moved")
	}
}

func TestRolesEnforced(t *testing.T) {
	wcfg := testConfig(t, "worker", NodeWorker)
	wcfg.Local = newFakeLocal("xmrig-rx0")
	w := startNode(t, wcfg)
	obs := startNode(t, testConfig(t, "observer", NodeController))
	ctl := startNode(t, testConfig(t, "controller", NodeController))
	pairInvite(t, w, obs, RoleObserver)
	pairInvite(t, w, ctl, RoleController)
	ctx := ctxT(t, 30*time.Second)

	// Observer: stats and logs, never stop.
	if rs, err := obs.RemoteStatsOf(ctx, w.ID().String()); err != nil || len(rs.Miners) != 1 {
		t.Fatalf("observer stats: %+v %v", rs, err)
	}
	if _, err := obs.RemoteLogs(ctx, w.ID().String(), "xmrig-rx0", miner.LogQuery{}); err != nil {
		t.Fatalf("observer logs: %v", err)
	}
	_, err := obs.RemoteStop(ctx, w.ID().String(), "xmrig-rx0")
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("observer stop: %v, want ErrForbidden", err)
	}
	prof := abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "p:1"}}}
	if _, err := obs.RemoteStart(ctx, w.ID().String(), StartSpec{Type: "xmrig", Profile: &prof}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("observer start: %v, want ErrForbidden", err)
	}
	if _, stops := w.local.counts(); stops != 0 || !w.local.has("xmrig-rx0") {
		t.Fatal("the observer's stop ran")
	}
	if !auditHas(w.store, "peer:"+obs.ID().String(), msgStopMiner, codeForbidden) {
		t.Fatalf("forbidden stop not audited: %+v", w.store.Audit())
	}
	// Forbidden requests are audited, but a peer cannot flood the log.
	before := len(w.store.Audit())
	for range 30 {
		obs.RemoteStop(ctx, w.ID().String(), "xmrig-rx0")
		time.Sleep(60 * time.Millisecond) // under the request rate limit
	}
	if got := len(w.store.Audit()) - before; got < auditBurst-3 || got > auditBurst {
		t.Fatalf("30 forbidden stops wrote %d audit entries, want at most %d", got, auditBurst)
	}

	// Controller: no admin verb, whatever it asks.
	for _, verb := range []string{msgAddPeer, msgRemovePeer, msgApprovePeer, msgSetRole, msgInvite} {
		_, err := ctl.call(ctx, w.ID(), verb, "", map[string]string{"id": obs.ID().String(), "role": "controller"})
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != codeForbidden || !errors.Is(err, ErrForbidden) {
			t.Fatalf("controller %s: %v, want forbidden", verb, err)
		}
	}
	if ps := w.Peers(); len(ps) != 2 {
		t.Fatalf("allow-list changed: %+v", ps)
	}
	if pi, _ := w.Peer(obs.ID().String()); pi.Role != RoleObserver {
		t.Fatalf("observer's role changed: %+v", pi)
	}

	// A controller-only node grants at most observer (a "controller" peer
	// would be listed as one and act as an observer), and accepts at most
	// observer requests, whatever role a stored record says.
	if _, err := w.RemoteStop(ctx, ctl.ID().String(), "anything"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("stop on a node that granted nothing: %v", err)
	}
	if _, err := ctl.Approve(ctx, w.ID().String(), RoleController); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("a controller-only node granting controller: %v", err)
	}
	if _, err := ctl.Invite(RoleController); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("a controller-only node inviting a controller: %v", err)
	}
	if _, err := ctl.Approve(ctx, w.ID().String(), RoleObserver); err != nil {
		t.Fatal(err)
	}
	ctl.setRoleForTest(w.ID(), RoleController) // a record from before the rule
	waitFor(t, 5*time.Second, "the worker reconnects", func() bool { return w.connectedTo(ctl.ID()) })
	if _, err := w.RemoteStop(ctx, ctl.ID().String(), "anything"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("stop on a controller-only node: %v", err)
	}
	if _, err := w.RemoteStatsOf(ctx, ctl.ID().String()); err != nil {
		t.Fatalf("stats on a controller-only node after approval: %v", err)
	}
	if _, err := ctl.Approve(ctx, w.ID().String(), RoleAdmin); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("granting admin: %v", err)
	}

	// Role changes apply to the next request.
	if _, err := w.Approve(ctx, obs.ID().String(), RoleController); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.RemoteStop(ctx, w.ID().String(), "xmrig-rx0"); err != nil {
		t.Fatalf("stop after promotion: %v", err)
	}

	// Revocation closes the live session within 1 s on both ends.
	start := time.Now()
	if err := w.RemovePeer(ctx, ctl.ID().String()); err != nil {
		t.Fatal(err)
	}
	if w.connectedTo(ctl.ID()) {
		t.Fatal("session still listed after RemovePeer returned")
	}
	waitFor(t, time.Second, "revoked peer disconnected", func() bool { return !ctl.connectedTo(w.ID()) })
	t.Logf("revocation closed the session in %v", time.Since(start))
	if _, err := ctl.RemoteStatsOf(ctx, w.ID().String()); err == nil {
		t.Fatal("a revoked peer still gets stats")
	}
	if err := w.RemovePeer(ctx, ctl.ID().String()); !errors.Is(err, ErrUnknownPeer) && !errors.Is(err, ErrInvalidID) {
		// It may be pending again by now (its dialer retries); then the
		// call drops it from the pending list, which is fine too.
		if err != nil {
			t.Fatalf("second remove: %v", err)
		}
	}
}

func TestInviteErrors(t *testing.T) {
	cfg := testConfig(t, "inviter", NodeWorker)
	cfg.InviteTTL = 150 * time.Millisecond
	a := startNode(t, cfg)
	b := startNode(t, testConfig(t, "redeemer", NodeController))
	c := startNode(t, testConfig(t, "third", NodeWorker))
	ctx := ctxT(t, 20*time.Second)

	if _, err := a.Invite(RoleAdmin); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("admin invite: %v", err)
	}
	inv, err := a.Invite(RoleObserver)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Code) != 47 || strings.Count(inv.Code, "-") != 7 {
		t.Fatalf("code %q is not eight groups of five", inv.Code)
	}
	// A typo is caught by the check character.
	typo := []byte(inv.Code)
	if typo[3] == 'A' {
		typo[3] = 'B'
	} else {
		typo[3] = 'A'
	}
	if _, err := b.AddPeer(ctx, inv.Address, string(typo)); !errors.Is(err, ErrInviteInvalid) {
		t.Fatalf("typo: %v", err)
	}
	// A well-formed code that a never issued.
	ic, _ := newInviteCode(a.ID())
	if _, err := b.AddPeer(ctx, inv.Address, ic.String()); !errors.Is(err, ErrInviteInvalid) {
		t.Fatalf("unknown invite: %v", err)
	}
	// a's code presented to c: c knows no such invite.
	if _, err := b.AddPeer(ctx, c.Info().Listen, inv.Code); !errors.Is(err, ErrInviteInvalid) {
		t.Fatalf("invite presented to another node: %v", err)
	}
	// a's secret with another node's id pinned: a accepts the secret, but
	// the redeemer sees a's key does not match the pin and aborts; the
	// invite stays usable.
	real, err := parseInviteCode(inv.Code)
	if err != nil {
		t.Fatal(err)
	}
	forged := real
	cid := c.ID()
	copy(forged.pin[:], cid[:])
	if _, err := b.AddPeer(ctx, inv.Address, forged.String()); !errors.Is(err, ErrPeerMismatch) {
		t.Fatalf("pin of another node: %v, want ErrPeerMismatch", err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := b.AddPeer(ctx, inv.Address, inv.Code); !errors.Is(err, ErrInviteExpired) {
		t.Fatalf("expired invite: %v", err)
	}
	if len(a.Peers()) != 0 || len(b.Peers()) != 0 {
		t.Fatal("a failed redemption stored a peer")
	}
	for i := 0; i < maxOpenInvites; i++ {
		if _, err := a.Invite(RoleNone); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Invite(RoleNone); !errors.Is(err, ErrTooManyInvites) {
		t.Fatalf("invite %d: %v", maxOpenInvites+1, err)
	}
	// Two redeemers racing for one invite: exactly one wins.
	time.Sleep(200 * time.Millisecond)
	inv, err = a.Invite(RoleObserver)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []*testNode{b, c} {
		wg.Go(func() { _, errs[i] = n.AddPeer(ctx, inv.Address, inv.Code) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing redemptions: %v, %v (want exactly one success)", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrInviteUsed) {
			t.Fatalf("losing redemption: %v, want ErrInviteUsed", err)
		}
	}

	// No listener, no invites.
	nl := testConfig(t, "nolisten", NodeWorker)
	nl.Listen = ""
	n := startNode(t, nl)
	if _, err := n.Invite(RoleObserver); !errors.Is(err, ErrNoListener) {
		t.Fatalf("invite without a listener: %v", err)
	}
}

func TestRateLimits(t *testing.T) {
	w := startNode(t, testConfig(t, "worker", NodeWorker))
	ctl := startNode(t, testConfig(t, "controller", NodeController))
	pairInvite(t, w, ctl, RoleController)
	ctx := ctxT(t, 30*time.Second)

	// 40 requests at once: the burst of 20 (plus a little refill) passes.
	var mu sync.Mutex
	ok, limited := 0, 0
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, err := ctl.Ping(ctx, w.ID().String())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrRateLimited):
				limited++
			default:
				t.Errorf("ping: %v", err)
			}
		})
	}
	wg.Wait()
	if ok < 18 || ok > 26 || limited < 14 {
		t.Fatalf("40 pings at once: %d ok, %d limited; want about 20 ok", ok, limited)
	}

	// At most 6 start/stop per miner per minute.
	time.Sleep(2 * time.Second) // refill the bucket
	prof := abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "p:1"}}}
	for i := range 6 {
		var err error
		if i%2 == 0 {
			_, err = ctl.RemoteStart(ctx, w.ID().String(), StartSpec{Type: "xmrig", Name: "m1", Profile: &prof})
		} else {
			_, err = ctl.RemoteStop(ctx, w.ID().String(), "m1")
		}
		if err != nil {
			t.Fatalf("op %d: %v", i+1, err)
		}
	}
	if _, err := ctl.RemoteStart(ctx, w.ID().String(), StartSpec{Type: "xmrig", Name: "m1", Profile: &prof}); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("7th op on m1: %v, want ErrRateLimited", err)
	}
	if _, err := ctl.RemoteStart(ctx, w.ID().String(), StartSpec{Type: "xmrig", Name: "m2", Profile: &prof}); err != nil {
		t.Fatalf("another miner: %v", err)
	}
	if starts, stops := w.local.counts(); starts != 4 || stops != 3 {
		t.Fatalf("starts %d stops %d, want 4 and 3", starts, stops)
	}
}

// Logs are split into parts under the message limit and capped at
// MaxLogLines; long lines are cut and marked.
func TestRemoteLogsLarge(t *testing.T) {
	cfg := testConfig(t, "worker", NodeWorker)
	local := newFakeLocal("xmrig-rx0")
	local.lines = 12000
	cfg.Local = local
	w := startNode(t, cfg)
	ctl := startNode(t, testConfig(t, "controller", NodeController))
	pairInvite(t, w, ctl, RoleObserver)
	ctx := ctxT(t, 30*time.Second)
	lines, err := ctl.RemoteLogs(ctx, w.ID().String(), "xmrig-rx0", miner.LogQuery{Lines: MaxLogLines})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != MaxLogLines || lines[0].Seq != 2001 || lines[len(lines)-1].Seq != 12000 {
		t.Fatalf("%d lines from %d to %d", len(lines), lines[0].Seq, lines[len(lines)-1].Seq)
	}
	if _, err := ctl.RemoteLogs(ctx, w.ID().String(), "xmrig-rx0", miner.LogQuery{Lines: MaxLogLines + 1}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("over the line limit: %v", err)
	}
	if _, err := ctl.RemoteLogs(ctx, w.ID().String(), "nope", miner.LogQuery{}); !errors.Is(err, ErrRemoteNotFound) {
		t.Fatalf("unknown miner: %v", err)
	}
	if _, err := ctl.RemoteLogs(ctx, w.ID().String(), "../etc", miner.LogQuery{}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad name: %v", err)
	}

	// Many miners: stats come in several parts too.
	for i := range 60 {
		local.mu.Lock()
		info := fakeInfo("m"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26)), "xmrig", abi.Profile{Algo: "rx/0"})
		info.Message = strings.Repeat("m", 2000)
		local.miners[info.Name] = info
		local.mu.Unlock()
	}
	rs, err := ctl.RemoteStatsOf(ctx, w.ID().String())
	if err != nil || len(rs.Miners) != 61 {
		t.Fatalf("stats of 61 miners: %d, %v", len(rs.Miners), err)
	}
	if _, err := ctl.RemoteStatsOf(context.Background(), "ZZZZZ-ZZZZZ"); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown short id: %v", err)
	}
	if _, err := ctl.RemoteStatsOf(context.Background(), "not a peer"); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown name: %v", err)
	}
	if rs, err := ctl.RemoteStatsOf(ctx, "worker"); err != nil || rs.NodeID != w.ID() {
		t.Fatalf("by name: %+v %v", rs, err)
	}
	typo := []byte(w.ID().String())
	typo[0] = map[bool]byte{true: 'B', false: 'A'}[typo[0] == 'A']
	if _, err := ctl.RemoteStatsOf(ctx, string(typo)); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("mistyped full id: %v", err)
	}
}

// A flood of fresh keys does not flood the audit log: refused connections
// are audited at most 20 at once, then one a second, and the next entry
// says how many were left out.
func TestRefusedAuditBounded(t *testing.T) {
	w := startNode(t, testConfig(t, "worker", NodeWorker))
	const keys = 70
	start := time.Now()
	for range keys {
		rc := newRawPeer(t).connect(t, w.Info().Listen)
		if v := rc.verdict(t); !bytes.Equal(v, unauthorizedFrame) {
			t.Fatalf("verdict %q", v)
		}
		// Hang up, as a refused node does: until then the refusal lingers
		// (up to 250 ms) in its pre-auth slot.
		rc.close()
	}
	n := len(w.store.Audit())
	if max := auditBurst + int(time.Since(start).Seconds()) + 1; n < auditBurst || n > max {
		t.Fatalf("%d audit entries for %d fresh keys in %v, want %d to %d", n, keys, time.Since(start), auditBurst, max)
	}
	time.Sleep(1100 * time.Millisecond)
	rc := newRawPeer(t).connect(t, w.Info().Listen)
	rc.verdict(t)
	// Every refused connection is either an entry or counted in one.
	total := 0
	for _, e := range w.store.Audit() {
		var more int
		if i := strings.Index(e.Result, "(and "); i >= 0 {
			fmt.Sscanf(e.Result[i:], "(and %d", &more)
		}
		total += 1 + more
	}
	if total != keys+1 {
		t.Fatalf("audit accounts for %d refused connections, want %d", total, keys+1)
	}
	if len(w.Pending()) != DefaultMaxPending {
		t.Fatalf("pending list holds %d, want the cap %d", len(w.Pending()), DefaultMaxPending)
	}
}

// Someone who saw an invite's id on the wire (but not its secret) holds
// handshakes open with it: the real redeemer is not blocked, because only
// a handshake that proves the secret claims the invite.
func TestInviteNotBlockedByItsID(t *testing.T) {
	a := startNode(t, testConfig(t, "inviter", NodeWorker))
	b := startNode(t, testConfig(t, "late", NodeWorker))
	c := startNode(t, testConfig(t, "redeemer", NodeController))
	ctx := ctxT(t, 20*time.Second)
	inv, err := a.Invite(RoleObserver)
	if err != nil {
		t.Fatal(err)
	}
	ic, _ := parseInviteCode(inv.Code)
	for range 3 {
		fc, err := dialWS(ctx, inv.Address, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fc.conn.Close()
		pre := preamble{mode: modeInvite, inviteID: ic.id()}
		hs, _ := newHandshake(true, newRawPeer(t).key, pre.bytes(), bytes.Repeat([]byte{9}, 32))
		m1, _, _ := hs.writeMessage(nil)
		if err := fc.writeFrame(ws.OpBinary, append(pre.bytes(), m1...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AddPeer(ctx, inv.Address, inv.Code); err != nil {
		t.Fatalf("redemption while an eavesdropper holds handshakes open: %v", err)
	}
	if _, err := b.AddPeer(ctx, inv.Address, inv.Code); !errors.Is(err, ErrInviteUsed) {
		t.Fatalf("second redemption: %v", err)
	}
}
