// Package restart decides when a crashed miner is started again. A Policy
// is pure: it holds no clock, timer or process; the supervisor passes the
// time in and acts on the Decision it gets back.
//
// # What counts as a failure
//
// The supervisor calls [Policy.Failure] for every end of a run it did not
// ask for: an exit with any status (0 included: a miner is meant to run
// forever), death by a signal, and a restart the watchdog forces. A stop
// the user requests is not a failure; when the user starts the miner again
// the supervisor calls [Policy.Reset].
//
// # Backoff
//
// The n-th consecutive failure waits Initial·2^(n-1) (1 s, 2 s, 4 s, …),
// capped at Max (5 min), then multiplied by a jitter factor drawn
// uniformly from [1-Jitter, 1+Jitter) (±20 %) and capped at Max again, so
// no wait exceeds Max and rigs that crash together do not restart in step.
// The shortest possible wait is Initial·(1-Jitter) = 0.8 s: never a busy
// loop.
//
// # Reset after a healthy run
//
// A run that lasted at least ResetAfter (10 min) was healthy: the failure
// that ends it is counted as the first one again (the wait starts at 1 s)
// and the crash-loop window forgets the older failures. The supervisor may
// also call [Policy.Healthy] while the miner is still running (for example
// from a ResetAfter timer) so the crash-looping state clears as soon as the
// run has proven healthy, not only at the next failure.
//
// # Crash looping
//
// CrashLoopFailures (10) failures within CrashLoopWindow (10 min) make the
// policy crash-looping; the decision is [CrashLoop] instead of [Restart].
// The window is measured both in wall-clock time and in run time — the time
// the miner actually ran, backoff waits left out — and the larger count
// wins. Wall-clock time alone would miss the plainest crash loop: the
// backoff itself spreads ten instant failures over 1+2+…+256 s ≈ 8.5 min,
// and over up to 10.2 min with the jitter, so a binary that exits at once
// might never reach ten in ten minutes. In run time it does, at its tenth
// failure.
// A crash-looping miner is still retried — someone may have fixed the
// pool, the driver or the disk — but always at the longest wait, Max with
// the jitter (between 4 and 5 min), never in a tight loop. The state is
// sticky: it ends only with a healthy run (Healthy, or a Failure after a
// run of ResetAfter or more) or Reset.
//
// # Permanent errors
//
// A failure the supervisor marks permanent (binary missing, the adapter
// rejects the profile, an expired beta) gets [GiveUp]: the miner is not
// restarted until the user starts it again (Reset). It is still counted.
//
// A Policy is not safe for concurrent use; the supervisor of one miner owns
// it.
package restart
