package proc

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type splitLine struct {
	text      string
	truncated bool
}

// split feeds in to a splitter in chunks of size n (all at once if n <= 0)
// and returns the lines, EOF included.
func split(max int, in string, n int) []splitLine {
	s := splitter{max: max}
	var out []splitLine
	emit := func(b []byte, tr bool) { out = append(out, splitLine{string(b), tr}) }
	b := []byte(in)
	if n <= 0 {
		n = len(b) + 1
	}
	for len(b) > 0 {
		c := min(n, len(b))
		s.feed(b[:c], emit)
		b = b[c:]
	}
	s.flush(emit)
	return out
}

func TestSplitter(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []splitLine
	}{
		{"empty", "", nil},
		{"one", "abc\n", []splitLine{{"abc", false}}},
		{"no final newline", "abc\ndef", []splitLine{{"abc", false}, {"def", false}}},
		{"empty lines", "\n\n", []splitLine{{"", false}, {"", false}}},
		{"crlf", "a\r\nb\r\n", []splitLine{{"a", false}, {"b", false}}},
		{"lone cr kept", "a\rb\n", []splitLine{{"a\rb", false}}},
		{"exactly max", "12345678\n", []splitLine{{"12345678", false}}},
		{"max plus cr", "12345678\r\n", []splitLine{{"12345678", false}}},
		{"over max", "123456789\nok\n", []splitLine{{"12345678", true}, {"ok", false}}},
		{"far over max", strings.Repeat("x", 50) + "\nok\n", []splitLine{{"xxxxxxxx", true}, {"ok", false}}},
		{"over max at eof", strings.Repeat("y", 20), []splitLine{{"yyyyyyyy", true}}},
		{"binary", "\xff\x00\xfe\n", []splitLine{{"\xff\x00\xfe", false}}},
	}
	for _, c := range cases {
		for _, n := range []int{0, 1, 2, 3, 7, 9} {
			t.Run(fmt.Sprintf("%s/chunk%d", c.name, n), func(t *testing.T) {
				if got := split(8, c.in, n); !slices.Equal(got, c.want) {
					t.Errorf("got %+v, want %+v", got, c.want)
				}
			})
		}
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("abc\ndef\r\n\n"), uint8(4), uint8(3))
	f.Add([]byte(strings.Repeat("z", 40)+"\n\xff"), uint8(8), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, max, chunk uint8) {
		m := int(max%64) + 1
		whole := split(m, string(in), 0)
		if got := split(m, string(in), int(chunk)); !slices.Equal(got, whole) {
			t.Fatalf("chunking changed the lines: %+v vs %+v", got, whole)
		}
		parts := bytes.Split(in, []byte("\n"))
		if len(parts[len(parts)-1]) == 0 {
			parts = parts[:len(parts)-1]
		}
		if len(whole) != len(parts) {
			t.Fatalf("%d lines, want %d", len(whole), len(parts))
		}
		for i, l := range whole {
			p := bytes.TrimSuffix(parts[i], []byte("\r"))
			if len(l.text) > m || l.truncated != (len(p) > m) {
				t.Fatalf("line %d: %q truncated=%v (max %d)", i, l.text, l.truncated, m)
			}
			if !bytes.HasPrefix(parts[i], []byte(l.text)) {
				t.Fatalf("line %d: %q is not a prefix of %q", i, l.text, parts[i])
			}
		}
	})
}
