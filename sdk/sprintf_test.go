package sdk

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

// sprintfArgs are values of every supported type, nasty ones included.
var sprintfArgs = []any{
	"", "a", "pool.example.com:3333", "\"quoted\" \\ \n\t\x00\x7f é 😀 \xff \u2028", []byte("ab\xff"), []byte(nil),
	true, false, 0, -1, 42, math.MaxInt64, math.MinInt64, int8(-8), int16(300), int32(-70000), int64(1) << 40,
	uint(7), uint8(255), uint16(65535), uint32(1) << 31, uint64(math.MaxUint64), 0x1F600, 0x110000,
	0.0, math.Copysign(0, -1), 1.5, 39.77, 1e6, 1e21, 1e-7, 123456789.0, math.MaxFloat64, math.SmallestNonzeroFloat64,
	math.NaN(), math.Inf(1), math.Inf(-1), float32(0.1), float32(3e38),
	[]int{}, []int(nil), []int{0, 1, -2}, []string{}, []string(nil), []string{"a", "b c", "\"q\""},
	errors.New("boom"), (&abi.Error{Code: "x", Message: "y"}).Error(), stringer{"st"}, &abi.Error{Code: "c", Message: "m"},
	nil,
}

// TestSprintfMatchesFmt compares sprintf with fmt.Sprintf on every
// supported verb and argument type, and on missing, extra and nil
// arguments.
func TestSprintfMatchesFmt(t *testing.T) {
	check := func(format string, args ...any) { // not a printf wrapper for vet: see fmtSprintf
		t.Helper()
		if got, want := sprintf(format, args), fmtSprintf(format, args); got != want {
			t.Errorf("sprintf(%q, %#v) = %q, fmt.Sprintf %q", format, args, got, want)
		}
	}
	for _, verb := range []string{"%v", "%s", "%d", "%q"} {
		for _, a := range sprintfArgs {
			if _, isErr := a.(error); isErr && verb == "%d" {
				continue // unsupported: fmt prints the error's fields
			}
			if _, isStr := a.(stringer); isStr && verb == "%d" {
				continue
			}
			check("x "+verb+" y", a)
		}
	}
	check("")
	check("no verbs")
	check("100%%")
	check("trailing %")
	check("%d and %s", 1)
	check("%d", 1, "extra", 2.5, nil, []int{1})
	check("%q: %v (%d/%d)", "name", errors.New("e"), 3, 4)
	r := rand.New(rand.NewPCG(41, 42))
	verbs := []string{"%v", "%s", "%d", "%q", "%%", " ", "x", "é"}
	for range 20000 {
		format := ""
		var args []any
		for n := r.IntN(5); n > 0; n-- {
			format += verbs[r.IntN(len(verbs))]
		}
		for n := r.IntN(4); n > 0; n-- {
			a := sprintfArgs[r.IntN(len(sprintfArgs))]
			if _, isErr := a.(error); isErr {
				continue
			}
			if _, isStr := a.(stringer); isStr {
				continue
			}
			args = append(args, a)
		}
		check(format, args...)
	}
}

// fmtSprintf hides the format from vet: the cases are bad on purpose.
var fmtSprintf = func(format string, args []any) string { return fmt.Sprintf(format, args...) }

func TestErrorfUnsupported(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%5d", "%!d(unsupported)"},
		{"%-5s|", "%!s(unsupported)|"},
		{"%x", "%!x(unsupported)"},
		{"%d", "%!d(unsupported)"},
	} {
		var arg any = 1
		if tc.format == "%d" {
			arg = errors.New("e")
		}
		if got := Errorf(abi.CodeInternal, tc.format, arg).(*abi.Error).Message; got != tc.want {
			t.Errorf("Errorf(%q) = %q, want %q", tc.format, got, tc.want)
		}
	}
}

type asErr struct{ target *abi.Error }

func (e asErr) Error() string { return "as" }
func (e asErr) As(v any) bool {
	if p, ok := v.(**abi.Error); ok && e.target != nil {
		*p = e.target
		return true
	}
	return false
}

// TestAsError compares asError with errors.As.
func TestAsError(t *testing.T) {
	a, b := &abi.Error{Code: "a"}, &abi.Error{Code: "b"}
	for _, err := range []error{
		nil, errors.New("x"), a, fmt.Errorf("w: %w", a), fmt.Errorf("w: %w", fmt.Errorf("v: %w", b)),
		errors.Join(errors.New("x"), fmt.Errorf("w: %w", b), a), errors.Join(errors.New("x")),
		fmt.Errorf("%w and %w", errors.New("x"), b), asErr{a}, asErr{}, fmt.Errorf("w: %w", asErr{b}),
		errors.Join(asErr{}, a),
	} {
		var want *abi.Error
		errors.As(err, &want)
		if got := asError(err); got != want {
			t.Errorf("asError(%v) = %v, errors.As %v", err, got, want)
		}
	}
}
