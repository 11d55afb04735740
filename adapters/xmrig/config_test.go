package xmrig

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// TestAppendConfigMatchesEncoder checks the hand-written config.json
// writer against the json.Encoder the adapter used before (no HTML
// escaping, 4-space indent, a final newline) on random configs.
func TestAppendConfigMatchesEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	strs := []string{"", "rx/0", "pool.example.com:3333", "<a&b>", "q\"uote\\", "\x00\x1f\n\t", "é€😀", "\u2028\u2029", "\xff\xfe", "{}[],:"}
	str := func() string { return strs[r.IntN(len(strs))] + strs[r.IntN(len(strs))] }
	sp := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	ip := func() *int {
		if r.IntN(3) == 0 {
			return nil
		}
		n := []int{0, -1, 5, math.MaxInt, math.MinInt}[r.IntN(5)]
		return &n
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		c := xmrigConfig{
			API:      apiConfig{ID: sp(), WorkerID: sp()},
			HTTP:     httpConfig{Enabled: r.IntN(2) == 0, Host: str(), Port: r.IntN(70000), AccessToken: str(), Restricted: r.IntN(2) == 0},
			Autosave: r.IntN(2) == 0, Background: r.IntN(2) == 0, Colors: r.IntN(2) == 0, Title: r.IntN(2) == 0,
			RandomX:     randomxConfig{Mode: str()},
			CPU:         cpuConfig{Enabled: r.IntN(2) == 0, HugePages: r.IntN(2) == 0, Priority: ip(), MaxThreadsHint: ip()},
			OpenCL:      gpuConfig{Enabled: r.IntN(2) == 0, Loader: sp(), DevicesHint: str()},
			CUDA:        gpuConfig{Enabled: r.IntN(2) == 0, Loader: sp(), DevicesHint: str()},
			DonateLevel: r.IntN(100) - 1, LogFile: sp(), PrintTime: r.IntN(4000),
			Syslog: r.IntN(2) == 0, Watch: r.IntN(2) == 0, PauseOnBattery: r.IntN(2) == 0, PauseOnActive: r.IntN(2) == 0,
		}
		switch r.IntN(3) {
		case 0:
		case 1:
			c.CPU.Threads = []int{}
		default:
			for k := r.IntN(4); k >= 0; k-- {
				c.CPU.Threads = append(c.CPU.Threads, r.IntN(3)-1)
			}
		}
		switch r.IntN(4) {
		case 0:
		case 1:
			c.Pools = []poolConfig{}
		default:
			for k := r.IntN(3); k >= 0; k-- {
				c.Pools = append(c.Pools, poolConfig{Algo: sp(), Coin: sp(), URL: str(), User: str(), Pass: str(), RigID: sp(),
					Nicehash: r.IntN(2) == 0, Keepalive: r.IntN(2) == 0, Enabled: r.IntN(2) == 0, TLS: r.IntN(2) == 0})
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		if err := enc.Encode(&c); err != nil {
			t.Fatal(err)
		}
		if got := marshalConfig(&c); got != buf.String() {
			t.Fatalf("config %+v:\nmarshalConfig\n%s\njson.Encoder\n%s", c, got, buf.String())
		}
	}
}

// TestOptionErrorOrder: with several bad keys, the error is the first bad
// key's in sorted order, whatever the map order.
func TestOptionErrorOrder(t *testing.T) {
	opts := map[string]abi.RawMessage{"zz": abi.RawMessage(`1`), "donate_level": abi.RawMessage(`"x"`),
		"cuda_loader": abi.RawMessage(`"/x"`), "print_time": abi.RawMessage(`5`), "aa": abi.RawMessage(`1`)}
	for range 50 {
		_, err := parseOptions(opts)
		if err == nil || !strings.Contains(err.Error(), `unknown option "aa"`) {
			t.Fatalf("error %v, want the unknown option aa", err)
		}
	}
	delete(opts, "aa")
	for range 50 {
		_, err := parseOptions(opts)
		if err == nil || !strings.Contains(err.Error(), `option "cuda_loader" is forbidden`) {
			t.Fatalf("error %v, want the forbidden cuda_loader", err)
		}
	}
}
