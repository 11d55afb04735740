// Package peers lets rigs see and control each other without a server:
// node identity, a Noise-encrypted WebSocket transport, the allow-list with
// pairing and roles, and the remote operations (stats, logs, start, stop).
//
// # Identity
//
// Each node has an X25519 static key, generated on first start into
// <data-dir>/node.key (32 raw bytes, mode 0600, written to a synced
// temporary file and linked into place). A key file that is not a regular
// file, is open to group or others, or is not 32 bytes is refused with an
// error saying how to fix it. The node ID is the first 168 bits of
// SHA-256("rigd node id v1" || public key), written as 34 base32
// characters plus a Luhn mod 32 check character in seven groups of five
// ("ABCDE-FGHIJ-…-67ABC"); the first two groups are the short form shown
// in UIs. See NodeID.
//
// # Transport
//
// A node listens on its own TCP port (--p2p-listen, default :9091) and
// speaks WebSocket (github.com/gobwas/ws) at GET /p2p/v1. An upgrade with
// an Origin header is refused (403), so no web page can reach the port.
// gobwas/ws sets no limits; this package reads every frame header itself
// and refuses a frame or message over 64 KiB (MaxFrame, MaxMessage) before
// reading or allocating its payload, so a header declaring 2^62 bytes
// costs nothing. Only binary messages are used; text frames, reserved
// bits or opcodes, wrong masking or a burst of control frames close the
// connection. At most MaxPreAuth (64) connections may be in the handshake
// at once, and at most MaxPreAuthSource (16) from one source (an IPv4
// address, an IPv6 /64); more are closed on accept. The upgrade, the
// handshake and the authorization must finish within 5 s.
//
// Inside the WebSocket, Noise_XX_25519_ChaChaPoly_BLAKE2s
// (github.com/flynn/noise v1.1.0, wrapped in noise.go) authenticates both
// static keys and encrypts everything after message 1. Each WebSocket
// message carries one Noise message:
//
//  1. I→R  "rigd/p2p" | version 1 | mode [| invite id] || Noise e
//  2. R→I  Noise e, ee, s, es + payload: responder hello
//  3. I→R  Noise s, se [, psk] + payload: initiator hello
//  4. R→I  transport message: the auth frame
//
// The clear-text preamble of message 1 is the Noise prologue. Mode 0 is
// plain XX (a known peer, or a node asking to be approved); mode 1 is
// XXpsk3 and names an invite by an 8-byte id, SHA-256("rigd invite id
// v1" || secret)[:8]; the PSK is SHA-256("rigd invite psk v1" || secret).
// An unknown, expired or used invite is answered with a WebSocket close
// frame (4001 invalid, 4002 expired, 4003 used) before message 2.
//
// A hello is JSON: {"v":1,"name":"rig-01","role":"worker",
// "addr":"192.168.1.10:9091"} (the initiator adds "grant": the role it
// grants the responder). The auth frame is {"status":"ok","role":
// "controller","paired":true} or the one fixed frame
// {"status":"unauthorized_peer"}, after which the responder closes.
//
// After the handshake both sides use one reader and one writer goroutine
// per connection. The first message that fails to decrypt closes the
// session: Noise's per-direction nonces make a replayed, dropped,
// reordered or modified message fail. Each side sends an encrypted ping
// every 30 s (which also measures the RTT) and closes a connection silent
// for 90 s. Every node dials each known peer that has an address and
// redials with a jittered backoff from 1 s doubling to 2 min; if both
// ends dial at once, the session dialed by the lower node ID is kept (a
// newer session from the same dialer replaces an older one), a rule both
// ends apply without talking.
//
// # Messages
//
// Every application message is one JSON envelope in one Noise message:
//
//	{"v":1,"id":"9f…","type":"start_miner","reply_to":"","seq":42,"body":{…}}
//
// Requests: ping, get_stats, get_logs ({"miner","lines"≤10000,"since",
// "strip"}), start_miner (StartSpec: {"profile_id"} or {"type",
// "profile"}, optional "name", "autostart"), stop_miner and restart_miner
// ({"name"}), and the admin verbs add_peer, remove_peer, approve_peer,
// set_role and create_invite, which exist only to be refused. Responses
// carry reply_to: pong, result (stats and logs results can come in
// several parts, {"more":true} on all but the last) and error
// ({"code","message"} with a fixed code: unauthorized_peer, forbidden,
// rate_limited, busy, bad_request, unsupported_version, unknown_type,
// not_found, conflict, invalid_profile, unavailable, replay, too_large,
// internal; see RemoteError for how codes map to this package's errors).
//
// seq is per peer and direction and strictly increasing across sessions
// and restarts: the sender reserves numbers in the store in blocks, the
// receiver saves the last accepted one before every command runs, every
// 64 messages and when a session ends; a message whose seq is not above
// it is answered with a replay error, which carries that last seq, and the
// session is closed. A sender told so continues past the last seq (its
// store went back: restored from an older copy with the key kept), so
// the next session works instead of every message being refused for good. The id of
// a command is its idempotency key: a repeated id is answered with the
// stored result (the last 256 per peer, in memory) and the command does
// not run again; the requester reuses the id when it retries on a new
// session, and StartSpec.CommandID lets an API client do the same.
// Requests are limited per peer to 10 per second (burst 20) and to 6
// start/stop/restart per miner per minute.
//
// # Trust model
//
//   - A node trusts only the keys in its allow-list, each with a role that
//     this node enforces on every request the peer sends: observer
//     (get_stats, get_logs), controller (also start, stop and restart
//     miners, by a profile id stored on this node or an inline profile its
//     adapter validates; never a binary path), or none (connect and ping).
//     A controller-only node (NodeController) grants at most observer
//     (Invite and Approve refuse more) and accepts at most observer
//     requests. Admin — changing the allow-list, making invites — exists
//     only on the rig itself through the local CLI or REST API; no message
//     from a peer can do it.
//   - Authorization happens right after the handshake, before any message
//     from the peer is read: an unknown key gets the fixed
//     unauthorized_peer frame, is disconnected, is listed as pending (ID,
//     address, first and last seen, count; in memory, capped at 64, the
//     oldest dropped) and audited (at most once a minute per ID, and
//     node-wide at most 20 entries at once refilling one a second; the
//     next entry written says how many were left out, so a flood of fresh
//     keys cannot fill the audit log).
//   - An invite (Node.Invite) is a single-use 128-bit secret valid for 10
//     minutes. Whoever presents it gets the role chosen when it was made,
//     so it should travel like a password. The secret never crosses the
//     network: it keys the handshake (XXpsk3), which only succeeds if both
//     sides hold it, and the code also pins the first 64 bits of the
//     inviter's ID. The invite is claimed by the first handshake that
//     proves the secret (message 3), never earlier, so someone who saw
//     the invite's id on the wire cannot use or block it. Both nodes then
//     store each other; the redeemer stores the inviter with role none —
//     an invite grants one direction only. If the connection drops after
//     the inviter stored the redeemer but before the redeemer read the
//     verdict, the inviter has the pairing and the redeemer does not: a
//     new invite (or adding the inviter by ID) completes it.
//   - A node can also be added by its ID (AddPeer with the ID instead of
//     a code): the dialer pins that key and the other side approves the
//     pending ID (Approve) after comparing it out of band.
//   - Revoking (RemovePeer) deletes the peer from the store and closes its
//     live sessions before returning; its next connection is refused and
//     shows up as pending. Role changes (Approve on a known peer) apply to
//     the next request.
//   - Every command from a peer, and every refused request or connection,
//     is written to the audit log as "peer:<node id>". Refusals are
//     bounded (forbidden requests: 20 per peer, then one per 10 s); an
//     entry says how many were left out before it.
//   - Outside the model: anyone who can read node.key is that node; a
//     peer that is granted controller can run any profile its adapters
//     accept. Open invites, the pending list and the command-result cache
//     do not survive a restart. A flood of idle connections from one
//     source holds at most MaxPreAuthSource slots; floods from four or
//     more sources at once can still fill MaxPreAuth and delay new
//     connections (existing sessions are unaffected) until the 5 s
//     handshake deadline frees slots.
//
// # Use
//
// New loads the key and the allow-list from a Store (MemStore in tests)
// and opens the listener; Run serves until its context ends; Close stops
// everything and waits. The methods of Node are what the REST API and
// the CLI call; errors are the package's sentinels (see errors.go).
package peers
