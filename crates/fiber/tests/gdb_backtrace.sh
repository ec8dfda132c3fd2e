#!/usr/bin/env bash
# Checks that gdb's `bt`, stopped in a function running on a fiber, walks
# through the fiber's start trampoline and the switch frame into the frames
# of whoever resumed it (docs/INVARIANTS.md, invariant 6), for a fiber resumed from the
# main stack and for a fiber resumed by another fiber whose stack lies
# below it.
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

# Stop 1: the leaf on a fiber resumed by example_resumer from main.
# Stop 3 (the second stop is the same fiber's second leaf call): the leaf
# on an inner fiber resumed by an outer fiber.
out=$(gdb -nx -batch \
    -ex 'set debuginfod enabled off' \
    -ex 'set pagination off' \
    -ex 'set width 0' \
    -ex 'break weft_fiber_example_leaf' \
    -ex 'run' \
    -ex 'echo ==== STOP 1\n' \
    -ex 'bt' \
    -ex 'continue' \
    -ex 'continue' \
    -ex 'echo ==== STOP 3\n' \
    -ex 'bt' \
    -ex 'kill' \
    "$bin" 2>&1) || true
echo "$out"
echo "----"

stop1=$(awk '/^==== STOP 1/{on=1; next} /^==== STOP 3/{on=0} on' <<<"$out")
stop3=$(awk '/^==== STOP 3/{on=1; next} on' <<<"$out")

fail=0
# check NAME BT PATTERN...: each pattern must match a frame of BT, in
# increasing frame order. (awk reads here-strings: no pipe whose writer
# could die of SIGPIPE under `set -o pipefail`.)
check() {
    local name=$1 bt=$2 prev=-1 pat n
    shift 2
    for pat in "$@"; do
        n=$(awk -v pat="$pat" -v min="$prev" '
            /^#[0-9]+ / { f = substr($1, 2) + 0; if (f > min && $0 ~ pat) { print f; exit } }
        ' <<<"$bt")
        if [ -z "$n" ]; then
            echo "FAIL [$name]: no frame matching '$pat' after #$prev"
            fail=1
            return
        fi
        echo "ok [$name]: #$n $pat"
        prev=$n
    done
    if grep -qE 'Backtrace stopped|corrupt stack' <<<"$bt"; then
        echo "FAIL [$name]: gdb stopped the backtrace early"
        fail=1
    fi
}
# The trampoline frame is a signal frame: gdb prints it as
# "<signal handler called>" (see arch/x86_64.rs).
start='weft_fiber_start|<signal handler called>'
check "fiber resumed from main" "$stop1" \
    'weft_fiber_example_leaf' 'fiber_entry' "$start" 'weft_fiber_switch' \
    'example_resumer' 'fiber_backtrace::main '
check "fiber resumed by a fiber below it" "$stop3" \
    'weft_fiber_example_leaf' 'fiber_entry' "$start" 'weft_fiber_switch' \
    'nested_inner_resumer' 'fiber_entry' "$start" 'weft_fiber_switch' \
    'nested_outer_resumer' 'fiber_backtrace::main '
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "PASS: gdb backtraces from fibers reach their resumers and main"
