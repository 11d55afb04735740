package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// fake is an adapter whose results the test sets.
type fake struct {
	lines abi.LineResult
	stats abi.Stats
	err   error
	got   [][]byte
}

func (f *fake) Metadata() abi.Metadata { return abi.Metadata{Name: "fake"} }
func (f *fake) BuildCommand(abi.BuildRequest) (abi.Command, error) {
	return abi.Command{Args: []string{"--x"}}, f.err
}
func (f *fake) ParseLines(_ abi.Stream, lines [][]byte) (abi.LineResult, error) {
	f.got = lines
	return f.lines, f.err
}
func (f *fake) ParseAPI(abi.APIRequest) (abi.Stats, error) { return f.stats, f.err }

func sampleResult() abi.LineResult {
	return abi.LineResult{
		Events: []abi.Event{
			{Type: abi.EventShareAccepted, Time: "2021-12-01 10:00:00.123", Accepted: abi.I(3), Rejected: abi.I(0),
				Difficulty: abi.F(120001), LatencyMS: abi.F(81), Pool: "pool.example.com:3333"},
			{Type: abi.EventError, Message: "bad <line> \xff"},
		},
		Stats: &abi.Stats{HashrateHS: abi.F(1234.5), Accepted: abi.I(3), Devices: []abi.Device{{ID: 0, Kind: "cpu"}}},
	}
}

func TestCallParseLineOutputIsJSONMarshal(t *testing.T) {
	for name, res := range map[string]abi.LineResult{
		"sample":    sampleResult(),
		"nil":       {},
		"no events": {Events: []abi.Event{}},
	} {
		t.Run(name, func(t *testing.T) {
			a := &fake{lines: res}
			st, out := Call(a, abi.ExportParseLine, []byte("\x01a\nb\n"))
			if st != abi.StatusOK {
				t.Fatalf("status %d: %s", st, out)
			}
			if res.Events == nil {
				res.Events = []abi.Event{} // what Call has always sent
			}
			want, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(want) {
				t.Errorf("parse_line output:\n got %s\nwant %s", out, want)
			}
			if len(a.got) != 2 || string(a.got[0]) != "a" || string(a.got[1]) != "b" {
				t.Errorf("lines = %q", a.got)
			}
		})
	}
}

func TestCallParseAPIOutputIsJSONMarshal(t *testing.T) {
	a := &fake{stats: *sampleResult().Stats}
	st, out := Call(a, abi.ExportParseAPI, []byte(`{"responses":[]}`))
	if st != abi.StatusOK {
		t.Fatalf("status %d: %s", st, out)
	}
	want, _ := json.Marshal(a.stats)
	if string(out) != string(want) {
		t.Errorf("parse_api output:\n got %s\nwant %s", out, want)
	}
}

func TestCallNaNIsNull(t *testing.T) {
	a := &fake{stats: abi.Stats{HashrateHS: abi.F(math.NaN())}}
	st, out := Call(a, abi.ExportParseAPI, []byte(`{}`))
	if st != abi.StatusOK {
		t.Fatalf("status %d: %s", st, out)
	}
	var s abi.Stats
	if err := json.Unmarshal(out, &s); err != nil || s.HashrateHS != nil {
		t.Fatalf("NaN hashrate decoded as %v, %v: %s", s.HashrateHS, err, out)
	}
}

// Call's results belong to the caller: a later call must not change them.
func TestCallOutputsAreNotShared(t *testing.T) {
	a := &fake{lines: sampleResult()}
	_, first := Call(a, abi.ExportParseLine, []byte("\x01x"))
	keep := string(first)
	a.lines = abi.LineResult{Events: []abi.Event{{Type: abi.EventReady}}}
	_, second := Call(a, abi.ExportParseLine, []byte("\x01y"))
	if string(first) != keep {
		t.Fatalf("first output changed after a second call: %s", first)
	}
	if string(second) != `{"events":[{"type":"ready"}]}` {
		t.Fatalf("second output = %s", second)
	}
}

