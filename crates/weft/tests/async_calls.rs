//! Async calls on fibers: host futures, concurrency on one thread, traps,
//! panics, nesting, cancellation, epoch yields. Uses a minimal hand-rolled
//! executor (below) and tokio.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use weft::{Caller, Config, Engine, Func, Instance, Linker, Module, Store, Trap, Val};

// ---- a minimal executor -------------------------------------------------

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls all futures round-robin on this thread until every one is done;
/// a future is only polled again after its waker fired.
fn run_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let flags: Vec<Arc<Flag>> = futs
        .iter()
        .map(|_| Arc::new(Flag(AtomicBool::new(true))))
        .collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut left = futs.len();
    while left > 0 {
        let mut progressed = false;
        for i in 0..futs.len() {
            if out[i].is_some() || !flags[i].0.swap(false, Ordering::SeqCst) {
                continue;
            }
            progressed = true;
            let waker = Waker::from(flags[i].clone());
            if let Poll::Ready(v) = futs[i].as_mut().poll(&mut Context::from_waker(&waker)) {
                out[i] = Some(v);
                left -= 1;
            }
        }
        assert!(progressed, "deadlock: no future was woken");
    }
    out.into_iter().map(|o| o.unwrap()).collect()
}

fn block_on<F: Future>(f: F) -> F::Output {
    run_all(vec![f]).pop().unwrap()
}

/// Polls `fut` once with a waker nobody watches and asserts that it is
/// still pending (a call parked in a host future).
fn assert_pending_after_one_poll<F: Future + ?Sized>(fut: Pin<&mut F>) {
    let waker = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
    assert!(fut.poll(&mut Context::from_waker(&waker)).is_pending());
}

mod common;
use common::YieldN;

fn async_engine() -> Engine {
    let mut config = Config::new();
    config.async_support(true);
    Engine::new(&config).unwrap()
}

const GUEST: &str = r#"(module
  (import "host" "wait" (func $wait (param i32) (result i32)))
  (global $after (export "after") (mut i32) (i32.const 0))
  (func (export "run") (param i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $wait (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
    (global.set $after (i32.add (global.get $after) (i32.const 1)))
    (i32.add (local.get $acc) (local.get 0))))"#;

fn guest_linker(engine: &Engine) -> Linker<u32> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap_async(
            "host",
            "wait",
            |mut caller: Caller<'_, u32>, (x,): (i32,)| {
                Box::new(async move {
                    YieldN(2).await;
                    *caller.data_mut() += 1;
                    x * 10
                })
            },
        )
        .unwrap();
    linker
}

#[test]
fn async_host_function_suspends_and_resumes() {
    let engine = async_engine();
    let mut store = Store::new(&engine, 0u32);
    let linker = guest_linker(&engine);
    let module = Module::new(&engine, GUEST).unwrap();
    let instance = block_on(linker.instantiate_async(&mut store, &module)).unwrap();
    let run = instance.get_func(&mut store, "run").unwrap();
    let mut r = [Val::I32(0)];
    block_on(run.call_async(&mut store, &[Val::I32(4)], &mut r)).unwrap();
    // sum of x*10 for x in 0..4 = 60, plus 4.
    assert_eq!(r[0].unwrap_i32(), 64);
    assert_eq!(*store.data(), 4);
    // Typed async calls too.
    let typed = run.typed::<i32, i32>(&store).unwrap();
    assert_eq!(block_on(typed.call_async(&mut store, 3)).unwrap(), 33);
    // Calling an async host function outside of an async call is an error.
    let err = run.call(&mut store, &[Val::I32(1)], &mut r).unwrap_err();
    assert!(
        err.to_string().contains("outside of an async call"),
        "{err:?}"
    );
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn ten_thousand_concurrent_async_calls_on_one_thread() {
    const N: usize = 10_000;
    let engine = async_engine();
    let module = Module::new(&engine, GUEST).unwrap();
    let before = vm_hwm_kib();
    let mut stores: Vec<Store<u32>> = (0..N).map(|_| Store::new(&engine, 0u32)).collect();
    let mut funcs = Vec::with_capacity(N);
    for store in stores.iter_mut() {
        let linker = guest_linker(&engine);
        let instance = linker.instantiate(&mut *store, &module).unwrap();
        funcs.push(
            instance
                .get_func(&mut *store, "run")
                .unwrap()
                .typed::<i32, i32>(&*store)
                .unwrap(),
        );
    }
    let futs: Vec<_> = stores
        .iter_mut()
        .zip(&funcs)
        .enumerate()
        .map(|(i, (store, f))| {
            let n = 3 + (i % 3) as i32;
            async move { (n, f.call_async(store, n).await) }
        })
        .collect();
    let results = run_all(futs);
    for (n, r) in results {
        // sum_{x<n} 10x + n
        assert_eq!(r.unwrap(), 10 * n * (n - 1) / 2 + n);
    }
    for (i, store) in stores.iter().enumerate() {
        assert_eq!(*store.data(), 3 + (i % 3) as u32);
    }
    let after = vm_hwm_kib();
    println!(
        "10000 concurrent async calls: peak RSS {} KiB (was {} KiB before the stores)",
        after.unwrap_or(0),
        before.unwrap_or(0)
    );
}

#[test]
fn traps_and_stack_overflow_on_a_fiber_are_errors() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (func $r (export "rec") (param i32) (result i32) local.get 0 call $r)
          (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_s)
          (func (export "div") (param i32) (result i32) local.get 0 call $inner))"#,
    )
    .unwrap();
    let i = block_on(Instance::new_async(&mut store, &module, &[])).unwrap();
    let rec = i
        .get_func(&mut store, "rec")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    let div = i
        .get_func(&mut store, "div")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    for _ in 0..3 {
        let err = block_on(rec.call_async(&mut store, 0)).unwrap_err();
        assert_eq!(
            err.downcast_ref::<Trap>(),
            Some(&Trap::StackOverflow),
            "{err:?}"
        );
        let err = block_on(div.call_async(&mut store, 1)).unwrap_err();
        assert_eq!(
            err.downcast_ref::<Trap>(),
            Some(&Trap::IntegerDivisionByZero)
        );
        let bt = err.downcast_ref::<weft::WasmBacktrace>().unwrap();
        assert_eq!(bt.frames.len(), 2, "{bt}");
    }
    // Synchronous calls still work on the same store afterwards.
    let err = rec.call(&mut store, 0).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::StackOverflow));
}

