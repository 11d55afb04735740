package kv

import (
	"context"
	"testing"
	"time"
)

// The database's own compaction scheduler lets compactions run: after about
// ten memtables' worth of points, L0 has been compacted rather than piling
// up (with no compactions, the appends stall), and the store answers and
// closes as usual.
func TestSchedulerRunsCompactions(t *testing.T) {
	s := openTest(t, nil, newClock(epoch))
	ctx := context.Background()
	const perBatch = 20_000
	for k := int64(0); k < 12; k++ {
		if err := s.Append(ctx, genPoints(16, k*perBatch/16, (k+1)*perBatch/16, time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	db := s.state.db
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := db.Metrics()
		if m.Compact.Count > 0 && m.Levels[0].TablesCount < 8 {
			t.Logf("compactions %d, L0 tables %d, flushes %d", m.Compact.Count, m.Levels[0].TablesCount, m.Flush.Count)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compaction within 30 s: compactions %d, L0 tables %d, flushes %d", m.Compact.Count, m.Levels[0].TablesCount, m.Flush.Count)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sum, err := s.Summary(ctx, genSeries(0))
	if err != nil || sum.Count == 0 {
		t.Fatalf("summary after compactions: %+v, %v", sum, err)
	}
}
