package abi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"strconv"
	"strings"
	"testing"
)

// ValidateCommand and ValidFilePath no longer use fmt; their messages must
// be those of the fmt-based versions, kept here as the reference.

// ValidateCommand checks a build_command result against the instance it was
// built for: argv without NUL bytes, files relative and inside the instance
// directory, only allowed environment variables, and API endpoints on
// 127.0.0.1 at the instance's API port.
func validateCommandFmt(c *Command, inst *Instance) error {
	var errs []error
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			errs = append(errs, fmt.Errorf("args[%d] contains a NUL byte", i))
		}
	}
	for name := range c.Env {
		if !EnvAllowed(name) {
			errs = append(errs, fmt.Errorf("env %q is not allowed (allowed prefixes: %s)", name, strings.Join(envPrefixes, " ")))
		}
	}
	seen := map[string]bool{}
	for _, f := range c.Files {
		if err := validFilePathFmt(f.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[f.Path] {
			errs = append(errs, fmt.Errorf("file %q listed twice", f.Path))
		}
		seen[f.Path] = true
		if f.Mode&^0o777 != 0 || f.Mode&0o022 != 0 {
			errs = append(errs, fmt.Errorf("file %q: mode %#o must be group/world read-only permission bits", f.Path, f.Mode))
		}
	}
	for _, e := range c.API {
		if err := validEndpointFmt(&e, inst.APIPort); err != nil {
			errs = append(errs, fmt.Errorf("api endpoint %q: %w", e.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ValidFilePath reports whether p is a clean relative path with no ".."
// element, usable inside an instance directory.
func validFilePathFmt(p string) error {
	switch {
	case p == "":
		return errors.New("file path is empty")
	case strings.IndexByte(p, 0) >= 0 || strings.Contains(p, `\`):
		return fmt.Errorf("file path %q has a NUL or backslash", p)
	case path.IsAbs(p):
		return fmt.Errorf("file path %q is absolute", p)
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("file path %q is not a clean relative path", p)
	}
	return nil
}

func validEndpointFmt(e *Endpoint, port int) error {
	want := "127.0.0.1:" + strconv.Itoa(port)
	switch e.Kind {
	case APIHTTPJSON:
		if !strings.HasPrefix(e.URL, "http://"+want+"/") {
			return fmt.Errorf("url %q must start with http://%s/", e.URL, want)
		}
		if strings.ContainsAny(e.URL, "@#\\ \r\n") {
			return fmt.Errorf("url %q has a forbidden character", e.URL)
		}
	case APITCPJSONRPC:
		if e.Address != want {
			return fmt.Errorf("address %q must be %s", e.Address, want)
		}
		if strings.ContainsAny(e.Request, "\r\n") {
			return errors.New("request must be one line")
		}
	default:
		return fmt.Errorf("kind %q is not %q or %q", e.Kind, APIHTTPJSON, APITCPJSONRPC)
	}
	return nil
}

func TestValidateCommandMessages(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	paths := []string{"", "config.json", "a/b", "/abs", "../up", "a/../b", ".", "..", "a\\b", "a\x00b", "a//b", "x\"y"}
	for range 5000 {
		inst := Instance{APIPort: []int{1, 18082, 65535}[r.IntN(3)]}
		c := Command{Args: []string{pick("a", "b\x00", "")}}
		for n := r.IntN(3); n > 0; n-- {
			c.Files = append(c.Files, File{Path: paths[r.IntN(len(paths))], Mode: []uint32{0, 0o600, 0o644, 0o666, 0o1777, 0o4755}[r.IntN(6)]})
		}
		if r.IntN(2) == 0 {
			c.Env = map[string]string{pick("CUDA_X", "PATH", "ld_preload", "GPU_1"): "v"}
		}
		for n := r.IntN(3); n > 0; n-- {
			c.API = append(c.API, Endpoint{Name: pick("s", "\"q\""), Kind: pick(APIHTTPJSON, APITCPJSONRPC, "ftp"),
				URL:     pick("http://127.0.0.1:18082/2/summary", "http://127.0.0.1:1/x", "http://evil/", "http://127.0.0.1:18082/a b"),
				Address: pick("127.0.0.1:18082", "127.0.0.1:1", "0.0.0.0:1"), Request: pick("{}", "a\nb")})
		}
		got, want := ValidateCommand(&c, &inst), validateCommandFmt(&c, &inst)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Fatalf("%+v:\n got %v\nwant %v", c, got, want)
		}
	}
	for _, p := range paths {
		got, want := ValidFilePath(p), validFilePathFmt(p)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("ValidFilePath(%q) = %v, want %v", p, got, want)
		}
	}
	// The endpoint error still wraps its cause.
	c := Command{API: []Endpoint{{Name: "x", Kind: "ftp"}}}
	var we *wrapError
	if err := ValidateCommand(&c, &Instance{}); !errors.As(err, &we) || errors.Unwrap(we) == nil {
		t.Errorf("endpoint error %v does not wrap its cause", err)
	}
}