#[test]
fn async_host_panic_propagates() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let boom = Func::wrap_async(&mut store, |_c: Caller<'_, ()>, (): ()| {
        Box::new(async {
            YieldN(1).await;
            if std::hint::black_box(true) {
                panic!("async boom");
            }
        })
    });
    let module = Module::new(
        &engine,
        r#"(module (import "h" "b" (func $b))
                 (func (export "go") call $b)
                 (func (export "ok") (result i32) i32.const 7))"#,
    )
    .unwrap();
    let i = Instance::new(&mut store, &module, &[boom.into()]).unwrap();
    let go = i.get_func(&mut store, "go").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = block_on(go.call_async(&mut store, &[], &mut []));
    }));
    assert_eq!(
        caught.unwrap_err().downcast_ref::<&str>(),
        Some(&"async boom")
    );
    // The store is still usable, synchronously and asynchronously.
    let ok = i
        .get_func(&mut store, "ok")
        .unwrap()
        .typed::<(), i32>(&store)
        .unwrap();
    assert_eq!(ok.call(&mut store, ()).unwrap(), 7);
    assert_eq!(block_on(ok.call_async(&mut store, ())).unwrap(), 7);
}

#[test]
fn nested_reentry_sync_and_async_with_backtrace() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "down" (func $down (param i32) (result i32)))
          (func $level (export "level") (param i32) (result i32)
            local.get 0 i32.eqz
            if (result i32) unreachable
            else local.get 0 call $down end))"#,
    )
    .unwrap();
    let down = Func::wrap_async(&mut store, |mut caller: Caller<'_, ()>, (n,): (i32,)| {
        Box::new(async move {
            YieldN(1).await;
            let level = caller.get_export("level").unwrap().into_func().unwrap();
            let mut r = [Val::I32(0)];
            if n % 2 == 0 {
                // Nested async call: a fiber started from a fiber.
                level
                    .call_async(&mut caller, &[Val::I32(n - 1)], &mut r)
                    .await?;
            } else {
                // Nested synchronous call on the same fiber.
                level.call(&mut caller, &[Val::I32(n - 1)], &mut r)?;
            }
            Ok(r[0].unwrap_i32() + 1)
        })
    });
    let i = Instance::new(&mut store, &module, &[down.into()]).unwrap();
    let level = i
        .get_func(&mut store, "level")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    let err = block_on(level.call_async(&mut store, 4)).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::UnreachableCodeReached),
        "{err:?}"
    );
    let bt = err
        .downcast_ref::<weft::WasmBacktrace>()
        .expect("backtrace");
    assert!(!bt.frames.is_empty());
    assert!(
        bt.frames
            .iter()
            .all(|f| f.func_name.as_deref() == Some("level")),
        "{bt}"
    );
}

#[test]
fn dropping_a_suspended_call_runs_no_more_guest_code_and_frees_everything() {
    struct DropCount(Arc<AtomicUsize>);
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let engine = async_engine();
    let mut store = Store::new(&engine, 0u32);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap_async("host", "wait", move |_c: Caller<'_, u32>, (x,): (i32,)| {
            let guard = DropCount(d.clone());
            Box::new(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                x
            })
        })
        .unwrap();
    let module = Module::new(&engine, GUEST).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_func(&mut store, "run")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    let after = instance.get_global(&mut store, "after").unwrap();
    let maps_before = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count();
    for i in 0..500 {
        let mut fut = Box::pin(run.call_async(&mut store, 5));
        assert_pending_after_one_poll(fut.as_mut());
        drop(fut);
        assert_eq!(drops.load(Ordering::SeqCst), i + 1);
    }
    // The code after the host call never ran.
    assert_eq!(after.get(&mut store).unwrap_i32(), 0);
    // Stacks went back to the pool instead of piling up.
    let maps_after = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count();
    assert!(
        maps_after < maps_before + 50,
        "mappings grew from {maps_before} to {maps_after}"
    );
}

