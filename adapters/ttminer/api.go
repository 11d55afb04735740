package ttminer

import (
	"bytes"
	"strconv"

	"github.com/rigd/rigd/sdk"
	"github.com/rigd/rigd/sdk/abi"
)

// maxAPIDevices bounds the per-GPU lists of a reply: a rig has far fewer,
// and a hostile reply must not make the output exceed the ABI's limit.
const maxAPIDevices = 256

// getstatReply is Claymore's miner_getstat1 reply as TT-Miner sends it:
// {"id":0,"jsonrpc":"2.0","result":["2023.4.0","12","43000000;5;0",...]}.
//
// It is read by decode with abi.Decoder, which gives json.Unmarshal's
// results and errors (the json tags are the reference for the tests).
type getstatReply struct {
	Result []abi.RawMessage `json:"result"`
	Error  abi.RawMessage   `json:"error"`
}

var replyFields = abi.NewFields("result", "error")

func (r *getstatReply) decode(d *abi.Decoder) {
	if !d.Object("ttminer.getstatReply") {
		return
	}
	for d.More() {
		switch d.Field(replyFields) {
		case 0:
			if d.Null() {
				r.Result = nil
			} else if d.Array("[]json.RawMessage") {
				n := 0
				for d.More() {
					d.Raw(abi.SliceElem(&r.Result, n))
					n++
				}
				abi.SliceEnd(&r.Result, n)
			}
		case 1:
			d.Raw(&r.Error)
		}
	}
}

func badAPI(format string, args ...any) error {
	return sdk.Errorf(abi.CodeBadInput, "miner_getstat1: "+format, args...)
}

// ParseAPI turns one miner_getstat1 reply into Stats. The result array:
//
//	0 miner version
//	1 uptime in minutes
//	2 "total;accepted;rejected", total in H/s (Claymore's original used kH/s)
//	3 per-GPU hashrates in H/s, ';'-separated
//	4, 5 dual-mining totals and per-GPU hashrates (not used)
//	6 "temp;fan;temp;fan;…" per GPU
//	7 pool "host:port"
//	8 "invalid;pool_switches;…" (no Stats field; not used)
//
// A reply that is not this shape is a bad_input error; the adapter never
// guesses.
func (a *Adapter) ParseAPI(req abi.APIRequest) (abi.Stats, error) {
	var body string
	found := false
	for i := range req.Responses {
		r := &req.Responses[i]
		if r.Name != endpointGetstat {
			continue
		}
		if r.Status != 0 && r.Status != 200 {
			return abi.Stats{}, badAPI("status %d", r.Status)
		}
		body, found = r.Body, true
	}
	if !found {
		return abi.Stats{}, sdk.Errorf(abi.CodeBadInput, "api response %q is missing", endpointGetstat)
	}
	raw := bytes.TrimSpace([]byte(body))
	if len(raw) == 0 {
		return abi.Stats{}, badAPI("empty reply")
	}
	var rep getstatReply
	var d abi.Decoder
	d.Reset(raw)
	rep.decode(&d)
	if err := d.Finish(); err != nil {
		return abi.Stats{}, badAPI("reply is not a JSON-RPC object: %v", err)
	}
	if e := bytes.TrimSpace(rep.Error); len(e) > 0 && string(e) != "null" && string(e) != "false" && string(e) != `""` {
		return abi.Stats{}, badAPI("TT-Miner answered with an error: %s", clip(string(e)))
	}
	if len(rep.Result) < 3 {
		return abi.Stats{}, badAPI("result has %d elements, want at least 3 (version, uptime, totals)", len(rep.Result))
	}
	res := make([]string, len(rep.Result))
	for i, r := range rep.Result {
		s, ok := element(r)
		if !ok {
			return abi.Stats{}, badAPI("result[%d] is %s, not a string", i, clip(string(r)))
		}
		res[i] = s
	}

	var st abi.Stats
	st.Version = apiVersion(res[0])
	if res[1] != "" {
		v := sdk.ParseDecimal([]byte(res[1]))
		if !v.OK {
			return abi.Stats{}, badAPI("uptime %q is not a number of minutes", clip(res[1]))
		}
		if !a.lines.uptime { // the console's is to the second
			st.UptimeS = abi.F(v.Scaled(0) * 60)
		}
	}

	totals := split(res[2])
	if len(totals) < 1 || totals[0] == "" {
		return abi.Stats{}, badAPI("result[2] %q is not \"hashrate;accepted;rejected\"", clip(res[2]))
	}
	var err error
	if st.HashrateHS, err = number(totals[0], "total hashrate"); err != nil {
		return abi.Stats{}, err
	}
	if len(totals) > 1 {
		if st.Accepted, err = count(totals[1], "accepted"); err != nil {
			return abi.Stats{}, err
		}
	}
	if len(totals) > 2 {
		if st.Rejected, err = count(totals[2], "rejected"); err != nil {
			return abi.Stats{}, err
		}
	}

	var hashrates, tempFan []string
	if len(res) > 3 && res[3] != "" {
		hashrates = split(res[3])
	}
	if len(res) > 6 && res[6] != "" {
		tempFan = split(res[6])
	}
	n := max(len(hashrates), (len(tempFan)+1)/2)
	if n > maxAPIDevices {
		return abi.Stats{}, badAPI("%d GPUs is more than %d", n, maxAPIDevices)
	}
	if n > 0 {
		ids := a.deviceIDs(n)
		st.Devices = make([]abi.Device, n)
		for i := 0; i < n; i++ {
			dev := abi.Device{ID: ids[i], Kind: a.lines.kind(ids[i])}
			if g := a.lines.device(ids[i]); g != nil {
				dev.Name, dev.BusID = g.name, g.bus
			}
			if i < len(hashrates) {
				if dev.HashrateHS, err = number(hashrates[i], "GPU "+strconv.Itoa(i)+" hashrate"); err != nil {
					return abi.Stats{}, err
				}
			}
			if 2*i < len(tempFan) {
				temp, err := number(tempFan[2*i], "GPU "+strconv.Itoa(i)+" temperature")
				if err != nil {
					return abi.Stats{}, err
				}
				// 0 °C is a sensor TT-Miner cannot read; the fan is
				// unknown then too.
				if temp != nil && *temp > 0 {
					dev.TempC = temp
					if 2*i+1 < len(tempFan) {
						if dev.FanPct, err = number(tempFan[2*i+1], "GPU "+strconv.Itoa(i)+" fan"); err != nil {
							return abi.Stats{}, err
						}
					}
				}
			}
			st.Devices[i] = dev
		}
	}

	if len(res) > 7 {
		pool := res[7]
		for i := 0; i < len(pool); i++ {
			if pool[i] == ';' {
				pool = pool[:i]
				break
			}
		}
		if len(pool) > 260 {
			return abi.Stats{}, badAPI("pool %q is too long", clip(pool))
		}
		st.Pool = pool
		st.PoolConnected = abi.B(pool != "")
	}
	return st, nil
}

