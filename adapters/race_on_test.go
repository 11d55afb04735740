//go:build race

package adapters

const raceEnabled = true
