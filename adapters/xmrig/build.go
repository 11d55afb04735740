package xmrig

import (
	"strconv"
	"strings"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// ConfigFile is the name of the config file build_command asks the host to
// write into the instance directory (XMRig's working directory).
const ConfigFile = "config.json"

// Limits on profile sizes; far above any real rig, low enough that a hostile
// profile cannot make the config file huge.
const (
	maxPools    = 16
	maxThreads  = 1024 // XMRig caps a thread profile at 1024
	maxDevices  = 64
	maxFieldLen = 512
)

// xmrigConfig is the config.json XMRig reads. Field order is the output
// order; keys follow XMRig 6.x (older versions ignore keys they do not know).
// It is written by appendConfig, by hand; the json tags are the reference
// (TestAppendConfigMatchesEncoder).
type xmrigConfig struct {
	API            apiConfig     `json:"api"`
	HTTP           httpConfig    `json:"http"`
	Autosave       bool          `json:"autosave"`
	Background     bool          `json:"background"`
	Colors         bool          `json:"colors"`
	Title          bool          `json:"title"`
	RandomX        randomxConfig `json:"randomx"`
	CPU            cpuConfig     `json:"cpu"`
	OpenCL         gpuConfig     `json:"opencl"`
	CUDA           gpuConfig     `json:"cuda"`
	DonateLevel    int           `json:"donate-level"`
	LogFile        *string       `json:"log-file"`
	Pools          []poolConfig  `json:"pools"`
	PrintTime      int           `json:"print-time"`
	Syslog         bool          `json:"syslog"`
	Watch          bool          `json:"watch"`
	PauseOnBattery bool          `json:"pause-on-battery"`
	PauseOnActive  bool          `json:"pause-on-active"`
}

type apiConfig struct {
	ID       *string `json:"id"`
	WorkerID *string `json:"worker-id"`
}

type httpConfig struct {
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	AccessToken string `json:"access-token"`
	Restricted  bool   `json:"restricted"`
}

type randomxConfig struct {
	Mode string `json:"mode"`
}

type cpuConfig struct {
	Enabled        bool `json:"enabled"`
	HugePages      bool `json:"huge-pages"`
	Priority       *int `json:"priority"`
	MaxThreadsHint *int `json:"max-threads-hint,omitempty"`
	// Threads is the "*" profile: one entry per thread, -1 = no affinity.
	// A "*" profile replaces XMRig's per-algorithm autoconfig, so the count
	// holds for every algorithm (the same profile `-t N` creates).
	Threads []int `json:"*,omitempty"`
}

type gpuConfig struct {
	Enabled     bool    `json:"enabled"`
	Loader      *string `json:"loader"`
	DevicesHint string  `json:"devices-hint,omitempty"`
}

type poolConfig struct {
	Algo      *string `json:"algo"`
	Coin      *string `json:"coin"`
	URL       string  `json:"url"`
	User      string  `json:"user"`
	Pass      string  `json:"pass"`
	RigID     *string `json:"rig-id"`
	Nicehash  bool    `json:"nicehash"`
	Keepalive bool    `json:"keepalive"`
	Enabled   bool    `json:"enabled"`
	TLS       bool    `json:"tls"`
}

// settings are the validated profile options.
type settings struct {
	randomxMode    string
	hugePages      bool
	donateLevel    int
	cpuPriority    *int
	keepalive      bool
	nicehash       bool
	printTime      int
	maxThreadsHint *int
	gpuBackend     string
	cpu            bool
}

func invalid(format string, args ...any) error {
	return sdk.Errorf(abi.CodeInvalidProfile, format, args...)
}

// BuildCommand validates the profile and turns it into XMRig's config.json,
// argv and the API endpoints the host polls.
func (a *Adapter) BuildCommand(req abi.BuildRequest) (abi.Command, error) {
	p := &req.Profile
	inst := &req.Instance
	if err := checkInstance(inst); err != nil {
		return abi.Command{}, err
	}
	set, err := parseOptions(p.Options)
	if err != nil {
		return abi.Command{}, err
	}
	extra, err := checkExtraArgs(p.ExtraArgs)
	if err != nil {
		return abi.Command{}, err
	}

	cfg := xmrigConfig{
		HTTP: httpConfig{Enabled: true, Host: "127.0.0.1", Port: inst.APIPort,
			AccessToken: inst.APIToken, Restricted: true},
		RandomX:     randomxConfig{Mode: set.randomxMode},
		CPU:         cpuConfig{Enabled: set.cpu, HugePages: set.hugePages, Priority: set.cpuPriority},
		DonateLevel: set.donateLevel,
		PrintTime:   set.printTime,
	}
	if err := checkText("worker", p.Worker, 64); err != nil {
		return abi.Command{}, err
	}
	if p.Worker != "" {
		w := p.Worker
		cfg.API.WorkerID = &w
	}

	algo, err := checkAlgo(p, &set)
	if err != nil {
		return abi.Command{}, err
	}
	var coin *string
	if p.Coin != "" {
		if !validCoin(p.Coin) {
			return abi.Command{}, invalid("coin %q must be 1-32 characters of letters, digits, '-' and '_'", p.Coin)
		}
		c := strings.ToLower(p.Coin)
		coin = &c
	}

	// CPU threads.
	switch {
	case p.Threads < 0:
		return abi.Command{}, invalid("threads %d must be 0 (let XMRig decide) or a positive count", p.Threads)
	case p.Threads > maxThreads:
		return abi.Command{}, invalid("threads %d is more than XMRig's limit of %d", p.Threads, maxThreads)
	case p.Threads > 0 && !set.cpu:
		return abi.Command{}, invalid("threads is %d but option cpu is false", p.Threads)
	case p.Threads > 0 && set.maxThreadsHint != nil:
		return abi.Command{}, invalid("option %s applies only when threads is 0 (threads is %d)", optMaxThreadsHint, p.Threads)
	case p.Threads > 0:
		cfg.CPU.Threads = make([]int, p.Threads)
		for i := range cfg.CPU.Threads {
			cfg.CPU.Threads[i] = -1
		}
	default:
		cfg.CPU.MaxThreadsHint = set.maxThreadsHint
	}
	if p.Intensity != 0 {
		return abi.Command{}, invalid("intensity %v is not supported: XMRig sizes GPU work itself and CPU threads by algorithm; leave it 0", p.Intensity)
	}

	// GPU backends: only with an explicit device list and the option asking
	// for a backend.
	if err := gpuBackends(p, &set, &cfg); err != nil {
		return abi.Command{}, err
	}

	// Pools.
	if len(p.Pools) == 0 {
		return abi.Command{}, invalid("no pools: a profile needs at least one pool")
	}
	if len(p.Pools) > maxPools {
		return abi.Command{}, invalid("%d pools is more than %d", len(p.Pools), maxPools)
	}
	for i := range p.Pools {
		pc, err := buildPool(i, &p.Pools[i], &set)
		if err != nil {
			return abi.Command{}, err
		}
		pc.Algo, pc.Coin = algo, coin
		if p.Worker != "" {
			w := p.Worker
			pc.RigID = &w
		}
		cfg.Pools = append(cfg.Pools, pc)
	}

	content := marshalConfig(&cfg)
	args := make([]string, 0, 2+len(extra))
	args = append(args, "--config="+ConfigFile, "--no-color")
	args = append(args, extra...)
	base := "http://127.0.0.1:" + strconv.Itoa(inst.APIPort)
	headers := map[string]string{"Authorization": "Bearer " + inst.APIToken}
	cmd := abi.Command{
		Args:  args,
		Files: []abi.File{{Path: ConfigFile, Content: content, Mode: 0o600}},
		API: []abi.Endpoint{
			{Name: endpointSummary, Kind: abi.APIHTTPJSON, URL: base + "/2/summary", Headers: headers},
			{Name: endpointBackends, Kind: abi.APIHTTPJSON, URL: base + "/2/backends", Headers: headers},
		},
	}
	if err := abi.ValidateCommand(&cmd, inst); err != nil {
		return abi.Command{}, sdk.Errorf(abi.CodeInternal, "built an invalid command: %v", err)
	}
	return cmd, nil
}

// Endpoint names echoed back in APIResponse.Name.
const (
	endpointSummary  = "summary"
	endpointBackends = "backends"
)

// marshalConfig writes cfg as a json.Encoder with SetEscapeHTML(false) and
// SetIndent("", "    ") writes it: XMRig's own style, and byte for byte
// what earlier versions of this adapter wrote.
func marshalConfig(cfg *xmrigConfig) string {
	compact := appendConfig(make([]byte, 0, 1024), cfg)
	out := appendIndent(make([]byte, 0, 2*len(compact)), compact)
	return string(append(out, '\n'))
}

// appendConfig appends cfg as compact JSON (the json tags' keys, in order).
// Each field is one call that appends its key and value: less code in the
// guest than inline appends.
func appendConfig(b []byte, c *xmrigConfig) []byte {
	b = cfgStrPtr(b, `{"api":{"id":`, c.API.ID)
	b = cfgStrPtr(b, `,"worker-id":`, c.API.WorkerID)
	b = cfgBool(b, `},"http":{"enabled":`, c.HTTP.Enabled)
	b = cfgStr(b, `,"host":`, c.HTTP.Host)
	b = cfgInt(b, `,"port":`, c.HTTP.Port)
	b = cfgStr(b, `,"access-token":`, c.HTTP.AccessToken)
	b = cfgBool(b, `,"restricted":`, c.HTTP.Restricted)
	b = cfgBool(b, `},"autosave":`, c.Autosave)
	b = cfgBool(b, `,"background":`, c.Background)
	b = cfgBool(b, `,"colors":`, c.Colors)
	b = cfgBool(b, `,"title":`, c.Title)
	b = cfgStr(b, `,"randomx":{"mode":`, c.RandomX.Mode)
	b = cfgBool(b, `},"cpu":{"enabled":`, c.CPU.Enabled)
	b = cfgBool(b, `,"huge-pages":`, c.CPU.HugePages)
	b = cfgIntPtr(b, `,"priority":`, c.CPU.Priority)
	if c.CPU.MaxThreadsHint != nil {
		b = cfgIntPtr(b, `,"max-threads-hint":`, c.CPU.MaxThreadsHint)
	}
	for i, t := range c.CPU.Threads {
		b = cfgInt(b, pick(i == 0, `,"*":[`, `,`), t)
		if i == len(c.CPU.Threads)-1 {
			b = append(b, ']')
		}
	}
	b = cfgGPU(b, `},"opencl":`, &c.OpenCL)
	b = cfgGPU(b, `,"cuda":`, &c.CUDA)
	b = cfgInt(b, `,"donate-level":`, c.DonateLevel)
	b = cfgStrPtr(b, `,"log-file":`, c.LogFile)
	switch {
	case c.Pools == nil:
		b = append(b, `,"pools":null`...)
	case len(c.Pools) == 0:
		b = append(b, `,"pools":[]`...)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		b = cfgStrPtr(b, pick(i == 0, `,"pools":[{"algo":`, `,{"algo":`), p.Algo)
		b = cfgStrPtr(b, `,"coin":`, p.Coin)
		b = cfgStr(b, `,"url":`, p.URL)
		b = cfgStr(b, `,"user":`, p.User)
		b = cfgStr(b, `,"pass":`, p.Pass)
		b = cfgStrPtr(b, `,"rig-id":`, p.RigID)
		b = cfgBool(b, `,"nicehash":`, p.Nicehash)
		b = cfgBool(b, `,"keepalive":`, p.Keepalive)
		b = cfgBool(b, `,"enabled":`, p.Enabled)
		b = cfgBool(b, `,"tls":`, p.TLS)
		b = append(b, '}')
		if i == len(c.Pools)-1 {
			b = append(b, ']')
		}
	}
	b = cfgInt(b, `,"print-time":`, c.PrintTime)
	b = cfgBool(b, `,"syslog":`, c.Syslog)
	b = cfgBool(b, `,"watch":`, c.Watch)
	b = cfgBool(b, `,"pause-on-battery":`, c.PauseOnBattery)
	b = cfgBool(b, `,"pause-on-active":`, c.PauseOnActive)
	return append(b, '}')
}

func pick(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}

func cfgGPU(b []byte, key string, g *gpuConfig) []byte {
	b = cfgBool(b, key+`{"enabled":`, g.Enabled)
	b = cfgStrPtr(b, `,"loader":`, g.Loader)
	if g.DevicesHint != "" {
		b = cfgStr(b, `,"devices-hint":`, g.DevicesHint)
	}
	return append(b, '}')
}

// cfgStr appends key and s, escaped as the config's encoder did (no HTML
// escaping).
//
//go:noinline
func cfgStr(b []byte, key, s string) []byte { return abi.AppendString(append(b, key...), s, false) }

//go:noinline
func cfgStrPtr(b []byte, key string, s *string) []byte {
	if s == nil {
		return append(append(b, key...), "null"...)
	}
	return cfgStr(b, key, *s)
}

//go:noinline
func cfgBool(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

//go:noinline
func cfgInt(b []byte, key string, n int) []byte {
	return strconv.AppendInt(append(b, key...), int64(n), 10)
}

//go:noinline
func cfgIntPtr(b []byte, key string, n *int) []byte {
	if n == nil {
		return append(append(b, key...), "null"...)
	}
	return cfgInt(b, key, *n)
}

// appendIndent appends the compact, valid JSON src indented as json.Indent
// does with prefix "" and indent "    ": one member or element per line,
// ": " after keys, empty objects and arrays kept as {} and [].
func appendIndent(dst, src []byte) []byte {
	depth, needIndent, inString := 0, false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, src[i])
			case '"':
				inString = false
			}
			continue
		}
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			dst = appendNewline(dst, depth)
		}
		switch c {
		case '"':
			inString = true
			dst = append(dst, c)
		case '{', '[':
			needIndent = true // delayed, so that {} and [] stay empty
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = appendNewline(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				dst = appendNewline(dst, depth)
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendNewline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, "    "...)
	}
	return dst
}

