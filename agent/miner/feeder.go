package miner

import (
	"context"
	"errors"

	"github.com/rigd/rigd/sdk/abi"
)

// LineFeeder batches console lines of one stream for an adapter session.
// Supervision and `rigd adapters replay` both use it, so a replayed log is
// parsed exactly as a live one.
type LineFeeder struct {
	s       Session
	stream  abi.Stream
	onParse func(abi.LineResult)
	batch   [][]byte
	bytes   int
}

// NewLineFeeder returns a feeder for one stream; onParse receives every
// batch's result (events and partial stats to merge).
func NewLineFeeder(s Session, stream abi.Stream, onParse func(abi.LineResult)) *LineFeeder {
	return &LineFeeder{s: s, stream: stream, onParse: onParse, batch: make([][]byte, 0, abi.MaxLineBatch)}
}

// Add queues a copy of line (ANSI already stripped: proc.Line's Plain)
// and sends the batch once it holds abi.MaxLineBatch lines or
// abi.MaxBatchBytes bytes. The error is that of a batch the adapter
// failed; line is queued all the same.
func (f *LineFeeder) Add(ctx context.Context, line string) error {
	var err error
	if f.bytes > 0 && f.bytes+len(line) > abi.MaxBatchBytes {
		err = f.Flush(ctx)
	}
	f.batch = append(f.batch, []byte(line))
	f.bytes += len(line) + 1
	if len(f.batch) < abi.MaxLineBatch && f.bytes < abi.MaxBatchBytes {
		return err
	}
	return errors.Join(err, f.Flush(ctx))
}

// Pending is the number of queued lines.
func (f *LineFeeder) Pending() int { return len(f.batch) }

// Flush sends the queued lines, if any. The batch is consumed even on
// error: a batch the adapter cannot parse is not retried.
func (f *LineFeeder) Flush(ctx context.Context) error {
	if len(f.batch) == 0 {
		return nil
	}
	res, err := f.s.ParseLines(ctx, f.stream, f.batch)
	clear(f.batch)
	f.batch, f.bytes = f.batch[:0], 0
	if err != nil {
		return err
	}
	f.onParse(res)
	return nil
}
