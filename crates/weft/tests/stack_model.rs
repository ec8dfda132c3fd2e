//! The stack model: per-stack records, the one frame walker, traps that
//! unwind only wasm frames, the host stack reserve, and async calls that
//! move between threads.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use weft::{Caller, Config, Engine, Func, Instance, Module, Store, Trap, Val, WasmBacktrace};

mod common;
use common::{YieldN, block_on};

fn async_engine() -> Engine {
    let mut config = Config::new();
    config.async_support(true);
    Engine::new(&config).unwrap()
}

fn frame_names(err: &anyhow::Error) -> Vec<String> {
    let bt = err
        .downcast_ref::<WasmBacktrace>()
        .unwrap_or_else(|| panic!("no wasm backtrace in {err:?}"));
    bt.frames
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_default())
        .collect()
}

/// Wasm `a1 -> a2 -> host` on the embedder's stack; the host function runs
/// the export `b1` with `call_async` (a fiber whose parent is this stack);
/// `b1 -> b2` traps there.
const TWO_STACKS: &str = r#"(module
  (import "h" "host" (func $host))
  (func $a1 (export "a1") call $a2)
  (func $a2 call $host)
  (func $b1 (export "b1") call $b2)
  (func $b2 unreachable))"#;

#[test]
fn trap_on_a_fiber_reports_the_frames_of_both_stacks_in_order() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, TWO_STACKS).unwrap();
    let seen = Arc::new(Mutex::new(None));
    let seen2 = seen.clone();
    let host = Func::wrap(&mut store, move |mut caller: Caller<'_, ()>| {
        let b1 = caller.get_export("b1").unwrap().into_func().unwrap();
        let err = block_on(b1.call_async(&mut caller, &[], &mut [])).unwrap_err();
        *seen2.lock().unwrap() = Some(err);
    });
    let instance = Instance::new(&mut store, &module, &[host.into()]).unwrap();
    let a1 = instance.get_func(&mut store, "a1").unwrap();
    a1.call(&mut store, &[], &mut []).unwrap();
    let err = seen.lock().unwrap().take().expect("the host function ran");
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::UnreachableCodeReached)
    );
    assert_eq!(frame_names(&err), ["b2", "b1", "a2", "a1"], "{err:?}");
    // The store is usable afterwards, on both paths.
    a1.call(&mut store, &[], &mut []).unwrap();
}

#[test]
fn capture_from_an_async_host_function_crosses_the_fiber_boundary() {
    // a1 -> a2 -> host (sync, on the embedder's stack) -> call_async(b1)
    // -> b1 -> b2 -> async host function, which captures a backtrace while
    // suspended in between.
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "host" (func $host))
          (import "h" "capture" (func $capture))
          (func $a1 (export "a1") call $a2)
          (func $a2 call $host)
          (func $b1 (export "b1") call $b2)
          (func $b2 call $capture))"#,
    )
    .unwrap();
    let captured: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let c2 = captured.clone();
    let capture = Func::wrap_async(&mut store, move |caller: Caller<'_, ()>, ()| {
        let c2 = c2.clone();
        Box::new(async move {
            let names = |caller: &Caller<'_, ()>| -> Vec<String> {
                WasmBacktrace::capture(caller)
                    .frames
                    .iter()
                    .map(|f| f.func_name.clone().unwrap_or_default())
                    .collect()
            };
            let before = names(&caller);
            YieldN(2).await;
            let after = names(&caller);
            c2.lock().unwrap().extend([before, after]);
        })
    });
    let host = Func::wrap(&mut store, |mut caller: Caller<'_, ()>| {
        let b1 = caller.get_export("b1").unwrap().into_func().unwrap();
        block_on(b1.call_async(&mut caller, &[], &mut [])).unwrap();
    });
    let instance = Instance::new(&mut store, &module, &[host.into(), capture.into()]).unwrap();
    let a1 = instance.get_func(&mut store, "a1").unwrap();
    a1.call(&mut store, &[], &mut []).unwrap();
    let captured = captured.lock().unwrap();
    assert_eq!(captured.len(), 2);
    for names in captured.iter() {
        assert_eq!(names, &["b2", "b1", "a2", "a1"]);
    }
    // Outside any call there is nothing to capture.
    assert!(WasmBacktrace::capture(&store).frames.is_empty());
}

