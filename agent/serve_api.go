package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// The REST API part of `rigd serve`: flags, the token file, the
// router.Config, and the System service behind GET /info and /ready.

// listFlag is a repeatable string flag that also splits on commas.
type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.v = append(*l.v, p)
		}
	}
	return nil
}

// envList splits a comma-separated environment variable.
func envList(key string) []string {
	var out []string
	_ = listFlag{&out}.Set(os.Getenv(key))
	return out
}

// apiFlags registers the API access flags of `rigd serve`.
func apiFlags(fs *flag.FlagSet, cfg *serveConfig) {
	cfg.AllowHosts = envList("RIGD_ALLOW_HOSTS")
	cfg.CORSOrigins = envList("RIGD_CORS_ORIGINS")
	fs.Var(listFlag{&cfg.AllowHosts}, "allow-host", "extra `NAME` accepted in the Host header, e.g. rig1.lan (repeatable; env RIGD_ALLOW_HOSTS). IP addresses and localhost are always accepted")
	fs.Var(listFlag{&cfg.CORSOrigins}, "cors-origin", "`ORIGIN` allowed cross-origin requests, e.g. https://dash.lan:3000 (repeatable; env RIGD_CORS_ORIGINS; '*' allows any web page, see README). None by default")
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", router.DefaultReadHeaderTimeout, "close connections whose request headers take longer")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 50, "state-changing requests per second per client address (negative: no limit)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", 100, "burst of state-changing requests per client address")
}

// loadOrCreateToken returns the API token stored at path, creating it (32
// random bytes, hex, mode 0600, written atomically) on first use.
func loadOrCreateToken(path string) (tok string, created bool, err error) {
	tok, err = readToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	tok = hex.EncodeToString(b)
	f, err := os.CreateTemp(filepath.Dir(path), ".api.token-*")
	if err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(tok + "\n")
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("api token: %w", err)
	}
	// Link fails if another process created the token meanwhile: then
	// that one is the token.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			tok, err = readToken(path)
			return tok, false, err
		}
		return "", false, fmt.Errorf("api token: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return tok, true, nil
}

// readToken reads a token file, refusing one others can read.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("api token %s: not a regular file; remove it to get a new token", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("api token %s: mode %v lets other users read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b := make([]byte, 200)
	n, _ := f.Read(b)
	tok := strings.TrimSpace(string(b[:n]))
	if len(tok) < 32 {
		return "", fmt.Errorf("api token %s: too short (want 64 hex characters; delete the file to get a new one)", path)
	}
	return tok, nil
}

// writeAgentAddr records the API's URL for the CLI, atomically.
func writeAgentAddr(path, url string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(url+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// URL is the base URL of the API, with an unspecified listen host
// replaced by loopback (what a CLI on this machine dials).
func (s *server) URL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + s.api.Prefix()
}

// newAPI builds the REST API over what the server has wired.
func (s *server) newAPI(log *slog.Logger) (*router.API, error) {
	l := layout{s.cfg.DataDir}
	tok, created, err := loadOrCreateToken(l.apiToken())
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created the API token", "path", l.apiToken())
	}
	hosts := append([]string(nil), s.cfg.AllowHosts...)
	if !router.IsLoopbackListen(s.cfg.Listen) {
		// Beyond loopback, people browse to the rig by its name.
		if h, err := os.Hostname(); err == nil && h != "" {
			hosts = append(hosts, h, h+".local")
		}
	}
	sv := s.services
	sys := &apiSystem{version: Version, dataDir: s.cfg.DataDir, started: time.Now(), adapters: s.catalog,
		installer: sv.installer,
		storage:   func(context.Context) error { return s.store.Healthy() },
	}
	if s.node != nil {
		sys.p2p = func(context.Context) error {
			if s.cfg.P2PListen != "" && s.node.Info().Listen == "" {
				return errors.New("the p2p listener is not running")
			}
			return nil
		}
	}
	cfg := router.Config{
		Prefix:       s.cfg.APIPrefix,
		Version:      Version,
		Listen:       s.cfg.Listen,
		Token:        tok,
		AllowedHosts: hosts,
		CORSOrigins:  s.cfg.CORSOrigins,
		RateLimit:    router.RateLimit{PerSecond: s.cfg.RateLimit, Burst: s.cfg.RateBurst},
		Miners:       s.manager,
		Events:       s.manager.Bus(),
		Adapters:     s.catalog,
		AdapterFiles: adapterFiles{cat: s.catalog},
		Profiles:     sv.profiles,
		History:      s.store,
		Audit:        s.store,
		Installer:    sv.installer,
		System:       sys,
		Metrics:      sv.metrics,
		Logger:       log.With("component", "api"),
	}
	if s.node != nil {
		cfg.Peers, cfg.Remote = peersAPI{n: s.node}, peersAPI{n: s.node}
	}
	if !router.IsLoopbackListen(s.cfg.Listen) {
		log.Warn("the API listens beyond loopback: every request but /health needs the token", "token_file", l.apiToken())
	}
	return router.New(cfg), nil
}

