//go:build !(linux || darwin || freebsd)

package adapters

import "errors"

// Without mappings, wazero keeps linear memories in the Go heap.
const mmapSupported = false

func reserve(uint64) ([]byte, error) { return nil, errors.ErrUnsupported }
func commit([]byte) error            { return errors.ErrUnsupported }
func release([]byte)                 {}
