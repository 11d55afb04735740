package abi

import (
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A hand-written JSON reader for guests: encoding/json's reflection and its
// byte-at-a-time scanner cost a wasm guest a millisecond per XMRig poll (see
// adapters/BENCH.md), and importing it links fmt, os and reflect into every
// guest module.
//
// Decoder reads one JSON document the way json.Unmarshal reads it into Go
// values, with the caller's code in place of reflection:
//
//   - The same documents are accepted: the input must be exactly one valid
//     JSON value (RFC 8259, nesting at most 10000 deep) with optional
//     surrounding whitespace. The first syntax error is reported with
//     encoding/json's message ("invalid character 'x' after object key",
//     "unexpected end of JSON input").
//   - Values are read with encoding/json's rules: keys match struct field
//     names exactly or, failing that, case-insensitively (Unicode simple
//     folding, so "ſ" matches "s"); unknown keys are skipped; null leaves a
//     string, number, bool or struct unchanged and sets a pointer, slice or
//     map to nil; a repeated key decodes again into the same value; strings
//     are unescaped with invalid UTF-8 and lone surrogates replaced by
//     U+FFFD; numbers are converted by strconv.ParseFloat and ParseInt.
//   - A value of the wrong type (a string for a number, "1.5" for an int) is
//     skipped and the rest is decoded; Finish then reports the first such
//     error with encoding/json's message, naming the Go type and struct
//     field the caller says it decodes into ("json: cannot unmarshal string
//     into Go struct field summary.uptime of type float64"). A syntax error
//     anywhere wins over type errors, as encoding/json checks the whole
//     input first.
//
// The loops that find the end of a string or of whitespace read 8 bytes at
// a time: in a guest every loop iteration and every call passes an
// interrupt check (an exit from the guest under wazero's
// WithCloseOnContextDone), so those counts are what a document costs.
//
// Usage, for a struct decoded from an object:
//
//	var fields = abi.NewFields("version", "uptime")
//
//	func (s *summary) decode(d *abi.Decoder) {
//		if !d.Object("xmrig.summary") {
//			return // null, or a type error already recorded
//		}
//		for d.More() {
//			switch d.Field(fields) {
//			case 0:
//				d.String(&s.Version)
//			case 1:
//				d.Float64Ptr(&s.Uptime)
//			}
//		}
//	}
//
//	d.Reset(body)
//	s.decode(&d)
//	err := d.Finish()
//
// Type names (typ arguments) are the Go types as reflect.Type.String spells
// them ("xmrig.summary", "[]*float64"); they only appear in type errors.
type Decoder struct {
	data []byte
	off  int   // the next byte to read
	err  error // the first syntax error; nothing is read after it
	terr error // the first type error

	frames    []frame
	frameBuf  [8]frame
	skipStack []byte // kinds of the containers a skip is inside

	// The error context, as encoding/json keeps it: the struct whose field
	// is being decoded and the JSON names of the fields from the top.
	ctxSet  bool
	ctxName string
	path    []string
	pathBuf [8]string

	scratch []byte // unescaped keys
}

// frame is an object or array being read.
type frame struct {
	kind  byte // '{' or '['
	begun bool // a member or element has been read
	// name is the struct's name for field errors; the saved context is
	// restored after each member.
	name      string
	savedSet  bool
	savedName string
	pathLen   int
}

// maxDepth is encoding/json's maxNestingDepth.
const maxDepth = 10000

// SyntaxError is a document that is not valid JSON. Its message is
// encoding/json's.
type SyntaxError struct {
	msg string
	// Offset is the number of bytes read when the error was found.
	Offset int64
}

func (e *SyntaxError) Error() string { return e.msg }

// TypeError is a JSON value that cannot be stored in the Go value it
// decodes into. Its message is that of encoding/json's UnmarshalTypeError.
type TypeError struct {
	Value  string // "string", "number", "number 1.5", "bool", "array", "object"
	Type   string // the Go type, as reflect.Type.String spells it
	Struct string // the struct whose field it is ("" outside a struct)
	Field  string // the full path of JSON field names, dot-separated
	Offset int64
}

func (e *TypeError) Error() string {
	if e.Struct != "" || e.Field != "" {
		return "json: cannot unmarshal " + e.Value + " into Go struct field " + e.Struct + "." + e.Field + " of type " + e.Type
	}
	return "json: cannot unmarshal " + e.Value + " into Go value of type " + e.Type
}

// Reset starts reading data, which must not change until Finish.
func (d *Decoder) Reset(data []byte) {
	scratch, skip := d.scratch[:0], d.skipStack[:0]
	*d = Decoder{data: data, scratch: scratch, skipStack: skip}
	d.frames = d.frameBuf[:0]
	d.path = d.pathBuf[:0]
}

// ResetString is Reset on the bytes of s, without copying them.
func (d *Decoder) ResetString(s string) {
	d.Reset(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// Finish checks that only whitespace follows the value read and returns the
// first syntax error, or else the first type error, or nil. Call it once
// the top-level value has been read.
func (d *Decoder) Finish() error {
	if d.err == nil {
		if i := d.ws(d.off); i < len(d.data) {
			d.syntax(i, d.data[i], "after top-level value")
		}
	}
	if d.err != nil {
		return d.err
	}
	return d.terr
}

// Err returns the first syntax error so far; after one, every method is a
// no-op and More returns false.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) syntax(i int, c byte, context string) {
	if d.err == nil {
		d.err = &SyntaxError{"invalid character " + quoteChar(c) + " " + context, int64(i + 1)}
	}
	d.off = len(d.data)
}

func (d *Decoder) unexpectedEOF() {
	if d.err == nil {
		d.err = &SyntaxError{"unexpected end of JSON input", int64(len(d.data))}
	}
	d.off = len(d.data)
}

// quoteChar is encoding/json's quoteChar.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// typeError records a type error (the first one wins) with the current
// context.
func (d *Decoder) typeError(value, typ string, i int) {
	if d.terr != nil || d.err != nil {
		return
	}
	e := &TypeError{Value: value, Type: typ, Offset: int64(i)}
	if d.ctxSet || len(d.path) > 0 {
		e.Struct = d.ctxName
		for k, p := range d.path {
			if k > 0 {
				e.Field += "."
			}
			e.Field += p
		}
	}
	d.terr = e
}

// load returns the 8 bytes of data at i (little endian); past the end of
// the data the bytes are 0, which every scan treats as a stop.
func (d *Decoder) load(i int) uint64 {
	data := d.data
	if i+8 <= len(data) {
		return le64(data[i:])
	}
	if len(data) >= 8 {
		return le64(data[len(data)-8:]) >> (8 * uint(i+8-len(data)))
	}
	var w uint64
	for k := len(data) - 1; k >= i; k-- {
		w = w<<8 | uint64(data[k])
	}
	return w
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// SWAR ("SIMD within a register") byte tests. eqMask sets the high bit of
// every byte of x equal to c, exactly (no false positives from borrows).
func eqMask(x uint64, c byte) uint64 {
	v := x ^ (swarOnes * uint64(c))
	return ^((v&^swarHighs + ^uint64(swarHighs)) | v) & swarHighs
}

// ws returns the index of the first byte at or after i that is not JSON
// whitespace, or len(data).
func (d *Decoder) ws(i int) int {
	data := d.data
	if i < len(data) && data[i] > ' ' {
		return i
	}
	for i < len(data) {
		var x uint64
		if i+8 <= len(data) {
			x = le64(data[i:]) // inlined: load is a call
		} else {
			x = d.load(i)
		}
		m := ^(eqMask(x, ' ') | eqMask(x, '\n') | eqMask(x, '\t') | eqMask(x, '\r')) & swarHighs
		if m != 0 {
			return min(i+bits.TrailingZeros64(m)>>3, len(data))
		}
		i += 8
	}
	return len(data)
}

// start skips whitespace before a value and returns its first byte and
// index; ok is false at the end of the input (reported) or after an error.
func (d *Decoder) start() (c byte, i int, ok bool) {
	if d.err != nil {
		return 0, 0, false
	}
	i = d.off
	if i >= len(d.data) || d.data[i] <= ' ' {
		i = d.ws(i)
	}
	if i >= len(d.data) {
		d.unexpectedEOF()
		return 0, 0, false
	}
	return d.data[i], i, true
}

// More reports whether the object or array being read has another member
// or element, reading the separator before it. For an object, call Field
// or Key next; for an array, read the element. At the end it reads the
// closing bracket and returns false; it also returns false after a syntax
// error.
func (d *Decoder) More() bool {
	if d.err != nil || len(d.frames) == 0 {
		return false
	}
	f := &d.frames[len(d.frames)-1]
	if f.kind == '{' {
		// The member just read is done: back to the object's context.
		d.ctxSet, d.ctxName, d.path = f.savedSet, f.savedName, d.path[:f.pathLen]
	}
	i := d.off
	if i >= len(d.data) || d.data[i] <= ' ' {
		i = d.ws(i)
	}
	if i >= len(d.data) {
		d.unexpectedEOF()
		return false
	}
	c := d.data[i]
	if !f.begun {
		f.begun = true
		if c == ']' && f.kind == '[' || c == '}' && f.kind == '{' {
			d.off = i + 1
			d.frames = d.frames[:len(d.frames)-1]
			return false
		}
		if f.kind == '{' && c != '"' {
			d.syntax(i, c, "looking for beginning of object key string")
			return false
		}
		d.off = i
		return true
	}
	switch {
	case c == ',':
		if f.kind == '{' {
			j := i + 1
			if j >= len(d.data) || d.data[j] <= ' ' {
				j = d.ws(j)
			}
			if j >= len(d.data) {
				d.unexpectedEOF()
				return false
			}
			if d.data[j] != '"' {
				d.syntax(j, d.data[j], "looking for beginning of object key string")
				return false
			}
			i = j - 1
		}
		d.off = i + 1
		return true
	case c == ']' && f.kind == '[', c == '}' && f.kind == '{':
		d.off = i + 1
		d.frames = d.frames[:len(d.frames)-1]
		return false
	case f.kind == '[':
		d.syntax(i, c, "after array element")
	default:
		d.syntax(i, c, "after object key:value pair")
	}
	return false
}

// Key reads the next member's key and the colon after it (call it after
// More returned true in an object) and returns the unescaped key, valid
// until the next call. It does not change the error context: use it for
// maps, Field for structs.
func (d *Decoder) Key() []byte {
	if d.err != nil {
		return nil
	}
	key, _, ok := d.str(d.off, true)
	if !ok {
		return nil
	}
	i := d.off
	if i >= len(d.data) || d.data[i] <= ' ' {
		i = d.ws(i)
	}
	if i >= len(d.data) {
		d.unexpectedEOF()
		return nil
	}
	if d.data[i] != ':' {
		d.syntax(i, d.data[i], "after object key")
		return nil
	}
	d.off = i + 1
	return key
}

// Field reads the next member's key (call it after More returned true in
// an object decoded with Object) and returns the index in fields of the
// struct field it names, setting the error context for its value, which
// the caller must then read. For a key that names no field it skips the
// value and returns -1.
func (d *Decoder) Field(fields *Fields) int {
	if d.err != nil {
		return -1
	}
	key, upper, ok := d.str(d.off, true)
	if !ok {
		return -1
	}
	i := d.off
	if i >= len(d.data) || d.data[i] <= ' ' {
		i = d.ws(i)
	}
	if i >= len(d.data) {
		d.unexpectedEOF()
		return -1
	}
	if d.data[i] != ':' {
		d.syntax(i, d.data[i], "after object key")
		return -1
	}
	d.off = i + 1
	n := fields.match(key, upper)
	if n < 0 {
		d.Skip()
		return -1
	}
	f := &d.frames[len(d.frames)-1]
	d.ctxSet, d.ctxName = true, f.name
	d.path = append(d.path, fields.names[n])
	return n
}

// Object starts reading an object into a value of Go type typ (a struct or
// a map). It returns true at '{': read the members with More and Field (or
// Key). For null it returns false, as for any other value, which it skips
// after recording a type error; a pointer field set to nil by null is the
// caller's business (see Null).
func (d *Decoder) Object(typ string) bool {
	c, i, ok := d.start()
	if !ok {
		return false
	}
	if c != '{' {
		d.mismatch(c, i, typ)
		return false
	}
	return d.push('{', i, typ)
}

// Array starts reading an array into a slice of Go type typ. It returns
// true at '[': read the elements while More returns true (see SliceElem
// and SliceEnd). For null or any other value it returns false as Object
// does.
func (d *Decoder) Array(typ string) bool {
	c, i, ok := d.start()
	if !ok {
		return false
	}
	if c != '[' {
		d.mismatch(c, i, typ)
		return false
	}
	return d.push('[', i, typ)
}

func (d *Decoder) push(kind byte, i int, typ string) bool {
	if len(d.frames)+1 > maxDepth {
		d.syntax(i, kind, "exceeded max depth")
		return false
	}
	d.off = i + 1
	d.frames = append(d.frames, frame{kind: kind, name: structName(typ), savedSet: d.ctxSet, savedName: d.ctxName, pathLen: len(d.path)})
	return true
}

// structName is reflect.Type.Name of the type spelled typ: the identifier
// after the package of a defined type ("pkg.T"), "" for any other
// ("struct { ... }", "map[string]int").
func structName(typ string) string {
	name := typ
	for i := 0; i < len(typ); i++ {
		switch c := typ[i]; {
		case c == '.':
			name = typ[i+1:]
		case !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf):
			return ""
		}
	}
	return name
}

// Null reports whether the next value is null, reading it if so: for a
// pointer, slice or map, which null sets to nil.
func (d *Decoder) Null() bool {
	c, i, ok := d.start()
	if !ok || c != 'n' {
		return false
	}
	d.literal(i)
	return d.err == nil
}

// mismatch skips the value starting with c at i and records a type error
// for it, except for null, which every Go value accepts.
func (d *Decoder) mismatch(c byte, i int, typ string) {
	var what string
	switch c {
	case '{':
		what = "object"
	case '[':
		what = "array"
	case '"':
		what = "string"
	case 't', 'f':
		what = "bool"
	case 'n':
		d.literal(i)
		return
	default:
		what = "number"
	}
	d.typeError(what, typ, i)
	d.skipAt(c, i)
}

// Skip reads and discards the next value.
func (d *Decoder) Skip() {
	c, i, ok := d.start()
	if ok {
		d.skipAt(c, i)
	}
}

// Raw reads the next value and stores its bytes, as json.RawMessage does.
func (d *Decoder) Raw(p *RawMessage) {
	c, i, ok := d.start()
	if !ok {
		return
	}
	d.skipAt(c, i)
	if d.err == nil {
		*p = append((*p)[0:0], d.data[i:d.off]...)
	}
}

// String reads a value into a Go string.
func (d *Decoder) String(p *string) {
	c, i, ok := d.start()
	if !ok {
		return
	}
	if c != '"' {
		d.mismatch(c, i, "string")
		return
	}
	if s, _, ok := d.str(i, false); ok {
		*p = string(s)
	}
}

// StringPtr reads a value into a *string.
func (d *Decoder) StringPtr(p **string) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(string)
	}
	d.String(*p)
}

