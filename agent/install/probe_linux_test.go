package install

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rigd/rigd/sdk/abi"
)

// TestProbeReapsOrphans: in a child subreaper (as rigd serve is), the
// helpers a probed binary forked are reaped when the probe ends, not left
// as zombies of the agent.
func TestProbeReapsOrphans(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl: %v", errno)
	}
	bin := filepath.Join(t.TempDir(), "forking-miner")
	script := "#!/bin/sh\nsleep 60 &\nsleep 60 &\necho 'XMRig 6.16.0'\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	before := zombieChildren(t)
	for range 3 {
		if v, err := ProbeVersion(context.Background(), bin, abi.VersionProbe{Args: []string{"--version"}}); err != nil || v != "6.16.0" {
			t.Fatalf("probe: %q, %v", v, err)
		}
	}
	if after := zombieChildren(t); after > before {
		t.Fatalf("%d zombie children after 3 probes (%d before)", after, before)
	}
}

// zombieChildren counts this process's children that are zombies.
func zombieChildren(t *testing.T) int {
	t.Helper()
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[0] == "Z" && f[1] == strconv.Itoa(self) {
			n++
		}
	}
	return n
}
