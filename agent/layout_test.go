package agent

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/rigd/rigd"

type listedPackage struct {
	ImportPath string
	Dir        string
	Doc        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// goList runs `go list -json` with extra environment and returns the
// packages.
func goList(t *testing.T, env []string, patterns ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Dir,Doc,GoFiles,Imports,Deps"}, patterns...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// TestImportRules enforces the import directions of DESIGN §1 on the
// transitive dependencies of every package, for the host and for wasip1.
func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list on the whole module")
	}
	// allowed maps a package (relative to the module) to the module
	// packages and third-party module prefixes it may depend on,
	// transitively. "*" allows any module package.
	type rule struct {
		own   []string // module packages
		third []string // third-party module path prefixes
	}
	minerDeps := []string{"agent/proc", "agent/restart", "agent/install", "sdk/abi"}
	hostDeps := append([]string{"agent/miner"}, minerDeps...)
	rules := map[string]rule{
		"sdk/abi":         {},
		"sdk":             {own: []string{"sdk/abi"}},
		"agent/proc":      {third: []string{"golang.org/x/sys"}},
		"agent/restart":   {},
		"agent/install":   {own: []string{"sdk/abi"}},
		"agent/miner":     {own: minerDeps, third: []string{"golang.org/x/sys"}},
		"adapters":        {own: hostDeps, third: []string{"github.com/tetratelabs/wazero", "golang.org/x/sys"}},
		"kv":              {own: hostDeps, third: []string{"github.com/cockroachdb/", "golang.org/x/", "github.com/DataDog/zstd", "github.com/RaduBerinde/", "github.com/getsentry/sentry-go", "github.com/gogo/protobuf", "github.com/golang/snappy", "github.com/klauspost/compress", "github.com/minio/minlz", "github.com/pkg/errors", "github.com/prometheus/", "github.com/beorn7/perks", "github.com/cespare/xxhash", "github.com/kr/", "github.com/munnerz/goautoneg", "github.com/rogpeppe/go-internal", "google.golang.org/protobuf"}},
		"router":          {own: hostDeps, third: []string{"github.com/julienschmidt/httprouter", "github.com/gobwas/", "github.com/prometheus/", "github.com/beorn7/perks", "github.com/cespare/xxhash", "github.com/munnerz/goautoneg", "google.golang.org/protobuf", "golang.org/x/sys"}},
		"peers":           {own: hostDeps, third: []string{"github.com/gobwas/", "github.com/flynn/noise", "golang.org/x/crypto", "golang.org/x/sys"}},
		"agent/agenttest": {own: []string{"*"}, third: []string{""}},
		"agent":           {own: []string{"*"}, third: []string{""}},
		"":                {own: []string{"*"}, third: []string{""}},
	}
	ruleFor := func(pkg string) (rule, bool) {
		if r, ok := rules[pkg]; ok {
			return r, true
		}
		// Guest adapters: adapters/<miner> and adapters/<miner>/wasm.
		if parts := strings.Split(pkg, "/"); parts[0] == "adapters" && len(parts) >= 2 {
			return rule{own: []string{"sdk", "sdk/abi", strings.Join(parts[:2], "/")}}, true
		}
		if strings.HasPrefix(pkg, "testdata") || strings.Contains(pkg, "/testdata/") {
			return rule{own: []string{"*"}, third: []string{""}}, true
		}
		return rule{}, false
	}
	check := func(env []string, patterns ...string) {
		for _, p := range goList(t, env, patterns...) {
			pkg := rel(p.ImportPath)
			r, ok := ruleFor(pkg)
			if !ok {
				t.Errorf("package %s has no import rule; add it to TestImportRules and DESIGN", pkg)
				continue
			}
			for _, d := range p.Deps {
				if isStd(d) {
					continue
				}
				if strings.HasPrefix(d, module) {
					dp := rel(d)
					if !slices.Contains(r.own, "*") && !slices.Contains(r.own, dp) && !(strings.HasPrefix(pkg, "adapters/") && strings.HasPrefix(dp, pkg)) {
						t.Errorf("%s depends on %s: forbidden by DESIGN §1", pkg, dp)
					}
					continue
				}
				if !slices.ContainsFunc(r.third, func(prefix string) bool { return strings.HasPrefix(d, prefix) }) {
					t.Errorf("%s depends on third-party %s: forbidden by DESIGN §1", pkg, d)
				}
			}
		}
	}
	check(nil, "./...")
	// Guests as they are built: GOOS=wasip1 GOARCH=wasm.
	check([]string{"GOOS=wasip1", "GOARCH=wasm"}, "./sdk/...", "./adapters/xmrig/...")
}

// TestTopLevelLayout keeps the repository's top level as DESIGN §1 shows.
func TestTopLevelLayout(t *testing.T) {
	allowed := []string{"main.go", "agent", "adapters", "sdk", "router", "peers", "kv", "testdata",
		"justfile", "README.md", "LICENSE", ".ci", "go.mod", "go.sum"}
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || slices.Contains(allowed, name) {
			continue
		}
		t.Errorf("unexpected top-level entry %q (DESIGN §1 allows %v and dotfiles)", name, allowed)
	}
}

// TestPackageComments checks that every package has exactly one package
// comment.
func TestPackageComments(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list on the whole module")
	}
	for _, p := range goList(t, nil, "./...") {
		n := 0
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				n++
			}
		}
		switch {
		case n == 0:
			t.Errorf("package %s has no package comment", p.ImportPath)
		case n > 1:
			t.Errorf("package %s has %d package comments; keep one (doc.go)", p.ImportPath, n)
		}
	}
}
