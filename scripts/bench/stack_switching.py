#!/usr/bin/env python3
"""Stack switching (typed continuations): weft vs the wasmtime CLI.

Runs the programs in benches/stack-switching/ with both CLIs
(`run -W stack-switching=y,... --invoke run FILE ARGS`), each at a small
and a large size, and reports the difference of the median wall times
(net of start-up, compilation and the fixed part of the program) divided
by the work added:

  generator     ns per suspend/resume round trip: run(N) yields N values
  switch        ns per switch: two tasks hand a counter to each other
                with `switch` (no goal in issue 10)
  sieve         ms for the first 2000 primes, a chain of 2000 coroutine
                filters (net of run(1)); also ns per filter round trip
  round_robin   ns per turn over 10,000 live continuations (net of the
                first two rounds; the first creates them); the same for
                round_robin_state_machine (no continuations), and the
                ratio continuations / state machine on each engine;
                also with 100 tasks (fewer stacks: cache effects)
  tree          s for a 10-ary tree of depth 6: 1,111,111 continuations
                created and run to completion, at most 7 alive (net of
                depth 1); depth 4 (11,111) as a size wasmtime can run
  live          KiB of peak RSS per live suspended continuation:
                (maxrss(run(1,000,000)) - maxrss(run(1000))) / 999,000;
                also at 20,000 (a size wasmtime can run)

Every run's result (the program's checksum) is compared with the value
computed here independently; a wrong result or a failed run is reported
as that engine failing that benchmark (with the first line of its error),
never hidden. A run that fails is not repeated. A run is killed after
--timeout s or once its RSS passes --max-rss MiB (a failure too). Peak RSS is the child's
ru_maxrss from wait4. Runs are interleaved (repetition, then benchmark,
then both engines in alternating order); before each repetition the
script waits (up to --max-wait s) for the 1-minute load average to drop
below --max-load, and it reports the load averages it ran at. With
--pin CPU every run of both engines is confined to that one CPU
(`taskset -c CPU`): on a shared virtual machine that removes most of
the spread between runs (migrations, a sibling's load), for both
engines alike; start-up work that would use more CPUs takes longer,
but it cancels out of the net times.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
BENCHES = os.path.join(ROOT, "benches/stack-switching")
M64 = 1 << 64


# ---- expected results, computed independently of the programs ----------

def exp_generator(n):
    return n * (n - 1) // 2 % M64


def exp_sieve(n):
    return sum(first_primes(n)) % M64


def first_primes(n):
    if n == 0:
        return []
    limit = 32
    while True:
        flags = bytearray([1]) * (limit + 1)
        flags[0:2] = b"\0\0"
        for i in range(2, int(limit**0.5) + 1):
            if flags[i]:
                flags[i * i :: i] = bytearray(len(flags[i * i :: i]))
        ps = [i for i in range(limit + 1) if flags[i]]
        if len(ps) >= n:
            return ps[:n]
        limit *= 2


def sieve_round_trips(n):
    """Suspend/resume round trips in sieve.run(n): every number the source
    produces is yielded once by the source and once more by every filter
    it passes (the filters for the primes below its smallest factor)."""
    ps = first_primes(n)
    if not ps:
        return 0
    trips = 0
    found = []
    for x in range(2, ps[-1] + 1):
        trips += 1
        for p in found:
            if x % p == 0:
                break
            trips += 1
        else:
            found.append(x)
    return trips


def rr_task_sum(tasks, rounds):
    s = 0
    for i in range(tasks):
        x = i
        for k in range(rounds):
            if k & 1 == 0:
                x = (x * 1103515245 + i) & 0xFFFFFFFF
            else:
                x ^= x >> 7
            s += x
    return s % M64


_rr_cache = {}


def exp_round_robin(tasks, rounds):
    key = (tasks, rounds)
    if key not in _rr_cache:
        _rr_cache[key] = rr_task_sum(tasks, rounds)
    return _rr_cache[key]


def tree_nodes(depth):
    return (10 ** (depth + 1) - 1) // 9


def exp_tree(depth):
    # Level j's ids are 10*i+k (k = 1..10) for the ids i of level j-1:
    # sum_j = 100*sum_{j-1} + 55*count_{j-1}, count_j = 10*count_{j-1}.
    total, level_sum, count = 0, 0, 1
    for _ in range(depth):
        level_sum, count = 100 * level_sum + 55 * count, 10 * count
        total += level_sum
    return total % M64


def exp_switch(n):
    return (n * (n + 1) // 2) % M64


def exp_live(n):
    sq = (n - 1) * n * (2 * n - 1) // 6 if n else 0
    return (3 * sq + 3 * n + n * (n - 1) // 2) % M64


# ---- the benchmarks -------------------------------------------------------

# name -> file, small args, large args, expected(args...)
CASES = {
    "generator": ("generator.wat", (1000,), (10_000_000,), exp_generator),
    "switch": ("switch.wat", (1000,), (10_000_000,), exp_switch),
    "sieve": ("sieve.wat", (1,), (2000,), exp_sieve),
    "round_robin": ("round_robin.wat", (10_000, 2), (10_000, 1002), exp_round_robin),
    "round_robin_sm": ("round_robin_state_machine.wat", (10_000, 2), (10_000, 1002), exp_round_robin),
    "round_robin_100": ("round_robin.wat", (100, 2), (100, 100_002), exp_round_robin),
    "round_robin_sm_100": ("round_robin_state_machine.wat", (100, 2), (100, 100_002), exp_round_robin),
    "tree": ("tree.wat", (1,), (6,), exp_tree),
    "tree_d4": ("tree.wat", (1,), (4,), exp_tree),
    "live": ("live.wat", (1000,), (1_000_000,), exp_live),
    "live_20k": ("live.wat", (1000,), (20_000,), exp_live),
}


# ---- running --------------------------------------------------------------

class Failed(Exception):
    pass


WARNING = re.compile(r"^warning: using `--invoke`")


def summarize_error(stderr):
    """First line of the error and its innermost cause (anyhow's format:
    `Error: ...`, `Caused by:`, `    0: ...`), without backtraces."""
    lines = [l for l in stderr.splitlines() if l.strip() and not WARNING.match(l)]
    if not lines:
        return "(no message)"
    first = lines[0].strip()
    cause = None
    if "Caused by:" in [l.strip() for l in lines]:
        i = [l.strip() for l in lines].index("Caused by:")
        for l in lines[i + 1 :]:
            m = re.match(r"^\s+\d+: (.*)$", l)
            if not m:
                break
            cause = m.group(1).strip()
    if cause and cause != first:
        return f"{first} / {cause}"
    return first


TIME = "/usr/bin/time"


def tree_rss(pid):
    """RSS in KiB of pid and its children (GNU time and the CLI under it)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for l in f:
                    if l.startswith("VmRSS:"):
                        total += int(l.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


def run_once(cmd, env, timeout, max_rss=None):
    """Runs cmd; returns (wall seconds, peak RSS KiB, rc, stdout, stderr).

    Peak RSS comes from GNU time (`-f %M`) when it is installed: Linux
    carries the peak RSS of the memory a process replaces at exec into its
    ru_maxrss, and a child spawned from this script replaces this
    script's memory (vfork), so wait4 here would report at least this
    script's own peak. GNU time forks the command from its own small
    process. Without it, wait4's figure is used (a floor of this script's
    RSS under the small run: see the note in the report)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile() as rssf:
        full = [TIME, "-f", "%M", "-o", rssf.name, *cmd] if os.path.exists(TIME) else cmd
        t0 = time.perf_counter()
        pid = os.posix_spawn(full[0], full, env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
        ])
        killed = []
        done = threading.Event()

        def watch():
            # Kills the run's process group after `timeout` s, or once the
            # command's RSS passes `max_rss` KiB (the machine is shared).
            t_end = time.monotonic() + timeout
            while not done.wait(0.05):
                why = None
                if time.monotonic() > t_end:
                    why = f"timed out after {timeout} s"
                elif max_rss and tree_rss(pid) > max_rss:
                    why = f"stopped: RSS above {max_rss // 1024} MiB (--max-rss)"
                if why:
                    killed.append(why)
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, ru = os.wait4(pid, 0)
        dt = time.perf_counter() - t0
        done.set()
        watcher.join()
        out.seek(0)
        err.seek(0)
        so = out.read().decode(errors="replace")
        se = err.read().decode(errors="replace")
        rss = ru.ru_maxrss
        cpu = ru.ru_utime + ru.ru_stime
        if full is not cmd:
            report = open(rssf.name).read().split()
            rss = int(report[-1]) if report and report[-1].isdigit() else None
            m = re.search(r"Command terminated by signal (\d+)", open(rssf.name).read())
            if m and not killed:
                sig = signal.Signals(int(m.group(1))).name
                raise Failed(f"killed by {sig}: {summarize_error(se)}")
    if killed:
        raise Failed(killed[0])
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        raise Failed(f"killed by {sig}: {summarize_error(se)}")
    rc = os.WEXITSTATUS(status)
    return dt, rss, rc, so, se, cpu


class Engine:
    def __init__(self, name, exe, flags, env, pin=None):
        self.name, self.exe, self.flags, self.env = name, exe, flags, env
        self.prefix = ["taskset", "-c", str(pin)] if pin is not None else []

    def run(self, wat, args, expected, timeout, max_rss=None):
        if not self.exe or not os.path.exists(self.exe):
            raise Failed(f"binary not found: {self.exe}")
        cmd = [self.exe, "run", *self.flags, "--invoke", "run", wat, *map(str, args)]
        if self.prefix:
            cmd = [shutil.which(self.prefix[0]) or "/usr/bin/taskset", *self.prefix[1:], *cmd]
        dt, rss, rc, so, se, cpu = run_once(cmd, self.env, timeout, max_rss)
        if rc != 0:
            raise Failed(f"exit {rc}: {summarize_error(se)}")
        out = [l for l in so.splitlines() if l.strip()]
        try:
            got = int(out[-1]) % M64
        except (IndexError, ValueError):
            raise Failed(f"no integer result on stdout: {so[-200:]!r}")
        if got != expected:
            raise Failed(f"wrong result for run({', '.join(map(str, args))}): {got}, expected {expected}")
        return dt, rss, cpu


def wait_for_quiet(max_load, max_wait):
    t0 = time.time()
    while os.getloadavg()[0] >= max_load and time.time() - t0 < max_wait:
        time.sleep(5)
    return os.getloadavg()[0]


# ---- report ---------------------------------------------------------------

NOISE = "noise"  # a ratio of which one side's net time is <= 0


def fmt(x, unit):
    if x is None:
        return "failed"
    if x is NOISE:
        return "noise (net <= 0)"
    if unit != "x" and x <= 0:
        return fmt_pos(x, unit) + " (noise)"
    return fmt_pos(x, unit)


def fmt_pos(x, unit):
    if unit == "ns":
        return f"{x * 1e9:.1f} ns"
    if unit == "us":
        return f"{x * 1e6:.1f} us"
    if unit == "ms":
        return f"{x * 1e3:.1f} ms"
    if unit == "s":
        return f"{x:.3f} s"
    if unit == "KiB":
        return f"{x:.2f} KiB"
    if unit == "x":
        return f"{x:.2f}x"
    return f"{x:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weft", default=os.path.join(ROOT, "target/release/weft"))
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("--weft-flags", default="-W stack-switching=y,function-references=y")
    ap.add_argument("--wasmtime-flags", default="-W stack-switching=y,function-references=y,exceptions=y")
    ap.add_argument("-n", "--iterations", type=int, default=5)
    ap.add_argument("--filter", help="regex over benchmark names")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run")
    ap.add_argument("--max-rss", type=int, default=8192,
                    help="MiB: a run whose RSS passes this is stopped and reported as failing (0: no limit)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time runs by wall clock, or by CPU time (user + system: less disturbed by other "
                         "processes on a loaded machine, but adds up the CLI's threads)")
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--max-wait", type=float, default=300, help="seconds to wait for --max-load per repetition")
    ap.add_argument("--markdown", help="also write the table here")
    ap.add_argument("--pin", type=int, metavar="CPU",
                    help="run both engines on this CPU only (taskset -c CPU)")
    args = ap.parse_args()

    cases = {k: v for k, v in CASES.items() if not args.filter or re.search(args.filter, k)}
    tmp = tempfile.mkdtemp(prefix="weft-stack-switching-")
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
    env.pop("WEFT_GDB_JIT", None)
    engines = [
        Engine("weft", args.weft, args.weft_flags.split(), env, args.pin),
        Engine("wasmtime", args.wasmtime, args.wasmtime_flags.split(), env, args.pin),
    ]
    print("computing expected results...", file=sys.stderr, flush=True)
    expect = {k: (f(*small), f(*large)) for k, (_, small, large, f) in cases.items()}

    # samples[engine][case][size] = list of (wall, rss); failures[(engine, case)] = msg
    samples = {e.name: {c: {"small": [], "large": []} for c in cases} for e in engines}
    failures = {}
    loads = [os.getloadavg()[0]]

    def one(e, c, size):
        if (e.name, c) in failures:
            return
        wat_name, small, large, _ = cases[c]
        a = small if size == "small" else large
        try:
            samples[e.name][c][size].append(
                e.run(os.path.join(BENCHES, wat_name), a, expect[c][size == "large"], args.timeout,
                      args.max_rss * 1024))
        except Failed as err:
            failures[(e.name, c)] = f"run({', '.join(map(str, a))}): {err}"
            print(f"  {e.name} {c}: failed: {failures[(e.name, c)]}", file=sys.stderr, flush=True)

    # Warm-up (fills each engine's code cache, checks results once).
    for c in cases:
        for e in engines:
            for size in ("small", "large"):
                one(e, c, size)
    for s in samples.values():
        for c in s.values():
            c["small"].clear()
            c["large"].clear()
    for it in range(args.iterations):
        load = wait_for_quiet(args.max_load, args.max_wait)
        loads.append(load)
        print(f"repetition {it + 1}/{args.iterations} (load {load:.2f})", file=sys.stderr, flush=True)
        for j, c in enumerate(cases):
            order = engines if (it + j) % 2 == 0 else engines[::-1]
            for e in order:
                one(e, c, "small")
                one(e, c, "large")
    loads.append(os.getloadavg()[0])

    def med(e, c, size, k=0):
        if (e, c) in failures or c not in cases or not samples[e][c][size]:
            return None
        return statistics.median(s[k] for s in samples[e][c][size])

    clock_ix = 2 if args.clock == "cpu" else 0

    small_net = set()  # (engine, case) whose net time is under 2 ms: mostly noise

    def net(e, c):
        a, b = med(e, c, "small", clock_ix), med(e, c, "large", clock_ix)
        if a is not None and b is not None and abs(b - a) < 0.002:
            small_net.add((e, c))
        return None if a is None or b is None else b - a

    def work(c):
        _, small, large, _ = cases[c]
        return small, large

    def per(e, c, units):
        n = net(e, c)
        return None if n is None else n / units

    rows = []  # (benchmark, measure, weft, wasmtime, unit, goal, met)

    def ratio(a, b):
        if a is None or b is None or a is NOISE or b is NOISE:
            return None if a is None or b is None else NOISE
        return NOISE if a <= 0 or b <= 0 else a / b

    def real(r):
        return r is not None and r is not NOISE

    if "generator" in cases:
        (n1,), (n2,) = work("generator")
        w, t = per("weft", "generator", n2 - n1), per("wasmtime", "generator", n2 - n1)
        r = ratio(w, t)
        met = (r <= 0.3 and w <= 5e-9) if real(r) else None
        rows.append(("generator", "per suspend/resume round trip", w, t, "ns", "<= 0.3x and <= 5 ns", met, "generator"))
    if "switch" in cases:
        (n1,), (n2,) = work("switch")
        w, t = per("weft", "switch", n2 - n1), per("wasmtime", "switch", n2 - n1)
        rows.append(("switch (two tasks)", "per switch", w, t, "ns", "", None, "switch"))
    if "sieve" in cases:
        (n1,), (n2,) = work("sieve")
        w, t = net("weft", "sieve"), net("wasmtime", "sieve")
        r = ratio(w, t)
        rows.append((f"sieve ({n2} filters)", f"net of run({n1})", w, t, "ms", "<= 0.2x",
                     r <= 0.2 if real(r) else None))
        trips = sieve_round_trips(n2) - sieve_round_trips(n1)
        rows.append(("sieve", f"per round trip, whole net time / {trips:,}",
                     None if w is None else w / trips, None if t is None else t / trips, "ns", "", None))
    for sfx in ("", "_100"):
        turns = {}
        for c, label in (("round_robin" + sfx, "round_robin (continuations)"),
                         ("round_robin_sm" + sfx, "round_robin_state_machine")):
            if c in cases:
                (tk, r1), (_, r2) = work(c)
                turns[c] = tk * (r2 - r1)
                rows.append((f"{label}, {tk:,} tasks", f"per turn, net of {r1} rounds",
                             per("weft", c, turns[c]), per("wasmtime", c, turns[c]), "ns", "", None, c))
        if len(turns) == 2:
            c, sm = "round_robin" + sfx, "round_robin_sm" + sfx
            tk = work(c)[0][0]
            rw = ratio(per("weft", c, turns[c]), per("weft", sm, turns[sm]))
            rt = ratio(per("wasmtime", c, turns[c]), per("wasmtime", sm, turns[sm]))
            goal = "weft <= 1.5x" if sfx == "" else ""
            rows.append((f"round_robin / state machine, {tk:,} tasks", "same engine", rw, rt, "x",
                         goal, rw <= 1.5 if real(rw) and goal else None))
    for c in ("tree", "tree_d4"):
        if c in cases:
            (d1,), (d2,) = work(c)
            nodes = tree_nodes(d2) - tree_nodes(d1)
            w, t = net("weft", c), net("wasmtime", c)
            if c == "tree":
                rows.append((f"tree depth {d2} ({tree_nodes(d2):,} continuations)", f"net of depth {d1}",
                             w, t, "s", "< 0.1 s", None if w is None or w <= 0 else w < 0.1, c))
            rows.append((f"tree depth {d2}", "per continuation",
                         None if w is None else w / nodes, None if t is None else t / nodes, "ns", "", None, c))
    for c in ("live", "live_20k"):
        if c in cases:
            (n1,), (n2,) = work(c)
            kib = {}
            for e in ("weft", "wasmtime"):
                a, b = med(e, c, "small", 1), med(e, c, "large", 1)
                kib[e] = None if a is None or b is None else (b - a) / (n2 - n1)
            rows.append((f"live {n2:,} suspended", f"peak RSS per continuation, net of {n1}",
                         kib["weft"], kib["wasmtime"], "KiB",
                         "<= 4 KiB" if c == "live" else "",
                         None if c != "live" or kib["weft"] is None else kib["weft"] <= 4))
            rows.append((f"live {n2:,}", "time per continuation (create, park, finish)",
                         per("weft", c, n2 - n1), per("wasmtime", c, n2 - n1), "us", "", None, c))

    lines = ["| benchmark | measure | weft | wasmtime 49 | weft/wasmtime | goal | weft meets goal |",
             "|---|---|---:|---:|---:|---|---|"]
    for name, measure, w, t, unit, goal, met, *case in rows:
        r = "" if unit == "x" else fmt(ratio(w, t), "x") if ratio(w, t) is not None else "-"
        m = "-" if met is None else ("yes" if met else "no")
        cell = {}
        for e, v in (("weft", w), ("wasmtime", t)):
            cell[e] = fmt(v, unit)
            if case and (e, case[0]) in small_net and not cell[e].endswith("(noise)"):
                cell[e] += " (net < 2 ms: noise)"
        lines.append(f"| {name} | {measure} | {cell['weft']} | {cell['wasmtime']} | {r} | {goal} | {m} |")
    lines.append("")
    if failures:
        lines.append("Failures:")
        lines.append("")
        for (e, c), msg in sorted(failures.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            lines.append(f"- {c}, {e}: failed: {msg}")
        lines.append("")
    lines.append(
        f"Times are {'CPU time (user + system, of the CLI and its threads)' if clock_ix else 'wall-clock time'} "
        f"of whole runs. Medians of {args.iterations} interleaved repetitions (after one warm-up run each); "
        f"net = median(large) - median(small). 1-minute load average: "
        f"{loads[0]:.2f} at the start, {min(loads[1:-1] or loads):.2f}-{max(loads[1:-1] or loads):.2f} "
        f"at the repetitions, {loads[-1]:.2f} at the end."
        + (f" Every run pinned to CPU {args.pin} (taskset)." if args.pin is not None else "")
    )
    out = "\n".join(lines) + "\n"
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
