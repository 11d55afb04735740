package xmrig

import (
	"strings"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// summary is the part of XMRig's GET /2/summary (and the 2.x /1/summary)
// the adapter reads. Pointers distinguish JSON null and absent from 0.
//
// The types are read by the hand-written decode methods below with
// abi.Decoder, which gives json.Unmarshal's results and errors (the json
// tags are the reference: TestDecodeMatchesUnmarshal compares the two).
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
	IP       abi.RawMessage `json:"ip"`
	Uptime   *float64       `json:"uptime"`
	Ping     *float64       `json:"ping"`
	Algo     *string        `json:"algo"`
	Diff     *float64       `json:"diff"`
	Accepted *float64       `json:"accepted"`
	Rejected *float64       `json:"rejected"`
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
	Index    *int          `json:"index"`
	Hashrate []*float64    `json:"hashrate"`
	Name     string        `json:"name"`
	Board    string        `json:"board"`
	BusID    string        `json:"bus_id"`
	Health   *threadHealth `json:"health"`
}

// threadHealth is an unnamed struct type to encoding/json (its name would
// appear in its errors).
type threadHealth = struct {
	Temperature *float64  `json:"temperature"`
	Power       *float64  `json:"power"`
	Clock       *float64  `json:"clock"`
	MemClock    *float64  `json:"mem_clock"`
	FanSpeed    []float64 `json:"fan_speed"`
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
			if err := decodeResponse(r, sum.decode); err != nil {
				return abi.Stats{}, err
			}
			haveSum = true
		case endpointBackends:
			if err := decodeResponse(r, func(d *abi.Decoder) { decodeBackends(d, &backends) }); err != nil {
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

// decodeResponse checks one response and decodes its body with decode,
// reporting a bad body as json.Unmarshal would.
func decodeResponse(r *abi.APIResponse, decode func(*abi.Decoder)) error {
	if r.Status != 0 && r.Status != 200 {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: HTTP status %d", r.Name, r.Status)
	}
	body := strings.TrimSpace(r.Body)
	if body == "" {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: empty body", r.Name)
	}
	var d abi.Decoder
	d.ResetString(body)
	decode(&d)
	if err := d.Finish(); err != nil {
		return sdk.Errorf(abi.CodeBadInput, "api response %q: %v", r.Name, err)
	}
	return nil
}

var (
	summaryFields    = abi.NewFields("version", "uptime", "algo", "paused", "hashrate", "connection", "results", "cpu")
	hashrateFields   = abi.NewFields("total", "highest")
	connectionFields = abi.NewFields("pool", "ip", "uptime", "ping", "algo", "diff", "accepted", "rejected")
	resultsFields    = abi.NewFields("diff_current", "shares_good", "shares_total")
	brandFields      = abi.NewFields("brand")
	backendFields    = abi.NewFields("type", "enabled", "hashrate", "platform", "threads")
	vendorFields     = abi.NewFields("vendor")
	threadFields     = abi.NewFields("index", "hashrate", "name", "board", "bus_id", "health")
	healthFields     = abi.NewFields("temperature", "power", "clock", "mem_clock", "fan_speed")
)

// Go type names as encoding/json spells them in its errors.
const (
	typeCPU    = `struct { Brand string "json:\"brand\"" }`
	typeVendor = `struct { Vendor string "json:\"vendor\"" }`
	typeHealth = `struct { Temperature *float64 "json:\"temperature\""; Power *float64 "json:\"power\""; ` +
		`Clock *float64 "json:\"clock\""; MemClock *float64 "json:\"mem_clock\""; FanSpeed []float64 "json:\"fan_speed\"" }`
)

func (s *summary) decode(d *abi.Decoder) {
	if !d.Object("xmrig.summary") {
		return
	}
	for d.More() {
		switch d.Field(summaryFields) {
		case 0:
			d.String(&s.Version)
		case 1:
			d.Float64Ptr(&s.Uptime)
		case 2:
			d.StringPtr(&s.Algo)
		case 3:
			d.BoolPtr(&s.Paused)
		case 4:
			if d.Null() {
				s.Hashrate = nil
			} else {
				if s.Hashrate == nil {
					s.Hashrate = new(summaryHashrate)
				}
				s.Hashrate.decode(d)
			}
		case 5:
			if d.Null() {
				s.Connection = nil
			} else {
				if s.Connection == nil {
					s.Connection = new(summaryConnection)
				}
				s.Connection.decode(d)
			}
		case 6:
			if d.Null() {
				s.Results = nil
			} else {
				if s.Results == nil {
					s.Results = new(summaryResults)
				}
				s.Results.decode(d)
			}
		case 7:
			if d.Null() {
				s.CPU = nil
				break
			}
			if s.CPU == nil {
				s.CPU = new(struct {
					Brand string `json:"brand"`
				})
			}
			if d.Object(typeCPU) {
				for d.More() {
					if d.Field(brandFields) == 0 {
						d.String(&s.CPU.Brand)
					}
				}
			}
		}
	}
}

func (h *summaryHashrate) decode(d *abi.Decoder) {
	if !d.Object("xmrig.summaryHashrate") {
		return
	}
	for d.More() {
		switch d.Field(hashrateFields) {
		case 0:
			decodeRates(d, &h.Total)
		case 1:
			d.Float64Ptr(&h.Highest)
		}
	}
}

// decodeRates reads a []*float64.
func decodeRates(d *abi.Decoder, v *[]*float64) {
	if d.Null() {
		*v = nil
	} else if d.Array("[]*float64") {
		n := 0
		for d.More() {
			d.Float64Ptr(abi.SliceElem(v, n))
			n++
		}
		abi.SliceEnd(v, n)
	}
}

func (c *summaryConnection) decode(d *abi.Decoder) {
	if !d.Object("xmrig.summaryConnection") {
		return
	}
	for d.More() {
		switch d.Field(connectionFields) {
		case 0:
			d.StringPtr(&c.Pool)
		case 1:
			d.Raw(&c.IP)
		case 2:
			d.Float64Ptr(&c.Uptime)
		case 3:
			d.Float64Ptr(&c.Ping)
		case 4:
			d.StringPtr(&c.Algo)
		case 5:
			d.Float64Ptr(&c.Diff)
		case 6:
			d.Float64Ptr(&c.Accepted)
		case 7:
			d.Float64Ptr(&c.Rejected)
		}
	}
}

func (r *summaryResults) decode(d *abi.Decoder) {
	if !d.Object("xmrig.summaryResults") {
		return
	}
	for d.More() {
		switch d.Field(resultsFields) {
		case 0:
			d.Float64Ptr(&r.DiffCurrent)
		case 1:
			d.Float64Ptr(&r.SharesGood)
		case 2:
			d.Float64Ptr(&r.SharesTotal)
		}
	}
}

// decodeBackends reads the /2/backends array.
func decodeBackends(d *abi.Decoder, bs *[]backend) {
	if d.Null() {
		*bs = nil
	} else if d.Array("[]xmrig.backend") {
		n := 0
		for d.More() {
			abi.SliceElem(bs, n).decode(d)
			n++
		}
		abi.SliceEnd(bs, n)
	}
}

func (b *backend) decode(d *abi.Decoder) {
	if !d.Object("xmrig.backend") {
		return
	}
	for d.More() {
		switch d.Field(backendFields) {
		case 0:
			d.String(&b.Type)
		case 1:
			d.Bool(&b.Enabled)
		case 2:
			decodeRates(d, &b.Hashrate)
		case 3:
			if d.Null() {
				b.Platform = nil
				break
			}
			if b.Platform == nil {
				b.Platform = new(struct {
					Vendor string `json:"vendor"`
				})
			}
			if d.Object(typeVendor) {
				for d.More() {
					if d.Field(vendorFields) == 0 {
						d.String(&b.Platform.Vendor)
					}
				}
			}
		case 4:
			if d.Null() {
				b.Threads = nil
			} else if d.Array("[]xmrig.backendThread") {
				n := 0
				for d.More() {
					abi.SliceElem(&b.Threads, n).decode(d)
					n++
				}
				abi.SliceEnd(&b.Threads, n)
			}
		}
	}
}

func (t *backendThread) decode(d *abi.Decoder) {
	if !d.Object("xmrig.backendThread") {
		return
	}
	for d.More() {
		switch d.Field(threadFields) {
		case 0:
			d.IntPtr(&t.Index)
		case 1:
			decodeRates(d, &t.Hashrate)
		case 2:
			d.String(&t.Name)
		case 3:
			d.String(&t.Board)
		case 4:
			d.String(&t.BusID)
		case 5:
			if d.Null() {
				t.Health = nil
				break
			}
			if t.Health == nil {
				t.Health = new(threadHealth)
			}
			h := t.Health
			if !d.Object(typeHealth) {
				break
			}
			for d.More() {
				switch d.Field(healthFields) {
				case 0:
					d.Float64Ptr(&h.Temperature)
				case 1:
					d.Float64Ptr(&h.Power)
				case 2:
					d.Float64Ptr(&h.Clock)
				case 3:
					d.Float64Ptr(&h.MemClock)
				case 4:
					if d.Null() {
						h.FanSpeed = nil
					} else if d.Array("[]float64") {
						n := 0
						for d.More() {
							d.Float64(abi.SliceElem(&h.FanSpeed, n))
							n++
						}
						abi.SliceEnd(&h.FanSpeed, n)
					}
				}
			}
		}
	}
}

func statsFromSummary(s *summary) abi.Stats {
	var st abi.Stats
	st.Version = s.Version
	st.UptimeS = nonNeg(s.Uptime)
	st.Paused = s.Paused
	if s.Hashrate != nil {
		st.HashrateReading = true // [null, null, null] while not hashing
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
