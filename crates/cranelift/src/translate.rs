//! Translation of one function body from wasm operators to CLIF.
//!
//! The operand stack holds CLIF `Value`s; control frames remember the CLIF
//! blocks that branches target. Values live in SSA form: wasm locals are
//! Cranelift `Variable`s, and block results travel as block parameters.
//!
//! Code after an unconditional branch is unreachable: it is validated but
//! not translated, except for the nesting of its control instructions.

mod exceptions;
mod gc;
mod stack_switching;

use crate::env::{FuncEnv, PTR, Region, clif_type, const_flags};
use anyhow::{Result, bail};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self, BlockArg, InstBuilder, MemFlagsData as MemFlags, SourceLoc, Value, types::*,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use weft_environ::wasmparser::{
    BlockType, FuncValidator, FunctionBody, MemArg, Operator, ValType, ValidatorResources,
};
use weft_environ::{
    Builtin, ModuleInfo, Trap, memory_def, stack_record, store_ctx, table_def, vmctx,
};

/// Translates `body` of function `func_index` into `func`.
pub fn translate_function(
    isa: &dyn TargetIsa,
    options: &crate::CompilerOptions,
    info: &ModuleInfo,
    func_index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    crate::env::declare_alias_regions(func);
    // Stack limit: vmctx -> store context -> current stack record ->
    // stack_limit, checked by every prologue. The record follows the
    // running stack (a fiber or continuation switch repoints
    // `current_stack`), so the pointer is loaded afresh each time.
    let ro_flags = func
        .dfg
        .mem_flags
        .insert_unchecked(MemFlags::trusted().with_readonly());
    let rw_flags = func.dfg.mem_flags.insert_unchecked(MemFlags::trusted());
    let vmctx_gv = func.create_global_value(ir::GlobalValueData::VMContext);
    let store_gv = func.create_global_value(ir::GlobalValueData::Load {
        base: vmctx_gv,
        offset: (vmctx::STORE_CTX as i32).into(),
        global_type: PTR,
        flags: ro_flags,
    });
    let record_gv = func.create_global_value(ir::GlobalValueData::Load {
        base: store_gv,
        offset: (store_ctx::CURRENT_STACK as i32).into(),
        global_type: PTR,
        flags: rw_flags,
    });
    let limit_gv = func.create_global_value(ir::GlobalValueData::Load {
        base: record_gv,
        offset: (stack_record::STACK_LIMIT as i32).into(),
        global_type: PTR,
        flags: rw_flags,
    });
    func.stack_limit = Some(limit_gv);

    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let vmctx = b.block_params(entry)[0];
    let env = FuncEnv::new(isa, info, vmctx);
    let fty = info.func_type(func_index).clone();

    let mut t = Translator {
        b,
        env,
        stack: Vec::new(),
        control: Vec::new(),
        reachable: true,
        unreachable_depth: 0,
        locals: Vec::new(),
        if_param_values: Vec::new(),
        epoch_checks: options.epoch_interruption,
        fuel: options.consume_fuel.then_some(0),
        handlers: Vec::new(),
        tries: Vec::new(),
        too_many_handlers: false,
        low_water: 0,
        gc_values: std::collections::HashSet::new(),
        gc_locals: Vec::new(),
        cont_values: std::collections::HashSet::new(),
        cont_locals: Vec::new(),
        entry_values: Default::default(),
    };

    // Parameters become the first locals.
    for (i, p) in fty.params().iter().enumerate() {
        let ty = clif_type(*p);
        let var = t.b.declare_var(ty);
        if info.is_gc_ref(*p) {
            t.b.declare_var_needs_stack_map(var);
            t.gc_locals.push(t.locals.len());
        } else if info.is_cont_ref(*p) {
            t.b.declare_var_needs_stack_map(var);
            t.cont_locals.push(t.locals.len());
        }
        let val = t.b.block_params(entry)[i + 2];
        t.b.def_var(var, val);
        t.locals.push((var, ty));
    }
    // Declared locals start at zero / null.
    let mut reader = body.get_locals_reader()?;
    for _ in 0..reader.get_count() {
        let pos = reader.original_position();
        let (count, ty) = reader.read()?;
        validator.define_locals(pos, count, ty)?;
        let cty = clif_type(ty);
        for _ in 0..count {
            let var = t.b.declare_var(cty);
            if info.is_gc_ref(ty) {
                t.b.declare_var_needs_stack_map(var);
                t.gc_locals.push(t.locals.len());
            } else if info.is_cont_ref(ty) {
                t.b.declare_var_needs_stack_map(var);
                t.cont_locals.push(t.locals.len());
            }
            let zero = t.zero(cty);
            t.b.def_var(var, zero);
            t.locals.push((var, cty));
        }
    }

    t.epoch_check();
    t.fuel_check();

    // The function body is an implicit block whose results are returned.
    let exit = t.b.create_block();
    let results: Vec<ir::Type> = fty.results().iter().map(|r| clif_type(*r)).collect();
    for r in &results {
        t.b.append_block_param(exit, *r);
    }
    t.declare_block_refs(exit, fty.results());
    t.control.push(Frame {
        kind: FrameKind::Block,
        dest: exit,
        header: None,
        else_block: None,
        num_params: 0,
        results: results.clone(),
        params: Vec::new(),
        height: 0,
        dest_reachable: false,
        head_reachable: true,
    });

    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        let pos = ops.original_position();
        let op = ops.read()?;
        validator.op(pos, &op)?;
        t.b.set_srcloc(SourceLoc::new(pos as u32));
        t.charge_fuel(&op);
        t.low_water = t.stack.len();
        let was_reachable = t.reachable;
        t.translate(&op)?;
        if was_reachable && t.reachable {
            t.declare_new_refs(validator);
        }
        if t.too_many_handlers {
            bail!(
                "more than {} distinct exception handlers are in scope at one point",
                exceptions::MAX_HANDLERS_PER_CALL
            );
        }
    }
    ops.finish()?;

    // The final `end` switched to `exit`; return its parameters.
    if t.reachable {
        let vals = t.b.block_params(exit).to_vec();
        t.b.ins().return_(&vals);
    }
    t.b.seal_all_blocks();
    t.b.finalize(isa.frontend_config());
    Ok(())
}

/// Whether an operand of type `ty` (as the validator reports it: concrete
/// types may be named by canonical id rather than module index) is a
/// managed reference.
fn is_managed_operand(
    info: &ModuleInfo,
    validator: &FuncValidator<ValidatorResources>,
    ty: ValType,
) -> bool {
    use weft_environ::wasmparser::{CompositeInnerType, HeapType, WasmModuleResources};
    if let ValType::Ref(r) = ty
        && let HeapType::Concrete(idx) | HeapType::Exact(idx) = r.heap_type()
        && let Some(id) = idx.as_core_type_id()
    {
        let sub = validator.resources().sub_type_at_id(id);
        return matches!(
            sub.composite_type.inner,
            CompositeInnerType::Struct(_) | CompositeInnerType::Array(_)
        );
    }
    info.is_gc_ref(ty)
}

/// Whether an operand of type `ty` (as for [`is_managed_operand`]) is a
/// continuation reference.
fn is_cont_operand(
    info: &ModuleInfo,
    validator: &FuncValidator<ValidatorResources>,
    ty: ValType,
) -> bool {
    use weft_environ::wasmparser::{CompositeInnerType, HeapType, WasmModuleResources};
    if let ValType::Ref(r) = ty
        && let HeapType::Concrete(idx) | HeapType::Exact(idx) = r.heap_type()
        && let Some(id) = idx.as_core_type_id()
    {
        let sub = validator.resources().sub_type_at_id(id);
        return matches!(sub.composite_type.inner, CompositeInnerType::Cont(_));
    }
    info.is_cont_ref(ty)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Block,
    /// A `try_table` (a block whose calls have handlers).
    TryTable,
    /// A legacy `try` (see `exceptions::LegacyTry`).
    LegacyTry,
    Loop,
    If {
        else_seen: bool,
    },
}

struct Frame {
    kind: FrameKind,
    /// Where control continues after `end`; its parameters are the results.
    dest: ir::Block,
    /// Loop header (branch target of a loop).
    header: Option<ir::Block>,
    /// The `else` arm of an `if`.
    else_block: Option<ir::Block>,
    num_params: usize,
    params: Vec<ir::Type>,
    results: Vec<ir::Type>,
    /// Operand stack height below the frame's parameters.
    height: usize,
    /// Whether anything branches to (or falls through to) `dest`.
    dest_reachable: bool,
    /// Whether the frame's start was reachable (for `if`'s else arm).
    head_reachable: bool,
}

