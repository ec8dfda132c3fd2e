#!/bin/sh
# weft against the wasmtime 50 crate in one process (benches/inprocess/).
#   scripts/bench-inprocess.sh [-n RUNS] [-- BENCH-ARGS...]
# Builds benches/inprocess with the nightly toolchain (wasmtime 50 needs
# rustc 1.97) into target/inprocess (or $CARGO_TARGET_DIR), runs it RUNS
# times (default 3) and prints the medians over the runs as a Markdown
# table, with the load average. BENCH-ARGS go to every run (e.g.
# `-- --filter instantiate --no-concurrent`; see benches/inprocess/README.md).
# Nothing else (README, .ci/run, the root workspace) needs this.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target/inprocess}
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        -n) runs=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: $0 [-n RUNS] [-- BENCH-ARGS...]" >&2; exit 2 ;;
    esac
done
rustup run nightly cargo build --release \
    --manifest-path "$root/benches/inprocess/Cargo.toml" --target-dir "$target" >&2
bin=$target/release/weft-bench-inprocess
out=$target/runs
mkdir -p "$out"
rm -f "$out"/run-*.txt
echo "load before: $(cat /proc/loadavg)" >&2
i=1
while [ "$i" -le "$runs" ]; do
    echo "run $i of $runs" >&2
    "$bin" "$@" > "$out/run-$i.txt"
    i=$((i + 1))
done
echo "load after: $(cat /proc/loadavg)" >&2
exec python3 "$root/scripts/bench/inprocess.py" "$out"/run-*.txt
