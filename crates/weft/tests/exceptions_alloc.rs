//! The throw path does not allocate: once the exception heap is warm, a
//! throw reuses a freed slot (and its payload vector) and the handler
//! search walks frames without allocating. Only collections (one per
//! ~1000 dead exceptions) allocate their work lists.
//!
//! A separate test binary: it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use weft::{Engine, Linker, Module, Store};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn throwing_and_catching_does_not_allocate_per_throw() {
    // The counter does count.
    let c0 = ALLOCATIONS.load(Ordering::Relaxed);
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > c0);
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(
        &engine,
        r#"(module
            (tag $t (param i32 i64))
            (func $thrower (param i32) (throw $t (local.get 0) (i64.const 7)))
            (func $down (param i32 i32)
              (if (i32.eqz (local.get 1))
                (then (call $thrower (local.get 0)) (return)))
              (call $down (local.get 0) (i32.sub (local.get 1) (i32.const 1))))
            (func $rethrower (param i32) (local $e exnref)
              (block $h (result i32 i64 exnref)
                (try_table (catch_ref $t $h) (call $down (local.get 0) (i32.const 9)))
                (unreachable))
              (local.set $e) (drop) (drop)
              (throw_ref (local.get $e)))
            (func (export "run") (param i32) (result i32) (local $i i32) (local $sum i32)
              (block $done
                (loop $again
                  (br_if $done (i32.ge_u (local.get $i) (local.get 0)))
                  (block $h (result i32 i64)
                    (try_table (catch $t $h)
                      (if (i32.and (local.get $i) (i32.const 1))
                        (then (call $rethrower (local.get $i)))
                        (else (call $down (local.get $i) (i32.const 9)))))
                    (unreachable))
                  (drop)
                  (local.set $sum (i32.add (local.get $sum)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $again)))
              (local.get $sum)))"#,
    )
    .unwrap();
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    // Warm up: the heap reaches its steady size, caches fill.
    assert_eq!(
        run.call(&mut store, 10_000).unwrap(),
        (0..10_000i32).fold(0i32, |a, i| a.wrapping_add(i))
    );
    let n = 100_000;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let collections_before = store.exn_heap_stats().collections;
    assert_eq!(
        run.call(&mut store, n).unwrap(),
        (0..n).fold(0i32, |a, i| a.wrapping_add(i))
    );
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let collections = store.exn_heap_stats().collections - collections_before;
    assert!(collections > 10, "{collections} collections");
    println!("{allocations} allocations, {collections} collections, {n} throws");
    // A few per collection (its root and work lists), none per throw.
    assert!(
        allocations <= 4 * collections as usize + 16,
        "{allocations} allocations for {n} throws and {collections} collections"
    );
}
