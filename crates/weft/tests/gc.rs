//! The GC proposal through the embedding API, with the collector at work:
//! every test allocates far more than one allocation window (4 MiB), so
//! objects are copied many times while wasm frames, globals, tables,
//! arrays, host roots and exceptions in flight refer to them, and checks
//! that every value survives intact.

use weft::{AnyKind, AnyRef, Config, Engine, Instance, Module, Store, Trap, Val};

const TYPES: &str = r#"
  (type $node (struct (field $v i64) (field $next (ref null $node))))
  (type $arr (array (mut (ref null $node))))
  (type $bytes (array (mut i8)))
"#;

fn instance(wat_body: &str, config: &Config) -> (Store<()>, Instance) {
    let engine = Engine::new(config).unwrap();
    let wat = format!("(module {TYPES} {wat_body})");
    let module = Module::new(&engine, &wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn call(
    store: &mut Store<()>,
    inst: &Instance,
    name: &str,
    args: &[Val],
) -> weft::Result<Vec<Val>> {
    let f = inst.get_func(&mut *store, name).unwrap();
    let n = f.ty(&*store).results().len();
    let mut out = vec![Val::I32(0); n];
    f.call(&mut *store, args, &mut out)?;
    Ok(out)
}

/// Builds a list of `n` nodes in a local while allocating `garbage`
/// short-lived nodes per kept node, then sums the list.
const LIST_IN_LOCALS: &str = r#"
  (func $churn (param $k i32)
    (loop $l
      (if (local.get $k)
        (then
          (drop (struct.new $node (i64.const -1) (ref.null $node)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $l)))))
  (func (export "build_and_sum") (param $n i32) (param $garbage i32) (result i64)
    (local $head (ref null $node)) (local $i i32) (local $sum i64)
    (loop $build
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (local.set $head (struct.new $node (i64.extend_i32_u (local.get $i)) (local.get $head)))
          (call $churn (local.get $garbage))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $build))))
    (loop $walk
      (if (ref.is_null (local.get $head)) (then (return (local.get $sum))))
      (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $head))))
      (local.set $head (struct.get $node $next (local.get $head)))
      (br $walk))
    (local.get $sum))
"#;

#[test]
fn objects_in_locals_survive_many_collections() {
    let (mut store, inst) = instance(LIST_IN_LOCALS, &Config::new());
    let n = 20_000i64;
    let out = call(
        &mut store,
        &inst,
        "build_and_sum",
        &[Val::I32(n as i32), Val::I32(100)],
    )
    .unwrap();
    assert_eq!(out[0].unwrap_i64(), n * (n - 1) / 2);
    let stats = store.gc_heap_stats();
    assert!(stats.collections >= 5, "{stats:?}");
    // The live set is the list (20,000 nodes of 24 bytes), not the
    // 2,000,000 dead nodes.
    assert!(stats.bytes_live < 1 << 20, "{stats:?}");
}

