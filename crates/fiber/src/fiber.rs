//! [`Fiber`]: a closure running on its own [`Stack`], suspended and
//! resumed with values flowing both ways.
//!
//! ## States
//!
//! ```text
//!              resume(v)               suspend(y) / resume -> Err(y)
//!   NotStarted ---------> Running <-----------------------------> Suspended
//!        |                   |          resume(v) / suspend -> v      |
//!        | drop              | closure returns: resume -> Ok(r)       | drop: cancel
//!        v                   | closure panics: resume re-panics       | (unwind the fiber,
//!   (closure dropped,        v                                        |  see below)
//!    never run)            Done  <------------------------------------+
//! ```
//!
//! The stack is released (dropped: back to its pool, or unmapped) as soon
//! as the fiber is `Done`, not when the `Fiber` value is dropped.
//!
//! ## Values
//!
//! The two sides share one heap-allocated `Shared` record (allocated by
//! [`Fiber::new`]); a value crossing a switch is parked in its `transfer`
//! cell by one side and taken by the other right after the switch. Nothing
//! is copied through registers or the stack header.
//!
//! ## Panics
//!
//! The closure runs inside `catch_unwind` on the fiber's stack. A panic is
//! caught there, the payload is parked like a return value, the fiber
//! switches back and is `Done`, and [`Fiber::resume`] re-raises it with
//! [`std::panic::resume_unwind`] on the resumer's stack. No unwind ever
//! crosses the assembly frames (they have no unwind actions, and the entry
//! function is `extern "C"`, which aborts rather than unwind).
//!
//! ## Dropping a suspended fiber: cancellation
//!
//! Dropping a `Fiber` that is suspended inside [`Suspend::suspend`]
//! resumes it once more with a *cancel* signal instead of a value: that
//! `suspend` call does not return but unwinds with a [`Cancelled`] payload
//! (`resume_unwind`: no panic hook, no message). The unwind runs the
//! destructors of everything the fiber's frames own (the closure's
//! captures, locals, guards), is caught by the fiber's `catch_unwind`, and
//! the fiber finishes; `drop` swallows the `Cancelled` payload and releases
//! the stack. No code other than drop glue runs on the fiber, and nothing
//! the fiber owned leaks. This is chosen over abandoning the stack (free
//! it without unwinding) because abandonment leaks every heap allocation
//! owned by the fiber's frames and skips `Drop` side effects (unlocking,
//! flushing, decrementing counters) that the rest of the program may wait
//! for.
//!
//! Consequences the code running on a fiber must respect:
//!
//! * Frames between `suspend` and the fiber's entry must be unwindable by
//!   Rust: frames of generated (JIT) code without registered unwind info
//!   must not be unwound through. An engine that suspends from a host
//!   function called by wasm catches the `Cancelled` payload at its
//!   host-call boundary (as it catches any panic there), turns it into a
//!   trap that unwinds the wasm frames its own way, and re-raises it (or
//!   simply returns) once back in Rust on the fiber.
//! * Code that catches panics on the fiber (`catch_unwind`) may see a
//!   [`Cancelled`] payload and should re-raise it. If it does not, every
//!   later `suspend` on that fiber unwinds again immediately (it never
//!   switches back to the dropper), and if the closure finally returns
//!   normally its return value is dropped. A panic other than `Cancelled`
//!   that ends the fiber during cancellation is re-raised from `drop`,
//!   unless the dropping thread is already panicking.
//! * A fiber that was never resumed has not started: dropping it drops the
//!   closure (and its captures) without running anything on the stack.
//!
//! With `panic = "abort"` nothing can unwind: dropping a suspended fiber
//! then releases the stack without running the fiber's destructors
//! (whatever its frames owned is leaked; the stack itself is not).
//!
//! `std::mem::forget` on a suspended fiber leaks its stack and captures
//! but is sound: the fiber can never run again.

use crate::arch;
use crate::{Error, Stack};
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

/// The payload a suspended fiber unwinds with when its [`Fiber`] is
/// dropped (see the [module docs](self)). Code that catches panics on a
/// fiber should re-raise it: `std::panic::resume_unwind(payload)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Created, closure not called yet.
    NotStarted,
    /// On the CPU (switched to and not yet back).
    Running,
    /// Waiting inside `Suspend::suspend`.
    Suspended,
    /// The closure returned or panicked; the stack is released.
    Done,
}