func checkInstance(inst *abi.Instance) error {
	if inst.APIPort < 1 || inst.APIPort > 65535 {
		return sdk.Errorf(abi.CodeBadInput, "instance api_port %d is not a TCP port", inst.APIPort)
	}
	if inst.APIToken == "" || len(inst.APIToken) > 256 {
		return sdk.Errorf(abi.CodeBadInput, "instance api_token must be 1-256 characters")
	}
	for i := 0; i < len(inst.APIToken); i++ {
		if c := inst.APIToken[i]; c <= ' ' || c >= 0x7f {
			return sdk.Errorf(abi.CodeBadInput, "instance api_token must be printable ASCII without spaces")
		}
	}
	return nil
}

// checkAlgo validates Profile.Algo against the algorithms XMRig knows and
// the enabled backends, returning the value for the pool's "algo" key.
func checkAlgo(p *abi.Profile, set *settings) (*string, error) {
	if p.Algo == "" {
		// null: XMRig takes the algorithm from the coin or the pool's jobs.
		return nil, nil
	}
	canonical, devices, ok := lookupAlgo(p.Algo)
	if !ok {
		return nil, invalid("algo %q is not an algorithm XMRig knows (see the adapter's algorithms, e.g. rx/0, cn/r, kawpow)", p.Algo)
	}
	if devices != nil {
		cpuOK := contains(devices, "cpu")
		gpuOK := contains(devices, "nvidia") || contains(devices, "amd")
		switch {
		case set.gpuBackend == "none" && !cpuOK:
			return nil, invalid("algo %s runs only on GPUs: set option %s and list devices", canonical, optGPUBackend)
		case set.gpuBackend != "none" && !set.cpu && !gpuOK:
			return nil, invalid("algo %s runs only on the CPU but option cpu is false", canonical)
		}
	}
	return &canonical, nil
}

