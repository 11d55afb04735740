package xmrig

import (
	"math"
	"strconv"
	"strings"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// parseOptions validates Profile.Options: every key must be documented in
// Metadata.Options and of its type; keys that would set a path XMRig loads
// or rigd's own API settings are forbidden outright.
func parseOptions(opts map[string]abi.RawMessage) (settings, error) {
	s := settings{randomxMode: "auto", hugePages: true, donateLevel: 1, printTime: 10, gpuBackend: "none", cpu: true}
	// Each key is checked on its own, so the error reported, that of the
	// first bad key in sorted order, does not depend on map order (and
	// needs no sort).
	var badKey string
	var bad error
	for k, v := range opts {
		if err := s.set(k, v); err != nil && (bad == nil || k < badKey) {
			badKey, bad = k, err
		}
	}
	return s, bad
}

// set applies one option.
func (s *settings) set(k string, v abi.RawMessage) error {
	if forbiddenOption(k) {
		return sdk.Errorf(abi.CodeForbidden, "option %q is forbidden: profiles can never set a path XMRig loads, its log file or rigd's API settings", k)
	}
	if isNull(v) {
		return nil // null means the default
	}
	var err error
	switch k {
	case optRandomXMode:
		s.randomxMode, err = enumOpt(k, v, "auto", "fast", "light")
	case optHugePages:
		s.hugePages, err = boolOpt(k, v)
	case optDonateLevel:
		s.donateLevel, err = intOpt(k, v, 0, 99)
	case optCPUPriority:
		var n int
		n, err = intOpt(k, v, 0, 5)
		s.cpuPriority = &n
	case optKeepalive:
		s.keepalive, err = boolOpt(k, v)
	case optNicehash:
		s.nicehash, err = boolOpt(k, v)
	case optPrintTime:
		s.printTime, err = intOpt(k, v, 1, 3600)
	case optMaxThreadsHint:
		var n int
		n, err = intOpt(k, v, 1, 100)
		s.maxThreadsHint = &n
	case optGPUBackend:
		s.gpuBackend, err = enumOpt(k, v, "none", "cuda", "opencl")
	case optCPU:
		s.cpu, err = boolOpt(k, v)
	default:
		return sdk.Errorf(abi.CodeUnknownOption, "unknown option %q (known: %s)", k, knownOptions())
	}
	return err
}

func knownOptions() string {
	names := make([]string, len(options))
	for i, o := range options {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

// forbiddenOption reports keys that name a file XMRig would load or write, or
// settings rigd owns (the HTTP API, background mode, the config file).
func forbiddenOption(k string) bool {
	n := strings.ReplaceAll(strings.ToLower(k), "-", "_")
	switch n {
	case "config", "config_file", "background", "syslog", "log_file", "logfile", "log":
		return true
	}
	return strings.Contains(n, "loader") || strings.HasPrefix(n, "log_file") ||
		strings.HasPrefix(n, "http") || strings.HasPrefix(n, "api") ||
		strings.HasPrefix(n, "tls_cert") || strings.HasPrefix(n, "tls_dhparam") ||
		strings.HasSuffix(n, "_path") || strings.HasSuffix(n, "_file")
}

func isNull(v abi.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

func boolOpt(k string, v abi.RawMessage) (bool, error) {
	switch strings.TrimSpace(string(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid("option %s must be true or false, not %s", k, clip(string(v)))
}

func intOpt(k string, v abi.RawMessage, min, max int) (int, error) {
	var f float64
	if err := decodeOption(v, func(d *abi.Decoder) { d.Float64(&f) }); err != nil || f != math.Trunc(f) {
		return 0, invalid("option %s must be an integer %d-%d, not %s", k, min, max, clip(string(v)))
	}
	if f < float64(min) || f > float64(max) {
		return 0, invalid("option %s = %s is out of range %d-%d", k, clip(string(v)), min, max)
	}
	return int(f), nil
}

func enumOpt(k string, v abi.RawMessage, values ...string) (string, error) {
	var s string
	if err := decodeOption(v, func(d *abi.Decoder) { d.String(&s) }); err == nil {
		s = strings.ToLower(s)
		for _, want := range values {
			if s == want {
				return s, nil
			}
		}
	}
	return "", invalid("option %s must be one of %s, not %s", k, strings.Join(values, "|"), clip(string(v)))
}

// decodeOption decodes an option's value as json.Unmarshal would.
func decodeOption(v abi.RawMessage, decode func(*abi.Decoder)) error {
	var d abi.Decoder
	d.Reset(v)
	decode(&d)
	return d.Finish()
}

// clip keeps error messages short when a profile holds a huge value.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// argKind says how an allow-listed flag's value is validated.
type argKind struct {
	// value: "" (a switch without value), "int", "enum" or "mask".
	value    string
	min, max int64
	enum     []string
}

// allowedArgs are the extra flags a profile may pass: tuning switches that
// neither load files nor touch the pools, the API or the output rigd parses.
var allowedArgs = map[string]argKind{
	"--randomx-no-numa":      {},
	"--randomx-init":         {value: "int", min: -1, max: 1024},
	"--randomx-no-rdmsr":     {},
	"--randomx-cache-qos":    {},
	"--randomx-1gb-pages":    {},
	"--cpu-no-yield":         {},
	"--cpu-affinity":         {value: "mask"},
	"--cpu-max-threads-hint": {value: "int", min: 1, max: 100},
	"--cpu-memory-pool":      {value: "int", min: -1, max: 65536},
	"--asm":                  {value: "enum", enum: []string{"auto", "none", "intel", "ryzen", "bulldozer"}},
	"--argon2-impl":          {value: "enum", enum: []string{"x86_64", "SSE2", "SSSE3", "XOP", "AVX2", "AVX-512F"}},
	"--astrobwt-max-size":    {value: "int", min: 400, max: 1200},
	"--astrobwt-avx2":        {},
	"--no-huge-pages":        {},
	"--huge-pages-jit":       {},
	"--hugepage-size":        {value: "int", min: 4, max: 1 << 20},
	"--dns-ipv6":             {},
	"--dns-ttl":              {value: "int", min: 1, max: 86400},
	"--retries":              {value: "int", min: 1, max: 1000},
	"--retry-pause":          {value: "int", min: 1, max: 3600},
	"--verbose":              {},
	"--health-print-time":    {value: "int", min: 0, max: 3600},
	"--cuda-bfactor-hint":    {value: "int", min: 0, max: 12},
	"--cuda-bsleep-hint":     {value: "int", min: 0, max: 10000},
	"--no-nvml":              {},
	"--opencl-no-cache":      {},
	"--opencl-platform":      {value: "int", min: 0, max: 64},
	"--no-dmi":               {},
}

// profileFields says which profile field or option replaces a flag rigd
// will not take as an extra arg, for a helpful error.
var profileFields = map[string]string{
	"-t": "threads", "--threads": "threads", "-a": "algo", "--algo": "algo", "--coin": "coin",
	"-o": "pools", "--url": "pools", "-u": "pools", "--user": "pools", "-p": "pools", "--pass": "pools",
	"-O": "pools", "--userpass": "pools", "--tls": "pools[].tls", "--rig-id": "worker",
	"-k": "option keepalive", "--keepalive": "option keepalive", "--nicehash": "option nicehash",
	"--randomx-mode": "option randomx_mode", "--donate-level": "option donate_level",
	"--cpu-priority": "option cpu_priority", "--print-time": "option print_time",
	"--cuda": "option gpu_backend", "--opencl": "option gpu_backend",
	"--cuda-devices": "devices", "--opencl-devices": "devices", "--no-cpu": "option cpu",
}

// pathFlags load or write files, or hand rigd's API, console or process
// control to someone else: never allowed, whatever the allow-list says.
func pathFlag(flag string) bool {
	switch flag {
	case "-c", "--config", "-l", "--log-file", "--cuda-loader", "--opencl-loader",
		"--tls-cert", "--tls-cert-key", "--tls-dhparam", "--tls-gen", "-B", "--background",
		"-S", "--syslog", "--export-topology":
		return true
	}
	return strings.HasPrefix(flag, "--http-") || strings.HasPrefix(flag, "--api-")
}

// checkExtraArgs validates Profile.ExtraArgs against the allow-list and
// returns them normalised to "--flag" or "--flag=value".
func checkExtraArgs(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if strings.IndexFunc(arg, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			return nil, invalid("extra arg %q contains a control character", clip(arg))
		}
		if !strings.HasPrefix(arg, "-") {
			return nil, sdk.Errorf(abi.CodeForbidden, "extra arg %q is not a flag", clip(arg))
		}
		flag, value, hasValue := strings.Cut(arg, "=")
		if pathFlag(flag) {
			return nil, sdk.Errorf(abi.CodeForbidden, "extra arg %s is forbidden: rigd sets the config, log, API and TLS files itself and profiles can never point XMRig at a path", flag)
		}
		kind, ok := allowedArgs[flag]
		if !ok {
			if field, known := profileFields[flag]; known {
				return nil, sdk.Errorf(abi.CodeForbidden, "extra arg %s is not allowed: use the profile's %s", flag, field)
			}
			return nil, sdk.Errorf(abi.CodeForbidden, "extra arg %s is not on the allow-list (see the adapter README)", clip(flag))
		}
		if kind.value == "" {
			if hasValue {
				return nil, invalid("extra arg %s takes no value", flag)
			}
			out = append(out, flag)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, invalid("extra arg %s needs a value", flag)
			}
			i++
			value = args[i]
		}
		if err := checkArgValue(flag, kind, value); err != nil {
			return nil, err
		}
		out = append(out, flag+"="+value)
	}
	return out, nil
}

func checkArgValue(flag string, k argKind, v string) error {
	switch k.value {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < k.min || n > k.max {
			return invalid("extra arg %s=%s: want an integer %d-%d", flag, clip(v), k.min, k.max)
		}
	case "enum":
		for _, e := range k.enum {
			if v == e {
				return nil
			}
		}
		return invalid("extra arg %s=%s: want one of %s", flag, clip(v), strings.Join(k.enum, "|"))
	case "mask":
		hex := strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X")
		var err error
		if hex {
			_, err = strconv.ParseUint(v[2:], 16, 64)
		} else {
			_, err = strconv.ParseUint(v, 10, 64)
		}
		if err != nil || v == "0x" {
			return invalid("extra arg %s=%s: want a CPU mask such as 0x3 or 3", flag, clip(v))
		}
	}
	return nil
}
