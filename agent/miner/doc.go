// Package miner is rigd's domain core: the miner model, its lifecycle state
// machine, the Manager and per-miner Supervisor, the stats Collector, the
// watchdog, profiles and the event bus.
//
// It declares the ports it needs from the outside world as small interfaces
// (Adapters, Session, ...) and imports only agent/proc, agent/restart,
// agent/install, sdk/abi and the standard library.
package miner
