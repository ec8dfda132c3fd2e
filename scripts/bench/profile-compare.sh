#!/bin/sh
# Per-function CPU samples of one Sightglass benchmark, weft vs wasmtime.
#   scripts/bench/profile-compare.sh BENCH_DIR FILE.wasm [PERIOD_NS]
# Both runs are sampled by `perf record` (cpu-clock where the VM has no PMU,
# so on-CPU time of the process, far less sensitive to machine load than
# wall clock). weft names its JIT code through WEFT_PERF_MAP, wasmtime
# through `--profile=perfmap`; both call wasm function N `fN`, so the hot
# functions line up. Host rows named cranelift/regalloc/wasmparser are
# weft compiling (wasmtime runs a precompiled .cwasm).
# Env: WEFT (weft binary, default target/release/weft), WASMTIME.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1; wasm=$2; period=${3:-20000}
weft=${WEFT:-$root/target/release/weft}
wt=${WASMTIME:-$(python3 -c 'import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))')/wasmtime}
tmp=$(mktemp -d)
pre="--dir . --preload bench=$root/scripts/bench/bench-preload.wat"
cd "$dir"
"$wt" compile "$wasm" -o "$tmp/m.cwasm"
WEFT_PERF_MAP=1 perf record -q -e cpu-clock:u -c "$period" -o "$tmp/weft.perf" "$weft" run $pre "$wasm" >/dev/null 2>"$tmp/weft.err"
perf record -q -e cpu-clock:u -c "$period" -o "$tmp/wt.perf" "$wt" run --profile=perfmap --allow-precompiled $pre "$tmp/m.cwasm" >/dev/null 2>"$tmp/wt.err"
echo "weft exec: $(grep -o 'exec_ns=[0-9]*' "$tmp/weft.err")   wasmtime exec: $(grep -o 'exec_ns=[0-9]*' "$tmp/wt.err")"
python3 - "$tmp" <<'PY'
import collections, re, subprocess, sys
tmp = sys.argv[1]
def prof(f):
    out = subprocess.run(["perf", "report", "-i", f, "--no-children", "--sort", "sym", "-F", "sample,sym"],
                         capture_output=True, text=True).stdout
    d = collections.Counter()
    for l in out.splitlines():
        m = re.match(r"\s*(\d+)\s+\[\.\]\s+(.*)", l)
        if m:
            mm = re.search(r"wasm\[(?:0\]::function\[)?(\d+)\]", m[2])
            d[("f" + mm[1]) if mm else "host:" + m[2][:60]] += int(m[1])
    return d
a, b = prof(f"{tmp}/weft.perf"), prof(f"{tmp}/wt.perf")
print(f"{'function':66s} {'weft':>7s} {'wasmtime':>8s}")
for k in sorted(set(a) | set(b), key=lambda k: -(a[k] + b[k]))[:30]:
    print(f"{k:66s} {a[k]:7d} {b[k]:8d}")
PY
rm -rf "$tmp"
