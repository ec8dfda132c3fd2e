#!/usr/bin/env python3
"""wasm->host WASI calls and instantiation: weft vs the wasmtime CLI.

Generated command modules import `bench.start`/`bench.end` and are run by
both CLIs with `--preload bench=bench-preload.wat` (see sightglass.py):

  wasi_<fn>_N    `_start` calls `clock_time_get` (or `fd_write` of 0 bytes to
                 stdout) N times between bench.start and bench.end. Run at
                 two N; per call = (exec(N2) - exec(N1)) / (N2 - N1), which
                 removes the fixed cost of the start/end calls themselves.
  inst_small     a tiny module; `init` (preload instantiated -> first
  inst_large     bench.start, which `_start` calls at once) is its
                 instantiation (+ WASI/linking work between the two, and
                 `_start` entry). Large: 2000 functions in a table,
                 100 globals, 32 pages with 64 data segments of 4 KiB.
  inst_data_1m   a memory with 1 MiB / 16 MiB of data segments (64 KiB
  inst_data_16m  each): what copy-on-write memory images speed up. Each
                 run is a new process, so weft's number includes building
                 the module's image (wasmtime maps it from the .cwasm).

wasmtime runs precompiled `.cwasm`; weft compiles before the preload is
instantiated, so compilation is outside both numbers.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sightglass import PRELOAD, REPORT, find_wasmtime  # noqa: E402

HEADER = """(module
  (import "bench" "start" (func $start))
  (import "bench" "end" (func $end))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
"""


def wasi_loop(fn, n):
    call = {
        "clock": "(call $clock (i32.const 1) (i64.const 1) (i32.const 0))",
        "fd_write": "(call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))",
    }[fn]
    return (
        HEADER
        + f"""  (func (export "_start") (local $i i32) (local $acc i32)
    (i32.store (i32.const 16) (i32.const 64))
    call $start
    (loop $l
      (local.set $acc (i32.add (local.get $acc) {call}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))
    call $end))
"""
    )


def inst_module(large):
    s = HEADER
    if large:
        s = s.replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 32)")
        for i in range(2000):
            s += f'  (func $f{i} (export "f{i}") (param i32) (result i32) local.get 0 i32.const {i} i32.add)\n'
        s += "  (table 2000 funcref)\n  (elem (i32.const 0)" + "".join(f" $f{i}" for i in range(2000)) + ")\n"
        for i in range(100):
            s += f'  (global (export "g{i}") (mut i64) (i64.const {i}))\n'
        chunk = "x" * 4096
        for i in range(64):
            s += f'  (data (i32.const {i * 4096}) "{chunk}")\n'
    s += '  (func (export "_start") call $start call $end))\n'
    return s


def data_module(mib):
    s = HEADER.replace("(memory (export \"memory\") 1)", f"(memory (export \"memory\") {mib * 16 + 1})")
    chunk = "x" * 65536
    for i in range(mib * 16):
        s += f'  (data (i32.const {65536 + i * 65536}) "{chunk}")\n'
    s += '  (func (export "_start") call $start call $end))\n'
    return s


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {err[-300:]}")
    rep = {k: int(v) for k, v in REPORT.findall(err)}
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weft", required=True)
    ap.add_argument("--wasmtime", default=find_wasmtime())
    ap.add_argument("-n", "--iterations", type=int, default=7)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weft-hostcalls-")
    n1, n2 = 1000, 201000
    cases = {}
    for fn in ("clock", "fd_write"):
        for n in (n1, n2):
            cases[f"wasi_{fn}_{n}"] = wasi_loop(fn, n)
    cases["inst_small"] = inst_module(False)
    cases["inst_large"] = inst_module(True)
    cases["inst_data_1m"] = data_module(1)
    cases["inst_data_16m"] = data_module(16)
    files = {}
    for name, text in cases.items():
        wat = os.path.join(tmp, name + ".wat")
        with open(wat, "w") as f:
            f.write(text)
        cw = os.path.join(tmp, name + ".cwasm")
        subprocess.run([args.wasmtime, "compile", wat, "-o", cw], check=True)
        files[name] = (wat, cw)
    pre = ["--dir", ".", "--preload", f"bench={PRELOAD}"]
    samples = {rt: {name: [] for name in cases} for rt in ("weft", "wasmtime")}
    for it in range(args.iterations):
        for name, (wat, cw) in files.items():
            order = ["weft", "wasmtime"] if it % 2 == 0 else ["wasmtime", "weft"]
            for rt in order:
                if rt == "weft":
                    cmd = [args.weft, "run", *pre, wat]
                else:
                    cmd = [args.wasmtime, "run", "--allow-precompiled", *pre, cw]
                samples[rt][name].append(run(cmd, tmp))
    med = {
        rt: {name: {k: statistics.median(s[k] for s in v) for k in v[0]} for name, v in d.items()}
        for rt, d in samples.items()
    }
    lines = ["| measurement | weft | wasmtime | weft/wasmtime |", "|---|---:|---:|---:|"]
    for fn in ("clock", "fd_write"):
        per = {
            rt: (med[rt][f"wasi_{fn}_{n2}"]["exec"] - med[rt][f"wasi_{fn}_{n1}"]["exec"]) / (n2 - n1)
            for rt in med
        }
        lines.append(
            f"| `{fn}` WASI call from wasm (ns/call) | {per['weft']:.1f} | {per['wasmtime']:.1f} | {per['weft'] / per['wasmtime']:.2f} |"
        )
    for name in ("inst_small", "inst_large", "inst_data_1m", "inst_data_16m"):
        a, b = med["weft"][name]["init"] / 1e3, med["wasmtime"][name]["init"] / 1e3
        lines.append(f"| {name} instantiate+link (us) | {a:.1f} | {b:.1f} | {a / b:.2f} |")
    lines.append("")
    lines.append(
        f"Medians of {args.iterations} interleaved runs; per-call costs from N={n1} and N={n2}; load average {os.getloadavg()[0]:.2f} at the end."
    )
    out = "\n".join(lines) + "\n"
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
