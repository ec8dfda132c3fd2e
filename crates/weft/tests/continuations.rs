//! Continuations (the stack-switching proposal) through the embedding API:
//! host calls from continuations (on the native stack, with re-entry and
//! async host functions), traps and stack exhaustion inside continuations,
//! one-shot violations, unhandled suspensions, faults in a parent while
//! its child is suspended, and stack reuse.

use std::sync::Arc;
use weft::{Caller, Config, Engine, Func, Instance, Module, Store, Trap};

mod common;
use common::{YieldN, block_on, use_stack};

fn trap_of(err: &anyhow::Error) -> Trap {
    *err.downcast_ref::<Trap>()
        .unwrap_or_else(|| panic!("not a trap: {err:?}"))
}

/// A generator of `n` values whose body calls the host `h.f(i) -> i`
/// for each value before yielding it; `sum(n)` adds the yielded values.
const GEN_WITH_HOST_CALLS: &str = r#"(module
  (import "h" "f" (func $f (param i32) (result i32)))
  (type $ft (func))
  (type $ct (cont $ft))
  (tag $yield (param i32))
  (global $n (mut i32) (i32.const 0))
  (func $gen
    (local $i i32) (local $n i32)
    (local.set $n (global.get $n))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (suspend $yield (call $f (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
  (elem declare func $gen)
  (func (export "sum") (param $n i32) (result i32)
    (local $k (ref null $ct)) (local $s i32)
    (global.set $n (local.get $n))
    (local.set $k (cont.new $ct (ref.func $gen)))
    (block $done
      (loop $l
        (block $on_yield (result i32 (ref $ct))
          (resume $ct (on $yield $on_yield) (local.get $k))
          (br $done))
        (local.set $k)
        (local.set $s (i32.add (local.get $s)))
        (br $l)))
    (local.get $s)))"#;

fn sum_of(n: i32) -> i32 {
    (0..n).sum()
}

#[test]
fn host_functions_called_from_a_continuation_run_off_its_small_stack() {
    // 32 KiB continuation stacks; the host function uses far more stack
    // than that. It works only because host code runs on the native stack.
    let mut config = Config::new();
    config.continuation_stack_size(32 * 1024);
    config.continuation_red_zone(8 * 1024);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let f = Func::wrap(&mut store, |x: i32| -> i32 {
        // About 200 KiB of stack.
        assert_eq!(use_stack(200), 200);
        x
    });
    let module = Module::new(&engine, GEN_WITH_HOST_CALLS).unwrap();
    let instance = Instance::new(&mut store, &module, &[f.into()]).unwrap();
    let sum = instance
        .get_typed_func::<i32, i32>(&mut store, "sum")
        .unwrap();
    assert_eq!(sum.call(&mut store, 50).unwrap(), sum_of(50));
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_host_function_called_from_a_continuation_can_reenter_wasm_that_resumes_others() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    // `f(i)` calls the export `sum(i)` again (another generator, from the
    // native stack) for i < 5, else returns i.
    let f = Func::wrap(&mut store, |mut caller: Caller<'_, ()>, x: i32| -> i32 {
        if x >= 5 {
            return x;
        }
        let sum = caller.get_export("sum").unwrap().into_func().unwrap();
        let sum = sum.typed::<i32, i32>(&caller).unwrap();
        let inner = sum.call(&mut caller, x).unwrap();
        assert_eq!(inner, sum_of(x));
        x
    });
    let module = Module::new(&engine, GEN_WITH_HOST_CALLS).unwrap();
    let instance = Instance::new(&mut store, &module, &[f.into()]).unwrap();
    let sum = instance
        .get_typed_func::<i32, i32>(&mut store, "sum")
        .unwrap();
    assert_eq!(sum.call(&mut store, 10).unwrap(), sum_of(10));
    let stats = store.continuation_stats();
    assert_eq!(stats.live, 0);
    // `sum(n)` makes one generator, and `f(i)` runs `sum(i)` for every
    // value i < min(n, 5) it yields: created(n) = 1 + sum of created(i).
    fn created(n: i32) -> u64 {
        1 + (0..n.min(5)).map(created).sum::<u64>()
    }
    assert_eq!(stats.created, created(10));
    assert_eq!(created(10), 32);
}

#[test]
fn async_host_functions_called_from_a_continuation_suspend_the_whole_call() {
    let mut config = Config::new();
    config.async_support(true);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let f = Func::wrap_async(&mut store, |_caller: Caller<'_, ()>, (x,): (i32,)| {
        Box::new(async move {
            YieldN(3).await;
            Ok(x)
        })
    });
    let module = Module::new(&engine, GEN_WITH_HOST_CALLS).unwrap();
    let instance = block_on(Instance::new_async(&mut store, &module, &[f.into()])).unwrap();
    let sum = instance
        .get_typed_func::<i32, i32>(&mut store, "sum")
        .unwrap();
    assert_eq!(
        block_on(sum.call_async(&mut store, 20)).unwrap(),
        sum_of(20)
    );
    assert_eq!(store.continuation_stats().live, 0);
}

/// `run(kind)`: resumes a continuation that does `kind` inside: 0 returns
/// 7, 1 hits `unreachable`, 2 recurses without end, 3 suspends with a tag
/// nobody handles. `again()` resumes the continuation it stored in a
/// global the first time it ran.
const FAULTS: &str = r#"(module
  (type $ft (func (param i32) (result i32)))
  (type $ct (cont $ft))
  (tag $other)
  (global $saved (mut (ref null $ct)) (ref.null $ct))
  (func $rec (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $body (param $kind i32) (result i32)
    (if (i32.eq (local.get $kind) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $kind) (i32.const 2))
      (then (return (call $rec (i32.const 0)))))
    (if (i32.eq (local.get $kind) (i32.const 3)) (then (suspend $other)))
    (i32.const 7))
  (elem declare func $body)
  (func (export "run") (param $kind i32) (result i32)
    (local $k (ref $ct))
    (local.set $k (cont.new $ct (ref.func $body)))
    (global.set $saved (local.get $k))
    (resume $ct (local.get $kind) (local.get $k)))
  (func (export "again") (result i32)
    (resume $ct (i32.const 0) (global.get $saved))))"#;

