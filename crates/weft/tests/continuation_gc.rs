//! Reclaiming continuations: a collection retires every suspended or
//! never-started continuation that nothing reaches (its stack goes back
//! to the pool, old references go stale) and keeps every one that is
//! reachable: through a struct field, a table, a global, a `cont.bind`
//! argument, an exception's payload, another suspended continuation's
//! frame (across a switch and across a call), the running chain, and the
//! embedder's `ContRef`s.

use weft::{Config, ContRef, Engine, Instance, Module, Resumed, Store, Trap, Val};

fn trap_of(err: &anyhow::Error) -> Trap {
    *err.downcast_ref::<Trap>()
        .unwrap_or_else(|| panic!("not a trap: {err:?}"))
}

/// `abandon(n)`: makes `n` continuations that each suspend at once and are
/// dropped by their resumer; with `$objects`, each also holds a fresh
/// struct across its suspension and the loop allocates one more.
const ABANDON: &str = r#"(module
  (type $fv (func))
  (type $cv (cont $fv))
  (type $s (struct (field (mut i64))))
  (tag $z)
  (global $sum (mut i64) (i64.const 0))
  (func $plain (suspend $z))
  (func $holding (local $o (ref null $s))
    (local.set $o (struct.new $s (i64.const 7)))
    (suspend $z)
    (global.set $sum (struct.get $s 0 (local.get $o))))
  (elem declare func $plain $holding)
  (func (export "abandon") (param $n i32) (param $objects i32)
    (loop $l
      (block $h (result (ref $cv))
        (if (local.get $objects)
          (then
            (drop (struct.new $s (i64.const 1)))
            (resume $cv (on $z $h) (cont.new $cv (ref.func $holding))))
          (else
            (resume $cv (on $z $h) (cont.new $cv (ref.func $plain)))))
        (unreachable))
      (drop)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))))"#;

fn abandon(objects: bool) {
    let mut config = Config::new();
    // Without reclamation the loop would stop at this limit.
    config.max_live_continuations(10_000);
    config.gc_heap_max_size(1 << 20);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, ABANDON).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), ()>(&mut store, "abandon")
        .unwrap();
    let n = 1_000_000;
    f.call(&mut store, (n, i32::from(objects))).unwrap();
    let stats = store.continuation_stats();
    assert_eq!(stats.created, n as u64);
    // The pool stays small: a collection is due when the live count
    // doubled since the last one (at least 1,024).
    assert!(stats.live <= 2048, "{stats:?}");
    assert_eq!(stats.collected + stats.live as u64, n as u64, "{stats:?}");
    if objects {
        assert!(store.gc_heap_stats().collections > 0);
    }
    store.gc();
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_million_abandoned_continuations_run_in_a_bounded_pool() {
    abandon(false);
}

#[test]
fn a_million_abandoned_continuations_holding_objects_run_in_a_bounded_pool() {
    abandon(true);
}

