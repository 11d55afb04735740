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
	"math/bits"

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
// slices are only valid during the call; copy what you keep. The SDK hands
// over lines without ANSI escape sequences (see StripANSI), and without
// the '\n' that separated them.
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

// Errorf returns an adapter error with the given code (abi.Code*) and the
// message fmt.Sprintf(format, args...) would give, for the verbs %v, %s,
// %d and %q without flags and arguments of the basic types, errors,
// Stringers, []int and []string (the SDK does not link fmt, which would
// add about 400 KB to every guest module; see sprintf). It is not
// retryable; wrap it with [Retryable] when the same call may succeed later.
func Errorf(code, format string, args ...any) error {
	return &abi.Error{Code: code, Message: sprintf(format, args)}
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
	ae := asError(err)
	if ae == nil {
		return &abi.Error{Code: abi.CodeInternal, Message: err.Error(), Retryable: true}
	}
	c := *ae
	c.Retryable = true
	return &c
}

// asError is errors.As(err, &ae) for an *abi.Error ae: the first one in
// err's tree (depth first, through Unwrap() error, Unwrap() []error and
// As methods), or nil. errors.As would link internal/reflectlite into
// every guest.
func asError(err error) *abi.Error {
	for err != nil {
		if ae, ok := err.(*abi.Error); ok {
			return ae
		}
		if x, ok := err.(interface{ As(any) bool }); ok {
			var ae *abi.Error
			if x.As(&ae) {
				return ae
			}
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if ae := asError(e); ae != nil {
					return ae
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// Call runs one ABI export against a with the given raw input and returns
// the status and raw output, exactly as the host would see them. The output
// is a new slice the caller owns.
func Call(a Adapter, export string, input []byte) (status int32, output []byte) {
	return call(a, export, input, new(buffers))
}

// buffers are the scratch space of one call. The wasm exports reuse one
// set for every call (see Handle); Call uses a fresh set, so its output
// belongs to the caller.
type buffers struct {
	out   []byte      // results are appended to out[:0]
	lines [][]byte    // the lines of a parse_line batch
	plain []byte      // the lines of a batch that had escape sequences, stripped
	dec   abi.Decoder // reads the build_command and parse_api inputs
}

// call is Call with the given scratch buffers. The output may be bufs.out's
// memory: it is valid until the next call with the same bufs.
func call(a Adapter, export string, input []byte, bufs *buffers) (status int32, output []byte) {
	out, err := dispatch(a, export, input, bufs)
	if err != nil {
		ae := asError(err)
		if ae == nil {
			ae = &abi.Error{Code: abi.CodeInternal, Message: err.Error()}
		}
		return abi.StatusError, ae.AppendJSON(bufs.out[:0])
	}
	return abi.StatusOK, out
}

// Every output is written by hand-written encoders (abi's AppendJSON
// methods) and every input read by abi.Decoder: byte for byte what
// encoding/json would write and read, without its reflection, which in a
// wasm guest costs more than the adapter's own work, nor its code, which
// is most of a guest module.
func dispatch(a Adapter, export string, input []byte, bufs *buffers) ([]byte, error) {
	switch export {
	case abi.ExportMetadata:
		m := a.Metadata()
		return m.AppendJSON(bufs.out[:0])
	case abi.ExportBuildCommand:
		var req abi.BuildRequest
		d := &bufs.dec
		d.Reset(input)
		req.DecodeJSON(d)
		if err := d.Finish(); err != nil {
			return nil, Errorf(abi.CodeBadInput, "build request: %v", err)
		}
		cmd, err := a.BuildCommand(req)
		if err != nil {
			return nil, err
		}
		return cmd.AppendJSON(bufs.out[:0]), nil
	case abi.ExportParseLine:
		p, ok := a.(LineParser)
		if !ok {
			return nil, Errorf(abi.CodeUnsupported, "adapter does not parse lines")
		}
		if len(input) == 0 {
			return nil, Errorf(abi.CodeBadInput, "parse_line input has no stream byte")
		}
		var esc bool
		bufs.lines, esc = splitLines(bufs.lines[:0], input[1:])
		if esc {
			if cap(bufs.plain) < len(input) {
				bufs.plain = make([]byte, 0, len(input))
			}
			bufs.plain = stripLines(bufs.lines, bufs.plain[:0])
		}
		res, err := p.ParseLines(abi.Stream(input[0]), bufs.lines)
		if err != nil {
			return nil, err
		}
		if res.Events == nil {
			res.Events = []abi.Event{}
		}
		return res.AppendJSON(bufs.out[:0]), nil
	case abi.ExportParseAPI:
		p, ok := a.(APIParser)
		if !ok {
			return nil, Errorf(abi.CodeUnsupported, "adapter does not parse an API")
		}
		var req abi.APIRequest
		if err := decodeAPIRequest(&bufs.dec, input, &req); err != nil {
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

// decodeAPIRequest is json.Unmarshal(in, req) for a fresh req.
func decodeAPIRequest(d *abi.Decoder, in []byte, req *abi.APIRequest) error {
	d.Reset(in)
	req.DecodeJSON(d)
	return d.Finish()
}

// splitLines appends the lines of b, split at '\n' without copying, to
// lines, and reports whether b holds an ESC byte (0x1b). A trailing newline
// does not produce an empty last line.
//
// It is one pass over the batch, 64 bytes per loop iteration and one more
// per line: in a wasm guest run with wazero's WithCloseOnContextDone (as
// rigd ran guests before its own interrupt checks) each loop iteration
// and call cost an exit from the guest, and a byte-at-a-time scan of a
// 64-line batch cost more than parsing it. Looking for ESC in the same
// words costs no iteration, and spares the parser a scan of every line.
func splitLines(lines [][]byte, b []byte) ([][]byte, bool) {
	start, i := 0, 0
	var esc uint64
	for ; i+64 <= len(b); i += 64 {
		w := b[i : i+64 : i+64]
		w0, w1, w2, w3 := Load64(w), Load64(w[8:]), Load64(w[16:]), Load64(w[24:])
		w4, w5, w6, w7 := Load64(w[32:]), Load64(w[40:]), Load64(w[48:]), Load64(w[56:])
		esc |= ByteMask(w0, 0x1b) | ByteMask(w1, 0x1b) | ByteMask(w2, 0x1b) | ByteMask(w3, 0x1b) |
			ByteMask(w4, 0x1b) | ByteMask(w5, 0x1b) | ByteMask(w6, 0x1b) | ByteMask(w7, 0x1b)
		// One bit per byte: a newline (unrolled: a loop iteration costs an exit).
		m := uint64(gather(ByteMask(w0, '\n'))) | uint64(gather(ByteMask(w1, '\n')))<<8 |
			uint64(gather(ByteMask(w2, '\n')))<<16 | uint64(gather(ByteMask(w3, '\n')))<<24 |
			uint64(gather(ByteMask(w4, '\n')))<<32 | uint64(gather(ByteMask(w5, '\n')))<<40 |
			uint64(gather(ByteMask(w6, '\n')))<<48 | uint64(gather(ByteMask(w7, '\n')))<<56
		for ; m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)
			lines = append(lines, b[start:j:j])
			start = j + 1
		}
	}
	for ; i < len(b); i += 8 {
		var w uint64
		if i+8 <= len(b) {
			w = Load64(b[i:])
		} else {
			w = Tail64(b, i) // padded with 0, neither '\n' nor ESC
		}
		esc |= ByteMask(w, 0x1b)
		for m := gather(ByteMask(w, '\n')); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros32(m)
			lines = append(lines, b[start:j:j])
			start = j + 1
		}
	}
	if start < len(b) {
		lines = append(lines, b[start:len(b):len(b)])
	}
	return lines, esc != 0
}

// gather moves the 8 byte flags of m (bit 7 of each byte) to bits 0-7.
func gather(m uint64) uint32 {
	return uint32((m >> 7) * 0x0102040810204080 >> 56)
}

// stripLines replaces each line of lines that holds an ESC byte by a copy
// without its escape sequences, written into buf (which must not be grown
// while lines point into it), and returns buf.
func stripLines(lines [][]byte, buf []byte) []byte {
	for i, l := range lines {
		if IndexByte(l, 0x1b) >= 0 {
			n := len(buf)
			buf = StripANSI(buf, l)
			lines[i] = buf[n:len(buf):len(buf)]
		}
	}
	return buf
}
