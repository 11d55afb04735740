package miner

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "xmrig-rx-0", "rig1.cpu_0", "0", strings.Repeat("a", 64)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", "-x", "x;y", ".x", "a..b", "%2e%2e", "A", "a b", "a\x00", strings.Repeat("a", 65), "é"} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for _, tc := range []struct{ typ, algo, want string }{
		{"xmrig", "rx/0", "xmrig-rx-0"},
		{"xmrig", "", "xmrig"},
		{"ttminer", "KAWPOW", "ttminer-kawpow"},
		{"xmrig", "cn-heavy/xhv", "xmrig-cn-heavy-xhv"},
		{"xmrig", "../../etc", "xmrig-etc"},
		{"xmrig", "a;rm -rf /", "xmrig-a-rm-rf"},
	} {
		got := DefaultName(tc.typ, tc.algo)
		if got != tc.want {
			t.Errorf("DefaultName(%q, %q) = %q, want %q", tc.typ, tc.algo, got, tc.want)
		}
		if err := ValidateName(got); err != nil {
			t.Errorf("DefaultName(%q, %q) = %q is not a valid name: %v", tc.typ, tc.algo, got, err)
		}
	}
}