/// What crosses a switch, parked in [`Shared::transfer`].
enum Transfer<Resume, Yield, Return> {
    /// Nothing in flight.
    Idle,
    /// Resumer -> fiber: a value for the closure (first resume) or for
    /// `suspend` to return.
    Resume(Resume),
    /// Resumer -> fiber: unwind with `Cancelled` (the `Fiber` is dropped).
    Cancel,
    /// Fiber -> resumer: `suspend(value)`.
    Yield(Yield),
    /// Fiber -> resumer: the closure returned.
    Return(Return),
    /// Fiber -> resumer: the closure panicked (or was cancelled).
    Panicked(Box<dyn Any + Send + 'static>),
}

/// State shared by the two sides of a fiber; one heap allocation per fiber,
/// owned by the [`Fiber`]. Both sides only ever use `&Shared`.
struct Shared<Resume, Yield, Return> {
    /// The switch slot in the stack header (see `arch`).
    slot: *mut usize,
    state: Cell<State>,
    /// Set once the `Fiber` is being dropped: `suspend` unwinds from then on.
    cancelled: Cell<bool>,
    transfer: Cell<Transfer<Resume, Yield, Return>>,
    /// The closure `F` until the fiber starts (then null): a pointer into
    /// `inline` when `F` fits there ([`fits_inline`]), else a `Box<F>`.
    func: Cell<*mut u8>,
    /// Drops the closure in `func` if the fiber never starts.
    drop_func: unsafe fn(*mut u8),
    /// Room for a small closure, so that a fiber costs one allocation.
    inline: UnsafeCell<InlineFunc>,
    stack_range: Range<usize>,
    guard_range: Range<usize>,
}

impl<Resume, Yield, Return> Shared<Resume, Yield, Return> {
    /// On the fiber, right after a switch in: the value to continue with,
    /// or unwind with `Cancelled`.
    fn take_resume(&self) -> Resume {
        match self.transfer.replace(Transfer::Idle) {
            Transfer::Resume(v) => v,
            Transfer::Cancel => panic::resume_unwind(Box::new(Cancelled)),
            _ => unreachable!("weft-fiber: fiber resumed without a value"),
        }
    }
}

/// The handle a fiber's closure uses to suspend itself. Only ever lent to
/// the closure (`&Suspend`); not `Send`, not `Sync`.
pub struct Suspend<Resume, Yield, Return> {
    shared: NonNull<Shared<Resume, Yield, Return>>,
}

impl<Resume, Yield, Return> std::fmt::Debug for Suspend<Resume, Yield, Return> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suspend")
            .field("stack_range", &self.stack_range())
            .finish()
    }
}

impl<Resume, Yield, Return> Suspend<Resume, Yield, Return> {
    fn shared(&self) -> &Shared<Resume, Yield, Return> {
        // SAFETY: a `Suspend` only exists inside the fiber's entry frame,
        // which runs only while the owning `Fiber` (and so the `Shared`
        // allocation) is alive: the fiber runs only from `resume` or `drop`.
        unsafe { self.shared.as_ref() }
    }

    /// Suspends the fiber: `value` becomes `Err(value)` of the
    /// [`Fiber::resume`] call that ran the fiber, and this call returns the
    /// value passed to the next `resume`.
    ///
    /// If the `Fiber` is dropped instead of resumed, this call does not
    /// return: it unwinds with a [`Cancelled`] payload (see the
    /// [module docs](self)); so does any later call.
    pub fn suspend(&self, value: Yield) -> Resume {
        let shared = self.shared();
        if shared.cancelled.get() {
            drop(value);
            panic::resume_unwind(Box::new(Cancelled));
        }
        shared.transfer.set(Transfer::Yield(value));
        // SAFETY: we are running on the fiber, so the slot holds the frame
        // of the resumer waiting in its own switch through this slot.
        unsafe { arch::switch(shared.slot) };
        shared.take_resume()
    }

    /// The usable range of the stack this fiber runs on (see
    /// [`Stack::range`]).
    pub fn stack_range(&self) -> Range<usize> {
        self.shared().stack_range.clone()
    }

    /// The guard page of the stack this fiber runs on (see
    /// [`Stack::guard_range`]).
    pub fn guard_range(&self) -> Range<usize> {
        self.shared().guard_range.clone()
    }
}

