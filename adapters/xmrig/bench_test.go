package xmrig

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// benchLines returns 64 real lines of the 6.16.0 pool capture (the log is
// repeated to fill the batch), as the host would send them.
func benchLines(b *testing.B) [][]byte {
	log := readFile(b, filepath.Join("testdata", "6.16.0", "pool-nocolor.log"))
	all := bytes.Split(bytes.TrimSuffix(log, []byte("\n")), []byte("\n"))
	var lines [][]byte
	for len(lines) < abi.MaxLineBatch {
		lines = append(lines, all[min(len(all), 15):]...) // the timestamped part
	}
	return lines[:abi.MaxLineBatch]
}

// BenchmarkParseLines64 measures the parser alone on a 64-line batch.
func BenchmarkParseLines64(b *testing.B) {
	lines := benchLines(b)
	a := New()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ParseLines(abi.Stdout, lines); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseLines64Call is the whole parse_line call as the wasm export
// runs it: split the input, parse, encode the JSON result.
func BenchmarkParseLines64Call(b *testing.B) {
	in := append([]byte{byte(abi.Stdout)}, bytes.Join(benchLines(b), []byte("\n"))...)
	a := New()
	b.ReportAllocs()
	for b.Loop() {
		if st, out := sdk.Call(a, abi.ExportParseLine, in); st != abi.StatusOK {
			b.Fatalf("%s", out)
		}
	}
}

// BenchmarkParseAPISummary is a whole parse_api call on the real 6.16.0
// /2/summary and /2/backends.
func BenchmarkParseAPISummary(b *testing.B) {
	in, err := json.Marshal(apiRequest(b, filepath.Join("testdata", "6.16.0", "api-summary.json")))
	if err != nil {
		b.Fatal(err)
	}
	a := New()
	b.ReportAllocs()
	for b.Loop() {
		if st, out := sdk.Call(a, abi.ExportParseAPI, in); st != abi.StatusOK {
			b.Fatalf("%s", out)
		}
	}
}
