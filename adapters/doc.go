// Package adapters is the host side of rigd's miner adapters: it runs
// WebAssembly adapter modules (ABI v1, see sdk/abi) on wazero and offers
// them to the rest of the agent as a [Catalog] implementing miner.Adapters.
//
// Layers, bottom up:
//
//   - [Runtime]: one wazero runtime per agent (compiler engine, close on
//     context done, 64 MiB memory limit, on-disk compilation cache) and the
//     miner_adapter_v1 host module.
//   - Static validation ([Runtime.Load]): before any guest code runs, a
//     module must be wasm, carry the adapter_abi_v1 marker, import only
//     allowed functions with the right signatures and export the required
//     functions with the right signatures.
//   - [Module]: one compiled, validated generation of an adapter with a small
//     pool of instances for stateless calls. Every call has a deadline; a
//     call that does not return within its deadline plus a grace period
//     quarantines the module. An instance that trapped, panicked, timed out
//     or overflowed its output is poisoned: it is closed and replaced, never
//     reused. An instance whose linear memory passed 32 MiB is recycled.
//   - [Session]: a dedicated instance for one running miner (parse state is
//     per session) that follows its adapter to a new generation on the next
//     call after a reload.
//   - [Catalog]: the built-in adapters embedded in the binary plus every
//     *.wasm in the adapters directory; a drop-in with the name of a
//     built-in wins.
package adapters
