package agent

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rigd/rigd/adapters"
	"github.com/rigd/rigd/router"
)

func miscCommands() []*command {
	return []*command{
		{name: "info", summary: "show the agent: version, host, installed miners, adapters, uptime, readiness", run: runInfo},
		{name: "audit", summary: "show the audit log: state-changing API and peer commands, newest first", run: runAudit},
		{name: "events", summary: "follow the agent's event stream (miner state changes, stats, shares, installs)", run: runEvents},
		{name: "systemd-unit", args: "[serve flags]", summary: "print a hardened systemd unit running `rigd serve` with the given flags", run: runSystemdUnit},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

func runInfo(c *cli, args []string) error {
	fs := c.flags(&command{summary: "Show what the running agent knows about itself and whether its storage, adapters and P2P are ready."})
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
	info, err := k.Info(ctx)
	if err != nil {
		return k.explain(err)
	}
	ready, err := k.Ready(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, struct {
		Info  router.SystemInfo `json:"info"`
		Ready router.Readiness  `json:"ready"`
	}{info, ready}, func() error {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "agent\trigd %s (%s, %s/%s) at %s\n", info.Version, info.GoVersion, info.OS, info.Arch, k.url)
		fmt.Fprintf(tw, "host\t%s: %s, %d threads, %.1f/%.1f GiB memory available\n", orDash(info.Hostname), orDash(info.CPU.Model), info.CPU.Threads,
			float64(info.Memory.AvailableBytes)/(1<<30), float64(info.Memory.TotalBytes)/(1<<30))
		fmt.Fprintf(tw, "data dir\t%s\n", info.DataDir)
		fmt.Fprintf(tw, "uptime\t%s (since %s)\n", fmtDuration(time.Duration(info.UptimeS*float64(time.Second))), info.StartedAt.Local().Format(time.DateTime))
		for _, a := range info.Adapters {
			fmt.Fprintf(tw, "adapter\t%s %s (%s) %s\n", a.Name, orDash(a.Version), a.Source, a.Status)
		}
		for _, m := range info.Miners {
			cur := ""
			if m.Current {
				cur = " (current)"
			}
			fmt.Fprintf(tw, "miner\t%s %s%s %s\n", m.Type, m.Version, cur, m.Binary)
		}
		if len(info.Miners) == 0 {
			fmt.Fprintf(tw, "miner\tnone installed (rigd install TYPE)\n")
		}
		fmt.Fprintf(tw, "ready\t%s\n", ready.Status)
		for _, ch := range ready.Checks {
			line := ch.Status
			if ch.Error != "" {
				line += ": " + ch.Error
			}
			fmt.Fprintf(tw, "  %s\t%s\n", ch.Name, line)
		}
		return tw.Flush()
	})
}

func runAudit(c *cli, args []string) error {
	fs := c.flags(&command{summary: "Show the newest entries of the audit log: who (api:ADDRESS, cli, peer:NODE) did what to\nwhich target, and the result."})
	cf := addClientFlags(fs)
	limit := fs.Int("limit", 20, "most entries to show (1-10000)")
	if err := c.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > 10000 {
		return usagef("--limit %d: must be between 1 and 10000", *limit)
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	list, err := k.Audit(ctx, *limit)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			_, err := fmt.Fprintln(c.stdout, "the audit log is empty")
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tWHO\tACTION\tTARGET\tRESULT")
		for _, e := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Who, e.Action, orDash(e.Target), e.Result)
		}
		return tw.Flush()
	})
}