#[test]
fn objects_in_globals_tables_and_arrays_survive() {
    let body = r#"
      (global $g (mut (ref null $node)) (ref.null $node))
      (table $t 4 (ref null $node))
      (func $churn (param $k i32)
        (loop $l
          (if (local.get $k)
            (then
              (drop (array.new $bytes (i32.const 7) (i32.const 40)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $l)))))
      (func (export "run") (result i64)
        (local $a (ref null $arr)) (local $i i32) (local $sum i64)
        (global.set $g (struct.new $node (i64.const 1000) (ref.null $node)))
        (table.set $t (i32.const 2) (struct.new $node (i64.const 200) (global.get $g)))
        (local.set $a (array.new_default $arr (i32.const 100)))
        (loop $fill
          (if (i32.lt_u (local.get $i) (i32.const 100))
            (then
              (array.set $arr (local.get $a) (local.get $i)
                (struct.new $node (i64.extend_i32_u (local.get $i)) (table.get $t (i32.const 2))))
              (call $churn (i32.const 5000))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $fill))))
        ;; sum: each element's value plus its next's (200) plus the global's (1000)
        (local.set $i (i32.const 0))
        (loop $sum
          (if (i32.lt_u (local.get $i) (i32.const 100))
            (then
              (local.set $sum (i64.add (local.get $sum)
                (i64.add
                  (struct.get $node $v (array.get $arr (local.get $a) (local.get $i)))
                  (i64.add
                    (struct.get $node $v (struct.get $node $next (array.get $arr (local.get $a) (local.get $i))))
                    (struct.get $node $v (struct.get $node $next
                      (struct.get $node $next (array.get $arr (local.get $a) (local.get $i)))))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $sum))))
        (local.get $sum))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "run", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), (0..100).sum::<i64>() + 100 * 1200);
    assert!(
        store.gc_heap_stats().collections >= 3,
        "{:?}",
        store.gc_heap_stats()
    );
}

#[test]
fn host_roots_follow_moved_objects() {
    let body = r#"
      (func (export "make") (param i64) (result (ref $node))
        (struct.new $node (local.get 0) (struct.new $node (i64.const 99) (ref.null $node))))
      (func (export "churn") (param $k i32)
        (loop $l
          (if (local.get $k)
            (then
              (drop (struct.new $node (i64.const 0) (ref.null $node)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $l)))))
      (func (export "value") (param (ref null $node)) (result i64)
        (struct.get $node $v (local.get 0)))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "make", &[Val::I64(42)]).unwrap();
    let Val::AnyRef(Some(r)) = out[0].clone() else {
        panic!("{:?}", out[0])
    };
    assert_eq!(r.kind(&store), AnyKind::Struct);
    for _ in 0..3 {
        call(&mut store, &inst, "churn", &[Val::I32(500_000)]).unwrap();
    }
    assert!(store.gc_heap_stats().collections >= 2);
    // Read through the API and through wasm: both see the moved object.
    assert_eq!(r.field(&store, 0).unwrap(), 42);
    let next = r.ref_field(&mut store, 1).unwrap().unwrap();
    assert_eq!(next.field(&store, 0).unwrap(), 99);
    let out = call(&mut store, &inst, "value", &[Val::AnyRef(Some(r))]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 42);
    r.set_field(&mut store, 0, 7).unwrap();
    let out = call(&mut store, &inst, "value", &[Val::AnyRef(Some(r))]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 7);
    assert!(
        r.set_field(&mut store, 1, 0).is_err(),
        "reference fields are not raw data"
    );
    let roots = store.gc_heap_stats().host_roots;
    next.unroot(&mut store);
    assert_eq!(store.gc_heap_stats().host_roots, roots - 1);
}

#[test]
fn i31_and_host_references_round_trip() {
    let body = r#"
      (func (export "i31") (param i32) (result i32)
        (i31.get_s (ref.i31 (local.get 0))))
      (func (export "internalize") (param externref) (result anyref)
        (any.convert_extern (local.get 0)))
      (func (export "externalize") (param anyref) (result externref)
        (extern.convert_any (local.get 0)))
      (func (export "is_eq") (param anyref) (result i32)
        (ref.test (ref eq) (local.get 0)))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "i31", &[Val::I32(-3)]).unwrap();
    assert_eq!(out[0].unwrap_i32(), -3);
    let out = call(&mut store, &inst, "i31", &[Val::I32(0x4000_0001)]).unwrap();
    assert_eq!(out[0].unwrap_i32(), -0x3fff_ffff, "31 bits, sign-extended");
    let e = weft::ExternRef::new(&mut store, String::from("host"));
    let out = call(&mut store, &inst, "internalize", &[Val::ExternRef(Some(e))]).unwrap();
    let Val::AnyRef(Some(a)) = out[0].clone() else {
        panic!()
    };
    assert_eq!(a.kind(&store), AnyKind::Host);
    let out = call(&mut store, &inst, "is_eq", &[Val::AnyRef(Some(a))]).unwrap();
    assert_eq!(out[0].unwrap_i32(), 0, "a host reference is not an eqref");
    let out = call(&mut store, &inst, "externalize", &[Val::AnyRef(Some(a))]).unwrap();
    let Val::ExternRef(Some(back)) = out[0].clone() else {
        panic!()
    };
    assert_eq!(back.data(&store).downcast_ref::<String>().unwrap(), "host");
    let i = AnyRef::from_i31(&mut store, 12);
    let out = call(&mut store, &inst, "is_eq", &[Val::AnyRef(Some(i))]).unwrap();
    assert_eq!(out[0].unwrap_i32(), 1);
}