/// Counts its drops in the shared counter.
struct CountsDrop(Arc<AtomicUsize>);
impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Guest -> host -> guest recursion without bound: wasm `f(n)` calls host
/// `h(n + 1)`, which calls `f(n + 1)` again, holding a lock guard and a
/// value with a destructor across the call.
fn unbounded_guest_host_recursion(max_wasm_stack: usize) {
    let mut config = Config::new();
    config.max_wasm_stack(max_wasm_stack);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "h" (func $h (param i64) (result i64)))
          (func (export "f") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0))
              (then (i64.const 42))
              (else (call $h (i64.add (local.get 0) (i64.const 1)))))))"#,
    )
    .unwrap();
    let lock = Arc::new(Mutex::new(0u64));
    let lock2 = lock.clone();
    // Host frames entered and dropped (per test: tests run in parallel).
    let entered = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (entered2, dropped2) = (entered.clone(), dropped.clone());
    let h = Func::wrap(
        &mut store,
        move |mut caller: Caller<'_, ()>, n: i64| -> anyhow::Result<i64> {
            entered2.fetch_add(1, Ordering::SeqCst);
            let _counts = CountsDrop(dropped2.clone());
            let mut held = lock2.lock().unwrap_or_else(|e| e.into_inner());
            *held = (*held).max(n as u64);
            drop(held);
            let _held_again = lock2.try_lock().expect("the lock is free");
            drop(_held_again);
            let f = caller.get_export("f").unwrap().into_func().unwrap();
            let mut out = [Val::I64(0)];
            f.call(&mut caller, &[Val::I64(n)], &mut out)?;
            Ok(out[0].unwrap_i64())
        },
    );
    let instance = Instance::new(&mut store, &module, &[h.into()]).unwrap();
    let f = instance
        .get_typed_func::<i64, i64>(&mut store, "f")
        .unwrap();
    for _ in 0..2 {
        entered.store(0, Ordering::SeqCst);
        dropped.store(0, Ordering::SeqCst);
        let err = f.call(&mut store, 1).unwrap_err();
        assert_eq!(
            err.downcast_ref::<Trap>(),
            Some(&Trap::StackOverflow),
            "{err:?}"
        );
        let levels = entered.load(Ordering::SeqCst);
        // Each level costs well under 4 KiB of native stack: the limit, not
        // something else, ended the recursion.
        assert!(
            levels > max_wasm_stack / 4096,
            "recursed only {levels} levels with a {max_wasm_stack}-byte wasm stack"
        );
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            levels,
            "a host frame was skipped"
        );
        assert!(lock.try_lock().is_ok(), "a lock guard was never released");
        // The store still works.
        assert_eq!(f.call(&mut store, 0).unwrap(), 42);
    }
}

#[test]
fn unbounded_guest_host_recursion_traps_at_512k() {
    unbounded_guest_host_recursion(512 * 1024);
}

#[test]
fn unbounded_guest_host_recursion_traps_at_8m() {
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| unbounded_guest_host_recursion(8 << 20))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn host_stack_reserve_is_checked_by_the_engine() {
    let mut config = Config::new();
    config.host_stack_reserve(1024);
    let err = Engine::new(&config).unwrap_err();
    assert!(err.to_string().contains("host_stack_reserve"), "{err}");
    let mut config = Config::new();
    config
        .async_support(true)
        .max_wasm_stack(1 << 20)
        .async_stack_size(1 << 20);
    let err = Engine::new(&config).unwrap_err();
    assert!(err.to_string().contains("async_stack_size"), "{err}");
}

// ---- a native overflow inside host code ends the process ---------------

#[inline(never)]
fn host_recursion(n: u64) -> u64 {
    let pad = std::hint::black_box([n as u8; 4096]);
    if n == 0 {
        0
    } else {
        host_recursion(n + 1) + pad[(n % 4096) as usize] as u64
    }
}

