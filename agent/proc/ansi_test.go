package proc

import (
	"bytes"
	"testing"
)

func TestStripANSI(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"\x1b[1;32maccepted\x1b[0m (1/0)", "accepted (1/0)"},
		{"\x1b[01;37m * \x1b[0m\x1b[1;37mABOUT\x1b[0m", " * ABOUT"},
		{"a\x1b[38;5;208mb\x1b[48;2;1;2;3mc", "abc"},
		{"\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"},
		{"\x1b[2K\x1b[1Gprogress", "progress"},
		{"\x1b]0;title\x07text", "text"},
		{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"\x1bPdcs data\x1b\\after", "after"},
		{"\x1b(Bcharset", "charset"},
		{"\x1b7saved\x1b8", "saved"},
		{"\x1bMup", "up"},
		{"cut \x1b[1;3", "cut "},
		{"cut osc \x1b]0;ti", "cut osc "},
		{"lone esc \x1b", "lone esc "},
		{"\x1b\x1b[0mx", "x"},
		{"bad \x1b[1\x00m", "bad \x00m"},
		{"osc then csi \x1b]0;t\x1b[1mX", "osc then csi X"},
		{"utf8 \xff\xfe \x00 kept", "utf8 \xff\xfe \x00 kept"},
		{"\x1b\xffhigh", "\xffhigh"},
		{"τ héllo \x1b[0m✓", "τ héllo ✓"},
	}
	for _, c := range cases {
		if got := string(StripANSI([]byte(c.in))); got != c.want {
			t.Errorf("StripANSI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStripANSINoEscapeDoesNotAllocate(t *testing.T) {
	b := []byte("[2026-11-26 23:12:54.123]  cpu      accepted (12/0) diff 120001 (37 ms)")
	if n := testing.AllocsPerRun(100, func() { _ = StripANSI(b) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
	if out := StripANSI(b); &out[0] != &b[0] {
		t.Error("fast path copied")
	}
	in := []byte("\x1b[1mx")
	_ = StripANSI(in)
	if string(in) != "\x1b[1mx" {
		t.Error("input modified")
	}
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range []string{"\x1b[1;32mok\x1b[0m", "\x1b]0;t\x07", "\x1bP\x1b\\", "\x1b", "\x1b(", "a\x1b[", "\xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out := StripANSI(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if len(out) > len(in) {
			t.Fatalf("grew: %q → %q", in, out)
		}
		if bytes.IndexByte(in, esc) < 0 && !bytes.Equal(out, in) {
			t.Fatalf("changed text without ESC: %q → %q", in, out)
		}
		if bytes.Contains(out, []byte("\x1b[")) || bytes.Contains(out, []byte("\x1b]")) {
			t.Fatalf("sequence left: %q → %q", in, out)
		}
	})
}

func BenchmarkStripANSI(b *testing.B) {
	line := []byte("[2026-11-26 23:12:54.123]  \x1b[1;37mcpu      \x1b[0m \x1b[1;32maccepted\x1b[0m (12/0) diff \x1b[1;37m120001\x1b[0m \x1b[1;30m(37 ms)\x1b[0m")
	b.SetBytes(int64(len(line)))
	var dst []byte
	for b.Loop() {
		dst = appendStripped(dst[:0], line)
	}
}
