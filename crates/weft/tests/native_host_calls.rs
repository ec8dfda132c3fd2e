//! `Func::wrap` closures over numbers are called by the wasm-to-host
//! trampoline directly in the C calling convention (the native-ABI entry,
//! `weft_environ::native_host_abi`). These tests check every way values
//! cross that call (each register class, arguments passed on the stack,
//! bit patterns that only survive an exact ABI match), and that failures,
//! panics, exceptions, re-entry and calls from continuations behave as on
//! the value-array path.

use weft::{Caller, Engine, Func, Instance, Linker, Module, Store, Val};

fn instance(store: &mut Store<()>, wat: &str, imports: &[weft::Extern]) -> Instance {
    let module = Module::new(store.engine(), wat).unwrap();
    Instance::new(store, &module, imports).unwrap()
}

#[test]
fn every_register_class_and_result_kind() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mix = Func::wrap(&mut store, |a: i32, b: i64, c: f32, d: f64| -> f64 {
        f64::from(a) + b as f64 + f64::from(c) + d
    });
    let neg = Func::wrap(&mut store, |a: i32| -> i32 { a.wrapping_neg() });
    let wide = Func::wrap(&mut store, |a: i64| -> i64 { a ^ 0x7fff_0000_0000_ffff });
    let bits32 = Func::wrap(&mut store, |x: f32| -> f32 {
        f32::from_bits(x.to_bits() ^ 0x0000_0001)
    });
    let bits64 = Func::wrap(&mut store, |x: f64| -> f64 {
        f64::from_bits(x.to_bits() ^ 0x0000_0000_0000_0001)
    });
    let unsigned = Func::wrap(&mut store, |x: u32, y: u64| -> u64 { u64::from(x) + y });
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
            (import "h" "neg" (func $neg (param i32) (result i32)))
            (import "h" "wide" (func $wide (param i64) (result i64)))
            (import "h" "bits32" (func $bits32 (param f32) (result f32)))
            (import "h" "bits64" (func $bits64 (param f64) (result f64)))
            (import "h" "unsigned" (func $unsigned (param i32 i64) (result i64)))
            (func (export "mix") (result f64)
              (call $mix (i32.const -7) (i64.const 1000000000000) (f32.const 0.5) (f64.const 0.25)))
            ;; The i32 result must come back sign-correct whatever the
            ;; upper half of the register holds: compare it as an i64.
            (func (export "neg") (param i32) (result i64)
              (i64.extend_i32_s (call $neg (local.get 0))))
            (func (export "wide") (param i64) (result i64) (call $wide (local.get 0)))
            (func (export "bits32") (param i32) (result i32)
              (i32.reinterpret_f32 (call $bits32 (f32.reinterpret_i32 (local.get 0)))))
            (func (export "bits64") (param i64) (result i64)
              (i64.reinterpret_f64 (call $bits64 (f64.reinterpret_i64 (local.get 0)))))
            (func (export "unsigned") (result i64)
              (call $unsigned (i32.const -1) (i64.const 1))))"#,
        &[
            mix.into(),
            neg.into(),
            wide.into(),
            bits32.into(),
            bits64.into(),
            unsigned.into(),
        ],
    );
    let mix = i.get_typed_func::<(), f64>(&mut store, "mix").unwrap();
    assert_eq!(mix.call(&mut store, ()).unwrap(), -7.0 + 1e12 + 0.5 + 0.25);
    let neg = i.get_typed_func::<i32, i64>(&mut store, "neg").unwrap();
    assert_eq!(neg.call(&mut store, 5).unwrap(), -5);
    assert_eq!(neg.call(&mut store, i32::MIN).unwrap(), i64::from(i32::MIN));
    assert_eq!(neg.call(&mut store, -3).unwrap(), 3);
    let wide = i.get_typed_func::<i64, i64>(&mut store, "wide").unwrap();
    assert_eq!(
        wide.call(&mut store, -1).unwrap(),
        -1 ^ 0x7fff_0000_0000_ffff
    );
    // NaN payloads and signed zeros survive only if no conversion or
    // canonicalisation happens on the way.
    let bits32 = i.get_typed_func::<i32, i32>(&mut store, "bits32").unwrap();
    for x in [0x7fc0_1234u32, 0xffa0_0001, 0x8000_0000, 0x0000_0001] {
        assert_eq!(
            bits32.call(&mut store, x as i32).unwrap() as u32,
            x ^ 1,
            "{x:#x}"
        );
    }
    let bits64 = i.get_typed_func::<i64, i64>(&mut store, "bits64").unwrap();
    for x in [0x7ff8_0000_dead_beefu64, 0xfff0_0000_0000_0001, 1 << 63] {
        assert_eq!(bits64.call(&mut store, x as i64).unwrap() as u64, x ^ 1);
    }
    let unsigned = i.get_typed_func::<(), i64>(&mut store, "unsigned").unwrap();
    assert_eq!(unsigned.call(&mut store, ()).unwrap(), 0x1_0000_0000);
}

