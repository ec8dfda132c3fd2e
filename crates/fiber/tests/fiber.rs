//! Behaviour of `Fiber`: values both ways, nesting, panics, cancellation on
//! drop, stack release, stack ranges and backtraces across the switch.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use weft_fiber::{Cancelled, Fiber, Stack, StackPool, StackPoolConfig, Suspend};

fn stack() -> Stack {
    Stack::new(256 * 1024).unwrap()
}

fn pool(max_cached: usize) -> StackPool {
    StackPool::new(StackPoolConfig {
        stack_size: 64 * 1024,
        max_cached,
        keep_resident: 0,
    })
    .unwrap()
}

/// Counts drops of the values it is attached to.
struct DropCounter(Rc<Cell<usize>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn values_flow_both_ways_over_many_cycles() {
    const N: u64 = 100_000;
    let mut fiber = Fiber::new(stack(), |first: u64, s| {
        let mut sum = first;
        let mut next = first;
        for i in 0..N {
            // Out: a value derived from what came in; in: the next value.
            next = s.suspend(next * 2 + i);
            sum += next;
        }
        format!("sum={sum}")
    })
    .unwrap();
    let mut expected_sum = 1u64;
    let mut sent = 1u64;
    for i in 0..N {
        let got = fiber.resume(sent).unwrap_err();
        assert_eq!(got, sent * 2 + i);
        sent = got % 1000;
        expected_sum += sent;
    }
    // The last resume's value is the last `suspend` result; the closure
    // then returns.
    assert_eq!(
        fiber.resume(7),
        Ok(format!("sum={}", expected_sum - sent + 7))
    );
    assert!(fiber.done());
    assert!(
        fiber.stack().is_none(),
        "stack released as soon as the fiber is done"
    );
}

#[test]
fn non_copy_values_move_without_leaks_or_double_drops() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut fiber = Fiber::new(stack(), move |v: Vec<DropCounter>, s| {
        let mut held = v;
        for _ in 0..10 {
            let more = s.suspend(held);
            held = more;
        }
        held.len()
    })
    .unwrap();
    let mut v = vec![DropCounter(d.clone()), DropCounter(d.clone())];
    for _ in 0..10 {
        v = fiber.resume(v).unwrap_err();
        v.push(DropCounter(d.clone()));
    }
    assert_eq!(drops.get(), 0);
    assert!(matches!(fiber.resume(v), Ok(12)));
    assert_eq!(drops.get(), 12);
}

#[test]
fn stack_pointer_is_inside_the_stack_range() {
    let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), (), _>| {
        let local = 0u8;
        let addr = &local as *const u8 as usize;
        let range = s.stack_range();
        assert!(range.contains(&addr), "{addr:#x} not in {range:x?}");
        assert_eq!(s.guard_range().end, range.start);
        range
    })
    .unwrap();
    let expected = fiber.stack().unwrap().range();
    assert_eq!(fiber.resume(()), Ok(expected));
}

#[test]
fn nested_fibers() {
    // The outer fiber drives an inner one and forwards its yields, tagged.
    let mut outer = Fiber::new(stack(), |first: i32, outer_s| {
        assert_eq!(first, 0);
        let mut inner = Fiber::new(stack(), |x: i32, inner_s| {
            let mut x = x;
            for _ in 0..3 {
                x = inner_s.suspend(x + 1);
            }
            x * 100
        })
        .unwrap();
        let mut v = 0;
        loop {
            match inner.resume(v) {
                Err(y) => v = outer_s.suspend(format!("inner yielded {y}")),
                Ok(r) => break r,
            }
        }
    })
    .unwrap();
    assert_eq!(outer.resume(0), Err("inner yielded 1".to_string()));
    assert_eq!(outer.resume(10), Err("inner yielded 11".to_string()));
    assert_eq!(outer.resume(20), Err("inner yielded 21".to_string()));
    assert_eq!(outer.resume(30), Ok(3000));
}

#[test]
fn deeply_nested_fibers() {
    fn nest(depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let mut f = Fiber::new(Stack::new(64 * 1024).unwrap(), move |(), s| {
            let below = nest(depth - 1);
            s.suspend(below);
            below + 1
        })
        .unwrap();
        let below = f.resume(()).unwrap_err();
        assert_eq!(f.resume(()), Ok(below + 1));
        below + 1
    }
    assert_eq!(nest(100), 100);
}

