package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

func TestProfilesCRUD(t *testing.T) {
	clk := newClock(epoch)
	fs := vfs.NewMem()
	s := openTest(t, fs, clk)
	ctx := context.Background()
	p := miner.StoredProfile{
		ID: "6f1c2d3e-0000-4000-8000-000000000001", Name: "monero", Type: "xmrig",
		Profile: abi.Profile{Algo: "rx/0", Pools: []abi.Pool{{URL: "stratum+tcp://pool:3333", User: "wallet"}},
			Options: map[string]json.RawMessage{"huge_pages": json.RawMessage(`true`)}},
	}
	if err := s.PutProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetProfile(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.CreatedAt, p.UpdatedAt = epoch, epoch // filled in by PutProfile
	if !reflect.DeepEqual(got, p) {
		t.Errorf("GetProfile:\n got %+v\nwant %+v", got, p)
	}
	// Update: CreatedAt kept, UpdatedAt moves.
	clk.Set(epoch.Add(time.Hour))
	p.Name, p.CreatedAt, p.UpdatedAt = "monero-2", time.Time{}, time.Time{}
	if err := s.PutProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetProfile(ctx, p.ID)
	if !got.CreatedAt.Equal(epoch) || !got.UpdatedAt.Equal(epoch.Add(time.Hour)) || got.Name != "monero-2" {
		t.Errorf("after update: %+v", got)
	}
	other := miner.StoredProfile{ID: "b", Name: "aaa", Type: "ttminer"}
	if err := s.PutProfile(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListProfiles(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "b" || list[1].ID != p.ID {
		t.Errorf("ListProfiles (by name) = %+v, %v", list, err)
	}
	if err := s.DeleteProfile(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		s.DeleteProfile(ctx, "b"),
		func() error { _, err := s.GetProfile(ctx, "b"); return err }(),
	} {
		if !errors.Is(err, miner.ErrStoreNotFound) {
			t.Errorf("missing profile: %v, want ErrStoreNotFound", err)
		}
	}
	if err := s.PutProfile(ctx, miner.StoredProfile{}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("empty id: %v", err)
	}

	// Survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, fs, clk)
	if list, err := s2.ListProfiles(ctx); err != nil || len(list) != 1 || list[0].Name != "monero-2" {
		t.Errorf("after reopen: %+v, %v", list, err)
	}
}

func TestAutostart(t *testing.T) {
	fs := vfs.NewMem()
	clk := newClock(epoch)
	s := openTest(t, fs, clk)
	ctx := context.Background()
	yes := true
	reqs := map[string]miner.StartRequest{
		"xmrig-rx-0": {Type: "xmrig", Name: "xmrig-rx-0", Profile: abi.Profile{Algo: "rx/0"}, Autostart: &yes},
		"tt":         {Type: "ttminer", Name: "tt", ProfileID: "p1"},
	}
	for name, req := range reqs {
		if err := s.SetAutostart(ctx, name, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ClearAutostart(ctx, "never-set"); err != nil {
		t.Errorf("ClearAutostart of an unmarked miner: %v", err)
	}
	if err := s.ClearAutostart(ctx, "tt"); err != nil {
		t.Fatal(err)
	}
	delete(reqs, "tt")
	s.Close()
	s = openTest(t, fs, clk)
	got, err := s.Autostart(ctx)
	if err != nil || !reflect.DeepEqual(got, reqs) {
		t.Errorf("Autostart after reopen = %+v, %v; want %+v", got, err, reqs)
	}
}

func TestSessions(t *testing.T) {
	s := openTest(t, nil, newClock(epoch))
	ctx := context.Background()
	var all []miner.SessionRecord
	for i := range 10 {
		rec := miner.SessionRecord{
			Miner: fmt.Sprintf("m%d", i%3), Type: "xmrig",
			Start: epoch.Add(time.Duration(i) * time.Minute), Stop: epoch.Add(time.Duration(i)*time.Minute + 30*time.Second),
			ExitCode: i, Cause: "test", Accepted: int64(i), AvgHashrateHS: 100,
		}
		if i == 4 {
			rec.Signal = "killed"
		}
		all = append(all, rec)
	}
	// Added out of order; listed newest first by start.
	for _, i := range []int{3, 0, 9, 1, 4, 8, 2, 7, 5, 6} {
		if err := s.AddSession(ctx, all[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		miner string
		limit int
		want  []int
	}{
		{"", 3, []int{9, 8, 7}},
		{"", 0, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"m1", 10, []int{7, 4, 1}},
		{"m1", 2, []int{7, 4}},
		{"m", 10, nil},
		{"nope", 5, nil},
	} {
		got, err := s.Sessions(ctx, tc.miner, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var want []miner.SessionRecord
		for _, i := range tc.want {
			want = append(want, all[i])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Sessions(%q, %d):\n got %+v\nwant %+v", tc.miner, tc.limit, got, want)
		}
	}
}

func TestAuditOrderLimitAndCap(t *testing.T) {
	clk := newClock(epoch)
	s := openTest(t, nil, clk, func(o *Options) {
		o.Retention.AuditEntries = 50
		o.Retention.Audit = 10 * 24 * time.Hour
	})
	ctx := context.Background()
	// 60 entries, several in the same millisecond; one with no time (now).
	for i := range 60 {
		e := miner.AuditEntry{Time: epoch.Add(time.Duration(i/3) * time.Second), Who: "cli", Action: "start_miner", Target: fmt.Sprint(i), Result: "ok"}
		if err := s.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Audit(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range got {
		targets = append(targets, e.Target)
	}
	if want := []string{"59", "58", "57", "56", "55"}; !reflect.DeepEqual(targets, want) {
		t.Errorf("Audit(5) targets %v, want %v", targets, want)
	}
	clk.Set(epoch.Add(time.Hour))
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Audit(ctx, 0); len(got) != 50 || got[49].Target != "10" {
		t.Errorf("after the count cap: %d entries, oldest %+v", len(got), got[len(got)-1])
	}
	// Age cap: 11 days later only the new entry is left.
	clk.Set(epoch.Add(11 * 24 * time.Hour))
	if err := s.AddAudit(ctx, miner.AuditEntry{Who: "peer:abc", Action: "stop_miner", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Audit(ctx, 0)
	if len(got) != 1 || got[0].Who != "peer:abc" || !got[0].Time.Equal(clk.Now()) {
		t.Errorf("after the age cap: %+v", got)
	}
}

func TestSettings(t *testing.T) {
	s := openTest(t, nil, newClock(epoch))
	ctx := context.Background()
	type cfg struct {
		Interval time.Duration
		Pools    []string
	}
	var got cfg
	if err := s.GetSetting(ctx, "collector", &got); !errors.Is(err, miner.ErrStoreNotFound) {
		t.Errorf("unset setting: %v", err)
	}
	want := cfg{Interval: 10 * time.Second, Pools: []string{"a", "b"}}
	if err := s.PutSetting(ctx, "collector", want); err != nil {
		t.Fatal(err)
	}
	if err := s.GetSetting(ctx, "collector", &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetSetting = %+v, %v", got, err)
	}
	if err := s.PutSetting(ctx, "bad", func() {}); err == nil {
		t.Error("PutSetting of a func succeeded")
	}
	if err := s.GetSetting(ctx, "", &got); !errors.Is(err, ErrInvalidID) {
		t.Errorf("empty key: %v", err)
	}
}

// One record that cannot be decoded is left out of its listing, not the
// whole listing: a damaged autostart entry stopped every miner from
// starting, a damaged profile made GET /profiles a 500.
func TestListingsSkipCorruptRecords(t *testing.T) {
	fs := vfs.NewMem()
	clk := newClock(epoch)
	s := openTest(t, fs, clk)
	ctx := context.Background()
	if err := s.PutProfile(ctx, miner.StoredProfile{ID: "good", Name: "good", Type: "xmrig"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAutostart(ctx, "ok", miner.StartRequest{Type: "xmrig", Name: "ok"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{prefixProfile + "bad", prefixAutostart + "bad"} {
		if err := db.Set([]byte(k), []byte("{garbage"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s = openTest(t, fs, clk)
	if list, err := s.ListProfiles(ctx); err != nil || len(list) != 1 || list[0].ID != "good" {
		t.Errorf("profiles %+v, %v", list, err)
	}
	if set, err := s.Autostart(ctx); err != nil || len(set) != 1 || set["ok"].Type != "xmrig" {
		t.Errorf("autostart %+v, %v", set, err)
	}
	if err := s.DeleteProfile(ctx, "bad"); err != nil {
		t.Errorf("the damaged profile cannot be deleted: %v", err)
	}
}
