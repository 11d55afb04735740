package abi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// The Metadata, Command and Error encoders and the BuildRequest and
// APIRequest decoders against encoding/json: the same bytes and errors.

var rawPieces = []string{"", "null", "1", " 2 ", `"auto"`, `"<b>&amp;</b>"`, "\"\u2028x\u2029\"", `{ "a" : [ 1 , true ] }`,
	"\t[\n]\r", `[1,`, `{"a"}`, `tru`, `"\x"`, `1 2`, "\"\xff\"", `"\u00e9\"\\"`, `-0.5e+3`, "{}", "\"\\u2028 \xe2\x80\xa8\""}

func (g *gen) strs() []string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	s := make([]string, 1+g.r.IntN(3))
	for i := range s {
		s[i] = g.str()
	}
	return s
}

func (g *gen) raw() RawMessage {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return RawMessage(rawPieces[g.r.IntN(len(rawPieces))])
}

func (g *gen) metaFloat() float64 {
	if g.r.IntN(20) == 0 {
		return []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[g.r.IntN(3)]
	}
	if g.r.IntN(3) == 0 {
		return 0
	}
	f := g.float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 1 << 32
	}
	return f
}

func (g *gen) metadata() Metadata {
	m := Metadata{
		Name: g.str(), DisplayName: g.str(), Version: g.str(), ABIMinor: int(g.r.Int64() >> g.r.IntN(64)),
		Homepage: g.str(), License: g.str(),
		Release:      Release{GitHub: g.str(), TagPrefix: g.str(), Checksum: Checksum{File: g.str(), Format: g.str()}},
		VersionProbe: VersionProbe{Args: g.strs(), Regex: g.str()},
		API:          APISpec{Kind: g.str(), Endpoints: g.strs(), PollIntervalS: []int{0, 10, -1, math.MaxInt}[g.r.IntN(4)]},
		Capabilities: g.strs(),
	}
	if g.r.IntN(4) > 0 {
		m.Algorithms = []Algorithm{}
		for n := g.r.IntN(4); n > 0; n-- {
			m.Algorithms = append(m.Algorithms, Algorithm{Name: g.str(), Devices: g.strs(), Coins: g.strs(),
				ShareFactor: g.metaFloat(), DAG: g.r.IntN(2) == 0})
		}
	}
	if g.r.IntN(4) > 0 {
		m.Release.Assets = []Asset{}
		for n := g.r.IntN(3); n > 0; n-- {
			m.Release.Assets = append(m.Release.Assets, Asset{OS: g.str(), Arch: g.str(), Name: g.str(), Archive: g.str(),
				Binary: g.str(), MinVersion: g.str(), BeforeVersion: g.str()})
		}
	}
	if g.r.IntN(4) > 0 {
		m.StdinCommands = []StdinCommand{}
		for n := g.r.IntN(3); n > 0; n-- {
			m.StdinCommands = append(m.StdinCommands, StdinCommand{Name: g.str(), Input: g.str(), Description: g.str()})
		}
	}
	if g.r.IntN(4) > 0 {
		m.Options = []Option{}
		for n := g.r.IntN(3); n > 0; n-- {
			m.Options = append(m.Options, Option{Name: g.str(), Type: g.str(), Values: g.strs(), Default: g.raw(), Description: g.str()})
		}
	}
	return m
}

func (g *gen) strMap() map[string]string {
	switch g.r.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		m[g.str()] = g.str()
	}
	return m
}

func (g *gen) command() Command {
	c := Command{Args: g.strs(), Env: g.strMap()}
	if g.r.IntN(3) > 0 {
		c.Files = []File{}
		for n := g.r.IntN(3); n > 0; n-- {
			c.Files = append(c.Files, File{Path: g.str(), Content: g.str(), Mode: []uint32{0, 0o600, math.MaxUint32}[g.r.IntN(3)]})
		}
	}
	if g.r.IntN(3) > 0 {
		c.API = []Endpoint{}
		for n := g.r.IntN(3); n > 0; n-- {
			c.API = append(c.API, Endpoint{Name: g.str(), Kind: g.str(), URL: g.str(), Headers: g.strMap(), Address: g.str(), Request: g.str()})
		}
	}
	return c
}