#[test]
fn panic_propagates_to_the_resumer() {
    let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), u32, ()>| {
        s.suspend(1);
        panic!("boom on the fiber");
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(1));
    let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom on the fiber"));
    assert!(fiber.done());
    // Resuming a finished fiber is a (clear) panic on the resumer.
    let err = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("finished"), "{msg}");
}

#[test]
fn panic_in_a_nested_fiber_crosses_both_switches() {
    let mut outer = Fiber::new(stack(), |(), _s: &Suspend<(), (), ()>| {
        let mut inner =
            Fiber::new(stack(), |(), _s: &Suspend<(), (), ()>| panic!("inner")).unwrap();
        let _ = inner.resume(());
        unreachable!()
    })
    .unwrap();
    let err = panic::catch_unwind(AssertUnwindSafe(|| outer.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"inner"));
}

#[test]
fn dropping_a_suspended_fiber_unwinds_it_and_returns_the_stack() {
    let pool = pool(4);
    let drops = Rc::new(Cell::new(0));
    let captured = DropCounter(drops.clone());
    let d = drops.clone();
    let mut fiber = Fiber::new(pool.get().unwrap(), move |(), s| {
        let _captured = captured;
        let _local = DropCounter(d.clone());
        let boxed = Box::new(DropCounter(d.clone()));
        s.suspend(());
        drop(boxed);
        unreachable!("a dropped fiber must not continue past suspend");
    })
    .unwrap();
    assert_eq!(pool.in_use(), 1);
    assert_eq!(fiber.resume(()), Err(()));
    assert_eq!(drops.get(), 0);
    drop(fiber);
    assert_eq!(drops.get(), 3, "captured, local and boxed data all dropped");
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.cached(), 1, "the stack went back to the pool");
}

#[test]
fn dropping_an_unstarted_fiber_drops_the_closure_only() {
    let pool = pool(4);
    let drops = Rc::new(Cell::new(0));
    let captured = DropCounter(drops.clone());
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let fiber = Fiber::new(pool.get().unwrap(), move |(), _s: &Suspend<(), (), ()>| {
        r.set(true);
        drop(captured);
    })
    .unwrap();
    drop(fiber);
    assert!(!ran.get());
    assert_eq!(drops.get(), 1);
    assert_eq!((pool.in_use(), pool.cached()), (0, 1));
}

#[test]
fn finished_fibers_return_stacks_to_the_pool() {
    let pool = pool(8);
    for round in 0..100 {
        let mut fibers: Vec<_> = (0..16)
            .map(|i| {
                Fiber::new(pool.get().unwrap(), move |x: usize, s| s.suspend(x + i) * 2).unwrap()
            })
            .collect();
        assert_eq!(pool.in_use(), 16);
        for (i, f) in fibers.iter_mut().enumerate() {
            assert_eq!(f.resume(round), Err(round + i));
        }
        for f in fibers.iter_mut() {
            assert!(f.take_finished_stack().is_none(), "not done yet");
            assert_eq!(f.resume(1), Ok(2));
            assert!(f.stack().is_none());
        }
        // Done: each stack waits in its fiber to be taken for reuse.
        assert_eq!(pool.in_use(), 16);
        let taken: Vec<_> = fibers[..4]
            .iter_mut()
            .map(|f| f.take_finished_stack().expect("a finished fiber's stack"))
            .collect();
        assert!(fibers[0].take_finished_stack().is_none(), "taken once");
        // A taken stack runs another fiber.
        let mut taken = taken.into_iter();
        let mut again: Fiber<'_, usize, usize, usize> =
            Fiber::new(taken.next().unwrap(), |x: usize, _| x + 1).unwrap();
        assert_eq!(again.resume(41), Ok(42));
        drop(again);
        assert_eq!(pool.in_use(), 15);
        drop(taken);
        assert_eq!(pool.in_use(), 12);
        // The rest are released with their fibers.
        drop(fibers);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.cached(), 8);
    }
}