#[test]
fn arguments_passed_on_the_stack() {
    // Ten integers (hctx and caller_vmctx take two of the six integer
    // argument registers) and ten floats (eight float registers): the rest
    // go on the stack, in order.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ints = Func::wrap(
        &mut store,
        |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64, i: i64, j: i64| -> i64 {
            [a, b, c, d, e, f, g, h, i, j]
                .iter()
                .enumerate()
                .map(|(k, v)| v * 10i64.pow(k as u32))
                .sum()
        },
    );
    let floats = Func::wrap(
        &mut store,
        |a: f64, b: f64, c: f64, d: f64, e: f64, f: f64, g: f64, h: f64, i: f64, j: f64| -> f64 {
            [a, b, c, d, e, f, g, h, i, j]
                .iter()
                .enumerate()
                .map(|(k, v)| v * 10f64.powi(k as i32))
                .sum()
        },
    );
    let mixed = Func::wrap(
        &mut store,
        |a: i32, b: f32, c: i32, d: f32, e: i32, f: f32, g: i32, h: f32, i: i32, j: f32| -> i32 {
            (a + c + e + g + i) * 1000 + (b + d + f + h + j) as i32
        },
    );
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "ints" (func $ints (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
            (import "h" "floats" (func $floats (param f64 f64 f64 f64 f64 f64 f64 f64 f64 f64) (result f64)))
            (import "h" "mixed" (func $mixed (param i32 f32 i32 f32 i32 f32 i32 f32 i32 f32) (result i32)))
            (func (export "ints") (result i64)
              (call $ints (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5)
                          (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9) (i64.const 0)))
            (func (export "floats") (result f64)
              (call $floats (f64.const 1) (f64.const 2) (f64.const 3) (f64.const 4) (f64.const 5)
                            (f64.const 6) (f64.const 7) (f64.const 8) (f64.const 9) (f64.const 1)))
            (func (export "mixed") (result i32)
              (call $mixed (i32.const 1) (f32.const 1) (i32.const 2) (f32.const 2) (i32.const 3)
                           (f32.const 3) (i32.const 4) (f32.const 4) (i32.const 5) (f32.const 5))))"#,
        &[ints.into(), floats.into(), mixed.into()],
    );
    let ints = i.get_typed_func::<(), i64>(&mut store, "ints").unwrap();
    assert_eq!(ints.call(&mut store, ()).unwrap(), 987_654_321);
    let floats = i.get_typed_func::<(), f64>(&mut store, "floats").unwrap();
    assert_eq!(floats.call(&mut store, ()).unwrap(), 1_987_654_321.0);
    let mixed = i.get_typed_func::<(), i32>(&mut store, "mixed").unwrap();
    assert_eq!(mixed.call(&mut store, ()).unwrap(), 15_015);
}

