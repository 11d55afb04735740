package kv

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// The kill -9 test: a child process (this test binary, re-executed)
// ingests 1,000 points/s — 20 points every 20 ms, each batch one Append —
// and prints "ack <first> <last>" after each Append returns. The parent
// kills it with SIGKILL at a random moment, reads every ack that reached
// the pipe, reopens the database and looks for every acknowledged point.
// Each point carries its sequence number as its accepted-shares counter.

const (
	ingestBatch  = 20
	ingestEvery  = 20 * time.Millisecond
	ingestSeries = 4
)

func childIngest() error {
	start, err := strconv.ParseInt(os.Getenv("KV_START"), 10, 64)
	if err != nil {
		return err
	}
	realStart, err := strconv.ParseInt(os.Getenv("KV_T0"), 10, 64)
	if err != nil {
		return err
	}
	now := simClock(realStart)
	t0 := time.Now()
	s, err := Open(context.Background(), Options{Dir: os.Getenv("KV_DIR"), NoSync: os.Getenv("KV_NOSYNC") == "1", ReserveBytes: -1, Now: now})
	if err != nil {
		return err
	}
	fmt.Printf("open %d\n", time.Since(t0).Microseconds())
	// Rollups run as in the agent (more often, to hit more crash points);
	// the process dies by SIGKILL, which is what is being tested.
	go func() {
		for {
			_ = s.Maintain(context.Background())
			time.Sleep(100 * time.Millisecond)
		}
	}()
	tick := time.NewTicker(ingestEvery)
	defer tick.Stop()
	pts := make([]miner.Point, ingestBatch)
	for seq := start; ; seq += ingestBatch {
		<-tick.C
		now := now()
		for i := range pts {
			q := seq + int64(i)
			pts[i] = miner.Point{
				Series:     fmt.Sprintf("dur-%d", q%ingestSeries),
				Time:       now.Add(time.Duration(i/ingestSeries) * time.Millisecond),
				HashrateHS: float64(q % 1000),
				Accepted:   q,
				Rejected:   q / 100,
			}
		}
		if err := s.Append(context.Background(), pts); err != nil {
			return err
		}
		// One write(2) per ack: it is in the pipe before the next Append.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d %d\n", seq, seq+ingestBatch-1); err != nil {
			return err
		}
	}
}

// simSpeed is how much faster than real time the children's clock runs, so
// that minutes and hours complete (and get rolled up, and killed while
// being rolled up) within the test: one real second is five minutes, and
// RollupDelay is 33 real milliseconds — the time a point may take from
// the clock to Append.
const simSpeed = 300

// simClock is epoch plus simSpeed times the real time since realStart (unix
// ns, the same for every child of a test, so the clock never goes back).
func simClock(realStart int64) func() time.Time {
	return func() time.Time {
		return epoch.Add(time.Duration(time.Now().UnixNano()-realStart) * simSpeed)
	}
}

type killResult struct {
	acked     int64 // highest acknowledged sequence number + 1
	lost      int64 // acknowledged points not found after reopen
	lostRound int64 // of which acknowledged in this round
	childOpen time.Duration
	reopen    time.Duration
	rollups   int
}

// killRound runs one child from seq start, kills it after a random delay,
// then reopens and counts lost acknowledged points.
func killRound(t *testing.T, dir string, realStart, start int64, noSync bool, rng *rand.Rand) killResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	ns := "0"
	if noSync {
		ns = "1"
	}
	cmd.Env = childCmdEnv("ingest", "KV_DIR="+dir, "KV_START="+strconv.FormatInt(start, 10), "KV_NOSYNC="+ns,
		"KV_T0="+strconv.FormatInt(realStart, 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res killResult
	res.acked = start
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		firstSeen := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "open":
				us, _ := strconv.ParseInt(f[1], 10, 64)
				res.childOpen = time.Duration(us) * time.Microsecond
			case len(f) == 3 && f[0] == "ack":
				a, _ := strconv.ParseInt(f[1], 10, 64)
				b, _ := strconv.ParseInt(f[2], 10, 64)
				if a != res.acked {
					done <- fmt.Errorf("ack %d-%d does not follow %d", a, b, res.acked)
					return
				}
				res.acked = b + 1
				if !firstSeen {
					firstSeen = true
					close(first)
				}
			}
		}
		done <- sc.Err()
	}()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child acknowledged nothing in 20 s")
	}
	time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	t0 := time.Now()
	s, err := Open(context.Background(), Options{Dir: dir, ReserveBytes: -1, Now: simClock(realStart)})
	res.reopen = time.Since(t0)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	found := make([]bool, res.acked)
	for _, pts := range readRaw(t, s) {
		for _, p := range pts {
			if p.acc < res.acked {
				found[p.acc] = true
			}
		}
	}
	for q := int64(0); q < res.acked; q++ {
		if !found[q] {
			res.lost++
			if q >= start {
				res.lostRound++
			}
		}
	}
	if !noSync {
		res.rollups = checkRollups(t, s)
	}
	return res
}

// TestKill9DurabilityIntegration: 20 SIGKILLs of a synced ingester lose no
// acknowledged point and the database opens in under 2 s; the NoSync
// control loses points, so the test can tell.
func TestKill9DurabilityIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds take ~30 s")
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	dir := filepath.Join(t.TempDir(), "db")
	realStart := time.Now().UnixNano()
	var next int64
	var maxReopen, maxChildOpen time.Duration
	rollups := 0
	for i := range 20 {
		r := killRound(t, dir, realStart, next, false, rng)
		t.Logf("round %2d: %5d acknowledged in all, lost %d, child opened in %v, reopen %v, %d minute rollups verified",
			i, r.acked, r.lost, r.childOpen.Round(time.Millisecond), r.reopen.Round(time.Millisecond), r.rollups)
		if r.lost != 0 {
			t.Errorf("round %d: %d acknowledged points lost", i, r.lost)
		}
		if r.reopen > 2*time.Second || r.childOpen > 2*time.Second {
			t.Errorf("round %d: open took %v / %v, want < 2 s", i, r.reopen, r.childOpen)
		}
		maxReopen, maxChildOpen = max(maxReopen, r.reopen), max(maxChildOpen, r.childOpen)
		rollups = max(rollups, r.rollups)
		next = r.acked
	}
	t.Logf("synced: %d points acknowledged over 20 kills, 0 lost; slowest open after a kill %v (child) / %v (parent); %d minute rollups consistent",
		next, maxChildOpen.Round(time.Millisecond), maxReopen.Round(time.Millisecond), rollups)

	// Control: without sync the same kill loses acknowledged points. Not
	// through the page cache (it survives a process kill) but because Pebble
	// keeps the WAL's unfinished 32 KiB block in process memory until a sync
	// or a full block writes it out.
	cdir := filepath.Join(t.TempDir(), "db")
	next = 0
	var lost int64
	for i := range 5 {
		r := killRound(t, cdir, realStart, next, true, rng)
		t.Logf("NoSync control round %d: acknowledged %d points, lost %d of them", i, r.acked-next, r.lostRound)
		lost += r.lostRound
		next = r.acked
	}
	if lost == 0 {
		t.Error("the NoSync control lost nothing: the kill test cannot tell synced from unsynced writes")
	}
	t.Logf("NoSync control: %d acknowledged points lost over 5 kills", lost)
}
