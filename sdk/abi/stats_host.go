//go:build !wasip1

package abi

// MergeAPI merges a parse_api result. An API answer is a snapshot that
// lists every device the miner uses, so a device it does not list (a GPU
// that dropped out) is dropped rather than kept with its last figures for
// ever; a result with no device list (nil) keeps the known devices. It is
// host-side only, like Check.
func (s *Stats) MergeAPI(p *Stats) {
	if p != nil && p.Devices != nil {
		kept := make([]Device, 0, len(p.Devices))
		for _, d := range s.Devices {
			for i := range p.Devices {
				if p.Devices[i].Kind == d.Kind && p.Devices[i].ID == d.ID {
					kept = append(kept, d)
					break
				}
			}
		}
		s.Devices = kept
	}
	s.Merge(p)
}
