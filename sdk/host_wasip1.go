//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/rigd/rigd/sdk/abi"
)

//go:wasmimport miner_adapter_v1 input_read
func inputRead(buf unsafe.Pointer, limit int32) int32

//go:wasmimport miner_adapter_v1 output_write
func outputWrite(ptr unsafe.Pointer, n int32) int32

//go:wasmimport miner_adapter_v1 log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport miner_adapter_v1 log_enabled
func hostLogEnabled(level int32) int32

// inbuf is reused across calls; line slices handed to ParseLines point into
// it, which is why they are only valid during the call.
var inbuf []byte

// bufs are the scratch buffers every call reuses. The parse_line and
// parse_api results are written into bufs.out: output_write copies them
// into the host before it returns and nothing else keeps the slice, so the
// next call may overwrite it. bufs.lines point into inbuf.
var bufs buffers

// maxKeptOutput bounds the output buffer kept between calls, so that one
// huge result does not pin its memory for the life of the instance.
const maxKeptOutput = 256 << 10

// Handle runs one ABI export: it reads the call's input from the host,
// dispatches to a, writes the result and returns the status. Call it from
// each //go:wasmexport function.
func Handle(a Adapter, export string) int32 {
	n := inputRead(nil, 0)
	if int(n) > cap(inbuf) {
		inbuf = make([]byte, n)
	}
	in := inbuf[:n]
	if n > 0 {
		inputRead(unsafe.Pointer(&in[0]), n)
	}
	status, out := call(a, export, in, &bufs)
	ok := len(out) == 0 || outputWrite(unsafe.Pointer(&out[0]), int32(len(out))) >= 0
	if cap(out) <= maxKeptOutput && cap(out) >= cap(bufs.out) {
		bufs.out = out[:0] // the host has its copy: reuse the bytes next call
	}
	if !ok {
		// The host rejects oversize output and fails the call itself.
		return abi.StatusError
	}
	return status
}

// Log writes one log record through the host at the given level.
func Log(level abi.LogLevel, msg string) {
	if len(msg) > abi.MaxLogMessage {
		msg = msg[:abi.MaxLogMessage]
	}
	if msg == "" {
		hostLog(int32(level), nil, 0)
		return
	}
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

// LogEnabled reports whether the host keeps records at level.
func LogEnabled(level abi.LogLevel) bool { return hostLogEnabled(int32(level)) != 0 }