// call with a reused buffer (what Handle does in wasm) writes each result
// from the start of the buffer.
func TestCallReusesBuffer(t *testing.T) {
	a := &fake{lines: sampleResult()}
	buf := make([]byte, 0, 4096)
	bufs := &buffers{out: buf}
	_, out := call(a, abi.ExportParseLine, []byte("\x01x"), bufs)
	want, _ := json.Marshal(a.lines)
	if string(out) != string(want) || &out[0] != &buf[:1][0] {
		t.Fatalf("first call: %s (in buffer: %v)", out, &out[0] == &buf[:1][0])
	}
	a.lines = abi.LineResult{Events: []abi.Event{{Type: abi.EventReady}}}
	bufs.out = out
	_, out = call(a, abi.ExportParseLine, []byte("\x01y"), bufs)
	if string(out) != `{"events":[{"type":"ready"}]}` {
		t.Fatalf("second call: %s", out)
	}
}

func TestCallErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want abi.Error
	}{
		{"adapter error", Errorf(abi.CodeBadInput, "no %s", "summary"), abi.Error{Code: abi.CodeBadInput, Message: "no summary"}},
		{"retryable", Retryable(Errorf(abi.CodeBadInput, "not ready")), abi.Error{Code: abi.CodeBadInput, Message: "not ready", Retryable: true}},
		{"retryable wrapped", Retryable(fmt.Errorf("ctx: %w", Errorf(abi.CodeUnsupported, "x"))), abi.Error{Code: abi.CodeUnsupported, Message: "x", Retryable: true}},
		{"retryable plain", Retryable(errors.New("boom")), abi.Error{Code: abi.CodeInternal, Message: "boom", Retryable: true}},
		{"plain error", errors.New("boom"), abi.Error{Code: abi.CodeInternal, Message: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, export := range []string{abi.ExportParseLine, abi.ExportParseAPI, abi.ExportBuildCommand} {
				in := []byte("\x01x")
				if export != abi.ExportParseLine {
					in = []byte(`{}`)
				}
				st, out := Call(&fake{err: tt.err}, export, in)
				if st != abi.StatusError {
					t.Fatalf("%s: status %d: %s", export, st, out)
				}
				var got abi.Error
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("%s: %v: %s", export, err, out)
				}
				if got != tt.want {
					t.Errorf("%s: error = %+v, want %+v", export, got, tt.want)
				}
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	if Retryable(nil) != nil {
		t.Error("Retryable(nil) != nil")
	}
	orig := Errorf(abi.CodeBadInput, "x")
	r := Retryable(orig)
	var ae *abi.Error
	if !errors.As(r, &ae) || !ae.Retryable || ae.Code != abi.CodeBadInput || ae.Message != "x" {
		t.Errorf("Retryable = %#v", r)
	}
	if orig.(*abi.Error).Retryable {
		t.Error("Retryable changed the original error")
	}
	if r.Error() != orig.Error() {
		t.Errorf("message %q, want %q", r.Error(), orig.Error())
	}
}

func TestCallBadInput(t *testing.T) {
	for _, tt := range []struct{ export, in, code string }{
		{abi.ExportParseLine, "", abi.CodeBadInput},
		{abi.ExportParseAPI, "{", abi.CodeBadInput},
		{abi.ExportBuildCommand, "[", abi.CodeBadInput},
		{"adapter_nope", "", abi.CodeUnsupported},
	} {
		st, out := Call(&fake{}, tt.export, []byte(tt.in))
		var e abi.Error
		if st != abi.StatusError || json.Unmarshal(out, &e) != nil || e.Code != tt.code {
			t.Errorf("%s(%q) = %d %s, want code %s", tt.export, tt.in, st, out, tt.code)
		}
	}
}

func BenchmarkCallParseLine(b *testing.B) {
	a := &fake{lines: sampleResult()}
	in := []byte("\x01a\nb")
	b.ReportAllocs()
	var bufs buffers
	for b.Loop() {
		_, bufs.out = call(a, abi.ExportParseLine, in, &bufs)
	}
}

// splitLinesRef is the byte-at-a-time split splitLines replaced.
func splitLinesRef(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	var lines [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		lines = append(lines, b[:i:i])
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return lines
}

// checkSplitLines compares splitLines with splitLinesRef and its ESC
// report with bytes.IndexByte.
func checkSplitLines(t *testing.T, b []byte) {
	t.Helper()
	got, esc := splitLines(nil, b)
	want := splitLinesRef(b)
	if len(got) != len(want) {
		t.Fatalf("splitLines(%q) = %q, want %q", b, got, want)
	}
	for i := range got {
		if string(got[i]) != string(want[i]) || cap(got[i]) != len(got[i]) {
			t.Fatalf("splitLines(%q) = %q, want %q", b, got, want)
		}
	}
	if wantESC := bytes.IndexByte(b, 0x1b) >= 0; esc != wantESC {
		t.Fatalf("splitLines(%q) reports ESC %v, want %v", b, esc, wantESC)
	}
}

func TestSplitLines(t *testing.T) {
	inputs := []string{"", "\n", "\n\n", "a", "a\n", "a\nb", "a\n\nb\n", "0123456\n89", "01234567\n", "0123456789abcdef\n",
		"\x8a\n\x0a\x0b\x09\xff\n", "ab\ncd\nef\ngh\nij\nkl\nmn\nop\nqr\n", "no newline in these twenty-four bytes..", "\x1b[0m\n"}
	for n := range 80 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		for i := range b {
			c := append([]byte(nil), b...)
			c[i] = '\n'
			inputs = append(inputs, string(c))
			c[i] = 0x1b
			inputs = append(inputs, string(c))
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		checkSplitLines(t, []byte(in))
	}
	// Long batches with newlines and ESC at every offset of the 64-byte steps.
	r := rand.New(rand.NewPCG(101, 102))
	for range 3000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = "ab\n\x8a\x0a\xff\x0b\x1b\x9b"[r.IntN(9)*min(1, r.IntN(8))]
		}
		checkSplitLines(t, b)
	}
}

func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("a\nb\n"))
	f.Add([]byte("\n\n\x0a\x8a\xff01234567\n"))
	f.Add([]byte("\x1b[32mgreen\x1b[0m\n"))
	f.Fuzz(checkSplitLines)
}

