package ttminer

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

var testInstance = abi.Instance{Name: "ttminer-rvn", APIPort: 4068, OS: "linux", Arch: "amd64", MinerVersion: "2023.4.0"}

func baseProfile() abi.Profile {
	return abi.Profile{
		Algo:   "kawpow",
		Pools:  []abi.Pool{{URL: "stratum+tcp://rvn.example.org:3333", User: "RWallet1", Pass: "x"}},
		Worker: "rig1",
	}
}

func opts(kv ...string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// build runs build_command through sdk.Call like the host and returns the
// command or the adapter error.
func build(t *testing.T, p abi.Profile, inst abi.Instance) (abi.Command, *abi.Error) {
	t.Helper()
	in, err := json.Marshal(abi.BuildRequest{Profile: p, Instance: inst})
	if err != nil {
		t.Fatal(err)
	}
	st, out := sdk.Call(New(), abi.ExportBuildCommand, in)
	switch st {
	case abi.StatusOK:
		var cmd abi.Command
		if err := json.Unmarshal(out, &cmd); err != nil {
			t.Fatalf("output is not a Command: %v: %s", err, out)
		}
		if err := abi.ValidateCommand(&cmd, &inst); err != nil {
			t.Fatalf("ValidateCommand: %v", err)
		}
		return cmd, nil
	case abi.StatusError:
		var e abi.Error
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("error output is not an Error: %v: %s", err, out)
		}
		return abi.Command{}, &e
	}
	t.Fatalf("status %d", st)
	return abi.Command{}, nil
}

// TestBuildSample is the README's sample profile.
func TestBuildSample(t *testing.T) {
	p := baseProfile()
	p.Pools = append(p.Pools, abi.Pool{URL: "rvn-backup.example.org:4444", User: "RWallet1", TLS: true})
	p.Devices = []int{0, 2}
	p.Intensity = 20
	p.ExtraArgs = []string{"-luck", "-PP", "4"}
	cmd, aerr := build(t, p, testInstance)
	if aerr != nil {
		t.Fatal(aerr)
	}
	want := []string{"-a", "KAWPOW",
		"-P", "stratum+tcp://RWallet1.rig1:x@rvn.example.org:3333",
		"-P", "ssl://RWallet1.rig1@rvn-backup.example.org:4444",
		"-d", "0", "2", "-i", "20", "-b", "127.0.0.1:4068", "-nocolor", "-rep-i", "10", "-luck", "-PP", "4"}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("args\n got %q\nwant %q", cmd.Args, want)
	}
	wantEP := abi.Endpoint{Name: "miner_getstat1", Kind: abi.APITCPJSONRPC, Address: "127.0.0.1:4068", Request: `{"id":0,"jsonrpc":"2.0","method":"miner_getstat1"}`}
	if len(cmd.API) != 1 || cmd.API[0].Name != wantEP.Name || cmd.API[0].Kind != wantEP.Kind || cmd.API[0].Address != wantEP.Address || cmd.API[0].Request != wantEP.Request {
		t.Errorf("api = %+v", cmd.API)
	}
	if len(cmd.Files) != 0 || len(cmd.Env) != 0 {
		t.Errorf("files %v env %v: TT-Miner takes argv only", cmd.Files, cmd.Env)
	}
}

