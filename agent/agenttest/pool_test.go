package agenttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// poolClient is a tiny stratum client speaking like XMRig.
type poolClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	seq  int
}

// poolMsg is any line the pool sends.
type poolMsg struct {
	ID      json.RawMessage `json:"id"`
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
	raw     string
}

func dialPool(t testing.TB, p *Pool) *poolClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &poolClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *poolClient) writeLine(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s+"\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one message, or fails the test.
func (c *poolClient) next() poolMsg {
	c.t.Helper()
	m, err := c.tryNext(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read from pool: %v", err)
	}
	return m
}

func (c *poolClient) tryNext(timeout time.Duration) (poolMsg, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return poolMsg{}, err
	}
	var m poolMsg
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return poolMsg{}, err
	}
	m.raw = strings.TrimSuffix(line, "\n")
	return m, nil
}

// expectClosed fails unless the pool closes the connection (after any
// messages still queued).
func (c *poolClient) expectClosed() {
	c.t.Helper()
	for range 10 {
		_, err := c.tryNext(5 * time.Second)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err) {
			return
		}
		if err != nil {
			c.t.Fatalf("want the pool to close the connection, got %v", err)
		}
	}
	c.t.Fatal("pool keeps talking, want the connection closed")
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func (c *poolClient) call(method string, params any) poolMsg {
	c.t.Helper()
	c.seq++
	b, err := json.Marshal(map[string]any{"id": c.seq, "jsonrpc": "2.0", "method": method, "params": params})
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeLine(string(b))
	m := c.next()
	if string(m.ID) != string(mustMarshal(c.t, c.seq)) {
		c.t.Fatalf("reply id %s, want %d: %s", m.ID, c.seq, m.raw)
	}
	return m
}

func mustMarshal(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *poolClient) login(user string) loginResult {
	c.t.Helper()
	m := c.call("login", map[string]any{
		"login": user, "pass": "x", "agent": "XMRig/6.16.0 (Linux x86_64) libuv/1.42.0 gcc/5.4.0",
		"algo": []string{"cn/0", "rx/0", "rx/wow"},
	})
	if m.Error != nil {
		c.t.Fatalf("login: %+v", *m.Error)
	}
	var res loginResult
	if err := json.Unmarshal(m.Result, &res); err != nil {
		c.t.Fatalf("login result %s: %v", m.Result, err)
	}
	return res
}

// submit sends a share whose hash meets any target (all zeros) unless hash
// is given.
func (c *poolClient) submit(session, jobID, nonce, hash string) poolMsg {
	c.t.Helper()
	if hash == "" {
		hash = strings.Repeat("00", 32)
	}
	return c.call("submit", map[string]any{"id": session, "job_id": jobID, "nonce": nonce, "result": hash, "algo": "rx/0"})
}

func wantStatus(t testing.TB, m poolMsg, status string) {
	t.Helper()
	if m.Error != nil {
		t.Fatalf("want status %s, got error %+v", status, *m.Error)
	}
	var r statusResult
	if err := json.Unmarshal(m.Result, &r); err != nil || r.Status != status {
		t.Fatalf("want status %s, got %s", status, m.raw)
	}
}

func wantError(t testing.TB, m poolMsg, code int, msg string) {
	t.Helper()
	if m.Error == nil || m.Error.Code != code || m.Error.Message != msg {
		t.Fatalf("want error %d %q, got %s", code, msg, m.raw)
	}
}

