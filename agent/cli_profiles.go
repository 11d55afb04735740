package agent

import (
	"fmt"
	"math"
	"text/tabwriter"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

func profilesCommand() *command {
	return &command{
		name:    "profiles",
		summary: "manage stored profiles (validated by their adapter when saved)",
		subs: []*command{
			{name: "list", summary: "list profiles", run: runProfilesList},
			{name: "create", args: "--name NAME --type TYPE [profile flags]", summary: "create a profile", run: runProfilesCreate},
			{name: "show", args: "ID", summary: "show a profile", run: runProfilesShow},
			{name: "delete", args: "ID", summary: "delete a profile", run: runProfilesDelete},
			{name: "start", args: "ID", summary: "start a miner from a profile", run: runProfilesStart},
		},
	}
}

func runProfilesList(c *cli, args []string) error {
	fs := c.flags(&command{summary: "List the stored profiles."})
	cf := addClientFlags(fs)
	if err := c.parseNoArgs(fs, args); err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	list, err := k.Profiles(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "no profiles (create one with: rigd profiles create)")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tALGO\tPOOL\tUPDATED")
		for _, p := range list {
			pool := ""
			if len(p.Profile.Pools) > 0 {
				pool = p.Profile.Pools[0].URL
			}
			algo := p.Profile.Algo
			if algo == "" {
				algo = p.Profile.Coin
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Type, orDash(algo), orDash(pool), p.UpdatedAt.Local().Format(time.DateTime))
		}
		return tw.Flush()
	})
}

func runProfilesCreate(c *cli, args []string) error {
	fs := c.flags(&command{args: "--name NAME --type TYPE [profile flags]", summary: "Create a profile. The adapter of TYPE checks it before it is saved. Example:\n" +
		"  rigd profiles create --name night --type xmrig --algo rx/0 --pool pool.example:3333 --user WALLET"})
	cf := addClientFlags(fs)
	name := fs.String("name", "", "profile name")
	typ := fs.String("type", "", "miner type")
	pf := addProfileFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 0, "only flags"); err != nil {
		return err
	}
	if *name == "" || *typ == "" {
		return usagef("--name and --type are required")
	}
	p, err := pf.profile()
	if err != nil {
		return err
	}
	wd, err := pf.watchdogConfig()
	if err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	sp, err := k.CreateProfile(ctx, miner.ProfileInput{Name: *name, Type: *typ, Profile: p, Watchdog: wd})
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, sp, func() error {
		fmt.Fprintf(c.stdout, "created profile %s (%s)\n", sp.ID, sp.Name)
		return nil
	})
}

