package miner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// refusingSession fails every batch that holds a line starting with
// "boom" and records the batches it was sent.
type refusingSession struct {
	Session
	batches [][]string
}

func (r *refusingSession) ParseLines(_ context.Context, _ abi.Stream, lines [][]byte) (abi.LineResult, error) {
	var b []string
	var err error
	for _, l := range lines {
		b = append(b, string(l))
		if strings.HasPrefix(string(l), "boom") {
			err = errors.New("refused")
		}
	}
	r.batches = append(r.batches, b)
	return abi.LineResult{}, err
}

// A line that makes the feeder send the pending batch first is queued even
// when the adapter fails that batch: it was dropped.
func TestLineFeederKeepsTheLineAfterAFailedBatch(t *testing.T) {
	s := &refusingSession{}
	f := NewLineFeeder(s, abi.Stdout, func(abi.LineResult) {})
	ctx := context.Background()
	if err := f.Add(ctx, "boom"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", abi.MaxBatchBytes)
	if err := f.Add(ctx, big); err == nil {
		t.Fatal("the failed batch was not reported")
	}
	if f.Pending() != 0 { // the big line filled a batch of its own
		t.Fatalf("%d lines pending", f.Pending())
	}
	if len(s.batches) != 2 || len(s.batches[0]) != 1 || len(s.batches[1]) != 1 || s.batches[1][0] != big {
		t.Fatalf("batches sent: %d, want [boom] then the big line", len(s.batches))
	}
}
