//! `Linker` host functions shared by every store, and `InstancePre`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft::{Caller, Config, Engine, FuncType, Linker, Module, Store, Val, ValType};

const GUEST: &str = r#"(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (import "host" "count" (func $count (result i32)))
  (import "host" "scale" (func $scale (param i64) (result i64)))
  (global $g (mut i32) (i32.const 0))
  (func (export "run") (param i32) (result i32)
    ;; per-instance state: proves each instance is its own
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.add (call $add (local.get 0) (global.get $g)) (call $count)))
  (func (export "scale") (param i64) (result i64) (call $scale (local.get 0))))"#;

/// Per-store data: how many times `count` ran in this store.
struct Data {
    calls: i32,
    factor: i64,
}

fn linker(engine: &Engine, defined: &Arc<AtomicUsize>) -> Linker<Data> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "add", |a: i32, b: i32| a.wrapping_add(b))
        .unwrap();
    let d = defined.clone();
    linker
        .func_wrap("host", "count", move |mut c: Caller<'_, Data>| {
            d.fetch_add(1, Ordering::Relaxed);
            c.data_mut().calls += 1;
            c.data().calls
        })
        .unwrap();
    linker
        .func_new(
            "host",
            "scale",
            FuncType::new([ValType::I64], [ValType::I64]),
            |c, args, out| {
                out[0] = Val::I64(args[0].unwrap_i64() * c.data().factor);
                Ok(())
            },
        )
        .unwrap();
    linker
}

fn call_i32(store: &mut Store<Data>, i: weft::Instance, arg: i32) -> i32 {
    let f = i.get_func(&mut *store, "run").unwrap();
    f.typed::<i32, i32>(&*store)
        .unwrap()
        .call(&mut *store, arg)
        .unwrap()
}

#[test]
fn one_linker_many_stores() {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST).unwrap();
    let total = Arc::new(AtomicUsize::new(0));
    let linker = linker(&engine, &total);
    for s in 0..5i64 {
        let mut store = Store::new(
            &engine,
            Data {
                calls: 0,
                factor: s + 2,
            },
        );
        let a = linker.instantiate(&mut store, &module).unwrap();
        let b = linker.instantiate(&mut store, &module).unwrap();
        // a: g=1, calls=1 -> 10 + 1 + 1
        assert_eq!(call_i32(&mut store, a, 10), 12);
        // a: g=2, calls=2 -> 10 + 2 + 2
        assert_eq!(call_i32(&mut store, a, 10), 14);
        // b: its own g=1, the store's calls=3
        assert_eq!(call_i32(&mut store, b, 10), 14);
        let scale = a.get_func(&mut store, "scale").unwrap();
        let scale = scale.typed::<i64, i64>(&store).unwrap();
        assert_eq!(scale.call(&mut store, 7).unwrap(), 7 * (s + 2));
        // Both instances got the same host function in this store.
        let f1 = linker.get(&mut store, "host", "count").unwrap();
        let f2 = linker.get(&mut store, "host", "count").unwrap();
        assert_eq!(f1.into_func(), f2.into_func());
    }
    assert_eq!(total.load(Ordering::Relaxed), 15);
}

#[test]
fn instance_pre_many_stores_and_threads() {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST).unwrap();
    let total = Arc::new(AtomicUsize::new(0));
    let pre = linker(&engine, &total).instantiate_pre(&module).unwrap();
    assert_eq!(pre.module().imports().len(), 3);
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let pre = pre.clone();
            let engine = engine.clone();
            s.spawn(move || {
                for _ in 0..25 {
                    let mut store = Store::new(
                        &engine,
                        Data {
                            calls: 100,
                            factor: t,
                        },
                    );
                    let i = pre.instantiate(&mut store).unwrap();
                    assert_eq!(call_i32(&mut store, i, 1), 1 + 1 + 101);
                    let scale = i.get_func(&mut store, "scale").unwrap();
                    let scale = scale.typed::<i64, i64>(&store).unwrap();
                    assert_eq!(scale.call(&mut store, 3).unwrap(), 3 * t);
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 100);
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn instance_pre_async() {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module (import "host" "wait" (func $w (param i32) (result i32)))
             (func (export "go") (param i32) (result i32) (call $w (local.get 0))))"#,
    )
    .unwrap();
    let mut linker: Linker<()> = Linker::new(&engine);
    linker
        .func_wrap_async("host", "wait", |_c: Caller<'_, ()>, (x,): (i32,)| {
            Box::new(async move {
                YieldOnce(false).await;
                x * 3
            })
        })
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for n in 0..3 {
        let mut store = Store::new(&engine, ());
        let got = rt.block_on(async {
            let i = pre.instantiate_async(&mut store).await.unwrap();
            let f = i.get_func(&mut store, "go").unwrap();
            let f = f.typed::<i32, i32>(&store).unwrap();
            f.call_async(&mut store, n).await.unwrap()
        });
        assert_eq!(got, n * 3);
    }
}

#[test]
fn instantiate_pre_errors() {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST).unwrap();
    let total = Arc::new(AtomicUsize::new(0));

    let mut partial: Linker<Data> = Linker::new(&engine);
    partial
        .func_wrap("host", "add", |a: i32, b: i32| a + b)
        .unwrap();
    let e = partial.instantiate_pre(&module).err().unwrap().to_string();
    assert!(e.contains("unknown import: `host`.`count`"), "{e}");

    let mut wrong = linker(&engine, &total);
    wrong.allow_shadowing(true);
    wrong
        .func_new(
            "host",
            "scale",
            FuncType::new([ValType::I32], [ValType::I64]),
            |_, _, _| Ok(()),
        )
        .unwrap();
    let e = wrong.instantiate_pre(&module).err().unwrap().to_string();
    assert!(
        e.contains("incompatible import type for `host`.`scale`"),
        "{e}"
    );

    // A typed closure of the wrong type is caught at instantiation.
    let mut wrong = linker(&engine, &total);
    wrong.allow_shadowing(true);
    wrong.func_wrap("host", "add", |a: i64| a).unwrap();
    let pre = wrong.instantiate_pre(&module).unwrap();
    let mut store = Store::new(
        &engine,
        Data {
            calls: 0,
            factor: 1,
        },
    );
    assert!(pre.instantiate(&mut store).is_err());

    // Another engine's module.
    let other = Engine::default();
    let m2 = Module::new(&other, GUEST).unwrap();
    let e = linker(&engine, &total)
        .instantiate_pre(&m2)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("another engine"), "{e}");
}
