package peers

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rigd/rigd/agent/miner"
)

// Local is what a node needs from its own agent. *miner.Manager implements
// it as it is.
type Local interface {
	// List returns every miner with its stats.
	List() []miner.Info
	// Start starts a miner; the adapter validates the profile.
	Start(ctx context.Context, req miner.StartRequest) (miner.Info, error)
	// Stop stops a miner and forgets it.
	Stop(ctx context.Context, name string) (miner.Info, error)
	// Logs returns a miner's latest output lines.
	Logs(name string, q miner.LogQuery) ([]miner.LogLine, error)
}

// Profiles resolves a stored profile id into a start request.
// *miner.Profiles implements it as it is.
type Profiles interface {
	StartRequest(ctx context.Context, id string) (miner.StartRequest, error)
}

var (
	_ Local    = (*miner.Manager)(nil)
	_ Profiles = (*miner.Profiles)(nil)
)

// PeerRecord is a paired peer as stored in the allow-list.
type PeerRecord struct {
	ID   NodeID `json:"id"`
	Name string `json:"name"`
	// Address is where to dial the peer ("" if it does not listen).
	Address string `json:"address,omitempty"`
	// Role is what the peer may do on this node.
	Role     Role      `json:"role"`
	NodeRole NodeRole  `json:"node_role,omitempty"`
	Added    time.Time `json:"added"`
}

// SeqKind names one of a peer's two persisted sequence counters.
type SeqKind string

// Sequence counters.
const (
	// SeqSent is the highest sequence number this node may have used
	// towards the peer (a reservation: numbers are handed out from
	// memory and the reservation is moved ahead in blocks).
	SeqSent SeqKind = "sent"
	// SeqRecv is the highest sequence number accepted from the peer
	// (written before every command runs, every 64 messages and when a
	// session ends).
	SeqRecv SeqKind = "recv"
)

// Store persists the allow-list, the sequence counters and the audit log.
// kv implements it on Pebble; MemStore is an in-memory one. The node never
// calls SaveSeq concurrently for the same peer and kind, and the values
// it saves for SeqSent only grow.
type Store interface {
	// Peers returns every stored peer.
	Peers(ctx context.Context) ([]PeerRecord, error)
	// PutPeer adds or replaces a peer.
	PutPeer(ctx context.Context, p PeerRecord) error
	// DeletePeer removes a peer (no error if it is not stored). The
	// sequence counters stay: a re-paired peer continues from them.
	DeletePeer(ctx context.Context, id NodeID) error
	// LoadSeq returns a counter, 0 if it was never saved.
	LoadSeq(ctx context.Context, id NodeID, kind SeqKind) (uint64, error)
	// SaveSeq stores a counter durably.
	SaveSeq(ctx context.Context, id NodeID, kind SeqKind, v uint64) error
	// AddAudit records a remote command or a refused connection; Who is
	// "peer:<node id>".
	AddAudit(ctx context.Context, e miner.AuditEntry) error
}

// MemStore is an in-memory Store, safe for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	peers map[NodeID]PeerRecord
	seqs  map[seqKey]uint64
	audit []miner.AuditEntry
}

type seqKey struct {
	id   NodeID
	kind SeqKind
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{peers: map[NodeID]PeerRecord{}, seqs: map[seqKey]uint64{}}
}

// Peers implements Store; the result is sorted by id.
func (s *MemStore) Peers(context.Context) ([]PeerRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerRecord, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PeerRecord) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

// PutPeer implements Store.
func (s *MemStore) PutPeer(_ context.Context, p PeerRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers[p.ID] = p
	return nil
}

// DeletePeer implements Store.
func (s *MemStore) DeletePeer(_ context.Context, id NodeID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.peers, id)
	return nil
}

// LoadSeq implements Store.
func (s *MemStore) LoadSeq(_ context.Context, id NodeID, kind SeqKind) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seqs[seqKey{id, kind}], nil
}

// SaveSeq implements Store.
func (s *MemStore) SaveSeq(_ context.Context, id NodeID, kind SeqKind, v uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs[seqKey{id, kind}] = v
	return nil
}

// AddAudit implements Store.
func (s *MemStore) AddAudit(_ context.Context, e miner.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

// Audit returns the audit entries, oldest first.
func (s *MemStore) Audit() []miner.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}
