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
	"encoding/json"
	"errors"
	"fmt"

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

// Errorf returns an adapter error with the given code (abi.Code*).
func Errorf(code, format string, args ...any) error {
	return &abi.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Call runs one ABI export against a with the given raw input and returns
// the status and raw output, exactly as the host would see them.
func Call(a Adapter, export string, input []byte) (status int32, output []byte) {
	out, err := dispatch(a, export, input)
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

func dispatch(a Adapter, export string, input []byte) ([]byte, error) {
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
		res, err := p.ParseLines(abi.Stream(input[0]), splitLines(input[1:]))
		if err != nil {
			return nil, err
		}
		if res.Events == nil {
			res.Events = []abi.Event{}
		}
		return json.Marshal(res)
	case abi.ExportParseAPI:
		p, ok := a.(APIParser)
		if !ok {
			return nil, Errorf(abi.CodeUnsupported, "adapter does not parse an API")
		}
		var req abi.APIRequest
		if err := json.Unmarshal(input, &req); err != nil {
			return nil, Errorf(abi.CodeBadInput, "api request: %v", err)
		}
		st, err := p.ParseAPI(req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(st)
	case abi.ExportReset:
		if r, ok := a.(Resetter); ok {
			r.Reset()
		}
		return nil, nil
	}
	return nil, Errorf(abi.CodeUnsupported, "unknown export %q", export)
}

// splitLines splits b at '\n' without copying. A trailing newline does not
// produce an empty last line.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	n := 1
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	lines := make([][]byte, 0, n)
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
