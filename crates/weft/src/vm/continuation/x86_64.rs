//! x86_64 (System V) start routine of a fresh continuation.
//!
//! CAUTION: this is hand-written assembly. Every instruction and every CFI
//! directive below matters, for correctness (stack alignment, the
//! registers `stack_switch` leaves us) and for debuggers and backtraces.
//! When changing an instruction, re-check the diagrams and every `.cfi_*`
//! directive after it. The symbol is only ever used through [`super`].
//!
//! A fresh continuation's control context (set by `ContPool::create`) is
//! `{sp = args - 32, fp = args - 16, pc = weft_cont_start}`, and the word
//! at that sp holds the continuation's record (`VMContRecord *`). The
//! first `resume` switches here with Cranelift's `stack_switch`, which
//! loads that sp and fp and jumps; its payload register (rdi) carries the
//! resumer's record, a hint for the continuation's `suspend`s (see
//! `weft_cranelift`'s `translate/stack_switching.rs`), unused here. Every
//! other register is undefined.
//!
//! ```text
//!   on entry                                after `call` below
//!
//!   args    [ValRaw; n] (arguments)         args    [ValRaw; n]
//!   args-8  0  (no return address)          args-8  0
//!   args-16 0  (no caller fp)  <- rbp       args-16 0          <- rbp
//!   args-24 0  (padding)                    args-24 0
//!   args-32 the record         <- rsp       args-32 the record
//!                                           args-40 return address into
//!                                                   this routine  <- rsp
//!                                           ...     array-to-wasm trampoline,
//!                                                   wasm frames
//! ```
//!
//! The zero frame ends every frame-pointer walk on the continuation (the
//! runtime's walker continues into the resumer through the records, see
//! `stack/walk.rs`). For debuggers the CFI of this routine does the same
//! with DWARF expressions: while it runs, rbx holds the record, whose
//! `parent` is the resumer's record, whose control context holds the
//! resumer's sp, fp and pc; so the "caller" of this frame is the resumer's
//! frame waiting in its `resume`:
//!
//! ```text
//!   CFA (= caller's rsp) = *(*(rbx + PARENT) + CTX_SP)
//!   caller's rbp         = *(*(rbx + PARENT) + CTX_FP)
//!   return address       = *(*(rbx + PARENT) + CTX_PC)
//! ```
//!
//! The frame is marked as a signal frame: the resumer's frame may lie at a
//! lower address than this one (another continuation's stack), which gdb
//! accepts only across signal frames, and its pc is a resume point rather
//! than a return address.
//!
//! The routine calls the function through the array-to-wasm trampoline of
//! its type (`fn(callee_vmctx, caller_vmctx, code, values)`), which reads
//! the arguments from `args` and writes the results back over them, then
//! calls `cont_returned(record)`, which hands the results to the resumer,
//! retires the continuation and returns the resumer's record. The routine
//! then does the loading half of a `stack_switch` by hand: rsp, rbp from
//! the resumer's control context, effect 0 in rdi, jump to its pc. Traps
//! never come back here: they unwind to the nearest host entry.

use super::VMContRecord;
use crate::vm::vmcontext::VMFuncRef;
use std::mem::offset_of;
use weft_environ::stack_record;

