//! The Sightglass benchmark programs as a correctness test: every core
//! module under `benchmarks/` runs once through the embedding API with
//! WASI, and its output must equal the corpus's expectation exactly.
//!
//! The corpus is `../shared/sightglass` (from the workspace root) or
//! `$WEFT_SIGHTGLASS` (the folder holding `benchmarks/`, or `benchmarks/`
//! itself); a missing corpus fails loudly. Run with
//! `cargo test -p weft-wasi --test sightglass [-- FILTER...]`
//! (`WEFT_SIGHTGLASS_JOBS` benchmarks at a time, default 2).
//!
//! Each benchmark runs as Sightglass's runner (`crates/cli/src/benchmark.rs`
//! and wasmtime's bench-api) runs it: no arguments, no environment, empty
//! stdin (inputs are files the program opens by relative path), the
//! benchmark's own folder preopened as `.`, and `bench.start` /
//! `bench.end` (`[] -> []`) as host functions, which must be called once
//! each, in that order. stdout and stderr are compared byte for byte with
//! `<stem>.stdout.expected` / `<stem>.stderr.expected`, or
//! `default.stdout.expected` / `default.stderr.expected` when the first
//! do not exist (Sightglass's rule). One difference is tolerated and
//! counted separately: an expectation file without a final newline
//! matching output that has one (libsodium's `default.stdout.expected` is
//! `0`, the programs print `0\n`, as under wasmtime; Sightglass compares
//! line by line, so it accepts this too). A benchmark for which the corpus
//! has no expectation at all (Sightglass then only warns) must still exit
//! with status 0 and call both hooks; it is reported as "output not
//! checked".

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weft::{Engine, FuncType, Linker, Module, Store};
use weft_wasi::{OutputPipe, OutputStream, WasiCtx, WasiCtxBuilder};

/// Benchmarks (paths under `benchmarks/`) that cannot pass, with the
/// reason. A listed benchmark that passes is reported as a failure so the
/// list stays accurate.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    (
        "cm-online-stats/cm-online-stats.wasm",
        "a component, not a core module (weft runs core modules only)",
    ),
    (
        "kotlin-richards/kotlin-richards.wasm",
        "a component (WASI 0.2 and a `bench` instance import), not a core module",
    ),
    (
        "image-classification/image-classification-benchmark.wasm",
        "needs wasi-nn (`wasi_ephemeral_nn` imports) and a model that its setup.sh \
         downloads; Sightglass's all.suite leaves it out too",
    ),
    (
        "hex-simd/benchmark.wasm",
        "the snapshot lacks its input (`default.input`) and `benchmark.stdout.expected` \
         (absent blobs, see PROVENANCE.md)",
    ),
    (
        "rust-protobuf/benchmark.wasm",
        "the snapshot lacks its input `default.input` (absent blob, see PROVENANCE.md)",
    ),
];

/// Benchmarks that exit (status 0, no output) after `bench.start` without
/// calling `bench.end`; wasmtime 49 runs them the same way (status 0, empty
/// stdout and stderr). For them the hooks must be exactly `[start]`.
const NO_BENCH_END: &[&str] = &[
    "libsodium/libsodium-sodium_utils2.wasm",
    "libsodium/libsodium-sodium_utils3.wasm",
];

/// Benchmark programs the snapshot does not contain (absent blobs, see
/// PROVENANCE.md): they cannot run. Checked to be still absent, so that
/// the list is updated when the corpus gains them.
const MISSING_FROM_CORPUS: &[&str] = &[
    "spidermonkey/spidermonkey-json.wasm",
    "spidermonkey/spidermonkey-markdown.wasm",
    "spidermonkey/spidermonkey-regex.wasm",
    "tract-onnx-image-classification/benchmark.wasm",
];

/// Native stack of the threads that run benchmarks (the wasm stack is the
/// engine default, 512 KiB, as wasmtime's).
const THREAD_STACK: usize = 32 << 20;

fn corpus_root() -> PathBuf {
    let base = match std::env::var_os("WEFT_SIGHTGLASS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sightglass"),
    };
    if base.join("benchmarks").is_dir() {
        base.join("benchmarks")
    } else {
        base
    }
}