fn faults() -> (
    Store<()>,
    weft::TypedFunc<i32, i32>,
    weft::TypedFunc<(), i32>,
) {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, FAULTS).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    let again = instance
        .get_typed_func::<(), i32>(&mut store, "again")
        .unwrap();
    (store, run, again)
}

#[test]
fn traps_inside_a_continuation_kill_it_and_leave_the_store_usable() {
    let (mut store, run, _) = faults();
    let err = run.call(&mut store, 1).unwrap_err();
    assert_eq!(trap_of(&err), Trap::UnreachableCodeReached);
    assert_eq!(
        store.continuation_stats().live,
        0,
        "the trapped stack is back in the pool"
    );
    let err = run.call(&mut store, 2).unwrap_err();
    assert_eq!(trap_of(&err), Trap::StackOverflow);
    assert_eq!(store.continuation_stats().live, 0);
    // The store still works, and so do new continuations.
    assert_eq!(run.call(&mut store, 0).unwrap(), 7);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn resuming_a_consumed_continuation_traps() {
    let (mut store, run, again) = faults();
    assert_eq!(run.call(&mut store, 0).unwrap(), 7);
    let err = again.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed);
    assert!(
        format!("{err:#}").contains("continuation already consumed"),
        "{err:#}"
    );
    // A continuation killed by a trap is consumed too.
    run.call(&mut store, 1).unwrap_err();
    let err = again.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed);
}

/// One `resume` site in a loop, so its second execution is a repeat (the
/// reference the suspension to it handed over, resumed again: the inline
/// code then reads the predicted record and not the table), with the
/// reference made stale or null in between by `mode`:
/// 0: consumed by `cont.bind`; 1: resumed to its end at another site (its
/// slot is free, and the prediction is its retired record); 2: replaced
/// by null; 3: null from the start; 4: nothing (the loop runs the
/// generator to its end). `run_after_reuse` resumes a stale reference at
/// its repeat site after a new continuation took the slot and is the
/// prediction.
const REPEAT_SITE: &str = r#"(module
  (type $ft (func))
  (type $ct (cont $ft))
  (tag $yield)
  (func $once (suspend $yield))
  (func $twice (suspend $yield) (suspend $yield))
  (func $forever (loop $l (suspend $yield) (br $l)))
  (elem declare func $once $twice $forever)
  (func (export "run") (param $mode i32) (result i32)
    (local $k (ref null $ct)) (local $old (ref null $ct))
    (local $other (ref null $ct)) (local $turns i32)
    (if (i32.ne (local.get $mode) (i32.const 3))
      (then (local.set $k (cont.new $ct (ref.func $twice)))))
    (block $done
      (loop $l
        (block $on_yield (result (ref $ct))
          (resume $ct (on $yield $on_yield) (local.get $k))
          (br $done))
        (local.set $k)
        (local.set $turns (i32.add (local.get $turns) (i32.const 1)))
        (if (i32.eq (local.get $turns) (i32.const 1))
          (then
            (local.set $old (local.get $k))
            (if (i32.eqz (local.get $mode))
              (then (local.set $other (cont.bind $ct $ct (local.get $k)))))
            (if (i32.eq (local.get $mode) (i32.const 1))
              (then
                ;; Resumed twice elsewhere: it suspends once more, then
                ;; returns, and its slot is free.
                (local.set $k (block $b1 (result (ref $ct))
                  (resume $ct (on $yield $b1) (local.get $k))
                  (unreachable)))
                (block $returned
                  (drop (block $b2 (result (ref $ct))
                    (resume $ct (on $yield $b2) (local.get $k))
                    (br $returned)))
                  (unreachable))))
            (if (i32.eq (local.get $mode) (i32.const 2))
              (then (local.set $old (ref.null $ct))))
            (local.set $k (local.get $old))))
        (br $l)))
    (local.get $turns))
  (func (export "run_after_reuse") (result i32)
    (local $k (ref null $ct)) (local $old (ref null $ct))
    (local $other (ref null $ct)) (local $turns i32)
    (local.set $k (cont.new $ct (ref.func $once)))
    (block $done
      (loop $l
        (block $on_yield (result (ref $ct))
          (resume $ct (on $yield $on_yield) (local.get $k))
          (br $done))
        (local.set $k)
        (local.set $turns (i32.add (local.get $turns) (i32.const 1)))
        ;; (A wrong repeat would resume the new continuation, which
        ;; yields forever.)
        (if (i32.gt_u (local.get $turns) (i32.const 3))
          (then (return (i32.const -1))))
        (if (i32.eq (local.get $turns) (i32.const 1))
          (then
            (local.set $old (local.get $k))
            ;; Finish it at another site (it returns: its slot is free),
            ;; then give the slot (last in, first out) to a new
            ;; continuation, which suspends to a third site and so
            ;; becomes the prediction.
            (block $returned
              (drop (block $b (result (ref $ct))
                (resume $ct (on $yield $b) (local.get $k))
                (br $returned)))
              (unreachable))
            (local.set $other (block $fresh (result (ref $ct))
              (resume $ct (on $yield $fresh) (cont.new $ct (ref.func $forever)))
              (unreachable)))
            ;; The stale reference, resumed at its repeat site.
            (local.set $k (local.get $old))))
        (br $l)))
    (local.get $turns)))"#;

