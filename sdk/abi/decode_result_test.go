package abi

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// decodeBoth decodes doc with json.Unmarshal and with DecodeJSON and
// fails if the values or the errors' presence differ.
func decodeBoth(t testing.TB, doc []byte) {
	t.Helper()
	var want, got LineResult
	werr := json.Unmarshal(doc, &want)
	var d Decoder
	d.Reset(doc)
	got.DecodeJSON(&d)
	gerr := d.Finish()
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("doc %q: json.Unmarshal error %v, DecodeJSON error %v", doc, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("doc %q:\njson.Unmarshal %+v\nDecodeJSON     %+v", doc, want, got)
	}
}

// TestDecodeLineResultRandom: random results, encoded, decode by hand to
// what json.Unmarshal gives.
func TestDecodeLineResultRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	g := &gen{r: rand.New(rand.NewPCG(3, 4)), extra: "\xff\u2028<", f: 0.3}
	for i := 0; i < n && !t.Failed(); i++ {
		lr := g.lineResult()
		clearNonFinite(reflect.ValueOf(&lr).Elem())
		doc, err := json.Marshal(lr)
		if err != nil {
			t.Fatal(err)
		}
		decodeBoth(t, doc)
	}
}

func TestDecodeLineResultTable(t *testing.T) {
	for _, doc := range []string{
		`{"events":[],"stats":null}`,
		`{"events":null}`,
		`{"events":[{"type":"share_accepted","accepted":3,"difficulty":50,"device":{"id":1,"kind":"nvidia","temp_c":61}}],"stats":{"accepted":3,"devices":[{"id":0,"kind":"cpu"}],"paused":false}}`,
		`{"EVENTS":[{"Type":"x"}],"Stats":{"Hashrate_HS":1.5}}`,
		`{"events":[{"type":1}]}`,
		`{"stats":{"accepted":"3"}}`,
		`{"events":[`,
		`[]`,
		`null`,
		`{"unknown":{"deep":[1,2,{"x":null}]},"events":[]}`,
	} {
		decodeBoth(t, []byte(doc))
	}
}

func FuzzDecodeLineResult(f *testing.F) {
	f.Add([]byte(`{"events":[{"type":"hashrate","hashrate_hs":39.77}],"stats":{"hashrate_hs":39.77}}`))
	f.Add([]byte(`{"stats":{"devices":[{"id":1,"temp_c":null}]}}`))
	f.Fuzz(func(t *testing.T, doc []byte) { decodeBoth(t, doc) })
}
