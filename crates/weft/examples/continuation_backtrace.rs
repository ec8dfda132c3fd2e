//! A host function called from wasm running in a continuation that runs
//! inside another continuation, for the gdb backtrace check in
//! `crates/weft/tests/gdb_async_backtrace.sh` (its check 2): a breakpoint in
//! `weft_example_cont_leaf` must show the host frames on the native stack,
//! the switch back into the inner continuation, its wasm frames, its start
//! frame, the outer continuation's frames, the resuming export and `main`.

use weft::{Config, Engine, Func, Instance, Module, Store};

#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn weft_example_cont_leaf(x: i32) -> i32 {
    std::hint::black_box(x) + 1
}

fn main() {
    let mut config = Config::new();
    // On by default under a debugger; explicit so that WEFT_GDB_JIT=0 cannot break the check.
    config.debug_info(true);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let leaf = Func::wrap(&mut store, |x: i32| weft_example_cont_leaf(x));
    let module = Module::new(
        &engine,
        r#"(module
             (import "h" "leaf" (func $leaf (param i32) (result i32)))
             (type $ft (func (param i32) (result i32)))
             (type $ct (cont $ft))
             (func $inner_body (param i32) (result i32)
               (call $leaf (local.get 0)))
             (func $outer_helper (param i32) (result i32)
               (resume $ct (local.get 0) (cont.new $ct (ref.func $inner_body))))
             (func $outer_body (param i32) (result i32)
               (call $outer_helper (local.get 0)))
             (elem declare func $inner_body $outer_body)
             (func (export "start") (param i32) (result i32)
               (resume $ct (local.get 0) (cont.new $ct (ref.func $outer_body)))))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[leaf.into()]).unwrap();
    let start = instance
        .get_typed_func::<i32, i32>(&mut store, "start")
        .unwrap();
    let r = start.call(&mut store, 41).unwrap();
    assert_eq!(r, 42);
    println!("result {r}");
}
