package abi

// Metadata describes an adapter and the miner it drives. It is the output of
// adapter_metadata and must not depend on any input.
type Metadata struct {
	// Name is the miner type users type ("xmrig"): 1-32 characters of
	// [a-z0-9_-], starting with a letter. It is unique within a catalog.
	Name string `json:"name"`
	// DisplayName is the human name ("XMRig").
	DisplayName string `json:"display_name"`
	// Version is the adapter's own semantic version ("1.0.0"), not the
	// miner's.
	Version string `json:"version"`
	// ABIMinor is the ABI minor version the adapter was written against.
	ABIMinor int `json:"abi_minor"`
	// Homepage is the miner's project page.
	Homepage string `json:"homepage"`
	// License is the miner's licence as an SPDX identifier, or "proprietary".
	License string `json:"license"`
	// Algorithms the miner supports, with the device kinds that run them.
	Algorithms []Algorithm `json:"algorithms"`
	// Release says where releases are published and how to verify them.
	Release Release `json:"release"`
	// VersionProbe says how to ask a binary for its version.
	VersionProbe VersionProbe `json:"version_probe"`
	// API describes the miner's own stats API.
	API APISpec `json:"api"`
	// StdinCommands are the single-key commands the miner reads on stdin.
	// The names "pause" and "resume" are what the watchdog's soft action
	// looks for.
	StdinCommands []StdinCommand `json:"stdin_commands"`
	// Options documents the keys of Profile.Options this adapter accepts;
	// any other key is an adapter error naming it.
	Options []Option `json:"options"`
	// Capabilities are free-form feature flags ("config_file",
	// "pause_resume", "devices", ...).
	Capabilities []string `json:"capabilities"`
}

// Algorithm is one algorithm the miner can mine.
type Algorithm struct {
	// Name as the miner spells it ("rx/0", "kawpow").
	Name string `json:"name"`
	// Devices are the device kinds that can run it: "cpu", "nvidia", "amd".
	Devices []string `json:"devices"`
	// Coins commonly mined with it (informational).
	Coins []string `json:"coins,omitempty"`
	// ShareFactor is the expected number of hashes per share at difficulty
	// 1: 1 for CryptoNote-style targets (XMRig reports difficulty in
	// hashes), 2^32 for Bitcoin-style difficulty. 0 means unknown and
	// disables share-rate checks.
	ShareFactor float64 `json:"share_factor,omitempty"`
	// DAG is true for algorithms that build a large dataset before hashing
	// (ethash, kawpow), which needs a longer start-up grace period.
	DAG bool `json:"dag,omitempty"`
}

// Release says where the miner's releases live.
type Release struct {
	// GitHub is "owner/repo".
	GitHub string `json:"github"`
	// TagPrefix is prepended to a version to form the release tag ("v").
	TagPrefix string `json:"tag_prefix"`
	// Assets lists the downloadable archives per platform.
	Assets []Asset `json:"assets"`
	// Checksum says how release files are verified.
	Checksum Checksum `json:"checksum"`
}

// Asset is one downloadable file of a release. Name and Binary are templates
// in which "{version}" is replaced by the version without tag prefix.
type Asset struct {
	OS   string `json:"os"`   // GOOS: linux, darwin, windows
	Arch string `json:"arch"` // GOARCH: amd64, arm64
	// Name is the file name of the asset in the release.
	Name string `json:"name"`
	// Archive is "tar.gz", "zip" or "binary" (the asset is the executable).
	Archive string `json:"archive"`
	// Binary is the executable's path inside the archive.
	Binary string `json:"binary"`
	// MinVersion (inclusive) and BeforeVersion (exclusive) bound the
	// versions this naming applies to; empty means unbounded.
	MinVersion    string `json:"min_version,omitempty"`
	BeforeVersion string `json:"before_version,omitempty"`
}

// Checksum formats.
const (
	// ChecksumSHA256Sums is a file of "<hex> *<name>" or "<hex>  <name>"
	// lines, as written by sha256sum.
	ChecksumSHA256Sums = "sha256sum"
	// ChecksumNone means the project publishes no checksums: the digest seen
	// on first install is pinned (trust on first use).
	ChecksumNone = "none"
)

