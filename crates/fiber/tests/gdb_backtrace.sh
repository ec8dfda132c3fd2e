#!/usr/bin/env bash
# Checks that gdb's `bt`, stopped in a function running on a fiber, walks
# through the fiber's start trampoline and the switch frame into the frames
# of whoever resumed the fiber (DESIGN invariant 6).
#
# Usage: crates/fiber/tests/gdb_backtrace.sh [path/to/fiber_backtrace]
#   Without an argument, builds the example with cargo (honours
#   CARGO_TARGET_DIR and CARGO) and uses it.
# Exit status: 0 pass, 1 fail, 77 skipped (gdb not installed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
crate=$(dirname "$here")

if ! command -v gdb >/dev/null 2>&1; then
    echo "SKIP: gdb is not installed (apt-get install gdb)"
    exit 77
fi

bin=${1:-}
if [ -z "$bin" ]; then
    cargo=${CARGO:-cargo}
    (cd "$crate" && "$cargo" build --quiet -p weft-fiber --example fiber_backtrace)
    target=${CARGO_TARGET_DIR:-$(cd "$crate/../.." && pwd)/target}
    bin=$target/debug/examples/fiber_backtrace
fi
[ -x "$bin" ] || { echo "FAIL: no executable at $bin"; exit 1; }

# First stop: the fiber's first call of the leaf, resumed by
# example_resumer from main.
out=$(gdb -nx -batch \
    -ex 'set debuginfod enabled off' \
    -ex 'set pagination off' \
    -ex 'set width 0' \
    -ex 'break weft_fiber_example_leaf' \
    -ex 'run' \
    -ex 'bt' \
    -ex 'kill' \
    "$bin" 2>&1) || true
echo "$out"
echo "----"

fail=0
# Frame number of the first line of `bt` matching $1 (empty if none).
# (awk reads a here-string: no pipe whose writer could die of SIGPIPE
# under `set -o pipefail` when the reader stops early.)
frame_of() {
    awk -v pat="$1" '/^#[0-9]+ / && $0 ~ pat { sub(/^#/, "", $1); print $1; exit }' <<<"$out"
}
prev=-1
for pat in 'weft_fiber_example_leaf' 'fiber_entry' 'weft_fiber_start' 'weft_fiber_switch' \
    'example_resumer' 'fiber_backtrace::main '; do
    n=$(frame_of "$pat")
    if [ -z "$n" ]; then
        echo "FAIL: no frame matching '$pat' in the backtrace"
        fail=1
    elif [ "$n" -le "$prev" ]; then
        echo "FAIL: frame '$pat' (#$n) is not after the previous one (#$prev)"
        fail=1
    else
        echo "ok: #$n $pat"
        prev=$n
    fi
done
if grep -qE 'Backtrace stopped|corrupt stack' <<<"$out"; then
    echo "FAIL: gdb stopped the backtrace early"
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "PASS: gdb backtrace from the fiber reaches the resumer and main"
