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
//! Everything that belongs to "the stack that is running" is switched by
//! the poller around every `resume`, so the fiber side never touches the
//! store: the fiber owns a stack record (`super::stack::VMStackRecord`),
//! which becomes the store context's `current_stack` with the poller's
//! record as its `parent` (so generated code on the fiber checks the
//! fiber's stack limit, and backtraces continue into the poller's wasm);
//! the thread's current store (the signal handler's starting point); and
//! the thread-local [`FiberContext`] that `block_on` reads (the fiber's
//! `Suspend` and the executor's `Context`).
//!
//! Nothing on the fiber depends on the thread it was resumed on: all
//! per-stack state is in the record, and the two thread-locals are
//! reinstalled by each poll. So a pending future may be polled on another
//! thread next time: [`FiberFuture`] is `Send` when the result is, and what
//! runs on the fiber (the store data, host closures and their futures)
//! must be `Send` too.
//!
//! Dropping a suspended [`FiberFuture`] drops the fiber, which unwinds it
//! from its pending `suspend` with `weft_fiber::Cancelled`. The host-call
//! boundary catches that like any panic and the wasm caller traps at once,
//! so no more guest code runs; the payload is re-raised in Rust on the fiber
//! and ends it, and the stack goes back to the pool.

use super::stack::VMStackRecord;
use super::store::StoreOpaque;
use super::traphandlers::{current_store, set_current_store};
use super::vmcontext::VMStoreContext;
use crate::Result;
use anyhow::{anyhow, bail};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use weft_fiber::{Fiber, Suspend};

/// The fiber's resume value is the address of its future's [`Shared`]
/// (erased: `block_on` and `suspend_once` do not know the result type).
type WeftSuspend = Suspend<usize, (), ()>;

/// What code on a fiber needs to suspend itself: set by the poller while
/// the fiber runs, [`FiberContext::NONE`] (both null) otherwise. Two
/// pointers and no `Option` around them, so that it passes in two
/// registers: a 24-byte `Option` went through memory, and reading it back
/// as one 16-byte copy stalled on store forwarding in every poll.
#[derive(Clone, Copy)]
struct FiberContext {
    /// The running fiber's [`Shared::suspend`] cell (the fiber fills it in
    /// when it starts, so the poller can point at it before then).
    suspend: *const Cell<*const WeftSuspend>,
    cx: *mut Context<'static>,
}

impl FiberContext {
    /// Not on a fiber.
    const NONE: FiberContext = FiberContext {
        suspend: std::ptr::null(),
        cx: std::ptr::null_mut(),
    };

    /// The running fiber's `Suspend`, once it has started.
    fn suspend(&self) -> Option<*const WeftSuspend> {
        if self.suspend.is_null() {
            return None;
        }
        // SAFETY: a non-null cell pointer is set by `run_fiber` to the
        // polled future's `Shared`, which is pinned and alive while its
        // fiber runs (the only time this context is installed).
        let s = unsafe { (*self.suspend).get() };
        (!s.is_null()).then_some(s)
    }
}

thread_local! {
    static CURRENT: Cell<FiberContext> = const { Cell::new(FiberContext::NONE) };
}

/// This thread's [`FiberContext`]. Never inlined: code on a fiber may
/// continue on another thread after a suspension, and an inlined
/// thread-local access could reuse the first thread's slot address.
#[inline(never)]
fn fiber_context() -> FiberContext {
    CURRENT.with(|c| c.get())
}

/// Sets this thread's [`FiberContext`]; never inlined, as
/// [`fiber_context`].
#[inline(never)]
fn set_fiber_context(fc: FiberContext) {
    CURRENT.with(|c| c.set(fc));
}

/// What the fiber and its poller share: written on one side of a switch,
/// read on the other, never at the same time.
struct Shared<R> {
    /// The fiber's `Suspend`, published by the fiber when it starts.
    suspend: Cell<*const WeftSuspend>,
    /// The computation's result, parked by the fiber when it finishes.
    result: Cell<Option<R>>,
    /// The fiber stack's record.
    record: VMStackRecord,
}

