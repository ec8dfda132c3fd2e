//! Catching traps: what the signal handler does with a fault.
//!
//! Generated code traps by faulting: an out-of-bounds access hits a guard
//! region (SIGSEGV/SIGBUS), `ud2` (SIGILL; every explicit trap, including
//! "a host function failed" in a wasm->host trampoline), division by zero
//! (SIGFPE). The handler ([`weft_sys::signals`] installs it) finds the
//! running store through one thread-local, [`current_store`], set by every
//! host->wasm entry (`entry::catch_traps`) and by the fiber poller; from
//! there everything is in the store's records:
//!
//! ```text
//!   fault at pc in generated code
//!     -> kernel delivers the signal on the thread's alternate stack
//!     -> trap_handler:
//!          ctx = current_store()                null: not ours -> chain
//!          code_registry says pc traps?         no: see "host overflow"
//!          record = ctx.current_stack, or its nearest parent with an
//!                   active entry
//!          walk the frames from (pc, fp, sp) into the trap frame buffer
//!          record.activation.trap = TrapRecord { trap, pc, fp, .. }
//!          rewrite the context: resume at record's entry (pc, sp, fp),
//!                               payload rax = 1
//!          return from the handler
//!     -> sigreturn restores the rewritten context (and the signal mask)
//!     -> weft_enter's epilogue returns 1; catch_traps returns Err(record)
//! ```
//!
//! No `longjmp` leaves the handler: it always returns, so the kernel
//! restores the signal mask and the alternate-stack state itself. Only
//! wasm frames and trampolines are abandoned: a trap site is always in
//! generated code, and the entry is the nearest host frame above it.
//!
//! ## Host overflow
//!
//! A fault outside generated code while wasm of some store is active on
//! this thread, whose address is at the bottom of the running stack, is
//! native code (a host function) running out of stack. It cannot be made
//! a trap: resuming at the entry would skip Rust frames without running
//! their destructors (held locks, `RefCell` borrows). The wasm->host
//! trampoline guarantees host code at least `Config::host_stack_reserve`
//! bytes, so this only happens when one host call itself needs more; the
//! handler then prints what happened and aborts the process, as Rust does
//! for its own threads. Any other fault is not ours and is chained.

use super::stack::{Start, VMStackRecord, walk};
use super::vmcontext::VMStoreContext;
use std::cell::{Cell, UnsafeCell};
use weft_environ::Trap;

/// What is known about a trap at the moment it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrapRecord {
    /// The trap code.
    pub trap: Trap,
    /// Program counter of the trapping instruction.
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
    /// Frame PCs of the last trap on this thread (lookup PCs: the trap PC,
    /// then each return address minus one), written by the signal handler
    /// (which must not allocate: the buffer is sized beforehand by
    /// [`enter_store`], outside the handler). Read right after the trap
    /// on the same thread, before anything can switch stacks.
    static TRAP_FRAMES: UnsafeCell<Vec<usize>> = const { UnsafeCell::new(Vec::new()) };

    /// The store context whose wasm runs innermost on this thread (null
    /// when none). Set and restored by every entry, swapped by the fiber
    /// poller around each resume. `const`-initialised, no destructor:
    /// readable from a signal handler.
    static CURRENT_STORE: Cell<*const VMStoreContext> = const { Cell::new(std::ptr::null()) };
    /// Whether [`prepare_thread_slow`] has run on this thread.
    static THREAD_READY: Cell<bool> = const { Cell::new(false) };
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

/// This thread's current store context (see `CURRENT_STORE`).
///
/// Never inlined: code on a fiber may continue on another thread after a
/// suspension, and an inlined thread-local access could reuse the address
/// of the first thread's slot computed before the switch.
#[inline(never)]
pub(crate) fn current_store() -> *const VMStoreContext {
    CURRENT_STORE.get()
}

/// Sets this thread's current store context. Never inlined, as
/// [`current_store`].
#[inline(never)]
pub(crate) fn set_current_store(ctx: *const VMStoreContext) {
    CURRENT_STORE.set(ctx);
}