/// Every `via_*` export makes a continuation of `$body` suspended with
/// `x`, keeps it only where its name says, churns (abandoned
/// continuations and garbage objects: many collections), then resumes it
/// with 1000: it returns `1000 + x`.
const REACH: &str = r#"(module
  (type $ft (func (param i64) (result i64)))
  (type $ct (cont $ft))
  (type $fk (func (param (ref null $ct)) (param i64) (result i64)))
  (type $ck (cont $fk))
  (type $fv (func))
  (type $cv (cont $fv))
  (type $box (struct (field (ref null $ct))))
  (type $junk (struct (field i64) (field i64)))
  (tag $y (export "y") (param i64) (result i64))
  (tag $z)
  (tag $e (param (ref null $ct)))
  (global $g (export "g") (mut (ref null $ct)) (ref.null $ct))
  (table $t 4 (ref null $ct))

  (func $body (export "body") (param $x i64) (result i64)
    (i64.add (suspend $y (local.get $x)) (local.get $x)))
  (func $ask (param i64) (result i64) (suspend $y (local.get 0)))
  ;; Keep $k across a switch (a direct suspend) or across a call (to a
  ;; function that suspends), then finish $k with what they are resumed with.
  (func $holder_direct (param $k (ref null $ct)) (param $x i64) (result i64)
    (call $finish (local.get $k) (suspend $y (local.get $x))))
  (func $holder_call (param $k (ref null $ct)) (param $x i64) (result i64)
    (local $a i64)
    (local.set $a (call $ask (local.get $x)))
    (call $finish (local.get $k) (local.get $a)))
  (func $abandoned (suspend $z))
  (func $churner (param $x i64) (result i64)
    (call $churn (i32.const 5000))
    (i64.add (local.get $x) (i64.const 7)))
  (elem declare func $body $holder_direct $holder_call $abandoned $churner)

  (func $churn (export "churn") (param $n i32)
    (loop $l
      (block $h (result (ref $cv))
        (resume $cv (on $z $h) (cont.new $cv (ref.func $abandoned)))
        (unreachable))
      (drop)
      (drop (struct.new $junk (i64.const 1) (i64.const 2)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n))))

  ;; A continuation of $body, run until its suspension.
  (func $start (param $x i64) (result (ref null $ct))
    (local $k (ref null $ct))
    (block $h (result i64 (ref $ct))
      (resume $ct (on $y $h) (local.get $x) (cont.new $ct (ref.func $body)))
      (unreachable))
    (local.set $k)
    (drop)
    (local.get $k))
  ;; Resumes $k with $a; it must return.
  (func $finish (param $k (ref null $ct)) (param $a i64) (result i64)
    (block $h (result i64 (ref $ct))
      (return (resume $ct (on $y $h) (local.get $a) (local.get $k))))
    (unreachable))
  ;; Resumes $k with $a until it suspends: the rest.
  (func $step (param $k (ref null $ct)) (param $a i64) (result (ref null $ct))
    (local $r (ref null $ct))
    (block $h (result i64 (ref $ct))
      (drop (resume $ct (on $y $h) (local.get $a) (local.get $k)))
      (unreachable))
    (local.set $r)
    (drop)
    (local.get $r))

  (func (export "via_struct") (param $x i64) (result i64)
    (local $b (ref null $box))
    (local.set $b (struct.new $box (call $start (local.get $x))))
    (call $churn (i32.const 5000))
    (call $finish (struct.get $box 0 (local.get $b)) (i64.const 1000)))
  (func (export "via_table") (param $x i64) (result i64)
    (table.set $t (i32.const 2) (call $start (local.get $x)))
    (call $churn (i32.const 5000))
    (call $finish (table.get $t (i32.const 2)) (i64.const 1000)))
  (func (export "via_global") (param $x i64) (result i64)
    (global.set $g (call $start (local.get $x)))
    (call $churn (i32.const 5000))
    (call $finish (global.get $g) (i64.const 1000)))
  (func (export "via_exception") (param $x i64) (result i64)
    (local $ex exnref)
    (local.set $ex
      (block $c (result exnref)
        (try_table (catch_all_ref $c)
          (throw $e (call $start (local.get $x))))
        (unreachable)))
    (call $churn (i32.const 5000))
    (call $finish
      (block $c2 (result (ref null $ct))
        (try_table (catch $e $c2) (throw_ref (local.get $ex)))
        (unreachable))
      (i64.const 1000)))
  ;; $body's continuation is bound as $holder_*'s first argument: it is
  ;; reachable through the bound value, then (once the holder ran up to
  ;; its suspension) through the holder's suspended frame.
  (func $via_holder (param $x i64) (param $direct i32) (result i64)
    (local $k2 (ref null $ct))
    (local.set $k2
      (if (result (ref $ct)) (local.get $direct)
        (then (cont.bind $ck $ct (call $start (local.get $x))
                (cont.new $ck (ref.func $holder_direct))))
        (else (cont.bind $ck $ct (call $start (local.get $x))
                (cont.new $ck (ref.func $holder_call))))))
    (call $churn (i32.const 5000))
    (local.set $k2 (call $step (local.get $k2) (i64.const 5)))
    (call $churn (i32.const 5000))
    (call $finish (local.get $k2) (i64.const 1000)))
  (func (export "via_bind_direct") (param $x i64) (result i64)
    (call $via_holder (local.get $x) (i32.const 1)))
  (func (export "via_bind_call") (param $x i64) (result i64)
    (call $via_holder (local.get $x) (i32.const 0)))
  (func (export "stash") (param $x i64) (global.set $g (call $start (local.get $x))))
  (func (export "clear") (global.set $g (ref.null $ct)))
  ;; Collections while continuations run: the running chain is kept.
  (func (export "while_running") (param $x i64) (result i64)
    (resume $ct (local.get $x) (cont.new $ct (ref.func $churner)))))"#;

