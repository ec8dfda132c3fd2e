#!/bin/sh
# Stack switching (typed continuations), weft vs the wasmtime 49 CLI: the
# programs in benches/stack-switching/, each at a small and a large size,
# net of start-up; ratios against issue 10's goals.
#   scripts/bench-stack-switching.sh [--weft PATH] [-n REPS] [--filter RE] [--markdown OUT.md]
#       [--max-load L] [--max-wait S] [--weft-flags '-W ...'] [--wasmtime-flags '-W ...']
# Builds nothing: --weft defaults to target/release/weft (or
# $CARGO_TARGET_DIR/release/weft); build it with
# `cargo build --release -p weft-cli`. A missing or failing engine is
# reported per benchmark.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
. "$root/scripts/bench/find-wasmtime.sh"
exec python3 "$root/scripts/bench/stack_switching.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" "$@"
