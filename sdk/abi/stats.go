package abi

import "slices"

// Merge overlays the known values of p onto s: every non-nil pointer and
// non-empty string in p replaces the value in s. Devices are matched by
// (Kind, ID) and merged field by field; devices only in p are appended, so a
// device is never merged into another and never silently dropped.
func (s *Stats) Merge(p *Stats) {
	if p == nil {
		return
	}
	set := setF
	if p.HashrateReading {
		set = replaceF
	}
	set(&s.HashrateHS, p.HashrateHS)
	set(&s.Hashrate60sHS, p.Hashrate60sHS)
	set(&s.Hashrate15mHS, p.Hashrate15mHS)
	setF(&s.HashrateMaxHS, p.HashrateMaxHS)
	setF(&s.EffectiveHashrateHS, p.EffectiveHashrateHS)
	setF(&s.EffectiveWindowS, p.EffectiveWindowS)
	setI(&s.Accepted, p.Accepted)
	setI(&s.Rejected, p.Rejected)
	setI(&s.Stale, p.Stale)
	setS(&s.LastRejectReason, p.LastRejectReason)
	setS(&s.Pool, p.Pool)
	setB(&s.PoolConnected, p.PoolConnected)
	setF(&s.PoolPingMS, p.PoolPingMS)
	setF(&s.Difficulty, p.Difficulty)
	setF(&s.UptimeS, p.UptimeS)
	setS(&s.Algorithm, p.Algorithm)
	setS(&s.Version, p.Version)
	setB(&s.Paused, p.Paused)
	for i := range p.Devices {
		s.mergeDevice(&p.Devices[i], set)
	}
}

// MergeDevice merges d into the device of the same (Kind, ID), appending it
// when there is none. Devices stay sorted by kind then id.
func (s *Stats) MergeDevice(d *Device) { s.mergeDevice(d, setF) }

// mergeDevice is MergeDevice setting the hashrate with setHS.
func (s *Stats) mergeDevice(d *Device, setHS func(**float64, *float64)) {
	for i := range s.Devices {
		if s.Devices[i].Kind == d.Kind && s.Devices[i].ID == d.ID {
			s.Devices[i].merge(d, setHS)
			return
		}
	}
	s.Devices = append(s.Devices, d.Clone())
	slices.SortStableFunc(s.Devices, func(a, b Device) int {
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		return a.ID - b.ID
	})
}

// merge overlays p's known values onto d, the hashrate with setHS.
func (d *Device) merge(p *Device, setHS func(**float64, *float64)) {
	setS(&d.BusID, p.BusID)
	setS(&d.Name, p.Name)
	setHS(&d.HashrateHS, p.HashrateHS)
	setF(&d.TempC, p.TempC)
	setF(&d.FanPct, p.FanPct)
	setF(&d.PowerW, p.PowerW)
	setI(&d.Accepted, p.Accepted)
	setI(&d.Rejected, p.Rejected)
	setI(&d.Stale, p.Stale)
	setF(&d.CoreClockMHz, p.CoreClockMHz)
	setF(&d.MemClockMHz, p.MemClockMHz)
	setF(&d.VRAMFreeMiB, p.VRAMFreeMiB)
}

// Clone returns a deep copy of s that shares no pointers with it.
func (s *Stats) Clone() Stats {
	var c Stats
	c.Merge(s)
	c.HashrateReading = s.HashrateReading
	if s.Devices != nil && c.Devices == nil {
		c.Devices = []Device{}
	}
	return c
}

// Clone returns a deep copy of d.
func (d *Device) Clone() Device {
	c := Device{ID: d.ID, Kind: d.Kind}
	c.merge(d, setF)
	return c
}

// replaceF sets *dst to a copy of v, nil included.
func replaceF(dst **float64, v *float64) {
	*dst = nil
	setF(dst, v)
}

func setF(dst **float64, v *float64) {
	if v != nil {
		x := *v
		*dst = &x
	}
}

func setI(dst **int64, v *int64) {
	if v != nil {
		x := *v
		*dst = &x
	}
}

func setB(dst **bool, v *bool) {
	if v != nil {
		x := *v
		*dst = &x
	}
}

func setS(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// F returns a pointer to v, for building Stats.
func F(v float64) *float64 { return &v }

// I returns a pointer to v, for building Stats.
func I(v int64) *int64 { return &v }

// B returns a pointer to v, for building Stats.
func B(v bool) *bool { return &v }