#[test]
fn heap_exhaustion_is_a_trap_and_the_store_survives() {
    let body = r#"
      (func (export "hoard") (param $n i32) (result i32)
        (local $head (ref null $node))
        (loop $l
          (if (local.get $n)
            (then
              (local.set $head (struct.new $node (i64.const 1) (local.get $head)))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br $l))))
        (i32.const 1))
      (func (export "huge") (result i32)
        (array.len (array.new_default $bytes (i32.const -1))))
    "#;
    let mut config = Config::new();
    config.gc_heap_max_size(1 << 20);
    let (mut store, inst) = instance(body, &config);
    // 1 MiB holds about 43,000 nodes of 24 bytes: 100,000 live ones trap.
    let err = call(&mut store, &inst, "hoard", &[Val::I32(100_000)]).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::GcHeapOutOfMemory),
        "{err:?}"
    );
    // The nodes died with the frame: the store allocates again.
    let out = call(&mut store, &inst, "hoard", &[Val::I32(10_000)]).unwrap();
    assert_eq!(out[0].unwrap_i32(), 1);
    let err = call(&mut store, &inst, "huge", &[]).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::GcHeapOutOfMemory),
        "{err:?}"
    );
    assert!(Engine::new(Config::new().gc_heap_max_size(100)).is_err());
}

#[test]
fn an_exception_in_flight_keeps_its_references() {
    let body = r#"
      (tag $t (param (ref null $node)))
      (func $churn (param $k i32)
        (loop $l
          (if (local.get $k)
            (then
              (drop (struct.new $node (i64.const 0) (ref.null $node)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $l)))))
      (func $thrower
        (throw $t (struct.new $node (i64.const 77) (ref.null $node))))
      (func (export "run") (result i64)
        (local $caught (ref null $node))
        (block $h (result (ref null $node))
          (try_table (catch $t $h) (call $thrower))
          (unreachable))
        (local.set $caught)
        (call $churn (i32.const 400000))
        (struct.get $node $v (local.get $caught)))
      (func (export "held") (result i64)
        (local $e exnref)
        (block $h (result exnref)
          (try_table (catch_all_ref $h) (call $thrower))
          (unreachable))
        (local.set $e)
        ;; The exception object holds the only reference to its node while
        ;; the heap is churned.
        (call $churn (i32.const 400000))
        (block $h2 (result (ref null $node))
          (try_table (catch $t $h2) (throw_ref (local.get $e)))
          (unreachable))
        (struct.get $node $v))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "run", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 77);
    let out = call(&mut store, &inst, "held", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 77);
    assert!(store.gc_heap_stats().collections >= 2);
}

