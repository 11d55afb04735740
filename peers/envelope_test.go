package peers

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil: ok
	}{
		{"request", `{"v":1,"id":"a1","type":"get_stats","seq":1,"body":{}}`, nil},
		{"no body", `{"v":1,"id":"a1","type":"ping","seq":9}`, nil},
		{"response", `{"v":1,"id":"a2","type":"result","reply_to":"a1","seq":2,"body":{"miners":[]}}`, nil},
		{"error", `{"v":1,"id":"a2","type":"error","reply_to":"a1","seq":2,"body":{"code":"forbidden"}}`, nil},
		{"admin verb parses (and is refused later)", `{"v":1,"id":"a1","type":"remove_peer","seq":1,"body":{}}`, nil},
		{"version 2", `{"v":2,"id":"a1","type":"ping","seq":1}`, errUnsupportedVersion},
		{"unknown type", `{"v":1,"id":"a1","type":"format_disk","seq":1}`, errUnknownType},
		{"no seq", `{"v":1,"id":"a1","type":"ping"}`, errProtocol},
		{"no id", `{"v":1,"type":"ping","seq":1}`, errProtocol},
		{"bad id", `{"v":1,"id":"../x","type":"ping","seq":1}`, errProtocol},
		{"long id", `{"v":1,"id":"` + strings.Repeat("a", 65) + `","type":"ping","seq":1}`, errProtocol},
		{"unknown field", `{"v":1,"id":"a1","type":"ping","seq":1,"admin":true}`, errProtocol},
		{"trailing data", `{"v":1,"id":"a1","type":"ping","seq":1}{}`, errProtocol},
		{"response without reply_to", `{"v":1,"id":"a1","type":"result","seq":1}`, errProtocol},
		{"request with reply_to", `{"v":1,"id":"a1","type":"ping","reply_to":"x","seq":1}`, errProtocol},
		{"body not an object", `{"v":1,"id":"a1","type":"ping","seq":1,"body":[1]}`, errProtocol},
		{"negative seq", `{"v":1,"id":"a1","type":"ping","seq":-1}`, errProtocol},
		{"not JSON", `hello`, errProtocol},
		{"empty", ``, errProtocol},
		{"too big", `{"v":1,"id":"a1","type":"ping","seq":1,"body":{"x":"` + strings.Repeat("x", maxPlaintext) + `"}}`, errTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeEnvelope([]byte(tt.in))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeHello(t *testing.T) {
	good := `{"v":1,"name":"rig-01","role":"worker","addr":"10.0.0.2:9091","future":"ignored"}`
	if h, err := decodeHello([]byte(good)); err != nil || h.Name != "rig-01" || h.Role != NodeWorker {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range []string{
		`{"v":2,"name":"a","role":"worker"}`,
		`{"v":1,"name":"","role":"worker"}`,
		`{"v":1,"name":"a\u0007","role":"worker"}`,
		`{"v":1,"name":"` + strings.Repeat("n", 65) + `","role":"worker"}`,
		`{"v":1,"name":"a","role":"king"}`,
		`{"v":1,"name":"a","role":"worker","addr":"nohost"}`,
		`{"v":1,"name":"a","role":"worker","addr":"h:99999"}`,
		`{"v":1,"name":"a","role":"worker","grant":"admin"}`,
		`{"v":1,"name":"a","role":"worker"} x`,
		`{"v":1,"name":"a","role":"worker","addr":"` + strings.Repeat("h", 2000) + `:1"}`,
	} {
		if _, err := decodeHello([]byte(bad)); !errors.Is(err, ErrHandshake) {
			t.Errorf("decodeHello(%.60s): %v", bad, err)
		}
	}
	if a, err := decodeAuth(unauthorizedFrame); err != nil || a.Status != codeUnauthorizedPeer {
		t.Fatal(a, err)
	}
	if _, err := decodeAuth([]byte(`{"status":"ok","role":"admin"}`)); err == nil {
		t.Fatal("auth frame granting admin accepted")
	}
}

func TestNormalizeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1:9091":             "10.0.0.1:9091",
		"rig-7.lan:9091":            "rig-7.lan:9091",
		"[::1]:9091":                "[::1]:9091",
		"ws://10.0.0.1:9091":        "10.0.0.1:9091",
		"ws://10.0.0.1:9091/p2p/v1": "10.0.0.1:9091",
	} {
		if got, err := normalizeAddr(in, false); err != nil || got != want {
			t.Errorf("normalizeAddr(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", ":9091", "host", "h:0", "h:x", "a b:1", "u@h:1", "h/x:1"} {
		if _, err := normalizeAddr(bad, false); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("normalizeAddr(%q): %v", bad, err)
		}
	}
	if got := resolveAddr(":9091", &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}); got != "10.1.2.3:9091" {
		t.Errorf("empty host: %q", got)
	}
	if got := resolveAddr("127.0.0.1:9091", &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}); got != "10.1.2.3:9091" {
		t.Errorf("loopback seen from the LAN: %q", got)
	}
	if got := resolveAddr("192.168.0.9:9091", &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}); got != "192.168.0.9:9091" {
		t.Errorf("explicit host: %q", got)
	}
}

