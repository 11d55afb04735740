package abi

// Decoders for the inputs of adapter_build_command and adapter_parse_api:
// json.Unmarshal's results and errors without reflection (see Decoder).
// Adding a field to these types means adding it here;
// TestDecodeJSONCoversAllFields fails until that is done.

var (
	buildRequestFields = NewFields("profile", "instance")
	profileFields      = NewFields("algo", "coin", "pools", "worker", "threads", "devices", "intensity", "options", "extra_args")
	poolFields         = NewFields("url", "user", "pass", "tls")
	instanceFields     = NewFields("name", "api_port", "api_token", "os", "arch", "miner_version", "devices")
	deviceFields       = NewFields("id", "bus_id", "name", "kind", "hashrate_hs", "temp_c", "fan_pct", "power_w",
		"accepted", "rejected", "stale", "core_clock_mhz", "mem_clock_mhz", "vram_free_mib")
	apiRequestFields  = NewFields("responses")
	apiResponseFields = NewFields("name", "status", "body")
)

// DecodeJSON reads a BuildRequest from d as json.Unmarshal would into r.
func (r *BuildRequest) DecodeJSON(d *Decoder) {
	if !d.Object("abi.BuildRequest") {
		return
	}
	for d.More() {
		switch d.Field(buildRequestFields) {
		case 0:
			r.Profile.decodeJSON(d)
		case 1:
			r.Instance.decodeJSON(d)
		}
	}
}

func (p *Profile) decodeJSON(d *Decoder) {
	if !d.Object("abi.Profile") {
		return
	}
	for d.More() {
		switch d.Field(profileFields) {
		case 0:
			d.String(&p.Algo)
		case 1:
			d.String(&p.Coin)
		case 2:
			if d.Null() {
				p.Pools = nil
			} else if d.Array("[]abi.Pool") {
				n := 0
				for d.More() {
					SliceElem(&p.Pools, n).decodeJSON(d)
					n++
				}
				SliceEnd(&p.Pools, n)
			}
		case 3:
			d.String(&p.Worker)
		case 4:
			d.Int(&p.Threads)
		case 5:
			if d.Null() {
				p.Devices = nil
			} else if d.Array("[]int") {
				n := 0
				for d.More() {
					d.Int(SliceElem(&p.Devices, n))
					n++
				}
				SliceEnd(&p.Devices, n)
			}
		case 6:
			d.Float64(&p.Intensity)
		case 7:
			if d.Null() {
				p.Options = nil
			} else if d.Object("map[string]json.RawMessage") {
				if p.Options == nil {
					p.Options = map[string]RawMessage{}
				}
				for d.More() {
					k := string(d.Key())
					var v RawMessage
					d.Raw(&v)
					if d.Err() == nil {
						p.Options[k] = v
					}
				}
			}
		case 8:
			DecodeStrings(d, &p.ExtraArgs)
		}
	}
}

func (p *Pool) decodeJSON(d *Decoder) {
	if !d.Object("abi.Pool") {
		return
	}
	for d.More() {
		switch d.Field(poolFields) {
		case 0:
			d.String(&p.URL)
		case 1:
			d.String(&p.User)
		case 2:
			d.String(&p.Pass)
		case 3:
			d.Bool(&p.TLS)
		}
	}
}

func (in *Instance) decodeJSON(d *Decoder) {
	if !d.Object("abi.Instance") {
		return
	}
	for d.More() {
		switch d.Field(instanceFields) {
		case 0:
			d.String(&in.Name)
		case 1:
			d.Int(&in.APIPort)
		case 2:
			d.String(&in.APIToken)
		case 3:
			d.String(&in.OS)
		case 4:
			d.String(&in.Arch)
		case 5:
			d.String(&in.MinerVersion)
		case 6:
			if d.Null() {
				in.Devices = nil
			} else if d.Array("[]abi.Device") {
				n := 0
				for d.More() {
					SliceElem(&in.Devices, n).decodeJSON(d)
					n++
				}
				SliceEnd(&in.Devices, n)
			}
		}
	}
}

func (v *Device) decodeJSON(d *Decoder) {
	if !d.Object("abi.Device") {
		return
	}
	for d.More() {
		switch d.Field(deviceFields) {
		case 0:
			d.Int(&v.ID)
		case 1:
			d.String(&v.BusID)
		case 2:
			d.String(&v.Name)
		case 3:
			d.String(&v.Kind)
		case 4:
			d.Float64Ptr(&v.HashrateHS)
		case 5:
			d.Float64Ptr(&v.TempC)
		case 6:
			d.Float64Ptr(&v.FanPct)
		case 7:
			d.Float64Ptr(&v.PowerW)
		case 8:
			d.Int64Ptr(&v.Accepted)
		case 9:
			d.Int64Ptr(&v.Rejected)
		case 10:
			d.Int64Ptr(&v.Stale)
		case 11:
			d.Float64Ptr(&v.CoreClockMHz)
		case 12:
			d.Float64Ptr(&v.MemClockMHz)
		case 13:
			d.Float64Ptr(&v.VRAMFreeMiB)
		}
	}
}

// DecodeJSON reads an APIRequest from d as json.Unmarshal would into r.
func (r *APIRequest) DecodeJSON(d *Decoder) {
	if !d.Object("abi.APIRequest") {
		return
	}
	for d.More() {
		if d.Field(apiRequestFields) != 0 {
			continue
		}
		if d.Null() {
			r.Responses = nil
		} else if d.Array("[]abi.APIResponse") {
			n := 0
			for d.More() {
				SliceElem(&r.Responses, n).decodeJSON(d)
				n++
			}
			SliceEnd(&r.Responses, n)
		}
	}
}

func (r *APIResponse) decodeJSON(d *Decoder) {
	if !d.Object("abi.APIResponse") {
		return
	}
	for d.More() {
		switch d.Field(apiResponseFields) {
		case 0:
			d.String(&r.Name)
		case 1:
			d.Int(&r.Status)
		case 2:
			d.String(&r.Body)
		}
	}
}

// DecodeStrings reads a value into a []string as json.Unmarshal would.
func DecodeStrings(d *Decoder, s *[]string) {
	if d.Null() {
		*s = nil
	} else if d.Array("[]string") {
		n := 0
		for d.More() {
			d.String(SliceElem(s, n))
			n++
		}
		SliceEnd(s, n)
	}
}
