//! `weft run` end to end: exit statuses, WASI arguments/environment and
//! preopens, reactors with `--invoke`, `--preload`, a deep wasm stack,
//! proposals turned off with `-W` (GC, custom descriptors, stack
//! switching), and clear errors for bad command lines.

use std::path::PathBuf;
use std::process::{Command, Output};

fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name)
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env_remove("WEFT_LOG")
        // The code cache goes to the build's scratch space, never the
        // user's cache directory.
        .env(
            "XDG_CACHE_HOME",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-run-cache"),
        )
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn exit_status_args_and_env() {
    let file = guest("exit_with_arg_count.wat");
    let f = file.to_str().unwrap();
    // wasmtime-style flags, as Go's wasip1 test runner passes them; guest
    // flags after FILE go to the guest.
    let o = weft(&[
        "run",
        "--dir=/",
        "--env",
        "PWD=/tmp",
        "--env",
        "PATH=/bin",
        "-W",
        "max-wasm-stack=8388608",
        f,
        "-test.v=true",
        "-test.timeout=10m0s",
        "--dir",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{f}\n-test.v=true\n-test.timeout=10m0s\n--dir\nPWD=/tmp\nPATH=/bin\n")
    );
    let o = weft(&["run", f]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn preopened_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hello.txt"), "hi there").unwrap();
    let dir = format!("{}::/", tmp.path().display());
    let o = weft(&["run", "--dir", &dir, guest("cat_dir.wat").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi there");
    // Without a preopen, fd 3 is not a directory: EBADF (8) + 100.
    let o = weft(&["run", guest("cat_dir.wat").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(108));
}

#[test]
fn trap_exit_status() {
    let o = weft(&["run", guest("trap.wat").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(134));
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
}

#[test]
fn uncaught_exception_exit_status() {
    // As wasmtime: an uncaught exception is an error (1), not a trap.
    let f = guest("uncaught.wat");
    let o = weft(&["run", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("uncaught wasm exception"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("thrower"), "{}", stderr(&o));
    // With exceptions disabled the module does not validate.
    let o = weft(&["run", "-W", "exceptions=n", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("exception"), "{}", stderr(&o));
}

#[test]
fn gc_programs_run_by_default_and_gc_can_be_turned_off() {
    let f = guest("gc.wat");
    let f = f.to_str().unwrap();
    let o = weft(&["run", "--invoke", "sum", f, "100000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "705082704\n",
        "100000 * 100001 / 2, wrapped to i32"
    );
    let o = weft(&["run", "-W", "gc=y", "--invoke", "misc", f]);
    assert_eq!(stdout(&o), "8\n", "{}", stderr(&o));
    let o = weft(&["run", "-W", "gc=n", "--invoke", "misc", f]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("gc"), "{}", stderr(&o));
}

#[test]
fn custom_descriptors_are_on_by_default_and_can_be_turned_off() {
    let f = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("descriptors.wat");
    std::fs::write(
        &f,
        r#"(module
          (rec
            (type $t (descriptor $d) (struct (field i32)))
            (type $d (describes $t) (struct (field i32))))
          (func (export "tag") (param i32) (result i32)
            (struct.get $d 0
              (ref.get_desc $t
                (struct.new_desc $t (i32.const 1) (struct.new $d (local.get 0)))))))"#,
    )
    .unwrap();
    let f = f.to_str().unwrap();
    let o = weft(&["run", "--invoke", "tag", f, "42"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");
    for off in ["custom-descriptors=n", "gc=n"] {
        let o = weft(&["run", "-W", off, "--invoke", "tag", f, "42"]);
        assert_eq!(o.status.code(), Some(1), "{off}: {}", stderr(&o));
        assert!(stderr(&o).contains("descriptor"), "{off}: {}", stderr(&o));
    }
}

/// A module whose export doubles its argument inside a continuation.
const CONT_DOUBLE: &str = r#"(module
  (type $f (func (param i32) (result i32)))
  (type $ct (cont $f))
  (func $double (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2)))
  (elem declare func $double)
  (func (export "run") (param i32) (result i32)
    (resume $ct (local.get 0) (cont.new $ct (ref.func $double)))))"#;

#[test]
fn stack_switching_is_on_by_default_and_can_be_turned_off() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let f = dir.join("cont_double.wat");
    std::fs::write(&f, CONT_DOUBLE).unwrap();
    let f = f.to_str().unwrap();
    for on in [None, Some("stack-switching=y")] {
        let mut args = vec!["run"];
        args.extend(on.iter().flat_map(|o| ["-W", o]));
        args.extend(["--invoke", "run", f, "21"]);
        let o = weft(&args);
        assert_eq!(o.status.code(), Some(0), "{on:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "42\n", "{on:?}");
    }
    let o = weft(&["run", "-W", "stack-switching=n", "--invoke", "run", f, "21"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("stack switching is disabled"),
        "{}",
        stderr(&o)
    );

    // `weft wast` takes the same setting.
    let w = dir.join("cont_double.wast");
    std::fs::write(
        &w,
        format!("{CONT_DOUBLE}\n(assert_return (invoke \"run\" (i32.const 21)) (i32.const 42))\n"),
    )
    .unwrap();
    let w = w.to_str().unwrap();
    let o = weft(&["wast", "-W", "stack-switching=y", w]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("2 passed, 0 failed"), "{}", stdout(&o));
    let o = weft(&["wast", "-W", "stack-switching=n", w]);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("stack switching is disabled"), "{all}");
}

#[test]
fn reactor_invoke_runs_initialize_first() {
    let o = weft(&[
        "run",
        "--invoke",
        "get",
        guest("reactor.wat").to_str().unwrap(),
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1005\n");
}

#[test]
fn preload() {
    let lib = format!("lib={}", guest("lib.wat").display());
    let o = weft(&[
        "run",
        "--preload",
        &lib,
        "--invoke",
        "nine",
        guest("uses_lib.wat").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "9\n");
    let o = weft(&[
        "run",
        "--invoke",
        "nine",
        guest("uses_lib.wat").to_str().unwrap(),
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("`lib`.`triple`"), "{}", stderr(&o));
}

#[test]
fn deep_wasm_stack() {
    let f = guest("deep.wat");
    let f = f.to_str().unwrap();
    // Fails with the default 512 KiB limit...
    let o = weft(&["run", "--invoke", "deep", f, "50000"]);
    assert_eq!(o.status.code(), Some(134));
    assert!(stderr(&o).contains("stack"), "{}", stderr(&o));
    // ... and works with 8 MiB, whatever the main thread's stack is.
    let o = weft(&[
        "run",
        "-W",
        "max-wasm-stack=8388608",
        "--invoke",
        "deep",
        f,
        "50000",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "50000\n");
}

#[test]
fn bad_command_lines_give_clear_errors() {
    let f = guest("reactor.wat");
    let f = f.to_str().unwrap();
    let o = weft(&["run", "--bogus", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unexpected argument '--bogus'"));
    let o = weft(&["run", "--dir", "/no/such/dir", f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/no/such/dir"), "{}", stderr(&o));
    let o = weft(&["run", "--preload", "nonsense", f]);
    assert!(stderr(&o).contains("expected NAME=FILE"), "{}", stderr(&o));
    let o = weft(&["run", "/no/such/file.wasm"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/no/such/file.wasm"), "{}", stderr(&o));
    let o = weft(&["run", "-W", "max-wasm-stack=lots", f]);
    assert!(
        stderr(&o).contains("invalid value `lots`"),
        "{}",
        stderr(&o)
    );
    let o = weft(&["run", "--invoke", "nope", f]);
    assert!(
        stderr(&o).contains("no exported function `nope`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fuel_limits_the_guest() {
    let f = guest("limits.wat");
    let f = f.to_str().unwrap();
    let o = weft(&["run", "-W", "fuel=100000", "--invoke", "spin", f]);
    assert_eq!(o.status.code(), Some(134), "{}", stderr(&o));
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));
    // count(10) needs 10 * 9 + 5 units; a little less is not enough.
    let o = weft(&["run", "-W", "fuel=95", "--invoke", "count", f, "10"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "10\n");
    let o = weft(&["run", "-W", "fuel=80", "--invoke", "count", f, "10"]);
    assert_eq!(o.status.code(), Some(134), "{}", stderr(&o));
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));
    let o = weft(&["run", "-W", "fuel=many", "--invoke", "count", f, "1"]);
    assert!(
        stderr(&o).contains("invalid value `many`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn max_memory_size_limits_growth() {
    let f = guest("limits.wat");
    let f = f.to_str().unwrap();
    let o = weft(&["run", "--invoke", "grow", f, "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\n");
    let limit = ["run", "-W", "max-memory-size=131072", "--invoke", "grow", f];
    let o = weft(&[&limit[..], &["1"]].concat());
    assert_eq!(stdout(&o), "1\n", "{}", stderr(&o));
    let o = weft(&[&limit[..], &["2"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "-1\n");
    // A module whose initial memory is already too large does not start.
    let o = weft(&[
        "run",
        "-W",
        "max-memory-size=1000",
        "--invoke",
        "grow",
        f,
        "0",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("memory limits"), "{}", stderr(&o));
}
