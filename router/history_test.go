package router

import (
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// The answer is spaced by the step asked for, whatever resolution the
// store answered from (step=5m gave the minute rollups as they were).
func TestBucketPoints(t *testing.T) {
	since := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var pts []miner.HistoryPoint
	pts = append(pts, miner.HistoryPoint{Time: since.Add(-30 * time.Second), AvgHS: 10, MinHS: 10, MaxHS: 10, Count: 1, AcceptedDelta: 1})
	for i := range 12 { // minute rollups 12:00 … 12:11
		pts = append(pts, miner.HistoryPoint{Time: since.Add(time.Duration(i) * time.Minute), AvgHS: float64(100 + i), MinHS: float64(90 + i), MaxHS: float64(110 + i), Count: 6, AcceptedDelta: 2, RejectedDelta: 1})
	}
	got := bucketPoints(pts, miner.HistoryQuery{Since: since, Step: 5 * time.Minute})
	if len(got) != 3 {
		t.Fatalf("%d buckets, want 3: %+v", len(got), got)
	}
	for i, want := range []struct {
		at             time.Duration
		count, acc     int64
		min, max, avgx float64
	}{
		{0, 31, 11, 10, 114, (10 + 6*(100+101+102+103+104))},
		{5 * time.Minute, 30, 10, 95, 119, 6 * (105 + 106 + 107 + 108 + 109)},
		{10 * time.Minute, 12, 4, 100, 121, 6 * (110 + 111)},
	} {
		b := got[i]
		if !b.Time.Equal(since.Add(want.at)) || b.Count != want.count || b.AcceptedDelta != want.acc || b.MinHS != want.min || b.MaxHS != want.max {
			t.Errorf("bucket %d: %+v", i, b)
		}
		if d := b.AvgHS*float64(b.Count) - want.avgx; d > 1e-6 || d < -1e-6 {
			t.Errorf("bucket %d: average %v over %d", i, b.AvgHS, b.Count)
		}
	}
	if n := len(bucketPoints(pts, miner.HistoryQuery{Since: since})); n != len(pts) {
		t.Fatalf("no step: %d points, want them as they are", n)
	}
}