#[test]
fn errors_and_panics_and_the_store_afterwards() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let check = Func::wrap(&mut store, |x: i32| -> weft::Result<f32> {
        match x {
            0 => anyhow::bail!("zero is not allowed"),
            1 => panic!("one panics"),
            _ => Ok(x as f32 / 2.0),
        }
    });
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "check" (func $check (param i32) (result f32)))
            (func (export "run") (param i32) (result f32) (call $check (local.get 0))))"#,
        &[check.into()],
    );
    let run = i.get_typed_func::<i32, f32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, 5).unwrap(), 2.5);
    let err = run.call(&mut store, 0).unwrap_err();
    assert!(err.to_string().contains("zero is not allowed"), "{err:?}");
    assert_eq!(run.call(&mut store, 7).unwrap(), 3.5);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = run.call(&mut store, 1);
    }));
    assert_eq!(
        caught.unwrap_err().downcast_ref::<&str>(),
        Some(&"one panics")
    );
    assert_eq!(run.call(&mut store, 9).unwrap(), 4.5);
    // No result: the entry returns its `ok` flag alone.
    let unit = Func::wrap(&mut store, |x: i64| -> weft::Result<()> {
        anyhow::ensure!(x > 0, "not positive: {x}");
        Ok(())
    });
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "unit" (func $unit (param i64)))
            (func (export "run") (param i64) (call $unit (local.get 0))))"#,
        &[unit.into()],
    );
    let run = i.get_typed_func::<i64, ()>(&mut store, "run").unwrap();
    run.call(&mut store, 1).unwrap();
    let err = run.call(&mut store, -2).unwrap_err();
    assert!(err.to_string().contains("not positive: -2"), "{err:?}");
    run.call(&mut store, 3).unwrap();
}

#[test]
fn caller_state_and_reentry() {
    // The closure reads the caller's memory, changes the store's data and
    // calls back into wasm, which calls the host again (depth 20).
    let engine = Engine::default();
    let mut store = Store::new(&engine, 0u64);
    let module = Module::new(
        &engine,
        r#"(module
            (import "h" "down" (func $down (param i32) (result i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\2a")
            (func (export "go") (param i32) (result i64)
              (if (result i64) (i32.eqz (local.get 0))
                (then (i64.const 0))
                (else (call $down (local.get 0))))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "down",
            |mut caller: Caller<'_, u64>, n: i32| -> weft::Result<i64> {
                *caller.data_mut() += 1;
                let mem = caller.get_export("memory").unwrap().into_memory().unwrap();
                let byte = i64::from(mem.data(&caller)[0]);
                let go = caller.get_export("go").unwrap().into_func().unwrap();
                let go = go.typed::<i32, i64>(&caller)?;
                Ok(byte + go.call(&mut caller, n - 1)?)
            },
        )
        .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    let go = i.get_typed_func::<i32, i64>(&mut store, "go").unwrap();
    assert_eq!(go.call(&mut store, 20).unwrap(), 20 * 42);
    assert_eq!(*store.data(), 20);
    // The same through the untyped entry.
    let mut r = [Val::I64(0)];
    i.get_func(&mut store, "go")
        .unwrap()
        .call(&mut store, &[Val::I32(3)], &mut r)
        .unwrap();
    assert_eq!(r[0].unwrap_i64(), 3 * 42);
}

#[test]
fn called_from_a_continuation_and_from_the_host() {
    // On a continuation the trampoline takes the value-array path (the
    // host function runs on the native stack); the results must be the
    // same, and so must a direct call of the host function from Rust.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let add = Func::wrap(&mut store, |a: i64, b: f64| -> f64 { a as f64 + b });
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "add" (func $add (param i64 f64) (result f64)))
            (type $ft (func (result f64)))
            (type $ct (cont $ft))
            (tag $yield (param f64))
            (func $body (type $ft)
              (suspend $yield (call $add (i64.const 40) (f64.const 1.5)))
              (call $add (i64.const 2) (f64.const 0.25)))
            (elem declare func $body)
            (func (export "run") (result f64)
              (local $k (ref null $ct)) (local $sum f64)
              (block $on_yield (result f64 (ref $ct))
                (resume $ct (on $yield $on_yield) (cont.new $ct (ref.func $body)))
                (return))
              (local.set $k)
              (local.set $sum)
              (f64.add (local.get $sum) (resume $ct (local.get $k))))
            (func (export "direct") (result f64) (call $add (i64.const 1) (f64.const 1))))"#,
        &[add.into()],
    );
    let run = i.get_typed_func::<(), f64>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 41.5 + 2.25);
    let direct = i.get_typed_func::<(), f64>(&mut store, "direct").unwrap();
    assert_eq!(direct.call(&mut store, ()).unwrap(), 2.0);
    let from_rust = add.typed::<(i64, f64), f64>(&store).unwrap();
    assert_eq!(from_rust.call(&mut store, (3, 0.5)).unwrap(), 3.5);
}