/// Every `.wasm` under `root`'s benchmark folders, as `dir/file.wasm`.
fn benchmarks(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(dirs) = fs::read_dir(root) else {
        return out;
    };
    for dir in dirs.flatten() {
        if !dir.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wasm") {
                out.push(format!("{}/{name}", dir.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

/// The expectation file for `stream` (`stdout`/`stderr`), by Sightglass's
/// rule: `<stem>.<stream>.expected`, else `default.<stream>.expected`.
fn expectation(wasm: &Path, stream: &str) -> Option<PathBuf> {
    let dir = wasm.parent().unwrap();
    let stem = wasm.file_stem().unwrap().to_string_lossy();
    [
        dir.join(format!("{stem}.{stream}.expected")),
        dir.join(format!("default.{stream}.expected")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

#[derive(Default, Clone, Copy)]
struct Counts {
    pass: usize,
    final_newline: usize,
    unchecked: usize,
    xfail: usize,
    fail: usize,
}

/// Which hooks ran, in order.
#[derive(Default)]
struct State {
    wasi: Option<WasiCtx>,
    hooks: Vec<&'static str>,
}

enum Pass {
    /// Output equal to the expectation files, byte for byte.
    Exact,
    /// Equal but for a final newline missing from an expectation file.
    FinalNewline,
    /// The corpus has no expectation for this benchmark.
    Unchecked,
}

struct Report {
    result: Result<Pass, String>,
    compile: Duration,
    total: Duration,
}

fn first_difference(actual: &[u8], expected: &[u8]) -> String {
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let show = |b: &[u8]| {
        let end = (at + 60).min(b.len());
        format!("{:?}", String::from_utf8_lossy(&b[at.min(b.len())..end]))
    };
    format!(
        "{} bytes, expected {}; first difference at byte {at}: got {}, expected {}",
        actual.len(),
        expected.len(),
        show(actual),
        show(expected)
    )
}

fn run_benchmark(engine: &Engine, wasm: &Path, expected_hooks: &[&str]) -> Report {
    let start = Instant::now();
    let mut compile = Duration::ZERO;
    let result = (|| -> Result<Pass, String> {
        let module = Module::from_file(engine, wasm).map_err(|e| format!("compile: {e:#}"))?;
        compile = start.elapsed();
        let dir = wasm.parent().unwrap();
        let stdout = OutputPipe::new();
        let stderr = OutputPipe::new();
        let mut b = WasiCtxBuilder::new();
        b.stdout(OutputStream::Pipe(stdout.clone()));
        b.stderr(OutputStream::Pipe(stderr.clone()));
        b.preopened_dir(dir, ".")
            .map_err(|e| format!("preopen {}: {e:#}", dir.display()))?;
        let mut store = Store::new(
            engine,
            State {
                wasi: Some(b.build()),
                hooks: Vec::new(),
            },
        );
        let mut linker = Linker::new(engine);
        weft_wasi::add_to_linker(&mut linker, |s: &mut State| s.wasi.as_mut().unwrap())
            .map_err(|e| format!("{e:#}"))?;
        for hook in ["start", "end"] {
            linker
                .func_new(
                    "bench",
                    hook,
                    FuncType::new([], []),
                    move |mut caller, _, _| {
                        caller.data_mut().hooks.push(hook);
                        Ok(())
                    },
                )
                .map_err(|e| format!("{e:#}"))?;
        }
        let status = linker
            .instantiate(&mut store, &module)
            .and_then(|instance| weft_wasi::run_command(&mut store, &instance));
        let out = stdout.contents();
        let err = stderr.contents();
        let tail = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            let t: Vec<&str> = s.lines().rev().take(5).collect();
            t.into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        match status {
            Ok(0) => {}
            Ok(code) => {
                return Err(format!(
                    "exit status {code}\n--- stderr (end):\n{}",
                    tail(&err)
                ));
            }
            Err(e) => {
                return Err(format!("{e:#}\n--- stderr (end):\n{}", tail(&err)));
            }
        }
        let hooks = &store.data().hooks;
        if hooks.as_slice() != expected_hooks {
            return Err(format!(
                "bench hooks called {hooks:?}, expected {expected_hooks:?}"
            ));
        }
        let mut pass = Pass::Unchecked;
        for (stream, actual) in [("stdout", &out), ("stderr", &err)] {
            if let Some(path) = expectation(wasm, stream) {
                let expected = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                if *actual == expected {
                    if matches!(pass, Pass::Unchecked) {
                        pass = Pass::Exact;
                    }
                } else if !expected.ends_with(b"\n")
                    && actual.strip_suffix(b"\n") == Some(expected.as_slice())
                {
                    pass = Pass::FinalNewline;
                } else {
                    return Err(format!(
                        "{stream} differs from {}: {}",
                        path.file_name().unwrap().to_string_lossy(),
                        first_difference(actual, &expected)
                    ));
                }
            }
        }
        Ok(pass)
    })();
    Report {
        result,
        compile,
        total: start.elapsed(),
    }
}

fn main() {
    let root = corpus_root();
    let all = benchmarks(&root);
    if all.is_empty() {
        eprintln!(
            "error: the Sightglass corpus is missing: no benchmarks under {} (set \
             WEFT_SIGHTGLASS to the folder holding `benchmarks/`)",
            root.display()
        );
        std::process::exit(1);
    }
    let mut problems = Vec::new();
    for missing in MISSING_FROM_CORPUS {
        if root.join(missing).exists() {
            problems.push(format!(
                "{missing} is listed in MISSING_FROM_CORPUS but exists now: remove it from the list"
            ));
        }
    }
    for (name, _) in EXPECTED_FAILURES {
        if !all.iter().any(|b| b == name) {
            problems.push(format!(
                "{name} is listed in EXPECTED_FAILURES but is not in the corpus"
            ));
        }
    }

    // Filters: any non-flag argument selects benchmarks containing it.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<String> = all
        .into_iter()
        .filter(|b| filters.is_empty() || filters.iter().any(|f| b.contains(f.as_str())))
        .collect();
    let jobs: usize = std::env::var("WEFT_SIGHTGLASS_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2)
        .max(1);

    println!(
        "sightglass: {} benchmark(s) from {} ({jobs} at a time)",
        selected.len(),
        root.display()
    );
    let engine = Engine::default();
    let next = AtomicUsize::new(0);
    let counts = Mutex::new(Counts::default());
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(selected.len()) {
            std::thread::Builder::new()
                .stack_size(THREAD_STACK)
                .spawn_scoped(s, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(name) = selected.get(i) else { break };
                        let hooks: &[&str] = if NO_BENCH_END.contains(&name.as_str()) {
                            &["start"]
                        } else {
                            &["start", "end"]
                        };
                        let report = run_benchmark(&engine, &root.join(name), hooks);
                        let expected = EXPECTED_FAILURES
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, r)| *r);
                        let time = format!(
                            "{:.2}s, compile {:.2}s",
                            report.total.as_secs_f64(),
                            report.compile.as_secs_f64()
                        );
                        let mut c = counts.lock().unwrap();
                        match (report.result, expected) {
                            (Ok(Pass::Exact), None) => {
                                c.pass += 1;
                                println!("PASS  {name} ({time})");
                            }
                            (Ok(Pass::FinalNewline), None) => {
                                c.pass += 1;
                                c.final_newline += 1;
                                println!(
                                    "PASS  {name} ({time}; equal but for the final newline the \
                                     .expected file lacks)"
                                );
                            }
                            (Ok(Pass::Unchecked), None) => {
                                c.pass += 1;
                                c.unchecked += 1;
                                println!(
                                    "PASS  {name} ({time}; output not checked: the corpus has \
                                     no .expected file for it)"
                                );
                            }
                            (Err(e), Some(reason)) => {
                                c.xfail += 1;
                                let first = e.lines().next().unwrap_or_default().to_string();
                                println!("XFAIL {name} ({reason}): {first}");
                            }
                            (Ok(_), Some(reason)) => {
                                c.fail += 1;
                                let msg = format!(
                                    "{name} passed, but is listed in EXPECTED_FAILURES \
                                     ({reason}): remove it"
                                );
                                println!("FAIL  {msg}");
                                failures.lock().unwrap().push(msg);
                            }
                            (Err(e), None) => {
                                c.fail += 1;
                                println!("FAIL  {name} ({time}): {e}");
                                failures.lock().unwrap().push(format!("{name}: {e}"));
                            }
                        }
                    }
                })
                .unwrap();
        }
    });
    let c = *counts.lock().unwrap();
    for m in MISSING_FROM_CORPUS {
        println!("MISSING {m} (absent from the snapshot, see PROVENANCE.md)");
    }
    println!(
        "sightglass: {} passed ({} exactly, {} but for a final newline missing from the \
         .expected file, {} with no expected output to compare), {} failed, {} expected \
         failures, {} missing from the corpus; {:.1}s",
        c.pass,
        c.pass - c.final_newline - c.unchecked,
        c.final_newline,
        c.unchecked,
        c.fail,
        c.xfail,
        MISSING_FROM_CORPUS.len(),
        started.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() || !problems.is_empty() {
        for p in problems.iter().chain(&failures) {
            eprintln!("error: {p}");
        }
        std::process::exit(1);
    }
}
