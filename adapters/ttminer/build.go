package ttminer

import (
	"math"
	"strconv"
	"strings"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// Limits on profile sizes: far above any real rig, low enough that a hostile
// profile cannot make the command line huge.
const (
	maxPools     = 16
	maxDevices   = 64
	maxDeviceID  = 255
	maxFieldLen  = 512
	maxIntensity = 100
	maxExtraArgs = 32
)

// APIRequest is the line the host sends to TT-Miner's API: Claymore's
// miner_getstat1, which TT-Miner answers with hashrates in H/s.
const APIRequest = `{"id":0,"jsonrpc":"2.0","method":"miner_getstat1"}`

// endpointGetstat is the endpoint name echoed back in APIResponse.Name:
// the metadata's endpoint, so that `rigd adapters replay --api` finds it.
const endpointGetstat = "miner_getstat1"

func invalid(format string, args ...any) error {
	return sdk.Errorf(abi.CodeInvalidProfile, format, args...)
}

func forbidden(format string, args ...any) error {
	return sdk.Errorf(abi.CodeForbidden, format, args...)
}

// BuildCommand validates the profile and turns it into TT-Miner's argv (it
// has no config file) and the API endpoint the host polls.
func (a *Adapter) BuildCommand(req abi.BuildRequest) (abi.Command, error) {
	p := &req.Profile
	inst := &req.Instance
	if inst.APIPort < 1 || inst.APIPort > 65535 {
		return abi.Command{}, sdk.Errorf(abi.CodeBadInput, "instance api_port %d is not a TCP port", inst.APIPort)
	}
	switch inst.OS {
	case "", "linux", "windows":
	default:
		return abi.Command{}, sdk.Errorf(abi.CodeUnsupported, "TT-Miner is released for Linux and Windows only, not %s", inst.OS)
	}
	if inst.Arch != "" && inst.Arch != "amd64" {
		return abi.Command{}, sdk.Errorf(abi.CodeUnsupported, "TT-Miner is released for amd64 only, not %s", inst.Arch)
	}
	interval, err := parseOptions(p.Options)
	if err != nil {
		return abi.Command{}, err
	}
	extra, err := checkExtraArgs(p.ExtraArgs)
	if err != nil {
		return abi.Command{}, err
	}
	if p.Threads != 0 {
		return abi.Command{}, invalid("threads %d is not supported: TT-Miner mines on GPUs; leave it 0", p.Threads)
	}
	if err := checkText("worker", p.Worker, 64); err != nil {
		return abi.Command{}, err
	}
	if strings.ContainsAny(p.Worker, ".:@/ ") {
		return abi.Command{}, invalid("worker %q must not contain '.', ':', '@', '/' or spaces (TT-Miner's pool syntax is user.worker:pass@host:port)", clip(p.Worker))
	}

	args := make([]string, 0, 16+2*len(p.Pools)+len(p.Devices)+len(extra))
	sel, err := selectAlgo(p)
	if err != nil {
		return abi.Command{}, err
	}
	args = append(args, sel...)

	if len(p.Pools) == 0 {
		return abi.Command{}, invalid("no pools: a profile needs at least one pool")
	}
	if len(p.Pools) > maxPools {
		return abi.Command{}, invalid("%d pools is more than %d", len(p.Pools), maxPools)
	}
	for i := range p.Pools {
		u, err := poolURL(i, &p.Pools[i], p.Worker)
		if err != nil {
			return abi.Command{}, err
		}
		// Repeated -P: the first is the primary pool, the others are
		// failover pools in this order.
		args = append(args, "-P", u)
	}

	if len(p.Devices) > maxDevices {
		return abi.Command{}, invalid("%d devices is more than %d", len(p.Devices), maxDevices)
	}
	if len(p.Devices) > 0 {
		args = append(args, "-d")
		for i, d := range p.Devices {
			if d < 0 || d > maxDeviceID {
				return abi.Command{}, invalid("devices[%d] = %d is not a device id (0-%d, as TT-Miner lists them with -l)", i, d, maxDeviceID)
			}
			for _, e := range p.Devices[:i] {
				if e == d {
					return abi.Command{}, invalid("device %d is listed twice", d)
				}
			}
			// One argv element per id: TT-Miner reads "-d 0 1 2".
			args = append(args, strconv.Itoa(d))
		}
	}

	if p.Intensity != 0 {
		if p.Intensity < 1 || p.Intensity > maxIntensity || p.Intensity != math.Trunc(p.Intensity) {
			return abi.Command{}, invalid("intensity %v must be an integer 1-%d (0 lets TT-Miner decide)", p.Intensity, maxIntensity)
		}
		args = append(args, "-i", strconv.Itoa(int(p.Intensity)))
	}

	// The API: loopback only, TT-Miner's API has no token (README: "Why is
	// the API not protected by a token?").
	args = append(args, "-b", "127.0.0.1:"+strconv.Itoa(inst.APIPort))
	args = append(args, "-nocolor", "-rep-i", strconv.Itoa(interval))
	args = append(args, extra...)

	cmd := abi.Command{
		Args: args,
		API: []abi.Endpoint{{
			Name:    endpointGetstat,
			Kind:    abi.APITCPJSONRPC,
			Address: "127.0.0.1:" + strconv.Itoa(inst.APIPort),
			Request: APIRequest,
		}},
	}
	if err := abi.ValidateCommand(&cmd, inst); err != nil {
		return abi.Command{}, sdk.Errorf(abi.CodeInternal, "built an invalid command: %v", err)
	}
	return cmd, nil
}

// selectAlgo returns "-a ALGO" or "-c COIN". TT-Miner picks the algorithm
// variant and pool protocol from a coin (EPIC's protocol, VEIL's ProgPoW
// variant), so a coin wins; an algo given with it must be the coin's.
func selectAlgo(p *abi.Profile) ([]string, error) {
	var al *algo
	if p.Algo != "" {
		if al = lookupAlgo(p.Algo); al == nil {
			return nil, invalid("algo %q is not an algorithm TT-Miner mines on GPUs (known: %s); or set coin instead", clip(p.Algo), algoNames())
		}
	}
	if p.Coin == "" {
		if al == nil {
			return nil, invalid("set algo (e.g. kawpow) or coin (e.g. RVN): TT-Miner needs one of them")
		}
		return []string{"-a", al.tt}, nil
	}
	if !validCoin(p.Coin) {
		return nil, invalid("coin %q must be 1-16 letters or digits", clip(p.Coin))
	}
	coin := strings.ToUpper(p.Coin)
	if ca := coinAlgo(coin); ca != nil && al != nil && ca != al {
		return nil, invalid("coin %s is mined with %s, not algo %s: leave algo empty or make it %s", coin, ca.name, al.name, ca.name)
	}
	return []string{"-c", coin}, nil
}

// schemes maps the pool URL schemes a profile may use to TT-Miner's
// spelling without and with TLS ("" means TLS is not available).
var schemes = map[string][2]string{
	"stratum+tcp":  {"stratum+tcp", "stratum+ssl"},
	"stratum":      {"stratum+tcp", "stratum+ssl"},
	"tcp":          {"stratum+tcp", "stratum+ssl"},
	"stratum+ssl":  {"stratum+ssl", "stratum+ssl"},
	"stratum+tls":  {"stratum+ssl", "stratum+ssl"},
	"ssl":          {"ssl", "ssl"},
	"tls":          {"ssl", "ssl"},
	"stratum1+tcp": {"stratum1+tcp", "stratum1+ssl"},
	"stratum1+ssl": {"stratum1+ssl", "stratum1+ssl"},
	"stratum2+tcp": {"stratum2+tcp", "stratum2+ssl"},
	"stratum2+ssl": {"stratum2+ssl", "stratum2+ssl"},
	"epic":         {"epic", "epic+ssl"},
	"epic+ssl":     {"epic+ssl", "epic+ssl"},
	"zmp":          {"zmp", "zmp+ssl"},
	"zmp+ssl":      {"zmp+ssl", "zmp+ssl"},
	"http":         {"http", ""},
}

// poolURL builds TT-Miner's -P value: [scheme://]user[.worker][:pass]@host:port.
// Without a scheme TT-Miner detects the stratum dialect itself, so none is
// added unless the pool asks for TLS.
func poolURL(i int, pool *abi.Pool, worker string) (string, error) {
	field := func(name string) string { return "pools[" + strconv.Itoa(i) + "]." + name }
	raw := strings.TrimSpace(pool.URL)
	if raw == "" {
		return "", invalid("%s is empty", field("url"))
	}
	scheme, hostport := "", raw
	if s, rest, ok := strings.Cut(raw, "://"); ok {
		m, known := schemes[strings.ToLower(s)]
		if !known {
			return "", invalid("%s %q: scheme %q is not one TT-Miner speaks (stratum+tcp, stratum+ssl, ssl, stratum1+tcp, stratum2+tcp, epic, zmp, http and their +ssl forms)", field("url"), clip(pool.URL), clip(s))
		}
		scheme = m[0]
		if pool.TLS {
			if m[1] == "" {
				return "", invalid("%s %q: TLS is not available for scheme %s", field("url"), clip(pool.URL), s)
			}
			scheme = m[1]
		}
		hostport = rest
	} else if pool.TLS {
		scheme = "ssl"
	}
	hostport = strings.TrimSuffix(hostport, "/")
	if strings.ContainsAny(hostport, "@/") {
		return "", invalid("%s %q must be [scheme://]host:port; put the login in user and pass", field("url"), clip(pool.URL))
	}
	if reason := checkHostPort(hostport); reason != "" {
		return "", invalid("%s %q: %s", field("url"), clip(pool.URL), reason)
	}
	user := pool.User
	if err := checkText(field("user"), user, maxFieldLen); err != nil {
		return "", err
	}
	if err := checkText(field("pass"), pool.Pass, maxFieldLen); err != nil {
		return "", err
	}
	if user == "" {
		return "", invalid("%s is empty: TT-Miner needs a wallet or user name", field("user"))
	}
	if strings.ContainsAny(user, ":@ ") {
		return "", invalid("%s must not contain ':', '@' or spaces (TT-Miner's pool syntax is user.worker:pass@host:port)", field("user"))
	}
	if strings.ContainsAny(pool.Pass, "@ ") {
		return "", invalid("%s must not contain '@' or spaces (TT-Miner's pool syntax is user.worker:pass@host:port)", field("pass"))
	}
	if worker != "" {
		if strings.Contains(user, ".") {
			return "", invalid("%s %q already names a worker after '.': leave worker empty or drop the suffix", field("user"), clip(user))
		}
		user += "." + worker
	}
	var b strings.Builder
	if scheme != "" {
		b.WriteString(scheme)
		b.WriteString("://")
	}
	b.WriteString(user)
	if pool.Pass != "" {
		b.WriteByte(':')
		b.WriteString(pool.Pass)
	}
	b.WriteByte('@')
	b.WriteString(hostport)
	return b.String(), nil
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
		if strings.IndexByte(host, ':') >= 0 {
			return "an IPv6 address needs brackets: [addr]:port"
		}
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
// profile fields that end up on the command line.
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
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// clip keeps error messages short when a profile holds a huge value.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseOptions validates Profile.Options and returns the report interval.
func parseOptions(opts map[string]abi.RawMessage) (int, error) {
	interval := defaultReportInterval
	// Each key is checked on its own, so the error reported, that of the
	// first bad key in sorted order, does not depend on map order (and
	// needs no sort).
	var badKey string
	var bad error
	for k, v := range opts {
		var err error
		switch k {
		case optReportInterval:
			if len(v) == 0 || string(v) == "null" {
				continue
			}
			var f float64
			var d abi.Decoder
			d.Reset(v)
			d.Float64(&f)
			if derr := d.Finish(); derr != nil || f != math.Trunc(f) || f < 1 || f > maxReportInterval {
				err = invalid("option %s must be an integer 1-%d (seconds), not %s", k, maxReportInterval, clip(string(v)))
			} else {
				interval = int(f)
			}
		default:
			err = sdk.Errorf(abi.CodeUnknownOption, "unknown option %q (known: %s)", clip(k), optReportInterval)
		}
		if err != nil && (bad == nil || k < badKey) {
			badKey, bad = k, err
		}
	}
	if bad != nil {
		return 0, bad
	}
	return interval, nil
}
