//! Conformance: one trial per `.wast` file of the spec test suite (and of the
//! stack-switching proposal's tests).
//!
//! Corpora (they are data, not code; see `../shared/README.md`):
//! * `WEFT_SPEC_TESTSUITE`, default `<workspace>/../shared/testsuite`;
//! * `WEFT_STACK_SWITCHING_TESTSUITE`, default
//!   `<workspace>/../shared/stack-switching/test/core/stack-switching`.
//!
//! A missing corpus fails the run (it never passes with zero tests).
//!
//! [`EXPECTED_FAILURES`] lists the files that must fail for now, each with
//! its reason; only GC, exception handling and threads are allowed reasons.
//! An expected failure that passes fails its trial, so the list cannot go
//! stale. Every stack-switching file is expected to fail until the
//! proposal is implemented.
//!
//! Set `WEFT_SPEC_VERBOSE=1` to print every failing directive of expected
//! failures too.
//!
//! Set `WEFT_SPEC_PRECOMPILED=1` to pass every module through a
//! precompiled artifact first (`Engine::precompile_module` then
//! `Module::deserialize`): the same expectations then check that loaded
//! code behaves exactly like freshly compiled code.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const GC: &str = "GC";
const EH: &str = "exception handling";
const THREADS: &str = "threads";

/// `(path relative to the spec corpus, category, reason)`. The category is
/// one of GC, exception handling, threads.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[
    // GC: struct/array/i31 objects, casts, subtyping, GC reference values.
    ("array.wast", GC, "array types and instructions"),
    ("array_copy.wast", GC, "array.copy"),
    ("array_fill.wast", GC, "array.fill"),
    ("array_init_data.wast", GC, "array.init_data"),
    ("array_init_elem.wast", GC, "array.init_elem"),
    ("array_new_data.wast", GC, "array.new_data"),
    ("array_new_elem.wast", GC, "array.new_elem"),
    ("struct.wast", GC, "struct types and instructions"),
    ("i31.wast", GC, "i31 references"),
    ("br_on_cast.wast", GC, "br_on_cast"),
    ("br_on_cast_fail.wast", GC, "br_on_cast_fail"),
    ("ref_cast.wast", GC, "ref.cast"),
    ("ref_test.wast", GC, "ref.test"),
    ("ref_eq.wast", GC, "ref.eq on eqref values"),
    (
        "type-subtyping.wast",
        GC,
        "subtyping with struct/array types and casts",
    ),
    (
        "extern.wast",
        GC,
        "any.convert_extern/extern.convert_any; `ref.host` values need an anyref Val",
    ),
    (
        "proposals/custom-descriptors/array_new_exact.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/binary-descriptors.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/br_on_cast.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/br_on_cast_desc_eq.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/br_on_cast_desc_eq_fail.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/br_on_cast_fail.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/descriptors.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/exact-casts.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/exact-func-import.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/exact.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/ref_cast_desc_eq.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/ref_get_desc.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    (
        "proposals/custom-descriptors/struct_new_desc.wast",
        GC,
        "custom descriptors (GC extension)",
    ),
    // Exception handling.
    ("throw.wast", EH, "throw; assert_exception"),
    ("throw_ref.wast", EH, "throw_ref; assert_exception"),
    ("try_table.wast", EH, "try_table; assert_exception"),
    (
        "instance.wast",
        EH,
        "compares imported and exported tags with try_table/throw",
    ),
    (
        "legacy/rethrow.wast",
        EH,
        "legacy exception handling (try/catch/rethrow)",
    ),
    (
        "legacy/throw.wast",
        EH,
        "legacy exception handling (try/catch)",
    ),
    (
        "legacy/try_catch.wast",
        EH,
        "legacy exception handling (try/catch)",
    ),
    (
        "legacy/try_delegate.wast",
        EH,
        "legacy exception handling (try/delegate)",
    ),
    // Threads.
    (
        "proposals/threads/atomic.wast",
        THREADS,
        "shared memories and atomics",
    ),
    ("proposals/threads/exports.wast", THREADS, "shared memories"),
    ("proposals/threads/imports.wast", THREADS, "shared memories"),
    ("proposals/threads/memory.wast", THREADS, "shared memories"),
];

