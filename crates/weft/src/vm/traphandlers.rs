//! Catching traps: signal handlers, the per-thread chain of active calls,
//! and the jump back to the nearest host entry.
//!
//! Generated code traps either by faulting (an out-of-bounds access hits a
//! guard region: SIGSEGV/SIGBUS; `ud2`: SIGILL; division by zero: SIGFPE)
//! or by calling into the runtime, which then calls [`unwind_to_entry`].
//! Both end in the same place: the innermost active [`catch_traps`] on this
//! thread returns `Err(TrapRecord)`.
//!
//! ## Active calls
//!
//! Every `catch_traps` pushes a `CallState` (on its own Rust stack frame)
//! onto a thread-local singly linked list, so host -> wasm -> host -> wasm
//! nests to any depth and a trap only unwinds the innermost call:
//!
//! ```text
//!   thread stack (grows down)                       thread-local HEAD
//!   +----------------------------------------+            |
//!   | catch_traps #1 frame                   |            |
//!   |   CallState #1 { prev: null, .. }  <---+-------+    |
//!   | weft_catch_traps_entry frame           |       |    |
//!   | generated code / host frames           |       |    |
//!   | catch_traps #2 frame                   |       |    |
//!   |   CallState #2 { prev: ----------------+-------+    |
//!   |                  jump_buf: {sp, fp},   |            |
//!   |                  trap: None }      <---+------------+
//!   | weft_catch_traps_entry frame           | <- jump_buf.sp/.fp
//!   | generated code (faults here)           |
//!   +----------------------------------------+
//! ```
//!
//! ## The signal path
//!
//! ```text
//!   fault at pc in generated code
//!     -> kernel delivers SIGSEGV/SIGBUS/SIGILL/SIGFPE on the thread's
//!        alternate signal stack (SA_ONSTACK)
//!     -> trap_handler: HEAD non-null and code_registry says `pc` traps?
//!          no:  chain to the previous handler (see below)
//!          yes: HEAD.trap = TrapRecord { trap, pc, fp: rbp, fault_addr, frames }
//!               rewrite the saved context:
//!                 rip = weft_trap_landing_pad
//!                 rsp = jump_buf.sp, rbp = jump_buf.fp, rdi = &jump_buf
//!               return from the handler
//!     -> sigreturn restores the rewritten context (and the signal mask)
//!     -> landing pad restores callee-saved registers, returns 1
//!     -> catch_traps pops its CallState and returns Err(record)
//! ```
//!
//! No `longjmp` leaves the handler: it always returns, so the kernel
//! restores the signal mask and the alternate-stack state itself.
//!
//! ## Is a signal ours?
//!
//! Only when this thread has an active `catch_traps` *and* the faulting PC
//! is a registered trap site ([`super::code_registry::lookup_trap_in_handler`]).
//! Anything else is forwarded to the handler that was installed before
//! [`init_traps`]: its `sa_sigaction`/`sa_handler` is called, or, if it was
//! `SIG_DFL`/`SIG_IGN`, it is reinstated and the handler returns, so the
//! faulting instruction runs again and the process dies the normal way
//! (a signal sent with `kill` is re-raised instead).
//!
//! ## Alternate signal stacks
//!
//! A stack overflow in generated code faults with rsp inside the guard
//! page, so the handler must run elsewhere. The first `catch_traps` on a
//! thread installs a 64 KiB alternate stack unless the thread already has
//! one at least that large, and frees it at thread exit:
//!
//! ```text
//!   mmap base                  base + 4 KiB                 base + 68 KiB
//!   +--------------------------+---------------------------------------+
//!   | guard page (PROT_NONE)   | usable signal stack (RW), grows down  |
//!   +--------------------------+---------------------------------------+
//!                              ^ ss_sp                                 ^ top
//! ```

use std::cell::{Cell, UnsafeCell};
use weft_environ::Trap;

/// What is known about a trap at the moment it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrapRecord {
    /// The trap code.
    pub trap: Trap,
    /// Program counter of the trapping instruction (or, for traps raised
    /// by the runtime, the PC the caller reports).
    pub pc: usize,
    /// Frame pointer at the trap, the start of a backtrace walk.
    pub fp: usize,
    /// The faulting data address, for SIGSEGV/SIGBUS.
    pub fault_addr: Option<usize>,
    /// Number of frame PCs the handler recorded in this thread's trap
    /// frame buffer (see [`take_trap_frames`]).
    pub frames: usize,
}

/// Most frames recorded for one trap's backtrace.
pub(crate) const MAX_TRAP_FRAMES: usize = 16 * 1024;

thread_local! {
    /// Frame PCs of the last trap on this thread, written by the signal
    /// handler (which must not allocate: the buffer is sized beforehand by
    /// `catch_traps`, outside the handler).
    static TRAP_FRAMES: UnsafeCell<Vec<usize>> = const { UnsafeCell::new(Vec::new()) };
}

/// The frame PCs recorded for the trap `record` (innermost first). Call
/// right after `catch_traps` returned it, before anything else can trap.
pub(crate) fn take_trap_frames(record: &TrapRecord) -> Vec<usize> {
    TRAP_FRAMES.with(|buf| {
        // SAFETY: the buffer is only touched by this thread, and no signal
        // handler runs while we are outside generated code.
        let buf = unsafe { &*buf.get() };
        buf[..record.frames.min(buf.len())].to_vec()
    })
}

