//! The process-wide handlers for the synchronous signals generated code
//! traps with, and forwarding of signals that are not the runtime's.
//!
//! [`install`] puts one handler on SIGSEGV, SIGBUS, SIGILL and SIGFPE
//! (with `SA_SIGINFO | SA_ONSTACK | SA_NODEFER`), remembering what was
//! installed before. The handler decides whether a signal is its own (the
//! policy lives in the runtime's trap handling); for anything else it calls
//! [`chain`], which hands the signal to the previous handler: its
//! `sa_sigaction`/`sa_handler` is called, or, if it was `SIG_DFL`/`SIG_IGN`,
//! it is reinstated and the handler returns, so the faulting instruction
//! runs again and the process dies the normal way (a signal sent with
//! `kill` is re-raised instead).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

/// The signals generated code traps with.
pub const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// A signal handler taking `SA_SIGINFO` arguments.
pub type Handler = unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// The handlers that were installed before ours, indexed like
/// `SIGNALS`. Each slot is written once, inside `install` and before
/// our handler for that signal is installed; afterwards only read.
struct PrevHandlers(UnsafeCell<[MaybeUninit<libc::sigaction>; 4]>);

// SAFETY: see the type's docs: writes happen once, before any reader
// (our handler) can run for that slot.
unsafe impl Sync for PrevHandlers {}

static PREV: PrevHandlers = PrevHandlers(UnsafeCell::new([MaybeUninit::uninit(); 4]));

/// Installs `handler` for every signal in [`SIGNALS`], once per process
/// (later calls do nothing).
///
/// # Safety
///
/// `handler` must be async-signal-safe, and call [`chain`] for signals it
/// does not handle.
pub unsafe fn install(handler: Handler) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: slot `i` is written only here, once (guarded by the
            // `Once`), and read only by our handler for `sig`, which is
            // not installed yet.
            let slot = unsafe { (*PREV.0.get())[i].as_mut_ptr() };
            // SAFETY: querying the current action into valid memory.
            let rc = unsafe { libc::sigaction(sig, std::ptr::null(), slot) };
            assert_eq!(rc, 0, "sigaction({sig}) query failed");

            // SAFETY: an all-zero `sigaction` is a valid starting value.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: `sa_mask` is valid for writes.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: installs a handler that only does async-signal-safe
            // work (the caller's contract).
            let rc = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
            assert_eq!(
                rc,
                0,
                "failed to install the trap handler for signal {sig}: {}",
                std::io::Error::last_os_error()
            );
        }
    });
}

/// Hands a signal that is not ours to the previously installed handler.
///
/// # Safety
///
/// `info` and `context` must be the handler's arguments.
pub unsafe fn chain(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
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
