package router

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// Client is a typed client of the API. Every error response is returned
// as an *Error with the status and code the server sent.
type Client struct {
	base  *url.URL // scheme://host[:port]/prefix
	token string
	hc    *http.Client
}

// NewClient returns a client of the API at baseURL
// ("http://127.0.0.1:9090/api/v1/mining"; a bare "host:port" gets
// http:// and DefaultPrefix). token may be empty; hc nil means a client
// with no overall timeout (use contexts).
func NewClient(baseURL, token string, hc *http.Client) (*Client, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("agent URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("agent URL %q: want http://HOST:PORT[/PREFIX]", baseURL)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = DefaultPrefix
	}
	u.Path = "/" + strings.Trim(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, token: token, hc: hc}, nil
}

// BaseURL is the API's URL, prefix included.
func (c *Client) BaseURL() string { return c.base.String() }

func (c *Client) url(path string, q url.Values, root bool) string {
	u := *c.base
	// path has its segments escaped (esc): keep them escaped.
	raw := path
	if !root {
		raw = c.base.EscapedPath() + path
	}
	u.RawPath = raw
	u.Path, _ = url.PathUnescape(raw)
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q, false), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", ClientUserAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// ClientUserAgent is the User-Agent of the Client's requests (the CLI's):
// the audit log tells them from other API clients by it.
const ClientUserAgent = "rigd-cli"

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (if non-nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := c.newRequest(ctx, method, path, q, body, ct)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return decodeErrorResponse(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// decodeErrorResponse turns an error response into an *Error.
func decodeErrorResponse(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		return &Error{Status: resp.StatusCode, Code: eb.Code, Msg: eb.Error}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Msg: msg}
}

func esc(s string) string { return url.PathEscape(s) }

// System.

// Health calls GET /health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, "GET", "/health", nil, nil, &h)
}

// Ready calls GET /ready.
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	var r Readiness
	return r, c.do(ctx, "GET", "/ready", nil, nil, &r)
}

// Audit calls GET /audit: the newest limit entries, newest first (limit
// 0: the server's default, 100).
func (c *Client) Audit(ctx context.Context, limit int) ([]miner.AuditEntry, error) {
	var q url.Values
	if limit > 0 {
		q = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	var out []miner.AuditEntry
	return out, c.do(ctx, "GET", "/audit", q, nil, &out)
}

// Info calls GET /info.
func (c *Client) Info(ctx context.Context) (SystemInfo, error) {
	var i SystemInfo
	return i, c.do(ctx, "GET", "/info", nil, nil, &i)
}

// OpenAPIDocument returns GET /openapi.json.
func (c *Client) OpenAPIDocument(ctx context.Context) (json.RawMessage, error) {
	var m json.RawMessage
	return m, c.do(ctx, "GET", "/openapi.json", nil, nil, &m)
}

// Metrics returns the Prometheus exposition of GET /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url("/metrics", nil, true), nil)
	if err != nil {
		return "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return "", decodeErrorResponse(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return string(b), err
}

// CheckUpdates calls POST /update for one type ("" for all).
func (c *Client) CheckUpdates(ctx context.Context, typ string) ([]UpdateInfo, error) {
	var out []UpdateInfo
	return out, c.do(ctx, "POST", "/update", nil, UpdateRequest{Type: typ}, &out)
}

// Miners.

// Miners calls GET /miners.
func (c *Client) Miners(ctx context.Context) ([]miner.Info, error) {
	var out []miner.Info
	return out, c.do(ctx, "GET", "/miners", nil, nil, &out)
}

// StartMiner calls POST /miners.
func (c *Client) StartMiner(ctx context.Context, req StartRequest) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "POST", "/miners", nil, req, &out)
}

// Available calls GET /miners/available.
func (c *Client) Available(ctx context.Context) ([]AvailableMiner, error) {
	var out []AvailableMiner
	return out, c.do(ctx, "GET", "/miners/available", nil, nil, &out)
}

// Miner calls GET /miners/:name.
func (c *Client) Miner(ctx context.Context, name string) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "GET", "/miners/"+esc(name), nil, nil, &out)
}