func runEvents(c *cli, args []string) error {
	fs := c.flags(&command{summary: "Follow the event stream until interrupted: first the current state of each miner, then what\nhappens. --json prints one JSON object per line."})
	cf := addClientFlags(fs)
	var miners []string
	fs.Var(listFlag{&miners}, "miners", "only these miners (`a,b`)")
	if err := c.parseNoArgs(fs, args); err != nil {
		return err
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	err = k.Events(c.ctx, miners, func(e router.StreamEvent) error {
		if k.json {
			return writeJSONLine(c.stdout, e)
		}
		line := e.Time.Local().Format(time.TimeOnly) + " " + e.Type
		if e.Miner != "" {
			line += " " + e.Miner
		}
		if e.State != "" {
			line += " " + string(e.State)
		}
		if e.Stats != nil && e.Stats.HashrateHS != nil {
			line += " " + fmtHS(*e.Stats.HashrateHS)
		}
		if e.Adapter != nil && e.Adapter.Message != "" {
			line += ": " + e.Adapter.Message
		}
		if e.Progress != nil {
			line += fmt.Sprintf(" %s %s %d/%d bytes", e.Progress.Type, e.Progress.File, e.Progress.Bytes, e.Progress.Total)
		}
		if e.Cause != "" {
			line += " (" + e.Cause + ")"
		}
		_, err := fmt.Fprintln(c.stdout, line)
		return err
	})
	return k.explain(err)
}

func runVersion(c *cli, args []string) error {
	fs := c.flags(&command{summary: "Print rigd's version, Go version and platform."})
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, map[string]string{"version": Version, "go_version": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
	}
	fmt.Fprintf(c.stdout, "rigd %s %s %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// Adapters over the API (list, validate and replay stay local).

func adaptersRemoteCommands() []*command {
	return []*command{
		{name: "add", args: "FILE.wasm", summary: "upload an adapter to the running agent (validated and self-tested first)", run: runAdaptersAdd},
		{name: "remove", args: "NAME", summary: "remove a drop-in adapter from the running agent", run: runAdaptersRemove},
		{name: "rollback", args: "NAME", summary: "make the previous generation of an adapter current again in the running agent", run: runAdaptersRollback},
	}
}

func runAdaptersRollback(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME", summary: "Make the previous generation of an adapter current again in the running agent. The earlier\n" +
		"module is written back to the adapters directory (or the drop-in removed when the built-in\n" +
		"served before it), so the rollback survives a restart; running miners move on their next call."})
	cf := addClientFlags(fs)
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
	info, err := k.RollbackAdapter(ctx, args[0])
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, info, func() error {
		fmt.Fprintf(c.stdout, "%s is back at generation %d: %s %s (%s, sha256 %s)\n", info.Name, info.Generation, info.Version, info.Source, info.Status, info.Digest)
		return nil
	})
}

func runAdaptersAdd(c *cli, args []string) error {
	fs := c.flags(&command{args: "FILE.wasm", summary: "Upload an adapter module to the running agent: it is validated and self-tested, then written\ninto the agent's adapters directory and used for new sessions (running miners move to it).\nFILE.tests.json beside it, if any, goes with it: its fixtures must pass first."})
	cf := addClientFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "FILE.wasm"); err != nil {
		return err
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, router.DefaultMaxAdapterBytes+1))
	if err != nil {
		return err
	}
	if len(b) > router.DefaultMaxAdapterBytes {
		return fmt.Errorf("%s: over %d MiB", args[0], router.DefaultMaxAdapterBytes>>20)
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	fixtures, err := os.ReadFile(adapters.FixturesPath(args[0]))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	info, err := k.AddAdapter(ctx, filepath.Base(args[0]), b, fixtures)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, info, func() error {
		fmt.Fprintf(c.stdout, "added adapter %s %s (%s)\n", info.Name, orDash(info.Version), info.Source)
		return nil
	})
}

func runAdaptersRemove(c *cli, args []string) error {
	fs := c.flags(&command{args: "NAME", summary: "Remove a drop-in adapter from the running agent (a built-in of the same name takes over)."})
	cf := addClientFlags(fs)
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
	if err := k.RemoveAdapter(ctx, args[0]); err != nil {
		return k.explain(err)
	}
	return k.out(c, router.Deleted{Deleted: args[0]}, func() error {
		fmt.Fprintf(c.stdout, "removed adapter %s\n", args[0])
		return nil
	})
}

// systemd.

const unitTemplate = `# rigd — mining rig agent. Install:
#   useradd --system --home-dir %[3]s --shell /usr/sbin/nologin %[1]s
#   rigd systemd-unit [serve flags] > /etc/systemd/system/rigd.service
#   systemctl daemon-reload && systemctl enable --now rigd
# The CLI then talks to it with: rigd status --data-dir %[3]s
[Unit]
Description=rigd mining rig agent
Documentation=https://github.com/rigd/rigd
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=%[1]s
Group=%[1]s
ExecStart=%[2]s
Environment=%[5]s
StateDirectory=rigd
StateDirectoryMode=0700
WorkingDirectory=%[6]s
UMask=0077
Restart=on-failure
RestartSec=5s
# SIGTERM to rigd first: it stops the miners (grace 10 s each, in parallel)
# and flushes its storage; whatever is left is killed afterwards.
KillMode=mixed
TimeoutStopSec=60s
LimitNOFILE=65536

# Hardening. Miners need no privileges: no capabilities, no new ones.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
# Not set on purpose: MemoryDenyWriteExecute (the adapters' wasm compiler and
# the miners' JIT need executable memory) and PrivateDevices (GPU miners
# need /dev/nvidia* and /dev/dri; add SupplementaryGroups=video render if
# your distribution restricts them).
%[4]s`

