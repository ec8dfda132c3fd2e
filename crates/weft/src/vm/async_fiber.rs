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
//! The fiber is a [`Worker`]: it runs one call after another, and a store
//! keeps its idle worker for its next async call, so a call costs the
//! switches and nothing else (no fiber or stack set-up, no allocation of
//! weft's own; the diagram at [`Worker`]).
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

/// A worker fiber's `Suspend`: resumed with a [`Job`], stops with a
/// [`Stop`], never returns.
type WeftSuspend = Suspend<Job, Stop, ()>;

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

/// What a job and its poller share: written on one side of a switch, read
/// on the other, never at the same time. Lives in the pinned
/// [`FiberFuture`].
struct Shared<F, R> {
    /// The worker's `Suspend`, set by the job when it starts.
    suspend: Cell<*const WeftSuspend>,
    /// The computation, until the job starts.
    func: Cell<Option<F>>,
    store: *mut StoreOpaque,
    /// The computation's result (or panic), parked when it finishes.
    result: Cell<Option<std::thread::Result<R>>>,
}

/// What a worker fiber is resumed with: the next job to run (its
/// type-erased `run_job::<F, R>` and `Shared`), [`Job::CONTINUE`] for
/// the job that suspended, or [`Job::QUIT`] for an idle worker that is
/// dropped.
#[derive(Clone, Copy)]
struct Job {
    run: Option<unsafe fn(*const u8, &WeftSuspend)>,
    data: *const u8,
    quit: bool,
}

impl Job {
    const CONTINUE: Job = Job {
        run: None,
        data: std::ptr::null(),
        quit: false,
    };
    const QUIT: Job = Job {
        run: None,
        data: std::ptr::null(),
        quit: true,
    };
}

/// Why a worker fiber switched back to its poller.
enum Stop {
    /// The job waits for a host future (`block_on`, `suspend_once`).
    Pending,
    /// The job finished; the worker waits for the next one.
    Done,
}

/// A fiber that runs one job after another: each `call_async` (and
/// `instantiate_async`) takes the store's idle worker, or makes one, and
/// gives it back when its job finishes. A call then costs two switches
/// and no fiber set-up: no allocation, no fresh stack frames.
///
/// ```text
///   worker fiber                          poller (FiberFuture::poll)
///   loop {                                 resume(Job { run_job::<F, R>, &shared })
///     run(job)  -> f(store) ... wasm ...
///        block_on: suspend(Pending) ---->  Poll::Pending
///                                <-------  resume(Job::CONTINUE) (next poll)
///        result parked in shared
///     job = suspend(Done)        ------->  Poll::Ready(result); worker back
///   }                                      to the store
/// ```
pub(crate) struct Worker {
    /// `None` only while a cancelled worker is being dropped (its fiber
    /// goes first, with the fiber's state installed; the record after).
    fiber: Option<Fiber<'static, Job, Stop, ()>>,
    /// The fiber stack's record (boxed: the store context and generated
    /// code point at it while a job runs).
    record: Box<VMStackRecord>,
    /// Whether the fiber has run (so that, idle, it waits in its loop).
    started: bool,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // An idle worker waits in its loop: let the loop return, which
        // ends the fiber in one switch (dropping it suspended would
        // cancel it, a full unwind). A cancelled worker's fiber is
        // already gone, an unstarted one holds only its closure.
        if let Some(fiber) = self.fiber.as_mut()
            && self.started
            && !fiber.done()
        {
            let _ = fiber.resume(Job::QUIT);
        }
    }
}

// SAFETY: an idle worker's only frame is its loop, which holds nothing
// (no thread-bound data); a busy one belongs to a `FiberFuture`, whose
// `Send` reasoning covers it. weft-fiber's "not Send" is about what a
// fiber's frames may hold.
unsafe impl Send for Worker {}

impl Worker {
    fn new(store: &StoreOpaque) -> Result<Worker> {
        let stack = store.engine.async_stacks()?.get()?;
        let range = stack.range();
        let reserve = store.engine.config().host_stack_reserve;
        let record = Box::new(VMStackRecord::new(range.start, range.end, reserve));
        record.kind.set(weft_environ::stack_record::KIND_FIBER);
        let fiber = Fiber::new(stack, |mut job: Job, suspend: &WeftSuspend| {
            while !job.quit {
                if let Some(run) = job.run {
                    // SAFETY: the poller passes a job's own run function
                    // with its `Shared`, which the pinned future keeps
                    // alive until the job has finished.
                    unsafe { run(job.data, suspend) };
                }
                job = suspend.suspend(Stop::Done);
            }
        })
        .map_err(|e| anyhow!("cannot create a fiber: {e}"))?;
        Ok(Worker {
            fiber: Some(fiber),
            record,
            started: false,
        })
    }
}