// TestParseLineStripsEscapes: a batch with escape sequences reaches the
// adapter without them, only the lines that had some copied.
func TestParseLineStripsEscapes(t *testing.T) {
	a := new(fake)
	in := []byte("\x01plain\n\x1b[1;32mgreen\x1b[0m text\n\x1b]0;title\x07x\n")
	if st, out := Call(a, abi.ExportParseLine, in); st != abi.StatusOK {
		t.Fatalf("parse_line: status %d: %s", st, out)
	}
	got, want := a.got, []string{"plain", "green text", "x"}
	if len(got) != len(want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("lines = %q, want %q", got, want)
		}
	}
	if &got[0][0] != &in[1] {
		t.Error("a line without escapes was copied")
	}
}

// checkAPIRequest checks decodeAPIRequest against json.Unmarshal on in.
func checkAPIRequest(t *testing.T, in []byte) {
	t.Helper()
	var got, want abi.APIRequest
	var d abi.Decoder
	errGot := decodeAPIRequest(&d, in, &got)
	errWant := json.Unmarshal(in, &want)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("decodeAPIRequest(%q) error %v, json.Unmarshal %v", in, errGot, errWant)
	}
	if errGot == nil && (!reflect.DeepEqual(got, want) || (got.Responses == nil) != (want.Responses == nil)) {
		t.Fatalf("decodeAPIRequest(%q) = %#v, json.Unmarshal %#v", in, got, want)
	}
}

var apiPieces = []string{"", "a", "{\n    \"id\": \"1e8d\",\n    \"uptime\": 24,", "\"", "\\", "/", "<>&", "\x00", "\x1f", "\x7f",
	"\b\f\n\r\t", "é", "€", "😀", "\u2028\u2029", "\ufffd", "\xff", "\xc3", "\xed\xa0\x80", "\\u0000", "        ", "0123456789abcdef"}

func randomAPIRequest(r *rand.Rand) abi.APIRequest {
	str := func() string {
		var b strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			if r.IntN(10) == 0 {
				b.WriteByte(byte(r.IntN(256)))
			} else {
				b.WriteString(apiPieces[r.IntN(len(apiPieces))])
			}
		}
		return b.String()
	}
	var req abi.APIRequest
	switch n := r.IntN(5); n {
	case 0:
	case 1:
		req.Responses = []abi.APIResponse{}
	default:
		for range n - 1 {
			req.Responses = append(req.Responses, abi.APIResponse{Name: str(), Status: []int{0, 200, 404, -1, math.MaxInt, math.MinInt, math.MinInt + 1}[r.IntN(7)], Body: str()})
		}
	}
	return req
}