// systemdValue quotes a unit setting's value (or one word of a list):
// "%" starts a specifier everywhere, so it is doubled, and anything with
// blanks, quotes or backslashes is double-quoted with C escapes.
func systemdValue(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\t", `\t`).Replace(s) + `"`
}

// systemdQuote quotes one ExecStart argument, where "$" also expands.
func systemdQuote(s string) string { return systemdValue(strings.ReplaceAll(s, "$", "$$")) }

// shellQuote quotes a word for the shell commands in the unit's comments.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func runSystemdUnit(c *cli, args []string) error {
	// Flags after "--" or unknown to this command are serve flags; the
	// command's own flags come first.
	fs := c.flags(&command{args: "[--user U] [--exec PATH] [--] [serve flags]",
		summary: "Print a hardened systemd unit that runs `rigd serve` with the given serve flags as a dedicated\n" +
			"user, state in /var/lib/rigd (StateDirectory), restarted on failure. Example:\n" +
			"  rigd systemd-unit -- --listen 0.0.0.0:9090 --allow-host rig1.lan > /etc/systemd/system/rigd.service"})
	user := fs.String("user", "rigd", "the dedicated user (and group) the agent runs as")
	exe := fs.String("exec", "", "path of the rigd binary in the unit (default: this binary, or /usr/local/bin/rigd)")
	asJSON := fs.Bool("json", false, `print {"unit": ...} as JSON`)
	own, serveArgs := splitOwnFlags(args, map[string]bool{"user": true, "exec": true, "json": false, "h": false, "help": false})
	if _, err := c.parse(fs, own); err != nil {
		return err
	}
	// Check the serve flags as `rigd serve` would.
	sfs := flag.NewFlagSet("rigd serve", flag.ContinueOnError)
	sfs.SetOutput(io.Discard)
	cfg := serveFlags(sfs)
	if err := sfs.Parse(serveArgs); err != nil {
		return usagef("serve flags: %v", err)
	}
	if sfs.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", sfs.Arg(0))
	}
	if err := cfg.check(); err != nil {
		return err
	}
	for _, a := range serveArgs {
		if strings.ContainsAny(a, "\n\r\x00") {
			return usagef("a serve flag contains a newline or NUL")
		}
	}
	if *user == "" || strings.ContainsAny(*user, " \t\n/:%") {
		return usagef("--user %q is not a user name", *user)
	}
	path := *exe
	if path == "" {
		path = "/usr/local/bin/rigd"
		if p, err := os.Executable(); err == nil && !strings.Contains(p, "go-build") && !strings.HasPrefix(p, os.TempDir()) {
			if p, err = filepath.EvalSymlinks(p); err == nil {
				path = p
			}
		}
	}
	if !filepath.IsAbs(path) {
		return usagef("--exec %q must be an absolute path", path)
	}
	dataDir := systemDataDir
	given := map[string]bool{}
	sfs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	argv := []string{path, "serve"}
	if given["data-dir"] {
		dataDir = cfg.DataDir
		if !filepath.IsAbs(dataDir) {
			return usagef("--data-dir %q must be an absolute path in a unit", dataDir)
		}
	} else {
		argv = append(argv, "--data-dir", dataDir)
	}
	argv = append(argv, serveArgs...)
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = systemdQuote(a)
	}
	extra := "\n[Install]\nWantedBy=multi-user.target\n"
	if dataDir != systemDataDir {
		extra = "ReadWritePaths=" + systemdValue(dataDir) + "\n" + extra
	}
	// WorkingDirectory= takes the path as it is: no quotes, no "$".
	unit := fmt.Sprintf(unitTemplate, *user, strings.Join(quoted, " "), shellQuote(dataDir), extra,
		systemdValue("RIGD_DATA_DIR="+dataDir), strings.ReplaceAll(dataDir, "%", "%%"))
	if *asJSON {
		return writeJSON(c.stdout, map[string]string{"unit": unit})
	}
	_, err := io.WriteString(c.stdout, unit)
	return err
}

// splitOwnFlags separates a command's own flags (name → takes a value)
// from the rest, which are passed on; "--" ends the own flags.
func splitOwnFlags(args []string, own map[string]bool) (mine, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return mine, append(rest, args[i+1:]...)
		}
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		takes, ok := own[name]
		if !strings.HasPrefix(a, "-") || !ok {
			rest = append(rest, a)
			continue
		}
		mine = append(mine, a)
		if takes && !hasValue && i+1 < len(args) {
			i++
			mine = append(mine, args[i])
		}
	}
	return mine, rest
}
