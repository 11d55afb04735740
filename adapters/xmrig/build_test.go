package xmrig

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

var testInstance = abi.Instance{Name: "xmrig-rx-0", APIPort: 18082, APIToken: "s3cret-token", OS: "linux", Arch: "amd64", MinerVersion: "6.16.0"}

func baseProfile() abi.Profile {
	return abi.Profile{
		Algo:   "rx/0",
		Pools:  []abi.Pool{{URL: "stratum+tcp://pool.example.com:3333", User: "wallet1", Pass: "x"}},
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

// decodedConfig is config.json read back generically.
type decodedConfig map[string]any

func configOf(t *testing.T, cmd abi.Command) decodedConfig {
	t.Helper()
	if len(cmd.Files) != 1 || cmd.Files[0].Path != "config.json" || cmd.Files[0].Mode != 0o600 {
		t.Fatalf("files = %+v, want one config.json with mode 0600", cmd.Files)
	}
	var c decodedConfig
	if err := json.Unmarshal([]byte(cmd.Files[0].Content), &c); err != nil {
		t.Fatalf("config.json is not JSON: %v", err)
	}
	return c
}

// get walks a decoded JSON value: get(c, "pools", 0, "url").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return "<missing>"
			}
			if v, ok = m[k]; !ok {
				return "<missing>"
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return "<missing>"
			}
			v = a[k]
		}
	}
	return v
}

