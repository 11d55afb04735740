package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rigd/rigd/agent/miner"
)

// ErrInvalidID is returned for an empty or unusable document id, miner name
// or setting key.
var ErrInvalidID = errors.New("kv: invalid id")

// maxIDLen bounds document ids, miner names and setting keys.
const maxIDLen = 256

func checkID(kind, id string) error {
	if id == "" || len(id) > maxIDLen || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: %s %q", ErrInvalidID, kind, id)
	}
	return nil
}

// putJSON stores v as JSON at key with a synced commit.
func (s *Store) putJSON(op string, key []byte, v any) error {
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	db, done, err := s.acquire(true)
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	defer done()
	if err := s.write(db, func(b *pebble.Batch) error { return b.Set(key, val, nil) }); err != nil {
		return fmt.Errorf("kv: %s: %w", op, s.writeFailed(err))
	}
	return nil
}

// getJSON decodes the JSON at key into v; ErrStoreNotFound if there is none.
func (s *Store) getJSON(op string, key []byte, v any) error {
	db, done, err := s.acquire(false)
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	defer done()
	val, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("kv: %s: %w", op, miner.ErrStoreNotFound)
	}
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	err = json.Unmarshal(val, v) // copies: nothing of val is kept
	_ = closer.Close()
	var bad *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &bad): // the caller's mistake, not the data's
		return fmt.Errorf("kv: %s: %w", op, err)
	case err != nil:
		return fmt.Errorf("kv: %s: %w: %v", op, ErrCorrupt, err)
	}
	return nil
}

// scan calls fn with the key and value of every key under prefix, in key
// order (newest first with reverse). fn must not keep k or v; it returns
// false to stop.
func (s *Store) scan(op string, prefix []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	db, done, err := s.acquire(false)
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	defer done()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	defer it.Close()
	first, next := it.First, it.Next
	if reverse {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("kv: %s: %w", op, err)
		}
		more, err := fn(it.Key(), v)
		if err != nil {
			return fmt.Errorf("kv: %s: at %q: %w", op, it.Key(), err)
		}
		if !more {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	return nil
}

// skipCorrupt logs a record a listing leaves out because it cannot be
// decoded: one damaged profile or autostart entry must not hide the others
// (a listing used to fail whole). The record stays, to be read or deleted.
func (s *Store) skipCorrupt(key []byte, err error) {
	s.log.Error("skipping a corrupt record", "key", string(key), "err", err)
}

func decodeJSON(v []byte, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// Profiles.

// ListProfiles returns the stored profiles sorted by name, then id.
func (s *Store) ListProfiles(ctx context.Context) ([]miner.StoredProfile, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: list profiles: %w", err)
	}
	var out []miner.StoredProfile
	err := s.scan("list profiles", []byte(prefixProfile), false, func(k, v []byte) (bool, error) {
		var p miner.StoredProfile
		if err := decodeJSON(v, &p); err != nil {
			s.skipCorrupt(k, err)
			return true, nil
		}
		out = append(out, p)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b miner.StoredProfile) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// GetProfile returns the profile with id; ErrStoreNotFound (wrapped) if
// there is none.
func (s *Store) GetProfile(ctx context.Context, id string) (miner.StoredProfile, error) {
	var p miner.StoredProfile
	if err := checkID("profile id", id); err != nil {
		return p, err
	}
	if err := ctx.Err(); err != nil {
		return p, fmt.Errorf("kv: get profile %q: %w", id, err)
	}
	err := s.getJSON(fmt.Sprintf("get profile %q", id), []byte(prefixProfile+id), &p)
	return p, err
}

// PutProfile creates or replaces the profile p.ID (the caller chooses the
// id). A zero CreatedAt keeps the stored one, or is set to now for a new
// profile; a zero UpdatedAt is set to now.
func (s *Store) PutProfile(ctx context.Context, p miner.StoredProfile) error {
	if err := checkID("profile id", p.ID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: put profile %q: %w", p.ID, err)
	}
	now := s.now().UTC()
	if p.CreatedAt.IsZero() {
		old, err := s.GetProfile(ctx, p.ID)
		switch {
		case err == nil:
			p.CreatedAt = old.CreatedAt
		case errors.Is(err, miner.ErrStoreNotFound):
			p.CreatedAt = now
		default:
			return err
		}
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = now
	}
	return s.putJSON(fmt.Sprintf("put profile %q", p.ID), []byte(prefixProfile+p.ID), p)
}

// DeleteProfile deletes the profile id; ErrStoreNotFound (wrapped) if there
// is none.
func (s *Store) DeleteProfile(ctx context.Context, id string) error {
	if err := checkID("profile id", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: delete profile %q: %w", id, err)
	}
	op := fmt.Sprintf("delete profile %q", id)
	db, done, err := s.acquire(true)
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	defer done()
	key := []byte(prefixProfile + id)
	_, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("kv: %s: %w", op, miner.ErrStoreNotFound)
	}
	if err != nil {
		return fmt.Errorf("kv: %s: %w", op, err)
	}
	_ = closer.Close()
	if err := s.write(db, func(b *pebble.Batch) error { return b.Delete(key, nil) }); err != nil {
		return fmt.Errorf("kv: %s: %w", op, s.writeFailed(err))
	}
	return nil
}

// Autostart set.

// SetAutostart marks the miner name to be started with req when the agent
// starts (replacing an earlier request).
func (s *Store) SetAutostart(ctx context.Context, name string, req miner.StartRequest) error {
	if err := checkID("miner name", name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: set autostart %q: %w", name, err)
	}
	return s.putJSON(fmt.Sprintf("set autostart %q", name), []byte(prefixAutostart+name), req)
}

// ClearAutostart unmarks the miner name; no error if it was not marked.
func (s *Store) ClearAutostart(ctx context.Context, name string) error {
	if err := checkID("miner name", name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: clear autostart %q: %w", name, err)
	}
	db, done, err := s.acquire(true)
	if err != nil {
		return fmt.Errorf("kv: clear autostart %q: %w", name, err)
	}
	defer done()
	if err := s.write(db, func(b *pebble.Batch) error { return b.Delete([]byte(prefixAutostart+name), nil) }); err != nil {
		return fmt.Errorf("kv: clear autostart %q: %w", name, s.writeFailed(err))
	}
	return nil
}

// Autostart returns the marked miners and their start requests.
func (s *Store) Autostart(ctx context.Context) (map[string]miner.StartRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: list autostart: %w", err)
	}
	out := map[string]miner.StartRequest{}
	err := s.scan("list autostart", []byte(prefixAutostart), false, func(k, v []byte) (bool, error) {
		var req miner.StartRequest
		if err := decodeJSON(v, &req); err != nil {
			s.skipCorrupt(k, err)
			return true, nil
		}
		out[string(k[len(prefixAutostart):])] = req
		return true, nil
	})
	return out, err
}

// Sessions.

// AddSession records a finished (or abandoned) run of a miner. Sessions are
// ordered by Start (Stop if Start is zero).
func (s *Store) AddSession(ctx context.Context, rec miner.SessionRecord) error {
	if err := checkID("miner name", rec.Miner); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: add session of %q: %w", rec.Miner, err)
	}
	t := rec.Start
	if t.IsZero() {
		t = rec.Stop
	}
	if t.IsZero() {
		t = s.now()
	}
	key := logKey(prefixSession, t.UnixMilli(), s.seq.Add(1), rec.Miner)
	return s.putJSON(fmt.Sprintf("add session of %q", rec.Miner), key, rec)
}

