//! Runs `tests/gdb_async_backtrace.sh`: gdb stopped in a host function
//! called from wasm on an async fiber must backtrace through named wasm
//! frames (gdb's JIT interface) into the code that resumed the fiber; and
//! stopped in a host function called from a continuation inside another
//! continuation, through both continuations into the resuming export.
//!
//! gdb must be installed (`.ci/run` installs it): without it this test
//! fails rather than pass silently.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn gdb_backtraces_walk_wasm_frames_across_fibers_and_continuations() {
    if Command::new("gdb").arg("--version").output().is_err() {
        panic!(
            "\n\n*** gdb is not installed: the gdb backtrace check cannot run. ***\n\
             *** Install it (apt-get install gdb; .ci/run does) and rerun.  ***\n"
        );
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gdb_async_backtrace.sh");
    // This test binary lives in <target>/<profile>/deps/; the script builds
    // the example into the same target directory.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(&script).env("CARGO_TARGET_DIR", &target);
    if let Some(cargo) = std::env::var_os("CARGO") {
        cmd.env("CARGO", cargo);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "gdb_async_backtrace.sh failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("PASS"), "{stdout}");
}
