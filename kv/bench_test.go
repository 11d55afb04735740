package kv

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// BenchmarkAppend: synced Appends on the real disk. batch=16 is the
// collector (16 series, one call a second); bigger batches are bulk
// ingest. points/s is the figure.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{16, 1000, 10_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(context.Background(), Options{Dir: filepath.Join(b.TempDir(), "db"), ReserveBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			perSample := min(batch, 16)
			samples := int64(batch / perSample)
			var k int64
			pts := 0
			for b.Loop() {
				p := genPoints(perSample, k, k+samples, time.Second)
				if err := s.Append(ctx, p); err != nil {
					b.Fatal(err)
				}
				k += samples
				pts += len(p)
			}
			b.ReportMetric(float64(pts)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkQuery30Days: one series over 30 days of a month-old store of 16
// series. step=1m is the 43,200-point chart.
func BenchmarkQuery30Days(b *testing.B) {
	s, err := Open(context.Background(), Options{Dir: seededDir(b), ReserveBytes: -1, Now: func() time.Time { return seedNow }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, step := range []time.Duration{time.Minute, time.Hour, 0} {
		b.Run("step="+step.String(), func(b *testing.B) {
			n := 0
			for b.Loop() {
				pts, err := s.Query(ctx, miner.HistoryQuery{Series: "rig-1", Since: seedNow.Add(-30 * 24 * time.Hour), Until: seedNow, Step: step})
				if err != nil {
					b.Fatal(err)
				}
				n = len(pts)
			}
			b.ReportMetric(float64(n), "points")
		})
	}
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Summary(ctx, "rig-1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
