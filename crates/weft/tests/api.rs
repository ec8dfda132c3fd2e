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