core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // weft_cont_start: entered by stack_switch with [rsp] = VMContRecord*.
    // ---------------------------------------------------------------------
    // Own text section (dropped if unused).
    ".pushsection .text.weft_cont_start,\"ax\",@progbits",
    // Visible to this crate's Rust code.
    ".globl weft_cont_start",
    // Not exported from the final object.
    ".hidden weft_cont_start",
    // An ELF function symbol, so tools show it with a name.
    ".type weft_cont_start,@function",
    // Align like compiled functions.
    ".p2align 4",
    "weft_cont_start:",
    // Begin the FDE.
    ".cfi_startproc",
    // Unwinders: no ordering check against the caller (see above).
    ".cfi_signal_frame",
    // Until rbx holds the record there is no caller to describe.
    ".cfi_undefined rip",
    // Keep the record in a callee-saved register across both calls.
    "mov rbx, qword ptr [rsp]",
    // DW_CFA_def_cfa_expression, 7 bytes: DW_OP_breg3 (rbx) +96 (PARENT,
    // SLEB128 0xe0 0x00), DW_OP_deref, DW_OP_plus_uconst 0 (CTX_SP),
    // DW_OP_deref: CFA = the resumer's saved stack pointer.
    ".cfi_escape 0x0f, 0x07, 0x73, 0xe0, 0x00, 0x06, 0x23, 0x00, 0x06",
    // DW_CFA_val_expression rip (16), 7 bytes: the same with CTX_PC (16):
    // the return address is the resumer's saved pc.
    ".cfi_escape 0x16, 0x10, 0x07, 0x73, 0xe0, 0x00, 0x06, 0x23, 0x10, 0x06",
    // DW_CFA_val_expression rbp (6), 7 bytes: with CTX_FP (8): the
    // caller's rbp is the resumer's saved frame pointer.
    ".cfi_escape 0x16, 0x06, 0x07, 0x73, 0xe0, 0x00, 0x06, 0x23, 0x08, 0x06",
    // rax = the function reference to run.
    "mov rax, qword ptr [rbx + {funcref}]",
    // Trampoline argument 1: the callee's vmctx.
    "mov rdi, qword ptr [rax + {fr_vmctx}]",
    // Argument 2: the vmctx of the instance that made the continuation.
    "mov rsi, qword ptr [rbx + {caller_vmctx}]",
    // Argument 3: the callee's code (tail calling convention).
    "mov rdx, qword ptr [rax + {fr_code}]",
    // Argument 4: the argument/result array.
    "mov rcx, qword ptr [rbx + {args}]",
    // rsp is 16-byte aligned here (args - 32): the ABI's alignment at a call.
    "call qword ptr [rbx + {tramp}]",
    // The function returned: hand over the results, retire the stack.
    "mov rdi, rbx",
    // rax = the resumer's record.
    "call {returned}",
    // Load the resumer's saved stack pointer...
    "mov rsp, qword ptr [rax + {ctx_sp}]",
    // ...and frame pointer,
    "mov rbp, qword ptr [rax + {ctx_fp}]",
    // pass effect 0 ("returned") in the stack_switch payload register,
    "xor edi, edi",
    // and continue after the resumer's stack_switch.
    "jmp qword ptr [rax + {ctx_pc}]",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size for tools.
    ".size weft_cont_start, .-weft_cont_start",
    // Back to the previous section.
    ".popsection",
    funcref = const offset_of!(VMContRecord, funcref),
    caller_vmctx = const offset_of!(VMContRecord, caller_vmctx),
    args = const offset_of!(VMContRecord, args),
    tramp = const offset_of!(VMContRecord, array_trampoline),
    fr_vmctx = const offset_of!(VMFuncRef, vmctx),
    fr_code = const offset_of!(VMFuncRef, wasm_call),
    returned = sym super::cont_returned,
    ctx_sp = const stack_record::CTX_SP,
    ctx_fp = const stack_record::CTX_FP,
    ctx_pc = const stack_record::CTX_PC,
);

