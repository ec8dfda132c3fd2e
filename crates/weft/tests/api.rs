//! End-to-end tests of the embedding API: compile, instantiate, call, trap.

use weft::{Config, Engine, Func, FuncType, Instance, Module, Store, Trap, Val, ValType};

fn instance(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn call1(store: &mut Store<()>, i: Instance, name: &str, args: &[Val]) -> weft::Result<Val> {
    let f = i.get_func(&mut *store, name).unwrap();
    let mut r = [Val::I32(0)];
    f.call(&mut *store, args, &mut r)?;
    Ok(r[0].clone())
}

const FIB: &str = r#"(module
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_s
    if (result i32) local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib
      i32.add
    end))"#;

#[test]
fn recursive_fib() {
    let (mut s, i) = instance(FIB);
    assert_eq!(
        call1(&mut s, i, "fib", &[Val::I32(20)])
            .unwrap()
            .unwrap_i32(),
        6765
    );
}

#[test]
fn memory_loads_stores_and_oob_trap() {
    let (mut s, i) = instance(
        r#"(module (memory 1)
          (func (export "rw") (param i32) (result i32)
            local.get 0 i32.const 42 i32.store
            local.get 0 i32.load))"#,
    );
    assert_eq!(
        call1(&mut s, i, "rw", &[Val::I32(100)])
            .unwrap()
            .unwrap_i32(),
        42
    );
    let err = call1(&mut s, i, "rw", &[Val::I32(65535)]).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::MemoryOutOfBounds),
        "{err:?}"
    );
    // The store is still usable after a trap.
    assert_eq!(
        call1(&mut s, i, "rw", &[Val::I32(0)]).unwrap().unwrap_i32(),
        42
    );
}

#[test]
fn trap_backtrace_names_functions() {
    let (mut s, i) = instance(
        r#"(module
          (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
          (func $middle (param i32) (result i32) local.get 0 call $inner)
          (func (export "outer") (param i32) (result i32) local.get 0 call $middle))"#,
    );
    let err = call1(&mut s, i, "outer", &[Val::I32(1)]).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::IntegerDivisionByZero)
    );
    let bt = err
        .downcast_ref::<weft::WasmBacktrace>()
        .expect("backtrace attached");
    let names: Vec<_> = bt
        .frames
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        names[..2],
        ["inner".to_string(), "middle".to_string()],
        "{bt}"
    );
    assert_eq!(bt.frames.len(), 3, "{bt}");
}

fn deep_recursion(max_stack: Option<usize>) {
    let mut config = Config::new();
    if let Some(m) = max_stack {
        config.max_wasm_stack(m);
    }
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (func $f (export "f") (param i32) (result i32)
            local.get 0 i32.eqz
            if (result i32) i32.const 0
            else local.get 0 i32.const 1 i32.sub call $f i32.const 1 i32.add end))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let mut r = [Val::I32(0)];
    let err = f
        .call(&mut store, &[Val::I32(100_000_000)], &mut r)
        .unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::StackOverflow),
        "{err:?}"
    );
    // The same store keeps working, including moderately deep recursion.
    f.call(&mut store, &[Val::I32(1000)], &mut r).unwrap();
    assert_eq!(r[0].unwrap_i32(), 1000);
}

#[test]
fn stack_overflow_default_limit() {
    deep_recursion(None);
}

#[test]
fn stack_overflow_8mib_limit() {
    // Needs a thread whose native stack is larger than the wasm limit.
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(|| deep_recursion(Some(8 << 20)))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn host_function_reentrancy_and_errors() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, 0u32);
    let module = Module::new(
        &engine,
        r#"(module
          (import "host" "cb" (func $cb (param i32) (result i32)))
          (func (export "down") (param i32) (result i32)
            local.get 0 i32.eqz
            if (result i32) i32.const 0
            else local.get 0 i32.const 1 i32.sub call $cb i32.const 1 i32.add end))"#,
    )
    .unwrap();
    let cb = Func::new(
        &mut store,
        FuncType::new([ValType::I32], [ValType::I32]),
        |mut caller, params, results| {
            *caller.data_mut() += 1;
            let n = params[0].unwrap_i32();
            if n == 7777 {
                anyhow::bail!("host says no");
            }
            let down = caller.get_export("down").unwrap().into_func().unwrap();
            let mut r = [Val::I32(0)];
            down.call(&mut caller, &[Val::I32(n)], &mut r)?;
            results[0] = r[0].clone();
            Ok(())
        },
    );
    let i = Instance::new(&mut store, &module, &[cb.into()]).unwrap();
    let down = i.get_func(&mut store, "down").unwrap();
    let mut r = [Val::I32(0)];
    down.call(&mut store, &[Val::I32(50)], &mut r).unwrap();
    assert_eq!(r[0].unwrap_i32(), 50);
    assert_eq!(*store.data(), 50);
    let err = down
        .call(&mut store, &[Val::I32(7778)], &mut r)
        .unwrap_err();
    assert!(err.to_string().contains("host says no"), "{err:?}");
}

#[test]
fn host_panic_propagates_and_store_survives() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module (import "h" "p" (func $p)) (func (export "go") call $p))"#,
    )
    .unwrap();
    let p = Func::new(&mut store, FuncType::new([], []), |_, _, _| panic!("boom"));
    let i = Instance::new(&mut store, &module, &[p.into()]).unwrap();
    let go = i.get_func(&mut store, "go").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        go.call(&mut store, &[], &mut []).unwrap();
    }));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
}

