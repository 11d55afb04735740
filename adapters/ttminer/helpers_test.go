package ttminer

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "null"
	}
	b, _ := json.Marshal(*p)
	return string(b)
}

func eq(p *float64, want float64) bool { return p != nil && *p == want }

func eqI(p *int64, want int64) bool { return p != nil && *p == want }

// near compares to four significant digits, the precision TT-Miner prints.
func near(got, want float64) bool { return math.Abs(got-want) <= 5e-4*math.Abs(want) }

func itoa(n int) string { return strconv.Itoa(n) }
