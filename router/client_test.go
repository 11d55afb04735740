package router

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

func TestClient(t *testing.T) {
	ta := newTestAPI(t, func(c *Config) { c.Listen = "0.0.0.0:9090" }) // every call needs the token
	ta.fm.add("cpu", "xmrig", 2)
	ta.cfg.Peers.(*fakePeers).peers = []Peer{{ID: "PEER-1"}}
	c, err := NewClient(ta.srv.URL, testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	h, err := c.Health(ctx)
	must("health", err)
	if h.Version != "test" {
		t.Fatalf("health %+v", h)
	}
	rd, err := c.Ready(ctx)
	must("ready", err)
	if rd.Status != CheckDegraded || len(rd.Checks) != 3 {
		t.Fatalf("ready %+v", rd)
	}
	info, err := c.Info(ctx)
	must("info", err)
	if info.DataDir != "/data" {
		t.Fatalf("info %+v", info)
	}
	doc, err := c.OpenAPIDocument(ctx)
	must("openapi", err)
	if !strings.Contains(string(doc), `"openapi"`) {
		t.Fatal("openapi")
	}
	mt, err := c.Metrics(ctx)
	must("metrics", err)
	if !strings.Contains(mt, `rigd_miner_hashrate_hs{miner="cpu"`) {
		t.Fatal("metrics")
	}
	list, err := c.Miners(ctx)
	must("miners", err)
	if len(list) != 1 || list[0].Name != "cpu" {
		t.Fatalf("miners %+v", list)
	}
	av, err := c.Available(ctx)
	must("available", err)
	if len(av) != 2 || av[0].LatestVersion != "6.22.0" || av[1].LatestError == "" {
		t.Fatalf("available %+v", av)
	}
	m, err := c.StartMiner(ctx, StartRequest{Type: "xmrig", Name: "two", Profile: abi.Profile{Algo: "rx/0"}})
	must("start", err)
	if m.Name != "two" {
		t.Fatalf("start %+v", m)
	}
	m, err = c.Miner(ctx, "two")
	must("miner", err)
	st, err := c.MinerStats(ctx, "cpu")
	must("stats", err)
	if len(st.Devices) != 2 {
		t.Fatalf("stats %+v", st)
	}
	lines, err := c.MinerLogs(ctx, "cpu", miner.LogQuery{Lines: 10, Since: 1, Strip: true})
	must("logs", err)
	if len(lines) != 1 || lines[0].Seq != 2 {
		t.Fatalf("logs %+v", lines)
	}
	sr, err := c.SendInput(ctx, "cpu", "h")
	must("stdin", err)
	if sr.Written != 1 {
		t.Fatalf("stdin %+v", sr)
	}
	hh, err := c.HashrateHistory(ctx, "cpu")
	must("hashrate history", err)
	if len(hh.Minutes) == 0 {
		t.Fatal("hashrate history")
	}
	_, err = c.StopMiner(ctx, "two")
	must("stop", err)
	im, err := c.Install(ctx, "xmrig", InstallRequest{Version: "6.21.0"})
	must("install", err)
	if im.Version != "6.21.0" {
		t.Fatalf("install %+v", im)
	}
	ups, err := c.CheckUpdates(ctx, "xmrig")
	must("updates", err)
	if len(ups) != 1 || !ups[0].Available {
		t.Fatalf("updates %+v", ups)
	}
	sp, err := c.CreateProfile(ctx, miner.ProfileInput{Name: "p", Type: "xmrig", Profile: abi.Profile{Algo: "rx/0"}})
	must("create profile", err)
	_, err = c.UpdateProfile(ctx, sp.ID, miner.ProfileInput{Name: "q", Type: "xmrig"})
	must("update profile", err)
	got, err := c.Profile(ctx, sp.ID)
	must("profile", err)
	if got.Name != "q" {
		t.Fatalf("profile %+v", got)
	}
	ps, err := c.Profiles(ctx)
	must("profiles", err)
	if len(ps) != 1 {
		t.Fatalf("profiles %+v", ps)
	}
	m, err = c.StartProfile(ctx, sp.ID, ProfileStartRequest{Name: "fromp"})
	must("start profile", err)
	if m.ProfileID != sp.ID {
		t.Fatalf("start profile %+v", m)
	}
	must("delete profile", c.DeleteProfile(ctx, sp.ID))
	hm, err := c.HistoryMiners(ctx)
	must("history miners", err)
	if len(hm) != 2 {
		t.Fatalf("history miners %+v", hm)
	}
	hs, err := c.HistorySummary(ctx, "cpu", "cpu0")
	must("history summary", err)
	if hs.Series != "cpu/cpu0" {
		t.Fatalf("summary %+v", hs)
	}
	hr, err := c.HistoryHashrate(ctx, "cpu", HistoryQuery{Since: "24h", Step: "1h"})
	must("history hashrate", err)
	if hr.StepS != 3600 || len(hr.Points) != 1 {
		t.Fatalf("range %+v", hr)
	}
	ads, err := c.Adapters(ctx)
	must("adapters", err)
	if len(ads) != 2 {
		t.Fatalf("adapters %+v", ads)
	}
	ad, err := c.AddAdapter(ctx, "custom.wasm", []byte("\x00asm\x01\x00\x00\x00"), nil)
	must("add adapter", err)
	// With fixtures: a multipart upload, both parts through.
	fx := []byte(`{"lines":[]}`)
	_, err = c.AddAdapter(ctx, "custom.wasm", []byte("\x00asm\x01\x00\x00\x00"), fx)
	must("add adapter with fixtures", err)
	if af := ta.cfg.AdapterFiles.(*fakeAdapterFiles); string(af.fixtures) != string(fx) || string(af.added["custom"]) != "\x00asm\x01\x00\x00\x00" {
		t.Fatalf("multipart upload reached the service as %q, %q", af.added["custom"], af.fixtures)
	}
	if ad.Name != "custom" {
		t.Fatalf("adapter %+v", ad)
	}
	must("remove adapter", c.RemoveAdapter(ctx, "custom"))
	node, err := c.Node(ctx)
	must("node", err)
	if node.Name != "rig1" {
		t.Fatalf("node %+v", node)
	}
	inv, err := c.Invite(ctx, InviteRequest{Role: "controller"})
	must("invite", err)
	if inv.Invite == "" {
		t.Fatal("invite")
	}
	pend, err := c.PendingPeers(ctx)
	must("pending", err)
	if len(pend) != 1 {
		t.Fatal("pending")
	}
	peer, err := c.AddPeer(ctx, AddPeerRequest{Address: "10.0.0.2:9091", Invite: "good"})
	must("add peer", err)
	peers, err := c.Peers(ctx)
	must("peers", err)
	if len(peers) != 2 {
		t.Fatalf("peers %+v", peers)
	}
	_, err = c.PingPeer(ctx, peer.ID)
	must("ping", err)
	_, err = c.ApprovePeer(ctx, "PEND-1", ApproveRequest{Role: "observer"})
	must("approve", err)
	must("remove peer", c.RemovePeer(ctx, peer.ID))
	rs, err := c.RemoteStats(ctx, "")
	must("remote stats", err)
	if len(rs) != 2 || rs[1].OK {
		t.Fatalf("remote stats %+v", rs)
	}
	rs, err = c.RemoteStats(ctx, "rig2")
	must("remote stats rig2", err)
	if len(rs) != 1 || rs[0].Name != "rig2" {
		t.Fatalf("remote stats rig2 %+v", rs)
	}
	_, err = c.RemoteStart(ctx, "rig2", RemoteStartRequest{ProfileID: "p1"})
	must("remote start", err)
	_, err = c.RemoteStop(ctx, "rig2", "cpu")
	must("remote stop", err)
	rl, err := c.RemoteLogs(ctx, "rig2", "cpu", 5)
	must("remote logs", err)
	if len(rl) != 1 {
		t.Fatal("remote logs")
	}
	ui, err := c.Uninstall(ctx, "xmrig", "")
	must("uninstall", err)
	if len(ui.Stopped) == 0 {
		t.Fatalf("uninstall %+v", ui)
	}

	// Errors arrive typed.
	_, err = c.Miner(ctx, "nope")
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != CodeNotFound || !strings.Contains(ae.Msg, "nope") {
		t.Fatalf("not found: %#v", err)
	}
	_, err = c.StartMiner(ctx, StartRequest{Type: "xmrig", Name: "../x"})
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != CodeInvalidName {
		t.Fatalf("invalid name: %#v", err)
	}
	bad, _ := NewClient(ta.srv.URL, "wrong", nil)
	if _, err := bad.Miners(ctx); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	noP2P := newTestAPI(t, func(c *Config) { c.Peers, c.Remote = nil, nil })
	c2, _ := NewClient(noP2P.srv.URL+"/api/v1/mining/", "", nil)
	if _, err := c2.Peers(ctx); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("P2P missing: %v", err)
	}
}