#[test]
fn epoch_yield_lets_an_infinite_loop_share_the_thread_and_be_dropped() {
    let mut config = Config::new();
    config.async_support(true).epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    store.epoch_deadline_async_yield_and_update(1);
    store.set_epoch_deadline(1);
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = i.get_func(&mut store, "spin").unwrap();
    let mut fut = Box::pin(spin.call_async(&mut store, &[], &mut []));
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    for _ in 0..5 {
        engine.increment_epoch();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        // It yielded voluntarily and asked to be polled again.
        assert!(flag.0.swap(false, Ordering::SeqCst));
    }
    drop(fut);
    // With the trapping behaviour the same loop is interrupted instead.
    store.epoch_deadline_trap();
    store.set_epoch_deadline(1);
    let ticker = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            engine.increment_epoch();
        })
    };
    let err = block_on(spin.call_async(&mut store, &[], &mut [])).unwrap_err();
    ticker.join().unwrap();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
}

#[test]
fn works_under_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = async_engine();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut stores = Vec::new();
        for _ in 0..50 {
            let mut store = Store::new(&engine, 0u32);
            let mut linker = Linker::new(&engine);
            linker
                .func_wrap_async("host", "wait", |mut c: Caller<'_, u32>, (x,): (i32,)| {
                    Box::new(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        *c.data_mut() += 1;
                        x * 10
                    })
                })
                .unwrap();
            let inst = linker.instantiate_async(&mut store, &module).await.unwrap();
            let f = inst
                .get_func(&mut store, "run")
                .unwrap()
                .typed::<i32, i32>(&store)
                .unwrap();
            stores.push((store, f));
        }
        let local = tokio::task::LocalSet::new();
        let results = local
            .run_until(async move {
                let mut handles = Vec::new();
                for (mut store, f) in stores {
                    handles.push(tokio::task::spawn_local(async move {
                        let r = f.call_async(&mut store, 4).await.unwrap();
                        (r, *store.data())
                    }));
                }
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await.unwrap());
                }
                out
            })
            .await;
        assert_eq!(results.len(), 50);
        assert!(results.iter().all(|r| *r == (64, 4)));
    });
}

#[test]
fn a_store_reuses_its_fiber_across_calls_panics_and_cancellations() {
    // Each store keeps its last call's fiber idle for the next one; every
    // way a call can end (finished, panicked, cancelled while suspended,
    // never polled) must leave the store able to make the next call.
    let engine = async_engine();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = guest_linker(&engine);
    linker
        .func_wrap("host", "boom", |x: i32| -> i32 {
            if x < 0 {
                panic!("sync boom on a fiber");
            }
            x
        })
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "wait" (func $wait (param i32) (result i32)))
             (import "host" "boom" (func $boom (param i32) (result i32)))
             (func (export "wait") (param i32) (result i32) (call $wait (local.get 0)))
             (func (export "boom") (param i32) (result i32) (call $boom (local.get 0))))"#,
    )
    .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let wait = instance
        .get_typed_func::<i32, i32>(&mut store, "wait")
        .unwrap();
    let boom = instance
        .get_typed_func::<i32, i32>(&mut store, "boom")
        .unwrap();
    let maps = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    };
    let before = maps();
    for round in 0..300 {
        // Finished, with a host future that was pending twice.
        assert_eq!(
            block_on(wait.call_async(&mut store, round)).unwrap(),
            round * 10
        );
        // A synchronous host function panicking on the fiber: the panic
        // reaches the poller's caller.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            block_on(boom.call_async(&mut store, -1))
        }));
        assert_eq!(
            caught.unwrap_err().downcast_ref::<&str>(),
            Some(&"sync boom on a fiber")
        );
        // Created and dropped without a poll.
        drop(boom.call_async(&mut store, 1));
        // Cancelled while its host future is pending.
        let mut fut = Box::pin(wait.call_async(&mut store, 1));
        assert_pending_after_one_poll(fut.as_mut());
        drop(fut);
        assert_eq!(block_on(boom.call_async(&mut store, round)).unwrap(), round);
    }
    // Host futures that finished: 300; cancelled ones never got there.
    assert_eq!(*store.data(), 300);
    // Synchronous calls are unaffected.
    assert_eq!(boom.call(&mut store, 5).unwrap(), 5);
    assert!(
        maps() < before + 50,
        "mappings grew from {before} to {}",
        maps()
    );
}
