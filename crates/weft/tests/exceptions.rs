//! Exception handling across the embedding boundary: host functions that
//! throw, exceptions that cross host frames, uncaught exceptions at the
//! embedder, deep recursion, async fibers, and reclamation of exception
//! objects.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use weft::{
    Caller, Config, Engine, Exception, ExnRef, FuncType, Linker, Module, Store, Tag, Trap, Val,
    ValType,
};

fn i32_tag(store: &mut Store<()>) -> Tag {
    Tag::new(store, &FuncType::new([ValType::I32], []))
}

/// Polls `f` to completion, busy-waking (the futures here wake
/// themselves).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn host_function_throws_and_wasm_catches() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let tag = i32_tag(&mut store);
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "tag" (tag $t (param i32)))
            (import "host" "fail" (func $fail (param i32)))
            (func (export "run") (param i32) (result i32)
              (block $caught (result i32)
                (try_table (catch $t $caught)
                  (call $fail (local.get 0)))
                (i32.const -1))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("host", "tag", tag).unwrap();
    linker
        .func_wrap(
            "host",
            "fail",
            move |mut caller: Caller<'_, ()>, x: i32| -> weft::Result<()> {
                if x < 0 {
                    return Ok(());
                }
                let exn = ExnRef::new(&mut caller, tag, &[Val::I32(x * 2)])?;
                Err(Exception::new(exn).into())
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, 21).unwrap(), 42);
    assert_eq!(run.call(&mut store, -5).unwrap(), -1);
    // Many host throws: the host's handle is released when the exception
    // is thrown into wasm, so nothing stays reachable.
    for i in 0..5000 {
        assert_eq!(run.call(&mut store, i).unwrap(), 2 * i);
    }
    store.gc();
    assert_eq!(store.exn_heap_stats().live, 0);
}

#[test]
fn wasm_exception_crosses_a_host_frame_and_is_caught_outside() {
    // outer (wasm) -> host -> inner (wasm, throws). The host sees the
    // exception as an error, checks it, returns it, and outer catches it.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let inner = Module::new(
        &engine,
        r#"(module
            (tag $t (export "t") (param i32))
            (func (export "inner") (param i32) (throw $t (local.get 0))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    let inner_inst = linker.instantiate(&mut store, &inner).unwrap();
    linker.instance(&mut store, "inner", inner_inst).unwrap();
    let inner_fn = inner_inst.get_func(&mut store, "inner").unwrap();
    let tag = inner_inst.get_tag(&mut store, "t").unwrap();
    linker
        .func_wrap(
            "host",
            "call_inner",
            move |mut caller: Caller<'_, ()>, x: i32| -> weft::Result<()> {
                let err = inner_fn
                    .call(&mut caller, &[Val::I32(x)], &mut [])
                    .unwrap_err();
                let exn = err.downcast_ref::<Exception>().expect("an exception").exn();
                assert_eq!(exn.tag(&caller), tag);
                assert_eq!(exn.payload(&mut caller)[0].unwrap_i32(), x);
                Err(err)
            },
        )
        .unwrap();
    let outer = Module::new(
        &engine,
        r#"(module
            (import "inner" "t" (tag $t (param i32)))
            (import "host" "call_inner" (func $call (param i32)))
            (func (export "outer") (param i32) (result i32)
              (block $h (result i32)
                (try_table (catch $t $h)
                  (call $call (local.get 0)))
                (i32.const -1))
              (i32.const 1000)
              (i32.add)))"#,
    )
    .unwrap();
    let outer_inst = linker.instantiate(&mut store, &outer).unwrap();
    let f = outer_inst
        .get_typed_func::<i32, i32>(&mut store, "outer")
        .unwrap();
    assert_eq!(f.call(&mut store, 5).unwrap(), 1005);
    assert_eq!(f.call(&mut store, 77).unwrap(), 1077);
}

