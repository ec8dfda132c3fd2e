//! Conformance: one trial per `.wast` file of the spec test suite and of
//! the stack-switching proposal (its tests and its explainer's examples).
//!
//! Corpora (they are data, not code; see `../shared/README.md`):
//! * `WEFT_SPEC_TESTSUITE`, default `<workspace>/../shared/testsuite`;
//! * `WEFT_STACK_SWITCHING_TESTSUITE`, default
//!   `<workspace>/../shared/stack-switching` (every `.wast` below it:
//!   `test/core/stack-switching/` and `proposals/stack-switching/examples/`).
//!
//! A missing corpus fails the run (it never passes with zero tests).
//!
//! Expected failures are kept at directive level, so that a regression
//! inside a partly failing file turns the run red:
//! * [`EXPECTED_FAILURES`] lists the files that must fail for now, each with
//!   its reason (only GC, exception handling and threads are allowed) and
//!   the exact number of directives that fail in it. A directive after a
//!   module that failed to compile fails too ("no current module"), so a
//!   file that fails wholesale still has an exact count;
//! * [`EXPECTED_DIRECTIVE_FAILURES`] lists single failing lines inside
//!   files that otherwise pass;
//! * [`STACK_SWITCHING_EXPECTED`] gives the reason and count for each
//!   stack-switching file that does not pass yet.
//!
//! A file whose count differs fails its trial: more failures is a
//! regression; fewer is an improvement, and the message says to update
//! (or remove) the entry, so the lists cannot go stale.
//!
//! The run ends with the counts per group and a last line
//! `N passed, M failed` over all directives (expected failures included).
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

/// `(path relative to the spec corpus, category, reason, number of failing
/// directives)`. The category is one of GC, exception handling, threads.
const EXPECTED_FAILURES: &[(&str, &str, &str, usize)] = &[
    (
        "proposals/threads/atomic.wast",
        THREADS,
        "shared memories and atomics",
        297,
    ),
    (
        "proposals/threads/exports.wast",
        THREADS,
        "shared memories",
        6,
    ),
    (
        "proposals/threads/imports.wast",
        THREADS,
        "shared memories",
        9,
    ),
    (
        "proposals/threads/memory.wast",
        THREADS,
        "shared memories",
        11,
    ),
];

/// Single directives that are expected to fail inside files that must
/// otherwise pass: `(file, line, category, reason)`. A file with entries
/// here passes when exactly these lines fail.
const EXPECTED_DIRECTIVE_FAILURES: &[(&str, u32, &str, &str)] = &[
    (
        "proposals/custom-descriptors/br_on_cast_desc_eq.wast",
        456,
        GC,
        L_SUBTYPING,
    ),
    (
        "proposals/custom-descriptors/br_on_cast_desc_eq_fail.wast",
        432,
        GC,
        L_SUBTYPING,
    ),
    (
        "proposals/custom-descriptors/descriptors.wast",
        255,
        GC,
        L_SUBTYPING,
    ),
    (
        "proposals/custom-descriptors/descriptors.wast",
        262,
        GC,
        L_SUBTYPING,
    ),
    (
        "proposals/custom-descriptors/ref_cast_desc_eq.wast",
        168,
        GC,
        L_SUBTYPING,
    ),
];

/// Why the custom-descriptors entries of [`EXPECTED_DIRECTIVE_FAILURES`]
/// fail: each is a module the corpus expects to be valid.
const L_SUBTYPING: &str = "a subtype with a descriptor whose supertype has none (\"L\" \
     subtyping): the file predates WebAssembly/custom-descriptors#111, which disallowed the \
     pattern; wasmparser 0.263 implements the newer rule and rejects the module";

/// Where the lists are, for messages asking to update them.
const THIS_FILE: &str = "crates/wast/tests/spec.rs";

/// `(path relative to the stack-switching corpus, number of failing
/// directives, reason)`: the proposal's tests (`test/core/stack-switching`)
/// and the explainer's examples (`proposals/stack-switching/examples`).
/// Empty: every file passes.
const STACK_SWITCHING_EXPECTED: &[(&str, usize, &str)] = &[];

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

