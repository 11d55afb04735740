package ttminer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// The hand-written decoder of the getstat reply (and of its string
// elements) against json.Unmarshal into the same types.

func checkDecode(t testing.TB, body []byte) {
	t.Helper()
	var got, want getstatReply
	var d abi.Decoder
	d.Reset(body)
	got.decode(&d)
	errGot, errWant := d.Finish(), json.Unmarshal(body, &want)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("reply %q:\ndecode error         %v\njson.Unmarshal error %v", body, errGot, errWant)
	}
	if errGot != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reply %q:\ndecode         %#v\njson.Unmarshal %#v", body, got, want)
	}
	for _, r := range got.Result {
		s, ok := element(r)
		var ws string
		if r := strings.TrimSpace(string(r)); len(r) > 0 && r[0] == '"' {
			if err := json.Unmarshal([]byte(r), &ws); (err == nil) != ok || s != ws {
				t.Fatalf("element %q = %q, %v; json.Unmarshal %q, %v", r, s, ok, ws, err)
			}
		}
	}
}

func getstatCaptures(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*-getstat.json"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, []byte(`{"id":0,"jsonrpc":"2.0","result":["2023.4.0","12","43000000;5;0","21500000;21500000","0;0;0","off;off","56;70;60;75","pool.example.com:4444","0;0;0;0"],"error":null}`))
}

func TestDecodeMatchesUnmarshal(t *testing.T) {
	captures := getstatCaptures(t)
	r := rand.New(rand.NewPCG(71, 72))
	elems := []string{`"2023.4.0"`, `"a\"b\u00e9\ud800"`, `12`, `1.5e3`, `null`, `true`, `[]`, `{"a":1}`, `""`, "\"\xff\"", `-`, `"x`}
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for _, c := range captures {
		checkDecode(t, c)
	}
	for range n {
		var b strings.Builder
		b.WriteString([]string{`{`, ` { "id" : 0 , `, `[`, `"x"`, `null`, `{"RESULT":`, `{"result":`}[r.IntN(7)])
		for k := r.IntN(3); k > 0; k-- {
			b.WriteString([]string{`"result":[`, `"error":`, `"jsonrpc":"2.0",`, `"Error":`}[r.IntN(4)])
			for e := r.IntN(5); e > 0; e-- {
				b.WriteString(elems[r.IntN(len(elems))])
				if e > 1 {
					b.WriteString([]string{",", " , ", ",\n"}[r.IntN(3)])
				}
			}
			b.WriteString([]string{`]`, ``, `],`, `]}`}[r.IntN(4)])
		}
		b.WriteString([]string{`}`, ``, `]`, ` }`}[r.IntN(4)])
		checkDecode(t, []byte(b.String()))
		c := []byte(string(captures[r.IntN(len(captures))]))
		c[r.IntN(len(c))] = "{}[],:\" 0-x\\"[r.IntN(12)]
		checkDecode(t, c)
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, c := range getstatCaptures(f) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body)
	})
}

// TestOptionErrorOrder: with several bad keys, the error is the first bad
// key's in sorted order, whatever the map order.
func TestOptionErrorOrder(t *testing.T) {
	opts := map[string]abi.RawMessage{"zz": abi.RawMessage(`1`), "report_interval": abi.RawMessage(`"x"`), "mm": abi.RawMessage(`1`)}
	for range 50 {
		if _, err := parseOptions(opts); err == nil || !strings.Contains(err.Error(), `unknown option "mm"`) {
			t.Fatalf("error %v, want the unknown option mm", err)
		}
	}
	delete(opts, "mm")
	for range 50 {
		if _, err := parseOptions(opts); err == nil || !strings.Contains(err.Error(), "option report_interval must be") {
			t.Fatalf("error %v, want report_interval's", err)
		}
	}
	if n, err := parseOptions(map[string]abi.RawMessage{"report_interval": abi.RawMessage(`30`)}); n != 30 || err != nil {
		t.Fatalf("parseOptions = %d, %v", n, err)
	}
}
