//! Running wasm on fibers so that host functions can await futures.
//!
//! ```text
//!  executor thread stack                 fiber stack (weft_fiber::Stack)
//!  ---------------------                 -------------------------------
//!  poll(FiberFuture)                     fiber entry
//!    save poller state  ----resume---->    call_func / instantiate
//!    install fiber state                     wasm ... -> async host fn
//!                                              block_on(host future):
//!                                                poll(future, cx)
//!    <-----------------------suspend-------      Pending: suspend
//!    save fiber state
//!    restore poller state
//!  return Pending
//!  ... waker fires, executor polls again ...
//!  poll(FiberFuture) ----resume---->             poll(future, cx) -> Ready
//!                                            wasm continues ... returns
//!    <-----------------------finish------  result parked in the future
//!  return Ready(result)
//! ```
//!
//! Everything that belongs to "the stack that is running" is swapped by
//! the poller around every `resume`, so the fiber side never touches the
//! store: the thread's trap-handler state (active `catch_traps` chain and
//! stack bounds), the store's stack limit and entry depth (DESIGN.md
//! invariant 1), and the thread-local [`FiberContext`] that `block_on`
//! reads (the fiber's `Suspend` and the executor's `Context`).
//!
//! Dropping a suspended [`FiberFuture`] drops the fiber, which unwinds it
//! from its pending `suspend` with `weft_fiber::Cancelled`. The host-call
//! boundary catches that like any panic and the wasm caller traps at once,
//! so no more guest code runs; the payload is re-raised in Rust on the fiber
//! and ends it, and the stack goes back to the pool.

use super::store::StoreOpaque;
use super::traphandlers::{StackTrapState, set_stack_trap_state, stack_trap_state};
use crate::Result;
use anyhow::{anyhow, bail};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use weft_fiber::{Fiber, Suspend};

type WeftSuspend = Suspend<(), (), ()>;

/// What code on a fiber needs to suspend itself: set by the poller while
/// the fiber runs.
#[derive(Clone, Copy)]
struct FiberContext {
    suspend: *const WeftSuspend,
    cx: *mut Context<'static>,
}

thread_local! {
    static CURRENT: Cell<Option<FiberContext>> = const { Cell::new(None) };
}

/// The store's per-stack execution state.
struct StackState {
    stack_limit: usize,
    wasm_depth: u32,
    last_exit_fp: usize,
    outer_exit_fps: Vec<usize>,
}

impl StackState {
    fn fresh() -> StackState {
        StackState {
            stack_limit: 0,
            wasm_depth: 0,
            last_exit_fp: 0,
            outer_exit_fps: Vec::new(),
        }
    }

    /// Moves the store's current state out, leaving `self` in its place.
    fn swap_with(&mut self, store: &mut StoreOpaque) {
        let ctx = &store.vm_store_ctx;
        // SAFETY: the store is borrowed exclusively by the caller and no
        // wasm runs on it right now (its fiber is suspended or not started).
        unsafe {
            std::ptr::swap(&mut self.stack_limit, ctx.stack_limit.get());
            std::ptr::swap(&mut self.last_exit_fp, ctx.last_wasm_exit_fp.get());
        }
        std::mem::swap(&mut self.wasm_depth, &mut store.wasm_depth);
        std::mem::swap(&mut self.outer_exit_fps, &mut store.outer_exit_fps);
    }
}

/// Everything the poller installs for the fiber and takes back after.
struct FiberSide {
    stack: StackState,
    trap: StackTrapState,
}

/// A computation on a fiber, driven by polling. Not `Send`: a fiber's
/// frames belong to the thread that runs it.
pub(crate) struct FiberFuture<'a, R> {
    fiber: Option<Fiber<'a, (), (), ()>>,
    store: *mut StoreOpaque,
    side: FiberSide,
    /// The fiber's `Suspend`, published by the fiber when it starts.
    suspend: Rc<Cell<*const WeftSuspend>>,
    result: Rc<Cell<Option<R>>>,
    _borrow: std::marker::PhantomData<&'a mut StoreOpaque>,
}

/// Runs `f` on a new fiber when the returned future is polled.
pub(crate) fn on_fiber<'a, R: 'a>(
    store: &'a mut StoreOpaque,
    f: impl FnOnce(&mut StoreOpaque) -> R + 'a,
) -> Result<FiberFuture<'a, R>> {
    if !store.engine.config().async_support {
        bail!("async support is not enabled: use Config::async_support(true)");
    }
    let stack = store.engine.async_stacks()?.get()?;
    let range = stack.range();
    let store_ptr: *mut StoreOpaque = store;
    let result = Rc::new(Cell::new(None));
    let suspend_slot: Rc<Cell<*const WeftSuspend>> = Rc::new(Cell::new(std::ptr::null()));
    let (result2, slot2) = (result.clone(), suspend_slot.clone());
    let fiber = Fiber::new(stack, move |(), suspend: &WeftSuspend| {
        slot2.set(suspend);
        // Only now does the poller know our Suspend: publish it for
        // `block_on` (the poller already set the executor's Context).
        CURRENT.with(|c| {
            if let Some(mut fc) = c.get() {
                fc.suspend = suspend;
                c.set(Some(fc));
            }
        });
        // SAFETY: the poller holds the store's exclusive borrow (`'a`) for
        // as long as the fiber exists and never uses the store while the
        // fiber runs.
        let store = unsafe { &mut *store_ptr };
        result2.set(Some(f(store)));
    })
    .map_err(|e| anyhow!("cannot create a fiber: {e}"))?;
    Ok(FiberFuture {
        fiber: Some(fiber),
        store: store_ptr,
        side: FiberSide {
            stack: StackState::fresh(),
            trap: StackTrapState::fresh(range.start, range.end),
        },
        suspend: suspend_slot,
        result,
        _borrow: std::marker::PhantomData,
    })
}

