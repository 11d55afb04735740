//go:build !linux

package adapters

// populate does nothing where there is no MADV_POPULATE_WRITE: the pages
// fault in as they are touched.
func populate([]byte) {}
