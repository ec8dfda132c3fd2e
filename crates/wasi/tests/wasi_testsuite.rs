//! WASI preview1 conformance: runs every test of the wasi-testsuite
//! (`tests/{c,rust,assemblyscript}/testsuite/wasm32-wasip1/*.wasm`) in
//! process and checks it against its `.json` specification.
//!
//! The corpus is `../shared/wasi-testsuite` (from the workspace root) or
//! `$WEFT_WASI_TESTSUITE`; a missing corpus fails loudly. Run with
//! `cargo test -p weft-wasi --test wasi_testsuite`.
//!
//! Each test gets: argv = [file name, args...], exactly the spec's
//! environment, captured stdout/stderr, empty stdin, and its `root`
//! directory (relative to the test's folder) copied to a fresh temporary
//! directory and preopened as `/` (tests create and delete files there).

use libtest_mimic::{Arguments, Failed, Trial};
use std::fs;
use std::path::{Path, PathBuf};
use weft::{Engine, Linker, Module, Store};
use weft_wasi::{OutputPipe, OutputStream, WasiCtx};

/// Tests known to fail, `suite/name` with the reason. A listed test that
/// passes is reported as a failure so the list stays accurate.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

const SUITES: &[&str] = &["c", "rust", "assemblyscript"];

fn corpus_root() -> PathBuf {
    match std::env::var_os("WEFT_WASI_TESTSUITE") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasi-testsuite"),
    }
}

#[derive(Debug, Default)]
struct Spec {
    args: Vec<String>,
    env: Vec<(String, String)>,
    root: Option<String>,
    exit_code: i32,
    stdout: Option<String>,
    stderr: Option<String>,
}

fn parse_spec(wasm: &Path) -> Result<Spec, String> {
    let json = wasm.with_extension("json");
    let mut spec = Spec::default();
    let Ok(text) = fs::read_to_string(&json) else {
        return Ok(spec);
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
    let mut fields = v.as_object().cloned().unwrap_or_default();
    // The operation-based format: one `run` and one `wait` are supported.
    if let Some(ops) = fields.remove("operations") {
        for op in ops.as_array().cloned().unwrap_or_default() {
            let op = op.as_object().cloned().unwrap_or_default();
            match op.get("type").and_then(|t| t.as_str()) {
                Some("run") | Some("wait") => {
                    for (k, val) in op {
                        if k != "type" {
                            fields.insert(k, val);
                        }
                    }
                }
                other => return Err(format!("unsupported operation {other:?}")),
            }
        }
    }
    for (k, val) in fields {
        match k.as_str() {
            "args" => {
                spec.args = val
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str().unwrap_or_default().to_string())
                    .collect()
            }
            "env" => {
                spec.env = val
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            }
            "root" => spec.root = val.as_str().map(str::to_string),
            "exit_code" => spec.exit_code = val.as_i64().unwrap_or(0) as i32,
            "stdout" => spec.stdout = val.as_str().map(str::to_string),
            "stderr" => spec.stderr = val.as_str().map(str::to_string),
            "proposals" if val.as_array().is_none_or(|a| a.is_empty()) => {}
            other => return Err(format!("unsupported spec field `{other}`")),
        }
    }
    Ok(spec)
}

/// Copies `src` to `dst`, giving the copies ordinary permissions (the
/// shared corpus may be read-only; upstream's checkout is writable).
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &to)?;
        } else if !entry.file_name().to_string_lossy().ends_with(".cleanup") {
            fs::copy(entry.path(), &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

fn run_test(wasm: &Path) -> Result<(), String> {
    let spec = parse_spec(wasm)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut builder = WasiCtx::builder();
    builder.arg(wasm.file_name().unwrap().to_string_lossy());
    builder.args(spec.args.iter().cloned());
    for (k, v) in &spec.env {
        builder.env(k, v);
    }
    let stdout = OutputPipe::new();
    let stderr = OutputPipe::new();
    builder.stdout(OutputStream::Pipe(stdout.clone()));
    builder.stderr(OutputStream::Pipe(stderr.clone()));
    if let Some(root) = &spec.root {
        let src = wasm.parent().unwrap().join(root);
        let dst = tmp.path().join("root");
        copy_tree(&src, &dst).map_err(|e| format!("copying {}: {e}", src.display()))?;
        builder
            .preopened_dir(&dst, "/")
            .map_err(|e| e.to_string())?;
    }
    let engine = Engine::default();
    let module = Module::from_file(&engine, wasm).map_err(|e| format!("{e:#}"))?;
    let mut store = Store::new(&engine, builder.build());
    let mut linker = Linker::new(&engine);
    weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).map_err(|e| format!("{e:#}"))?;
    let result = linker
        .instantiate(&mut store, &module)
        .and_then(|instance| weft_wasi::run_command(&mut store, &instance));
    let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
    let err = String::from_utf8_lossy(&stderr.contents()).into_owned();
    let describe = || format!("\n--- stdout:\n{out}\n--- stderr:\n{err}");
    let code = match result {
        Ok(code) => code,
        Err(e) => return Err(format!("error: {e:#}{}", describe())),
    };
    if code != spec.exit_code {
        return Err(format!(
            "exit status {code}, expected {}{}",
            spec.exit_code,
            describe()
        ));
    }
    if let Some(expected) = &spec.stdout
        && *expected != out
    {
        return Err(format!(
            "stdout {out:?}, expected {expected:?}{}",
            describe()
        ));
    }
    if let Some(expected) = &spec.stderr
        && *expected != err
    {
        return Err(format!(
            "stderr {err:?}, expected {expected:?}{}",
            describe()
        ));
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let root = corpus_root();
    let mut trials = Vec::new();
    let mut missing = Vec::new();
    for suite in SUITES {
        let dir = root
            .join("tests")
            .join(suite)
            .join("testsuite/wasm32-wasip1");
        let Ok(entries) = fs::read_dir(&dir) else {
            missing.push(dir);
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        for wasm in files {
            let name = format!("{suite}/{}", wasm.file_stem().unwrap().to_string_lossy());
            let expected = EXPECTED_FAILURES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, r)| *r);
            trials.push(Trial::test(name, move || {
                match (run_test(&wasm), expected) {
                    (Ok(()), None) => Ok(()),
                    (Err(e), None) => Err(Failed::from(e)),
                    (Err(_), Some(_)) => Ok(()),
                    (Ok(()), Some(reason)) => Err(Failed::from(format!(
                        "passed, but is listed in EXPECTED_FAILURES ({reason}): remove it"
                    ))),
                }
            }));
        }
    }
    if !missing.is_empty() || trials.is_empty() {
        eprintln!(
            "error: the wasi-testsuite corpus is missing: {} (set WEFT_WASI_TESTSUITE to \
             its folder)",
            missing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::process::exit(1);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    println!(
        "wasi-testsuite: {} passed, {} failed",
        conclusion.num_passed, conclusion.num_failed
    );
    conclusion.exit();
}
