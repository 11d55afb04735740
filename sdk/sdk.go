// Package sdk is what a Go adapter author imports: implement [Adapter] (and
// optionally [LineParser], [APIParser], [Resetter]), then export each ABI
// function from a GOOS=wasip1 main package with a one-line call to [Handle]:
//
//	var adapter = mine.New()
//
//	//go:wasmexport adapter_abi_v1
//	func marker() {}
//
//	//go:wasmexport adapter_metadata
//	func metadata() int32 { return sdk.Handle(adapter, abi.ExportMetadata) }
//
//	func main() {}
//
// Outside wasip1 the same adapter runs in ordinary `go test` through [Call],
// which goes through exactly the decoding, dispatch and encoding that the
// wasm exports use.
package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/rigd/rigd/sdk/abi"
)

// Adapter is the required part of every adapter.
type Adapter interface {
	// Metadata describes the adapter; it must not depend on input.
	Metadata() abi.Metadata
	// BuildCommand turns a profile into a command line, config files and
	// API endpoints. Return an *abi.Error (see Errorf) for a profile the
	// miner cannot run.
	BuildCommand(req abi.BuildRequest) (abi.Command, error)
}

// LineParser is implemented by adapters that read console output. The line
// slices are only valid during the call; copy what you keep.
type LineParser interface {
	ParseLines(stream abi.Stream, lines [][]byte) (abi.LineResult, error)
}

// APIParser is implemented by adapters that read the miner's API.
type APIParser interface {
	ParseAPI(req abi.APIRequest) (abi.Stats, error)
}

// Resetter is implemented by adapters with per-session parse state.
type Resetter interface {
	Reset()
}

// Errorf returns an adapter error with the given code (abi.Code*). It is
// not retryable; wrap it with [Retryable] when the same call may succeed
// later.
func Errorf(code, format string, args ...any) error {
	return &abi.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Retryable returns err marked retryable: the host may make the same call
// again later and expect it to succeed (for example an API reply the miner
// has not finished populating). If err is or wraps an *abi.Error, the result
// is a copy of that error with Retryable set (the original is not changed);
// any other error becomes an abi.CodeInternal error with err's message.
// Retryable(nil) is nil.
//
//	return abi.Stats{}, sdk.Retryable(sdk.Errorf(abi.CodeBadInput, "summary not ready"))
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	var ae *abi.Error
	if !errors.As(err, &ae) {
		return &abi.Error{Code: abi.CodeInternal, Message: err.Error(), Retryable: true}
	}
	c := *ae
	c.Retryable = true
	return &c
}

// Call runs one ABI export against a with the given raw input and returns
// the status and raw output, exactly as the host would see them. The output
// is a new slice the caller owns.
func Call(a Adapter, export string, input []byte) (status int32, output []byte) {
	return call(a, export, input, new(buffers))
}

// buffers are the scratch slices of one call. The wasm exports reuse one
// set for every call (see Handle); Call uses a fresh set, so its output
// belongs to the caller.
type buffers struct {
	out   []byte   // parse_line and parse_api results are appended to out[:0]
	lines [][]byte // the lines of a parse_line batch
}

// call is Call with the given scratch buffers. The output may be bufs.out's
// memory: it is valid until the next call with the same bufs.
func call(a Adapter, export string, input []byte, bufs *buffers) (status int32, output []byte) {
	out, err := dispatch(a, export, input, bufs)
	if err != nil {
		var ae *abi.Error
		if !errors.As(err, &ae) {
			ae = &abi.Error{Code: abi.CodeInternal, Message: err.Error()}
		}
		b, _ := json.Marshal(ae)
		return abi.StatusError, b
	}
	return abi.StatusOK, out
}

func dispatch(a Adapter, export string, input []byte, bufs *buffers) ([]byte, error) {
	switch export {
	case abi.ExportMetadata:
		return json.Marshal(a.Metadata())
	case abi.ExportBuildCommand:
		var req abi.BuildRequest
		if err := json.Unmarshal(input, &req); err != nil {
			return nil, Errorf(abi.CodeBadInput, "build request: %v", err)
		}
		cmd, err := a.BuildCommand(req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(cmd)
	case abi.ExportParseLine:
		p, ok := a.(LineParser)
		if !ok {
			return nil, Errorf(abi.CodeUnsupported, "adapter does not parse lines")
		}
		if len(input) == 0 {
			return nil, Errorf(abi.CodeBadInput, "parse_line input has no stream byte")
		}
		bufs.lines = splitLines(bufs.lines[:0], input[1:])
		res, err := p.ParseLines(abi.Stream(input[0]), bufs.lines)
		if err != nil {
			return nil, err
		}
		if res.Events == nil {
			res.Events = []abi.Event{}
		}
		// The hand-written encoder writes what json.Marshal would, with
		// no reflection: in wasm, encoding/json costs more than parsing.
		return res.AppendJSON(bufs.out[:0]), nil
	case abi.ExportParseAPI:
		p, ok := a.(APIParser)
		if !ok {
			return nil, Errorf(abi.CodeUnsupported, "adapter does not parse an API")
		}
		var req abi.APIRequest
		if err := decodeAPIRequest(input, &req); err != nil {
			return nil, Errorf(abi.CodeBadInput, "api request: %v", err)
		}
		st, err := p.ParseAPI(req)
		if err != nil {
			return nil, err
		}
		return st.AppendJSON(bufs.out[:0]), nil
	case abi.ExportReset:
		if r, ok := a.(Resetter); ok {
			r.Reset()
		}
		return nil, nil
	}
	return nil, Errorf(abi.CodeUnsupported, "unknown export %q", export)
}

// splitLines appends the lines of b, split at '\n' without copying, to
// lines. A trailing newline does not produce an empty last line.
func splitLines(lines [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := indexNewline(b)
		if i < 0 {
			return append(lines, b[:len(b):len(b)])
		}
		lines = append(lines, b[:i:i])
		b = b[i+1:]
	}
	return lines
}

// indexNewline is bytes.IndexByte(b, '\n') reading 8 bytes at a time: in a
// wasm guest run with wazero's WithCloseOnContextDone each loop iteration
// costs a call out of the guest, so a byte-at-a-time scan of a 64-line
// batch used to cost more than parsing it.
func indexNewline(b []byte) int {
	const ones, highs, nl = 0x0101010101010101, 0x8080808080808080, 0x0a0a0a0a0a0a0a0a
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:]) ^ nl // zero bytes where b has '\n'
		if m := (v - ones) &^ v & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3 // the lowest flag is exact
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// decodeAPIRequest is json.Unmarshal(in, req) for a fresh req. The host
// always sends json.Marshal's form of an APIRequest (no spaces, keys in
// field order); that form is read directly, 8 bytes at a time through the
// bodies, and anything else goes to encoding/json, so the result and the
// errors are always json.Unmarshal's. In a wasm guest encoding/json's
// byte-at-a-time scanner costs about a millisecond for one XMRig poll.
func decodeAPIRequest(in []byte, req *abi.APIRequest) error {
	if resp, ok := fastAPIRequest(in); ok {
		req.Responses = resp
		return nil
	}
	return json.Unmarshal(in, req)
}