func TestPoolLoginAndJobShape(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") || p.URL() != "stratum+tcp://"+p.Addr() {
		t.Fatalf("Addr %q URL %q", p.Addr(), p.URL())
	}
	c := dialPool(t, p)
	res := c.login("wallet")

	if res.Status != "OK" || len(res.ID) == 0 {
		t.Fatalf("login result %+v", res)
	}
	if strings.Join(res.Extensions, ",") != "algo,keepalive" {
		t.Errorf("extensions %v", res.Extensions)
	}
	job := res.Job
	blob, err := hex.DecodeString(job.Blob)
	if err != nil || len(blob) != 76 {
		t.Fatalf("blob %q: %d bytes, %v; want 76", job.Blob, len(blob), err)
	}
	if blob[0] != 16 || blob[1] != 16 {
		t.Errorf("blob versions %d.%d, want 16.16", blob[0], blob[1])
	}
	if ts, n := binary.Uvarint(blob[2:]); n != 5 || time.Since(time.Unix(int64(ts), 0)).Abs() > time.Hour {
		t.Errorf("blob timestamp %d (%d bytes)", ts, n)
	}
	if !bytes.Equal(blob[39:43], []byte{0, 0, 0, 0}) {
		t.Errorf("nonce at offset 39 is %x, want zero (else XMRig switches to NiceHash mode)", blob[39:43])
	}
	if job.Target != "51b81e05" || job.Algo != "rx/0" || job.Height != DefaultPoolHeight || job.JobID == "" {
		t.Errorf("job %+v", job)
	}
	if seed, err := hex.DecodeString(job.SeedHash); err != nil || len(seed) != 32 {
		t.Errorf("seed_hash %q", job.SeedHash)
	}
	// Every login gets a job of its own.
	again := dialPool(t, p).login("wallet").Job
	if again.JobID == job.JobID || again.Blob == job.Blob || again.Height != job.Height || again.SeedHash != job.SeedHash {
		t.Errorf("second login's job %+v, first %+v", again, job)
	}
	if p.Logins() != 2 || p.Sessions() != 2 {
		t.Errorf("logins %d sessions %d", p.Logins(), p.Sessions())
	}
	w := p.Workers()["wallet"]
	if w.Logins != 2 || !strings.HasPrefix(w.Agent, "XMRig/6.16.0") {
		t.Errorf("worker %+v", w)
	}
}

func TestPoolSubmit(t *testing.T) {
	p := NewPool(t, PoolOptions{Difficulty: 1000})
	c := dialPool(t, p)
	res := c.login("wallet")
	job := res.Job

	m := c.submit(res.ID, job.JobID, "32000000", "")
	if want := `{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}`; m.raw != want {
		t.Fatalf("accepted reply\n got %s\nwant %s", m.raw, want)
	}
	// The hash just meets difficulty 1000: its last 8 bytes ≤ (2⁶⁴−1)/1000.
	var edge [32]byte
	binary.LittleEndian.PutUint64(edge[24:], math.MaxUint64/1000)
	wantStatus(t, c.submit(res.ID, job.JobID, "33000000", hex.EncodeToString(edge[:])), "OK")
	binary.LittleEndian.PutUint64(edge[24:], math.MaxUint64/1000+1)

	tests := []struct {
		name                      string
		session, job, nonce, hash string
		want                      string
	}{
		{"duplicate", res.ID, job.JobID, "32000000", "", "Duplicate share"},
		{"low difficulty", res.ID, job.JobID, "34000000", hex.EncodeToString(edge[:]), "Low difficulty share"},
		{"other session", "nope", job.JobID, "35000000", "", "Unauthenticated"},
		{"unknown job", res.ID, "feedbeef", "36000000", "", "Block expired"},
		{"short nonce", res.ID, job.JobID, "3700", "", "Malformed share"},
		{"bad hash", res.ID, job.JobID, "38000000", "zz", "Malformed share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.submit(tt.session, tt.job, tt.nonce, tt.hash), rpcPoolError, tt.want)
		})
	}
	if p.Accepted() != 2 || p.Rejected() != int64(len(tests)) {
		t.Errorf("accepted %d rejected %d, want 2 and %d", p.Accepted(), p.Rejected(), len(tests))
	}
	if w := p.Workers()["wallet"]; w.Accepted != 2 || w.Rejected != int64(len(tests)) {
		t.Errorf("worker %+v", w)
	}
}

func TestPoolSubmitBeforeLogin(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	c := dialPool(t, p)
	wantError(t, c.submit("x", "00000001abcd", "01000000", ""), rpcPoolError, "Unauthenticated")
	wantError(t, c.call("getjob", map[string]string{"id": "x"}), rpcPoolError, "Unauthenticated")
	if p.Accepted() != 0 || p.Rejected() != 1 {
		t.Errorf("accepted %d rejected %d", p.Accepted(), p.Rejected())
	}
}

