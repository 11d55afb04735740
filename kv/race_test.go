//go:build race

package kv

// raceEnabled: the race detector slows Pebble ~5-10×; volume tests run a
// reduced shape and RSS is not representative.
const raceEnabled = true
