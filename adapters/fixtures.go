package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/rigd/rigd/sdk/abi"
)

// Fixtures are an adapter's conformance tests, shipped as NAME.tests.json
// beside NAME.wasm. Expected values are subsets: every key given must match,
// keys left out are not compared (so a fixture keeps passing when an
// adapter learns a new field).
//
//	{
//	  "build": [{"name": "cpu profile",
//	             "profile": {...}, "instance": {...},          // instance optional
//	             "want_args": ["--config=config.json"],        // exact argv
//	             "want_files": {"config.json": "{...}"},       // file content, JSON subset if it parses as JSON
//	             "want_error": "invalid_profile"}],            // or an adapter error code
//	  "lines": [{"name": "shares", "stream": "stdout",        // "stderr" too
//	             "lines": ["...", "..."],                      // fed in batches as live
//	             "want_events": [{"type": "share_accepted", "accepted": 1}],  // in order, subsets
//	             "want_stats": {"accepted": 2}}],              // merged stats, subset
//	  "api":   [{"name": "summary",
//	             "responses": [{"name": "summary", "status": 200, "body": "..."}],
//	             "want_stats": {"hashrate_hs": 39.65},
//	             "want_error": "bad_input"}]
//	}
type Fixtures struct {
	Build []BuildFixture `json:"build,omitempty"`
	Lines []LineFixture  `json:"lines,omitempty"`
	API   []APIFixture   `json:"api,omitempty"`
}

// BuildFixture checks build_command.
type BuildFixture struct {
	Name      string            `json:"name"`
	Profile   abi.Profile       `json:"profile"`
	Instance  *abi.Instance     `json:"instance,omitempty"`
	WantArgs  []string          `json:"want_args,omitempty"`
	WantFiles map[string]string `json:"want_files,omitempty"`
	WantError string            `json:"want_error,omitempty"`
}

// LineFixture checks parse_line over a sequence of lines.
type LineFixture struct {
	Name       string            `json:"name"`
	Stream     string            `json:"stream,omitempty"`
	Lines      []string          `json:"lines"`
	WantEvents []json.RawMessage `json:"want_events,omitempty"`
	WantStats  json.RawMessage   `json:"want_stats,omitempty"`
}

// APIFixture checks parse_api.
type APIFixture struct {
	Name      string            `json:"name"`
	Responses []abi.APIResponse `json:"responses"`
	WantStats json.RawMessage   `json:"want_stats,omitempty"`
	WantError string            `json:"want_error,omitempty"`
}

// FixtureResult is the outcome of one fixture.
type FixtureResult struct {
	Kind string `json:"kind"` // build, lines, api
	Name string `json:"name"`
	Pass bool   `json:"pass"`
	// Problem says what differed when Pass is false.
	Problem string `json:"problem,omitempty"`
}

// FixturesPath is where an adapter file's fixtures live.
func FixturesPath(wasmPath string) string {
	return strings.TrimSuffix(wasmPath, ".wasm") + ".tests.json"
}

// ReadFixtures reads a fixtures file strictly (unknown keys are errors, so
// a misspelt expectation cannot pass silently).
func ReadFixtures(path string) (*Fixtures, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Fixtures
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("fixtures %s: %w", filepath.Base(path), err)
	}
	return &f, nil
}

// RunFixtures runs every fixture against m and returns one result each.
func (m *Module) RunFixtures(ctx context.Context, f *Fixtures) []FixtureResult {
	var out []FixtureResult
	for _, fx := range f.Build {
		out = append(out, result("build", fx.Name, retryDeadline(func() error { return m.runBuildFixture(ctx, fx) })))
	}
	for _, fx := range f.Lines {
		out = append(out, result("lines", fx.Name, retryDeadline(func() error { return m.runLineFixture(ctx, fx) })))
	}
	for _, fx := range f.API {
		out = append(out, result("api", fx.Name, retryDeadline(func() error { return m.runAPIFixture(ctx, fx) })))
	}
	return out
}

// fixtureAttempts is how many times a fixture runs while its calls miss
// their deadline: fixtures judge what an adapter answers, and a loaded
// machine (CI, an agent starting miners) must not reject a good adapter
// for one slow call. One that is always too slow still fails.
const fixtureAttempts = 3

func retryDeadline(run func() error) error {
	var err error
	for range fixtureAttempts {
		if err = run(); !errors.Is(err, ErrTimeout) {
			return err
		}
	}
	return err
}