/// Runs one job on its worker: `f(store)`, with the outcome parked in
/// `Shared::result` (a panic too, re-raised by the poller; a cancellation
/// unwinds on, out of the worker).
///
/// # Safety
///
/// `data` is the `Shared<F, R>` of a pinned [`FiberFuture`], alive until
/// this returns or unwinds; called once per future, on its worker.
unsafe fn run_job<F: FnOnce(&mut StoreOpaque) -> R, R>(data: *const u8, suspend: &WeftSuspend) {
    // SAFETY: contract.
    let shared = unsafe { &*data.cast::<Shared<F, R>>() };
    // `block_on` finds it through the poller's FiberContext, which points
    // at this cell.
    shared.suspend.set(suspend);
    let f = shared.func.take().expect("a job runs once");
    // SAFETY: the poller holds the store's exclusive borrow for as long as
    // the future exists and never uses the store while the job runs.
    let store = unsafe { &mut *shared.store };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store)));
    let out = match out {
        Err(p) if p.is::<weft_fiber::Cancelled>() => std::panic::resume_unwind(p),
        other => other,
    };
    shared.suspend.set(std::ptr::null());
    shared.result.set(Some(out));
}

/// A computation on a fiber (a [`Worker`]), driven by polling.
///
/// Not `Unpin`: the worker points into `shared` from the first poll on,
/// so the future must stay where it was first polled; before that it may
/// move freely, as nothing points at it yet.
pub(crate) struct FiberFuture<'a, F, R> {
    /// The worker, until the job finishes; dropped (cancelling a
    /// suspended job) in `Drop`, before `shared`.
    worker: Option<Worker>,
    /// Whether the job was handed to the worker (first poll).
    started: bool,
    /// The fiber's current store while it is suspended (see
    /// `traphandlers::current_store`).
    fiber_current_store: *const VMStoreContext,
    /// The record that was running on the fiber when it last stopped
    /// (null before the first resume): the worker's own record, or the
    /// record of a host call made from a continuation on it.
    running: std::cell::Cell<*mut VMStackRecord>,
    shared: Shared<F, R>,
    _borrow: std::marker::PhantomData<&'a mut StoreOpaque>,
    _pinned: std::marker::PhantomPinned,
}

// SAFETY: a `FiberFuture` owns its worker's stack and everything on it.
// The closure that runs there is `Send` (required by `on_fiber`), and so
// is the store it borrows (`StoreOpaque` is `Send`; `Store<T>` needs
// `T: Send` to be borrowed from another thread at all), and the result
// type. Everything the fiber keeps about "where it runs" lives in its
// record and is reinstalled on the polling thread by each poll (module
// docs); the thread-locals it reads are never cached across a switch
// (their accessors are never inlined). So moving a suspended fiber with
// its future to another thread and resuming it there is sound.
unsafe impl<F: Send, R: Send> Send for FiberFuture<'_, F, R> {}

/// Runs `f` on a fiber (the store's idle worker, or a new one) when the
/// returned future is polled.
pub(crate) fn on_fiber<'a, R: Send + 'a, F: FnOnce(&mut StoreOpaque) -> R + Send + 'a>(
    store: &'a mut StoreOpaque,
    f: F,
) -> Result<FiberFuture<'a, F, R>> {
    if !store.engine.config().async_support {
        bail!("async support is not enabled: use Config::async_support(true)");
    }
    let worker = match store.async_worker.take() {
        Some(w) => w,
        None => Worker::new(store)?,
    };
    Ok(FiberFuture {
        worker: Some(worker),
        started: false,
        fiber_current_store: std::ptr::null(),
        running: std::cell::Cell::new(std::ptr::null_mut()),
        shared: Shared {
            suspend: Cell::new(std::ptr::null()),
            func: Cell::new(Some(f)),
            store: store as *mut StoreOpaque,
            result: Cell::new(None),
        },
        _borrow: std::marker::PhantomData,
        _pinned: std::marker::PhantomPinned,
    })
}