#[test]
fn a_repeat_resume_site_rejects_stale_and_null_references() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, REPEAT_SITE).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    let after_reuse = instance
        .get_typed_func::<(), i32>(&mut store, "run_after_reuse")
        .unwrap();
    // Mode 4: the repeat resumes the generator, which yields twice.
    assert_eq!(run.call(&mut store, 4).unwrap(), 2);
    for (mode, want) in [
        (0, Trap::ContinuationConsumed),
        (1, Trap::ContinuationConsumed),
        (2, Trap::NullContinuation),
        (3, Trap::NullContinuation),
    ] {
        let err = run.call(&mut store, mode).unwrap_err();
        assert_eq!(trap_of(&err), want, "mode {mode}: {err:#}");
    }
    let err = after_reuse.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed, "{err:#}");
    assert!(
        format!("{err:#}").contains("continuation already consumed"),
        "{err:#}"
    );
    // The store goes on working.
    assert_eq!(run.call(&mut store, 4).unwrap(), 2);
}

#[test]
fn a_suspension_without_handler_traps_with_unhandled_tag() {
    let (mut store, run, _) = faults();
    let err = run.call(&mut store, 3).unwrap_err();
    assert_eq!(trap_of(&err), Trap::UnhandledTag);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_suspension_does_not_cross_a_host_frame() {
    // The outer continuation handles $t; inside it, a host function calls
    // back into wasm, which suspends with $t: the handler is beyond the
    // host frame, so that suspension is unhandled (a trap that the host
    // function sees as an error), and the outer continuation goes on.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let host = Func::wrap(&mut store, |mut caller: Caller<'_, ()>| -> i32 {
        let inner = caller.get_export("suspend_t").unwrap().into_func().unwrap();
        let err = inner.call(&mut caller, &[], &mut []).unwrap_err();
        assert_eq!(trap_of(&err), Trap::UnhandledTag);
        42
    });
    let module = Module::new(
        &engine,
        r#"(module
          (import "h" "host" (func $host (result i32)))
          (type $ft (func (result i32)))
          (type $ct (cont $ft))
          (tag $t)
          (func (export "suspend_t") (suspend $t))
          (func $body (result i32) (call $host))
          (elem declare func $body)
          (func (export "run") (result i32)
            (block $h (result (ref $ct))
              (return (resume $ct (on $t $h) (cont.new $ct (ref.func $body)))))
            (drop)
            (i32.const -1)))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[host.into()]).unwrap();
    let run = instance
        .get_typed_func::<(), i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 42);
}

#[test]
fn finished_continuations_return_their_stacks_for_reuse() {
    // 200,000 continuations, one after the other: each returns, so its
    // stack goes back to the pool and the next one takes it.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (type $ft (func (param i32) (result i32)))
          (type $ct (cont $ft))
          (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
          (elem declare func $inc)
          (func (export "count") (param $n i32) (result i32)
            (local $acc i32)
            (block $done
              (loop $l
                (br_if $done (i32.eqz (local.get $n)))
                (local.set $acc
                  (resume $ct (local.get $acc) (cont.new $ct (ref.func $inc))))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br $l)))
            (local.get $acc)))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let count = instance
        .get_typed_func::<i32, i32>(&mut store, "count")
        .unwrap();
    assert_eq!(count.call(&mut store, 200_000).unwrap(), 200_000);
    let stats = store.continuation_stats();
    assert_eq!(stats.created, 200_000);
    assert_eq!(stats.live, 0);
}

