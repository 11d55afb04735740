package kv

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rigd/rigd/agent/miner"
)

// genRollups streams the expected rollups of resolution r for series si:
// the aggregates of samples [0, n) at step, by the test's own delta rule.
// fn receives each interval start and aggregate in time order.
func genRollups(si int, n int64, step time.Duration, r resolution, fn func(start int64, a agg)) {
	iv := resInterval[r]
	var cur agg
	curStart := int64(minTime)
	var prevA, prevR int64
	for k := range n {
		ms := epoch.Add(time.Duration(k) * step).UnixMilli()
		a, rj := genAcc(si, k), genRej(si, k)
		if st := floorTo(ms, iv); st != curStart {
			if cur.count > 0 {
				fn(curStart, cur)
			}
			cur, curStart = agg{}, st
		}
		cur.addSample(ms, genHS(si, k), delta(prevA, k > 0, a), delta(prevR, k > 0, rj))
		prevA, prevR = a, rj
	}
	if cur.count > 0 {
		fn(curStart, cur)
	}
}

// compareRollups checks the stored rollups of resolution r of series si
// against the generator: from `from` (unix ms) up to the series' marker
// every expected interval is stored, equal, and nothing else is stored.
// It returns the number of rollups compared.
func compareRollups(t *testing.T, s *Store, si int, n int64, step time.Duration, r resolution, from int64) int {
	t.Helper()
	series := genSeries(si)
	db, done, err := s.acquire(false)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	m, ok, err := getMarker(db, markerKey(r, series))
	if err != nil || !ok {
		t.Fatalf("%s %v marker: %v %v", series, r, ok, err)
	}
	p := seriesPrefix(nil, r, series)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: tsKey(nil, r, series, from), UpperBound: prefixEnd(p)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	valid := it.First()
	compared := 0
	genRollups(si, n, step, r, func(start int64, want agg) {
		if start < from || start >= m.until || t.Failed() {
			return
		}
		if !valid {
			t.Errorf("%s %v: rollup at %d missing", series, r, start)
			return
		}
		k := it.Key()
		got, err := decodeAggValue(value(it), decodeTime(k[len(k)-8:]))
		if at := decodeTime(k[len(k)-8:]); at != start || err != nil || got != want {
			t.Errorf("%s %v at %d: stored %d %+v (%v), want %+v", series, r, start, at, got, err, want)
		}
		compared++
		valid = it.Next()
	})
	if valid && decodeTime(it.Key()[len(it.Key())-8:]) < m.until {
		t.Errorf("%s %v: unexpected rollup at %d", series, r, decodeTime(it.Key()[len(it.Key())-8:]))
	}
	return compared
}

