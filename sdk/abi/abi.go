// Package abi is the versioned contract between the rigd host and a miner
// adapter compiled to WebAssembly (ABI v1).
//
// The contract has three parts:
//
//   - Names: the host module the guest imports ([HostModule]) with its four
//     functions, and the exports the host calls ([ExportMarker],
//     [ExportMetadata], [ExportBuildCommand], [ExportParseLine],
//     [ExportParseAPI], [ExportReset]).
//   - Calling convention: every call export has the signature () -> i32. The
//     guest pulls the call's input with input_read and pushes its result with
//     output_write, then returns [StatusOK] (the output is the result) or
//     [StatusError] (the output is an [Error]). Any other status, a trap, or
//     more than [MaxOutput] bytes of output is a protocol violation.
//   - Messages: JSON documents whose Go types live in this package
//     ([Metadata], [BuildRequest], [Command], [LineResult], [APIRequest],
//     [Stats], [Error]). Unknown values are null, never 0. Rates are H/s.
//
// This package has no dependencies beyond the standard library so that both
// the host and guests (GOOS=wasip1) can import it.
package abi

// Major is the ABI major version. A guest declares it by exporting
// [ExportMarker] and importing [HostModule]; the host refuses any other major
// version before running guest code.
const Major = 1

// Minor is the newest ABI minor version this package describes. Minor
// versions only add optional fields and optional exports.
const Minor = 0

// HostModule is the module name of the host functions a v1 guest imports.
const HostModule = "miner_adapter_v1"

// Host functions in [HostModule]. All parameters and results are i32.
const (
	// ImportInputRead is input_read(buf, limit) -> len. It copies the current
	// call's input to guest memory at buf if it fits in limit bytes and always
	// returns the input's length. limit 0 probes the length without copying.
	ImportInputRead = "input_read"
	// ImportOutputWrite is output_write(ptr, len) -> 0|-1. The host copies
	// len bytes at ptr immediately and appends them to the call's output. It
	// returns -1 (and the call is failed) once the output would exceed
	// MaxOutput.
	ImportOutputWrite = "output_write"
	// ImportLog is log(level, ptr, len): one log record at the given
	// [LogLevel]. Messages longer than MaxLogMessage are truncated.
	ImportLog = "log"
	// ImportLogEnabled is log_enabled(level) -> 0|1: whether a record at that
	// level would be kept, so guests can skip formatting.
	ImportLogEnabled = "log_enabled"
)

// Guest exports.
const (
	// ExportMarker is the ABI v1 marker, a function export the host never
	// calls. Its presence (and the absence of markers for other majors) is
	// how a module declares ABI v1.
	ExportMarker = "adapter_abi_v1"
	// ExportMetadata (required): input empty, output [Metadata].
	ExportMetadata = "adapter_metadata"
	// ExportBuildCommand (required): input [BuildRequest], output [Command].
	ExportBuildCommand = "adapter_build_command"
	// ExportParseLine (optional): input is one [Stream] byte followed by
	// console lines separated by '\n' (ANSI escapes already stripped, each
	// line capped by the host); output [LineResult].
	ExportParseLine = "adapter_parse_line"
	// ExportParseAPI (optional): input [APIRequest], output [Stats].
	ExportParseAPI = "adapter_parse_api"
	// ExportReset (optional): input empty, output empty. Clears per-session
	// parse state; the host calls it when the miner process (re)starts.
	ExportReset = "adapter_reset"
)

// MarkerPrefix is the common prefix of ABI marker exports; a module that
// exports adapter_abi_v2 (with or without adapter_abi_v1) declares an ABI
// this host does not speak and is refused.
const MarkerPrefix = "adapter_abi_v"

// Call statuses returned by every call export.
const (
	StatusOK    = 0 // the output is the result
	StatusError = 1 // the output is an Error document
)

// Limits that are part of the contract.
const (
	// MaxOutput is the most output one call may write.
	MaxOutput = 1 << 20
	// MaxLogMessage is the longest log message the host keeps.
	MaxLogMessage = 4 << 10
	// MaxLineBatch is the most lines the host sends in one parse_line call.
	MaxLineBatch = 64
	// MaxBatchBytes bounds the text of one parse_line call: a batch of long
	// lines is cut short so that no call has to scan more than this.
	MaxBatchBytes = 256 << 10
	// MaxLineBytes is the longest line the host sends; longer lines are cut
	// and marked truncated by the host before the adapter sees them.
	MaxLineBytes = 64 << 10
)

// LogLevel is the level argument of the log and log_enabled imports. The
// values are those of log/slog.
type LogLevel int32

// Log levels.
const (
	LevelDebug LogLevel = -4
	LevelInfo  LogLevel = 0
	LevelWarn  LogLevel = 4
	LevelError LogLevel = 8
)

// Stream is the first byte of parse_line input: which output stream of the
// miner the lines came from.
type Stream byte

// Streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "unknown"
}