#[test]
fn suspended_continuations_stay_alive_until_resumed() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, GEN_WITH_HOST_CALLS).unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c2 = calls.clone();
    let f = Func::wrap(&mut store, move |x: i32| -> i32 {
        c2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        x
    });
    let instance = Instance::new(&mut store, &module, &[f.into()]).unwrap();
    let sum = instance
        .get_typed_func::<i32, i32>(&mut store, "sum")
        .unwrap();
    assert_eq!(sum.call(&mut store, 100).unwrap(), sum_of(100));
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 100);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn continuation_stack_settings_are_checked() {
    let mut config = Config::new();
    config.continuation_stack_size(4096);
    let err = Engine::new(&config).unwrap_err();
    assert!(
        format!("{err}").contains("continuation_stack_size"),
        "{err}"
    );
    let mut config = Config::new();
    config.continuation_red_zone(1024);
    let err = Engine::new(&config).unwrap_err();
    assert!(format!("{err}").contains("continuation_red_zone"), "{err}");
    let mut config = Config::new();
    config.max_live_continuations(0);
    assert!(Engine::new(&config).is_err());
}

#[test]
fn the_live_continuation_limit_is_a_clean_trap() {
    let mut config = Config::new();
    config.max_live_continuations(100);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (type $ft (func))
          (type $ct (cont $ft))
          (table $t 1000 (ref null $ct))
          (func $nop)
          (elem declare func $nop)
          (func (export "make") (param $n i32)
            (loop $l
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (table.set $t (local.get $n) (cont.new $ct (ref.func $nop)))
              (br_if $l (local.get $n)))))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let make = instance
        .get_typed_func::<i32, ()>(&mut store, "make")
        .unwrap();
    make.call(&mut store, 100).unwrap();
    assert_eq!(store.continuation_stats().live, 100);
    let err = make.call(&mut store, 1).unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot create a continuation"),
        "{err:#}"
    );
}

fn frame_names(err: &anyhow::Error) -> Vec<String> {
    let bt = err
        .downcast_ref::<weft::WasmBacktrace>()
        .unwrap_or_else(|| panic!("no wasm backtrace in {err:?}"));
    bt.frames
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_default())
        .collect()
}

/// `outer -> resume c1`, c1 runs `c1_body -> c1_helper -> resume c2`, c2
/// runs `c2_body -> boom` (unreachable) or `c2_body -> host` (which takes a
/// backtrace).
const NESTED: &str = r#"(module
  (import "h" "bt" (func $bt))
  (type $ft (func (param i32)))
  (type $ct (cont $ft))
  (func $boom (param i32)
    (if (local.get 0) (then (call $bt)) (else unreachable)))
  (func $c2_body (param i32) (call $boom (local.get 0)))
  (func $c1_helper (param i32)
    (resume $ct (local.get 0) (cont.new $ct (ref.func $c2_body))))
  (func $c1_body (param i32) (call $c1_helper (local.get 0)))
  (elem declare func $c1_body $c2_body)
  (func $outer (export "outer") (param i32)
    (resume $ct (local.get 0) (cont.new $ct (ref.func $c1_body)))))"#;

#[test]
fn a_trap_in_a_nested_continuation_has_the_frames_of_every_stack() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let bt = Func::wrap(&mut store, || {});
    let module = Module::new(&engine, NESTED).unwrap();
    let instance = Instance::new(&mut store, &module, &[bt.into()]).unwrap();
    let outer = instance
        .get_typed_func::<i32, ()>(&mut store, "outer")
        .unwrap();
    let err = outer.call(&mut store, 0).unwrap_err();
    assert_eq!(trap_of(&err), Trap::UnreachableCodeReached);
    assert_eq!(
        frame_names(&err),
        ["boom", "c2_body", "c1_helper", "c1_body", "outer"],
    );
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_backtrace_taken_in_a_host_function_called_from_a_continuation_crosses_it() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let bt = Func::wrap(&mut store, move |caller: Caller<'_, ()>| {
        let bt = weft::WasmBacktrace::capture(&caller);
        *seen2.lock().unwrap() = bt
            .frames
            .iter()
            .map(|f| f.func_name.clone().unwrap_or_default())
            .collect();
    });
    let module = Module::new(&engine, NESTED).unwrap();
    let instance = Instance::new(&mut store, &module, &[bt.into()]).unwrap();
    let outer = instance
        .get_typed_func::<i32, ()>(&mut store, "outer")
        .unwrap();
    outer.call(&mut store, 1).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["boom", "c2_body", "c1_helper", "c1_body", "outer"],
    );
}

// ---- the embedder API -------------------------------------------------------

const API: &str = r#"(module
  (type $ft (func (param i32) (result i32)))
  (type $ct (cont $ft))
  (type $ft0 (func (result i32)))
  (type $ct0 (cont $ft0))
  (tag $ask (export "ask") (param i32) (result i32))
  (global $k (export "k") (mut (ref null $ct)) (ref.null $ct))
  (table $t (export "t") 4 (ref null $ct))
  ;; asks twice, returns the sum of the answers plus its argument
  (func $body (export "body") (param $x i32) (result i32)
    (i32.add (local.get $x)
      (i32.add (suspend $ask (i32.const 1)) (suspend $ask (i32.const 2)))))
  (func (export "crash") (param i32) (result i32) unreachable)
  (elem declare func $body)
  ;; resumes the continuation in $k with `v` from wasm, answering every
  ;; further ask with 100
  (func (export "finish") (param $v i32) (result i32)
    (local $k (ref null $ct0))
    (block $h (result i32 (ref $ct))
      (return (resume $ct (on $ask $h) (local.get $v) (global.get $k))))
    (global.set $k)
    (drop)
    (resume $ct (i32.const 100) (global.get $k))))"#;

