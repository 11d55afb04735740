package agent

import (
	"fmt"
	"runtime"
)

// root is the command tree.
func root() *command {
	return &command{
		name:    "rigd",
		summary: "rigd supervises mining rigs: it runs miners, keeps their history and serves a REST API.",
		subs: []*command{
			serveCommand(),
			adaptersCommand(),
			{name: "version", summary: "print the version", run: runVersion},
		},
	}
}

func runVersion(c *cli, args []string) error {
	fs := c.flags(&command{summary: "Print rigd's version, Go version and platform."})
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "rigd %s %s %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