/// Continuations suspended while the heap is churned: a generator whose
/// frames (the suspending one, and a caller suspended in a call) hold
/// objects, a bound `cont.bind` argument, a resumer waiting in `resume`
/// inside another continuation, and many suspended continuations at once.
const CONTINUATIONS: &str = r#"
  (type $f (func))
  (type $k (cont $f))
  (type $fa (func (param (ref null $node))))
  (type $ka (cont $fa))
  (tag $yield)
  (func $churn (param $k i32)
    (loop $l
      (if (local.get $k)
        (then
          (drop (struct.new $node (i64.const 0) (ref.null $node)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $l)))))
  (global $out (mut i64) (i64.const 0))
  (func $inner (param $n (ref null $node)) (result (ref null $node))
    (local $mine (ref null $node))
    (local.set $mine (struct.new $node (i64.const 5) (local.get $n)))
    (suspend $yield)
    (local.get $mine))
  (func $gen
    (local $outer (ref null $node))
    (local.set $outer (struct.new $node (i64.const 1000) (ref.null $node)))
    ;; $outer is live across the call in which $inner suspends.
    (global.set $out (i64.add
      (struct.get $node $v (call $inner (struct.new $node (i64.const 20) (ref.null $node))))
      (struct.get $node $v (local.get $outer)))))
  (func $takes (param $n (ref null $node))
    (suspend $yield)
    (global.set $out (struct.get $node $v (local.get $n))))
  (elem declare func $gen $takes $nested)
  (func (export "run") (result i64)
    (local $kk (ref null $k))
    (block $h (result (ref $k))
      (resume $k (on $yield $h) (cont.new $k (ref.func $gen)))
      (unreachable))
    (local.set $kk)
    (call $churn (i32.const 400000))
    (resume $k (local.get $kk))
    (global.get $out))
  (func (export "bound") (result i64)
    (local $kk (ref null $k))
    (local.set $kk (cont.bind $ka $k (struct.new $node (i64.const 33) (ref.null $node))
      (cont.new $ka (ref.func $takes))))
    (call $churn (i32.const 400000))
    (block $h (result (ref $k))
      (resume $k (on $yield $h) (local.get $kk))
      (unreachable))
    (local.set $kk)
    (call $churn (i32.const 400000))
    (resume $k (local.get $kk))
    (global.get $out))
  ;; A continuation that resumes another and churns while the inner one
  ;; is suspended and it itself holds an object across the inner resume.
  (func $nested
    (local $kk (ref null $k)) (local $held (ref null $node))
    (local.set $held (struct.new $node (i64.const 7) (ref.null $node)))
    (block $h (result (ref $k))
      (resume $k (on $yield $h) (cont.new $k (ref.func $gen)))
      (unreachable))
    (local.set $kk)
    (suspend $yield)
    (call $churn (i32.const 400000))
    (resume $k (local.get $kk))
    (global.set $out (i64.add (global.get $out) (struct.get $node $v (local.get $held)))))
  (func (export "nested") (result i64)
    (local $kk (ref null $k))
    (block $h (result (ref $k))
      (resume $k (on $yield $h) (cont.new $k (ref.func $nested)))
      (unreachable))
    (local.set $kk)
    (call $churn (i32.const 400000))
    (resume $k (local.get $kk))
    (global.get $out))
  ;; Many generators suspended at once, each holding its own object.
  (func $own (param $n (ref null $node))
    (suspend $yield)
    (global.set $out (i64.add (global.get $out) (struct.get $node $v (local.get $n)))))
  (elem declare func $own)
  (func (export "many") (param $n i32) (result i64)
    (local $ks (ref null $karr)) (local $i i32) (local $one (ref null $k))
    (local.set $ks (array.new_default $karr (local.get $n)))
    (global.set $out (i64.const 0))
    (loop $start
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (block $h (result (ref $k))
            (resume $k (on $yield $h)
              (cont.bind $ka $k (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node))
                (cont.new $ka (ref.func $own))))
            (unreachable))
          (local.set $one)
          (array.set $karr (local.get $ks) (local.get $i) (local.get $one))
          (call $churn (i32.const 1000))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $start))))
    (local.set $i (i32.const 0))
    (loop $finish
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (resume $k (array.get $karr (local.get $ks) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $finish))))
    (global.get $out))
"#;

fn continuations_instance() -> (Store<()>, Instance) {
    let body = CONTINUATIONS.replace(
        "(type $ka (cont $fa))",
        "(type $ka (cont $fa))\n  (type $karr (array (mut (ref null $k))))",
    );
    instance(&body, &Config::new())
}

