#!/usr/bin/env python3
"""Throw + catch through 10 frames: weft vs the wasmtime 49 CLI.

The module's `run(n)` throws n exceptions. Each one is thrown 10 frames
below a `try_table`; every other one is first caught with `catch_ref` 10
frames down the other way and rethrown with `throw_ref` (so half the
throws unwind twice). Both CLIs run the same text with `--invoke run N`
(`-W exceptions=y` for wasmtime).

Time per throw = (wall(N_big) - wall(N_small)) / (N_big - N_small): the
difference removes process start, compilation and instantiation. Runs of
the two runtimes are interleaved; medians over the iterations are shown.
Peak RSS (ru_maxrss of the child) of a 10-million-throw run is compared
with that of a 10-throw run: the exception objects must be reclaimed
(wasmtime's big run is smaller by default: it is far slower per throw).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODULE = r"""(module
  (tag $t (param i32))
  (func $thrower (param i32) (throw $t (local.get 0)))
  ;; 10 frames down, then throw.
  (func $down (param i32 i32)
    (if (i32.eqz (local.get 1))
      (then (call $thrower (local.get 0)) (return)))
    (call $down (local.get 0) (i32.sub (local.get 1) (i32.const 1))))
  ;; catch_ref the exception 10 frames down, rethrow it with throw_ref.
  (func $rethrower (param i32) (local $e exnref)
    (block $h (result i32 exnref)
      (try_table (catch_ref $t $h)
        (call $down (local.get 0) (i32.const 9)))
      (unreachable))
    (local.set $e)
    (drop)
    (throw_ref (local.get $e)))
  (func (export "run") (param i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get 0)))
        (local.set $sum (i32.add (local.get $sum)
          (block $h (result i32)
            (try_table (catch $t $h)
              (if (i32.and (local.get $i) (i32.const 1))
                (then (call $rethrower (local.get $i)))
                (else (call $down (local.get $i) (i32.const 9)))))
            (unreachable))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum)))
"""


def run(cmd):
    """Wall seconds and stdout of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed ({p.returncode}): {err.decode()[-2000:]}")
    return wall, out.decode().strip()


def rss_of(cmd):
    """Peak RSS (KiB) of one run of cmd."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"error: {' '.join(cmd)} failed (status {status})")
    return ru.ru_maxrss


def expected(n):
    return sum(range(n)) & 0xFFFFFFFF


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weft", required=True)
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("-n", type=int, default=5, help="iterations (default 5)")
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=2_000_000)
    ap.add_argument("--rss-throws", type=int, default=10_000_000)
    ap.add_argument(
        "--rss-throws-wasmtime",
        type=int,
        default=1_000_000,
        help="wasmtime's big RSS run (it is ~100x slower per throw; default 1M)",
    )
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weft-exn-bench-")
    wat = os.path.join(tmp, "throw.wat")
    with open(wat, "w") as f:
        f.write(MODULE)
    cmds = {
        "weft": lambda n: [args.weft, "run", "--invoke", "run", wat, str(n)],
        "wasmtime": lambda n: [args.wasmtime, "run", "-W", "exceptions=y", "--invoke", "run", wat, str(n)],
    }
    per_throw = {k: [] for k in cmds}
    for it in range(args.n):
        order = list(cmds) if it % 2 == 0 else list(reversed(cmds))
        for name in order:
            walls = {}
            for n in (args.small, args.big):
                wall, out = run(cmds[name](n))
                got = int(out.split()[-1]) & 0xFFFFFFFF
                if got != expected(n):
                    sys.exit(f"error: {name} run({n}) returned {out}, expected {expected(n)}")
                walls[n] = wall
            per_throw[name].append((walls[args.big] - walls[args.small]) / (args.big - args.small))
    print(f"throw + catch through 10 frames, half rethrown with throw_ref ({args.n} iterations, medians)")
    print("| runtime | ns per throw | ratio to wasmtime |")
    print("|---|---|---|")
    wt = statistics.median(per_throw["wasmtime"])
    for name in cmds:
        m = statistics.median(per_throw[name])
        print(f"| {name} | {m * 1e9:.0f} | {m / wt:.2f} |")
    print()
    print("peak RSS (KiB): a 10-throw run vs a big run")
    print("| runtime | throws in the big run | tiny run | big run | growth |")
    print("|---|---|---|---|---|")
    for name, big_n in (("weft", args.rss_throws), ("wasmtime", args.rss_throws_wasmtime)):
        tiny = rss_of(cmds[name](10))
        big = rss_of(cmds[name](big_n))
        print(f"| {name} | {big_n:,} | {tiny} | {big} | {big - tiny} |")


if __name__ == "__main__":
    main()
