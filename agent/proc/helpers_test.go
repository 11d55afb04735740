package proc_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/agenttest"
	"github.com/rigd/rigd/agent/proc"
)

// startProc starts spec and makes sure the process is stopped when the test
// ends.
func startProc(t testing.TB, spec proc.Spec) *proc.Process {
	t.Helper()
	p, err := proc.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
	return p
}

func wait(t testing.TB, p *proc.Process, d time.Duration) proc.Exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	e, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v; lines: %v", err, texts(p.Lines(20, 0)))
	}
	return e
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitReady(t testing.TB, path string) agenttest.FakeReady {
	t.Helper()
	var r agenttest.FakeReady
	waitFor(t, 20*time.Second, "fake miner ready file", func() bool {
		return agenttest.ReadFakeJSON(path, &r) == nil
	})
	return r
}

func texts(lines []proc.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// stat is the part of /proc/<pid>/stat the tests look at.
type stat struct {
	pid, ppid, pgrp int
	state           byte
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	return stat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

func allStats() []stat {
	ents, _ := os.ReadDir("/proc")
	var out []stat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := readStat(pid); ok {
			out = append(out, s)
		}
	}
	return out
}

// groupProcs lists the processes, zombies included, of the given groups.
func groupProcs(pgids ...int) []stat {
	want := map[int]bool{}
	for _, g := range pgids {
		want[g] = true
	}
	var out []stat
	for _, s := range allStats() {
		if want[s.pgrp] {
			out = append(out, s)
		}
	}
	return out
}

// childProcs lists this process's children (zombies included).
func childProcs() []stat {
	self := os.Getpid()
	var out []stat
	for _, s := range allStats() {
		if s.ppid == self {
			out = append(out, s)
		}
	}
	return out
}

func zombies(ss []stat) int {
	n := 0
	for _, s := range ss {
		if s.state == 'Z' {
			n++
		}
	}
	return n
}

// vmRSS returns this process's resident set size in bytes.
func vmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// settleGoroutines waits for the goroutine count to come back to at most
// limit and returns it.
func settleGoroutines(limit int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}
