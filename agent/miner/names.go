package miner

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest miner instance name.
const MaxNameLen = 64

// ReservedName is the one valid name no miner may take: the REST path
// /miners/available lists miner types, so a miner of that name could not
// be reached (refused by Start, for local and remote requests alike).
const ReservedName = "available"

// ValidateName checks a miner instance name: 1-64 characters of
// [a-z0-9._-], starting with a letter or digit, without "..". Names become
// directory names and URL path segments, so nothing else is accepted.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d characters, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: %q (use a-z, 0-9, '.', '_' and '-', starting with a letter or digit)", ErrInvalidName, name)
		}
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%w: %q contains \"..\"", ErrInvalidName, name)
	}
	return nil
}

// DefaultName is the instance name for a miner of type typ mining algo:
// "<type>-<algo>" with every run of other characters turned into one '-'
// ("xmrig", "rx/0" -> "xmrig-rx-0").
func DefaultName(typ, algo string) string {
	raw := typ
	if algo != "" {
		raw += "-" + algo
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(raw) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > MaxNameLen {
		s = strings.TrimRight(s[:MaxNameLen], "-")
	}
	return s
}
