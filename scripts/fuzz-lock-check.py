#!/usr/bin/env python3
"""Does the fuzz workspace (fuzz/) reuse the main workspace's Cranelift build?

  scripts/fuzz-lock-check.py            compare Cargo.lock with fuzz/Cargo.lock
  scripts/fuzz-lock-check.py --units    also compare cargo's unit graphs

1. Versions: for every crate both lock files contain, each
   semver-compatible line (1.x, 0.17.x, ...) both resolve must be the same
   version. Prints the `cargo update --precise` command for each that is
   not (the main lock is the reference).
2. With --units: the unit graphs of `cargo test --workspace --no-run` and
   `cargo build --manifest-path fuzz/Cargo.toml` (what .ci/run builds),
   and of the two `cargo check` runs under the clippy steps. Every unit of
   Cranelift and regalloc2 must have the same package, features, profile
   settings (the profile's name aside) and, recursively, dependencies;
   prints the first differences. Uses `-Z unstable-options --unit-graph`
   through RUSTC_BOOTSTRAP=1 (nothing is compiled).

Exit status 1 if anything differs.
"""

import hashlib
import json
import os
import subprocess
import sys
import tomllib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def line(version):
    parts = version.split("+")[0].split("-")[0].split(".")
    return parts[0] if parts[0] != "0" else ".".join(parts[:2]) if parts[1] != "0" else ".".join(parts[:3])


def lock_versions(path):
    out = {}
    for p in tomllib.load(open(path, "rb"))["package"]:
        if "source" in p:
            out.setdefault(p["name"], {})[line(p["version"])] = p["version"]
    return out


def check_locks():
    main = lock_versions(os.path.join(ROOT, "Cargo.lock"))
    fuzz = lock_versions(os.path.join(ROOT, "fuzz/Cargo.lock"))
    bad = 0
    for name in sorted(set(main) & set(fuzz)):
        for ln in sorted(set(main[name]) & set(fuzz[name])):
            a, b = main[name][ln], fuzz[name][ln]
            if a != b:
                bad += 1
                print(f"version: {name} {b} in fuzz/Cargo.lock, {a} in Cargo.lock:"
                      f"  cargo update --manifest-path fuzz/Cargo.toml -p {name}@{b} --precise {a}")
    print(f"lock files: {len(set(main) & set(fuzz))} shared crates, {bad} version(s) differ")
    return bad


def unit_graph(args):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    p = subprocess.run(["cargo", *args, "--unit-graph", "-Z", "unstable-options"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} --unit-graph failed:\n{p.stderr}")
    return json.loads(p.stdout)["units"]


def fingerprints(units):
    memo = {}

    def fp(i):
        if i not in memo:
            u = units[i]
            key = json.dumps([u["pkg_id"], u["target"]["name"], u["target"]["kind"], u["mode"], u["platform"],
                              sorted(u["features"]),
                              {k: v for k, v in u["profile"].items() if k != "name"},
                              sorted(fp(d["index"]) for d in u["dependencies"])], sort_keys=True)
            memo[i] = hashlib.sha256(key.encode()).hexdigest()
        return memo[i]

    by = {}
    for i, u in enumerate(units):
        by.setdefault((u["pkg_id"], u["target"]["name"], u["mode"]), []).append(i)
    return fp, by


def explain(ua, ub, fa, fb, k, seen, depth=0):
    """Prints why unit k differs: its own fields, or the dependencies that differ."""
    if k in seen or depth > 8:
        return
    seen.add(k)
    i, j = ua[1][k][0], ub[1][k][0]
    a, b = ua[0][i], ub[0][j]
    own = []
    if sorted(a["features"]) != sorted(b["features"]):
        own.append(f"features {sorted(a['features'])} vs {sorted(b['features'])}")
    for f in a["profile"]:
        if f != "name" and a["profile"][f] != b["profile"].get(f):
            own.append(f"profile {f} {a['profile'][f]} vs {b['profile'].get(f)}")
    name = k[0].split("#")[-1] + " " + k[1]
    if own:
        print(f"  {'  ' * depth}{name}: " + "; ".join(own))
    da = {(ua[0][d['index']]['pkg_id'], ua[0][d['index']]['target']['name'], ua[0][d['index']]['mode']): fa(d["index"]) for d in a["dependencies"]}
    db = {(ub[0][d['index']]['pkg_id'], ub[0][d['index']]['target']['name'], ub[0][d['index']]['mode']): fb(d["index"]) for d in b["dependencies"]}
    for d in sorted(set(da) | set(db)):
        if d not in da or d not in db:
            print(f"  {'  ' * depth}{name}: dependency {d[0].split('#')[-1]} {d[1]} only in {'fuzz' if d in db else 'main'}")
        elif da[d] != db[d]:
            explain(ua, ub, fa, fb, d, seen, depth + 1)


def check_units():
    bad = 0
    for main_args, fuzz_args in (
        (["test", "--workspace", "--no-run"], ["build", "--manifest-path", "fuzz/Cargo.toml"]),
        (["check", "--workspace", "--all-targets"], ["check", "--manifest-path", "fuzz/Cargo.toml"]),
    ):
        ga, gb = unit_graph(main_args), unit_graph(fuzz_args)
        fa, ba = fingerprints(ga)
        fb, bb = fingerprints(gb)
        keys = [k for k in set(ba) & set(bb) if k[0].split("#")[-1].startswith(("cranelift", "regalloc2"))]
        only = sorted(k[0].split("#")[-1] for k in set(bb) - set(ba)
                      if k[0].split("#")[-1].startswith(("cranelift", "regalloc2")))
        diff = [k for k in sorted(keys) if not {fa(i) for i in ba[k]} & {fb(i) for i in bb[k]}]
        print(f"cargo {' '.join(main_args)} vs cargo {' '.join(fuzz_args)}: "
              f"{len(keys)} Cranelift/regalloc2 units in both, {len(diff)} differ"
              + (f", only in fuzz: {', '.join(only)}" if only else ""))
        seen = set()
        for k in diff[:3]:
            explain((ga, ba), (gb, bb), fa, fb, k, seen)
        bad += len(diff) + len(only)
    return bad


def main():
    bad = check_locks()
    if "--units" in sys.argv[1:]:
        bad += check_units()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