impl<F, R> FiberFuture<'_, F, R> {
    /// Switches to the worker with its state installed, and back with the
    /// poller's state restored (also if the fiber panics or is cancelled).
    fn run_fiber<T>(&mut self, cx: *mut Context<'static>, go: impl FnOnce(&mut Self) -> T) -> T {
        struct Restore<'s, 'a, F, R> {
            fut: &'s mut FiberFuture<'a, F, R>,
            record: *const VMStackRecord,
            poller_store: *const VMStoreContext,
            poller_fc: FiberContext,
        }
        impl<F, R> Drop for Restore<'_, '_, F, R> {
            fn drop(&mut self) {
                // Take the fiber's state back and reinstall the poller's.
                self.fut.fiber_current_store = current_store();
                set_current_store(self.poller_store);
                set_fiber_context(self.poller_fc);
                // SAFETY: see `on_fiber`: the store is ours again.
                let ctx = unsafe { &*(*self.fut.shared.store).vm_store_ctx };
                // The fiber may have stopped with another record running
                // on it (a host call made from a continuation runs under a
                // record of its own): it runs again when the fiber resumes.
                self.fut.running.set(ctx.current_stack.get());
                // SAFETY: the worker's boxed record, alive while the
                // worker is (the worker may be gone by now: it is dropped
                // only after this guard, see `Drop`).
                let record = unsafe { &*self.record };
                ctx.current_stack.set(record.parent.get());
                record.parent.set(std::ptr::null_mut());
            }
        }
        let poller_store = current_store();
        let poller_fc = fiber_context();
        let record: *const VMStackRecord = &*self
            .worker
            .as_ref()
            .expect("FiberFuture polled after completion")
            .record;
        // SAFETY: see `on_fiber`.
        let ctx = unsafe { &*(*self.shared.store).vm_store_ctx };
        // SAFETY: the worker's record (above).
        unsafe { (*record).parent.set(ctx.current_stack.get()) };
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
            record,
            poller_store,
            poller_fc,
        };
        go(guard.fut)
    }
}

impl<F: FnOnce(&mut StoreOpaque) -> R, R> Future for FiberFuture<'_, F, R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        // SAFETY: nothing is moved out of the future: it stays where it
        // is (pinned), which is what the worker's pointer into `shared`
        // needs.
        let this = unsafe { self.get_unchecked_mut() };
        // Erase the lifetime: the pointer is only used during this poll.
        let cx: *mut Context<'static> = (cx as *mut Context<'_>).cast();
        let job = if this.started {
            Job::CONTINUE
        } else {
            this.started = true;
            Job {
                run: Some(run_job::<F, R>),
                data: (&this.shared as *const Shared<F, R>).cast::<u8>(),
                quit: false,
            }
        };
        let stop = this.run_fiber(cx, |this| {
            let worker = this
                .worker
                .as_mut()
                .expect("FiberFuture polled after completion");
            worker.started = true;
            let fiber = worker.fiber.as_mut().expect("a live worker has its fiber");
            fiber.resume(job)
        });
        match stop {
            Err(Stop::Pending) => Poll::Pending,
            Err(Stop::Done) => {
                let worker = this.worker.take();
                // SAFETY: the future holds the store's exclusive borrow,
                // and the job that used it has finished.
                let store = unsafe { &mut *this.shared.store };
                if store.async_worker.is_none() {
                    store.async_worker = worker;
                }
                match this
                    .shared
                    .result
                    .take()
                    .expect("job finished without a result")
                {
                    Ok(r) => Poll::Ready(r),
                    Err(payload) => std::panic::resume_unwind(payload),
                }
            }
            Ok(()) => unreachable!("a worker fiber returns only when it is told to quit"),
        }
    }
}

impl<F, R> Drop for FiberFuture<'_, F, R> {
    fn drop(&mut self) {
        if self.worker.is_none() {
            return;
        }
        if self.started {
            // The job waits for a host future: cancelling runs its
            // destructors on the fiber, which gets its state while it
            // does; the worker ends with it.
            self.run_fiber(std::ptr::null_mut(), |this| {
                // Unwinds the job and the worker's loop, and the stack
                // goes back to the pool; the record is dropped after the
                // poller's state is back.
                if let Some(w) = this.worker.as_mut() {
                    w.fiber = None;
                }
            });
            self.worker = None;
        } else {
            // Never polled: the worker is idle; give it back.
            // SAFETY: the future holds the store's exclusive borrow.
            let store = unsafe { &mut *self.shared.store };
            if store.async_worker.is_none() {
                store.async_worker = self.worker.take();
            }
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
    // The next poll resumes with `Job::CONTINUE`.
    let _ = unsafe { (*suspend).suspend(Stop::Pending) };
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