func checkMetaEncoders(t testing.TB, g *gen) {
	t.Helper()
	m := g.metadata()
	got, errGot := m.AppendJSON([]byte("x"))
	want, errWant := json.Marshal(&m)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("Metadata %+v:\nAppendJSON error   %v\njson.Marshal error %v", m, errGot, errWant)
	}
	if errGot != nil && string(got) != "x" || errGot == nil && string(got) != "x"+string(want) {
		t.Fatalf("Metadata %+v:\nAppendJSON   %s\njson.Marshal %s", m, got, want)
	}
	c := g.command()
	if got, want := c.AppendJSON(nil), mustMarshal(t, &c); !bytes.Equal(got, want) {
		t.Fatalf("Command %+v:\nAppendJSON   %s\njson.Marshal %s", c, got, want)
	}
	e := Error{Code: g.str(), Message: g.str(), Retryable: g.r.IntN(2) == 0}
	if got, want := e.AppendJSON(nil), mustMarshal(t, &e); !bytes.Equal(got, want) {
		t.Fatalf("Error %+v:\nAppendJSON   %s\njson.Marshal %s", e, got, want)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppendJSONMetaRandom(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	g := &gen{r: rand.New(rand.NewPCG(11, 12)), extra: "\xff\u2028<", f: 4294967296}
	for range n {
		checkMetaEncoders(t, g)
	}
	for _, raw := range rawPieces {
		for _, omit := range []bool{false, true} {
			m := Metadata{Options: []Option{{Name: "o", Default: RawMessage(raw)}}}
			if omit {
				m.Options[0].Default = nil
			}
			got, errGot := m.AppendJSON(nil)
			want, errWant := json.Marshal(&m)
			if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() || !bytes.Equal(got, want) && errGot == nil {
				t.Errorf("default %q: AppendJSON %s, %v; json.Marshal %s, %v", raw, got, errGot, want, errWant)
			}
		}
	}
}

func FuzzAppendJSONMeta(f *testing.F) {
	f.Add(uint64(0), "", 0.0)
	f.Add(uint64(1), "<\xff>", math.NaN())
	f.Fuzz(func(t *testing.T, seed uint64, s string, x float64) {
		g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), extra: s, f: x}
		for range 4 {
			checkMetaEncoders(t, g)
		}
	})
}

// TestAppendJSONMetaCoversAllFields fails when a field is added to
// Metadata, Command or Error (or a type inside them) without updating
// appendjson_meta.go.
func TestAppendJSONMetaCoversAllFields(t *testing.T) {
	m, c, e := new(Metadata), new(Command), new(Error)
	fillAll(reflect.ValueOf(m).Elem())
	fillAll(reflect.ValueOf(c).Elem())
	fillAll(reflect.ValueOf(e).Elem())
	gotM, err := m.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		v         any
		got, want []byte
	}{
		{"Metadata", m, gotM, mustMarshal(t, m)},
		{"Command", c, c.AppendJSON(nil), mustMarshal(t, c)},
		{"Error", e, e.AppendJSON(nil), mustMarshal(t, e)},
	} {
		gk, wk := keyPaths(t, tc.got), keyPaths(t, tc.want)
		for _, k := range wk {
			if !slices.Contains(gk, k) {
				t.Errorf("%s.AppendJSON does not write %q (a field was added without updating appendjson_meta.go?)", tc.name, k)
			}
		}
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s fully populated:\nAppendJSON   %s\njson.Marshal %s", tc.name, tc.got, tc.want)
		}
	}
}