// Bool reads a value into a Go bool.
func (d *Decoder) Bool(p *bool) {
	c, i, ok := d.start()
	if !ok {
		return
	}
	switch c {
	case 't', 'f':
		if d.literal(i) {
			*p = c == 't'
		}
	default:
		d.mismatch(c, i, "bool")
	}
}

// BoolPtr reads a value into a *bool.
func (d *Decoder) BoolPtr(p **bool) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(bool)
	}
	d.Bool(*p)
}

// Float64 reads a value into a Go float64.
func (d *Decoder) Float64(p *float64) {
	c, i, ok := d.start()
	if !ok {
		return
	}
	if c != '-' && (c < '0' || c > '9') {
		d.mismatch(c, i, "float64")
		return
	}
	n, ok := d.number(i)
	if !ok {
		return
	}
	if n.exact {
		*p = n.f
		return
	}
	f, err := strconv.ParseFloat(string(d.data[i:d.off]), 64)
	if err != nil {
		d.typeError("number "+string(d.data[i:d.off]), "float64", d.off)
		return
	}
	*p = f
}

// Float64Ptr reads a value into a *float64.
func (d *Decoder) Float64Ptr(p **float64) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(float64)
	}
	d.Float64(*p)
}

// Int64 reads a value into a Go int64 (strconv.ParseInt's rules: no
// fraction, no exponent).
func (d *Decoder) Int64(p *int64) { d.int(p, "int64") }

