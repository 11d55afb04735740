package xmrig

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// checkSameAsReference parses the same batches with the adapter and the
// reference implementation (reference_test.go) and compares the results
// and the session state after each batch. The adapter gets the lines as
// the SDK hands them over, without escape sequences; the reference strips
// them itself.
func checkSameAsReference(t testing.TB, batches [][][]byte) {
	t.Helper()
	a, ref := New(), &refAdapter{}
	for i, lines := range batches {
		plain := make([][]byte, len(lines))
		for k, l := range lines {
			plain[k] = sdk.StripANSI(nil, l)
		}
		got, err1 := a.ParseLines(abi.Stdout, plain)
		want, err2 := ref.refParseLines(abi.Stdout, lines)
		if err1 != nil || err2 != nil {
			t.Fatalf("errors %v %v", err1, err2)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batch %d %q:\n got %s\nwant %s", i, lines, got.AppendJSON(nil), want.AppendJSON(nil))
		}
		if a.lines.pool != ref.lines.pool || a.lines.donate != ref.lines.donate {
			t.Fatalf("batch %d %q: state %+v, reference %+v", i, lines, a.lines, ref.lines)
		}
	}
}

var lineNoise = []string{" ", "  ", "\t", "\r", "\x1b[1;37m", "\x1b[0m", "\x1b]0;t\x07", "\x1b(B", "\x1b", "\"", ":", "/",
	"(", ")", "[", "]", "#", "<line:", "n/a", "0", "9", ".", "..", "12345678", "123456789", "é", "\xff", "\x00",
	"speed ", "accepted (", "rejected (", "new job from ", "use pool ", "donate.", ".xmrig.com", "error", "H/s", "kH/s",
	"max", "max:", "diff ", "algo ", "height ", "K", "M", "W", "C", "%", "fan0:", "MHz", "READY", "paused", "resumed"}

// mutateLine changes a real line a little: a byte, an inserted piece, a
// cut.
func mutateLine(r *rand.Rand, l []byte) []byte {
	l = bytes.Clone(l)
	for n := r.IntN(3); n >= 0; n-- {
		switch r.IntN(5) {
		case 0:
			if len(l) > 0 {
				l[r.IntN(len(l))] = byte(r.IntN(256))
			}
		case 1, 2:
			i := r.IntN(len(l) + 1)
			l = append(l[:i:i], append([]byte(lineNoise[r.IntN(len(lineNoise))]), l[i:]...)...)
		case 3:
			if len(l) > 0 {
				l = l[:r.IntN(len(l))]
			}
		case 4:
			if len(l) > 0 {
				i := r.IntN(len(l))
				l = append(l[:i:i], l[i+1:]...)
			}
		}
	}
	return l
}

func allLogLines(t testing.TB) [][]byte {
	t.Helper()
	var all [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))...)
	}
	if len(all) < 100 {
		t.Fatalf("want the captured logs, found %d lines", len(all))
	}
	return all
}

func TestParseLinesMatchesReference(t *testing.T) {
	all := allLogLines(t)
	// The real logs, as batches.
	var batches [][][]byte
	for i := 0; i < len(all); i += abi.MaxLineBatch {
		batches = append(batches, all[i:min(i+abi.MaxLineBatch, len(all))])
	}
	checkSameAsReference(t, batches)
	// Mutated lines.
	r := rand.New(rand.NewPCG(81, 82))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		batches = batches[:0]
		for b := r.IntN(4); b >= 0; b-- {
			var lines [][]byte
			for k := r.IntN(8); k >= 0; k-- {
				lines = append(lines, mutateLine(r, all[r.IntN(len(all))]))
			}
			batches = append(batches, lines)
		}
		checkSameAsReference(t, batches)
	}
}

func FuzzParseLinesReference(f *testing.F) {
	all := allLogLines(f)
	for i := 0; i < len(all); i += 4 {
		f.Add(bytes.Join(all[i:min(i+4, len(all))], []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Split(in, []byte("\n"))
		checkSameAsReference(t, [][][]byte{lines, lines})
	})
}