#[test]
fn cancellation_seen_by_catch_unwind_on_the_fiber() {
    // A fiber that catches the cancellation and suspends again: the second
    // suspend unwinds immediately (never switches back to the dropper).
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let mut fiber = Fiber::new(stack(), move |(), s| {
        let caught = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(1))).unwrap_err();
        l.borrow_mut()
            .push(format!("caught Cancelled: {}", caught.is::<Cancelled>()));
        let again = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(2))).unwrap_err();
        l.borrow_mut()
            .push(format!("again: {}", again.is::<Cancelled>()));
        "returned normally"
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(1));
    drop(fiber);
    assert_eq!(*log.borrow(), ["caught Cancelled: true", "again: true"]);
}

#[test]
fn other_panic_during_cancellation_is_reraised_by_drop() {
    let mut fiber = Fiber::new(stack(), |(), s| {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| s.suspend(())));
        std::panic::panic_any(42u32);
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    let err = panic::catch_unwind(AssertUnwindSafe(|| drop(fiber))).unwrap_err();
    assert_eq!(err.downcast_ref::<u32>(), Some(&42));
}

#[test]
fn dropping_nested_suspended_fibers() {
    // Outer suspended while it holds a suspended inner fiber: dropping the
    // outer unwinds it, which drops (and so unwinds) the inner one.
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut outer = Fiber::new(stack(), move |(), outer_s| {
        let d2 = d.clone();
        let mut inner = Fiber::new(stack(), move |(), inner_s| {
            let _c = DropCounter(d2);
            inner_s.suspend(());
        })
        .unwrap();
        assert_eq!(inner.resume(()), Err(()));
        let _c = DropCounter(d);
        outer_s.suspend(());
    })
    .unwrap();
    assert_eq!(outer.resume(()), Err(()));
    drop(outer);
    assert_eq!(drops.get(), 2);
}

#[inline(never)]
fn backtrace_resumer_alpha(fiber: &mut Fiber<'_, (), String, ()>) -> String {
    std::hint::black_box(fiber.resume(())).unwrap_err()
}

#[inline(never)]
fn backtrace_resumer_beta(fiber: &mut Fiber<'_, (), String, ()>) -> String {
    std::hint::black_box(fiber.resume(())).unwrap_err()
}

#[inline(never)]
fn backtrace_on_fiber_leaf() -> String {
    Backtrace::force_capture().to_string()
}

/// Position of `needle` in `haystack`, with the whole trace on failure.
fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in backtrace:\n{haystack}"))
}

#[test]
fn std_backtrace_on_a_fiber_reaches_the_resumer() {
    let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), String, ()>| {
        s.suspend(backtrace_on_fiber_leaf());
        s.suspend(backtrace_on_fiber_leaf());
    })
    .unwrap();
    // The first resume comes from `alpha`, the second from `beta`: each
    // trace must show the resumer of the moment.
    for (bt, resumer, other) in [
        (
            backtrace_resumer_alpha(&mut fiber),
            "backtrace_resumer_alpha",
            "backtrace_resumer_beta",
        ),
        (
            backtrace_resumer_beta(&mut fiber),
            "backtrace_resumer_beta",
            "backtrace_resumer_alpha",
        ),
    ] {
        let leaf = position(&bt, "backtrace_on_fiber_leaf");
        let start = position(&bt, "weft_fiber_start");
        let switch = position(&bt, "weft_fiber_switch");
        let res = position(&bt, resumer);
        // The test function itself (the resumer's caller) comes after the
        // resumer; the fiber's closure, also named after it, before.
        let test = res + position(&bt[res..], "std_backtrace_on_a_fiber_reaches_the_resumer");
        assert!(
            leaf < start && start < switch && switch < res && res < test,
            "{bt}"
        );
        assert!(!bt.contains(other), "stale resumer in:\n{bt}");
    }
    assert_eq!(fiber.resume(()), Ok(()));
}

#[inline(never)]
fn nested_backtrace_outer_resumer(fiber: &mut Fiber<'_, (), String, ()>) -> String {
    std::hint::black_box(fiber.resume(())).unwrap_err()
}

#[inline(never)]
fn nested_backtrace_inner_resumer(fiber: &mut Fiber<'_, (), String, ()>) -> String {
    std::hint::black_box(fiber.resume(())).unwrap_err()
}