// StopMiner calls DELETE /miners/:name.
func (c *Client) StopMiner(ctx context.Context, name string) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "DELETE", "/miners/"+esc(name), nil, nil, &out)
}

// MinerStats calls GET /miners/:name/stats.
func (c *Client) MinerStats(ctx context.Context, name string) (abi.Stats, error) {
	var out abi.Stats
	return out, c.do(ctx, "GET", "/miners/"+esc(name)+"/stats", nil, nil, &out)
}

// MinerLogs calls GET /miners/:name/logs.
func (c *Client) MinerLogs(ctx context.Context, name string, q miner.LogQuery) ([]miner.LogLine, error) {
	v := url.Values{}
	if q.Lines > 0 {
		v.Set("lines", strconv.Itoa(q.Lines))
	}
	if q.Since > 0 {
		v.Set("since", strconv.FormatUint(q.Since, 10))
	}
	if q.Strip {
		v.Set("strip", "1")
	}
	var out LogsResult
	return out.Lines, c.do(ctx, "GET", "/miners/"+esc(name)+"/logs", v, nil, &out)
}

// SendInput calls POST /miners/:name/stdin.
func (c *Client) SendInput(ctx context.Context, name, input string) (StdinResult, error) {
	var out StdinResult
	return out, c.do(ctx, "POST", "/miners/"+esc(name)+"/stdin", nil, StdinRequest{Input: input}, &out)
}

// Incidents calls GET /miners/:name/incidents.
func (c *Client) Incidents(ctx context.Context, name string) ([]miner.Incident, error) {
	var out []miner.Incident
	return out, c.do(ctx, "GET", "/miners/"+esc(name)+"/incidents", nil, nil, &out)
}

// HashrateHistory calls GET /miners/:name/hashrate-history.
func (c *Client) HashrateHistory(ctx context.Context, name string) (miner.HashrateHistory, error) {
	var out miner.HashrateHistory
	return out, c.do(ctx, "GET", "/miners/"+esc(name)+"/hashrate-history", nil, nil, &out)
}

// Install calls POST /miners/:type/install; progress is published on the
// event stream.
func (c *Client) Install(ctx context.Context, typ string, req InstallRequest) (InstalledMiner, error) {
	var out InstalledMiner
	return out, c.do(ctx, "POST", "/miners/"+esc(typ)+"/install", nil, req, &out)
}

// Uninstall calls DELETE /miners/:type/uninstall (version "" for all).
func (c *Client) Uninstall(ctx context.Context, typ, version string) (Uninstalled, error) {
	var q url.Values
	if version != "" {
		q = url.Values{"version": {version}}
	}
	var out Uninstalled
	return out, c.do(ctx, "DELETE", "/miners/"+esc(typ)+"/uninstall", q, nil, &out)
}

// Profiles.

// Profiles calls GET /profiles.
func (c *Client) Profiles(ctx context.Context) ([]miner.StoredProfile, error) {
	var out []miner.StoredProfile
	return out, c.do(ctx, "GET", "/profiles", nil, nil, &out)
}

// Profile calls GET /profiles/:id.
func (c *Client) Profile(ctx context.Context, id string) (miner.StoredProfile, error) {
	var out miner.StoredProfile
	return out, c.do(ctx, "GET", "/profiles/"+esc(id), nil, nil, &out)
}

// CreateProfile calls POST /profiles.
func (c *Client) CreateProfile(ctx context.Context, in miner.ProfileInput) (miner.StoredProfile, error) {
	var out miner.StoredProfile
	return out, c.do(ctx, "POST", "/profiles", nil, in, &out)
}

// UpdateProfile calls PUT /profiles/:id.
func (c *Client) UpdateProfile(ctx context.Context, id string, in miner.ProfileInput) (miner.StoredProfile, error) {
	var out miner.StoredProfile
	return out, c.do(ctx, "PUT", "/profiles/"+esc(id), nil, in, &out)
}