// Checksum names the release's checksum file and its format.
type Checksum struct {
	// File is the checksum file's asset name ("SHA256SUMS"); empty with
	// format "none".
	File string `json:"file,omitempty"`
	// Format is ChecksumSHA256Sums or ChecksumNone.
	Format string `json:"format"`
}

// VersionProbe tells the host how to ask a miner binary for its version.
type VersionProbe struct {
	// Args to run the binary with ("--version").
	Args []string `json:"args"`
	// Regex (RE2) applied to the combined output; its first submatch is the
	// version ("XMRig 6.16.0" -> "6.16.0").
	Regex string `json:"regex"`
}

// API kinds.
const (
	APIHTTPJSON   = "http-json"   // HTTP GET returning JSON
	APITCPJSONRPC = "tcp-jsonrpc" // one request line over raw TCP, one JSON reply
)

// APISpec describes the miner's own stats API in general terms; the
// concrete endpoints for one instance come from build_command.
type APISpec struct {
	// Kind is APIHTTPJSON, APITCPJSONRPC, or empty when the miner has no API.
	Kind string `json:"kind"`
	// Endpoints are the names of the endpoints polled ("/2/summary").
	Endpoints []string `json:"endpoints,omitempty"`
	// PollIntervalS is the suggested poll interval in seconds (0: host
	// default).
	PollIntervalS int `json:"poll_interval_s,omitempty"`
}

// StdinCommand is a command the miner reads from its standard input.
type StdinCommand struct {
	// Name is what users and the watchdog ask for ("hashrate", "pause").
	Name string `json:"name"`
	// Input is what is written to stdin ("h").
	Input string `json:"input"`
	// Description is one line of help.
	Description string `json:"description"`
}

// Option documents one adapter-specific profile option.
type Option struct {
	Name string `json:"name"`
	// Type is "bool", "int", "number", "string" or "enum".
	Type string `json:"type"`
	// Values lists the allowed values of an "enum".
	Values []string `json:"values,omitempty"`
	// Default is the value used when the option is absent (JSON).
	Default RawMessage `json:"default,omitempty"`
	// Description is one line of help.
	Description string `json:"description"`
}

// Profile is the miner-neutral description of what to mine and where. It is
// the input users write; adapters translate it into a command line.
type Profile struct {
	// Algo is the algorithm ("rx/0"). Either Algo or Coin is usually set.
	Algo string `json:"algo"`
	// Coin is the coin ticker or name, for miners that select by coin.
	Coin string `json:"coin"`
	// Pools in failover order; at least one.
	Pools []Pool `json:"pools"`
	// Worker is the rig/worker name reported to the pool.
	Worker string `json:"worker"`
	// Threads is the CPU thread count; 0 lets the miner decide.
	Threads int `json:"threads"`
	// Devices are GPU device indexes; empty means all.
	Devices []int `json:"devices"`
	// Intensity is the GPU intensity; 0 lets the miner decide.
	Intensity float64 `json:"intensity"`
	// Options are adapter-specific settings documented in Metadata.Options.
	Options map[string]RawMessage `json:"options,omitempty"`
	// ExtraArgs are raw miner arguments; adapters accept only flags on
	// their own allow-list.
	ExtraArgs []string `json:"extra_args,omitempty"`
}

// Pool is one mining pool.
type Pool struct {
	// URL is "stratum+tcp://host:port" (or stratum+ssl, or host:port).
	URL  string `json:"url"`
	User string `json:"user"`
	Pass string `json:"pass"`
	// TLS asks for a TLS connection to the pool.
	TLS bool `json:"tls"`
}

// Instance holds the facts the host chose for one running miner.
type Instance struct {
	// Name is the miner instance name ("xmrig-rx-0").
	Name string `json:"name"`
	// APIPort is a free loopback port for the miner's API.
	APIPort int `json:"api_port"`
	// APIToken is a random secret the miner's API must require.
	APIToken string `json:"api_token"`
	// OS and Arch are the host's GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// MinerVersion is the installed miner's version, "" if unknown.
	MinerVersion string `json:"miner_version"`
	// Devices the host knows about (may be empty).
	Devices []Device `json:"devices,omitempty"`
}

