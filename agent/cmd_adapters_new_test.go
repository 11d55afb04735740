package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

var simpleWasm = filepath.Join("..", "testdata", "wat-adapter", "simple.wasm")

func TestAdaptersTestCommand(t *testing.T) {
	// The WAT adapter and its fixtures beside it.
	code, out, errs := runCLI(t, "adapters", "test", simpleWasm)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^KIND\s+NAME\s+RESULT\s+PROBLEM$`).MatchString(lines[0]) {
		t.Fatalf("no table header: %q", lines[0])
	}
	rows := lines[1 : len(lines)-1]
	for _, l := range rows {
		if !regexp.MustCompile(`^(build|lines|api)\s+.+\s+PASS\s*$`).MatchString(l) {
			t.Errorf("row %q is not a passing fixture", l)
		}
	}
	if want := fmt.Sprintf("simple 1.0.0: %d fixtures, %d passed, 0 failed", len(rows), len(rows)); !strings.HasPrefix(lines[len(lines)-1], want) || len(rows) < 10 {
		t.Fatalf("summary %q, want %q (and at least 10 fixtures)", lines[len(lines)-1], want)
	}

	// --json.
	code, out, _ = runCLI(t, "adapters", "test", "--json", simpleWasm)
	var rep struct {
		Adapter, Version, Fixtures string
		Passed, Failed             int
		Results                    []struct {
			Kind, Name, Problem string
			Pass                bool
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	if rep.Adapter != "simple" || rep.Failed != 0 || rep.Passed != len(rows) || len(rep.Results) != len(rows) || !strings.HasSuffix(rep.Fixtures, "simple.tests.json") {
		t.Fatalf("--json report %+v", rep)
	}

	// A failing fixture: the table says what differed, exit 1 and one line on stderr.
	bad := filepath.Join(t.TempDir(), "bad.tests.json")
	os.WriteFile(bad, []byte(`{"build":[{"name":"ok","profile":{"pools":[{"url":"p:1"}]},"want_args":["--url","p:1","--interval","1s"]},
		{"name":"wrong","profile":{"pools":[{"url":"p:1"}]},"want_args":["--url","p:2"]}],
		"lines":[{"name":"wrong count","lines":["share accepted"],"want_stats":{"accepted":2}}]}`), 0o644)
	code, out, errs = runCLI(t, "adapters", "test", simpleWasm, "--fixtures", bad)
	if code != 1 {
		t.Fatalf("failing fixtures: exit %d: %s", code, out)
	}
	if !regexp.MustCompile(`(?m)^build\s+wrong\s+FAIL\s+args \["--url" "p:1" "--interval" "1s"\], want \["--url" "p:2"\]$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^lines\s+wrong count\s+FAIL\s+stats: accepted: got 1, want 2$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^build\s+ok\s+PASS`).MatchString(out) || !strings.Contains(out, "3 fixtures, 1 passed, 2 failed") {
		t.Fatalf("table:\n%s", out)
	}
	if errs != "rigd: adapter simple ("+simpleWasm+"): 2 of 3 fixtures failed\n" {
		t.Fatalf("stderr %q", errs)
	}

	// No fixtures, a misspelt fixture key, a module that does not load.
	dir := t.TempDir()
	lone := filepath.Join(dir, "lone.wasm")
	b, _ := os.ReadFile(simpleWasm)
	os.WriteFile(lone, b, 0o644)
	if code, _, errs := runCLI(t, "adapters", "test", lone); code != 1 || !strings.Contains(errs, "no fixtures file "+filepath.Join(dir, "lone.tests.json")) {
		t.Errorf("no fixtures: exit %d %q", code, errs)
	}
	typo := filepath.Join(dir, "typo.tests.json")
	os.WriteFile(typo, []byte(`{"lines":[{"name":"x","lines":[],"want_event":[]}]}`), 0o644)
	if code, _, errs := runCLI(t, "adapters", "test", simpleWasm, "--fixtures", typo); code != 1 || !strings.Contains(errs, `unknown field "want_event"`) {
		t.Errorf("misspelt key: exit %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "adapters", "test", filepath.Join("..", "testdata", "hostile", "no-marker.wasm")); code != 1 || strings.Count(errs, "\n") != 1 {
		t.Errorf("hostile module: exit %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "adapters", "test"); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

func TestAdaptersNewRefuses(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"Bad Name"}, 2, "must be 1-32 characters"},
		{[]string{"9lives"}, 2, "must be 1-32 characters"},
		{[]string{"demo", "--dir", dir}, 1, "exists and is not empty"},
		{[]string{"demo", "--dir", filepath.Join(dir, "new"), "--rigd", dir}, 1, "is not a rigd checkout"},
		{[]string{}, 2, "want NAME"},
	} {
		code, _, errs := runCLI(t, append([]string{"adapters", "new"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("adapters new %q: exit %d %q; want %d and %q", tt.args, code, errs, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a refused scaffold left a directory behind")
	}
	for name, want := range map[string]string{"demo": "demo", "my-miner": "myminer", "a_b-c": "abc", "go": "goadapter", "main": "mainadapter", "type": "typeadapter"} {
		if got := goPackageName(name); got != want {
			t.Errorf("goPackageName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestAdaptersNewIntegration scaffolds an adapter, builds it as a
// newcomer would (offline, against this checkout through the replace
// directive), checks it with rigd adapters validate and test, and runs
// simpleminer with it under an agent: README's "Write an adapter" path.
func TestAdaptersNewIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a wasm adapter; skipped with -short")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := runCLI(t, "adapters", "new", "demo", "--dir", dir)
	if code != 0 || errs != "" {
		t.Fatalf("adapters new: exit %d: %s%s", code, out, errs)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(gomod), "\nreplace github.com/rigd/rigd => "+root+"\n") || !strings.Contains(string(gomod), "\nrequire github.com/rigd/rigd v0.0.0\n") {
		t.Fatalf("go.mod does not point at this checkout (%s):\n%s", root, gomod)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	const build = "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o demo.wasm ./wasm"
	if !strings.Contains(string(readme), "\n"+build+"\n") || !strings.Contains(out, build) {
		t.Fatalf("README.md or the output lacks the build command %q", build)
	}
	for _, f := range []string{"adapter.go", "adapter_test.go", "wasm/main.go", "demo.tests.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}

	// Offline: no proxy, no workspace, no flags from the environment.
	env := append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	run := func(extraEnv []string, args ...string) {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(env, extraEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("%s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}
	run(nil, "go", "vet", "./...")
	run(nil, "go", "test", "./...")
	run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "go", "build", "-buildmode=c-shared", "-o", "demo.wasm", "./wasm")

	// One data dir, so one compilation cache (compiling a Go adapter takes
	// ~20 s under the race detector), for the CLI and the agent below.
	dataDir := t.TempDir()
	wasm := filepath.Join(dir, "demo.wasm")
	if code, out, errs := runCLI(t, "adapters", "validate", "--data-dir", dataDir, wasm); code != 0 || !strings.HasPrefix(out, "ok: demo 0.1.0 (Demo), ABI 1.0") {
		t.Fatalf("validate: exit %d: %s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "adapters", "test", "--data-dir", dataDir, wasm); code != 0 || !strings.Contains(out, "demo 0.1.0: 3 fixtures, 3 passed, 0 failed") {
		t.Fatalf("test: exit %d: %s%s", code, out, errs)
	}

	// Installed in an agent's adapters directory, it runs simpleminer.
	adaptersDir := t.TempDir()
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(adaptersDir, "demo.wasm"), b, 0o644)
	bin := buildSimpleMiner(t)
	_, api := testServer(t, func(cfg *serveConfig) { cfg.DataDir, cfg.AdaptersDir = dataDir, adaptersDir })
	start := map[string]any{
		"type":      "demo",
		"binary":    bin,
		"profile":   map[string]any{"algo": "sha256d", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "wallet"}}},
		"autostart": false,
	}
	var info miner.Info
	if code := api.do("POST", "/miners", start, &info); code != http.StatusCreated || info.Name != "demo-sha256d" {
		t.Fatalf("start: %d %+v", code, info)
	}
	// simpleminer reports every 10 s by default.
	var st abi.Stats
	eventually(t, 40*time.Second, func() string {
		api.do("GET", "/miners/demo-sha256d/stats", nil, &st)
		if st.HashrateHS == nil || *st.HashrateHS <= 0 || st.Accepted == nil || *st.Accepted <= 0 {
			return fmt.Sprintf("no hashrate and accepted share yet: %+v", st)
		}
		return ""
	})
	if code := api.do("DELETE", "/miners/demo-sha256d", nil, &info); code != http.StatusOK || info.State != miner.StateStopped {
		t.Fatalf("stop: %d %+v", code, info)
	}
}