func TestClientEvents(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.fm.add("a", "xmrig", 0)
	c, _ := NewClient(ta.srv.URL, "", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []string
	errc := make(chan error, 1)
	go func() {
		errc <- c.Events(ctx, []string{"a"}, func(e StreamEvent) error {
			got = append(got, e.Type+":"+e.Miner)
			if e.Type == EventSnapshot {
				ta.fm.Stop(ctx, "a")
			}
			if e.Type == miner.EventMinerStopped {
				return errors.New("enough")
			}
			return nil
		})
	}()
	if err := <-errc; err == nil || err.Error() != "enough" {
		t.Fatalf("Events returned %v", err)
	}
	if strings.Join(got, ",") != "snapshot:a,miner_stopped:a" {
		t.Fatalf("events %v", got)
	}
}

func TestNewClient(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9090":                  "http://127.0.0.1:9090/api/v1/mining",
		"http://rig1.lan:9090/":           "http://rig1.lan:9090/api/v1/mining",
		"https://rig1.lan/custom/prefix/": "https://rig1.lan/custom/prefix",
	} {
		c, err := NewClient(in, "", nil)
		if err != nil || c.BaseURL() != want {
			t.Errorf("%s: %v %v", in, c, err)
		}
	}
	if _, err := NewClient("ftp://x", "", nil); err == nil {
		t.Error("ftp accepted")
	}
}
