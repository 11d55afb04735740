//go:build !wasip1

package abi

// MergeAPI merges a parse_api result. An API answer is a snapshot of the
// devices the miner uses, so a device of a kind it reports that it no
// longer lists (a GPU that dropped out) is dropped rather than kept with
// its last figures for ever; an empty list drops them all. A device of a
// kind the answer does not report stays: the console may name a kind the
// API does not (XMRig's OpenCL lines on an NVIDIA platform), and dropping
// it would make it come and go with every poll. A result with no device
// list (nil) keeps the known devices. It is host-side only, like Check.
func (s *Stats) MergeAPI(p *Stats) {
	if p != nil && p.Devices != nil {
		kinds := map[string]bool{}
		for i := range p.Devices {
			kinds[p.Devices[i].Kind] = true
		}
		kept := make([]Device, 0, len(p.Devices))
		for _, d := range s.Devices {
			listed := len(p.Devices) > 0 && !kinds[d.Kind]
			for i := range p.Devices {
				listed = listed || p.Devices[i].Kind == d.Kind && p.Devices[i].ID == d.ID
			}
			if listed {
				kept = append(kept, d)
			}
		}
		s.Devices = kept
	}
	s.Merge(p)
}