fn api_setup() -> (Store<()>, Instance) {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, API).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn the_host_resumes_a_continuation_and_answers_its_suspensions() {
    let (mut store, instance) = api_setup();
    let body = instance.get_func(&mut store, "body").unwrap();
    let ask = instance
        .get_export(&mut store, "ask")
        .unwrap()
        .into_tag()
        .unwrap();
    let k = weft::ContRef::new(&mut store, &body).unwrap();
    assert_eq!(store.continuation_stats().live, 1);
    let weft::Resumed::Suspended {
        tag,
        payload,
        continuation,
    } = k
        .resume(&mut store, &[weft::Val::I32(1000)], &[ask])
        .unwrap()
    else {
        panic!("expected a suspension")
    };
    assert_eq!(tag, ask);
    assert_eq!(payload[0].unwrap_i32(), 1);
    // One-shot: the first reference is used up.
    let err = k
        .resume(&mut store, &[weft::Val::I32(0)], &[ask])
        .unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed);
    // Wrong argument types are an error, not undefined behaviour.
    let err = continuation
        .resume(&mut store, &[weft::Val::I64(1)], &[ask])
        .unwrap_err();
    assert!(format!("{err:#}").contains("type mismatch"), "{err:#}");
    let weft::Resumed::Suspended {
        payload,
        continuation,
        ..
    } = continuation
        .resume(&mut store, &[weft::Val::I32(10)], &[ask])
        .unwrap()
    else {
        panic!("expected a second suspension")
    };
    assert_eq!(payload[0].unwrap_i32(), 2);
    let weft::Resumed::Returned(results) = continuation
        .resume(&mut store, &[weft::Val::I32(20)], &[ask])
        .unwrap()
    else {
        panic!("expected the continuation to return")
    };
    assert_eq!(results[0].unwrap_i32(), 1000 + 10 + 20);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_continuation_suspended_at_the_host_can_be_finished_by_wasm_through_a_global() {
    let (mut store, instance) = api_setup();
    let body = instance.get_func(&mut store, "body").unwrap();
    let ask = instance
        .get_export(&mut store, "ask")
        .unwrap()
        .into_tag()
        .unwrap();
    let k = weft::ContRef::new(&mut store, &body).unwrap();
    let weft::Resumed::Suspended { continuation, .. } =
        k.resume(&mut store, &[weft::Val::I32(5)], &[ask]).unwrap()
    else {
        panic!("expected a suspension")
    };
    // Park it in a contref global and in a contref table, read it back.
    let global = instance.get_global(&mut store, "k").unwrap();
    global
        .set(&mut store, weft::Val::ContRef(Some(continuation)))
        .unwrap();
    let table = instance.get_table(&mut store, "t").unwrap();
    table
        .set(&mut store, 2, weft::Val::ContRef(Some(continuation)))
        .unwrap();
    match table.get(&mut store, 2) {
        Some(weft::Val::ContRef(Some(c))) => assert_eq!(c, continuation),
        other => panic!("expected the continuation back, got {other:?}"),
    }
    match global.get(&mut store) {
        weft::Val::ContRef(Some(c)) => assert_eq!(c, continuation),
        other => panic!("expected the continuation back, got {other:?}"),
    }
    // Wasm answers the first ask with 7, the second with 100.
    let finish = instance
        .get_typed_func::<i32, i32>(&mut store, "finish")
        .unwrap();
    assert_eq!(finish.call(&mut store, 7).unwrap(), 5 + 7 + 100);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_trap_in_a_continuation_resumed_by_the_host_is_an_error_and_frees_it() {
    let (mut store, instance) = api_setup();
    let crash = instance.get_func(&mut store, "crash").unwrap();
    let k = weft::ContRef::new(&mut store, &crash).unwrap();
    let err = k.resume(&mut store, &[weft::Val::I32(0)], &[]).unwrap_err();
    assert_eq!(trap_of(&err), Trap::UnreachableCodeReached);
    assert_eq!(store.continuation_stats().live, 0);
    // A suspension the host does not handle is an unhandled tag.
    let body = instance.get_func(&mut store, "body").unwrap();
    let k = weft::ContRef::new(&mut store, &body).unwrap();
    let err = k.resume(&mut store, &[weft::Val::I32(0)], &[]).unwrap_err();
    assert_eq!(trap_of(&err), Trap::UnhandledTag);
    assert_eq!(store.continuation_stats().live, 0);
    // Host functions cannot be continuations.
    let host = Func::wrap(&mut store, || {});
    assert!(weft::ContRef::new(&mut store, &host).is_err());
}

// ---- exceptions and continuations -------------------------------------------

const EXN: &str = r#"(module
  (type $ft (func (param i32) (result i32)))
  (type $ct (cont $ft))
  (type $ft0 (func (result i32)))
  (type $ct0 (cont $ft0))
  (tag $e (export "e") (param i32))
  (tag $yield)
  ;; throws $e(x) from inside the continuation, nobody inside catches it
  (func $thrower (param $x i32) (result i32) (throw $e (local.get $x)))
  ;; suspends once, then returns 1; catches $e thrown into it (by
  ;; resume_throw) and returns the payload + 100
  (func $catcher (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (suspend $yield)
        (return (i32.const 1)))
      (unreachable))
    (i32.add (i32.const 100)))
  (elem declare func $thrower $catcher)
  ;; the exception leaves the continuation through `resume`; the
  ;; try_table around the resume catches it
  (func (export "through_resume") (param $x i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (resume $ct (local.get $x) (cont.new $ct (ref.func $thrower)))))
      (unreachable)))
  ;; resume_throw into a suspended continuation that catches it
  (func (export "into_suspended") (result i32)
    (local $k (ref null $ct0))
    (block $on_yield (result (ref $ct0))
      (drop (resume $ct (on $yield $on_yield) (i32.const 0)
        (cont.new $ct (ref.func $catcher))))
      (return (i32.const -1)))
    (local.set $k)
    (resume_throw $ct0 $e (i32.const 7) (local.get $k)))
  ;; resume_throw into a continuation that never ran: thrown right here
  (func (export "into_fresh") (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (resume_throw $ct $e (i32.const 9)
          (cont.new $ct (ref.func $catcher)))))
      (unreachable)))
  (func (export "uncaught") (param $x i32) (result i32)
    (resume $ct (local.get $x) (cont.new $ct (ref.func $thrower)))))"#;

