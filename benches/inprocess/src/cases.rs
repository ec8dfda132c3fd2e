//! The benchmark cases, written once and expanded for each runtime.
//!
//! weft's embedding API is modelled on wasmtime's, so the same source text
//! (`Engine`, `Module`, `Linker::func_wrap`, `InstancePre`, `TypedFunc`,
//! `call_async`, ...) compiles against both crates: `runtime_cases!` expands
//! it into `weft_cases` and `wasmtime_cases`. What differs between the two
//! is passed in: the crate, and the `Config` of the async cases (weft needs
//! `Config::async_support(true)`; in wasmtime 50 that setting is a
//! deprecated no-op and every engine can run async calls).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What one measurement of a case gets: how many iterations to run.
/// Returns the time those iterations took (setup outside the timed region
/// is excluded by the case itself).
pub type Runner = Box<dyn FnMut(u64) -> Duration>;

/// One case for one runtime.
pub struct Case {
    /// Row name in the table (the same for both runtimes).
    pub name: &'static str,
    /// Operations one iteration performs (a wasm loop calling the host
    /// `N` times is `N` operations).
    pub ops_per_iter: u64,
    /// Print in microseconds rather than nanoseconds.
    pub micros: bool,
    pub run: Runner,
}

/// Host calls per iteration of the wasm->host loop.
pub const HOST_LOOP_N: i32 = 10_000;

/// Instances made per chunk when only `instantiate` is timed (stores are
/// created before and dropped after each chunk, outside the timed region;
/// the chunk bounds how many memories are reserved at once).
pub const INSTANCE_CHUNK: u64 = 128;

/// A future that is pending once (waking its task at once) and then ready:
/// an async host function that really suspends the wasm.
pub struct PendingOnce(pub bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The wasm modules, as binary (parsed once, the same bytes for both).
pub mod modules {
    pub fn add() -> Vec<u8> {
        wat::parse_str(
            r#"(module
              (func (export "add") (param i32 i32) (result i32)
                local.get 0 local.get 1 i32.add))"#,
        )
        .unwrap()
    }

    /// `run(n)` calls the imported `host.add` `n` times.
    pub fn host_loop() -> Vec<u8> {
        wat::parse_str(
            r#"(module
              (import "host" "add" (func $add (param i32 i32) (result i32)))
              (func (export "run") (param $n i32) (result i32)
                (local $i i32) (local $acc i32)
                (loop $l
                  (local.set $acc (call $add (local.get $acc) (local.get $i)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
                local.get $acc))"#,
        )
        .unwrap()
    }

    /// `ready(x)` and `pending(x)` call the async host function of that
    /// name once.
    pub fn async_calls() -> Vec<u8> {
        wat::parse_str(
            r#"(module
              (import "host" "ready" (func $ready (param i32) (result i32)))
              (import "host" "pending" (func $pending (param i32) (result i32)))
              (func (export "ready") (param i32) (result i32) local.get 0 call $ready)
              (func (export "pending") (param i32) (result i32) local.get 0 call $pending))"#,
        )
        .unwrap()
    }

    /// `outer(x)` calls the host's `reenter(x)`, which calls `inner(x)`.
    pub fn reentry() -> Vec<u8> {
        wat::parse_str(
            r#"(module
              (import "host" "reenter" (func $reenter (param i32) (result i32)))
              (func (export "outer") (param i32) (result i32) local.get 0 call $reenter)
              (func (export "inner") (param i32) (result i32)
                local.get 0 i32.const 1 i32.add))"#,
        )
        .unwrap()
    }

    /// No memory: two functions, a global, a small table.
    pub fn small() -> Vec<u8> {
        wat::parse_str(
            r#"(module
              (global $g (mut i32) (i32.const 0))
              (table 2 funcref)
              (elem (i32.const 0) $add $fib)
              (func $add (export "add") (param i32 i32) (result i32)
                local.get 0 local.get 1 i32.add)
              (func $fib (export "fib") (param i32) (result i32)
                local.get 0 i32.const 2 i32.lt_s
                if (result i32) local.get 0
                else
                  local.get 0 i32.const 1 i32.sub call $fib
                  local.get 0 i32.const 2 i32.sub call $fib
                  i32.add
                end
                global.get $g i32.add))"#,
        )
        .unwrap()
    }

    /// A memory of `mib` MiB + 64 KiB whose last `mib` MiB are filled by
    /// 64 KiB data segments (16 per MiB), as weft's own Criterion bench.
    pub fn data(mib: usize) -> Vec<u8> {
        let mut wat = format!("(module (memory (export \"memory\") {})", mib * 16 + 1);
        let chunk = "x".repeat(65536);
        for i in 0..mib * 16 {
            wat.push_str(&format!(
                "(data (i32.const {}) \"{chunk}\")",
                65536 + i * 65536
            ));
        }
        wat.push_str("(func (export \"peek\") (param i32) (result i32) local.get 0 i32.load8_u))");
        wat::parse_str(&wat).unwrap()
    }
}

