package xmrig

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// The hand-written decoders of /2/summary and /2/backends against
// json.Unmarshal into the same types: the same error message, or the same
// value.

func checkDecode(t testing.TB, body []byte) {
	t.Helper()
	var d abi.Decoder
	var gotS, wantS summary
	d.Reset(body)
	gotS.decode(&d)
	errGot, errWant := d.Finish(), json.Unmarshal(body, &wantS)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("summary %q:\ndecode error         %v\njson.Unmarshal error %v", body, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(gotS, wantS) {
		t.Fatalf("summary %q:\ndecode         %#v\njson.Unmarshal %#v", body, gotS, wantS)
	}
	var gotB, wantB []backend
	d.Reset(body)
	decodeBackends(&d, &gotB)
	errGot, errWant = d.Finish(), json.Unmarshal(body, &wantB)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("backends %q:\ndecode error         %v\njson.Unmarshal error %v", body, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(gotB, wantB) {
		t.Fatalf("backends %q:\ndecode         %#v\njson.Unmarshal %#v", body, gotB, wantB)
	}
}

var apiKeys = []string{"version", "uptime", "algo", "paused", "hashrate", "connection", "results", "cpu", "total",
	"highest", "pool", "ip", "ping", "diff", "accepted", "rejected", "diff_current", "shares_good", "shares_total",
	"brand", "type", "enabled", "platform", "vendor", "threads", "index", "name", "board", "bus_id", "health",
	"temperature", "power", "clock", "mem_clock", "fan_speed", "Version", "HASHRATE", "id", "\u212aind", "x"}

// randomAPIDoc builds a random document over the keys of both bodies.
func randomAPIDoc(r *rand.Rand) []byte {
	var b bytes.Buffer
	var value func(depth int)
	object := func(depth int) {
		b.WriteByte('{')
		for n := r.IntN(6); n > 0; n-- {
			b.WriteString(strconv.Quote(apiKeys[r.IntN(len(apiKeys))]))
			b.WriteString([]string{":", " : ", ":\n    "}[r.IntN(3)])
			value(depth + 1)
			if n > 1 {
				b.WriteByte(',')
			}
		}
		b.WriteByte('}')
	}
	value = func(depth int) {
		switch k := r.IntN(12); {
		case k < 2:
			b.WriteString([]string{`"rx/0"`, `""`, `"127.0.0.1:3333"`, `"a\"b\u00e9\ud800"`, `"cpu"`, `"opencl"`, `"cuda"`,
				`"NVIDIA Corporation"`, `"Intel(R)"`, "\"\xff\""}[r.IntN(10)])
		case k < 5:
			b.WriteString([]string{"0", "-1", "39.65", "1e3", "1e400", "1.5", "18", "9223372036854775808", "-0", "2"}[r.IntN(10)])
		case k == 5:
			b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
		case k < 8 && depth < 5:
			b.WriteByte('[')
			for n := r.IntN(4); n > 0; n-- {
				value(depth + 1)
				if n > 1 {
					b.WriteByte(',')
				}
			}
			b.WriteByte(']')
		case depth < 5:
			object(depth)
		default:
			b.WriteString("null")
		}
	}
	if r.IntN(2) == 0 {
		object(0)
	} else {
		b.WriteByte('[')
		for n := r.IntN(4); n > 0; n-- {
			object(1)
			if n > 1 {
				b.WriteByte(',')
			}
		}
		b.WriteByte(']')
	}
	out := b.Bytes()
	if len(out) > 0 && r.IntN(6) == 0 {
		out[r.IntN(len(out))] = "{}[],:\" 0-x"[r.IntN(11)]
	}
	return out
}

func apiCaptures(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "api-*.json"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) < 8 {
		t.Fatalf("want the API captures, found %d", len(out))
	}
	return out
}

func TestDecodeMatchesUnmarshal(t *testing.T) {
	captures := apiCaptures(t)
	for _, c := range captures {
		checkDecode(t, c)
	}
	r := rand.New(rand.NewPCG(51, 52))
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for range n {
		checkDecode(t, randomAPIDoc(r))
		// A real capture with one byte changed or cut short.
		c := bytes.Clone(captures[r.IntN(len(captures))])
		if r.IntN(2) == 0 {
			c[r.IntN(len(c))] = "{}[],:\" 0-.ex\\"[r.IntN(14)]
		} else {
			c = c[:r.IntN(len(c))]
		}
		checkDecode(t, c)
	}
	for _, c := range []string{`{"cpu":{"brand":1}}`, `{"cpu":[]}`, `[{"platform":{"vendor":2}}]`, `[{"platform":3}]`,
		`[{"threads":[{"health":{"fan_speed":[1,"x"]}}]}]`, `[{"threads":[{"health":5}]}]`, `[{"threads":[{"index":1.5}]}]`,
		`{"connection":{"ip":null}}`, `{"connection":{"ip":""}}`, `{"hashrate":{"total":{}}}`, `[1]`, `"x"`, `[null]`} {
		checkDecode(t, []byte(c))
	}
}

func FuzzDecodeAPI(f *testing.F) {
	for _, c := range apiCaptures(f) {
		f.Add(c)
	}
	r := rand.New(rand.NewPCG(53, 54))
	for range 30 {
		f.Add(randomAPIDoc(r))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body)
	})
}