#[test]
fn uncaught_exception_reaches_the_embedder_with_payload_and_backtrace() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (tag $t (export "t") (param i32 f64 i64))
            (func $thrower (param i32)
              (throw $t (local.get 0) (f64.const 1.5) (i64.const -9)))
            (func $middle (export "run") (param i32)
              (call $thrower (local.get 0))))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let run = instance
        .get_typed_func::<i32, ()>(&mut store, "run")
        .unwrap();
    let tag = instance.get_tag(&mut store, "t").unwrap();
    let err = run.call(&mut store, 7).unwrap_err();
    assert!(err.downcast_ref::<Trap>().is_none(), "not a trap: {err:?}");
    let exc = err.downcast_ref::<Exception>().expect("an exception");
    let exn = exc.exn();
    assert_eq!(exn.tag(&store), tag);
    let payload = exn.payload(&mut store);
    assert_eq!(payload.len(), 3);
    assert_eq!(payload[0].unwrap_i32(), 7);
    assert_eq!(payload[1].unwrap_f64(), 1.5);
    assert_eq!(payload[2].unwrap_i64(), -9);
    let names: Vec<Option<&str>> = exc
        .backtrace()
        .frames
        .iter()
        .map(|f| f.func_name.as_deref())
        .collect();
    assert_eq!(names, [Some("thrower"), Some("middle")], "{exc}");
    // The store is still usable, and the exception stays readable until
    // the host lets it go.
    let err2 = run.call(&mut store, 8).unwrap_err();
    let exn2 = err2.downcast_ref::<Exception>().unwrap().exn();
    assert_eq!(exn2.payload(&mut store)[0].unwrap_i32(), 8);
    store.gc();
    assert_eq!(exn.payload(&mut store)[0].unwrap_i32(), 7);
    exn.unroot(&mut store);
    exn2.unroot(&mut store);
    store.gc();
    assert_eq!(store.exn_heap_stats().live, 0);
}

#[test]
fn traps_are_not_caught_by_catch_all() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (func $div (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
            (func (export "run") (param i32) (result i32) (local $r i32)
              (block $any
                (try_table (catch_all $any)
                  (local.set $r (call $div (local.get 0))))
                (return (local.get $r)))
              (i32.const -1)))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, 1).unwrap(), 1);
    let err = run.call(&mut store, 0).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::IntegerDivisionByZero)
    );
    // The backtrace walks through the frame with handlers.
    let bt = err.downcast_ref::<weft::WasmBacktrace>().unwrap();
    let names: Vec<Option<&str>> = bt.frames.iter().map(|f| f.func_name.as_deref()).collect();
    assert_eq!(names, [Some("div"), None], "{bt}");
}

