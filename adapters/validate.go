package adapters

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/rigd/rigd/sdk/abi"
)

// Errors a caller can branch on; LoadError and CallError wrap them.
var (
	ErrInvalidModule = errors.New("adapters: not a valid adapter module")
	ErrABIVersion    = errors.New("adapters: unsupported ABI version")
	ErrImport        = errors.New("adapters: forbidden import")
	ErrSignature     = errors.New("adapters: wrong signature")
	ErrProtocol      = errors.New("adapters: protocol violation")
	ErrTimeout       = errors.New("adapters: call deadline exceeded")
	ErrQuarantined   = errors.New("adapters: adapter quarantined")
	ErrClosed        = errors.New("adapters: adapter closed")
)

const wasiModule = "wasi_snapshot_preview1"

var i32 = api.ValueTypeI32

// hostSignatures are the allowed imports from the host module.
var hostSignatures = map[string][2][]api.ValueType{
	abi.ImportInputRead:   {{i32, i32}, {i32}},
	abi.ImportOutputWrite: {{i32, i32}, {i32}},
	abi.ImportLog:         {{i32, i32, i32}, nil},
	abi.ImportLogEnabled:  {{i32}, {i32}},
}

var (
	requiredExports = []string{abi.ExportMetadata, abi.ExportBuildCommand}
	optionalExports = []string{abi.ExportParseLine, abi.ExportParseAPI, abi.ExportReset}
)

// checkHeader rejects what is obviously not a wasm module before wazero
// sees it.
func checkHeader(b []byte) error {
	switch {
	case len(b) > MaxModuleBytes:
		return fmt.Errorf("%w: %d bytes is over the %d byte limit", ErrInvalidModule, len(b), MaxModuleBytes)
	case len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")):
		return fmt.Errorf("%w: not WebAssembly (no \\0asm header)", ErrInvalidModule)
	case !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
		return fmt.Errorf("%w: unsupported wasm binary version %x", ErrInvalidModule, b[4:8])
	}
	return nil
}

// checkModule enforces the ABI on a compiled module: the major version
// (marker export and host module name) first, then the import allow-list,
// then export signatures. Nothing here runs guest code.
func checkModule(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	imports := c.ImportedFunctions()

	// Major version: what the module declares, by marker and by import.
	var other []string
	for name := range exports {
		if strings.HasPrefix(name, abi.MarkerPrefix) && name != abi.ExportMarker {
			other = append(other, strings.TrimPrefix(name, "adapter_abi_"))
		}
	}
	for _, f := range imports {
		mod, _, _ := f.Import()
		if strings.HasPrefix(mod, "miner_adapter_v") && mod != abi.HostModule {
			other = append(other, strings.TrimPrefix(mod, "miner_adapter_"))
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		other = slices.Compact(other)
		return fmt.Errorf("%w: module declares ABI %s; this agent speaks v%d", ErrABIVersion, strings.Join(other, ", "), abi.Major)
	}
	if _, ok := exports[abi.ExportMarker]; !ok {
		return fmt.Errorf("%w: missing the %s marker export (not a rigd adapter, or built without the sdk)", ErrInvalidModule, abi.ExportMarker)
	}

	// Imports: the host module's four functions with exact signatures and
	// WASI's non-socket functions; no imported memory, table or global.
	for _, f := range imports {
		mod, name, _ := f.Import()
		switch mod {
		case abi.HostModule:
			sig, ok := hostSignatures[name]
			if !ok {
				return fmt.Errorf("%w: %s.%s is not part of ABI v%d", ErrImport, mod, name, abi.Major)
			}
			if !sameTypes(f.ParamTypes(), sig[0]) || !sameTypes(f.ResultTypes(), sig[1]) {
				return fmt.Errorf("%w: import %s.%s is %s, want %s", ErrSignature, mod, name, sigString(f.ParamTypes(), f.ResultTypes()), sigString(sig[0], sig[1]))
			}
		case wasiModule:
			if strings.HasPrefix(name, "sock_") {
				return fmt.Errorf("%w: %s.%s (adapters get no network access)", ErrImport, mod, name)
			}
		default:
			return fmt.Errorf("%w: %s.%s (only %s and %s are allowed)", ErrImport, mod, name, abi.HostModule, wasiModule)
		}
	}
	if n := len(c.ImportedMemories()); n > 0 {
		return fmt.Errorf("%w: module imports a memory; it must define and export its own", ErrImport)
	}

	// Exports.
	if _, ok := c.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("%w: no exported memory named \"memory\"", ErrInvalidModule)
	}
	noneToI32 := func(name string, required bool) error {
		f, ok := exports[name]
		if !ok {
			if required {
				return fmt.Errorf("%w: missing required export %s", ErrInvalidModule, name)
			}
			return nil
		}
		if len(f.ParamTypes()) != 0 || !sameTypes(f.ResultTypes(), []api.ValueType{i32}) {
			return fmt.Errorf("%w: export %s is %s, want () -> (i32)", ErrSignature, name, sigString(f.ParamTypes(), f.ResultTypes()))
		}
		return nil
	}
	for _, name := range requiredExports {
		if err := noneToI32(name, true); err != nil {
			return err
		}
	}
	for _, name := range optionalExports {
		if err := noneToI32(name, false); err != nil {
			return err
		}
	}
	if f, ok := exports["_initialize"]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
		return fmt.Errorf("%w: export _initialize is %s, want () -> ()", ErrSignature, sigString(f.ParamTypes(), f.ResultTypes()))
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool { return bytes.Equal(a, b) }

func sigString(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(params) + " -> " + name(results)
}
