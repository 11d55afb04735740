// Package miner is rigd's domain core: the miner model, its lifecycle state
// machine, the Manager and per-miner Supervisor, the stats Collector, the
// event bus, profiles and the ports it needs from the outside world.
//
// It declares those ports as small interfaces (Adapters, Session, Binaries,
// Store, History, Clock) and imports only agent/proc, agent/restart,
// agent/install, sdk/abi and the standard library — never wazero, Pebble,
// gobwas/ws or httprouter, not even transitively (a test enforces it).
//
// # Lifecycle
//
// Every miner instance is run by one supervisor goroutine through these
// states:
//
//	         Start (first launch is synchronous: errors go to the caller)
//	               │
//	               ▼
//	┌──────────► starting ──── permanent error ─────────────┐
//	│              │ process started                         │
//	│              ▼                                         ▼
//	│           running ──── fatal line ──► (stop) ──►    failed
//	│              │ exits on its own / killed              ▲
//	│              ▼                                         │
//	│           crashed ──── permanent (fatal, binary ───────┤
//	│              │          missing, profile rejected)     │
//	│              ▼                                         │
//	│   backoff (1 s doubling to 5 min, ±20 %)               │
//	│      or crashlooping (10 failures in 10 min:           │
//	│      retried every ~5 min, never in a busy loop)       │
//	│              │ delay elapsed                           │
//	└──────────────┘                                         │
//	                                                         │
//	any state ── Stop ──► stopping ──► stopped (forgotten by the Manager)
//
// running → stopping → stopped is the only way a healthy miner ends: no
// timer ever kills it. A restart builds the command again (a new API port),
// resolves and verifies the binary again, and resets the adapter session; a
// failure to relaunch counts as another failure. Ten healthy minutes reset
// the restart policy (agent/restart).
//
// # Output and stats
//
// The process's stdout and stderr lines (ANSI stripped) are batched per
// stream — up to 64 lines or 100 ms — and parsed by the miner's adapter
// session ([LineFeeder]; `rigd adapters replay` uses the same path). The
// Collector polls each running miner's API through the adapter every 10 s
// (in parallel, 5 s per attempt, 2 retries). Both merge into one abi.Stats:
// the latest known value of each field wins; unknown values stay null. Each
// poll also feeds the in-memory history (every poll for 5 minutes,
// per-minute averages for 24 hours) and, through History, the database.
//
// # Crashes of the agent
//
// Each launch records the PID and process start time in the instance
// directory. A new agent calls ReapOrphans before autostart: any miner a
// previous agent left running is stopped, so there are never two copies.
package miner