impl<R> FiberFuture<'_, R> {
    /// Switches to the fiber with its state installed, and back with the
    /// poller's state restored (also if the fiber panics or is cancelled).
    fn run_fiber<T>(&mut self, cx: *mut Context<'static>, go: impl FnOnce(&mut Self) -> T) -> T {
        struct Restore<'s, 'a, R> {
            fut: &'s mut FiberFuture<'a, R>,
            poller_trap: StackTrapState,
            poller_fc: Option<FiberContext>,
        }
        impl<R> Drop for Restore<'_, '_, R> {
            fn drop(&mut self) {
                // Take the fiber's state back and reinstall the poller's.
                self.fut.side.trap = stack_trap_state();
                set_stack_trap_state(self.poller_trap);
                CURRENT.with(|c| c.set(self.poller_fc));
                // SAFETY: see `on_fiber`: the store is ours again.
                let store = unsafe { &mut *self.fut.store };
                self.fut.side.stack.swap_with(store);
            }
        }
        let poller_trap = stack_trap_state();
        let poller_fc = CURRENT.with(|c| c.get());
        // SAFETY: see `on_fiber`.
        let store = unsafe { &mut *self.store };
        self.side.stack.swap_with(store);
        set_stack_trap_state(self.side.trap);
        CURRENT.with(|c| {
            c.set(Some(FiberContext {
                suspend: self.suspend.get(),
                cx,
            }))
        });
        let guard = Restore {
            fut: self,
            poller_trap,
            poller_fc,
        };
        go(guard.fut)
    }
}

impl<R> Future for FiberFuture<'_, R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        // SAFETY: FiberFuture is not structurally pinned: the fiber lives
        // on its own stack and the future only holds pointers to it.
        let this = unsafe { self.get_unchecked_mut() };
        // Erase the lifetime: the pointer is only used during this poll.
        let cx: *mut Context<'static> = (cx as *mut Context<'_>).cast();
        let done = this.run_fiber(cx, |this| {
            let fiber = this
                .fiber
                .as_mut()
                .expect("FiberFuture polled after completion");
            fiber.resume(()).is_ok()
        });
        if done {
            this.fiber = None;
            Poll::Ready(this.result.take().expect("fiber finished without a result"))
        } else {
            Poll::Pending
        }
    }
}

impl<R> Drop for FiberFuture<'_, R> {
    fn drop(&mut self) {
        if self.fiber.as_ref().is_some_and(|f| !f.done()) {
            // Cancelling runs the fiber's destructors on the fiber: give it
            // its state while it does.
            self.run_fiber(std::ptr::null_mut(), |this| drop(this.fiber.take()));
        }
    }
}

/// Whether the calling code runs on a fiber driven by a [`FiberFuture`].
pub(crate) fn on_a_fiber() -> bool {
    CURRENT
        .with(|c| c.get())
        .is_some_and(|fc| !fc.suspend.is_null())
}

/// Suspends the current fiber once, returning to its poller (which
/// returns `Poll::Pending`).
///
/// # Errors
/// When not running on a fiber.
pub(crate) fn suspend_once() -> Result<()> {
    let fc = CURRENT.with(|c| c.get()).filter(|fc| !fc.suspend.is_null());
    let fc = fc.ok_or_else(|| anyhow!("not running on a fiber: use call_async"))?;
    // SAFETY: the Suspend belongs to the fiber we are running on, which
    // is alive (we are on it).
    unsafe { (*fc.suspend).suspend(()) };
    Ok(())
}

/// Polls `fut` to completion from code running on a fiber, suspending the
/// fiber whenever it is pending.
pub(crate) fn block_on<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> Result<F::Output> {
    loop {
        let fc = CURRENT
            .with(|c| c.get())
            .filter(|fc| !fc.suspend.is_null() && !fc.cx.is_null());
        let fc = fc.ok_or_else(|| {
            anyhow!("an async host function was called outside of an async call (use call_async)")
        })?;
        // SAFETY: the poller set `cx` to the Context of the poll that is
        // running us right now; it outlives this synchronous use.
        if let Poll::Ready(v) = fut.as_mut().poll(unsafe { &mut *fc.cx }) {
            return Ok(v);
        }
        suspend_once()?;
    }
}

/// Wakes the current poller's task (used before a voluntary yield so the
/// executor polls again).
pub(crate) fn wake_current() {
    if let Some(fc) = CURRENT.with(|c| c.get()).filter(|fc| !fc.cx.is_null()) {
        // SAFETY: as in `block_on`.
        unsafe { (*fc.cx).waker().wake_by_ref() };
    }
}
