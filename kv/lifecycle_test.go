package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rigd/rigd/agent/miner"
)

// childOpen opens the store in KV_DIR and reports the result on stdout.
func childOpen() error {
	t0 := time.Now()
	s, err := Open(context.Background(), Options{Dir: os.Getenv("KV_DIR")})
	fmt.Printf("took %d\n", time.Since(t0).Microseconds())
	if err != nil {
		fmt.Println("open:", err)
		return err
	}
	fmt.Println("open: ok")
	return s.Close()
}

// TestDataDirLock: a second process opening a held data dir fails within
// 1 s naming the holder's pid; it succeeds once the holder closes.
func TestDataDirLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), Options{Dir: dir, ReserveBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	// run starts a second process that opens dir; it returns its output,
	// how long its Open took and how long the process ran.
	run := func() (string, time.Duration, time.Duration, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = childCmdEnv("open", "KV_DIR="+dir)
		start := time.Now()
		out, err := cmd.Output()
		total := time.Since(start)
		var us int64
		fmt.Sscanf(string(out), "took %d", &us)
		return string(out), time.Duration(us) * time.Microsecond, total, err
	}
	out, took, total, err := run()
	want := fmt.Sprintf("data dir in use by pid %d", os.Getpid())
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("second process: %q, %v; want an error containing %q", out, err, want)
	}
	if took == 0 || took > time.Second {
		t.Errorf("second process's Open took %v to fail, want < 1s", took)
	}
	_, msg, _ := strings.Cut(out, "open:")
	t.Logf("second opener's Open failed after %v (process ran %v): %s", took.Round(time.Millisecond), total.Round(time.Millisecond), strings.TrimSpace(msg))

	// In this process too.
	if _, err := Open(context.Background(), Options{Dir: dir}); !errors.Is(err, ErrInUse) {
		t.Errorf("second Open in-process: %v, want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _, _, err := run(); err != nil || !strings.Contains(out, "open: ok") {
		t.Errorf("after Close: %q, %v", out, err)
	}
}

func TestSchemaVersion(t *testing.T) {
	fs := vfs.NewMem()
	clk := newClock(epoch)
	s := openTest(t, fs, clk)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A newer rigd wrote version 2.
	db, err := pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte(keySchema), []byte("2"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(context.Background(), Options{Dir: "db", FS: fs, ReserveBytes: -1})
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "schema version 2") || !strings.Contains(err.Error(), "up to 1") {
		t.Errorf("Open of a newer schema: %v", err)
	}
	// Not a rigd database: data but no schema key.
	fs2 := vfs.NewMem()
	db, _ = pebble.Open("db", &pebble.Options{FS: fs2})
	db.Set([]byte("x"), []byte("y"), pebble.Sync)
	db.Close()
	if _, err := Open(context.Background(), Options{Dir: "db", FS: fs2, ReserveBytes: -1}); err == nil || !strings.Contains(err.Error(), "no schema version") {
		t.Errorf("Open of a foreign database: %v", err)
	}
}

func TestCloseOnce(t *testing.T) {
	s := openTest(t, nil, newClock(epoch))
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			for k := int64(0); ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				err := s.Append(ctx, genPoints(1+i, k, k+1, time.Second))
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- err
					}
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append during Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Append":   s.Append(ctx, genPoints(1, 0, 1, time.Second)),
		"Query":    func() error { _, err := s.Query(ctx, mq("rig-0", time.Time{}, time.Time{}, 0)); return err }(),
		"Maintain": s.Maintain(ctx),
		"Run":      s.Run(ctx),
		"Healthy":  s.Healthy(),
		"Audit":    func() error { _, err := s.Audit(ctx, 1); return err }(),
		"Profile":  s.PutProfile(ctx, miner.StoredProfile{ID: "x"}),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestRunStops: Run maintains at once, and returns when its context ends.
func TestRunStops(t *testing.T) {
	clk := newClock(epoch)
	s := openTest(t, nil, clk)
	ingest(t, s, 1, 0, 12, 10*time.Second, 12)
	clk.Set(epoch.Add(3 * time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pts, err := s.Query(context.Background(), mq("rig-0", epoch, clk.Now(), time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) == 2 && pts[0].Resolution == miner.ResolutionMinute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not roll up: %+v", pts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// recordHandler keeps slog records.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestPebbleLogger(t *testing.T) {
	h := &recordHandler{}
	l := pebbleLogger{slog.New(h)}
	l.Infof("flushed %d tables", 3)
	l.Errorf("background error: %s", "boom")
	func() {
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), "MANIFEST sync failed: EIO") {
				t.Errorf("Fatalf panicked with %v", r)
			}
		}()
		l.Fatalf("MANIFEST sync failed: %s", "EIO")
		t.Error("Fatalf returned")
	}()
	var got []string
	for _, r := range h.recs {
		got = append(got, r.Level.String()+" "+r.Message)
	}
	want := []string{"DEBUG flushed 3 tables", "ERROR background error: boom", "ERROR pebble fatal: MANIFEST sync failed: EIO"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records %q, want %q", got, want)
	}

}

// TestReserveFile: Open creates the disk-space reserve beside the
// database once, and keeps it.
func TestReserveFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	for i := range 2 {
		t0 := time.Now()
		s, err := Open(context.Background(), Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		fi, err := os.Stat(filepath.Join(dir, ballastFileName))
		if err != nil || fi.Size() != DefaultReserveBytes {
			t.Errorf("open %d: reserve %v, %v", i, fi, err)
		}
		t.Logf("open %d took %v", i, took.Round(time.Millisecond))
		if err := s.Healthy(); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}

// TestOpenDamagedDatabase: a corrupt block where Open reads is one error
// saying what to do; it was a panic of 120 lines at every start.
func TestOpenDamagedDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte(keySchema), []byte(strconv.Itoa(SchemaVersion)), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no table written")
	}
	for _, f := range ssts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range min(len(b)/2, 64) {
			b[i] ^= 0x5a
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Open(context.Background(), Options{Dir: dir, ReserveBytes: -1})
	if err == nil || !strings.Contains(err.Error(), "damaged") || strings.Count(err.Error(), "\n") > 0 {
		t.Fatalf("Open of a damaged database: %v", err)
	}
}

// TestDamagedFileMet: a damaged file a read meets is reported by Healthy
// (and so /ready) from then on, but writes go on: the rest is sound.
func TestDamagedFileMet(t *testing.T) {
	s := openTest(t, vfs.NewMem(), newClock(epoch))
	s.onCorruption(pebble.DataCorruptionInfo{Path: "db/000042.sst", Details: errors.New("block 1: checksum mismatch\nstack…")})
	if err := s.Healthy(); !errors.Is(err, ErrDegraded) || !strings.Contains(err.Error(), "000042.sst") {
		t.Fatalf("Healthy after a damaged read: %v", err)
	}
	if err := s.PutProfile(context.Background(), miner.StoredProfile{ID: "p", Name: "p", Type: "xmrig"}); err != nil {
		t.Fatalf("a write after a damaged read: %v", err)
	}
}