#[test]
fn collections_while_continuations_are_suspended() {
    let (mut store, inst) = continuations_instance();
    let out = call(&mut store, &inst, "run", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 1005);
    let after_run = store.gc_heap_stats().collections;
    assert!(
        after_run >= 1,
        "the churn collected while the generator was suspended"
    );
    let out = call(&mut store, &inst, "bound", &[]).unwrap();
    assert_eq!(
        out[0].unwrap_i64(),
        33,
        "a bound argument survives collections"
    );
    let out = call(&mut store, &inst, "nested", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 1005 + 7);
    let out = call(&mut store, &inst, "many", &[Val::I32(3000)]).unwrap();
    assert_eq!(out[0].unwrap_i64(), (0..3000).sum::<i64>());
    assert!(store.gc_heap_stats().collections > after_run + 3);
    assert_eq!(store.continuation_stats().live, 0);
}

/// A host function called from wasm holds `AnyRef`s (its arguments and an
/// object it made through a call into wasm) while it calls back into wasm
/// that churns the heap; the wasm frames below the host frame hold
/// objects too.
#[test]
fn host_frames_hold_handles_across_collections() {
    use weft::{AsContext, Caller, FuncType, HeapType, Linker, RefType, ValType};
    let engine = Engine::default();
    let wat = format!(
        r#"(module {TYPES}
          (import "host" "visit" (func $visit (param anyref) (result i64)))
          (func $churn (export "churn") (param $k i32)
            (loop $l
              (if (local.get $k)
                (then
                  (drop (struct.new $node (i64.const 0) (ref.null $node)))
                  (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                  (br $l)))))
          (func (export "make") (param i64) (result (ref $node))
            (struct.new $node (local.get 0) (ref.null $node)))
          (func (export "run") (result i64)
            (local $mine (ref null $node))
            (local.set $mine (struct.new $node (i64.const 3) (ref.null $node)))
            (i64.add
              (call $visit (struct.new $node (i64.const 40) (local.get $mine)))
              (struct.get $node $v (local.get $mine)))))"#
    );
    let module = Module::new(&engine, &wat).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let anyref = ValType::Ref(RefType {
        nullable: true,
        heap: HeapType::Any,
    });
    linker
        .func_new(
            "host",
            "visit",
            FuncType::new([anyref], [ValType::I64]),
            |mut caller: Caller<'_, ()>, params: &[Val], results: &mut [Val]| {
                let Val::AnyRef(Some(arg)) = params[0].clone() else {
                    anyhow::bail!("expected a node")
                };
                let inst = caller.get_export("make").unwrap().into_func().unwrap();
                let mut made = [Val::I32(0)];
                inst.call(&mut caller, &[Val::I64(500)], &mut made)?;
                let churn = caller.get_export("churn").unwrap().into_func().unwrap();
                let before = caller.as_context().gc_heap_stats().collections;
                churn.call(&mut caller, &[Val::I32(500_000)], &mut [])?;
                let after = caller.as_context().gc_heap_stats().collections;
                anyhow::ensure!(after > before, "the churn collected");
                let Val::AnyRef(Some(made)) = made[0].clone() else {
                    anyhow::bail!("expected a node")
                };
                let next = arg.ref_field(&mut caller, 1)?.expect("non-null");
                let sum =
                    arg.field(&caller, 0)? + made.field(&caller, 0)? + next.field(&caller, 0)?;
                results[0] = Val::I64(sum as i64);
                Ok(())
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let out = call(&mut store, &instance, "run", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 40 + 500 + 3 + 3);
}

/// Host values behind `externref`s live while a root or something
/// reachable from wasm refers to them, and are dropped by a collection
/// once nothing does.
#[test]
fn unreachable_host_references_are_dropped() {
    use weft::{AsContextMut, ExternRef};
    let body = r#"
      (table $t 8 externref)
      (global $g (mut externref) (ref.null extern))
      (func (export "keep") (param externref) (param i32)
        (table.set $t (i32.and (local.get 1) (i32.const 7)) (local.get 0)))
      (func (export "global") (param externref) (global.set $g (local.get 0)))
      (func (export "boxed") (param externref) (result (ref $node))
        (struct.new $node (i64.const 0) (ref.null $node)))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let mut kept = None;
    for i in 0..1000 {
        let e = ExternRef::new(store.as_context_mut(), Counted(dropped.clone()));
        call(
            &mut store,
            &inst,
            "keep",
            &[Val::ExternRef(Some(e)), Val::I32(i)],
        )
        .unwrap();
        if i == 500 {
            call(&mut store, &inst, "global", &[Val::ExternRef(Some(e))]).unwrap();
        }
        if i == 600 {
            kept = Some(e);
        } else {
            e.unroot(&mut store);
        }
    }
    assert_eq!(store.gc_heap_stats().host_values, 1000);
    store.gc();
    // Alive: the 8 in the table, the one in the global, the rooted one.
    assert_eq!(store.gc_heap_stats().host_values, 10);
    assert_eq!(dropped.load(std::sync::atomic::Ordering::Relaxed), 990);
    let kept = kept.unwrap();
    assert!(kept.data(&store).downcast_ref::<Counted>().is_some());
    kept.unroot(&mut store);
    store.gc();
    assert_eq!(store.gc_heap_stats().host_values, 9);
    // Indices are reused.
    let e = ExternRef::new(store.as_context_mut(), 5u8);
    assert_eq!(e.data(&store).downcast_ref::<u8>(), Some(&5));
    assert!(e.same(&e, &store));
}

/// References written from Rust (`set_ref_field`, typed calls with
/// `Option<AnyRef>`) are checked against the field's type; a contref
/// stored in a struct field survives collections and resumes.
#[test]
fn reference_fields_from_rust_and_contrefs_in_structs() {
    let body = r#"
      (type $f (func (result i64)))
      (type $k (cont $f))
      (type $holder (struct (field $c (mut (ref null $k))) (field $n (mut (ref null $node)))))
      (func $body (result i64) (i64.const 99))
      (elem declare func $body)
      (func $churn (param $k i32)
        (loop $l
          (if (local.get $k)
            (then
              (drop (struct.new $node (i64.const 0) (ref.null $node)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $l)))))
      (func (export "holder") (result (ref $holder))
        (struct.new $holder (cont.new $k (ref.func $body)) (ref.null $node)))
      (func (export "node") (param i64) (result (ref $node))
        (struct.new $node (local.get 0) (ref.null $node)))
      (func (export "run") (param anyref) (result i64)
        (local $h (ref null $holder))
        (local.set $h (ref.cast (ref null $holder) (local.get 0)))
        (call $churn (i32.const 400000))
        (i64.add
          (resume $k (struct.get $holder $c (local.get $h)))
          (struct.get $node $v (struct.get $holder $n (local.get $h)))))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "holder", &[]).unwrap();
    let Val::AnyRef(Some(holder)) = out[0].clone() else {
        panic!()
    };
    let out = call(&mut store, &inst, "node", &[Val::I64(1)]).unwrap();
    let Val::AnyRef(Some(node)) = out[0].clone() else {
        panic!()
    };
    // Field 1 takes a $node; an i31 is refused, a node accepted.
    let i31 = AnyRef::from_i31(&mut store, 3);
    assert!(holder.set_ref_field(&mut store, 1, Some(i31)).is_err());
    assert!(
        holder.set_ref_field(&mut store, 0, None).is_err(),
        "field 0 is a contref"
    );
    holder.set_ref_field(&mut store, 1, Some(node)).unwrap();
    let run = inst
        .get_typed_func::<Option<AnyRef>, i64>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, Some(holder)).unwrap(), 100);
    assert!(store.gc_heap_stats().collections >= 1);
}

