package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// ErrCorrupt is returned when a stored value cannot be decoded.
var ErrCorrupt = errors.New("kv: corrupt value")

// Raw point value: hashrate (float64 bits, 8 bytes big-endian), then the
// cumulative accepted and rejected counters as varints.

func appendRawValue(dst []byte, hs float64, acc, rej int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(hs))
	dst = binary.AppendVarint(dst, acc)
	return binary.AppendVarint(dst, rej)
}

type rawValue struct {
	hs       float64
	acc, rej int64
}

func decodeRawValue(b []byte) (rawValue, error) {
	var v rawValue
	if len(b) < 8 {
		return v, fmt.Errorf("%w: raw point of %d bytes", ErrCorrupt, len(b))
	}
	v.hs = math.Float64frombits(binary.BigEndian.Uint64(b))
	d := decoder{b: b[8:]}
	v.acc = d.varint()
	v.rej = d.varint()
	if d.err != nil || len(d.b) != 0 {
		return v, fmt.Errorf("%w: raw point", ErrCorrupt)
	}
	return v, nil
}

// agg is an aggregate over an interval: the value of a rollup, and what
// queries and summaries compute with. first and last are the times of the
// first and last sample (unix ms).
type agg struct {
	count         int64
	sum, min, max float64
	acc, rej      int64 // shares found in the interval
	first, last   int64
}

func (a *agg) addSample(ms int64, hs float64, dAcc, dRej int64) {
	if a.count == 0 {
		a.min, a.max, a.first, a.last = hs, hs, ms, ms
	}
	a.count++
	a.sum += hs
	a.min = min(a.min, hs)
	a.max = max(a.max, hs)
	a.acc += dAcc
	a.rej += dRej
	a.first = min(a.first, ms)
	a.last = max(a.last, ms)
}

func (a *agg) merge(b agg) {
	if b.count == 0 {
		return
	}
	if a.count == 0 {
		*a = b
		return
	}
	a.count += b.count
	a.sum += b.sum
	a.min = min(a.min, b.min)
	a.max = max(a.max, b.max)
	a.acc += b.acc
	a.rej += b.rej
	a.first = min(a.first, b.first)
	a.last = max(a.last, b.last)
}

// Rollup value: count (uvarint), sum, min, max (float64 bits, 8 bytes each),
// accepted and rejected deltas (varints), first and last sample time as
// uvarint offsets from the interval start.

func appendAggValue(dst []byte, start int64, a agg) []byte {
	dst = binary.AppendUvarint(dst, uint64(a.count))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(a.sum))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(a.min))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(a.max))
	dst = binary.AppendVarint(dst, a.acc)
	dst = binary.AppendVarint(dst, a.rej)
	dst = binary.AppendUvarint(dst, uint64(a.first-start))
	return binary.AppendUvarint(dst, uint64(a.last-start))
}

func decodeAggValue(b []byte, start int64) (agg, error) {
	d := decoder{b: b}
	var a agg
	a.count = int64(d.uvarint())
	a.sum = d.float()
	a.min = d.float()
	a.max = d.float()
	a.acc = d.varint()
	a.rej = d.varint()
	a.first = start + int64(d.uvarint())
	a.last = start + int64(d.uvarint())
	if d.err != nil || len(d.b) != 0 || a.count <= 0 {
		return agg{}, fmt.Errorf("%w: rollup", ErrCorrupt)
	}
	return a, nil
}

// marker records how far a series has been rolled up into a resolution:
// every point (raw for minutes, minute rollup for hours) before until is
// included. For minutes it also carries the counters of the last raw point
// before until, the base of the next delta.
type marker struct {
	until            int64
	hasLast          bool
	lastAcc, lastRej int64
}

func appendMarkerValue(dst []byte, m marker) []byte {
	dst = binary.AppendVarint(dst, m.until)
	if !m.hasLast {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, m.lastAcc)
	return binary.AppendVarint(dst, m.lastRej)
}

func decodeMarkerValue(b []byte) (marker, error) {
	d := decoder{b: b}
	var m marker
	m.until = d.varint()
	switch d.byte() {
	case 0:
	case 1:
		m.hasLast = true
		m.lastAcc = d.varint()
		m.lastRej = d.varint()
	default:
		d.fail()
	}
	if d.err != nil || len(d.b) != 0 {
		return marker{}, fmt.Errorf("%w: rollup marker", ErrCorrupt)
	}
	return m, nil
}

// counterDelta is the increase of a cumulative counter from prev to cur. A
// counter that went down means the miner restarted: the new value is all
// new. The first point of a series counts from zero. Never negative.
func counterDelta(prev int64, hasPrev bool, cur int64) int64 {
	switch {
	case cur < 0:
		return 0
	case !hasPrev || cur < prev:
		return cur
	default:
		return cur - prev
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// value returns the iterator's current value, or nil when it cannot be
// read (the iterator then reports the error, and nil fails to decode). The
// slice is only valid until the iterator moves: decode, do not keep.
func value(it *pebble.Iterator) []byte {
	v, err := it.ValueAndErr()
	if err != nil {
		return nil
	}
	return v
}

// readErr prefers the iterator's error (a failed read) over the decoding
// error it caused.
func readErr(it *pebble.Iterator, decodeErr error) error {
	if err := it.Error(); err != nil {
		return err
	}
	return decodeErr
}
