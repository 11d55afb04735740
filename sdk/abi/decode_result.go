package abi

// Decoders of the results guests return, for the host: json.Unmarshal's
// reflection costs the host as much per parse_line call as a quarter of the
// guest's own work.

var (
	lineResultFields = NewFields("events", "stats")
	eventFields      = NewFields("type", "time", "message", "accepted", "rejected", "reason", "difficulty",
		"latency_ms", "pool", "algo", "height", "donate", "hashrate_hs", "device")
	statsFields = NewFields("hashrate_hs", "hashrate_60s_hs", "hashrate_15m_hs", "hashrate_max_hs",
		"effective_hashrate_hs", "effective_window_s", "accepted", "rejected", "stale", "last_reject_reason",
		"pool", "pool_connected", "pool_ping_ms", "difficulty", "uptime_s", "algorithm", "version", "paused", "devices", "hashrate_reading")
)

// DecodeJSON reads a LineResult from d as json.Unmarshal would into r.
func (r *LineResult) DecodeJSON(d *Decoder) {
	if !d.Object("abi.LineResult") {
		return
	}
	for d.More() {
		switch d.Field(lineResultFields) {
		case 0:
			if d.Null() {
				r.Events = nil
			} else if d.Array("[]abi.Event") {
				n := 0
				for d.More() {
					SliceElem(&r.Events, n).decodeJSON(d)
					n++
				}
				SliceEnd(&r.Events, n)
			}
		case 1:
			if d.Null() {
				r.Stats = nil
			} else {
				if r.Stats == nil {
					r.Stats = new(Stats)
				}
				r.Stats.DecodeJSON(d)
			}
		}
	}
}

func (e *Event) decodeJSON(d *Decoder) {
	if !d.Object("abi.Event") {
		return
	}
	for d.More() {
		switch d.Field(eventFields) {
		case 0:
			d.String(&e.Type)
		case 1:
			d.String(&e.Time)
		case 2:
			d.String(&e.Message)
		case 3:
			d.Int64Ptr(&e.Accepted)
		case 4:
			d.Int64Ptr(&e.Rejected)
		case 5:
			d.String(&e.Reason)
		case 6:
			d.Float64Ptr(&e.Difficulty)
		case 7:
			d.Float64Ptr(&e.LatencyMS)
		case 8:
			d.String(&e.Pool)
		case 9:
			d.String(&e.Algo)
		case 10:
			d.Int64Ptr(&e.Height)
		case 11:
			d.Bool(&e.Donate)
		case 12:
			d.Float64Ptr(&e.HashrateHS)
		case 13:
			if d.Null() {
				e.Device = nil
			} else {
				if e.Device == nil {
					e.Device = new(Device)
				}
				e.Device.decodeJSON(d)
			}
		}
	}
}

// DecodeJSON reads Stats from d as json.Unmarshal would into s.
func (s *Stats) DecodeJSON(d *Decoder) {
	if !d.Object("abi.Stats") {
		return
	}
	for d.More() {
		switch d.Field(statsFields) {
		case 0:
			d.Float64Ptr(&s.HashrateHS)
		case 1:
			d.Float64Ptr(&s.Hashrate60sHS)
		case 2:
			d.Float64Ptr(&s.Hashrate15mHS)
		case 3:
			d.Float64Ptr(&s.HashrateMaxHS)
		case 4:
			d.Float64Ptr(&s.EffectiveHashrateHS)
		case 5:
			d.Float64Ptr(&s.EffectiveWindowS)
		case 6:
			d.Int64Ptr(&s.Accepted)
		case 7:
			d.Int64Ptr(&s.Rejected)
		case 8:
			d.Int64Ptr(&s.Stale)
		case 9:
			d.String(&s.LastRejectReason)
		case 10:
			d.String(&s.Pool)
		case 11:
			d.BoolPtr(&s.PoolConnected)
		case 12:
			d.Float64Ptr(&s.PoolPingMS)
		case 13:
			d.Float64Ptr(&s.Difficulty)
		case 14:
			d.Float64Ptr(&s.UptimeS)
		case 15:
			d.String(&s.Algorithm)
		case 16:
			d.String(&s.Version)
		case 17:
			d.BoolPtr(&s.Paused)
		case 18:
			if d.Null() {
				s.Devices = nil
			} else if d.Array("[]abi.Device") {
				n := 0
				for d.More() {
					SliceElem(&s.Devices, n).decodeJSON(d)
					n++
				}
				SliceEnd(&s.Devices, n)
			}
		case 19:
			d.Bool(&s.HashrateReading)
		}
	}
}