#[test]
fn std_backtrace_crosses_two_fibers() {
    let mut outer = Fiber::new(stack(), |(), s: &Suspend<(), String, ()>| {
        let mut inner = Fiber::new(stack(), |(), s: &Suspend<(), String, ()>| {
            s.suspend(backtrace_on_fiber_leaf());
        })
        .unwrap();
        let bt = nested_backtrace_inner_resumer(&mut inner);
        s.suspend(bt);
    })
    .unwrap();
    let bt = nested_backtrace_outer_resumer(&mut outer);
    let leaf = position(&bt, "backtrace_on_fiber_leaf");
    let inner = position(&bt, "nested_backtrace_inner_resumer");
    let outer_pos = position(&bt, "nested_backtrace_outer_resumer");
    let test = outer_pos + position(&bt[outer_pos..], "std_backtrace_crosses_two_fibers");
    assert!(
        leaf < inner && inner < outer_pos && outer_pos < test,
        "{bt}"
    );
    assert_eq!(bt.matches("weft_fiber_start").count(), 2, "{bt}");
}

/// The line of a `/proc/self/maps` snapshot covering `addr`, with its
/// bounds. Tests running in parallel map and unmap stacks, and the kernel
/// merges neighbouring mappings: read one snapshot per check.
fn maps_line_for(maps: &str, addr: usize) -> (String, usize, usize) {
    maps.lines()
        .find_map(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            (lo..hi).contains(&addr).then(|| (l.to_string(), lo, hi))
        })
        .unwrap_or_else(|| panic!("{addr:#x} not mapped"))
}

/// The guard page is either its own `PROT_NONE` mapping or, on kernels
/// with guard regions (`MADV_GUARD_INSTALL`), part of the stack's single
/// read-write mapping (which the kernel may merge with a neighbouring
/// one), where `/proc/self/maps` does not show it; that it faults either
/// way is checked by `overflow.rs` and weft-sys's
/// `guarded_mapping_faults_in_its_guard_only`.
#[test]
fn guard_page_is_mapped_without_access() {
    let s = Stack::new(32 * 1024).unwrap();
    let guard = s.guard_range();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let (guard_line, glo, ghi) = maps_line_for(&maps, guard.start);
    let perms = guard_line.split_whitespace().nth(1).unwrap();
    let (usable_line, ulo, uhi) = maps_line_for(&maps, s.range().start);
    assert_eq!(
        usable_line.split_whitespace().nth(1).unwrap(),
        "rw-p",
        "{usable_line}"
    );
    let (top_line, ..) = maps_line_for(&maps, s.range().end - 1);
    assert_eq!(top_line, usable_line, "usable range is one mapping");
    assert!(uhi >= s.range().end, "{usable_line}");
    if perms == "rw-p" {
        // A guard region: one mapping from the guard to the top.
        assert_eq!(guard_line, usable_line, "guard region");
        assert!(glo <= guard.start, "{guard_line}");
    } else {
        assert_eq!(perms, "---p", "guard page: {guard_line}");
        assert_eq!((glo, ghi), (guard.start, guard.end), "{guard_line}");
        assert_eq!(ulo, s.range().start, "{usable_line}");
    }
}

#[test]
fn pooled_stacks_are_decommitted_on_return() {
    let page = weft_fiber::page_size();
    let pool = StackPool::new(StackPoolConfig {
        stack_size: 16 * page,
        max_cached: 1,
        keep_resident: page,
    })
    .unwrap();
    let resident = |s: &Stack| {
        let r = s.range();
        let mut vec = vec![0u8; r.len() / page];
        // SAFETY: `r` is a page-aligned range of our own mapping, `vec`
        // has one byte per page.
        let rc = unsafe { libc::mincore(r.start as *mut _, r.len(), vec.as_mut_ptr()) };
        assert_eq!(rc, 0);
        vec.iter().filter(|b| **b & 1 == 1).count()
    };
    let mut fiber = Fiber::new(pool.get().unwrap(), |(), s| {
        // Touch ~8 pages of stack.
        let buf = std::hint::black_box([1u8; 8 * 4096]);
        s.suspend(());
        buf.len()
    })
    .unwrap();
    assert_eq!(fiber.resume(()), Err(()));
    let touched = resident(fiber.stack().unwrap());
    assert!(touched >= 8, "{touched} resident pages");
    assert_eq!(fiber.resume(()), Ok(8 * 4096));
    drop(fiber);
    let s = pool.get().unwrap();
    assert_eq!(resident(&s), 1, "only keep_resident stays resident");
}

