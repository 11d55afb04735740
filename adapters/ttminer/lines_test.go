package ttminer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// parse runs one batch through sdk.Call and returns the decoded result.
func parse(t *testing.T, a *Adapter, lines ...string) abi.LineResult {
	t.Helper()
	in := append([]byte{byte(abi.Stdout)}, strings.Join(lines, "\n")...)
	st, out := sdk.Call(a, abi.ExportParseLine, in)
	if st != abi.StatusOK {
		t.Fatalf("status %d: %s", st, out)
	}
	var res abi.LineResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	return res
}

func eventsJSON(t *testing.T, evs []abi.Event) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range evs {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// Line formats. Lines marked real are quoted from TT-Miner output users
// posted (testdata/README.md); the others follow those formats with values
// no capture shows (non-zero hashrates and their units).
func TestParseLineFormats(t *testing.T) {
	dev := func(s string) string {
		return `{"type":"device_stats","time":"16:42:13","device":{"id":0,"bus_id":"","name":"","kind":"nvidia",` + s + `}}`
	}
	tests := []struct {
		name  string
		lines []string
		want  string // events, one JSON object per line
	}{
		{"real 2023.1.5 GPU line, no milliseconds",
			[]string{"16:42:13 GPU[00-DEF]:   0 H/s [A0:R0:S0 0.0%]  CClk:405.0 MHz-0%  MClk:405.0 MHz-0%  30°C  40%  11 W  0 H/s/W  5.777 GB left  last: -"},
			dev(`"hashrate_hs":0,"temp_c":30,"fan_pct":40,"power_w":11,"accepted":0,"rejected":0,"stale":0,"core_clock_mhz":405,"mem_clock_mhz":405,"vram_free_mib":5915.648`)},
		{"milliseconds",
			[]string{"16:42:13.123 GPU[00-DEF]:   21.50 MH/s [A7:R1:S2 12.5%]  CClk:1.845 GHz-100%  MClk:7.420 GHz-26%  56°C  70%  85 W  252.9 kH/s/W  1.718 GB left  last: 00:42"},
			`{"type":"device_stats","time":"16:42:13.123","device":{"id":0,"bus_id":"","name":"","kind":"nvidia","hashrate_hs":21500000,"temp_c":56,"fan_pct":70,"power_w":85,"accepted":7,"rejected":1,"stale":2,"core_clock_mhz":1845,"mem_clock_mhz":7420,"vram_free_mib":1759.232}}`},
		{"kH/s", []string{"16:42:13 GPU[03-DEF]:   850.0 kH/s [A0:R0:S0 0.0%]"},
			`{"type":"device_stats","time":"16:42:13","device":{"id":3,"bus_id":"","name":"","kind":"nvidia","hashrate_hs":850000,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":0,"rejected":0,"stale":0}}`},
		{"GH/s and MB", []string{"16:42:13 GPU[00-DEF]:   1.250 GH/s [A0:R0:S0 0.0%]  436.8 MB left"},
			dev(`"hashrate_hs":1250000000,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":0,"rejected":0,"stale":0,"vram_free_mib":436.8`)},
		{"plain H/s", []string{"16:42:13 GPU[00-DEF]:   512.3 H/s [A0:R0:S0 0.0%]"},
			dev(`"hashrate_hs":512.3,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":0,"rejected":0,"stale":0`)},
		{"degree sign lost in a code page", []string{"16:42:13 GPU[00-DEF]:   0 H/s [A0:R0:S0 0.0%]  56?C  40%", "16:42:13 GPU[01-DEF]:   0 H/s [A0:R0:S0 0.0%]  57\xb0C  41%"},
			dev(`"hashrate_hs":0,"temp_c":56,"fan_pct":40,"power_w":null,"accepted":0,"rejected":0,"stale":0`) + "\n" +
				`{"type":"device_stats","time":"16:42:13","device":{"id":1,"bus_id":"","name":"","kind":"nvidia","hashrate_hs":0,"temp_c":57,"fan_pct":41,"power_w":null,"accepted":0,"rejected":0,"stale":0}}`},
		{"real 2025 line: unread sensors are unknown",
			[]string{"09:19:54.293 GPU[00-NOVO]:  *0 H/s [A0:R0:S0 0.0%]  CClk:0 Hz-0%  MClk:0 Hz  0°C  0%  3.818 GB   -"},
			`{"type":"device_stats","time":"09:19:54.293","device":{"id":0,"bus_id":"","name":"","kind":"nvidia","hashrate_hs":0,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":0,"rejected":0,"stale":0,"vram_free_mib":3909.632}}`},
		{"real All line", []string{"16:42:13 All[DEF]:      0 H/s [A0:R0:S0 0.0%]  11 W  0 H/s/W  uptime: 0 00:00:07  last: -"},
			`{"type":"hashrate","time":"16:42:13","hashrate_hs":0}`},
		{"real pool connect", []string{"16:41:06 Pool[DEF-0]:   Connecting to: stratum+tcp://mike.eu.mine.zpool.ca:5356", "16:41:06 Pool[DEF-0]:   Connected to: mike.eu.mine.zpool.ca:5356 - IP4/IP6: 188.165.24.209"},
			`{"type":"pool_connected","time":"16:41:06","pool":"mike.eu.mine.zpool.ca:5356"}`},
		{"real job with height in the same batch", []string{"16:41:06 Pool[DEF-0]:   Received new job#: 3d6", "16:41:06 Pool[DEF-0]:   Working on Block#: 119957"},
			`{"type":"new_job","time":"16:41:06","height":119957}`},
		{"block line alone adds nothing", []string{"16:41:06 Pool[DEF-0]:   Working on Block#: 119957"}, ``},
		{"ignored failure is not an error", []string{"09:37:23.368 Pool[RTM-0]:   General failure -  - Function: SUBSCRIBE EXTRA NONCE - ignored"}, ``},
		{"connection lost", []string{"10:00:00 Pool[DEF-0]:   Connection lost - reconnecting"},
			`{"type":"pool_error","time":"10:00:00","reason":"Connection lost - reconnecting"}`},
		{"real expiry", []string{"11:26:52.077 Beta 5 test period expired - please check for a new version of TT-Miner."},
			`{"type":"fatal","time":"11:26:52.077","message":"Beta 5 test period expired - please check for a new version of TT-Miner."}`},
		{"expiry variants", []string{"This beta version has expired.", "12:00:00 ********* TT-Miner version expired - please update"},
			`{"type":"fatal","message":"This beta version has expired."}` + "\n" + `{"type":"fatal","time":"12:00:00","message":"TT-Miner version expired - please update"}`},
		{"a pool's expired job is not the miner's expiry", []string{"10:00:00 Pool[DEF-0]:   Share rejected: job expired"}, ``},
		{"ANSI colours that slipped through", []string{"\x1b[32m16:42:13 All[DEF]:      \x1b[1;37m1.000 MH/s\x1b[0m [A1:R0:S0 0.0%]  uptime: 0 00:00:07"},
			`{"type":"hashrate","time":"16:42:13","hashrate_hs":1000000}`},
		{"no timestamp (-notimestamp)", []string{"GPU[00-DEF]:   1.000 MH/s [A1:R0:S0 0.0%]"},
			`{"type":"device_stats","device":{"id":0,"bus_id":"","name":"","kind":"nvidia","hashrate_hs":1000000,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":1,"rejected":0,"stale":0}}`},
		{"selected device of the list, AMD by name", []string{"10:00:00 ********* OpenCl-Devices information", "10:00:00 * #04 PCI 05:00.0   AMD Radeon RX 580 Series  8.000 GB / 7.500 GB  SM: 36  {x}", "10:00:00   #05 PCI 06:00.0   AMD Radeon RX 580 Series  8.000 GB / 7.500 GB  SM: 36  {y}", "10:00:30 GPU[04-DEF]:   1.000 GH/s [A0:R0:S0 0.0%]"},
			`{"type":"device_stats","time":"10:00:00","device":{"id":4,"bus_id":"05:00.0","name":"AMD Radeon RX 580 Series","kind":"amd","hashrate_hs":null,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":null,"rejected":null,"stale":null}}` + "\n" +
				`{"type":"device_stats","time":"10:00:30","device":{"id":4,"bus_id":"05:00.0","name":"AMD Radeon RX 580 Series","kind":"amd","hashrate_hs":1000000000,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":0,"rejected":0,"stale":0}}`},
		{"the CPU list is not a GPU list", []string{"11:56:22.747 ********* CPU/Core information", "11:56:22.749 * #05 PCI ff:00.0         GenuineIntel Intel(R) Core(TM) i5-8600K CPU @ 3.60GHz   6 Cores, 6 Threads"}, ``},
		{"garbage", []string{"", "   ", "GPU[", "GPU[x-DEF]: 1 H/s", "GPU[00-DEF]:", "GPU[00-DEF]:   fast H/s [Ax:R0:S0]", "All[DEF]: ", "Pool[DEF-0]:", "Pool[", "*", "#", "99:99:99", "12:00:00.", "\x00\xff\xfe"}, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := parse(t, New(), tc.lines...)
			got := strings.TrimSuffix(eventsJSON(t, res.Events), "\n")
			if got != tc.want {
				t.Errorf("events:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestParseLineStats checks the stats one batch reports.
func TestParseLineStats(t *testing.T) {
	res := parse(t, New(),
		"15:56:25.381 ********* TT-Miner - Version: 2023.4.0 (Sep  7 2023 13:13:32)",
		"23:27:38 Pool[RVN-0]:   Connected to: EU.mining.prohashing.com:3361 - IP4/IP6: 195.3.222.217",
		"23:27:38 Pool[RVN-0]:   Difficulty changed from 0 H to 268.4 MH",
		"16:42:13 GPU[00-DEF]:   21.50 MH/s [A7:R1:S2 12.5%]  61°C  70%  115 W",
		"16:42:13 GPU[01-DEF]:   20.00 MH/s [A3:R0:S0 0.0%]  62°C  71%  116 W",
		"16:42:13 GPU[00-DEF]:   21.60 MH/s [A8:R1:S2 12.5%]  63°C  72%  117 W",
		"16:42:13 All[DEF]:      41.60 MH/s [A11:R1:S2 8.3%]  233 W  178.5 kH/s/W  uptime: 2 03:04:05  last: 00:01",
	)
	st := res.Stats
	if st == nil {
		t.Fatal("no stats")
	}
	if st.Version != "2023.4.0" || st.Pool != "EU.mining.prohashing.com:3361" || st.PoolConnected == nil || !*st.PoolConnected ||
		!near(*st.Difficulty*shareFactor, 268.4e6) || !eq(st.HashrateHS, 41.6e6) || !eqI(st.Accepted, 11) || !eqI(st.Rejected, 1) ||
		!eqI(st.Stale, 2) || !eq(st.UptimeS, ((2*24+3)*60+4)*60+5) {
		t.Errorf("stats = %s", indentJSON(t, st))
	}
	// Devices are never merged into one another; the later line of a device wins.
	if len(st.Devices) != 2 || st.Devices[0].ID != 0 || !eq(st.Devices[0].HashrateHS, 21.6e6) || !eq(st.Devices[0].TempC, 63) ||
		st.Devices[1].ID != 1 || !eq(st.Devices[1].HashrateHS, 20e6) {
		t.Errorf("devices = %s", indentJSON(t, st.Devices))
	}
}

// TestParseLineState: state that crosses batches, and Reset.
func TestParseLineState(t *testing.T) {
	a := New()
	parse(t, a, "10:00:00 Pool[DEF-0]:   Connected to: pool.example.org:3333 - IP4/IP6: 192.0.2.1", "10:00:00 Pool[DEF-0]:   Difficulty changed from 0 H to 4.295 GH")
	res := parse(t, a, "10:00:01 Pool[DEF-0]:   Received new job#: 1")
	if len(res.Events) != 1 || res.Events[0].Pool != "pool.example.org:3333" || res.Events[0].Difficulty == nil || !near(*res.Events[0].Difficulty, 1) {
		t.Errorf("job after connect: %s", eventsJSON(t, res.Events))
	}
	// Once a line carried the active marker, unmarked statistics belong to
	// an inactive coin.
	res = parse(t, a, "10:00:30 GPU[00-A]:  *1.000 MH/s [A1:R0:S0 0.0%]", "10:00:30 GPU[00-B]:   0 H/s [A0:R0:S0 0.0%]", "10:00:30 All[B]:     0 H/s [A0:R0:S0 0.0%]")
	if len(res.Events) != 1 || !eq(res.Stats.Devices[0].HashrateHS, 1e6) || res.Stats.HashrateHS != nil {
		t.Errorf("marked: %s %s", eventsJSON(t, res.Events), indentJSON(t, res.Stats))
	}
	a.Reset()
	res = parse(t, a, "10:00:01 Pool[DEF-0]:   Received new job#: 2", "10:00:30 GPU[00-B]:   0 H/s [A0:R0:S0 0.0%]")
	if len(res.Events) != 2 || res.Events[0].Pool != "" || res.Events[0].Difficulty != nil {
		t.Errorf("after Reset: %s", eventsJSON(t, res.Events))
	}
}

// TestParseLineHostile: huge, binary and malformed input never fails or
// panics and stays within the ABI's output limit.
func TestParseLineHostile(t *testing.T) {
	long := "16:42:13 GPU[00-DEF]:   " + strings.Repeat("9", abi.MaxLineBytes)
	many := strings.Repeat("16:42:13 GPU[00-DEF]:   1 H/s [A1:R1:S1 0.0%]  ", 2000)
	cases := [][]string{
		{long}, {many}, {strings.Repeat("\x1b[", 1000)}, {"GPU[" + strings.Repeat("0", 100) + "-DEF]: 1 H/s [A1:R0:S0]"},
		{"All[DEF]: 1 H/s [A99999999999999999999:R0:S0]  uptime: 99999999 99:99:99"},
		{"Pool[DEF-0]: Difficulty changed from 0 H to 99999999999999999999 TH"},
		{"Pool[DEF-0]: Connected to: " + strings.Repeat("x", 10000)},
	}
	var devs []string
	for i := 0; i < 300; i++ {
		devs = append(devs, "10:00:00 * #"+itoa(i)+" PCI 01:00.0 NVIDIA GeForce RTX 3060  12.00 GB / 2.485 GB")
	}
	cases = append(cases, append([]string{"10:00:00 ********* CUDA-GPU information"}, devs...))
	for i, lines := range cases {
		in := append([]byte{byte(abi.Stdout)}, strings.Join(lines, "\n")...)
		st, out := sdk.Call(New(), abi.ExportParseLine, in)
		if st != abi.StatusOK || !json.Valid(out) || len(out) > abi.MaxOutput {
			t.Errorf("case %d: status %d, %d bytes", i, st, len(out))
		}
	}
	a := New()
	parse(t, a, append([]string{"10:00:00 ********* CUDA-GPU information"}, devs...)...)
	if len(a.lines.selected) > maxTracked {
		t.Errorf("state grew to %d devices", len(a.lines.selected))
	}
}
