package adapters

import (
	"errors"
	"fmt"
	"strings"
)

// Guest code is stopped at its deadline by an interrupt check that rigd
// compiles into the module, not by wazero's WithCloseOnContextDone.
//
// instrument adds to a module a mutable i32 global, exported as
// interruptExport, and the check
//
//	global.get $interrupt
//	if
//	  unreachable
//	end
//
// at the entry of every function and at the head of every loop: the only
// places code can go back to, so a call that runs on either passes a check
// within a bounded number of instructions. The host sets the global when a
// call's deadline passes; the guest traps at its next check, and the
// poisoned instance is replaced as after any trap.
//
// WithCloseOnContextDone stops a guest at the same places, but each of its
// checks is a call out of the guest into Go, and Go's wasm backend jumps
// through its loop head for every taken branch: it made the guest's calls
// three to four times slower (parse_line, 64 lines: 362 against 102 µs)
// and started a goroutine per call to watch the context. This check is a
// load and a branch that stay in the machine code.
//
// Go's runtime cannot stop a goroutine that runs guest machine code: a
// garbage collection waits for it to come back to Go, and with it every
// goroutine, the one that would set the interrupt included. So the check
// at loop heads also counts down a second global, $fuel, and every yieldEvery checks
// calls memory.grow(0), which wazero runs in Go: a point where the runtime
// can stop the guest. (WithCloseOnContextDone's checks were such points.)
//
// A start function is moved out of the way as well: wazero runs it inside
// instantiation, where no check can be set yet, so instrument exports it
// as startExport for the host to call under a deadline instead.
const (
	interruptExport = "rigd.interrupt"
	startExport     = "rigd.start"
	yieldEvery      = 1 << 14
)

// errInstrument wraps what instrument refuses.
var errInstrument = fmt.Errorf("%w: cannot add the interrupt checks", ErrInvalidModule)

// Section ids, and their order in a module (custom sections aside).
const (
	secCustom   = 0
	secImport   = 2
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
	secTag      = 13
	extGlobal   = 3
	extFunction = 0
)

// vectorSection: the sections that are a count and that many entries of a
// byte or more each.
var vectorSection = map[byte]bool{1: true, secImport: true, 3: true, 4: true, secMemory: true,
	secGlobal: true, secExport: true, 9: true, secCode: true, secData: true, secTag: true}

var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, secTag: 6, secGlobal: 7, secExport: 8,
	secStart: 9, 9: 10, secDataCnt: 11, secCode: 12, secData: 13}