/// A raw pointer the fiber's closure may carry to another thread with the
/// future that owns its target.
struct SendPtr<T>(*const T);
// SAFETY: only dereferenced on the fiber, while the owning `FiberFuture`
// (which is `Send` only under the conditions stated there) is alive.
unsafe impl<T> Send for SendPtr<T> {}

/// A computation on a fiber, driven by polling.
///
/// Not `Unpin`: the fiber points into `shared` from its first poll on
/// (each resume passes `shared`'s address), so the future must stay where
/// it was first polled; before that it may move freely, as nothing points
/// at it yet. Keeping `shared` inline saves an allocation per call.
pub(crate) struct FiberFuture<'a, R> {
    /// Dropped first (cancelling the fiber) in `Drop`, before `shared`.
    fiber: Option<Fiber<'a, usize, (), ()>>,
    store: *mut StoreOpaque,
    /// The fiber's current store while it is suspended (see
    /// `traphandlers::current_store`).
    fiber_current_store: *const VMStoreContext,
    /// The record that was running on the fiber when it last stopped
    /// (null before the first resume): the fiber's own record, or the
    /// record of a host call made from a continuation on it.
    running: std::cell::Cell<*mut VMStackRecord>,
    shared: Shared<R>,
    _borrow: std::marker::PhantomData<&'a mut StoreOpaque>,
    _pinned: std::marker::PhantomPinned,
}

// SAFETY: a `FiberFuture` owns its fiber's stack and everything on it. The
// closure that runs there is `Send` (required by `on_fiber`), and so is
// the store it borrows (`StoreOpaque` is `Send`; `Store<T>` needs
// `T: Send` to be borrowed from another thread at all), and the result
// type. Everything the fiber keeps about "where it runs" lives in its
// record and is reinstalled on the polling thread by each poll (module
// docs); the thread-locals it reads are never cached across a switch
// (their accessors are never inlined). So moving a suspended fiber with
// its future to another thread and resuming it there is sound.
unsafe impl<R: Send> Send for FiberFuture<'_, R> {}

/// Runs `f` on a new fiber when the returned future is polled.
pub(crate) fn on_fiber<'a, R: Send + 'a>(
    store: &'a mut StoreOpaque,
    f: impl FnOnce(&mut StoreOpaque) -> R + Send + 'a,
) -> Result<FiberFuture<'a, R>> {
    if !store.engine.config().async_support {
        bail!("async support is not enabled: use Config::async_support(true)");
    }
    let stack = match store.async_stack.take() {
        Some(stack) => stack,
        None => store.engine.async_stacks()?.get()?,
    };
    let range = stack.range();
    let reserve = store.engine.config().host_stack_reserve;
    let store_ptr = SendPtr(store as *mut StoreOpaque as *const StoreOpaque);
    let shared = Shared {
        suspend: Cell::new(std::ptr::null()),
        result: Cell::new(None),
        record: {
            let r = VMStackRecord::new(range.start, range.end, reserve);
            r.kind.set(weft_environ::stack_record::KIND_FIBER);
            r
        },
    };
    let fiber = Fiber::new(stack, move |shared: usize, suspend: &WeftSuspend| {
        let store_ptr = store_ptr;
        // SAFETY: every resume passes the address of the pinned future's
        // `Shared`, which outlives the fiber (the future drops the fiber
        // first).
        let shared = unsafe { &*(shared as *const Shared<R>) };
        // `block_on` finds it through the poller's FiberContext, which
        // points at this cell.
        shared.suspend.set(suspend);
        // SAFETY: the poller holds the store's exclusive borrow (`'a`) for
        // as long as the fiber exists and never uses the store while the
        // fiber runs.
        let store = unsafe { &mut *store_ptr.0.cast_mut() };
        shared.result.set(Some(f(store)));
    })
    .map_err(|e| anyhow!("cannot create a fiber: {e}"))?;
    Ok(FiberFuture {
        fiber: Some(fiber),
        store: store as *mut StoreOpaque,
        fiber_current_store: std::ptr::null(),
        running: std::cell::Cell::new(std::ptr::null_mut()),
        shared,
        _borrow: std::marker::PhantomData,
        _pinned: std::marker::PhantomPinned,
    })
}

