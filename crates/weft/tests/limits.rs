//! Resource limits through the embedding API: fuel metering, the store's
//! resource limiter (`Store::limiter`, `StoreLimits`) and compile-time
//! module limits.

use std::sync::{Arc, Mutex};

mod common;
use weft::{
    Config, Engine, Instance, Linker, Memory, MemoryType, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, Table, TableType, Trap, Val,
};

fn fuel_engine() -> Engine {
    let mut c = Config::new();
    c.consume_fuel(true);
    Engine::new(&c).unwrap()
}

fn typed<P: weft::WasmList, R: weft::WasmList, T>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
) -> weft::TypedFunc<P, R> {
    let f = instance.get_func(&mut *store, name).unwrap();
    f.typed::<P, R>(&*store).unwrap()
}

fn trap_of(e: &weft::Error) -> Option<Trap> {
    e.downcast_ref::<Trap>().copied()
}

const COUNTER: &str = r#"(module
  ;; costs 3: two constants and an add (`end` is free)
  (func (export "three") (result i32) i32.const 1 i32.const 2 i32.add)
  ;; loops n times (fuel: see `fuel_is_charged_per_instruction`)
  (func (export "count") (param $n i32)
    (loop $l
      local.get $n
      i32.eqz
      br_if 1
      local.get $n
      i32.const 1
      i32.sub
      local.set $n
      br $l))
  (func (export "spin") (loop $l br $l)))"#;

#[test]
fn fuel_is_charged_per_instruction() {
    let engine = fuel_engine();
    let module = Module::new(&engine, COUNTER).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let three = typed::<(), i32, _>(&mut store, &instance, "three");
    store.set_fuel(10).unwrap();
    assert_eq!(three.call(&mut store, ()).unwrap(), 3);
    assert_eq!(store.get_fuel().unwrap(), 7);
    assert_eq!(three.call(&mut store, ()).unwrap(), 3);
    assert_eq!(store.get_fuel().unwrap(), 4);

    // count(n): per iteration local.get, i32.eqz, br_if, local.get,
    // i32.const, i32.sub, local.set, br = 8; the last check costs 3 more
    // (local.get, i32.eqz, br_if).
    let count = typed::<i32, (), _>(&mut store, &instance, "count");
    store.set_fuel(1000).unwrap();
    count.call(&mut store, 10).unwrap();
    assert_eq!(store.get_fuel().unwrap(), 1000 - (10 * 8 + 3));
}

#[test]
fn running_out_of_fuel_traps() {
    let engine = fuel_engine();
    let module = Module::new(&engine, COUNTER).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = typed::<(), (), _>(&mut store, &instance, "spin");
    // A new store has no fuel: any call traps on entry.
    let e = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_of(&e), Some(Trap::OutOfFuel), "{e:?}");
    assert!(format!("{e}").contains("all fuel consumed"), "{e}");

    store.set_fuel(100_000).unwrap();
    let e = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_of(&e), Some(Trap::OutOfFuel), "{e:?}");
    assert_eq!(store.get_fuel().unwrap(), 0);

    // The store stays usable after refuelling.
    let count = typed::<i32, (), _>(&mut store, &instance, "count");
    store.set_fuel(50).unwrap();
    let e = count.call(&mut store, 1000).unwrap_err();
    assert_eq!(trap_of(&e), Some(Trap::OutOfFuel));
    store.set_fuel(1000).unwrap();
    count.call(&mut store, 3).unwrap();
}

#[test]
fn fuel_is_visible_to_host_functions_and_calls_are_charged() {
    let engine = fuel_engine();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    let s = seen.clone();
    linker
        .func_wrap("host", "fuel", move |caller: weft::Caller<'_, ()>| {
            s.lock().unwrap().push(caller.get_fuel().unwrap());
        })
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module (import "host" "fuel" (func $fuel))
             (func (export "run")
               call $fuel   ;; 1
               i32.const 0  ;; 2
               drop         ;; free
               nop          ;; free
               call $fuel)) ;; 3"#,
    )
    .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = typed::<(), (), _>(&mut store, &instance, "run");
    store.set_fuel(100).unwrap();
    run.call(&mut store, ()).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![99, 97]);
    assert_eq!(store.get_fuel().unwrap(), 97);
}

