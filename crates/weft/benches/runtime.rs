//! Criterion micro-benchmarks of the runtime's hot paths.
//!
//! ```text
//! cargo bench -p weft --bench runtime              # all
//! cargo bench -p weft --bench runtime -- host_to_wasm
//! ```
//!
//! Loop benchmarks run `N` iterations inside one wasm call and report the
//! time per iteration (Criterion's `Throughput::Elements(N)`), so the
//! host->wasm entry is amortised away. `scripts/bench-hostcalls.py` runs
//! the WASI-call loop and instantiation in the wasmtime CLI for ratios.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use weft::{Caller, Engine, Func, FuncType, Instance, Linker, Module, Store, Val, ValType};

/// Iterations per call of the loop benchmarks.
const N: i32 = 10_000;

const FIB: &str = r#"(module
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_s
    if (result i32) local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib
      i32.add
    end))"#;

const CALL_INDIRECT: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $a $b $c $d)
  (func $a (type $t) local.get 0 i32.const 1 i32.add)
  (func $b (type $t) local.get 0 i32.const 3 i32.xor)
  (func $c (type $t) local.get 0 i32.const 1 i32.shl)
  (func $d (type $t) local.get 0 i32.const 1 i32.shr_u)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc
        (call_indirect (type $t) (local.get $acc) (i32.and (local.get $i) (i32.const 3))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    local.get $acc))"#;

/// Sums 64 KiB of memory as i32s, `n` times over (a load-bound loop with
/// the index computed each iteration).
const MEMORY: &str = r#"(module
  (memory 2)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $rep i32)
    (loop $outer
      (local.set $i (i32.const 0))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $i))))
        (i32.store offset=65536 (local.get $i) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $inner (i32.lt_u (local.get $i) (i32.const 65536))))
      (local.set $rep (i32.add (local.get $rep) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $rep) (local.get $n))))
    local.get $acc))"#;

const ADD: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

const HOST_LOOP: &str = r#"(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (call $f (local.get $acc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    local.get $acc))"#;

