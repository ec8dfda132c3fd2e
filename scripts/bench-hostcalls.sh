#!/bin/sh
# WASI calls from wasm and instantiation, weft vs the wasmtime 49 CLI.
#   scripts/bench-hostcalls.sh [-n ITERATIONS] [--markdown OUT.md]
# The in-process numbers are `cargo bench -p weft --bench runtime`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
. "$root/scripts/bench/find-wasmtime.sh"
exec python3 "$root/scripts/bench/hostcalls.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