#[test]
fn fuel_needs_the_config_switch() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let e = store.set_fuel(10).unwrap_err();
    assert!(e.to_string().contains("consume_fuel"), "{e}");
    assert!(store.get_fuel().is_err());
}

struct Data {
    limits: StoreLimits,
}

fn limited_store(engine: &Engine, limits: StoreLimits) -> Store<Data> {
    let mut store = Store::new(engine, Data { limits });
    store.limiter(|d| &mut d.limits);
    store
}

const GROWER: &str = r#"(module
  (memory (export "mem") 1)
  (table (export "tab") 1 funcref)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "grow_table") (param i32) (result i32)
    ref.null func local.get 0 table.grow 0))"#;

#[test]
fn store_limits_cap_memory_and_table_growth() {
    let engine = Engine::default();
    let limits = StoreLimitsBuilder::new()
        .memory_size(3 * 65536)
        .table_elements(5)
        .build();
    let mut store = limited_store(&engine, limits);
    let module = Module::new(&engine, GROWER).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = typed::<i32, i32, _>(&mut store, &instance, "grow");
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 0).unwrap(), 3);
    let mem = instance.get_memory(&mut store, "mem").unwrap();
    assert_eq!(mem.size(&store), 3);
    assert!(mem.grow(&mut store, 1).is_err());
    assert_eq!(mem.size(&store), 3);

    let grow_table = typed::<i32, i32, _>(&mut store, &instance, "grow_table");
    assert_eq!(grow_table.call(&mut store, 4).unwrap(), 1);
    assert_eq!(grow_table.call(&mut store, 1).unwrap(), -1);
    let tab = instance.get_table(&mut store, "tab").unwrap();
    assert!(tab.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    assert_eq!(tab.size(&store), 5);

    // Host-created memories and tables are limited from their creation.
    let e = Memory::new(&mut store, MemoryType::new(4, None)).unwrap_err();
    assert!(
        e.to_string().contains("exceeds the store's memory limits"),
        "{e}"
    );
    Memory::new(&mut store, MemoryType::new(3, None)).unwrap();
    let e = Table::new(
        &mut store,
        TableType::new(weft::RefType::FUNCREF, 6, None),
        Val::FuncRef(None),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("exceeds the store's table limits"),
        "{e}"
    );
}

#[test]
fn initial_memory_beyond_the_limit_fails_instantiation() {
    let engine = Engine::default();
    let mut store = limited_store(
        &engine,
        StoreLimitsBuilder::new().memory_size(65536).build(),
    );
    let module = Module::new(&engine, "(module (memory 2))").unwrap();
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(
        e.to_string().contains("memory minimum size of 2 pages"),
        "{e}"
    );
    let module = Module::new(&engine, "(module (memory 1))").unwrap();
    Instance::new(&mut store, &module, &[]).unwrap();
}

#[test]
fn trap_on_grow_failure_turns_refusals_into_traps() {
    let engine = Engine::default();
    let limits = StoreLimitsBuilder::new()
        .memory_size(2 * 65536)
        .trap_on_grow_failure(true)
        .build();
    let mut store = limited_store(&engine, limits);
    let module = Module::new(&engine, GROWER).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = typed::<i32, i32, _>(&mut store, &instance, "grow");
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    let e = grow.call(&mut store, 1).unwrap_err();
    assert!(
        format!("{e:#}").contains("refused by the store's limits"),
        "{e:#}"
    );
    // The store is still usable.
    assert_eq!(grow.call(&mut store, 0).unwrap(), 2);
}

#[test]
fn instance_and_memory_counts_are_limited() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (memory 0) (table 0 funcref))").unwrap();
    let empty = Module::new(&engine, "(module)").unwrap();

    let mut store = limited_store(&engine, StoreLimitsBuilder::new().instances(2).build());
    Instance::new(&mut store, &empty, &[]).unwrap();
    Instance::new(&mut store, &empty, &[]).unwrap();
    let e = Instance::new(&mut store, &empty, &[]).unwrap_err();
    assert!(
        e.to_string().contains("instance count too high at 3"),
        "{e}"
    );

    let mut store = limited_store(
        &engine,
        StoreLimitsBuilder::new().memories(1).instances(2).build(),
    );
    Instance::new(&mut store, &module, &[]).unwrap();
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(e.to_string().contains("memory count too high at 2"), "{e}");
    // A refused instantiation does not use up the instance count.
    Instance::new(&mut store, &empty, &[]).unwrap();

    let mut store = limited_store(&engine, StoreLimitsBuilder::new().tables(0).build());
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(e.to_string().contains("table count too high at 1"), "{e}");
}

