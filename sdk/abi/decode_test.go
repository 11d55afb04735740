package abi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The Decoder is checked against json.Unmarshal on the same Go types: the
// same error (by message) or, without one, the same value (reflect.DeepEqual,
// which tells nil from empty slices).

type tInner struct {
	A  string   `json:"a"`
	N  *int     `json:"n"`
	FS []string `json:"fs"`
}

type tDoc struct {
	S    string     `json:"s"`
	SP   *string    `json:"sp"`
	B    bool       `json:"b"`
	BP   *bool      `json:"bp"`
	F    float64    `json:"f"`
	FP   *float64   `json:"fp"`
	I    int        `json:"i"`
	IP   *int       `json:"ip"`
	I64  int64      `json:"i64"`
	I64P *int64     `json:"i64p"`
	FS   []*float64 `json:"fs"`
	FV   []float64  `json:"fv"`
	In   tInner     `json:"in"`
	InP  *tInner    `json:"inp"`
	Ins  []tInner   `json:"ins"`
	Anon *struct {
		X float64 `json:"x"`
	} `json:"anon"`
	M    map[string]RawMessage `json:"m"`
	R    RawMessage            `json:"r"`
	SS   []string              `json:"ss"`
	Kind string                `json:"kind"`
	Long int                   `json:"a_very_long_field_name_that_is_longer_than_32_bytes"`
	Dash string                `json:"x-y_z"`
}

var (
	tDocFields = NewFields("s", "sp", "b", "bp", "f", "fp", "i", "ip", "i64", "i64p", "fs", "fv", "in", "inp", "ins",
		"anon", "m", "r", "ss", "kind", "a_very_long_field_name_that_is_longer_than_32_bytes", "x-y_z")
	tInnerFields = NewFields("a", "n", "fs")
	tAnonFields  = NewFields("x")
)

func (t *tInner) decode(d *Decoder) {
	if !d.Object("abi.tInner") {
		return
	}
	for d.More() {
		switch d.Field(tInnerFields) {
		case 0:
			d.String(&t.A)
		case 1:
			d.IntPtr(&t.N)
		case 2:
			DecodeStrings(d, &t.FS)
		}
	}
}

func (t *tDoc) decode(d *Decoder) {
	if !d.Object("abi.tDoc") {
		return
	}
	for d.More() {
		switch d.Field(tDocFields) {
		case 0:
			d.String(&t.S)
		case 1:
			d.StringPtr(&t.SP)
		case 2:
			d.Bool(&t.B)
		case 3:
			d.BoolPtr(&t.BP)
		case 4:
			d.Float64(&t.F)
		case 5:
			d.Float64Ptr(&t.FP)
		case 6:
			d.Int(&t.I)
		case 7:
			d.IntPtr(&t.IP)
		case 8:
			d.Int64(&t.I64)
		case 9:
			d.Int64Ptr(&t.I64P)
		case 10:
			if d.Null() {
				t.FS = nil
			} else if d.Array("[]*float64") {
				n := 0
				for d.More() {
					d.Float64Ptr(SliceElem(&t.FS, n))
					n++
				}
				SliceEnd(&t.FS, n)
			}
		case 11:
			if d.Null() {
				t.FV = nil
			} else if d.Array("[]float64") {
				n := 0
				for d.More() {
					d.Float64(SliceElem(&t.FV, n))
					n++
				}
				SliceEnd(&t.FV, n)
			}
		case 12:
			t.In.decode(d)
		case 13:
			if d.Null() {
				t.InP = nil
			} else {
				if t.InP == nil {
					t.InP = new(tInner)
				}
				t.InP.decode(d)
			}
		case 14:
			if d.Null() {
				t.Ins = nil
			} else if d.Array("[]abi.tInner") {
				n := 0
				for d.More() {
					SliceElem(&t.Ins, n).decode(d)
					n++
				}
				SliceEnd(&t.Ins, n)
			}
		case 15:
			if d.Null() {
				t.Anon = nil
				break
			}
			if t.Anon == nil {
				t.Anon = new(struct {
					X float64 `json:"x"`
				})
			}
			if d.Object(`struct { X float64 "json:\"x\"" }`) {
				for d.More() {
					if d.Field(tAnonFields) == 0 {
						d.Float64(&t.Anon.X)
					}
				}
			}
		case 16:
			if d.Null() {
				t.M = nil
			} else if d.Object("map[string]json.RawMessage") {
				if t.M == nil {
					t.M = map[string]RawMessage{}
				}
				for d.More() {
					k := string(d.Key())
					var v RawMessage
					d.Raw(&v)
					if d.Err() == nil {
						t.M[k] = v
					}
				}
			}
		case 17:
			d.Raw(&t.R)
		case 18:
			DecodeStrings(d, &t.SS)
		case 19:
			d.String(&t.Kind)
		case 20:
			d.Int(&t.Long)
		case 21:
			d.String(&t.Dash)
		}
	}
}