/// The state `weft_catch_traps_entry` saves to resume its own frame.
/// Layout shared with the assembly: `sp` at +0, `fp` at +8.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct JumpBuf {
    sp: usize,
    fp: usize,
}

/// One active `catch_traps` call; lives in that call's stack frame.
struct CallState {
    /// Written by the assembly entry, read by the signal handler.
    jump_buf: UnsafeCell<JumpBuf>,
    /// The next outer active call, or null.
    prev: *const CallState,
    /// Set by the signal handler or `unwind_to_entry` before resuming at
    /// the landing pad.
    trap: Cell<Option<TrapRecord>>,
}

thread_local! {
    /// Innermost active call on this thread. `const`-initialised and
    /// without destructor, so reading it is a plain TLS load: safe in a
    /// signal handler.
    static HEAD: Cell<*const CallState> = const { Cell::new(std::ptr::null()) };
}

/// The per-thread state the trap handler relies on that belongs to the
/// stack currently running: the chain of active [`catch_traps`] calls and
/// the stack's bounds. Code that switches stacks (fibers) saves it before a
/// switch and restores it after, on both sides (DESIGN.md invariant 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StackTrapState {
    head: *const CallState,
    bounds: (usize, usize),
}

impl StackTrapState {
    /// The state of a fresh stack `[low, high)` with no active calls.
    pub(crate) fn fresh(low: usize, high: usize) -> StackTrapState {
        StackTrapState {
            head: std::ptr::null(),
            bounds: (low, high),
        }
    }
}

/// This thread's current [`StackTrapState`].
pub(crate) fn stack_trap_state() -> StackTrapState {
    StackTrapState {
        head: HEAD.get(),
        bounds: current_stack_bounds(),
    }
}

/// Installs `state` as this thread's current [`StackTrapState`].
pub(crate) fn set_stack_trap_state(state: StackTrapState) {
    HEAD.set(state.head);
    STACK_BOUNDS.set(state.bounds);
}

/// Whether this thread is inside at least one [`catch_traps`].
#[cfg_attr(not(test), allow(dead_code))] // exercised by tests; kept for fibers/continuations
pub(crate) fn in_catch_traps() -> bool {
    !HEAD.get().is_null()
}