// instrument returns a copy of wasm with the interrupt checks and its data
// segments joined where that is exact (joinData). It refuses a
// module it cannot read, one that already uses the reserved export names or
// one that names a global it does not have (the added global must be the
// host's alone). wazero validates the rest.
func instrument(wasm []byte) ([]byte, error) {
	if err := checkHeader(wasm); err != nil {
		return nil, err
	}
	type section struct {
		id      byte
		payload []byte
	}
	var secs []section
	var (
		importedGlobals, definedGlobals   uint64
		importedMemories, definedMemories uint64
		start                             = -1
		hasDataCount                      bool // segments are named by index
		join                              *dataJoin
	)
	r := wasmReader{b: wasm, i: 8}
	for r.i < len(r.b) {
		id := r.byte()
		size := r.uleb()
		if r.bad || size > uint64(len(r.b)-r.i) {
			return nil, fmt.Errorf("%w: section %d is truncated", errInstrument, id)
		}
		if id != secCustom && sectionOrder[id] == 0 {
			return nil, fmt.Errorf("%w: unknown section %d", errInstrument, id)
		}
		p := r.b[r.i : r.i+int(size)]
		r.i += int(size)
		var err error
		if vectorSection[id] {
			// wazero makes room for the count it reads before it reads
			// the entries: a few bytes claiming billions of data segments
			// ran the agent out of memory (found by FuzzInstrument).
			pr := wasmReader{b: p}
			if n := pr.uleb(); n > uint64(len(p)) {
				return nil, fmt.Errorf("%w: section %d claims %d entries in %d bytes", errInstrument, id, n, len(p))
			}
		}
		switch id {
		case secImport:
			importedGlobals, importedMemories, err = readImports(p)
		case secMemory:
			pr := wasmReader{b: p}
			definedMemories = pr.uleb()
		case secGlobal:
			pr := wasmReader{b: p}
			definedGlobals = pr.uleb()
			if pr.bad {
				err = errors.New("bad global section")
			}
		case secData: // after the data count section, if any
			if !hasDataCount {
				join = joinData(p)
			}
		case secStart:
			pr := wasmReader{b: p}
			start = int(pr.uleb())
			if pr.bad || pr.i != len(p) {
				err = errors.New("bad start section")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errInstrument, err)
		}
		hasDataCount = hasDataCount || id == secDataCnt
		if id != secStart { // moved to an export
			secs = append(secs, section{id, p})
		}
	}
	globals := importedGlobals + definedGlobals
	if globals >= 1<<32-2 {
		return nil, fmt.Errorf("%w: too many globals", errInstrument)
	}
	flag, fuel := globals, globals+1              // the indexes of the added globals
	check := appendULEB([]byte{0x23}, flag)       // global.get $interrupt
	check = append(check, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
	entry := check                                // at function entries, which loops dominate in Go guests
	if importedMemories+definedMemories > 0 {
		check = appendULEB(append(check, 0x23), fuel)                         // global.get $fuel
		check = appendULEB(append(check, 0x41, 0x01, 0x6b, 0x24), fuel)       // i32.const 1, i32.sub, global.set $fuel
		check = appendULEB(append(check, 0x23), fuel)                         // global.get $fuel
		check = appendSLEB(append(check, 0x45, 0x04, 0x40, 0x41), yieldEvery) // i32.eqz, if, i32.const yieldEvery
		check = appendULEB(append(check, 0x24), fuel)                         // global.set $fuel
		check = append(check, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x0b)             // i32.const 0, memory.grow 0, drop, end
	}

	extra := len(wasm) / 6
	if join != nil {
		extra += join.size
	}
	out := make([]byte, 0, len(wasm)+extra)
	out = append(out, wasm[:8]...)
	emit := func(id byte, p []byte) {
		out = append(out, id)
		out = appendULEB(out, uint64(len(p)))
		out = append(out, p...)
	}
	// The global and export sections get an entry each; a missing one is
	// added where the order puts it.
	added := map[byte][]byte{
		// $interrupt: mut i32 = 0; $fuel: mut i32 = yieldEvery.
		secGlobal: append(appendSLEB([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41}, yieldEvery), 0x0b),
		secExport: appendExport(nil, interruptExport, extGlobal, flag),
	}
	var exports uint64 = 1
	if start >= 0 {
		added[secExport] = appendExport(added[secExport], startExport, extFunction, uint64(start))
		exports++
	}
	done := map[byte]bool{}
	addMissing := func(before int) {
		for _, id := range []byte{secGlobal, secExport} {
			if !done[id] && sectionOrder[id] < before {
				n := uint64(2) // globals
				if id == secExport {
					n = exports
				}
				emit(id, append(appendULEB(nil, n), added[id]...))
				done[id] = true
			}
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			addMissing(sectionOrder[s.id])
		}
		switch s.id {
		case secGlobal, secExport:
			pr := wasmReader{b: s.payload}
			n := pr.uleb()
			if s.id == secExport {
				if err := checkExportNames(s.payload); err != nil {
					return nil, fmt.Errorf("%w: %v", errInstrument, err)
				}
				n += exports
			} else {
				n += 2
			}
			emit(s.id, append(append(appendULEB(nil, n), s.payload[pr.i:]...), added[s.id]...))
			done[s.id] = true
		case secData:
			if join == nil {
				emit(s.id, s.payload)
				break
			}
			out = append(out, s.id, 0, 0, 0, 0, 0) // the size, padded: known once written
			at := len(out)
			out = join.append(out)
			putULEB5(out[at-5:at], len(out)-at)
		case secCode:
			var err error
			if out, err = instrumentCode(out, s.payload, entry, check, globals); err != nil {
				return nil, fmt.Errorf("%w: %v", errInstrument, err)
			}
		default:
			emit(s.id, s.payload)
		}
	}
	addMissing(1 << 30)
	return out, nil
}

// readImports counts the globals and memories an import section imports.
func readImports(p []byte) (globals, memories uint64, err error) {
	r := wasmReader{b: p}
	for n := r.uleb(); n > 0 && !r.bad; n-- {
		r.skip(r.uleb()) // module
		r.skip(r.uleb()) // name
		switch kind := r.byte(); kind {
		case 0: // function: type index
			r.uleb()
		case 1: // table: reference type, limits
			r.byte()
			r.limits()
		case 2: // memory: limits
			r.limits()
			memories++
		case 3: // global: value type, mutability
			r.byte()
			r.byte()
			globals++
		case 4: // tag: attribute, type index
			r.byte()
			r.uleb()
		default:
			return 0, 0, fmt.Errorf("import of unknown kind %d", kind)
		}
	}
	if r.bad || r.i != len(p) {
		return 0, 0, errors.New("bad import section")
	}
	return globals, memories, nil
}

// checkExportNames refuses an export section that uses a name instrument
// adds.
func checkExportNames(p []byte) error {
	r := wasmReader{b: p}
	for n := r.uleb(); n > 0 && !r.bad; n-- {
		l := r.uleb()
		start := r.i
		r.skip(l)
		if r.bad {
			break
		}
		if name := string(r.b[start:r.i]); strings.HasPrefix(name, "rigd.") {
			return fmt.Errorf("export %q uses a name reserved for rigd", name)
		}
		r.byte() // kind
		r.uleb() // index
	}
	if r.bad || r.i != len(p) {
		return errors.New("bad export section")
	}
	return nil
}

func appendExport(dst []byte, name string, kind byte, index uint64) []byte {
	dst = appendULEB(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = append(dst, kind)
	return appendULEB(dst, index)
}

func appendSLEB(dst []byte, v int64) []byte {
	for v < -64 || v >= 64 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v)&0x7f)
}