/// Custom descriptors: each object's descriptor lives in its hidden
/// descriptor field only (no local, global or table holds most of them),
/// so the collector must trace that field and update it when both move.
#[test]
fn descriptors_survive_collections() {
    let body = r#"
      (rec
        (type $obj (descriptor $vt) (struct (field $v i64) (field $next (ref null $obj))))
        (type $vt (describes $obj) (struct (field $tag i64))))
      (global $g (ref $obj)
        (struct.new_desc $obj (i64.const 7) (ref.null $obj) (struct.new $vt (i64.const 99))))
      (func $churn (param $k i32)
        (loop $l
          (if (local.get $k)
            (then
              (drop (struct.new $node (i64.const -1) (ref.null $node)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $l)))))
      ;; Builds a list of $n objects, a new descriptor for every two (its
      ;; tag the even value), with $garbage dead nodes per object; then
      ;; checks every descriptor and returns (sum of values, number of
      ;; objects sharing their descriptor with the next one).
      (func (export "build_and_check") (param $n i32) (param $garbage i32) (result i64 i64)
        (local $head (ref null $obj)) (local $next (ref null $obj))
        (local $d (ref null (exact $vt))) (local $i i32) (local $sum i64) (local $shared i64)
        (loop $build
          (if (i32.lt_u (local.get $i) (local.get $n))
            (then
              (if (i32.eqz (i32.and (local.get $i) (i32.const 1)))
                (then (local.set $d (struct.new $vt (i64.extend_i32_u (local.get $i))))))
              (local.set $head
                (struct.new_desc $obj (i64.extend_i32_u (local.get $i)) (local.get $head) (local.get $d)))
              (call $churn (local.get $garbage))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $build))))
        (loop $walk
          (if (i32.eqz (ref.is_null (local.get $head)))
            (then
              (if (i64.ne (struct.get $vt $tag (ref.get_desc $obj (local.get $head)))
                          (i64.and (struct.get $obj $v (local.get $head)) (i64.const -2)))
                (then (unreachable)))
              (drop (ref.cast_desc_eq (ref $obj) (local.get $head)
                (ref.get_desc $obj (local.get $head))))
              (local.set $next (struct.get $obj $next (local.get $head)))
              (if (i32.wrap_i64 (i64.and (struct.get $obj $v (local.get $head)) (i64.const 1)))
                (then
                  (if (ref.eq (ref.get_desc $obj (local.get $head))
                              (ref.get_desc $obj (ref.as_non_null (local.get $next))))
                    (then (local.set $shared (i64.add (local.get $shared) (i64.const 1)))))))
              (local.set $sum (i64.add (local.get $sum) (struct.get $obj $v (local.get $head))))
              (local.set $head (local.get $next))
              (br $walk))))
        (local.get $sum) (local.get $shared))
      ;; A descriptor created by a global's initializer, read after the
      ;; collections, and a cast against another descriptor that must fail.
      (func (export "global_tag") (result i64)
        (struct.get $vt $tag (ref.get_desc $obj (global.get $g))))
      (func (export "cast_other") (result i32)
        (block $ok (result (ref $obj))
          (br_on_cast_desc_eq $ok (ref $obj) (ref $obj)
            (global.get $g) (struct.new $vt (i64.const 99)))
          (return (i32.const 0)))
        (drop)
        (i32.const 1))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let n = 20_000i64;
    let out = call(
        &mut store,
        &inst,
        "build_and_check",
        &[Val::I32(n as i32), Val::I32(100)],
    )
    .unwrap();
    assert_eq!(out[0].unwrap_i64(), n * (n - 1) / 2);
    assert_eq!(out[1].unwrap_i64(), n / 2);
    let stats = store.gc_heap_stats();
    assert!(stats.collections >= 5, "{stats:?}");
    let out = call(&mut store, &inst, "global_tag", &[]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 99);
    // Same tag, different descriptor object: no branch.
    let out = call(&mut store, &inst, "cast_other", &[]).unwrap();
    assert_eq!(out[0].unwrap_i32(), 0);
}

