package ttminer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// replay feeds a console log through the adapter exactly as the host does:
// batches of abi.MaxLineBatch lines, each prefixed with the stream byte and
// joined with '\n', through sdk.Call. It returns the events as JSON lines
// and the merged stats.
func replay(t testing.TB, a sdk.Adapter, log []byte) (events []byte, stats abi.Stats) {
	t.Helper()
	if st, out := sdk.Call(a, abi.ExportReset, nil); st != abi.StatusOK {
		t.Fatalf("reset: status %d: %s", st, out)
	}
	lines := bytes.Split(bytes.TrimSuffix(log, []byte("\n")), []byte("\n"))
	var evbuf bytes.Buffer
	for start := 0; start < len(lines); start += abi.MaxLineBatch {
		end := min(start+abi.MaxLineBatch, len(lines))
		in := append([]byte{byte(abi.Stdout)}, bytes.Join(lines[start:end], []byte("\n"))...)
		st, out := sdk.Call(a, abi.ExportParseLine, in)
		if st != abi.StatusOK {
			t.Fatalf("parse_line batch at line %d: status %d: %s", start+1, st, out)
		}
		var res abi.LineResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("parse_line batch at line %d: output is not a LineResult: %v", start+1, err)
		}
		for _, ev := range res.Events {
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			evbuf.Write(b)
			evbuf.WriteByte('\n')
		}
		stats.Merge(res.Stats)
	}
	return evbuf.Bytes(), stats
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

func indentJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// logFiles lists every console log under testdata.
func logFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	if err != nil || len(files) < 8 {
		t.Fatalf("want the logs of testdata/README.md, found %v (%v)", files, err)
	}
	return files
}

// TestGoldenLogs replays every log in testdata and compares the events and
// the final merged stats with <log>.events.jsonl and <log>.stats.json.
func TestGoldenLogs(t *testing.T) {
	for _, path := range logFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			events, stats := replay(t, New(), readFile(t, path))
			base := strings.TrimSuffix(path, ".log")
			checkGolden(t, base+".events.jsonl", events)
			checkGolden(t, base+".stats.json", indentJSON(t, stats))
		})
	}
}

// TestGoldenAPI parses every miner_getstat1 reply in testdata
// (<name>-getstat.json) on a fresh adapter and compares the Stats with
// <name>.stats.json.
func TestGoldenAPI(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*-getstat.json"))
	if len(files) < 3 {
		t.Fatalf("want at least 3 API replies, found %v", files)
	}
	for _, path := range files {
		t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
			st, aerr := callAPI(t, New(), string(readFile(t, path)))
			if aerr != nil {
				t.Fatalf("parse_api: %+v", aerr)
			}
			checkGolden(t, strings.TrimSuffix(path, "-getstat.json")+".stats.json", indentJSON(t, st))
		})
	}
}

// TestReplaySamples is the acceptance check on the seed samples
// file (real 2023.1.5/2023.4.0 lines): per-device stats with the device id,
// kind and units.
func TestReplaySamples(t *testing.T) {
	_, st := replay(t, New(), readFile(t, filepath.Join("testdata", "2023.4.0", "ttminer-lines.log")))
	if st.Version != "2023.4.0" || st.Pool != "mike.eu.mine.zpool.ca:5356" || st.PoolConnected == nil || !*st.PoolConnected {
		t.Errorf("version %q pool %q connected %s", st.Version, st.Pool, ptrString(st.PoolConnected))
	}
	if !eq(st.HashrateHS, 0) || !eqI(st.Accepted, 0) || !eqI(st.Rejected, 0) || !eqI(st.Stale, 0) || !eq(st.UptimeS, 12) {
		t.Errorf("hashrate %s shares %s/%s/%s uptime %s", ptrString(st.HashrateHS), ptrString(st.Accepted), ptrString(st.Rejected), ptrString(st.Stale), ptrString(st.UptimeS))
	}
	// "Difficulty changed from 0 H to 1.310 kH": 1310 hashes per share.
	if st.Difficulty == nil || !near(*st.Difficulty*shareFactor, 1310) {
		t.Errorf("difficulty %s x 2^32, want 1310 hashes", ptrString(st.Difficulty))
	}
	if len(st.Devices) != 1 {
		t.Fatalf("devices = %s", indentJSON(t, st.Devices))
	}
	d := st.Devices[0]
	// The last GPU line: "0 H/s [A0:R0:S0 0.0%]  CClk:300.0 MHz-0%  MClk:405.0 MHz-0%  34°C  40%  10 W  0 H/s/W  1.198 GB left".
	if d.ID != 0 || d.Kind != "nvidia" || !eq(d.HashrateHS, 0) || !eq(d.TempC, 34) || !eq(d.FanPct, 40) || !eq(d.PowerW, 10) ||
		!eq(d.CoreClockMHz, 300) || !eq(d.MemClockMHz, 405) || !eq(d.VRAMFreeMiB, 1.198*1024) || !eqI(d.Accepted, 0) {
		t.Errorf("device = %s", indentJSON(t, d))
	}
}