func TestPoolRejectNext(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	c := dialPool(t, p)
	res := c.login("wallet")
	p.RejectNext(2, "Low difficulty share")
	wantError(t, c.submit(res.ID, res.Job.JobID, "01000000", ""), rpcPoolError, "Low difficulty share")
	wantError(t, c.submit(res.ID, res.Job.JobID, "02000000", ""), rpcPoolError, "Low difficulty share")
	wantStatus(t, c.submit(res.ID, res.Job.JobID, "03000000", ""), "OK")
	p.RejectNext(1, "")
	wantError(t, c.submit(res.ID, res.Job.JobID, "04000000", ""), rpcPoolError, DefaultPoolRejectReason)
	p.RejectNext(5, "x")
	p.RejectNext(0, "")
	wantStatus(t, c.submit(res.ID, res.Job.JobID, "05000000", ""), "OK")
	if p.Accepted() != 2 || p.Rejected() != 3 {
		t.Errorf("accepted %d rejected %d, want 2 and 3", p.Accepted(), p.Rejected())
	}
}

func TestPoolKeepalive(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	c := dialPool(t, p)
	res := c.login("wallet")
	m := c.call("keepalived", map[string]string{"id": res.ID})
	wantStatus(t, m, "KEEPALIVED")
	// XMRig ignores any line shorter than 32 bytes.
	if len(m.raw) < 32 {
		t.Errorf("reply %q is shorter than 32 bytes", m.raw)
	}
}

func TestPoolNewJob(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	c := dialPool(t, p)
	idle := dialPool(t, p) // connected, never logged in: gets no job
	res := c.login("wallet")
	old := res.Job

	other := dialPool(t, p)
	otherRes := other.login("other")

	if n := p.NewJob(); n != 2 {
		t.Errorf("NewJob reached %d connections, want 2", n)
	}
	m := c.next()
	if m.Method != "job" || len(m.ID) != 0 || m.JSONRPC != "2.0" {
		t.Fatalf("notification %s: want method job and no id (XMRig takes an integer id for a reply)", m.raw)
	}
	var job PoolJob
	if err := json.Unmarshal(m.Params, &job); err != nil {
		t.Fatalf("job params %s: %v", m.Params, err)
	}
	if job.JobID == old.JobID || job.Blob == old.Blob || job.Height != old.Height+1 || p.Height() != job.Height ||
		job.SeedHash != old.SeedHash || job.Target != old.Target || job.Algo != old.Algo {
		t.Errorf("new job %+v after %+v", job, old)
	}
	var otherJob PoolJob
	if err := json.Unmarshal(other.next().Params, &otherJob); err != nil || otherJob.JobID == job.JobID || otherJob.Height != job.Height {
		t.Errorf("other connection's job %+v (%v), first's %+v", otherJob, err, job)
	}
	// A job belongs to the connection it was sent to.
	wantError(t, c.submit(res.ID, otherRes.Job.JobID, "01000000", ""), rpcPoolError, "Block expired")
	if _, err := idle.tryNext(200 * time.Millisecond); err == nil {
		t.Error("a connection that never logged in got a job")
	}

	// A share for the previous job is still good; after poolKeptJobs more
	// jobs it is stale.
	wantStatus(t, c.submit(res.ID, old.JobID, "01000000", ""), "OK")
	for range poolKeptJobs - 1 {
		p.NewJob()
		if m := c.next(); m.Method != "job" {
			t.Fatalf("want a job, got %s", m.raw)
		}
	}
	wantError(t, c.submit(res.ID, old.JobID, "02000000", ""), rpcPoolError, "Block expired")
	wantStatus(t, c.submit(res.ID, job.JobID, "02000000", ""), "OK")
}