/// `clock_time_get` and `fd_write` (of 0 bytes to stdout, a null stream
/// here) in a loop.
const WASI_LOOP: &str = r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "clock") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc)
        (call $clock (i32.const 1) (i64.const 1) (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    local.get $acc)
  (func (export "fd_write") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    ;; iovec at 16: (ptr 64, len 0)
    (i32.store (i32.const 16) (i32.const 64))
    (loop $l
      (local.set $acc (i32.add (local.get $acc)
        (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    local.get $acc))"#;

/// A module with many functions, a populated table, data segments and
/// globals, for instantiation cost (`large_module_wat`).
fn large_module_wat() -> String {
    let mut s = String::from("(module\n  (memory 32)\n");
    let funcs = 2000;
    for i in 0..funcs {
        s.push_str(&format!(
            "  (func $f{i} (export \"f{i}\") (param i32) (result i32) local.get 0 i32.const {i} i32.add)\n"
        ));
    }
    s.push_str(&format!("  (table {funcs} funcref)\n  (elem (i32.const 0)"));
    for i in 0..funcs {
        s.push_str(&format!(" $f{i}"));
    }
    s.push_str(")\n");
    for i in 0..100 {
        s.push_str(&format!(
            "  (global (export \"g{i}\") (mut i64) (i64.const {i}))\n"
        ));
    }
    let chunk = "x".repeat(4096);
    for i in 0..64 {
        s.push_str(&format!("  (data (i32.const {}) \"{chunk}\")\n", i * 4096));
    }
    s.push(')');
    s
}

fn instance(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = Module::new(engine, wat).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn wasm_code(c: &mut Criterion) {
    let engine = Engine::default();
    let mut g = c.benchmark_group("wasm");

    let (mut store, inst) = instance(&engine, FIB);
    let fib = inst
        .get_func(&mut store, "fib")
        .unwrap()
        .typed::<i32, i32>(&store)
        .unwrap();
    g.bench_function("fib(20)", |b| {
        b.iter(|| fib.call(&mut store, black_box(20)).unwrap())
    });

    g.throughput(Throughput::Elements(N as u64));
    for (name, wat) in [
        ("call_indirect", CALL_INDIRECT),
        ("memory_loop_64KiB", MEMORY),
    ] {
        let (mut store, inst) = instance(&engine, wat);
        let run = inst
            .get_func(&mut store, "run")
            .unwrap()
            .typed::<i32, i32>(&store)
            .unwrap();
        // The memory loop walks 16384 words per outer iteration.
        let n = if name == "call_indirect" { N } else { 10 };
        if name != "call_indirect" {
            g.throughput(Throughput::Elements(n as u64 * 16384));
        }
        g.bench_function(name, |b| {
            b.iter(|| run.call(&mut store, black_box(n)).unwrap())
        });
    }
    g.finish();
}

fn host_to_wasm(c: &mut Criterion) {
    let engine = Engine::default();
    let mut g = c.benchmark_group("host_to_wasm");
    let (mut store, inst) = instance(&engine, ADD);
    let add = inst.get_func(&mut store, "add").unwrap();
    let typed = add.typed::<(i32, i32), i32>(&store).unwrap();
    g.bench_function("typed", |b| {
        b.iter(|| typed.call(&mut store, (black_box(1), 2)).unwrap())
    });
    let mut out = [Val::I32(0)];
    g.bench_function("untyped", |b| {
        b.iter(|| {
            add.call(&mut store, &[Val::I32(black_box(1)), Val::I32(2)], &mut out)
                .unwrap()
        })
    });
    g.finish();
}

fn wasm_to_host(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, HOST_LOOP).unwrap();
    let mut g = c.benchmark_group("wasm_to_host");
    g.throughput(Throughput::Elements(N as u64));
    for kind in ["wrap_typed", "new_dynamic"] {
        let mut store = Store::new(&engine, ());
        let f = if kind == "wrap_typed" {
            Func::wrap(&mut store, |x: i32| x.wrapping_add(1))
        } else {
            Func::new(
                &mut store,
                FuncType::new([ValType::I32], [ValType::I32]),
                |_caller: Caller<'_, ()>, args: &[Val], out: &mut [Val]| {
                    out[0] = Val::I32(args[0].unwrap_i32().wrapping_add(1));
                    Ok(())
                },
            )
        };
        let inst = Instance::new(&mut store, &module, &[f.into()]).unwrap();
        let run = inst
            .get_func(&mut store, "run")
            .unwrap()
            .typed::<i32, i32>(&store)
            .unwrap();
        g.bench_function(kind, |b| {
            b.iter(|| run.call(&mut store, black_box(N)).unwrap())
        });
    }
    g.finish();
}

fn wasi_calls(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(&engine, WASI_LOOP).unwrap();
    let mut store = Store::new(&engine, weft_wasi::WasiCtx::builder().build());
    let mut linker = Linker::new(&engine);
    weft_wasi::add_to_linker(&mut linker, |c: &mut weft_wasi::WasiCtx| c).unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let mut g = c.benchmark_group("wasi_call");
    g.throughput(Throughput::Elements(N as u64));
    for name in ["clock", "fd_write"] {
        let f = inst
            .get_func(&mut store, name)
            .unwrap()
            .typed::<i32, i32>(&store)
            .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| f.call(&mut store, black_box(N)).unwrap())
        });
    }
    g.finish();
}

fn instantiation(c: &mut Criterion) {
    let engine = Engine::default();
    let mut g = c.benchmark_group("instantiate");
    let large = large_module_wat();
    for (name, wat) in [("small_fib", FIB.to_string()), ("large_2000_funcs", large)] {
        let module = Module::new(&engine, &wat).unwrap();
        // A fresh store per instance, created and dropped outside the
        // measurement (each instance of the large module reserves 8 GiB of
        // address space, so they must not pile up in one store).
        g.bench_with_input(BenchmarkId::from_parameter(name), &module, |b, module| {
            b.iter_batched(
                || Store::new(&engine, ()),
                |mut store| {
                    Instance::new(&mut store, module, &[]).unwrap();
                    store
                },
                BatchSize::SmallInput,
            )
        });
    }
    // Data-heavy modules: copy-on-write image (default) vs copying.
    for (mib, cow) in [(1, true), (1, false), (16, true), (16, false)] {
        let mut config = weft::Config::new();
        config.memory_init_cow(cow);
        let engine = Engine::new(&config).unwrap();
        let mut wat = format!("(module (memory {})", mib * 16 + 1);
        let chunk = "x".repeat(65536);
        for i in 0..mib * 16 {
            wat.push_str(&format!(
                "(data (i32.const {}) \"{chunk}\")",
                65536 + i * 65536
            ));
        }
        wat.push(')');
        let module = Module::new(&engine, &wat).unwrap();
        let name = format!("data_{mib}MiB_{}", if cow { "cow" } else { "copy" });
        g.bench_with_input(BenchmarkId::from_parameter(name), &module, |b, module| {
            b.iter_batched(
                || Store::new(&engine, ()),
                |mut store| {
                    Instance::new(&mut store, module, &[]).unwrap();
                    store
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    wasm_code,
    host_to_wasm,
    wasm_to_host,
    wasi_calls,
    instantiation
);
criterion_main!(benches);
