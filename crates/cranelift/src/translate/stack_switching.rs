//! Translation of the stack-switching instructions: `cont.new`,
//! `cont.bind`, `resume`, `suspend` and `switch`.
//!
//! Each switching instruction is one builtin call that does the
//! bookkeeping (one-shot check, parent link, handler search, payload copy,
//! `current_stack`; see `weft::vm::continuation`) followed by Cranelift's
//! `stack_switch` between the running stack's control context and the
//! target's. Values cross in a buffer in the switching frame: one 16-byte
//! `ValRaw` slot per value, after a first slot that a `resume` reads its
//! effect from.
//!
//! ```text
//!   resume $ct (on $e0 $l0) (on $e1 switch) ...
//!
//!   frame of the resuming function
//!   +------------------------------+
//!   | table: [2, id($e0),          |   handler table, read by the runtime
//!   |         id($e1) | SWITCH]    |   while the continuation runs
//!   +------------------------------+
//!   | buf[0]: effect               |   0 = returned, i + 1 = suspended to
//!   | buf[1..]: arguments, then    |   handler i; then the results, or the
//!   |   results or payload + k     |   payload and the continuation k
//!   +------------------------------+
//!
//!   before                          after stack_switch returns
//!   cur.ctx: stale                  (the continuation returned or
//!   rsp -> resuming frame           suspended; the runtime switched back
//!                                    with rsp, rbp = this frame, all other
//!                                    registers clobbered)
//!   target = cont_resume(...)        effect = buf[0]; dispatch:
//!   stack_switch(&cur.ctx,             0     -> push buf[1..=results]
//!                &target.ctx)          i + 1 -> br $l_i with buf[1..]
//! ```
//!
//! Every value live across the switch is spilled by the register
//! allocator (`stack_switch` clobbers all registers but the payload), so a
//! suspended frame keeps its state in its own stack slots.

use super::{Translator, block_args};
use crate::env::{PTR, clif_type};
use anyhow::{Result, bail};
use cranelift_codegen::ir::{
    self, InstBuilder, MemFlagsData as MemFlags, StackSlotData, StackSlotKind, Value, condcodes,
    types::*,
};
use weft_environ::wasmparser::{CompositeInnerType, FuncType, Handle, ResumeTable};
use weft_environ::{Builtin, Trap, VAL_RAW_SIZE, resume_table, stack_record, store_ctx, vmctx};

impl<'a, 'm> Translator<'a, 'm> {
    /// The module type index of the function type of continuation type
    /// `ct`.
    fn cont_func_type_index(&self, ct: u32) -> u32 {
        match &self.env.info.types[ct as usize].sub.composite_type.inner {
            CompositeInnerType::Cont(c) => {
                c.0.as_module_index()
                    .expect("validated: a continuation type names a module type")
            }
            _ => unreachable!("validated: a continuation type"),
        }
    }