// DeleteProfile calls DELETE /profiles/:id.
func (c *Client) DeleteProfile(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/profiles/"+esc(id), nil, nil, nil)
}

// StartProfile calls POST /profiles/:id/start.
func (c *Client) StartProfile(ctx context.Context, id string, req ProfileStartRequest) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "POST", "/profiles/"+esc(id)+"/start", nil, req, &out)
}

// History.

// HistoryMiners calls GET /history/miners.
func (c *Client) HistoryMiners(ctx context.Context) ([]miner.HistorySummary, error) {
	var out []miner.HistorySummary
	return out, c.do(ctx, "GET", "/history/miners", nil, nil, &out)
}

// HistorySummary calls GET /history/miners/:name (device "" for the
// miner's totals).
func (c *Client) HistorySummary(ctx context.Context, name, device string) (miner.HistorySummary, error) {
	var q url.Values
	if device != "" {
		q = url.Values{"device": {device}}
	}
	var out miner.HistorySummary
	return out, c.do(ctx, "GET", "/history/miners/"+esc(name), q, nil, &out)
}

// HistoryQuery selects a hashrate range: Since and Until are RFC 3339
// times or durations back from now ("24h"); Step a duration ("1m").
type HistoryQuery struct {
	Since, Until, Step, Device string
}

// HistoryHashrate calls GET /history/miners/:name/hashrate.
func (c *Client) HistoryHashrate(ctx context.Context, name string, hq HistoryQuery) (HistoryRange, error) {
	q := url.Values{}
	for k, v := range map[string]string{"since": hq.Since, "until": hq.Until, "step": hq.Step, "device": hq.Device} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out HistoryRange
	return out, c.do(ctx, "GET", "/history/miners/"+esc(name)+"/hashrate", q, nil, &out)
}

// Adapters.

// Adapters calls GET /adapters.
func (c *Client) Adapters(ctx context.Context) ([]miner.AdapterInfo, error) {
	var out []miner.AdapterInfo
	return out, c.do(ctx, "GET", "/adapters", nil, nil, &out)
}

// AddAdapter calls POST /adapters with the module's bytes and, when not
// nil, its fixtures (sent as multipart/form-data then).
func (c *Client) AddAdapter(ctx context.Context, filename string, wasm, fixtures []byte) (miner.AdapterInfo, error) {
	var out miner.AdapterInfo
	q := url.Values{"filename": {filename}}
	body, ct := wasm, "application/wasm"
	if fixtures != nil {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range []struct {
			name, file string
			b          []byte
		}{{"module", filename, wasm}, {"fixtures", "fixtures.tests.json", fixtures}} {
			pw, err := mw.CreateFormFile(p.name, p.file)
			if err != nil {
				return out, err
			}
			pw.Write(p.b)
		}
		if err := mw.Close(); err != nil {
			return out, err
		}
		body, ct = buf.Bytes(), mw.FormDataContentType()
	}
	req, err := c.newRequest(ctx, "POST", "/adapters", q, bytes.NewReader(body), ct)
	if err != nil {
		return out, err
	}
	return out, c.send(req, &out)
}

// RemoveAdapter calls DELETE /adapters/:name.
func (c *Client) RemoveAdapter(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/adapters/"+esc(name), nil, nil, nil)
}

// RollbackAdapter calls POST /adapters/:name/rollback.
func (c *Client) RollbackAdapter(ctx context.Context, name string) (miner.AdapterInfo, error) {
	var out miner.AdapterInfo
	return out, c.do(ctx, "POST", "/adapters/"+esc(name)+"/rollback", nil, nil, &out)
}

// P2P.

// Node calls GET /node/info.
func (c *Client) Node(ctx context.Context) (NodeInfo, error) {
	var out NodeInfo
	return out, c.do(ctx, "GET", "/node/info", nil, nil, &out)
}

// Invite calls POST /node/invite.
func (c *Client) Invite(ctx context.Context, req InviteRequest) (Invite, error) {
	var out Invite
	return out, c.do(ctx, "POST", "/node/invite", nil, req, &out)
}

