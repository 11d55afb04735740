package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Version is the agent's version, set at build time with
// -ldflags "-X github.com/rigd/rigd/agent.Version=v1.2.3".
var Version = "dev"

// command is one CLI command or command group.
type command struct {
	name    string
	args    string // synopsis of the arguments, for help
	summary string
	run     func(c *cli, args []string) error
	subs    []*command
}

// cli is the state of one invocation.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	path           string // "rigd adapters list", for help and errors
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// Main runs rigd with args (without the program name) and returns the exit
// status: 0 ok, 1 error, 2 usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr, path: "rigd"}
	err := c.dispatch(root(), args)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", c.path, oneLine(err.Error()), c.path)
		return 2
	default:
		fmt.Fprintf(stderr, "rigd: %s\n", oneLine(err.Error()))
		return 1
	}
}

// oneLine keeps CLI errors on one readable line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func (c *cli) dispatch(cmd *command, args []string) error {
	if len(cmd.subs) == 0 {
		return cmd.run(c, args)
	}
	if len(args) > 1 && args[0] == "help" { // rigd help status = rigd status --help
		return c.dispatch(cmd, append(slices.Clone(args[1:]), "--help"))
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.printGroupHelp(cmd, c.stdout)
		if len(args) == 0 && cmd.run == nil {
			return usagef("missing command")
		}
		if len(args) == 0 {
			return cmd.run(c, args)
		}
		return nil
	}
	for _, s := range cmd.subs {
		if s.name == args[0] {
			c.path += " " + s.name
			return c.dispatch(s, args[1:])
		}
	}
	return usagef("unknown command %q", args[0])
}

func (c *cli) printGroupHelp(cmd *command, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags] [args]\n\n", c.path)
	if cmd.summary != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.summary)
	}
	fmt.Fprintln(w, "Commands:")
	subs := append([]*command(nil), cmd.subs...)
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	for _, s := range subs {
		fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", c.path)
}

// flags returns a FlagSet for the current command whose --help prints the
// synopsis, the summary and the flags to stdout.
func (c *cli) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := c.stdout
		fmt.Fprintf(w, "Usage: %s [flags] %s\n\n%s\n", c.path, cmd.args, cmd.summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// parse parses flags that may appear before or after positional arguments
// and returns the positional arguments. The usage text goes to stdout for
// --help only: after a bad flag, stdout (maybe piped into jq) stays clean
// and the one-line error goes to stderr.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNoArgs is parse for a command that takes no positional arguments.
func (c *cli) parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := c.parse(fs, args)
	if err == nil {
		err = exactArgs(pos, 0, "")
	}
	return err
}

// exactArgs checks the number of positional arguments.
func exactArgs(args []string, n int, what string) error {
	switch {
	case len(args) == n:
		return nil
	case n == 0:
		return usagef("takes no arguments, got %q", args[0])
	}
	return usagef("want %s, got %d argument(s)", what, len(args))
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
