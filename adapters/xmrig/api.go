package xmrig

import (
	"encoding/json"
	"strings"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// summary is the part of XMRig's GET /2/summary (and the 2.x /1/summary)
// the adapter reads. Pointers distinguish JSON null and absent from 0.
type summary struct {
	Version    string             `json:"version"`
	Uptime     *float64           `json:"uptime"`
	Algo       *string            `json:"algo"`
	Paused     *bool              `json:"paused"`
	Hashrate   *summaryHashrate   `json:"hashrate"`
	Connection *summaryConnection `json:"connection"`
	Results    *summaryResults    `json:"results"`
	CPU        *struct {
		Brand string `json:"brand"`
	} `json:"cpu"`
}

type summaryHashrate struct {
	Total   []*float64 `json:"total"`
	Highest *float64   `json:"highest"`
}

type summaryConnection struct {
	Pool *string `json:"pool"`
	// IP is null while XMRig is not connected (6.x keeps "pool" set then);
	// nil when the key is absent (2.x).
	IP       json.RawMessage `json:"ip"`
	Uptime   *float64        `json:"uptime"`
	Ping     *float64        `json:"ping"`
	Algo     *string         `json:"algo"`
	Diff     *float64        `json:"diff"`
	Accepted *float64        `json:"accepted"`
	Rejected *float64        `json:"rejected"`
}

type summaryResults struct {
	DiffCurrent *float64 `json:"diff_current"`
	SharesGood  *float64 `json:"shares_good"`
	SharesTotal *float64 `json:"shares_total"`
}

// backend is one element of GET /2/backends.
type backend struct {
	Type     string     `json:"type"`
	Enabled  bool       `json:"enabled"`
	Hashrate []*float64 `json:"hashrate"`
	Platform *struct {
		Vendor string `json:"vendor"`
	} `json:"platform"`
	Threads []backendThread `json:"threads"`
}

// backendThread is a CPU, CUDA or OpenCL thread; GPU threads carry their
// device's fields (XMRig's CudaDevice/OclDevice toJSON).
type backendThread struct {
	Index    *int       `json:"index"`
	Hashrate []*float64 `json:"hashrate"`
	Name     string     `json:"name"`
	Board    string     `json:"board"`
	BusID    string     `json:"bus_id"`
	Health   *struct {
		Temperature *float64  `json:"temperature"`
		Power       *float64  `json:"power"`
		Clock       *float64  `json:"clock"`
		MemClock    *float64  `json:"mem_clock"`
		FanSpeed    []float64 `json:"fan_speed"`
	} `json:"health"`
}

// ParseAPI turns one poll of /2/summary (required) and /2/backends
// (optional) into Stats.
func (a *Adapter) ParseAPI(req abi.APIRequest) (abi.Stats, error) {
	var (
		sum      summary
		backends []backend
		haveSum  bool
		haveBack bool
	)
	for i := range req.Responses {
		r := &req.Responses[i]
		switch r.Name {
		case endpointSummary:
			if err := decodeResponse(r, &sum); err != nil {
				return abi.Stats{}, err
			}
			haveSum = true
		case endpointBackends:
			if err := decodeResponse(r, &backends); err != nil {
				return abi.Stats{}, err
			}
			haveBack = true
		}
	}
	if !haveSum {
		return abi.Stats{}, sdk.Errorf(abi.CodeBadInput, "api response %q is missing", endpointSummary)
	}
	st := statsFromSummary(&sum)
	if haveBack {
		st.Devices = devicesFromBackends(backends, &sum)
	}
	return st, nil
}

func decodeResponse(r *abi.APIResponse, v any) error {
	if r.Status != 0 && r.Status != 200 {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: HTTP status %d", r.Name, r.Status)
	}
	body := strings.TrimSpace(r.Body)
	if body == "" {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: empty body", r.Name)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: %v", r.Name, err)
	}
	return nil
}

