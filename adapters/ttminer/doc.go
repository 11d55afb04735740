// Package ttminer is the rigd adapter for TT-Miner, the closed-source GPU
// miner (mainly NVIDIA/CUDA) for Ethash, KawPow, ProgPoW variants,
// GhostRider, SHA-256 variants, Blake3 and more.
//
// It is plain Go over the ABI types of sdk/abi, so it runs in ordinary
// `go test`; the wasip1 entry point in ./wasm only exports it. [New] returns
// an [*Adapter] that implements every optional part of the guest SDK:
//
//   - Metadata: where TT-Miner releases live (GitHub
//     TrailingStop/TT-Miner-release, no checksum file: the digest is pinned
//     on first install), how to probe its version, its Claymore-style TCP
//     API, the algorithms and coins it mines and the profile options
//     documented in README.md.
//   - BuildCommand: a validated profile becomes argv only (TT-Miner has no
//     config file): -a ALGO or -c COIN, one -P per pool in failover order,
//     -d with the device ids, -i, -b 127.0.0.1:PORT, -nocolor, -rep-i and
//     allow-listed extra flags.
//   - ParseLines: a hand-written scanner over TT-Miner 2023.x-2025.x console
//     lines: the "*********" banner, the device list, Pool[…] connection,
//     difficulty and job lines, the per-GPU GPU[dd-SEL] statistics lines,
//     the All[SEL] totals and the beta expiry line (a fatal event).
//   - ParseAPI: the miner_getstat1 reply, whose hashrates are H/s (not the
//     kH/s of Claymore's original) and whose uptime is in minutes.
package ttminer