/// A limiter that records what it is asked and refuses above a byte count.
struct Recorder {
    calls: Vec<(&'static str, usize, usize, Option<usize>)>,
    failures: usize,
    max: usize,
    error: bool,
}

impl ResourceLimiter for Recorder {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        max: Option<usize>,
    ) -> weft::Result<bool> {
        self.calls.push(("memory", current, desired, max));
        if self.error && desired > self.max {
            anyhow::bail!("recorder says no to {desired} bytes");
        }
        Ok(desired <= self.max)
    }
    fn memory_grow_failed(&mut self, _error: weft::Error) -> weft::Result<()> {
        self.failures += 1;
        Ok(())
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        max: Option<usize>,
    ) -> weft::Result<bool> {
        self.calls.push(("table", current, desired, max));
        Ok(true)
    }
}

#[test]
fn custom_limiter_sees_sizes_in_bytes_and_elements() {
    let engine = Engine::default();
    let rec = Recorder {
        calls: Vec::new(),
        failures: 0,
        max: 10 * 65536,
        error: false,
    };
    let mut store = Store::new(&engine, rec);
    store.limiter(|r| r);
    let module = Module::new(
        &engine,
        r#"(module (memory 1 4) (table 2 funcref)
             (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
             (func (export "grow_table") (param i32) (result i32)
               ref.null func local.get 0 table.grow 0))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = typed::<i32, i32, _>(&mut store, &instance, "grow");
    let grow_table = typed::<i32, i32, _>(&mut store, &instance, "grow_table");
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    // Allowed by the limiter, beyond the declared maximum of 4 pages.
    assert_eq!(grow.call(&mut store, 2).unwrap(), -1);
    // Growing by nothing does not ask the limiter.
    assert_eq!(grow.call(&mut store, 0).unwrap(), 3);
    assert_eq!(grow_table.call(&mut store, 3).unwrap(), 2);
    let page = 65536;
    assert_eq!(
        store.data().calls,
        vec![
            ("memory", 0, page, Some(4 * page)),
            ("table", 0, 2, None),
            ("memory", page, 3 * page, Some(4 * page)),
            ("memory", 3 * page, 5 * page, Some(4 * page)),
            ("table", 2, 5, None),
        ]
    );
    assert_eq!(store.data().failures, 1);
}

#[test]
fn limiter_errors_trap_with_the_limiters_error() {
    let engine = Engine::default();
    let rec = Recorder {
        calls: Vec::new(),
        failures: 0,
        max: 2 * 65536,
        error: true,
    };
    let mut store = Store::new(&engine, rec);
    store.limiter(|r| r);
    let module = Module::new(&engine, GROWER).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = typed::<i32, i32, _>(&mut store, &instance, "grow");
    assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
    let e = grow.call(&mut store, 5).unwrap_err();
    assert!(
        e.to_string().contains("recorder says no to 458752 bytes"),
        "{e}"
    );
    let mem = instance.get_memory(&mut store, "mem").unwrap();
    let e = mem.grow(&mut store, 5).unwrap_err();
    assert!(e.to_string().contains("recorder says no"), "{e}");
    assert_eq!(mem.size(&store), 2);
}

#[test]
fn module_limits_name_the_limit() {
    let wat = r#"(module
        (func $a (local i32 i32 i64) nop nop nop nop)
        (func $b)
        (func $c))"#;
    let compile = |f: &dyn Fn(&mut Config)| {
        let mut c = Config::new();
        f(&mut c);
        let engine = Engine::new(&c).unwrap();
        Module::new(&engine, wat).map(|_| ())
    };
    compile(&|_| {}).unwrap();
    compile(&|c| {
        c.max_functions(3)
            .max_function_locals(3)
            .max_function_body_size(100);
    })
    .unwrap();
    let e = compile(&|c| {
        c.max_functions(2);
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("max_functions"), "{e:#}");
    let e = compile(&|c| {
        c.max_function_locals(2);
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("max_function_locals"), "{e:#}");
    let e = compile(&|c| {
        c.max_function_body_size(5);
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("max_function_body_size"), "{e:#}");
    let e = compile(&|c| {
        c.max_module_size(20);
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("max_module_size"), "{e:#}");
    // Imports count as functions too.
    let mut c = Config::new();
    c.max_functions(1);
    let engine = Engine::new(&c).unwrap();
    let e = Module::new(
        &engine,
        r#"(module (import "a" "b" (func)) (import "a" "c" (func)))"#,
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("2 functions"), "{e:#}");
}

/// A limiter that records where its frames are and uses far more stack
/// than a continuation has: `memory.grow` and `table.grow` executed inside
/// a continuation must call it on the native stack (invariant 7).
struct DeepLimiter {
    /// The address of a local of the test's own frame (native stack).
    native: usize,
    /// Distances of the limiter's frames from `native`, one per call.
    distances: Vec<usize>,
}

impl DeepLimiter {
    fn called(&mut self) {
        let here = 0u8;
        let addr = std::hint::black_box(&here) as *const u8 as usize;
        self.distances.push(self.native.abs_diff(addr));
        // About 100 KiB of stack: several times the continuation's.
        assert_eq!(common::use_stack(100), 100);
    }
}

impl ResourceLimiter for DeepLimiter {
    fn memory_growing(&mut self, _: usize, _: usize, _: Option<usize>) -> weft::Result<bool> {
        self.called();
        Ok(true)
    }
    fn table_growing(&mut self, _: usize, _: usize, _: Option<usize>) -> weft::Result<bool> {
        self.called();
        Ok(true)
    }
}

#[test]
fn the_limiter_runs_on_the_native_stack_when_a_continuation_grows_memory() {
    // 32 KiB continuation stacks (8 KiB red zone); the limiter needs about
    // 100 KiB, so it works only off the continuation.
    let mut config = Config::new();
    config.continuation_stack_size(32 * 1024);
    config.continuation_red_zone(8 * 1024);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (memory 1)
          (table 1 funcref)
          (type $ft (func (result i32)))
          (type $ct (cont $ft))
          ;; grows the memory by 1 page and the table by 2, returns the
          ;; sum of the old sizes (1 + 1 the first time)
          (func $grow (result i32)
            (i32.add (memory.grow (i32.const 1))
                     (table.grow (ref.null func) (i32.const 2))))
          (elem declare func $grow)
          (func (export "run") (result i32)
            (resume $ct (cont.new $ct (ref.func $grow))))
          (func (export "sizes") (result i32)
            (i32.add (memory.size) (table.size))))"#,
    )
    .unwrap();
    let here = 0u8;
    let native = std::hint::black_box(&here) as *const u8 as usize;
    let mut store = Store::new(
        &engine,
        DeepLimiter {
            native,
            distances: Vec::new(),
        },
    );
    store.limiter(|l| l as &mut dyn ResourceLimiter);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    // Instantiation asked for the memory and the table (on this stack).
    let at_instantiation = store.data().distances.len();
    let run = typed::<(), i32, _>(&mut store, &instance, "run");
    assert_eq!(run.call(&mut store, ()).unwrap(), 2);
    assert_eq!(run.call(&mut store, ()).unwrap(), 2 + 3);
    let sizes = typed::<(), i32, _>(&mut store, &instance, "sizes");
    assert_eq!(sizes.call(&mut store, ()).unwrap(), 3 + 5);
    let from_wasm = &store.data().distances[at_instantiation..];
    assert_eq!(from_wasm.len(), 4, "two memory.grow and two table.grow");
    // Every call ran on this thread's stack, within a few hundred KiB of
    // this frame; continuation stacks are in a separate reservation.
    for &d in from_wasm {
        assert!(d < 1 << 20, "limiter frame {d} bytes away from the test's");
    }
    assert_eq!(store.continuation_stats().live, 0);
}