/// Counts of one group of trials (the spec corpus, the stack-switching
/// corpus), printed at the end.
#[derive(Default)]
struct Totals {
    files_passed: AtomicUsize,
    files_failed: AtomicUsize,
    files_expected_failing: AtomicUsize,
    directives_passed: AtomicUsize,
    directives_failed: AtomicUsize,
    /// Failed directives of files whose failures are exactly as listed.
    directives_expected_failing: AtomicUsize,
}

impl Totals {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }

    fn print(&self, group: &str) {
        let failed = Self::get(&self.directives_failed);
        let expected = Self::get(&self.directives_expected_failing);
        println!(
            "{group}: files {} passed, {} failed, {} expected failures; \
             directives {} passed, {failed} failed ({expected} expected, {} unexpected)",
            Self::get(&self.files_passed),
            Self::get(&self.files_failed),
            Self::get(&self.files_expected_failing),
            Self::get(&self.directives_passed),
            failed - expected,
        );
    }
}

/// What a file is expected to do.
enum Expect {
    /// Every directive passes.
    Pass,
    /// Exactly these lines fail ([`EXPECTED_DIRECTIVE_FAILURES`]).
    Lines(Vec<u32>),
    /// Exactly `count` directives fail, for `reason`; `list` names the
    /// constant to update.
    Failing {
        reason: String,
        count: usize,
        list: &'static str,
    },
}

/// Runs one file. The spec suite is Wasm 3.0, which does not include the
/// stack-switching proposal (it changes what is valid: a tag with results,
/// for one), so it runs without it; the stack-switching corpus runs with
/// the default configuration, where the proposal is on. Likewise the
/// custom-descriptors proposal relaxes `br_on_cast`'s typing, so only the
/// files of `proposals/custom-descriptors` run with it.
fn run_trial(
    path: &Path,
    expect: &Expect,
    totals: &Totals,
    stack_switching: bool,
) -> Result<(), Failed> {
    let mut config = weft::Config::new();
    config.wasm_stack_switching(stack_switching);
    let descriptors = path
        .components()
        .any(|c| c.as_os_str() == "custom-descriptors");
    config.wasm_custom_descriptors(descriptors || stack_switching);
    let mut runner = weft_wast::WastRunner::new(config);
    runner.precompiled(precompiled_mode());
    let verbose = std::env::var_os("WEFT_SPEC_VERBOSE").is_some();
    let (passed, failed, failing_lines, summary) = match runner.run_file(path) {
        Ok(report) => {
            let failing: Vec<u32> = report
                .directives
                .iter()
                .filter(|d| d.is_failure())
                .map(|d| d.line as u32)
                .collect();
            let mut summary = format!("{} passed, {} failed", report.passed(), report.failed());
            for (line, msg) in report.failures() {
                summary.push_str(&format!("\n  {}:{line}: {msg}", path.display()));
            }
            (report.passed(), report.failed(), failing, summary)
        }
        Err(e) => {
            // The parser rejects the script (legacy exception-handling
            // syntax): each of its top-level forms is a failed directive.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            match (weft_wast::count_top_level_forms(&text), expect) {
                (Some(n), Expect::Failing { .. }) => (
                    0,
                    n,
                    Vec::new(),
                    format!("script error, its {n} directives count as failed: {e:#}"),
                ),
                _ => {
                    totals.files_failed.fetch_add(1, Ordering::Relaxed);
                    return Err(format!("script error: {e:#}").into());
                }
            }
        }
    };
    totals
        .directives_passed
        .fetch_add(passed, Ordering::Relaxed);
    totals
        .directives_failed
        .fetch_add(failed, Ordering::Relaxed);
    let verdict: Result<(), String> = match expect {
        Expect::Pass if failed == 0 => Ok(()),
        Expect::Pass => Err(summary.clone()),
        Expect::Lines(lines) => {
            let failing = failing_lines;
            if failing == *lines {
                Ok(())
            } else {
                Err(format!(
                    "expected exactly lines {lines:?} to fail (see \
                     EXPECTED_DIRECTIVE_FAILURES), but lines {failing:?} failed: {summary}"
                ))
            }
        }
        Expect::Failing {
            reason,
            count,
            list,
        } => {
            if failed == *count {
                if verbose {
                    eprintln!("{}: expected failure ({reason}): {summary}", path.display());
                }
                Ok(())
            } else if failed == 0 {
                Err(format!(
                    "unexpectedly passed: remove it from {list} in {THIS_FILE} (listed \
                     as expected failure with {count} failing directives: {reason}); {summary}"
                ))
            } else if failed < *count {
                Err(format!(
                    "improvement: {failed} directives fail, {list} expects {count}; \
                     update its count to {failed} in {THIS_FILE} ({reason}); {summary}"
                ))
            } else {
                Err(format!(
                    "regression: {failed} directives fail, {list} expects {count} \
                     ({reason}); {summary}"
                ))
            }
        }
    };
    match verdict {
        Ok(()) => {
            // A file with a few listed failing lines counts as passed (as
            // in-scope), its listed lines as expected failing directives.
            let files = match expect {
                Expect::Failing { .. } => &totals.files_expected_failing,
                Expect::Pass | Expect::Lines(_) => &totals.files_passed,
            };
            files.fetch_add(1, Ordering::Relaxed);
            totals
                .directives_expected_failing
                .fetch_add(failed, Ordering::Relaxed);
            Ok(())
        }
        Err(msg) => {
            totals.files_failed.fetch_add(1, Ordering::Relaxed);
            Err(msg.into())
        }
    }
}

