//go:build wasip1

// Command wasm is the TT-Miner adapter compiled for the rigd host: ABI v1
// exports over package ttminer, nothing else. Build it with the command
// recorded in ../ttminer.wasm.build.
package main

import (
	"github.com/rigd/rigd/adapters/ttminer"
	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

var adapter = ttminer.New()

//go:wasmexport adapter_abi_v1
func marker() {}

//go:wasmexport adapter_metadata
func metadata() int32 { return sdk.Handle(adapter, abi.ExportMetadata) }

//go:wasmexport adapter_build_command
func buildCommand() int32 { return sdk.Handle(adapter, abi.ExportBuildCommand) }

//go:wasmexport adapter_parse_line
func parseLine() int32 { return sdk.Handle(adapter, abi.ExportParseLine) }

//go:wasmexport adapter_parse_api
func parseAPI() int32 { return sdk.Handle(adapter, abi.ExportParseAPI) }

//go:wasmexport adapter_reset
func reset() int32 { return sdk.Handle(adapter, abi.ExportReset) }

func main() {}
