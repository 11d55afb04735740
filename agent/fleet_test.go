package agent

import (
	"net/http"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// fleetAgent starts an agent with its P2P listener on loopback.
func fleetAgent(t *testing.T, name, role string) (*server, *apiClient) {
	t.Helper()
	return testServer(t, func(c *serveConfig) {
		c.P2PListen = "127.0.0.1:0"
		c.NodeName = name
		c.NodeRole = role
	})
}

// TestFleetIntegration runs three full agents on loopback: a controller
// pairs with one worker by invite and with another by approval, sees both
// workers' miners in remote stats, starts and stops a miner remotely, and
// is refused what its role does not allow. A worker restart keeps the
// pairing.
func TestFleetIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("three agents; skipped with -short")
	}
	ctl, ctlAPI := fleetAgent(t, "ctl", "controller")
	w1, w1API := fleetAgent(t, "w1", "worker")
	w2, w2API := fleetAgent(t, "w2", "worker")

	bin := agenttest.FakeMiner(t, agenttest.FakeScenario{Banner: []string{" * ABOUT        XMRig/6.16.0 gcc/5.4.0"}, RunFor: 5 * time.Minute, TERM: "exit"})
	startOn := func(api *apiClient, name string) {
		var info miner.Info
		req := map[string]any{"type": "xmrig", "name": name, "binary": bin,
			"profile": map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:1", "user": "w"}}}}
		if code := api.do("POST", "/miners", req, &info); code != http.StatusCreated {
			t.Fatalf("start %s: %d %+v", name, code, info)
		}
	}
	startOn(w1API, "w1-cpu")
	startOn(w2API, "w2-cpu")

	// w1 invites the controller with the controller role.
	var inv router.Invite
	if code := w1API.do("POST", "/node/invite", router.InviteRequest{Role: "controller"}, &inv); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("invite: %d %+v", code, inv)
	}
	var p router.Peer
	if code := ctlAPI.do("POST", "/peers", router.AddPeerRequest{Address: inv.Address, Invite: inv.Invite}, &p); code/100 != 2 {
		t.Fatalf("add peer by invite: %d %+v", code, p)
	}

	// w2 approves the controller after it tried to connect with its ID.
	var w2node, ctlNode router.NodeInfo
	w2API.do("GET", "/node/info", nil, &w2node)
	ctlAPI.do("GET", "/node/info", nil, &ctlNode)
	var pending router.Peer
	if code := ctlAPI.do("POST", "/peers", router.AddPeerRequest{Address: w2.node.Info().Address, Invite: w2node.NodeID}, &pending); code != http.StatusAccepted || !pending.Pending || pending.ID != w2node.NodeID {
		t.Fatalf("add by node id: %d %+v, want 202 and the peer, pending", code, pending)
	}
	eventually(t, 10*time.Second, func() string {
		var list []router.PendingPeer
		w2API.do("GET", "/node/pending", nil, &list)
		for _, x := range list {
			if x.ID == ctlNode.NodeID {
				return ""
			}
		}
		return "the controller is not pending on w2"
	})
	if code := w2API.do("POST", "/peers/"+ctlNode.NodeID+"/approve", router.ApproveRequest{Role: "observer"}, &p); code != http.StatusOK {
		t.Fatalf("approve: %d %+v", code, p)
	}

	// Remote stats from the controller show both workers' miners.
	var nodes []router.RemoteNode
	eventually(t, 20*time.Second, func() string {
		ctlAPI.do("GET", "/remote/stats", nil, &nodes)
		seen := map[string]bool{}
		for _, n := range nodes {
			for _, m := range n.Miners {
				if n.OK {
					seen[m.Name] = true
				}
			}
		}
		if !seen["w1-cpu"] || !seen["w2-cpu"] {
			return "remote stats lack a worker's miner"
		}
		return ""
	})

	// One peer's stats that the peer refuses: the refusal is the answer
	// (the controller granted w2 nothing).
	var refused router.ErrorBody
	if code := w2API.do("GET", "/remote/"+ctlNode.NodeID+"/stats", nil, &refused); code != http.StatusForbidden {
		t.Fatalf("stats of a peer that grants nothing: %d %+v, want 403", code, refused)
	}

	// The controller starts and stops a miner on w1 (controller role),
	// with the binary w1 has installed (a peer never chooses a path).
	var im router.InstalledMiner
	if code := w1API.do("POST", "/miners/ttminer/install", router.InstallRequest{From: buildFakeTTMiner(t, `{"interval_ms": 300}`)}, &im); code != http.StatusOK {
		t.Fatalf("install on w1: %d %+v", code, im)
	}
	profile := map[string]any{"algo": "kawpow", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "RWallet"}}}
	var info miner.Info
	if code := ctlAPI.do("POST", "/remote/w1/start", map[string]any{"type": "ttminer", "name": "remote1", "profile": profile}, &info); code/100 != 2 || info.Name != "remote1" {
		t.Fatalf("remote start on w1: %d %+v", code, info)
	}
	var errBody router.ErrorBody
	if code := ctlAPI.do("POST", "/remote/w1/start", map[string]any{"type": "ttminer", "name": "bad", "profile": map[string]any{"algo": "no-such-algo", "pools": profile["pools"]}}, &errBody); code != http.StatusBadRequest {
		t.Fatalf("remote start of a profile w1's adapter rejects: %d %+v", code, errBody)
	}
	if w1API.do("GET", "/miners/remote1", nil, &info); info.State != miner.StateRunning {
		t.Fatalf("remote1 on w1: %+v", info)
	}
	for _, name := range []string{"remote1", "w1-cpu"} {
		if code := ctlAPI.do("POST", "/remote/w1/stop", router.RemoteStopRequest{Name: name}, &info); code != http.StatusOK || info.State != miner.StateStopped {
			t.Fatalf("remote stop of %s on w1: %d %+v", name, code, info)
		}
	}
	var left []miner.Info
	w1API.do("GET", "/miners", nil, &left)
	if len(left) != 0 {
		t.Fatalf("w1 still runs %+v", left)
	}
	// ... but only observes w2.
	if code := ctlAPI.do("POST", "/remote/w2/stop", router.RemoteStopRequest{Name: "w2-cpu"}, &errBody); code != http.StatusForbidden {
		t.Fatalf("observer stop on w2: %d %+v", code, errBody)
	}
	var still miner.Info
	if w2API.do("GET", "/miners/w2-cpu", nil, &still); still.State != miner.StateRunning {
		t.Fatalf("w2's miner was disturbed: %+v", still)
	}

	// A worker restart keeps the pairing: the controller reconnects.
	w1Dir := w1.cfg.DataDir
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w1b, _ := testServer(t, func(c *serveConfig) {
		c.DataDir = w1Dir
		c.P2PListen = inv.Address // the same address: the controller redials it
		c.NodeName = "w1"
		c.NodeRole = "worker"
	})
	_ = w1b
	eventually(t, 30*time.Second, func() string {
		ctlAPI.do("GET", "/remote/stats", nil, &nodes)
		for _, n := range nodes {
			if n.Name == "w1" && n.OK {
				return ""
			}
		}
		return "the controller did not reconnect to the restarted w1"
	})
	_ = ctl
}