const RECURSION: &str = r#"(module
    (tag $t (param i32))
    ;; Recurses n times, then throws the depth reached; every frame adds 1
    ;; to the result on the way back, so a wrong handler frame shows.
    (func $down (param i32) (result i32)
      (if (i32.eqz (local.get 0)) (then (throw $t (i32.const 12345))))
      (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
    ;; The same frames without the throw.
    (func $plain (param i32) (result i32)
      (if (i32.eqz (local.get 0)) (then (return (i32.const 0))))
      (i32.add (call $plain (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
    (func (export "plain") (param i32) (result i32) (call $plain (local.get 0)))
    (func (export "throw_deep") (param i32) (result i32)
      (block $h (result i32)
        (try_table (result i32) (catch $t $h)
          (call $down (local.get 0)))))
  )"#;

#[test]
fn throw_from_deep_recursion_near_the_stack_limit() {
    // A thread with room for the wasm stack and the host reserve below it.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(deep_recursion)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_recursion() {
    let mut config = Config::new();
    config.max_wasm_stack(256 * 1024);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, RECURSION).unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let plain = instance
        .get_typed_func::<i32, i32>(&mut store, "plain")
        .unwrap();
    let deep = instance
        .get_typed_func::<i32, i32>(&mut store, "throw_deep")
        .unwrap();
    // The deepest recursion that still fits, for `f` (binary search);
    // every attempt either returns `want` or traps with StackOverflow.
    let mut deepest = |f: &weft::TypedFunc<i32, i32>, want: fn(i32) -> i32| {
        let (mut ok, mut bad) = (1, 1 << 20);
        assert_eq!(f.call(&mut store, ok).unwrap(), want(ok));
        while bad - ok > 1 {
            let mid = (ok + bad) / 2;
            match f.call(&mut store, mid) {
                Ok(v) => {
                    assert_eq!(v, want(mid), "depth {mid}");
                    ok = mid;
                }
                Err(e) => {
                    assert_eq!(
                        e.downcast_ref::<Trap>(),
                        Some(&Trap::StackOverflow),
                        "{e:?}"
                    );
                    bad = mid;
                }
            }
        }
        ok
    };
    let plain_max = deepest(&plain, |n| n);
    let throw_max = deepest(&deep, |_| 12345);
    assert!(plain_max > 1000, "only {plain_max} frames fit");
    // Throwing works from the last frame that fits (the throw itself
    // runs in the reserve below the wasm limit); one frame more is a
    // clean overflow. ($down's frames hold a payload slot: they are
    // larger than $plain's, so fewer fit.)
    assert!(
        throw_max > 1000 && throw_max <= plain_max,
        "{throw_max} / {plain_max}"
    );
    let e = deep.call(&mut store, throw_max + 1).unwrap_err();
    assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::StackOverflow));
    let ok = throw_max;
    assert_eq!(deep.call(&mut store, ok).unwrap(), 12345);
    // Beyond the limit it is a clean stack overflow trap.
    let e = deep.call(&mut store, ok + 100).unwrap_err();
    assert_eq!(e.downcast_ref::<Trap>(), Some(&Trap::StackOverflow));
    // And everything still works afterwards.
    assert_eq!(deep.call(&mut store, 10).unwrap(), 12345);
}

#[test]
fn exceptions_on_an_async_fiber() {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let tag = i32_tag(&mut store);
    let mut linker = Linker::new(&engine);
    linker.define("host", "tag", tag).unwrap();
    // An async host function that suspends the fiber, then throws.
    linker
        .func_wrap_async(
            "host",
            "wait_then_throw",
            move |mut caller: Caller<'_, ()>, (x,): (i32,)| {
                Box::new(async move {
                    YieldOnce(false).await;
                    let exn = ExnRef::new(&mut caller, tag, &[Val::I32(x + 1)])?;
                    Err::<(), _>(Exception::new(exn).into())
                })
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "tag" (tag $t (param i32)))
            (import "host" "wait_then_throw" (func $wait (param i32)))
            (func $inner (param i32) (result i32)
              (block $h (result i32)
                (try_table (catch $t $h) (call $wait (local.get 0)))
                (i32.const -1)))
            (func (export "caught") (param i32) (result i32)
              (call $inner (local.get 0)))
            (func (export "uncaught") (param i32)
              (call $wait (local.get 0))))"#,
    )
    .unwrap();
    let instance = block_on(linker.instantiate_async(&mut store, &module)).unwrap();
    let caught = instance
        .get_typed_func::<i32, i32>(&mut store, "caught")
        .unwrap();
    let uncaught = instance
        .get_typed_func::<i32, ()>(&mut store, "uncaught")
        .unwrap();
    for i in 0..100 {
        assert_eq!(block_on(caught.call_async(&mut store, i)).unwrap(), i + 1);
    }
    let err = block_on(uncaught.call_async(&mut store, 41)).unwrap_err();
    let exn = err.downcast_ref::<Exception>().expect("an exception").exn();
    assert_eq!(exn.payload(&mut store)[0].unwrap_i32(), 42);
}

