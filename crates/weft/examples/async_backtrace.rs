//! A host function called from wasm running on a fiber (an async call),
//! for the gdb backtrace check in `crates/weft/tests/gdb_async_backtrace.sh`:
//! a breakpoint in `weft_example_host_leaf` must show, below the wasm
//! frames and the fiber's start frame, the frames of the code that resumed
//! the fiber (`weft_example_poller`).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use weft::{Caller, Config, Engine, Func, Instance, Module, Store};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn weft_example_host_leaf(x: i32) -> i32 {
    std::hint::black_box(x) + 1
}

#[inline(never)]
fn weft_example_poller<F: Future>(mut fut: std::pin::Pin<&mut F>) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            return v;
        }
    }
}

fn main() {
    let mut config = Config::new();
    config.async_support(true);
    // On by default under a debugger; explicit so that WEFT_GDB_JIT=0 cannot break the check.
    config.debug_info(true);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let leaf = Func::wrap_async(&mut store, |_c: Caller<'_, ()>, (x,): (i32,)| {
        Box::new(async move { weft_example_host_leaf(x) })
    });
    let module = Module::new(
        &engine,
        r#"(module (import "h" "leaf" (func $leaf (param i32) (result i32)))
             ;; The call is inside an exception handler scope (a try_call with
             ;; a landing pad): gdb must unwind through such frames too.
             (func $wasm_inner (param i32) (result i32)
               (block $h
                 (try_table (catch_all $h) (return (call $leaf (local.get 0)))))
               (i32.const -1))
             (func (export "outer") (param i32) (result i32) local.get 0 call $wasm_inner))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[leaf.into()]).unwrap();
    let outer = instance
        .get_func(&mut store, "outer")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    let fut = outer.call_async(&mut store, 41);
    let r = weft_example_poller(std::pin::pin!(fut)).unwrap();
    assert_eq!(r, 42);
    println!("result {r}");
}
