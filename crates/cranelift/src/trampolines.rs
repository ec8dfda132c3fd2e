//! Trampolines between the host's array calling convention and wasm's.
//!
//! Values cross in an array of 16-byte `ValRaw` slots (docs/INVARIANTS.md, invariant
//! 5: the "Go slice" ABI): arguments are read from it, results written back
//! over it.
//!
//! ```text
//! host -> wasm ("array to wasm"), native calling convention:
//!   fn(callee_vmctx, caller_vmctx, wasm_code_ptr, values: *mut [ValRaw])
//!     loads params from values[0..n], calls wasm_code_ptr (tail callconv),
//!     stores results to values[0..m]
//!
//! wasm -> host ("wasm to host"), tail calling convention:
//!   fn(host_ctx, caller_vmctx, params...) -> results
//!     +---------------------------+  <- trampoline frame
//!     | values: [ValRaw; max(n,m)]|     stack slot
//!     +---------------------------+
//!   checks that the running stack has its host reserve left (one
//!   compare; a continuation's host limit is above every address, so a
//!   continuation takes the cold branch too, which traps with
//!   StackOverflow on a native stack and goes to the value array on a
//!   continuation), records its caller's frame pointer and stack pointer
//!   as the stack record's `last_exit_fp`/`last_exit_sp`; then, for a host
//!   function with a native-ABI entry (numbers only, at most one result:
//!   `weft_environ::native_host_abi`) called off a continuation, calls
//!   that entry directly with the arguments in registers (C convention)
//!   and traps with HostError when its `ok` is 0; otherwise stores the
//!   arguments into the array and calls
//!   the HostCall builtin
//!   (host_ctx, caller_vmctx, &values, len) -> ok, traps with HostError when
//!   ok == 0, then returns values[0..m].
//! ```
//!
//! A direct `call` of an imported host function with a native entry
//! usually skips this trampoline: the caller does the same checks and
//! records the same exit inline (`translate.rs`,
//! `call_import_maybe_native`) and calls the entry itself.

use crate::env::{PTR, clif_type, wasm_signature};
use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData as MemFlags, Signature, StackSlotData, StackSlotKind,
    types,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use weft_environ::wasmparser::FuncType;
use weft_environ::{Builtin, Trap, VAL_RAW_SIZE, func_ref, host_ctx, stack_record, store_ctx};

/// Which direction a trampoline goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrampolineKind {
    /// Host (array convention) calling a wasm function.
    ArrayToWasm,
    /// Wasm calling a host function (array convention).
    WasmToHost,
}

fn value_flags() -> MemFlags {
    MemFlags::trusted()
}

/// Builds the trampoline's CLIF into `func`.
pub fn build(isa: &dyn TargetIsa, kind: TrampolineKind, ty: &FuncType, func: &mut ir::Function) {
    match kind {
        TrampolineKind::ArrayToWasm => array_to_wasm(isa, ty, func),
        TrampolineKind::WasmToHost => wasm_to_host(isa, ty, func),
    }
}

fn array_to_wasm(isa: &dyn TargetIsa, ty: &FuncType, func: &mut ir::Function) {
    let mut sig = Signature::new(isa.default_call_conv());
    for _ in 0..4 {
        sig.params.push(AbiParam::new(PTR));
    }
    func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (callee_vmctx, caller_vmctx, code, values) = (p[0], p[1], p[2], p[3]);
    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, t) in ty.params().iter().enumerate() {
        let v = b.ins().load(
            clif_type(*t),
            value_flags(),
            values,
            (i as u32 * VAL_RAW_SIZE) as i32,
        );
        args.push(v);
    }
    let wasm_sig = b.import_signature(wasm_signature(isa, ty));
    let call = b.ins().call_indirect(wasm_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins()
            .store(value_flags(), r, values, (i as u32 * VAL_RAW_SIZE) as i32);
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
}

