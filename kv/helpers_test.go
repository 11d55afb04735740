package kv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// epoch is the start of simulated time in tests.
var epoch = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// openTest opens a store on fs (a fresh in-memory FS if nil) with clk as
// its clock and no disk reserve; mut adjusts the options.
func openTest(t testing.TB, fs vfs.FS, clk *clock, mut ...func(*Options)) *Store {
	t.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	opts := Options{Dir: "db", FS: fs, Now: clk.Now, ReserveBytes: -1}
	for _, m := range mut {
		m(&opts)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Deterministic synthetic series: integer hashrates (so float sums are exact
// in any order) and share counters that restart now and then.

func genHS(si int, k int64) float64 { return float64(1000 + (k*7+int64(si)*13)%500) }

func genPeriod(si int) int64 { return 500 + int64(si)*37 }

func genAcc(si int, k int64) int64 { return (k%genPeriod(si))*3/2 + int64(si) }

func genRej(si int, k int64) int64 { return (k % genPeriod(si)) / 50 }

func genSeries(i int) string {
	if i%4 == 3 {
		return fmt.Sprintf("rig-%d/nvidia%d", i/4, i%4)
	}
	return fmt.Sprintf("rig-%d", i)
}

// genPoints returns the points of samples [k0, k1) of n series, step apart
// from epoch.
func genPoints(n int, k0, k1 int64, step time.Duration) []miner.Point {
	pts := make([]miner.Point, 0, int(k1-k0)*n)
	for k := k0; k < k1; k++ {
		t := epoch.Add(time.Duration(k) * step)
		for si := range n {
			pts = append(pts, miner.Point{Series: genSeries(si), Time: t, HashrateHS: genHS(si, k), Accepted: genAcc(si, k), Rejected: genRej(si, k)})
		}
	}
	return pts
}

// delta is the test's own statement of the share-delta rule.
func delta(prev int64, hasPrev bool, cur int64) int64 {
	if !hasPrev || cur < prev {
		return cur
	}
	return cur - prev
}

func mq(series string, since, until time.Time, step time.Duration) miner.HistoryQuery {
	return miner.HistoryQuery{Series: series, Since: since, Until: until, Step: step}
}

// storedRaw is a raw point read back from the database.
type storedRaw struct {
	ms int64
	rawValue
}

// readRaw returns every raw point of every series, in key order, straight
// from Pebble (no query planning, no retention filter).
func readRaw(t testing.TB, s *Store) map[string][]storedRaw {
	t.Helper()
	out := map[string][]storedRaw{}
	scanTS(t, s, resRaw, func(series string, ms int64, v []byte) {
		rv, err := decodeRawValue(v)
		if err != nil {
			t.Fatal(err)
		}
		out[series] = append(out[series], storedRaw{ms, rv})
	})
	return out
}

// readRollups returns every rollup of resolution r, by series and time.
func readRollups(t testing.TB, s *Store, r resolution) map[string]map[int64]agg {
	t.Helper()
	out := map[string]map[int64]agg{}
	scanTS(t, s, r, func(series string, ms int64, v []byte) {
		a, err := decodeAggValue(v, ms)
		if err != nil {
			t.Fatal(err)
		}
		if out[series] == nil {
			out[series] = map[int64]agg{}
		}
		out[series][ms] = a
	})
	return out
}

func scanTS(t testing.TB, s *Store, r resolution, fn func(series string, ms int64, v []byte)) {
	t.Helper()
	db, done, err := s.acquire(false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	p := resPrefix(r)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		rr, series, ms, err := decodeTSKey(it.Key())
		if err != nil || rr != r {
			t.Fatalf("key %q: %v", it.Key(), err)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			t.Fatal(err)
		}
		fn(series, ms, v)
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
}

func readMarkers(t testing.TB, s *Store, r resolution) map[string]marker {
	t.Helper()
	db, done, err := s.acquire(false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	names, err := listSeries(db, []byte(prefixMarker+resNames[r]+"/"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]marker{}
	for _, n := range names {
		m, ok, err := getMarker(db, markerKey(r, n))
		if err != nil || !ok {
			t.Fatalf("marker %q: %v %v", n, ok, err)
		}
		out[n] = m
	}
	return out
}

// checkRollups verifies the rollups against the raw points, assuming no
// raw point has expired: for every series, each minute before the minute
// marker that has raw points has a rollup equal to their aggregate (deltas
// by the test's own rule), no rollup exists without raw points or at/after
// the marker ("markers never ahead of data, data never ahead of markers"),
// and likewise for hours over minutes. It returns the number of minute
// rollups checked.
func checkRollups(t testing.TB, s *Store) int {
	t.Helper()
	raw := readRaw(t, s)
	minutes := readRollups(t, s, resMinute)
	hours := readRollups(t, s, resHour)
	mMarks := readMarkers(t, s, resMinute)
	hMarks := readMarkers(t, s, resHour)
	checked := 0
	for series, pts := range raw {
		mm, ok := mMarks[series]
		if !ok {
			if len(minutes[series]) > 0 {
				t.Errorf("%s: minute rollups without a marker", series)
			}
			continue
		}
		want := map[int64]agg{}
		var prevA, prevR int64
		for i, p := range pts {
			dA, dR := delta(prevA, i > 0, p.acc), delta(prevR, i > 0, p.rej)
			prevA, prevR = p.acc, p.rej
			if p.ms >= mm.until {
				continue
			}
			m := floorTo(p.ms, 60_000)
			a := want[m]
			a.addSample(p.ms, p.hs, dA, dR)
			want[m] = a
		}
		for m, w := range want {
			if got, ok := minutes[series][m]; !ok || got != w {
				t.Errorf("%s minute %d (marker %d): rollup %+v, raw says %+v", series, m, mm.until, got, w)
			}
			checked++
		}
		for m := range minutes[series] {
			if _, ok := want[m]; !ok {
				t.Errorf("%s minute %d: rollup without raw points before the marker %d", series, m, mm.until)
			}
		}
	}
	for series, hs := range hours {
		hm, ok := hMarks[series]
		if !ok {
			t.Errorf("%s: hour rollups without a marker", series)
			continue
		}
		if hm.until > mMarks[series].until {
			t.Errorf("%s: hour marker %d ahead of minute marker %d", series, hm.until, mMarks[series].until)
		}
		want := map[int64]agg{}
		for m, a := range minutes[series] {
			if m < hm.until {
				h := floorTo(m, 3_600_000)
				w := want[h]
				w.merge(a)
				want[h] = w
			}
		}
		for h, a := range hs {
			if want[h] != a {
				t.Errorf("%s hour %d: %+v, minutes say %+v", series, h, a, want[h])
			}
		}
		if len(hs) != len(want) {
			t.Errorf("%s: %d hour rollups, minutes give %d", series, len(hs), len(want))
		}
	}
	return checked
}