// Int reads a value into a Go int.
func (d *Decoder) Int(p *int) {
	var v int64
	if d.int(&v, "int") {
		*p = int(v)
	}
}

func (d *Decoder) int(p *int64, typ string) bool {
	c, i, ok := d.start()
	if !ok {
		return false
	}
	if c != '-' && (c < '0' || c > '9') {
		d.mismatch(c, i, typ)
		return false
	}
	n, ok := d.number(i)
	if !ok {
		return false
	}
	if n.isInt {
		*p = n.i
		return true
	}
	v, err := strconv.ParseInt(string(d.data[i:d.off]), 10, 64)
	if err != nil || typ == "int" && int64(int(v)) != v {
		d.typeError("number "+string(d.data[i:d.off]), typ, d.off)
		return false
	}
	*p = v
	return true
}

// IntPtr reads a value into a *int.
func (d *Decoder) IntPtr(p **int) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(int)
	}
	d.Int(*p)
}

// Int64Ptr reads a value into a *int64.
func (d *Decoder) Int64Ptr(p **int64) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(int64)
	}
	d.Int64(*p)
}

// SliceElem returns the element of *s that the i-th element of a JSON
// array decodes into, growing *s as encoding/json does: an element that
// the slice already holds (within its capacity) is decoded into again.
func SliceElem[T any](s *[]T, i int) *T {
	if i >= cap(*s) {
		var zero T
		*s = append((*s)[:i], zero)
	} else if i >= len(*s) {
		*s = (*s)[:i+1]
	}
	return &(*s)[i]
}