/// A closure running on its own [`Stack`]. See the [module docs](self).
///
/// `Resume` values go into the fiber (the closure's first argument, then
/// the results of [`Suspend::suspend`]); `Yield` values come out of
/// `suspend` as `Err` from [`Fiber::resume`]; the closure's `Return` value
/// comes out as `Ok`.
///
/// Not `Send`: a fiber runs on the thread that created it (its frames may
/// hold thread-bound data, and thread-locals read on it are the thread's).
pub struct Fiber<'a, Resume, Yield, Return> {
    shared: NonNull<Shared<Resume, Yield, Return>>,
    /// `Some` until the fiber is done.
    stack: Option<Stack>,
    /// The stack once the fiber is done, until [`Fiber::take_finished_stack`]
    /// takes it or the fiber is dropped (which releases it).
    finished: Option<Stack>,
    /// The closure borrows for `'a`; we own a `Shared` (for drop check);
    /// `*mut ()` makes the fiber neither `Send` nor `Sync`.
    _marker: PhantomData<(&'a (), Box<Shared<Resume, Yield, Return>>, *mut ())>,
}

impl<Resume, Yield, Return> std::fmt::Debug for Fiber<'_, Resume, Yield, Return> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fiber")
            .field("state", &self.shared().state.get())
            .field("stack", &self.stack)
            .finish()
    }
}

/// Frees a fiber's `Shared`.
///
/// # Safety
///
/// `p` must be the `Box::into_raw` of `Fiber::new`, used by nothing else.
unsafe fn free_shared<Resume, Yield, Return>(p: *mut u8) {
    // SAFETY: forwarded to the caller.
    drop(unsafe { Box::from_raw(p.cast::<Shared<Resume, Yield, Return>>()) });
}

/// Bytes a fiber's closure may take to be kept in its `Shared` instead of
/// a box of its own.
const INLINE_FUNC: usize = 128;

#[repr(C, align(16))]
struct InlineFunc(std::mem::MaybeUninit<[u8; INLINE_FUNC]>);

/// Whether a closure of type `F` is kept in `Shared::inline`.
const fn fits_inline<F>() -> bool {
    size_of::<F>() <= INLINE_FUNC && align_of::<F>() <= align_of::<InlineFunc>()
}

/// Drops the closure `F` that `Fiber::new` stored at `p`.
///
/// # Safety
///
/// `p` must be the `func` pointer `Fiber::new::<F>` stored (in `inline`
/// or from `Box::<F>::into_raw`), its closure not yet taken or dropped.
unsafe fn drop_func<F>(p: *mut u8) {
    if fits_inline::<F>() {
        // SAFETY: (contract) a live `F` written in place by `new`.
        unsafe { ptr::drop_in_place(p.cast::<F>()) };
    } else {
        // SAFETY: (contract) the `Box<F>` made by `new`.
        drop(unsafe { Box::from_raw(p.cast::<F>()) });
    }
}

/// Moves the closure `F` that `Fiber::new` stored at `p` out.
///
/// # Safety
///
/// As [`drop_func`]; the closure is taken exactly once.
unsafe fn take_func<F>(p: *mut u8) -> F {
    if fits_inline::<F>() {
        // SAFETY: (contract) a live `F` written in place by `new`, read
        // once (its slot is not used again).
        unsafe { ptr::read(p.cast::<F>()) }
    } else {
        // SAFETY: (contract) the `Box<F>` made by `new`.
        *unsafe { Box::from_raw(p.cast::<F>()) }
    }
}

/// The first Rust frame on every fiber stack, called by the arch
/// trampoline with the `Shared` pointer. Runs the closure, parks its
/// outcome, switches back for the last time.
///
/// # Safety
///
/// Only called through the trampoline of a stack set up by `Fiber::new`
/// with `arg` = its `Shared<Resume, Yield, Return>` and `F` the type of the
/// boxed closure in it.
unsafe extern "C" fn fiber_entry<F, Resume, Yield, Return>(arg: *mut u8) -> !
where
    F: FnOnce(Resume, &Suspend<Resume, Yield, Return>) -> Return,
{
    let shared_ptr = arg.cast::<Shared<Resume, Yield, Return>>();
    let slot = {
        // SAFETY: `arg` is the live `Shared` of our fiber (contract above);
        // it lives while the fiber runs, which is all this reference does.
        let shared = unsafe { &*shared_ptr };
        let func = shared.func.replace(ptr::null_mut());
        // SAFETY: `func` is the closure stored by `Fiber::new::<F>`, taken
        // out exactly once (here; the cell is null from now on).
        let func = unsafe { take_func::<F>(func) };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let initial = shared.take_resume();
            let suspend = Suspend {
                shared: NonNull::from(shared),
            };
            func(initial, &suspend)
        }));
        shared.transfer.set(match outcome {
            Ok(ret) => Transfer::Return(ret),
            Err(payload) => Transfer::Panicked(payload),
        });
        shared.slot
        // Everything this frame owned is dropped here: the frame is
        // abandoned after the switch below.
    };
    // SAFETY: the slot holds the resumer waiting in its switch. It sees
    // Return/Panicked, marks the fiber done and never switches back.
    unsafe { arch::switch(slot) };
    // Unreachable: nothing resumes a finished fiber.
    std::process::abort()
}

