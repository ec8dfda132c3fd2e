//! Runs `tests/gdb_backtrace.sh`: gdb stopped on a fiber must backtrace
//! into the resumer's frames. gdb is part of these machines' image and
//! `.ci/run` installs it when absent, so a missing gdb is a failure.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn gdb_backtrace_from_a_fiber_reaches_the_resumer() {
    assert!(
        Command::new("gdb").arg("--version").output().is_ok(),
        "gdb is not installed (apt-get install gdb): this test needs it"
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gdb_backtrace.sh");
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
        "gdb_backtrace.sh failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("PASS"), "{stdout}");
}
