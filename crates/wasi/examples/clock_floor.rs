//! How much of a WASI `clock_time_get` call is the clock itself: times a
//! loop of N calls of (a) a `Func::wrap` host function that returns at
//! once, (b) one that reads the monotonic clock and returns it, (c) one that
//! reads the clock and stores it in guest memory through the caller's
//! exported memory, and (d) WASI's `clock_time_get`.
//!
//! `cargo run --release -p weft-wasi --example clock_floor [N]`

use std::time::Instant;
use weft::{Caller, Engine, Linker, Module, Store};
use weft_wasi::WasiCtx;

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(Ok(20_000_000), |s| s.parse())?;
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "env" "nop" (func $nop (param i32 i64 i32) (result i32)))
          (import "env" "now" (func $now (param i32 i64 i32) (result i64)))
          (import "env" "now_store" (func $now_store (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "clock_time_get"
            (func $clock (param i32 i64 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "nop") (param $n i32) (local $i i32) (local $acc i32)
            (loop $l
              (local.set $acc (i32.add (local.get $acc) (call $nop (i32.const 1) (i64.const 1) (i32.const 0))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
          (func (export "now") (param $n i32) (local $i i32) (local $acc i64)
            (loop $l
              (local.set $acc (i64.add (local.get $acc) (call $now (i32.const 1) (i64.const 1) (i32.const 0))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
          (func (export "now_store") (param $n i32) (local $i i32) (local $acc i32)
            (loop $l
              (local.set $acc (i32.add (local.get $acc) (call $now_store (i32.const 1) (i64.const 1) (i32.const 0))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
          (func (export "clock") (param $n i32) (local $i i32) (local $acc i32)
            (loop $l
              (local.set $acc (i32.add (local.get $acc) (call $clock (i32.const 1) (i64.const 1) (i32.const 0))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"#,
    )?;
    let mut store = Store::new(&engine, WasiCtx::builder().build());
    let mut linker = Linker::new(&engine);
    weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c)?;
    linker.func_wrap(
        "env",
        "nop",
        |_: Caller<'_, WasiCtx>, _: i32, _: i64, _: i32| 0i32,
    )?;
    let mono = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64) as i64
    };
    linker.func_wrap(
        "env",
        "now",
        move |_: Caller<'_, WasiCtx>, _: i32, _: i64, _: i32| mono(),
    )?;
    linker.func_wrap(
        "env",
        "now_store",
        move |mut c: Caller<'_, WasiCtx>, _: i32, _: i64, at: i32| {
            let t = mono();
            let m = c.get_export("memory").unwrap().into_memory().unwrap();
            let d = m.data_mut(&mut c);
            d[at as usize..][..8].copy_from_slice(&t.to_le_bytes());
            0i32
        },
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    for round in 0..3 {
        for name in ["nop", "now", "now_store", "clock"] {
            let f = instance.get_typed_func::<i32, ()>(&mut store, name)?;
            let t = Instant::now();
            f.call(&mut store, n as i32)?;
            let ns = t.elapsed().as_nanos() as f64 / n as f64;
            println!("round {round} {name:10} {ns:6.2} ns/call");
        }
    }
    Ok(())
}
