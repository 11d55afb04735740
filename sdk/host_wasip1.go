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
	status, out := Call(a, export, in)
	if len(out) > 0 && outputWrite(unsafe.Pointer(&out[0]), int32(len(out))) < 0 {
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