func gpuBackends(p *abi.Profile, set *settings, cfg *xmrigConfig) error {
	if len(p.Devices) > maxDevices {
		return invalid("%d devices is more than %d", len(p.Devices), maxDevices)
	}
	if set.gpuBackend == "none" {
		if len(p.Devices) > 0 {
			return invalid("devices %v are listed but option %s is not set (cuda or opencl)", p.Devices, optGPUBackend)
		}
		if !set.cpu {
			return invalid("option cpu is false and no GPU backend is set: nothing would mine")
		}
		return nil
	}
	if len(p.Devices) == 0 {
		return invalid("option %s=%s needs an explicit devices list (GPU indexes)", optGPUBackend, set.gpuBackend)
	}
	var hint []byte
	for i, d := range p.Devices {
		if d < 0 || d > 255 {
			return invalid("devices[%d] = %d is not a GPU index (0-255)", i, d)
		}
		for _, e := range p.Devices[:i] {
			if e == d {
				return invalid("device %d is listed twice", d)
			}
		}
		if i > 0 {
			hint = append(hint, ',')
		}
		hint = strconv.AppendInt(hint, int64(d), 10)
	}
	g := gpuConfig{Enabled: true, DevicesHint: string(hint)}
	if set.gpuBackend == "cuda" {
		cfg.CUDA = g
	} else {
		cfg.OpenCL = g
	}
	return nil
}