func TestBuildCommandValid(t *testing.T) {
	type check struct {
		path []any
		want any
	}
	tests := []struct {
		name   string
		edit   func(p *abi.Profile)
		args   []string
		checks []check
	}{
		{
			name: "defaults",
			edit: func(p *abi.Profile) {},
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"pools", 0, "url"}, "pool.example.com:3333"},
				{[]any{"pools", 0, "user"}, "wallet1"},
				{[]any{"pools", 0, "pass"}, "x"},
				{[]any{"pools", 0, "rig-id"}, "rig1"},
				{[]any{"pools", 0, "tls"}, false},
				{[]any{"pools", 0, "keepalive"}, false},
				{[]any{"pools", 0, "nicehash"}, false},
				{[]any{"pools", 0, "algo"}, "rx/0"},
				{[]any{"pools", 0, "coin"}, nil},
				{[]any{"pools", 0, "enabled"}, true},
				{[]any{"http", "enabled"}, true},
				{[]any{"http", "host"}, "127.0.0.1"},
				{[]any{"http", "port"}, 18082.0},
				{[]any{"http", "access-token"}, "s3cret-token"},
				{[]any{"http", "restricted"}, true},
				{[]any{"api", "worker-id"}, "rig1"},
				{[]any{"background"}, false},
				{[]any{"watch"}, false},
				{[]any{"autosave"}, false},
				{[]any{"colors"}, false},
				{[]any{"syslog"}, false},
				{[]any{"log-file"}, nil},
				{[]any{"print-time"}, 10.0},
				{[]any{"donate-level"}, 1.0},
				{[]any{"randomx", "mode"}, "auto"},
				{[]any{"cpu", "enabled"}, true},
				{[]any{"cpu", "huge-pages"}, true},
				{[]any{"cpu", "priority"}, nil},
				{[]any{"cpu", "*"}, "<missing>"},
				{[]any{"cpu", "max-threads-hint"}, "<missing>"},
				{[]any{"opencl", "enabled"}, false},
				{[]any{"opencl", "loader"}, nil},
				{[]any{"cuda", "enabled"}, false},
				{[]any{"cuda", "loader"}, nil},
			},
		},
		{
			name: "options and threads",
			edit: func(p *abi.Profile) {
				p.Threads = 3
				p.Options = opts("randomx_mode", `"light"`, "huge_pages", "false", "donate_level", "0",
					"cpu_priority", "2", "keepalive", "true", "nicehash", "true", "print_time", "30")
			},
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"randomx", "mode"}, "light"},
				{[]any{"cpu", "huge-pages"}, false},
				{[]any{"cpu", "priority"}, 2.0},
				{[]any{"cpu", "*"}, []any{-1.0, -1.0, -1.0}},
				{[]any{"donate-level"}, 0.0},
				{[]any{"print-time"}, 30.0},
				{[]any{"pools", 0, "keepalive"}, true},
				{[]any{"pools", 0, "nicehash"}, true},
			},
		},
		{
			name: "tls by scheme, coin, failover, no worker",
			edit: func(p *abi.Profile) {
				p.Algo, p.Coin, p.Worker = "", "Monero", ""
				p.Pools = []abi.Pool{
					{URL: "stratum+ssl://a.example.com:443", User: "w"},
					{URL: "stratum+tls://b.example.com:443", User: "w"},
					{URL: "c.example.com:3333", User: "w", TLS: true},
					{URL: "[::1]:3333", User: "w"},
				}
			},
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"pools", 0, "url"}, "a.example.com:443"},
				{[]any{"pools", 0, "tls"}, true},
				{[]any{"pools", 1, "tls"}, true},
				{[]any{"pools", 2, "url"}, "c.example.com:3333"},
				{[]any{"pools", 2, "tls"}, true},
				{[]any{"pools", 3, "url"}, "[::1]:3333"},
				{[]any{"pools", 3, "tls"}, false},
				{[]any{"pools", 0, "coin"}, "monero"},
				{[]any{"pools", 0, "algo"}, nil},
				{[]any{"pools", 0, "rig-id"}, nil},
				{[]any{"api", "worker-id"}, nil},
			},
		},
		{
			name: "max threads hint",
			edit: func(p *abi.Profile) { p.Options = opts("max_threads_hint", "50") },
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"cpu", "max-threads-hint"}, 50.0},
				{[]any{"cpu", "*"}, "<missing>"},
			},
		},
		{
			name: "cuda devices",
			edit: func(p *abi.Profile) {
				p.Devices = []int{0, 2}
				p.Options = opts("gpu_backend", `"cuda"`)
			},
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"cuda", "enabled"}, true},
				{[]any{"cuda", "devices-hint"}, "0,2"},
				{[]any{"cuda", "loader"}, nil},
				{[]any{"opencl", "enabled"}, false},
				{[]any{"cpu", "enabled"}, true},
			},
		},
		{
			name: "kawpow on opencl only",
			edit: func(p *abi.Profile) {
				p.Algo = "KawPow"
				p.Devices = []int{1}
				p.Options = opts("gpu_backend", `"opencl"`, "cpu", "false")
			},
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"opencl", "enabled"}, true},
				{[]any{"opencl", "devices-hint"}, "1"},
				{[]any{"cuda", "enabled"}, false},
				{[]any{"cpu", "enabled"}, false},
				{[]any{"pools", 0, "algo"}, "kawpow"},
			},
		},
		{
			name: "alias algorithm",
			edit: func(p *abi.Profile) { p.Algo = "randomx" },
			args: []string{"--config=config.json", "--no-color"},
			checks: []check{
				{[]any{"pools", 0, "algo"}, "rx/0"},
			},
		},
		{
			name: "extra args normalised",
			edit: func(p *abi.Profile) {
				p.ExtraArgs = []string{"--cpu-affinity", "0x3", "--randomx-no-numa", "--dns-ttl=60", "--asm=ryzen",
					"--argon2-impl", "AVX2", "--retries=3", "--verbose", "--cpu-memory-pool=-1"}
			},
			args: []string{"--config=config.json", "--no-color", "--cpu-affinity=0x3", "--randomx-no-numa",
				"--dns-ttl=60", "--asm=ryzen", "--argon2-impl=AVX2", "--retries=3", "--verbose", "--cpu-memory-pool=-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := baseProfile()
			tt.edit(&p)
			cmd, aerr := build(t, p, testInstance)
			if aerr != nil {
				t.Fatalf("build_command failed: %+v", aerr)
			}
			if !slices.Equal(cmd.Args, tt.args) {
				t.Errorf("args = %q, want %q", cmd.Args, tt.args)
			}
			if err := abi.ValidateCommand(&cmd, &testInstance); err != nil {
				t.Errorf("ValidateCommand: %v", err)
			}
			if len(cmd.Env) != 0 {
				t.Errorf("env = %v, want none", cmd.Env)
			}
			wantAPI := []abi.Endpoint{
				{Name: "summary", Kind: abi.APIHTTPJSON, URL: "http://127.0.0.1:18082/2/summary", Headers: map[string]string{"Authorization": "Bearer s3cret-token"}},
				{Name: "backends", Kind: abi.APIHTTPJSON, URL: "http://127.0.0.1:18082/2/backends", Headers: map[string]string{"Authorization": "Bearer s3cret-token"}},
			}
			if got, want := indentJSON(t, cmd.API), indentJSON(t, wantAPI); string(got) != string(want) {
				t.Errorf("api = %s, want %s", got, want)
			}
			c := configOf(t, cmd)
			for _, ck := range tt.checks {
				got := get(map[string]any(c), ck.path...)
				if g, w := indentJSON(t, got), indentJSON(t, ck.want); string(g) != string(w) {
					t.Errorf("config %v = %s, want %s", ck.path, g, w)
				}
			}
		})
	}
}