/// Polls a future to completion on this thread with a waker that does
/// nothing (every future here is ready or wakes itself).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Result of one run of the concurrent-async case (in a child process).
#[derive(Debug, Clone, Copy)]
pub struct ConcurrentResult {
    /// Making the stores and instances (`instantiate_async` each).
    pub setup: Duration,
    /// All the `call_async`s, from the first poll to the last completion.
    pub calls: Duration,
    /// Dropping everything.
    pub drop: Duration,
    /// Peak RSS growth over the run, from before the stores were made.
    pub rss_total_kib: u64,
    /// Peak RSS growth while the calls run (from after the setup).
    pub rss_calls_kib: u64,
}

macro_rules! runtime_cases {
    ($m:ident, $rt:ident, $async_config:expr) => {
        pub mod $m {
            use super::*;
            use std::hint::black_box;
            use std::time::Instant;
            use $rt::{Caller, Config, Engine, InstancePre, Linker, Module, Store, TypedFunc};

            fn engine() -> Engine {
                Engine::new(&Config::new()).unwrap()
            }

            fn async_engine() -> Engine {
                let f: fn() -> Config = $async_config;
                Engine::new(&f()).unwrap()
            }

            fn pre<T: 'static>(linker: &Linker<T>, engine: &Engine, wasm: &[u8]) -> InstancePre<T> {
                let module = Module::new(engine, wasm).unwrap();
                linker.instantiate_pre(&module).unwrap()
            }

            /// a. `TypedFunc<(i32, i32), i32>::call` of an add function.
            fn host_to_wasm() -> Case {
                let engine = engine();
                let linker = Linker::<()>::new(&engine);
                let pre = pre(&linker, &engine, &modules::add());
                let mut store = Store::new(&engine, ());
                let inst = pre.instantiate(&mut store).unwrap();
                let add = inst
                    .get_typed_func::<(i32, i32), i32>(&mut store, "add")
                    .unwrap();
                assert_eq!(add.call(&mut store, (40, 2)).unwrap(), 42);
                Case {
                    name: "a. typed host->wasm call (ns/call)",
                    ops_per_iter: 1,
                    micros: false,
                    run: Box::new(move |iters| {
                        let t = Instant::now();
                        for i in 0..iters {
                            black_box(add.call(&mut store, (black_box(i as i32), 2)).unwrap());
                        }
                        t.elapsed()
                    }),
                }
            }

            /// b. A wasm loop calling a `Linker::func_wrap` host function
            /// `(i32, i32) -> i32` `HOST_LOOP_N` times.
            fn wasm_to_host() -> Case {
                let engine = engine();
                let mut linker = Linker::<()>::new(&engine);
                linker
                    .func_wrap("host", "add", |a: i32, b: i32| a.wrapping_add(b))
                    .unwrap();
                let pre = pre(&linker, &engine, &modules::host_loop());
                let mut store = Store::new(&engine, ());
                let inst = pre.instantiate(&mut store).unwrap();
                let run = inst.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
                assert_eq!(run.call(&mut store, 100).unwrap(), 4950);
                Case {
                    name: "b. typed wasm->host call (ns/call)",
                    ops_per_iter: HOST_LOOP_N as u64,
                    micros: false,
                    run: Box::new(move |iters| {
                        let t = Instant::now();
                        for _ in 0..iters {
                            black_box(run.call(&mut store, black_box(HOST_LOOP_N)).unwrap());
                        }
                        t.elapsed()
                    }),
                }
            }

            fn async_linker(engine: &Engine) -> Linker<()> {
                let mut linker = Linker::<()>::new(engine);
                linker
                    .func_wrap_async("host", "ready", |_c: Caller<'_, ()>, (x,): (i32,)| {
                        Box::new(async move { x + 1 })
                    })
                    .unwrap();
                linker
                    .func_wrap_async("host", "pending", |_c: Caller<'_, ()>, (x,): (i32,)| {
                        Box::new(async move {
                            PendingOnce(false).await;
                            x + 1
                        })
                    })
                    .unwrap();
                linker
            }

            /// c. `call_async` of an export calling one async host
            /// function whose future is ready at once.
            fn call_async_ready() -> Case {
                call_async_case("c. call_async, host future ready (us/call)", "ready")
            }

            /// The same, with the host future pending once (one fiber
            /// suspend and resume more).
            fn call_async_pending() -> Case {
                call_async_case(
                    "c2. call_async, host future pending once (us/call)",
                    "pending",
                )
            }

            /// `call_async` of the export `export` of the async-calls
            /// module, timed per call.
            fn call_async_case(name: &'static str, export: &str) -> Case {
                let engine = async_engine();
                let linker = async_linker(&engine);
                let pre = pre(&linker, &engine, &modules::async_calls());
                let mut store = Store::new(&engine, ());
                let inst = block_on(pre.instantiate_async(&mut store)).unwrap();
                let f = inst.get_typed_func::<i32, i32>(&mut store, export).unwrap();
                assert_eq!(block_on(f.call_async(&mut store, 1)).unwrap(), 2);
                Case {
                    name,
                    ops_per_iter: 1,
                    micros: true,
                    run: Box::new(move |iters| {
                        let t = Instant::now();
                        for i in 0..iters {
                            black_box(
                                block_on(f.call_async(&mut store, black_box(i as i32))).unwrap(),
                            );
                        }
                        t.elapsed()
                    }),
                }
            }

            /// e. `InstancePre::instantiate` into a fresh store each time;
            /// only the instantiation is timed (stores made before and
            /// dropped after each chunk).
            fn instantiate(name: &'static str, wasm: Vec<u8>) -> Case {
                let engine = engine();
                let linker = Linker::<()>::new(&engine);
                let pre = pre(&linker, &engine, &wasm);
                check_instance(&engine, &pre);
                Case {
                    name,
                    ops_per_iter: 1,
                    micros: true,
                    run: Box::new(move |iters| {
                        let mut total = Duration::ZERO;
                        let mut done = 0;
                        let mut stores = Vec::with_capacity(INSTANCE_CHUNK as usize);
                        while done < iters {
                            let n = INSTANCE_CHUNK.min(iters - done);
                            stores.extend((0..n).map(|_| Store::new(&engine, ())));
                            let t = Instant::now();
                            for store in stores.iter_mut() {
                                black_box(pre.instantiate(store).unwrap());
                            }
                            total += t.elapsed();
                            stores.clear();
                            done += n;
                        }
                        total
                    }),
                }
            }

            /// e2. The whole per-request cycle: `Store::new`,
            /// `InstancePre::instantiate`, drop of the store.
            fn instantiate_cycle(name: &'static str, wasm: Vec<u8>) -> Case {
                let engine = engine();
                let linker = Linker::<()>::new(&engine);
                let pre = pre(&linker, &engine, &wasm);
                check_instance(&engine, &pre);
                Case {
                    name,
                    ops_per_iter: 1,
                    micros: true,
                    run: Box::new(move |iters| {
                        let t = Instant::now();
                        for _ in 0..iters {
                            let mut store = Store::new(&engine, ());
                            black_box(pre.instantiate(&mut store).unwrap());
                            drop(black_box(store));
                        }
                        t.elapsed()
                    }),
                }
            }

            /// An instance really has its data (the data modules) or runs
            /// (the small one), also after many instantiations.
            fn check_instance(engine: &Engine, pre: &InstancePre<()>) {
                for _ in 0..3 {
                    let mut store = Store::new(engine, ());
                    let inst = pre.instantiate(&mut store).unwrap();
                    if let Ok(peek) = inst.get_typed_func::<i32, i32>(&mut store, "peek") {
                        assert_eq!(peek.call(&mut store, 0).unwrap(), 0);
                        assert_eq!(peek.call(&mut store, 65536).unwrap(), b'x' as i32);
                        let mem = inst.get_memory(&mut store, "memory").unwrap();
                        let last = (mem.size(&store) * 65536) as i32 - 1;
                        assert_eq!(peek.call(&mut store, last).unwrap(), b'x' as i32);
                    } else {
                        let fib = inst.get_typed_func::<i32, i32>(&mut store, "fib").unwrap();
                        assert_eq!(fib.call(&mut store, 10).unwrap(), 55);
                    }
                }
            }

            /// f. host -> wasm `outer` -> host `reenter` -> wasm `inner`,
            /// and back. The host function finds `inner` in the store data
            /// (taken out and put back: no lookup, no clone).
            fn reentry() -> Case {
                type Data = Option<TypedFunc<i32, i32>>;
                let engine = engine();
                let mut linker = Linker::<Data>::new(&engine);
                linker
                    .func_wrap("host", "reenter", |mut caller: Caller<'_, Data>, x: i32| {
                        let inner = caller.data_mut().take().unwrap();
                        let r = inner.call(&mut caller, x).unwrap();
                        *caller.data_mut() = Some(inner);
                        r
                    })
                    .unwrap();
                let pre = pre(&linker, &engine, &modules::reentry());
                let mut store = Store::new(&engine, None);
                let inst = pre.instantiate(&mut store).unwrap();
                let inner = inst
                    .get_typed_func::<i32, i32>(&mut store, "inner")
                    .unwrap();
                *store.data_mut() = Some(inner);
                let outer = inst
                    .get_typed_func::<i32, i32>(&mut store, "outer")
                    .unwrap();
                assert_eq!(outer.call(&mut store, 41).unwrap(), 42);
                Case {
                    name: "f. re-entry host->wasm->host->wasm (ns)",
                    ops_per_iter: 1,
                    micros: false,
                    run: Box::new(move |iters| {
                        let t = Instant::now();
                        for i in 0..iters {
                            black_box(outer.call(&mut store, black_box(i as i32)).unwrap());
                        }
                        t.elapsed()
                    }),
                }
            }

            /// Every in-process case, in table order.
            pub fn cases() -> Vec<Case> {
                vec![
                    host_to_wasm(),
                    wasm_to_host(),
                    call_async_ready(),
                    call_async_pending(),
                    instantiate(
                        "e. instantiate, small module, no memory (us)",
                        modules::small(),
                    ),
                    instantiate("e. instantiate, 1 MiB of data (us)", modules::data(1)),
                    instantiate("e. instantiate, 16 MiB of data (us)", modules::data(16)),
                    instantiate_cycle(
                        "e2. new store + instantiate + drop, small (us)",
                        modules::small(),
                    ),
                    instantiate_cycle(
                        "e2. new store + instantiate + drop, 1 MiB (us)",
                        modules::data(1),
                    ),
                    instantiate_cycle(
                        "e2. new store + instantiate + drop, 16 MiB (us)",
                        modules::data(16),
                    ),
                    reentry(),
                ]
            }

            /// d. `n` stores, each with an instance in `call_async` of an
            /// export whose async host function is pending once, all
            /// suspended at the same time, driven by a small run queue.
            pub fn concurrent(n: usize) -> ConcurrentResult {
                let engine = async_engine();
                let linker = async_linker(&engine);
                let pre = pre(&linker, &engine, &modules::async_calls());
                // Warm the allocator and the code paths once.
                {
                    let mut store = Store::new(&engine, ());
                    let inst = block_on(pre.instantiate_async(&mut store)).unwrap();
                    let f = inst
                        .get_typed_func::<i32, i32>(&mut store, "pending")
                        .unwrap();
                    assert_eq!(block_on(f.call_async(&mut store, 1)).unwrap(), 2);
                }
                let rss0 = crate::rss::reset_peak();
                let t = Instant::now();
                let mut calls = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut store = Store::new(&engine, ());
                    let inst = block_on(pre.instantiate_async(&mut store)).unwrap();
                    let f = inst
                        .get_typed_func::<i32, i32>(&mut store, "pending")
                        .unwrap();
                    calls.push((store, f));
                }
                let setup = t.elapsed();
                let rss_setup_peak = crate::rss::peak_kib();
                let rss1 = crate::rss::reset_peak();
                let t = Instant::now();
                let futures = calls
                    .iter_mut()
                    .enumerate()
                    .map(|(i, (store, f))| {
                        let f = f.clone();
                        Box::pin(async move { f.call_async(store, i as i32).await.unwrap() })
                            as Pin<Box<dyn Future<Output = i32> + '_>>
                    })
                    .collect::<Vec<_>>();
                let (results, max_pending) = crate::executor::run_all(futures);
                let calls_time = t.elapsed();
                let rss_calls_peak = crate::rss::peak_kib();
                assert_eq!(max_pending, n, "not all calls were suspended at once");
                for (i, r) in results.iter().enumerate() {
                    assert_eq!(*r, i as i32 + 1);
                }
                let t = Instant::now();
                drop(calls);
                let drop_time = t.elapsed();
                ConcurrentResult {
                    setup,
                    calls: calls_time,
                    drop: drop_time,
                    rss_total_kib: rss_setup_peak.max(rss_calls_peak).saturating_sub(rss0),
                    rss_calls_kib: rss_calls_peak.saturating_sub(rss1),
                }
            }
        }
    };
}

runtime_cases!(weft_cases, weft, || {
    let mut c = weft::Config::new();
    c.async_support(true);
    c
});
runtime_cases!(wasmtime_cases, wasmtime, wasmtime::Config::new);