#[test]
fn throw_catch_loop_runs_in_constant_memory_and_keeps_live_exceptions() {
    // Each iteration throws through 10 frames; half the throws are caught
    // with catch_ref and rethrown with throw_ref. A first exception is kept
    // in a local across all of them (a stack-map root), another in a
    // global and one in a table.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (tag $t (param i32))
            (tag $box (param exnref))
            (global $g (mut exnref) (ref.null exn))
            (table $tab 1 exnref)
            (func $thrower (param i32) (throw $t (local.get 0)))
            (func $f (param i32 i32)
              (if (i32.eqz (local.get 1))
                (then (call $thrower (local.get 0)) (return)))
              (call $f (local.get 0) (i32.sub (local.get 1) (i32.const 1))))
            (func $rethrower (param i32) (local $e exnref)
              (block $h (result i32 exnref)
                (try_table (catch_ref $t $h)
                  (call $f (local.get 0) (i32.const 9)))
                (unreachable))
              (local.set $e)
              (drop)
              (throw_ref (local.get $e)))
            (func $make (param i32) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (call $thrower (local.get 0)))
                (unreachable)))
            (func $payload (param exnref) (result i32)
              (block $h (result i32)
                (try_table (catch $t $h) (throw_ref (local.get 0)))
                (unreachable)))
            (func (export "run") (param i32) (result i32)
              (local $kept exnref) (local $i i32) (local $sum i32)
              (local.set $kept (call $make (i32.const 1111)))
              (global.set $g (call $make (i32.const 2222)))
              (table.set $tab (i32.const 0) (call $make (i32.const 3333)))
              (loop $again
                (local.set $sum (i32.add (local.get $sum)
                  (block $h (result i32)
                    (try_table (catch $t $h)
                      (if (i32.and (local.get $i) (i32.const 1))
                        (then (call $rethrower (local.get $i)))
                        (else (call $f (local.get $i) (i32.const 9)))))
                    (unreachable))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $again (i32.lt_u (local.get $i) (local.get 0))))
              ;; The kept exceptions are intact: their payloads add up.
              (i32.add (local.get $sum)
                (i32.add (call $payload (local.get $kept))
                  (i32.add (call $payload (global.get $g))
                    (call $payload (table.get $tab (i32.const 0))))))))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    let n: i32 = 20_000;
    let expect = (0..n).fold(0i32, |a, i| a.wrapping_add(i)) + 1111 + 2222 + 3333;
    assert_eq!(run.call(&mut store, 10).unwrap(), 45 + 6666);
    let small = store.exn_heap_stats();
    assert_eq!(run.call(&mut store, n).unwrap(), expect);
    let stats = store.exn_heap_stats();
    assert!(stats.collections > 5, "{stats:?}");
    assert!(
        stats.capacity < 5000,
        "the heap grew: {stats:?} (small run {small:?})"
    );
    // Once wasm drops them (the global and table still hold two)...
    store.gc();
    assert_eq!(store.exn_heap_stats().live, 2);
}

#[test]
fn exceptions_inside_payloads_are_traced() {
    // An exception carried in another exception's payload survives many
    // collections while only the outer one is reachable (from a global).
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (tag $t (param i32))
            (tag $box (param exnref))
            (global $g (mut exnref) (ref.null exn))
            (func $make (param i32) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $t (local.get 0)))
                (unreachable)))
            (func $boxed (param exnref) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $box (local.get 0)))
                (unreachable)))
            (func $unbox (param exnref) (result exnref)
              (block $h (result exnref)
                (try_table (catch $box $h) (throw_ref (local.get 0)))
                (unreachable)))
            (func $payload (param exnref) (result i32)
              (block $h (result i32)
                (try_table (catch $t $h) (throw_ref (local.get 0)))
                (unreachable)))
            (func (export "store") (param i32)
              (global.set $g (call $boxed (call $make (local.get 0)))))
            (func (export "churn") (param i32) (local $i i32)
              (loop $l
                (drop (call $make (local.get $i)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (local.get 0)))))
            (func (export "load") (result i32)
              (call $payload (call $unbox (global.get $g)))))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let put = instance
        .get_typed_func::<i32, ()>(&mut store, "store")
        .unwrap();
    let churn = instance
        .get_typed_func::<i32, ()>(&mut store, "churn")
        .unwrap();
    let load = instance
        .get_typed_func::<(), i32>(&mut store, "load")
        .unwrap();
    put.call(&mut store, 4242).unwrap();
    let before = store.exn_heap_stats().collections;
    churn.call(&mut store, 50_000).unwrap();
    store.gc();
    let stats = store.exn_heap_stats();
    assert!(stats.collections > before + 5, "{stats:?}");
    assert_eq!(stats.live, 2, "the box and the exception inside it");
    assert_eq!(load.call(&mut store, ()).unwrap(), 4242);
}