#[test]
fn exceptions_cross_resume_and_resume_throw_into_continuations() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, EXN).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let through = instance
        .get_typed_func::<i32, i32>(&mut store, "through_resume")
        .unwrap();
    assert_eq!(through.call(&mut store, 42).unwrap(), 42);
    assert_eq!(store.continuation_stats().live, 0, "the thrower is retired");
    let suspended = instance
        .get_typed_func::<(), i32>(&mut store, "into_suspended")
        .unwrap();
    assert_eq!(suspended.call(&mut store, ()).unwrap(), 107);
    let fresh = instance
        .get_typed_func::<(), i32>(&mut store, "into_fresh")
        .unwrap();
    assert_eq!(fresh.call(&mut store, ()).unwrap(), 9);
    assert_eq!(store.continuation_stats().live, 0);
    // Uncaught: the embedder gets the exception with its payload.
    let uncaught = instance
        .get_typed_func::<i32, i32>(&mut store, "uncaught")
        .unwrap();
    let err = uncaught.call(&mut store, 5).unwrap_err();
    let exn = err
        .downcast_ref::<weft::Exception>()
        .unwrap_or_else(|| panic!("not an exception: {err:?}"))
        .exn();
    assert_eq!(exn.payload(&mut store)[0].unwrap_i32(), 5);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn an_exception_leaving_a_continuation_resumed_by_the_host_is_an_error() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (tag $e (export "e") (param i32))
          (func (export "thrower") (param i32) (result i32) (throw $e (local.get 0))))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let thrower = instance.get_func(&mut store, "thrower").unwrap();
    let k = weft::ContRef::new(&mut store, &thrower).unwrap();
    let err = k.resume(&mut store, &[weft::Val::I32(3)], &[]).unwrap_err();
    let exn = err
        .downcast_ref::<weft::Exception>()
        .unwrap_or_else(|| panic!("not an exception: {err:?}"))
        .exn();
    assert_eq!(exn.payload(&mut store)[0].unwrap_i32(), 3);
    assert_eq!(store.continuation_stats().live, 0);
}