// TestRetentionIntegration: 35 simulated days × 16 series at 10 s, with
// Maintain every simulated hour (time-compressed: the clock is injected).
// Rollups equal the generator's aggregates exactly (and the raw points,
// compared before they expire); nothing older than a cutoff is returned or
// kept. Under -race the shape is 4 series at 60 s (the detector makes
// Pebble ~10× slower); the full shape runs without it. Hashrates are whole
// numbers, so sums are exact in any order. KV_DAYS=n shortens the run (for
// profiling).
func TestRetentionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests millions of points")
	}
	nSeries, step := 16, 10*time.Second
	if raceEnabled {
		nSeries, step = 4, time.Minute
	}
	days := int64(35)
	if d := os.Getenv("KV_DAYS"); d != "" {
		days, _ = strconv.ParseInt(d, 10, 64)
	}
	clk := newClock(epoch)
	s := openTest(t, nil, clk)
	ctx := context.Background()
	perHour := int64(time.Hour / step)
	batch := max(int64(10*time.Minute/step), 1) // one Append per 10 simulated minutes
	start := time.Now()
	var total int64
	for h := int64(0); h < days*24; h++ {
		ingest(t, s, nSeries, h*perHour, (h+1)*perHour, step, batch)
		total += perHour * int64(nSeries)
		clk.Set(epoch.Add(time.Duration(h+1)*time.Hour + RollupDelay))
		if err := s.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if h == 46 { // 47 h in: the raw points are all still there
			checked := checkRollups(t, s)
			n := (h + 1) * perHour
			cmp := 0
			for si := range nSeries {
				cmp += compareRollups(t, s, si, n, step, resMinute, minTime)
				cmp += compareRollups(t, s, si, n, step, resHour, minTime)
			}
			t.Logf("47 h in: %d minute rollups equal their raw points, %d rollups equal the generator", checked, cmp)
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	ingestTook := time.Since(start)
	now := clk.Now()
	n := days * 24 * perHour
	cut := func(d time.Duration) time.Time { return now.Add(-d) }
	rawCut, minCut, hourCut := cut(s.ret.Raw), cut(s.ret.Minute), cut(s.ret.Hour)

	// Rollups still equal the generator, over everything retained.
	cmp := 0
	for si := range nSeries {
		cmp += compareRollups(t, s, si, n, step, resMinute, minCut.UnixMilli())
		cmp += compareRollups(t, s, si, n, step, resHour, minTime)
	}

	// Nothing older than its cutoff is returned...
	returned := 0
	for si := range nSeries {
		for _, st := range []time.Duration{0, time.Minute, time.Hour} {
			pts, err := s.Query(ctx, mq(genSeries(si), time.Time{}, time.Time{}, st))
			if err != nil {
				t.Fatal(err)
			}
			returned += len(pts)
			for _, p := range pts {
				c := map[miner.Resolution]time.Time{"raw": rawCut, "1m": minCut, "1h": hourCut}[p.Resolution]
				if p.Time.Before(c) {
					t.Fatalf("%s step %v: %s point at %v is older than its cutoff %v", genSeries(si), st, p.Resolution, p.Time, c)
				}
			}
		}
		// ...and the summary still counts every sample (hours keep a year).
		sum, err := s.Summary(ctx, genSeries(si))
		if err != nil || sum.Count != n || !sum.FirstSeen.Equal(epoch) {
			t.Errorf("summary of %s: %+v, %v; want %d samples from %v", genSeries(si), sum, err, n, epoch)
		}
	}
	// ...nor kept.
	oldest := map[resolution]int64{}
	counts := map[resolution]int{}
	for r := range numRes {
		oldest[r] = maxTime
		scanTS(t, s, r, func(_ string, ms int64, _ []byte) {
			oldest[r] = min(oldest[r], ms)
			counts[r]++
		})
	}
	// (Deleted in steps of retainGrain.)
	if oldest[resRaw] < rawCut.UnixMilli()-retainGrain[resRaw] || oldest[resMinute] < minCut.UnixMilli()-retainGrain[resMinute] {
		t.Errorf("expired data kept: oldest raw %v (cutoff %v), oldest minute %v (cutoff %v)",
			time.UnixMilli(oldest[resRaw]).UTC(), rawCut, time.UnixMilli(oldest[resMinute]).UTC(), minCut)
	}
	t.Logf("%d days × %d series at %v: %d points in %v; kept %d raw (oldest %v), %d minute (oldest %v), %d hour rollups; %d rollups equal the generator; %d points returned, none older than its cutoff",
		days, nSeries, step, total, ingestTook.Round(time.Second),
		counts[resRaw], now.Sub(time.UnixMilli(oldest[resRaw])).Round(time.Minute),
		counts[resMinute], now.Sub(time.UnixMilli(oldest[resMinute])).Round(time.Minute),
		counts[resHour], cmp, returned)
}

// TestRetentionConfigurable: shorter retention settings are honoured.
func TestRetentionConfigurable(t *testing.T) {
	clk := newClock(epoch)
	s := openTest(t, nil, clk, func(o *Options) {
		o.Retention = Retention{Raw: 20 * time.Minute, Minute: 3 * time.Hour, Hour: 6 * time.Hour}
	})
	const step = 30 * time.Second
	for h := int64(0); h < 10; h++ {
		ingest(t, s, 1, h*120, (h+1)*120, step, 120)
		maintainEvery(t, s, clk, epoch.Add(time.Duration(h+1)*time.Hour+RollupDelay), 20*time.Minute)
	}
	// Deleting runs at most hourly; querying cuts off exactly.
	s.mu.Lock()
	last := s.mu.lastRetention
	s.mu.Unlock()
	now := clk.Now()
	ret := map[resolution]time.Duration{resRaw: 20 * time.Minute, resMinute: 3 * time.Hour, resHour: 6 * time.Hour}
	want := map[resolution]time.Time{}
	for r, d := range ret {
		want[r] = last.Add(-d - time.Duration(retainGrain[r])*time.Millisecond)
		pts, err := s.Query(context.Background(), mq("rig-0", time.Time{}, time.Time{}, time.Duration(resInterval[r])*time.Millisecond))
		if err != nil || len(pts) == 0 {
			t.Fatalf("query: %d points, %v", len(pts), err)
		}
		for _, p := range pts {
			if p.Resolution == resPublic[r] && p.Time.Before(now.Add(-d)) {
				t.Errorf("%v point at %v returned, cutoff %v", r, p.Time, now.Add(-d))
			}
		}
	}
	for r := range numRes {
		n := 0
		scanTS(t, s, r, func(_ string, ms int64, _ []byte) {
			n++
			if ms < want[r].UnixMilli() {
				t.Errorf("%v point at %v kept, cutoff %v", r, time.UnixMilli(ms).UTC(), want[r])
			}
		})
		if n == 0 {
			t.Errorf("no %v points left", r)
		}
	}
	if _, err := Open(context.Background(), Options{Dir: "x", FS: s.baseFS, Retention: Retention{Raw: time.Minute}}); err == nil {
		t.Error("a 1-minute raw retention was accepted")
	}
}