#[test]
fn exnref_values_cross_typed_functions_both_ways() {
    // wasm catches with catch_all_ref and returns the exnref to the host,
    // which passes it back to be rethrown and caught with its payload.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (tag $t (export "t") (param i32))
            (func (export "make") (param i32) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $t (local.get 0)))
                (unreachable)))
            (func (export "open") (param exnref) (result i32)
              (block $h (result i32)
                (try_table (catch $t $h) (throw_ref (local.get 0)))
                (unreachable))))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let make = instance
        .get_typed_func::<i32, Option<ExnRef>>(&mut store, "make")
        .unwrap();
    let open = instance
        .get_typed_func::<Option<ExnRef>, i32>(&mut store, "open")
        .unwrap();
    let tag = instance.get_tag(&mut store, "t").unwrap();
    let exn = make.call(&mut store, 99).unwrap().expect("non-null");
    assert_eq!(exn.tag(&store), tag);
    store.gc();
    assert_eq!(open.call(&mut store, Some(exn)).unwrap(), 99);
    // throw_ref of null traps.
    let err = open.call(&mut store, None).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::NullReference));
    // After unrooting and a collection, the handle is refused, not used.
    exn.unroot(&mut store);
    store.gc();
    let err = open.call(&mut store, Some(exn)).unwrap_err();
    assert!(err.to_string().contains("unrooted"), "{err}");
}

#[test]
fn deeply_nested_handler_scopes_compile_in_bounded_time_or_are_refused() {
    // 10k nested try_tables catching the same tag, a call at every level:
    // each call lists one clause (the inner one shadows the others).
    let depth = 10_000;
    let mut body = String::new();
    for _ in 0..depth {
        body.push_str("try_table (catch $t $out) call $nop\n");
    }
    body.push_str("call $thrower\n");
    for _ in 0..depth {
        body.push_str("end\n");
    }
    let wat = format!(
        r#"(module
            (tag $t (param i32))
            (func $nop)
            (func $thrower (throw $t (i32.const 7)))
            (func (export "run") (result i32)
              (block $out (result i32)
                {body}
                (i32.const -1))))"#
    );
    let engine = Engine::default();
    let start = std::time::Instant::now();
    let module = Module::new(&engine, &wat).unwrap();
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let run = instance
        .get_typed_func::<(), i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 7);

    // More distinct clauses in scope than a call may list: a clear error.
    let n = 10_001;
    let mut tags = String::new();
    let mut body = String::new();
    for i in 0..n {
        tags.push_str(&format!("(tag $t{i})\n"));
        body.push_str(&format!("try_table (catch $t{i} $out)\n"));
    }
    body.push_str("call $nop\n");
    for _ in 0..n {
        body.push_str("end\n");
    }
    let wat = format!(
        r#"(module {tags}
            (func $nop)
            (func (export "run") (block $out {body})))"#
    );
    let err = Module::new(&engine, &wat).unwrap_err();
    assert!(
        format!("{err:#}").contains("distinct exception handlers"),
        "{err:#}"
    );
}
