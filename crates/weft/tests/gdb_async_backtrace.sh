#!/usr/bin/env bash
# Checks that gdb's `bt`, stopped in a host function called from wasm that
# runs on an async fiber, walks through the wasm frames (named through
# gdb's JIT interface, see src/vm/gdb_jit.rs), the trampolines, the entry
# routine and the fiber's start frame into the frames of the code that
# resumed the fiber (docs/INVARIANTS.md, invariants 4 and 6). The wasm
# frame `wasm_inner` makes its call inside a try_table (an exception
# handler scope), so the walk also crosses a frame with handlers.
#
# Usage: crates/weft/tests/gdb_async_backtrace.sh [path/to/async_backtrace]
#   Without an argument, builds the example with cargo (honours
#   CARGO_TARGET_DIR and CARGO) and uses it.
# Exit status: 0 pass, 1 fail (including: gdb is not installed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
crate=$(dirname "$here")

if ! command -v gdb >/dev/null 2>&1; then
    echo "FAIL: gdb is not installed, so the gdb backtrace check cannot run."
    echo "      Install it (apt-get install gdb; .ci/run does this) and rerun."
    exit 1
fi

bin=${1:-}
if [ -z "$bin" ]; then
    cargo=${CARGO:-cargo}
    # --workspace: resolve features as `cargo test --workspace` does, so the
# example reuses the dependencies that run built (no second Cranelift).
(cd "$crate" && "$cargo" build --quiet --workspace --example async_backtrace)
    target=${CARGO_TARGET_DIR:-$(cd "$crate/../.." && pwd)/target}
    bin=$target/debug/examples/async_backtrace
fi
[ -x "$bin" ] || { echo "FAIL: no executable at $bin"; exit 1; }

out=$(gdb -nx -batch \
    -ex 'set debuginfod enabled off' \
    -ex 'set pagination off' \
    -ex 'set width 0' \
    -ex 'break weft_example_host_leaf' \
    -ex 'run' \
    -ex 'echo ==== STOP 1\n' \
    -ex 'bt' \
    -ex 'echo ==== END\n' \
    -ex 'kill' \
    "$bin" 2>&1) || true
echo "$out"
echo "----"

bt=$(awk '/^==== STOP 1/{on=1; next} /^==== END/{on=0} on' <<<"$out")

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
    if grep -qE 'Backtrace stopped|corrupt stack|\?\? \(\)' <<<"$bt"; then
        echo "FAIL [$name]: gdb stopped the backtrace early or shows unknown frames"
        fail=1
    fi
}
# The fiber's start trampoline is a signal frame: gdb prints it as
# "<signal handler called>" (see crates/fiber/src/arch/x86_64.rs).
start='weft_fiber_start|<signal handler called>'
# Symbol names come from vm/module.rs: wasm::<module>::<name> for wasm
# functions (function[N] without a name-section name), trampoline::... for
# trampolines.
check "async host call on a fiber" "$bt" \
    'weft_example_host_leaf' \
    'weft::vm::builtins::host_call' \
    ' in trampoline::wasm_to_host::' \
    ' in wasm::module::wasm_inner \(' \
    ' in wasm::module::function\[2\] \(' \
    ' in trampoline::array_to_wasm::' \
    'weft_enter' \
    'weft::vm::async_fiber::on_fiber' \
    "$start" \
    'weft_fiber_switch' \
    'weft_example_poller' \
    'async_backtrace::main '
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "PASS: gdb backtraces from an async host call walk through named wasm frames to the poller and main"