/// What an entry does before it runs generated code, in one call:
/// [`prepare_thread`], then makes `ctx` this thread's current store
/// context and returns the previous one (to restore when the entry ends).
/// Never inlined, as [`current_store`]; one call instead of three is a
/// measurable part of a host->wasm call.
#[inline(never)]
pub(crate) fn enter_store(ctx: *const VMStoreContext) -> *const VMStoreContext {
    if !THREAD_READY.get() {
        prepare_thread_slow();
        THREAD_READY.set(true);
    }
    CURRENT_STORE.replace(ctx)
}

/// Makes this thread ready to run generated code (the slow path of
/// [`enter_store`], once per thread): the signal handlers (once per
/// process), its alternate signal stack, its trap frame buffer and its
/// cached stack bounds.
#[cold]
fn prepare_thread_slow() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `trap_handler` is async-signal-safe and chains what is not
    // ours.
    unsafe {
        weft_sys::signals::install(trap_handler)
    };
    weft_sys::altstack::ensure();
    let _ = weft_sys::thread_stack::bounds();
    TRAP_FRAMES.with(|buf| {
        // SAFETY: only this thread touches its buffer; no trap is being
        // handled right now (we are in ordinary Rust code).
        let buf = unsafe { &mut *buf.get() };
        if buf.len() < MAX_TRAP_FRAMES {
            buf.resize(MAX_TRAP_FRAMES, 0);
        }
    });
}

/// Installs the process-wide trap signal handlers. Idempotent and cheap
/// after the first call.
pub(crate) fn init_traps() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `prepare_thread_slow`.
    unsafe {
        weft_sys::signals::install(trap_handler)
    };
}

/// How far below a stack's low end a fault still counts as running off
/// the stack (a large frame can skip past the guard page).
const STACK_GUARD_SLACK: usize = 1 << 20;

/// Whether a fault at `addr` with stack pointer `sp` is the stack
/// `[low, _)` overflowing: the stack pointer is at its bottom, and the
/// address is at most [`STACK_GUARD_SLACK`] below the low end (or in its
/// lowest page, where some runtimes put their own guard page) and near the
/// stack pointer. Signal-safe.
pub(crate) fn is_stack_overflow(low: usize, addr: usize, sp: usize) -> bool {
    low != 0
        && sp < low + 64 * 1024
        && addr < low + 4096
        && addr >= low.saturating_sub(STACK_GUARD_SLACK)
        && addr.abs_diff(sp) < STACK_GUARD_SLACK
}

/// The record to resume after a trap: the running one, or the nearest
/// record up its parent chain with an active entry (a stack with no entry
/// of its own, like a continuation's, unwinds into its resumer's).
///
/// # Safety
///
/// `record` and its parents must be live.
unsafe fn record_with_entry(mut record: *const VMStackRecord) -> Option<&'static VMStackRecord> {
    while !record.is_null() {
        // SAFETY: live (contract).
        let r = unsafe { &*record };
        if r.is_active() {
            return Some(r);
        }
        record = r.parent.get();
    }
    None
}

/// The handler for every signal in [`weft_sys::signals::SIGNALS`].
///
/// Async-signal-safe: no allocation, no locks other than the code
/// registry's non-blocking read.
#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn trap_handler(
    signum: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo and ucontext for an
    // SA_SIGINFO handler.
    if unsafe { handle(signum, info, context) } {
        return;
    }
    // SAFETY: same arguments, forwarded unchanged.
    unsafe { weft_sys::signals::chain(signum, info, context) }
}

