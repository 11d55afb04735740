package proc

import (
	"os"
	"syscall"
	"testing"
)

func TestSelfStat(t *testing.T) {
	ticks, err := StartTicks(os.Getpid())
	if err != nil || ticks == 0 {
		t.Fatalf("StartTicks(self) = %d, %v", ticks, err)
	}
	if !Alive(os.Getpid(), ticks) || Alive(os.Getpid(), ticks+1) || Alive(-1, 0) {
		t.Error("Alive is wrong")
	}
	if _, err := StartTicks(1 << 30); err == nil {
		t.Error("StartTicks of a missing pid")
	}
	// Never signal our own group, init or everyone.
	for _, pgid := range []int{0, 1, -1, syscall.Getpgrp()} {
		if err := killGroup(pgid, 0); err == nil {
			t.Errorf("killGroup(%d) allowed", pgid)
		}
	}
}