func TestBuildCommand(t *testing.T) {
	tests := []struct {
		name string
		edit func(p *abi.Profile)
		want string // the args joined by spaces, before "-b"
	}{
		{"algo alias, no worker", func(p *abi.Profile) { p.Algo, p.Worker = "SHA3SOL", "" },
			"-a SHA3SOLIDITY -P stratum+tcp://RWallet1:x@rvn.example.org:3333"},
		{"coin", func(p *abi.Profile) { p.Algo, p.Coin = "", "rvn" }, "-c RVN -P stratum+tcp://RWallet1.rig1:x@rvn.example.org:3333"},
		{"coin and its algo", func(p *abi.Profile) { p.Coin = "RVN" }, "-c RVN -P stratum+tcp://RWallet1.rig1:x@rvn.example.org:3333"},
		{"coin TT-Miner added later", func(p *abi.Profile) { p.Algo, p.Coin = "", "NEWCOIN" }, "-c NEWCOIN -P stratum+tcp://RWallet1.rig1:x@rvn.example.org:3333"},
		{"no scheme: TT-Miner detects the protocol", func(p *abi.Profile) { p.Pools[0].URL = "rvn.example.org:3333" },
			"-a KAWPOW -P RWallet1.rig1:x@rvn.example.org:3333"},
		{"no pass", func(p *abi.Profile) { p.Pools[0].Pass = "" }, "-a KAWPOW -P stratum+tcp://RWallet1.rig1@rvn.example.org:3333"},
		{"tls flag upgrades the scheme", func(p *abi.Profile) { p.Pools[0].TLS = true }, "-a KAWPOW -P stratum+ssl://RWallet1.rig1:x@rvn.example.org:3333"},
		{"stratum+tls", func(p *abi.Profile) { p.Pools[0].URL = "stratum+tls://rvn.example.org:3333" }, "-a KAWPOW -P stratum+ssl://RWallet1.rig1:x@rvn.example.org:3333"},
		{"epic with tls", func(p *abi.Profile) {
			p.Algo, p.Coin, p.Pools[0].URL, p.Pools[0].TLS = "", "EPIC", "epic://epicmine.io:3333", true
		}, "-c EPIC -P epic+ssl://RWallet1.rig1:x@epicmine.io:3333"},
		{"pool pass with options", func(p *abi.Profile) { p.Pools[0].Pass = "c=BTC,mc=RVN,ID=rig1" },
			"-a KAWPOW -P stratum+tcp://RWallet1.rig1:c=BTC,mc=RVN,ID=rig1@rvn.example.org:3333"},
		{"ipv6", func(p *abi.Profile) { p.Pools[0].URL = "[2001:db8::1]:3333" }, "-a KAWPOW -P RWallet1.rig1:x@[2001:db8::1]:3333"},
		{"report interval", func(p *abi.Profile) { p.Options = opts("report_interval", "30") }, "-a KAWPOW -P stratum+tcp://RWallet1.rig1:x@rvn.example.org:3333"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := baseProfile()
			tc.edit(&p)
			cmd, aerr := build(t, p, testInstance)
			if aerr != nil {
				t.Fatal(aerr)
			}
			got := strings.Join(cmd.Args, " ")
			got, _, _ = strings.Cut(got, " -b ")
			if got != tc.want {
				t.Errorf("args\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	cmd, _ := build(t, func() abi.Profile { p := baseProfile(); p.Options = opts("report_interval", "30"); return p }(), testInstance)
	if !strings.HasSuffix(strings.Join(cmd.Args, " "), "-b 127.0.0.1:4068 -nocolor -rep-i 30") {
		t.Errorf("report interval: %q", cmd.Args)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(p *abi.Profile, inst *abi.Instance)
		code string
		msg  string // a substring of the message
	}{
		{"no algo or coin", func(p *abi.Profile, _ *abi.Instance) { p.Algo = "" }, abi.CodeInvalidProfile, "algo"},
		{"unknown algo", func(p *abi.Profile, _ *abi.Instance) { p.Algo = "rx/0" }, abi.CodeInvalidProfile, `"rx/0"`},
		{"coin of another algo", func(p *abi.Profile, _ *abi.Instance) { p.Coin = "ETC" }, abi.CodeInvalidProfile, "etchash"},
		{"bad coin", func(p *abi.Profile, _ *abi.Instance) { p.Coin = "R V N" }, abi.CodeInvalidProfile, "coin"},
		{"no pools", func(p *abi.Profile, _ *abi.Instance) { p.Pools = nil }, abi.CodeInvalidProfile, "no pools"},
		{"bad scheme", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "https://x.example:1" }, abi.CodeInvalidProfile, "scheme"},
		{"no port", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "x.example" }, abi.CodeInvalidProfile, "port"},
		{"login in url", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "stratum+tcp://u:p@x.example:1" }, abi.CodeInvalidProfile, "user and pass"},
		{"no user", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].User = "" }, abi.CodeInvalidProfile, "user"},
		{"user with @", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].User = "me@example.org" }, abi.CodeInvalidProfile, "'@'"},
		{"pass with space", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].Pass = "a b" }, abi.CodeInvalidProfile, "pass"},
		{"user with worker and worker", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].User = "RWallet1.rig2" }, abi.CodeInvalidProfile, "worker"},
		{"worker with dot", func(p *abi.Profile, _ *abi.Instance) { p.Worker = "a.b" }, abi.CodeInvalidProfile, "worker"},
		{"control char", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].Pass = "x\n-log" }, abi.CodeInvalidProfile, "control"},
		{"tls over http", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL, p.Pools[0].TLS = "http://127.0.0.1:9766", true }, abi.CodeInvalidProfile, "TLS"},
		{"threads", func(p *abi.Profile, _ *abi.Instance) { p.Threads = 4 }, abi.CodeInvalidProfile, "threads"},
		{"negative device", func(p *abi.Profile, _ *abi.Instance) { p.Devices = []int{-1} }, abi.CodeInvalidProfile, "device"},
		{"duplicate device", func(p *abi.Profile, _ *abi.Instance) { p.Devices = []int{1, 1} }, abi.CodeInvalidProfile, "twice"},
		{"fractional intensity", func(p *abi.Profile, _ *abi.Instance) { p.Intensity = 20.5 }, abi.CodeInvalidProfile, "intensity"},
		{"intensity too high", func(p *abi.Profile, _ *abi.Instance) { p.Intensity = 1000 }, abi.CodeInvalidProfile, "intensity"},
		{"unknown option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("api_bind", `"0.0.0.0:4068"`) }, abi.CodeUnknownOption, "api_bind"},
		{"bad option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("report_interval", "0") }, abi.CodeInvalidProfile, "report_interval"},
		{"extra: api", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-b", "0.0.0.0:4068"} }, abi.CodeForbidden, "-b"},
		{"extra: api long form", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--api-bind=0.0.0.0:4068"} }, abi.CodeForbidden, "--api-bind"},
		{"extra: log file", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-log"} }, abi.CodeForbidden, "-log"},
		{"extra: dag path", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-dag-path", "/etc"} }, abi.CodeForbidden, "-dag-path"},
		{"extra: pool", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-P", "x@evil:1"} }, abi.CodeForbidden, "pools"},
		{"extra: overclock", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-oc-mem", "810"} }, abi.CodeForbidden, "-oc-mem"},
		{"extra: selector form", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-PZ", "x@evil:1"} }, abi.CodeForbidden, "-PZ"},
		{"extra: lottery", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-lottery", "BTC", "bc1x"} }, abi.CodeForbidden, "-lottery"},
		{"extra: unknown", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-whatever"} }, abi.CodeForbidden, "-whatever"},
		{"extra: not a flag", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"value"} }, abi.CodeForbidden, "not a flag"},
		{"extra: missing value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-PP"} }, abi.CodeInvalidProfile, "needs a value"},
		{"extra: bad value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-PP", "9"} }, abi.CodeInvalidProfile, "-PP"},
		{"extra: value on a switch", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-luck=1"} }, abi.CodeInvalidProfile, "no value"},
		{"extra: bad cuda version", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-cuda-ver", "../../x"} }, abi.CodeInvalidProfile, "CUDA"},
		{"bad port", func(_ *abi.Profile, inst *abi.Instance) { inst.APIPort = 0 }, abi.CodeBadInput, "api_port"},
		{"macOS", func(_ *abi.Profile, inst *abi.Instance) { inst.OS = "darwin" }, abi.CodeUnsupported, "Linux and Windows"},
		{"arm64", func(_ *abi.Profile, inst *abi.Instance) { inst.Arch = "arm64" }, abi.CodeUnsupported, "amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, inst := baseProfile(), testInstance
			tc.edit(&p, &inst)
			_, aerr := build(t, p, inst)
			if aerr == nil {
				t.Fatal("no error")
			}
			if aerr.Code != tc.code || !strings.Contains(aerr.Message, tc.msg) {
				t.Errorf("got %s: %s; want %s containing %q", aerr.Code, aerr.Message, tc.code, tc.msg)
			}
		})
	}
}

// TestBuildAllowedArgs: every allow-listed flag builds, values included.
func TestBuildAllowedArgs(t *testing.T) {
	for flag, k := range allowedArgs {
		p := baseProfile()
		p.ExtraArgs = []string{flag}
		switch k.value {
		case "int":
			p.ExtraArgs = append(p.ExtraArgs, itoa(int(k.min)))
		case "cudaver":
			p.ExtraArgs = append(p.ExtraArgs, "11.8")
		}
		cmd, aerr := build(t, p, testInstance)
		if aerr != nil {
			t.Errorf("%s: %+v", flag, aerr)
			continue
		}
		if got := cmd.Args[len(cmd.Args)-len(p.ExtraArgs):]; !slices.Equal(got, p.ExtraArgs) {
			t.Errorf("%s: args end with %q", flag, got)
		}
	}
}

func TestMetadata(t *testing.T) {
	m := New().Metadata()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Name != "ttminer" || m.DisplayName != "TT-Miner" || m.Version != "1.0.0" || m.API.Kind != abi.APITCPJSONRPC ||
		m.Release.GitHub != "TrailingStop/TT-Miner-release" || m.Release.Checksum.Format != abi.ChecksumNone {
		t.Errorf("metadata = %+v", m)
	}
	for _, a := range m.Algorithms {
		if a.ShareFactor != 1<<32 || !slices.Contains(a.Devices, "nvidia") {
			t.Errorf("algorithm %+v", a)
		}
	}
	re := regexp.MustCompile(m.VersionProbe.Regex)
	for banner, want := range map[string]string{
		"15:56:25.381 ********* TT-Miner - Version: 2023.4.0 (Sep  7 2023 13:13:32)":          "2023.4.0",
		"11:26:52.077 ********* TT-Miner - Version: 2024.2.1 - Beta 5 (Jun  9 2024 10:55:05)": "2024.2.1",
		"TT-Miner version 5.0.1": "5.0.1",
	} {
		if got := re.FindStringSubmatch(banner); len(got) < 2 || got[1] != want {
			t.Errorf("probe on %q = %q, want %s", banner, got, want)
		}
	}
	// Each platform has exactly one asset for any version.
	for _, v := range []string{"2023.1.0", "2023.4.0", "2024.1.0", "2024.3.2"} {
		for _, osName := range []string{"linux", "windows"} {
			n := 0
			for _, a := range m.Release.Assets {
				if a.OS == osName && (a.MinVersion == "" || v >= a.MinVersion) && (a.BeforeVersion == "" || v < a.BeforeVersion) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s %s: %d assets", osName, v, n)
			}
		}
	}
	for _, name := range []string{"kawpow", "ETHASH", "EtcHash", "progpowz", "sha3sol", "ghostrider", "blake3"} {
		if lookupAlgo(name) == nil {
			t.Errorf("algo %s unknown", name)
		}
	}
}
