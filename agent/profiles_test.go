package agent

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/router"
)

// TestProfileWatchdog: a profile carries a watchdog section (checked like
// a start request's) into the miners started from it, and a profile read
// back can be PUT back as it is.
func TestProfileWatchdog(t *testing.T) {
	srv, api := testServer(t, nil)
	profile := map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "w"}}}
	var e router.ErrorBody
	bad := map[string]any{"name": "p", "type": "xmrig", "profile": profile, "watchdog": map[string]any{"share_probability": 5}}
	if code := api.do("POST", "/profiles", bad, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "share_probability") {
		t.Fatalf("a watchdog that would fire on every poll: %d %+v", code, e)
	}
	var sp miner.StoredProfile
	good := map[string]any{"name": "p", "type": "xmrig", "profile": profile, "watchdog": map[string]any{"min_hashrate_hs": 1000, "low_hashrate_for": "10m"}}
	if code := api.do("POST", "/profiles", good, &sp); code != http.StatusCreated || sp.Watchdog == nil || sp.Watchdog.MinHashrateHS != 1000 {
		t.Fatalf("create: %d %+v", code, sp)
	}
	var back map[string]any
	api.do("GET", "/profiles/"+sp.ID, nil, &back)
	back["name"] = "renamed"
	var updated miner.StoredProfile
	if code := api.do("PUT", "/profiles/"+sp.ID, back, &updated); code != http.StatusOK || updated.Name != "renamed" || updated.Watchdog == nil || updated.Watchdog.LowHashrateFor != sp.Watchdog.LowHashrateFor {
		t.Fatalf("PUT of a GET: %d %+v", code, updated)
	}
	back["id"] = "another"
	if code := api.do("PUT", "/profiles/"+sp.ID, back, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "another") {
		t.Fatalf("PUT with another id: %d %+v", code, e)
	}
	req, err := srv.services.profiles.StartRequest(t.Context(), sp.ID)
	if err != nil || req.Watchdog == nil || req.Watchdog.MinHashrateHS != 1000 {
		t.Fatalf("start request from the profile: %+v, %v", req, err)
	}
}

// TestProfileNames: a name is printed in tables and terminals, so control
// characters are refused (an ESC coloured the terminal, a newline split
// the row); its length is counted in characters, not bytes.
func TestProfileNames(t *testing.T) {
	_, api := testServer(t, nil)
	profile := map[string]any{"algo": "rx/0", "pools": []map[string]any{{"url": "stratum+tcp://127.0.0.1:3333", "user": "w"}}}
	for _, name := range []string{"a\x1b[31mred", "two\nlines", "nul\x00"} {
		var e router.ErrorBody
		if code := api.do("POST", "/profiles", map[string]any{"name": name, "type": "xmrig", "profile": profile}, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "control character") {
			t.Errorf("name %q: %d %+v", name, code, e)
		}
	}
	var sp miner.StoredProfile
	name := strings.Repeat("ночь", 30) + " 🌙" // 122 characters, 244 bytes
	if code := api.do("POST", "/profiles", map[string]any{"name": name, "type": "xmrig", "profile": profile}, &sp); code != http.StatusCreated || sp.Name != name {
		t.Fatalf("a long name in Cyrillic: %d %+v", code, sp)
	}
}