/// A parent continuation that resumes a child and faults while the child
/// is suspended. `run(mode)` resumes the parent on the native stack. The
/// parent resumes `$child` with 5; the child suspends with `$y`, and the
/// parent then: keeps the suspended child in `$saved` when `mode & 4`, and
/// by `mode & 3` finishes it (0: resumes it with 1, so `run` returns
/// 101), hits `unreachable` (1) or recurses without end (2).
/// `finish_saved()` resumes the saved child with 2 (returns 102).
/// `nested(n)` runs `$deep` `n + 1` continuations deep; the innermost
/// recurses without end.
const PARENT_FAULTS: &str = r#"(module
  (type $ft (func (param i32) (result i32)))
  (type $ct (cont $ft))
  (tag $y (param i32) (result i32))
  (global $saved (mut (ref null $ct)) (ref.null $ct))
  (func $rec (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $child (param $x i32) (result i32)
    (i32.add (suspend $y (local.get $x)) (i32.const 100)))
  (func $parent (param $mode i32) (result i32)
    (local $k (ref null $ct))
    (block $on_y (result i32 (ref $ct))
      (resume $ct (on $y $on_y) (i32.const 5) (cont.new $ct (ref.func $child)))
      ;; The child always suspends: a return here is a wrong result.
      (return (i32.const -1)))
    (local.set $k)
    (if (i32.ne (i32.const 5)) (then (return (i32.const -2))))
    (if (i32.and (local.get $mode) (i32.const 4))
      (then (global.set $saved (local.get $k))))
    (if (i32.eq (i32.and (local.get $mode) (i32.const 3)) (i32.const 1))
      (then unreachable))
    (if (i32.eq (i32.and (local.get $mode) (i32.const 3)) (i32.const 2))
      (then (return (call $rec (i32.const 0)))))
    (resume $ct (i32.const 1) (local.get $k)))
  (func $deep (param $n i32) (result i32)
    (if (result i32) (local.get $n)
      (then
        (resume $ct (i32.sub (local.get $n) (i32.const 1))
          (cont.new $ct (ref.func $deep))))
      (else (call $rec (i32.const 0)))))
  (elem declare func $child $parent $deep)
  (func (export "run") (param $mode i32) (result i32)
    (resume $ct (local.get $mode) (cont.new $ct (ref.func $parent))))
  (func (export "finish_saved") (result i32)
    (resume $ct (i32.const 2) (global.get $saved)))
  (func (export "nested") (param $n i32) (result i32)
    (resume $ct (local.get $n) (cont.new $ct (ref.func $deep)))))"#;

struct ParentFaults {
    store: Store<()>,
    run: weft::TypedFunc<i32, i32>,
    finish_saved: weft::TypedFunc<(), i32>,
    nested: weft::TypedFunc<i32, i32>,
}

fn parent_faults() -> ParentFaults {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, PARENT_FAULTS).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance.get_typed_func(&mut store, "run").unwrap();
    let finish_saved = instance.get_typed_func(&mut store, "finish_saved").unwrap();
    let nested = instance.get_typed_func(&mut store, "nested").unwrap();
    ParentFaults {
        store,
        run,
        finish_saved,
        nested,
    }
}

/// A fault (`mode` 1 or 2 of `PARENT_FAULTS`'s `run`) in a parent
/// continuation whose child is suspended: the fault's trap comes back, the
/// parent's stack is reclaimed at once, the abandoned child's by the next
/// collection (or, when a global still holds it, it survives the
/// collection and finishes normally), and the store keeps working.
fn check_parent_fault(mode: i32, trap: Trap, message: &str) {
    let mut t = parent_faults();
    // The module works before the fault: parent and child both finish.
    assert_eq!(t.run.call(&mut t.store, 0).unwrap(), 101);
    assert_eq!(t.store.continuation_stats().live, 0);

    // Fault with the child abandoned (on the dead parent's stack only).
    let err = t.run.call(&mut t.store, mode).unwrap_err();
    assert_eq!(trap_of(&err), trap);
    assert!(format!("{err:#}").contains(message), "{err:#}");
    let stats = t.store.continuation_stats();
    assert_eq!(
        stats.live, 1,
        "the trap retires the parent; the suspended child waits for a collection"
    );
    t.store.gc();
    let after = t.store.continuation_stats();
    assert_eq!(after.live, 0, "nothing reaches the child any more");
    assert_eq!(after.collected, stats.collected + 1);

    // The same fault with the child saved in a global first.
    let err = t.run.call(&mut t.store, mode | 4).unwrap_err();
    assert_eq!(trap_of(&err), trap);
    t.store.gc();
    let stats = t.store.continuation_stats();
    assert_eq!(stats.live, 1, "the global keeps the suspended child");
    assert_eq!(stats.collected, after.collected);
    assert_eq!(t.finish_saved.call(&mut t.store, ()).unwrap(), 102);
    assert_eq!(t.store.continuation_stats().live, 0);

    // New continuations still work.
    assert_eq!(t.run.call(&mut t.store, 0).unwrap(), 101);
    assert_eq!(t.store.continuation_stats().live, 0);
}

#[test]
fn a_trap_in_a_parent_with_a_suspended_child_leaves_the_store_usable() {
    check_parent_fault(1, Trap::UnreachableCodeReached, "unreachable");
}

#[test]
fn stack_exhaustion_in_a_parent_with_a_suspended_child_leaves_the_store_usable() {
    check_parent_fault(2, Trap::StackOverflow, "call stack exhausted");
}

#[test]
fn stack_exhaustion_two_continuations_deep_kills_both() {
    let mut t = parent_faults();
    let created = t.store.continuation_stats().created;
    let err = t.nested.call(&mut t.store, 1).unwrap_err();
    assert_eq!(trap_of(&err), Trap::StackOverflow);
    assert!(
        format!("{err:#}").contains("call stack exhausted"),
        "{err:#}"
    );
    let stats = t.store.continuation_stats();
    assert_eq!(stats.created, created + 2, "two continuations ran");
    assert_eq!(
        stats.live, 0,
        "both stacks of the running chain go back when the trap unwinds"
    );
    assert_eq!(stats.collected, 0, "no collection was needed for that");
    // Three deep overflows the same way; the store still runs wasm.
    let err = t.nested.call(&mut t.store, 2).unwrap_err();
    assert_eq!(trap_of(&err), Trap::StackOverflow);
    assert_eq!(t.store.continuation_stats().live, 0);
    assert_eq!(t.run.call(&mut t.store, 0).unwrap(), 101);
    assert_eq!(t.store.continuation_stats().live, 0);
}