    /// The function type of continuation type `ct`.
    fn cont_func_type(&self, ct: u32) -> &'m FuncType {
        self.env.info.type_as_func(self.cont_func_type_index(ct))
    }

    /// A 16-byte-aligned buffer of `slots` `ValRaw` slots in this frame.
    fn value_buffer(&mut self, slots: usize) -> Value {
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (slots as u32) * VAL_RAW_SIZE,
            4,
        ));
        self.b.ins().stack_addr(PTR, ss, 0)
    }

    /// Stores `vals` into `buf` from slot `first` on.
    fn store_values(&mut self, buf: Value, first: usize, vals: &[Value]) {
        for (i, v) in vals.iter().enumerate() {
            let off = ((first + i) as u32 * VAL_RAW_SIZE) as i32;
            self.b.ins().store(MemFlags::trusted(), *v, buf, off);
        }
    }

    /// Loads values of `tys` from `buf` starting at slot `first`.
    fn load_values(&mut self, buf: Value, first: usize, tys: &[ir::Type]) -> Vec<Value> {
        tys.iter()
            .enumerate()
            .map(|(i, t)| {
                let off = ((first + i) as u32 * VAL_RAW_SIZE) as i32;
                self.b.ins().load(*t, MemFlags::trusted(), buf, off)
            })
            .collect()
    }

    /// The record of the stack running now.
    fn current_stack(&mut self) -> Value {
        let sc = self.b.ins().load(
            PTR,
            MemFlags::trusted().with_readonly(),
            self.env.vmctx,
            vmctx::STORE_CTX as i32,
        );
        self.b.ins().load(
            PTR,
            MemFlags::trusted(),
            sc,
            store_ctx::CURRENT_STACK as i32,
        )
    }

    /// `stack_switch` from record `cur` to record `target`, passing
    /// `target` (a fresh continuation's start routine reads it).
    fn switch_stacks(&mut self, cur: Value, target: Value) {
        let ctx = stack_record::CONTROL_CONTEXT as i64;
        let from = self.b.ins().iadd_imm_s(cur, ctx);
        let to = self.b.ins().iadd_imm_s(target, ctx);
        self.b.ins().stack_switch(from, to, target);
    }

    /// Calls a switching builtin and traps (with the error it parked) when
    /// it returned zero.
    fn call_checked(&mut self, which: Builtin, args: &[Value]) -> Value {
        let call = self.env.call_builtin(&mut self.b, which, args);
        let r = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, r, Trap::HostError);
        r
    }

    pub(super) fn translate_cont_new(&mut self, ct: u32) {
        let funcref = self.pop();
        let ty = self.b.ins().iconst(I32, i64::from(ct));
        let r = self.call_checked(Builtin::ContNew, &[funcref, ty]);
        self.push(r);
    }

    pub(super) fn translate_cont_bind(&mut self, arg_ct: u32, res_ct: u32) {
        let n =
            self.cont_func_type(arg_ct).params().len() - self.cont_func_type(res_ct).params().len();
        let contref = self.pop();
        let mut args = self.popn(n);
        self.canon_all(&mut args);
        let buf = self.value_buffer(n.max(1));
        self.store_values(buf, 0, &args);
        let count = self.b.ins().iconst(I32, n as i64);
        let r = self.call_checked(Builtin::ContBind, &[contref, buf, count]);
        self.push(r);
    }

    pub(super) fn translate_resume(&mut self, ct: u32, table: &ResumeTable) -> Result<()> {
        let fty = self.cont_func_type(ct);
        let (np, results) = (
            fty.params().len(),
            fty.results()
                .iter()
                .map(|t| clif_type(*t))
                .collect::<Vec<_>>(),
        );
        let info = self.env.info;
        let tag_params = |tag: u32| info.type_as_func(info.tags[tag as usize]).params();
        let mut slots = np.max(results.len());
        for h in &table.handlers {
            if let Handle::OnLabel { tag, .. } = h {
                slots = slots.max(tag_params(*tag).len() + 1);
            }
        }
        let contref = self.pop();
        let mut args = self.popn(np);
        self.canon_all(&mut args);
        let buf = self.value_buffer(1 + slots);
        self.store_values(buf, 1, &args);

        // The handler table: [count, entries...].
        let nh = table.handlers.len();
        let ts = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            ((1 + nh) * 8) as u32,
            3,
        ));
        let table_addr = self.b.ins().stack_addr(PTR, ts, 0);
        let count = self.b.ins().iconst(PTR, nh as i64);
        self.b
            .ins()
            .store(MemFlags::trusted(), count, table_addr, 0);
        for (i, h) in table.handlers.iter().enumerate() {
            let (tag, switch) = match h {
                Handle::OnLabel { tag, .. } => (*tag, false),
                Handle::OnSwitch { tag } => (*tag, true),
            };
            let mut id = self.env.tag_identity(&mut self.b, tag);
            if switch {
                id = self.b.ins().bor_imm_s(id, resume_table::SWITCH as i64);
            }
            self.b
                .ins()
                .store(MemFlags::trusted(), id, table_addr, ((1 + i) * 8) as i32);
        }

        let cur = self.current_stack();
        let n = self.b.ins().iconst(I32, np as i64);
        let target = self.call_checked(Builtin::ContResume, &[contref, buf, n, table_addr]);
        self.switch_stacks(cur, target);

        // Back: the continuation returned or a handler of ours was chosen.
        let effect = self.b.ins().load(I64, MemFlags::trusted(), buf, 0);
        for (i, h) in table.handlers.iter().enumerate() {
            let Handle::OnLabel { tag, label } = *h else {
                continue;
            };
            let hit = self.b.ins().icmp_imm_s(
                condcodes::IntCC::Equal,
                effect,
                resume_table::EFFECT_RETURN as i64 + 1 + i as i64,
            );
            let handler = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, handler, &[], next, &[]);
            self.b.seal_block(handler);
            self.b.switch_to_block(handler);
            let mut tys: Vec<ir::Type> = tag_params(tag).iter().map(|t| clif_type(*t)).collect();
            tys.push(PTR);
            let vals = self.load_values(buf, 1, &tys);
            let height = self.stack.len();
            self.stack.extend(vals);
            let (target, k) = self.branch_target(label);
            if k != tys.len() {
                bail!(
                    "resume handler label carries {k} values, expected {}",
                    tys.len()
                );
            }
            let bargs = self.branch_args(k);
            self.b.ins().jump(target, &block_args(&bargs));
            self.stack.truncate(height);
            self.b.seal_block(next);
            self.b.switch_to_block(next);
        }
        let vals = self.load_values(buf, 1, &results);
        self.stack.extend(vals);
        Ok(())
    }

    pub(super) fn translate_suspend(&mut self, tag: u32) {
        let info = self.env.info;
        let fty = info.type_as_func(info.tags[tag as usize]);
        let np = fty.params().len();
        let results: Vec<ir::Type> = fty.results().iter().map(|t| clif_type(*t)).collect();
        let mut args = self.popn(np);
        self.canon_all(&mut args);
        let buf = self.value_buffer(1 + np.max(results.len()));
        self.store_values(buf, 1, &args);
        let id = self.env.tag_identity(&mut self.b, tag);
        let cur = self.current_stack();
        let n = self.b.ins().iconst(I32, np as i64);
        let target = self.call_checked(Builtin::ContSuspend, &[id, buf, n]);
        self.switch_stacks(cur, target);
        let vals = self.load_values(buf, 1, &results);
        self.stack.extend(vals);
    }

    pub(super) fn translate_switch(&mut self, ct: u32, tag: u32) {
        let fty = self.cont_func_type(ct);
        // The last parameter is the continuation of the switching code,
        // supplied by the runtime.
        let n = fty.params().len() - 1;
        let back = fty.params()[n];
        let back_ct = match back {
            weft_environ::wasmparser::ValType::Ref(r) => r
                .type_index()
                .and_then(|i| i.as_module_index())
                .expect("validated: switch's last parameter is a continuation reference"),
            _ => unreachable!("validated: switch's last parameter is a reference"),
        };
        let results: Vec<ir::Type> = self
            .cont_func_type(back_ct)
            .params()
            .iter()
            .map(|t| clif_type(*t))
            .collect();
        let recv_ty = self.cont_func_type_index(back_ct);
        let contref = self.pop();
        let mut args = self.popn(n);
        self.canon_all(&mut args);
        let buf = self.value_buffer(1 + n.max(results.len()));
        self.store_values(buf, 1, &args);
        let id = self.env.tag_identity(&mut self.b, tag);
        let cur = self.current_stack();
        let count = self.b.ins().iconst(I32, n as i64);
        let recv_ty = self.b.ins().iconst(I32, i64::from(recv_ty));
        let target = self.call_checked(Builtin::ContSwitch, &[id, contref, recv_ty, buf, count]);
        self.switch_stacks(cur, target);
        let vals = self.load_values(buf, 1, &results);
        self.stack.extend(vals);
    }
}