/// Calls `callee(data)` and catches traps raised while it runs, on this
/// thread, by generated code registered in the code registry or by
/// [`unwind_to_entry`].
///
/// Installs the signal handlers ([`init_traps`]) and this thread's
/// alternate signal stack the first time.
///
/// # Safety
///
/// `callee` must be safe to call with `data`. It must not unwind (a
/// panic crossing its `extern "C"` boundary aborts anyway). A trap abandons
/// every frame between the entry and the trap without running destructors
/// or releasing locks: the frames there must be generated code, or host
/// code written to tolerate that.
///
/// # Panics
///
/// On architectures other than x86_64 (not yet ported).
pub(crate) unsafe fn catch_traps(
    callee: unsafe extern "C" fn(*mut u8),
    data: *mut u8,
) -> Result<(), TrapRecord> {
    #[cfg(target_arch = "x86_64")]
    {
        init_traps();
        alt_stack::ensure();
        // Cache the stack bounds outside the handler (it reads them).
        let _ = current_stack_bounds();
        TRAP_FRAMES.with(|buf| {
            // SAFETY: only this thread touches its buffer; no trap is being
            // handled right now (we are in ordinary Rust code).
            let buf = unsafe { &mut *buf.get() };
            if buf.len() < MAX_TRAP_FRAMES {
                buf.resize(MAX_TRAP_FRAMES, 0);
            }
        });
        let state = CallState {
            jump_buf: UnsafeCell::new(JumpBuf::default()),
            prev: HEAD.get(),
            trap: Cell::new(None),
        };
        HEAD.set(&state);
        // SAFETY: `callee(data)` is safe to call (our contract). The jump
        // buffer outlives the call. `state` stays in place until it is
        // unlinked below, so HEAD never dangles.
        let trapped = unsafe {
            super::entry_x86_64::weft_catch_traps_entry(callee, data, state.jump_buf.get())
        };
        HEAD.set(state.prev);
        match trapped {
            0 => Ok(()),
            _ => Err(state
                .trap
                .take()
                .expect("resumed at the trap landing pad without a trap record")),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (callee, data);
        panic!(
            "weft: catching traps is not implemented for {} (unsupported architecture)",
            std::env::consts::ARCH
        )
    }
}

/// Abandons every frame up to the innermost active [`catch_traps`] on this
/// thread, which then returns `Err(record)`. For traps detected by the
/// runtime outside a signal handler (e.g. a failed bounds check in a
/// builtin, or a host function error).
///
/// # Safety
///
/// Every frame between here and that `catch_traps` is discarded without
/// running destructors: the caller must own nothing there that needs
/// dropping (drop it first), and hold no locks.
///
/// # Panics
///
/// If this thread is not inside `catch_traps`.
#[cfg_attr(not(test), allow(dead_code))] // exercised by tests; kept for fibers/continuations
pub(crate) unsafe fn unwind_to_entry(record: TrapRecord) -> ! {
    let head = HEAD.get();
    assert!(
        !head.is_null(),
        "unwind_to_entry called outside of catch_traps"
    );
    // SAFETY: a non-null HEAD points to a live `CallState` in a frame
    // further up this thread's stack.
    let state = unsafe { &*head };
    state.trap.set(Some(record));
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the jump buffer was filled by the entry routine whose frame
    // is still live (its `catch_traps` has not returned, since it is
    // still linked); the caller accepts that the frames in between die.
    unsafe {
        super::entry_x86_64::weft_unwind_to(state.jump_buf.get())
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("catch_traps cannot be active on this architecture")
}

/// This thread's stack as `[low, high)`, as reported by
/// `pthread_getattr_np` (computed once per thread).
///
/// This is the thread's own stack, not a fiber or continuation stack the
/// thread may currently be running on.
pub(crate) fn current_stack_bounds() -> (usize, usize) {
    let cached = STACK_BOUNDS.get();
    if cached.1 != 0 {
        return cached;
    }
    let bounds = query_stack_bounds();
    STACK_BOUNDS.set(bounds);
    bounds
}

thread_local! {
    /// This thread's stack bounds once computed; `const`-initialised and
    /// without destructor, so the signal handler may read it.
    static STACK_BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// How far below the stack's low end a fault still counts as running off
/// the stack (a large frame can skip past the guard page).
const STACK_GUARD_SLACK: usize = 1 << 20;

/// Whether a fault at `addr` with stack pointer `sp` is this thread's stack
/// overflowing: the stack pointer is at the bottom of the stack, and the
/// address is at most [`STACK_GUARD_SLACK`] below the stack's low end (or
/// in its lowest page, where some runtimes put their own guard page) and
/// near the stack pointer. Signal-safe.
pub(crate) fn is_stack_overflow(addr: usize, sp: usize) -> bool {
    let (low, _) = STACK_BOUNDS.get();
    low != 0
        && sp < low + 64 * 1024
        && addr < low + 4096
        && addr >= low.saturating_sub(STACK_GUARD_SLACK)
        && addr.abs_diff(sp) < STACK_GUARD_SLACK
}

fn query_stack_bounds() -> (usize, usize) {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is valid for writes; on success it is initialised.
    let rc = unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
    assert_eq!(rc, 0, "pthread_getattr_np failed: error {rc}");
    let mut addr = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: `attr` was initialised by pthread_getattr_np; the out
    // pointers are valid.
    let rc = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: `attr` is initialised and destroyed exactly once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    assert_eq!(rc, 0, "pthread_attr_getstack failed: error {rc}");
    let low = addr as usize;
    (low, low + size)
}

/// Installs the process-wide trap signal handlers. Idempotent and cheap
/// after the first call. A no-op on architectures not yet ported.
pub(crate) fn init_traps() {
    #[cfg(target_arch = "x86_64")]
    {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            // SAFETY: runs once; see `signals::install`.
            unsafe { signals::install() }
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod signals {
    use super::{CallState, HEAD, TrapRecord};
    use crate::vm::code_registry::lookup_trap_in_handler;
    use crate::vm::entry_x86_64::weft_trap_landing_pad;
    use std::cell::UnsafeCell;
    use std::mem::MaybeUninit;

    /// The signals generated code traps with.
    const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

    /// The handlers that were installed before ours, indexed like
    /// `SIGNALS`. Each slot is written once, inside `install` and before
    /// our handler for that signal is installed; afterwards only read.
    struct PrevHandlers(UnsafeCell<[MaybeUninit<libc::sigaction>; 4]>);

    // SAFETY: see the type's docs: writes happen once, before any reader
    // (our handler) can run for that slot.
    unsafe impl Sync for PrevHandlers {}

    static PREV: PrevHandlers = PrevHandlers(UnsafeCell::new([MaybeUninit::uninit(); 4]));

    /// Installs `trap_handler` for every signal in `SIGNALS`.
    ///
    /// # Safety
    ///
    /// Must run at most once per process (guarded by `init_traps`'s `Once`).
    pub(super) unsafe fn install() {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: slot `i` is written only here, once, and read only
            // by our handler for `sig`, which is not installed yet.
            let slot = unsafe { (*PREV.0.get())[i].as_mut_ptr() };
            // SAFETY: querying the current action into valid memory.
            let rc = unsafe { libc::sigaction(sig, std::ptr::null(), slot) };
            assert_eq!(rc, 0, "sigaction({sig}) query failed");

            // SAFETY: an all-zero `sigaction` is a valid starting value.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = trap_handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: `sa_mask` is valid for writes.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: installs a handler that only does async-signal-safe
            // work (see `trap_handler`).
            let rc = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
            assert_eq!(
                rc,
                0,
                "failed to install the trap handler for signal {sig}: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// The handler for every signal in `SIGNALS`.
    ///
    /// Async-signal-safe: no allocation, no locks other than the code
    /// registry's non-blocking read.
    unsafe extern "C" fn trap_handler(
        signum: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes a valid siginfo and ucontext for an
        // SA_SIGINFO handler.
        if unsafe { redirect_to_landing_pad(signum, info, context) } {
            return;
        }
        // SAFETY: same arguments, forwarded unchanged.
        unsafe { chain(signum, info, context) }
    }

    /// If the signal is a trap of ours, records it and rewrites `context`
    /// to resume at the landing pad; returns whether it did.
    ///
    /// # Safety
    ///
    /// `info` and `context` must be the handler's arguments.
    unsafe fn redirect_to_landing_pad(
        signum: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) -> bool {
        let head: *const CallState = HEAD.get();
        if head.is_null() {
            return false;
        }
        // SAFETY: `context` is the interrupted thread's ucontext_t.
        let gregs = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        let pc = gregs[libc::REG_RIP as usize] as usize;
        let fault_addr = match signum {
            // SAFETY: for these signals the kernel fills `si_addr`.
            libc::SIGSEGV | libc::SIGBUS => Some(unsafe { (*info).si_addr() } as usize),
            _ => None,
        };
        let (trap, in_generated_code) = match lookup_trap_in_handler(pc) {
            Some(trap) => (trap, true),
            // Host code called from wasm (a host function) ran off the end
            // of the thread's stack: DESIGN.md invariant 3 makes that a
            // trap too. Its frames are abandoned like wasm frames.
            None if fault_addr.is_some_and(|addr| {
                crate::vm::traphandlers::is_stack_overflow(
                    addr,
                    gregs[libc::REG_RSP as usize] as usize,
                )
            }) =>
            {
                (weft_environ::Trap::StackOverflow, false)
            }
            None => return false,
        };
        // SAFETY: a non-null HEAD points to a live CallState of this thread
        // (the signal is synchronous, so it interrupted code running inside
        // that call); its jump buffer was filled before the callee started.
        let (state, jump_buf) = unsafe { (&*head, &*(*head).jump_buf.get()) };
        let fp = gregs[libc::REG_RBP as usize] as usize;
        // Record the wasm frames now: once we resume at the landing pad,
        // the stack below the entry is reused and the chain is gone.
        let frames = crate::vm::traphandlers::TRAP_FRAMES.with(|buf| {
            // SAFETY: the buffer was sized by `catch_traps` on this thread
            // and nothing else is using it while generated code runs.
            let buf = unsafe { &mut *buf.get() };
            if !in_generated_code {
                // Host frames have no guaranteed frame-pointer chain.
                return 0;
            }
            // SAFETY: the trap PC is in registered code (trap_at found it).
            unsafe { crate::vm::code_registry::walk_frames_in_handler(pc, fp, buf) }
        });
        state.trap.set(Some(TrapRecord {
            trap,
            pc,
            fp,
            fault_addr,
            frames,
        }));
        gregs[libc::REG_RIP as usize] = weft_trap_landing_pad as *const () as i64;
        gregs[libc::REG_RSP as usize] = jump_buf.sp as i64;
        gregs[libc::REG_RBP as usize] = jump_buf.fp as i64;
        gregs[libc::REG_RDI as usize] = jump_buf as *const _ as i64;
        true
    }

    /// Hands a signal that is not ours to the previously installed handler.
    ///
    /// # Safety
    ///
    /// `info` and `context` must be the handler's arguments.
    unsafe fn chain(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
        let Some(i) = SIGNALS.iter().position(|s| *s == signum) else {
            return;
        };
        // SAFETY: slot `i` was written before our handler was installed.
        let prev = unsafe { (*PREV.0.get())[i].assume_init_ref() };
        let handler = prev.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Reinstate the old disposition. Returning re-executes a
            // faulting instruction, which now gets the default treatment.
            // SAFETY: `prev` is a valid sigaction.
            unsafe { libc::sigaction(signum, prev, std::ptr::null_mut()) };
            // SAFETY: `info` is valid (handler argument).
            let sent_by_process = unsafe { (*info).si_code } <= 0;
            if sent_by_process && handler == libc::SIG_DFL {
                // kill()/raise(): nothing will re-execute, deliver it again
                // (SA_NODEFER: not blocked, so it acts immediately).
                // SAFETY: `raise` is async-signal-safe.
                unsafe { libc::raise(signum) };
            }
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: with SA_SIGINFO the stored value is a three-argument
            // handler, and we pass it the arguments the kernel gave us.
            unsafe {
                let f = std::mem::transmute::<
                    usize,
                    unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void),
                >(handler);
                f(signum, info, context)
            }
        } else {
            // SAFETY: without SA_SIGINFO the stored value is a classic
            // one-argument handler.
            unsafe {
                let f = std::mem::transmute::<usize, unsafe extern "C" fn(libc::c_int)>(handler);
                f(signum)
            }
        }
    }
}

/// Per-thread alternate signal stacks.
#[cfg(target_arch = "x86_64")]
mod alt_stack {
    use crate::vm::mmap::{Mmap, page_size};

    /// Usable size of the alternate signal stacks we allocate.
    pub(super) const SIZE: usize = 64 * 1024;

    /// This thread's alternate stack, if we installed it. Dropped at thread
    /// exit.
    struct AltStack {
        /// The mapping (guard page + stack), `None` if the thread already
        /// had a large enough alternate stack.
        mmap: Option<Mmap>,
        /// The `ss_sp` we installed.
        sp: *mut libc::c_void,
        /// The thread's previous alternate stack, restored on drop.
        prev: libc::stack_t,
    }

    thread_local! {
        static ALT_STACK: AltStack = AltStack::install();
    }

    /// Makes sure this thread has an alternate signal stack.
    pub(super) fn ensure() {
        ALT_STACK.with(|_| {});
    }

    fn current() -> libc::stack_t {
        // SAFETY: an all-zero stack_t is valid, then filled by the query.
        let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: querying into valid memory.
        let rc = unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
        assert_eq!(rc, 0, "sigaltstack query failed");
        cur
    }

    impl AltStack {
        fn install() -> AltStack {
            let prev = current();
            let keep = prev.ss_flags & libc::SS_ONSTACK != 0
                || (prev.ss_flags & libc::SS_DISABLE == 0 && prev.ss_size >= SIZE);
            if keep {
                return AltStack {
                    mmap: None,
                    sp: prev.ss_sp,
                    prev,
                };
            }
            let page = page_size();
            let mut mmap = Mmap::reserve(page + SIZE)
                .unwrap_or_else(|e| panic!("failed to allocate an alternate signal stack: {e:#}"));
            mmap.make_accessible(page, SIZE)
                .unwrap_or_else(|e| panic!("failed to allocate an alternate signal stack: {e:#}"));
            let sp = mmap.as_ptr().wrapping_add(page).cast::<libc::c_void>();
            let new = libc::stack_t {
                ss_sp: sp,
                ss_flags: 0,
                ss_size: SIZE,
            };
            // SAFETY: `new` describes memory we own for the life of this
            // thread (freed in Drop, after uninstalling it).
            let rc = unsafe { libc::sigaltstack(&new, std::ptr::null_mut()) };
            assert_eq!(
                rc,
                0,
                "sigaltstack failed: {}",
                std::io::Error::last_os_error()
            );
            AltStack {
                mmap: Some(mmap),
                sp,
                prev,
            }
        }
    }

    impl Drop for AltStack {
        fn drop(&mut self) {
            if self.mmap.is_none() {
                return;
            }
            let cur = current();
            // Uninstall only if ours is still the installed one (something
            // else, e.g. std's own thread teardown, may have replaced or
            // disabled it already).
            if cur.ss_sp == self.sp && cur.ss_flags & libc::SS_DISABLE == 0 {
                let restore = if self.prev.ss_flags & libc::SS_DISABLE == 0 {
                    self.prev
                } else {
                    libc::stack_t {
                        ss_sp: std::ptr::null_mut(),
                        ss_flags: libc::SS_DISABLE,
                        ss_size: 0,
                    }
                };
                // SAFETY: restores a disabled alternate stack, or the one
                // that was installed before ours. Its owner has not freed
                // it: std's per-thread handler, the usual owner, disables
                // the alternate stack before unmapping its memory, and then
                // the check above would have failed.
                unsafe { libc::sigaltstack(&restore, std::ptr::null_mut()) };
            }
            // `self.mmap` is unmapped when the fields drop.
        }
    }

    /// The alternate stack this thread uses, as (ss_sp, ss_size).
    #[cfg(test)]
    pub(super) fn current_for_test() -> (usize, usize) {
        let cur = current();
        (cur.ss_sp as usize, cur.ss_size)
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::vm::code_memory::CodeMemory;
    use crate::vm::code_registry::tests::Registered;
    use crate::vm::mmap::{Mmap, page_size};

    /// Published machine code, registered with trap sites at the given
    /// offsets. Unregistered before it is unmapped (field order).
    struct TestCode {
        _registered: Registered,
        mem: CodeMemory,
    }

    impl TestCode {
        fn new(bytes: &[u8], traps: &[(usize, Trap)]) -> TestCode {
            let mut mem = CodeMemory::new(bytes.len()).unwrap();
            mem.as_mut_slice().copy_from_slice(bytes);
            mem.publish().unwrap();
            let (start, end) = mem.range();
            let registered = Registered::new(start, end, traps.to_vec());
            TestCode {
                _registered: registered,
                mem,
            }
        }

        fn base(&self) -> usize {
            self.mem.base()
        }

        fn entry(&self) -> unsafe extern "C" fn(*mut u8) {
            // SAFETY: the published code starts with a function taking one
            // pointer argument in rdi (the C ABI).
            unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut u8)>(self.base()) }
        }
    }

    /// `ud2` after clobbering every callee-saved register, rbp included:
    /// the landing pad must restore them all for the caller to survive.
    const CLOBBER_UD2: &[u8] = &[
        0x31, 0xdb, // xor ebx, ebx
        0x45, 0x31, 0xe4, // xor r12d, r12d
        0x45, 0x31, 0xed, // xor r13d, r13d
        0x45, 0x31, 0xf6, // xor r14d, r14d
        0x45, 0x31, 0xff, // xor r15d, r15d
        0x31, 0xed, // xor ebp, ebp
        0x0f, 0x0b, // ud2
    ];
    const CLOBBER_UD2_AT: usize = 16;

    /// `mov rax, [rdi]; ret`
    const LOAD: &[u8] = &[0x48, 0x8b, 0x07, 0xc3];

    /// `xor eax, eax; xor ecx, ecx; xor edx, edx; idiv ecx; ret`
    const DIV_ZERO: &[u8] = &[0x31, 0xc0, 0x31, 0xc9, 0x31, 0xd2, 0xf7, 0xf9, 0xc3];
    const DIV_ZERO_AT: usize = 6;

    /// `push rbp; mov rbp, rsp; call [rdi]; pop rbp; ret`: generated code
    /// calling back into the host through a function pointer at `*data`.
    const CALL_HOST: &[u8] = &[0x55, 0x48, 0x89, 0xe5, 0xff, 0x17, 0x5d, 0xc3];

    /// `call self`: unbounded recursion, overflows the stack at offset 0.
    const RECURSE: &[u8] = &[0xe8, 0xfb, 0xff, 0xff, 0xff];

    fn in_stack(addr: usize) -> bool {
        let (low, high) = current_stack_bounds();
        low <= addr && addr < high
    }

    unsafe extern "C" fn store_one(data: *mut u8) {
        // SAFETY: tests pass a pointer to a live `u32`.
        unsafe { data.cast::<u32>().write(1) };
    }

    #[test]
    fn normal_return_is_ok() {
        let mut out = 0u32;
        // SAFETY: `store_one` expects a pointer to a u32.
        let r = unsafe { catch_traps(store_one, (&raw mut out).cast()) };
        assert_eq!(r, Ok(()));
        assert_eq!(out, 1);
        assert!(!in_catch_traps());
    }

    #[test]
    fn ud2_is_caught_and_registers_restored() {
        let code = TestCode::new(
            CLOBBER_UD2,
            &[(CLOBBER_UD2_AT, Trap::UnreachableCodeReached)],
        );
        // SAFETY: the code ignores its argument and traps.
        let r = unsafe { catch_traps(code.entry(), std::ptr::null_mut()) };
        assert_eq!(
            r,
            Err(TrapRecord {
                trap: Trap::UnreachableCodeReached,
                pc: code.base() + CLOBBER_UD2_AT,
                fp: 0, // the code zeroed rbp
                fault_addr: None,
                frames: 1, // only the trapping PC: the chain ends at fp = 0
            })
        );
        assert!(!in_catch_traps());
    }

    #[test]
    fn load_from_inaccessible_memory() {
        let guard = Mmap::reserve(page_size()).unwrap();
        let addr = guard.as_ptr().wrapping_add(0x10);
        let code = TestCode::new(LOAD, &[(0, Trap::MemoryOutOfBounds)]);
        // SAFETY: the code loads from `addr`, which faults.
        let r = unsafe { catch_traps(code.entry(), addr) };
        let rec = r.unwrap_err();
        assert_eq!(rec.trap, Trap::MemoryOutOfBounds);
        assert_eq!(rec.pc, code.base());
        assert_eq!(rec.fault_addr, Some(addr as usize));
        // The code has no frame of its own: rbp is the entry routine's.
        assert!(in_stack(rec.fp), "fp {:#x}", rec.fp);

        // The same code on readable memory returns normally.
        let mut word = 7u64;
        // SAFETY: loads from a live u64.
        let r = unsafe { catch_traps(code.entry(), (&raw mut word).cast()) };
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn division_by_zero() {
        let code = TestCode::new(DIV_ZERO, &[(DIV_ZERO_AT, Trap::IntegerDivisionByZero)]);
        // SAFETY: the code ignores its argument and traps.
        let rec = unsafe { catch_traps(code.entry(), std::ptr::null_mut()) }.unwrap_err();
        assert_eq!(rec.trap, Trap::IntegerDivisionByZero);
        assert_eq!(rec.pc, code.base() + DIV_ZERO_AT);
        assert_eq!(rec.fault_addr, None);
    }

    /// Data for `CALL_HOST` code: `host` is called with a pointer to the
    /// whole struct.
    #[repr(C)]
    struct HostCall {
        host: unsafe extern "C" fn(*mut u8),
        inner: Option<unsafe extern "C" fn(*mut u8)>,
        inner_result: Option<Result<(), TrapRecord>>,
        depth_seen: bool,
    }

    /// Host function called from generated code: enters generated code
    /// again (`inner`) under a nested `catch_traps`.
    unsafe extern "C" fn host_reenters(data: *mut u8) {
        // SAFETY: `data` points to the caller's live `HostCall`.
        let call = unsafe { &mut *data.cast::<HostCall>() };
        call.depth_seen = in_catch_traps();
        // SAFETY: `inner` is published test code that ignores its argument.
        call.inner_result = Some(unsafe { catch_traps(call.inner.unwrap(), std::ptr::null_mut()) });
    }

    #[test]
    fn nested_inner_traps_outer_returns() {
        let outer = TestCode::new(CALL_HOST, &[]);
        let inner = TestCode::new(
            CLOBBER_UD2,
            &[(CLOBBER_UD2_AT, Trap::UnreachableCodeReached)],
        );
        let mut call = HostCall {
            host: host_reenters,
            inner: Some(inner.entry()),
            inner_result: None,
            depth_seen: false,
        };
        // SAFETY: CALL_HOST calls `call.host` with `&mut call`.
        let r = unsafe { catch_traps(outer.entry(), (&raw mut call).cast()) };
        assert_eq!(r, Ok(()));
        assert!(call.depth_seen);
        let inner_rec = call.inner_result.unwrap().unwrap_err();
        assert_eq!(inner_rec.trap, Trap::UnreachableCodeReached);
        assert_eq!(inner_rec.pc, inner.base() + CLOBBER_UD2_AT);
        assert!(!in_catch_traps());
    }

    const HOST_RECORD: TrapRecord = TrapRecord {
        trap: Trap::HostError,
        pc: 0x1234,
        fp: 0x5678,
        fault_addr: None,
        frames: 0,
    };

    unsafe extern "C" fn host_unwinds(_data: *mut u8) {
        // A destructor-free frame: nothing is skipped that needs dropping.
        // SAFETY: called inside catch_traps; this frame owns nothing.
        unsafe { unwind_to_entry(HOST_RECORD) }
    }

    #[test]
    fn unwind_to_entry_from_rust() {
        // SAFETY: `host_unwinds` ignores its argument.
        let r = unsafe { catch_traps(host_unwinds, std::ptr::null_mut()) };
        assert_eq!(r, Err(HOST_RECORD));
        assert!(!in_catch_traps());
    }

    #[test]
    fn unwind_to_entry_through_generated_code() {
        // host -> generated code -> host, which unwinds past the generated
        // frame to the entry.
        let outer = TestCode::new(CALL_HOST, &[]);
        let mut call = HostCall {
            host: host_unwinds,
            inner: None,
            inner_result: None,
            depth_seen: false,
        };
        // SAFETY: CALL_HOST calls `call.host`, which unwinds.
        let r = unsafe { catch_traps(outer.entry(), (&raw mut call).cast()) };
        assert_eq!(r, Err(HOST_RECORD));
        assert!(!in_catch_traps());
    }

    #[test]
    #[should_panic(expected = "outside of catch_traps")]
    fn unwind_to_entry_outside_catch_traps_panics() {
        // SAFETY: panics before jumping anywhere.
        unsafe { unwind_to_entry(HOST_RECORD) }
    }

    #[test]
    fn many_traps_in_a_loop() {
        let ud2 = TestCode::new(
            CLOBBER_UD2,
            &[(CLOBBER_UD2_AT, Trap::UnreachableCodeReached)],
        );
        let load = TestCode::new(LOAD, &[(0, Trap::MemoryOutOfBounds)]);
        let guard = Mmap::reserve(page_size()).unwrap();
        let mut sum = 0u64;
        for i in 0..10_000u64 {
            let (code, data) = if i % 2 == 0 {
                (&ud2, std::ptr::null_mut())
            } else {
                (&load, guard.as_ptr())
            };
            // SAFETY: both codes trap immediately on these arguments.
            let rec = unsafe { catch_traps(code.entry(), data) }.unwrap_err();
            assert_eq!(
                rec.pc,
                code.base() + if i % 2 == 0 { CLOBBER_UD2_AT } else { 0 }
            );
            sum += i; // live across the call: needs callee-saved registers
        }
        assert_eq!(sum, 10_000 * 9_999 / 2);
        assert!(!in_catch_traps());
        // Still works normally afterwards.
        let mut out = 0u32;
        // SAFETY: `store_one` expects a pointer to a u32.
        let r = unsafe { catch_traps(store_one, (&raw mut out).cast()) };
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn stack_overflow_in_generated_code_is_caught() {
        let code = TestCode::new(RECURSE, &[(0, Trap::StackOverflow)]);
        let entry = code.entry();
        let base = code.base();
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                for _ in 0..3 {
                    // SAFETY: the code recurses until it hits the guard
                    // page; the handler runs on the alternate stack.
                    let rec = unsafe { catch_traps(entry, std::ptr::null_mut()) }.unwrap_err();
                    assert_eq!(rec.trap, Trap::StackOverflow);
                    assert_eq!(rec.pc, base);
                    let (low, _) = current_stack_bounds();
                    let fault = rec.fault_addr.unwrap();
                    assert!(
                        fault < low + page_size() && fault + 16 * page_size() > low,
                        "fault {fault:#x} not near the stack's low end {low:#x}"
                    );
                }
                assert!(alt_stack::current_for_test().1 >= alt_stack::SIZE);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn threads_get_and_release_alternate_stacks() {
        let code = TestCode::new(
            CLOBBER_UD2,
            &[(CLOBBER_UD2_AT, Trap::UnreachableCodeReached)],
        );
        let entry = code.entry();
        const THREADS: usize = 4;
        for _ in 0..4 {
            let all_alive = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    let all_alive = all_alive.clone();
                    std::thread::spawn(move || {
                        for _ in 0..100 {
                            // SAFETY: the code traps immediately.
                            let r = unsafe { catch_traps(entry, std::ptr::null_mut()) };
                            assert_eq!(r.unwrap_err().trap, Trap::UnreachableCodeReached);
                        }
                        // Report while every thread still holds its stack
                        // (freed stacks get reused by later threads).
                        all_alive.wait();
                        alt_stack::current_for_test()
                    })
                })
                .collect();
            let stacks: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            for (i, a) in stacks.iter().enumerate() {
                assert!(a.1 >= alt_stack::SIZE);
                for b in &stacks[i + 1..] {
                    assert_ne!(a.0, b.0, "threads share an alternate stack");
                }
            }
        }
    }

    #[inline(never)]
    unsafe extern "C" fn capture_backtrace(data: *mut u8) {
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        // SAFETY: the test passes a pointer to a live `String`.
        unsafe { *data.cast::<String>() = bt };
    }

    /// The DWARF unwinder (used by `std::backtrace`, debuggers, profilers)
    /// walks from a callee through the entry routine's CFI into the Rust
    /// frames above it.
    #[test]
    fn backtrace_walks_through_the_entry_frame() {
        let mut bt = String::new();
        // SAFETY: `capture_backtrace` expects a pointer to a String.
        let r = unsafe { catch_traps(capture_backtrace, (&raw mut bt).cast()) };
        assert_eq!(r, Ok(()));
        for frame in [
            "capture_backtrace",
            "weft_catch_traps_entry",
            "traphandlers::catch_traps",
            "backtrace_walks_through_the_entry_frame",
        ] {
            assert!(bt.contains(frame), "no {frame} in backtrace:\n{bt}");
        }
    }

    #[test]
    fn stack_bounds_contain_a_local() {
        let local = 0u8;
        let addr = &raw const local as usize;
        let (low, high) = current_stack_bounds();
        assert!(low < high);
        assert!(in_stack(addr), "{addr:#x} not in [{low:#x}, {high:#x})");
        assert_eq!(current_stack_bounds(), (low, high));
        std::thread::spawn(move || {
            let other = current_stack_bounds();
            assert_ne!(other, (low, high));
            let local = 0u8;
            assert!(in_stack(&raw const local as usize));
        })
        .join()
        .unwrap();
    }

    /// Runs `f` in a forked child and asserts that the child is killed by
    /// `signal`. The child only runs code that does not allocate.
    fn child_dies_with(signal: libc::c_int, f: impl FnOnce()) {
        // Make sure the handlers and this thread's alternate stack and
        // thread-locals exist before forking (the child must not allocate).
        let mut out = 0u32;
        // SAFETY: `store_one` expects a pointer to a u32.
        let r = unsafe { catch_traps(store_one, (&raw mut out).cast()) };
        assert_eq!(r, Ok(()));
        // SAFETY: the child only makes async-signal-safe calls and runs
        // `f`, which does not allocate, then exits with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: plain syscalls; no core dumps from the dying child.
            unsafe {
                libc::prctl(libc::PR_SET_DUMPABLE, 0);
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
            }
            f();
            // SAFETY: leaving the child without running anything else.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid);
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == signal,
            "child status {status:#x}, expected death by signal {signal}"
        );
    }

    #[test]
    fn faults_that_are_not_ours_are_forwarded() {
        let guard = Mmap::reserve(page_size()).unwrap();
        let bad = guard.as_ptr();
        let registered = TestCode::new(LOAD, &[(0, Trap::MemoryOutOfBounds)]);
        let wrong_pc = TestCode::new(LOAD, &[(3, Trap::MemoryOutOfBounds)]);
        let ud2 = TestCode::new(
            CLOBBER_UD2,
            &[(CLOBBER_UD2_AT, Trap::UnreachableCodeReached)],
        );
        let unregistered = {
            let mut mem = CodeMemory::new(LOAD.len()).unwrap();
            mem.as_mut_slice().copy_from_slice(LOAD);
            mem.publish().unwrap();
            mem
        };
        // SAFETY: the code starts with a function taking one pointer.
        let unregistered_entry = unsafe {
            std::mem::transmute::<usize, unsafe extern "C" fn(*mut u8)>(unregistered.base())
        };

        // A registered trap site, but no active catch_traps on the thread:
        // forwarded to std's SIGSEGV handler, which restores the default.
        child_dies_with(libc::SIGSEGV, || {
            // SAFETY: faults; the child is meant to die.
            unsafe { (registered.entry())(bad) }
        });
        // Same for SIGILL, whose previous disposition is SIG_DFL.
        child_dies_with(libc::SIGILL, || {
            // SAFETY: faults; the child is meant to die.
            unsafe { (ud2.entry())(std::ptr::null_mut()) }
        });
        // Inside catch_traps, but the faulting code is not registered.
        child_dies_with(libc::SIGSEGV, || {
            // SAFETY: faults; the child is meant to die.
            let _ = unsafe { catch_traps(unregistered_entry, bad) };
        });
        // Inside catch_traps in registered code, but not at a trap site.
        child_dies_with(libc::SIGSEGV, || {
            // SAFETY: faults; the child is meant to die.
            let _ = unsafe { catch_traps(wrong_pc.entry(), bad) };
        });
        // A SIGILL sent with kill() while nothing is active is re-raised.
        child_dies_with(libc::SIGILL, || {
            // SAFETY: signals ourselves.
            unsafe { libc::kill(libc::getpid(), libc::SIGILL) };
        });
    }
}