// Handshake-level checks of the Noise wrapper.
func TestHandshakePSK(t *testing.T) {
	ki, _ := generateKeyPair()
	kr, _ := generateKeyPair()
	run := func(pskI, pskR []byte) error {
		i, err := newHandshake(true, ki, []byte("p"), pskI)
		if err != nil {
			return err
		}
		r, err := newHandshake(false, kr, []byte("p"), pskR)
		if err != nil {
			return err
		}
		m1, _, _ := i.writeMessage(nil)
		if _, _, err := r.readMessage(m1); err != nil {
			return err
		}
		m2, _, _ := r.writeMessage([]byte("hello-r"))
		if _, _, err := i.readMessage(m2); err != nil {
			return err
		}
		m3, ti, err := i.writeMessage([]byte("hello-i"))
		if err != nil {
			return err
		}
		p, tr, err := r.readMessage(m3)
		if err != nil {
			return err
		}
		if string(p) != "hello-i" || ti == nil || tr == nil || !bytes.Equal(r.peerStatic(), ki.public[:]) {
			return errors.New("bad handshake result")
		}
		c, _ := tr.encrypt(nil, []byte("x"))
		if pt, err := ti.decrypt(nil, c); err != nil || string(pt) != "x" {
			return errors.New("transport mismatch")
		}
		return nil
	}
	psk := bytes.Repeat([]byte{7}, 32)
	if err := run(nil, nil); err != nil {
		t.Fatalf("XX: %v", err)
	}
	if err := run(psk, psk); err != nil {
		t.Fatalf("XXpsk3: %v", err)
	}
	other := bytes.Repeat([]byte{8}, 32)
	if err := run(psk, other); !errors.Is(err, ErrHandshake) {
		t.Fatalf("different PSKs: %v", err)
	}
	if err := run(psk, nil); err == nil {
		t.Fatal("psk3 against plain XX completed")
	}
	if _, err := newHandshake(true, ki, nil, []byte("short")); !errors.Is(err, ErrHandshake) {
		t.Fatal("short psk accepted")
	}
}

// pipeFrames returns a server-side frameConn reading what is written to w.
func pipeFrames(t *testing.T) (*frameConn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return newFrameConn(a, nil, true), b
}

func TestFrameLimits(t *testing.T) {
	hdr := func(h ws.Header) []byte {
		var buf bytes.Buffer
		ws.WriteHeader(&buf, h)
		return buf.Bytes()
	}
	masked := func(op ws.OpCode, fin bool, n int64) ws.Header {
		return ws.Header{Fin: fin, OpCode: op, Length: n, Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	}
	huge := make([]byte, 10)
	huge[0], huge[1] = 0x82, 0xff // FIN|binary, masked, 64-bit length
	binary.BigEndian.PutUint64(huge[2:], 1<<62)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"2^62 bytes", append(huge, 1, 2, 3, 4), errTooBig},
		{"2^63 bytes", func() []byte { b := append([]byte(nil), huge...); b[2] = 0x80; return append(b, 1, 2, 3, 4) }(), errTooBig},
		{"65537 bytes", hdr(masked(ws.OpBinary, true, MaxFrame+1)), errTooBig},
		{"unmasked from a client", hdr(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1}), errFrame},
		{"text", append(hdr(masked(ws.OpText, true, 1)), 'x'), errFrame},
		{"reserved opcode", hdr(masked(0x3, true, 0)), errFrame},
		{"rsv bits", hdr(ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpBinary, Masked: true}), errFrame},
		{"continuation first", hdr(masked(ws.OpContinuation, true, 0)), errFrame},
		{"fragmented control", hdr(masked(ws.OpPing, false, 0)), errFrame},
		{"long control", hdr(masked(ws.OpPing, true, 126)), errFrame},
		{"message over the limit in fragments", append(append(hdr(masked(ws.OpBinary, false, 40000)), make([]byte, 40000)...), hdr(masked(ws.OpContinuation, true, 40000))...), errTooBig},
		{"ping flood", bytes.Repeat(hdr(masked(ws.OpPing, true, 0)), maxControlBurst+1), errFrame},
		{"close", hdr(masked(ws.OpClose, true, 0)), errPeerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, w := pipeFrames(t)
			go func() { w.Write(tt.in) }()
			fc.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err := fc.readMessage()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	// A fragmented message within the limit is reassembled.
	fc, w := pipeFrames(t)
	msg := append(append(hdr(masked(ws.OpBinary, false, 3)), 'a'^1, 'b'^2, 'c'^3), hdr(masked(ws.OpContinuation, true, 1))...)
	msg = append(msg, 'd'^1)
	go w.Write(msg)
	if got, err := fc.readMessage(); err != nil || string(got) != "abcd" {
		t.Fatalf("fragments: %q %v", got, err)
	}
}

