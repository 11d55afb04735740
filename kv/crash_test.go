package kv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

// powerRound opens a store on fs, appends and maintains concurrently for a
// random while, then takes a crash clone of fs — the state a power cut
// would leave: everything synced plus a random part of what was not — and
// returns it with the number of points acknowledged before the cut.
// unsyncedPct is the share of unsynced writes the clone keeps (-1: random).
// Points are numbered from start; point q has q as its accepted counter
// and is at epoch + q×pointSpacing, and the clock follows the newest point.
func powerRound(t *testing.T, fs *vfs.MemFS, start int64, noSync bool, unsyncedPct int, rng *rand.Rand) (*vfs.MemFS, int64) {
	t.Helper()
	clk := newClock(epoch.Add(time.Duration(start) * pointSpacing))
	s := openTest(t, fs, clk, func(o *Options) { o.NoSync = noSync })
	ctx, cancel := context.WithCancel(context.Background())
	var acked atomic.Int64
	acked.Store(start)
	var wg sync.WaitGroup
	var appendErr, maintainErr error
	batchRNG := rand.New(rand.NewPCG(rng.Uint64(), 2))
	wg.Go(func() { // the collector
		for q := start; ctx.Err() == nil; {
			n := 1 + batchRNG.Int64N(40)
			pts := make([]miner.Point, n)
			for i := range pts {
				pts[i] = miner.Point{
					Series:     fmt.Sprintf("p-%d", (q+int64(i))%3),
					Time:       epoch.Add(time.Duration(q+int64(i)) * pointSpacing),
					HashrateHS: float64((q + int64(i)) % 977),
					Accepted:   q + int64(i),
					Rejected:   (q + int64(i)) / 64,
				}
			}
			if err := s.Append(ctx, pts); err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
					appendErr = err
				}
				return
			}
			q += n
			acked.Store(q)
			clk.Set(epoch.Add(time.Duration(q) * pointSpacing))
			time.Sleep(time.Duration(batchRNG.IntN(1000)) * time.Microsecond)
		}
	})
	wg.Go(func() { // the compactor
		for ctx.Err() == nil {
			if err := s.Maintain(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				maintainErr = err
				return
			}
		}
	})
	time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	ackedBefore := acked.Load() // every Append counted here returned before the cut
	if unsyncedPct < 0 {
		unsyncedPct = rng.IntN(101)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPct, RNG: rand.New(rand.NewPCG(rng.Uint64(), 3))})
	cancel()
	wg.Wait()
	if err := errors.Join(appendErr, maintainErr); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return crashed, ackedBefore
}

// checkAcked reopens fs and counts the points in [0, acked) that are
// missing, and checks rollups against raw points.
func checkAcked(t *testing.T, fs *vfs.MemFS, acked int64, start int64, rollups bool) (lost, lostRound int64, checked int) {
	t.Helper()
	clk := newClock(epoch.Add(time.Duration(acked) * pointSpacing))
	s := openTest(t, fs, clk)
	defer s.Close()
	found := make([]bool, acked)
	for _, pts := range readRaw(t, s) {
		for _, p := range pts {
			if p.acc < acked {
				found[p.acc] = true
			}
		}
	}
	for q := range acked {
		if !found[q] {
			lost++
			if q >= start {
				lostRound++
			}
		}
	}
	if rollups {
		checked = checkRollups(t, s)
	}
	return lost, lostRound, checked
}

// TestPowerLoss: 100 simulated power cuts at random moments, in 10 chains
// of 10 (each round starts from the previous round's crashed state), with
// appends and rollups running: every acknowledged point survives and
// rollups are exactly their raw points — a marker is never ahead of its
// rollups, nor behind them. The NoSync control must lose points.
func TestPowerLoss(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	chains := 10
	if testing.Short() {
		chains = 2
	}
	var total int64
	checked, cuts := 0, 0
	for range chains {
		fs := vfs.NewCrashableMem()
		var acked int64
		for range 10 {
			crashed, a := powerRound(t, fs, acked, false, -1, rng)
			lost, _, c := checkAcked(t, crashed, a, acked, true)
			cuts++
			if lost != 0 {
				t.Fatalf("cut %d: %d of %d acknowledged points lost", cuts, lost, a)
			}
			if t.Failed() {
				t.Fatalf("cut %d: rollups inconsistent after the cut", cuts)
			}
			fs, acked, checked = crashed, a, checked+c
		}
		total += acked
	}
	t.Logf("%d power cuts: %d points acknowledged, 0 lost; %d minute rollups (and their hours) checked against raw points after the cuts",
		cuts, total, checked)

	// Control: NoSync, and cuts that keep nothing unsynced.
	fs := vfs.NewCrashableMem()
	var lostAll, acked int64
	for i := range 5 {
		crashed, a := powerRound(t, fs, acked, true, 0, rng)
		_, lostRound, _ := checkAcked(t, crashed, a, acked, false)
		t.Logf("NoSync control cut %d: acknowledged %d, lost %d", i, a-acked, lostRound)
		lostAll += lostRound
		fs, acked = crashed, a-lostRound
	}
	if lostAll == 0 {
		t.Error("the NoSync control lost nothing: the power-loss test cannot tell synced from unsynced writes")
	}
}

// pointSpacing is the simulated time between consecutive points (of any
// series) in the power-loss test: a round of a few hundred points spans
// hours, so minute and hour rollups run, and get cut, in every round.
const pointSpacing = 10 * time.Second