/// If the signal is a trap of ours, records it and rewrites `context` to
/// resume at the nearest entry; returns whether it did. Aborts on a host
/// stack overflow (module docs).
///
/// # Safety
///
/// `info` and `context` must be the handler's arguments.
#[cfg(target_arch = "x86_64")]
unsafe fn handle(
    signum: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) -> bool {
    use super::code_registry::lookup_trap_in_handler;
    use weft_sys::ucontext::{Regs, fault_address, resume_at};

    let ctx = current_store();
    if ctx.is_null() {
        return false;
    }
    // SAFETY: handler arguments (contract).
    let (regs, fault_addr) = unsafe { (Regs::read(context), fault_address(signum, info)) };
    // SAFETY: a non-null current store is live while its entry is (the
    // signal is synchronous: it interrupted code running inside it).
    let current: *const VMStackRecord = unsafe { (*ctx).current_stack.get() };
    let Some(trap) = lookup_trap_in_handler(regs.pc) else {
        // SAFETY: the running record is live.
        let (low, high) = unsafe { (*current).bounds() };
        if fault_addr.is_some_and(|addr| is_stack_overflow(low, addr, regs.sp)) {
            host_stack_overflow(low, high);
        }
        return false;
    };
    // SAFETY: the running record and its parents are live.
    let Some(target) = (unsafe { record_with_entry(current) }) else {
        return false;
    };
    // Record the frames now: once we resume at the entry, the stack below
    // it is reused and the chain is gone. A failed host call needs none:
    // its error (with whatever backtrace it carries) is what the caller
    // gets, and deep guest<->host recursion unwinds through one such trap
    // per level.
    let frames = if trap == Trap::HostError {
        0
    } else {
        walk_trap_frames(current, regs)
    };
    // SAFETY: an active record's activation is live.
    let activation = unsafe { &*target.activation.get() };
    activation.trap.set(Some(TrapRecord {
        trap,
        pc: regs.pc,
        fp: regs.fp,
        fault_addr,
        frames,
    }));
    let to = target.resume_point();
    // SAFETY: the entry's resume point is live further up; it expects
    // exactly (sp, fp) and a non-zero rax.
    unsafe { resume_at(context, to.pc, to.sp, to.fp, [1, 0]) };
    true
}

/// Walks the frames of a trap at `regs` on the running record `current`
/// into this thread's trap frame buffer; returns how many it wrote.
/// Signal-safe.
#[cfg(target_arch = "x86_64")]
fn walk_trap_frames(current: *const VMStackRecord, regs: weft_sys::ucontext::Regs) -> usize {
    use super::code_registry::with_handler_lookup;
    TRAP_FRAMES.with(|buf| {
        // SAFETY: the buffer was sized by `prepare_thread_slow` on this thread
        // and nothing else is using it while generated code runs.
        let buf = unsafe { &mut *buf.get() };
        let mut n = 0;
        with_handler_lookup(|in_code| {
            let start = Start::Trap {
                pc: regs.pc,
                fp: regs.fp,
                sp: regs.sp,
            };
            // SAFETY: the records and activations of the running store are
            // live; the trap pc is in registered code.
            unsafe {
                walk(
                    current,
                    start,
                    |pc| in_code(pc).then_some(()),
                    |frame, ()| {
                        buf[n] = frame.lookup_pc();
                        n += 1;
                        if n == buf.len() {
                            std::ops::ControlFlow::Break(())
                        } else {
                            std::ops::ControlFlow::Continue(())
                        }
                    },
                )
            }
        });
        n
    })
}

/// Ends the process after host code overflowed the stack `[low, high)`.
/// Async-signal-safe: formats into a stack buffer, writes it with
/// `write(2)`, then aborts.
fn host_stack_overflow(low: usize, high: usize) -> ! {
    let mut buf = [0u8; 256];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        for &b in bytes {
            if len < buf.len() {
                buf[len] = b;
                len += 1;
            }
        }
    };
    put(b"weft: fatal: native stack overflow in host code called from wasm (stack ");
    put(&hex(low));
    put(b"..");
    put(&hex(high));
    put(b"); a host function needed more than the stack left to it (Config::host_stack_reserve); aborting\n");
    // SAFETY: `write` and `abort` are async-signal-safe; `buf[..len]` is
    // initialised.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::abort()
    }
}

/// `x` as `0x` followed by 16 hex digits.
fn hex(x: usize) -> [u8; 18] {
    let mut out = *b"0x0000000000000000";
    for i in 0..16 {
        let nibble = (x >> ((15 - i) * 4)) & 0xf;
        out[2 + i] = b"0123456789abcdef"[nibble];
    }
    out
}