// PendingPeers calls GET /node/pending.
func (c *Client) PendingPeers(ctx context.Context) ([]PendingPeer, error) {
	var out []PendingPeer
	return out, c.do(ctx, "GET", "/node/pending", nil, nil, &out)
}

// Peers calls GET /peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var out []Peer
	return out, c.do(ctx, "GET", "/peers", nil, nil, &out)
}

// AddPeer calls POST /peers.
func (c *Client) AddPeer(ctx context.Context, req AddPeerRequest) (Peer, error) {
	var out Peer
	return out, c.do(ctx, "POST", "/peers", nil, req, &out)
}

// RemovePeer calls DELETE /peers/:id.
func (c *Client) RemovePeer(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/peers/"+esc(id), nil, nil, nil)
}

// PingPeer calls POST /peers/:id/ping.
func (c *Client) PingPeer(ctx context.Context, id string) (PingResult, error) {
	var out PingResult
	return out, c.do(ctx, "POST", "/peers/"+esc(id)+"/ping", nil, nil, &out)
}

// ApprovePeer calls POST /peers/:id/approve.
func (c *Client) ApprovePeer(ctx context.Context, id string, req ApproveRequest) (Peer, error) {
	var out Peer
	return out, c.do(ctx, "POST", "/peers/"+esc(id)+"/approve", nil, req, &out)
}

// RemoteStats calls GET /remote/stats (peer "") or GET
// /remote/:peer/stats.
func (c *Client) RemoteStats(ctx context.Context, peer string) ([]RemoteNode, error) {
	if peer == "" {
		var out []RemoteNode
		return out, c.do(ctx, "GET", "/remote/stats", nil, nil, &out)
	}
	var out RemoteNode
	if err := c.do(ctx, "GET", "/remote/"+esc(peer)+"/stats", nil, nil, &out); err != nil {
		return nil, err
	}
	return []RemoteNode{out}, nil
}

// RemoteStart calls POST /remote/:peer/start.
func (c *Client) RemoteStart(ctx context.Context, peer string, req RemoteStartRequest) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "POST", "/remote/"+esc(peer)+"/start", nil, req, &out)
}

// RemoteStop calls POST /remote/:peer/stop.
func (c *Client) RemoteStop(ctx context.Context, peer, name string) (miner.Info, error) {
	var out miner.Info
	return out, c.do(ctx, "POST", "/remote/"+esc(peer)+"/stop", nil, RemoteStopRequest{Name: name}, &out)
}

// RemoteLogs calls GET /remote/:peer/logs/:miner.
func (c *Client) RemoteLogs(ctx context.Context, peer, name string, lines int) ([]miner.LogLine, error) {
	var q url.Values
	if lines > 0 {
		q = url.Values{"lines": {strconv.Itoa(lines)}}
	}
	var out RemoteLogs
	return out.Lines, c.do(ctx, "GET", "/remote/"+esc(peer)+"/logs/"+esc(name), q, nil, &out)
}

// ErrStreamDropped is returned by Events when the server dropped the
// client for being too slow.
var ErrStreamDropped = errors.New("router: event stream dropped by the server (client too slow)")

// Events follows GET /events as SSE and calls fn for each event (the
// snapshot of each miner first) until ctx is done (nil), fn returns an
// error (that error), or the stream ends.
func (c *Client) Events(ctx context.Context, miners []string, fn func(StreamEvent) error) error {
	var q url.Values
	if len(miners) > 0 {
		q = url.Values{"miners": {strings.Join(miners, ",")}}
	}
	req, err := c.newRequest(ctx, "GET", "/events", q, nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return decodeErrorResponse(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			var e StreamEvent
			err := json.Unmarshal(data, &e)
			data = data[:0]
			if err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
			if e.Type == EventDropped {
				return ErrStreamDropped
			}
			if err := fn(e); err != nil {
				return err
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return fmt.Errorf("event stream: the agent closed it")
}

// Wait polls GET /health until the agent answers or ctx is done.
func (c *Client) Wait(ctx context.Context, every time.Duration) error {
	for {
		if _, err := c.Health(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
