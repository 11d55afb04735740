package router

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// Range limits of history queries.
const (
	defaultHistoryRange = 24 * time.Hour
	maxHistoryRange     = 400 * 24 * time.Hour
	maxHistoryPoints    = 100_000
)

// parseWhen parses a history range bound: RFC 3339, or a duration back
// from now ("24h", "90m", "7d").
func parseWhen(s string, now time.Time, name string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil || d < 0 {
		hint := ""
		if strings.Contains(s, " ") {
			hint = "; a '+' in a URL reads as a space: write it %2B"
		}
		return time.Time{}, apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s %q: want an RFC 3339 time (2024-05-01T12:00:00Z) or a duration back from now (24h, 7d)%s", name, s, hint))
	}
	if d == 0 && name == "since" { // until=0 is now
		return time.Time{}, apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("since %q: a duration back from now must be more than 0", s))
	}
	return now.Add(-d), nil
}

// parseDuration is time.ParseDuration plus whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, errors.New("bad day count")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// historyQuery reads since/until/step/device for the series of name.
func (a *API) historyQuery(r *http.Request, name string) (miner.HistoryQuery, error) {
	q := r.URL.Query()
	now := a.now()
	hq := miner.HistoryQuery{Series: name, Since: now.Add(-defaultHistoryRange), Until: now}
	var err error
	if s := q.Get("since"); s != "" {
		if hq.Since, err = parseWhen(s, now, "since"); err != nil {
			return hq, err
		}
	}
	if s := q.Get("until"); s != "" {
		if hq.Until, err = parseWhen(s, now, "until"); err != nil {
			return hq, err
		}
	}
	if s := q.Get("step"); s != "" {
		if hq.Step, err = parseDuration(s); err != nil || hq.Step < 0 {
			return hq, apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("step %q: want a duration like 1m or 1h", s))
		}
	}
	switch {
	case !hq.Until.After(hq.Since):
		return hq, apiError(http.StatusBadRequest, CodeBadRequest, "since must be before until")
	case hq.Until.Sub(hq.Since) > maxHistoryRange:
		return hq, apiError(http.StatusBadRequest, CodeBadRequest, "the range is over 400 days")
	case hq.Step > 0 && hq.Until.Sub(hq.Since)/hq.Step > maxHistoryPoints:
		return hq, apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("over %d points; use a larger step", maxHistoryPoints))
	}
	if hq.Series, err = seriesName(name, q.Get("device")); err != nil {
		return hq, err
	}
	return hq, nil
}

// seriesName is the series of a miner or of one of its devices.
func seriesName(name, device string) (string, error) {
	if device == "" {
		return name, nil
	}
	if err := miner.ValidateName(device); err != nil {
		return "", fmt.Errorf("device: %w", err)
	}
	return name + "/" + device, nil
}

func (a *API) historyMiners(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	out := []miner.HistorySummary{}
	if h := a.cfg.History; h != nil {
		series, err := h.Series(r.Context())
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		for _, s := range series {
			if strings.Contains(s, "/") {
				continue // a device series
			}
			sum, err := h.Summary(r.Context(), s)
			if errors.Is(err, miner.ErrStoreNotFound) {
				continue
			} else if err != nil {
				return fmt.Errorf("history of %q: %w", s, err)
			}
			out = append(out, sum)
		}
		return reply(w, http.StatusOK, out)
	}
	for _, m := range a.cfg.Miners.List() {
		if sum, err := a.memSummary(m.Name); err == nil {
			out = append(out, sum)
		}
	}
	return reply(w, http.StatusOK, out)
}

func (a *API) historyMiner(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	series, err := seriesName(name, r.URL.Query().Get("device"))
	if err != nil {
		return err
	}
	if h := a.cfg.History; h != nil {
		sum, err := h.Summary(r.Context(), series)
		if err != nil {
			return fmt.Errorf("history of %q: %w", series, err)
		}
		return reply(w, http.StatusOK, sum)
	}
	if series != name {
		return notImplemented("device history needs storage, which is not wired into this agent yet")
	}
	sum, err := a.memSummary(name)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, sum)
}

func (a *API) historyHashrate(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	hq, err := a.historyQuery(r, name)
	if err != nil {
		return err
	}
	res := HistoryRange{Series: hq.Series, Since: hq.Since, Until: hq.Until, StepS: hq.Step.Seconds()}
	if h := a.cfg.History; h != nil {
		pts, err := h.Query(r.Context(), hq)
		if err != nil {
			return fmt.Errorf("history of %q: %w", hq.Series, err)
		}
		if len(pts) == 0 {
			// Nothing in the range: say so for a series that never had a
			// point and no miner of that name (a typo), as GET
			// /history/miners/{name} does.
			if _, err := h.Summary(r.Context(), hq.Series); errors.Is(err, miner.ErrStoreNotFound) {
				if _, err := a.cfg.Miners.Get(name); err != nil {
					return fmt.Errorf("history of %q: %w", hq.Series, err)
				}
			}
		}
		res.Source, res.Points = "storage", bucketPoints(pts, hq)
	} else {
		if hq.Series != name {
			return notImplemented("device history needs storage, which is not wired into this agent yet")
		}
		pts, err := a.memQuery(name, hq)
		if err != nil {
			return err
		}
		res.Source, res.Points = "memory", pts
	}
	if res.Points == nil {
		res.Points = []miner.HistoryPoint{}
	}
	if n := len(res.Points); n > maxHistoryPoints {
		// Without a step the finest resolution answers: a year of polls
		// was 300,000 points and 42 MB.
		return apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%d points in this range, over %d: give a step (step=1h)", n, maxHistoryPoints))
	}
	return reply(w, http.StatusOK, res)
}

