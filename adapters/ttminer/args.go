package ttminer

import (
	"strconv"
	"strings"
)

// argKind says how an allow-listed flag's value is validated.
type argKind struct {
	// value: "" (a switch without value), "int" or "cudaver".
	value    string
	min, max int64
}

// allowedArgs are the extra flags a profile may pass: display and tuning
// switches that neither read or write files, nor touch the pools, the API,
// the devices or the output rigd parses, nor change the GPUs' clocks.
var allowedArgs = map[string]argKind{
	"-luck":           {},
	"-daginfo":        {},
	"-dag-2mem":       {},
	"-dag-swap":       {},
	"-raao":           {},
	"-poolinfo":       {},
	"-RH":             {},
	"-rate":           {},
	"-rep-s":          {value: "int", min: 0, max: 100000},
	"-report-average": {value: "int", min: 1, max: 3600},
	"-PP":             {value: "int", min: 1, max: 5},
	"-tstop":          {value: "int", min: 0, max: 120},
	"-tstart":         {value: "int", min: 0, max: 120},
	"-cuda-grid":      {value: "int", min: 1, max: 1 << 20},
	"-cuda-block":     {value: "int", min: 1, max: 1024},
	"-cuda-ver":       {value: "cudaver"},
}

// refused explains why a known TT-Miner flag is not taken as an extra arg.
var refused = map[string]string{}

func init() {
	for _, f := range []string{"-a", "-A", "-algo", "-c", "-coin"} {
		refused[f] = "use the profile's algo or coin"
	}
	for _, f := range []string{"-P", "-o", "-pool", "-url", "-u", "-user", "-wal", "-p", "-pass", "-w", "-worker",
		"-pool2", "-user2", "-wal2", "-pass2", "-worker2"} {
		refused[f] = "use the profile's pools and worker"
	}
	for _, f := range []string{"-d", "-device", "-devices", "-gpus"} {
		refused[f] = "use the profile's devices"
	}
	for _, f := range []string{"-i", "-intensity", "-ig", "-gs"} {
		refused[f] = "use the profile's intensity"
	}
	for _, f := range []string{"-b", "--api-bind", "-api-bind", "--api-password", "-api-password", "--api-type",
		"-nocolor", "-no-color", "-notimestamp", "-rep-i", "-report-interval", "-PRT", "-no-ctrlc", "-noctrlc"} {
		refused[f] = "rigd sets the API address, colours, timestamps, signals and report interval itself (see option " + optReportInterval + ")"
	}
	for _, f := range []string{"-log", "-logpool", "-dag-path", "-dag-2disk", "-conf", "-cdd", "-ccd"} {
		refused[f] = "profiles never make TT-Miner read or write files (logs, DAG files, configs, crash dumps)"
	}
	for _, f := range []string{"-h", "--help", "-?", "-v", "--version", "-l", "-list", "-n", "-ndevs"} {
		refused[f] = "it makes TT-Miner exit instead of mining"
	}
	refused["-lottery"] = "it adds a solo BTC/BCH lottery pool to the profile"
	refused["-bm"] = "benchmark mode sends no shares"
	refused["-benchmark"] = refused["-bm"]
	refused["-cpu"] = "CPU mining is not supported by this adapter"
	refused["-igpu"] = "integrated GPUs are not supported by this adapter"
}

// checkExtraArgs validates Profile.ExtraArgs against the allow-list and
// returns them as argv elements ("-flag" or "-flag", "value").
func checkExtraArgs(args []string) ([]string, error) {
	if len(args) > maxExtraArgs {
		return nil, invalid("%d extra args is more than %d", len(args), maxExtraArgs)
	}
	var out []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if strings.IndexFunc(arg, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			return nil, invalid("extra arg %q contains a control character", clip(arg))
		}
		if !strings.HasPrefix(arg, "-") {
			return nil, forbidden("extra arg %q is not a flag", clip(arg))
		}
		flag, value, hasValue := strings.Cut(arg, "=")
		if strings.HasPrefix(flag, "-oc-") {
			return nil, forbidden("extra arg %s is forbidden: rigd does not change GPU clocks, power limits or fans (they outlive the miner)", clip(flag))
		}
		if why, ok := refused[flag]; ok {
			return nil, forbidden("extra arg %s is forbidden: %s", flag, why)
		}
		kind, ok := allowedArgs[flag]
		if !ok {
			return nil, forbidden("extra arg %s is not on the allow-list (see the adapter README)", clip(flag))
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
		out = append(out, flag, value)
	}
	return out, nil
}

func checkArgValue(flag string, k argKind, v string) error {
	switch k.value {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < k.min || n > k.max || v[0] == '+' {
			return invalid("extra arg %s %s: want an integer %d-%d", flag, clip(v), k.min, k.max)
		}
	case "cudaver":
		major, minor, ok := strings.Cut(v, ".")
		a, errA := strconv.Atoi(major)
		b, errB := strconv.Atoi(minor)
		if !ok || errA != nil || errB != nil || a < 8 || a > 99 || b < 0 || b > 9 || len(minor) != 1 || major[0] == '+' {
			return invalid("extra arg %s %s: want a CUDA version such as 11.8", flag, clip(v))
		}
	}
	return nil
}
