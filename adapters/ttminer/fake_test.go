package ttminer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeErr  error
)

// buildFake builds testdata/fake-ttminer (from the repository root) once
// per test binary.
func buildFake(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fake-ttminer-")
		if err != nil {
			fakeErr = err
			return
		}
		fakeBin = filepath.Join(dir, "TT-Miner")
		cmd := exec.Command("go", "build", "-o", fakeBin, "./testdata/fake-ttminer")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeErr = fmt.Errorf("go build ./testdata/fake-ttminer: %v\n%s", err, out)
		}
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	return fakeBin
}

// fetchTCP mimics agent/miner/apipoll.go: one request line, one JSON value
// read back with a size cap, whether or not the miner closes the connection.
func fetchTCP(ctx context.Context, e abi.Endpoint) (abi.APIResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Address)
	if err != nil {
		return abi.APIResponse{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, e.Request+"\n"); err != nil {
		return abi.APIResponse{}, err
	}
	lr := &io.LimitedReader{R: conn, N: 1<<20 + 1}
	var raw json.RawMessage
	if err := json.NewDecoder(bufio.NewReader(lr)).Decode(&raw); err != nil {
		return abi.APIResponse{}, fmt.Errorf("read reply: %w", err)
	}
	return abi.APIResponse{Name: e.Name, Body: string(bytes.TrimSpace(raw))}, nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// fakeRun is one fake TT-Miner process started with the adapter's argv.
type fakeRun struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan error
	cmdEP abi.Endpoint
}

func startFake(t *testing.T, scenario string, p abi.Profile) *fakeRun {
	t.Helper()
	bin := buildFake(t)
	dir := t.TempDir()
	scFile := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(scFile, []byte(scenario), 0o600); err != nil {
		t.Fatal(err)
	}
	inst := testInstance
	inst.APIPort = freePort(t)
	cmd, aerr := build(t, p, inst)
	if aerr != nil {
		t.Fatal(aerr)
	}
	c := exec.Command(bin, cmd.Args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "FAKE_TTMINER_SCENARIO="+scFile)
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stderr = io.Discard
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r := &fakeRun{cmd: c, lines: make(chan string, 1024), done: make(chan error, 1), cmdEP: cmd.API[0]}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.done <- c.Wait()
	}()
	t.Cleanup(func() {
		c.Process.Kill()
		<-time.After(10 * time.Millisecond)
	})
	return r
}

// wait returns the exit code (-1 for death by a signal).
func (r *fakeRun) wait(t *testing.T) int {
	t.Helper()
	for range r.lines {
	}
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not exit")
	}
	return 0
}

