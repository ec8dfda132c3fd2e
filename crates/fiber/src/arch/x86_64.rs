//! x86_64 (System V) stack switch: `weft_fiber_switch`, the fiber start
//! trampoline `weft_fiber_start`, and the Rust code that lays out a fresh
//! stack for them.
//!
//! CAUTION: this is hand-written assembly, and the three pieces below (the
//! initial frame written by [`init_stack`], the switch routine, the start
//! trampoline) only work together. Every instruction and every CFI
//! directive matters, for correctness (callee-saved registers, stack
//! alignment) and for debuggers, profilers and backtraces, which walk from
//! the fiber into whoever resumed it using this CFI and the frame records
//! described here. When changing anything, re-check the diagrams and every
//! `.cfi_*` directive, then run the crate's backtrace and gdb tests.
//!
//! ## The switch frame
//!
//! Each side of a switch (the resumer, or the fiber) calls
//! `weft_fiber_switch(slot)`, which pushes the callee-saved registers in a
//! fixed order, with rbp first so that it forms an ordinary frame record
//! `R = {saved rbp, return address}`:
//!
//! ```text
//!   R + 8    return address into the caller of weft_fiber_switch   <- CFA - 8
//!   R + 0    caller's rbp          (rbp = R after the prologue)    <- CFA - 16
//!   R - 8    caller's rbx                                          <- CFA - 24
//!   R - 16   caller's r12                                          <- CFA - 32
//!   R - 24   caller's r13                                          <- CFA - 40
//!   R - 32   caller's r14                                          <- CFA - 48
//!   R - 40   caller's r15          (rsp while switched away)       <- CFA - 56
//! ```
//!
//! It then swaps `R` with the word at `slot` and continues with the other
//! side's `R'`: rbp = R', rsp = R' - 40, pop the five registers, pop rbp,
//! return. A suspended side is therefore fully described by one word, its
//! `R`, which sits in the slot while the side is switched away.
//!
//! ## The header and the initial frame
//!
//! The slot lives in a 32-byte header at the top of every fiber stack
//! (`top` is page aligned). Example addresses for a stack whose top is
//! `0x7f00_0000_5000`:
//!
//! ```text
//!   0x..5000  top ------------------------------------------------------
//!   0x..4ff8  top - 8   resume pc: address inside weft_fiber_switch,
//!                       written by the trampoline ("return address" of
//!                       the header frame record)
//!   0x..4ff0  top - 16  SLOT: R of the side that is switched away
//!                       (resumer's R while the fiber runs, the fiber's R
//!                       while it is suspended): "saved rbp" of the
//!                       header frame record
//!   0x..4fe8  top - 24  reserved (0)
//!   0x..4fe0  top - 32  reserved (0)    <- rsp when the trampoline starts
//!   ---------- initial frame (a switch frame with R0 = top - 48) -------
//!   0x..4fd8  top - 40  R0 + 8: "return address" = weft_fiber_start
//!   0x..4fd0  top - 48  R0:     rbp = top - 16 (the header frame record)
//!   0x..4fc8  top - 56  rbx = entry function
//!   0x..4fc0  top - 64  r12 = entry argument
//!   0x..4fb8  top - 72  r13 = 0
//!   0x..4fb0  top - 80  r14 = 0
//!   0x..4fa8  top - 88  r15 = 0
//!   ---------- below: the fiber's own frames, down to the guard page ---
//! ```
//!
//! Before the first resume, SLOT = R0. The first `weft_fiber_switch(slot)`
//! from the resumer stores the resumer's R in SLOT, pops the initial frame
//! (rbx = entry, r12 = arg, rbp = top - 16) and "returns" into
//! `weft_fiber_start` with rsp = top - 32 (16-byte aligned), which calls
//! `entry(arg)`. `entry` never returns: when the fiber is finished it
//! switches away one last time and the stack is dead.
//!
//! ## How unwinders get from the fiber to the resumer
//!
//! The trampoline's frame is permanent (it is the outermost frame of the
//! fiber) and its frame pointer is `top - 16`, the header frame record:
//!
//! * DWARF (gdb, perf --call-graph=dwarf, `std::backtrace`): the
//!   trampoline's CFI says CFA = rbp + 16 = top, caller's rip at CFA - 8 =
//!   the resume pc, caller's rbp at CFA - 16 = SLOT = the resumer's R. The
//!   unwinder then looks up the CFI of `weft_fiber_switch` at the resume
//!   pc, where the rule is "CFA = rbp + 16, registers saved below R" (see
//!   the switch routine), so it recovers the resumer's rip, rbp, rbx and
//!   r12-r15 from the resumer's switch frame and carries on into the
//!   resumer's frames.
//! * Frame pointers (perf --call-graph=fp, weft's own backtraces):
//!   `[top - 16]` = R (the next frame pointer) and `[top - 8]` = the resume
//!   pc; `[R]`/`[R + 8]` are the resumer's saved rbp and return address.
//!
//! Both show one frame `weft_fiber_switch` between the fiber's trampoline
//! and the resumer's frame that called it, which is the truth: that is
//! where the resumer is waiting. The trampoline's FDE is marked as a
//! signal frame (see the directive below), so that gdb walks on into the
//! resumer even when the resumer's stack is at a lower address than the
//! fiber's; gdb names the trampoline frame `<signal handler called>`.
//! Because the slot always holds the
//! *current* resumer's R, a fiber resumed from different places (or from
//! another fiber) always unwinds into its current resumer.

