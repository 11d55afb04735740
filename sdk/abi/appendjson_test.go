package abi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendJSONer is implemented by the types with a hand-written encoder.
type appendJSONer interface {
	AppendJSON([]byte) []byte
}

func TestAppendJSONTable(t *testing.T) {
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name string
		v    appendJSONer
		want string
	}{
		{"nil line result", (*LineResult)(nil), `null`},
		{"empty line result", &LineResult{}, `{"events":null}`},
		{"no events", &LineResult{Events: []Event{}}, `{"events":[]}`},
		{"event minimal", &Event{Type: EventReady}, `{"type":"ready"}`},
		{"event zero counts are kept", &Event{Type: EventShareAccepted, Accepted: I(0), Rejected: I(0)},
			`{"type":"share_accepted","accepted":0,"rejected":0}`},
		{"event full", &Event{
			Type: EventShareRejected, Time: "2021-12-01 10:00:00.123", Message: "m", Accepted: I(12), Rejected: I(-3),
			Reason: `"low difficulty share"`, Difficulty: F(120001), LatencyMS: F(81.5), Pool: "pool.example.com:3333",
			Algo: "rx/0", Height: I(2511999), Donate: true, HashrateHS: F(1234.56),
			Device: &Device{ID: 1, Kind: "cpu", HashrateHS: F(1.5)},
		}, `{"type":"share_rejected","time":"2021-12-01 10:00:00.123","message":"m","accepted":12,"rejected":-3,` +
			`"reason":"\"low difficulty share\"","difficulty":120001,"latency_ms":81.5,"pool":"pool.example.com:3333",` +
			`"algo":"rx/0","height":2511999,"donate":true,"hashrate_hs":1234.56,"device":{"id":1,"bus_id":"","name":"",` +
			`"kind":"cpu","hashrate_hs":1.5,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":null,"rejected":null,"stale":null}}`},
		{"stats empty", &Stats{},
			`{"hashrate_hs":null,"hashrate_60s_hs":null,"hashrate_15m_hs":null,"hashrate_max_hs":null,` +
				`"effective_hashrate_hs":null,"effective_window_s":null,"accepted":null,"rejected":null,"stale":null,` +
				`"last_reject_reason":"","pool":"","pool_connected":null,"pool_ping_ms":null,"difficulty":null,` +
				`"uptime_s":null,"algorithm":"","version":"","paused":null,"devices":null}`},
		{"stats bools and devices", &Stats{PoolConnected: B(true), Paused: B(false), Devices: []Device{}},
			`{"hashrate_hs":null,"hashrate_60s_hs":null,"hashrate_15m_hs":null,"hashrate_max_hs":null,` +
				`"effective_hashrate_hs":null,"effective_window_s":null,"accepted":null,"rejected":null,"stale":null,` +
				`"last_reject_reason":"","pool":"","pool_connected":true,"pool_ping_ms":null,"difficulty":null,` +
				`"uptime_s":null,"algorithm":"","version":"","paused":false,"devices":[]}`},
		{"device gpu", &Device{ID: -2, BusID: "01:00.0", Name: "RTX <3060> & co", Kind: "nvidia", CoreClockMHz: F(1800),
			MemClockMHz: F(7000.5), VRAMFreeMiB: F(0)},
			`{"id":-2,"bus_id":"01:00.0","name":"RTX \u003c3060\u003e \u0026 co","kind":"nvidia","hashrate_hs":null,` +
				`"temp_c":null,"fan_pct":null,"power_w":null,"accepted":null,"rejected":null,"stale":null,` +
				`"core_clock_mhz":1800,"mem_clock_mhz":7000.5,"vram_free_mib":0}`},
		{"escapes", &Event{Type: "a\"b\\c\n\r\t\b\f\x00\x1f\x7f/é€😀\u2028\u2029"},
			`{"type":"a\"b\\c\n\r\t\b\f\u0000\u001f` + "\x7f/é€😀" + `\u2028\u2029"}`},
		{"invalid utf-8", &Event{Type: "a\xffb\xe2\x82c\xed\xa0\x80d\xf4\x90\x80\x80"},
			`{"type":"a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffdd\ufffd\ufffd\ufffd\ufffd"}`},
		{"floats", &Event{Type: "f", Difficulty: F(negZero), LatencyMS: F(1e-7), HashrateHS: F(1e21)},
			`{"type":"f","difficulty":-0,"latency_ms":1e-7,"hashrate_hs":1e+21}`},
		{"floats 2", &Event{Type: "f", Difficulty: F(0.1), LatencyMS: F(123456789012345.6), HashrateHS: F(1e20)},
			`{"type":"f","difficulty":0.1,"latency_ms":123456789012345.6,"hashrate_hs":100000000000000000000}`},
		{"floats 3", &Event{Type: "f", Difficulty: F(5e-324), LatencyMS: F(math.MaxFloat64), HashrateHS: F(0.000001)},
			`{"type":"f","difficulty":5e-324,"latency_ms":1.7976931348623157e+308,"hashrate_hs":0.000001}`},
		{"nan and inf are null", &Event{Type: "f", Difficulty: F(math.NaN()), LatencyMS: F(math.Inf(1)), HashrateHS: F(math.Inf(-1))},
			`{"type":"f","difficulty":null,"latency_ms":null,"hashrate_hs":null}`},
		{"nan in stats is null", &Stats{HashrateHS: F(math.NaN()), Devices: []Device{{TempC: F(math.Inf(1))}}},
			`{"hashrate_hs":null,"hashrate_60s_hs":null,"hashrate_15m_hs":null,"hashrate_max_hs":null,` +
				`"effective_hashrate_hs":null,"effective_window_s":null,"accepted":null,"rejected":null,"stale":null,` +
				`"last_reject_reason":"","pool":"","pool_connected":null,"pool_ping_ms":null,"difficulty":null,` +
				`"uptime_s":null,"algorithm":"","version":"","paused":null,"devices":[{"id":0,"bus_id":"","name":"",` +
				`"kind":"","hashrate_hs":null,"temp_c":null,"fan_pct":null,"power_w":null,"accepted":null,` +
				`"rejected":null,"stale":null}]}`},
		{"int extremes", &Event{Type: "i", Accepted: I(math.MaxInt64), Rejected: I(math.MinInt64)},
			`{"type":"i","accepted":9223372036854775807,"rejected":-9223372036854775808}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.v.AppendJSON(nil)
			if string(got) != tt.want {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("AppendJSON output is not valid JSON: %s", got)
			}
			checkAgainstMarshal(t, tt.v)
			// Appending keeps what is already in the buffer.
			if got := tt.v.AppendJSON([]byte("x")); string(got) != "x"+tt.want {
				t.Errorf("AppendJSON to a non-empty buffer = %s", got)
			}
		})
	}
}

// checkAgainstMarshal checks that AppendJSON(v) decodes to the value that
// json.Marshal(v) decodes to, and when json.Marshal can encode v at all
// (no NaN or Inf), that the bytes are identical.
func checkAgainstMarshal(t testing.TB, v appendJSONer) {
	t.Helper()
	got := v.AppendJSON(nil)
	if !json.Valid(got) {
		t.Fatalf("AppendJSON output is not valid JSON: %q", got)
	}
	want, err := json.Marshal(v)
	finite := err == nil
	if !finite {
		// NaN or Inf: encoding/json refuses; AppendJSON writes null, which
		// decodes like the value with those floats unset.
		s := reflect.New(reflect.TypeOf(v).Elem())
		s.Elem().Set(reflect.ValueOf(v).Elem())
		clearNonFinite(s.Elem())
		if want, err = json.Marshal(s.Interface()); err != nil {
			t.Fatalf("json.Marshal after clearing NaN/Inf: %v", err)
		}
	} else if !bytes.Equal(got, want) {
		t.Errorf("AppendJSON differs from json.Marshal:\n got %q\nwant %q", got, want)
	}
	gv := reflect.New(reflect.TypeOf(v).Elem())
	wv := reflect.New(reflect.TypeOf(v).Elem())
	if err := json.Unmarshal(got, gv.Interface()); err != nil {
		t.Fatalf("decoding AppendJSON output: %v: %q", err, got)
	}
	if err := json.Unmarshal(want, wv.Interface()); err != nil {
		t.Fatalf("decoding json.Marshal output: %v: %q", err, want)
	}
	if !reflect.DeepEqual(gv.Interface(), wv.Interface()) {
		t.Errorf("decoded values differ:\nAppendJSON   %q\njson.Marshal %q", got, want)
	}
	if !finite {
		// A NaN in an omitempty field is "key":null here and no key at
		// all in the reference; both decode to nil.
		return
	}
	// The generic shapes (keys present, nulls) agree too.
	var ga, wa any
	if err := json.Unmarshal(got, &ga); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &wa); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga, wa) {
		t.Errorf("decoded documents differ:\nAppendJSON   %q\njson.Marshal %q", got, want)
	}
}

// clearNonFinite sets every pointer to a NaN or infinite float in v to nil,
// copying whatever it has to change so that the original is untouched.
func clearNonFinite(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if e := v.Elem(); e.Kind() == reflect.Float64 {
			if f := e.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				v.SetZero()
			}
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		clearNonFinite(c.Elem())
		v.Set(c)
	case reflect.Struct:
		for i := range v.NumField() {
			clearNonFinite(v.Field(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			clearNonFinite(c.Index(i))
		}
		v.Set(c)
	}
}

// gen builds random values with nasty strings and numbers.
type gen struct {
	r     *rand.Rand
	extra string  // injected into strings (fuzzing)
	f     float64 // injected among floats (fuzzing)
}

var nastyPieces = []string{
	"", "a", "pool.example.com:3333", "rx/0", " ", "\"", "\\", "/", "<", ">", "&", "<script>", "\x00", "\x01",
	"\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", "é", "€", "😀", "\u2028", "\u2029", "\ufffd", "\ufeff",
	"\xff", "\xfe", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xf0\x9f\x98",
	"\x1b[32m", "[2021-12-01 10:00:00.123]", "\\u0000", "null", "0",
}

func (g *gen) str() string {
	if g.r.IntN(4) == 0 {
		return ""
	}
	var b strings.Builder
	for n := g.r.IntN(6); n >= 0; n-- {
		switch g.r.IntN(8) {
		case 0:
			b.WriteString(g.extra)
		case 1:
			b.WriteByte(byte(g.r.IntN(256)))
		default:
			b.WriteString(nastyPieces[g.r.IntN(len(nastyPieces))])
		}
	}
	return b.String()
}

func (g *gen) float() float64 {
	switch g.r.IntN(16) {
	case 0:
		return g.f
	case 1:
		return math.NaN()
	case 2:
		return math.Inf(1 - 2*g.r.IntN(2))
	case 3:
		return math.Copysign(0, -1)
	case 4:
		return 0
	case 5:
		return math.Float64frombits(g.r.Uint64()) // anything, subnormals included
	case 6:
		return float64(g.r.Int64N(1<<53)) * float64(1-2*g.r.IntN(2))
	case 7:
		return []float64{1e-6, 1e-7, 9.99999e-7, 1e21, 1e20, 999999999999999, 1e15, 1e15 + 1,
			math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 0.7, 1.0 / 3}[g.r.IntN(13)]
	case 8:
		return math.Ldexp(g.r.Float64(), g.r.IntN(2000)-1000)
	}
	return math.Round(g.r.Float64()*1e9) / math.Pow(10, float64(g.r.IntN(8)))
}

func (g *gen) pf() *float64 {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return F(g.float())
}

func (g *gen) pi() *int64 {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return I([]int64{0, -1, math.MaxInt64, math.MinInt64}[g.r.IntN(4)])
	}
	return I(g.r.Int64() >> g.r.IntN(64))
}

func (g *gen) pb() *bool {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return B(g.r.IntN(2) == 0)
}

func (g *gen) device() Device {
	return Device{
		ID: int(g.r.Int64() >> g.r.IntN(64)), BusID: g.str(), Name: g.str(), Kind: g.str(),
		HashrateHS: g.pf(), TempC: g.pf(), FanPct: g.pf(), PowerW: g.pf(),
		Accepted: g.pi(), Rejected: g.pi(), Stale: g.pi(),
		CoreClockMHz: g.pf(), MemClockMHz: g.pf(), VRAMFreeMiB: g.pf(),
	}
}

func (g *gen) devices() []Device {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []Device{}
	}
	d := make([]Device, 1+g.r.IntN(3))
	for i := range d {
		d[i] = g.device()
	}
	return d
}

func (g *gen) stats() Stats {
	return Stats{
		HashrateHS: g.pf(), Hashrate60sHS: g.pf(), Hashrate15mHS: g.pf(), HashrateMaxHS: g.pf(),
		EffectiveHashrateHS: g.pf(), EffectiveWindowS: g.pf(),
		Accepted: g.pi(), Rejected: g.pi(), Stale: g.pi(),
		LastRejectReason: g.str(), Pool: g.str(), PoolConnected: g.pb(), PoolPingMS: g.pf(),
		Difficulty: g.pf(), UptimeS: g.pf(), Algorithm: g.str(), Version: g.str(), Paused: g.pb(),
		Devices: g.devices(),
	}
}

func (g *gen) event() Event {
	e := Event{
		Type: g.str(), Time: g.str(), Message: g.str(), Accepted: g.pi(), Rejected: g.pi(), Reason: g.str(),
		Difficulty: g.pf(), LatencyMS: g.pf(), Pool: g.str(), Algo: g.str(), Height: g.pi(),
		Donate: g.r.IntN(2) == 0, HashrateHS: g.pf(),
	}
	if g.r.IntN(3) == 0 {
		d := g.device()
		e.Device = &d
	}
	return e
}

func (g *gen) lineResult() LineResult {
	var r LineResult
	switch n := g.r.IntN(6); n {
	case 0:
	case 1:
		r.Events = []Event{}
	default:
		r.Events = make([]Event, n-1)
		for i := range r.Events {
			r.Events[i] = g.event()
		}
	}
	if g.r.IntN(2) == 0 {
		s := g.stats()
		r.Stats = &s
	}
	return r
}

func (g *gen) check(t testing.TB) {
	t.Helper()
	lr, st, ev, dv := g.lineResult(), g.stats(), g.event(), g.device()
	checkAgainstMarshal(t, &lr)
	checkAgainstMarshal(t, &st)
	checkAgainstMarshal(t, &ev)
	checkAgainstMarshal(t, &dv)
}

// TestAppendJSONRandom is the property test: for random values with nasty
// strings and floats, AppendJSON decodes to what json.Marshal decodes to.
func TestAppendJSONRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	g := &gen{r: rand.New(rand.NewPCG(1, 2)), extra: "\xff\u2028<", f: 0.3}
	for i := 0; i < n && !t.Failed(); i++ {
		g.check(t)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add(uint64(0), "", 0.0)
	f.Add(uint64(1), "\xff\xfe", math.Copysign(0, -1))
	f.Add(uint64(2), "\u2028\u2029<>&\"\\\x00", 1e21)
	f.Add(uint64(3), "[2021-12-01 10:00:00.123] \x1b[32mspeed\x1b[0m", 1e-7)
	f.Fuzz(func(t *testing.T, seed uint64, s string, x float64) {
		g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), extra: s, f: x}
		for range 4 {
			g.check(t)
		}
	})
}

// TestAppendJSONCoversAllFields fails when a field is added to one of the
// encoded types without updating its AppendJSON: it fills every field of
// every type through reflection and compares the keys and bytes with
// json.Marshal.
func TestAppendJSONCoversAllFields(t *testing.T) {
	for _, v := range []appendJSONer{new(LineResult), new(Stats), new(Event), new(Device)} {
		name := reflect.TypeOf(v).Elem().Name()
		fill(reflect.ValueOf(v).Elem())
		got := v.AppendJSON(nil)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		gk, wk := keyPaths(t, got), keyPaths(t, want)
		for _, k := range wk {
			if !slices.Contains(gk, k) {
				t.Errorf("%s.AppendJSON does not write %q (a field was added to %s without updating appendjson.go?)", name, k, name)
			}
		}
		for _, k := range gk {
			if !slices.Contains(wk, k) {
				t.Errorf("%s.AppendJSON writes %q, which json.Marshal does not", name, k)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s fully populated:\nAppendJSON   %s\njson.Marshal %s", name, got, want)
		}
	}
}

// fill sets every field reachable from v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	default:
		panic("fill: unhandled kind " + v.Kind().String() + "; extend fill and AppendJSON")
	}
}

// keyPaths lists the object keys of a JSON document as dotted paths.
func keyPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				paths = append(paths, prefix+k)
				walk(prefix+k+".", e)
			}
		case []any:
			for _, e := range v {
				walk(prefix+"[].", e)
			}
		}
	}
	walk("", v)
	slices.Sort(paths)
	return paths
}

func benchLineResult() LineResult {
	var r LineResult
	for i := range 40 {
		r.Events = append(r.Events, Event{Type: EventShareAccepted, Time: "2021-12-01 10:00:00.123", Accepted: I(int64(i)),
			Rejected: I(0), Difficulty: F(120001), LatencyMS: F(81), Pool: "pool.example.com:3333"})
		r.Events = append(r.Events, Event{Type: EventHashrate, Time: "2021-12-01 10:00:10.456", HashrateHS: F(1234.5)})
	}
	r.Stats = &Stats{HashrateHS: F(1234.5), Hashrate60sHS: F(1230.25), Accepted: I(40), Rejected: I(0),
		Pool: "pool.example.com:3333", Difficulty: F(120001), Algorithm: "rx/0"}
	return r
}

func BenchmarkAppendJSONLineResult(b *testing.B) {
	r := benchLineResult()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkMarshalLineResult(b *testing.B) {
	r := benchLineResult()
	b.ReportAllocs()
	for b.Loop() {
		out, err := json.Marshal(&r)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

// TestAppendFloat compares the float formatting, fast paths included, with
// encoding/json's byte for byte.
func TestAppendFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(f float64) {
		t.Helper()
		want, err := json.Marshal(f)
		if err != nil {
			want = []byte("null")
		}
		if got := appendFloat(nil, "", f); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 0.1, 0.2, 0.3, 1.005, 2.675, 30.08, 24.06,
		99.99, 99.999, 99.9999, 99.99999, 0.0001, 0.00011, 0.000099, 1e-4, 9.9999e-5, 1e11, 1e11 - 0.5, 99999999999.9999,
		1e15 - 1, 1e15, 1e15 + 1, 1e21, 1e-6, 1e-7, 123456.789, 4503599627370495.5, math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.NaN(), math.Inf(1), math.Inf(-1), math.Nextafter(0.1, 1), math.Nextafter(0.1, 0), math.Nextafter(3, 0)} {
		check(f)
		check(-f)
	}
	for range 200000 {
		var f float64
		switch r.IntN(4) {
		case 0: // a few decimals, the fast path
			f = float64(r.Int64N(1<<40)) / math.Pow(10, float64(r.IntN(7)))
		case 1: // near a few decimals
			f = float64(r.Int64N(1<<40)) / math.Pow(10, float64(r.IntN(7)))
			for range r.IntN(3) + 1 {
				f = math.Nextafter(f, math.Inf(1-2*r.IntN(2)))
			}
		case 2:
			f = math.Float64frombits(r.Uint64())
		default:
			f = r.Float64() * math.Pow(10, float64(r.IntN(30)-10))
		}
		check(f)
		check(-f)
	}
}

// TestNextSpecial checks that the 8-byte scan never skips a byte that needs
// escaping.
func TestNextSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, html := range []bool{false, true} {
		testNextSpecial(t, r, html)
	}
}

func testNextSpecial(t *testing.T, r *rand.Rand, html bool) {
	special := func(c byte) bool { return c >= utf8.RuneSelf || !jsonSafe[b2i(html)][c] }
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(6) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		s := string(b)
		for i := 0; i <= len(s); i++ {
			want := i
			for want < len(s) && !special(s[want]) {
				want++
			}
			got := nextSpecial(s, i, html)
			if got < i || got > want {
				t.Fatalf("nextSpecial(%q, %d, %v) = %d, want %d (or earlier, not before %d)", s, i, html, got, want, i)
			}
		}
	}
}

// TestAppendUint checks the loop-free integer formatting against strconv.
func TestAppendUint(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	check := func(v uint64) {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %s", v, got)
		}
		if v <= math.MaxInt64 {
			n := int64(v)
			for _, n := range []int64{n, -n} {
				if got, want := string(appendIntDigits(nil, n)), strconv.FormatInt(n, 10); got != want {
					t.Fatalf("appendIntDigits(%d) = %s", n, got)
				}
			}
		}
	}
	for v := uint64(0); v < 100000; v++ {
		check(v)
	}
	for p := uint64(1); p < math.MaxUint64/10; p *= 10 {
		for _, d := range []uint64{p - 1, p, p + 1, 2*p - 1, 9 * p} {
			check(d)
		}
	}
	for range 200000 {
		check(r.Uint64() >> r.IntN(64))
	}
	check(math.MaxUint64)
	if got := string(appendIntDigits(nil, math.MinInt64)); got != strconv.FormatInt(math.MinInt64, 10) {
		t.Fatalf("appendIntDigits(MinInt64) = %s", got)
	}
	for n := uint64(0); n < 200000; n++ {
		for k := 1; k <= 4; k++ {
			p := pow10u[k]
			want := strconv.FormatUint(n/p, 10) + "." + strconv.FormatUint(n%p+p, 10)[1:]
			if got := string(appendDecimal(nil, false, n, k)); got != want {
				t.Fatalf("appendDecimal(%d, %d) = %s, want %s", n, k, got, want)
			}
		}
	}
}
