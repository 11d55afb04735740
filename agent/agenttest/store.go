package agenttest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/rigd/rigd/agent/miner"
)

var (
	_ miner.Store   = (*MemStore)(nil)
	_ miner.History = (*MemStore)(nil)
)

// MemStore is an in-memory miner.Store and miner.History for tests. Its
// history keeps raw points only.
type MemStore struct {
	mu        sync.Mutex
	profiles  map[string]miner.StoredProfile
	autostart map[string]miner.StartRequest
	sessions  []miner.SessionRecord
	audit     []miner.AuditEntry
	settings  map[string][]byte
	points    map[string][]miner.Point
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		profiles:  map[string]miner.StoredProfile{},
		autostart: map[string]miner.StartRequest{},
		settings:  map[string][]byte{},
		points:    map[string][]miner.Point{},
	}
}

func (s *MemStore) ListProfiles(context.Context) ([]miner.StoredProfile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]miner.StoredProfile, 0, len(s.profiles))
	for _, p := range s.profiles {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b miner.StoredProfile) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *MemStore) GetProfile(_ context.Context, id string) (miner.StoredProfile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return p, miner.ErrStoreNotFound
	}
	return p, nil
}

func (s *MemStore) PutProfile(_ context.Context, p miner.StoredProfile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[p.ID] = p
	return nil
}

func (s *MemStore) DeleteProfile(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[id]; !ok {
		return miner.ErrStoreNotFound
	}
	delete(s.profiles, id)
	return nil
}

func (s *MemStore) SetAutostart(_ context.Context, name string, req miner.StartRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autostart[name] = req
	return nil
}

func (s *MemStore) ClearAutostart(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.autostart, name)
	return nil
}

func (s *MemStore) Autostart(context.Context) (map[string]miner.StartRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]miner.StartRequest, len(s.autostart))
	for k, v := range s.autostart {
		out[k] = v
	}
	return out, nil
}

func (s *MemStore) AddSession(_ context.Context, r miner.SessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = append(s.sessions, r)
	return nil
}

func (s *MemStore) Sessions(_ context.Context, name string, limit int) ([]miner.SessionRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []miner.SessionRecord
	for i := len(s.sessions) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if name == "" || s.sessions[i].Miner == name {
			out = append(out, s.sessions[i])
		}
	}
	return out, nil
}

func (s *MemStore) AddAudit(_ context.Context, e miner.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

func (s *MemStore) Audit(_ context.Context, limit int) ([]miner.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []miner.AuditEntry
	for i := len(s.audit) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		out = append(out, s.audit[i])
	}
	return out, nil
}

func (s *MemStore) GetSetting(_ context.Context, key string, v any) error {
	s.mu.Lock()
	b, ok := s.settings[key]
	s.mu.Unlock()
	if !ok {
		return miner.ErrStoreNotFound
	}
	return json.Unmarshal(b, v)
}

func (s *MemStore) PutSetting(_ context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings[key] = b
	return nil
}

func (s *MemStore) Append(_ context.Context, points []miner.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range points {
		s.points[p.Series] = append(s.points[p.Series], p)
	}
	return nil
}

func (s *MemStore) Query(_ context.Context, q miner.HistoryQuery) ([]miner.HistoryPoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []miner.HistoryPoint
	for _, p := range s.points[q.Series] {
		if (!q.Since.IsZero() && p.Time.Before(q.Since)) || (!q.Until.IsZero() && p.Time.After(q.Until)) {
			continue
		}
		out = append(out, miner.HistoryPoint{Time: p.Time, AvgHS: p.HashrateHS, MinHS: p.HashrateHS, MaxHS: p.HashrateHS, Count: 1, Resolution: miner.ResolutionRaw})
	}
	return out, nil
}

func (s *MemStore) Summary(_ context.Context, series string) (miner.HistorySummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.points[series]
	if len(ps) == 0 {
		return miner.HistorySummary{}, miner.ErrStoreNotFound
	}
	sum := miner.HistorySummary{Series: series, MinHS: ps[0].HashrateHS, FirstSeen: ps[0].Time}
	var total float64
	for _, p := range ps {
		total += p.HashrateHS
		sum.MinHS = min(sum.MinHS, p.HashrateHS)
		sum.MaxHS = max(sum.MaxHS, p.HashrateHS)
		sum.LastSeen = p.Time
	}
	sum.Count = int64(len(ps))
	sum.AvgHS = total / float64(len(ps))
	last := ps[len(ps)-1]
	sum.Accepted, sum.Rejected = last.Accepted, last.Rejected
	return sum, nil
}

func (s *MemStore) Series(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.points {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Points returns the stored points of a series (a copy).
func (s *MemStore) Points(series string) []miner.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.points[series])
}
