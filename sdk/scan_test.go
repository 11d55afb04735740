package sdk

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The scanning helpers against byte-at-a-time references (and the
// standard library where it has the same function), on every start index
// of slices whose capacity runs on into garbage: ParseUint and
// ParseDecimal read 8 bytes from the capacity.

func isSep(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func refWordEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		if isSep(b[i]) {
			return i
		}
	}
	return len(b)
}

func refSkipSpace(b []byte, i int) int {
	for ; i < len(b); i++ {
		if !isSep(b[i]) {
			return i
		}
	}
	return len(b)
}

func refParseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 || b[0] == '+' || b[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func refParseDecimal(b []byte) Decimal {
	var d Decimal
	if len(b) == 0 || len(b) > 19 {
		return d
	}
	dot, digits := false, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			d.Mant = d.Mant*10 + uint64(c-'0')
			digits++
			if dot {
				d.Frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return Decimal{}
		}
	}
	d.OK = digits > 0
	return d
}

func checkScan(t *testing.T, text []byte) {
	t.Helper()
	// The text with garbage in the capacity after it.
	buf := append(append([]byte(nil), text...), "9.9 x\t77"...)
	b := buf[:len(text)]
	for _, c := range []byte{' ', 0x1b, '"', 0, '.', 'x'} {
		if got, want := IndexByte(b, c), bytes.IndexByte(b, c); got != want {
			t.Fatalf("IndexByte(%q, %q) = %d, want %d", b, c, got, want)
		}
		if got, want := LastIndexByte(b, c), bytes.LastIndexByte(b, c); got != want {
			t.Fatalf("LastIndexByte(%q, %q) = %d, want %d", b, c, got, want)
		}
	}
	for i := 0; i <= len(b)+1; i++ {
		if got, want := WordEnd(b, i), max(refWordEnd(b, i), min(i, len(b))); got != want && i <= len(b) {
			t.Fatalf("WordEnd(%q, %d) = %d, want %d", b, i, got, want)
		}
		if got, want := SkipSpace(b, i), refSkipSpace(b, min(i, len(b))); got != want {
			t.Fatalf("SkipSpace(%q, %d) = %d, want %d", b, i, got, want)
		}
		if i <= len(b) {
			s, e := NextWord(b, i)
			ws := refSkipSpace(b, i)
			if s != ws || e != refWordEnd(b, ws) {
				t.Fatalf("NextWord(%q, %d) = %d, %d, want %d, %d", b, i, s, e, ws, refWordEnd(b, ws))
			}
		}
		if i < len(b) && i+8 > len(b) {
			var want uint64
			for k := len(b) - 1; k >= i; k-- {
				want = want<<8 | uint64(b[k])
			}
			if got := Tail64(b, i); got != want {
				t.Fatalf("Tail64(%q, %d) = %#x, want %#x", b, i, got, want)
			}
		}
	}
	if got, want := TrimSpace(b), bytes.Trim(b, " \t\r"); !bytes.Equal(got, want) {
		t.Fatalf("TrimSpace(%q) = %q, want %q", b, got, want)
	}
	if got, want := TrimLeft(b), bytes.TrimLeft(b, " \t\r"); !bytes.Equal(got, want) {
		t.Fatalf("TrimLeft(%q) = %q, want %q", b, got, want)
	}
	if got, want := TrimRight(b), bytes.TrimRight(b, " \t\r"); !bytes.Equal(got, want) {
		t.Fatalf("TrimRight(%q) = %q, want %q", b, got, want)
	}
	n, ok := ParseUint(b)
	if wn, wok := refParseUint(b); n != wn || ok != wok {
		t.Fatalf("ParseUint(%q) = %d, %v, want %d, %v", b, n, ok, wn, wok)
	}
	if got, want := ParseDecimal(b), refParseDecimal(b); got != want {
		t.Fatalf("ParseDecimal(%q) = %+v, want %+v", b, got, want)
	}
	if got, want := StripANSI([]byte("x"), b), stripANSISlow([]byte("x"), b); !bytes.Equal(got, want) {
		t.Fatalf("StripANSI(%q) = %q, want %q", b, got, want)
	}
}

func TestScan(t *testing.T) {
	for _, s := range []string{"", " ", "0", "12345678", "123456789", "1234567890123456789", "39.77", ".5", "5.", ".",
		"1.2.3", "n/a", "-1", "+1", "  speed 10s/60s/15m 39.77 n/a n/a H/s  ", "\t\r x", "a\x00b", "\xff\xfe",
		"\x1b[1;32mgreen\x1b[0m", "\x1b]0;title\x07x", "\x1b(Bx", "x\x1b", "word        after eight spaces"} {
		checkScan(t, []byte(s))
	}
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "  \t\r0123456789..ab\x1b[m;]\x07(B\x00\xff"
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		checkScan(t, b)
	}
}

func TestStripANSI(t *testing.T) {
	if got := string(StripANSI(nil, []byte("\x1b]0;title\x07a\x1b[1mb\x1b(Bc\x1b"))); got != "abc" {
		t.Errorf("StripANSI = %q", got)
	}
}

func TestDecimalScaled(t *testing.T) {
	for _, tc := range []struct {
		in   string
		exp  int
		want float64
	}{{"39.77", 0, 39.77}, {"1.5", 3, 1500}, {"862", 6, 862e6}, {"0.001", -3, 1e-6}, {"1", 30, 1e30}} {
		if got := ParseDecimal([]byte(tc.in)).Scaled(tc.exp); got != tc.want {
			t.Errorf("ParseDecimal(%q).Scaled(%d) = %v, want %v", tc.in, tc.exp, got, tc.want)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("[2021-11-28 12:09:05.552]  miner    speed 10s/60s/15m 39.77 n/a n/a H/s max 40.01 H/s"))
	f.Add([]byte("\x1b[1;37m cpu \x1b[0m 12345678.9"))
	f.Fuzz(checkScan)
}

func TestPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const alphabet = "ab \x00\xff"
	for range 20000 {
		p := make([]byte, 1+r.IntN(16))
		for i := range p {
			p[i] = "ab \xff"[r.IntN(4)]
		}
		b := make([]byte, r.IntN(24), 32)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(2) == 0 { // often a match, or nearly
			copy(b, p)
		}
		pre := MakePrefix(string(p))
		if got, want := pre.Of(Head16(b)), bytes.HasPrefix(b, p); got != want || pre.Len() != len(p) {
			t.Fatalf("MakePrefix(%q).Of(Head16(%q)) = %v, want %v", p, b, got, want)
		}
	}
	for _, bad := range []string{"12345678901234567", "a\x00"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MakePrefix(%q) did not panic", bad)
				}
			}()
			MakePrefix(bad)
		}()
	}
}
