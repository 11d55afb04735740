package install

import "strings"

// validVersion reports whether v can name a version directory: 1-64
// characters of [0-9A-Za-z._+-] starting with a letter or a digit.
func validVersion(v string) bool {
	if v == "" || len(v) > 64 || !isAlnum(v[0]) {
		return false
	}
	for i := 1; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '+' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CompareVersions orders two miner versions the semver way and returns -1,
// 0 or +1. It is lenient where miners are: a leading "v" is ignored, the
// core may have any number of dot-separated parts (missing ones count as 0,
// so "6.16" == "6.16.0"), numeric parts compare as numbers of any length,
// a pre-release ("6.21.0-beta") sorts before its release, and build
// metadata ("+abc") is ignored.
func CompareVersions(a, b string) int {
	a, _, _ = strings.Cut(strings.TrimPrefix(a, "v"), "+")
	b, _, _ = strings.Cut(strings.TrimPrefix(b, "v"), "+")
	ac, ap, _ := strings.Cut(a, "-")
	bc, bp, _ := strings.Cut(b, "-")
	if c := compareDotted(ac, bc, false); c != 0 {
		return c
	}
	switch {
	case ap == "" && bp == "":
		return 0
	case ap == "":
		return 1
	case bp == "":
		return -1
	}
	return compareDotted(ap, bp, true)
}

// compareDotted compares dot-separated identifiers. In a core (pre=false)
// missing parts count as "0"; in a pre-release a shorter list sorts first.
func compareDotted(a, b string, pre bool) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y string
		switch {
		case i < len(as) && i < len(bs):
			x, y = as[i], bs[i]
		case pre && i >= len(as):
			return -1
		case pre:
			return 1
		case i < len(as):
			x, y = as[i], "0"
		default:
			x, y = "0", bs[i]
		}
		if c := compareIdent(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// compareIdent: numbers by value (any length), numbers before words, words
// by bytes.
func compareIdent(x, y string) int {
	xn, yn := isDigits(x), isDigits(y)
	switch {
	case xn && yn:
		x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	case xn:
		return -1
	case yn:
		return 1
	}
	return strings.Compare(x, y)
}
