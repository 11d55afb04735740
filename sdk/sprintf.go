package sdk

import (
	"strconv"
	"unicode/utf8"
)

// sprintf is the subset of fmt.Sprintf that adapter error messages use,
// with fmt's output, so that guests do not link fmt (which, through os,
// adds about 400 KB to a module):
//
//   - verbs %v, %s, %d and %q, and %%, without flags, width or precision;
//   - arguments of type string, []byte, bool, error, the integer and float
//     types, []int, []string, and values with a String() string method
//     (for %v, %s and %q).
//
// A missing argument, an extra one, a verb that does not fit the argument
// and a nil argument are written as fmt writes them ("%!d(MISSING)",
// "%!d(string=x)", "%!(EXTRA int=1)"). Anything outside the subset (other
// verbs, flags, other argument types) is written as "%!x(unsupported)"
// instead of what fmt would write.
func sprintf(format string, args []any) string {
	b := make([]byte, 0, len(format)+16*len(args))
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		flags := false
		for ; i < len(format) && isFlag(format[i]); i++ {
			flags = true
		}
		if i >= len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		verb := format[i]
		switch {
		case verb == '%' && !flags:
			b = append(b, '%')
			continue
		case flags || verb != 'v' && verb != 's' && verb != 'd' && verb != 'q':
			b = unsupported(b, verb)
			n++ // as fmt, the verb takes an argument
			continue
		case n >= len(args):
			b = append(b, '%', '!', verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		b = appendArg(b, verb, args[n])
		n++
	}
	if n < len(args) {
		b = append(b, "%!(EXTRA "...)
		for k, a := range args[n:] {
			if k > 0 {
				b = append(b, ", "...)
			}
			if a == nil {
				b = append(b, "<nil>"...)
				continue
			}
			b = append(b, typeName(a)...)
			b = append(b, '=')
			b = appendArg(b, 'v', a)
		}
		b = append(b, ')')
	}
	return string(b)
}

// isFlag reports the bytes fmt reads between '%' and the verb: flags,
// width, precision and argument indexes.
func isFlag(c byte) bool {
	return c == '+' || c == '-' || c == '#' || c == ' ' || c == '0' || c >= '1' && c <= '9' ||
		c == '.' || c == '*' || c == '[' || c == ']'
}

// typeName is reflect.TypeOf(a).String() for the supported types.
func typeName(a any) string {
	switch a.(type) {
	case string:
		return "string"
	case []byte:
		return "[]uint8"
	case bool:
		return "bool"
	case int:
		return "int"
	case int8:
		return "int8"
	case int16:
		return "int16"
	case int32:
		return "int32"
	case int64:
		return "int64"
	case uint:
		return "uint"
	case uint8:
		return "uint8"
	case uint16:
		return "uint16"
	case uint32:
		return "uint32"
	case uint64:
		return "uint64"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case []int:
		return "[]int"
	case []string:
		return "[]string"
	}
	return "?"
}

// badVerb is fmt's "%!verb(type=value)".
func badVerb(b []byte, verb byte, a any) []byte {
	b = append(b, '%', '!', verb, '(')
	if a == nil {
		b = append(b, "<nil>"...)
	} else {
		b = append(b, typeName(a)...)
		b = append(b, '=')
		b = appendArg(b, 'v', a)
	}
	return append(b, ')')
}

func appendArg(b []byte, verb byte, arg any) []byte {
	var (
		i       int64
		u       uint64
		signed  bool
		f       float64
		fbits   = 64
		isFloat bool
	)
	switch a := arg.(type) {
	case nil:
		if verb == 'v' {
			return append(b, "<nil>"...)
		}
		return badVerb(b, verb, nil)
	case string:
		return appendStr(b, verb, a, arg)
	case []byte:
		if verb == 's' || verb == 'q' {
			return appendStr(b, verb, string(a), arg)
		}
		b = append(b, '[')
		for k, c := range a {
			if k > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(c), 10)
		}
		return append(b, ']')
	case error:
		if verb == 'd' {
			return unsupported(b, verb)
		}
		return appendStr(b, verb, a.Error(), arg)
	case interface{ String() string }:
		if verb == 'd' {
			return unsupported(b, verb)
		}
		return appendStr(b, verb, a.String(), arg)
	case bool:
		if verb != 'v' {
			return badVerb(b, verb, arg)
		}
		return strconv.AppendBool(b, a)
	case int:
		i, signed = int64(a), true
	case int8:
		i, signed = int64(a), true
	case int16:
		i, signed = int64(a), true
	case int32:
		i, signed = int64(a), true
	case int64:
		i, signed = a, true
	case uint:
		u = uint64(a)
	case uint8:
		u = uint64(a)
	case uint16:
		u = uint64(a)
	case uint32:
		u = uint64(a)
	case uint64:
		u = a
	case float32:
		f, fbits, isFloat = float64(a), 32, true
	case float64:
		f, isFloat = a, true
	case []int:
		b = append(b, '[')
		for k, v := range a {
			if k > 0 {
				b = append(b, ' ')
			}
			b = appendArg(b, verb, v)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for k, v := range a {
			if k > 0 {
				b = append(b, ' ')
			}
			b = appendArg(b, verb, v)
		}
		return append(b, ']')
	default:
		return unsupported(b, verb)
	}
	if isFloat {
		if verb != 'v' {
			return badVerb(b, verb, arg)
		}
		return strconv.AppendFloat(b, f, 'g', -1, fbits)
	}
	switch verb {
	case 'v', 'd':
		if signed {
			return strconv.AppendInt(b, i, 10)
		}
		return strconv.AppendUint(b, u, 10)
	case 'q':
		// fmt quotes an integer as the character it is.
		c := u
		if signed {
			c = uint64(i)
		}
		r := rune(c)
		if c > utf8.MaxRune {
			r = utf8.RuneError
		}
		return strconv.AppendQuoteRune(b, r)
	}
	return badVerb(b, verb, arg)
}

func appendStr(b []byte, verb byte, s string, arg any) []byte {
	switch verb {
	case 'v', 's':
		return append(b, s...)
	case 'q':
		return strconv.AppendQuote(b, s)
	}
	return badVerb(b, verb, arg)
}

func unsupported(b []byte, verb byte) []byte {
	b = append(b, '%', '!', verb)
	return append(b, "(unsupported)"...)
}