// fillAll sets every field reachable from v to a non-zero value (raw JSON
// values to `[1]`).
func fillAll(v reflect.Value) {
	if v.Type() == reflect.TypeFor[RawMessage]() {
		v.SetBytes([]byte(`[1]`))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			fillAll(v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillAll(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k)
		fillAll(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint32:
		v.SetUint(0o640)
	case reflect.Float64:
		v.SetFloat(1.5)
	default:
		panic("fillAll: unhandled kind " + v.Kind().String())
	}
}

// TestDecodeJSONCoversAllFields fails when a field is added to
// BuildRequest or APIRequest (or a type inside them) without updating
// decode_abi.go: a fully populated value must come back from its encoding.
func TestDecodeJSONCoversAllFields(t *testing.T) {
	br, ar := new(BuildRequest), new(APIRequest)
	fillAll(reflect.ValueOf(br).Elem())
	fillAll(reflect.ValueOf(ar).Elem())
	var gotB BuildRequest
	var gotA APIRequest
	var d Decoder
	d.Reset(mustMarshal(t, br))
	gotB.DecodeJSON(&d)
	if err := d.Finish(); err != nil || !reflect.DeepEqual(&gotB, br) {
		t.Errorf("BuildRequest: %v\n got %+v\nwant %+v", err, gotB, *br)
	}
	d.Reset(mustMarshal(t, ar))
	gotA.DecodeJSON(&d)
	if err := d.Finish(); err != nil || !reflect.DeepEqual(&gotA, ar) {
		t.Errorf("APIRequest: %v\n got %+v\nwant %+v", err, gotA, *ar)
	}
}

// checkBuildRequest compares DecodeJSON with json.Unmarshal on data.
func checkBuildRequest(t testing.TB, data []byte) {
	t.Helper()
	var got, want BuildRequest
	var d Decoder
	d.Reset(data)
	got.DecodeJSON(&d)
	errGot := d.Finish()
	errWant := json.Unmarshal(data, &want)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("input %q:\nDecodeJSON error     %v\njson.Unmarshal error %v", data, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\nDecodeJSON     %+v\njson.Unmarshal %+v", data, got, want)
	}
}

func (g *gen) buildRequest() BuildRequest {
	p := Profile{Algo: g.str(), Coin: g.str(), Worker: g.str(), Threads: int(g.r.Int64() >> g.r.IntN(64)),
		Intensity: g.metaFloat(), ExtraArgs: g.strs()}
	if math.IsNaN(p.Intensity) || math.IsInf(p.Intensity, 0) {
		p.Intensity = 0
	}
	if g.r.IntN(3) > 0 {
		p.Pools = []Pool{}
		for n := g.r.IntN(3); n > 0; n-- {
			p.Pools = append(p.Pools, Pool{URL: g.str(), User: g.str(), Pass: g.str(), TLS: g.r.IntN(2) == 0})
		}
	}
	if g.r.IntN(3) > 0 {
		p.Devices = []int{}
		for n := g.r.IntN(3); n > 0; n-- {
			p.Devices = append(p.Devices, int(g.r.Int64()>>g.r.IntN(64)))
		}
	}
	if g.r.IntN(3) > 0 {
		p.Options = map[string]RawMessage{}
		for n := g.r.IntN(3); n > 0; n-- {
			if raw := g.raw(); json.Valid(raw) {
				p.Options[g.str()] = raw
			}
		}
	}
	in := Instance{Name: g.str(), APIPort: int(g.r.Int64() >> g.r.IntN(64)), APIToken: g.str(), OS: g.str(), Arch: g.str(), MinerVersion: g.str()}
	if g.r.IntN(3) > 0 {
		in.Devices = g.devices()
		for i := range in.Devices {
			clearNonFinite(reflect.ValueOf(&in.Devices[i]).Elem())
		}
	}
	return BuildRequest{Profile: p, Instance: in}
}

var buildKeys = []string{"profile", "instance", "algo", "coin", "pools", "worker", "threads", "devices", "intensity",
	"options", "extra_args", "url", "user", "pass", "tls", "name", "api_port", "api_token", "os", "arch",
	"miner_version", "id", "bus_id", "kind", "hashrate_hs", "temp_c", "accepted", "PROFILE", "Api_Port", "x"}

func TestDecodeBuildRequestRandom(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	g := &gen{r: rand.New(rand.NewPCG(21, 22)), extra: "\xff\u2028<\\\"", f: 1.5}
	for range n {
		req := g.buildRequest()
		data := mustMarshal(t, &req)
		checkBuildRequest(t, data)
		// And a random document over the same keys, often malformed.
		saved := randomKeys
		randomKeys = buildKeys
		checkBuildRequest(t, randomDoc(g.r))
		randomKeys = saved
		if len(data) > 0 {
			data[g.r.IntN(len(data))] = "{}[],:\"\\ 0-.e\x00"[g.r.IntN(14)]
			checkBuildRequest(t, data)
		}
	}
	for _, c := range []string{`null`, `{}`, `{"profile":null}`, `{"profile":{"options":{"a":1,"b":null}}}`,
		`{"profile":{"options":[]}}`, `{"profile":{"pools":[{"tls":1}]}}`, `{"instance":{"devices":[{"id":1.5}]}}`,
		`{"instance":{"api_port":"1"}}`, `{"profile":{"devices":[1,"2"]}}`, `{"profile":{"threads":1e3}}`} {
		checkBuildRequest(t, []byte(c))
	}
}

func FuzzDecodeBuildRequest(f *testing.F) {
	g := &gen{r: rand.New(rand.NewPCG(23, 24))}
	for range 20 {
		req := g.buildRequest()
		f.Add(mustMarshal(f, &req))
	}
	f.Add([]byte(`{"profile":{"options":{"a":1,"b":null}},"instance":{"devices":[{"id":1}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBuildRequest(t, data)
	})
}

// TestOctal checks the %#o stand-in of ValidateCommand.
func TestOctal(t *testing.T) {
	for _, m := range []uint32{0, 1, 0o600, 0o644, 0o7777, math.MaxUint32} {
		if got, want := octal(m), fmt.Sprintf("%#o", m); got != want {
			t.Errorf("octal(%o) = %s", m, got)
		}
	}
}
