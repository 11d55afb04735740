package install

import (
	"bytes"
	"fmt"
	"strings"
)

// maxSumsBytes caps the checksum file download.
const maxSumsBytes = 1 << 20

// parseSHA256Sums reads a checksum file as written by sha256sum (GNU:
// "<hex> *<name>" binary mode or "<hex>  <name>" text mode, including the
// backslash-escaped form for names with newlines) or by BSD tools
// ("SHA256 (<name>) = <hex>"). It returns name → lowercase hex digest. A
// leading "./" is dropped from names. Blank lines, comments (#) and lines in
// other formats are skipped; a name listed twice with different digests is
// an error, because the file would then vouch for two different files.
func parseSHA256Sums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		name, digest, ok := parseSumLine(strings.TrimSuffix(string(line), "\r"))
		if !ok {
			continue
		}
		if prev, dup := sums[name]; dup && prev != digest {
			return nil, fmt.Errorf("line %d: %q is listed twice with different digests", n+1, name)
		}
		sums[name] = digest
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("no sha256 lines")
	}
	return sums, nil
}

func parseSumLine(line string) (name, digest string, ok bool) {
	if rest, found := strings.CutPrefix(line, "SHA256 ("); found {
		i := strings.LastIndex(rest, ") = ")
		if i < 0 {
			return "", "", false
		}
		name, digest = rest[:i], rest[i+4:]
	} else {
		escaped := strings.HasPrefix(line, `\`)
		if escaped {
			line = line[1:]
		}
		if len(line) < 66 || line[64] != ' ' {
			return "", "", false
		}
		digest, name = line[:64], line[65:]
		if name != "" && (name[0] == '*' || name[0] == ' ') {
			name = name[1:]
		}
		if escaped {
			if name, ok = unescapeSumName(name); !ok {
				return "", "", false
			}
		}
	}
	digest = strings.ToLower(digest)
	if !isSHA256Hex(digest) {
		return "", "", false
	}
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	if name == "" || strings.ContainsAny(name, "\x00") {
		return "", "", false
	}
	return name, digest, true
}

// unescapeSumName undoes GNU sha256sum's escaping of "\\" and "\n".
func unescapeSumName(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// isSHA256Hex reports whether s is 64 lowercase hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
