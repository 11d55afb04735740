//go:build wasip1

package abi

import "errors"

// RawMessage is a raw encoded JSON value (Profile.Options values,
// Option.Default). Outside wasip1 it is json.RawMessage itself (raw.go);
// in a wasip1 guest it is this twin with the same methods, so that guests do
// not link encoding/json (and through it fmt, os and reflect) for one type.
type RawMessage []byte

// MarshalJSON returns m as the JSON encoding of m, as json.RawMessage does.
func (m RawMessage) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return m, nil
}

// UnmarshalJSON sets *m to a copy of data, as json.RawMessage does.
func (m *RawMessage) UnmarshalJSON(data []byte) error {
	if m == nil {
		return errors.New("json.RawMessage: UnmarshalJSON on nil pointer")
	}
	*m = append((*m)[0:0], data...)
	return nil
}