// SliceEnd sets the length of *s to the n elements decoded; an empty
// array gives an empty non-nil slice, as with encoding/json.
func SliceEnd[T any](s *[]T, n int) {
	if n == 0 {
		*s = []T{}
		return
	}
	*s = (*s)[:n]
}

// literal reads the literal true, false or null at i, whose first byte
// (t, f or n) has been checked.
func (d *Decoder) literal(i int) bool {
	data := d.data
	word := "null"
	switch data[i] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	}
	if i+len(word) <= len(data) {
		// Compare 4 bytes at once (and the 'e' of false).
		w := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		want := uint32(word[0]) | uint32(word[1])<<8 | uint32(word[2])<<16 | uint32(word[3])<<24
		if w == want && (len(word) == 4 || data[i+4] == 'e') {
			d.off = i + len(word)
			return true
		}
	}
	for k := 1; k < len(word); k++ {
		c := byte(' ') // at the end of the input encoding/json reports a space
		if i+k < len(data) {
			c = data[i+k]
		}
		if c != word[k] {
			d.syntax(i+k, c, "in literal "+word+" (expecting "+quoteChar(word[k])+")")
			return false
		}
	}
	return false // not reached
}

// num is a scanned number literal.
type num struct {
	f     float64 // the value, if exact
	exact bool    // f is strconv.ParseFloat's result
	i     int64   // the value, if isInt
	isInt bool    // an integer literal within int64 (no fraction or exponent)
}

