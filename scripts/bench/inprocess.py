#!/usr/bin/env python3
"""Medians over runs of benches/inprocess (scripts/bench-inprocess.sh).

  python3 scripts/bench/inprocess.py RUN1.txt RUN2.txt ...

Each file is one run's output; its RESULT lines (name, unit, weft median,
wasmtime median, paired ratio, weft p25, p75, wasmtime p25, p75) are
combined per row: the median over runs of each runtime's median, their
ratio, and the spread of the per-run ratios. Prints a Markdown table and
the load average at the time of printing.
"""

import statistics
import sys


def main(paths):
    rows = {}
    order = []
    for path in paths:
        for line in open(path):
            if not line.startswith("RESULT\t"):
                continue
            f = line.rstrip("\n").split("\t")
            name, unit, w, m = f[1], f[2], float(f[3]), float(f[4])
            if name not in rows:
                rows[name] = (unit, [], [])
                order.append(name)
            rows[name][1].append(w)
            rows[name][2].append(m)
    print(f"| case | weft | wasmtime | weft/wasmtime | per-run ratios |")
    print("|---|---:|---:|---:|---|")
    for name in order:
        unit, w, m = rows[name]
        wm, mm = statistics.median(w), statistics.median(m)
        ratios = " ".join(f"{a / b:.2f}" for a, b in zip(w, m))
        print(f"| {name} | {fmt(wm)} | {fmt(mm)} | {wm / mm:.2f} | {ratios} |")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"\nMedians of {len(paths)} runs; load average {' '.join(load)} at the end.")


def fmt(x):
    return f"{x:.1f}" if x >= 100 else f"{x:.2f}" if x >= 10 else f"{x:.3f}"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