impl<'a, Resume, Yield, Return> Fiber<'a, Resume, Yield, Return> {
    /// Creates a fiber that runs `func` on `stack` at the first
    /// [`resume`](Fiber::resume). The stack is released when the fiber is
    /// dropped, unless [`Fiber::take_finished_stack`] took it back first.
    ///
    /// Fails with [`Error::UnsupportedArchitecture`] on architectures
    /// without a stack-switch port (everything but x86_64 for now).
    pub fn new<F>(stack: Stack, func: F) -> Result<Self, Error>
    where
        F: FnOnce(Resume, &Suspend<Resume, Yield, Return>) -> Return + 'a,
    {
        if !arch::SUPPORTED {
            return Err(Error::UnsupportedArchitecture {
                arch: std::env::consts::ARCH,
            });
        }
        assert!(stack.size() > arch::RESERVED_TOP);
        let shared = Box::into_raw(Box::new(Shared {
            slot: ptr::null_mut(),
            state: Cell::new(State::NotStarted),
            cancelled: Cell::new(false),
            transfer: Cell::new(Transfer::Idle),
            func: Cell::new(ptr::null_mut()),
            drop_func: drop_func::<F>,
            inline: UnsafeCell::new(InlineFunc(std::mem::MaybeUninit::uninit())),
            stack_range: stack.range(),
            guard_range: stack.guard_range(),
        }));
        let func_ptr = if fits_inline::<F>() {
            // SAFETY: `inline` of the allocation just made, which nothing
            // else uses; it is large and aligned enough for `F`.
            unsafe {
                let at = (*shared).inline.get().cast::<F>();
                ptr::write(at, func);
                at.cast::<u8>()
            }
        } else {
            Box::into_raw(Box::new(func)).cast::<u8>()
        };
        // SAFETY: as above.
        unsafe { (*shared).func.set(func_ptr) };
        let entry: arch::EntryFn = fiber_entry::<F, Resume, Yield, Return>;
        // SAFETY: `stack.top()` is the page-aligned top of a writable stack
        // of at least one page that nothing runs on (we own it).
        let slot = unsafe { arch::init_stack(stack.top(), entry, shared.cast::<u8>()) };
        // SAFETY: `shared` is the allocation made above, not shared yet.
        unsafe { (*shared).slot = slot };
        Ok(Fiber {
            // SAFETY: `Box::into_raw` never returns null.
            shared: unsafe { NonNull::new_unchecked(shared) },
            stack: Some(stack),
            finished: None,
            _marker: PhantomData,
        })
    }

    fn shared(&self) -> &Shared<Resume, Yield, Return> {
        // SAFETY: the allocation lives until `drop` frees it.
        unsafe { self.shared.as_ref() }
    }

    /// Runs the fiber until it suspends (`Err(yielded)`) or finishes
    /// (`Ok(returned)`). The first call passes `value` as the closure's
    /// first argument; later calls make the pending [`Suspend::suspend`]
    /// return it.
    ///
    /// If the closure panics, the panic is re-raised here (the fiber is
    /// then done).
    ///
    /// # Panics
    ///
    /// If the fiber is already done (its closure returned or panicked).
    pub fn resume(&mut self, value: Resume) -> Result<Return, Yield> {
        match self.shared().state.get() {
            State::NotStarted | State::Suspended => {}
            State::Done => panic!("weft-fiber: resumed a fiber that has finished"),
            State::Running => panic!("weft-fiber: resumed a fiber that is running"),
        }
        self.shared().transfer.set(Transfer::Resume(value));
        match self.switch_in() {
            Transfer::Yield(y) => Err(y),
            Transfer::Return(r) => Ok(r),
            Transfer::Panicked(payload) => panic::resume_unwind(payload),
            _ => unreachable!("weft-fiber: fiber switched back without a value"),
        }
    }