impl Frame {
    /// The types a branch to this frame carries.
    fn branch_types(&self) -> &[ir::Type] {
        if self.kind == FrameKind::Loop {
            &self.params
        } else {
            &self.results
        }
    }
}

/// The translation state, shared with the SIMD translator.
pub struct Translator<'a, 'm> {
    pub b: FunctionBuilder<'a>,
    pub env: FuncEnv<'m>,
    pub stack: Vec<Value>,
    control: Vec<Frame>,
    pub(crate) reachable: bool,
    unreachable_depth: u32,
    locals: Vec<(Variable, ir::Type)>,
    /// Parameter values of each open `if`, for its else arm.
    if_param_values: Vec<Vec<Value>>,
    /// Whether to emit epoch deadline checks.
    epoch_checks: bool,
    /// With fuel metering: the cost of the instructions translated since
    /// fuel was last charged.
    pub(crate) fuel: Option<i64>,
    /// Open exception handler scopes, outermost first (`exceptions`).
    handlers: Vec<exceptions::HandlerScope>,
    /// Open legacy `try` frames, outermost first.
    tries: Vec<exceptions::LegacyTry>,
    /// Set when more than `MAX_HANDLERS_PER_CALL` distinct clauses were
    /// in scope (the function is rejected).
    too_many_handlers: bool,
    /// The lowest operand stack height during the current operator (see
    /// `declare_new_refs`).
    low_water: usize,
    /// Operand values declared as managed references.
    gc_values: std::collections::HashSet<Value>,
    /// Indices of the locals that hold managed references.
    gc_locals: Vec<usize>,
    /// Operand values declared as continuation references (in stack maps
    /// so that the collector finds the continuations they keep alive;
    /// never changed by it).
    cont_values: std::collections::HashSet<Value>,
    /// Indices of the locals that hold continuation references.
    cont_locals: Vec<usize>,
    /// Values the switching instructions compute once, at the entry
    /// (`stack_switching`).
    entry_values: stack_switching::EntryValues,
}

fn block_args(vals: &[Value]) -> Vec<BlockArg> {
    vals.iter().map(|v| BlockArg::Value(*v)).collect()
}

/// Memory flags for a wasm linear-memory access.
pub fn heap_flags() -> MemFlags {
    Region::Heap
        .flags(MemFlags::new())
        .with_endianness(ir::Endianness::Little)
        .with_trap_code(Some(crate::trap_code(Trap::MemoryOutOfBounds)))
}

impl<'a, 'm> Translator<'a, 'm> {
    // ---- operand stack helpers ------------------------------------------

