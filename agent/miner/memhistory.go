package miner

import "time"

// HashratePoint is one point of a miner's hashrate history. Raw points
// have Count 1 and no Min/Max.
type HashratePoint struct {
	Time       time.Time `json:"time"`
	HashrateHS float64   `json:"hashrate_hs"`
	MinHS      *float64  `json:"min_hs,omitempty"`
	MaxHS      *float64  `json:"max_hs,omitempty"`
	Count      int       `json:"count"`
}

// HashrateHistory is the in-memory history of one miner: every poll of the
// last RawWindow plus per-minute averages of the last MinuteWindow.
type HashrateHistory struct {
	Raw     []HashratePoint `json:"raw"`
	Minutes []HashratePoint `json:"minutes"`
}

const (
	rawWindow    = 5 * time.Minute
	minuteWindow = 24 * time.Hour
)

// memHistory accumulates points; not safe for concurrent use (the
// supervisor guards it).
type memHistory struct {
	raw     []HashratePoint
	minutes []HashratePoint
	cur     HashratePoint // the minute being accumulated
	sum     float64
}

func (h *memHistory) add(t time.Time, hs float64) {
	h.raw = append(h.raw, HashratePoint{Time: t, HashrateHS: hs, Count: 1})
	cut := 0
	for cut < len(h.raw) && t.Sub(h.raw[cut].Time) > rawWindow {
		cut++
	}
	h.raw = h.raw[cut:]

	minute := t.Truncate(time.Minute)
	if h.cur.Count > 0 && !minute.Equal(h.cur.Time) {
		h.closeMinute()
	}
	if h.cur.Count == 0 {
		h.cur = HashratePoint{Time: minute, MinHS: ptr(hs), MaxHS: ptr(hs)}
		h.sum = 0
	}
	h.cur.Count++
	h.sum += hs
	h.cur.HashrateHS = h.sum / float64(h.cur.Count)
	*h.cur.MinHS = min(*h.cur.MinHS, hs)
	*h.cur.MaxHS = max(*h.cur.MaxHS, hs)

	cut = 0
	for cut < len(h.minutes) && t.Sub(h.minutes[cut].Time) > minuteWindow {
		cut++
	}
	h.minutes = h.minutes[cut:]
}

func (h *memHistory) closeMinute() {
	h.minutes = append(h.minutes, h.cur)
	h.cur = HashratePoint{}
}

// snapshot copies the history; the current minute is included as the last
// minute point.
func (h *memHistory) snapshot() HashrateHistory {
	out := HashrateHistory{
		Raw:     append([]HashratePoint{}, h.raw...),
		Minutes: append([]HashratePoint{}, h.minutes...),
	}
	if h.cur.Count > 0 {
		c := h.cur
		c.MinHS, c.MaxHS = ptr(*c.MinHS), ptr(*c.MaxHS)
		out.Minutes = append(out.Minutes, c)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
