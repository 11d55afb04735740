package adapters

import _ "embed"

// The built-in adapters, built from adapters/<name>/wasm with the command
// recorded in adapters/<name>/<name>.wasm.build (a test rebuilds them and
// compares).
var (
	//go:embed xmrig/xmrig.wasm
	xmrigWasm []byte
	//go:embed ttminer/ttminer.wasm
	ttminerWasm []byte
)

// Builtins returns the adapters embedded in the binary, by name.
func Builtins() map[string][]byte {
	return map[string][]byte{"xmrig": xmrigWasm, "ttminer": ttminerWasm}
}
