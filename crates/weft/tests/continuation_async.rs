//! Continuations driven by an async embedder: `ContRef::resume_async`
//! runs the continuation on a fiber, so the async host functions it calls
//! can await; the continuations its suspensions hand back stay parked
//! across the embedder's own `.await`s and are resumed later.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use weft::{Caller, Config, ContRef, Engine, Func, Instance, Module, Resumed, Store, Tag, Val};

mod common;
use common::{YieldN, block_on};

/// `gen(n)`: for i in 0..n, fetches `h.fetch(i)` (an async host function)
/// and yields it with tag `yield`, which returns the embedder's reply;
/// returns the sum of the replies.
const FETCHING_GENERATOR: &str = r#"(module
  (import "h" "fetch" (func $fetch (param i32) (result i32)))
  (tag $yield (export "yield") (param i32) (result i32))
  (func (export "gen") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i32.add (local.get $sum)
          (suspend $yield (call $fetch (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $sum)))"#;

/// Instantiates `FETCHING_GENERATOR` with `fetch`: its `gen` function
/// and its `yield` tag.
fn instantiate(store: &mut Store<()>, fetch: Func) -> (Func, Tag) {
    let module = Module::new(store.engine(), FETCHING_GENERATOR).unwrap();
    let instance = block_on(Instance::new_async(&mut *store, &module, &[fetch.into()])).unwrap();
    let gen_fn = instance.get_func(&mut *store, "gen").unwrap();
    let tag = instance
        .get_export(&mut *store, "yield")
        .unwrap()
        .into_tag()
        .unwrap();
    (gen_fn, tag)
}

fn async_engine() -> Engine {
    let mut config = Config::new();
    config.async_support(true);
    Engine::new(&config).unwrap()
}

#[test]
fn an_async_host_parks_a_guest_continuation_while_it_awaits() {
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    // Each fetch is pending twice before it answers 10 * i.
    let polls = Arc::new(AtomicU32::new(0));
    let seen = polls.clone();
    let fetch = Func::wrap_async(&mut store, move |_: Caller<'_, ()>, (i,): (i32,)| {
        let seen = seen.clone();
        Box::new(async move {
            seen.fetch_add(1, Ordering::SeqCst);
            YieldN(2).await;
            Ok(10 * i)
        })
    });
    let (gen_fn, tag) = instantiate(&mut store, fetch);
    let k = ContRef::new(&mut store, &gen_fn).unwrap();
    let (payloads, result) = block_on(async {
        let mut k = k;
        let mut args = vec![Val::I32(4)];
        let mut payloads = Vec::new();
        loop {
            match k.resume_async(&mut store, &args, &[tag]).await.unwrap() {
                Resumed::Suspended {
                    payload,
                    continuation,
                    ..
                } => {
                    let p = payload[0].unwrap_i32();
                    payloads.push(p);
                    // The guest waits, suspended, while the embedder
                    // awaits something of its own.
                    YieldN(3).await;
                    assert_eq!(store.continuation_stats().live, 1);
                    k = continuation;
                    args = vec![Val::I32(p + 1)];
                }
                Resumed::Returned(vals) => break (payloads, vals[0].unwrap_i32()),
            }
        }
    });
    assert_eq!(payloads, [0, 10, 20, 30]);
    // The replies were the payloads plus one.
    assert_eq!(result, 1 + 11 + 21 + 31);
    assert_eq!(polls.load(Ordering::SeqCst), 4, "one fetch per value");
    assert_eq!(store.continuation_stats().live, 0);
}

#[test]
fn resume_async_needs_async_support_and_sync_resume_cannot_await() {
    // Without async support, resume_async is refused and names the setting.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module (func (export "seven") (result i32) (i32.const 7)))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let seven = instance.get_func(&mut store, "seven").unwrap();
    let k = ContRef::new(&mut store, &seven).unwrap();
    let err = block_on(k.resume_async(&mut store, &[], &[])).unwrap_err();
    assert!(
        format!("{err:#}").contains("async_support"),
        "unexpected error: {err:#}"
    );
    // The reference was not used up: a plain resume still runs it.
    match k.resume(&mut store, &[], &[]).unwrap() {
        Resumed::Returned(v) => assert_eq!(v[0].unwrap_i32(), 7),
        other => panic!("expected a return, got {other:?}"),
    }

    // With async support, a plain `resume` whose continuation reaches an
    // async host function fails with an error (there is no fiber to
    // suspend), and the store stays usable.
    let engine = async_engine();
    let mut store = Store::new(&engine, ());
    let fetch = Func::wrap_async(&mut store, |_: Caller<'_, ()>, (i,): (i32,)| {
        Box::new(async move { Ok(i) })
    });
    let (gen_fn, tag) = instantiate(&mut store, fetch);
    let k = ContRef::new(&mut store, &gen_fn).unwrap();
    let err = k.resume(&mut store, &[Val::I32(1)], &[tag]).unwrap_err();
    assert!(
        format!("{err:#}").contains("outside of an async call"),
        "unexpected error: {err:#}"
    );
    assert_eq!(store.continuation_stats().live, 0);
    let k = ContRef::new(&mut store, &gen_fn).unwrap();
    match block_on(k.resume_async(&mut store, &[Val::I32(0)], &[tag])).unwrap() {
        Resumed::Returned(v) => assert_eq!(v[0].unwrap_i32(), 0),
        other => panic!("expected a return, got {other:?}"),
    }
}