// FixturesError summarises failed results, or is nil if all passed.
func FixturesError(results []FixtureResult) error {
	var errs []error
	for _, r := range results {
		if !r.Pass {
			errs = append(errs, fmt.Errorf("%s %q: %s", r.Kind, r.Name, r.Problem))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d fixtures failed: %w", len(errs), len(results), errors.Join(errs...))
}

func result(kind, name string, err error) FixtureResult {
	r := FixtureResult{Kind: kind, Name: name, Pass: err == nil}
	if err != nil {
		r.Problem = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return r
}

func adapterErrorCode(err error) (string, bool) {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return ae.Code, true
	}
	return "", false
}

func (m *Module) runBuildFixture(ctx context.Context, fx BuildFixture) error {
	req := sampleRequest(m.meta)
	req.Profile = fx.Profile
	if fx.Instance != nil {
		req.Instance = *fx.Instance
	}
	cmd, err := m.BuildCommand(ctx, req)
	if fx.WantError != "" {
		code, ok := adapterErrorCode(err)
		if !ok || code != fx.WantError {
			return fmt.Errorf("want adapter error %q, got %v", fx.WantError, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fx.WantArgs != nil && !reflect.DeepEqual(cmd.Args, fx.WantArgs) {
		return fmt.Errorf("args %q, want %q", cmd.Args, fx.WantArgs)
	}
	for path, want := range fx.WantFiles {
		var got *abi.File
		for i := range cmd.Files {
			if cmd.Files[i].Path == path {
				got = &cmd.Files[i]
			}
		}
		if got == nil {
			return fmt.Errorf("no file %q", path)
		}
		if json.Valid([]byte(want)) && json.Valid([]byte(got.Content)) {
			if err := subsetJSON([]byte(want), []byte(got.Content)); err != nil {
				return fmt.Errorf("file %s: %w", path, err)
			}
		} else if got.Content != want {
			return fmt.Errorf("file %s: content differs", path)
		}
	}
	return nil
}

func (m *Module) runLineFixture(ctx context.Context, fx LineFixture) error {
	stream := abi.Stdout
	switch fx.Stream {
	case "", "stdout":
	case "stderr":
		stream = abi.Stderr
	default:
		return fmt.Errorf("stream %q is not stdout or stderr", fx.Stream)
	}
	s := m.NewSession()
	defer s.Close()
	var events []abi.Event
	var stats abi.Stats
	for start := 0; start < len(fx.Lines); start += abi.MaxLineBatch {
		end := min(start+abi.MaxLineBatch, len(fx.Lines))
		batch := make([][]byte, 0, end-start)
		for _, l := range fx.Lines[start:end] {
			batch = append(batch, []byte(l))
		}
		res, err := s.ParseLines(ctx, stream, batch)
		if err != nil {
			return err
		}
		events = append(events, res.Events...)
		stats.Merge(res.Stats)
	}
	if fx.WantEvents != nil {
		if len(events) != len(fx.WantEvents) {
			return fmt.Errorf("%d events, want %d", len(events), len(fx.WantEvents))
		}
		for i, want := range fx.WantEvents {
			got, _ := json.Marshal(events[i])
			if err := subsetJSON(want, got); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
	}
	if fx.WantStats != nil {
		got, _ := json.Marshal(stats)
		if err := subsetJSON(fx.WantStats, got); err != nil {
			return fmt.Errorf("stats: %w", err)
		}
	}
	return nil
}

func (m *Module) runAPIFixture(ctx context.Context, fx APIFixture) error {
	s := m.NewSession()
	defer s.Close()
	st, err := s.ParseAPI(ctx, abi.APIRequest{Responses: fx.Responses})
	if fx.WantError != "" {
		code, ok := adapterErrorCode(err)
		if !ok || code != fx.WantError {
			return fmt.Errorf("want adapter error %q, got %v", fx.WantError, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fx.WantStats != nil {
		got, _ := json.Marshal(st)
		if err := subsetJSON(fx.WantStats, got); err != nil {
			return fmt.Errorf("stats: %w", err)
		}
	}
	return nil
}

// subsetJSON checks that every value in want appears in got: objects key
// by key (recursively), arrays element by element with equal lengths,
// everything else equal.
func subsetJSON(want, got []byte) error {
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return fmt.Errorf("expectation is not JSON: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("output is not JSON: %v", err)
	}
	return subset("", w, g)
}

func subset(path string, w, g any) error {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %s, want an object", orRoot(path), brief(g))
		}
		for k, v := range wv {
			if err := subset(path+"."+k, v, gv[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: got %s, want %d elements", orRoot(path), brief(g), len(wv))
		}
		for i := range wv {
			if err := subset(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(w, g) {
		return fmt.Errorf("%s: got %s, want %s", orRoot(path), brief(g), brief(w))
	}
	return nil
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return strings.TrimPrefix(p, ".")
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