// TestFakeMinerIntegration runs testdata/fake-ttminer with the argv
// build_command makes, reads its console through ParseLines and polls its
// API like the host, and checks per-device values and units end to end:
// 0 H/s before the first share, then MH/s → H/s, GHz → MHz, °C, %, W and
// GB → MiB; a GPU dropping out; SIGTERM; beta expiry; crashes.
func TestFakeMinerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fake TT-Miner; skipped with -short")
	}
	t.Run("mining", func(t *testing.T) {
		p := baseProfile()
		p.Devices = []int{0, 2}
		r := startFake(t, `{"interval_ms":150,"zero_until_share":1,"gpus":[
			{"id":0,"name":"NVIDIA GeForce RTX 3060 Ti","hashrate_hs":21500000,"temp_c":61,"fan_pct":70,"power_w":115,"core_mhz":1500,"mem_mhz":7000,"vram_total_gb":8,"vram_free_gb":7.776},
			{"id":1,"name":"NVIDIA GeForce GT 1030","hashrate_hs":1000000},
			{"id":2,"name":"NVIDIA GeForce RTX 3090","hashrate_hs":45250000,"temp_c":64,"fan_pct":65,"power_w":312,"core_mhz":1695,"mem_mhz":9751,"vram_total_gb":24,"vram_free_gb":20.1,"shares_per_report":2,"reject_every":4,"drop_after":3}]}`, p)
		a := New()
		var st abi.Stats
		reports := 0
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		poll := func() abi.Stats {
			t.Helper()
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			defer pcancel()
			resp, err := fetchTCP(pctx, r.cmdEP)
			if err != nil {
				t.Fatalf("api: %v", err)
			}
			s, err := a.ParseAPI(abi.APIRequest{Responses: []abi.APIResponse{resp}})
			if err != nil {
				t.Fatalf("parse_api %s: %v", resp.Body, err)
			}
			return s
		}
		for reports < 5 {
			var line string
			select {
			case l, ok := <-r.lines:
				if !ok {
					t.Fatalf("the fake exited after %d reports", reports)
				}
				line = l
			case <-ctx.Done():
				t.Fatalf("timeout after %d reports", reports)
			}
			res, err := a.ParseLines(abi.Stdout, [][]byte{[]byte(line)})
			if err != nil {
				t.Fatal(err)
			}
			st.Merge(res.Stats)
			if len(res.Events) == 0 || res.Events[0].Type != abi.EventHashrate {
				continue
			}
			reports++
			api := poll()
			switch reports {
			case 1:
				// TT-Miner's quirk: 0 H/s until the first share, in the
				// console and in the API. 0 is a value, not unknown.
				if !eq(st.HashrateHS, 0) || !eqI(st.Accepted, 0) || !eq(api.HashrateHS, 0) || len(api.Devices) != 2 || !eq(api.Devices[1].HashrateHS, 0) {
					t.Errorf("before the first share: console %s api %s", indentJSON(t, st), indentJSON(t, api))
				}
			case 2:
				if st.Version != "2023.4.0" || st.Pool != "rvn.example.org:3333" || st.PoolConnected == nil || !*st.PoolConnected ||
					!eq(st.HashrateHS, 66.75e6) || !eqI(st.Accepted, 3) || !near(*st.Difficulty, 1) {
					t.Errorf("console totals: %s", indentJSON(t, st))
				}
				if len(st.Devices) != 2 {
					t.Fatalf("console devices: %s", indentJSON(t, st.Devices))
				}
				d0, d2 := st.Devices[0], st.Devices[1]
				if d0.ID != 0 || d0.Kind != "nvidia" || d0.Name != "NVIDIA GeForce RTX 3060 Ti" || d0.BusID != "01:00.0" ||
					!eq(d0.HashrateHS, 21.5e6) || !eq(d0.TempC, 61) || !eq(d0.FanPct, 70) || !eq(d0.PowerW, 115) ||
					!eq(d0.CoreClockMHz, 1500) || !eq(d0.MemClockMHz, 7000) || !eq(d0.VRAMFreeMiB, 7.776*1024) || !eqI(d0.Accepted, 1) {
					t.Errorf("console device 0: %s", indentJSON(t, d0))
				}
				if d2.ID != 2 || d2.Name != "NVIDIA GeForce RTX 3090" || !eq(d2.HashrateHS, 45.25e6) || !eq(d2.TempC, 64) ||
					!eq(d2.CoreClockMHz, 1695) || !eq(d2.MemClockMHz, 9751) || !eq(d2.VRAMFreeMiB, 20.1*1024) || !eqI(d2.Accepted, 2) {
					t.Errorf("console device 2: %s", indentJSON(t, d2))
				}
				// The API in H/s (not kH/s), positions mapped to the
				// device ids 0 and 2; its uptime (whole minutes) unused
				// once the console gave it to the second.
				if !eq(api.HashrateHS, 66.75e6) || !eqI(api.Accepted, 3) || api.UptimeS != nil || st.UptimeS == nil || api.Pool != "rvn.example.org:3333" ||
					api.Version != "2023.4.0" || len(api.Devices) != 2 {
					t.Fatalf("api: %s", indentJSON(t, api))
				}
				for i, want := range []struct {
					id         int
					hr, t, fan float64
				}{{0, 21.5e6, 61, 70}, {2, 45.25e6, 64, 65}} {
					d := api.Devices[i]
					if d.ID != want.id || d.Kind != "nvidia" || !eq(d.HashrateHS, want.hr) || !eq(d.TempC, want.t) || !eq(d.FanPct, want.fan) {
						t.Errorf("api device %d: %s", i, indentJSON(t, d))
					}
				}
			case 3:
				// Every fourth share of GPU 2 is rejected.
				if !eqI(st.Rejected, 1) || !eqI(api.Rejected, 1) || !eqI(st.Devices[1].Rejected, 1) {
					t.Errorf("rejects: console %s api %s", ptrString(st.Rejected), ptrString(api.Rejected))
				}
			case 5:
				// GPU 2 dropped out after report 3: one device left; the
				// merged console stats keep its last values.
				if len(api.Devices) != 1 || api.Devices[0].ID != 0 || !eq(api.HashrateHS, 21.5e6) || !eq(st.HashrateHS, 21.5e6) {
					t.Errorf("after the drop: api %s console %s", indentJSON(t, api.Devices), ptrString(st.HashrateHS))
				}
			}
		}
		start := time.Now()
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(t); code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0", code)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("SIGTERM took %v", d)
		}
	})

	t.Run("expired beta", func(t *testing.T) {
		r := startFake(t, `{"version":"2024.2.1","beta":5,"expired":true}`, baseProfile())
		var lines [][]byte
		for l := range r.lines {
			lines = append(lines, []byte(l))
		}
		res, err := New().ParseLines(abi.Stdout, lines)
		if err != nil {
			t.Fatal(err)
		}
		var fatal []string
		for _, e := range res.Events {
			if e.Type == abi.EventFatal {
				fatal = append(fatal, e.Message)
			}
		}
		if len(fatal) != 1 || fatal[0] != "Beta 5 test period expired - please check for a new version of TT-Miner." {
			t.Errorf("fatal events %q from:\n%s", fatal, bytes.Join(lines, []byte("\n")))
		}
		if code := r.wait(t); code == 0 {
			t.Error("exit code 0 after expiry")
		}
	})

	t.Run("crash", func(t *testing.T) {
		for _, tc := range []struct {
			scenario string
			want     int
		}{
			{`{"interval_ms":50,"crash_after":2,"crash":"exit","crash_exit":3}`, 3},
			{`{"interval_ms":50,"crash_after":1,"crash":"segv"}`, -1},
			{`{"interval_ms":50,"crash_after":1,"crash":"kill"}`, -1},
		} {
			r := startFake(t, tc.scenario, baseProfile())
			if code := r.wait(t); code != tc.want {
				t.Errorf("%s: exit code %d, want %d", tc.scenario, code, tc.want)
			}
		}
	})

	t.Run("api keeps or closes the connection", func(t *testing.T) {
		for _, sc := range []string{`{"interval_ms":100}`, `{"interval_ms":100,"api_close":true}`} {
			r := startFake(t, sc, baseProfile())
			for l := range r.lines {
				if strings.Contains(l, "All[") {
					break
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			resp, err := fetchTCP(ctx, r.cmdEP)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", sc, err)
			}
			if _, err := New().ParseAPI(abi.APIRequest{Responses: []abi.APIResponse{resp}}); err != nil {
				t.Errorf("%s: %v", sc, err)
			}
			r.cmd.Process.Signal(syscall.SIGTERM)
			r.wait(t)
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeBin != "" {
		os.RemoveAll(filepath.Dir(fakeBin))
	}
	os.Exit(code)
}