    pub fn push(&mut self, v: Value) {
        self.stack.push(v);
    }
    pub fn pop(&mut self) -> Value {
        let v = self
            .stack
            .pop()
            .expect("validated: operand stack underflow");
        self.low_water = self.low_water.min(self.stack.len());
        v
    }
    pub fn pop2(&mut self) -> (Value, Value) {
        let b = self.pop();
        let a = self.pop();
        (a, b)
    }
    pub fn pop3(&mut self) -> (Value, Value, Value) {
        let c = self.pop();
        let (a, b) = self.pop2();
        (a, b, c)
    }
    pub fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }
    pub fn popn(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.low_water = self.low_water.min(at);
        self.stack.split_off(at)
    }

    /// Declares the managed references among the operands the last
    /// operator pushed (those above the lowest height it popped to) as
    /// needing stack maps, from the validator's view of their types: then
    /// Cranelift spills them around every call and reloads them after (the
    /// collector may move objects), wherever they flow.
    fn declare_new_refs(&mut self, validator: &FuncValidator<ValidatorResources>) {
        let len = self.stack.len();
        for i in self.low_water.min(len)..len {
            let depth = len - 1 - i;
            if let Some(Some(ty)) = validator.get_operand_type(depth) {
                if is_managed_operand(self.env.info, validator, ty) {
                    self.b.declare_value_needs_stack_map(self.stack[i]);
                    self.gc_values.insert(self.stack[i]);
                } else if is_cont_operand(self.env.info, validator, ty) {
                    self.b.declare_value_needs_stack_map(self.stack[i]);
                    self.cont_values.insert(self.stack[i]);
                }
            }
        }
    }

    /// Bitcasts a vector value to `ty` if it has another vector type.
    pub fn bitcast_vec(&mut self, v: Value, ty: ir::Type) -> Value {
        let have = self.b.func.dfg.value_type(v);
        if have == ty || !have.is_vector() {
            v
        } else {
            let flags = MemFlags::new().with_endianness(ir::Endianness::Little);
            self.b.ins().bitcast(ty, flags, v)
        }
    }

    /// Vectors travel across blocks, calls and locals as `i8x16`.
    pub fn canon(&mut self, v: Value) -> Value {
        self.bitcast_vec(v, I8X16)
    }

    fn canon_all(&mut self, vals: &mut [Value]) {
        for v in vals.iter_mut() {
            *v = self.canon(*v);
        }
    }

    /// Zero of a CLIF type.
    pub fn zero(&mut self, ty: ir::Type) -> Value {
        match ty {
            I32 | I64 => self.b.ins().iconst(ty, 0),
            F32 => self.b.ins().f32const(0.0),
            F64 => self.b.ins().f64const(0.0),
            I8X16 => self.vconst(0),
            other => unreachable!("no zero for {other}"),
        }
    }

    /// A 128-bit constant as `i8x16`.
    pub fn vconst(&mut self, bits: u128) -> Value {
        let c = self
            .b
            .func
            .dfg
            .constants
            .insert(bits.to_le_bytes().to_vec().into());
        self.b.ins().vconst(I8X16, c)
    }

    fn bool_to_i32(&mut self, c: Value) -> Value {
        self.b.ins().uextend(I32, c)
    }

    fn block_sig(&self, ty: BlockType) -> (Vec<ir::Type>, Vec<ir::Type>) {
        match ty {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![clif_type(t)]),
            BlockType::FuncType(idx) => {
                let f = self.env.info.type_as_func(idx);
                (
                    f.params().iter().map(|t| clif_type(*t)).collect(),
                    f.results().iter().map(|t| clif_type(*t)).collect(),
                )
            }
        }
    }

    fn new_block_with(&mut self, tys: &[ir::Type]) -> ir::Block {
        let blk = self.b.create_block();
        for t in tys {
            self.b.append_block_param(blk, *t);
        }
        blk
    }

    /// Jumps (unconditionally) to the target of relative depth `depth`,
    /// taking the branch values from the top of the stack.
    fn branch_target(&mut self, depth: u32) -> (ir::Block, usize) {
        let i = self.control.len() - 1 - depth as usize;
        let frame = &mut self.control[i];
        let n = frame.branch_types().len();
        match frame.kind {
            FrameKind::Loop => (frame.header.unwrap(), n),
            _ => {
                frame.dest_reachable = true;
                (frame.dest, n)
            }
        }
    }

    fn branch_args(&mut self, n: usize) -> Vec<Value> {
        let mut args = self.peekn(n).to_vec();
        self.canon_all(&mut args);
        args
    }

    fn set_unreachable(&mut self) {
        self.reachable = false;
    }

    // ---- the operator switch ---------------------------------------------

    fn translate(&mut self, op: &Operator<'_>) -> Result<()> {
        if !self.reachable {
            return self.translate_unreachable(op);
        }
        use Operator::*;
        match *op {
            // -------- control --------
            Nop => {}
            Unreachable => {
                self.b
                    .ins()
                    .trap(crate::trap_code(Trap::UnreachableCodeReached));
                self.set_unreachable();
            }
            Block { blockty } => self.open_block(FrameKind::Block, blockty),
            TryTable { ref try_table } => {
                self.translate_try_table(try_table.ty, &try_table.catches)
            }
            Throw { tag_index } => self.translate_throw(tag_index),
            Try { blockty } => self.translate_legacy_try(blockty),
            Catch { tag_index } => self.translate_legacy_catch(Some(tag_index)),
            CatchAll => self.translate_legacy_catch(None),
            Delegate { relative_depth } => self.translate_delegate(relative_depth),
            Rethrow { relative_depth } => self.translate_rethrow(relative_depth),
            ThrowRef => self.translate_throw_ref(),
            Loop { blockty } => {
                let (params, results) = self.block_sig(blockty);
                let header = self.new_block_with(&params);
                let dest = self.new_block_with(&results);
                let (wparams, wresults) = self.block_wasm_sig(blockty);
                self.declare_block_refs(header, &wparams);
                self.declare_block_refs(dest, &wresults);
                let args = self.popn(params.len());
                let mut args = args;
                self.canon_all(&mut args);
                self.b.ins().jump(header, &block_args(&args));
                self.b.switch_to_block(header);
                self.epoch_check();
                self.fuel_check();
                let height = self.stack.len();
                let hp = self.b.block_params(header).to_vec();
                self.stack.extend(hp);
                self.control.push(Frame {
                    kind: FrameKind::Loop,
                    dest,
                    header: Some(header),
                    else_block: None,
                    num_params: params.len(),
                    params,
                    results,
                    height,
                    dest_reachable: false,
                    head_reachable: true,
                });
            }
            If { blockty } => {
                let cond = self.pop();
                let (params, results) = self.block_sig(blockty);
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                let dest = self.new_block_with(&results);
                let (_, wresults) = self.block_wasm_sig(blockty);
                self.declare_block_refs(dest, &wresults);
                self.b.ins().brif(cond, then_block, &[], else_block, &[]);
                self.b.seal_block(then_block);
                self.b.seal_block(else_block);
                self.b.switch_to_block(then_block);
                let height = self.stack.len() - params.len();
                self.control.push(Frame {
                    kind: FrameKind::If { else_seen: false },
                    dest,
                    header: None,
                    else_block: Some(else_block),
                    num_params: params.len(),
                    params,
                    results,
                    height,
                    dest_reachable: false,
                    head_reachable: true,
                });
                // Remember the parameter values for the else arm.
                self.if_params_save();
            }
            Else => self.translate_else(),
            End => self.translate_end(),
            Br { relative_depth } => {
                let (target, n) = self.branch_target(relative_depth);
                let args = self.branch_args(n);
                self.b.ins().jump(target, &block_args(&args));
                self.set_unreachable();
            }
            BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, n) = self.branch_target(relative_depth);
                let args = self.branch_args(n);
                let next = self.b.create_block();
                self.b
                    .ins()
                    .brif(cond, target, &block_args(&args), next, &[]);
                self.b.seal_block(next);
                self.b.switch_to_block(next);
            }
            BrTable { ref targets } => {
                let index = self.pop();
                let default_depth = targets.default();
                let depths: Vec<u32> = targets.targets().collect::<Result<_, _>>()?;
                let (_, n) = self.branch_target(default_depth);
                let args = self.branch_args(n);
                let mut edge_for_depth = std::collections::HashMap::new();
                let mut block_for = |t: &mut Self, depth: u32| -> ir::Block {
                    let (target, _) = t.branch_target(depth);
                    if n == 0 {
                        return target;
                    }
                    edge_for_depth
                        .entry(depth)
                        .or_insert_with(|| {
                            let edge = t.b.create_block();
                            (edge, target)
                        })
                        .0
                };
                let default = block_for(self, default_depth);
                let mut table = Vec::with_capacity(depths.len());
                for d in &depths {
                    table.push(block_for(self, *d));
                }
                let default_call = self.b.func.dfg.block_call(default, &[]);
                let calls: Vec<_> = table
                    .iter()
                    .map(|blk| self.b.func.dfg.block_call(*blk, &[]))
                    .collect();
                let jt = self
                    .b
                    .create_jump_table(ir::JumpTableData::new(default_call, &calls));
                self.b.ins().br_table(index, jt);
                let mut edges: Vec<(u32, (ir::Block, ir::Block))> =
                    edge_for_depth.into_iter().collect();
                edges.sort_by_key(|e| e.0);
                for (_, (edge, target)) in edges {
                    self.b.switch_to_block(edge);
                    self.b.seal_block(edge);
                    self.b.ins().jump(target, &block_args(&args));
                }
                self.set_unreachable();
            }
            Return => {
                let n = self.control[0].results.len();
                let mut vals = self.popn(n);
                self.canon_all(&mut vals);
                self.b.ins().return_(&vals);
                self.set_unreachable();
            }
            Call { function_index } => self.translate_call(function_index, false),
            ReturnCall { function_index } => self.translate_call(function_index, true),
            CallIndirect {
                type_index,
                table_index,
            } => self.translate_call_indirect(type_index, table_index, false),
            ReturnCallIndirect {
                type_index,
                table_index,
            } => self.translate_call_indirect(type_index, table_index, true),
            CallRef { type_index } => self.translate_call_ref(type_index, false),
            ReturnCallRef { type_index } => self.translate_call_ref(type_index, true),
            Drop => {
                self.pop();
            }
            Select | TypedSelect { .. } => {
                let (a, bb, c) = self.pop3();
                let a = self.canon(a);
                let bb = self.canon(bb);
                let v = self.b.ins().select(c, a, bb);
                if let TypedSelect { ty } = *op {
                    self.declare_refs(&[v], &[ty]);
                }
                self.push(v);
            }
            TypedSelectMulti { ref tys } => {
                let c = self.pop();
                let n = tys.len();
                let second = self.popn(n);
                let first = self.popn(n);
                for ((x, y), ty) in first.into_iter().zip(second).zip(tys.iter()) {
                    let x = self.canon(x);
                    let y = self.canon(y);
                    let v = self.b.ins().select(c, x, y);
                    self.declare_refs(&[v], [ty]);
                    self.push(v);
                }
            }
            LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize].0);
                self.push(v);
            }
            LocalSet { local_index } => {
                let v = self.pop();
                let v = self.canon(v);
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            LocalTee { local_index } => {
                let v = self.pop();
                let v = self.canon(v);
                self.b.def_var(self.locals[local_index as usize].0, v);
                self.push(v);
            }
            GlobalGet { global_index } => {
                let (addr, mutable) = self.env.global_addr(&mut self.b, global_index);
                let ty = clif_type(self.env.info.globals[global_index as usize].content_type);
                let flags = if mutable {
                    Region::Globals.flags(MemFlags::trusted())
                } else {
                    const_flags()
                };
                let v = self.b.ins().load(ty, flags, addr, 0);
                let wty = self.env.info.globals[global_index as usize].content_type;
                self.declare_refs(&[v], &[wty]);
                self.push(v);
            }
            GlobalSet { global_index } => {
                let v = self.pop();
                let v = self.canon(v);
                let (addr, _) = self.env.global_addr(&mut self.b, global_index);
                self.b
                    .ins()
                    .store(Region::Globals.flags(MemFlags::trusted()), v, addr, 0);
            }

            // -------- memory --------
            I32Load { memarg } => self.load(memarg, I32, 4, LoadKind::Plain),
            I64Load { memarg } => self.load(memarg, I64, 8, LoadKind::Plain),
            F32Load { memarg } => self.load(memarg, F32, 4, LoadKind::Plain),
            F64Load { memarg } => self.load(memarg, F64, 8, LoadKind::Plain),
            I32Load8S { memarg } => self.load(memarg, I32, 1, LoadKind::S8),
            I32Load8U { memarg } => self.load(memarg, I32, 1, LoadKind::U8),
            I32Load16S { memarg } => self.load(memarg, I32, 2, LoadKind::S16),
            I32Load16U { memarg } => self.load(memarg, I32, 2, LoadKind::U16),
            I64Load8S { memarg } => self.load(memarg, I64, 1, LoadKind::S8),
            I64Load8U { memarg } => self.load(memarg, I64, 1, LoadKind::U8),
            I64Load16S { memarg } => self.load(memarg, I64, 2, LoadKind::S16),
            I64Load16U { memarg } => self.load(memarg, I64, 2, LoadKind::U16),
            I64Load32S { memarg } => self.load(memarg, I64, 4, LoadKind::S32),
            I64Load32U { memarg } => self.load(memarg, I64, 4, LoadKind::U32),
            I32Store { memarg }
            | I64Store { memarg }
            | F32Store { memarg }
            | F64Store { memarg } => {
                let v = self.pop();
                let size = self.b.func.dfg.value_type(v).bytes();
                self.store(memarg, v, size, StoreKind::Plain);
            }
            I32Store8 { memarg } | I64Store8 { memarg } => {
                let v = self.pop();
                self.store(memarg, v, 1, StoreKind::Narrow8);
            }
            I32Store16 { memarg } | I64Store16 { memarg } => {
                let v = self.pop();
                self.store(memarg, v, 2, StoreKind::Narrow16);
            }
            I64Store32 { memarg } => {
                let v = self.pop();
                self.store(memarg, v, 4, StoreKind::Narrow32);
            }
            MemorySize { mem } => {
                let heap = self.env.heap(&mut self.b, mem);
                let len = self.b.ins().load(
                    PTR,
                    MemFlags::trusted(),
                    heap.def,
                    memory_def::CURRENT_LENGTH as i32,
                );
                let log2 = self.env.info.memories[mem as usize].page_size_log2();
                let pages = self.b.ins().ushr_imm_u(len, i64::from(log2));
                let v = if heap.memory64 {
                    pages
                } else {
                    self.b.ins().ireduce(I32, pages)
                };
                self.push(v);
            }
            MemoryGrow { mem } => {
                let delta = self.pop();
                let memory64 = self.env.info.memories[mem as usize].memory64;
                let delta = if memory64 {
                    delta
                } else {
                    self.b.ins().uextend(I64, delta)
                };
                let idx = self.b.ins().iconst(I32, i64::from(mem));
                let call = self
                    .env
                    .call_builtin(&mut self.b, Builtin::MemoryGrow, &[idx, delta]);
                let r = self.b.inst_results(call)[0];
                self.check_grow(r);
                let v = if memory64 {
                    r
                } else {
                    self.b.ins().ireduce(I32, r)
                };
                self.push(v);
            }
            MemoryFill { mem } => {
                let (dst, val, len) = self.pop3();
                let memory64 = self.env.info.memories[mem as usize].memory64;
                let dst = self.extend_to_i64(dst, memory64);
                let len = self.extend_to_i64(len, memory64);
                // Bounds checked here, then a plain memset: no walk from
                // the vmctx to the store's memory per fill.
                let (base, room) = self.bulk_room(mem, len);
                let ok = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, dst, room);
                self.env.trapz(&mut self.b, ok, Trap::MemoryOutOfBounds);
                let at = self.b.ins().iadd(base, dst);
                self.env
                    .call_builtin(&mut self.b, Builtin::Memset, &[at, val, len]);
            }
            MemoryCopy { dst_mem, src_mem } if dst_mem == src_mem => {
                let (dst, src, len) = self.pop3();
                let memory64 = self.env.info.memories[dst_mem as usize].memory64;
                let dst = self.extend_to_i64(dst, memory64);
                let src = self.extend_to_i64(src, memory64);
                let len = self.extend_to_i64(len, memory64);
                // Both ranges checked here (before anything is copied, as
                // the spec requires), then a plain memmove.
                let (base, room) = self.bulk_room(dst_mem, len);
                let src_ok = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, src, room);
                let dst_ok = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, dst, room);
                let ok = self.b.ins().band(src_ok, dst_ok);
                self.env.trapz(&mut self.b, ok, Trap::MemoryOutOfBounds);
                let to = self.b.ins().iadd(base, dst);
                let from = self.b.ins().iadd(base, src);
                self.env
                    .call_builtin(&mut self.b, Builtin::Memmove, &[to, from, len]);
            }
            MemoryCopy { dst_mem, src_mem } => {
                let (dst, src, len) = self.pop3();
                let d64 = self.env.info.memories[dst_mem as usize].memory64;
                let s64 = self.env.info.memories[src_mem as usize].memory64;
                let dst = self.extend_to_i64(dst, d64);
                let src = self.extend_to_i64(src, s64);
                let len = self.extend_to_i64(len, d64 && s64);
                let di = self.b.ins().iconst(I32, i64::from(dst_mem));
                let si = self.b.ins().iconst(I32, i64::from(src_mem));
                let call = self.env.call_builtin(
                    &mut self.b,
                    Builtin::MemoryCopy,
                    &[di, dst, si, src, len],
                );
                self.check_builtin(call, Trap::MemoryOutOfBounds);
            }
            MemoryInit { data_index, mem } => {
                let (dst, src, len) = self.pop3();
                let memory64 = self.env.info.memories[mem as usize].memory64;
                let dst = self.extend_to_i64(dst, memory64);
                let mi = self.b.ins().iconst(I32, i64::from(mem));
                let si = self.b.ins().iconst(I32, i64::from(data_index));
                let call = self.env.call_builtin(
                    &mut self.b,
                    Builtin::MemoryInit,
                    &[mi, si, dst, src, len],
                );
                self.check_builtin(call, Trap::MemoryOutOfBounds);
            }
            DataDrop { data_index } => {
                let si = self.b.ins().iconst(I32, i64::from(data_index));
                self.env.call_builtin(&mut self.b, Builtin::DataDrop, &[si]);
            }

            // -------- tables and references --------
            TableGet { table } => {
                let idx = self.pop();
                let addr =
                    self.env
                        .table_elem_addr(&mut self.b, table, idx, Trap::TableOutOfBounds);
                let v = self
                    .b
                    .ins()
                    .load(PTR, Region::Tables.flags(MemFlags::trusted()), addr, 0);
                let wty = ValType::Ref(self.env.info.tables[table as usize].ty.element_type);
                self.declare_refs(&[v], &[wty]);
                self.push(v);
            }
            TableSet { table } => {
                let (idx, v) = self.pop2();
                let addr =
                    self.env
                        .table_elem_addr(&mut self.b, table, idx, Trap::TableOutOfBounds);
                self.b
                    .ins()
                    .store(Region::Tables.flags(MemFlags::trusted()), v, addr, 0);
            }
            TableSize { table } => {
                let def = self.env.table_def(&mut self.b, table);
                let len = self.b.ins().load(
                    PTR,
                    MemFlags::trusted(),
                    def,
                    table_def::CURRENT_ELEMENTS as i32,
                );
                let v = if self.table64(table) {
                    len
                } else {
                    self.b.ins().ireduce(I32, len)
                };
                self.push(v);
            }
            TableGrow { table } => {
                let (init, delta) = self.pop2();
                let t64 = self.table64(table);
                let delta = self.extend_to_i64(delta, t64);
                let ti = self.b.ins().iconst(I32, i64::from(table));
                let call =
                    self.env
                        .call_builtin(&mut self.b, Builtin::TableGrow, &[ti, delta, init]);
                let r = self.b.inst_results(call)[0];
                self.check_grow(r);
                let v = if t64 { r } else { self.b.ins().ireduce(I32, r) };
                self.push(v);
            }
            TableFill { table } => {
                let (dst, val, len) = self.pop3();
                let t64 = self.table64(table);
                let dst = self.extend_to_i64(dst, t64);
                let len = self.extend_to_i64(len, t64);
                let ti = self.b.ins().iconst(I32, i64::from(table));
                let call =
                    self.env
                        .call_builtin(&mut self.b, Builtin::TableFill, &[ti, dst, val, len]);
                self.check_builtin(call, Trap::TableOutOfBounds);
            }
            TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.pop3();
                let d64 = self.table64(dst_table);
                let s64 = self.table64(src_table);
                let dst = self.extend_to_i64(dst, d64);
                let src = self.extend_to_i64(src, s64);
                let len = self.extend_to_i64(len, d64 && s64);
                let di = self.b.ins().iconst(I32, i64::from(dst_table));
                let si = self.b.ins().iconst(I32, i64::from(src_table));
                let call = self.env.call_builtin(
                    &mut self.b,
                    Builtin::TableCopy,
                    &[di, si, dst, src, len],
                );
                self.check_builtin(call, Trap::TableOutOfBounds);
            }
            TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3();
                let t64 = self.table64(table);
                let dst = self.extend_to_i64(dst, t64);
                let ti = self.b.ins().iconst(I32, i64::from(table));
                let ei = self.b.ins().iconst(I32, i64::from(elem_index));
                let call = self.env.call_builtin(
                    &mut self.b,
                    Builtin::TableInit,
                    &[ti, ei, dst, src, len],
                );
                self.check_builtin(call, Trap::TableOutOfBounds);
            }
            ElemDrop { elem_index } => {
                let ei = self.b.ins().iconst(I32, i64::from(elem_index));
                self.env.call_builtin(&mut self.b, Builtin::ElemDrop, &[ei]);
            }
            RefNull { .. } => {
                let v = self.b.ins().iconst(PTR, 0);
                self.push(v);
            }
            RefIsNull => {
                let v = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, v, 0);
                let v = self.bool_to_i32(c);
                self.push(v);
            }
            RefFunc { function_index } => {
                let v = self.env.funcref_addr(&mut self.b, function_index);
                self.push(v);
            }
            RefEq => self.icmp(IntCC::Equal),
            RefAsNonNull => {
                let v = self.pop();
                self.env.trapz(&mut self.b, v, Trap::NullReference);
                self.push(v);
            }
            BrOnNull { relative_depth } => {
                let r = self.pop();
                let (target, n) = self.branch_target(relative_depth);
                let args = self.branch_args(n);
                let next = self.b.create_block();
                self.b.ins().brif(r, next, &[], target, &block_args(&args));
                self.b.seal_block(next);
                self.b.switch_to_block(next);
                self.push(r);
            }
            BrOnNonNull { relative_depth } => {
                let r = self.peekn(1)[0];
                let (target, n) = self.branch_target(relative_depth);
                let args = self.branch_args(n);
                self.pop();
                let next = self.b.create_block();
                self.b.ins().brif(r, target, &block_args(&args), next, &[]);
                self.b.seal_block(next);
                self.b.switch_to_block(next);
            }

            // -------- constants --------
            I32Const { value } => {
                let v = self.b.ins().iconst(I32, i64::from(value));
                self.push(v);
            }
            I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            F32Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f32const(ir::immediates::Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            F64Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f64const(ir::immediates::Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            // -------- integer arithmetic --------
            I32Eqz | I64Eqz => {
                let v = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, v, 0);
                let v = self.bool_to_i32(c);
                self.push(v);
            }
            I32Eq | I64Eq => self.icmp(IntCC::Equal),
            I32Ne | I64Ne => self.icmp(IntCC::NotEqual),
            I32LtS | I64LtS => self.icmp(IntCC::SignedLessThan),
            I32LtU | I64LtU => self.icmp(IntCC::UnsignedLessThan),
            I32GtS | I64GtS => self.icmp(IntCC::SignedGreaterThan),
            I32GtU | I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            I32LeS | I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            I32LeU | I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            I32GeS | I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            I32GeU | I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),
            I32Clz | I64Clz => self.unop(|b, v| b.ins().clz(v)),
            I32Ctz | I64Ctz => self.unop(|b, v| b.ins().ctz(v)),
            I32Popcnt | I64Popcnt => self.unop(|b, v| b.ins().popcnt(v)),
            I32Add | I64Add => self.binop(|b, x, y| b.ins().iadd(x, y)),
            I32Sub | I64Sub => self.binop(|b, x, y| b.ins().isub(x, y)),
            I32Mul | I64Mul => self.binop(|b, x, y| b.ins().imul(x, y)),
            I32DivS | I64DivS => self.binop(|b, x, y| b.ins().sdiv(x, y)),
            I32DivU | I64DivU => self.binop(|b, x, y| b.ins().udiv(x, y)),
            I32RemS | I64RemS => self.binop(|b, x, y| b.ins().srem(x, y)),
            I32RemU | I64RemU => self.binop(|b, x, y| b.ins().urem(x, y)),
            I32And | I64And => self.binop(|b, x, y| b.ins().band(x, y)),
            I32Or | I64Or => self.binop(|b, x, y| b.ins().bor(x, y)),
            I32Xor | I64Xor => self.binop(|b, x, y| b.ins().bxor(x, y)),
            I32Shl | I64Shl => self.binop(|b, x, y| b.ins().ishl(x, y)),
            I32ShrS | I64ShrS => self.binop(|b, x, y| b.ins().sshr(x, y)),
            I32ShrU | I64ShrU => self.binop(|b, x, y| b.ins().ushr(x, y)),
            I32Rotl | I64Rotl => self.binop(|b, x, y| b.ins().rotl(x, y)),
            I32Rotr | I64Rotr => self.binop(|b, x, y| b.ins().rotr(x, y)),
            I32Extend8S => self.unop(|b, v| {
                let n = b.ins().ireduce(I8, v);
                b.ins().sextend(I32, n)
            }),
            I32Extend16S => self.unop(|b, v| {
                let n = b.ins().ireduce(I16, v);
                b.ins().sextend(I32, n)
            }),
            I64Extend8S => self.unop(|b, v| {
                let n = b.ins().ireduce(I8, v);
                b.ins().sextend(I64, n)
            }),
            I64Extend16S => self.unop(|b, v| {
                let n = b.ins().ireduce(I16, v);
                b.ins().sextend(I64, n)
            }),
            I64Extend32S => self.unop(|b, v| {
                let n = b.ins().ireduce(I32, v);
                b.ins().sextend(I64, n)
            }),
            I32WrapI64 => self.unop(|b, v| b.ins().ireduce(I32, v)),
            I64ExtendI32S => self.unop(|b, v| b.ins().sextend(I64, v)),
            I64ExtendI32U => self.unop(|b, v| b.ins().uextend(I64, v)),

            // -------- floats --------
            F32Eq | F64Eq => self.fcmp(FloatCC::Equal),
            F32Ne | F64Ne => self.fcmp(FloatCC::NotEqual),
            F32Lt | F64Lt => self.fcmp(FloatCC::LessThan),
            F32Gt | F64Gt => self.fcmp(FloatCC::GreaterThan),
            F32Le | F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            F32Ge | F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),
            F32Abs | F64Abs => self.unop(|b, v| b.ins().fabs(v)),
            F32Neg | F64Neg => self.unop(|b, v| b.ins().fneg(v)),
            F32Ceil | F64Ceil => self.unop(|b, v| b.ins().ceil(v)),
            F32Floor | F64Floor => self.unop(|b, v| b.ins().floor(v)),
            F32Trunc | F64Trunc => self.unop(|b, v| b.ins().trunc(v)),
            F32Nearest | F64Nearest => self.unop(|b, v| b.ins().nearest(v)),
            F32Sqrt | F64Sqrt => self.unop(|b, v| b.ins().sqrt(v)),
            F32Add | F64Add => self.binop(|b, x, y| b.ins().fadd(x, y)),
            F32Sub | F64Sub => self.binop(|b, x, y| b.ins().fsub(x, y)),
            F32Mul | F64Mul => self.binop(|b, x, y| b.ins().fmul(x, y)),
            F32Div | F64Div => self.binop(|b, x, y| b.ins().fdiv(x, y)),
            F32Min | F64Min => self.binop(|b, x, y| b.ins().fmin(x, y)),
            F32Max | F64Max => self.binop(|b, x, y| b.ins().fmax(x, y)),
            F32Copysign | F64Copysign => self.binop(|b, x, y| b.ins().fcopysign(x, y)),
            I32TruncF32S | I32TruncF64S => self.unop(|b, v| b.ins().fcvt_to_sint(I32, v)),
            I32TruncF32U | I32TruncF64U => self.unop(|b, v| b.ins().fcvt_to_uint(I32, v)),
            I64TruncF32S | I64TruncF64S => self.unop(|b, v| b.ins().fcvt_to_sint(I64, v)),
            I64TruncF32U | I64TruncF64U => self.unop(|b, v| b.ins().fcvt_to_uint(I64, v)),
            I32TruncSatF32S | I32TruncSatF64S => self.unop(|b, v| b.ins().fcvt_to_sint_sat(I32, v)),
            I32TruncSatF32U | I32TruncSatF64U => self.unop(|b, v| b.ins().fcvt_to_uint_sat(I32, v)),
            I64TruncSatF32S | I64TruncSatF64S => self.unop(|b, v| b.ins().fcvt_to_sint_sat(I64, v)),
            I64TruncSatF32U | I64TruncSatF64U => self.unop(|b, v| b.ins().fcvt_to_uint_sat(I64, v)),
            F32ConvertI32S | F32ConvertI64S => self.unop(|b, v| b.ins().fcvt_from_sint(F32, v)),
            F32ConvertI32U | F32ConvertI64U => self.unop(|b, v| b.ins().fcvt_from_uint(F32, v)),
            F64ConvertI32S | F64ConvertI64S => self.unop(|b, v| b.ins().fcvt_from_sint(F64, v)),
            F64ConvertI32U | F64ConvertI64U => self.unop(|b, v| b.ins().fcvt_from_uint(F64, v)),
            F32DemoteF64 => self.unop(|b, v| b.ins().fdemote(F32, v)),
            F64PromoteF32 => self.unop(|b, v| b.ins().fpromote(F64, v)),
            I32ReinterpretF32 => self.unop(|b, v| b.ins().bitcast(I32, MemFlags::new(), v)),
            I64ReinterpretF64 => self.unop(|b, v| b.ins().bitcast(I64, MemFlags::new(), v)),
            F32ReinterpretI32 => self.unop(|b, v| b.ins().bitcast(F32, MemFlags::new(), v)),
            F64ReinterpretI64 => self.unop(|b, v| b.ins().bitcast(F64, MemFlags::new(), v)),

            // -------- wide arithmetic --------
            I64Add128 | I64Sub128 => {
                let bh = self.pop();
                let bl = self.pop();
                let ah = self.pop();
                let al = self.pop();
                let a = self.b.ins().iconcat(al, ah);
                let bb = self.b.ins().iconcat(bl, bh);
                let r = if matches!(op, I64Add128) {
                    self.b.ins().iadd(a, bb)
                } else {
                    self.b.ins().isub(a, bb)
                };
                let (lo, hi) = self.b.ins().isplit(r);
                self.push(lo);
                self.push(hi);
            }
            I64MulWideS | I64MulWideU => {
                let (x, y) = self.pop2();
                let (x, y) = if matches!(op, I64MulWideS) {
                    (self.b.ins().sextend(I128, x), self.b.ins().sextend(I128, y))
                } else {
                    (self.b.ins().uextend(I128, x), self.b.ins().uextend(I128, y))
                };
                let r = self.b.ins().imul(x, y);
                let (lo, hi) = self.b.ins().isplit(r);
                self.push(lo);
                self.push(hi);
            }

            // -------- GC (translate/gc.rs) --------
            StructNew { struct_type_index } => {
                self.translate_struct_new(struct_type_index, false, false)
            }
            StructNewDefault { struct_type_index } => {
                self.translate_struct_new(struct_type_index, true, false)
            }
            StructNewDesc { struct_type_index } => {
                self.translate_struct_new(struct_type_index, false, true)
            }
            StructNewDefaultDesc { struct_type_index } => {
                self.translate_struct_new(struct_type_index, true, true)
            }
            RefGetDesc { type_index } => self.translate_ref_get_desc(type_index),
            RefCastDescEqNonNull { hty } => self.translate_ref_cast_desc_eq(
                weft_environ::wasmparser::RefType::new(false, hty).unwrap(),
            ),
            RefCastDescEqNullable { hty } => self.translate_ref_cast_desc_eq(
                weft_environ::wasmparser::RefType::new(true, hty).unwrap(),
            ),
            BrOnCastDescEq {
                relative_depth,
                to_ref_type,
                ..
            } => self.translate_br_on_cast_desc_eq(relative_depth, to_ref_type, false),
            BrOnCastDescEqFail {
                relative_depth,
                to_ref_type,
                ..
            } => self.translate_br_on_cast_desc_eq(relative_depth, to_ref_type, true),
            StructGet {
                struct_type_index,
                field_index,
            }
            | StructGetU {
                struct_type_index,
                field_index,
            } => self.translate_struct_get(struct_type_index, field_index, false),
            StructGetS {
                struct_type_index,
                field_index,
            } => self.translate_struct_get(struct_type_index, field_index, true),
            StructSet {
                struct_type_index,
                field_index,
            } => self.translate_struct_set(struct_type_index, field_index),
            ArrayNew { array_type_index } => self.translate_array_new(array_type_index, false),
            ArrayNewDefault { array_type_index } => {
                self.translate_array_new(array_type_index, true)
            }
            ArrayNewFixed {
                array_type_index,
                array_size,
            } => self.translate_array_new_fixed(array_type_index, array_size),
            ArrayNewData {
                array_type_index,
                array_data_index,
            } => self.translate_array_new_segment(array_type_index, array_data_index, true),
            ArrayNewElem {
                array_type_index,
                array_elem_index,
            } => self.translate_array_new_segment(array_type_index, array_elem_index, false),
            ArrayGet { array_type_index } | ArrayGetU { array_type_index } => {
                self.translate_array_get(array_type_index, false)
            }
            ArrayGetS { array_type_index } => self.translate_array_get(array_type_index, true),
            ArraySet { array_type_index } => self.translate_array_set(array_type_index),
            ArrayLen => self.translate_array_len(),
            ArrayFill { array_type_index } => self.translate_array_fill(array_type_index),
            ArrayCopy {
                array_type_index_dst,
                ..
            } => self.translate_array_copy(array_type_index_dst),
            ArrayInitData {
                array_type_index,
                array_data_index,
            } => self.translate_array_init(array_type_index, array_data_index, true),
            ArrayInitElem {
                array_type_index,
                array_elem_index,
            } => self.translate_array_init(array_type_index, array_elem_index, false),
            RefI31 => self.translate_ref_i31(),
            I31GetS => self.translate_i31_get(true),
            I31GetU => self.translate_i31_get(false),
            AnyConvertExtern | ExternConvertAny => {}
            RefTestNonNull { hty } => {
                self.translate_ref_test(weft_environ::wasmparser::RefType::new(false, hty).unwrap())
            }
            RefTestNullable { hty } => {
                self.translate_ref_test(weft_environ::wasmparser::RefType::new(true, hty).unwrap())
            }
            RefCastNonNull { hty } => {
                self.translate_ref_cast(weft_environ::wasmparser::RefType::new(false, hty).unwrap())
            }
            RefCastNullable { hty } => {
                self.translate_ref_cast(weft_environ::wasmparser::RefType::new(true, hty).unwrap())
            }
            BrOnCast {
                relative_depth,
                to_ref_type,
                ..
            } => self.translate_br_on_cast(relative_depth, to_ref_type, false),
            BrOnCastFail {
                relative_depth,
                to_ref_type,
                ..
            } => self.translate_br_on_cast(relative_depth, to_ref_type, true),

            // -------- stack switching (translate/stack_switching.rs) --------
            ContNew { cont_type_index } => self.translate_cont_new(cont_type_index),
            ContBind {
                argument_index,
                result_index,
            } => self.translate_cont_bind(argument_index, result_index),
            Resume {
                cont_type_index,
                ref resume_table,
            } => self.translate_resume(cont_type_index, resume_table)?,
            Suspend { tag_index } => {
                self.translate_suspend(tag_index);
            }
            Switch {
                cont_type_index,
                tag_index,
            } => self.translate_switch(cont_type_index, tag_index),
            ResumeThrow {
                cont_type_index,
                tag_index,
                ref resume_table,
            } => self.translate_resume_throw(cont_type_index, Some(tag_index), resume_table)?,
            ResumeThrowRef {
                cont_type_index,
                ref resume_table,
            } => self.translate_resume_throw(cont_type_index, None, resume_table)?,

            ref other => {
                if crate::simd::translate_simd(self, other)? {
                    return Ok(());
                }
                bail!("unsupported operator: {other:?}");
            }
        }
        Ok(())
    }

    fn translate_unreachable(&mut self, op: &Operator<'_>) -> Result<()> {
        use Operator::*;
        match op {
            Block { .. } | Loop { .. } | If { .. } | TryTable { .. } | Try { .. } => {
                self.unreachable_depth += 1
            }
            Catch { tag_index } if self.unreachable_depth == 0 => {
                self.translate_legacy_catch(Some(*tag_index))
            }
            CatchAll if self.unreachable_depth == 0 => self.translate_legacy_catch(None),
            Delegate { relative_depth } => {
                if self.unreachable_depth > 0 {
                    self.unreachable_depth -= 1;
                } else {
                    self.translate_delegate(*relative_depth);
                }
            }
            Else if self.unreachable_depth == 0 => self.translate_else(),
            End => {
                if self.unreachable_depth > 0 {
                    self.unreachable_depth -= 1;
                } else {
                    self.translate_end();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Saves the `if`'s parameter values: they feed the else arm too.
    fn if_params_save(&mut self) {
        let frame = self.control.last().unwrap();
        let params = self.peekn(frame.num_params).to_vec();
        self.if_param_values.push(params);
    }

    fn translate_else(&mut self) {
        let reachable = self.reachable;
        let frame = self.control.last_mut().unwrap();
        let FrameKind::If { .. } = frame.kind else {
            unreachable!("validated: else in if")
        };
        frame.kind = FrameKind::If { else_seen: true };
        let dest = frame.dest;
        let height = frame.height;
        let n = frame.results.len();
        let head_reachable = frame.head_reachable;
        let else_block = frame.else_block.unwrap();
        if reachable {
            frame.dest_reachable = true;
            let args = self.branch_args(n);
            self.b.ins().jump(dest, &block_args(&args));
        }
        self.stack.truncate(height);
        let params = self.if_param_values.last().unwrap().clone();
        self.stack.extend(params);
        self.b.switch_to_block(else_block);
        self.reachable = head_reachable;
    }

    fn translate_end(&mut self) {
        if self.control.last().unwrap().kind == FrameKind::LegacyTry
            && self
                .tries
                .last()
                .is_some_and(|t| t.control_depth() == self.control.len())
        {
            self.end_legacy_try();
        }
        let depth = self.control.len();
        self.close_scope_of(depth);
        let mut frame = self.control.pop().unwrap();
        let dest = frame.dest;
        // A block or loop whose continuation nothing branches to (branches
        // to a loop go to its header) is only reached by falling through:
        // carry on in the current CLIF block instead of jumping to a new
        // one. Besides saving a jump, this keeps deeply nested blocks from
        // becoming an equally long chain of CLIF blocks, on which
        // Cranelift's optimiser is quadratic (the `blocks_nested_65k_deep`
        // hostile input). The function's own frame always ends in `exit`.
        if self.reachable
            && !frame.dest_reachable
            && !self.control.is_empty()
            && matches!(
                frame.kind,
                FrameKind::Block | FrameKind::Loop | FrameKind::TryTable
            )
        {
            let results = self.popn(frame.results.len());
            self.stack.truncate(frame.height);
            self.stack.extend(results);
            return;
        }
        if self.reachable {
            let args = self.branch_args(frame.results.len());
            self.b.ins().jump(dest, &block_args(&args));
            frame.dest_reachable = true;
        }
        if let FrameKind::If { else_seen } = frame.kind {
            let params = self.if_param_values.pop().unwrap();
            if !else_seen {
                // An `if` without `else`: the else arm passes its
                // parameters straight through (params == results).
                self.b.switch_to_block(frame.else_block.unwrap());
                if frame.head_reachable {
                    let mut params = params;
                    self.canon_all(&mut params);
                    self.b.ins().jump(dest, &block_args(&params));
                    frame.dest_reachable = true;
                } else {
                    self.b
                        .ins()
                        .trap(crate::trap_code(Trap::UnreachableCodeReached));
                }
            }
        }
        self.stack.truncate(frame.height);
        self.b.switch_to_block(dest);
        if frame.dest_reachable {
            let results = self.b.block_params(dest).to_vec();
            self.stack.extend(results);
            self.reachable = true;
        } else {
            // Nothing reaches the continuation: keep the block well-formed
            // and carry on in unreachable mode.
            self.b
                .ins()
                .trap(crate::trap_code(Trap::UnreachableCodeReached));
            self.reachable = false;
        }
    }

    /// Calls the EpochDeadline builtin (cold path) when the engine's epoch
    /// has reached the store's deadline; it traps with `Interrupt` or
    /// moves the deadline and returns.
    fn epoch_check(&mut self) {
        if !self.epoch_checks {
            return;
        }
        let store = self.env.vmctx_load(&mut self.b, vmctx::STORE_CTX);
        let epoch_ptr = self
            .b
            .ins()
            .load(PTR, const_flags(), store, store_ctx::EPOCH_PTR as i32);
        let epoch = self.b.ins().load(I64, MemFlags::trusted(), epoch_ptr, 0);
        let deadline = self.b.ins().load(
            I64,
            MemFlags::trusted(),
            store,
            store_ctx::EPOCH_DEADLINE as i32,
        );
        let reached = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        let cold = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(cold);
        self.b.ins().brif(reached, cold, &[], cont, &[]);
        self.b.seal_block(cold);
        self.b.switch_to_block(cold);
        let call = self
            .env
            .call_builtin(&mut self.b, Builtin::EpochDeadline, &[]);
        self.check_builtin(call, Trap::Interrupt);
        self.b.ins().jump(cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    // ---- helpers for operator families -----------------------------------

    fn unop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'a>, Value) -> Value) {
        let v = self.pop();
        let r = f(&mut self.b, v);
        self.push(r);
    }

    fn binop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'a>, Value, Value) -> Value) {
        let (x, y) = self.pop2();
        let r = f(&mut self.b, x, y);
        self.push(r);
    }

    fn icmp(&mut self, cc: IntCC) {
        let (x, y) = self.pop2();
        let c = self.b.ins().icmp(cc, x, y);
        let v = self.bool_to_i32(c);
        self.push(v);
    }

    fn fcmp(&mut self, cc: FloatCC) {
        let (x, y) = self.pop2();
        let c = self.b.ins().fcmp(cc, x, y);
        let v = self.bool_to_i32(c);
        self.push(v);
    }

    fn extend_to_i64(&mut self, v: Value, is64: bool) -> Value {
        if is64 {
            v
        } else {
            self.b.ins().uextend(I64, v)
        }
    }

    fn table64(&self, table: u32) -> bool {
        self.env.info.tables[table as usize].ty.table64
    }

    /// For a bulk operation of `len` bytes (i64) on memory `mem`: the
    /// memory's base and the highest start address the operation may use,
    /// `length - len`; traps with MemoryOutOfBounds when `len` exceeds the
    /// memory's length (so the subtraction cannot wrap).
    fn bulk_room(&mut self, mem: u32, len: Value) -> (Value, Value) {
        let heap = self.env.heap(&mut self.b, mem);
        let size = self.b.ins().load(
            PTR,
            MemFlags::trusted(),
            heap.def,
            memory_def::CURRENT_LENGTH as i32,
        );
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, len, size);
        self.env.trapz(&mut self.b, fits, Trap::MemoryOutOfBounds);
        (heap.base, self.b.ins().isub(size, len))
    }

    fn check_builtin(&mut self, call: ir::Inst, trap: Trap) {
        let ok = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, ok, trap);
    }

    /// Traps (with the error the store's resource limiter parked) when a
    /// growth builtin returned `GROW_TRAPPED`.
    fn check_grow(&mut self, result: Value) {
        let trapped =
            self.b
                .ins()
                .icmp_imm_s(IntCC::Equal, result, weft_environ::GROW_TRAPPED as i64);
        self.env.trapnz(&mut self.b, trapped, Trap::HostError);
    }

    /// Address of a `size`-byte access for `memarg`, popping the index.
    pub fn mem_addr(&mut self, memarg: &MemArg, size: u32) -> (Value, i32) {
        let index = self.pop();
        let memory = match memarg.target {
            weft_environ::wasmparser::MemArgTarget::Memory(m) => m,
            weft_environ::wasmparser::MemArgTarget::Array(_) => {
                unreachable!("GC array accesses are rejected before translation")
            }
        };
        self.env
            .heap_addr(&mut self.b, memory, index, memarg.offset, size)
    }

    fn load(&mut self, memarg: MemArg, ty: ir::Type, size: u32, kind: LoadKind) {
        let (addr, off) = self.mem_addr(&memarg, size);
        let f = heap_flags();
        let v = match kind {
            LoadKind::Plain => self.b.ins().load(ty, f, addr, off),
            LoadKind::S8 => self.b.ins().sload8(ty, f, addr, off),
            LoadKind::U8 => self.b.ins().uload8(ty, f, addr, off),
            LoadKind::S16 => self.b.ins().sload16(ty, f, addr, off),
            LoadKind::U16 => self.b.ins().uload16(ty, f, addr, off),
            LoadKind::S32 => self.b.ins().sload32(f, addr, off),
            LoadKind::U32 => self.b.ins().uload32(f, addr, off),
        };
        self.push(v);
    }

    fn store(&mut self, memarg: MemArg, v: Value, size: u32, kind: StoreKind) {
        let (addr, off) = self.mem_addr(&memarg, size);
        let f = heap_flags();
        match kind {
            StoreKind::Plain => self.b.ins().store(f, v, addr, off),
            StoreKind::Narrow8 => self.b.ins().istore8(f, v, addr, off),
            StoreKind::Narrow16 => self.b.ins().istore16(f, v, addr, off),
            StoreKind::Narrow32 => self.b.ins().istore32(f, v, addr, off),
        };
    }

    // ---- calls -----------------------------------------------------------

    fn call_args(&mut self, ty: u32, callee_vmctx: Value) -> Vec<Value> {
        let n = self.env.info.type_as_func(ty).params().len();
        let mut args = Vec::with_capacity(n + 2);
        args.push(callee_vmctx);
        args.push(self.env.vmctx);
        let mut params = self.popn(n);
        self.canon_all(&mut params);
        args.extend(params);
        args
    }

    /// Pushes the results of a call to a function of type `ty`.
    fn push_call_results(&mut self, ty: u32, results: Vec<Value>) {
        let tys = self.env.info.type_as_func(ty).results().to_vec();
        self.declare_refs(&results, &tys);
        self.stack.extend(results);
    }

    /// Opens a `block` (or the block of a `try_table`).
    fn open_block(&mut self, kind: FrameKind, blockty: BlockType) {
        let (params, results) = self.block_sig(blockty);
        let dest = self.new_block_with(&results);
        let (_, wresults) = self.block_wasm_sig(blockty);
        self.declare_block_refs(dest, &wresults);
        let height = self.stack.len() - params.len();
        self.control.push(Frame {
            kind,
            dest,
            header: None,
            else_block: None,
            num_params: params.len(),
            params,
            results,
            height,
            dest_reachable: false,
            head_reachable: true,
        });
    }

    fn translate_call(&mut self, func: u32, tail: bool) {
        // The callee may suspend the running record elsewhere.
        self.forget_recv_site();
        let ty = self.env.info.functions[func as usize];
        if self.env.info.is_imported_func(func) {
            let fref = self.env.funcref_addr(&mut self.b, func);
            let (code, callee_vmctx) = self.env.load_funcref(&mut self.b, fref);
            let args = self.call_args(ty, callee_vmctx);
            let sig = self.env.sig_ref(&mut self.b, ty);
            if tail {
                self.b.ins().return_call_indirect(sig, code, &args);
                self.set_unreachable();
            } else if !self.in_handler_scope()
                && weft_environ::native_host_direct(self.env.info.type_as_func(ty))
            {
                let results = self.call_import_maybe_native(ty, fref, sig, code, &args);
                self.push_call_results(ty, results);
            } else {
                let results = self.emit_call(exceptions::Callee::Indirect(sig, code), &args);
                self.push_call_results(ty, results);
            }
        } else {
            let callee = self.env.direct_func(&mut self.b, func);
            let args = self.call_args(ty, self.env.vmctx);
            if tail {
                self.b.ins().return_call(callee, &args);
                self.set_unreachable();
            } else {
                let results = self.emit_call(exceptions::Callee::Direct(callee), &args);
                self.push_call_results(ty, results);
            }
        }
    }

    /// A call of an imported function whose type allows a direct native
    /// host call (`weft_environ::native_host_direct`), outside any handler
    /// scope. When the import is a host function with a native-ABI entry
    /// and the running stack has its host reserve left (which also rules
    /// out continuations: their host limit is above every address), the
    /// entry is called right here, with no trampoline frame between;
    /// otherwise the call goes through the funcref's `wasm_call` (a wasm
    /// function, or the wasm-to-host trampoline, which handles the other
    /// cases).
    ///
    /// ```text
    ///   native = funcref.native_call
    ///   if native != 0 && sp >= current_stack.host_limit:
    ///       current_stack.last_exit_fp = fp          (this frame)
    ///       current_stack.last_exit_sp = sp          (ret addr at sp - 8)
    ///       (results, ok) = native(callee_vmctx, vmctx, args)   C convention
    ///       trap HostError if ok == 0
    ///   else:
    ///       results = wasm_call(callee_vmctx, vmctx, args)      tail convention
    ///
    ///   before the native call        during it (host code runs)
    ///   +-------------------+         +-------------------+
    ///   | this wasm frame   |         | this wasm frame   |
    ///   |                   | <- sp   |                   | = last_exit_sp
    ///   +-------------------+         | return address    |
    ///                                 | native entry ...  |
    /// ```
    ///
    /// The stack pointer read before the call is the one at the call:
    /// Cranelift reserves outgoing arguments in the prologue, and every
    /// argument of these types travels in a register.
    fn call_import_maybe_native(
        &mut self,
        ty: u32,
        fref: Value,
        sig: ir::SigRef,
        code: Value,
        args: &[Value],
    ) -> Vec<Value> {
        let wasm_ty = self.env.info.type_as_func(ty).clone();
        let result_tys: Vec<ir::Type> = wasm_ty.results().iter().map(|t| clif_type(*t)).collect();
        let native = self.b.ins().load(
            PTR,
            MemFlags::trusted().with_readonly(),
            fref,
            weft_environ::func_ref::NATIVE_CALL as i32,
        );
        let check = self.b.create_block();
        let direct = self.b.create_block();
        let through = self.b.create_block();
        let done = self.b.create_block();
        for t in &result_tys {
            self.b.append_block_param(done, *t);
        }
        self.b.ins().brif(native, check, &[], through, &[]);

        self.b.switch_to_block(check);
        self.b.seal_block(check);
        let store = self.env.vmctx_load(&mut self.b, vmctx::STORE_CTX);
        let (record, sp, below) = crate::trampolines::below_host_limit(&mut self.b, store);
        self.b.ins().brif(below, through, &[], direct, &[]);

        self.b.switch_to_block(direct);
        self.b.seal_block(direct);
        let fp = self.b.ins().get_frame_pointer(PTR);
        crate::trampolines::store_exit(&mut self.b, record, fp, sp);
        let native_sig = self
            .b
            .import_signature(crate::trampolines::native_host_signature(
                self.env.isa,
                &wasm_ty,
            ));
        let call = self.b.ins().call_indirect(native_sig, native, args);
        let rets = self.b.inst_results(call).to_vec();
        let (ok, results) = rets.split_last().expect("the ok flag");
        self.env.trapz(&mut self.b, *ok, Trap::HostError);
        let results: Vec<BlockArg> = results.iter().map(|v| BlockArg::Value(*v)).collect();
        self.b.ins().jump(done, &results);

        self.b.switch_to_block(through);
        self.b.seal_block(through);
        let call = self.b.ins().call_indirect(sig, code, args);
        let results: Vec<BlockArg> = self
            .b
            .inst_results(call)
            .iter()
            .map(|v| BlockArg::Value(*v))
            .collect();
        self.b.ins().jump(done, &results);

        self.b.switch_to_block(done);
        self.b.seal_block(done);
        self.b.block_params(done).to_vec()
    }

    fn indirect_call(&mut self, ty: u32, funcref: Value, tail: bool) {
        let (code, callee_vmctx) = self.env.load_funcref(&mut self.b, funcref);
        let args = self.call_args(ty, callee_vmctx);
        let sig = self.env.sig_ref(&mut self.b, ty);
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.set_unreachable();
        } else {
            let results = self.emit_call(exceptions::Callee::Indirect(sig, code), &args);
            self.push_call_results(ty, results);
        }
    }

    fn translate_call_indirect(&mut self, ty: u32, table: u32, tail: bool) {
        // The callee may suspend the running record elsewhere.
        self.forget_recv_site();
        let index = self.pop();
        let slot = self
            .env
            .table_elem_addr(&mut self.b, table, index, Trap::TableOutOfBounds);
        let funcref = self
            .b
            .ins()
            .load(PTR, Region::Tables.flags(MemFlags::trusted()), slot, 0);
        self.env
            .trapz(&mut self.b, funcref, Trap::IndirectCallToNull);
        let actual = self.b.ins().load(
            I32,
            MemFlags::trusted().with_readonly(),
            funcref,
            weft_environ::func_ref::TYPE_ID as i32,
        );
        let expected = self.env.type_id(&mut self.b, ty);
        if self.env.info.types[ty as usize].sub.is_final {
            let mismatch = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
            self.env.trapnz(&mut self.b, mismatch, Trap::BadSignature);
        } else {
            // A non-final expected type admits declared subtypes: equal ids
            // pass inline, anything else asks the type registry.
            let same = self.b.ins().icmp(IntCC::Equal, actual, expected);
            let slow = self.b.create_block();
            let ok = self.b.create_block();
            self.b.set_cold_block(slow);
            self.b.ins().brif(same, ok, &[], slow, &[]);
            self.b.switch_to_block(slow);
            self.b.seal_block(slow);
            let call = self.env.call_builtin(
                &mut self.b,
                weft_environ::Builtin::IsSubtype,
                &[actual, expected],
            );
            let r = self.b.inst_results(call)[0];
            self.env.trapz(&mut self.b, r, Trap::BadSignature);
            self.b.ins().jump(ok, &[]);
            self.b.switch_to_block(ok);
            self.b.seal_block(ok);
        }
        self.indirect_call(ty, funcref, tail);
    }

    fn translate_call_ref(&mut self, ty: u32, tail: bool) {
        // The callee may suspend the running record elsewhere.
        self.forget_recv_site();
        let funcref = self.pop();
        self.env.trapz(&mut self.b, funcref, Trap::NullReference);
        self.indirect_call(ty, funcref, tail);
    }
}

#[derive(Clone, Copy)]
enum LoadKind {
    Plain,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
}

#[derive(Clone, Copy)]
enum StoreKind {
    Plain,
    Narrow8,
    Narrow16,
    Narrow32,
}