/// Exact reference types through the embedding API: a global's exact type
/// is visible as `HeapType::Exact`, accepts an object of exactly that type
/// and refuses one of a subtype (which the inexact type accepts).
#[test]
fn host_values_of_exact_types() {
    let body = r#"
      (type $t (sub (struct (field i32))))
      (type $s (sub $t (struct (field i32))))
      (global (export "exact") (mut (ref null (exact $t))) (ref.null none))
      (global (export "inexact") (mut (ref null $t)) (ref.null none))
      (func (export "new_t") (result (ref $t)) (struct.new $t (i32.const 1)))
      (func (export "new_s") (result (ref $t)) (struct.new $s (i32.const 2)))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let exact = inst.get_global(&mut store, "exact").unwrap();
    let inexact = inst.get_global(&mut store, "inexact").unwrap();
    let weft::ValType::Ref(r) = exact.ty(&store).content else {
        panic!("not a reference global");
    };
    assert!(matches!(r.heap, weft::HeapType::Exact(_)), "{r}");
    let weft::ValType::Ref(r) = inexact.ty(&store).content else {
        panic!("not a reference global");
    };
    assert!(matches!(r.heap, weft::HeapType::Concrete(_)), "{r}");
    let t = call(&mut store, &inst, "new_t", &[]).unwrap().remove(0);
    let s = call(&mut store, &inst, "new_s", &[]).unwrap().remove(0);
    exact.set(&mut store, t.clone()).unwrap();
    let e = exact.set(&mut store, s.clone()).unwrap_err().to_string();
    assert!(e.contains("wrong type"), "{e}");
    inexact.set(&mut store, s).unwrap();
    inexact.set(&mut store, t).unwrap();
}

