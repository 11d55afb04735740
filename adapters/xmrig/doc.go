// Package xmrig is the rigd adapter for XMRig, the CPU (and CUDA/OpenCL)
// miner for RandomX, CryptoNight, Argon2, GhostRider and KawPow.
//
// It is plain Go over the ABI types of sdk/abi, so it runs in ordinary
// `go test`; the wasip1 entry point in ./wasm only exports it. [New] returns
// an [*Adapter] that implements every optional part of the guest SDK:
//
//   - Metadata: where XMRig releases live (GitHub xmrig/xmrig, SHA256SUMS),
//     how to probe its version, its HTTP API, stdin commands, algorithms and
//     the profile options documented in README.md.
//   - BuildCommand: a validated profile becomes a config.json (written 0600
//     by the host) plus `--config=config.json --no-color` and allow-listed
//     extra flags. The HTTP API is bound to 127.0.0.1 on the host's port with
//     the host's bearer token; a profile can never set a path XMRig loads
//     (CUDA/OpenCL loaders, log file, TLS files, another config).
//   - ParseLines: a hand-written scanner over XMRig 2.x-6.x console lines
//     (speed, accepted/rejected shares, new jobs, pool connection and errors,
//     READY, pause/resume, dev-donate windows, GPU health, fatal config
//     errors) that keeps the session state needed to tell the user's pool
//     from the donation pool.
//   - ParseAPI: /2/summary and /2/backends into abi.Stats with a device per
//     CPU backend and GPU.
package xmrig
