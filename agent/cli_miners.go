package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
	"github.com/rigd/rigd/sdk/abi"
)

func minerCommands() []*command {
	return []*command{
		{name: "status", args: "[NAME]", summary: "show the miners (a table), or one miner's stats and last hour", run: runStatus},
		{name: "start", args: "[TYPE]", summary: "start a miner from flags, a profile file or a stored profile", run: runStart},
		{name: "stop", args: "NAME...", summary: "stop miners", run: runStop},
		{name: "logs", args: "NAME", summary: "print a miner's output (-f follows)", run: runLogs},
		{name: "stdin", args: "NAME INPUT", summary: "send input to a miner (XMRig: h = hashrate, p = pause, r = resume)", run: runStdin},
		{name: "incidents", args: "NAME", summary: "the watchdog's incidents for a miner: rule, evidence, action", run: runIncidents},
	}
}

func runStatus(c *cli, args []string) error {
	fs := c.flags(&command{args: "[NAME]", summary: "Without NAME: a table of every miner. With NAME: the miner's stats, devices and a sparkline of\nits hashrate over the last hour."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("want at most one NAME")
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	if len(args) == 1 {
		return statusOne(ctx, c, k, args[0])
	}
	list, err := k.Miners(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "no miners (start one with: rigd start TYPE --pool URL --user WALLET)")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tPID\tUPTIME\tHASHRATE\tACCEPTED\tREJECTED\tRESTARTS\tPOOL")
		for _, m := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", m.Name, m.Type, stateText(m), m.PID, uptime(m),
				fmtHashrate(m.Stats.HashrateHS), fmtInt(m.Stats.Accepted), fmtInt(m.Stats.Rejected), m.Restarts, orDash(m.Stats.Pool))
		}
		return tw.Flush()
	})
}

func stateText(m miner.Info) string {
	if m.Stats.Paused != nil && *m.Stats.Paused && m.State == miner.StateRunning {
		return "running (paused)"
	}
	return string(m.State)
}

func uptime(m miner.Info) string {
	if m.StartedAt == nil || m.State != miner.StateRunning {
		return "-"
	}
	return fmtDuration(time.Since(*m.StartedAt))
}

// hourHistory returns the last hour of a miner at 1-minute steps: from
// storage when the agent has it, else from the miner's in-memory history.
func hourHistory(ctx context.Context, k *conn, name string) []miner.HistoryPoint {
	hr, err := k.HistoryHashrate(ctx, name, router.HistoryQuery{Since: "1h", Step: "1m"})
	if err != nil {
		return nil
	}
	return hr.Points
}