use super::EntryFn;

core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // void weft_fiber_switch(slot: rdi)
    //   Saves the caller's callee-saved registers in a switch frame R,
    //   exchanges R with *slot, and resumes the side whose frame was in
    //   *slot. Returns (on this side) when someone switches back through
    //   the slot this side's R was stored in.
    // ---------------------------------------------------------------------
    // Own text section, so the linker can drop it if unused.
    ".pushsection .text.weft_fiber_switch,\"ax\",@progbits",
    // Export the symbol to the Rust side of this crate.
    ".globl weft_fiber_switch",
    // Not visible outside the final linked object.
    ".hidden weft_fiber_switch",
    // An ELF function symbol, so tools show it with a name and size.
    ".type weft_fiber_switch,@function",
    // Align the entry to 16 bytes like compiled functions.
    ".p2align 4",
    "weft_fiber_switch:",
    // Begin the FDE; CIE defaults: CFA = rsp + 8, return address at CFA - 8.
    ".cfi_startproc",
    // Save the caller's frame pointer; it forms the frame record R with
    // the return address just above it.
    "push rbp",
    // rsp moved down by 8: CFA = rsp + 16.
    ".cfi_def_cfa_offset 16",
    // The caller's rbp is at CFA - 16.
    ".cfi_offset rbp, -16",
    // rbp = R, the address of the frame record.
    "mov rbp, rsp",
    // From here on CFA = rbp + 16. This rule stays true across the
    // exchange below because both sides' switch frames have this layout.
    ".cfi_def_cfa_register rbp",
    // Save rbx.
    "push rbx",
    // rbx at R - 8 = CFA - 24.
    ".cfi_offset rbx, -24",
    // Save r12.
    "push r12",
    // r12 at R - 16 = CFA - 32.
    ".cfi_offset r12, -32",
    // Save r13.
    "push r13",
    // r13 at R - 24 = CFA - 40.
    ".cfi_offset r13, -40",
    // Save r14.
    "push r14",
    // r14 at R - 32 = CFA - 48.
    ".cfi_offset r14, -48",
    // Save r15; rsp = R - 40 now, which is all the other side needs to
    // know about us (recomputed from R on the way back).
    "push r15",
    // r15 at R - 40 = CFA - 56.
    ".cfi_offset r15, -56",
    // rax = R' of the side to resume (its frame record).
    "mov rax, qword ptr [rdi]",
    // Publish our R: whoever switches through this slot resumes us.
    "mov qword ptr [rdi], rbp",
    // Adopt the other side's frame record. The CFI row (CFA = rbp + 16,
    // registers below it) now describes the other side's switch frame.
    "mov rbp, rax",
    // The resume pc: the trampoline stores this address as the "return
    // address" of a fiber's outermost frame record, so unwinders walking
    // out of a fiber look up the CFI row just before it (the one above)
    // with rbp = the resumer's R. Local label: not a symbol of its own.
    ".Lweft_fiber_switch_resume_pc:",
    // rsp = R' - 40, where the other side's r15 was pushed.
    "lea rsp, [rbp - 40]",
    // Restore r15.
    "pop r15",
    // r15 holds the (resumed) caller's value again.
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
    // Restore the caller's rbp; rsp now points at the return address.
    "pop rbp",
    // rbp no longer points at the frame: CFA = rsp + 8 again.
    ".cfi_def_cfa rsp, 8",
    // rbp holds the caller's value again.
    ".cfi_restore rbp",
    // Return into the resumed side (or, the first time a fiber runs, into
    // weft_fiber_start, whose address the initial frame holds).
    "ret",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_fiber_switch, .-weft_fiber_switch",
    // ---------------------------------------------------------------------
    // weft_fiber_start: never called; entered by weft_fiber_switch's `ret`
    // on a fresh stack with rbp = top - 16, rbx = entry, r12 = arg,
    // rsp = top - 32. Calls entry(arg), which never returns.
    // ---------------------------------------------------------------------
    // Align like a compiled function.
    ".p2align 4",
    // Export the symbol: Rust writes its address into the initial frame.
    ".globl weft_fiber_start",
    // Not visible outside the final linked object.
    ".hidden weft_fiber_start",
    // An ELF function symbol, so backtraces name this frame.
    ".type weft_fiber_start,@function",
    "weft_fiber_start:",
    // Begin the FDE. The CIE's default rule (CFA = rsp + 8) is replaced
    // right away, before the first instruction.
    ".cfi_startproc",
    // Mark the frame as a "signal frame" (FDE augmentation 'S'): it was
    // entered by a switch, not by a call, like a signal trampoline. Two
    // effects: unwinders look up the caller's CFI at the resume pc itself
    // rather than at pc - 1 (both lie in the same CFI row of
    // weft_fiber_switch, so either works); and gdb does not apply its
    // "previous frame inner to this frame (corrupt stack?)" check to the
    // step from here into the resumer, whose stack may lie at a lower
    // address than this one (a pooled or nested fiber stack). gdb shows
    // this frame as "<signal handler called>" in exchange.
    ".cfi_signal_frame",
    // CFA = rbp + 16 = top: this frame's "caller" is described by the
    // header frame record at rbp = top - 16.
    ".cfi_def_cfa rbp, 16",
    // Caller's rbp at CFA - 16 = top - 16 = SLOT: the resumer's R.
    ".cfi_offset rbp, -16",
    // Caller's rip at CFA - 8 = top - 8: the resume pc inside
    // weft_fiber_switch (stored by the next two instructions; until then
    // it is 0, which ends a backtrace cleanly).
    ".cfi_offset rip, -8",
    // rax = the resume pc.
    "lea rax, [rip + .Lweft_fiber_switch_resume_pc]",
    // Complete the header frame record: [top - 8] = resume pc.
    "mov qword ptr [rbp + 8], rax",
    // First argument of entry: the argument from the initial frame.
    "mov rdi, r12",
    // entry(arg). rsp = top - 32 is 16-byte aligned here, as the ABI
    // requires at a call. `call` (not `jmp`) keeps this frame on the stack
    // so that unwinders pass through the CFI above.
    "call rbx",
    // entry never returns; trap if it does.
    "ud2",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size, for tools.
    ".size weft_fiber_start, .-weft_fiber_start",
    // Back to the section that was current before.
    ".popsection",
);

