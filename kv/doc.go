// Package kv is rigd's storage: hashrate history (raw points, 1-minute and
// 1-hour rollups, retention), the agent's documents (profiles, the
// autostart set, miner sessions, settings) and the audit log, in one Pebble
// database. It is the only package that imports Pebble; no Pebble value or
// type crosses its API except vfs.FS in Options, for tests.
//
// *Store implements miner.History and miner.Store.
//
// # Using it (the agent's wiring)
//
//	st, err := kv.Open(ctx, kv.Options{Dir: filepath.Join(dataDir, "db"), Logger: log})
//	if errors.Is(err, kv.ErrInUse) { /* "data dir in use by pid N": exit non-zero */ }
//	if errors.Is(err, kv.ErrSchemaTooNew) { /* written by a newer rigd: exit non-zero */ }
//	go func() { _ = st.Run(ctx) }() // rollups and retention; the serve goroutine owns it
//	...
//	err = st.Healthy()              // nil, or ErrDegraded (+ ErrDiskFull): /ready
//	...
//	st.Close()                      // after Run has returned; waits for calls in flight
//
// Open takes the data dir lock, so only the running agent can open the
// database: `rigd history` asks the agent over the REST API (it can Open the
// database itself only when no agent runs). Open starts no goroutine; Run
// calls Maintain now and then every MaintainEvery (1 min) until its context
// ends. Tests call Maintain directly with an injected clock (Options.Now).
// All methods are safe for concurrent use. Errors wrap their cause with the
// operation ("kv: append 16 points: ..."); callers branch with errors.Is on
// ErrClosed, ErrInUse, ErrSchemaTooNew, ErrDegraded, ErrDiskFull,
// ErrInvalidSeries, ErrInvalidPoint, ErrInvalidID, ErrCorrupt and
// miner.ErrStoreNotFound (a missing profile, setting, or a series without
// points in Summary).
//
// # Files
//
// Dir holds Pebble's files and two of kv's: rigd.lock, an exclusive flock
// holding the holder's pid (a second opener retries for 300 ms, then fails
// with "data dir in use by pid N"; the kernel drops the lock when the
// holder dies, so a crash never leaves a stale lock), and rigd.reserve (see
// Full disk). The key "meta/schema" holds the layout version (SchemaVersion,
// 1); Open refuses a newer one, naming both versions, and a non-empty
// database without one.
//
// # Keys
//
//	meta/schema                                 "1"
//	ts/<res>/<series>\x00<t>                    a point: res is raw, 1m or 1h
//	tm/<res>/<series>                           rollup progress into res (1m, 1h)
//	doc/profile/<id>                            StoredProfile (JSON)
//	doc/autostart/<miner>                       StartRequest (JSON)
//	doc/setting/<key>                           any JSON
//	log/audit/<t><seq>                          AuditEntry (JSON)
//	log/session/<t><seq><miner>                 SessionRecord (JSON)
//
// <t> is the time in unix milliseconds as 8 bytes big-endian with the sign
// bit flipped, so byte order is time order. A series is a miner name
// ([a-z0-9._-], at most 64, miner.ValidateName) or "<miner>/<device>" with
// a device part by the same rules ("gpu-rig/nvidia0"). The byte 0x00 ends
// the series: it cannot occur in a series, so a series' keys are one
// contiguous range that no other series' keys share ("a" and "a-b", "a" and
// "a/gpu0" never interleave), and a key decodes in exactly one way (the
// series is everything up to the 0x00, which is followed by exactly 8
// bytes). <seq> (8 bytes) orders log entries of the same millisecond.
//
// A raw value is the hashrate (float64) and the cumulative accepted and
// rejected counters (varints). A rollup value is count, sum, min, max of
// the hashrate, the accepted and rejected deltas, and the times of the
// first and last sample in the interval.
//
// # Points and durability
//
// Append validates every point (series, time, finite non-negative
// hashrate, non-negative counters), writes them in one batch and returns
// after the commit is synced (pebble.Sync): an acknowledged point survives
// kill -9 and power loss. One batch per call keeps the collector's pattern
// (all points of a poll in one call, about once a second) cheap, and bulk
// ingest reaches several hundred thousand points a second. Options.NoSync
// exists only for the control runs of the durability tests. A point
// replaces one of the same series and millisecond.
//
// # Rollups
//
// Maintain rolls each series' raw points into 1-minute rollups and those
// into 1-hour rollups. Only complete intervals are rolled up: a minute is
// rolled up RollupDelay (10 s) after it ends, an hour once its minutes are.
// The share deltas come from the cumulative counters: the difference to the
// previous point; a counter that went down means the miner restarted and
// its new value is all new; a series' first point counts from zero; never
// negative. The minute marker tm/1m/<series> says "every raw point before
// T is rolled up" and carries the counters of the last one (the base of the
// next delta); tm/1h/<series> likewise for hours over minutes.
//
// Atomicity: a rollup and the marker that covers it are always in the same
// batch (a long backlog is cut into batches of at most 1,440 rollups, each
// with its marker), and a Pebble batch is applied entirely or not at all,
// also after a crash. So a crash mid-rollup loses both or keeps both: the
// marker is never ahead of the rollups (nothing lost) nor behind them
// (nothing counted twice), and the raw points are still there to redo the
// work. Maintenance batches are committed without waiting for a sync: a
// lost one is redone, and the WAL is replayed in order, so no later write
// that depends on it (a retention deletion) can survive without it; the
// next synced Append makes it durable. Rollups stop short of the oldest
// point of any Append in flight, so a commit slowed down by the disk is
// never overtaken; only a point that is already older than its series'
// rollup progress when Append is called (a collector more than RollupDelay
// late) is stored raw but not rolled up.
//
// # Queries
//
// Query picks the coarsest resolution whose interval is not coarser than
// the step (step < 1m: raw; < 1h: 1m; else 1h) and merges the edges from
// one snapshot: each resolution answers for a window — raw from its
// retention cutoff on, a rollup from its cutoff up to its marker. Where
// the chosen resolution has no data, newer than its marker (not rolled up
// yet) the finer resolutions fill in, older than its cutoff the coarser
// ones do: a 3-day query at step 0 is minutes for the first day and raw
// for the last two; a 30-day query at 1h is hours, then the minutes of the
// current hour, then raw points of the current minute. Where a coarse
// interval straddles a retention cutoff, its rollup stands for the whole
// interval and the finer points inside it are left out. Points come in
// time order, without duplicate timestamps, each with its resolution; a
// rollup's time is its interval's start; raw points carry their share
// deltas too. Summary adds up hours, then minutes not in an hour yet, then
// raw points not in a minute yet — every sample once.
//
// # Retention
//
// Options.Retention (zero fields: DefaultRetention): raw points 48 h,
// minute rollups 30 days, hour rollups 365 days, audit entries 90 days and
// at most 100,000, sessions 365 days and at most 100,000. Queries never
// return data past its cutoff. Maintain deletes with DeleteRange, at most
// hourly, in steps (raw hourly, minutes every 6 h, hours daily) so that
// range tombstones stay few; raw points and minute rollups are never
// deleted before they are rolled up.
//
// # Full disk
//
// Open creates rigd.reserve, a file of Options.ReserveBytes (64 MiB) of
// real blocks. Pebble's file system is wrapped (vfs.OnDiskFull): the first
// write that fails with ENOSPC deletes the reserve and is retried once, so
// it — and the flushes in flight — succeed, and the store turns degraded:
// every write returns an error wrapping ErrDegraded and ErrDiskFull, reads
// keep working, Healthy reports it. Maintain also degrades the store when
// less than 4 MiB is free. At most once a second a write checks the free
// space; with 16 MiB plus the reserve free, it recreates the reserve and
// writes resume. Retention keeps running while degraded if 4 MiB are free
// (deleting is how space comes back).
//
// Pebble cannot survive a failed WAL or MANIFEST write: it calls
// Logger.Fatalf. kv's Pebble logger logs that at error level and panics
// (returning would make Pebble report a failed commit as a success). A
// failed commit happens in the caller's goroutine: kv recovers that panic,
// returns an error, refuses writes and reopens Pebble before writing again.
// The same panic in a background flush or compaction (a MANIFEST write
// with no reserve left) ends the process with the message and a stack: the
// reserve exists so that this does not happen. Background errors are
// logged; ENOSPC among them degrades the store.
//
// A damaged file (a block whose checksum fails) is not fatal: Pebble's
// default for it is Logger.Fatalf, which panicked the agent at every start
// or in a background goroutine. kv handles EventListener.DataCorruption
// instead: the read that met it fails with the corruption error, Healthy
// (/ready) reports the damage until the next start, the background rollups
// stop, and the file is logged at error; writes go on, the rest being
// sound. Open refuses a database damaged where it reads with one line
// saying to restore it or move it away.
//
// # Logging
//
// Pebble's log goes to Options.Logger ("component"="pebble"): Infof at
// debug, Errorf at error, Fatalf at error and then a panic (above). Disk
// stalls and write stalls are logged at warn.
package kv