// deviceIDs maps the API's per-GPU positions to TT-Miner's device ids: the
// ids of the last report's GPU lines when there are as many, else those of
// the devices selected in the start-up list, else the positions.
func (a *Adapter) deviceIDs(n int) []int {
	ids := make([]int, n)
	s := &a.lines
	switch {
	case len(s.lastCycle) == n:
		copy(ids, s.lastCycle)
	case len(s.selected) == n:
		for i := range ids {
			ids[i] = s.selected[i].id
		}
	default:
		for i := range ids {
			ids[i] = i
		}
	}
	return ids
}

// element returns a result element as text: a JSON string, or a number some
// Claymore-compatible miners send unquoted.
func element(r abi.RawMessage) (string, bool) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return "", false
	}
	if r[0] == '"' {
		var s string
		var d abi.Decoder
		d.Reset(r)
		d.String(&s)
		if err := d.Finish(); err != nil {
			return "", false
		}
		return s, true
	}
	if v := sdk.ParseDecimal(r); v.OK {
		return string(r), true
	}
	return "", false
}

func split(s string) []string {
	var out []string
	for {
		i := 0
		for i < len(s) && s[i] != ';' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			return out
		}
		s = s[i+1:]
	}
}

// number parses a non-negative decimal; "" and "off" (Claymore's value for a
// disabled GPU) are unknown.
func number(s, what string) (*float64, error) {
	b := sdk.TrimSpace([]byte(s))
	if len(b) == 0 || string(b) == "off" {
		return nil, nil
	}
	v := sdk.ParseDecimal(b)
	if !v.OK {
		return nil, badAPI("%s %q is not a number", what, clip(s))
	}
	return abi.F(v.Scaled(0)), nil
}

func count(s, what string) (*int64, error) {
	b := sdk.TrimSpace([]byte(s))
	if len(b) == 0 {
		return nil, nil
	}
	n, ok := sdk.ParseUint(b)
	if !ok {
		return nil, badAPI("%s %q is not a share count", what, clip(s))
	}
	return abi.I(n), nil
}

// apiVersion extracts "2023.4.0" from result[0] ("2023.4.0",
// "TT-Miner/2023.4.0", Claymore's "15.0 - ETH"); text without a version
// number is kept as it is, clipped.
func apiVersion(s string) string {
	for i := 0; i < len(s); i++ {
		if !sdk.IsDigit(s[i]) {
			continue
		}
		j, dots := i, 0
		for j < len(s) && (sdk.IsDigit(s[j]) || s[j] == '.') {
			if s[j] == '.' {
				dots++
			}
			j++
		}
		if dots > 0 && s[j-1] != '.' && j-i <= 32 {
			return s[i:j]
		}
		i = j
	}
	b := sdk.TrimSpace([]byte(s))
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}