fn wasm_to_host(isa: &dyn TargetIsa, ty: &FuncType, func: &mut ir::Function) {
    func.signature = wasm_signature(isa, ty);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (hctx, caller_vmctx) = (p[0], p[1]);
    let params = &p[2..];
    // The running stack's record: where wasm leaves off, and how much
    // native stack the host gets.
    let store = b.ins().load(
        PTR,
        MemFlags::trusted().with_readonly(),
        hctx,
        host_ctx::STORE_CTX as i32,
    );
    // Host code must find at least the configured reserve of native stack
    // below us; otherwise trap here ("call stack exhausted"), while only
    // wasm frames and this trampoline are below the entry. This check and
    // the prologues' wasm stack limit together make guest<->host recursion
    // of any depth end in a clean trap, never in a native overflow inside
    // Rust code. A continuation's record has a host limit above every
    // address (host code never runs on its stack), so one compare sends
    // both an exhausted stack and a continuation to the cold block.
    let (record, sp, below) = below_host_limit(&mut b, store);
    let fast = b.create_block();
    let cold = b.create_block();
    let on_cont = b.create_block();
    let array = b.create_block();
    b.ins().brif(below, cold, &[], fast, &[]);

    // Cold: on a continuation (the `HostCall` builtin moves host code to
    // the native stack; the trampoline's frame and that builtin's bounded
    // code fit in the continuation's red zone above its wasm limit), or
    // out of native stack.
    b.switch_to_block(cold);
    b.seal_block(cold);
    b.set_cold_block(cold);
    let kind = b
        .ins()
        .load(PTR, MemFlags::trusted(), record, stack_record::KIND as i32);
    let is_cont = b.ins().icmp_imm_u(
        ir::condcodes::IntCC::Equal,
        kind,
        stack_record::KIND_CONTINUATION as i64,
    );
    b.ins()
        .trapz(is_cont, crate::trap_code(Trap::StackOverflow));
    b.ins().jump(on_cont, &[]);
    b.switch_to_block(on_cont);
    b.seal_block(on_cont);
    b.set_cold_block(on_cont);
    let limit = b.ins().load(
        PTR,
        MemFlags::trusted(),
        record,
        stack_record::STACK_LIMIT as i32,
    );
    let exhausted = b
        .ins()
        .icmp(ir::condcodes::IntCC::UnsignedLessThan, sp, limit);
    b.ins()
        .trapnz(exhausted, crate::trap_code(Trap::StackOverflow));
    record_exit(&mut b, record);
    b.ins().jump(array, &[]);

    b.switch_to_block(fast);
    b.seal_block(fast);
    record_exit(&mut b, record);
    if weft_environ::native_host_abi(ty) {
        native_host_call(isa, ty, &mut b, hctx, caller_vmctx, params, array);
    } else {
        b.ins().jump(array, &[]);
    }
    b.switch_to_block(array);
    b.seal_block(array);
    array_host_call(isa, ty, &mut b, hctx, caller_vmctx, params);
    b.finalize(isa.frontend_config());
}

/// Records where wasm left off as the running stack's last exit, for
/// backtraces, root scans and throws through host frames: the wasm
/// caller's frame pointer (saved at this frame's) and its stack pointer
/// at the call (just above this frame's return address).
///
/// ```text
///   caller sp = fp + 16 -> +----------------------+
///                          | return address       |  fp + 8
///                 fp ----> | caller's fp          |
///                          | trampoline frame ... |
/// ```
fn record_exit(b: &mut FunctionBuilder<'_>, record: ir::Value) {
    let fp = b.ins().get_frame_pointer(PTR);
    let caller_fp = b.ins().load(PTR, MemFlags::trusted(), fp, 0);
    let caller_sp = b.ins().iadd_imm_s(fp, 16);
    store_exit(b, record, caller_fp, caller_sp);
}

/// The running stack's record (from store context `store`), the stack
/// pointer, and whether that stack pointer is below the record's host
/// limit: out of host reserve, or on a continuation (whose host limit is
/// above every address). What both ways into the host check first.
pub(crate) fn below_host_limit(
    b: &mut FunctionBuilder<'_>,
    store: ir::Value,
) -> (ir::Value, ir::Value, ir::Value) {
    let record = b.ins().load(
        PTR,
        MemFlags::trusted(),
        store,
        store_ctx::CURRENT_STACK as i32,
    );
    let host_limit = b.ins().load(
        PTR,
        MemFlags::trusted(),
        record,
        stack_record::HOST_LIMIT as i32,
    );
    let sp = b.ins().get_stack_pointer(PTR);
    let below = b
        .ins()
        .icmp(ir::condcodes::IntCC::UnsignedLessThan, sp, host_limit);
    (record, sp, below)
}

/// Stores `(fp, sp)` of the wasm frame calling the host as `record`'s
/// last exit (`stack_record::LAST_EXIT_FP`/`LAST_EXIT_SP`).
pub(crate) fn store_exit(
    b: &mut FunctionBuilder<'_>,
    record: ir::Value,
    fp: ir::Value,
    sp: ir::Value,
) {
    b.ins().store(
        MemFlags::trusted(),
        fp,
        record,
        stack_record::LAST_EXIT_FP as i32,
    );
    b.ins().store(
        MemFlags::trusted(),
        sp,
        record,
        stack_record::LAST_EXIT_SP as i32,
    );
}