// checkDecode compares the Decoder and json.Unmarshal on data, both into
// the same starting value.
func checkDecode(t testing.TB, data []byte) {
	t.Helper()
	var got, want tDoc
	var d Decoder
	d.Reset(data)
	got.decode(&d)
	errGot := d.Finish()
	errWant := json.Unmarshal(data, &want)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("input %q:\nDecoder error      %v\njson.Unmarshal error %v", data, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\nDecoder      %#v\njson.Unmarshal %#v", data, got, want)
	}
	// Skipping the document reports the same syntax errors.
	d.Reset(data)
	d.Skip()
	errSkip := d.Finish()
	var raw json.RawMessage
	errRaw := json.Unmarshal(data, &raw)
	if (errSkip == nil) != (errRaw == nil) || errSkip != nil && errSkip.Error() != errRaw.Error() {
		t.Fatalf("input %q:\nSkip error %v\njson error %v", data, errSkip, errRaw)
	}
}

var decodeCases = []string{
	``, ` `, `{}`, `null`, ` null `, `[]`, `"x"`, `1`, `true`, `{} x`, `{}}`, `{`, `[`, `{"s"`, `{"s":`, `{"s" 1}`,
	`{"s":"a"`, `{"s":"a",}`, `{"s":"a" "b"}`, `{,}`, `{"s":"a",,}`, `[1,]`, `[,1]`, `[1 2]`, `{]`, `[}`,
	`{"s":"a\u00e9\ud83d\ude00\ud800\udc00x\ud800\u0041\udc00"}`, `{"s":"\ud800\n"}`, `{"s":"\ud83d\ud83d\ude00"}`,
	`{"s":"a\x"}`, `{"s":"\u12"}`, `{"s":"\u12G4"}`, `{"s":"\`, `{"s":"\u`, `{"s":"\u1`, "{\"s\":\"a\tb\"}",
	"{\"s\":\"\xff\xc3(\xed\xa0\x80\xf4\x90\x80\x80é€😀\"}", `{"s":"\/\b\f\n\r\t\"\\"}`,
	`{"s":1}`, `{"s":true}`, `{"s":[]}`, `{"s":{}}`, `{"s":null}`, `{"sp":null}`, `{"sp":"x"}`, `{"sp":2}`,
	`{"b":true,"bp":false}`, `{"b":"true"}`, `{"bp":null}`, `{"b":null}`, `{"b":tru}`, `{"b":nul}`, `{"b":fals`,
	`{"f":1.5}`, `{"f":-0}`, `{"f":-0.0}`, `{"f":1e400}`, `{"f":-1e400}`, `{"f":1e-400}`, `{"f":0e99999}`,
	`{"f":123456789012345678901234567890}`, `{"f":0.1}`, `{"f":1.7976931348623157e308}`, `{"f":4.9e-324}`,
	`{"f":"1"}`, `{"f":01}`, `{"f":-}`, `{"f":1.}`, `{"f":1.e5}`, `{"f":1e}`, `{"f":1e+}`, `{"f":.5}`, `{"f":+1}`,
	`{"f":1E+2}`, `{"f":1e-2}`, `{"f":123.456e-7}`, `{"f":9007199254740993}`, `{"f":0.30000000000000004}`,
	`-`, `1.`, `1e`, `1e+`, `tr`, `t`, `fals`, `n`, `nu`, `"abc`, `"\`, `"\u12`, `[-`, `[1.`, `[tr`, `["a`,
	`{"i":1}`, `{"i":1.0}`, `{"i":1e2}`, `{"i":-0}`, `{"i":9223372036854775807}`, `{"i":9223372036854775808}`,
	`{"i":-9223372036854775808}`, `{"i":-9223372036854775809}`, `{"i":99999999999999999999999}`, `{"i":"1"}`,
	`{"ip":null}`, `{"ip":7}`, `{"ip":7.5}`, `{"i64":-5}`, `{"i64p":12}`, `{"i64p":[]}`,
	`{"fs":[1,null,2.5]}`, `{"fs":[]}`, `{"fs":null}`, `{"fs":5}`, `{"fs":"x"}`, `{"fs":{}}`, `{"fs":[true]}`,
	`{"fv":[1,null,2]}`, `{"fv":[[1]]}`, `{"in":{"a":"x","n":3}}`, `{"in":null}`, `{"in":[]}`, `{"in":{"n":"3"}}`,
	`{"inp":{"a":"x"}}`, `{"inp":null}`, `{"inp":{"fs":["a",1]}}`, `{"ins":[{"a":"x"},null,{"n":1}]}`,
	`{"ins":[1]}`, `{"ins":[{"n":true}]}`, `{"anon":{"x":1}}`, `{"anon":{"x":"1"}}`, `{"anon":3}`,
	`{"m":{"a":1,"b":[1, 2],"c":null,"a":{"x":"y"}}}`, `{"m":null}`, `{"m":[]}`, `{"m":{"a":}}`,
	`{"r":  {"a" : [1, 2]} }`, `{"r":null}`, `{"ss":["a","b"]}`, `{"ss":[null,"b"]}`,
	`{"S":"upper"}`, `{"KIND":"k"}`, `{"\u212aind":"kelvin"}`, `{"ſ":"long s"}`, `{"k\u0131nd":"dotless"}`,
	`{"X-Y_Z":"d"}`, `{"x-y_z":"d"}`, `{"x_y_z":"no"}`, `{"A_VERY_LONG_FIELD_NAME_THAT_IS_LONGER_THAN_32_BYTES":1}`,
	`{"a_very_long_field_name_that_is_longer_than_32_bytes":2}`, `{"unknown":{"deep":[1,{"x":[]}]},"s":"a"}`,
	`{"unknown":[1,2,}`, `{"unknown":{"a" 1}}`, `{"unknown":{"a":1 "b"}}`, `{"unknown":[1 2]}`, `{"unknown":-}`,
	`{"s":"a","s":"b"}`, `{"in":{"a":"x"},"in":{"n":1}}`, `{"ins":[{"a":"x"},{"a":"y"}],"ins":[{"n":1}],"ins":[{},{}]}`,
	`{"fs":[1,2,3],"fs":[null]}`, `{"i":"x","f":"y"}`, `{"i":"x","s":"a" x}`, "{\"s\":\"a\"}\x00",
	"\t\n\r {\"s\" \t:\n\"a\" , \"b\" : true } \n", `{"s":"a"}{"s":"b"}`, `[{"s":"a"}]`, `"x"`, `{"":1}`,
	`{"s":"<>&\u2028"}`, `{"\u0073":"escaped key"}`, `{"s\u0000":"nul key"}`, `{"ins":{"a":1}}`,
	`{"in":{"fs":[1,"a"]}}`, `{"inp":{"n":1.5}}`,
}

func TestDecoderCases(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
}

func TestDecoderDepth(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			doc := `{"unknown":` + strings.Repeat(open, n-1) + strings.Repeat(close, n-1) + `}`
			checkDecode(t, []byte(doc))
			doc = `{"m":{"x":` + strings.Repeat(open, n-2) + "1" + strings.Repeat(close, n-2) + `}}`
			checkDecode(t, []byte(doc))
			doc = `{"ins":[{"fs":` + strings.Repeat(open, n-3) + strings.Repeat(close, n-3) + `}]}`
			checkDecode(t, []byte(doc))
		}
	}
}

// TestFoldRunes checks foldEqual's premise: U+017F and U+212A are the only
// non-ASCII characters that fold to ASCII letters.
func TestFoldRunes(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < 0x80 && r != 0x17F && r != 0x212A {
				t.Errorf("%U folds to %q", r, f)
			}
		}
	}
}

// randomDoc returns a random document over tDoc's fields, often valid,
// with wrong types, case changes, escapes, duplicates, unknown keys and
// (sometimes) a byte changed.
func randomDoc(r *rand.Rand) []byte {
	var b bytes.Buffer
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n  ", "\t", "\r\n", "        "}[r.IntN(5)])
		}
	}
	var value func(depth int)
	str := func() {
		b.WriteByte('"')
		for n := r.IntN(8); n > 0; n-- {
			b.WriteString([]string{"a", "é", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\xff", "€", "Z", " ",
				"\\/", "\\u2028", "<", "0123456789abcdef", "\\uDC00"}[r.IntN(16)])
		}
		b.WriteByte('"')
	}
	number := func() {
		b.WriteString([]string{"0", "-0", "1", "-1", "1.5", "0.001", "1e3", "1E-3", "-2.5e+2", "123456789", "1e400",
			"9223372036854775807", "9223372036854775808", "12345678901234567890", "0.1", "3.14159", "100", "7e22", "7e23",
			"1.25e-320", "4.5", "1000000000000000000000"}[r.IntN(22)])
	}
	value = func(depth int) {
		ws()
		switch k := r.IntN(10); {
		case k < 2:
			str()
		case k < 4:
			number()
		case k == 4:
			b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
		case k == 5 && depth < 4:
			b.WriteByte('[')
			for n := r.IntN(4); n > 0; n-- {
				value(depth + 1)
				if n > 1 {
					b.WriteByte(',')
				}
			}
			ws()
			b.WriteByte(']')
		case depth < 4:
			object(&b, r, depth+1, value, ws)
		default:
			b.WriteString("null")
		}
		ws()
	}
	object(&b, r, 0, value, ws)
	out := b.Bytes()
	if len(out) > 0 && r.IntN(5) == 0 {
		i := r.IntN(len(out))
		switch r.IntN(3) {
		case 0:
			const bytes = "{}[],:\"\\ x0-.e\x00\x1f"
			out[i] = bytes[r.IntN(len(bytes))]
		case 1:
			out = append(out[:i:i], out[i+1:]...)
		default:
			out = out[:i]
		}
	}
	return out
}

var randomKeys = []string{"s", "sp", "b", "bp", "f", "fp", "i", "ip", "i64", "i64p", "fs", "fv", "in", "inp", "ins",
	"anon", "m", "r", "ss", "kind", "a", "n", "x", "S", "Kind", "\u212Aind", "\u017f", "FS", "unknown", "", "x-y_z", "X-Y_Z",
	"a_very_long_field_name_that_is_longer_than_32_bytes"}

func object(b *bytes.Buffer, r *rand.Rand, depth int, value func(int), ws func()) {
	b.WriteByte('{')
	for n := r.IntN(6); n > 0; n-- {
		ws()
		b.WriteString(strconv.Quote(randomKeys[r.IntN(len(randomKeys))]))
		ws()
		b.WriteByte(':')
		value(depth)
		if n > 1 {
			b.WriteByte(',')
		}
	}
	ws()
	b.WriteByte('}')
}

func TestDecoderRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for range n {
		checkDecode(t, randomDoc(r))
	}
}

func FuzzDecoder(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add(randomDoc(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}