#[test]
fn a_million_calls_in_one_loop() {
    // A million calls through the native entry in one wasm loop.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let step = Func::wrap(&mut store, |acc: i64, i: i32| -> i64 {
        acc.wrapping_mul(31).wrapping_add(i64::from(i))
    });
    let i = instance(
        &mut store,
        r#"(module
            (import "h" "step" (func $step (param i64 i32) (result i64)))
            (func (export "run") (param $n i32) (result i64)
              (local $acc i64) (local $i i32)
              (loop $l
                (local.set $acc (call $step (local.get $acc) (local.get $i)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
              (local.get $acc)))"#,
        &[step.into()],
    );
    let run = i.get_typed_func::<i32, i64>(&mut store, "run").unwrap();
    let n = 1_000_000;
    let expected = (0..n).fold(0i64, |acc, i| {
        acc.wrapping_mul(31).wrapping_add(i64::from(i))
    });
    assert_eq!(run.call(&mut store, n).unwrap(), expected);
}

// Direct calls: a wasm `call` of an imported native-ABI host function,
// outside any handler scope, calls the native entry with no trampoline
// frame between. The caller's frame is then the last exit, recorded by the
// caller itself; these tests check everything that walks from it.

#[test]
fn backtraces_start_at_the_direct_caller() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "probe",
            |caller: Caller<'_, ()>, x: i32| -> weft::Result<i32> {
                if x == 0 {
                    anyhow::bail!("probe refused zero");
                }
                let bt = weft::WasmBacktrace::capture(&caller);
                let names: Vec<_> = bt.frames.iter().map(|f| f.func_name.clone()).collect();
                assert_eq!(
                    names,
                    [Some("inner".to_owned()), Some("outer".to_owned())],
                    "{bt}"
                );
                Ok(x + 1)
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "h" "probe" (func $probe (param i32) (result i32)))
            (func $inner (param i32) (result i32)
              (i32.mul (call $probe (local.get 0)) (i32.const 2)))
            (func $outer (export "outer") (param i32) (result i32)
              (i32.add (call $inner (local.get 0)) (i32.const 1))))"#,
    )
    .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    let outer = i.get_typed_func::<i32, i32>(&mut store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, 4).unwrap(), 11);
    let err = outer.call(&mut store, 0).unwrap_err();
    assert!(err.to_string().contains("probe refused zero"), "{err:?}");
    assert_eq!(outer.call(&mut store, 1).unwrap(), 5);
}

#[test]
fn a_collection_during_a_direct_call_moves_the_callers_objects() {
    // The caller keeps a list of structs in a local across each call; the
    // host collects (objects move), and the caller then walks the list.
    // Only an exact stack map at the direct call's return address, found
    // from the recorded exit, keeps the list intact.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "collect",
            |mut caller: Caller<'_, ()>, x: i32| -> i32 {
                caller.gc();
                x
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (type $node (struct (field $v i64) (field $next (ref null $node))))
            (import "h" "collect" (func $collect (param i32) (result i32)))
            (func (export "run") (param $n i32) (result i64)
              (local $head (ref null $node)) (local $i i32) (local $sum i64)
              (loop $build
                (local.set $head
                  (struct.new $node
                    (i64.extend_i32_u (call $collect (local.get $i)))
                    (local.get $head)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $build (i32.lt_u (local.get $i) (local.get $n))))
              (loop $walk
                (if (ref.is_null (local.get $head)) (then (return (local.get $sum))))
                (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $head))))
                (local.set $head (struct.get $node $next (local.get $head)))
                (br $walk))
              (local.get $sum)))"#,
    )
    .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    let run = i.get_typed_func::<i32, i64>(&mut store, "run").unwrap();
    let before = store.gc_heap_stats().collections;
    assert_eq!(run.call(&mut store, 300).unwrap(), 300 * 299 / 2);
    // Every call collected but the first, which found no heap yet.
    let after = store.gc_heap_stats();
    assert!(after.collections >= before + 299, "{before} {after:?}");
    // The last collection ran before the 300th node: 299 nodes of 24 bytes
    // were live, all of them reached through the caller's frame.
    assert_eq!(after.bytes_live, 299 * 24, "{after:?}");
}

