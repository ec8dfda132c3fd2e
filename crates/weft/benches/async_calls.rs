//! Cost of async calls: a synchronous call for reference, an async call
//! whose host function is ready at once (fiber start + finish), and one
//! whose host future is pending once (plus one suspend/resume round trip).

use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use weft::{Caller, Config, Engine, Linker, Module, Store};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) {
            return v;
        }
    }
}

struct PendingOnce(bool);
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

fn bench(c: &mut Criterion) {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "ready" (func $ready (param i32) (result i32)))
          (import "h" "pending" (func $pending (param i32) (result i32)))
          (import "h" "sync" (func $sync (param i32) (result i32)))
          (func (export "ready") (param i32) (result i32) local.get 0 call $ready)
          (func (export "pending") (param i32) (result i32) local.get 0 call $pending)
          (func (export "sync") (param i32) (result i32) local.get 0 call $sync))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap_async("h", "ready", |_c: Caller<'_, ()>, (x,): (i32,)| {
            Box::new(async move { x + 1 })
        })
        .unwrap();
    linker
        .func_wrap_async("h", "pending", |_c: Caller<'_, ()>, (x,): (i32,)| {
            Box::new(async move {
                PendingOnce(false).await;
                x + 1
            })
        })
        .unwrap();
    linker.func_wrap("h", "sync", |x: i32| x + 1).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let get = |store: &mut Store<()>, name: &str| {
        instance
            .get_func(&mut *store, name)
            .unwrap()
            .typed::<i32, i32>(&*store)
            .unwrap()
    };
    let sync = get(&mut store, "sync");
    let ready = get(&mut store, "ready");
    let pending = get(&mut store, "pending");

    c.bench_function("sync call, wasm->host->wasm", |b| {
        b.iter(|| sync.call(&mut store, 1).unwrap())
    });
    c.bench_function("call_async, host future ready", |b| {
        b.iter(|| block_on(ready.call_async(&mut store, 1)).unwrap())
    });
    c.bench_function("call_async, host future pending once", |b| {
        b.iter(|| block_on(pending.call_async(&mut store, 1)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