// TestReplaySynthetic checks the units on the constructed logs: MH/s, GH/s
// and kH/s become H/s, GHz clocks MHz, GB and MB free memory MiB, and
// devices keep their ids (0 and 2, with 1 unselected).
func TestReplaySynthetic(t *testing.T) {
	_, st := replay(t, New(), readFile(t, filepath.Join("testdata", "synthetic", "two-gpus-kawpow.log")))
	if !eq(st.HashrateHS, 21.8e6) || !eqI(st.Accepted, 161) || !eqI(st.Rejected, 2) || !eqI(st.Stale, 1) || !eq(st.UptimeS, 90040) {
		t.Errorf("totals: hashrate %s shares %s/%s/%s uptime %s", ptrString(st.HashrateHS), ptrString(st.Accepted), ptrString(st.Rejected), ptrString(st.Stale), ptrString(st.UptimeS))
	}
	if st.Difficulty == nil || !near(*st.Difficulty*shareFactor, 8.59e9) {
		t.Errorf("difficulty %s", ptrString(st.Difficulty))
	}
	if len(st.Devices) != 2 || st.Devices[0].ID != 0 || st.Devices[1].ID != 2 {
		t.Fatalf("devices = %s", indentJSON(t, st.Devices))
	}
	d0, d2 := st.Devices[0], st.Devices[1]
	if d0.Name != "NVIDIA GeForce RTX 3060 Ti" || d0.BusID != "01:00.0" || !eq(d0.HashrateHS, 21.8e6) || !eq(d0.CoreClockMHz, 1665) ||
		!eq(d0.MemClockMHz, 7000) || !eq(d0.VRAMFreeMiB, 5.12*1024) || !eq(d0.TempC, 64) || !eqI(d0.Accepted, 161) {
		t.Errorf("device 0 = %s", indentJSON(t, d0))
	}
	// GPU 2 stopped reporting after 10:00:21: its last values stay.
	if d2.Name != "NVIDIA GeForce RTX 3090" || !eq(d2.HashrateHS, 45.25e6) || !eqI(d2.Rejected, 1) || !eq(d2.PowerW, 312) {
		t.Errorf("device 2 = %s", indentJSON(t, d2))
	}

	_, st = replay(t, New(), readFile(t, filepath.Join("testdata", "synthetic", "units-marked.log")))
	// The EP selector is not the active one (no '*'): its 0 H/s lines are ignored.
	if !eq(st.HashrateHS, 1.313e9) || st.Algorithm != "sha512256d" || st.Pool != "rxd.example.org:5166" {
		t.Errorf("hashrate %s algo %q pool %q", ptrString(st.HashrateHS), st.Algorithm, st.Pool)
	}
	if len(st.Devices) != 2 || !eq(st.Devices[0].HashrateHS, 1.312e9) || !eq(st.Devices[1].HashrateHS, 912e3) ||
		!eq(st.Devices[1].VRAMFreeMiB, 512) || !eq(st.Devices[1].MemClockMHz, 405) {
		t.Errorf("devices = %s", indentJSON(t, st.Devices))
	}
}

// TestReplayExpiry: the real beta expiry line is a fatal event.
func TestReplayExpiry(t *testing.T) {
	events, st := replay(t, New(), readFile(t, filepath.Join("testdata", "2024.2.1-beta5", "expired-issue10.log")))
	want := `{"type":"fatal","time":"11:26:52.077","message":"Beta 5 test period expired - please check for a new version of TT-Miner."}` + "\n"
	if string(events) != want {
		t.Errorf("events:\n%s\nwant:\n%s", events, want)
	}
	if st.Version != "2024.2.1" {
		t.Errorf("version %q", st.Version)
	}
}