#[test]
fn a_host_exception_from_a_direct_call_reaches_an_outer_handler() {
    // `$leaf` calls the host directly (it has no handler); the exception
    // the host throws unwinds through `$leaf` to `run`'s `try_table`,
    // whose own call of the host (inside the handler scope) goes through
    // the trampoline.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let tag = weft::Tag::new(&mut store, &weft::FuncType::new([weft::ValType::I32], []));
    let mut linker = Linker::new(&engine);
    linker.define("h", "tag", tag).unwrap();
    linker
        .func_wrap(
            "h",
            "check",
            move |mut caller: Caller<'_, ()>, x: i32| -> weft::Result<i32> {
                if x >= 0 {
                    return Ok(x);
                }
                let exn = weft::ExnRef::new(&mut caller, tag, &[Val::I32(-x)])?;
                Err(weft::Exception::new(exn).into())
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "h" "tag" (tag $t (param i32)))
            (import "h" "check" (func $check (param i32) (result i32)))
            (func $leaf (param i32) (result i32)
              (i32.add (call $check (local.get 0)) (i32.const 100)))
            (func (export "run") (param i32) (result i32)
              (block $caught (result i32)
                (try_table (result i32) (catch $t $caught)
                  (i32.add
                    (call $leaf (local.get 0))
                    (call $check (i32.const 0)))))))"#,
    )
    .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    let run = i.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, 5).unwrap(), 105);
    assert_eq!(run.call(&mut store, -7).unwrap(), 7);
    assert_eq!(run.call(&mut store, 6).unwrap(), 106);
}

#[test]
fn an_import_of_a_wasm_function_with_a_direct_type_is_called_as_wasm() {
    // The same import site, bound once to a host function and once to
    // another instance's wasm function (whose funcref has no native
    // entry): the call takes the tail-convention path for the latter.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let user = Module::new(
        &engine,
        r#"(module
            (import "h" "f" (func $f (param i32 i64) (result i64)))
            (func (export "run") (param i32 i64) (result i64)
              (call $f (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let host = Func::wrap(&mut store, |a: i32, b: i64| -> i64 { i64::from(a) * b });
    let provider = instance(
        &mut store,
        r#"(module (func (export "f") (param i32 i64) (result i64)
             (i64.sub (local.get 1) (i64.extend_i32_s (local.get 0)))))"#,
        &[],
    );
    let wasm = provider.get_func(&mut store, "f").unwrap();
    let via_host = Instance::new(&mut store, &user, &[host.into()]).unwrap();
    let via_wasm = Instance::new(&mut store, &user, &[wasm.into()]).unwrap();
    let h = via_host
        .get_typed_func::<(i32, i64), i64>(&mut store, "run")
        .unwrap();
    let w = via_wasm
        .get_typed_func::<(i32, i64), i64>(&mut store, "run")
        .unwrap();
    assert_eq!(h.call(&mut store, (6, 7)).unwrap(), 42);
    assert_eq!(w.call(&mut store, (6, 7)).unwrap(), 1);
}

#[test]
fn a_collection_from_a_host_function_called_on_a_continuation() {
    // On a continuation the call goes through the trampoline and the
    // HostCall builtin; a collection there must see the continuation's
    // frames too.
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "collect",
            |mut caller: Caller<'_, ()>, x: i32| -> i32 {
                caller.gc();
                x
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (type $node (struct (field $v i64)))
            (type $ft (func (result i64)))
            (type $ct (cont $ft))
            (import "h" "collect" (func $collect (param i32) (result i32)))
            (func $body (type $ft)
              (local $o (ref null $node))
              (local.set $o (struct.new $node (i64.const 40)))
              (drop (call $collect (i32.const 1)))
              (i64.add (struct.get $node $v (local.get $o))
                       (i64.extend_i32_u (call $collect (i32.const 2)))))
            (elem declare func $body)
            (func (export "run") (result i64)
              (resume $ct (cont.new $ct (ref.func $body)))))"#,
    )
    .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    let run = i.get_typed_func::<(), i64>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 42);
    assert_eq!(run.call(&mut store, ()).unwrap(), 42);
}