// fastAPIRequest decodes `{"responses":null}` or
// `{"responses":[{"name":S,"status":N,"body":S},...]}` exactly; ok is false
// for any other input.
func fastAPIRequest(in []byte) (resp []abi.APIResponse, ok bool) {
	p, ok := cutPrefix(in, `{"responses":`)
	if !ok {
		return nil, false
	}
	if string(p) == "null}" {
		return nil, true
	}
	if p, ok = cutPrefix(p, "["); !ok {
		return nil, false
	}
	resp = make([]abi.APIResponse, 0, 2)
	for len(p) > 0 && p[0] != ']' {
		if len(resp) > 0 {
			if p, ok = cutPrefix(p, ","); !ok {
				return nil, false
			}
		}
		var r abi.APIResponse
		if p, ok = cutPrefix(p, `{"name":`); !ok {
			return nil, false
		}
		if r.Name, p, ok = fastString(p); !ok {
			return nil, false
		}
		if p, ok = cutPrefix(p, `,"status":`); !ok {
			return nil, false
		}
		if r.Status, p, ok = fastInt(p); !ok {
			return nil, false
		}
		if p, ok = cutPrefix(p, `,"body":`); !ok {
			return nil, false
		}
		if r.Body, p, ok = fastString(p); !ok {
			return nil, false
		}
		if p, ok = cutPrefix(p, "}"); !ok {
			return nil, false
		}
		resp = append(resp, r)
	}
	if string(p) != "]}" {
		return nil, false
	}
	return resp, true
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// fastInt reads an integer as json.Marshal writes one: an optional '-' and
// up to 19 digits without a leading zero, within the range of int.
func fastInt(b []byte) (n int, rest []byte, ok bool) {
	i := 0
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var u uint64
	for i < len(b) && i-start < 20 && b[i] >= '0' && b[i] <= '9' {
		u = u*10 + uint64(b[i]-'0')
		i++
	}
	switch digits := i - start; {
	case digits == 0 || digits > 19 || digits > 1 && b[start] == '0':
		return 0, b, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] >= '0' && b[i] <= '9'):
		return 0, b, false
	case !neg && u > math.MaxInt, neg && u > math.MaxInt+1:
		return 0, b, false
	}
	if neg {
		return int(-u), b[i:], true
	}
	return int(u), b[i:], true
}

// fastString reads a JSON string at the start of b. It gives up (ok false)
// where encoding/json would fail or substitute U+FFFD: raw control
// characters, invalid UTF-8, escaped surrogates, unknown escapes.
func fastString(b []byte) (s string, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, false
	}
	b = b[1:]
	var out []byte // the unescaped string, once an escape is seen
	start, i := 0, 0
	for {
		i = nextQuoteOrEscape(b, i)
		if i >= len(b) {
			return "", b, false
		}
		switch c := b[i]; {
		case c == '"':
			if out == nil {
				return string(b[:i]), b[i+1:], true
			}
			out = append(out, b[start:i]...)
			// out is never written again: the string can share it.
			return unsafe.String(unsafe.SliceData(out), len(out)), b[i+1:], true
		case c == '\\':
			if out == nil {
				// The rest of the input bounds the unescaped string: one
				// allocation, no growth.
				out = make([]byte, 0, len(b))
			}
			out = append(out, b[start:i]...)
			if i+1 >= len(b) {
				return "", b, false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b[i+2:])
				if !ok || utf16.IsSurrogate(r) {
					return "", b, false
				}
				out = utf8.AppendRune(out, r)
				i += 4
			default:
				return "", b, false
			}
			i += 2
			start = i
		case c < 0x20:
			return "", b, false
		default: // non-ASCII: keep valid UTF-8 as it is
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", b, false
			}
			i += size
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// nextQuoteOrEscape returns the index of the first byte at or after i that
// is '"', '\\', a control character or non-ASCII (or len(b)), reading 8
// bytes at a time.
func nextQuoteOrEscape(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if m := (x | (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3 // the lowest flag is exact
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}
