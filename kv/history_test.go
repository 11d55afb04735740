package kv

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

func TestChooseResolution(t *testing.T) {
	for _, tc := range []struct {
		step time.Duration
		want resolution
	}{
		{0, resRaw},
		{-time.Second, resRaw},
		{10 * time.Second, resRaw},
		{59 * time.Second, resRaw},
		{time.Minute, resMinute},
		{5 * time.Minute, resMinute},
		{59 * time.Minute, resMinute},
		{time.Hour, resHour},
		{24 * time.Hour, resHour},
	} {
		if got := chooseResolution(tc.step); got != tc.want {
			t.Errorf("chooseResolution(%v) = %v, want %v", tc.step, got, tc.want)
		}
	}
}

func TestPlan(t *testing.T) {
	const (
		m = 60_000
		h = 60 * m
		d = 24 * h
	)
	// A store at now = 40 days, raw kept 2 days, minutes 30 days, hours
	// 365 days; minutes rolled up to 3 minutes ago, hours to 2 hours ago.
	now := int64(40*d + 30*m + 15_000)
	w := [numRes]window{
		resRaw:    {lo: now - 2*d, hi: maxTime},
		resMinute: {lo: ceilTo(now-30*d, m), hi: 40*d + 27*m},
		resHour:   {lo: 0, hi: 40*d - h},
	}
	for _, tc := range []struct {
		name         string
		choice       resolution
		since, until int64
		want         []segment
	}{
		{"raw, recent", resRaw, now - h, now,
			[]segment{{resRaw, now - h, now + 1}}},
		{"raw over 3 days falls back to minutes for the part raw has lost", resRaw, now - 3*d, now,
			[]segment{{resMinute, now - 3*d, now - 2*d}, {resRaw, ceilTo(now-2*d, m), now + 1}}},
		// The minute cutoff (10d 0h 31m) is inside an hour: that hour
		// comes whole from its hour rollup, minutes resume after it.
		{"raw over 35 days: hours, minutes, raw", resRaw, now - 35*d, now,
			[]segment{{resHour, now - 35*d, ceilTo(now-30*d, m)}, {resMinute, 10*d + h, now - 2*d}, {resRaw, ceilTo(now-2*d, m), now + 1}}},
		{"minutes: the newest minutes come raw", resMinute, now - d, now,
			[]segment{{resMinute, now - d, 40*d + 27*m}, {resRaw, 40*d + 27*m, now + 1}}},
		{"hours: then minutes, then raw", resHour, 30 * d, now,
			[]segment{{resHour, 30 * d, 40*d - h}, {resMinute, 40*d - h, 40*d + 27*m}, {resRaw, 40*d + 27*m, now + 1}}},
		{"hours only", resHour, d, 2 * d,
			[]segment{{resHour, d, 2*d + 1}}},
		{"empty range", resRaw, now, now - 1, nil},
		{"older than everything", resHour, -10 * d, -5 * d, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan(tc.choice, w, tc.since, tc.until)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan:\n got %v\nwant %v", got, tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].from < got[i-1].to {
					t.Errorf("segments %v and %v overlap", got[i-1], got[i])
				}
			}
		})
	}
}

// ingest appends samples [k0, k1) of n series at step, in batches of one
// simulated second's points (the collector's pattern) or bigger.
func ingest(t testing.TB, s *Store, n int, k0, k1 int64, step time.Duration, batch int64) {
	t.Helper()
	for k := k0; k < k1; k += batch {
		if err := s.Append(context.Background(), genPoints(n, k, min(k+batch, k1), step)); err != nil {
			t.Fatal(err)
		}
	}
}