func statusOne(ctx context.Context, c *cli, k *conn, name string) error {
	m, err := k.Miner(ctx, name)
	if err != nil {
		return k.explain(err)
	}
	pts := hourHistory(ctx, k, name)
	if pts == nil {
		pts = []miner.HistoryPoint{}
	}
	return k.out(c, struct {
		Miner    miner.Info           `json:"miner"`
		LastHour []miner.HistoryPoint `json:"last_hour"`
	}{m, pts}, func() error {
		w := c.stdout
		st := m.Stats
		fmt.Fprintf(w, "%s (%s %s)  %s", m.Name, m.Type, orDash(m.Version), stateText(m))
		if m.Message != "" {
			fmt.Fprintf(w, ": %s", m.Message)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  pid\t%d\tuptime\t%s\trestarts\t%d\n", m.PID, uptime(m), m.Restarts)
		fmt.Fprintf(tw, "  hashrate 10s\t%s\t60s\t%s\t15m\t%s\n", fmtHashrate(st.HashrateHS), fmtHashrate(st.Hashrate60sHS), fmtHashrate(st.Hashrate15mHS))
		fmt.Fprintf(tw, "  shares\t%s accepted\t%s rejected\t%s stale\n", fmtInt(st.Accepted), fmtInt(st.Rejected), fmtInt(st.Stale))
		fmt.Fprintf(tw, "  pool\t%s\talgorithm\t%s\tdifficulty\t%s\n", orDash(st.Pool), orDash(st.Algorithm), fmtFloat(st.Difficulty, ""))
		if m.LastExit != nil {
			fmt.Fprintf(tw, "  last exit\t%s\tat\t%s\n", m.LastExit.Cause, m.LastExit.At.Local().Format(time.DateTime))
		}
		tw.Flush()
		if len(st.Devices) > 0 {
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  DEVICE\tNAME\tHASHRATE\tTEMP\tFAN\tPOWER\tACCEPTED")
			for _, d := range st.Devices {
				fmt.Fprintf(tw, "  %s%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Kind, d.ID, orDash(d.Name), fmtHashrate(d.HashrateHS),
					fmtFloat(d.TempC, "°C"), fmtFloat(d.FanPct, "%"), fmtFloat(d.PowerW, " W"), fmtInt(d.Accepted))
			}
			tw.Flush()
		}
		if len(pts) > 0 {
			vals := make([]float64, len(pts))
			for i, p := range pts {
				vals[i] = p.AvgHS
			}
			fmt.Fprintf(w, "  last hour  %s  %s\n", sparkline(vals, 60), fmtHS(vals[len(vals)-1]))
		}
		return nil
	})
}

// profileFlags are the flags that describe a profile inline.
type profileFlags struct {
	file      string
	algo      string
	coin      string
	pools     []string
	user      string
	pass      string
	worker    string
	threads   int
	devices   string
	intensity float64
	options   []string
	extra     []string
	tls       bool
	watchdog  string
}

func addProfileFlags(fs *flag.FlagSet) *profileFlags {
	pf := &profileFlags{}
	fs.StringVar(&pf.file, "profile-file", "", "read the profile from a JSON `FILE` (a profile object; flags below override it)")
	fs.StringVar(&pf.algo, "algo", "", "algorithm, e.g. rx/0")
	fs.StringVar(&pf.coin, "coin", "", "coin, for miners that select by coin")
	fs.Var(listFlag{&pf.pools}, "pool", "pool `URL` (repeatable, failover order)")
	fs.StringVar(&pf.user, "user", "", "pool user (wallet address)")
	fs.StringVar(&pf.pass, "pass", "", "pool password")
	fs.BoolVar(&pf.tls, "tls", false, "connect to the pools with TLS")
	fs.StringVar(&pf.worker, "worker", "", "worker name reported to the pool")
	fs.IntVar(&pf.threads, "threads", 0, "CPU threads (0: the miner decides)")
	fs.StringVar(&pf.devices, "devices", "", "GPU indexes, e.g. 0,1 (default all)")
	fs.Float64Var(&pf.intensity, "intensity", 0, "GPU intensity (0: the miner decides)")
	fs.Var(listFlag{&pf.options}, "option", "adapter option `KEY=VALUE` (VALUE is JSON, or a string) (repeatable)")
	fs.Var(listFlag{&pf.extra}, "extra-arg", "raw miner argument from the adapter's allow-list (repeatable)")
	fs.StringVar(&pf.watchdog, "watchdog", "", `the watchdog's settings as a JSON object, e.g. '{"min_hashrate_hs":1000,"low_hashrate_for":"10m"}'`)
	return pf
}

// watchdogConfig is the --watchdog object, nil without one.
func (pf *profileFlags) watchdogConfig() (*miner.WatchdogConfig, error) {
	if pf.watchdog == "" {
		return nil, nil
	}
	var wd miner.WatchdogConfig
	if err := decodeStrict([]byte(pf.watchdog), &wd); err != nil {
		return nil, usagef("--watchdog: %v", err)
	}
	return &wd, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// profile builds the profile: the file, then the flags.
func (pf *profileFlags) profile() (abi.Profile, error) {
	var p abi.Profile
	if pf.file != "" {
		b, err := os.ReadFile(pf.file)
		if err != nil {
			return p, err
		}
		if err := decodeStrict(b, &p); err != nil {
			return p, fmt.Errorf("profile file %s: %w", pf.file, err)
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&p.Algo, pf.algo)
	set(&p.Coin, pf.coin)
	set(&p.Worker, pf.worker)
	if len(pf.pools) > 0 {
		p.Pools = nil
		for _, u := range pf.pools {
			p.Pools = append(p.Pools, abi.Pool{URL: u, User: pf.user, Pass: pf.pass, TLS: pf.tls})
		}
	} else if pf.user != "" || pf.pass != "" || pf.tls {
		if len(p.Pools) == 0 {
			return p, usagef("--user, --pass and --tls need --pool")
		}
		for i := range p.Pools {
			set(&p.Pools[i].User, pf.user)
			set(&p.Pools[i].Pass, pf.pass)
			p.Pools[i].TLS = p.Pools[i].TLS || pf.tls
		}
	}
	if pf.threads != 0 {
		p.Threads = pf.threads
	}
	if pf.intensity != 0 {
		p.Intensity = pf.intensity
	}
	if pf.devices != "" {
		p.Devices = nil
		for _, d := range strings.Split(pf.devices, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(d))
			if err != nil || n < 0 {
				return p, usagef("--devices %q: want GPU indexes like 0,1", pf.devices)
			}
			p.Devices = append(p.Devices, n)
		}
	}
	for _, o := range pf.options {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return p, usagef("--option %q: want KEY=VALUE", o)
		}
		raw := json.RawMessage(v)
		if !json.Valid(raw) {
			raw, _ = json.Marshal(v)
		}
		if p.Options == nil {
			p.Options = map[string]json.RawMessage{}
		}
		p.Options[k] = raw
	}
	p.ExtraArgs = append(p.ExtraArgs, pf.extra...)
	return p, nil
}

func runStart(c *cli, args []string) error {
	fs := c.flags(&command{args: "[TYPE]", summary: "Start a miner. Either TYPE (or --type) with a profile from flags and/or --profile-file, or\n--profile-id of a stored profile. Examples:\n" +
		"  rigd start xmrig --algo rx/0 --pool pool.example:3333 --user WALLET --threads 4\n" +
		"  rigd start --profile-id 3f2a... --name cpu-night"})
	cf := addClientFlags(fs)
	typ := fs.String("type", "", "miner type (see rigd available)")
	name := fs.String("name", "", "instance name (default TYPE-ALGO)")
	binary := fs.String("binary", "", "explicit path of the miner binary on the agent's machine")
	profileID := fs.String("profile-id", "", "start a stored profile (see rigd profiles list)")
	noAuto := fs.Bool("no-autostart", false, "do not start this miner again when the agent restarts")
	pf := addProfileFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(args) > 1:
		return usagef("want at most one TYPE")
	case len(args) == 1 && *typ != "" && args[0] != *typ:
		return usagef("TYPE %q and --type %q disagree", args[0], *typ)
	case len(args) == 1:
		*typ = args[0]
	}
	req := miner.StartRequest{Type: *typ, Name: *name, ProfileID: *profileID}
	if req.Binary, err = absPath(*binary); err != nil {
		return err
	}
	if *noAuto {
		f := false
		req.Autostart = &f
	}
	if req.Watchdog, err = pf.watchdogConfig(); err != nil {
		return err
	}
	if *profileID != "" {
		if *typ != "" || pf.file != "" || pf.algo != "" || len(pf.pools) > 0 {
			return usagef("--profile-id cannot be combined with a type or profile flags")
		}
	} else {
		if req.Type == "" {
			return usagef("give a TYPE (see rigd available) or --profile-id")
		}
		if req.Profile, err = pf.profile(); err != nil {
			return err
		}
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	m, err := k.StartMiner(ctx, req)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, m, func() error {
		fmt.Fprintf(c.stdout, "started %s (%s, pid %d): %s\n", m.Name, m.Type, m.PID, m.State)
		return nil
	})
}