fn reach_setup() -> (Store<()>, Instance) {
    let mut config = Config::new();
    // A small heap: the churn collects every few thousand objects, and
    // every 1,024 abandoned continuations.
    config.gc_heap_max_size(64 * 1024);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, REACH).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn reachable_continuations_survive_collections_and_resume_correctly() {
    let (mut store, instance) = reach_setup();
    for (name, x) in [
        ("via_struct", 1),
        ("via_table", 2),
        ("via_global", 3),
        ("via_exception", 4),
        ("via_bind_direct", 5),
        ("via_bind_call", 6),
    ] {
        let f = instance
            .get_typed_func::<i64, i64>(&mut store, name)
            .unwrap();
        let before = store.continuation_stats().collected;
        let gcs = store.gc_heap_stats().collections;
        let r = f
            .call(&mut store, x)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(r, 1000 + x, "{name}");
        let stats = store.continuation_stats();
        assert!(
            stats.collected >= before + 4000,
            "{name}: the churn reclaimed its continuations ({stats:?})"
        );
        assert!(store.gc_heap_stats().collections > gcs + 1, "{name}");
        assert!(stats.live < 2100, "{name}: {stats:?}");
    }
    let f = instance
        .get_typed_func::<i64, i64>(&mut store, "while_running")
        .unwrap();
    assert_eq!(f.call(&mut store, 10).unwrap(), 17);
    // Nothing reaches the continuations stored in the table and global
    // but those: they were consumed; what is left is garbage.
    store.gc();
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn continuations_the_host_holds_survive_until_unrooted() {
    let (mut store, instance) = reach_setup();
    let body = instance.get_func(&mut store, "body").unwrap();
    let y = instance
        .get_export(&mut store, "y")
        .unwrap()
        .into_tag()
        .unwrap();
    let churn = instance
        .get_typed_func::<i32, ()>(&mut store, "churn")
        .unwrap();
    // A fresh one and a suspended one, held by the host only.
    let fresh = ContRef::new(&mut store, &body).unwrap();
    let k = ContRef::new(&mut store, &body).unwrap();
    let Resumed::Suspended {
        payload,
        continuation: suspended,
        ..
    } = k.resume(&mut store, &[Val::I64(40)], &[y]).unwrap()
    else {
        panic!("expected a suspension")
    };
    assert_eq!(payload[0].unwrap_i64(), 40);
    churn.call(&mut store, 5000).unwrap();
    store.gc();
    assert!(store.continuation_stats().collected >= 4000);
    let Resumed::Returned(r) = suspended.resume(&mut store, &[Val::I64(2)], &[y]).unwrap() else {
        panic!("expected a return")
    };
    assert_eq!(r[0].unwrap_i64(), 42);
    // Unrooted and unreachable: reclaimed, and the reference is stale.
    assert!(fresh.unroot(&mut store));
    assert!(!fresh.unroot(&mut store), "already unrooted");
    let live = store.continuation_stats().live;
    store.gc();
    assert_eq!(store.continuation_stats().live, live - 1);
    let err = fresh.resume(&mut store, &[Val::I64(1)], &[y]).unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed);
    // The consumed one is stale too (resumed above).
    let err = k.resume(&mut store, &[Val::I64(1)], &[y]).unwrap_err();
    assert_eq!(trap_of(&err), Trap::ContinuationConsumed);
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_continuation_the_host_read_from_a_global_stays_alive() {
    let (mut store, instance) = reach_setup();
    let y = instance
        .get_export(&mut store, "y")
        .unwrap()
        .into_tag()
        .unwrap();
    let stash = instance
        .get_typed_func::<i64, ()>(&mut store, "stash")
        .unwrap();
    let clear = instance
        .get_typed_func::<(), ()>(&mut store, "clear")
        .unwrap();
    let churn = instance
        .get_typed_func::<i32, ()>(&mut store, "churn")
        .unwrap();
    stash.call(&mut store, 8).unwrap();
    let g = instance.get_global(&mut store, "g").unwrap();
    let Val::ContRef(Some(k)) = g.get(&mut store) else {
        panic!("expected a continuation in the global")
    };
    // Only the host holds it now.
    clear.call(&mut store, ()).unwrap();
    churn.call(&mut store, 3000).unwrap();
    store.gc();
    let Resumed::Returned(r) = k.resume(&mut store, &[Val::I64(1)], &[y]).unwrap() else {
        panic!("expected a return")
    };
    assert_eq!(r[0].unwrap_i64(), 9);
}

/// Host functions in the middle: `nested(x)` runs, inside a continuation,
/// a function that holds a suspended continuation in a local across a
/// call to the host, which calls back into wasm that churns (collections
/// from a host function called from a continuation); `give(x)` hands a
/// suspended continuation to the host as an argument and drops it.
const WITH_HOST: &str = r#"(module
  (import "h" "cb" (func $cb))
  (import "h" "keep" (func $keep (param (ref null cont))))
  (type $ft (func (param i64) (result i64)))
  (type $ct (cont $ft))
  (type $fv (func))
  (type $cv (cont $fv))
  (tag $y (export "y") (param i64) (result i64))
  (tag $z)
  (func $body (param $x i64) (result i64)
    (i64.add (suspend $y (local.get $x)) (local.get $x)))
  (func $abandoned (suspend $z))
  (func $hold (param $x i64) (result i64)
    (local $k (ref null $ct))
    (local.set $k (call $start (local.get $x)))
    (call $cb)
    (call $finish (local.get $k) (i64.const 1000)))
  (elem declare func $body $abandoned $hold)
  (func (export "churn") (param $n i32)
    (loop $l
      (block $h (result (ref $cv))
        (resume $cv (on $z $h) (cont.new $cv (ref.func $abandoned)))
        (unreachable))
      (drop)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n))))
  (func $start (param $x i64) (result (ref null $ct))
    (local $k (ref null $ct))
    (block $h (result i64 (ref $ct))
      (resume $ct (on $y $h) (local.get $x) (cont.new $ct (ref.func $body)))
      (unreachable))
    (local.set $k)
    (drop)
    (local.get $k))
  (func $finish (param $k (ref null $ct)) (param $a i64) (result i64)
    (block $h (result i64 (ref $ct))
      (return (resume $ct (on $y $h) (local.get $a) (local.get $k))))
    (unreachable))
  (func (export "nested") (param $x i64) (result i64)
    (resume $ct (local.get $x) (cont.new $ct (ref.func $hold))))
  (func (export "give") (param $x i64)
    (call $keep (call $start (local.get $x)))))"#;