// buildPool validates one pool and returns its config entry.
func buildPool(i int, pool *abi.Pool, set *settings) (poolConfig, error) {
	raw := strings.TrimSpace(pool.URL)
	if raw == "" {
		return poolConfig{}, invalid("pools[%d].url is empty", i)
	}
	tls := pool.TLS
	hostport := raw
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		switch strings.ToLower(scheme) {
		case "stratum+tcp", "stratum":
		case "stratum+ssl", "stratum+tls", "ssl", "tls":
			tls = true
		default:
			return poolConfig{}, invalid("pools[%d].url %q: scheme %q is not stratum+tcp, stratum+ssl or stratum+tls", i, pool.URL, scheme)
		}
		hostport = rest
	}
	hostport = strings.TrimSuffix(hostport, "/")
	if err := checkHostPort(hostport); err != "" {
		return poolConfig{}, invalid("pools[%d].url %q: %s", i, pool.URL, err)
	}
	if err := checkText("pools["+strconv.Itoa(i)+"].user", pool.User, maxFieldLen); err != nil {
		return poolConfig{}, err
	}
	if err := checkText("pools["+strconv.Itoa(i)+"].pass", pool.Pass, maxFieldLen); err != nil {
		return poolConfig{}, err
	}
	pass := pool.Pass
	if pass == "" {
		pass = "x"
	}
	return poolConfig{
		URL: hostport, User: pool.User, Pass: pass,
		Nicehash: set.nicehash, Keepalive: set.keepalive, Enabled: true, TLS: tls,
	}, nil
}

// checkHostPort validates "host:port" or "[v6]:port"; it returns a reason or
// "".
func checkHostPort(s string) string {
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "want [ipv6]:port"
		}
		host, port = s[1:end], s[end+2:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return "no port: want host:port"
		}
		host, port = s[:i], s[i+1:]
	}
	if host == "" || len(host) > 253 {
		return "empty or too long host"
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return "host has a character that is not a letter, digit, '.', '-' or '_'"
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return "port must be 1-65535"
	}
	return ""
}

// checkText refuses control characters and overlong values in free-text
// profile fields that end up in the config and the pool login.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid("%s is longer than %d bytes", field, max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return invalid("%s contains a control character", field)
		}
	}
	return nil
}

func validCoin(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