// apiSystem answers GET /info and GET /ready.
type apiSystem struct {
	version, dataDir string
	started          time.Time
	adapters         router.Adapters
	installer        router.Installer // nil until the installer is wired
	// storage and p2p report their health; nil means not configured.
	storage func(ctx context.Context) error
	p2p     func(ctx context.Context) error
}

func (a *apiSystem) Info(ctx context.Context) (router.SystemInfo, error) {
	info := router.SystemInfo{
		Version:   a.version,
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPU:       router.CPUInfo{Model: cpuModel(), Threads: runtime.NumCPU()},
		Memory:    memInfo(),
		DataDir:   a.dataDir,
		StartedAt: a.started,
		UptimeS:   time.Since(a.started).Seconds(),
		Miners:    []router.InstalledMiner{},
		Adapters:  a.adapters.List(),
	}
	info.Hostname, _ = os.Hostname()
	if a.installer != nil {
		for _, ad := range info.Adapters {
			vs, err := a.installer.Installed(ctx, ad.Name)
			if err != nil {
				continue
			}
			info.Miners = append(info.Miners, vs...)
		}
	}
	return info, nil
}

func (a *apiSystem) Ready(ctx context.Context) []router.Check {
	check := func(name string, f func(context.Context) error) router.Check {
		if f == nil {
			return router.Check{Name: name, Status: router.CheckDisabled}
		}
		if err := f(ctx); err != nil {
			return router.Check{Name: name, Status: router.CheckDegraded, Error: err.Error()}
		}
		return router.Check{Name: name, Status: router.CheckOK}
	}
	ad := router.Check{Name: "adapters", Status: router.CheckOK}
	var bad []string
	ok := 0
	for _, x := range a.adapters.List() {
		if x.Status == "ok" {
			ok++
			continue
		}
		name := x.Name
		if name == "" {
			name = x.Source
		}
		bad = append(bad, name+": "+x.Status)
	}
	if len(bad) > 0 || ok == 0 {
		ad.Status = router.CheckDegraded
		ad.Error = strings.Join(bad, "; ")
		if ok == 0 {
			ad.Error = strings.TrimPrefix(ad.Error+"; no adapter loaded", "; ")
		}
	}
	return []router.Check{check("storage", a.storage), ad, check("p2p", a.p2p)}
}

// cpuModel reads the CPU model name (Linux); "" elsewhere.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memInfo reads total and available memory (Linux); zero elsewhere.
func memInfo() router.MemInfo {
	var m router.MemInfo
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			m.TotalBytes = kb * 1024
		case "MemAvailable:":
			m.AvailableBytes = kb * 1024
		}
	}
	return m
}

// apiServices are the services startServer builds for the API.
type apiServices struct {
	profiles  *miner.Profiles
	installer *installService
	metrics   *router.Metrics
}
