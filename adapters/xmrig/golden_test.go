package xmrig

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

// logFiles lists every captured console log under testdata.
func logFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no logs in testdata: %v", err)
	}
	return files
}

// TestGoldenLogs replays every log in testdata and compares the events and
// the final merged stats with <log>.events.jsonl and <log>.stats.json.
func TestGoldenLogs(t *testing.T) {
	for _, path := range logFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			log, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			events, stats := replay(t, New(), log)
			base := strings.TrimSuffix(path, ".log")
			checkGolden(t, base+".events.jsonl", events)
			checkGolden(t, base+".stats.json", indentJSON(t, stats))
		})
	}
}

// TestReplayDoneWhen is issue 2's acceptance check on the real 6.16.0 pool
// capture: the replayed stats end with the last cumulative accepted count
// and the last 10 s speed of the log.
func TestReplayDoneWhen(t *testing.T) {
	log, err := os.ReadFile(filepath.Join("testdata", "6.16.0", "pool-nocolor.log"))
	if err != nil {
		t.Fatal(err)
	}
	_, st := replay(t, New(), log)
	if st.Accepted == nil || *st.Accepted != 26 {
		t.Errorf("accepted = %v, want 26", ptrString(st.Accepted))
	}
	if st.Rejected == nil || *st.Rejected != 0 {
		t.Errorf("rejected = %v, want 0", ptrString(st.Rejected))
	}
	if st.HashrateHS == nil || *st.HashrateHS != 39.77 {
		t.Errorf("hashrate_hs = %v, want 39.77", ptrString(st.HashrateHS))
	}
	if st.HashrateMaxHS == nil || *st.HashrateMaxHS != 40.08 {
		t.Errorf("hashrate_max_hs = %v, want 40.08", ptrString(st.HashrateMaxHS))
	}
	if st.Hashrate60sHS != nil || st.Hashrate15mHS != nil {
		t.Errorf("60s/15m = %v/%v, want null (the log only has n/a)", ptrString(st.Hashrate60sHS), ptrString(st.Hashrate15mHS))
	}
	if st.Pool != "127.0.0.1:13334" || st.PoolConnected == nil || !*st.PoolConnected {
		t.Errorf("pool = %q connected %v", st.Pool, ptrString(st.PoolConnected))
	}
	if st.Version != "6.16.0" || st.Algorithm != "rx/0" || st.Difficulty == nil || *st.Difficulty != 50 {
		t.Errorf("version %q algo %q difficulty %v", st.Version, st.Algorithm, ptrString(st.Difficulty))
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "null"
	}
	b, _ := json.Marshal(*p)
	return string(b)
}