const CHILD_ENV: &str = "WEFT_STACK_MODEL_CHILD";

/// Runs test `name` of this binary in a child process with `CHILD_ENV`
/// set, and asserts that it was aborted after printing the host-overflow
/// message.
fn assert_child_aborts_with_message(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "child status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("weft: fatal: native stack overflow in host code called from wasm"),
        "stderr:\n{stderr}"
    );
}

const DEEP_HOST: &str = r#"(module
  (import "h" "deep" (func $d (param i64) (result i64)))
  (func (export "go") (param i64) (result i64) local.get 0 call $d))"#;

#[test]
fn native_overflow_in_a_host_function_aborts_with_a_message() {
    if std::env::var_os(CHILD_ENV).is_none() {
        assert_child_aborts_with_message(
            "native_overflow_in_a_host_function_aborts_with_a_message",
        );
        return;
    }
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, DEEP_HOST).unwrap();
    let deep = Func::wrap(&mut store, |n: i64| -> i64 {
        host_recursion(n as u64) as i64
    });
    let i = Instance::new(&mut store, &module, &[deep.into()]).unwrap();
    let go = i.get_typed_func::<i64, i64>(&mut store, "go").unwrap();
    let _ = go.call(&mut store, 1);
    unreachable!("the host overflow should have ended the process");
}

#[test]
fn native_overflow_in_an_async_host_function_on_a_fiber_aborts_with_a_message() {
    if std::env::var_os(CHILD_ENV).is_none() {
        assert_child_aborts_with_message(
            "native_overflow_in_an_async_host_function_on_a_fiber_aborts_with_a_message",
        );
        return;
    }
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, DEEP_HOST).unwrap();
    let deep = Func::wrap_async(&mut store, |_c: Caller<'_, ()>, (n,): (i64,)| {
        Box::new(async move {
            YieldN(1).await;
            host_recursion(n as u64) as i64
        })
    });
    let i = Instance::new(&mut store, &module, &[deep.into()]).unwrap();
    let go = i.get_typed_func::<i64, i64>(&mut store, "go").unwrap();
    let _ = block_on(go.call_async(&mut store, 1));
    unreachable!("the host overflow should have ended the process");
}

// ---- async calls are Send ------------------------------------------------

#[test]
fn a_pending_call_async_moves_to_another_thread_and_completes_on_tokio() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "wait" (func $wait (param i32) (result i32)))
          (func $inner (param i32) (result i32)
            (i32.add (call $wait (local.get 0)) (i32.const 1)))
          (func (export "run") (param i32) (result i32)
            (call $inner (local.get 0))))"#,
    )
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<i32>();
    let rx = Arc::new(Mutex::new(Some(rx)));
    let threads: Arc<Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
    let t2 = threads.clone();
    let wait = Func::wrap_async(&mut store, move |_c: Caller<'_, ()>, (x,): (i32,)| {
        let rx = rx.lock().unwrap().take();
        let t2 = t2.clone();
        Box::new(async move {
            let Some(rx) = rx else { return x };
            t2.lock().unwrap().push(std::thread::current().id());
            let got = rx.await.expect("sender kept");
            t2.lock().unwrap().push(std::thread::current().id());
            x * got
        })
    });
    let instance = Instance::new(&mut store, &module, &[wait.into()]).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    let task = async move {
        let r = run.call_async(&mut store, 6).await;
        (store, r)
    };
    let mut task = Box::pin(task);
    // First poll here: the guest runs until the host future is pending.
    let waker = Waker::noop().clone();
    assert!(
        task.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let here = std::thread::current().id();
    assert_eq!(*threads.lock().unwrap(), [here]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let handle = rt.spawn(task);
    tx.send(7).unwrap();
    let (mut store, r) = rt.block_on(handle).unwrap();
    assert_eq!(r.unwrap(), 6 * 7 + 1);
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 2);
    assert_ne!(threads[1], here, "completed on a tokio worker thread");
    // The store came back and still works, on this thread.
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    assert_eq!(block_on(run.call_async(&mut store, 2)).unwrap(), 3);
}