func runStop(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME...", summary: "Stop miners (SIGTERM, then SIGKILL after the grace period). A stopped miner is not started\nagain when the agent restarts."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usagef("want at least one NAME")
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	var out []miner.Info
	for _, name := range args {
		m, err := k.StopMiner(ctx, name)
		if err != nil {
			return k.explain(err)
		}
		out = append(out, m)
		if !k.json {
			fmt.Fprintf(c.stdout, "stopped %s\n", m.Name)
		}
	}
	if k.json {
		return writeJSON(c.stdout, out)
	}
	return nil
}

func runLogs(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME", summary: "Print a miner's latest output lines (ANSI colours kept unless --strip). -f keeps printing new\nlines until interrupted."})
	cf := addClientFlags(fs)
	lines := fs.Int("lines", 100, "number of latest lines (1-10000)")
	strip := fs.Bool("strip", false, "remove ANSI escape sequences")
	var follow bool
	fs.BoolVar(&follow, "f", false, "follow: print new lines as they come")
	fs.BoolVar(&follow, "follow", false, "same as -f")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "NAME"); err != nil {
		return err
	}
	if *lines < 1 || *lines > 10000 {
		return usagef("--lines %d: want 1-10000", *lines)
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	name := args[0]
	q := miner.LogQuery{Lines: *lines, Strip: *strip}
	print := func(ls []miner.LogLine) error {
		for _, l := range ls {
			if k.json {
				if err := writeJSONLine(c.stdout, l); err != nil {
					return err
				}
			} else if _, err := fmt.Fprintln(c.stdout, l.Text); err != nil {
				return err
			}
			q.Since = max(q.Since, l.Seq)
		}
		return nil
	}
	ctx, cancel := cf.ctx(c)
	ls, err := k.MinerLogs(ctx, name, q)
	cancel()
	if err != nil {
		return k.explain(err)
	}
	if !follow && k.json {
		if ls == nil {
			ls = []miner.LogLine{}
		}
		return writeJSON(c.stdout, ls)
	}
	if err := print(ls); err != nil || !follow {
		return err
	}
	// Follow by polling with since: lines are not on the event stream, and
	// a poll a second is cheap.
	q.Lines = 10000
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-tick.C:
		}
		ctx, cancel := cf.ctx(c)
		ls, err := k.MinerLogs(ctx, name, q)
		cancel()
		if c.ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ae *router.Error
			if errors.As(err, &ae) && ae.Status == 404 {
				fmt.Fprintf(c.stderr, "rigd: %s is gone\n", name)
				return nil
			}
			return k.explain(err)
		}
		if err := print(ls); err != nil {
			return err
		}
	}
}