#[test]
fn typed_funcs_and_wrapped_host_functions() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, Vec::<i64>::new());
    let mut linker = weft::Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "log",
            |mut caller: weft::Caller<'_, Vec<i64>>, v: i64| {
                caller.data_mut().push(v);
            },
        )
        .unwrap();
    linker
        .func_wrap("env", "add", |a: i32, b: i32| a.wrapping_add(b))
        .unwrap();
    linker
        .func_wrap("env", "fail", |x: i32| -> weft::Result<i32> {
            if x < 0 {
                anyhow::bail!("negative: {x}")
            } else {
                Ok(x * 2)
            }
        })
        .unwrap();
    linker
        .func_wrap("env", "pair", |a: f64, b: f32| (b as f64 + a, a as f32 * b))
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (import "env" "log" (func $log (param i64)))
          (import "env" "add" (func $add (param i32 i32) (result i32)))
          (import "env" "fail" (func $fail (param i32) (result i32)))
          (import "env" "pair" (func $pair (param f64 f32) (result f64 f32)))
          (func (export "run") (param i32 i32) (result i32)
            (call $log (i64.extend_i32_s (local.get 0)))
            (call $fail (call $add (local.get 0) (local.get 1))))
          (func (export "pair") (param f64 f32) (result f64 f32)
            (call $pair (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_func(&mut store, "run")
        .unwrap()
        .typed::<(i32, i32), i32>(&store)
        .unwrap();
    assert_eq!(run.call(&mut store, (3, 4)).unwrap(), 14);
    let err = run.call(&mut store, (-10, 1)).unwrap_err();
    assert!(err.to_string().contains("negative: -9"), "{err:?}");
    assert_eq!(store.data(), &vec![3, -10]);
    let pair = instance
        .get_func(&mut store, "pair")
        .unwrap()
        .typed::<(f64, f32), (f64, f32)>(&store)
        .unwrap();
    assert_eq!(pair.call(&mut store, (1.5, 2.0)).unwrap(), (3.5, 3.0));
    // Asking for the wrong types is an error, not a crash.
    let wrong = instance
        .get_func(&mut store, "run")
        .unwrap()
        .typed::<i64, i32>(&store);
    assert!(wrong.unwrap_err().to_string().contains("type mismatch"));
}

#[test]
fn epoch_interruption_stops_an_infinite_loop() {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (func (export "spin") (loop $l (br $l)))
          (func (export "one") (result i32) i32.const 1))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = i.get_func(&mut store, "spin").unwrap();
    let one = i
        .get_func(&mut store, "one")
        .unwrap()
        .typed::<(), i32>(&store)
        .unwrap();
    for _ in 0..2 {
        store.set_epoch_deadline(1);
        let ticker = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                engine.increment_epoch();
            })
        };
        let start = std::time::Instant::now();
        let err = spin.call(&mut store, &[], &mut []).unwrap_err();
        ticker.join().unwrap();
        assert_eq!(
            err.downcast_ref::<Trap>(),
            Some(&Trap::Interrupt),
            "{err:?}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // Past the deadline even the entry check of a straight-line function
        // traps; with a new deadline the store runs normally.
        assert!(one.call(&mut store, ()).is_err());
        store.set_epoch_deadline(10);
        assert_eq!(one.call(&mut store, ()).unwrap(), 1);
    }
}

#[test]
fn backtraces_cross_nested_host_calls() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
          (import "host" "reenter" (func $reenter (param i32)))
          (func $bottom (export "bottom") (param i32) unreachable)
          (func $outer_a (export "outer") (param i32) local.get 0 call $outer_b)
          (func $outer_b (param i32) local.get 0 call $reenter))"#,
    )
    .unwrap();
    let reenter = Func::wrap(
        &mut store,
        |mut caller: weft::Caller<'_, ()>, x: i32| -> weft::Result<()> {
            let bottom = caller.get_export("bottom").unwrap().into_func().unwrap();
            bottom.call(&mut caller, &[Val::I32(x)], &mut [])
        },
    );
    let i = Instance::new(&mut store, &module, &[reenter.into()]).unwrap();
    let outer = i.get_func(&mut store, "outer").unwrap();
    let err = outer.call(&mut store, &[Val::I32(1)], &mut []).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::UnreachableCodeReached),
        "{err:?}"
    );
    let bt = err
        .downcast_ref::<weft::WasmBacktrace>()
        .expect("backtrace");
    let names: Vec<_> = bt
        .frames
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["bottom", "outer_b", "outer_a"], "{bt}");
}

#[test]
fn memory_data_and_store_mut_lends_both_at_once() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "env" "sum" (func $sum (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 100) "\01\02\03\04")
          (func (export "run") (param i32) (result i32)
            (memory.grow (local.get 0)) drop
            (call $sum (i32.const 100) (i32.const 4))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, Vec::<u8>::new());
    let mut linker = weft::Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "sum",
            |mut caller: weft::Caller<'_, Vec<u8>>, at: i32, len: i32| -> i32 {
                let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
                // Read guest memory and write the store's data in one borrow.
                let (mem, seen) = memory.data_and_store_mut(&mut caller);
                let bytes = &mem[at as usize..][..len as usize];
                seen.clear();
                seen.extend_from_slice(bytes);
                mem[0] = 0xee;
                seen.len() as i32 * 1000 + mem.len() as i32 / 65536
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    // The length is the memory's current one, after a grow in the guest.
    assert_eq!(run.call(&mut store, 0).unwrap(), 4001);
    assert_eq!(run.call(&mut store, 2).unwrap(), 4003);
    assert_eq!(store.data(), &[1, 2, 3, 4]);
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let (mem, data) = memory.data_and_store_mut(&mut store);
    assert_eq!((mem[0], mem.len(), data.len()), (0xee, 3 * 65536, 4));
}