// Host calls made on a continuation run on the native stack (invariant 7):
//
// ```text
//   continuation stack                    native (or fiber) stack
//   +---------------------------+          +----------------------------+
//   | wasm ... trampoline       |          | frames waiting in `resume` |
//   | host_call builtin (Rust)  |          |   <- root.ctx_sp           |
//   | weft_call_on_stack frame: |          | (gap of HOST_GAP bytes)    |
//   |   saved rbp    <- rbp ----+----.     | sp argument, 16-aligned    |
//   +---------------------------+     `----+-- f(data): host function  |
//                                          |   (and any wasm it calls)  |
//                                          +----------------------------+
// ```
//
// `weft_call_on_stack(sp, f, data)` keeps its frame on the stack it was
// called on, moves rsp to `sp` (on the other stack), calls `f(data)`
// there, and comes back through rbp. Its CFI computes the CFA from rbp, so
// debuggers walk from the host function on the native stack back into the
// continuation's frames. `f` must not unwind (the caller catches panics
// inside it).
core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // void weft_call_on_stack(sp: rdi, f: rsi, data: rdx)
    // ---------------------------------------------------------------------
    // Own text section (dropped if unused).
    ".pushsection .text.weft_call_on_stack,\"ax\",@progbits",
    // Visible to this crate's Rust code.
    ".globl weft_call_on_stack",
    // Not exported from the final object.
    ".hidden weft_call_on_stack",
    // An ELF function symbol.
    ".type weft_call_on_stack,@function",
    // Align like compiled functions.
    ".p2align 4",
    "weft_call_on_stack:",
    // Begin the FDE (CFA = rsp + 8, return address at CFA - 8).
    ".cfi_startproc",
    // Its caller's frames are on another stack, possibly at higher or
    // lower addresses: a signal frame, so gdb does not stop at the jump.
    ".cfi_signal_frame",
    // Save the caller's frame pointer.
    "push rbp",
    // rsp moved by 8: CFA = rsp + 16.
    ".cfi_def_cfa_offset 16",
    // The caller's rbp is saved at CFA - 16.
    ".cfi_offset rbp, -16",
    // Our frame pointer, on the calling stack.
    "mov rbp, rsp",
    // From here on the CFA is rbp + 16, wherever rsp is.
    ".cfi_def_cfa_register rbp",
    // Move to the other stack (sp is 16-byte aligned: the ABI's alignment
    // at the call below).
    "mov rsp, rdi",
    // The callee's only argument.
    "mov rdi, rdx",
    // Run it on the other stack.
    "call rsi",
    // Back to our frame on the calling stack.
    "mov rsp, rbp",
    // Restore the caller's frame pointer.
    "pop rbp",
    // CFA = rsp + 8 again.
    ".cfi_def_cfa rsp, 8",
    // Return to the caller.
    "ret",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size for tools.
    ".size weft_call_on_stack, .-weft_call_on_stack",
    // Back to the previous section.
    ".popsection",
);