#[test]
fn collections_under_host_functions_keep_what_wasm_and_the_host_hold() {
    use std::sync::{Arc, Mutex};
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let cb = weft::Func::wrap(&mut store, |mut caller: weft::Caller<'_, ()>| {
        let churn = caller.get_export("churn").unwrap().into_func().unwrap();
        let churn = churn.typed::<i32, ()>(&caller).unwrap();
        churn.call(&mut caller, 3000).unwrap();
    });
    let kept: Arc<Mutex<Option<ContRef>>> = Arc::default();
    let kept2 = kept.clone();
    let keep = weft::Func::new(
        &mut store,
        weft::FuncType::new(
            [weft::ValType::Ref(weft::RefType {
                nullable: true,
                heap: weft::HeapType::Cont,
            })],
            [],
        ),
        move |_caller, args, _results| {
            let Val::ContRef(k) = &args[0] else {
                panic!("expected a continuation")
            };
            *kept2.lock().unwrap() = *k;
            Ok(())
        },
    );
    let module = Module::new(&engine, WITH_HOST).unwrap();
    let instance = Instance::new(&mut store, &module, &[cb.into(), keep.into()]).unwrap();
    let nested = instance
        .get_typed_func::<i64, i64>(&mut store, "nested")
        .unwrap();
    let before = store.continuation_stats().collected;
    assert_eq!(nested.call(&mut store, 3).unwrap(), 1003);
    assert!(store.continuation_stats().collected >= before + 2000);
    let give = instance
        .get_typed_func::<i64, ()>(&mut store, "give")
        .unwrap();
    give.call(&mut store, 5).unwrap();
    let churn = instance
        .get_typed_func::<i32, ()>(&mut store, "churn")
        .unwrap();
    churn.call(&mut store, 3000).unwrap();
    store.gc();
    let y = instance
        .get_export(&mut store, "y")
        .unwrap()
        .into_tag()
        .unwrap();
    let k = kept.lock().unwrap().expect("kept");
    let Resumed::Returned(r) = k.resume(&mut store, &[Val::I64(1000)], &[y]).unwrap() else {
        panic!("expected a return")
    };
    assert_eq!(r[0].unwrap_i64(), 1005);
    store.gc();
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn a_full_pool_collects_before_it_fails() {
    let mut config = Config::new();
    config.max_live_continuations(64);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, ABANDON).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), ()>(&mut store, "abandon")
        .unwrap();
    f.call(&mut store, (100_000, 0)).unwrap();
    let stats = store.continuation_stats();
    assert!(stats.live <= 64, "{stats:?}");
    assert_eq!(stats.collected + stats.live as u64, 100_000);
}