    /// Switches to the fiber (a `Resume` or `Cancel` is parked), and
    /// returns what it parked when it switched back, with the state
    /// updated and the stack released if it finished.
    fn switch_in(&mut self) -> Transfer<Resume, Yield, Return> {
        let shared = self.shared();
        shared.state.set(State::Running);
        // SAFETY: the fiber is NotStarted (slot = initial frame) or
        // Suspended (slot = its frame in `suspend`), and its stack is alive
        // (we own it). It only switches back through the same slot.
        unsafe { arch::switch(shared.slot) };
        let got = shared.transfer.replace(Transfer::Idle);
        if let Transfer::Yield(_) = got {
            shared.state.set(State::Suspended);
        } else {
            shared.state.set(State::Done);
            // The fiber's frames are gone: its stack is free for reuse
            // (`take_finished_stack`), or released with the fiber.
            self.finished = self.stack.take();
        }
        got
    }

    /// Whether the closure has returned or panicked.
    pub fn done(&self) -> bool {
        self.shared().state.get() == State::Done
    }

    /// The stack the fiber runs on; `None` once it is done (the stack has
    /// been released). Use [`Stack::range`] / [`Stack::guard_range`] to
    /// set stack limits and recognise guard-page faults.
    pub fn stack(&self) -> Option<&Stack> {
        self.stack.as_ref()
    }

    /// Once the fiber is done: its stack, for another fiber (a caller that
    /// runs many short fibers keeps one stack instead of going through the
    /// pool each time). `None` while it runs or suspends, or if taken.
    pub fn take_finished_stack(&mut self) -> Option<Stack> {
        self.finished.take()
    }

    /// Cancels a suspended fiber (see the module docs). Returns a panic
    /// payload to re-raise, if the fiber ended with one other than
    /// `Cancelled`.
    fn cancel(&mut self) -> Option<Box<dyn Any + Send + 'static>> {
        if cfg!(panic = "unwind") {
            self.shared().cancelled.set(true);
            self.shared().transfer.set(Transfer::Cancel);
            match self.switch_in() {
                Transfer::Return(r) => drop(r),
                Transfer::Panicked(payload) if payload.is::<Cancelled>() => {}
                Transfer::Panicked(payload) => return Some(payload),
                // `suspend` never switches back once cancelled.
                _ => unreachable!("weft-fiber: cancelled fiber suspended"),
            }
        } else {
            // Cannot unwind: abandon the frames (their data leaks).
            self.shared().state.set(State::Done);
            self.stack = None;
        }
        None
    }
}

impl<Resume, Yield, Return> Drop for Fiber<'_, Resume, Yield, Return> {
    fn drop(&mut self) {
        let mut repanic = None;
        let mut unstarted = None;
        match self.shared().state.get() {
            State::NotStarted => {
                let shared = self.shared();
                unstarted = Some((shared.func.replace(ptr::null_mut()), shared.drop_func));
            }
            State::Suspended => repanic = self.cancel(),
            State::Done => {}
            State::Running => unreachable!("weft-fiber: dropped a running fiber"),
        }
        self.stack = None;
        self.finished = None;
        /// Frees the `Shared` even if the closure's destructor panics.
        struct Free(*mut u8, unsafe fn(*mut u8));
        impl Drop for Free {
            fn drop(&mut self) {
                // SAFETY: see below.
                unsafe { (self.1)(self.0) }
            }
        }
        let free = Free(
            self.shared.as_ptr().cast(),
            free_shared::<Resume, Yield, Return>,
        );
        // Before the `Shared` is freed: the closure may live inside it.
        if let Some((func, drop_func)) = unstarted {
            // SAFETY: a fiber that never started still held the closure
            // from `new` (taken out above, so dropped exactly once);
            // `drop_func` is `drop_func::<F>`.
            unsafe { drop_func(func) };
        }
        // `free` runs here (or while a panic of the closure's destructor
        // unwinds): the `Shared` was allocated by `Box::into_raw` in `new`;
        // the fiber is done or never started, so no frame on its stack
        // will use it again.
        drop(free);
        if let Some(payload) = repanic
            && !std::thread::panicking()
        {
            panic::resume_unwind(payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only meaningful where there is no switch routine: build with
    /// `RUSTFLAGS="--cfg weft_fiber_unsupported"` to exercise it on x86_64.
    #[test]
    fn new_fails_cleanly_without_a_switch_routine() {
        let stack = Stack::new(4096).unwrap();
        let result = Fiber::new(stack, |(), _s: &Suspend<(), (), ()>| ());
        if arch::SUPPORTED {
            assert!(result.is_ok());
            return;
        }
        let err = result.unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedArchitecture { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("not supported on this architecture"), "{msg}");
        assert!(msg.contains(std::env::consts::ARCH), "{msg}");
    }
}
