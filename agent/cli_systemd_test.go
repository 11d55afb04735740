package agent

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// splitExecStart splits an ExecStart line as systemd does for the cases
// systemdQuote produces: blanks separate words, double quotes group with
// C escapes, $$ and %% are literal $ and %.
func splitExecStart(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(s[i])
			}
		case ch == '"':
			quoted = !quoted
			inWord = true
		case (ch == '$' || ch == '%') && i+1 < len(s) && s[i+1] == ch:
			cur.WriteByte(ch)
			i++
			inWord = true
		case ch == '$' || ch == '%':
			t.Fatalf("unescaped %c in %q", ch, s)
		case !quoted && (ch == ' ' || ch == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	args := []string{"--user", "miner", "--exec", "/opt/rigd bin/rigd", "--",
		"--listen", "0.0.0.0:9090", "--allow-host", "rig 1.lan", "--cors-origin=https://dash.lan:3000", "--log-level", "debug",
		"--node-name", `/a"b\c$HOME%n`}
	code, out, errs := run(t.Context(), append([]string{"systemd-unit"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"\nUser=miner\n", "\nGroup=miner\n", "\nRestart=on-failure\n", "\nStateDirectory=rigd\n", "\nNoNewPrivileges=yes\n",
		"\nProtectSystem=strict\n", "\nProtectHome=yes\n", "\nPrivateTmp=yes\n", "\nCapabilityBoundingSet=\n",
		"\nEnvironment=RIGD_DATA_DIR=/var/lib/rigd\n", "\nWantedBy=multi-user.target\n", "\nKillMode=mixed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	var exec string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	got := splitExecStart(t, exec)
	want := []string{"/opt/rigd bin/rigd", "serve", "--data-dir", "/var/lib/rigd", "--listen", "0.0.0.0:9090", "--allow-host", "rig 1.lan",
		"--cors-origin=https://dash.lan:3000", "--log-level", "debug", "--node-name", `/a"b\c$HOME%n`}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("ExecStart=%s\nsplits into %q\nwant        %q", exec, got, want)
	}

	// Another data dir is made writable.
	code, out, _ = run(t.Context(), "systemd-unit", "--data-dir", "/srv/rigd", "--user", "miner")
	if code != 0 || !strings.Contains(out, "ReadWritePaths=/srv/rigd\n") || !strings.Contains(out, "Environment=RIGD_DATA_DIR=/srv/rigd\n") ||
		!strings.Contains(out, "useradd --system --home-dir /srv/rigd --shell /usr/sbin/nologin miner\n") || !strings.Contains(out, "rigd status --data-dir /srv/rigd\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A data dir with blanks, "$" and "%": each setting quoted its own way
	// (WorkingDirectory= takes no quotes; only ExecStart= expands "$").
	code, out, _ = run(t.Context(), "systemd-unit", "--data-dir", "/srv/my rig$x%n")
	for _, want := range []string{
		"\nExecStart=/", ` serve --data-dir "/srv/my rig$$x%%n"` + "\n", "\nEnvironment=\"RIGD_DATA_DIR=/srv/my rig$x%%n\"\n",
		"\nWorkingDirectory=/srv/my rig$x%%n\n", "\nReadWritePaths=\"/srv/my rig$x%%n\"\n", "rigd status --data-dir '/srv/my rig$x%n'\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, unit lacks %q:\n%s", code, want, out)
		}
	}
	// Bad serve flags are refused as `rigd serve` would: the unit would
	// restart for ever.
	for _, bad := range [][]string{{"--nope"}, {"--poll-interval", "often"}, {"--poll-interval", "0s"}, {"--retention-raw", "-1h"},
		{"--retention-minute", "1h"}, {"--adapter-digest", "nothex"}, {"extra"}, {"--data-dir", "relative"}, {"--user", "a b"}, {"--user", "ri%n"},
		{"--log-level", "loud"}, {"--log-level", "info+2"}, {"--log-format", "xml"}, {"--listen", "garbage"}, {"--listen", "127.0.0.1:99999"},
		{"--p2p-listen", "bogus"}, {"--node-role", "king"}, {"--alert-command", "x"}, {"--alert-webhook", "ftp://x/y"},
		{"--release-base-url", "not a url"}, {"--api-prefix", "/a/../b"}, {"--api-prefix", "/api?x=1"},
		{"--rate-limit", "NaN"}, {"--rate-limit", "0"}, {"--rate-burst", "0"}, {"--read-header-timeout", "0s"}, {"--adapters-dir", "/etc/passwd"}} {
		if code, _, errs := run(t.Context(), append([]string{"systemd-unit"}, bad...)...); code != 2 || strings.Count(errs, "\n") != 1 {
			t.Errorf("systemd-unit %v: exit %d, stderr %q", bad, code, errs)
		}
	}
}

func TestSparkline(t *testing.T) {
	if s := sparkline([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 8); s != "▁▂▃▄▅▆▇█" {
		t.Fatalf("%q", s)
	}
	if s := sparkline([]float64{5, 5, 5}, 10); s != "▅▅▅" {
		t.Fatalf("flat %q", s)
	}
	if n := len([]rune(sparkline(make([]float64, 1000), 60))); n != 60 {
		t.Fatalf("width %d", n)
	}
	if fmtHS(1234.5) != "1.23 kH/s" || fmtHS(12) != "12.0 H/s" || fmtHS(3.2e9) != "3.20 GH/s" {
		t.Fatal(fmtHS(1234.5), fmtHS(12), fmtHS(3.2e9))
	}
	if autoStep("24h", "") != "12m" || autoStep("30d", "") != "6h" || autoStep("1h", "") != "1m" {
		t.Fatal(autoStep("24h", ""), autoStep("30d", ""), autoStep("1h", ""))
	}
}
