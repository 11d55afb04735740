package ttminer

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// benchLines returns a 64-line batch of statistics and pool lines in
// TT-Miner's format (the synthetic two-GPU log, which has non-zero values
// in every unit, repeated), as the host would send them.
func benchLines(b *testing.B) [][]byte {
	log := readFile(b, filepath.Join("testdata", "synthetic", "two-gpus-kawpow.log"))
	all := bytes.Split(bytes.TrimSuffix(log, []byte("\n")), []byte("\n"))
	var lines [][]byte
	for len(lines) < abi.MaxLineBatch {
		lines = append(lines, all[10:]...) // from the pool lines on
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

// BenchmarkParseAPI is a whole parse_api call on a two-GPU reply.
func BenchmarkParseAPI(b *testing.B) {
	body := readFile(b, filepath.Join("testdata", "synthetic", "api-2gpus-getstat.json"))
	in, err := json.Marshal(abi.APIRequest{Responses: []abi.APIResponse{{Name: endpointGetstat, Body: string(body)}}})
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