var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number scans the number literal at i (whose first byte is '-' or a
// digit), leaving d.off after it. Small values are converted on the way:
// with at most 15 significant digits and a power of ten up to 22 the
// mantissa and the power are exact doubles and one multiplication or
// division rounds correctly, which is strconv's own fast path.
func (d *Decoder) number(i int) (n num, ok bool) {
	data := d.data
	j := i
	neg := data[j] == '-'
	if neg {
		j++
	}
	var mant uint64
	digits, frac := 0, 0 // significant digits read; digits after the point
	if j >= len(data) || data[j] < '0' || data[j] > '9' {
		d.numberError(j, "in numeric literal")
		return n, false
	}
	if data[j] == '0' {
		j++
	} else {
		for ; j < len(data) && data[j] >= '0' && data[j] <= '9'; j++ {
			if digits < 19 {
				mant = mant*10 + uint64(data[j]-'0')
			}
			digits++
		}
	}
	isInt := true
	if j < len(data) && data[j] == '.' {
		isInt = false
		j++
		if j >= len(data) || data[j] < '0' || data[j] > '9' {
			d.numberError(j, "after decimal point in numeric literal")
			return n, false
		}
		for ; j < len(data) && data[j] >= '0' && data[j] <= '9'; j++ {
			if mant == 0 && data[j] == '0' {
				frac++ // leading zeros of the fraction are not significant
				continue
			}
			if digits < 19 {
				mant = mant*10 + uint64(data[j]-'0')
				frac++
			}
			digits++
		}
	}
	exp, expOK := 0, true
	if j < len(data) && (data[j] == 'e' || data[j] == 'E') {
		isInt = false
		j++
		expNeg := false
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			expNeg = data[j] == '-'
			j++
		}
		if j >= len(data) || data[j] < '0' || data[j] > '9' {
			d.numberError(j, "in exponent of numeric literal")
			return n, false
		}
		for ; j < len(data) && data[j] >= '0' && data[j] <= '9'; j++ {
			if exp < 1000 {
				exp = exp*10 + int(data[j]-'0')
			} else {
				expOK = false
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	d.off = j
	if isInt && digits <= 18 {
		n.i, n.isInt = int64(mant), true
		if neg {
			n.i = -n.i
		}
	}
	if digits <= 15 && expOK {
		e := exp - frac
		f := float64(mant)
		switch {
		case mant == 0:
			n.exact = true
		case e >= 0 && e < len(exactPow10):
			f *= exactPow10[e]
			n.exact = true
		case e < 0 && -e < len(exactPow10):
			f /= exactPow10[-e]
			n.exact = true
		}
		if neg {
			f = -f
		}
		n.f = f
	}
	return n, true
}

// numberError reports the byte at j (a space at the end of the input, as
// encoding/json does) as invalid in a number.
func (d *Decoder) numberError(j int, context string) {
	c := byte(' ')
	if j < len(d.data) {
		c = d.data[j]
	}
	d.syntax(j, c, context)
}

// strStop flags, for each byte of x, the bytes a string scan stops at:
// '"', '\\' and control characters, and with nonASCII also bytes ≥ 0x80.
// The flags are exact.
func strStop(x uint64, nonASCII bool) uint64 {
	lt20 := ^((x&^swarHighs + (0x80-0x20)*swarOnes) | x) & swarHighs
	m := eqMask(x, '"') | eqMask(x, '\\') | lt20
	if nonASCII {
		m |= x & swarHighs
	}
	return m
}

// upperMask flags the bytes 'A'..'Z' of x.
func upperMask(x uint64) uint64 {
	lo := x&^swarHighs + (0x80-'A')*swarOnes   // ≥ 'A' (for ASCII)
	hi := x&^swarHighs + (0x80-'Z'-1)*swarOnes // > 'Z'
	return lo &^ hi &^ x & swarHighs
}

// str reads the string literal at i, leaving d.off after it, and returns
// its unescaped bytes: a slice of the input when nothing needed changing,
// else of d.scratch (valid until the next call). upper reports an ASCII
// upper-case letter or a non-ASCII character in it (for key folding).
func (d *Decoder) str(i int, key bool) (s []byte, upper bool, ok bool) {
	data := d.data
	start := i + 1
	j := start
	var out []byte // the unescaped string once something had to change
	building := false
	for {
		// Find the next byte that needs attention.
		for {
			var x uint64
			if j+8 <= len(data) {
				x = le64(data[j:]) // inlined: load is a call
			} else {
				x = d.load(j)
			}
			m := strStop(x, true)
			if key {
				mu := upperMask(x)
				if m != 0 {
					mu &= m&-m - 1 // only the bytes before the stop
				}
				upper = upper || mu != 0
			}
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(data) {
			d.unexpectedEOF()
			return nil, false, false
		}
		switch c := data[j]; {
		case c == '"':
			d.off = j + 1
			if !building {
				return data[start:j], upper, true
			}
			out = append(out, data[start:j]...)
			d.scratch = out
			return out, upper, true
		case c == '\\':
			if !building {
				building, out = true, d.scratch[:0]
			}
			out = append(out, data[start:j]...)
			if j+1 >= len(data) {
				d.syntax(j+1, ' ', "in string escape code")
				return nil, false, false
			}
			switch e := data[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4(j + 2)
				if !ok {
					return nil, false, false
				}
				j += 4
				if utf16.IsSurrogate(r) {
					// A valid pair is one character; anything else is
					// U+FFFD and what follows is read as it is.
					r2 := rune(-1)
					if j+2+6 <= len(data) && data[j+2] == '\\' && data[j+3] == 'u' {
						r2 = getu4(data[j+4 : j+8])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						j += 6
					} else {
						r = utf8.RuneError
					}
				}
				if key && r >= utf8.RuneSelf {
					upper = true
				}
				out = utf8.AppendRune(out, r)
			default:
				d.syntax(j+1, e, "in string escape code")
				return nil, false, false
			}
			j += 2
			start = j
		case c < 0x20:
			d.syntax(j, c, "in string literal")
			return nil, false, false
		default: // non-ASCII: valid UTF-8 stays, anything else is U+FFFD
			upper = upper || key
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				if !building {
					building, out = true, d.scratch[:0]
				}
				out = append(out, data[start:j]...)
				out = append(out, "\uFFFD"...)
				j++
				start = j
				continue
			}
			j += size
		}
		if building {
			d.scratch = out
		}
	}
}

// hex4 reads the 4 hex digits of a \u escape at i, reporting a syntax error
// as encoding/json does.
func (d *Decoder) hex4(i int) (rune, bool) {
	var r rune
	for k := i; k < i+4; k++ {
		c := byte(' ')
		if k < len(d.data) {
			c = d.data[k]
		}
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			d.syntax(k, c, `in \u hexadecimal character escape`)
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// getu4 decodes 4 hex digits, or returns -1.
func getu4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// skipString validates the string literal at i and leaves d.off after it.
// Only what encoding/json's scanner checks is checked: escapes and control
// characters (invalid UTF-8 is valid JSON to it).
func (d *Decoder) skipString(i int) {
	data := d.data
	j := i + 1
	for {
		for {
			var x uint64
			if j+8 <= len(data) {
				x = le64(data[j:]) // inlined: load is a call
			} else {
				x = d.load(j)
			}
			m := strStop(x, false)
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(data) {
			d.unexpectedEOF()
			return
		}
		switch c := data[j]; {
		case c == '"':
			d.off = j + 1
			return
		case c == '\\':
			if j+1 >= len(data) {
				d.syntax(j+1, ' ', "in string escape code")
				return
			}
			switch e := data[j+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := d.hex4(j + 2); !ok {
					return
				}
				j += 6
			default:
				d.syntax(j+1, e, "in string escape code")
				return
			}
		default:
			d.syntax(j, c, "in string literal")
			return
		}
	}
}

// skipAt validates the value whose first byte c is at i and leaves d.off
// after it.
func (d *Decoder) skipAt(c byte, i int) {
	switch c {
	case '"':
		d.skipString(i)
		return
	case 't', 'f', 'n':
		d.literal(i)
		return
	case '{', '[':
		d.skipContainer(i)
		return
	}
	if c == '-' || c >= '0' && c <= '9' {
		d.number(i)
		return
	}
	d.syntax(i, c, "looking for beginning of value")
}

// skipContainer validates the object or array at i without recursion.
func (d *Decoder) skipContainer(i int) {
	data := d.data
	base := len(d.frames)
	d.skipStack = d.skipStack[:0]
	for {
		// data[i] is the first byte of a value, not yet validated.
		if c := data[i]; c == '{' || c == '[' {
			if base+len(d.skipStack)+1 > maxDepth {
				d.syntax(i, c, "exceeded max depth")
				return
			}
			j := i + 1
			if j >= len(d.data) || d.data[j] <= ' ' {
				j = d.ws(j)
			}
			if j >= len(data) {
				d.unexpectedEOF()
				return
			}
			if c == '{' && data[j] == '}' || c == '[' && data[j] == ']' {
				d.off = j + 1 // empty: a complete value
			} else {
				d.skipStack = append(d.skipStack, c)
				if c == '[' {
					i = j
					continue
				}
				if data[j] != '"' {
					d.syntax(j, data[j], "looking for beginning of object key string")
					return
				}
				if !d.skipKey(j) {
					return
				}
				if i = d.ws(d.off); i >= len(data) {
					d.unexpectedEOF()
					return
				}
				continue
			}
		} else {
			d.skipAt(c, i)
			if d.err != nil {
				return
			}
		}
		// A complete value ends at d.off: close containers, or move to the
		// next member or element.
		for {
			if len(d.skipStack) == 0 {
				return
			}
			top := d.skipStack[len(d.skipStack)-1]
			j := d.off
			if j >= len(d.data) || d.data[j] <= ' ' {
				j = d.ws(j)
			}
			if j >= len(data) {
				d.unexpectedEOF()
				return
			}
			c := data[j]
			if c == ']' && top == '[' || c == '}' && top == '{' {
				d.off = j + 1
				d.skipStack = d.skipStack[:len(d.skipStack)-1]
				continue
			}
			if c != ',' {
				if top == '[' {
					d.syntax(j, c, "after array element")
				} else {
					d.syntax(j, c, "after object key:value pair")
				}
				return
			}
			k := j + 1
			if k >= len(d.data) || d.data[k] <= ' ' {
				k = d.ws(k)
			}
			if k >= len(data) {
				d.unexpectedEOF()
				return
			}
			if top == '{' {
				if data[k] != '"' {
					d.syntax(k, data[k], "looking for beginning of object key string")
					return
				}
				if !d.skipKey(k) {
					return
				}
				if k = d.ws(d.off); k >= len(data) {
					d.unexpectedEOF()
					return
				}
			}
			i = k
			break
		}
	}
}

// skipKey validates the key at j and the colon after it.
func (d *Decoder) skipKey(j int) bool {
	d.skipString(j)
	if d.err != nil {
		return false
	}
	k := d.off
	if k >= len(d.data) || d.data[k] <= ' ' {
		k = d.ws(k)
	}
	if k >= len(d.data) {
		d.unexpectedEOF()
		return false
	}
	if d.data[k] != ':' {
		d.syntax(k, d.data[k], "after object key")
		return false
	}
	d.off = k + 1
	return true
}

// Fields is the set of a struct's JSON field names, for Decoder.Field.
type Fields struct {
	names []string
	byLen [33]uint64 // bit n set: names[n] has that many bytes (≤ 32)
	long  uint64     // names longer than 32 bytes
}

// NewFields returns the field set of names, which must be distinct,
// lower-case ASCII (as struct tags usually are) and at most 64.
func NewFields(names ...string) *Fields {
	if len(names) > 64 {
		panic("abi.NewFields: more than 64 names")
	}
	f := &Fields{names: names}
	for n, name := range names {
		for i := 0; i < len(name); i++ {
			if c := name[i]; c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
				panic("abi.NewFields: " + strconv.Quote(name) + " is not lower-case ASCII")
			}
		}
		for _, other := range names[:n] {
			if other == name {
				panic("abi.NewFields: " + strconv.Quote(name) + " twice")
			}
		}
		if len(name) <= 32 {
			f.byLen[len(name)] |= 1 << n
		} else {
			f.long |= 1 << n
		}
	}
	return f
}

// match returns the index of the name key matches as encoding/json matches
// a key to a struct field, or -1. upper says whether key has upper-case or
// non-ASCII characters; without them only an exact match can fold-match a
// lower-case name.
func (f *Fields) match(key []byte, upper bool) int {
	m := f.long
	if len(key) <= 32 {
		m = f.byLen[len(key)]
	}
	for ; m != 0; m &= m - 1 {
		n := bits.TrailingZeros64(m)
		if f.names[n] == string(key) {
			return n
		}
	}
	if !upper {
		return -1
	}
	for n, name := range f.names {
		if foldEqual(key, name) {
			return n
		}
	}
	return -1
}

// foldEqual reports whether key equals the lower-case ASCII name under
// Unicode simple case folding (bytes.EqualFold). The only non-ASCII
// characters that fold to ASCII letters are U+017F (ſ, to s) and U+212A
// (the Kelvin sign, to k).
func foldEqual(key []byte, name string) bool {
	i := 0
	for k := 0; k < len(key); {
		if i >= len(name) {
			return false
		}
		c := key[k]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != name[i] {
				return false
			}
			k++
			i++
			continue
		}
		r, size := utf8.DecodeRune(key[k:])
		switch {
		case r == 0x017F && name[i] == 's', r == 0x212A && name[i] == 'k':
		default:
			return false
		}
		k += size
		i++
	}
	return i == len(name)
}
