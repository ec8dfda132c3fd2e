#!/usr/bin/env python3
"""Start-up of a large module: weft vs the wasmtime CLI, wall time per run.

Each runtime runs the same WASI command module N times in each mode:

  cold         code cache off (`-C cache=n`): every run compiles
  cached       code cache on, in a private cache directory
               (XDG_CACHE_HOME=<tmp>), warmed by one run first
  precompiled  `compile -o m.cwasm` once, then `run --allow-precompiled`

and the script reports the median and the minimum of N wall times per
mode, with the weft/wasmtime ratio of the medians. Outputs of every run
must equal the first run's (exit status and stdout), or the script fails.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    return dt, (p.returncode, p.stdout)


def measure(name, cmd, env, n, expect):
    times = []
    for _ in range(n):
        dt, out = run(cmd, env)
        if out != expect:
            sys.exit(f"{name}: output differs from the reference run: {out!r} vs {expect!r}")
        times.append(dt)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--cold-runs", type=int, help="runs of the cold mode (default: -n)")
    ap.add_argument("--markdown")
    ap.add_argument("wasm")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base_env = dict(os.environ)
        base_env.pop("WEFT_GDB_JIT", None)
        ref = None
        for rt, exe in (("weft", a.weft), ("wasmtime", a.wasmtime)):
            cache_home = os.path.join(tmp, rt + "-cache")
            env = dict(base_env, XDG_CACHE_HOME=cache_home)
            cwasm = os.path.join(tmp, rt + ".cwasm")
            subprocess.run([exe, "compile", a.wasm, "-o", cwasm], env=env, check=True)
            prog = [a.wasm] + a.args
            modes = {
                "cold": [exe, "run", "-C", "cache=n"] + prog,
                "cached": [exe, "run"] + prog,
                "precompiled": [exe, "run", "--allow-precompiled", cwasm] + a.args,
            }
            # Reference output and a warm cache.
            _, out = run(modes["cached"], env)
            if ref is None:
                ref = out
            elif out != ref:
                sys.exit(f"{rt}: output differs from weft's: {out!r} vs {ref!r}")
            for mode, cmd in modes.items():
                n = a.cold_runs or a.n if mode == "cold" else a.n
                med, lo = measure(f"{rt} {mode}", cmd, env, n, ref)
                rows.append((rt, mode, med, lo))
                print(f"{rt:9} {mode:12} median {med*1000:8.1f} ms   min {lo*1000:8.1f} ms",
                      flush=True)

    by = {(r, m): med for r, m, med, _ in rows}
    lines = [
        f"Module: `{os.path.basename(a.wasm)}` ({os.path.getsize(a.wasm)/1e6:.2f} MB), "
        f"{a.n} runs per mode ({a.cold_runs or a.n} cold), wall time of the whole process; "
        f"load average {os.getloadavg()[0]:.2f} at the end.",
        "",
        "| mode | weft median (ms) | wasmtime median (ms) | weft / wasmtime |",
        "|------|-----------------:|---------------------:|----------------:|",
    ]
    for mode in ("cold", "cached", "precompiled"):
        w, t = by[("weft", mode)], by[("wasmtime", mode)]
        lines.append(f"| {mode} | {w*1000:.1f} | {t*1000:.1f} | {w/t:.2f} |")
    text = "\n".join(lines)
    print()
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
