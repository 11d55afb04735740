//go:build !race

package adapters

const raceEnabled = false
