package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rigd/rigd/agent/miner"
)

// ErrInvalidPoint is returned by Append for a point kv refuses to store.
var ErrInvalidPoint = errors.New("kv: invalid point")

// Append stores points and returns after a synced commit (unless
// Options.NoSync): an acknowledged point survives a crash of the process or
// the machine. All points are validated first; either all are stored or
// none. A point replaces one of the same series and millisecond.
//
// Append is built for the collector's pattern — one call a second with the
// points of that second — and for bulk loads: one Pebble batch, one sync.
func (s *Store) Append(ctx context.Context, points []miner.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: append points: %w", err)
	}
	last := ""
	for i, p := range points {
		if i == 0 || p.Series != last {
			if err := validSeries(p.Series); err != nil {
				return fmt.Errorf("kv: append points: point %d: %w", i, err)
			}
			last = p.Series
		}
		if err := checkPoint(p); err != nil {
			return fmt.Errorf("kv: append points: point %d (series %q): %w", i, p.Series, err)
		}
	}
	defer s.inFlight(points)()
	db, done, err := s.acquire(true)
	if err != nil {
		return fmt.Errorf("kv: append points: %w", err)
	}
	defer done()
	b := db.NewBatchWithSize(len(points) * (40 + len(points[0].Series)))
	defer b.Close()
	var key, val []byte
	for _, p := range points {
		key = tsKey(key[:0], resRaw, p.Series, p.Time.UnixMilli())
		val = appendRawValue(val[:0], p.HashrateHS, p.Accepted, p.Rejected)
		if err := b.Set(key, val, nil); err != nil {
			return fmt.Errorf("kv: append points: %w", err)
		}
	}
	if err := s.commit(b); err != nil {
		return fmt.Errorf("kv: append %d points: %w", len(points), s.writeFailed(err))
	}
	s.noteSeries(points)
	return nil
}

// inFlight registers an Append until the returned function is called: the
// rollups stop short of its oldest point, so that a commit slowed down by
// the disk does not arrive after its minute was rolled up.
func (s *Store) inFlight(points []miner.Point) func() {
	oldest := points[0].Time.UnixMilli()
	for _, p := range points[1:] {
		oldest = min(oldest, p.Time.UnixMilli())
	}
	s.mu.Lock()
	s.mu.nextAppend++
	id := s.mu.nextAppend
	s.mu.appending[id] = oldest
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.mu.appending, id)
		s.mu.Unlock()
	}
}

// rollupEnd is where a pass at now stops: RollupDelay before now, and not
// past the oldest point of an Append in flight.
func (s *Store) rollupEnd(now time.Time) int64 {
	end := now.Add(-RollupDelay).UnixMilli()
	s.mu.Lock()
	for _, t := range s.mu.appending {
		end = min(end, t)
	}
	s.mu.Unlock()
	return floorTo(end, resInterval[resMinute])
}

// noteSeries adds new series to the set maintenance rolls up.
func (s *Store) noteSeries(points []miner.Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := ""
	for i, p := range points {
		if i == 0 || p.Series != last {
			last = p.Series
			if _, ok := s.mu.series[last]; !ok {
				s.mu.series[last] = struct{}{}
			}
		}
	}
}

func checkPoint(p miner.Point) error {
	switch {
	case p.Time.IsZero():
		return fmt.Errorf("%w: no time", ErrInvalidPoint)
	case math.IsNaN(p.HashrateHS) || math.IsInf(p.HashrateHS, 0) || p.HashrateHS < 0:
		return fmt.Errorf("%w: hashrate %v", ErrInvalidPoint, p.HashrateHS)
	case p.Accepted < 0 || p.Rejected < 0:
		return fmt.Errorf("%w: negative share counter", ErrInvalidPoint)
	}
	return nil
}

// window is the time range [lo, hi) a resolution answers for, in unix ms.
type window struct{ lo, hi int64 }

func (w window) contains(t int64) bool { return t >= w.lo && t < w.hi }