func TestPoolGarbage(t *testing.T) {
	long := `{"id":1,"method":"login","params":{"login":"` + strings.Repeat("a", 2000) + `"}}`
	tests := []struct {
		name       string
		lines      []string
		wantCode   []int
		wantID     []string
		wantClosed bool
	}{
		{"not json", []string{"hello"}, []int{rpcParseError}, []string{"null"}, false},
		{"array", []string{"[1,2]"}, []int{rpcInvalidRequest}, []string{"null"}, false},
		{"no method", []string{`{"id":7}`}, []int{rpcInvalidRequest}, []string{"7"}, false},
		{"unknown method", []string{`{"id":8,"method":"mining.subscribe","params":[]}`}, []int{rpcMethodNotFound}, []string{"8"}, false},
		{"object id", []string{`{"id":{"a":1},"method":"x"}`}, []int{rpcMethodNotFound}, []string{"null"}, false},
		{"login without login", []string{`{"id":9,"method":"login","params":{"pass":"x"}}`}, []int{rpcPoolError}, []string{"9"}, false},
		{"login params not object", []string{`{"id":10,"method":"login","params":"x"}`}, []int{rpcPoolError}, []string{"10"}, false},
		{"wrong algorithm", []string{`{"id":11,"method":"login","params":{"login":"w","algo":["kawpow"]}}`}, []int{rpcPoolError}, []string{"11"}, false},
		{"submit params garbage", []string{`{"id":12,"method":"submit","params":[1]}`}, []int{rpcPoolError}, []string{"12"}, false},
		{"abuse", []string{"x", "{", "}"}, []int{rpcParseError, rpcParseError, rpcParseError}, []string{"null", "null", "null"}, true},
		{"line too long", []string{long}, []int{rpcInvalidRequest}, []string{"null"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(t, PoolOptions{MaxLineBytes: 1024})
			c := dialPool(t, p)
			for _, l := range tt.lines {
				c.writeLine(l)
			}
			for i, code := range tt.wantCode {
				m := c.next()
				if m.Error == nil || m.Error.Code != code || string(m.ID) != tt.wantID[i] || m.Error.Message == "" {
					t.Fatalf("reply %d: %s, want error code %d id %s", i, m.raw, code, tt.wantID[i])
				}
			}
			if tt.wantClosed {
				c.expectClosed()
				return
			}
			// The connection still works.
			wantStatus(t, c.call("keepalived", nil), "KEEPALIVED")
			if p.Accepted() != 0 || p.Logins() != 0 {
				t.Errorf("accepted %d logins %d", p.Accepted(), p.Logins())
			}
		})
	}
}

func TestPoolBlankLinesAndPartialLastLine(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	c := dialPool(t, p)
	c.writeLine("")
	c.writeLine("  \r")
	io.WriteString(c.conn, `{"id":3,"jsonrpc":"2.0","method":"keepalived","params":{}}`)
	c.conn.(*net.TCPConn).CloseWrite()
	wantStatus(t, c.next(), "KEEPALIVED")
	c.expectClosed()
}

func TestPoolIdleTimeout(t *testing.T) {
	p := NewPool(t, PoolOptions{IdleTimeout: 200 * time.Millisecond})
	c := dialPool(t, p)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
}

func TestPoolMaxSessions(t *testing.T) {
	p := NewPool(t, PoolOptions{MaxSessions: 2})
	a, b := dialPool(t, p), dialPool(t, p)
	a.login("a")
	b.login("b")
	c := dialPool(t, p)
	c.expectClosed()
	if p.Sessions() != 2 {
		t.Errorf("sessions %d, want 2", p.Sessions())
	}
}

func TestPoolDisconnect(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	a := dialPool(t, p)
	a.login("a")
	if n := p.Disconnect(); n != 1 {
		t.Errorf("Disconnect = %d, want 1", n)
	}
	a.expectClosed()
	b := dialPool(t, p) // the pool still accepts
	b.login("a")
	if p.Logins() != 2 || p.Workers()["a"].Logins != 2 {
		t.Errorf("logins %d, worker %+v", p.Logins(), p.Workers()["a"])
	}
}

func TestPoolWait(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.WaitAccepted(ctx, 1); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "0 of 1") {
		t.Fatalf("WaitAccepted with nothing submitted: %v", err)
	}

	c := dialPool(t, p)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.WaitLogins(ctx, 1); err != nil {
			done <- err
			return
		}
		done <- p.WaitAccepted(ctx, 2)
	}()
	res := c.login("w")
	wantStatus(t, c.submit(res.ID, res.Job.JobID, "01000000", ""), "OK")
	wantStatus(t, c.submit(res.ID, res.Job.JobID, "02000000", ""), "OK")
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	go func() { done <- p.WaitAccepted(context.Background(), 100) }()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	if err := <-done; err == nil {
		t.Fatal("WaitAccepted returned nil after Close")
	}
}

func TestPoolCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	p, err := startPool(PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*poolClient
	for i := range 6 {
		c := dialPool(t, p)
		if i%2 == 0 {
			c.login("w")
		}
		clients = append(clients, c)
	}
	// Nobody reads; jobs are queued or written into socket buffers.
	for range 3 * poolOutQueue {
		p.NewJob()
	}
	p.Close()
	p.Close() // idempotent
	for _, c := range clients {
		c.conn.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("pool still accepts connections after Close")
	}
}

