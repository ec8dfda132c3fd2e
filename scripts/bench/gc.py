#!/usr/bin/env python3
"""GC allocation throughput and memory: weft vs the wasmtime 49 CLI.

The module's `run(n)` allocates, per iteration, two short-lived structs
(an i64 and a reference; the second points at the first) and, every 100
iterations, a small array of 8 i32s: 200 million structs and a million
arrays for n = 100,000,000. The live set is bounded: each pair replaces
the pair in one of 1,024 slots of a ring (an array of refs), each array
one of 64 slots, so almost every object dies young while the survivors
are reachable through GC arrays. The result is a checksum over the
fields read back, checked against the value computed here.

Time per struct = (wall(N_big) - wall(N_small)) / (N_big - N_small): the
difference removes process start, compilation and instantiation. Runs of
the two runtimes are interleaved; medians are shown. Peak RSS (ru_maxrss)
is compared between a small and a big run: it must stay flat as the
allocation count grows. Both CLIs run the same text with `--invoke run N`
(`-W gc=y,function-references=y` for wasmtime, whose GC is off by
default).
"""

import argparse
import os
import statistics
import sys
import tempfile

MODULE = r"""(module
  (type $node (struct (field $v i64) (field $next (ref null $node))))
  (type $ring (array (mut (ref null $node))))
  (type $small (array (mut i32)))
  (type $smalls (array (mut (ref null $small))))
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $sum i64)
    (local $ring (ref null $ring)) (local $arrs (ref null $smalls))
    (local $node (ref null $node)) (local $a (ref null $small))
    (local.set $ring (array.new_default $ring (i32.const 1024)))
    (local.set $arrs (array.new_default $smalls (i32.const 64)))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; a new struct, and a second one pointing at it, replace the pair
        ;; in one of the ring's 1,024 slots (the old pair dies)
        (local.set $node (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node)))
        (array.set $ring (local.get $ring) (i32.and (local.get $i) (i32.const 1023))
          (struct.new $node (i64.const 1) (local.get $node)))
        ;; read back: the new node's value
        (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $node))))
        (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 100)))
          (then
            (local.set $a (array.new $small (local.get $i) (i32.const 8)))
            (array.set $smalls (local.get $arrs) (i32.and (i32.div_u (local.get $i) (i32.const 100)) (i32.const 63))
              (local.get $a))
            (local.set $sum (i64.add (local.get $sum)
              (i64.extend_i32_u (array.get $small (local.get $a) (i32.const 7)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum)))
"""


def expected(n):
    s = n * (n - 1) // 2
    s += sum(range(0, n, 100))
    return s & 0xFFFFFFFFFFFFFFFF


# Same measurement helpers as the exceptions benchmark.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exceptions import rss_of, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weft", required=True)
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("-n", type=int, default=3, help="iterations (default 3)")
    ap.add_argument("--small", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=100_000_000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weft-gc-bench-")
    wat = os.path.join(tmp, "alloc.wat")
    with open(wat, "w") as f:
        f.write(MODULE)
    cmds = {
        "weft": lambda n: [args.weft, "run", "--invoke", "run", wat, str(n)],
        "wasmtime": lambda n: [
            args.wasmtime, "run", "-W", "gc=y,function-references=y",
            "--invoke", "run", wat, str(n),
        ],
    }
    per = {k: [] for k in cmds}
    walls_big = {k: [] for k in cmds}
    for it in range(args.n):
        order = list(cmds) if it % 2 == 0 else list(reversed(cmds))
        for name in order:
            walls = {}
            for n in (args.small, args.big):
                wall, out = run(cmds[name](n))
                got = int(out.split()[-1]) & 0xFFFFFFFFFFFFFFFF
                if got != expected(n):
                    sys.exit(f"error: {name} run({n}) returned {out}, expected {expected(n)}")
                walls[n] = wall
            walls_big[name].append(walls[args.big])
            per[name].append((walls[args.big] - walls[args.small]) / (args.big - args.small))
    load = os.getloadavg()[0]
    print(f"GC allocation: {args.big:,} structs (2 per iteration counted as one step) "
          f"and {args.big // 100:,} arrays, bounded live set ({args.n} iterations, medians; "
          f"load average {load:.2f})")
    print("| runtime | wall, big run (s) | ns per iteration | ratio to wasmtime |")
    print("|---|---|---|---|")
    wt = statistics.median(per["wasmtime"])
    for name in cmds:
        m = statistics.median(per[name])
        print(f"| {name} | {statistics.median(walls_big[name]):.2f} | {m * 1e9:.2f} | {m / wt:.2f} |")
    print()
    print("peak RSS (KiB): small run vs big run")
    print("| runtime | small run | big run | growth |")
    print("|---|---|---|---|")
    for name in cmds:
        small = rss_of(cmds[name](args.small))
        big = rss_of(cmds[name](args.big))
        print(f"| {name} | {small} | {big} | {big - small} |")


if __name__ == "__main__":
    main()