// --- fuzz targets for every parser of outside bytes ---

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"a1","type":"get_stats","seq":1,"body":{}}`))
	f.Add([]byte(`{"v":1,"id":"a2","type":"result","reply_to":"a1","seq":2,"body":{"more":true}}`))
	f.Add([]byte(`{"v":7,"id":"a","type":"zz","seq":18446744073709551615}`))
	f.Add([]byte(`{"v":1,"id":"a1","type":"start_miner","seq":3,"body":{"type":"xmrig","profile":{"algo":"rx/0","pools":[]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if env.V != ProtocolVersion || env.Seq == 0 || !validMsgID(env.ID) {
			t.Fatalf("accepted an invalid envelope: %+v", env)
		}
		// What decodes re-encodes and decodes to the same thing.
		again, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		env2, err := decodeEnvelope(again)
		if err != nil || env2.ID != env.ID || env2.Seq != env.Seq || env2.Type != env.Type {
			t.Fatalf("round trip: %+v %v", env2, err)
		}
		// Bodies of the requests must not panic either.
		switch env.Type {
		case msgStartMiner:
			var s StartSpec
			if decodeBody(env.Body, &s) == nil {
				s.validate()
			}
		case msgGetLogs:
			var q logsRequest
			decodeBody(env.Body, &q)
		}
	})
}

func FuzzHandshakePayloads(f *testing.F) {
	f.Add([]byte(`{"v":1,"name":"rig","role":"worker","addr":":9091"}`), []byte(`{"status":"ok","role":"observer"}`), []byte("rigd/p2p\x01\x00"))
	f.Add([]byte(`{"v":1,"name":"x","role":"dual","grant":"controller"}`), unauthorizedFrame, []byte("rigd/p2p\x01\x01ABCDEFGH"))
	f.Fuzz(func(t *testing.T, helloB, authB, first []byte) {
		if h, err := decodeHello(helloB); err == nil {
			if checkName(h.Name) != nil || !h.Role.valid() {
				t.Fatalf("accepted hello %+v", h)
			}
			resolveAddr(h.Addr, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1)})
		}
		if a, err := decodeAuth(authB); err == nil && a.Status == "ok" && !a.Role.grantable() {
			t.Fatalf("accepted auth %+v", a)
		}
		pre, prologue, rest, err := parsePreamble(first)
		if err != nil {
			return
		}
		if len(prologue)+len(rest) != len(first) || !bytes.Equal(pre.bytes(), prologue) {
			t.Fatalf("preamble split %d+%d of %d", len(prologue), len(rest), len(first))
		}
		// The rest goes to the responder's Noise state, as message 1 and
		// (whatever comes back) as message 3: errors, never panics.
		k, _ := generateKeyPair()
		var psk []byte
		if pre.mode == modeInvite {
			psk = bytes.Repeat([]byte{1}, 32)
		}
		hs, err := newHandshake(false, k, prologue, psk)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := hs.readMessage(rest); err != nil {
			return
		}
		if _, _, err := hs.writeMessage(helloB[:min(len(helloB), 100)]); err != nil {
			return
		}
		hs.readMessage(authB)
	})
}

func FuzzParseIDs(f *testing.F) {
	k, _ := generateKeyPair()
	id := IDFromPublicKey(k.public[:])
	c, _ := newInviteCode(id)
	f.Add(id.String())
	f.Add(c.String())
	f.Add("abcde-fghij")
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := ParseNodeID(s); err == nil {
			if back, err := ParseNodeID(id.String()); err != nil || back != id {
				t.Fatalf("id %q does not round-trip", s)
			}
		}
		if c, err := parseInviteCode(s); err == nil {
			if back, err := parseInviteCode(c.String()); err != nil || back != c {
				t.Fatalf("code %q does not round-trip", s)
			}
		}
		normalizeAddr(s, true)
	})
}