func appendULEB(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// instrumentCode appends the code section p with entry at the entry of
// every function and check (entry and the fuel countdown) after every loop
// header. It is written in place, so
// its size and its bodies' are written afterwards, as five-byte LEB128
// numbers (a valid encoding).
func instrumentCode(dst, p, entry, check []byte, globals uint64) ([]byte, error) {
	r := wasmReader{b: p}
	n := r.uleb()
	if r.bad {
		return nil, errors.New("bad code section")
	}
	dst = append(dst, secCode, 0, 0, 0, 0, 0)
	section := len(dst)
	dst = appendULEB(dst, n)
	for i := uint64(0); i < n; i++ {
		size := r.uleb()
		if r.bad || size > uint64(len(p)-r.i) {
			return nil, fmt.Errorf("function %d: truncated body", i)
		}
		dst = append(dst, 0, 0, 0, 0, 0)
		body := len(dst)
		var err error
		if dst, err = instrumentBody(dst, p[r.i:r.i+int(size)], entry, check, globals); err != nil {
			return nil, fmt.Errorf("function %d: %v", i, err)
		}
		r.i += int(size)
		putULEB5(dst[body-5:body], len(dst)-body)
	}
	if r.i != len(p) {
		return nil, errors.New("bad code section: bytes after the last body")
	}
	putULEB5(dst[section-5:section], len(dst)-section)
	return dst, nil
}

// putULEB5 writes v (under 2^32) as a five-byte LEB128 number.
func putULEB5(b []byte, v int) {
	for k := range 4 {
		b[k] = byte(v>>(7*k))&0x7f | 0x80
	}
	b[4] = byte(v>>28) & 0x7f
}

// instrumentBody appends the instrumented function body b to dst. It
// decodes every instruction, to find the loops and to keep in step; the
// common instructions through opImm, the rest through skipOther.
func instrumentBody(dst, b, entry, check []byte, globals uint64) ([]byte, error) {
	r := wasmReader{b: b}
	for n := r.uleb(); n > 0 && !r.bad; n-- { // locals: count, type
		r.uleb()
		if t := r.byte(); !isValType(t) {
			return nil, fmt.Errorf("local of unsupported type 0x%02x", t)
		}
	}
	if r.bad {
		return nil, errors.New("bad locals")
	}
	dst = append(dst, b[:r.i]...)
	dst = append(dst, entry...)
	last, i := r.i, r.i
	for i < len(b) {
		op := b[i]
		i++
		switch opImm[op] {
		case immNone:
		case immIndex:
			i = lebEnd(b, i)
		case immMemarg:
			if i < len(b) && b[i]&0xc0 == 0 { // one-byte alignment, no memory index
				i = lebEnd(b, i+1)
			} else {
				r.i = i
				r.memarg()
				i = r.i
			}
		case immBlock:
			i = blockTypeEnd(b, i)
		case immLoop:
			i = blockTypeEnd(b, i)
			if i < 0 {
				break
			}
			dst = append(dst, b[last:i]...)
			dst = append(dst, check...)
			last = i
		case immGlobal:
			r.i = i
			if r.uleb() >= globals {
				return nil, errors.New("global index out of range")
			}
			i = r.i
		case immOther:
			r.i = i
			if err := r.skipOther(op); err != nil {
				return nil, err
			}
			i = r.i
		default:
			return nil, fmt.Errorf("unknown instruction 0x%02x", op)
		}
		if i < 0 || r.bad {
			return nil, errors.New("truncated instruction")
		}
	}
	return append(dst, b[last:]...), nil
}

// The immediates of one-byte opcodes, for instrumentBody.
const (
	immUnknown = iota
	immNone
	immIndex  // one LEB128 number
	immMemarg // alignment and offset
	immBlock  // a block type
	immLoop   // loop: a block type, and the check goes after it
	immGlobal // global.get and global.set: an index that is checked
	immOther  // see skipOther
)

var opImm = func() (t [256]uint8) {
	set := func(kind uint8, ops ...int) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	set(immNone, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x19, 0x1a, 0x1b, 0xd1)
	for op := 0x45; op <= 0xc4; op++ { // numeric instructions
		t[op] = immNone
	}
	// One index: catch, throw, rethrow, br, br_if, call, return_call,
	// call_ref, return_call_ref, delegate, local.*, table.get/set,
	// memory.size/grow, ref.func; and the constants i32 and i64.
	set(immIndex, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x18,
		0x20, 0x21, 0x22, 0x25, 0x26, 0x3f, 0x40, 0xd2, 0x41, 0x42)
	for op := 0x28; op <= 0x3e; op++ { // loads and stores
		t[op] = immMemarg
	}
	set(immBlock, 0x02, 0x04, 0x06, 0xd0) // block, if, try; ref.null's heap type reads alike
	set(immLoop, 0x03)
	set(immGlobal, 0x23, 0x24)
	set(immOther, 0x0e, 0x11, 0x13, 0x1c, 0x1f, 0x43, 0x44, 0xfc, 0xfd, 0xfe)
	return t
}()

// lebEnd returns where the LEB128 number at b[i] ends, or -1.
func lebEnd(b []byte, i int) int {
	for end := min(i+10, len(b)); i < end; i++ {
		if b[i] < 0x80 {
			return i + 1
		}
	}
	return -1
}

// blockTypeEnd returns where the block type at b[i] ends (empty, a value
// type or a type index), or -1.
func blockTypeEnd(b []byte, i int) int {
	if i < len(b) && (b[i] == 0x40 || isValType(b[i])) {
		return i + 1
	}
	return lebEnd(b, i)
}

// skipOther skips the immediates of the instructions opImm leaves to it.
func (r *wasmReader) skipOther(op byte) error {
	switch op {
	case 0x0e: // br_table
		for k := r.uleb(); k > 0 && !r.bad; k-- {
			r.uleb()
		}
		r.uleb()
	case 0x11, 0x13: // call_indirect, return_call_indirect
		r.uleb()
		r.uleb()
	case 0x1c: // select with types
		r.skip(r.uleb())
	case 0x1f: // try_table
		r.blockType()
		for k := r.uleb(); k > 0 && !r.bad; k-- {
			if kind := r.byte(); kind <= 1 {
				r.uleb() // tag
			} else if kind > 3 {
				return fmt.Errorf("unknown catch kind %d", kind)
			}
			r.uleb() // label
		}
	case 0x43: // f32.const
		r.skip(4)
	case 0x44: // f64.const
		r.skip(8)
	case 0xfc:
		switch sub := r.uleb(); {
		case sub <= 7: // saturating truncations
		case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
			r.uleb()
			r.uleb()
		case sub <= 17:
			r.uleb()
		default:
			return fmt.Errorf("unknown instruction 0xfc %d", sub)
		}
	case 0xfd:
		switch sub := r.uleb(); {
		case sub <= 11 || sub == 92 || sub == 93: // loads and stores
			r.memarg()
		case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
			r.skip(16)
		case sub >= 21 && sub <= 34: // lanes
			r.byte()
		case sub >= 84 && sub <= 91: // lane loads and stores
			r.memarg()
			r.byte()
		case sub > 0x113:
			return fmt.Errorf("unknown instruction 0xfd %d", sub)
		}
	case 0xfe:
		if sub := r.uleb(); sub == 3 { // atomic.fence
			r.byte()
		} else if sub <= 0x4e {
			r.memarg()
		} else {
			return fmt.Errorf("unknown instruction 0xfe %d", sub)
		}
	}
	return nil
}

func isValType(t byte) bool {
	return t >= 0x7b && t <= 0x7f || t == 0x70 || t == 0x6f // numbers, v128, funcref, externref
}

// blockType skips a block type: empty, a value type or a type index.
func (r *wasmReader) blockType() { r.to(blockTypeEnd(r.b, r.i)) }

// to moves to i, an end from lebEnd or blockTypeEnd (-1: bad).
func (r *wasmReader) to(i int) {
	if i < 0 {
		r.bad, i = true, len(r.b)
	}
	r.i = i
}

// memarg skips a memory argument: alignment (with a memory index if its
// bit 6 is set) and offset.
func (r *wasmReader) memarg() {
	if r.uleb()&0x40 != 0 {
		r.uleb()
	}
	r.skipLEB()
}

// limits skips table or memory limits.
func (r *wasmReader) limits() {
	flags := r.byte()
	r.skipLEB()
	if flags&1 != 0 {
		r.skipLEB()
	}
}

// skipLEB skips a LEB128 number of up to 64 bits.
func (r *wasmReader) skipLEB() { r.to(lebEnd(r.b, r.i)) }
