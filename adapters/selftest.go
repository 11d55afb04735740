package adapters

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/rigd/rigd/sdk/abi"
)

// selfTestCalls is how many calls the leak check makes on one instance.
const selfTestCalls = 40

// SelfTest exercises a loaded module the way the agent will use it, with
// inputs that need no miner: build_command on a sample profile, parse_line
// on awkward lines (empty, invalid UTF-8, NUL bytes, a maximal line),
// parse_api on an empty reply, reset, and a leak check that repeats a call
// on one instance and fails if linear memory keeps growing. An adapter
// error (*abi.Error) is an acceptable answer to any of these; a protocol
// violation, trap or timeout is not.
func (m *Module) SelfTest(ctx context.Context) error {
	fail := func(step string, err error) error {
		var ce *CallError
		if errors.As(err, &ce) {
			return fmt.Errorf("self-test %s: %w", step, err)
		}
		return fmt.Errorf("adapter %s: self-test %s: %w", m.label(), step, err)
	}
	var ae *abi.Error
	if _, err := m.BuildCommand(ctx, sampleRequest(m.meta)); err != nil && !errors.As(err, &ae) {
		return fail("build_command", err)
	}

	s := m.NewSession()
	defer s.Close()
	if m.Has(abi.ExportParseLine) {
		lines := [][]byte{
			{},
			[]byte("[2026-01-01 00:00:00.000]  rigd     self-test line"),
			[]byte("invalid utf-8 \xff\xfe\xfd and a NUL \x00 byte"),
			[]byte(strings.Repeat("x", abi.MaxLineBytes)),
		}
		for _, st := range []abi.Stream{abi.Stdout, abi.Stderr} {
			if _, err := s.ParseLines(ctx, st, lines); err != nil && !errors.As(err, &ae) {
				return fail("parse_line", err)
			}
		}
	}
	if m.Has(abi.ExportParseAPI) {
		req := abi.APIRequest{Responses: []abi.APIResponse{{Name: "selftest", Status: 200, Body: ""}}}
		if _, err := s.ParseAPI(ctx, req); err != nil && !errors.As(err, &ae) {
			return fail("parse_api", err)
		}
	}
	if err := s.Reset(ctx); err != nil && !errors.As(err, &ae) {
		return fail("reset", err)
	}
	if err := m.leakCheck(ctx); err != nil {
		return fail("leak check", err)
	}
	return nil
}

// leakCheck calls metadata repeatedly on one dedicated instance. A healthy
// adapter reaches a steady state far below the recycle threshold; one that
// grows its memory on every call crosses it.
func (m *Module) leakCheck(ctx context.Context) error {
	if err := m.acquire(); err != nil {
		return err
	}
	defer m.release()
	in, err := m.newInstance(ctx)
	if err != nil {
		return err
	}
	defer in.close()
	start := in.memoryBytes()
	for i := range selfTestCalls {
		if _, err := m.call(ctx, in, abi.ExportMetadata, nil); err != nil {
			return fmt.Errorf("call %d: %w", i+1, err)
		}
		if in.memoryBytes() > RecycleBytes {
			return fmt.Errorf("%w: linear memory grew from %d KiB to %d KiB over %d metadata calls (leak)",
				ErrProtocol, start>>10, in.memoryBytes()>>10, i+1)
		}
	}
	return nil
}

func sampleRequest(meta abi.Metadata) abi.BuildRequest {
	p := abi.Profile{
		Pools:  []abi.Pool{{URL: "stratum+tcp://127.0.0.1:3333", User: "rigd-self-test", Pass: "x"}},
		Worker: "selftest",
	}
	if len(meta.Algorithms) > 0 {
		p.Algo = meta.Algorithms[0].Name
	}
	return abi.BuildRequest{
		Profile: p,
		Instance: abi.Instance{
			Name:     meta.Name + "-selftest",
			APIPort:  45678,
			APIToken: "selftest-token",
			OS:       runtime.GOOS,
			Arch:     runtime.GOARCH,
		},
	}
}
