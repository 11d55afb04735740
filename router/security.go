package router

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Access control, in the order ServeHTTP applies it:
//
//  1. Host allow-list (DNS rebinding): the Host header must be an IP
//     literal, "localhost" or a name under ".localhost", the listen host, or
//     one of Config.AllowedHosts. A rebinding attack needs the victim's
//     browser to send the attacker's domain name as Host, so it is refused
//     with 403 before anything else runs.
//  2. Origin: a request carrying an Origin header that is neither the
//     agent itself (same host and port) nor one of Config.CORSOrigins is
//     refused with 403 whatever its method — this also covers WebSocket
//     upgrades, which browsers send cross-origin without CORS. Allowed CORS
//     origins get the Access-Control-* headers and preflights are answered.
//  3. Token: an API token in the query string is always refused (401: it
//     would end up in logs and browser history). A token in the
//     Authorization header must be the right one. It is required on every
//     request except /health when the agent listens beyond loopback, and on
//     state-changing requests (POST, PUT, PATCH, DELETE) unless they come
//     from a loopback address without a cross-origin Origin header (the CLI
//     on the rig).
//  4. Rate limit: state-changing requests only, a token bucket per client
//     address (IPv6 per /64).

// queryTokenParams are query parameters refused as tokens.
var queryTokenParams = []string{"token", "access_token", "api_token", "apikey", "api_key", "auth", "bearer"}

// isLoopbackListen reports whether addr ("host:port") only accepts
// connections from this machine.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// IsLoopbackListen reports whether a listen address only accepts
// connections from this machine ("127.0.0.1:9090", "[::1]:9090",
// "localhost:9090"); an empty or unspecified host is not loopback.
func IsLoopbackListen(addr string) bool { return isLoopbackListen(addr) }

// hostOnly returns the lower-cased host of a Host header value without its
// port and trailing dot.
func hostOnly(h string) string {
	if host, port, err := net.SplitHostPort(h); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return ""
		}
		h = host
	} else {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostAllowed applies the Host allow-list.
func (a *API) hostAllowed(host string) bool {
	h := hostOnly(host)
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	_, ok := a.hosts[h]
	return ok
}

// originKey normalises an origin ("http://Host:80/" -> "http://host").
func originKey(origin string) (string, bool) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host, true
}

// sameOrigin reports whether origin is the agent itself as the request
// addressed it.
func sameOrigin(origin, reqHost string) bool {
	k, ok := originKey(origin)
	if !ok {
		return false
	}
	_, host, _ := strings.Cut(k, "://")
	rh := strings.ToLower(reqHost)
	return host == rh || host+":80" == rh || host+":443" == rh
}

// corsOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" if cross-origin requests from it are not allowed.
func (a *API) corsOrigin(origin string) string {
	if len(a.cors) == 0 {
		return ""
	}
	if _, ok := a.cors["*"]; ok {
		return origin
	}
	if k, ok := originKey(origin); ok {
		if _, ok := a.cors[k]; ok {
			return origin
		}
	}
	return ""
}

// isStateChanging reports whether a method changes state.
func isStateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// remoteAddr returns the client's address.
func remoteAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func isLoopbackClient(r *http.Request) bool {
	ip, ok := remoteAddr(r)
	return ok && ip.IsLoopback()
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (tok string, present bool, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true, false
	}
	return strings.TrimSpace(tok), true, true
}

// tokenEqual compares tokens in constant time (digests first, so the
// length does not leak either).
func tokenEqual(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}

func unauthorized(msg string) error {
	return apiError(http.StatusUnauthorized, CodeUnauthorized, msg)
}

// authorize applies the token rules to r; crossOrigin is set when r
// carries an allowed Origin that is not the agent itself.
func (a *API) authorize(r *http.Request, crossOrigin bool) error {
	q := r.URL.Query()
	for _, p := range queryTokenParams {
		if q.Has(p) {
			return unauthorized("API tokens in the query string are refused (they end up in logs and histories); send the header \"Authorization: Bearer TOKEN\"")
		}
	}
	tok, present, ok := bearer(r)
	if present {
		if !ok {
			return unauthorized("malformed Authorization header; want \"Authorization: Bearer TOKEN\"")
		}
		if !tokenEqual(tok, a.cfg.Token) {
			return unauthorized("wrong API token (it is in DATA_DIR/api.token)")
		}
		return nil
	}
	if r.URL.Path == a.cfg.Prefix+"/health" {
		return nil
	}
	if a.requireToken {
		return unauthorized("an API token is required: the agent listens beyond loopback; send \"Authorization: Bearer TOKEN\" (the token is in DATA_DIR/api.token)")
	}
	if isStateChanging(r.Method) && (crossOrigin || !isLoopbackClient(r)) {
		return unauthorized("an API token is required for " + r.Method + " from " + clientDesc(crossOrigin) + "; send \"Authorization: Bearer TOKEN\" (the token is in DATA_DIR/api.token)")
	}
	return nil
}

func clientDesc(crossOrigin bool) string {
	if crossOrigin {
		return "a cross-origin page"
	}
	return "another machine"
}

// RateLimit configures the per-client limit on state-changing requests.
type RateLimit struct {
	// PerSecond is the sustained rate (default 50; negative disables).
	PerSecond float64
	// Burst is the bucket size (default 100).
	Burst int
	// MaxClients bounds the clients tracked (default 4096); when full,
	// idle clients are evicted first, then the least recently seen.
	MaxClients int
}

func (rl RateLimit) withDefaults() RateLimit {
	if rl.PerSecond == 0 {
		rl.PerSecond = 50
	}
	if rl.Burst <= 0 {
		rl.Burst = 100
	}
	if rl.MaxClients <= 0 {
		rl.MaxClients = 4096
	}
	return rl
}

// limiter is a token bucket per client.
type limiter struct {
	rate, burst float64
	max         int

	mu      sync.Mutex
	clients map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rl RateLimit) *limiter {
	if rl.PerSecond < 0 {
		return nil
	}
	return &limiter{rate: rl.PerSecond, burst: float64(rl.Burst), max: rl.MaxClients, clients: map[netip.Addr]*bucket{}}
}

// clientKey is the address a bucket belongs to: IPv6 clients share one per
// /64, since one host usually owns a whole /64.
func clientKey(ip netip.Addr) netip.Addr {
	if ip.Is6() && !ip.IsLoopback() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// allow takes a token for ip, or says how long until one is available.
func (l *limiter) allow(ip netip.Addr, now time.Time) (bool, time.Duration) {
	key := clientKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= l.max {
			l.evictLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.clients[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// evictLocked drops every client whose bucket has refilled (forgetting it
// changes nothing), and if none has, the least recently seen one.
func (l *limiter) evictLocked(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	var oldest netip.Addr
	var oldestAt time.Time
	n := len(l.clients)
	for k, b := range l.clients {
		if now.Sub(b.last) >= full {
			delete(l.clients, k)
			continue
		}
		if oldestAt.IsZero() || b.last.Before(oldestAt) {
			oldest, oldestAt = k, b.last
		}
	}
	if len(l.clients) == n && oldest.IsValid() {
		delete(l.clients, oldest)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

func rateLimited(retry time.Duration) error {
	s := int(retry/time.Second) + 1
	return apiError(http.StatusTooManyRequests, CodeRateLimited, "too many state-changing requests from this address; retry in "+strconv.Itoa(s)+" s")
}
