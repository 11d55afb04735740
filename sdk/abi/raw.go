//go:build !wasip1

package abi

import "encoding/json"

// RawMessage is a raw encoded JSON value (Profile.Options values,
// Option.Default). Outside wasip1 it is json.RawMessage itself, so host
// code may use either name. In a wasip1 guest it is a type of its own with
// the same methods (raw_wasip1.go): importing encoding/json, even for one
// type, links fmt, os and reflect into every guest module.
type RawMessage = json.RawMessage
