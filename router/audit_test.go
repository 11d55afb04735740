package router

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rigd/rigd/agent/miner"
)

type fakeAudit struct {
	mu      sync.Mutex
	entries []miner.AuditEntry
}

func (f *fakeAudit) AddAudit(_ context.Context, e miner.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	return nil
}

func (f *fakeAudit) Audit(_ context.Context, limit int) ([]miner.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []miner.AuditEntry
	for i := len(f.entries) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, f.entries[i])
	}
	return out, nil
}

// Every state-changing request is audited with who, what, on what and the
// outcome; reads are not.
func TestAuditLog(t *testing.T) {
	al := &fakeAudit{}
	ta := newTestAPI(t, func(c *Config) { c.Audit = al })
	ta.fm.add("cpu", "xmrig", 0)
	ta.do("GET", "/miners", "", nil)
	ta.do("POST", "/miners/cpu/stdin", `{"input":"h"}`, nil)
	ta.do("DELETE", "/miners/nope", "", nil)
	ta.do("DELETE", "/miners/nope", "", map[string]string{"User-Agent": ClientUserAgent})
	al.mu.Lock()
	got := append([]miner.AuditEntry(nil), al.entries...)
	al.mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("entries %+v, want 3 (reads are not audited)", got)
	}
	if e := got[2]; e.Who != "cli:127.0.0.1" {
		t.Fatalf("the CLI's request recorded as %q", e.Who)
	}
	if e := got[0]; e.Who != "api:127.0.0.1" || e.Action != "POST /miners/{name}/stdin" || e.Target != "cpu" || e.Result != "ok" || e.Time.IsZero() {
		t.Fatalf("stdin entry %+v", e)
	}
	if e := got[1]; e.Action != "DELETE /miners/{name}" || e.Target != "nope" || !strings.HasPrefix(e.Result, "404 not_found: ") {
		t.Fatalf("failed stop entry %+v", e)
	}
	resp, body := ta.do("GET", "/audit?limit=1", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"action":"DELETE /miners/{name}"`) || strings.Contains(string(body), "stdin") {
		t.Fatalf("GET /audit: %d %s", resp.StatusCode, body)
	}
}
