package adapters

// A tiny WebAssembly binary assembler for tests: hostile modules and minimal
// hand-written adapters are described here as data and assembled to bytes
// in the test, so no external tool (wat2wasm) is needed at test time. Each
// hostile module also has a .wat rendering in testdata/hostile for people.

import "encoding/binary"

const (
	tI32 = 0x7f
	tI64 = 0x7e
)

type wfunc struct {
	params, results []byte
	locals          []byte // one value type per local
	body            []byte // instructions, without the final end
}

type wimport struct {
	module, name    string
	params, results []byte
}

type wexport struct {
	name string
	kind byte // 0 func, 2 memory
	idx  uint32
}

type wmodule struct {
	imports []wimport
	funcs   []wfunc
	exports []wexport
	memMin  uint32
	memMax  uint32 // 0: no maximum
	noMem   bool
	data    []wdata
}

type wdata struct {
	offset uint32
	bytes  []byte
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

func wname(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, items [][]byte) []byte {
	payload := uleb(uint64(len(items)))
	for _, it := range items {
		payload = append(payload, it...)
	}
	return append(append([]byte{id}, uleb(uint64(len(payload)))...), payload...)
}

// assemble encodes the module. Function indexes: imports first, then funcs.
func (m wmodule) assemble() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types [][]byte
	typeIdx := func(params, results []byte) uint32 {
		t := append([]byte{0x60}, uleb(uint64(len(params)))...)
		t = append(t, params...)
		t = append(t, uleb(uint64(len(results)))...)
		t = append(t, results...)
		for i, have := range types {
			if string(have) == string(t) {
				return uint32(i)
			}
		}
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	var imports, fsec, code [][]byte
	for _, im := range m.imports {
		e := append(wname(im.module), wname(im.name)...)
		e = append(e, 0x00)
		e = append(e, uleb(uint64(typeIdx(im.params, im.results)))...)
		imports = append(imports, e)
	}
	for _, f := range m.funcs {
		fsec = append(fsec, uleb(uint64(typeIdx(f.params, f.results))))
		body := uleb(uint64(len(f.locals)))
		for _, l := range f.locals {
			body = append(body, 1, l)
		}
		body = append(body, f.body...)
		body = append(body, 0x0b)
		code = append(code, append(uleb(uint64(len(body))), body...))
	}
	out = append(out, section(1, types)...)
	if len(imports) > 0 {
		out = append(out, section(2, imports)...)
	}
	out = append(out, section(3, fsec)...)
	if !m.noMem {
		lim := append([]byte{0x00}, uleb(uint64(m.memMin))...)
		if m.memMax > 0 {
			lim = append(append([]byte{0x01}, uleb(uint64(m.memMin))...), uleb(uint64(m.memMax))...)
		}
		out = append(out, section(5, [][]byte{lim})...)
	}
	var exps [][]byte
	for _, e := range m.exports {
		exps = append(exps, append(append(wname(e.name), e.kind), uleb(uint64(e.idx))...))
	}
	out = append(out, section(7, exps)...)
	out = append(out, section(10, code)...)
	if len(m.data) > 0 {
		var segs [][]byte
		for _, d := range m.data {
			s := []byte{0x00, 0x41}
			s = append(s, sleb(int64(d.offset))...)
			s = append(s, 0x0b)
			s = append(s, uleb(uint64(len(d.bytes)))...)
			s = append(s, d.bytes...)
			segs = append(segs, s)
		}
		out = append(out, section(11, segs)...)
	}
	return out
}

// Instructions.
func i32c(v int32) []byte  { return append([]byte{0x41}, sleb(int64(v))...) }
func call(i uint32) []byte { return append([]byte{0x10}, uleb(uint64(i))...) }
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	opUnreachable = []byte{0x00}
	opDrop        = []byte{0x1a}
	opLoopVoid    = []byte{0x03, 0x40}
	opEnd         = []byte{0x0b}
	opBr0         = []byte{0x0c, 0x00}
	opBrIf0       = []byte{0x0d, 0x00}
	opMemGrow     = []byte{0x40, 0x00}
	opI32Add      = []byte{0x6a}
	opI32LtU      = []byte{0x49}
)

func localGet(i uint32) []byte { return append([]byte{0x20}, uleb(uint64(i))...) }
func localTee(i uint32) []byte { return append([]byte{0x22}, uleb(uint64(i))...) }
func i32store(offset uint32) []byte {
	return append([]byte{0x36, 0x02}, uleb(uint64(offset))...)
}

var (
	importInputRead   = wimport{"miner_adapter_v1", "input_read", []byte{tI32, tI32}, []byte{tI32}}
	importOutputWrite = wimport{"miner_adapter_v1", "output_write", []byte{tI32, tI32}, []byte{tI32}}
)

// adapterModule builds a module shaped like an adapter: output_write is
// import 0, the marker and memory are exported, and each entry of calls is
// exported with a () -> i32 body. Static JSON documents go in data.
type adapterSpec struct {
	marker  string // default adapter_abi_v1; "-" for none
	imports []wimport
	calls   map[string][]byte // export name -> body of a () -> i32 function
	extra   []wfunc           // more functions after the calls, any type
	extraEx []wexport
	memMin  uint32
	data    []wdata
	locals  map[string][]byte
}

func (s adapterSpec) module() wmodule {
	imports := append([]wimport{importOutputWrite}, s.imports...)
	m := wmodule{imports: imports, memMin: s.memMin, data: s.data}
	if m.memMin == 0 {
		m.memMin = 1
	}
	nImp := uint32(len(imports))
	// Exports in a stable order.
	names := make([]string, 0, len(s.calls))
	for n := range s.calls {
		names = append(names, n)
	}
	sortStrings(names)
	marker := s.marker
	if marker == "" {
		marker = "adapter_abi_v1"
	}
	if marker != "-" {
		m.funcs = append(m.funcs, wfunc{})
		m.exports = append(m.exports, wexport{marker, 0, nImp})
	}
	for _, n := range names {
		m.exports = append(m.exports, wexport{n, 0, nImp + uint32(len(m.funcs))})
		m.funcs = append(m.funcs, wfunc{results: []byte{tI32}, locals: s.locals[n], body: s.calls[n]})
	}
	base := nImp + uint32(len(m.funcs))
	m.funcs = append(m.funcs, s.extra...)
	for _, e := range s.extraEx {
		e.idx += base
		m.exports = append(m.exports, e)
	}
	m.exports = append(m.exports, wexport{"memory", 2, 0})
	return m
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// writeStatic returns a body that writes data at [off, off+n) and returns
// status.
func writeStatic(off, n uint32, status int32) []byte {
	return cat(i32c(int32(off)), i32c(int32(n)), call(0), opDrop, i32c(status))
}

const (
	testMetadataJSON = `{"name":"wat","display_name":"WAT test adapter","version":"1.0.0","abi_minor":0,` +
		`"algorithms":[{"name":"test","devices":["cpu"]}],"api":{"kind":""},"release":{"checksum":{"format":"none"}}}`
	testCommandJSON = `{"args":["--run"]}`
)

// goodModule is a minimal valid adapter written by hand.
func goodModule() []byte { return goodSpec().module().assemble() }

func goodSpec() adapterSpec {
	meta, cmd := []byte(testMetadataJSON), []byte(testCommandJSON)
	return adapterSpec{
		calls: map[string][]byte{
			"adapter_metadata":      writeStatic(0, uint32(len(meta)), 0),
			"adapter_build_command": writeStatic(4096, uint32(len(cmd)), 0),
		},
		data: []wdata{{0, meta}, {4096, cmd}},
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
