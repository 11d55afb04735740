package proc

import "testing"

func TestParseStat(t *testing.T) {
	line := "1234 (a) (b c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 10000 200 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{state: 'S', ppid: 1, pgrp: 1234, session: 1234, startTicks: 987654}) {
		t.Errorf("got %+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S a 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 5 0 0", "1 (x) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 5 0 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
