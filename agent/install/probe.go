package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

const (
	// ProbeTimeout bounds one run of ProbeVersion.
	ProbeTimeout = 10 * time.Second
	// maxProbeOutput caps what ProbeVersion reads of the binary's output.
	maxProbeOutput = 64 << 10
	// DefaultProbeRegex is used when the adapter gives none.
	DefaultProbeRegex = `(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)`
)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// ProbeVersion runs binary with vp.Args (no shell, stdin empty, working
// directory the binary's, at most ProbeTimeout, output capped at 64 KiB)
// and returns the first submatch of vp.Regex (DefaultProbeRegex if empty)
// in its combined output with ANSI colour codes removed: "XMRig 6.16.0"
// with `XMRig (\d+\.\d+\.\d+)` gives "6.16.0". The exit status does not
// matter when the output matches (some miners exit 1 after printing their
// version); a binary still running when a line of its output matches is
// stopped there. Failures match ErrVersionProbe.
func ProbeVersion(ctx context.Context, binary string, vp abi.VersionProbe) (string, error) {
	v, err := probeVersion(ctx, binary, vp)
	if err != nil {
		return "", fmt.Errorf("%w: %s %s: %w", ErrVersionProbe, binary, strings.Join(vp.Args, " "), err)
	}
	return v, nil
}

func probeVersion(ctx context.Context, binary string, vp abi.VersionProbe) (string, error) {
	expr := vp.Regex
	if expr == "" {
		expr = DefaultProbeRegex
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return "", fmt.Errorf("regex %q: %w", expr, err)
	}
	if re.NumSubexp() < 1 {
		return "", fmt.Errorf("regex %q has no submatch", expr)
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	// A binary that prints its version and carries on (a miner that does
	// not know the flag starts mining) is stopped at the first whole line
	// that matches, not left running to the timeout.
	out := &cappedBuffer{limit: maxProbeOutput, onLines: func(lines []byte) {
		if re.Match(ansiEscape.ReplaceAll(lines, nil)) {
			cancel()
		}
	}}
	cmd := exec.CommandContext(ctx, binary, vp.Args...)
	cmd.Dir = filepath.Dir(binary)
	cmd.Env = probeEnv()
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	runErr := cmd.Run()
	killProcessGroup(cmd) // whatever it forked dies with it
	text := ansiEscape.ReplaceAllString(out.String(), "")
	if m := re.FindStringSubmatch(text); m != nil {
		v := strings.TrimSpace(m[1])
		if !validVersion(v) {
			return "", fmt.Errorf("%w: %q", ErrInvalidVersion, truncate(v, 64))
		}
		return v, nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", fmt.Errorf("no version within %s", ProbeTimeout)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if runErr != nil {
		return "", fmt.Errorf("%w; output %q", runErr, truncate(strings.TrimSpace(text), 300))
	}
	return "", fmt.Errorf("output %q does not match %q", truncate(strings.TrimSpace(text), 300), expr)
}

// probeEnv is a small environment: the probed binary is not trusted with
// the agent's (tokens, proxies).
func probeEnv() []string {
	env := []string{"LANG=C", "LC_ALL=C", "TERM=dumb", "NO_COLOR=1"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// cappedBuffer keeps the first limit bytes written and drops the rest
// (without failing the writer, so the child is not killed by EPIPE). It
// passes each run of newly completed lines to onLines, if set.
type cappedBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	seen    int // bytes passed to onLines
	onLines func([]byte)
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
		if end := bytes.LastIndexByte(b.buf, '\n') + 1; b.onLines != nil && end > b.seen {
			b.onLines(b.buf[b.seen:end])
			b.seen = end
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