/// `deep_trap(d)`: `d` calls deep, a `resume` that holds a struct across
/// its switch (so the native stack's record publishes a spill slot) runs
/// a continuation that traps. `collect_while_waiting()`: from a shallow
/// frame, a `resume` with nothing to spill runs a continuation that
/// allocates enough to collect many times over while the native record
/// waits. A spill count the trap left behind would make the collector
/// read the slot of the abandoned deep frame, far below the stack pointer
/// of the shallow `resume` (it checks for that, and aborts).
const STALE_SPILL: &str = r#"(module
  (type $s (struct (field i32)))
  (type $f (func))
  (type $c (cont $f))
  (func $trapper (unreachable))
  (func $alloc_loop
    (local $i i32)
    (local $keep (ref null $s))
    (loop $l
      (local.set $keep (struct.new $s (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000)))))
  (elem declare func $trapper $alloc_loop)
  (func $deep_trap (export "deep_trap") (param $d i32) (result i32)
    (local $obj (ref null $s))
    (if (local.get $d)
      (then (return (i32.add (call $deep_trap (i32.sub (local.get $d) (i32.const 1)))
                             (i32.const 1)))))
    (local.set $obj (struct.new $s (i32.const 7)))
    (resume $c (cont.new $c (ref.func $trapper)))
    (struct.get $s 0 (local.get $obj)))
  (func (export "collect_while_waiting") (result i32)
    (resume $c (cont.new $c (ref.func $alloc_loop)))
    (i32.const 1)))"#;

#[test]
fn a_trap_past_a_spilling_resume_leaves_no_stale_spill_slot() {
    let mut config = Config::new();
    config.gc_heap_max_size(1 << 20);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, STALE_SPILL).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deep = instance
        .get_typed_func::<i32, i32>(&mut store, "deep_trap")
        .unwrap();
    let collect = instance
        .get_typed_func::<(), i32>(&mut store, "collect_while_waiting")
        .unwrap();
    for _ in 0..3 {
        let err = deep.call(&mut store, 200).unwrap_err();
        assert_eq!(trap_of(&err), Trap::UnreachableCodeReached);
        let before = store.gc_heap_stats().collections;
        assert_eq!(collect.call(&mut store, ()).unwrap(), 1);
        assert!(
            store.gc_heap_stats().collections > before,
            "the loop collects while the native stack's record waits"
        );
    }
    assert_eq!(store.continuation_stats().live, 0);
}
