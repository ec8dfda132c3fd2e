//! x86_64 (System V) host->wasm entry routine and the one unwind
//! primitive, "resume at (pc, sp, fp) with payload registers".
//!
//! CAUTION: this is hand-written assembly. Every instruction and every CFI
//! directive below matters, for correctness (callee-saved registers, stack
//! alignment) and for debuggers, profilers and backtraces, which walk
//! through this frame using the CFI. When changing an instruction, re-check
//! the frame diagram and every `.cfi_*` directive after it. The symbols are
//! only ever used through [`super`].
//!
//! Frame of `weft_enter` while the callee runs (addresses grow upwards;
//! `fp` is the value of rbp after the prologue):
//!
//! ```text
//!   fp + 8    return address into catch_traps (Rust)   <- CFA - 8
//!   fp + 0    caller's rbp                             <- CFA - 16
//!   fp - 8    caller's rbx                             <- CFA - 24
//!   fp - 16   caller's r12                             <- CFA - 32
//!   fp - 24   caller's r13                             <- CFA - 40
//!   fp - 32   caller's r14                             <- CFA - 48
//!   fp - 40   caller's r15                             <- CFA - 56
//!   fp - 48   (padding: keeps rsp 16-byte aligned)     <- rsp = record.entry_sp
//!   fp - 56   return address into this routine, pushed by `call`
//!   ...       callee frames (the entry trampoline, wasm, host code, ...)
//! ```
//!
//! The prologue writes this entry's resume point into the stack record
//! passed in r9: `entry_sp` = rsp above, `entry_fp` = fp, and
//! `entry_resume_pc` = `weft_entry_resume`. Resuming there with that rsp
//! and rbp runs the shared epilogue, which restores the callee-saved
//! registers from the frame and returns the payload register rax (non-zero)
//! to `catch_traps`, as if the callee had returned. The callee returning
//! normally makes the routine return 0.
//!
//! Two paths resume an entry:
//!
//! * the signal handler rewrites the interrupted context (rip, rsp, rbp,
//!   rax) and returns; the kernel's `sigreturn` "resumes" there;
//! * `weft_resume_at(pc, sp, fp, payload0, payload1)` does the same from
//!   ordinary code.
//!
//! `weft_resume_at` is the general primitive: it is not tied to entries.
//! Exception handlers in generated code will be resumed the same way (with
//! `Tail` callees a handler needs only sp, fp and pc; payloads arrive in
//! rax and rdx; rdi is 0, the `stack_switch` payload a `resume` site
//! reads when an escaping exception continues it). Frames between the resumer and the resume point are
//! abandoned without running any destructor: only wasm frames and
//! trampolines may be in between.