// BuildRequest is the input of adapter_build_command.
type BuildRequest struct {
	Profile  Profile  `json:"profile"`
	Instance Instance `json:"instance"`
}

// Command is how to run the miner: the output of adapter_build_command.
type Command struct {
	// Args is argv without the binary. The host never uses a shell.
	Args []string `json:"args"`
	// Env holds extra environment variables; the host accepts only names
	// for which EnvAllowed is true.
	Env map[string]string `json:"env,omitempty"`
	// Files are written by the host into the instance's private directory
	// (the miner's working directory) before it starts.
	Files []File `json:"files,omitempty"`
	// API lists the endpoints the host polls; each must be on 127.0.0.1 at
	// Instance.APIPort.
	API []Endpoint `json:"api,omitempty"`
}

// File is a file the miner needs, such as a config file.
type File struct {
	// Path is relative to the instance directory, with no ".." element.
	Path    string `json:"path"`
	Content string `json:"content"`
	// Mode is the permission bits (0600 if zero).
	Mode uint32 `json:"mode,omitempty"`
}

// Endpoint is one concrete API endpoint of a running miner.
type Endpoint struct {
	// Name is echoed back in APIResponse so the adapter knows what it reads.
	Name string `json:"name"`
	// Kind is APIHTTPJSON or APITCPJSONRPC.
	Kind string `json:"kind"`
	// URL is the http-json URL ("http://127.0.0.1:PORT/2/summary").
	URL string `json:"url,omitempty"`
	// Headers are sent with an http-json request.
	Headers map[string]string `json:"headers,omitempty"`
	// Address is the tcp-jsonrpc address ("127.0.0.1:PORT").
	Address string `json:"address,omitempty"`
	// Request is the tcp-jsonrpc request line (without the newline).
	Request string `json:"request,omitempty"`
}

// APIRequest is the input of adapter_parse_api: the bodies of one poll.
type APIRequest struct {
	Responses []APIResponse `json:"responses"`
}

// APIResponse is the reply of one endpoint.
type APIResponse struct {
	Name string `json:"name"`
	// Status is the HTTP status (0 for tcp-jsonrpc).
	Status int `json:"status"`
	// Body is the raw reply.
	Body string `json:"body"`
}

// Event types reported by parse_line.
const (
	EventShareAccepted = "share_accepted"
	EventShareRejected = "share_rejected"
	EventNewJob        = "new_job"
	EventPoolConnected = "pool_connected"
	EventPoolError     = "pool_error"
	EventHashrate      = "hashrate"
	EventPaused        = "paused"
	EventResumed       = "resumed"
	EventDeviceStats   = "device_stats"
	EventReady         = "ready"
	EventError         = "error"
	// EventFatal means the miner cannot continue and restarting it will not
	// help (an expired beta, a licence error): the supervisor stops
	// restarting it.
	EventFatal = "fatal"
)

// Event is something the miner printed that the host should know about.
// Only the fields that apply to the type are set.
type Event struct {
	Type string `json:"type"`
	// Time is the timestamp as the miner printed it, verbatim.
	Time string `json:"time,omitempty"`
	// Message is a human-readable summary (the line for error and fatal).
	Message string `json:"message,omitempty"`
	// Accepted and Rejected are the cumulative share counts after a share
	// event, when the miner prints them.
	Accepted *int64 `json:"accepted,omitempty"`
	Rejected *int64 `json:"rejected,omitempty"`
	// Reason is why a share was rejected or a pool connection failed.
	Reason string `json:"reason,omitempty"`
	// Difficulty of the share or job.
	Difficulty *float64 `json:"difficulty,omitempty"`
	// LatencyMS is the share submit round trip.
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	// Pool is "host:port" of the pool concerned.
	Pool string `json:"pool,omitempty"`
	// Algo of a new job.
	Algo string `json:"algo,omitempty"`
	// Height of a new job's block.
	Height *int64 `json:"height,omitempty"`
	// Donate marks events of the miner's developer-fee (donation) window.
	Donate bool `json:"donate,omitempty"`
	// HashrateHS is the current total hashrate of a hashrate event.
	HashrateHS *float64 `json:"hashrate_hs,omitempty"`
	// Device carries the values of a device_stats event.
	Device *Device `json:"device,omitempty"`
}

