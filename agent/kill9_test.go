package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// agentProcess is `rigd serve` running as its own process.
type agentProcess struct {
	cmd *exec.Cmd
	log *lockedBuffer
}

// lockedBuffer is a buffer written by a child's output copier and read by
// the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startAgentProcess(t *testing.T, bin, dataDir string) *agentProcess {
	t.Helper()
	os.Remove(filepath.Join(dataDir, "agent.addr"))
	p := &agentProcess{log: &lockedBuffer{}}
	p.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--p2p-listen=", "--poll-interval", "1s")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	})
	eventually(t, 60*time.Second, func() string {
		if _, err := os.Stat(filepath.Join(dataDir, "agent.addr")); err != nil {
			return "the agent is not serving yet"
		}
		return ""
	})
	return p
}

// TestAgentKill9Integration kills `rigd serve` with SIGKILL while it
// supervises a miner, and starts it again: the miner left behind is
// stopped (never two copies), the autostart set brings it back, and the
// history acknowledged before the kill is still there.
func TestAgentKill9Integration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the agent binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rigd")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build rigd: %v\n%s", err, out)
	}
	fake := buildFakeTTMiner(t, `{"interval_ms": 300, "gpus": [{"id": 0, "hashrate_hs": 21500000}]}`)
	data := filepath.Join(dir, "data")
	shareWasmCache(t, data)
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := run(context.Background(), append(args, "--data-dir", data)...)
		if code != 0 {
			t.Fatalf("rigd %s: exit %d %s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}

	a1 := startAgentProcess(t, bin, data)
	cli("install", "ttminer", "--from", fake)
	cli("start", "ttminer", "--algo", "kawpow", "--pool", "127.0.0.1:3333", "--user", "RWallet", "--name", "gpu")
	var before []miner.HistoryPoint
	eventually(t, 30*time.Second, func() string {
		var r router.HistoryRange
		if err := json.Unmarshal([]byte(cli("history", "gpu", "--since", "1h", "--step", "0s", "--json")), &r); err != nil {
			return err.Error()
		}
		if len(r.Points) < 3 {
			return fmt.Sprintf("%d stored points", len(r.Points))
		}
		before = r.Points
		return ""
	})
	status := func() miner.Info {
		var st struct{ Miner miner.Info }
		if err := json.Unmarshal([]byte(cli("status", "gpu", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		return st.Miner
	}
	orphan := status().PID
	if orphan == 0 {
		t.Fatal("no pid")
	}

	// SIGKILL: no shutdown, the miner keeps running without its agent.
	a1.cmd.Process.Kill()
	a1.cmd.Wait()
	if err := syscall.Kill(orphan, 0); err != nil {
		t.Fatalf("the miner died with the agent: %v", err)
	}

	a2 := startAgentProcess(t, bin, data)
	eventually(t, 30*time.Second, func() string {
		if syscall.Kill(orphan, 0) == nil && !zombie(orphan) {
			return "the leftover miner still runs"
		}
		if info := status(); info.State != miner.StateRunning || info.PID == orphan {
			return "not autostarted: " + string(info.State)
		}
		return ""
	})
	// The leftover is either stopped by the new agent or already dead of
	// its closed output pipe; either way exactly one copy runs now.
	if n := processesOf(t, status().Binary); n != 1 {
		t.Fatalf("%d copies of the miner run after the restart", n)
	}
	t.Logf("leftover reaped by the new agent: %v", strings.Contains(a2.log.String(), "stopped miners left running by a previous agent"))
	var after router.HistoryRange
	if err := json.Unmarshal([]byte(cli("history", "gpu", "--since", "1h", "--step", "0s", "--json")), &after); err != nil {
		t.Fatal(err)
	}
	have := map[int64]bool{}
	for _, p := range after.Points {
		have[p.Time.UnixMilli()] = true
	}
	lost := 0
	for _, p := range before {
		if !have[p.Time.UnixMilli()] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d points acknowledged before the kill are gone", lost, len(before))
	}
	t.Logf("%d points before the kill, all kept; %d after the restart", len(before), len(after.Points))
}

// zombie reports whether pid is a zombie (dead, not yet reaped).
func zombie(pid int) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "State:") {
			return strings.Contains(sc.Text(), "Z")
		}
	}
	return false
}

// processesOf counts live processes running the executable path.
func processesOf(t *testing.T, path string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == path && !zombie(pid) {
			n++
		}
	}
	return n
}