/// A trial failing with `message` if `stale` (list entries naming files
/// that are not in the corpus) is not empty.
fn stale_list_trial(name: &str, list: &'static str, stale: Vec<&'static str>) -> Trial {
    Trial::test(name, move || {
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("{list} names files not in the corpus: {stale:?}").into())
        }
    })
}

fn main() {
    let args = Arguments::from_args();
    let spec_totals = Arc::new(Totals::default());
    let ss_totals = Arc::new(Totals::default());
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
                .chain(EXPECTED_DIRECTIVE_FAILURES.iter().map(|e| e.0))
                .filter(|p| !keys.iter().any(|k| k == p))
                .collect();
            trials.push(stale_list_trial(
                "spec::expected-failures-list-is-current",
                "EXPECTED_FAILURES/EXPECTED_DIRECTIVE_FAILURES",
                stale,
            ));
            for (rel, k) in files.into_iter().zip(keys) {
                let path = spec.join(&rel);
                let lines: Vec<u32> = EXPECTED_DIRECTIVE_FAILURES
                    .iter()
                    .filter(|e| e.0 == k)
                    .map(|e| e.1)
                    .collect();
                let expect = match EXPECTED_FAILURES.iter().find(|e| e.0 == k) {
                    Some(e) => Expect::Failing {
                        reason: format!("{}: {}", e.1, e.2),
                        count: e.3,
                        list: "EXPECTED_FAILURES",
                    },
                    None if !lines.is_empty() => Expect::Lines(lines),
                    None => Expect::Pass,
                };
                let totals = spec_totals.clone();
                trials.push(Trial::test(format!("spec::{k}"), move || {
                    run_trial(&path, &expect, &totals, false)
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
        "../shared/stack-switching",
    );
    match wast_files(&ss) {
        Ok(files) if !files.is_empty() => {
            let keys: Vec<String> = files.iter().map(|f| key(f)).collect();
            let stale: Vec<&str> = STACK_SWITCHING_EXPECTED
                .iter()
                .map(|e| e.0)
                .filter(|p| !keys.iter().any(|k| k == p))
                .collect();
            trials.push(stale_list_trial(
                "stack-switching::expected-failures-list-is-current",
                "STACK_SWITCHING_EXPECTED",
                stale,
            ));
            for (rel, k) in files.into_iter().zip(keys) {
                let path = ss.join(&rel);
                let expect = match STACK_SWITCHING_EXPECTED.iter().find(|e| e.0 == k) {
                    Some(e) => Expect::Failing {
                        reason: e.2.to_string(),
                        count: e.1,
                        list: "STACK_SWITCHING_EXPECTED",
                    },
                    None => Expect::Pass,
                };
                let totals = ss_totals.clone();
                trials.push(Trial::test(format!("stack-switching::{k}"), move || {
                    run_trial(&path, &expect, &totals, true)
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
    spec_totals.print("spec");
    ss_totals.print("stack-switching");
    let passed: usize = [&spec_totals, &ss_totals]
        .iter()
        .map(|t| Totals::get(&t.directives_passed))
        .sum();
    let failed: usize = [&spec_totals, &ss_totals]
        .iter()
        .map(|t| Totals::get(&t.directives_failed))
        .sum();
    println!("{passed} passed, {failed} failed");
    conclusion.exit();
}