/// Single directives that are expected to fail inside files that must
/// otherwise pass: `(file, line, category, reason)`. A file with entries
/// here passes when exactly these lines fail.
const EXPECTED_DIRECTIVE_FAILURES: &[(&str, u32, &str, &str)] = &[
    (
        "table_init.wast",
        2272,
        GC,
        "the module's element segment uses array.new_default",
    ),
    ("table_init.wast", 2286, GC, "invokes the GC module above"),
    (
        "table_init64.wast",
        2457,
        GC,
        "the module's element segment uses array.new_default",
    ),
    ("table_init64.wast", 2471, GC, "invokes the GC module above"),
];

const STACK_SWITCHING_REASON: &str = "stack switching not implemented yet";

/// Whether `WEFT_SPEC_PRECOMPILED` asks for the precompiled mode.
fn precompiled_mode() -> bool {
    std::env::var_os("WEFT_SPEC_PRECOMPILED").is_some_and(|v| v != "0" && !v.is_empty())
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

fn corpus_dir(var: &str, default: &str) -> PathBuf {
    let dir = match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join(default),
    };
    // Shorter paths in messages when the directory exists.
    dir.canonicalize().unwrap_or(dir)
}

/// Every `.wast` file under `dir`, sorted, as paths relative to `dir`.
fn wast_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "wast") {
                out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `/`-separated relative path, the form used in [`EXPECTED_FAILURES`].
fn key(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Totals over all trials, printed at the end.
#[derive(Default)]
struct Totals {
    files_passed: AtomicUsize,
    files_failed: AtomicUsize,
    files_expected_failing: AtomicUsize,
    directives_passed: AtomicUsize,
    directives_failed: AtomicUsize,
}

fn run_trial(
    path: &Path,
    expected_failure: Option<&str>,
    expected_lines: &[u32],
    totals: &Totals,
) -> Result<(), Failed> {
    let mut runner = weft_wast::WastRunner::new(weft::Config::new());
    runner.precompiled(precompiled_mode());
    let verbose = std::env::var_os("WEFT_SPEC_VERBOSE").is_some();
    let outcome = runner.run_file(path);
    let (ok, summary) = match &outcome {
        Ok(report) => {
            totals
                .directives_passed
                .fetch_add(report.passed, Ordering::Relaxed);
            totals
                .directives_failed
                .fetch_add(report.failed, Ordering::Relaxed);
            let mut s = format!("{} passed, {} failed", report.passed, report.failed);
            for (line, msg) in &report.failures {
                s.push_str(&format!("\n  {}:{line}: {msg}", path.display()));
            }
            let failing: Vec<u32> = report.failures.iter().map(|(l, _)| *l as u32).collect();
            if expected_lines.is_empty() {
                (report.is_ok(), s)
            } else if failing == expected_lines {
                (true, s)
            } else {
                return Err(format!(
                    "expected exactly lines {expected_lines:?} to fail (see \
                     EXPECTED_DIRECTIVE_FAILURES), but lines {failing:?} failed: {s}"
                )
                .into());
            }
        }
        Err(e) => (false, format!("script error: {e:#}")),
    };
    match (ok, expected_failure) {
        (true, None) => {
            totals.files_passed.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        (false, None) => {
            totals.files_failed.fetch_add(1, Ordering::Relaxed);
            Err(summary.into())
        }
        (false, Some(reason)) => {
            totals
                .files_expected_failing
                .fetch_add(1, Ordering::Relaxed);
            if verbose {
                eprintln!("{}: expected failure ({reason}): {summary}", path.display());
            }
            Ok(())
        }
        (true, Some(reason)) => {
            totals.files_failed.fetch_add(1, Ordering::Relaxed);
            Err(format!(
                "unexpectedly passed; remove from list (listed as expected failure: {reason}); {summary}"
            )
            .into())
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let totals = Arc::new(Totals::default());
    let mut trials = Vec::new();
    let mut missing = Vec::new();

    let spec = corpus_dir("WEFT_SPEC_TESTSUITE", "../shared/testsuite");
    match wast_files(&spec) {
        Ok(files) if !files.is_empty() => {
            for entry in EXPECTED_DIRECTIVE_FAILURES {
                assert!(
                    [GC, EH, THREADS].contains(&entry.2),
                    "{}: bad category",
                    entry.0
                );
            }
            for entry in EXPECTED_FAILURES {
                assert!(
                    [GC, EH, THREADS].contains(&entry.1),
                    "{}: category must be GC, exception handling or threads",
                    entry.0
                );
            }
            let keys: Vec<String> = files.iter().map(|f| key(f)).collect();
            let stale: Vec<&str> = EXPECTED_FAILURES
                .iter()
                .map(|e| e.0)
                .filter(|p| !keys.iter().any(|k| k == p))
                .collect();
            trials.push(Trial::test(
                "spec::expected-failures-list-is-current",
                move || {
                    if stale.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("listed files not in the corpus: {stale:?}").into())
                    }
                },
            ));
            for (rel, k) in files.into_iter().zip(keys) {
                let path = spec.join(&rel);
                let expected = EXPECTED_FAILURES
                    .iter()
                    .find(|e| e.0 == k)
                    .map(|e| format!("{}: {}", e.1, e.2));
                let lines: Vec<u32> = EXPECTED_DIRECTIVE_FAILURES
                    .iter()
                    .filter(|e| e.0 == k)
                    .map(|e| e.1)
                    .collect();
                let totals = totals.clone();
                trials.push(Trial::test(format!("spec::{k}"), move || {
                    run_trial(&path, expected.as_deref(), &lines, &totals)
                }));
            }
        }
        Ok(_) => missing.push(format!("no .wast files under {}", spec.display())),
        Err(e) => missing.push(format!(
            "cannot read spec test suite at {}: {e}",
            spec.display()
        )),
    }

    let ss = corpus_dir(
        "WEFT_STACK_SWITCHING_TESTSUITE",
        "../shared/stack-switching/test/core/stack-switching",
    );
    match wast_files(&ss) {
        Ok(files) if !files.is_empty() => {
            for rel in files {
                let k = key(&rel);
                let path = ss.join(&rel);
                let totals = totals.clone();
                trials.push(Trial::test(format!("stack-switching::{k}"), move || {
                    run_trial(&path, Some(STACK_SWITCHING_REASON), &[], &totals)
                }));
            }
        }
        Ok(_) => missing.push(format!("no .wast files under {}", ss.display())),
        Err(e) => missing.push(format!(
            "cannot read stack-switching tests at {}: {e}",
            ss.display()
        )),
    }

    if !missing.is_empty() {
        for m in &missing {
            eprintln!("error: {m}");
        }
        eprintln!(
            "error: the conformance corpora are missing; set WEFT_SPEC_TESTSUITE / \
             WEFT_STACK_SWITCHING_TESTSUITE or provide ../shared (see ../shared/README.md)"
        );
        std::process::exit(1);
    }

    let conclusion = libtest_mimic::run(&args, trials);
    let t = &totals;
    println!(
        "wast files: {} passed, {} failed, {} expected failures; directives: {} passed, {} failed",
        t.files_passed.load(Ordering::Relaxed),
        t.files_failed.load(Ordering::Relaxed),
        t.files_expected_failing.load(Ordering::Relaxed),
        t.directives_passed.load(Ordering::Relaxed),
        t.directives_failed.load(Ordering::Relaxed),
    );
    conclusion.exit();
}