use weft_environ::stack_record;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // u64 weft_enter(callee: rdi, a0: rsi, a1: rdx, a2: rcx, a3: r8,
    //                 record: r9)
    //   Calls callee(a0, a1, a2, a3) with this frame as the record's
    //   resume point (a callee of fewer arguments ignores the registers of
    //   the others). Returns 0 when the callee returns normally, the
    //   payload (rax) when resumed at weft_entry_resume.
    // ---------------------------------------------------------------------
    // Put the routine in its own text section (dropped if unused).
    ".pushsection .text.weft_enter,\"ax\",@progbits",
    // Export the symbol to the Rust side of this crate.
    ".globl weft_enter",
    // Not visible outside the final linked object.
    ".hidden weft_enter",
    // An ELF function symbol, so tools show it with a name and size.
    ".type weft_enter,@function",
    // Align the entry to 16 bytes like compiled functions.
    ".p2align 4",
    "weft_enter:",
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
    // when we arrive at the resume point with a restored rbp.
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
    // record.entry_sp = rsp: the stack pointer to resume with.
    "mov qword ptr [r9 + {entry_sp}], rsp",
    // record.entry_fp = rbp: the frame pointer to resume with.
    "mov qword ptr [r9 + {entry_fp}], rbp",
    // The address of our resume point...
    "lea rax, [rip + weft_entry_resume]",
    // ...is record.entry_resume_pc.
    "mov qword ptr [r9 + {entry_resume_pc}], rax",
    // Move the callee address out of the first argument register...
    "mov rax, rdi",
    // ...and shift the four arguments down one register each: a0 is the
    // callee's first argument (rdi),
    "mov rdi, rsi",
    // a1 its second (rsi),
    "mov rsi, rdx",
    // a2 its third (rdx),
    "mov rdx, rcx",
    // a3 its fourth (rcx).
    "mov rcx, r8",
    // Run the callee. Traps do not come back here but to the resume point.
    "call rax",
    // Normal return: result 0.
    "xor eax, eax",
    // Skip the resume point, straight to the shared epilogue.
    "jmp 2f",
    // ---------------------------------------------------------------------
    // weft_entry_resume: entered with rsp = record.entry_sp and
    // rbp = record.entry_fp (set by the signal handler or weft_resume_at)
    // and the payload in rax, so the CFI in effect here (CFA = rbp + 16,
    // registers saved as above) describes the machine state exactly. Not
    // callable.
    // ---------------------------------------------------------------------
    // Make the resume point's address available to Rust.
    ".globl weft_entry_resume",
    // Keep it internal to the final linked object.
    ".hidden weft_entry_resume",
    "weft_entry_resume:",
    // Nothing to do: rax already holds the payload (the result).
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
    // Back to catch_traps with rax = 0 or the payload.
    "ret",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_enter, .-weft_enter",
    // ---------------------------------------------------------------------
    // ! weft_resume_at(pc: rdi, sp: rsi, fp: rdx, payload0: rcx,
    //                  payload1: r8)
    //   Continues at pc with rsp = sp, rbp = fp, rax = payload0,
    //   rdx = payload1. Never returns.
    // ---------------------------------------------------------------------
    // Align the routine like a compiled function.
    ".p2align 4",
    // Export the symbol to the Rust side of this crate.
    ".globl weft_resume_at",
    // Not visible outside the final linked object.
    ".hidden weft_resume_at",
    // An ELF function symbol.
    ".type weft_resume_at,@function",
    "weft_resume_at:",
    // Begin the FDE; at entry the CIE defaults hold (CFA = rsp + 8).
    ".cfi_startproc",
    // From the next instruction on this routine's frame is gone: tell
    // unwinders there is no caller to find (the target has its own CFI
    // once we jump).
    ".cfi_undefined rip",
    // Install the target's frame pointer.
    "mov rbp, rdx",
    // Install the target's stack pointer: every frame below it is dropped.
    "mov rsp, rsi",
    // First payload register.
    "mov rax, rcx",
    // Second payload register.
    "mov rdx, r8",
    // The target pc, out of rdi:
    "mov r11, rdi",
    // a `resume` site continued here (an exception left its continuation)
    // reads rdi as the `stack_switch` payload: 0, nothing flagged
    // (`resume_table::FAST_FIRST`).
    "xor edi, edi",
    // Continue at the target.
    "jmp r11",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_resume_at, .-weft_resume_at",
    // Back to the section that was current before.
    ".popsection",
    entry_sp = const stack_record::ENTRY_SP,
    entry_fp = const stack_record::ENTRY_FP,
    entry_resume_pc = const stack_record::ENTRY_RESUME_PC,
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// Calls `callee(a0, a1, a2, a3)` (C convention; a callee taking fewer
    /// arguments ignores the rest) after writing this frame's resume point
    /// into `record` (a `VMStackRecord`). Returns 0 on a normal return,
    /// the payload when resumed at [`weft_entry_resume`].
    pub(super) fn weft_enter(
        callee: usize,
        a0: *mut u8,
        a1: *mut u8,
        a2: *mut u8,
        a3: *mut u8,
        record: *const u8,
    ) -> u64;

    /// Continues at `pc` with the given stack and frame pointers and
    /// payload registers (rax, rdx).
    pub(super) fn weft_resume_at(
        pc: usize,
        sp: usize,
        fp: usize,
        payload0: usize,
        payload1: usize,
    ) -> !;
}
