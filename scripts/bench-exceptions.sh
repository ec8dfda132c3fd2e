#!/bin/sh
# Exception throw/catch speed and memory, weft vs the wasmtime 49 CLI.
#   scripts/bench-exceptions.sh [-n ITERATIONS] [--big N] [--rss-throws N]
# Run on an otherwise idle machine: the numbers are wall-clock times.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
. "$root/scripts/bench/find-wasmtime.sh"
exec python3 "$root/scripts/bench/exceptions.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
