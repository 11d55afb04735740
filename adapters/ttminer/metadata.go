package ttminer

import (
	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// Version is this adapter's own semantic version.
const Version = "1.0.0"

// Adapter is the TT-Miner adapter. Its zero value is not usable; call New. It
// keeps per-session parse state and is not safe for concurrent use (the host
// calls one instance from one goroutine at a time).
type Adapter struct {
	lines lineState
	// events is the Events slice ParseLines returns, reused (see there);
	// ints, floats and devs back what its events point to, reused the
	// same way.
	events []abi.Event
	ints   []int64
	floats []float64
	devs   []abi.Device
}

// New returns an adapter with empty session state.
func New() *Adapter { return &Adapter{} }

var (
	_ sdk.Adapter    = (*Adapter)(nil)
	_ sdk.LineParser = (*Adapter)(nil)
	_ sdk.APIParser  = (*Adapter)(nil)
	_ sdk.Resetter   = (*Adapter)(nil)
)

// Reset clears the per-session parse state; the host calls it whenever the
// miner process (re)starts.
func (a *Adapter) Reset() {
	a.lines.reset()
	a.events, a.ints, a.floats, a.devs = a.events[:0], a.ints[:0], a.floats[:0], a.devs[:0]
}

// shareFactor: TT-Miner prints every share difficulty as the number of
// hashes a share is expected to take ("268.4 MH" is 0.0625 x 2^32), and the
// adapter reports it divided by 2^32, so the same factor holds for every
// algorithm: expected hashes per share = difficulty x 2^32.
const shareFactor = 1 << 32

// Option names (Profile.Options keys).
const (
	optReportInterval = "report_interval"
)

// Defaults and limits.
const (
	defaultReportInterval = 10
	maxReportInterval     = 3600
)

var options = []abi.Option{
	{Name: optReportInterval, Type: "int", Default: abi.RawMessage(`10`),
		Description: "seconds between TT-Miner's per-GPU statistics lines (-rep-i), 1-3600; the console hashrate, temperatures and counters update this often"},
}

// metadataAlgorithms is the algorithm table in ABI form.
func metadataAlgorithms() []abi.Algorithm {
	out := make([]abi.Algorithm, len(algos))
	for i, a := range algos {
		out[i] = abi.Algorithm{Name: a.name, Devices: a.devices, Coins: a.coins, ShareFactor: shareFactor, DAG: a.dag}
	}
	return out
}

var metadataAlgos = metadataAlgorithms()

// layoutChange is the first release assumed to unpack into
// "TT-Miner-<version>/" instead of "TT-Miner/" (see README, "Release
// assets").
const layoutChange = "2024.1.0"

// Metadata describes TT-Miner and this adapter. It does not depend on input.
func (a *Adapter) Metadata() abi.Metadata {
	return abi.Metadata{
		Name:        "ttminer",
		DisplayName: "TT-Miner",
		Version:     Version,
		ABIMinor:    abi.Minor,
		Homepage:    "https://github.com/TrailingStop/TT-Miner-release",
		License:     "proprietary",
		Algorithms:  metadataAlgos,
		Release: abi.Release{
			GitHub: "TrailingStop/TT-Miner-release",
			// Tags are the bare version: releases/download/2024.3.2/TT-Miner-2024.3.2.tar.gz.
			TagPrefix: "",
			Assets: []abi.Asset{
				{OS: "linux", Arch: "amd64", Name: "TT-Miner-{version}.tar.gz", Archive: "tar.gz", Binary: "TT-Miner/TT-Miner", BeforeVersion: layoutChange},
				{OS: "linux", Arch: "amd64", Name: "TT-Miner-{version}.tar.gz", Archive: "tar.gz", Binary: "TT-Miner-{version}/TT-Miner", MinVersion: layoutChange},
				{OS: "windows", Arch: "amd64", Name: "TT-Miner-{version}.zip", Archive: "zip", Binary: "TT-Miner/TT-Miner.exe", BeforeVersion: layoutChange},
				{OS: "windows", Arch: "amd64", Name: "TT-Miner-{version}.zip", Archive: "zip", Binary: "TT-Miner-{version}/TT-Miner.exe", MinVersion: layoutChange},
			},
			// TT-Miner publishes no checksums: the digest seen on first
			// install is pinned and checked at every launch.
			Checksum: abi.Checksum{Format: abi.ChecksumNone},
		},
		VersionProbe: abi.VersionProbe{
			// "-v [ --version ]: Prints version information of TT-Miner and
			// exits"; the banner is "TT-Miner - Version: 2023.4.0 (Sep  7
			// 2023 13:13:32)", betas add " - Beta 5".
			Args:  []string{"-v"},
			Regex: `TT-Miner(?: -)? [Vv]ersion:? v?([0-9]+\.[0-9]+\.[0-9]+)`,
		},
		API: abi.APISpec{
			Kind:          abi.APITCPJSONRPC,
			Endpoints:     []string{"miner_getstat1"},
			PollIntervalS: 10,
		},
		Options:      options,
		Capabilities: []string{"devices", "intensity", "failover_pools", "tls", "tcp_api", "fatal_on_expiry"},
	}
}
