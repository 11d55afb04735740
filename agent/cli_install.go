package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/router"
)

func installCommands() []*command {
	return []*command{
		{name: "available", summary: "list miner types: adapter, installed and latest version", run: runAvailable},
		{name: "install", args: "TYPE", summary: "install a miner (latest, --version V, or --from a local archive); --check reports updates", run: runInstall},
		{name: "uninstall", args: "TYPE", summary: "stop a miner type's miners and remove its installed versions", run: runUninstall},
	}
}

func runAvailable(c *cli, args []string) error {
	fs := c.flags(&command{summary: "List the miner types the agent's adapters support, with the installed and the latest known version."})
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
	list, err := k.Available(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tNAME\tADAPTER\tINSTALLED\tLATEST")
		for _, m := range list {
			latest := orDash(m.LatestVersion)
			if m.LatestError != "" && m.LatestVersion == "" {
				latest = "? (" + m.LatestError + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\n", m.Name, orDash(m.DisplayName), orDash(m.AdapterVersion), m.AdapterStatus, orDash(m.InstalledVersion), latest)
		}
		return tw.Flush()
	})
}

// progressBar renders install progress on one terminal line.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last string
}

func (p *progressBar) show(pr router.InstallProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mib := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
	line := fmt.Sprintf("downloading %s  %s", pr.File, mib(pr.Bytes))
	if pr.Total > 0 {
		line += "/" + mib(pr.Total)
	}
	line += fmt.Sprintf(" MiB  %.1f MiB/s", pr.Rate/(1<<20))
	if pr.ETAS > 0 {
		line += "  ETA " + fmtDuration(time.Duration(pr.ETAS*float64(time.Second)))
	}
	if pr.Total > 0 {
		const width = 24
		n := int(float64(width) * float64(pr.Bytes) / float64(pr.Total))
		n = min(max(n, 0), width)
		line += "  [" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
	}
	pad := ""
	if len(p.last) > len(line) {
		pad = strings.Repeat(" ", len(p.last)-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.last = line
	if pr.Done {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

func (p *progressBar) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

func runInstall(c *cli, args []string) error {
	fs := c.flags(&command{args: "TYPE", summary: "Install a miner into the agent's data dir and make it the current version:\n" +
		"  rigd install xmrig                     the latest release, verified against its checksums\n" +
		"  rigd install xmrig --version 6.21.0    a given version (the previous one is kept for rollback)\n" +
		"  rigd install xmrig --from ./xmrig-6.16.0-linux-static-x64.tar.gz   offline: an archive, binary or directory\n" +
		"  rigd install xmrig --check             report whether a newer release exists, install nothing\n" +
		"  rigd install --check                   the same for every miner type\n" +
		"The agent installs when it runs; otherwise rigd installs into --data-dir itself."})
	cf := addClientFlags(fs)
	version := fs.String("version", "", "version to install (default the latest release)")
	from := fs.String("from", "", "install from a local archive, binary or directory")
	check := fs.Bool("check", false, "only report whether an update is available")
	timeout := fs.Duration("install-timeout", 15*time.Minute, "give up on the install after this long")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if !*check || len(args) > 0 { // --check alone checks every type
		if err := exactArgs(args, 1, "TYPE"); err != nil {
			return err
		}
	}
	var typ string
	if len(args) > 0 {
		typ = args[0]
	}
	if *check && (*version != "" || *from != "") {
		return usagef("--check installs nothing: it takes no --version or --from")
	}
	if *version != "" && *from != "" {
		return usagef("--from detects the version itself; drop --version")
	}
	if *from != "" {
		if *from, err = absPath(*from); err != nil {
			return err
		}
		if _, err := os.Stat(*from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, *timeout)
	defer cancel()

	if *check {
		ups, err := k.CheckUpdates(ctx, typ)
		if err != nil {
			return k.explain(err)
		}
		failed := 0
		for _, u := range ups {
			if u.Error != "" {
				failed++
			}
		}
		err = k.out(c, ups, func() error {
			for _, u := range ups {
				switch {
				case u.Error != "":
					fmt.Fprintf(c.stdout, "%s: cannot check: %s\n", u.Type, u.Error)
				case u.Available && u.Current == "":
					fmt.Fprintf(c.stdout, "%s: not installed; latest %s\n", u.Type, u.Latest.Version)
				case u.Available:
					fmt.Fprintf(c.stdout, "%s: %s installed, %s available (rigd install %s)\n", u.Type, u.Current, u.Latest.Version, u.Type)
				default:
					fmt.Fprintf(c.stdout, "%s: %s is the latest\n", u.Type, u.Current)
				}
			}
			return nil
		})
		if err == nil && failed > 0 {
			err = fmt.Errorf("could not check %d of %d miner types", failed, len(ups))
		}
		return err
	}

	bar := &progressBar{w: c.stderr}
	// Progress comes on the event stream while the install request runs.
	evctx, stopEvents := context.WithCancel(ctx)
	var evwg sync.WaitGroup
	if !k.json && *from == "" {
		evwg.Go(func() {
			k.Events(evctx, nil, func(e router.StreamEvent) error {
				if e.Type == router.EventInstallProgress && e.Progress != nil && e.Progress.Type == typ {
					bar.show(*e.Progress)
				}
				return nil
			})
		})
	}
	im, err := k.Install(ctx, typ, router.InstallRequest{Version: *version, From: *from})
	stopEvents()
	evwg.Wait()
	bar.end()
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("install %s: gave up after --install-timeout %s", typ, *timeout)
	}
	if err != nil {
		var ae *router.Error
		local := errors.As(err, &ae) && ae.Status == 501 || !errors.As(err, &ae) && unreachable(err) && ctx.Err() == nil
		if !local {
			return k.explain(err)
		}
		fmt.Fprintf(c.stderr, "rigd: the agent at %s cannot install (%s); installing into %s locally\n", k.url, oneLine(k.explain(err).Error()), cf.dataDir)
		if im, err = localInstall(ctx, c, cf.dataDir, typ, *version, *from, bar); err != nil {
			return err
		}
	}
	return k.out(c, im, func() error {
		switch {
		case im.Unchanged:
			fmt.Fprintf(c.stdout, "%s %s was already installed; it is the current version\n", im.Type, im.Version)
		default:
			fmt.Fprintf(c.stdout, "installed %s %s: %s (trust: %s)\n", im.Type, im.Version, im.Binary, im.Trust)
		}
		if im.Pinned {
			fmt.Fprintf(c.stdout, "the release publishes no checksums: its SHA-256 %s is pinned from now on; compare it with another source\n", im.ArchiveSHA256)
		}
		return nil
	})
}

// localInstall installs without an agent, into dataDir.
func localInstall(ctx context.Context, c *cli, dataDir, typ, version, from string, bar *progressBar) (router.InstalledMiner, error) {
	env, err := openAdapters(ctx, dataDir, "", nil)
	if err != nil {
		return router.InstalledMiner{}, err
	}
	defer env.close(ctx)
	meta, err := env.cat.Metadata(ctx, typ)
	if err != nil {
		return router.InstalledMiner{}, fmt.Errorf("%w (see rigd adapters list)", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return router.InstalledMiner{}, err
	}
	// The agent's mirror settings, from the environment (its flags are the
	// agent's own).
	in, err := install.New(install.Config{DataDir: dataDir,
		ReleaseBaseURL: getenv("RIGD_RELEASE_BASE_URL", ""), APIBaseURL: getenv("RIGD_RELEASE_API_URL", "")})
	if err != nil {
		return router.InstalledMiner{}, err
	}
	var inst install.Installed
	if from != "" {
		inst, err = in.InstallFrom(ctx, meta, from, nil)
	} else {
		inst, err = in.Install(ctx, meta, version, func(p install.Progress) {
			bar.show(router.InstallProgress{Type: typ, File: p.File, Bytes: p.Bytes, Total: p.Total, Rate: p.Rate, ETAS: p.ETA.Seconds(), Done: p.Done})
		})
		bar.end()
	}
	if err != nil {
		return router.InstalledMiner{}, err
	}
	return installedOf(inst), nil
}

// installedOf converts the installer's record to the API's.
func installedOf(i install.Installed) router.InstalledMiner {
	return router.InstalledMiner{
		Type: i.Type, Version: i.Version, Dir: i.Dir, Binary: i.Binary, BinarySHA256: i.BinarySHA256,
		Source: i.Source, Trust: string(i.Trust), InstalledAt: i.InstalledAt, Current: i.Current,
		Pinned: i.Pinned, ArchiveSHA256: i.ArchiveSHA256, Unchanged: i.Unchanged,
	}
}

func runUninstall(c *cli, args []string) error {
	fs := c.flags(&command{args: "TYPE", summary: "Stop the miners of TYPE, then remove its installed versions (or one --version).\nAsks for confirmation unless --yes."})
	cf := addClientFlags(fs)
	version := fs.String("version", "", "remove only this version")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "TYPE"); err != nil {
		return err
	}
	typ := args[0]
	if !*yes {
		what := typ
		if *version != "" {
			what += " " + *version
		}
		fmt.Fprintf(c.stderr, "Stop every %s miner and remove %s? [y/N] ", typ, what)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("not confirmed; nothing removed (pass --yes to skip the question)")
		}
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	res, err := k.Uninstall(ctx, typ, *version)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, res, func() error {
		for _, m := range res.Stopped {
			fmt.Fprintf(c.stdout, "stopped %s\n", m)
		}
		fmt.Fprintf(c.stdout, "uninstalled %s\n", strings.TrimSpace(typ+" "+*version))
		return nil
	})
}