func TestPoolSlowReaderIsDropped(t *testing.T) {
	p := NewPool(t, PoolOptions{})
	slow := dialPool(t, p)
	slow.login("slow")
	fast := dialPool(t, p)
	fast.login("fast")
	// The slow client never reads again: once the socket buffers are full,
	// its queue fills and the pool drops it instead of blocking NewJob.
	start := time.Now()
	for i := 0; p.Sessions() > 1; i++ {
		if i > 100_000 || time.Since(start) > 20*time.Second {
			t.Fatalf("slow reader still connected after %d jobs", i)
		}
		p.NewJob()
		fast.next()
	}
	wantStatus(t, fast.call("keepalived", nil), "KEEPALIVED")
}

// xmrigDiff decodes a stratum target the way XMRig 6.16 does: 4 bytes t →
// target64 = (2⁶⁴−1) / ⌊(2³²−1)/t⌋; 8 bytes are target64 itself; the
// difficulty is (2⁶⁴−1) / target64.
func xmrigDiff(t *testing.T, target string) uint64 {
	b, err := hex.DecodeString(target)
	if err != nil {
		t.Fatal(err)
	}
	var t64 uint64
	switch len(b) {
	case 4:
		t64 = math.MaxUint64 / (math.MaxUint32 / uint64(binary.LittleEndian.Uint32(b)))
	case 8:
		t64 = binary.LittleEndian.Uint64(b)
	default:
		t.Fatalf("target %q has %d bytes", target, len(b))
	}
	return math.MaxUint64 / t64
}

func TestPoolTargetHex(t *testing.T) {
	tests := []struct {
		diff uint64
		want string
	}{
		{0, "ffffffff"},
		{1, "ffffffff"},
		{2, "ffffff7f"},
		{50, "51b81e05"},
		{1000, "37894100"},
		{65535, "01000100"},
		{120000, "10ece564cf8b0000"}, // 4 bytes would read as 120001
		{math.MaxUint32, "01000000"},
		{1 << 40, "ffffff0000000000"},
	}
	for _, tt := range tests {
		if got := TargetHex(tt.diff); got != tt.want {
			t.Errorf("TargetHex(%d) = %s, want %s", tt.diff, got, tt.want)
		}
	}
	for _, d := range []uint64{1, 2, 3, 7, 50, 64, 100, 1000, 4096, 65535, 65536, 100000, 120000, 1 << 20, 1e7, 1e9, math.MaxUint32} {
		if got := xmrigDiff(t, TargetHex(d)); got != d {
			t.Errorf("XMRig reads TargetHex(%d) = %s as difficulty %d", d, TargetHex(d), got)
		}
	}
	for _, d := range []uint64{1 << 32, 1<<32 + 1, 1 << 33, 1e12, 1e15} {
		if got := xmrigDiff(t, TargetHex(d)); math.Abs(float64(got)-float64(d)) > 1+float64(d)*float64(d)/math.MaxUint64 {
			t.Errorf("XMRig reads TargetHex(%d) = %s as difficulty %d", d, TargetHex(d), got)
		}
	}
}

func TestPoolBadOptions(t *testing.T) {
	if _, err := startPool(PoolOptions{SeedHash: "abc"}); err == nil {
		t.Fatal("startPool accepted a short seed hash")
	}
}

// FuzzPoolLine feeds arbitrary lines to one connection's handler: it must
// never panic, and every reply it queues is one JSON object on one line.
func FuzzPoolLine(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"w","pass":"x","agent":"a","algo":["rx/0"]}}`,
		`{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"x","job_id":"y","nonce":"01000000","result":"00","algo":"rx/0"}}`,
		`{"id":3,"method":"keepalived"}`, `{"id":4,"method":"getjob"}`, `[]`, `null`, `{"id":"s","method":7}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	p, err := startPool(PoolOptions{MaxBadMessages: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(p.Close)
	s := &poolSession{pool: p, remote: "fuzz", out: make(chan []byte, poolOutQueue), done: make(chan struct{})}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		s.handle(line)
		for {
			select {
			case msg := <-s.out:
				if len(msg) == 0 || msg[len(msg)-1] != '\n' || bytes.Count(msg, []byte{'\n'}) != 1 {
					t.Fatalf("reply %q is not one line", msg)
				}
				var m map[string]any
				if err := json.Unmarshal(msg, &m); err != nil {
					t.Fatalf("reply %q: %v", msg, err)
				}
			default:
				return
			}
		}
	})
}