// TestBuildCommandSampleConfig pins the exact config.json of a typical
// profile (the README shows it).
func TestBuildCommandSampleConfig(t *testing.T) {
	p := baseProfile()
	p.Threads = 2
	p.Options = opts("randomx_mode", `"fast"`, "donate_level", "1", "cpu_priority", "3", "keepalive", "true")
	cmd, aerr := build(t, p, testInstance)
	if aerr != nil {
		t.Fatal(aerr)
	}
	checkGolden(t, filepath.Join("testdata", "build", "config-sample.json"), []byte(cmd.Files[0].Content))
}

func TestBuildCommandInvalid(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(p *abi.Profile, inst *abi.Instance)
		code     string
		contains string
	}{
		{"no pools", func(p *abi.Profile, _ *abi.Instance) { p.Pools = nil }, abi.CodeInvalidProfile, "no pools"},
		{"empty url", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = " " }, abi.CodeInvalidProfile, "pools[0].url is empty"},
		{"bad scheme", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "http://pool:80" }, abi.CodeInvalidProfile, `scheme "http"`},
		{"no port", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "stratum+tcp://pool.example.com" }, abi.CodeInvalidProfile, "no port"},
		{"bad port", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "pool.example.com:70000" }, abi.CodeInvalidProfile, "port must be"},
		{"bad host", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].URL = "po ol:3333" }, abi.CodeInvalidProfile, "host has"},
		{"control char user", func(p *abi.Profile, _ *abi.Instance) { p.Pools[0].User = "w\nx" }, abi.CodeInvalidProfile, "pools[0].user"},
		{"threads negative", func(p *abi.Profile, _ *abi.Instance) { p.Threads = -1 }, abi.CodeInvalidProfile, "threads -1"},
		{"threads too many", func(p *abi.Profile, _ *abi.Instance) { p.Threads = 5000 }, abi.CodeInvalidProfile, "threads 5000"},
		{"threads and hint", func(p *abi.Profile, _ *abi.Instance) { p.Threads = 2; p.Options = opts("max_threads_hint", "50") }, abi.CodeInvalidProfile, "max_threads_hint"},
		{"intensity", func(p *abi.Profile, _ *abi.Instance) { p.Intensity = 20 }, abi.CodeInvalidProfile, "intensity"},
		{"worker newline", func(p *abi.Profile, _ *abi.Instance) { p.Worker = "rig\n1" }, abi.CodeInvalidProfile, "worker"},
		{"unknown algo", func(p *abi.Profile, _ *abi.Instance) { p.Algo = "bogus/9" }, abi.CodeInvalidProfile, `algo "bogus/9"`},
		{"kawpow on cpu", func(p *abi.Profile, _ *abi.Instance) { p.Algo = "kawpow" }, abi.CodeInvalidProfile, "only on GPUs"},
		{"argon2 without cpu", func(p *abi.Profile, _ *abi.Instance) {
			p.Algo, p.Devices, p.Options = "argon2/chukwav2", []int{0}, opts("gpu_backend", `"cuda"`, "cpu", "false")
		}, abi.CodeInvalidProfile, "only on the CPU"},
		{"bad coin", func(p *abi.Profile, _ *abi.Instance) { p.Coin = "mon ero" }, abi.CodeInvalidProfile, "coin"},
		{"devices without backend", func(p *abi.Profile, _ *abi.Instance) { p.Devices = []int{0} }, abi.CodeInvalidProfile, "gpu_backend"},
		{"backend without devices", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("gpu_backend", `"cuda"`) }, abi.CodeInvalidProfile, "explicit devices"},
		{"duplicate device", func(p *abi.Profile, _ *abi.Instance) {
			p.Devices, p.Options = []int{1, 1}, opts("gpu_backend", `"opencl"`)
		}, abi.CodeInvalidProfile, "twice"},
		{"negative device", func(p *abi.Profile, _ *abi.Instance) {
			p.Devices, p.Options = []int{-1}, opts("gpu_backend", `"opencl"`)
		}, abi.CodeInvalidProfile, "devices[0]"},
		{"nothing mines", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("cpu", "false") }, abi.CodeInvalidProfile, "nothing would mine"},
		{"threads without cpu", func(p *abi.Profile, _ *abi.Instance) {
			p.Threads, p.Devices, p.Options = 2, []int{0}, opts("cpu", "false", "gpu_backend", `"cuda"`)
		}, abi.CodeInvalidProfile, "option cpu is false"},
		// Options.
		{"unknown option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("turbo", "true") }, abi.CodeUnknownOption, `"turbo"`},
		{"cuda loader option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("cuda_loader", `"/tmp/evil.so"`) }, abi.CodeForbidden, `"cuda_loader"`},
		{"opencl loader option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("opencl-loader", `"/tmp/x.so"`) }, abi.CodeForbidden, `"opencl-loader"`},
		{"log file option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("log_file", `"/tmp/log"`) }, abi.CodeForbidden, `"log_file"`},
		{"http option", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("http_port", `1`) }, abi.CodeForbidden, `"http_port"`},
		{"donate as string", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("donate_level", `"1"`) }, abi.CodeInvalidProfile, "donate_level must be an integer"},
		{"donate fraction", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("donate_level", `1.5`) }, abi.CodeInvalidProfile, "donate_level must be an integer"},
		{"donate range", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("donate_level", `100`) }, abi.CodeInvalidProfile, "out of range"},
		{"priority range", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("cpu_priority", `6`) }, abi.CodeInvalidProfile, "cpu_priority"},
		{"randomx mode", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("randomx_mode", `"turbo"`) }, abi.CodeInvalidProfile, "randomx_mode must be one of auto|fast|light"},
		{"huge pages type", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("huge_pages", `"yes"`) }, abi.CodeInvalidProfile, "huge_pages must be true or false"},
		{"print time zero", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("print_time", `0`) }, abi.CodeInvalidProfile, "print_time"},
		{"gpu backend value", func(p *abi.Profile, _ *abi.Instance) { p.Options = opts("gpu_backend", `"vulkan"`) }, abi.CodeInvalidProfile, "gpu_backend"},
		// Extra args.
		{"config arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--config=/etc/x.json"} }, abi.CodeForbidden, "--config"},
		{"short config", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-c", "x.json"} }, abi.CodeForbidden, "-c"},
		{"log file arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--log-file=/tmp/log"} }, abi.CodeForbidden, "--log-file"},
		{"short log", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-l", "/tmp/log"} }, abi.CodeForbidden, "-l"},
		{"cuda loader arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--cuda-loader=/tmp/evil.so"} }, abi.CodeForbidden, "--cuda-loader"},
		{"opencl loader arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--opencl-loader", "/tmp/evil.so"} }, abi.CodeForbidden, "--opencl-loader"},
		{"tls cert arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--tls-cert=/tmp/c.pem"} }, abi.CodeForbidden, "--tls-cert"},
		{"background", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-B"} }, abi.CodeForbidden, "-B"},
		{"background long", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--background"} }, abi.CodeForbidden, "--background"},
		{"http arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--http-no-restricted"} }, abi.CodeForbidden, "--http-no-restricted"},
		{"api arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--api-worker-id=x"} }, abi.CodeForbidden, "--api-worker-id"},
		{"pool arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--url=evil:3333"} }, abi.CodeForbidden, "use the profile's pools"},
		{"threads arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"-t", "4"} }, abi.CodeForbidden, "use the profile's threads"},
		{"unknown arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--frobnicate"} }, abi.CodeForbidden, "--frobnicate"},
		{"not a flag", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"evil"} }, abi.CodeForbidden, `"evil"`},
		{"bad int value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--dns-ttl=abc"} }, abi.CodeInvalidProfile, "--dns-ttl"},
		{"int out of range", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--cpu-max-threads-hint=101"} }, abi.CodeInvalidProfile, "--cpu-max-threads-hint"},
		{"bad enum value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--asm=fast"} }, abi.CodeInvalidProfile, "--asm"},
		{"bad mask", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--cpu-affinity=0xZZ"} }, abi.CodeInvalidProfile, "--cpu-affinity"},
		{"switch with value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--randomx-no-numa=1"} }, abi.CodeInvalidProfile, "--randomx-no-numa"},
		{"missing value", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--retries"} }, abi.CodeInvalidProfile, "--retries needs a value"},
		{"nul in arg", func(p *abi.Profile, _ *abi.Instance) { p.ExtraArgs = []string{"--verbose\x00"} }, abi.CodeInvalidProfile, "control character"},
		// Instance facts from the host.
		{"api port", func(_ *abi.Profile, inst *abi.Instance) { inst.APIPort = 0 }, abi.CodeBadInput, "api_port"},
		{"api token", func(_ *abi.Profile, inst *abi.Instance) { inst.APIToken = "a b" }, abi.CodeBadInput, "api_token"},
		{"empty token", func(_ *abi.Profile, inst *abi.Instance) { inst.APIToken = "" }, abi.CodeBadInput, "api_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, inst := baseProfile(), testInstance
			tt.edit(&p, &inst)
			// Through the ABI, as the host sees it.
			_, aerr := build(t, p, inst)
			if aerr == nil {
				t.Fatalf("build_command succeeded, want %s error", tt.code)
			}
			if aerr.Code != tt.code || !strings.Contains(aerr.Message, tt.contains) {
				t.Errorf("error = %s: %s; want code %s and message containing %q", aerr.Code, aerr.Message, tt.code, tt.contains)
			}
			// And directly: the Go error is an *abi.Error.
			_, err := New().BuildCommand(abi.BuildRequest{Profile: p, Instance: inst})
			var ae *abi.Error
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Errorf("BuildCommand error %v is not an *abi.Error with code %s", err, tt.code)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	st, out := sdk.Call(New(), abi.ExportMetadata, nil)
	if st != abi.StatusOK {
		t.Fatalf("status %d: %s", st, out)
	}
	var m abi.Metadata
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if m.Name != "xmrig" || m.DisplayName != "XMRig" || m.Version != "1.0.0" || m.ABIMinor != abi.Minor ||
		m.License != "GPL-3.0-only" || m.Homepage != "https://xmrig.com" {
		t.Errorf("identity = %+v", m)
	}
	if m.Release.GitHub != "xmrig/xmrig" || m.Release.TagPrefix != "v" ||
		m.Release.Checksum != (abi.Checksum{File: "SHA256SUMS", Format: abi.ChecksumSHA256Sums}) {
		t.Errorf("release = %+v", m.Release)
	}
	assets := map[string]abi.Asset{}
	for _, a := range m.Release.Assets {
		assets[a.OS+"/"+a.Arch+"/"+a.MinVersion+a.BeforeVersion] = a
	}
	want := map[string]string{
		"linux/amd64/":  "xmrig-{version}-linux-static-x64.tar.gz",
		"darwin/amd64/": "xmrig-{version}-macos-x64.tar.gz",
		"darwin/arm64/": "xmrig-{version}-macos-arm64.tar.gz",
	}
	for k, name := range want {
		if assets[k].Name != name || assets[k].Binary != "xmrig-{version}/xmrig" {
			t.Errorf("asset %s = %+v, want %s", k, assets[k], name)
		}
	}
	var oldWin, newWin abi.Asset
	for _, a := range m.Release.Assets {
		if a.OS == "windows" && a.BeforeVersion == "6.23.0" {
			oldWin = a
		}
		if a.OS == "windows" && a.MinVersion == "6.23.0" {
			newWin = a
		}
	}
	if oldWin.Name != "xmrig-{version}-msvc-win64.zip" || newWin.Name != "xmrig-{version}-windows-x64.zip" ||
		oldWin.Binary != "xmrig-{version}/xmrig.exe" || newWin.Archive != "zip" {
		t.Errorf("windows assets = %+v / %+v", oldWin, newWin)
	}
	algos := map[string]abi.Algorithm{}
	for _, a := range m.Algorithms {
		algos[a.Name] = a
	}
	if a := algos["rx/0"]; a.ShareFactor != 1 || a.DAG || !slices.Contains(a.Devices, "cpu") {
		t.Errorf("rx/0 = %+v", a)
	}
	if a := algos["kawpow"]; a.ShareFactor != 1<<32 || !a.DAG || slices.Contains(a.Devices, "cpu") {
		t.Errorf("kawpow = %+v", a)
	}
	// Every algorithm of the real 6.16.0 /2/summary is listed.
	var sum struct {
		Algorithms []string `json:"algorithms"`
	}
	if err := json.Unmarshal(readFile(t, "testdata/6.16.0/api-summary.json"), &sum); err != nil {
		t.Fatal(err)
	}
	for _, name := range sum.Algorithms {
		if _, ok := algos[name]; !ok {
			t.Errorf("algorithm %s of XMRig 6.16.0 is missing", name)
		}
	}
	if m.API.Kind != abi.APIHTTPJSON || !slices.Equal(m.API.Endpoints, []string{"/2/summary", "/2/backends"}) || m.API.PollIntervalS != 10 {
		t.Errorf("api = %+v", m.API)
	}
	cmds := map[string]string{}
	for _, c := range m.StdinCommands {
		cmds[c.Name] = c.Input
	}
	for name, in := range map[string]string{"hashrate": "h", "pause": "p", "resume": "r", "results": "s", "connection": "c", "health": "e"} {
		if cmds[name] != in {
			t.Errorf("stdin command %s = %q, want %q", name, cmds[name], in)
		}
	}
	for _, o := range []string{"randomx_mode", "huge_pages", "donate_level", "cpu_priority", "keepalive", "nicehash", "print_time"} {
		if !slices.ContainsFunc(m.Options, func(x abi.Option) bool { return x.Name == o }) {
			t.Errorf("option %s is not documented", o)
		}
	}
}

func TestVersionProbeRegex(t *testing.T) {
	re := regexpMust(t, New().Metadata().VersionProbe.Regex)
	for in, want := range map[string]string{
		"XMRig 6.16.0\n built on Nov 26 2021 with GCC 5.4.0": "6.16.0",
		"XMRig/6.16.0 gcc/5.4.0":                             "6.16.0",
		"XMRig-MO 6.21.0-mo1":                                "6.21.0-mo1",
		"XMRig 2.6.0-beta1":                                  "2.6.0-beta1",
		"no miner here":                                      "",
	} {
		m := re.FindStringSubmatch(in)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