/// The embedder's field indices are the declared fields: the hidden
/// descriptor field of a described struct is not one of them.
#[test]
fn host_field_access_skips_the_descriptor() {
    let body = r#"
      (rec
        (type $obj (descriptor $vt) (struct (field (mut i64)) (field (ref null $obj))))
        (type $vt (describes $obj) (struct (field i64))))
      (func (export "make") (result anyref)
        (struct.new_desc $obj (i64.const 41) (ref.null none) (struct.new $vt (i64.const 7))))
      (func (export "tag") (param anyref) (result i64)
        (struct.get $vt 0 (ref.get_desc $obj (ref.cast (ref $obj) (local.get 0)))))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let out = call(&mut store, &inst, "make", &[]).unwrap();
    let Val::AnyRef(Some(a)) = out[0].clone() else {
        panic!("expected a struct, got {:?}", out[0]);
    };
    assert_eq!(a.field(&store, 0).unwrap(), 41);
    assert!(a.ref_field(&mut store, 1).unwrap().is_none());
    assert!(a.field(&store, 2).is_err());
    a.set_field(&mut store, 0, 42).unwrap();
    assert_eq!(a.field(&store, 0).unwrap(), 42);
    // The write went to the declared field, not over the descriptor.
    let out = call(&mut store, &inst, "tag", &[Val::AnyRef(Some(a))]).unwrap();
    assert_eq!(out[0].unwrap_i64(), 7);
}

/// Regression (found by `fuzz --exceptions`): a null reference in an
/// exception payload slot whose upper 8 bytes hold leftovers (here from a
/// v128 thrown before through the same slot) reads back as null.
#[test]
fn null_references_in_payloads_ignore_the_slot_upper_half() {
    let body = r#"
      (tag $v (param v128))
      (tag $n (param anyref exnref))
      (func (export "run")
        (block $h (result v128)
          (try_table (catch $v $h)
            (throw $v (v128.const i64x2 -1 -1)))
          (unreachable))
        (drop)
        (throw $n (ref.null any) (ref.null exn)))
    "#;
    let (mut store, inst) = instance(body, &Config::new());
    let err = call(&mut store, &inst, "run", &[]).unwrap_err();
    let exn = err
        .downcast_ref::<weft::Exception>()
        .expect("uncaught")
        .exn();
    let payload = exn.payload(&mut store);
    assert!(matches!(payload[0], Val::AnyRef(None)), "{payload:?}");
    assert!(matches!(payload[1], Val::ExnRef(None)), "{payload:?}");
}
