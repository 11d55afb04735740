package adapters

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBuiltinsMatchSource rebuilds every embedded adapter with the exact
// command recorded beside it (<name>.wasm.build: line 1 the Go version,
// line 2 the command, run from the repository root) and fails if the bytes
// differ from the committed .wasm. With another Go version the build is not
// reproducible, so the test says so and skips.
func TestBuiltinsMatchSource(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds the adapters; skipped with -short")
	}
	records, err := filepath.Glob("*/*.wasm.build")
	if err != nil || len(records) == 0 {
		t.Fatalf("no adapters/*/*.wasm.build records found (%v)", err)
	}
	for name, wasm := range Builtins() {
		rec := filepath.Join(name, name+".wasm.build")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(rec)
			if err != nil {
				t.Fatalf("built-in %s has no build record: %v", name, err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 2 {
				t.Fatalf("%s: want 2 lines (Go version, command), got %d", rec, len(lines))
			}
			if goVersion := strings.TrimSpace(lines[0]); goVersion != runtime.Version() {
				t.Skipf("%s was built with %s; this is %s, whose output differs — not comparing", rec, goVersion, runtime.Version())
			}
			fields := strings.Fields(lines[1])
			var env, argv []string
			for len(fields) > 0 && strings.Contains(fields[0], "=") {
				env, fields = append(env, fields[0]), fields[1:]
			}
			out := filepath.Join(t.TempDir(), name+".wasm")
			var committed string
			for i := 0; i < len(fields); i++ {
				if fields[i] == "-o" && i+1 < len(fields) {
					committed = fields[i+1]
					argv = append(argv, "-o", out)
					i++
					continue
				}
				argv = append(argv, fields[i])
			}
			if len(argv) < 2 || argv[0] != "go" || argv[1] != "build" || committed != filepath.Join("adapters", name, name+".wasm") {
				t.Fatalf("%s: command must be `[ENV=...] go build ... -o adapters/%s/%s.wasm ...` run from the repository root; got %q", rec, name, name, lines[1])
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), env...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", lines[1], err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wasm) {
				t.Fatalf("adapters/%s/%s.wasm differs from a rebuild of its source (%d vs %d bytes): run `%s` from the repository root and commit the result", name, name, len(wasm), len(got), lines[1])
			}
		})
	}
}
