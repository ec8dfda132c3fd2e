//! A tiny program for `tests/gdb_backtrace.sh`: `main` -> `example_resumer`
//! resumes a fiber, which calls `weft_fiber_example_leaf` on the fiber's
//! stack. A debugger stopped in the leaf must show `example_resumer` and
//! `main` in its backtrace, past `weft_fiber_start`/`weft_fiber_switch`.
//!
//! Then a second stop: the leaf runs on an inner fiber resumed (from
//! `nested_inner_resumer`) by an outer fiber (resumed from
//! `nested_outer_resumer`), and the inner fiber's stack lies at a *higher*
//! address than the outer one's, the case where gdb's "frame inner to this
//! frame" check would cut the backtrace short without the trampoline's
//! signal-frame marking.
//!
//! With the argument `spin`, the fiber calls the leaf for about a second,
//! for a profiler. Build with `RUSTFLAGS="-C force-frame-pointers=yes"`,
//! run `perf record -e cpu-clock --call-graph fp <binary> spin`: every
//! `perf script` sample in the leaf continues through `weft_fiber_start`,
//! `weft_fiber_switch`, `Fiber::resume` into `example_resumer` and `main`
//! (checked by hand: 3214 of 3214 samples). `--call-graph dwarf` stops at
//! `weft_fiber_switch`: perf unwinds a copy of the sampled stack only (8
//! KiB from the stack pointer), and the resumer's frames are on another
//! stack.

use std::hint::black_box;
use weft_fiber::{Fiber, Stack, Suspend};

/// Runs on the fiber; the breakpoint target (unmangled name).
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn weft_fiber_example_leaf(x: u64) -> u64 {
    black_box(x) * 2
}

/// Resumes the fiber from the thread's main stack.
#[inline(never)]
fn example_resumer(fiber: &mut Fiber<'_, u64, u64, u64>, value: u64) -> Result<u64, u64> {
    black_box(fiber.resume(value))
}

/// Resumes the inner fiber from the outer fiber's stack.
#[inline(never)]
fn nested_inner_resumer(fiber: &mut Fiber<'_, u64, u64, u64>, value: u64) -> Result<u64, u64> {
    black_box(fiber.resume(value))
}

/// Resumes the outer fiber from the thread's main stack.
#[inline(never)]
fn nested_outer_resumer(fiber: &mut Fiber<'_, u64, u64, u64>, value: u64) -> Result<u64, u64> {
    black_box(fiber.resume(value))
}

fn nested() {
    // mmap hands out addresses top-down: map the inner stack first so that
    // it lies above the outer one.
    let inner_stack = Stack::new(256 * 1024).expect("map a fiber stack");
    let outer_stack = Stack::new(256 * 1024).expect("map a fiber stack");
    assert!(inner_stack.range().start > outer_stack.range().start);
    let mut outer = Fiber::new(outer_stack, move |x: u64, _s: &Suspend<u64, u64, u64>| {
        let mut inner = Fiber::new(inner_stack, |x: u64, _s: &Suspend<u64, u64, u64>| {
            weft_fiber_example_leaf(x)
        })
        .expect("create a fiber");
        nested_inner_resumer(&mut inner, x).expect("inner fiber returns")
    })
    .expect("create a fiber");
    println!("nested: {:?}", nested_outer_resumer(&mut outer, 3));
}

fn main() {
    let stack = Stack::new(256 * 1024).expect("map a fiber stack");
    let spin = std::env::args().nth(1).as_deref() == Some("spin");
    let mut fiber = Fiber::new(stack, move |x: u64, s: &Suspend<u64, u64, u64>| {
        if spin {
            let start = std::time::Instant::now();
            let mut acc = 0u64;
            while start.elapsed().as_secs() < 1 {
                for _ in 0..10_000 {
                    acc = acc.wrapping_add(weft_fiber_example_leaf(acc));
                }
            }
            black_box(acc);
        }
        let y = s.suspend(weft_fiber_example_leaf(x));
        weft_fiber_example_leaf(y)
    })
    .expect("create a fiber");
    let first = example_resumer(&mut fiber, 20);
    let second = example_resumer(&mut fiber, 1);
    println!("fiber yielded {first:?}, returned {second:?}");
    if !spin {
        nested();
    }
}
