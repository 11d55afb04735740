package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

// quotaFS is a file system of limited size over an in-memory one: a write
// that does not fit writes what fits and fails with ENOSPC, like a full
// disk; removing files frees space; GetDiskUsage reports the quota.
type quotaFS struct {
	vfs.FS
	dir string
	mu  sync.Mutex // serialises writes against the quota
	max int64
	hit int // ENOSPC errors returned
}

func (q *quotaFS) setMax(n int64) {
	q.mu.Lock()
	q.max = n
	q.mu.Unlock()
}

func (q *quotaFS) usedLocked() int64 {
	names, err := q.FS.List(q.dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, name := range names {
		if fi, err := q.FS.Stat(q.FS.PathJoin(q.dir, name)); err == nil && !fi.IsDir() {
			n += fi.Size()
		}
	}
	return n
}

func (q *quotaFS) used() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.usedLocked()
}

func (q *quotaFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	used := q.usedLocked()
	return vfs.DiskUsage{AvailBytes: uint64(max(q.max-used, 0)), TotalBytes: uint64(q.max), UsedBytes: uint64(used)}, nil
}

func (q *quotaFS) Unwrap() vfs.FS { return q.FS }

func (q *quotaFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &quotaFile{File: f, q: q, name: name}, nil
}

func (q *quotaFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := q.FS.Create(name, c)
	return q.wrap(f, name, err)
}

func (q *quotaFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := q.FS.OpenReadWrite(name, c, opts...)
	return q.wrap(f, name, err)
}

func (q *quotaFS) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := q.FS.ReuseForWrite(old, name, c)
	return q.wrap(f, name, err)
}

type quotaFile struct {
	vfs.File
	q    *quotaFS
	name string
	off  int64 // for Write
}

// room returns how much of an n-byte write at off fits.
func (f *quotaFile) roomLocked(off int64, n int) int {
	fi, err := f.File.Stat()
	if err != nil {
		return n
	}
	grow := max(off+int64(n)-fi.Size(), 0)
	free := f.q.max - f.q.usedLocked()
	if grow <= free {
		return n
	}
	return max(int(int64(n)-grow+free), 0)
}

func (f *quotaFile) enospc() error {
	f.q.hit++
	return &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}

func (f *quotaFile) Write(p []byte) (int, error) {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	fi, err := f.File.Stat()
	if err != nil {
		return 0, err
	}
	k := f.roomLocked(fi.Size(), len(p))
	n, err := f.File.Write(p[:k])
	if err == nil && k < len(p) {
		err = f.enospc()
	}
	return n, err
}

func (f *quotaFile) WriteAt(p []byte, off int64) (int, error) {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	k := f.roomLocked(off, len(p))
	n, err := f.File.WriteAt(p[:k], off)
	if err == nil && k < len(p) {
		err = f.enospc()
	}
	return n, err
}

var _ io.Writer = (*quotaFile)(nil)

// safely runs fn and reports a panic as an error.
func safely(panics *int, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			*panics++
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// TestDiskFull fills the disk under the store, with and without the
// reserve: writes fail with an error that says the disk is full, Healthy
// reports storage degraded, nothing panics, reads keep working, no
// acknowledged point is lost, and writes resume once space is freed.
func TestDiskFull(t *testing.T) {
	old := probeEvery
	probeEvery = 10 * time.Millisecond
	t.Cleanup(func() { probeEvery = old })
	for _, tc := range []struct {
		name    string
		reserve int64
	}{
		{"with a 1 MiB reserve", 1 << 20},
		{"without a reserve", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &quotaFS{FS: vfs.NewMem(), dir: "db", max: 1 << 40}
			clk := newClock(epoch)
			s := openTest(t, q, clk, func(o *Options) { o.ReserveBytes = tc.reserve })
			ctx := context.Background()
			panics := 0
			var acked int64
			appendBatch := func() error {
				return safely(&panics, func() error {
					pts := genPoints(4, acked, acked+50, 10*time.Second)
					if err := s.Append(ctx, pts); err != nil {
						return err
					}
					acked += 50
					clk.Set(epoch.Add(time.Duration(acked) * 10 * time.Second))
					return nil
				})
			}
			for range 20 {
				if err := appendBatch(); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Healthy(); err != nil {
				t.Fatalf("Healthy before the disk fills: %v", err)
			}

			// The disk fills up: 16 KiB left.
			q.setMax(q.used() + 16<<10)
			var werr error
			before := acked
			for range 1000 {
				if werr = appendBatch(); werr != nil {
					break
				}
			}
			if werr == nil {
				t.Fatal("Append never failed on a full disk")
			}
			t.Logf("full: %d more points acknowledged, then: %v", acked-before, werr)
			if !errors.Is(werr, ErrDiskFull) {
				t.Errorf("Append on a full disk: %v, want ErrDiskFull", werr)
			}
			herr := s.Healthy()
			if !errors.Is(herr, ErrDegraded) || !errors.Is(herr, ErrDiskFull) {
				t.Errorf("Healthy on a full disk: %v", herr)
			}
			// Everything else that writes fails cleanly too, reads work.
			for name, fn := range map[string]func() error{
				"Append":     appendBatch,
				"PutProfile": func() error { return s.PutProfile(ctx, miner.StoredProfile{ID: "p"}) },
				"AddAudit":   func() error { return s.AddAudit(ctx, miner.AuditEntry{Who: "cli", Action: "x"}) },
				"SetAutostart": func() error {
					return s.SetAutostart(ctx, "m", miner.StartRequest{Type: "xmrig"})
				},
			} {
				if err := safely(&panics, fn); !errors.Is(err, ErrDegraded) {
					t.Errorf("%s on a full disk: %v, want ErrDegraded", name, err)
				}
			}
			if err := safely(&panics, func() error { return s.Maintain(ctx) }); err != nil {
				t.Errorf("Maintain on a full disk: %v", err)
			}
			pts, err := s.Query(ctx, mq("rig-0", epoch, clk.Now(), 0))
			if err != nil {
				t.Errorf("Query on a full disk: %v", err)
			}
			if int64(len(pts)) < acked {
				t.Errorf("Query on a full disk: %d points of rig-0, acknowledged %d", len(pts), acked)
			}

			// Space comes back.
			q.setMax(q.used() + 64<<20)
			time.Sleep(2 * probeEvery)
			if err := appendBatch(); err != nil {
				t.Fatalf("Append after space returned: %v", err)
			}
			if err := s.Healthy(); err != nil {
				t.Errorf("Healthy after space returned: %v", err)
			}
			for range 20 {
				if err := appendBatch(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.reserve > 0 {
				if fi, err := q.Stat("db/" + ballastFileName); err != nil || fi.Size() != tc.reserve {
					t.Errorf("reserve after recovery: %v, %v", fi, err)
				}
			}
			if panics != 0 {
				t.Errorf("%d panics", panics)
			}
			// Every acknowledged point is there, in this process and after a
			// reopen.
			for _, reopen := range []bool{false, true} {
				if reopen {
					s.Close()
					s = openTest(t, q, clk)
				}
				found := map[int64]bool{}
				for _, p := range readRaw(t, s)["rig-0"] {
					found[p.ms] = true
				}
				for k := range acked {
					if !found[epoch.Add(time.Duration(k)*10*time.Second).UnixMilli()] {
						t.Fatalf("reopen=%v: acknowledged sample %d of rig-0 lost", reopen, k)
					}
				}
			}
			t.Logf("%d ENOSPC errors injected, %d points acknowledged, 0 lost, 0 panics", q.hit, acked)
		})
	}
}