/// `run(mode, n)`: two tasks hand `n` down to each other with `switch`
/// until it reaches 0, adding every value they receive to `$sum`; returns
/// `$sum` (n + (n-1) + ... + 1). Mode 0 handles `$swap` at the resume's
/// first entry with fresh tasks (generated code does the switches
/// inline without a loop); mode 1 lists another handler first, mode 2
/// starts the second task through `cont.bind` (the first switch to it
/// finds a bound value), and mode 3 runs the first task under a wrapper
/// continuation whose own `resume` handles only `$other`: its switches
/// are handled two records out, suspend the chain wrapper..task, and the
/// second task's switches go to that chain's innermost record (which
/// makes the wrapper the running head again); when its task returns, the
/// wrapper suspends itself (`$yield`, the resume's first entry) and
/// `run` resumes it for the result. Those switches take the general
/// search and fix-ups of the inline code.
const SWITCH_RING: &str = r#"(module
  (rec
    (type $ft (func (param i32 (ref null $ct)) (result i32)))
    (type $ct (cont $ft)))
  (type $ft3 (func (param i32 i32 (ref null $ct)) (result i32)))
  (type $ct3 (cont $ft3))
  (type $ft0 (func (result i32)))
  (type $ct0 (cont $ft0))
  (tag $swap (result i32))
  (tag $other)
  (tag $yield)
  (global $sum (mut i32) (i32.const 0))
  (func $task (type $ft) (param $n i32) (param $next (ref null $ct)) (result i32)
    (loop $l
      (global.set $sum (i32.add (global.get $sum) (local.get $n)))
      (if (i32.eqz (local.get $n)) (then (return (global.get $sum))))
      (switch $ct $swap (i32.sub (local.get $n) (i32.const 1)) (local.get $next))
      (local.set $next)
      (local.set $n)
      (br $l))
    (unreachable))
  ;; like $task, after dropping a bound first value
  (func $task3 (type $ft3) (param $bound i32) (param $n i32) (param $next (ref null $ct))
    (result i32)
    (return_call $task (local.get $n) (local.get $next)))
  ;; runs $task under a resume that does not handle $swap, then yields
  ;; once before it returns the task's result
  (func $wrap (type $ft) (param $n i32) (param $next (ref null $ct)) (result i32)
    (local $r i32)
    (block $h (result (ref $ct0))
      (local.set $r
        (resume $ct (on $other $h)
          (local.get $n) (local.get $next) (cont.new $ct (ref.func $task))))
      (suspend $yield)
      (return (local.get $r)))
    (unreachable))
  (elem declare func $task $task3 $wrap)
  (func (export "run") (param $mode i32) (param $n i32) (result i32)
    (local $second (ref null $ct))
    (global.set $sum (i32.const 0))
    (local.set $second
      (if (result (ref $ct)) (i32.eq (local.get $mode) (i32.const 2))
        (then (cont.bind $ct3 $ct (i32.const 99) (cont.new $ct3 (ref.func $task3))))
        (else (cont.new $ct (ref.func $task)))))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (block $h (result (ref $ct0))
          (return
            (resume $ct (on $other $h) (on $swap switch)
              (local.get $n) (local.get $second) (cont.new $ct (ref.func $task)))))
        (unreachable)))
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then
        (block $y (result (ref $ct0))
          (return
            (resume $ct (on $yield $y) (on $swap switch)
              (local.get $n) (local.get $second) (cont.new $ct (ref.func $wrap)))))
        (return (resume $ct0 (on $swap switch)))))
    (resume $ct (on $swap switch)
      (local.get $n) (local.get $second) (cont.new $ct (ref.func $task)))))"#;

#[test]
fn switch_hands_values_and_continuations_over_on_every_path() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, SWITCH_RING).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "run")
        .unwrap();
    for mode in 0..4 {
        // Mode 3 makes a wrapper too, which stays suspended with its task.
        let (made, kept) = if mode == 3 { (3, 2) } else { (2, 1) };
        for n in [0, 1, 2, 7, 1000] {
            let before = store.continuation_stats();
            assert_eq!(
                run.call(&mut store, (mode, n)).unwrap(),
                n * (n + 1) / 2,
                "mode {mode}, n {n}"
            );
            let after = store.continuation_stats();
            // Two tasks made per run (and mode 3's wrapper); the one that
            // returns frees its stack, the other stays suspended (with
            // the wrapper) until a collection.
            assert_eq!(after.created - before.created, made, "mode {mode}, n {n}");
            assert!(after.live <= before.live + kept, "mode {mode}, n {n}");
        }
    }
    store.gc();
    assert_eq!(store.continuation_stats().live, 0);
}
