//! Host->wasm entries and the unwind primitive.
//!
//! [`catch_traps`] is the only way generated code is entered. It links an
//! [`Activation`] into the running stack's record, makes this thread's
//! current store context the one being entered (the signal handler's
//! starting point), and calls the callee through `weft_enter`, which
//! writes its own resume point into the record. A trap anywhere below
//! resumes there; the entry then unlinks itself and returns
//! `Err(TrapRecord)`:
//!
//! ```text
//!   catch_traps(ctx, call)
//!     record = ctx.current_stack
//!     Activation { prev, saved record fields, saved current store }
//!     weft_enter(call.code, call.args, record)   record.entry_{sp,fp,resume_pc}
//!       code(args) ... wasm ... trap             = this frame
//!         signal handler: activation.trap = record;
//!                         resume_at(record.entry_*, payload = 1)
//!     <- 1
//!     ctx.current_stack = record (a trap may come from another stack)
//!     unlink: record fields and current store as before
//!     Err(activation.trap)
//! ```
//!
//! [`resume_at`] is the one primitive that abandons frames: continue at a
//! (pc, sp, fp) with two payload registers. The signal handler applies the
//! same thing to the interrupted context instead
//! (`sys::ucontext::resume_at`).

#[cfg(target_arch = "x86_64")]
mod x86_64;

use super::stack::{Activation, ResumePoint, VMStackRecord, load_word};
use super::traphandlers::{self, TrapRecord, set_current_store};
use super::vmcontext::VMStoreContext;

/// What an entry calls: the address of a C-convention function and up to
/// four pointer arguments for it (a function taking fewer ignores the
/// rest). An array-to-wasm trampoline takes all four
/// (`callee_vmctx, caller_vmctx, code, values`), so a host->wasm call
/// enters it directly; runtime shims take one.
///
/// Entries take it by reference (five words in the caller's frame) and
/// read each word with its own load (see [`EntryCall::split`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryCall {
    /// The function's address.
    pub code: usize,
    /// Its arguments, in the C convention's argument registers.
    pub args: [*mut u8; 4],
}

impl EntryCall {
    /// A call of `f(data)`.
    pub(crate) fn one(f: unsafe extern "C" fn(*mut u8), data: *mut u8) -> EntryCall {
        let none = std::ptr::null_mut();
        EntryCall {
            code: f as usize,
            args: [data, none, none, none],
        }
    }

    /// The five words, each read with its own load ([`load_word`]): the
    /// caller wrote them with word stores just before the call.
    #[inline]
    fn split(&self) -> (usize, [*mut u8; 4]) {
        let a = &self.args;
        // SAFETY: every place is a field of `self`, valid and aligned.
        unsafe {
            (
                load_word(&self.code),
                [
                    load_word(&a[0]),
                    load_word(&a[1]),
                    load_word(&a[2]),
                    load_word(&a[3]),
                ],
            )
        }
    }
}

