# Convenience recipes; nothing requires `just` — each is one plain command.

# Rebuild the built-in adapters from source (commands recorded in adapters/*/*.wasm.build).
adapters:
    for f in adapters/*/*.wasm.build; do sed -n 2p "$f" | sh; done

# The README's test command (what .ci/run runs, with -race).
test:
    go test ./...

# Slow end-to-end tests only (real XMRig, multi-agent).
e2e:
    go test -race -run Integration ./...

# Benchmarks whose numbers are in README.md.
bench:
    go test -run '^$' -bench . -benchmem ./...

# Each fuzz target for 30 s.
fuzz:
    for pkg in $(go list ./...); do for t in $(go test -list '^Fuzz' $pkg | grep ^Fuzz); do go test -run '^$' -fuzz "^$t\$" -fuzztime 30s $pkg; done; done
