package kv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rigd/rigd/agent/miner"
)

// 30 days of history, as the agent would have it after 30 days of 16
// series polled every 10 s: hour rollups, minute rollups for 30 days, raw
// points for the last 48 h, markers. Written directly (not through a month
// of Append and Maintain) so that benchmarks can afford it.
const (
	seedSeries = 16
	seedStep   = 10 * time.Second
	seedDays   = 30
)

var seedNow = epoch.Add(seedDays * 24 * time.Hour)

func seedMonth(tb testing.TB, dir string) {
	tb.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, ReserveBytes: -1, Now: func() time.Time { return seedNow }, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	db := s.state.db
	n := int64(seedDays * 24 * time.Hour / seedStep)
	minUntil := floorTo(seedNow.Add(-RollupDelay).UnixMilli(), resInterval[resMinute])
	hourUntil := floorTo(minUntil, resInterval[resHour])
	rawFrom := seedNow.Add(-48 * time.Hour).UnixMilli()
	minFrom := seedNow.Add(-seedDays * 24 * time.Hour).UnixMilli()
	b := db.NewBatch()
	flush := func(force bool) {
		if b.Count() >= 20_000 || force && !b.Empty() {
			if err := b.Commit(pebble.NoSync); err != nil {
				tb.Fatal(err)
			}
			b.Close()
			b = db.NewBatch()
		}
	}
	var key, val []byte
	for si := range seedSeries {
		series := genSeries(si)
		genRollups(si, n, seedStep, resHour, func(start int64, a agg) {
			if start+resInterval[resHour] <= hourUntil {
				b.Set(tsKey(key[:0], resHour, series, start), appendAggValue(val[:0], start, a), nil)
				flush(false)
			}
		})
		genRollups(si, n, seedStep, resMinute, func(start int64, a agg) {
			if start >= minFrom && start < minUntil {
				b.Set(tsKey(key[:0], resMinute, series, start), appendAggValue(val[:0], start, a), nil)
				flush(false)
			}
		})
		var last marker
		for k := range n {
			ms := epoch.Add(time.Duration(k) * seedStep).UnixMilli()
			if ms < minUntil {
				last = marker{until: minUntil, hasLast: true, lastAcc: genAcc(si, k), lastRej: genRej(si, k)}
			}
			if ms >= rawFrom {
				b.Set(tsKey(key[:0], resRaw, series, ms), appendRawValue(val[:0], genHS(si, k), genAcc(si, k), genRej(si, k)), nil)
				flush(false)
			}
		}
		b.Set(markerKey(resMinute, series), appendMarkerValue(nil, last), nil)
		b.Set(markerKey(resHour, series), appendMarkerValue(nil, marker{until: hourUntil}), nil)
	}
	flush(true)
	b.Close()
	// A month-old database has long been compacted; so is this one, so
	// that measurements do not race a backlog of compactions.
	if err := db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		tb.Fatal(err)
	}
}

var seeded struct {
	sync.Once
	dir string
}

// seededDir returns a copy-free shared directory with a month of data,
// created once per test binary.
func seededDir(tb testing.TB) string {
	seeded.Do(func() {
		d, err := os.MkdirTemp("", "kv-month-")
		if err != nil {
			tb.Fatal(err)
		}
		seeded.dir = filepath.Join(d, "db")
		t0 := time.Now()
		seedMonth(tb, seeded.dir)
		tb.Logf("seeded a month of 16 series in %v", time.Since(t0).Round(time.Millisecond))
	})
	return seeded.dir
}

// childRSS opens KV_DIR like the agent would, uses it (30-day queries and
// summaries of every series, then a few minutes of collector appends with
// maintenance), and prints its peak and current RSS.
func childRSS() error {
	ctx := context.Background()
	now := seedNow
	var mu sync.Mutex
	s, err := Open(ctx, Options{Dir: os.Getenv("KV_DIR"), ReserveBytes: -1, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := time.Now()
	pts, err := s.Query(ctx, miner.HistoryQuery{Series: genSeries(1), Since: now.Add(-30 * 24 * time.Hour), Until: now, Step: time.Minute})
	if err != nil {
		return err
	}
	fmt.Printf("cold_query_us %d\n", time.Since(t0).Microseconds())
	// Another series: the process is warm, its blocks are not cached.
	t0 = time.Now()
	if _, err := s.Query(ctx, miner.HistoryQuery{Series: genSeries(2), Since: now.Add(-30 * 24 * time.Hour), Until: now, Step: time.Minute}); err != nil {
		return err
	}
	fmt.Printf("cold2_query_us %d\n", time.Since(t0).Microseconds())
	points := len(pts)
	rounds := 3
	if os.Getenv("KV_ROUNDS") != "" {
		rounds, _ = strconv.Atoi(os.Getenv("KV_ROUNDS"))
	}
	for round := range rounds {
		for si := range seedSeries {
			for _, step := range []time.Duration{time.Minute, time.Hour, 0} {
				pts, err := s.Query(ctx, miner.HistoryQuery{Series: genSeries(si), Since: now.Add(-30 * 24 * time.Hour), Until: now, Step: step})
				if err != nil {
					return err
				}
				points += len(pts)
			}
			if _, err := s.Summary(ctx, genSeries(si)); err != nil {
				return err
			}
		}
		// Ten simulated minutes of the collector: 16 points every 10 s.
		k0 := int64(now.Sub(epoch) / seedStep)
		for k := k0; k < k0+60; k++ {
			if err := s.Append(ctx, genPoints(seedSeries, k, k+1, seedStep)); err != nil {
				return err
			}
		}
		mu.Lock()
		now = now.Add(10 * time.Minute)
		mu.Unlock()
		if err := s.Maintain(ctx); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
	}
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	fmt.Printf("points %d\n", points)
	sc := bufio.NewScanner(strings.NewReader(string(st)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			fmt.Println(f[0], f[1]) // kB
		}
	}
	return nil
}

// TestRSSIntegration: a process with the store open on 30 days of data, used
// as the agent uses it, peaks under 64 MiB RSS (the whole test binary: Go
// runtime, Pebble's 8 MiB block cache and memtables). Not asserted under
// -race, whose shadow memory multiplies RSS.
func TestRSSIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a month of data")
	}
	if raceEnabled {
		t.Skip("RSS under -race is not representative (shadow memory); the figure comes from a run without -race")
	}
	dir := seededDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childCmdEnv("rss", "KV_DIR="+dir, "KV_ROUNDS="+os.Getenv("KV_ROUNDS"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	kb := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			kb[f[0]], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	hwm := kb["VmHWM:"]
	t.Logf("store open on 30 days × 16 series, %d query points served: peak RSS %.1f MiB, RSS at the end %.1f MiB; uncached 30-day queries at 1m: %v (first in the process), %v (next series)",
		kb["points"], float64(hwm)/1024, float64(kb["VmRSS:"])/1024,
		time.Duration(kb["cold_query_us"])*time.Microsecond, time.Duration(kb["cold2_query_us"])*time.Microsecond)
	if hwm == 0 {
		t.Fatalf("no VmHWM in %q", out)
	}
	if hwm > 64*1024 {
		t.Errorf("peak RSS %.1f MiB, want <= 64 MiB", float64(hwm)/1024)
	}
}