// memPoints returns a running miner's in-memory history as history
// points: per-minute averages, then the raw polls after the last minute.
func (a *API) memPoints(name string) ([]miner.HistoryPoint, error) {
	hh, err := a.cfg.Miners.HashrateHistory(name)
	if err != nil {
		return nil, err
	}
	var pts []miner.HistoryPoint
	var firstRaw time.Time
	if len(hh.Raw) > 0 {
		firstRaw = hh.Raw[0].Time
	}
	for _, p := range hh.Minutes {
		if !firstRaw.IsZero() && !p.Time.Add(time.Minute).Before(firstRaw) {
			break
		}
		hp := miner.HistoryPoint{Time: p.Time, AvgHS: p.HashrateHS, MinHS: p.HashrateHS, MaxHS: p.HashrateHS, Count: int64(p.Count), Resolution: miner.ResolutionMinute}
		if p.MinHS != nil {
			hp.MinHS = *p.MinHS
		}
		if p.MaxHS != nil {
			hp.MaxHS = *p.MaxHS
		}
		pts = append(pts, hp)
	}
	for _, p := range hh.Raw {
		pts = append(pts, miner.HistoryPoint{Time: p.Time, AvgHS: p.HashrateHS, MinHS: p.HashrateHS, MaxHS: p.HashrateHS, Count: 1, Resolution: miner.ResolutionRaw})
	}
	return pts, nil
}

// memQuery answers a range query from the in-memory history, averaging
// into Step buckets when Step is set.
func (a *API) memQuery(name string, hq miner.HistoryQuery) ([]miner.HistoryPoint, error) {
	all, err := a.memPoints(name)
	if err != nil {
		return nil, err
	}
	var in []miner.HistoryPoint
	for _, p := range all {
		if !p.Time.Before(hq.Since) && !p.Time.After(hq.Until) {
			in = append(in, p)
		}
	}
	return bucketPoints(in, hq), nil
}

// bucketPoints averages pts (in time order) into buckets of hq.Step from
// hq.Since: the store answers from the resolution nearest the step, and
// the answer is spaced by the step itself (step=5m gave 1-minute points).
// A bucket is stamped with its start; its counts and shares are summed.
func bucketPoints(pts []miner.HistoryPoint, hq miner.HistoryQuery) []miner.HistoryPoint {
	if hq.Step <= 0 || len(pts) == 0 {
		return pts
	}
	var out []miner.HistoryPoint
	for _, p := range pts {
		d := p.Time.Sub(hq.Since)
		if d < 0 {
			d = 0 // a rollup that began before since counts in the first bucket
		}
		t := hq.Since.Add(d / hq.Step * hq.Step)
		if n := len(out); n > 0 && out[n-1].Time.Equal(t) {
			b := &out[n-1]
			if b.Count+p.Count > 0 {
				b.AvgHS = (b.AvgHS*float64(b.Count) + p.AvgHS*float64(p.Count)) / float64(b.Count+p.Count)
			}
			b.Count += p.Count
			b.MinHS = math.Min(b.MinHS, p.MinHS)
			b.MaxHS = math.Max(b.MaxHS, p.MaxHS)
			b.AcceptedDelta += p.AcceptedDelta
			b.RejectedDelta += p.RejectedDelta
			continue
		}
		p.Time = t
		out = append(out, p)
	}
	return out
}

// memSummary summarises a running miner's in-memory history.
func (a *API) memSummary(name string) (miner.HistorySummary, error) {
	pts, err := a.memPoints(name)
	if err != nil {
		return miner.HistorySummary{}, err
	}
	if len(pts) == 0 {
		return miner.HistorySummary{}, fmt.Errorf("%w: no history of %q yet", miner.ErrNotFound, name)
	}
	s := miner.HistorySummary{Series: name, MinHS: math.Inf(1), MaxHS: math.Inf(-1), FirstSeen: pts[0].Time, LastSeen: pts[len(pts)-1].Time}
	var total float64
	for _, p := range pts {
		s.Count += p.Count
		total += p.AvgHS * float64(p.Count)
		s.MinHS = math.Min(s.MinHS, p.MinHS)
		s.MaxHS = math.Max(s.MaxHS, p.MaxHS)
	}
	if s.Count > 0 {
		s.AvgHS = total / float64(s.Count)
	}
	if info, err := a.cfg.Miners.Get(name); err == nil {
		if v := info.Stats.Accepted; v != nil {
			s.Accepted = *v
		}
		if v := info.Stats.Rejected; v != nil {
			s.Rejected = *v
		}
	}
	return s, nil
}