// The host side of `resume` (`ContRef::resume`): a `stack_switch` written
// by hand, for Rust code. It saves the callee-saved registers in its own
// frame, stores {sp, fp, resume pc} into `store` (the running record's
// control context) and loads `load` (the continuation's), passing
// `payload` in rdi as generated code does. Whoever switches back to
// `store` later (the continuation returning, or suspending to this
// resumer) lands at label 2, which restores the registers and returns.
//
// ```text
//   frame while switched away (fp = rbp)
//   fp + 8    return address into the Rust caller
//   fp + 0    caller's rbp
//   fp - 8 .. fp - 40   rbx, r12, r13, r14, r15
//   fp - 48   padding               <- saved sp (16-byte aligned)
// ```
core::arch::global_asm!(
    // ---------------------------------------------------------------------
    // usize weft_host_switch(store: rdi, load: rsi, payload: rdx)
    //   Returns the payload of the switch back.
    // ---------------------------------------------------------------------
    // Own text section (dropped if unused).
    ".pushsection .text.weft_host_switch,\"ax\",@progbits",
    // Visible to this crate's Rust code.
    ".globl weft_host_switch",
    // Not exported from the final object.
    ".hidden weft_host_switch",
    // An ELF function symbol.
    ".type weft_host_switch,@function",
    // Align like compiled functions.
    ".p2align 4",
    "weft_host_switch:",
    // Begin the FDE (CFA = rsp + 8).
    ".cfi_startproc",
    // Save the caller's frame pointer.
    "push rbp",
    // CFA = rsp + 16.
    ".cfi_def_cfa_offset 16",
    // Caller's rbp at CFA - 16.
    ".cfi_offset rbp, -16",
    // Frame pointer of this routine.
    "mov rbp, rsp",
    // CFA = rbp + 16 from here on (also after the switch back).
    ".cfi_def_cfa_register rbp",
    // Save rbx (clobbered by whatever runs before the switch back).
    "push rbx",
    // rbx at CFA - 24.
    ".cfi_offset rbx, -24",
    // Save r12.
    "push r12",
    // r12 at CFA - 32.
    ".cfi_offset r12, -32",
    // Save r13.
    "push r13",
    // r13 at CFA - 40.
    ".cfi_offset r13, -40",
    // Save r14.
    "push r14",
    // r14 at CFA - 48.
    ".cfi_offset r14, -48",
    // Save r15.
    "push r15",
    // r15 at CFA - 56.
    ".cfi_offset r15, -56",
    // Keep the saved sp 16-byte aligned.
    "sub rsp, 8",
    // Read the target's context first (store and load may not alias, but
    // reading first keeps that harmless).
    "mov r8, qword ptr [rsi]",
    // Target frame pointer.
    "mov r9, qword ptr [rsi + 8]",
    // Target pc.
    "mov r10, qword ptr [rsi + 16]",
    // Our resume point.
    "lea rax, [rip + 2f]",
    // store.sp = rsp.
    "mov qword ptr [rdi], rsp",
    // store.fp = rbp.
    "mov qword ptr [rdi + 8], rbp",
    // store.pc = the resume point.
    "mov qword ptr [rdi + 16], rax",
    // The payload goes in rdi, as `stack_switch` passes it.
    "mov rdi, rdx",
    // Switch stacks...
    "mov rsp, r8",
    // ...and frames,
    "mov rbp, r9",
    // and continue there.
    "jmp r10",
    // Back: rsp and rbp are this frame's again.
    "2:",
    // Return the payload the switch back sent (in rdi, as `stack_switch`
    // delivers it).
    "mov rax, rdi",
    // Drop the padding.
    "add rsp, 8",
    // Restore r15.
    "pop r15",
    // Restore r14.
    "pop r14",
    // Restore r13.
    "pop r13",
    // Restore r12.
    "pop r12",
    // Restore rbx.
    "pop rbx",
    // Restore the caller's frame pointer.
    "pop rbp",
    // CFA = rsp + 8 again.
    ".cfi_def_cfa rsp, 8",
    // Return to the Rust caller.
    "ret",
    // End of the FDE.
    ".cfi_endproc",
    // Symbol size for tools.
    ".size weft_host_switch, .-weft_host_switch",
    // Back to the previous section.
    ".popsection",
);

unsafe extern "C" {
    fn weft_host_switch(store: *mut usize, load: *const usize, payload: usize) -> usize;
    fn weft_cont_start();
    fn weft_call_on_stack(sp: usize, f: unsafe extern "C" fn(*mut u8), data: *mut u8);
}

/// Switches from the running stack, whose control context is `store`, to
/// the one whose control context is `load`, passing `payload`; returns
/// the payload of the switch back to `store`, when one comes.
///
/// # Safety
/// `load` must be a live control context (a suspended or fresh
/// continuation) and `store` the running record's; the switch back must
/// come from generated code or `weft_cont_start`.
pub(super) unsafe fn host_switch(store: *mut usize, load: *const usize, payload: usize) -> usize {
    // SAFETY: forwarded to the caller.
    unsafe { weft_host_switch(store, load, payload) }
}

/// Runs `f(data)` with the stack pointer at `sp` (16-byte aligned, on
/// another stack), then returns here.
///
/// # Safety
/// `[sp - n, sp)` must be unused stack memory of a stack large enough for
/// `f`, and `f` must not unwind.
pub(super) unsafe fn call_on_stack(sp: usize, f: unsafe extern "C" fn(*mut u8), data: *mut u8) {
    debug_assert_eq!(sp % 16, 0);
    // SAFETY: forwarded to the caller.
    unsafe { weft_call_on_stack(sp, f, data) }
}

/// Address of the start routine (a fresh continuation's initial pc).
pub(super) fn start_address() -> usize {
    weft_cont_start as *const () as usize
}

// The DWARF expressions in `weft_cont_start`'s CFI spell these offsets out
// as bytes: change the `.cfi_escape` lines together with them.
const _: () = assert!(
    stack_record::PARENT == 96
        && stack_record::CTX_SP == 0
        && stack_record::CTX_FP == 8
        && stack_record::CTX_PC == 16,
    "update the .cfi_escape bytes of weft_cont_start"
);
