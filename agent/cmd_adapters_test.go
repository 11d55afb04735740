package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// runCLI runs rigd with args and returns the exit code and outputs.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdaptersListShowsBuiltin(t *testing.T) {
	code, out, errs := runCLI(t, "adapters", "list", "--json", "--data-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list []struct{ Name, Version, ABI, Source, Status string }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	found := false
	for _, a := range list {
		if a.Name == "xmrig" {
			found = true
			if a.Source != "builtin" || a.ABI != "1.0" || a.Status != "ok" || a.Version == "" {
				t.Fatalf("xmrig entry %+v", a)
			}
		}
	}
	if !found {
		t.Fatalf("no xmrig in %s", out)
	}
}

// replayStats runs replay and returns the final stats line, checking
// every line before it is an event.
func replayStats(t *testing.T, args ...string) abi.Stats {
	t.Helper()
	code, out, errs := runCLI(t, append([]string{"adapters", "replay", "--data-dir", t.TempDir()}, args...)...)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
		var ev abi.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type == "" {
			t.Fatalf("not an event line: %q (%v)", l, err)
		}
	}
	var last struct{ Stats *abi.Stats }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Stats == nil {
		t.Fatalf("last line is not {\"stats\": ...}: %q", lines[len(lines)-1])
	}
	return *last.Stats
}

// The Done-when of the foundation issue: replaying the real XMRig log ends
// with the last cumulative accepted count and the last 10 s speed.
func TestReplayRealXMRigLog(t *testing.T) {
	for _, log := range []string{"pool-nocolor.log", "pool-color.log"} {
		st := replayStats(t, "xmrig", filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0", log))
		if log == "pool-nocolor.log" && (st.Accepted == nil || *st.Accepted != 26 || st.HashrateHS == nil || *st.HashrateHS != 39.77) {
			t.Fatalf("%s: accepted %v hashrate %v, want 26 and 39.77", log, st.Accepted, st.HashrateHS)
		}
		if st.Version != "6.16.0" || st.Accepted == nil || *st.Accepted == 0 {
			t.Fatalf("%s: stats %+v", log, st)
		}
	}
	// With an API capture merged after the log.
	dir := filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0")
	st := replayStats(t, "xmrig", filepath.Join(dir, "pool-nocolor.log"),
		"--api", filepath.Join(dir, "api-summary.json"), "--api", "backends="+filepath.Join(dir, "api-backends.json"))
	if st.UptimeS == nil || len(st.Devices) == 0 {
		t.Fatalf("api captures not merged: %+v", st)
	}
}

func TestReplayHostileLog(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("[2026-11-26 22:55:19.643]  cpu      accepted (1/0) diff 50 (5 ms)\n")
	b.Write(bytes.Repeat([]byte("x"), 1<<20))
	b.WriteString("\nNUL \x00 bytes and invalid utf-8 \xff\xfe\n")
	b.Write(bytes.Repeat([]byte("\xff\x00"), 1<<19))
	b.WriteString("\n[2026-11-26 22:55:21.519]  cpu      accepted (2/0) diff 50 (1 ms)\nno newline at the end")
	log := filepath.Join(t.TempDir(), "hostile.log")
	if err := os.WriteFile(log, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := replayStats(t, "xmrig", log)
	if st.Accepted == nil || *st.Accepted != 2 {
		t.Fatalf("accepted %v after the hostile lines, want 2", st.Accepted)
	}
}

// Every hostile module is refused with one line naming it, within 5 s
// (10 s under the race detector: see adapters' refuseLimit).
func TestValidateHostileModules(t *testing.T) {
	limit := 5 * time.Second
	if raceEnabled {
		limit = 10 * time.Second
	}
	files, err := filepath.Glob(filepath.Join("..", "testdata", "hostile", "*.wasm"))
	if err != nil || len(files) < 10 {
		t.Fatalf("hostile modules: %v %v", files, err)
	}
	for _, f := range files {
		start := time.Now()
		code, _, errs := runCLI(t, "adapters", "validate", f)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", f, code)
		}
		if took := time.Since(start); took > limit {
			t.Errorf("%s: took %v, want ≤ %v", f, took, limit)
		}
		if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rigd: adapter ") || !strings.Contains(errs, filepath.Base(f)) {
			t.Errorf("%s: stderr %q is not one line naming the module", f, errs)
		}
	}
	code, out, errs := runCLI(t, "adapters", "validate", filepath.Join("..", "adapters", "xmrig", "xmrig.wasm"))
	if code != 0 || !strings.HasPrefix(out, "ok: xmrig ") {
		t.Fatalf("validate xmrig.wasm: exit %d %s %s", code, out, errs)
	}
}

// flakySession stands for an adapter that fails some batches: those holding
// a line starting with "bad".
type flakySession struct{ miner.Session }

func (flakySession) ParseLines(_ context.Context, _ abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var res abi.LineResult
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("bad")) {
			return abi.LineResult{}, errors.New("cannot parse")
		}
		n := int64(len(res.Events) + 1)
		res.Events = append(res.Events, abi.Event{Type: abi.EventShareAccepted, Message: string(l)})
		res.Stats = &abi.Stats{Accepted: &n}
	}
	return res, nil
}

// Replay goes on past a batch the adapter fails, as supervision does, and
// says which lines it held; it used to stop there.
func TestReplaySkipsFailedBatches(t *testing.T) {
	var log strings.Builder
	for i := 1; i <= 3*abi.MaxLineBatch+10; i++ {
		if i == abi.MaxLineBatch+5 {
			log.WriteString("bad line\n")
		} else {
			fmt.Fprintf(&log, "line %d\n", i)
		}
	}
	var out, errs bytes.Buffer
	st, failed, err := replayLog(context.Background(), flakySession{}, abi.Stdout, strings.NewReader(log.String()), json.NewEncoder(&out), &errs)
	if err != nil || failed != 1 {
		t.Fatalf("failed %d, err %v", failed, err)
	}
	if want := fmt.Sprintf("rigd: lines %d-%d: cannot parse\n", abi.MaxLineBatch+1, 2*abi.MaxLineBatch); errs.String() != want {
		t.Fatalf("stderr %q, want %q", errs.String(), want)
	}
	if n := strings.Count(out.String(), "\n"); n != 2*abi.MaxLineBatch+10 {
		t.Fatalf("%d events, want those of the three good batches (%d)", n, 2*abi.MaxLineBatch+10)
	}
	if st.Accepted == nil || *st.Accepted != 10 || !strings.Contains(out.String(), fmt.Sprintf(`"line %d"`, 3*abi.MaxLineBatch+10)) {
		t.Fatalf("the stats or events stop before the end: accepted %v", st.Accepted)
	}
}