/// The header frame record at the top of a fiber stack (x86_64 layout:
/// `[top - 16]` = frame record of the side waiting in the switch,
/// `[top - 8]` = resume pc), read from the fiber itself.
#[cfg(target_arch = "x86_64")]
fn header_record<R, Y, T>(s: &Suspend<R, Y, T>) -> (usize, usize) {
    let top = s.stack_range().end;
    // SAFETY: the top 16 bytes of the usable range of the stack we run on
    // are mapped and written by the switch code (plain words).
    unsafe { (*((top - 16) as *const usize), *((top - 8) as *const usize)) }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn header_frame_record_points_at_the_current_resumer() {
    // What a frame-pointer walker (perf --call-graph=fp, weft's own
    // backtraces) follows out of a fiber: the resumer's frame record.
    let marker = 0u8;
    let resumer_sp = &marker as *const u8 as usize;
    let mut outer = Fiber::new(stack(), move |(), s: &Suspend<(), (usize, usize), ()>| {
        let (r, pc) = header_record(s);
        assert_ne!(pc, 0, "resume pc stored by the trampoline");
        // The resumer (this test's thread) waits a little below its local.
        assert!(
            r < resumer_sp && resumer_sp - r < 64 * 1024,
            "{r:#x} vs {resumer_sp:#x}"
        );
        let outer_range = s.stack_range();
        let mut inner = Fiber::new(stack(), |(), s: &Suspend<(), (usize, usize), ()>| {
            s.suspend(header_record(s));
        })
        .unwrap();
        let (inner_r, inner_pc) = inner.resume(()).unwrap_err();
        // The inner fiber's resumer is the outer fiber: its record lies
        // on the outer fiber's stack, and the resume pc is the same code.
        assert!(
            outer_range.contains(&inner_r),
            "{inner_r:#x} not in {outer_range:x?}"
        );
        assert_eq!(inner_pc, pc);
        s.suspend((r, pc));
    })
    .unwrap();
    let (r, pc) = outer.resume(()).unwrap_err();
    assert!(r < resumer_sp && pc != 0);
    assert_eq!(outer.resume(()), Ok(()));
}

struct Counted(Rc<RefCell<i32>>);
impl Drop for Counted {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1;
    }
}

/// Runs, never starts and cancels fibers of the closures `make` returns
/// (`x + 1` suspended, then the resume value plus `extra`), counting the
/// drops of what they capture.
fn run_start_cancel<F>(drops: &Rc<RefCell<i32>>, make: impl Fn() -> F, extra: usize)
where
    F: FnOnce(usize, &Suspend<usize, usize, usize>) -> usize,
{
    *drops.borrow_mut() = 0;
    let mut f = Fiber::new(stack(), make()).unwrap();
    assert_eq!(f.resume(1), Err(2));
    assert_eq!(f.resume(10), Ok(10 + extra));
    drop(f);
    assert_eq!(*drops.borrow(), 1, "ran to the end");
    drop(Fiber::new(stack(), make()).unwrap());
    assert_eq!(*drops.borrow(), 2, "never started");
    let mut f = Fiber::new(stack(), make()).unwrap();
    assert_eq!(f.resume(5), Err(6));
    drop(f);
    assert_eq!(*drops.borrow(), 3, "cancelled while suspended");
}

#[test]
fn small_and_large_closures_run_and_drop_exactly_once() {
    // Small closures live inside the fiber's one allocation, large ones in
    // a box of their own: both must run with their captures intact and be
    // dropped exactly once, whether the fiber finished, never started or
    // was cancelled.
    let drops = Rc::new(RefCell::new(0));
    run_start_cancel(
        &drops,
        || {
            let c = Counted(drops.clone());
            move |x: usize, s: &Suspend<usize, usize, usize>| {
                let _keep = &c;
                s.suspend(x + 1) + 3
            }
        },
        3,
    );
    run_start_cancel(
        &drops,
        || {
            let c = Counted(drops.clone());
            let big = [7u8; 512];
            move |x: usize, s: &Suspend<usize, usize, usize>| {
                let _keep = &c;
                s.suspend(x + 1) + big.iter().map(|b| usize::from(*b)).sum::<usize>()
            }
        },
        7 * 512,
    );
}