// maintainEvery advances clk by every up to end, calling Maintain each time.
func maintainEvery(t testing.TB, s *Store, clk *clock, end time.Time, every time.Duration) {
	t.Helper()
	for now := clk.Now().Add(every); !now.After(end); now = now.Add(every) {
		clk.Set(now)
		if err := s.Maintain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueryMergesEdges runs 3 days of 2 series at 10 s through the store,
// with Maintain every simulated 10 minutes, and checks what queries at each
// step return against the generator.
func TestQueryMergesEdges(t *testing.T) {
	clk := newClock(epoch)
	s := openTest(t, nil, clk)
	ctx := context.Background()
	const step = 10 * time.Second
	const perHour = int64(time.Hour / step)
	for hr := int64(0); hr < 72; hr++ {
		ingest(t, s, 2, hr*perHour, (hr+1)*perHour, step, 60)
		maintainEvery(t, s, clk, epoch.Add(time.Duration(hr+1)*time.Hour), 10*time.Minute)
	}
	// A few more samples that are not rolled up yet: now is 72h + 25s.
	ingest(t, s, 2, 72*perHour, 72*perHour+3, step, 1)
	now := epoch.Add(72*time.Hour + 25*time.Second)
	clk.Set(now)
	total := 72*perHour + 3

	// Expected per-series totals from the generator.
	type sums struct{ count, acc, rej int64 }
	want := func(si int, from, to time.Time) sums {
		var s sums
		var prevA, prevR int64
		for k := int64(0); k < total; k++ {
			tk := epoch.Add(time.Duration(k) * step)
			a, r := genAcc(si, k), genRej(si, k)
			if !tk.Before(from) && tk.Before(to) {
				s.count++
				s.acc += delta(prevA, k > 0, a)
				s.rej += delta(prevR, k > 0, r)
			}
			prevA, prevR = a, r
		}
		return s
	}

	for _, tc := range []struct {
		name  string
		since time.Time
		step  time.Duration
		res   []miner.Resolution // in order, oldest first
	}{
		{"3 days at step 0: minutes where raw expired, then raw", epoch, 0, []miner.Resolution{"1m", "raw"}},
		{"3 days at 1m: minutes, then raw for the newest", epoch, time.Minute, []miner.Resolution{"1m", "raw"}},
		{"3 days at 1h: hours, minutes, raw", epoch, time.Hour, []miner.Resolution{"1h", "1m", "raw"}},
		{"last hour at 0: raw", now.Add(-time.Hour), 0, []miner.Resolution{"raw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts, err := s.Query(ctx, mq("rig-1", tc.since, now, tc.step))
			if err != nil {
				t.Fatal(err)
			}
			var got sums
			var order []miner.Resolution
			for i, p := range pts {
				if i > 0 && !p.Time.After(pts[i-1].Time) {
					t.Fatalf("point %d at %v does not follow %v", i, p.Time, pts[i-1].Time)
				}
				if len(order) == 0 || order[len(order)-1] != p.Resolution {
					order = append(order, p.Resolution)
				}
				got.count += p.Count
				got.acc += p.AcceptedDelta
				got.rej += p.RejectedDelta
				if p.MinHS > p.AvgHS || p.AvgHS > p.MaxHS {
					t.Fatalf("point %+v: min/avg/max out of order", p)
				}
			}
			if !reflect.DeepEqual(order, tc.res) {
				t.Errorf("resolutions %v, want %v", order, tc.res)
			}
			// Every sample from the first returned interval on is counted
			// exactly once.
			from := pts[0].Time
			if w := want(1, from, now.Add(time.Millisecond)); got != w {
				t.Errorf("totals from %v: got %+v, want %+v", from, got, w)
			}
			if from.Before(tc.since) {
				t.Errorf("first point %v before since %v", from, tc.since)
			}
		})
	}

	sum, err := s.Summary(ctx, "rig-1")
	if err != nil {
		t.Fatal(err)
	}
	w := want(1, epoch, now)
	if sum.Count != w.count || sum.Accepted != w.acc || sum.Rejected != w.rej {
		t.Errorf("summary %+v, want %+v", sum, w)
	}
	if !sum.FirstSeen.Equal(epoch) || !sum.LastSeen.Equal(epoch.Add(time.Duration(total-1)*step)) {
		t.Errorf("summary first/last %v, %v", sum.FirstSeen, sum.LastSeen)
	}
	var hsSum float64
	var lo, hi = math.Inf(1), math.Inf(-1)
	for k := range total {
		v := genHS(1, k)
		hsSum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	if sum.AvgHS != hsSum/float64(total) || sum.MinHS != lo || sum.MaxHS != hi {
		t.Errorf("summary hashrates %v/%v/%v, want %v/%v/%v", sum.MinHS, sum.AvgHS, sum.MaxHS, lo, hsSum/float64(total), hi)
	}

	series, err := s.Series(ctx)
	if err != nil || !reflect.DeepEqual(series, []string{"rig-0", "rig-1"}) {
		t.Errorf("Series = %v, %v", series, err)
	}
	if _, err := s.Summary(ctx, "nope"); !errors.Is(err, miner.ErrStoreNotFound) {
		t.Errorf("Summary of unknown series: %v", err)
	}
	if pts, err := s.Query(ctx, mq("nope", time.Time{}, time.Time{}, 0)); err != nil || len(pts) != 0 {
		t.Errorf("Query of unknown series: %v, %v", pts, err)
	}
}

func TestAppendRejects(t *testing.T) {
	s := openTest(t, nil, newClock(epoch))
	ctx := context.Background()
	ok := miner.Point{Series: "a", Time: epoch, HashrateHS: 1}
	for _, tc := range []struct {
		name string
		p    miner.Point
		want error
	}{
		{"bad series", miner.Point{Series: "A", Time: epoch}, ErrInvalidSeries},
		{"empty series", miner.Point{Time: epoch}, ErrInvalidSeries},
		{"no time", miner.Point{Series: "a"}, ErrInvalidPoint},
		{"NaN", miner.Point{Series: "a", Time: epoch, HashrateHS: math.NaN()}, ErrInvalidPoint},
		{"Inf", miner.Point{Series: "a", Time: epoch, HashrateHS: math.Inf(1)}, ErrInvalidPoint},
		{"negative", miner.Point{Series: "a", Time: epoch, HashrateHS: -1}, ErrInvalidPoint},
		{"negative shares", miner.Point{Series: "a", Time: epoch, Accepted: -1}, ErrInvalidPoint},
	} {
		// A bad point fails the whole call: nothing is stored.
		if err := s.Append(ctx, []miner.Point{ok, tc.p}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.Append(ctx, []miner.Point{{Time: epoch}}); !errors.Is(err, ErrInvalidSeries) {
		t.Errorf("a lone point without a series: %v", err)
	}
	if got, _ := s.Series(ctx); len(got) != 0 {
		t.Errorf("a failed Append stored series %v", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Append(cctx, []miner.Point{ok}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: %v", err)
	}
	if _, err := s.Query(ctx, mq("Bad", time.Time{}, time.Time{}, 0)); !errors.Is(err, ErrInvalidSeries) {
		t.Errorf("Query of an invalid series: %v", err)
	}
}

// TestRollupRestartsAndLatePoints checks the share-delta rule across a
// counter reset and that a point arriving after its minute was rolled up is
// kept raw without changing the rollup.
func TestRollupRestartsAndLatePoints(t *testing.T) {
	clk := newClock(epoch.Add(5 * time.Minute))
	s := openTest(t, nil, clk)
	ctx := context.Background()
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	pts := []miner.Point{
		{Series: "m", Time: at(0), HashrateHS: 10, Accepted: 100, Rejected: 5}, // first: counts from 0
		{Series: "m", Time: at(30), HashrateHS: 20, Accepted: 110, Rejected: 5},
		{Series: "m", Time: at(60), HashrateHS: 30, Accepted: 3, Rejected: 0}, // restart
		{Series: "m", Time: at(90), HashrateHS: 40, Accepted: 7, Rejected: 1},
	}
	if err := s.Append(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	// Late: second 45 arrives after minute 0 was rolled up.
	if err := s.Append(ctx, []miner.Point{{Series: "m", Time: at(45), HashrateHS: 1000, Accepted: 200}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, mq("m", epoch, clk.Now(), time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []miner.HistoryPoint{
		{Time: at(0), AvgHS: 15, MinHS: 10, MaxHS: 20, Count: 2, AcceptedDelta: 110, RejectedDelta: 5, Resolution: "1m"},
		{Time: at(60), AvgHS: 35, MinHS: 30, MaxHS: 40, Count: 2, AcceptedDelta: 7, RejectedDelta: 1, Resolution: "1m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("minutes:\n got %+v\nwant %+v", got, want)
	}
	raw, err := s.Query(ctx, mq("m", epoch, clk.Now(), 0))
	if err != nil || len(raw) != 5 {
		t.Fatalf("raw: %d points, %v", len(raw), err)
	}
	for _, p := range raw {
		if p.AcceptedDelta < 0 || p.RejectedDelta < 0 {
			t.Errorf("negative delta %+v", p)
		}
	}
}

// slowSyncFS delays every WAL sync while slow is set: a disk that stalls.
type slowSyncFS struct {
	vfs.FS
	slow atomic.Bool
}

func (f *slowSyncFS) Unwrap() vfs.FS { return f.FS }

func (f *slowSyncFS) wrap(file vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return file, err
	}
	return &slowSyncFile{File: file, fs: f}, nil
}

func (f *slowSyncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	return f.wrap(file, name, err)
}

func (f *slowSyncFS) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(old, name, c)
	return f.wrap(file, name, err)
}

type slowSyncFile struct {
	vfs.File
	fs *slowSyncFS
}

func (f *slowSyncFile) Sync() error {
	for f.fs.slow.Load() {
		time.Sleep(time.Millisecond)
	}
	return f.File.Sync()
}

func (f *slowSyncFile) SyncData() error { return f.Sync() }

// TestSlowAppendNotOvertaken: a rollup pass that runs while an Append's
// commit is stuck on a slow disk does not roll up that Append's minute;
// the next pass includes its points.
func TestSlowAppendNotOvertaken(t *testing.T) {
	fs := &slowSyncFS{FS: vfs.NewMem()}
	clk := newClock(epoch)
	s := openTest(t, fs, clk)
	ctx := context.Background()
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	if err := s.Append(ctx, []miner.Point{{Series: "m", Time: at(10), HashrateHS: 1, Accepted: 1}}); err != nil {
		t.Fatal(err)
	}
	fs.slow.Store(true)
	done := make(chan error, 1)
	go func() { // called on time, committed late
		done <- s.Append(ctx, []miner.Point{{Series: "m", Time: at(50), HashrateHS: 3, Accepted: 4}})
	}()
	time.Sleep(50 * time.Millisecond) // the Append is waiting for its sync
	clk.Set(at(5 * 60))
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if m := readMarkers(t, s, resMinute)["m"]; m.until > at(50).UnixMilli() {
		t.Errorf("the minute marker moved to %v past an Append in flight", time.UnixMilli(m.until).UTC())
	}
	fs.slow.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	pts, err := s.Query(ctx, mq("m", epoch, clk.Now(), time.Minute))
	if err != nil || len(pts) != 1 || pts[0].Count != 2 || pts[0].AcceptedDelta != 4 || pts[0].Resolution != miner.ResolutionMinute {
		t.Errorf("minute 0 = %+v, %v; want both points rolled up", pts, err)
	}
}