// segment is a part of a query answered from one resolution: points with
// time in [from, to).
type segment struct {
	res      resolution
	from, to int64
}

// chooseResolution is the coarsest resolution whose interval is not
// coarser than step.
func chooseResolution(step time.Duration) resolution {
	ms := step.Milliseconds()
	switch {
	case ms >= resInterval[resHour]:
		return resHour
	case ms >= resInterval[resMinute]:
		return resMinute
	default:
		return resRaw
	}
}

// windows computes what each resolution of a series answers for at now:
// raw from its retention cutoff on; a rollup from its retention cutoff up to
// its progress marker (not yet rolled up is not there).
func (s *Store) windows(now int64, markers [numRes]*marker) [numRes]window {
	var w [numRes]window
	w[resRaw] = window{lo: now - s.ret.Raw.Milliseconds(), hi: maxTime}
	for _, r := range []resolution{resMinute, resHour} {
		ret := s.ret.Minute
		if r == resHour {
			ret = s.ret.Hour
		}
		lo := ceilTo(now-ret.Milliseconds(), resInterval[r])
		hi := lo
		if m := markers[r]; m != nil && m.until > lo {
			hi = m.until
		}
		w[r] = window{lo: lo, hi: hi}
	}
	return w
}

// plan splits the query range [since, until] (unix ms) into segments, oldest
// first. At each instant it prefers the chosen resolution; newer than the
// chosen resolution's progress (not rolled up yet) it takes the coarsest
// finer resolution that has the data; older than the chosen resolution's
// retention it takes the finest coarser one. Where an older, coarser
// segment meets a newer, finer one inside a coarse interval (a retention
// cutoff is not aligned), the coarse rollup wins the whole interval and the
// finer data in it is left out, so no sample is counted twice.
func plan(choice resolution, w [numRes]window, since, until int64) []segment {
	if until < since {
		return nil
	}
	end := until + 1
	cuts := []int64{since, end}
	for _, win := range w {
		for _, t := range []int64{win.lo, win.hi} {
			if t > since && t < end {
				cuts = append(cuts, t)
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	var segs []segment
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		r, ok := pick(choice, w, a)
		if !ok {
			continue
		}
		if n := len(segs); n > 0 && segs[n-1].res == r && segs[n-1].to == a {
			segs[n-1].to = b
			continue
		}
		segs = append(segs, segment{res: r, from: a, to: b})
	}

	// A rollup covers its whole interval: where a coarse segment's last
	// interval reaches past the segment's end, later (finer) segments start
	// after it.
	covered := int64(minTime)
	out := segs[:0]
	for _, sg := range segs {
		sg.from = max(sg.from, covered)
		if sg.from >= sg.to {
			continue
		}
		if iv := resInterval[sg.res]; iv > 0 {
			if last := floorTo(sg.to-1, iv); last >= sg.from {
				covered = max(covered, last+iv)
			}
		}
		out = append(out, sg)
	}
	return out
}

// pick chooses the resolution that answers for instant t.
func pick(choice resolution, w [numRes]window, t int64) (resolution, bool) {
	if w[choice].contains(t) {
		return choice, true
	}
	var order []resolution
	if t >= w[choice].hi { // newer than the chosen resolution's progress
		for r := int(choice) - 1; r >= 0; r-- {
			order = append(order, resolution(r))
		}
		for r := choice + 1; r < numRes; r++ {
			order = append(order, r)
		}
	} else { // older than its retention
		for r := choice + 1; r < numRes; r++ {
			order = append(order, r)
		}
		for r := int(choice) - 1; r >= 0; r-- {
			order = append(order, resolution(r))
		}
	}
	for _, r := range order {
		if w[r].contains(t) {
			return r, true
		}
	}
	return 0, false
}

// reader reads one series from a consistent snapshot.
type reader struct {
	snap   *pebble.Snapshot
	series string
	key    []byte
}

func (s *Store) newReader(db *pebble.DB, series string) *reader {
	return &reader{snap: db.NewSnapshot(), series: series}
}

func (rd *reader) close() error { return rd.snap.Close() }

func (rd *reader) marker(r resolution) (*marker, error) {
	v, closer, err := rd.snap.Get(markerKey(r, rd.series))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeMarkerValue(v)
	_ = closer.Close()
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// timedAgg is one point of an internal query result.
type timedAgg struct {
	t   int64
	res resolution
	agg
}

// read calls fn with the points of segment sg (time in [sg.from, sg.to)),
// in time order.
func (rd *reader) read(sg segment, fn func(timedAgg)) error {
	prefix := seriesPrefix(nil, sg.res, rd.series)
	it, err := rd.snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	rd.key = tsKey(rd.key[:0], sg.res, rd.series, sg.from)
	var prevAcc, prevRej int64
	hasPrev := false
	if sg.res == resRaw && it.SeekLT(rd.key) {
		v, err := decodeRawValue(value(it))
		if err != nil {
			return fmt.Errorf("at %q: %w", it.Key(), readErr(it, err))
		}
		prevAcc, prevRej, hasPrev = v.acc, v.rej, true
	}
	upper := tsKey(nil, sg.res, rd.series, sg.to)
	for ok := it.SeekGE(rd.key); ok && bytes.Compare(it.Key(), upper) < 0; ok = it.Next() {
		k := it.Key()
		t := decodeTime(k[len(k)-8:])
		if sg.res == resRaw {
			v, err := decodeRawValue(value(it))
			if err != nil {
				return fmt.Errorf("at %q: %w", k, readErr(it, err))
			}
			p := timedAgg{t: t, res: resRaw}
			p.addSample(t, v.hs, counterDelta(prevAcc, hasPrev, v.acc), counterDelta(prevRej, hasPrev, v.rej))
			prevAcc, prevRej, hasPrev = v.acc, v.rej, true
			fn(p)
			continue
		}
		a, err := decodeAggValue(value(it), t)
		if err != nil {
			return fmt.Errorf("at %q: %w", k, readErr(it, err))
		}
		fn(timedAgg{t: t, res: sg.res, agg: a})
	}
	return it.Error()
}

// rawEvery is the raw point spacing assumed to size query results (the
// collector polls every few seconds).
const rawEvery = 5_000

// query answers [since, until] of series at choice from one snapshot:
// sized is called once with an estimate of the number of points, then fn
// with each point in time order.
func (s *Store) query(db *pebble.DB, series string, choice resolution, since, until int64, sized func(int), fn func(timedAgg)) error {
	rd := s.newReader(db, series)
	defer rd.close()
	var markers [numRes]*marker
	for _, r := range []resolution{resMinute, resHour} {
		m, err := rd.marker(r)
		if err != nil {
			return err
		}
		markers[r] = m
	}
	now := s.now().UnixMilli()
	segs := plan(choice, s.windows(now, markers), since, until)
	if sized != nil {
		n := int64(0)
		for _, sg := range segs {
			iv, to := resInterval[sg.res], sg.to
			if iv == 0 {
				iv, to = rawEvery, min(to, now+resInterval[resMinute]) // no points from the future
			}
			n += max(to-sg.from, 0)/iv + 1
		}
		sized(int(min(n, 1<<16))) // only a first capacity: 64 Ki points, 5.6 MB
	}
	for _, sg := range segs {
		if err := rd.read(sg, fn); err != nil {
			return err
		}
	}
	return nil
}

// Query returns the points of q.Series in [q.Since, q.Until] in time order
// with no duplicate timestamps. The resolution is the coarsest whose
// interval is not coarser than q.Step (0: raw); where it has no data — raw
// past its retention, rollups not yet computed for the newest minutes — the
// neighbouring resolutions fill in (see plan). A zero Since means the
// beginning of the stored history, a zero Until means now. An unknown series
// has no points (no error).
func (s *Store) Query(ctx context.Context, q miner.HistoryQuery) ([]miner.HistoryPoint, error) {
	if err := validSeries(q.Series); err != nil {
		return nil, fmt.Errorf("kv: query: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: query %q: %w", q.Series, err)
	}
	since, until := int64(minTime), s.now().UnixMilli()
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixMilli()
	}
	db, done, err := s.acquire(false)
	if err != nil {
		return nil, fmt.Errorf("kv: query %q: %w", q.Series, err)
	}
	defer done()
	var out []miner.HistoryPoint
	err = s.query(db, q.Series, chooseResolution(q.Step), since, until,
		func(n int) { out = make([]miner.HistoryPoint, 0, n) },
		func(p timedAgg) {
			out = append(out, miner.HistoryPoint{
				Time:          time.UnixMilli(p.t).UTC(),
				AvgHS:         p.sum / float64(p.count),
				MinHS:         p.min,
				MaxHS:         p.max,
				Count:         p.count,
				AcceptedDelta: p.acc,
				RejectedDelta: p.rej,
				Resolution:    resPublic[p.res],
			})
		})
	if err != nil {
		return nil, fmt.Errorf("kv: query %q: %w", q.Series, err)
	}
	return out, nil
}

// Summary summarises everything stored for series: hour rollups, then minute
// rollups not yet in an hour, then raw points not yet in a minute, so each
// sample counts once. ErrStoreNotFound (wrapped) if there are no points.
func (s *Store) Summary(ctx context.Context, series string) (miner.HistorySummary, error) {
	if err := validSeries(series); err != nil {
		return miner.HistorySummary{}, fmt.Errorf("kv: summary: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return miner.HistorySummary{}, fmt.Errorf("kv: summary %q: %w", series, err)
	}
	db, done, err := s.acquire(false)
	if err != nil {
		return miner.HistorySummary{}, fmt.Errorf("kv: summary %q: %w", series, err)
	}
	defer done()
	var total agg
	err = s.query(db, series, resHour, minTime, maxTime-1, nil, func(p timedAgg) { total.merge(p.agg) })
	if err != nil {
		return miner.HistorySummary{}, fmt.Errorf("kv: summary %q: %w", series, err)
	}
	if total.count == 0 {
		return miner.HistorySummary{}, fmt.Errorf("kv: summary %q: %w", series, miner.ErrStoreNotFound)
	}
	return miner.HistorySummary{
		Series:    series,
		Count:     total.count,
		AvgHS:     total.sum / float64(total.count),
		MinHS:     total.min,
		MaxHS:     total.max,
		FirstSeen: time.UnixMilli(total.first).UTC(),
		LastSeen:  time.UnixMilli(total.last).UTC(),
		Accepted:  total.acc,
		Rejected:  total.rej,
	}, nil
}

// Series lists the series that have points at any resolution, sorted.
func (s *Store) Series(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: list series: %w", err)
	}
	db, done, err := s.acquire(false)
	if err != nil {
		return nil, fmt.Errorf("kv: list series: %w", err)
	}
	defer done()
	var all []string
	for r := range numRes {
		names, err := listSeries(db, resPrefix(r))
		if err != nil {
			return nil, fmt.Errorf("kv: list series: %w", err)
		}
		all = append(all, names...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// reading is what listSeries needs: a *pebble.DB or a *pebble.Snapshot.
type reading interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

// listSeries returns the distinct series under prefix ("ts/<res>/" or
// "tm/<res>/"), seeking past each series instead of reading its points.
func listSeries(db reading, prefix []byte) ([]string, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var names []string
	for ok := it.First(); ok; {
		rest := it.Key()[len(prefix):]
		name := rest
		if i := bytes.IndexByte(rest, seriesEnd); i >= 0 {
			name = rest[:i]
		}
		names = append(names, string(name))
		next := append(append(bytes.Clone(prefix), name...), seriesEnd+1)
		ok = it.SeekGE(next)
	}
	return names, it.Error()
}