unsafe extern "C" {
    /// Switches to the side whose switch frame is in `*slot`, leaving ours
    /// there. See the module docs.
    fn weft_fiber_switch(slot: *mut usize);

    /// The fiber start trampoline. Never call it: only its address is used,
    /// as the return address of the initial frame.
    fn weft_fiber_start();
}

/// Bytes at the top of a stack used by the header and the initial frame.
pub(crate) const RESERVED_TOP: usize = 88;

/// Lays out the header and the initial frame at the top of a stack (see
/// the module docs) so that the first [`switch`] through the returned
/// slot runs `entry(arg)` on that stack. Returns the slot.
///
/// # Safety
///
/// `top` must be the 16-byte aligned top of a writable stack of at least
/// a page that nothing is running on.
pub(crate) unsafe fn init_stack(top: *mut u8, entry: EntryFn, arg: *mut u8) -> *mut usize {
    let top = top.cast::<usize>();
    // SAFETY: the caller guarantees `top` is the aligned end of a writable
    // stack of at least a page; we write 11 words (88 bytes) below it.
    unsafe {
        let word = |words_below_top: usize| top.sub(words_below_top);
        let slot = word(2); // top - 16
        let r0 = word(6); // top - 48
        word(1).write(0); // resume pc, stored by the trampoline
        slot.write(r0 as usize); // the fiber's R before it first runs
        word(3).write(0); // reserved
        word(4).write(0); // reserved
        word(5).write(weft_fiber_start as *const () as usize); // R0 + 8: "return address"
        r0.write(slot as usize); // R0: rbp = header frame record
        word(7).write(entry as *const () as usize); // rbx
        word(8).write(arg as usize); // r12
        word(9).write(0); // r13
        word(10).write(0); // r14
        word(11).write(0); // r15
        slot
    }
}

/// Switches to the side whose frame is in `*slot` (see the module docs).
///
/// # Safety
///
/// `slot` must be the slot of a live stack set up by [`init_stack`], and
/// the side stored there must be a valid suspended side: the initial frame
/// of a fiber that never ran, a suspended fiber, or a resumer currently
/// waiting in its own `switch` through this slot.
#[inline(always)]
pub(crate) unsafe fn switch(slot: *mut usize) {
    // SAFETY: forwarded to the caller.
    unsafe { weft_fiber_switch(slot) }
}
