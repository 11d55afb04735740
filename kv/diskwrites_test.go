package kv

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// countingFS counts the bytes written through it.
type countingFS struct {
	vfs.FS
	n atomic.Int64
}

func (c *countingFS) Unwrap() vfs.FS { return c.FS }

func (c *countingFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, n: &c.n}, nil
}

func (c *countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.Create(name, cat))
}

func (c *countingFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return c.wrap(c.FS.OpenReadWrite(name, cat, opts...))
}

func (c *countingFS) ReuseForWrite(old, name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.ReuseForWrite(old, name, cat))
}

type countingFile struct {
	vfs.File
	n *atomic.Int64
}

func (f *countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.n.Add(int64(n))
	return n, err
}

func (f *countingFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

// procWriteBytes is this process's write_bytes from /proc/self/io: what it
// sent to the block device (fsync'd partial pages count whole).
func procWriteBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// simulateDay runs one simulated day of the collector: 16 series polled
// every 10 s, one synced Append of 16 points per poll, Maintain every
// simulated minute.
func simulateDay(tb testing.TB, s *Store, clk *clock, day int64) {
	tb.Helper()
	ctx := context.Background()
	const step = 10 * time.Second
	perDay := int64(24 * time.Hour / step)
	for k := day * perDay; k < (day+1)*perDay; k++ {
		if err := s.Append(ctx, genPoints(16, k, k+1, step)); err != nil {
			tb.Fatal(err)
		}
		if (k+1)%6 == 0 {
			clk.Set(epoch.Add(time.Duration(k+1) * step))
			if err := s.Maintain(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// TestDiskWritesPerDay: two simulated days (one under -race) of the
// collector write at most 100 MB a day through Pebble's file system (WAL,
// sstables, manifest). The figure does not depend on the disk, so an
// in-memory one keeps it fast; BenchmarkDiskWritesDay measures the real
// disk.
func TestDiskWritesPerDay(t *testing.T) {
	if testing.Short() {
		t.Skip("17,280 appends")
	}
	cfs := &countingFS{FS: vfs.NewMem()}
	clk := newClock(epoch)
	s := openTest(t, cfs, clk)
	days := int64(2)
	if raceEnabled {
		days = 1 // the race detector makes each day ~30 s; the figure is day 2, without it
	}
	for day := range days {
		before, walBefore := cfs.n.Load(), s.state.db.Metrics().WAL.BytesWritten
		simulateDay(t, s, clk, day)
		n, wal := cfs.n.Load()-before, int64(s.state.db.Metrics().WAL.BytesWritten-walBefore)
		t.Logf("day %d: %.1f MB written: WAL %.1f MB, sstables and manifest %.1f MB", day+1, float64(n)/1e6, float64(wal)/1e6, float64(n-wal)/1e6)
		if n > 100e6 {
			t.Errorf("day %d: %d bytes written, want <= 100 MB", day+1, n)
		}
	}
}

// BenchmarkDiskWritesDay: the same second day on the real disk, with real
// fsyncs; reports the bytes written through Pebble's file system and what
// reached the device (/proc/self/io write_bytes: an fsync of a partly
// written page writes the whole page). Slow (one fsync per Append): run
// with -benchtime=1x.
func BenchmarkDiskWritesDay(b *testing.B) {
	for b.Loop() {
		cfs := &countingFS{FS: vfs.Default}
		clk := newClock(epoch)
		s, err := Open(context.Background(), Options{Dir: filepath.Join(b.TempDir(), "db"), FS: cfs, Now: clk.Now, ReserveBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		simulateDay(b, s, clk, 0)
		fsBefore, devBefore := cfs.n.Load(), procWriteBytes()
		simulateDay(b, s, clk, 1)
		b.ReportMetric(float64(cfs.n.Load()-fsBefore)/1e6, "MB-fs/day")
		b.ReportMetric(float64(procWriteBytes()-devBefore)/1e6, "MB-device/day")
		s.Close()
	}
}