func statsFromSummary(s *summary) abi.Stats {
	var st abi.Stats
	st.Version = s.Version
	st.UptimeS = nonNeg(s.Uptime)
	st.Paused = s.Paused
	if s.Hashrate != nil {
		dst := [3]**float64{&st.HashrateHS, &st.Hashrate60sHS, &st.Hashrate15mHS}
		for i := 0; i < len(dst) && i < len(s.Hashrate.Total); i++ {
			*dst[i] = nonNeg(s.Hashrate.Total[i])
		}
		st.HashrateMaxHS = nonNeg(s.Hashrate.Highest)
	}
	if s.Algo != nil {
		st.Algorithm = *s.Algo
	}
	if c := s.Connection; c != nil {
		if c.Pool != nil && *c.Pool != "" {
			st.Pool = *c.Pool
		}
		var connected bool
		switch {
		case c.IP != nil:
			connected = st.Pool != "" && string(c.IP) != "null" && string(c.IP) != `""`
		default:
			connected = st.Pool != "" && c.Uptime != nil && *c.Uptime > 0
		}
		st.PoolConnected = &connected
		if connected {
			st.PoolPingMS = nonNeg(c.Ping)
			st.Difficulty = positive(c.Diff)
		}
		st.Accepted = count(c.Accepted)
		st.Rejected = count(c.Rejected)
		if st.Algorithm == "" && c.Algo != nil {
			st.Algorithm = *c.Algo
		}
	}
	if r := s.Results; r != nil {
		if st.Accepted == nil {
			st.Accepted = count(r.SharesGood)
		}
		if st.Rejected == nil && r.SharesGood != nil && r.SharesTotal != nil && *r.SharesTotal >= *r.SharesGood {
			st.Rejected = count(abi.F(*r.SharesTotal - *r.SharesGood))
		}
		if st.Difficulty == nil && (st.PoolConnected == nil || *st.PoolConnected) {
			st.Difficulty = positive(r.DiffCurrent)
		}
	}
	return st
}

// devicesFromBackends returns the CPU backend as device 0 of kind "cpu" and
// one device per GPU index (threads of one GPU are summed).
func devicesFromBackends(bs []backend, s *summary) []abi.Device {
	devs := []abi.Device{}
	for i := range bs {
		b := &bs[i]
		if !b.Enabled {
			continue
		}
		switch b.Type {
		case "cpu":
			d := abi.Device{ID: 0, Kind: "cpu", HashrateHS: first(b.Hashrate)}
			if s.CPU != nil {
				d.Name = strings.TrimSpace(s.CPU.Brand)
			}
			devs = append(devs, d)
		case "cuda", "opencl":
			kind := "nvidia"
			if b.Type == "opencl" {
				kind = "amd"
				if b.Platform != nil {
					switch v := strings.ToLower(b.Platform.Vendor); {
					case strings.Contains(v, "nvidia"):
						kind = "nvidia"
					case strings.Contains(v, "intel"):
						kind = "intel"
					}
				}
			}
			devs = gpuDevices(devs, kind, b.Threads)
		}
	}
	return devs
}

func gpuDevices(devs []abi.Device, kind string, threads []backendThread) []abi.Device {
	start := len(devs)
	for i := range threads {
		t := &threads[i]
		if t.Index == nil || *t.Index < 0 {
			continue
		}
		var d *abi.Device
		for j := start; j < len(devs); j++ {
			if devs[j].ID == *t.Index {
				d = &devs[j]
			}
		}
		if d == nil {
			name := t.Board
			if name == "" {
				name = t.Name
			}
			devs = append(devs, abi.Device{ID: *t.Index, Kind: kind, Name: name, BusID: t.BusID})
			d = &devs[len(devs)-1]
			if h := t.Health; h != nil {
				d.TempC = positive(h.Temperature)
				d.PowerW = positive(h.Power)
				d.CoreClockMHz = positive(h.Clock)
				d.MemClockMHz = positive(h.MemClock)
				if len(h.FanSpeed) > 0 && h.FanSpeed[0] >= 0 && h.FanSpeed[0] <= 100 {
					d.FanPct = abi.F(h.FanSpeed[0])
				}
			}
		}
		if hr := first(t.Hashrate); hr != nil {
			if d.HashrateHS == nil {
				d.HashrateHS = abi.F(0)
			}
			*d.HashrateHS += *hr
		}
	}
	return devs
}

func first(v []*float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	return nonNeg(v[0])
}

func nonNeg(v *float64) *float64 {
	if v == nil || *v < 0 || *v != *v {
		return nil
	}
	return abi.F(*v)
}

// positive treats 0 as unknown: XMRig reports 0 for a sensor it cannot read
// and a difficulty of 0 before the first job.
func positive(v *float64) *float64 {
	if v == nil || !(*v > 0) {
		return nil
	}
	return abi.F(*v)
}

func count(v *float64) *int64 {
	if v == nil || *v < 0 || *v > 1<<62 || *v != *v {
		return nil
	}
	return abi.I(int64(*v))
}