func runStdin(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME INPUT", summary: "Write INPUT to the miner's stdin as is (XMRig reads single keys: h prints the hashrate, p pauses,\nr resumes). Escape sequences \\n and \\r are turned into newline and carriage return."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 2, "NAME and INPUT"); err != nil {
		return err
	}
	input := strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(args[1])
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	res, err := k.SendInput(ctx, args[0], input)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, res, func() error {
		fmt.Fprintf(c.stdout, "sent %d byte(s) to %s\n", res.Written, res.Miner)
		return nil
	})
}

func runIncidents(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME", summary: "List the watchdog's incidents for a miner, oldest first: the rule that fired, what it measured\n" +
		"against which threshold, and the action taken (pause_resume, restart, fail). --lines N also prints\n" +
		"the last N log lines recorded with each incident."})
	cf := addClientFlags(fs)
	nlines := fs.Int("lines", 0, "log lines to print with each incident (up to 50)")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "NAME"); err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	list, err := k.Incidents(ctx, args[0])
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			fmt.Fprintf(c.stdout, "no incidents for %s\n", args[0])
			return nil
		}
		for _, in := range list {
			fmt.Fprintf(c.stdout, "#%d %s  %-12s %-12s measured %.4g %s, threshold %.4g %s (restarts in the last hour: %d)\n    %s\n",
				in.ID, in.Time.Local().Format("2006-01-02 15:04:05"), in.Rule, in.Action, in.Measured, in.Unit, in.Threshold, in.Unit, in.RestartsLastHour, in.Detail)
			lines := in.LogLines
			if *nlines < len(lines) {
				lines = lines[len(lines)-max(*nlines, 0):]
			}
			for _, l := range lines {
				fmt.Fprintf(c.stdout, "    | %s\n", l)
			}
		}
		return nil
	})
}

// writeJSONLine writes v as one compact JSON line.
func writeJSONLine(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
