package agent

import (
	"flag"
	"os"
	"path/filepath"
)

// defaultDataDir is $RIGD_DATA_DIR, else $XDG_DATA_HOME/rigd, else
// ~/.local/share/rigd (the systemd unit uses /var/lib/rigd).
func defaultDataDir() string {
	if d := os.Getenv("RIGD_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "rigd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "rigd")
	}
	return "rigd-data"
}

// dataDirFlag registers --data-dir.
func dataDirFlag(fs *flag.FlagSet) *string {
	return fs.String("data-dir", defaultDataDir(), "data directory (env RIGD_DATA_DIR)")
}

// layout names the files and directories inside the data dir.
type layout struct{ root string }

func (l layout) db() string        { return filepath.Join(l.root, "db") }
func (l layout) wasmCache() string { return filepath.Join(l.root, "wasm-cache") }
func (l layout) adapters() string  { return filepath.Join(l.root, "adapters") }
func (l layout) miners() string    { return filepath.Join(l.root, "miners") }
func (l layout) run() string       { return filepath.Join(l.root, "run") }
func (l layout) apiToken() string  { return filepath.Join(l.root, "api.token") }
func (l layout) nodeKey() string   { return filepath.Join(l.root, "node.key") }
func (l layout) agentAddr() string { return filepath.Join(l.root, "agent.addr") }
