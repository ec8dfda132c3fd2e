//! x86_64 (System V) entry routine that calls into code that may trap, and
//! the two ways back out of it after a trap.
//!
//! CAUTION: this is hand-written assembly. Every instruction and every CFI
//! directive below matters, for correctness (callee-saved registers, stack
//! alignment) and for debuggers, profilers and backtraces, which walk
//! through this frame using the CFI. When changing an instruction, re-check
//! the frame diagram and every `.cfi_*` directive after it. The symbols are
//! only ever used through [`super::traphandlers`].
//!
//! Frame of `weft_catch_traps_entry` while the callee runs (addresses grow
//! upwards; `fp` is the value of rbp after the prologue):
//!
//! ```text
//!   fp + 8    return address into catch_traps (Rust)   <- CFA - 8
//!   fp + 0    caller's rbp                             <- CFA - 16
//!   fp - 8    caller's rbx                             <- CFA - 24
//!   fp - 16   caller's r12                             <- CFA - 32
//!   fp - 24   caller's r13                             <- CFA - 40
//!   fp - 32   caller's r14                             <- CFA - 48
//!   fp - 40   caller's r15                             <- CFA - 56
//!   fp - 48   (padding: keeps rsp 16-byte aligned)     <- rsp = jump_buf.sp
//!   fp - 56   return address into this routine, pushed by `call`
//!   ...       callee frames (host code, generated code)
//! ```
//!
//! `jump_buf` is a `#[repr(C)] struct { sp: usize, fp: usize }` owned by
//! the Rust caller; the prologue fills it. Leaving after a trap means
//! resuming at `weft_trap_landing_pad` with rsp = `jump_buf.sp` and
//! rbp = `jump_buf.fp`: the epilogue then restores the callee-saved
//! registers from the frame above and returns 1 to `catch_traps`, as if
//! the callee had returned. Two paths get there:
//!
//! * the signal handler rewrites the interrupted context (rip, rsp, rbp)
//!   and returns; the kernel's `sigreturn` then "resumes" at the pad;
//! * `weft_unwind_to(jump_buf)` loads rsp/rbp from ordinary code and
//!   jumps to the pad.
//!
//! Frames between the entry and the trap are abandoned without running any
//! destructor.

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // u32 weft_catch_traps_entry(callee: rdi, data: rsi, jump_buf: rdx)
    //   Calls callee(data). Returns 0 when the callee returns normally,
    //   1 when control comes back through weft_trap_landing_pad.
    // ---------------------------------------------------------------------
    // Put the routine in its own text section (dropped if unused).
    ".pushsection .text.weft_catch_traps_entry,\"ax\",@progbits",
    // Export the symbol to the Rust side of this crate.
    ".globl weft_catch_traps_entry",
    // Not visible outside the final linked object.
    ".hidden weft_catch_traps_entry",
    // An ELF function symbol, so tools show it with a name and size.
    ".type weft_catch_traps_entry,@function",
    // Align the entry to 16 bytes like compiled functions.
    ".p2align 4",
    "weft_catch_traps_entry:",
    // Begin the FDE; at entry CFA = rsp + 8 and the return address is at
    // CFA - 8 (the CIE defaults for x86_64).
    ".cfi_startproc",
    // Save the caller's frame pointer.
    "push rbp",
    // rsp moved down by 8: CFA = rsp + 16.
    ".cfi_def_cfa_offset 16",
    // The caller's rbp now lives at CFA - 16.
    ".cfi_offset rbp, -16",
    // Our frame pointer: fp = address of the saved rbp.
    "mov rbp, rsp",
    // Compute CFA from rbp from here on (CFA = rbp + 16); this stays true
    // even when we arrive at the landing pad with a restored rbp.
    ".cfi_def_cfa_register rbp",
    // Save the remaining callee-saved registers the callee (or a trap
    // that abandons it) might leave clobbered.
    "push rbx",
    // rbx saved at rbp - 8 = CFA - 24.
    ".cfi_offset rbx, -24",
    // Save r12.
    "push r12",
    // r12 saved at rbp - 16 = CFA - 32.
    ".cfi_offset r12, -32",
    // Save r13.
    "push r13",
    // r13 saved at rbp - 24 = CFA - 40.
    ".cfi_offset r13, -40",
    // Save r14.
    "push r14",
    // r14 saved at rbp - 32 = CFA - 48.
    ".cfi_offset r14, -48",
    // Save r15.
    "push r15",
    // r15 saved at rbp - 40 = CFA - 56.
    ".cfi_offset r15, -56",
    // Six pushes after the return address: rsp = 8 (mod 16). Pad so that
    // rsp is 16-byte aligned at the call below, as the ABI requires.
    "sub rsp, 8",
    // jump_buf.sp = rsp: the stack pointer to resume with after a trap.
    "mov qword ptr [rdx], rsp",
    // jump_buf.fp = rbp: the frame pointer to resume with after a trap.
    "mov qword ptr [rdx + 8], rbp",
    // Move the callee address out of the first argument register...
    "mov rax, rdi",
    // ...and pass `data` as the callee's only argument.
    "mov rdi, rsi",
    // Run the callee. Traps do not come back here but to the pad.
    "call rax",
    // Normal return: result 0.
    "xor eax, eax",
    // Skip the landing pad, straight to the shared epilogue.
    "jmp 2f",
    // ---------------------------------------------------------------------
    // weft_trap_landing_pad: entered with rsp = jump_buf.sp and
    // rbp = jump_buf.fp (set by the signal handler or weft_unwind_to), so
    // the CFI in effect here (CFA = rbp + 16, registers saved as above)
    // describes the machine state exactly. Not callable.
    // ---------------------------------------------------------------------
    // Make the pad's address available to Rust.
    ".globl weft_trap_landing_pad",
    // Keep it internal to the final linked object.
    ".hidden weft_trap_landing_pad",
    "weft_trap_landing_pad:",
    // Trap return: result 1.
    "mov eax, 1",
    // Shared epilogue.
    "2:",
    // Point rsp at the saved r15, computed from rbp so that it is right on
    // both paths (it already is; this keeps the epilogue self-contained).
    "lea rsp, [rbp - 40]",
    // Restore r15.
    "pop r15",
    // r15 holds the caller's value again.
    ".cfi_restore r15",
    // Restore r14.
    "pop r14",
    // r14 holds the caller's value again.
    ".cfi_restore r14",
    // Restore r13.
    "pop r13",
    // r13 holds the caller's value again.
    ".cfi_restore r13",
    // Restore r12.
    "pop r12",
    // r12 holds the caller's value again.
    ".cfi_restore r12",
    // Restore rbx.
    "pop rbx",
    // rbx holds the caller's value again.
    ".cfi_restore rbx",
    // Restore the caller's frame pointer; rsp now points at the return
    // address.
    "pop rbp",
    // rbp is no longer usable for the CFA: CFA = rsp + 8 again.
    ".cfi_def_cfa rsp, 8",
    // rbp holds the caller's value again.
    ".cfi_restore rbp",
    // Back to catch_traps with eax = 0 or 1.
    "ret",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_catch_traps_entry, .-weft_catch_traps_entry",
    // ---------------------------------------------------------------------
    // ! weft_unwind_to(jump_buf: rdi)
    //   Resumes the entry frame described by jump_buf at the landing pad.
    //   Called from ordinary Rust code (unwind_to_entry); never returns.
    // ---------------------------------------------------------------------
    // Align the routine like a compiled function.
    ".p2align 4",
    // Export the symbol to the Rust side of this crate.
    ".globl weft_unwind_to",
    // Not visible outside the final linked object.
    ".hidden weft_unwind_to",
    // An ELF function symbol.
    ".type weft_unwind_to,@function",
    "weft_unwind_to:",
    // Begin the FDE; at entry the CIE defaults hold (CFA = rsp + 8).
    ".cfi_startproc",
    // Switch the frame pointer to the entry frame's first: from the next
    // instruction on, the CFI below describes the entry frame, whatever
    // rsp still is.
    "mov rbp, qword ptr [rdi + 8]",
    // CFA = rbp + 16, i.e. the entry frame's CFA: an unwinder stopped on
    // the next instructions sees the entry frame's caller as our caller.
    ".cfi_def_cfa rbp, 16",
    // The entry frame's saved rbp is at CFA - 16.
    ".cfi_offset rbp, -16",
    // Its saved rbx is at CFA - 24.
    ".cfi_offset rbx, -24",
    // Its saved r12 is at CFA - 32.
    ".cfi_offset r12, -32",
    // Its saved r13 is at CFA - 40.
    ".cfi_offset r13, -40",
    // Its saved r14 is at CFA - 48.
    ".cfi_offset r14, -48",
    // Its saved r15 is at CFA - 56.
    ".cfi_offset r15, -56",
    // Drop every frame below the entry frame: rsp = jump_buf.sp.
    "mov rsp, qword ptr [rdi]",
    // Continue in the entry routine's landing pad (returns 1).
    "jmp weft_trap_landing_pad",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_unwind_to, .-weft_unwind_to",
    // Back to the section that was current before.
    ".popsection",
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// Calls `callee(data)` after saving the state needed to come back
    /// after a trap into `jump_buf`. Returns 0 on a normal return, 1 when
    /// resumed at [`weft_trap_landing_pad`].
    pub(super) fn weft_catch_traps_entry(
        callee: unsafe extern "C" fn(*mut u8),
        data: *mut u8,
        jump_buf: *mut super::traphandlers::JumpBuf,
    ) -> u32;

    /// Resumes the entry frame described by `jump_buf` at the landing pad.
    #[cfg_attr(not(test), allow(dead_code))] // used by unwind_to_entry
    pub(super) fn weft_unwind_to(jump_buf: *const super::traphandlers::JumpBuf) -> !;

    /// The landing pad inside `weft_catch_traps_entry`. Never call it: only
    /// its address is used, as the resume PC for the signal handler.
    pub(super) fn weft_trap_landing_pad();
}
