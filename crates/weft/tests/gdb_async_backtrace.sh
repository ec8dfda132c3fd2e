#!/usr/bin/env bash
# Checks gdb's `bt` across stacks (docs/INVARIANTS.md, invariants 4 and 6):
#
# 1. stopped in a host function called from wasm that runs on an async
#    fiber, it walks through the wasm frames (named through gdb's JIT
#    interface, see src/vm/gdb_jit.rs), the trampolines, the entry routine
#    and the fiber's start frame into the frames of the code that resumed
#    the fiber (example `async_backtrace`; its frame `wasm_inner` makes its
#    call inside a try_table, so the walk also crosses a frame with
#    exception handlers);
# 2. stopped in a host function called from wasm in a continuation inside
#    another continuation, it walks from the host frames (on the native
#    stack) back into the inner continuation, through its start frame into
#    the outer continuation and on to the export that resumed it and main
#    (example `continuation_backtrace`; src/vm/continuation/x86_64.rs).
#
# Usage: crates/weft/tests/gdb_async_backtrace.sh [DIR]
#   DIR holds the built examples; without it, builds them with cargo
#   (honours CARGO_TARGET_DIR and CARGO) and uses those.
# Exit status: 0 pass, 1 fail (including: gdb is not installed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
crate=$(dirname "$here")

if ! command -v gdb >/dev/null 2>&1; then
    echo "FAIL: gdb is not installed, so the gdb backtrace check cannot run."
    echo "      Install it (apt-get install gdb; .ci/run does this) and rerun."
    exit 1
fi

dir=${1:-}
if [ -z "$dir" ]; then
    cargo=${CARGO:-cargo}
    # --workspace: resolve features as `cargo test --workspace` does, so the
    # examples reuse the dependencies that run built (no second Cranelift).
    (cd "$crate" && "$cargo" build --quiet --workspace \
        --example async_backtrace --example continuation_backtrace)
    target=${CARGO_TARGET_DIR:-$(cd "$crate/../.." && pwd)/target}
    dir=$target/debug/examples
fi

# backtrace EXAMPLE BREAKPOINT: gdb's `bt` at the first stop there.
backtrace() {
    local bin=$dir/$1 out
    [ -x "$bin" ] || { echo "FAIL: no executable at $bin"; exit 1; }
    out=$(gdb -nx -batch \
        -ex 'set debuginfod enabled off' \
        -ex 'set pagination off' \
        -ex 'set width 0' \
        -ex "break $2" \
        -ex 'run' \
        -ex 'echo ==== STOP 1\n' \
        -ex 'bt' \
        -ex 'echo ==== END\n' \
        -ex 'kill' \
        "$bin" 2>&1) || true
    echo "$out" >&2
    echo "----" >&2
    awk '/^==== STOP 1/{on=1; next} /^==== END/{on=0} on' <<<"$out"
}

bt=$(backtrace async_backtrace weft_example_host_leaf)

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
    'weft::vm::async_fiber::run_job' \
    "$start" \
    'weft_fiber_switch' \
    'weft_example_poller' \
    'async_backtrace::main '

# Continuations: the host call runs on the native stack (its switch frame
# and each continuation's start frame are signal frames for gdb, see
# src/vm/continuation/x86_64.rs).
switch='weft_call_on_stack|<signal handler called>'
cont_start='weft_cont_start|<signal handler called>'
bt=$(backtrace continuation_backtrace weft_example_cont_leaf)
check "host call from a nested continuation" "$bt" \
    'weft_example_cont_leaf' \
    'weft::vm::continuation::run_off_continuation::run' \
    "$switch" \
    'weft::vm::builtins::host_call' \
    ' in trampoline::wasm_to_host::' \
    ' in wasm::module::inner_body \(' \
    ' in trampoline::array_to_wasm::' \
    "$cont_start" \
    ' in wasm::module::outer_helper \(' \
    ' in wasm::module::outer_body \(' \
    "$cont_start" \
    ' in wasm::module::function\[4\] \(' \
    'weft_enter' \
    'continuation_backtrace::main '

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "PASS: gdb backtraces from an async host call and from a host call in nested continuations walk through named wasm frames to main"