impl<R> FiberFuture<'_, R> {
    /// Switches to the fiber with its state installed, and back with the
    /// poller's state restored (also if the fiber panics or is cancelled).
    fn run_fiber<T>(&mut self, cx: *mut Context<'static>, go: impl FnOnce(&mut Self) -> T) -> T {
        struct Restore<'s, 'a, R> {
            fut: &'s mut FiberFuture<'a, R>,
            poller_store: *const VMStoreContext,
            poller_fc: FiberContext,
        }
        impl<R> Drop for Restore<'_, '_, R> {
            fn drop(&mut self) {
                // Take the fiber's state back and reinstall the poller's.
                self.fut.fiber_current_store = current_store();
                set_current_store(self.poller_store);
                set_fiber_context(self.poller_fc);
                // SAFETY: see `on_fiber`: the store is ours again.
                let ctx = unsafe { &*(*self.fut.store).vm_store_ctx };
                // The fiber may have stopped with another record running
                // on it (a host call made from a continuation runs under a
                // record of its own): it runs again when the fiber resumes.
                self.fut.running.set(ctx.current_stack.get());
                ctx.current_stack.set(self.fut.shared.record.parent.get());
                self.fut.shared.record.parent.set(std::ptr::null_mut());
            }
        }
        let poller_store = current_store();
        let poller_fc = fiber_context();
        // SAFETY: see `on_fiber`.
        let ctx = unsafe { &*(*self.store).vm_store_ctx };
        self.shared.record.parent.set(ctx.current_stack.get());
        let record: *const VMStackRecord = &self.shared.record;
        let running = self.running.get();
        ctx.current_stack.set(if running.is_null() {
            record.cast_mut()
        } else {
            running
        });
        set_current_store(self.fiber_current_store);
        set_fiber_context(FiberContext {
            suspend: &self.shared.suspend,
            cx,
        });
        let guard = Restore {
            fut: self,
            poller_store,
            poller_fc,
        };
        go(guard.fut)
    }
}

impl<R> Future for FiberFuture<'_, R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        // SAFETY: nothing is moved out of the future: it stays where it
        // is (pinned), which is what the fiber's pointer into `shared`
        // needs.
        let this = unsafe { self.get_unchecked_mut() };
        // Erase the lifetime: the pointer is only used during this poll.
        let cx: *mut Context<'static> = (cx as *mut Context<'_>).cast();
        let done = this.run_fiber(cx, |this| {
            let fiber = this
                .fiber
                .as_mut()
                .expect("FiberFuture polled after completion");
            fiber
                .resume(&this.shared as *const Shared<R> as usize)
                .is_ok()
        });
        if done {
            let stack = this.fiber.take().and_then(|mut f| f.take_finished_stack());
            // SAFETY: the future holds the store's exclusive borrow, and
            // the fiber that used it is gone.
            let store = unsafe { &mut *this.store };
            if store.async_stack.is_none() {
                store.async_stack = stack;
            }
            Poll::Ready(
                this.shared
                    .result
                    .take()
                    .expect("fiber finished without a result"),
            )
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
    fiber_context().suspend().is_some()
}

/// Suspends the current fiber once, returning to its poller (which
/// returns `Poll::Pending`).
///
/// # Errors
/// When not running on a fiber.
pub(crate) fn suspend_once() -> Result<()> {
    let suspend = fiber_context().suspend();
    let suspend = suspend.ok_or_else(|| anyhow!("not running on a fiber: use call_async"))?;
    // SAFETY: the Suspend belongs to the fiber we are running on, which
    // is alive (we are on it).
    unsafe { (*suspend).suspend(()) };
    Ok(())
}

/// Polls `fut` to completion from code running on a fiber, suspending the
/// fiber whenever it is pending.
pub(crate) fn block_on<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> Result<F::Output> {
    loop {
        let fc = Some(fiber_context()).filter(|fc| fc.suspend().is_some() && !fc.cx.is_null());
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
    let fc = fiber_context();
    if !fc.cx.is_null() {
        // SAFETY: as in `block_on`.
        unsafe { (*fc.cx).waker().wake_by_ref() };
    }
}
