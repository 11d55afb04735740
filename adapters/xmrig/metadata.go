package xmrig

import (
	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// Version is this adapter's own semantic version.
const Version = "1.0.0"

// Adapter is the XMRig adapter. Its zero value is not usable; call New. It
// keeps per-session parse state and is not safe for concurrent use (the host
// calls one instance from one goroutine at a time).
type Adapter struct {
	lines lineState
	// events is the Events slice ParseLines returns, reused (see there);
	// ints and floats back its numbers, reused the same way.
	events []abi.Event
	ints   []int64
	floats []float64
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
	a.lines = lineState{}
	a.events, a.ints, a.floats = a.events[:0], a.ints[:0], a.floats[:0]
}

// ShareFactor values: XMRig reports difficulty in hashes for CryptoNote
// style targets; KawPow uses Bitcoin-style difficulty.
const (
	shareHashes  = 1
	shareBitcoin = 1 << 32
)

var (
	cpuOnly = []string{"cpu"}
	allKind = []string{"cpu", "nvidia", "amd"}
	gpuOnly = []string{"nvidia", "amd"}
)

// algorithms are the canonical names of XMRig 6.x (the "algorithms" list of
// a 6.16.0 /2/summary plus kawpow, which that build only lists with a GPU
// backend enabled).
var algorithms = []abi.Algorithm{
	{Name: "rx/0", Devices: allKind, Coins: []string{"XMR"}, ShareFactor: shareHashes},
	{Name: "rx/wow", Devices: allKind, Coins: []string{"WOW"}, ShareFactor: shareHashes},
	{Name: "rx/arq", Devices: allKind, Coins: []string{"ARQ"}, ShareFactor: shareHashes},
	{Name: "rx/graft", Devices: allKind, Coins: []string{"GRFT"}, ShareFactor: shareHashes},
	{Name: "rx/sfx", Devices: allKind, Coins: []string{"SFX"}, ShareFactor: shareHashes},
	{Name: "rx/keva", Devices: allKind, Coins: []string{"KVA"}, ShareFactor: shareHashes},
	{Name: "cn/0", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/1", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/2", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/r", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/fast", Devices: allKind, Coins: []string{"MSR"}, ShareFactor: shareHashes},
	{Name: "cn/half", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/xao", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/rto", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/rwz", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/zls", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/double", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn/ccx", Devices: allKind, Coins: []string{"CCX"}, ShareFactor: shareHashes},
	{Name: "cn/upx2", Devices: allKind, Coins: []string{"UPX"}, ShareFactor: shareHashes},
	{Name: "cn-lite/0", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn-lite/1", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn-heavy/0", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn-heavy/tube", Devices: allKind, Coins: []string{"TUBE"}, ShareFactor: shareHashes},
	{Name: "cn-heavy/xhv", Devices: allKind, Coins: []string{"XHV"}, ShareFactor: shareHashes},
	{Name: "cn-pico", Devices: allKind, ShareFactor: shareHashes},
	{Name: "cn-pico/tlo", Devices: allKind, Coins: []string{"TLO"}, ShareFactor: shareHashes},
	{Name: "argon2/chukwa", Devices: cpuOnly, ShareFactor: shareHashes},
	{Name: "argon2/chukwav2", Devices: cpuOnly, Coins: []string{"TRTL"}, ShareFactor: shareHashes},
	{Name: "argon2/ninja", Devices: cpuOnly, Coins: []string{"WRKZ"}, ShareFactor: shareHashes},
	{Name: "astrobwt", Devices: allKind, Coins: []string{"DERO"}, ShareFactor: shareHashes},
	{Name: "ghostrider", Devices: cpuOnly, Coins: []string{"RTM"}, ShareFactor: shareHashes},
	{Name: "kawpow", Devices: gpuOnly, Coins: []string{"RVN"}, ShareFactor: shareBitcoin, DAG: true},
}

// Option names (Profile.Options keys).
const (
	optRandomXMode    = "randomx_mode"
	optHugePages      = "huge_pages"
	optDonateLevel    = "donate_level"
	optCPUPriority    = "cpu_priority"
	optKeepalive      = "keepalive"
	optNicehash       = "nicehash"
	optPrintTime      = "print_time"
	optMaxThreadsHint = "max_threads_hint"
	optGPUBackend     = "gpu_backend"
	optCPU            = "cpu"
)

var options = []abi.Option{
	{Name: optRandomXMode, Type: "enum", Values: []string{"auto", "fast", "light"}, Default: raw(`"auto"`),
		Description: "RandomX mode: fast needs a 2 GiB dataset, light a 256 MiB cache at a fraction of the speed"},
	{Name: optHugePages, Type: "bool", Default: raw(`true`),
		Description: "use huge pages for RandomX and CryptoNight memory when the OS grants them"},
	{Name: optDonateLevel, Type: "int", Default: raw(`1`),
		Description: "XMRig developer donation in percent, 0-99 (official builds raise values below 1 to 1)"},
	{Name: optCPUPriority, Type: "int",
		Description: "process priority 0 (idle) to 5 (highest); absent leaves the OS default"},
	{Name: optKeepalive, Type: "bool", Default: raw(`false`),
		Description: "send stratum keepalived requests (needs pool support)"},
	{Name: optNicehash, Type: "bool", Default: raw(`false`),
		Description: "NiceHash nonce mode (needed for NiceHash and some proxies)"},
	{Name: optPrintTime, Type: "int", Default: raw(`10`),
		Description: "seconds between speed lines, 1-3600; the console hashrate updates this often"},
	{Name: optMaxThreadsHint, Type: "int",
		Description: "percentage (1-100) of CPU threads XMRig's autoconfig may use; only when threads is 0"},
	{Name: optGPUBackend, Type: "enum", Values: []string{"none", "cuda", "opencl"}, Default: raw(`"none"`),
		Description: "GPU backend for the profile's devices; requires an explicit devices list"},
	{Name: optCPU, Type: "bool", Default: raw(`true`),
		Description: "mine on the CPU backend (set false for GPU-only mining)"},
}

func raw(s string) abi.RawMessage { return abi.RawMessage(s) }

// Metadata describes XMRig and this adapter. It does not depend on input.
func (a *Adapter) Metadata() abi.Metadata {
	return abi.Metadata{
		Name:        "xmrig",
		DisplayName: "XMRig",
		Version:     Version,
		ABIMinor:    abi.Minor,
		Homepage:    "https://xmrig.com",
		License:     "GPL-3.0-only",
		Algorithms:  algorithms,
		Release: abi.Release{
			GitHub:    "xmrig/xmrig",
			TagPrefix: "v",
			Assets: []abi.Asset{
				{OS: "linux", Arch: "amd64", Name: "xmrig-{version}-linux-static-x64.tar.gz", Archive: "tar.gz", Binary: "xmrig-{version}/xmrig"},
				{OS: "darwin", Arch: "amd64", Name: "xmrig-{version}-macos-x64.tar.gz", Archive: "tar.gz", Binary: "xmrig-{version}/xmrig"},
				{OS: "darwin", Arch: "arm64", Name: "xmrig-{version}-macos-arm64.tar.gz", Archive: "tar.gz", Binary: "xmrig-{version}/xmrig"},
				{OS: "windows", Arch: "amd64", Name: "xmrig-{version}-msvc-win64.zip", Archive: "zip", Binary: "xmrig-{version}/xmrig.exe", BeforeVersion: "6.23.0"},
				{OS: "windows", Arch: "amd64", Name: "xmrig-{version}-windows-x64.zip", Archive: "zip", Binary: "xmrig-{version}/xmrig.exe", MinVersion: "6.23.0"},
			},
			Checksum: abi.Checksum{File: "SHA256SUMS", Format: abi.ChecksumSHA256Sums},
		},
		VersionProbe: abi.VersionProbe{
			Args: []string{"--version"},
			// "XMRig 6.16.0", "XMRig/6.16.0", forks such as "XMRig-MO 6.21.0-mo1".
			Regex: `XMRig(?:-[A-Za-z0-9]+)?[ /]v?([0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]+)?)`,
		},
		API: abi.APISpec{
			Kind:          abi.APIHTTPJSON,
			Endpoints:     []string{"/2/summary", "/2/backends"},
			PollIntervalS: 10,
		},
		StdinCommands: []abi.StdinCommand{
			{Name: "hashrate", Input: "h", Description: "print the hashrate per thread and in total"},
			{Name: "pause", Input: "p", Description: "pause mining (XMRig prints \"paused, press r to resume\")"},
			{Name: "resume", Input: "r", Description: "resume mining after a pause"},
			{Name: "results", Input: "s", Description: "print share results"},
			{Name: "connection", Input: "c", Description: "print the pool connection"},
			{Name: "health", Input: "e", Description: "print GPU health (temperature, power, clocks)"},
		},
		Options:      options,
		Capabilities: []string{"config_file", "pause_resume", "http_api", "devices", "tls", "failover_pools"},
	}
}