/// Calls `call` as a host->wasm entry on `ctx`'s current stack, and
/// catches traps raised while it runs.
///
/// Installs the signal handlers and this thread's alternate signal stack
/// the first time.
///
/// # Safety
///
/// `call.code` must be a function of the C calling convention taking at
/// most four integer or pointer arguments, safe to call with `call.args`.
/// It must not unwind (a panic crossing its `extern "C"` boundary aborts
/// anyway). `ctx` must point at a live stack record that describes the
/// stack this runs on. A trap abandons every frame between the entry and
/// the trap without running destructors: the frames there must be
/// generated code.
///
/// # Panics
///
/// On architectures other than x86_64 (not yet ported).
#[inline]
pub(crate) unsafe fn catch_traps(ctx: &VMStoreContext, call: &EntryCall) -> Result<(), TrapRecord> {
    #[cfg(target_arch = "x86_64")]
    {
        let saved_store = traphandlers::enter_store(ctx);
        let record_ptr = ctx.current_stack.get();
        // SAFETY: the current record is live (contract).
        let record: &VMStackRecord = unsafe { &*record_ptr };
        let activation = Activation::new(record, saved_store);
        activation.link(record);
        let (code, [a0, a1, a2, a3]) = call.split();
        // SAFETY: `call` is safe to make (our contract). The record
        // outlives the call; `activation` stays in place until it is
        // unlinked below, so the record never points at a dead frame.
        let payload = unsafe { x86_64::weft_enter(code, a0, a1, a2, a3, record_ptr.cast::<u8>()) };
        // A trap unwinds to the nearest entry, whichever stack it came
        // from: this stack is the running one again, and every
        // continuation the trap left behind between the two is dead.
        if payload != 0 {
            // SAFETY: the running record at the time of the trap and its
            // parents up to this entry's record are live; no code runs on
            // the continuations among them any more.
            unsafe { crate::vm::continuation::kill_chain(ctx.current_stack.get(), record_ptr) };
            // The trap may have unwound a frame of this record that waited
            // in a switch with a spill slot: the slot is gone, and a
            // running record's count is 0 (see `stack_record::GC_SPILL_LEN`).
            record.gc_spill_len.set(0);
        }
        ctx.current_stack.set(record_ptr);
        activation.unlink(record);
        set_current_store(activation.saved_current_store);
        match payload {
            0 => Ok(()),
            _ => Err(activation
                .trap
                .take()
                .expect("resumed at a host->wasm entry without a trap record")),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (ctx, call);
        panic!(
            "weft: entering generated code is not implemented for {} (unsupported architecture)",
            std::env::consts::ARCH
        )
    }
}

/// Continues at `to` with payload registers (`rax`, `rdx` on x86_64),
/// abandoning every frame in between.
///
/// # Safety
///
/// `to` must be a live resume point on the current stack (an entry's, or
/// later an exception handler's) above the caller. Every frame in between
/// is discarded without running destructors: the caller must own nothing
/// there that needs dropping, and hold no locks.
pub(crate) unsafe fn resume_at(to: ResumePoint, payload: [usize; 2]) -> ! {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded to the caller.
    unsafe {
        x86_64::weft_resume_at(to.pc, to.sp, to.fp, payload[0], payload[1])
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (to, payload);
        unreachable!("no resume point can exist on this architecture")
    }
}
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::vm::code_memory::CodeMemory;
    use crate::vm::code_registry::tests::Registered;
    use crate::vm::traphandlers::current_store;
    use weft_environ::Trap;
    use weft_sys::altstack as alt_stack;
    use weft_sys::{Mmap, page_size};

    /// A store context and native-stack record per test thread, as a
    /// store would have them.
    struct TestStore {
        ctx: Box<VMStoreContext>,
        _record: Box<VMStackRecord>,
    }

    impl TestStore {
        fn new() -> TestStore {
            let (low, high) = weft_sys::thread_stack::bounds();
            let record = Box::new(VMStackRecord::new(low, high, 64 * 1024));
            let ctx = Box::<VMStoreContext>::default();
            ctx.current_stack
                .set((&*record as *const VMStackRecord).cast_mut());
            TestStore {
                ctx,
                _record: record,
            }
        }
    }

    thread_local! {
        static TEST_STORE: TestStore = TestStore::new();
    }

    /// `catch_traps` on this thread's test store.
    unsafe fn catch(
        callee: unsafe extern "C" fn(*mut u8),
        data: *mut u8,
    ) -> Result<(), TrapRecord> {
        let ctx: *const VMStoreContext = TEST_STORE.with(|s| &*s.ctx as *const VMStoreContext);
        // SAFETY: the context lives as long as the thread; the callee is
        // the caller's responsibility.
        unsafe { catch_traps(&*ctx, &EntryCall::one(callee, data)) }
    }

    /// Whether an entry is active on this thread.
    fn in_catch_traps() -> bool {
        !current_store().is_null()
    }

    /// Resumes the innermost entry with `record` as its trap, as the
    /// signal handler does, but from ordinary code through `resume_at`.
    ///
    /// # Safety
    ///
    /// Every frame up to the entry is abandoned: they must own nothing.
    unsafe fn unwind_to_entry(record: TrapRecord) -> ! {
        let ctx = current_store();
        assert!(
            !ctx.is_null(),
            "unwind_to_entry called outside of catch_traps"
        );
        // SAFETY: an active entry's context, record and activation live
        // in frames further up.
        unsafe {
            let r = &*(*ctx).current_stack.get();
            (*r.activation.get()).trap.set(Some(record));
            resume_at(r.resume_point(), [1, 0])
        }
    }

    fn current_stack_bounds() -> (usize, usize) {
        weft_sys::thread_stack::bounds()
    }

    /// Published machine code, registered with trap sites at the given
    /// offsets. Unregistered before it is unmapped (field order).
    struct TestCode {
        _registered: Registered,
        mem: CodeMemory,
    }

    impl TestCode {
        fn new(bytes: &[u8], traps: &[(usize, Trap)]) -> TestCode {
            let mut mem = CodeMemory::new(bytes.len()).unwrap();
            mem.as_mut_slice().unwrap().copy_from_slice(bytes);
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
        let r = unsafe { catch(store_one, (&raw mut out).cast()) };
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
        let r = unsafe { catch(code.entry(), std::ptr::null_mut()) };
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
        let r = unsafe { catch(code.entry(), addr) };
        let rec = r.unwrap_err();
        assert_eq!(rec.trap, Trap::MemoryOutOfBounds);
        assert_eq!(rec.pc, code.base());
        assert_eq!(rec.fault_addr, Some(addr as usize));
        // The code has no frame of its own: rbp is the entry routine's.
        assert!(in_stack(rec.fp), "fp {:#x}", rec.fp);

        // The same code on readable memory returns normally.
        let mut word = 7u64;
        // SAFETY: loads from a live u64.
        let r = unsafe { catch(code.entry(), (&raw mut word).cast()) };
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn division_by_zero() {
        let code = TestCode::new(DIV_ZERO, &[(DIV_ZERO_AT, Trap::IntegerDivisionByZero)]);
        // SAFETY: the code ignores its argument and traps.
        let rec = unsafe { catch(code.entry(), std::ptr::null_mut()) }.unwrap_err();
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
        call.inner_result = Some(unsafe { catch(call.inner.unwrap(), std::ptr::null_mut()) });
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
        let r = unsafe { catch(outer.entry(), (&raw mut call).cast()) };
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
        let r = unsafe { catch(host_unwinds, std::ptr::null_mut()) };
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
        let r = unsafe { catch(outer.entry(), (&raw mut call).cast()) };
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
            let rec = unsafe { catch(code.entry(), data) }.unwrap_err();
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
        let r = unsafe { catch(store_one, (&raw mut out).cast()) };
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
                    let rec = unsafe { catch(entry, std::ptr::null_mut()) }.unwrap_err();
                    assert_eq!(rec.trap, Trap::StackOverflow);
                    assert_eq!(rec.pc, base);
                    let (low, _) = current_stack_bounds();
                    let fault = rec.fault_addr.unwrap();
                    assert!(
                        fault < low + page_size() && fault + 16 * page_size() > low,
                        "fault {fault:#x} not near the stack's low end {low:#x}"
                    );
                }
                assert!(alt_stack::installed().1 >= alt_stack::SIZE);
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
                            let r = unsafe { catch(entry, std::ptr::null_mut()) };
                            assert_eq!(r.unwrap_err().trap, Trap::UnreachableCodeReached);
                        }
                        // Report while every thread still holds its stack
                        // (freed stacks get reused by later threads).
                        all_alive.wait();
                        alt_stack::installed()
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
        let r = unsafe { catch(capture_backtrace, (&raw mut bt).cast()) };
        assert_eq!(r, Ok(()));
        // Release builds symbolize from line tables only: frames carry
        // their bare function names, without the module path.
        for frame in [
            "capture_backtrace",
            "weft_enter",
            "catch_traps",
            "backtrace_walks_through_the_entry_frame",
        ] {
            assert!(bt.contains(frame), "no {frame} in backtrace:\n{bt}");
        }
    }

    /// Runs `f` in a forked child and asserts that the child is killed by
    /// `signal`. The child only runs code that does not allocate.
    fn child_dies_with(signal: libc::c_int, f: impl FnOnce()) {
        // Make sure the handlers and this thread's alternate stack and
        // thread-locals exist before forking (the child must not allocate).
        let mut out = 0u32;
        // SAFETY: `store_one` expects a pointer to a u32.
        let r = unsafe { catch(store_one, (&raw mut out).cast()) };
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
            mem.as_mut_slice().unwrap().copy_from_slice(LOAD);
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
            let _ = unsafe { catch(unregistered_entry, bad) };
        });
        // Inside catch_traps in registered code, but not at a trap site.
        child_dies_with(libc::SIGSEGV, || {
            // SAFETY: faults; the child is meant to die.
            let _ = unsafe { catch(wrong_pc.entry(), bad) };
        });
        // A SIGILL sent with kill() while nothing is active is re-raised.
        child_dies_with(libc::SIGILL, || {
            // SAFETY: signals ourselves.
            unsafe { libc::kill(libc::getpid(), libc::SIGILL) };
        });
    }
}
