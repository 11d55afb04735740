//go:build !wasip1

package abi

import (
	"errors"
	"fmt"
	"regexp"
)

// Metadata.Validate is host-side only: it compiles the version probe's
// regexp, and guests must not link the regexp engine (nor fmt).

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
