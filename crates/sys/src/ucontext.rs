//! Reading and rewriting the machine state a signal interrupted.
//!
//! A handler for a synchronous signal gets the interrupted thread's
//! registers as a `ucontext_t`. [`Regs::read`] takes out what trap handling
//! needs (pc, sp, fp); [`resume_at`] rewrites the context so that
//! returning from the handler continues at another (pc, sp, fp) with two
//! payload registers: the signal-path twin of the runtime's `resume_at`
//! primitive. The kernel's `sigreturn` then restores the rewritten context
//! and the signal mask, so no `longjmp` ever leaves a handler.
//!
//! x86_64 Linux layout: `uc_mcontext.gregs[REG_RIP | REG_RSP | REG_RBP |
//! REG_RAX | REG_RDX]`.

/// The registers of an interrupted thread that trap handling reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    /// Program counter of the interrupted instruction.
    pub pc: usize,
    /// Stack pointer.
    pub sp: usize,
    /// Frame pointer.
    pub fp: usize,
}

impl Regs {
    /// Reads the registers from a signal handler's context argument.
    ///
    /// # Safety
    ///
    /// `context` must be the `ucontext_t` pointer the kernel passed to an
    /// `SA_SIGINFO` handler that is still running.
    pub unsafe fn read(context: *mut libc::c_void) -> Regs {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            // SAFETY: `context` is the interrupted thread's ucontext_t.
            let gregs = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
            Regs {
                pc: gregs[libc::REG_RIP as usize] as usize,
                sp: gregs[libc::REG_RSP as usize] as usize,
                fp: gregs[libc::REG_RBP as usize] as usize,
            }
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            let _ = context;
            unimplemented!("signal contexts are only read on x86_64 Linux")
        }
    }
}

/// Rewrites the interrupted context so that returning from the handler
/// continues at `pc` with `sp`, `fp` and the payload registers (rax, rdx).
///
/// # Safety
///
/// As for [`Regs::read`]; and (pc, sp, fp) must be a resume point that is
/// live on the interrupted thread's current stack, expecting exactly this
/// machine state. Frames below it are abandoned.
pub unsafe fn resume_at(
    context: *mut libc::c_void,
    pc: usize,
    sp: usize,
    fp: usize,
    payload: [usize; 2],
) {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        // SAFETY: `context` is the interrupted thread's ucontext_t, ours to
        // modify until the handler returns.
        let gregs = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        gregs[libc::REG_RIP as usize] = pc as i64;
        gregs[libc::REG_RSP as usize] = sp as i64;
        gregs[libc::REG_RBP as usize] = fp as i64;
        gregs[libc::REG_RAX as usize] = payload[0] as i64;
        gregs[libc::REG_RDX as usize] = payload[1] as i64;
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        let _ = (context, pc, sp, fp, payload);
        unimplemented!("signal contexts are only rewritten on x86_64 Linux")
    }
}

/// The faulting data address of a SIGSEGV/SIGBUS, `None` for other
/// signals.
///
/// # Safety
///
/// `info` must be the `siginfo_t` pointer passed to a running handler.
pub unsafe fn fault_address(signum: libc::c_int, info: *mut libc::siginfo_t) -> Option<usize> {
    match signum {
        // SAFETY: for these signals the kernel fills `si_addr`.
        libc::SIGSEGV | libc::SIGBUS => Some(unsafe { (*info).si_addr() } as usize),
        _ => None,
    }
}