// Sessions returns the latest sessions of miner ("" for all miners), newest
// first, at most limit (limit <= 0: all that are kept).
func (s *Store) Sessions(ctx context.Context, minerName string, limit int) ([]miner.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: list sessions: %w", err)
	}
	var out []miner.SessionRecord
	err := s.scan("list sessions", []byte(prefixSession), true, func(k, v []byte) (bool, error) {
		if len(k) < len(prefixSession)+16 {
			return false, ErrCorrupt
		}
		if minerName != "" && !bytes.Equal(k[len(prefixSession)+16:], []byte(minerName)) {
			return true, nil
		}
		var rec miner.SessionRecord
		if err := decodeJSON(v, &rec); err != nil {
			return false, err
		}
		out = append(out, rec)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// Audit log.

// AddAudit appends an entry to the audit log (Time zero: now). The log keeps
// Retention.Audit (90 days) and at most Retention.AuditEntries (100,000)
// entries; older ones are deleted by Maintain.
func (s *Store) AddAudit(ctx context.Context, e miner.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: add audit entry: %w", err)
	}
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	key := logKey(prefixAudit, e.Time.UnixMilli(), s.seq.Add(1), "")
	return s.putJSON("add audit entry", key, e)
}

// Audit returns the latest entries, newest first, at most limit (limit <= 0:
// all that are kept).
func (s *Store) Audit(ctx context.Context, limit int) ([]miner.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: list audit: %w", err)
	}
	var out []miner.AuditEntry
	err := s.scan("list audit", []byte(prefixAudit), true, func(_, v []byte) (bool, error) {
		var e miner.AuditEntry
		if err := decodeJSON(v, &e); err != nil {
			return false, err
		}
		out = append(out, e)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// Settings.

// GetSetting decodes the JSON setting key into v; ErrStoreNotFound
// (wrapped) if it is unset.
func (s *Store) GetSetting(ctx context.Context, key string, v any) error {
	if err := checkID("setting key", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: get setting %q: %w", key, err)
	}
	return s.getJSON(fmt.Sprintf("get setting %q", key), []byte(prefixSetting+key), v)
}

// PutSetting stores v as JSON under key.
func (s *Store) PutSetting(ctx context.Context, key string, v any) error {
	if err := checkID("setting key", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv: put setting %q: %w", key, err)
	}
	return s.putJSON(fmt.Sprintf("put setting %q", key), []byte(prefixSetting+key), v)
}
