package abi

import (
	"encoding/json"
	"testing"
)

// TestMergeHashrateReading: a null keeps the known value, except in a
// hashrate reading, whose windows (and devices' hashrates) replace the
// known ones, "n/a" included; the maximum is kept either way.
func TestMergeHashrateReading(t *testing.T) {
	var s Stats
	s.Merge(&Stats{HashrateHS: F(40), Hashrate60sHS: F(39), Hashrate15mHS: F(38), HashrateMaxHS: F(41),
		Devices: []Device{{ID: 0, Kind: "cpu", HashrateHS: F(40), TempC: F(60)}}})
	s.Merge(&Stats{Accepted: I(3)}) // no reading: nothing changes
	if s.HashrateHS == nil || *s.HashrateHS != 40 {
		t.Fatalf("a delta without a reading changed the hashrate: %v", s.HashrateHS)
	}
	s.Merge(&Stats{HashrateReading: true, Hashrate15mHS: F(37), Devices: []Device{{ID: 0, Kind: "cpu"}}})
	if s.HashrateHS != nil || s.Hashrate60sHS != nil || s.Hashrate15mHS == nil || *s.Hashrate15mHS != 37 {
		t.Fatalf("after an n/a n/a 37 reading: %v %v %v", s.HashrateHS, s.Hashrate60sHS, s.Hashrate15mHS)
	}
	if s.HashrateMaxHS == nil || *s.HashrateMaxHS != 41 || s.Devices[0].HashrateHS != nil || s.Devices[0].TempC == nil {
		t.Fatalf("max or devices after the reading: %+v", s)
	}
	if s.HashrateReading {
		t.Fatal("merged stats carry the reading mark")
	}
	// The mark travels through the guest's encoder and the host's decoder.
	in := Stats{HashrateReading: true, HashrateHS: F(1)}
	var out Stats
	var d Decoder
	d.Reset(in.AppendJSON(nil))
	out.DecodeJSON(&d)
	if err := d.Finish(); err != nil || !out.HashrateReading {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	var std Stats
	if err := json.Unmarshal(in.AppendJSON(nil), &std); err != nil || !std.HashrateReading {
		t.Fatalf("encoding/json: %+v, %v", std, err)
	}
}

func TestStatsCheck(t *testing.T) {
	ok := Stats{HashrateHS: F(0), Accepted: I(0), UptimeS: F(12), Devices: []Device{{ID: 0, TempC: F(-5), FanPct: F(100), PowerW: F(0)}}}
	if err := ok.Check(); err != nil {
		t.Fatalf("zero values and a temperature below zero are possible: %v", err)
	}
	for _, tc := range []struct {
		s    Stats
		want string
	}{
		{Stats{Hashrate15mHS: F(-0.5)}, "stats.hashrate_15m_hs is negative (-0.5)"},
		{Stats{Stale: I(-1)}, "stats.stale is negative (-1)"},
		{Stats{UptimeS: F(-1), Accepted: I(-2)}, "stats.accepted is negative (-2)"},
		{Stats{Devices: []Device{{}, {FanPct: F(-1)}}}, "stats.devices[1].fan_pct is negative (-1)"},
	} {
		if err := tc.s.Check(); err == nil || err.Error() != tc.want {
			t.Errorf("Check() = %v, want %q", err, tc.want)
		}
	}
	r := LineResult{Events: []Event{{Type: EventNewJob, Height: I(-1)}}}
	if err := r.Check(); err == nil || err.Error() != "events[0].height is negative (-1)" {
		t.Errorf("LineResult.Check() = %v", err)
	}
}

// A device an API answer no longer lists is dropped: a GPU that dropped
// out showed its last hashrate and temperature for ever.
func TestMergeAPIDropsUnlistedDevices(t *testing.T) {
	var s Stats
	s.Merge(&Stats{Devices: []Device{{ID: 0, Kind: "nvidia", Name: "RTX 3060"}, {ID: 1, Kind: "nvidia", HashrateHS: F(3e7)}, {ID: 2, Kind: "nvidia"}}})
	s.MergeAPI(&Stats{HashrateHS: F(6.65e7), Devices: []Device{{ID: 0, Kind: "nvidia", HashrateHS: F(2.15e7)}, {ID: 2, Kind: "nvidia", HashrateHS: F(4.5e7)}}})
	if len(s.Devices) != 2 || s.Devices[0].ID != 0 || s.Devices[1].ID != 2 || s.Devices[0].Name != "RTX 3060" || *s.Devices[1].HashrateHS != 4.5e7 {
		t.Fatalf("devices after the API answer without GPU 1: %+v", s.Devices)
	}
	s.MergeAPI(&Stats{HashrateHS: F(1)}) // no device list: devices kept
	if len(s.Devices) != 2 {
		t.Fatalf("a reply without devices dropped them: %+v", s.Devices)
	}
	// A kind the API does not report (the console's own naming) stays.
	s.Merge(&Stats{Devices: []Device{{ID: 0, Kind: "amd"}}})
	s.MergeAPI(&Stats{Devices: []Device{{ID: 0, Kind: "nvidia"}}})
	if len(s.Devices) != 2 || s.Devices[0].Kind != "amd" || s.Devices[1].Kind != "nvidia" || s.Devices[1].ID != 0 {
		t.Fatalf("devices after an answer of another kind: %+v", s.Devices)
	}
	s.MergeAPI(&Stats{Devices: []Device{}}) // an empty list: none left
	if len(s.Devices) != 0 {
		t.Fatalf("an empty device list kept %+v", s.Devices)
	}
}
