package peers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A re-injected frame and a flipped ciphertext bit close the session and
// the command runs exactly once; an old seq in a new session is refused,
// also after the node restarts; a repeated command id returns the stored
// result without running again.
func TestReplayAndTamper(t *testing.T) {
	w := startNode(t, testConfig(t, "worker", NodeWorker))
	rp := newRawPeer(t)
	allow(t, w, rp, RoleController)
	addr := w.Info().Listen

	session := func() *rawConn {
		t.Helper()
		rc := rp.connect(t, addr)
		var a authFrame
		if err := json.Unmarshal(rc.verdict(t), &a); err != nil || a.Status != "ok" || a.Role != RoleController {
			t.Fatalf("verdict: %+v %v", a, err)
		}
		return rc
	}
	expectResult := func(rc *rawConn, id string) envelope {
		t.Helper()
		env, err := rc.recv(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the answer to %s: %v", id, err)
		}
		if env.ReplyTo != id || env.Type != msgResult {
			t.Fatalf("answer to %s: %s %s", id, env.Type, env.Body)
		}
		return env
	}

	// 1. A frame injected again byte for byte.
	rc := session()
	rc.send(t, envelope{ID: "cmd-a", Type: msgStartMiner, Seq: 1, Body: startBody("a")})
	first := expectResult(rc, "cmd-a")
	if err := rc.tap.replayLast(); err != nil {
		t.Fatal(err)
	}
	d := rc.closedWithin(t, time.Second)
	t.Logf("re-injected frame: session closed in %v", d)
	if starts, _ := w.local.counts(); starts != 1 {
		t.Fatalf("start ran %d times, want 1", starts)
	}

	// 2. A flipped ciphertext bit: closed, the command never runs.
	rc = session()
	rc.tap.flip()
	rc.send(t, envelope{ID: "cmd-b", Type: msgStartMiner, Seq: 2, Body: startBody("b")})
	d = rc.closedWithin(t, time.Second)
	t.Logf("flipped bit: session closed in %v", d)
	if starts, _ := w.local.counts(); starts != 1 || w.local.has("b") {
		t.Fatalf("tampered command ran (starts %d)", starts)
	}

	// 3. The retry of cmd-b runs once; repeating it (and cmd-a) returns
	// the stored results.
	rc = session()
	rc.send(t, envelope{ID: "cmd-b", Type: msgStartMiner, Seq: 3, Body: startBody("b")})
	second := expectResult(rc, "cmd-b")
	rc.send(t, envelope{ID: "cmd-b", Type: msgStartMiner, Seq: 4, Body: startBody("b")})
	again := expectResult(rc, "cmd-b")
	rc.send(t, envelope{ID: "cmd-a", Type: msgStartMiner, Seq: 5, Body: startBody("a")})
	againA := expectResult(rc, "cmd-a")
	if string(again.Body) != string(second.Body) || string(againA.Body) != string(first.Body) {
		t.Fatalf("repeated ids got new results:\n%s\n%s", again.Body, second.Body)
	}
	if starts, _ := w.local.counts(); starts != 2 {
		t.Fatalf("starts %d, want 2", starts)
	}
	// The same id for another command is refused.
	rc.send(t, envelope{ID: "cmd-a", Type: msgStopMiner, Seq: 6, Body: []byte(`{"name":"a"}`)})
	if env, err := rc.recv(5 * time.Second); err != nil || env.Type != msgError || !json.Valid(env.Body) {
		t.Fatalf("reused id: %+v %v", env, err)
	}

	// 4. An old seq in a new session: refused with a replay error, closed,
	// not run.
	rc = session()
	rc.send(t, envelope{ID: "cmd-c", Type: msgStopMiner, Seq: 4, Body: []byte(`{"name":"a"}`)})
	env, err := rc.recv(5 * time.Second)
	if err != nil || env.Type != msgError || !contains(env.Body, codeReplay) {
		t.Fatalf("old seq: %+v %v", env, err)
	}
	rc.closedWithin(t, time.Second)
	if _, stops := w.local.counts(); stops != 0 || !w.local.has("a") {
		t.Fatal("a replayed stop ran")
	}

	// 5. The receive counter survives a restart of the node.
	w = w.restart()
	addr = w.Info().Listen
	rc = session()
	rc.send(t, envelope{ID: "cmd-d", Type: msgStopMiner, Seq: 5, Body: []byte(`{"name":"a"}`)})
	if env, err := rc.recv(5 * time.Second); err != nil || !contains(env.Body, codeReplay) {
		t.Fatalf("old seq after restart: %+v %v", env, err)
	}
	rc.closedWithin(t, time.Second)
	rc = session()
	rc.send(t, envelope{ID: "cmd-e", Type: msgStopMiner, Seq: 100, Body: []byte(`{"name":"a"}`)})
	expectResult(rc, "cmd-e")
	if _, stops := w.local.counts(); stops != 1 {
		t.Fatalf("stops %d, want 1", stops)
	}
	// Unknown types and versions are answered, not fatal.
	rc.send(t, envelope{ID: "x1", Type: "reboot_rig", Seq: 101})
	if env, err := rc.recv(5 * time.Second); err != nil || !contains(env.Body, codeUnknownType) {
		t.Fatalf("unknown type: %+v %v", env, err)
	}
	rc.send(t, envelope{V: 2, ID: "x2", Type: msgPing, Seq: 102})
	if env, err := rc.recv(5 * time.Second); err != nil || !contains(env.Body, codeUnsupportedVersion) {
		t.Fatalf("version 2: %+v %v", env, err)
	}
	rc.send(t, envelope{ID: "x3", Type: msgPing, Seq: 103})
	if env, err := rc.recv(5 * time.Second); err != nil || env.Type != msgPong {
		t.Fatalf("ping: %+v %v", env, err)
	}
	// A malformed envelope from a paired peer ends its session.
	if err := rc.sc.writeMsg([]byte(`{"v":1,"id":"x4","type":"ping","seq":104,"extra":1}`)); err != nil {
		t.Fatal(err)
	}
	rc.closedWithin(t, time.Second)
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
