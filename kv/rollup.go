package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

const (
	// MaintainEvery is how often Run calls Maintain.
	MaintainEvery = time.Minute
	// RollupDelay is how long after an interval ends it is rolled up: the
	// collector's last batch of the interval has this long to call Append
	// (an Append in flight, however slow its commit, holds rollups back).
	// A point older than its series' rollup progress when Append is called
	// is stored raw but not rolled up.
	RollupDelay = 10 * time.Second
	// retentionEvery is how often Maintain deletes expired data. Queries
	// never return expired data, deleted yet or not.
	retentionEvery = time.Hour
	// rollupChunk is how many rollups one batch (with its marker) holds.
	rollupChunk = 1440
)

// Run calls Maintain now and every MaintainEvery until ctx is done (it then
// returns nil) or the store is closed (ErrClosed). Maintenance errors are
// logged, not returned: the next pass retries. The caller owns the goroutine
// that runs it; Close waits for a pass in flight.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(MaintainEvery)
	defer t.Stop()
	for {
		err := s.Maintain(ctx)
		switch {
		case errors.Is(err, ErrClosed):
			return err
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("kv: maintenance", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Maintain runs one maintenance pass at Options.Now: it rolls every series
// up into minutes and hours (complete intervals only, RollupDelay after
// they end), deletes data past its retention (at most hourly), and checks
// free space. Passes are serialised. A pass interrupted by ctx, Close or a
// crash leaves the store consistent: each rollup batch carries its progress
// marker.
func (s *Store) Maintain(ctx context.Context) error {
	select {
	case s.maint <- struct{}{}:
		defer func() { <-s.maint }()
	case <-ctx.Done():
		return fmt.Errorf("kv: maintain: %w", ctx.Err())
	}
	s.maybeResume()
	s.checkSpace()
	db, done, err := s.acquire(false)
	if err != nil {
		return fmt.Errorf("kv: maintain: %w", err)
	}
	defer done()
	now := s.now()
	if s.Healthy() == nil {
		if err := s.rollupAll(ctx, db, now); err != nil {
			return fmt.Errorf("kv: maintain: %w", err)
		}
	}
	s.mu.Lock()
	due := now.Sub(s.mu.lastRetention) >= retentionEvery || now.Before(s.mu.lastRetention)
	s.mu.Unlock()
	if !due {
		return nil
	}
	if !s.mayRetain() {
		return nil
	}
	if err := s.retain(ctx, db, now); err != nil {
		return fmt.Errorf("kv: maintain: retention: %w", err)
	}
	s.mu.Lock()
	s.mu.lastRetention = now
	s.mu.Unlock()
	return nil
}

// mayRetain: retention writes too (range deletions, small), but it is how
// space comes back, so it runs while degraded as long as Pebble is intact
// and lowWater is free (a failed WAL write is fatal to Pebble).
func (s *Store) mayRetain() bool {
	s.mu.Lock()
	deg, broken := s.mu.degraded != nil, s.mu.walBroken
	s.mu.Unlock()
	if !deg {
		return true
	}
	if broken {
		return false
	}
	avail, ok := s.freeBytes()
	return ok && avail >= lowWater
}

// stopping reports why a long pass must stop early.
func (s *Store) stopping(ctx context.Context) error {
	if s.closing.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// pass collects a maintenance pass's writes in one batch: rollups of
// several series, each series' rollups with its marker. It is committed
// when it holds rollupChunk rollups and at the end of each phase, without
// waiting for a sync: a lost rollup batch loses its marker too and is
// recomputed from the raw points, and the WAL keeps its order, so no later
// write (a retention deletion) can survive it. The next synced Append
// makes it durable. One commit instead of one per series keeps the disk
// writes of a day of maintenance small.
type pass struct {
	s  *Store
	db *pebble.DB
	b  *pebble.Batch
	n  int              // rollups in b
	it *pebble.Iterator // reused for every series (SetBounds)
}

func (s *Store) newPass(db *pebble.DB) *pass { return &pass{s: s, db: db, b: db.NewBatch()} }

// iter returns the pass's iterator bounded to [lower, upper). One iterator
// for the whole pass: opening one per series is most of a pass's cost.
func (p *pass) iter(lower, upper []byte) (*pebble.Iterator, error) {
	if p.it == nil {
		it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		p.it = it
		return it, nil
	}
	p.it.SetBounds(lower, upper)
	return p.it, nil
}

// endIter closes the iterator: before a commit, so that the next phase
// sees the committed rollups.
func (p *pass) endIter() error {
	if p.it == nil {
		return nil
	}
	err := p.it.Close()
	p.it = nil
	return err
}

func (p *pass) full() bool { return p.n >= rollupChunk }

func (p *pass) commit(ctx context.Context) error {
	if !p.b.Empty() {
		err := p.s.commitWith(p.b, pebble.NoSync)
		p.b.Close()
		p.b, p.n = p.db.NewBatch(), 0
		if err != nil {
			return err
		}
	}
	return p.s.stopping(ctx)
}

func (p *pass) close() {
	_ = p.endIter()
	p.b.Close()
}

func (s *Store) rollupAll(ctx context.Context, db *pebble.DB, now time.Time) error {
	end := s.rollupEnd(now) // before any iterator: see inFlight
	all, err := s.knownSeries(db)
	if err != nil {
		return err
	}
	p := s.newPass(db)
	defer p.close()
	for _, series := range all {
		if err := s.stopping(ctx); err != nil {
			return err
		}
		if err := s.rollupMinutes(ctx, p, series, end); err != nil {
			return fmt.Errorf("roll up %q into minutes: %w", series, err)
		}
	}
	// Hours read the minute rollups: commit them first. Hours follow the
	// minute progress, also of series whose raw points have expired.
	if err := errors.Join(p.endIter(), p.commit(ctx)); err != nil {
		return err
	}
	for _, series := range all {
		if err := s.stopping(ctx); err != nil {
			return err
		}
		if err := s.rollupHours(ctx, p, series); err != nil {
			return fmt.Errorf("roll up %q into hours: %w", series, err)
		}
	}
	return errors.Join(p.endIter(), p.commit(ctx))
}

// knownSeries returns every series that has raw points or a minute marker
// (sorted). It scans the database once, at the first pass; Append adds
// new series after that.
func (s *Store) knownSeries(db *pebble.DB) ([]string, error) {
	s.mu.Lock()
	loaded := s.mu.seriesLoaded
	s.mu.Unlock()
	if !loaded {
		raw, err := listSeries(db, resPrefix(resRaw))
		if err != nil {
			return nil, err
		}
		rolled, err := listSeries(db, []byte(prefixMarker+resNames[resMinute]+"/"))
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		for _, n := range append(raw, rolled...) {
			s.mu.series[n] = struct{}{}
		}
		s.mu.seriesLoaded = true
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mu.series))
	for n := range s.mu.series {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func getMarker(db *pebble.DB, key []byte) (marker, bool, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return marker{}, false, nil
	}
	if err != nil {
		return marker{}, false, err
	}
	m, err := decodeMarkerValue(v)
	_ = closer.Close()
	return m, err == nil, err
}

// rollupMinutes rolls the raw points of series before end (minute-aligned)
// into 1-minute rollups, from its minute marker on.
func (s *Store) rollupMinutes(ctx context.Context, p *pass, series string, end int64) error {
	mkey := markerKey(resMinute, series)
	m, ok, err := getMarker(p.db, mkey)
	if err != nil {
		return err
	}
	start := int64(minTime)
	if ok {
		start = m.until
	}
	if start >= end {
		return nil
	}
	it, err := p.iter(tsKey(nil, resRaw, series, start), tsKey(nil, resRaw, series, end))
	if err != nil {
		return err
	}
	prev := m // counters of the last point before the current one
	var cur agg
	curMin := int64(minTime)
	n := 0
	var key, val []byte
	setMarker := func(until int64) {
		p.b.Set(mkey, appendMarkerValue(nil, marker{until: until, hasLast: prev.hasLast, lastAcc: prev.lastAcc, lastRej: prev.lastRej}), nil)
	}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		t := decodeTime(k[len(k)-8:])
		v, err := decodeRawValue(value(it))
		if err != nil {
			return fmt.Errorf("at %q: %w", k, readErr(it, err))
		}
		if minute := floorTo(t, resInterval[resMinute]); minute != curMin {
			if cur.count > 0 {
				key = tsKey(key[:0], resMinute, series, curMin)
				val = appendAggValue(val[:0], curMin, cur)
				p.b.Set(key, val, nil)
				p.n++
				n++
				if p.full() {
					// Everything before this point's minute is in the batch.
					setMarker(minute)
					if err := p.commit(ctx); err != nil {
						return err
					}
				}
			}
			cur, curMin = agg{}, minute
		}
		cur.addSample(t, v.hs, counterDelta(prev.lastAcc, prev.hasLast, v.acc), counterDelta(prev.lastRej, prev.hasLast, v.rej))
		prev.hasLast, prev.lastAcc, prev.lastRej = true, v.acc, v.rej
	}
	if err := it.Error(); err != nil {
		return err
	}
	if cur.count > 0 {
		key = tsKey(key[:0], resMinute, series, curMin)
		p.b.Set(key, appendAggValue(val[:0], curMin, cur), nil)
		p.n++
		n++
	}
	// Move the marker when something was rolled up, and at least hourly for
	// an idle series so that its last hour gets completed.
	if n > 0 || !ok || floorTo(end, resInterval[resHour]) > floorTo(start, resInterval[resHour]) {
		setMarker(end)
	}
	if p.full() {
		return p.commit(ctx)
	}
	return nil
}

// rollupHours rolls the minute rollups of series into hour rollups, up to
// the last hour its minute progress has completed.
func (s *Store) rollupHours(ctx context.Context, p *pass, series string) error {
	mm, ok, err := getMarker(p.db, markerKey(resMinute, series))
	if err != nil || !ok {
		return err
	}
	end := floorTo(mm.until, resInterval[resHour])
	hkey := markerKey(resHour, series)
	hm, ok, err := getMarker(p.db, hkey)
	if err != nil {
		return err
	}
	start := int64(minTime)
	if ok {
		start = hm.until
	}
	if start >= end {
		return nil
	}
	it, err := p.iter(tsKey(nil, resMinute, series, start), tsKey(nil, resMinute, series, end))
	if err != nil {
		return err
	}
	var cur agg
	curHour := int64(minTime)
	var key []byte
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		t := decodeTime(k[len(k)-8:])
		a, err := decodeAggValue(value(it), t)
		if err != nil {
			return fmt.Errorf("at %q: %w", k, readErr(it, err))
		}
		if hour := floorTo(t, resInterval[resHour]); hour != curHour {
			if cur.count > 0 {
				key = tsKey(key[:0], resHour, series, curHour)
				p.b.Set(key, appendAggValue(nil, curHour, cur), nil)
				p.n++
				if p.full() {
					p.b.Set(hkey, appendMarkerValue(nil, marker{until: hour}), nil)
					if err := p.commit(ctx); err != nil {
						return err
					}
				}
			}
			cur, curHour = agg{}, hour
		}
		cur.merge(a)
	}
	if err := it.Error(); err != nil {
		return err
	}
	if cur.count > 0 {
		key = tsKey(key[:0], resHour, series, curHour)
		p.b.Set(key, appendAggValue(nil, curHour, cur), nil)
		p.n++
	}
	p.b.Set(hkey, appendMarkerValue(nil, marker{until: end}), nil)
	if p.full() {
		return p.commit(ctx)
	}
	return nil
}

// retainGrain is the step in which each resolution's data is deleted: a
// range deletion per series per step, not per pass, keeps range tombstones
// few. Data waits up to one step past its retention to be deleted; queries
// never return it.
var retainGrain = [numRes]int64{
	resRaw:    resInterval[resHour],
	resMinute: 6 * resInterval[resHour],
	resHour:   24 * resInterval[resHour],
}

type retainKey struct {
	res    resolution
	series string
}

// retain deletes expired data with range deletions, in one batch. Raw
// points and minute rollups are never deleted before they are rolled up,
// whatever their age (queries hide them once expired).
func (s *Store) retain(ctx context.Context, db *pebble.DB, now time.Time) error {
	b := db.NewBatch()
	defer b.Close()
	nowMS := now.UnixMilli()
	all, err := s.knownSeries(db)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.mu.retained == nil {
		s.mu.retained = map[retainKey]int64{}
	}
	retained := maps.Clone(s.mu.retained)
	s.mu.Unlock()
	for _, series := range all {
		if err := s.stopping(ctx); err != nil {
			return err
		}
		for r := range numRes {
			ret := [numRes]time.Duration{s.ret.Raw, s.ret.Minute, s.ret.Hour}[r]
			cutoff := floorTo(nowMS-ret.Milliseconds(), retainGrain[r])
			if r < resHour {
				// Not before it is rolled up into the next resolution.
				m, ok, err := getMarker(db, markerKey(r+1, series))
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				cutoff = min(cutoff, m.until)
			}
			k := retainKey{r, series}
			done, seen := retained[k]
			if seen && cutoff <= done {
				continue
			}
			prefix := seriesPrefix(nil, r, series)
			if seen {
				if err := b.DeleteRange(prefix, encodeTime(bytes.Clone(prefix), cutoff), nil); err != nil {
					return err
				}
			} else if err := deleteBefore(db, b, prefix, cutoff); err != nil { // first pass: only if there is data
				return err
			}
			retained[k] = cutoff
		}
	}
	for _, l := range []struct {
		prefix string
		age    time.Duration
		max    int
	}{
		{prefixAudit, s.ret.Audit, s.ret.AuditEntries},
		{prefixSession, s.ret.Sessions, s.ret.SessionCount},
	} {
		if err := deleteBefore(db, b, []byte(l.prefix), nowMS-l.age.Milliseconds()); err != nil {
			return err
		}
		if err := capLog(db, b, []byte(l.prefix), l.max); err != nil {
			return err
		}
	}
	if !b.Empty() {
		if err := s.commitWith(b, pebble.NoSync); err != nil { // see pass
			return err
		}
	}
	s.mu.Lock()
	s.mu.retained = retained
	s.mu.Unlock()
	return nil
}

// deleteBefore adds to b a range deletion of the keys prefix+<time < cutoff>
// if there is any.
func deleteBefore(db *pebble.DB, b *pebble.Batch, prefix []byte, cutoff int64) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	upper := encodeTime(bytes.Clone(prefix), cutoff)
	if !it.First() || bytes.Compare(it.Key(), upper) >= 0 {
		return it.Error()
	}
	return b.DeleteRange(prefix, upper, nil)
}

// capLog adds to b a range deletion of all but the newest max keys under
// prefix.
func capLog(db *pebble.DB, b *pebble.Batch, prefix []byte, max int) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := it.Last(); ok; ok = it.Prev() {
		n++
		if n == max {
			oldestKept := bytes.Clone(it.Key())
			if it.Prev() {
				return b.DeleteRange(prefix, oldestKept, nil)
			}
			break
		}
	}
	return it.Error()
}
