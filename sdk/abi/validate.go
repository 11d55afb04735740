package abi

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// The checks here avoid package-level regexps so that guests importing abi
// do not link the regexp engine unless they call Validate.

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

// Validate checks the metadata for the mistakes the host would trip over.
func (m *Metadata) Validate() error {
	var errs []error
	if !ValidName(m.Name) {
		errs = append(errs, fmt.Errorf("name %q must be 1-32 characters of [a-z0-9_-] starting with a letter", m.Name))
	}
	if m.DisplayName == "" {
		errs = append(errs, errors.New("display_name is empty"))
	}
	if !ValidSemver(m.Version) {
		errs = append(errs, fmt.Errorf("version %q is not semver", m.Version))
	}
	if m.ABIMinor < 0 || m.ABIMinor > Minor {
		errs = append(errs, fmt.Errorf("abi_minor %d is newer than this host's %d.%d", m.ABIMinor, Major, Minor))
	}
	if len(m.Algorithms) == 0 {
		errs = append(errs, errors.New("no algorithms"))
	}
	for _, a := range m.Algorithms {
		if a.Name == "" {
			errs = append(errs, errors.New("algorithm with empty name"))
		}
	}
	switch m.API.Kind {
	case "", APIHTTPJSON, APITCPJSONRPC:
	default:
		errs = append(errs, fmt.Errorf("api.kind %q is not %q or %q", m.API.Kind, APIHTTPJSON, APITCPJSONRPC))
	}
	switch m.Release.Checksum.Format {
	case ChecksumSHA256Sums:
		if m.Release.Checksum.File == "" {
			errs = append(errs, errors.New("release.checksum.file is empty for format sha256sum"))
		}
	case ChecksumNone, "":
	default:
		errs = append(errs, fmt.Errorf("release.checksum.format %q is not %q or %q", m.Release.Checksum.Format, ChecksumSHA256Sums, ChecksumNone))
	}
	for _, a := range m.Release.Assets {
		switch a.Archive {
		case "tar.gz", "zip", "binary":
		default:
			errs = append(errs, fmt.Errorf("asset %q: archive %q is not tar.gz, zip or binary", a.Name, a.Archive))
		}
		if a.Name == "" || a.Binary == "" || a.OS == "" || a.Arch == "" {
			errs = append(errs, fmt.Errorf("asset %q: os, arch, name and binary are required", a.Name))
		}
	}
	if m.VersionProbe.Regex != "" {
		if re, err := regexp.Compile(m.VersionProbe.Regex); err != nil {
			errs = append(errs, fmt.Errorf("version_probe.regex: %v", err))
		} else if re.NumSubexp() < 1 {
			errs = append(errs, errors.New("version_probe.regex has no submatch for the version"))
		}
	}
	for _, c := range m.StdinCommands {
		if c.Name == "" || c.Input == "" {
			errs = append(errs, fmt.Errorf("stdin command %q: name and input are required", c.Name))
		}
	}
	return errors.Join(errs...)
}

// ValidateCommand checks a build_command result against the instance it was
// built for: argv without NUL bytes, files relative and inside the instance
// directory, only allowed environment variables, and API endpoints on
// 127.0.0.1 at the instance's API port.
func ValidateCommand(c *Command, inst *Instance) error {
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
		if err := ValidFilePath(f.Path); err != nil {
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
		if err := validEndpoint(&e, inst.APIPort); err != nil {
			errs = append(errs, fmt.Errorf("api endpoint %q: %w", e.Name, err))
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
		return fmt.Errorf("file path %q has a NUL or backslash", p)
	case path.IsAbs(p):
		return fmt.Errorf("file path %q is absolute", p)
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("file path %q is not a clean relative path", p)
	}
	return nil
}

func validEndpoint(e *Endpoint, port int) error {
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