// The host sends json.Marshal's form.
func TestDecodeAPIRequestCanonical(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 5000 {
		in, err := json.Marshal(randomAPIRequest(r))
		if err != nil {
			t.Fatal(err)
		}
		checkAPIRequest(t, in)
	}
	for _, p := range []string{"api-summary.json", "api-backends.json"} {
		body, err := os.ReadFile(filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0", p))
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(abi.APIRequest{Responses: []abi.APIResponse{{Name: "summary", Status: 200, Body: string(body)}}})
		checkAPIRequest(t, in)
	}
}

func TestDecodeAPIRequestOther(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `null`, `[]`, `{"responses":null}`, `{"responses":[]}`, `{"responses":[]} `, ` {"responses":[]}`,
		`{"responses": []}`, `{"Responses":[]}`, `{"responses":[null]}`, `{"responses":[{}]}`, `{"responses":{}}`,
		`{"responses":[{"name":"a","status":200,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"b"},{"name":"c","status":0,"body":""}]}`,
		`{"responses":[{"name":"a","status":200,"body":"b"}],"x":1}`,
		`{"responses":[{"name":"a","status":200,"body":"b","x":1}]}`,
		`{"responses":[{"body":"b","name":"a","status":200}]}`,
		`{"responses":[{"NAME":"a","status":200,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":200.0,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":2e2,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":0200,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":-0,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":-,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":99999999999999999999,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":9223372036854775807,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":9223372036854775808,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":-9223372036854775808,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":-9223372036854775809,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":18446744073709551615,"body":"b"}]}`,
		`{"responses":[{"name":"a","status":"200","body":"b"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"\ud83d\ude00 \ud800 \udc00x"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"\u00e9\u0000\u2028\uFFFD\/\b\f\n\r\t\"\\"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"\x"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"\u12"}]}`,
		`{"responses":[{"name":"a","status":200,"body":"\u12G4"}]}`,
		"{\"responses\":[{\"name\":\"a\",\"status\":200,\"body\":\"raw\tcontrol\"}]}",
		"{\"responses\":[{\"name\":\"a\",\"status\":200,\"body\":\"bad \xff utf-8\"}]}",
		"{\"responses\":[{\"name\":\"a\",\"status\":200,\"body\":\"ok é€😀 utf-8\"}]}",
		`{"responses":[{"name":"a","status":200,"body":"unterminated}]}`,
		`{"responses":[{"name":"a","status":200,"body":"b"}`,
		`{"responses":[{"name":"a","status":200,"body":"b"},]}`,
	} {
		checkAPIRequest(t, []byte(in))
	}
}

