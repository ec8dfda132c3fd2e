#!/bin/sh
# GC allocation speed and memory, weft vs the wasmtime 49 CLI, plus the
# Sightglass GC benchmark (splay) side by side.
#   scripts/bench-gc.sh [-n ITERATIONS] [--small N] [--big N]
# Run on an otherwise idle machine: the numbers are wall-clock times.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
. "$root/scripts/bench/find-wasmtime.sh"
python3 "$root/scripts/bench/gc.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
echo
python3 "$root/scripts/bench/sightglass.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" --filter splay -n 5
