package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rigd/rigd/router"
)

// What the client commands share: finding the agent and its token,
// --json, and turning API errors into one readable line.

// defaultAgent is where the agent listens by default.
const defaultAgent = "127.0.0.1:9090"

// systemDataDir is the data dir of the systemd unit, tried when the
// user's own has no running agent.
const systemDataDir = "/var/lib/rigd"

// clientFlags are the flags of every command that talks to the agent.
type clientFlags struct {
	agent   string
	dataDir string
	json    bool
	timeout time.Duration
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{}
	fs.StringVar(&cf.agent, "agent", os.Getenv("RIGD_AGENT"), "the agent's `URL` or HOST:PORT (env RIGD_AGENT; default: DATA_DIR/agent.addr, else "+defaultAgent+")")
	fs.StringVar(&cf.dataDir, "data-dir", defaultDataDir(), "data directory of the agent, for its address and API token (env RIGD_DATA_DIR)")
	fs.BoolVar(&cf.json, "json", false, "print JSON")
	fs.DurationVar(&cf.timeout, "timeout", 30*time.Second, "give up on the agent after this long")
	return cf
}

// conn is a connected client command.
type conn struct {
	*router.Client
	url     string
	json    bool
	timeout time.Duration
}

// ctx bounds one call by --timeout.
func (k *conn) ctx(c *cli) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, k.timeout)
}

// resolve finds the agent's URL and token: --agent / RIGD_AGENT, else the
// address the agent recorded in its data dir (the user's, then the
// system one), else the default; the token from RIGD_TOKEN, else the
// api.token beside the recorded address when readable.
func (cf *clientFlags) resolve() (url, token string) {
	token = os.Getenv("RIGD_TOKEN")
	dirs := []string{cf.dataDir}
	if cf.dataDir != systemDataDir {
		dirs = append(dirs, systemDataDir)
	}
	readTok := func(dir string) string {
		if token != "" {
			return token
		}
		t, err := readToken(layout{dir}.apiToken())
		if err != nil {
			return ""
		}
		return t
	}
	if cf.agent != "" {
		return withDefaultPort(cf.agent), readTok(cf.dataDir)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(layout{d}.agentAddr())
		if err != nil {
			continue
		}
		if u := strings.TrimSpace(string(b)); u != "" {
			return u, readTok(d)
		}
	}
	return defaultAgent, readTok(cf.dataDir)
}

// withDefaultPort gives a bare HOST (no scheme, no port) the agent's
// default port: --agent rig1.lan means rig1.lan:9090, not port 80.
func withDefaultPort(agent string) string {
	if strings.Contains(agent, "://") {
		return agent // a URL says what it means
	}
	host, rest, _ := strings.Cut(agent, "/")
	if _, _, err := net.SplitHostPort(host); err == nil {
		return agent
	}
	_, port, _ := net.SplitHostPort(defaultAgent)
	out := net.JoinHostPort(strings.Trim(host, "[]"), port)
	if rest != "" {
		out += "/" + rest
	}
	return out
}

func (cf *clientFlags) connect() (*conn, error) {
	url, token := cf.resolve()
	cl, err := router.NewClient(url, token, nil)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &conn{Client: cl, url: cl.BaseURL(), json: cf.json, timeout: cf.timeout}, nil
}

// ctx bounds one command's calls.
func (cf *clientFlags) ctx(c *cli) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, cf.timeout)
}

// unreachable reports whether err means no agent answered.
func unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.As(err, &ne) && !errors.Is(err, context.Canceled)
}

// explain turns an API or connection error into a readable error.
func (k *conn) explain(err error) error {
	if err == nil {
		return nil
	}
	var ae *router.Error
	switch {
	case errors.As(err, &ae):
		switch ae.Status {
		case 401:
			return fmt.Errorf("%s (the token is read from DATA_DIR/api.token or RIGD_TOKEN)", ae.Msg)
		case 501:
			return fmt.Errorf("not available: %s", ae.Msg)
		}
		return errors.New(ae.Msg)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the agent at %s did not answer in time (--timeout)", k.url)
	case unreachable(err):
		return fmt.Errorf("cannot reach the agent at %s: is `rigd serve` running? (set --agent or RIGD_AGENT)", k.url)
	}
	return err
}

// out prints v as JSON with --json, else calls human.
func (k *conn) out(c *cli, v any, human func() error) error {
	if k.json {
		return writeJSON(c.stdout, v)
	}
	return human()
}

// Formatting helpers.

// fmtHashrate renders H/s with a unit prefix.
func fmtHashrate(hs *float64) string {
	if hs == nil {
		return "-"
	}
	return fmtHS(*hs)
}

func fmtHS(v float64) string {
	units := []string{"H/s", "kH/s", "MH/s", "GH/s", "TH/s"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

func fmtInt(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func fmtFloat(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%s", *v, unit)
}

// fmtDuration renders a duration as 3d4h, 2h5m, 4m10s or 12s.
func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws vals in at most width characters (averaging buckets);
// NaN is a gap.
func sparkline(vals []float64, width int) string {
	if len(vals) == 0 || width <= 0 {
		return ""
	}
	if len(vals) > width {
		b := make([]float64, width)
		for i := range b {
			lo, hi := i*len(vals)/width, (i+1)*len(vals)/width
			sum, n := 0.0, 0
			for _, v := range vals[lo:hi] {
				if !math.IsNaN(v) {
					sum += v
					n++
				}
			}
			b[i] = math.NaN()
			if n > 0 {
				b[i] = sum / float64(n)
			}
		}
		vals = b
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	var s strings.Builder
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			s.WriteRune(' ')
		case hi == lo:
			s.WriteRune(sparks[len(sparks)/2])
		default:
			s.WriteRune(sparks[int((v-lo)/(hi-lo)*float64(len(sparks)-1)+0.5)])
		}
	}
	return s.String()
}

// absPath makes a path given on the command line absolute (the agent
// runs elsewhere).
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}