// LineResult is the output of adapter_parse_line.
type LineResult struct {
	Events []Event `json:"events"`
	// Stats holds the values the lines changed; nil fields are unchanged.
	Stats *Stats `json:"stats,omitempty"`
}

// Stats is the one flat shape of a miner's statistics, used by adapters,
// the REST API, events and replay. A nil pointer means unknown (JSON null),
// never zero. Rates are H/s.
type Stats struct {
	HashrateHS    *float64 `json:"hashrate_hs"`     // short window (≈10 s)
	Hashrate60sHS *float64 `json:"hashrate_60s_hs"` // 60 s average
	Hashrate15mHS *float64 `json:"hashrate_15m_hs"` // 15 min average
	HashrateMaxHS *float64 `json:"hashrate_max_hs"` // highest seen
	// EffectiveHashrateHS is derived by the host from accepted shares ×
	// difficulty over EffectiveWindowS seconds.
	EffectiveHashrateHS *float64 `json:"effective_hashrate_hs"`
	EffectiveWindowS    *float64 `json:"effective_window_s"`
	Accepted            *int64   `json:"accepted"`
	Rejected            *int64   `json:"rejected"`
	Stale               *int64   `json:"stale"`
	LastRejectReason    string   `json:"last_reject_reason"`
	// Pool is "host:port" of the pool in use.
	Pool          string   `json:"pool"`
	PoolConnected *bool    `json:"pool_connected"`
	PoolPingMS    *float64 `json:"pool_ping_ms"`
	Difficulty    *float64 `json:"difficulty"`
	UptimeS       *float64 `json:"uptime_s"`
	Algorithm     string   `json:"algorithm"`
	Version       string   `json:"version"`
	Paused        *bool    `json:"paused"`
	Devices       []Device `json:"devices"`
	// HashrateReading marks Stats that carry a reading of the miner's
	// hashrate (a speed line, an API poll): merged, its HashrateHS,
	// Hashrate60sHS and Hashrate15mHS and its devices' HashrateHS replace
	// the ones known, null included, so that a window the miner shows as
	// "n/a" (no hashes: paused threads, no pool) becomes unknown instead of
	// keeping the last figure. Without it a null keeps the known value.
	// Merged Stats never carry it.
	HashrateReading bool `json:"hashrate_reading,omitempty"`
}

// Device is one mining device (a CPU backend or a GPU).
type Device struct {
	// ID is the miner's device index; together with Kind it identifies the
	// device. Devices are never merged across IDs.
	ID         int      `json:"id"`
	BusID      string   `json:"bus_id"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"` // cpu, nvidia, amd
	HashrateHS *float64 `json:"hashrate_hs"`
	TempC      *float64 `json:"temp_c"`
	FanPct     *float64 `json:"fan_pct"`
	PowerW     *float64 `json:"power_w"`
	Accepted   *int64   `json:"accepted"`
	Rejected   *int64   `json:"rejected"`
	Stale      *int64   `json:"stale"`
	// Optional GPU details.
	CoreClockMHz *float64 `json:"core_clock_mhz,omitempty"`
	MemClockMHz  *float64 `json:"mem_clock_mhz,omitempty"`
	VRAMFreeMiB  *float64 `json:"vram_free_mib,omitempty"`
}

// Error codes adapters use in Error.Code.
const (
	CodeInvalidProfile = "invalid_profile" // the profile cannot be mined as written
	CodeUnknownOption  = "unknown_option"  // Profile.Options has a key the adapter does not know
	CodeForbidden      = "forbidden"       // the profile asks for something never allowed (a loader path, an unlisted flag)
	CodeBadInput       = "bad_input"       // the call's input could not be decoded
	CodeUnsupported    = "unsupported"     // not available for this OS, arch or version
	CodeInternal       = "internal"        // a bug in the adapter
)

// Error is the output of a call that returns StatusError.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Retryable says whether the same call may succeed later.
	Retryable bool `json:"retryable"`
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}
