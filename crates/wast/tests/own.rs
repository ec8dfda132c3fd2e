//! Runs the project's own `.wast` scripts (`tests/wast/*.wast` at the
//! workspace root): regression and edge-case tests that need no corpus from
//! outside the repository.

use std::path::Path;

#[test]
fn project_wast_scripts_pass() {
    run_all(false);
}

/// The same scripts with every module passed through a precompiled
/// artifact (`WastRunner::precompiled`).
#[test]
fn project_wast_scripts_pass_precompiled() {
    run_all(true);
}

fn run_all(precompiled: bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/wast");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let report = weft_wast::WastRunner::new(weft::Config::new())
            .precompiled(precompiled)
            .run_file(file)
            .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
        println!(
            "{}: {} passed, {} failed",
            file.display(),
            report.passed(),
            report.failed()
        );
        assert!(report.passed() > 0, "{}: no directive ran", file.display());
        for (line, msg) in report.failures() {
            failures.push(format!("{}:{line}: {msg}", file.display()));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