func runProfilesShow(c *cli, args []string) error {
	fs := c.flags(&command{args: "ID", summary: "Show a profile (always JSON: it is the profile's own format)."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "ID"); err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	sp, err := k.Profile(ctx, args[0])
	if err != nil {
		return k.explain(err)
	}
	return writeJSON(c.stdout, sp)
}

func runProfilesDelete(c *cli, args []string) error {
	fs := c.flags(&command{args: "ID", summary: "Delete a profile (running miners started from it keep running)."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "ID"); err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	if err := k.DeleteProfile(ctx, args[0]); err != nil {
		return k.explain(err)
	}
	return k.out(c, router.Deleted{Deleted: args[0]}, func() error {
		fmt.Fprintf(c.stdout, "deleted profile %s\n", args[0])
		return nil
	})
}

func runProfilesStart(c *cli, args []string) error {
	fs := c.flags(&command{args: "ID", summary: "Start a miner from a stored profile."})
	cf := addClientFlags(fs)
	name := fs.String("name", "", "instance name (default TYPE-ALGO)")
	binary := fs.String("binary", "", "explicit path of the miner binary on the agent's machine")
	noAuto := fs.Bool("no-autostart", false, "do not start this miner again when the agent restarts")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "ID"); err != nil {
		return err
	}
	req := router.ProfileStartRequest{Name: *name}
	if req.Binary, err = absPath(*binary); err != nil {
		return err
	}
	if *noAuto {
		req.Autostart = new(bool)
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	m, err := k.StartProfile(ctx, args[0], req)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, m, func() error {
		fmt.Fprintf(c.stdout, "started %s (%s, pid %d) from profile %s\n", m.Name, m.Type, m.PID, args[0])
		return nil
	})
}

func historyCommand() *command {
	return &command{name: "history", args: "[NAME]", summary: "hashrate history: every miner's summary, or one miner's sparkline and min/avg/max", run: runHistory}
}

func runHistory(c *cli, args []string) error {
	fs := c.flags(&command{args: "[NAME]", summary: "Without NAME: a summary of every miner's stored history. With NAME: its hashrate over a range\nas a sparkline with min/avg/max. Ranges are RFC 3339 times or durations back from now (24h, 7d)."})
	cf := addClientFlags(fs)
	since := fs.String("since", "24h", "start of the range")
	until := fs.String("until", "", "end of the range (default now)")
	step := fs.String("step", "", "spacing of points, e.g. 1m or 1h (default: chosen for about 120 points)")
	device := fs.String("device", "", "a device of the miner, e.g. nvidia0")
	width := fs.Int("width", 72, "sparkline width")
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
	if len(args) == 0 {
		list, err := k.HistoryMiners(ctx)
		if err != nil {
			return k.explain(err)
		}
		return k.out(c, list, func() error {
			if len(list) == 0 {
				fmt.Fprintln(c.stdout, "no history yet")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MINER\tPOINTS\tMIN\tAVG\tMAX\tACCEPTED\tREJECTED\tFIRST SEEN\tLAST SEEN")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.Series, s.Count, fmtHS(s.MinHS), fmtHS(s.AvgHS), fmtHS(s.MaxHS),
					s.Accepted, s.Rejected, s.FirstSeen.Local().Format(time.DateTime), s.LastSeen.Local().Format(time.DateTime))
			}
			return tw.Flush()
		})
	}
	q := router.HistoryQuery{Since: *since, Until: *until, Step: *step, Device: *device}
	if q.Step == "" {
		q.Step = autoStep(*since, *until)
	}
	hr, err := k.HistoryHashrate(ctx, args[0], q)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, hr, func() error {
		if len(hr.Points) == 0 {
			fmt.Fprintf(c.stdout, "%s: no points from %s to %s\n", hr.Series, hr.Since.Local().Format(time.DateTime), hr.Until.Local().Format(time.DateTime))
			return nil
		}
		vals := make([]float64, len(hr.Points))
		lo, hi, sum, n := math.Inf(1), math.Inf(-1), 0.0, int64(0)
		for i, p := range hr.Points {
			vals[i] = p.AvgHS
			lo, hi = math.Min(lo, p.MinHS), math.Max(hi, p.MaxHS)
			sum += p.AvgHS * float64(max(p.Count, 1))
			n += max(p.Count, 1)
		}
		fmt.Fprintf(c.stdout, "%s  %s .. %s  (%d points, %s)\n", hr.Series, hr.Since.Local().Format(time.DateTime), hr.Until.Local().Format(time.DateTime), len(hr.Points), hr.Source)
		fmt.Fprintf(c.stdout, "%s\n", sparkline(vals, *width))
		fmt.Fprintf(c.stdout, "min %s  avg %s  max %s\n", fmtHS(lo), fmtHS(sum/float64(n)), fmtHS(hi))
		return nil
	})
}

// autoStep picks a step giving about 120 points over the range when it
// is a duration back from now; "" (raw) otherwise.
func autoStep(since, until string) string {
	d, err := time.ParseDuration(since)
	if err != nil {
		var days int
		if _, err := fmt.Sscanf(since, "%dd", &days); err != nil || days <= 0 {
			return ""
		}
		d = time.Duration(days) * 24 * time.Hour
	}
	if u, err := time.ParseDuration(until); err == nil && until != "" {
		d -= u
	}
	step := d / 120
	switch {
	case step <= time.Minute:
		return "1m"
	case step >= time.Hour:
		return fmt.Sprintf("%dh", int(step.Hours()))
	}
	return fmt.Sprintf("%dm", int(step.Minutes()))
}