/// The C-convention signature of a native-ABI host entry for `ty`
/// (`weft_environ::native_host_abi`):
/// `(host_ctx, caller_vmctx, params...) -> (result?, ok)`.
pub(crate) fn native_host_signature(isa: &dyn TargetIsa, ty: &FuncType) -> Signature {
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(PTR));
    sig.params.push(AbiParam::new(PTR));
    for t in ty.params() {
        sig.params.push(AbiParam::new(clif_type(*t)));
    }
    for t in ty.results() {
        sig.returns.push(AbiParam::new(clif_type(*t)));
    }
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

/// The direct call of a host function's native-ABI entry
/// (`weft_environ::native_host_abi`), when it has one; reached only off a
/// continuation (host code runs on a continuation only through the
/// `HostCall` builtin, which moves it to the native stack). Jumps to the
/// value-array path, `array`, when the function has no such entry.
///
/// ```text
///   native = hctx.func_ref.native_call
///   if native != 0:
///       (result?, ok) = native(hctx, caller_vmctx, params...)   C convention
///       trap HostError if ok == 0
///       return result?
///   goto array
/// ```
fn native_host_call(
    isa: &dyn TargetIsa,
    ty: &FuncType,
    b: &mut FunctionBuilder<'_>,
    hctx: ir::Value,
    caller_vmctx: ir::Value,
    params: &[ir::Value],
    array: ir::Block,
) {
    let native = b.ins().load(
        PTR,
        MemFlags::trusted().with_readonly(),
        hctx,
        (host_ctx::FUNC_REF + func_ref::NATIVE_CALL) as i32,
    );
    let direct = b.create_block();
    // A cold hop to the array path, so that the direct call is the
    // fall-through (cold blocks are laid out at the end).
    let no_native = b.create_block();
    b.ins().brif(native, direct, &[], no_native, &[]);
    b.switch_to_block(no_native);
    b.seal_block(no_native);
    b.set_cold_block(no_native);
    b.ins().jump(array, &[]);
    b.switch_to_block(direct);
    b.seal_block(direct);
    let sig = b.import_signature(native_host_signature(isa, ty));
    let mut args = vec![hctx, caller_vmctx];
    args.extend_from_slice(params);
    let call = b.ins().call_indirect(sig, native, &args);
    let rets = b.inst_results(call).to_vec();
    let (ok, results) = rets.split_last().expect("the ok flag");
    b.ins().trapz(*ok, crate::trap_code(Trap::HostError));
    b.ins().return_(results);
}

/// The value-array path: arguments into a stack array, the `HostCall`
/// builtin, results out of the array.
fn array_host_call(
    isa: &dyn TargetIsa,
    ty: &FuncType,
    b: &mut FunctionBuilder<'_>,
    hctx: ir::Value,
    caller_vmctx: ir::Value,
    params: &[ir::Value],
) {
    let len = ty.params().len().max(ty.results().len()).max(1) as u32;
    let slot = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        len * VAL_RAW_SIZE,
        4,
    ));
    let values = b.ins().stack_addr(PTR, slot, 0);
    for (i, v) in params.iter().enumerate() {
        b.ins()
            .store(value_flags(), *v, values, (i as u32 * VAL_RAW_SIZE) as i32);
    }
    let builtins = b.ins().load(
        PTR,
        MemFlags::trusted().with_readonly(),
        hctx,
        host_ctx::BUILTINS as i32,
    );
    let fnptr = b.ins().load(
        PTR,
        MemFlags::trusted().with_readonly(),
        builtins,
        Builtin::HostCall.offset() as i32,
    );
    let host_sig = b.import_signature(crate::env::builtin_signature(isa, Builtin::HostCall));
    let n = b.ins().iconst(types::I64, i64::from(len));
    let call = b
        .ins()
        .call_indirect(host_sig, fnptr, &[hctx, caller_vmctx, values, n]);
    let ok = b.inst_results(call)[0];
    b.ins().trapz(ok, crate::trap_code(Trap::HostError));
    let mut results = Vec::new();
    for (i, t) in ty.results().iter().enumerate() {
        let v = b.ins().load(
            clif_type(*t),
            value_flags(),
            values,
            (i as u32 * VAL_RAW_SIZE) as i32,
        );
        results.push(v);
    }
    b.ins().return_(&results);
}