func FuzzDecodeAPIRequest(f *testing.F) {
	f.Add([]byte(`{"responses":[{"name":"summary","status":200,"body":"{\n  \"a\": \"\\u003c\"}"}]}`))
	f.Add([]byte(`{"responses":null}`))
	f.Add([]byte(`{"responses":[{"name":"a","status":-1,"body":"\ud83d\ude00"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAPIRequest(t, in)
	})
}

func BenchmarkDecodeAPIRequest(b *testing.B) {
	var req abi.APIRequest
	for _, p := range []string{"summary", "backends"} {
		body, err := os.ReadFile(filepath.Join("..", "adapters", "xmrig", "testdata", "6.16.0", "api-"+p+".json"))
		if err != nil {
			b.Fatal(err)
		}
		req.Responses = append(req.Responses, abi.APIResponse{Name: p, Status: 200, Body: string(body)})
	}
	in, _ := json.Marshal(req)
	b.Run("Decoder", func(b *testing.B) {
		b.ReportAllocs()
		var d abi.Decoder
		for b.Loop() {
			var r abi.APIRequest
			if err := decodeAPIRequest(&d, in, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r abi.APIRequest
			if err := json.Unmarshal(in, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// richAdapter returns metadata and a command with every kind of field, to
// check the hand-written encoders through Call.
type richAdapter struct{ fake }

func (*richAdapter) Metadata() abi.Metadata {
	return abi.Metadata{Name: "rich", DisplayName: "Rich <&>", Version: "1.0.0", Homepage: "https://x.example/?a=1&b=2",
		Algorithms:    []abi.Algorithm{{Name: "kawpow", Devices: []string{"nvidia"}, Coins: []string{"RVN"}, ShareFactor: 1 << 32, DAG: true}, {Name: "rx/0"}},
		Release:       abi.Release{GitHub: "o/r", Assets: []abi.Asset{{OS: "linux", Arch: "amd64", Name: "n", Archive: "zip", Binary: "b", MinVersion: "1.0"}}, Checksum: abi.Checksum{Format: abi.ChecksumNone}},
		VersionProbe:  abi.VersionProbe{Args: []string{"--version"}, Regex: `X ([0-9.]+)`},
		API:           abi.APISpec{Kind: abi.APIHTTPJSON, Endpoints: []string{"/2/summary"}, PollIntervalS: 10},
		StdinCommands: []abi.StdinCommand{{Name: "pause", Input: "p", Description: "pause \"now\""}},
		Options:       []abi.Option{{Name: "o", Type: "enum", Values: []string{"a"}, Default: abi.RawMessage(` { "a" : "<x>" } `)}, {Name: "p", Type: "int"}},
		Capabilities:  []string{"x"},
	}
}

func (*richAdapter) BuildCommand(req abi.BuildRequest) (abi.Command, error) {
	return abi.Command{Args: []string{"--a=" + req.Profile.Algo}, Env: map[string]string{"GPU_B": "2", "CUDA_A": "1"},
		Files: []abi.File{{Path: "config.json", Content: "{\n  \"x\": \"<&>\"\n}\n", Mode: 0o600}},
		API:   []abi.Endpoint{{Name: "summary", Kind: abi.APIHTTPJSON, URL: "http://127.0.0.1:1/2/summary", Headers: map[string]string{"Authorization": "Bearer t"}}}}, nil
}

func TestCallMetadataAndBuildAreJSONMarshal(t *testing.T) {
	a := &richAdapter{}
	st, out := Call(a, abi.ExportMetadata, nil)
	want, _ := json.Marshal(a.Metadata())
	if st != abi.StatusOK || string(out) != string(want) {
		t.Errorf("metadata = %d %s\nwant %s", st, out, want)
	}
	req := abi.BuildRequest{Profile: abi.Profile{Algo: "rx/0", Options: map[string]abi.RawMessage{"x": abi.RawMessage(`1`)}}}
	in, _ := json.Marshal(req)
	st, out = Call(a, abi.ExportBuildCommand, in)
	cmd, _ := a.BuildCommand(req)
	want, _ = json.Marshal(cmd)
	if st != abi.StatusOK || string(out) != string(want) {
		t.Errorf("build = %d %s\nwant %s", st, out, want)
	}
	// A metadata value json.Marshal refuses fails the call as it did.
	bad := &badMetadata{}
	st, out = Call(bad, abi.ExportMetadata, nil)
	_, wantErr := json.Marshal(bad.Metadata())
	var e abi.Error
	if st != abi.StatusError || json.Unmarshal(out, &e) != nil || e.Code != abi.CodeInternal || wantErr == nil || e.Message != wantErr.Error() {
		t.Errorf("bad metadata = %d %s, want internal %v", st, out, wantErr)
	}
	// A malformed build request is reported with json.Unmarshal's message.
	st, out = Call(a, abi.ExportBuildCommand, []byte(`{"profile":{"threads":"2"}}`))
	wantErr = json.Unmarshal([]byte(`{"profile":{"threads":"2"}}`), new(abi.BuildRequest))
	if st != abi.StatusError || json.Unmarshal(out, &e) != nil || e.Code != abi.CodeBadInput || e.Message != "build request: "+wantErr.Error() {
		t.Errorf("bad request = %d %s, want %v", st, out, wantErr)
	}
}

type badMetadata struct{ fake }

func (*badMetadata) Metadata() abi.Metadata {
	return abi.Metadata{Algorithms: []abi.Algorithm{{Name: "x", ShareFactor: math.Inf(1)}}}
}
