package abi

import (
	"errors"
	"path"
	"strconv"
	"strings"
)

// The checks here use neither fmt nor regexp: guests call ValidateCommand,
// and either package would add hundreds of kilobytes to every guest module.
// Metadata.Validate, which compiles a regexp, is in validate_metadata.go
// and exists only outside wasip1.

// ValidName reports whether s is a valid adapter (miner type) name:
// 1-32 characters of [a-z0-9_-] starting with a letter.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidSemver reports whether s is a semantic version (MAJOR.MINOR.PATCH
// with optional -pre-release and +build suffixes).
func ValidSemver(s string) bool {
	core, _, _ := strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre && pre == "" {
		return false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return false
		}
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// envPrefixes are the only environment variable prefixes an adapter may set:
// GPU runtime tuning, never the loader, the path or locale.
var envPrefixes = []string{"CUDA_", "GPU_", "NVIDIA_", "HSA_", "ROC", "OCL_", "OPENCL_"}

// EnvAllowed reports whether an adapter may set the environment variable
// name for a miner.
func EnvAllowed(name string) bool {
	if len(name) == 0 || len(name) > 64 || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	for _, p := range envPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ValidateCommand checks a build_command result against the instance it was
// built for: argv without NUL bytes, files relative and inside the instance
// directory, only allowed environment variables, and API endpoints on
// 127.0.0.1 at the instance's API port.
func ValidateCommand(c *Command, inst *Instance) error {
	var errs []error
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			errs = append(errs, errors.New("args["+strconv.Itoa(i)+"] contains a NUL byte"))
		}
	}
	for name := range c.Env {
		if !EnvAllowed(name) {
			errs = append(errs, errors.New("env "+strconv.Quote(name)+" is not allowed (allowed prefixes: "+strings.Join(envPrefixes, " ")+")"))
		}
	}
	seen := map[string]bool{}
	for _, f := range c.Files {
		if err := ValidFilePath(f.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[f.Path] {
			errs = append(errs, errors.New("file "+strconv.Quote(f.Path)+" listed twice"))
		}
		seen[f.Path] = true
		if f.Mode&^0o777 != 0 || f.Mode&0o022 != 0 {
			errs = append(errs, errors.New("file "+strconv.Quote(f.Path)+": mode "+octal(f.Mode)+" must be group/world read-only permission bits"))
		}
	}
	for _, e := range c.API {
		if err := validEndpoint(&e, inst.APIPort); err != nil {
			errs = append(errs, &wrapError{"api endpoint " + strconv.Quote(e.Name) + ": " + err.Error(), err})
		}
	}
	return errors.Join(errs...)
}

// ValidFilePath reports whether p is a clean relative path with no ".."
// element, usable inside an instance directory.
func ValidFilePath(p string) error {
	switch {
	case p == "":
		return errors.New("file path is empty")
	case strings.IndexByte(p, 0) >= 0 || strings.Contains(p, `\`):
		return errors.New("file path " + strconv.Quote(p) + " has a NUL or backslash")
	case path.IsAbs(p):
		return errors.New("file path " + strconv.Quote(p) + " is absolute")
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("file path " + strconv.Quote(p) + " is not a clean relative path")
	}
	return nil
}

func validEndpoint(e *Endpoint, port int) error {
	want := "127.0.0.1:" + strconv.Itoa(port)
	switch e.Kind {
	case APIHTTPJSON:
		if !strings.HasPrefix(e.URL, "http://"+want+"/") {
			return errors.New("url " + strconv.Quote(e.URL) + " must start with http://" + want + "/")
		}
		if strings.ContainsAny(e.URL, "@#\\ \r\n") {
			return errors.New("url " + strconv.Quote(e.URL) + " has a forbidden character")
		}
	case APITCPJSONRPC:
		if e.Address != want {
			return errors.New("address " + strconv.Quote(e.Address) + " must be " + want)
		}
		if strings.ContainsAny(e.Request, "\r\n") {
			return errors.New("request must be one line")
		}
	default:
		return errors.New("kind " + strconv.Quote(e.Kind) + " is not " + strconv.Quote(APIHTTPJSON) + " or " + strconv.Quote(APITCPJSONRPC))
	}
	return nil
}

// wrapError is fmt.Errorf("...: %w", err) without fmt.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// octal formats m as fmt's %#o does: a leading 0 unless m is 0.
func octal(m uint32) string {
	if m == 0 {
		return "0"
	}
	return "0" + strconv.FormatUint(uint64(m), 8)
}
