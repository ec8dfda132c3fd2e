//! Translation of the stack-switching instructions: `cont.new`,
//! `cont.bind`, `resume`, `suspend` and `switch`.
//!
//! Each switching instruction does the bookkeeping (one-shot check,
//! parent link, handler search, payload copy, `current_stack`; see
//! `weft::vm::continuation`), inline for `resume`, `suspend` and the
//! common case of `switch`, in a builtin for `cont.new`, `cont.bind`,
//! `resume_throw` and the general `switch`, followed by
//! Cranelift's `stack_switch` between the running stack's control context
//! and the target's. Values cross in a buffer in the switching frame: one
//! 16-byte `ValRaw` slot per value, after a first slot that a `resume`
//! reads its effect from (unless the payload carries it). The table is
//! filled in once, at the function's entry ([`EntryValues`]); the
//! `stack_switch` payload register carries a prediction of the other
//! side's next target ([`Translator::predict`]).
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
//!   target = (inline resume)         r = the payload received:
//!   stack_switch(&cur.ctx,           r & FAST_FIRST -> br $l_0 with
//!                &target.ctx, cur)     buf[1..], (r - 1).self_ref
//!                                    else effect = buf[0]:
//!                                      i + 1 -> br $l_i with buf[1..]
//!                                      -1    -> throw buf[1]
//!                                      0     -> push buf[1..=results]
//! ```
//!
//! (`FAST_FIRST` is `resume_table::FAST_FIRST`: the common suspension, to
//! entry 0 from the outermost record under the resumer, hands over the
//! effect and the continuation in the payload register, so neither goes
//! through memory.)
//!
//! Every value live across the switch is spilled by the register
//! allocator (`stack_switch` clobbers all registers but the payload), so a
//! suspended frame keeps its state in its own stack slots.

use super::{Translator, block_args};
use crate::env::const_flags;
use crate::env::{PTR, clif_type};
use anyhow::{Result, bail};
use cranelift_codegen::cursor::{Cursor, CursorPosition, FuncCursor};
use cranelift_codegen::ir::{
    self, InstBuilder, MemFlagsData as MemFlags, StackSlotData, StackSlotKind, Value, condcodes,
    types::*,
};
use cranelift_frontend::Variable;
use std::collections::HashMap;
use weft_environ::wasmparser::{CompositeInnerType, FuncType, Handle, ResumeTable};
use weft_environ::{
    Builtin, Trap, VAL_RAW_SIZE, cont_entry, cont_record, resume_table, stack_record, store_ctx,
    vmctx,
};

/// Values that the switching instructions of one function share, each
/// computed once at the top of the function's entry block (on first use)
/// rather than at every instruction, because none of them changes while
/// the function runs:
///
/// - the store context (`vmctx.store_ctx`, fixed per instance);
/// - the record of the stack the activation runs on: a frame never moves
///   to another stack, and whenever wasm runs, `current_stack` is the
///   record of the stack it runs on (DESIGN invariant 1), so the value the
///   entry reads is the value every later read would give;
/// - tag identities and canonical type ids (fixed per instance);
/// - the contents of every `resume`'s handler table (tag identities, in a
///   stack slot of the frame that the runtime only reads).
///
/// Each is stored in a stack slot of its own at the entry and loaded from
/// there where an instruction needs it: one load from the frame replaces
/// a chain of dependent loads (vmctx -> store context -> record). (Kept
/// as values live across the whole function instead, they would be
/// spilled at every switch, which clobbers all registers, and reloaded
/// at every use.)
#[derive(Default)]
pub(crate) struct EntryValues {
    /// The last instruction inserted into the entry block: the next goes
    /// after it (so each can use the ones before).
    anchor: Option<ir::Inst>,
    /// Each value as computed in the entry block, and the stack slot it
    /// is kept in.
    values: HashMap<EntryKey, (Value, ir::StackSlot)>,
    /// The predictions of [`Translator::predict`]: the record a `resume`
    /// switches to, the record a `suspend` switches to. The first is 0
    /// or the record of a continuation that suspended to a `resume` of
    /// this activation (see [`Translator::branch_to_handler`]), so a
    /// repeat `resume` reads its `self_ref` (`inline_resume`).
    predicted_target: Option<Variable>,
    predicted_resumer: Option<Variable>,
    /// Which `suspend` site of this activation last set the running
    /// record's receive buffer and type (its number, from 1), or 0 when
    /// something else may have since: see [`Translator::recv_site`].
    recv_site: Option<Variable>,
    /// How many `suspend` sites the function has numbered so far.
    suspend_sites: i64,
}

/// Set in the payload of the switch into a suspended continuation that
/// `resume_throw` resumes (the payload is otherwise a record pointer, so
/// the bit is free): the `suspend` or `switch` it waits in then throws
/// the continuation's pending exception (`cont_record::PENDING_EXN`).
/// Every other switch into a suspended continuation comes from generated
/// code that sends a record (`inline_resume`, `translate_switch`) or from
/// the embedder's `host_resume_shim`, which sends its record too.
const THROW_PENDING: i64 = 1;

/// The values of [`EntryValues`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum EntryKey {
    StoreCtx,
    Record,
    /// A tag identity, by tag index.
    Tag(u32),
    /// `recv_type | recv_results << 32` of a `suspend` of a tag, by the
    /// tag's type index.
    RecvWord(u32),
}

impl<'a, 'm> Translator<'a, 'm> {
    /// Inserts instructions with `f` at the top of the entry block, after
    /// those inserted before (see [`EntryValues`]); `f` gets the vmctx.
    fn at_entry<T>(&mut self, f: impl FnOnce(&mut FuncCursor<'_>, Value) -> T) -> T {
        let vmctx = self.env.vmctx;
        let entry = self
            .b
            .func
            .layout
            .entry_block()
            .expect("a function being built has its entry block");
        let pos = FuncCursor::new(self.b.func);
        let mut pos = match self.entry_values.anchor {
            Some(i) => pos.after_inst(i),
            None => pos.at_first_insertion_point(entry),
        };
        let out = f(&mut pos, vmctx);
        // The instruction before the cursor is the last one inserted (or
        // the anchor, if `f` inserted nothing).
        let last = match pos.position() {
            CursorPosition::At(next) => pos.layout().prev_inst(next),
            CursorPosition::After(block) => pos.layout().last_inst(block),
            CursorPosition::Nowhere | CursorPosition::Before(_) => None,
        };
        if last.is_some() {
            self.entry_values.anchor = last;
        }
        out
    }

    /// The entry value `key`, computed by `compute` (given the vmctx) in
    /// the entry block the first time and stored in a stack slot of its
    /// own; returns its value in the entry block (for other entry code).
    fn entry_value(
        &mut self,
        key: EntryKey,
        f: impl FnOnce(&mut FuncCursor<'_>, Value) -> Value,
    ) -> (Value, ir::StackSlot) {
        if let Some(v) = self.entry_values.values.get(&key) {
            return *v;
        }
        let ss =
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        let v = self.at_entry(|pos, vmctx| {
            let v = f(pos, vmctx);
            pos.ins().stack_store(PTR, v, ss, 0);
            v
        });
        self.entry_values.values.insert(key, (v, ss));
        (v, ss)
    }

    /// Loads entry value `key` here (from its slot: one load, a value of
    /// its own that the register allocator keeps for the instruction
    /// being translated, where a value live across the whole function
    /// would be reloaded at every use).
    fn load_entry(&mut self, slot: ir::StackSlot) -> Value {
        self.b.ins().stack_load(PTR, PTR, slot, 0)
    }

    /// The store context's slot.
    fn store_ctx_slot(&mut self) -> (Value, ir::StackSlot) {
        self.entry_value(EntryKey::StoreCtx, |pos, vmctx| {
            pos.ins().load(
                PTR,
                MemFlags::trusted().with_readonly(),
                vmctx,
                vmctx::STORE_CTX as i32,
            )
        })
    }

    /// The store context (see [`EntryValues`]).
    fn entry_store_ctx(&mut self) -> Value {
        let (_, ss) = self.store_ctx_slot();
        self.load_entry(ss)
    }

    /// The record of the stack this activation runs on, as read at the
    /// entry (see [`EntryValues`]).
    fn running_record(&mut self) -> Value {
        // The store context comes first in the entry block (a no-op when
        // it is there already).
        let (sc, _) = self.store_ctx_slot();
        let (_, ss) = self.entry_value(EntryKey::Record, move |pos, _| {
            pos.ins().load(
                PTR,
                MemFlags::trusted(),
                sc,
                store_ctx::CURRENT_STACK as i32,
            )
        });
        self.load_entry(ss)
    }

    /// The identity of tag `tag`: (its value in the entry block, its slot).
    fn tag_slot(&mut self, tag: u32) -> (Value, ir::StackSlot) {
        let off = self.env.offsets.tag(tag) as i32;
        self.entry_value(EntryKey::Tag(tag), move |pos, vmctx| {
            pos.ins().load(PTR, const_flags(), vmctx, off)
        })
    }

    /// The identity of tag `tag` (see [`EntryValues`]).
    fn entry_tag(&mut self, tag: u32) -> Value {
        let (_, ss) = self.tag_slot(tag);
        self.load_entry(ss)
    }

    /// `recv_type | recv_results << 32` for a `suspend` of a tag of
    /// function type `ty` (resumed with that type's results): one 64-bit
    /// store sets both fields.
    fn entry_recv_word(&mut self, ty: u32) -> Value {
        const _: () = assert!(cont_record::RECV_RESULTS == cont_record::RECV_TYPE + 4);
        const _: () = assert!(cont_record::RECV_TYPE.is_multiple_of(8));
        let (_, ss) = self.entry_value(EntryKey::RecvWord(ty), move |pos, vmctx| {
            let ids = pos
                .ins()
                .load(PTR, const_flags(), vmctx, vmctx::TYPE_IDS as i32);
            let id = pos.ins().uload32(const_flags(), ids, (ty * 4) as i32);
            pos.ins().bor_imm_s(id, 1 << 32)
        });
        self.load_entry(ss)
    }

    /// The variable naming the `suspend` site whose receive buffer and
    /// type the running record holds (0: unknown). Only `suspend` and
    /// `switch`, of this function or of a function it calls, change them
    /// (`resume` leaves the resumer's own fields alone), so a site sets it
    /// to its number when it wakes up, and every call and `switch` site
    /// resets it ([`Translator::forget_recv_site`]).
    fn recv_site(&mut self) -> Variable {
        let b = &mut self.b;
        *self
            .entry_values
            .recv_site
            .get_or_insert_with(|| b.declare_var(I64))
    }

    /// Before a call (which may suspend the running record somewhere
    /// else) and after a `switch`: no `suspend` site of this activation
    /// is known to own the receive fields.
    pub(super) fn forget_recv_site(&mut self) {
        // Declared here if no site has been translated yet: a site later
        // in the code may be reached from here (a loop).
        let v = self.recv_site();
        let none = self.b.ins().iconst(I64, 0);
        self.b.def_var(v, none);
    }

    /// The variable holding the predicted target of `resume`s (`false`)
    /// or of `suspend`s (`true`). Unset, it reads as 0 (no record).
    fn prediction(&mut self, of_suspend: bool) -> Variable {
        let slot = if of_suspend {
            &mut self.entry_values.predicted_resumer
        } else {
            &mut self.entry_values.predicted_target
        };
        let b = &mut self.b;
        *slot.get_or_insert_with(|| b.declare_var(PTR))
    }

    /// `actual`, the record a switch goes to, as loaded through its chain
    /// of pointers, replaced by the same value from `prediction` when they
    /// are equal.
    ///
    /// The branch is what makes it worth it: the processor predicts it
    /// and runs on with the predicted value, which comes from one load of
    /// the frame, instead of waiting for the chain (store context, table,
    /// header, `innermost`; or record, `parent`) before it can load the
    /// target's stack pointer. The chain is still loaded and compared, so
    /// a wrong prediction only costs a mispredicted branch: the value used
    /// is always `actual`'s.
    fn predict(&mut self, actual: Value, prediction: Variable) -> Value {
        let guess = self.b.use_var(prediction);
        let same = self.b.ins().icmp(condcodes::IntCC::Equal, actual, guess);
        let hit = self.b.create_block();
        let miss = self.b.create_block();
        let join = self.b.create_block();
        self.b.set_cold_block(miss);
        self.b.append_block_param(join, PTR);
        self.b.ins().brif(same, hit, &[], miss, &[]);
        self.b.seal_block(hit);
        self.b.seal_block(miss);
        self.b.switch_to_block(hit);
        self.b.ins().jump(join, &[ir::BlockArg::Value(guess)]);
        self.b.switch_to_block(miss);
        self.b.ins().jump(join, &[ir::BlockArg::Value(actual)]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// Whether stack record `r` is a continuation's (its `kind`).
    fn is_continuation(&mut self, r: Value) -> Value {
        let kind = self
            .b
            .ins()
            .load(PTR, MemFlags::trusted(), r, stack_record::KIND as i32);
        self.b.ins().icmp_imm_s(
            condcodes::IntCC::Equal,
            kind,
            stack_record::KIND_CONTINUATION as i64,
        )
    }

    /// Stores word `v` at `base + off` unless that word holds `v`
    /// already: a load and a compare instead of a store, for the fields a
    /// switch sets to what they mostly hold already (in a loop: the same
    /// site, frame and continuation). Stores are what a round trip is
    /// short of: on this machine (AMD EPYC, 2 vCPUs) 20 more independent
    /// stores cost a round trip about 5 ns, 20 more loads about 3 ns.
    fn store_if_changed(&mut self, v: Value, base: Value, off: u32) {
        let old = self
            .b
            .ins()
            .load(PTR, MemFlags::trusted(), base, off as i32);
        let same = self.b.ins().icmp(condcodes::IntCC::Equal, old, v);
        self.store_unless(same, v, base, off);
    }

    /// Stores `v` at `base + off` unless `skip` is set, out of line (the
    /// common case, nothing to store, falls through).
    fn store_unless(&mut self, skip: Value, v: Value, base: Value, off: u32) {
        let store = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(store);
        // Code after a conditional store in an out-of-line block stays
        // out of line, so it does not come between hot blocks.
        let here = self.b.current_block();
        if here.is_some_and(|b| self.b.func.layout.is_cold(b)) {
            self.b.set_cold_block(done);
        }
        self.b.ins().brif(skip, done, &[], store, &[]);
        self.b.seal_block(store);
        self.b.switch_to_block(store);
        self.b.ins().store(MemFlags::trusted(), v, base, off as i32);
        self.b.ins().jump(done, &[]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
    }

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

    /// The function type of tag `tag` (its payload: the parameters).
    fn tag_func_type(&self, tag: u32) -> &'m FuncType {
        let info = self.env.info;
        info.type_as_func(info.tags[tag as usize])
    }

    /// A 16-byte-aligned buffer of `slots` `ValRaw` slots in this frame.
    fn value_buffer(&mut self, slots: usize) -> Value {
        self.value_buffer_slot(slots).0
    }

    /// [`Self::value_buffer`] and its stack slot.
    fn value_buffer_slot(&mut self, slots: usize) -> (Value, ir::StackSlot) {
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (slots as u32) * VAL_RAW_SIZE,
            4,
        ));
        (self.b.ins().stack_addr(PTR, ss, 0), ss)
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

    /// `stack_switch` from record `cur` to record `target`, sending
    /// `payload` and returning the payload this stack is switched back to
    /// with. Generated code sends its own record: where the other side's
    /// next switch most likely goes (see [`Translator::predict`]); other
    /// senders (`weft_cont_start`, the runtime's trap and return paths)
    /// send other values, which only makes predictions miss.
    ///
    /// Cranelift records no stack map at `stack_switch` (it is not a call
    /// to its lowering), so no value declared to need one may be live
    /// across it: the managed references in locals and on the operand
    /// stack go to an explicit stack slot before the switch and come back
    /// from it after, as fresh values that replace them. (Only the
    /// parameters of an enclosing `if` kept for its `else` arm, and a
    /// legacy `catch`'s exception, stay live across: such functions are
    /// rare, and their spills are not recorded.) The slot's address and
    /// length go into the record being left, where the collector finds
    /// them while this stack waits (`stack_record::GC_SPILL`).
    ///
    /// Continuation references go to the same slot the same way (the
    /// collector keeps their continuations alive; it never changes them,
    /// but no value in a stack map may be live across the switch, so
    /// they are reloaded too).
    ///
    /// `consumed`, for a `resume`: the reference it consumed and that
    /// reference plus one generation (`self_ref`, a plain value). Copies of
    /// the consumed reference in locals and on the operand stack are stale
    /// once the switch happens, so they need not be in the slot (nothing
    /// to keep alive); after the switch they are recomputed from the plain
    /// value, so nothing of theirs is spilled or reloaded when the code
    /// after the `resume` does not read them (a consumer loop overwrites
    /// its continuation local with the one the suspension hands back).
    fn switch_stacks(
        &mut self,
        cur: Value,
        target: Value,
        payload: Value,
        consumed: Option<(Value, Value)>,
    ) -> Value {
        // The control context is the record's first field: the records'
        // addresses are the contexts' (no address arithmetic on the way).
        const _: () = assert!(stack_record::CONTROL_CONTEXT == 0);
        let (from, to) = (cur, target);
        // Spill: (location, value), a location being a local index or an
        // operand stack position.
        let mut spilled: Vec<(Result<usize, usize>, Value)> = Vec::new();
        for &l in &self.gc_locals.clone() {
            let var = self.locals[l].0;
            let v = self.b.use_var(var);
            spilled.push((Ok(l), v));
        }
        for (i, v) in self.stack.iter().enumerate() {
            if self.gc_values.contains(v) {
                spilled.push((Err(i), *v));
            }
        }
        // Then the continuation references: (location, value).
        let mut conts: Vec<(Result<usize, usize>, Value)> = Vec::new();
        // Copies of the consumed reference: recomputed after the switch.
        let mut stale: Vec<Result<usize, usize>> = Vec::new();
        let is_consumed = |v: Value| consumed.is_some_and(|(c, _)| c == v);
        for &l in &self.cont_locals.clone() {
            let var = self.locals[l].0;
            let v = self.b.use_var(var);
            if is_consumed(v) {
                stale.push(Ok(l));
            } else {
                conts.push((Ok(l), v));
            }
        }
        for (i, v) in self.stack.iter().enumerate() {
            if is_consumed(*v) {
                stale.push(Err(i));
            } else if self.cont_values.contains(v) {
                conts.push((Err(i), *v));
            }
        }
        let total = spilled.len() + conts.len();
        let slot = (total > 0).then(|| {
            self.b.create_sized_stack_slot(ir::StackSlotData::new(
                ir::StackSlotKind::ExplicitSlot,
                (total * 8) as u32,
                3,
            ))
        });
        // Publish the slot in the record being left, for the collector
        // (see `stack_record::GC_SPILL`). A record's count is 0 except
        // while it waits in a switch that spilled something: such a
        // switch sets it, and clears it when it wakes up (a trap that
        // unwinds the waiting frame instead clears it at the host entry,
        // `vm::entry::catch_traps`; every continuation record starts at
        // 0), so a switch with nothing to spill does not touch it.
        let f = MemFlags::trusted();
        if let Some(slot) = slot {
            for (k, (_, v)) in spilled.iter().chain(conts.iter()).enumerate() {
                self.b.ins().stack_store(PTR, *v, slot, (k * 8) as i32);
            }
            let addr = self.b.ins().stack_addr(PTR, slot, 0);
            self.store_if_changed(addr, cur, stack_record::GC_SPILL);
            let n = self.b.ins().iconst(PTR, total as i64);
            self.b
                .ins()
                .store(f, n, cur, stack_record::GC_SPILL_LEN as i32);
        }
        let received = self.b.ins().stack_switch(from, to, payload);
        if let Some(slot) = slot {
            // Awake: this stack runs, nothing of it waits in the slot.
            // (The record reloaded, not `cur`: that would keep `cur` live
            // across the switch, spilled and reloaded around it.)
            let me = self.running_record();
            let zero = self.b.ins().iconst(PTR, 0);
            self.b
                .ins()
                .store(f, zero, me, stack_record::GC_SPILL_LEN as i32);
            let n_gc = spilled.len();
            for (k, (loc, _)) in spilled.iter().chain(conts.iter()).enumerate() {
                let v = self.b.ins().stack_load(PTR, PTR, slot, (k * 8) as i32);
                self.b.declare_value_needs_stack_map(v);
                if k < n_gc {
                    self.gc_values.insert(v);
                } else {
                    self.cont_values.insert(v);
                }
                match loc {
                    Ok(l) => {
                        let var = self.locals[*l].0;
                        self.b.def_var(var, v);
                    }
                    Err(i) => self.stack[*i] = v,
                }
            }
        }
        if let (Some((_, next)), false) = (consumed, stale.is_empty()) {
            let shift = 1i64 << weft_environ::contref::GEN_SHIFT;
            let v = self.b.ins().iadd_imm_s(next, -shift);
            self.b.declare_value_needs_stack_map(v);
            self.cont_values.insert(v);
            for loc in stale {
                match loc {
                    Ok(l) => {
                        let var = self.locals[l].0;
                        self.b.def_var(var, v);
                    }
                    Err(i) => self.stack[i] = v,
                }
            }
        }
        received
    }

    /// The reference one generation after `r`, which consuming `r` makes
    /// current (adding one at the bottom of the generation bits wraps
    /// like the field does).
    fn next_ref(&mut self, r: Value) -> Value {
        self.b
            .ins()
            .iadd_imm_s(r, 1 << weft_environ::contref::GEN_SHIFT)
    }

    /// Calls a switching builtin and traps (with the error it parked) when
    /// it returned zero.
    fn call_checked(&mut self, which: Builtin, args: &[Value]) -> Value {
        let call = self.env.call_builtin(&mut self.b, which, args);
        let r = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, r, Trap::HostError);
        r
    }

    /// The record `contref` indexes in the store's continuation table
    /// and whether `contref` is that record's `self_ref`, the one
    /// reference that is not stale (live: not null, not used up). The
    /// table has an entry for every value of the index bits, and every
    /// entry a reference can index points at readable memory (entry 0,
    /// which a null reference indexes, and retired slots at a stand-in
    /// whose `self_ref` nothing equals: `weft_environ::cont_entry`), so
    /// there is no bounds or null check.
    fn cont_record_of(&mut self, sc: Value, contref: Value) -> (Value, Value) {
        let f = MemFlags::trusted();
        let idx1 = self
            .b
            .ins()
            .band_imm_s(contref, weft_environ::contref::INDEX_MASK as i64);
        let table_base = self.b.ins().load(PTR, f, sc, store_ctx::CONT_TABLE as i32);
        // The index field sits at bit 3: shifted by one more, it is the
        // entry's offset (16 bytes per entry).
        let off = self
            .b
            .ins()
            .ishl_imm_s(idx1, 4 - i64::from(weft_environ::contref::INDEX_SHIFT));
        let entry = self.b.ins().iadd(table_base, off);
        let k = self.b.ins().load(PTR, f, entry, cont_entry::HEADER as i32);
        let current = self.b.ins().load(I64, f, k, cont_record::SELF_REF as i32);
        let live = self.b.ins().icmp(condcodes::IntCC::Equal, current, contref);
        (k, live)
    }

    /// The inline part of `resume`: decodes and checks `contref`, hands the
    /// arguments to the continuation, links it under the running stack
    /// with the handler table and buffer, and switches to it. A null or
    /// stale reference goes to the `ContFail` builtin, which traps.
    ///
    /// ```text
    ///   next = contref + 1 << GEN_SHIFT
    ///   if next == last (this site's, see resume_dispatch)
    ///      and guess.self_ref == contref:              (repeat)
    ///      k = in = guess; k.recv_buf[..] = args
    ///   else:
    ///      k = (store.cont_table + 2 * (contref & INDEX_MASK)).header
    ///      if k.self_ref != contref:
    ///         ContFail; trap        (null: entry 0's stand-in matches nothing)
    ///      in = k.innermost; k.innermost = k
    ///      in.recv_buf[in.bound ..] = args; in.bound = 0
    ///      k.handlers = table; k.resumer_buf = buf
    ///   k.self_ref = next                                  (one-shot)
    ///   k.parent = cur; store.current_stack = in
    ///   r = stack_switch(&cur.ctx, &in.ctx, cur)
    /// ```
    ///
    /// (`cur` and the store context as read at the function's entry, see
    /// [`EntryValues`]; `guess` is the resumes' prediction, the record that
    /// suspended to a resume of this function last, and `in` on the
    /// general path is predicted with it, see [`Translator::predict`].)
    /// Returns the payload `r` the switch back delivered: after a
    /// suspension, the record of the stack that suspended.
    fn inline_resume(
        &mut self,
        contref: Value,
        args: &[Value],
        buf: Value,
        table: (ir::StackSlot, i32),
        last: Variable,
    ) -> Value {
        let f = MemFlags::trusted();
        // Consumed (one-shot): the next generation's reference is the
        // current one, and the one a suspension hands back. Adding one at
        // the bottom of the generation bits wraps like the field does.
        let next = self.next_ref(contref);
        // The repeat: the same reference as the last fast suspension to
        // this site handed over (`last` holds it plus one generation, so
        // its initial 0 equals no `next`, a null reference's included),
        // and still current: the continuation has not run since it
        // suspended here, so it is its own innermost record, has bound
        // nothing, and holds this site's table and buffer (all set by
        // this site's last resume or by the `switch` that put it under us,
        // none changed by anything but a resume, which would have consumed
        // the reference). Its record is the resumes' prediction when that
        // record's `self_ref` is `contref` (the reference names the slot,
        // so no other record's can be): then the table is not read at all.
        // The prediction is a continuation record when `last` matches (the
        // fast suspension that set `last` set it, and every later
        // definition is the record of a suspension; see
        // `branch_to_handler`), and pool memory stays mapped while the
        // store lives, so the load is safe.
        let check = self.b.create_block();
        let repeat = self.b.create_block();
        let general = self.b.create_block();
        let live = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        // linked(in, k)
        let linked = self.b.create_block();
        self.b.append_block_param(linked, PTR);
        self.b.append_block_param(linked, PTR);
        let last_next = self.b.use_var(last);
        let same_site = self.b.ins().icmp(condcodes::IntCC::Equal, next, last_next);
        self.b.ins().brif(same_site, check, &[], general, &[]);
        self.b.seal_block(check);
        self.b.switch_to_block(check);
        let guess_var = self.prediction(false);
        let guess = self.b.use_var(guess_var);
        let guess_ref = self
            .b
            .ins()
            .load(I64, f, guess, cont_record::SELF_REF as i32);
        let current = self
            .b
            .ins()
            .icmp(condcodes::IntCC::Equal, guess_ref, contref);
        self.b.ins().brif(current, repeat, &[], general, &[]);
        self.b.seal_block(repeat);
        self.b.seal_block(general);

        self.b.switch_to_block(repeat);
        // (`last_next` is `next` here, and already in a register.)
        self.b
            .ins()
            .store(f, last_next, guess, cont_record::SELF_REF as i32);
        if !args.is_empty() {
            let recv = self
                .b
                .ins()
                .load(PTR, f, guess, cont_record::RECV_BUF as i32);
            self.store_values(recv, 0, args);
        }
        self.b.ins().jump(linked, &block_args(&[guess, guess]));

        self.b.switch_to_block(general);
        let sc = self.entry_store_ctx();
        let (k, ok) = self.cont_record_of(sc, contref);
        self.b.ins().brif(ok, live, &[], slow, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        self.env
            .call_builtin(&mut self.b, Builtin::ContFail, &[contref]);
        self.b.ins().trap(crate::trap_code(Trap::HostError));
        self.b.seal_block(live);
        self.b.switch_to_block(live);
        self.b.ins().store(f, next, k, cont_record::SELF_REF as i32);
        let inner_actual = self.b.ins().load(PTR, f, k, cont_record::INNERMOST as i32);
        let inner = self.predict(inner_actual, guess_var);
        // Running at the head of its chain, `k` is its own innermost
        // record (what lets a suspension of `k` by itself skip the store):
        // mostly it is already.
        let is_head = self.b.ins().icmp(condcodes::IntCC::Equal, inner_actual, k);
        self.store_unless(is_head, k, k, cont_record::INNERMOST);
        let bound = self.b.ins().uload32(f, inner, cont_record::BOUND as i32);
        if !args.is_empty() {
            let recv = self
                .b
                .ins()
                .load(PTR, f, inner, cont_record::RECV_BUF as i32);
            let skip = self.b.ins().imul_imm_s(bound, i64::from(VAL_RAW_SIZE));
            let dst = self.b.ins().iadd(recv, skip);
            self.store_values(dst, 0, args);
        }
        // A running continuation has bound nothing (`suspend` relies on
        // it, and the collector reads `bound` of running records too).
        // Stores are what a round trip is short of (one per cycle on this
        // machine's cores), so only after a `cont.bind`:
        let reset = self.b.create_block();
        let bound_done = self.b.create_block();
        self.b.set_cold_block(reset);
        self.b.ins().brif(bound, reset, &[], bound_done, &[]);
        self.b.seal_block(reset);
        self.b.switch_to_block(reset);
        let zero = self.b.ins().iconst(I32, 0);
        self.b
            .ins()
            .store(f, zero, inner, cont_record::BOUND as i32);
        self.b.ins().jump(bound_done, &[]);
        self.b.seal_block(bound_done);
        self.b.switch_to_block(bound_done);
        // The same resume site resuming the same continuation again (a
        // consumer loop) finds them set already (`suspend` leaves them).
        let table = self.b.ins().iadd_imm_s(buf, i64::from(table.1));
        self.store_if_changed(table, k, cont_record::HANDLERS);
        self.store_if_changed(buf, k, cont_record::RESUMER_BUF);
        self.b.ins().jump(linked, &block_args(&[inner, k]));

        self.b.seal_block(linked);
        self.b.switch_to_block(linked);
        let p = self.b.block_params(linked).to_vec();
        let (inner, k) = (p[0], p[1]);
        let cur = self.running_record();
        self.b.ins().store(f, cur, k, stack_record::PARENT as i32);
        let sc = self.entry_store_ctx();
        self.b
            .ins()
            .store(f, inner, sc, store_ctx::CURRENT_STACK as i32);
        // The payload: our record, the continuation's prediction of where
        // its `suspend`s go (a suspension sends back its own record, our
        // next prediction; see `resume_dispatch`).
        self.switch_stacks(cur, inner, cur, Some((contref, next)))
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

    /// The buffer and handler table of a `resume` (or `resume_throw`) of
    /// continuation type `ct` with `table`, plus what the dispatch after
    /// the switch needs: (buf, the table's slot and offset, result types,
    /// argument count).
    fn resume_frame(
        &mut self,
        ct: u32,
        table: &ResumeTable,
    ) -> (Value, (ir::StackSlot, i32), Vec<ir::Type>, usize) {
        let fty = self.cont_func_type(ct);
        let (np, results) = (
            fty.params().len(),
            fty.results()
                .iter()
                .map(|t| clif_type(*t))
                .collect::<Vec<_>>(),
        );
        let mut slots = np.max(results.len());
        for h in &table.handlers {
            if let Handle::OnLabel { tag, .. } = h {
                let n = self.tag_func_type(*tag).params().len();
                slots = slots.max(n + 1);
            }
        }
        // At least one value slot: an exception leaving the continuation
        // comes back in buf[1].
        let buf_slots = 1 + slots.max(1);
        // The handler table: [count, entries...], filled in once at the
        // entry (its entries are fixed per instance; see `EntryValues`).
        // It follows the buffer in the same stack slot (so its address is
        // computed from the stack pointer where it is used, as the
        // buffer's is).
        let nh = table.handlers.len();
        let table_off = buf_slots as u32 * VAL_RAW_SIZE;
        let ts = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            table_off + (resume_table::words(nh) * 8) as u32,
            4,
        ));
        let buf = self.b.ins().stack_addr(PTR, ts, 0);
        let table_off = table_off as i32;
        let mut ids = Vec::with_capacity(nh);
        for h in &table.handlers {
            let (tag, switch) = match h {
                Handle::OnLabel { tag, .. } => (*tag, false),
                Handle::OnSwitch { tag } => (*tag, true),
            };
            ids.push((self.tag_slot(tag).0, switch));
        }
        self.at_entry(|pos, _| {
            let count = pos.ins().iconst(PTR, nh as i64);
            pos.ins().stack_store(PTR, count, ts, table_off);
            for (i, (id, switch)) in ids.into_iter().enumerate() {
                let id = if switch {
                    pos.ins().bor_imm_s(id, resume_table::SWITCH as i64)
                } else {
                    id
                };
                pos.ins()
                    .stack_store(PTR, id, ts, table_off + ((1 + i) * 8) as i32);
            }
            if nh == 0 {
                let none = pos.ins().iconst(PTR, resume_table::NO_ENTRY as i64);
                pos.ins().stack_store(PTR, none, ts, table_off + 8);
            }
        });
        (buf, (ts, table_off), results, np)
    }

    pub(super) fn translate_resume(&mut self, ct: u32, table: &ResumeTable) -> Result<()> {
        let (buf, table_slot, results, np) = self.resume_frame(ct, table);
        let contref = self.pop();
        let mut args = self.popn(np);
        self.canon_all(&mut args);
        let last = self.b.declare_var(I64);
        let k = self.inline_resume(contref, &args, buf, table_slot, last);
        self.resume_dispatch(buf, table, &results, k, Some(last))
    }

    /// `resume_throw $ct $tag` (`exn` = None: the tag's payload is on the
    /// operand stack) and `resume_throw_ref $ct` (the exception is on the
    /// stack): the continuation resumes by throwing the exception where
    /// it is suspended (`ContThrow` sets its pending exception, which the
    /// `suspend` or `switch` it waits in throws). A continuation that never
    /// ran is dropped and the exception thrown right here.
    pub(super) fn translate_resume_throw(
        &mut self,
        ct: u32,
        tag: Option<u32>,
        table: &ResumeTable,
    ) -> Result<()> {
        let (buf, table_slot, results, _) = self.resume_frame(ct, table);
        let contref = self.pop();
        let exn = match tag {
            Some(tag) => {
                let n = self.tag_func_type(tag).params().len();
                let mut payload = self.popn(n);
                self.canon_all(&mut payload);
                let vals = self.value_buffer(n.max(1));
                self.store_values(vals, 0, &payload);
                let t = self.b.ins().iconst(I32, i64::from(tag));
                let call = self
                    .env
                    .call_builtin(&mut self.b, Builtin::ExnNew, &[t, vals]);
                self.b.inst_results(call)[0]
            }
            None => self.pop(),
        };
        let cur = self.running_record();
        let table_addr = self.b.ins().stack_addr(PTR, table_slot.0, table_slot.1);
        let target = self.call_checked(Builtin::ContThrow, &[contref, exn, buf, table_addr]);
        let fresh = self.b.ins().icmp_imm_s(condcodes::IntCC::Equal, target, 1);
        let here = self.b.create_block();
        let there = self.b.create_block();
        self.b.ins().brif(fresh, here, &[], there, &[]);
        self.b.seal_block(here);
        self.b.switch_to_block(here);
        self.push(exn);
        self.translate_throw_ref();
        self.reachable = true;
        self.b.seal_block(there);
        self.b.switch_to_block(there);
        // The payload: our record (see `inline_resume`), flagged: the
        // continuation throws its pending exception when it wakes up.
        let flagged = self.b.ins().bor_imm_s(cur, THROW_PENDING);
        let received = self.switch_stacks(cur, target, flagged, None);
        self.resume_dispatch(buf, table, &results, received, None)
    }

    /// The Cranelift types of the payload of tag `tag`.
    fn tag_param_types(&self, tag: u32) -> Vec<ir::Type> {
        self.tag_func_type(tag)
            .params()
            .iter()
            .map(|t| clif_type(*t))
            .collect()
    }

    /// A `resume`'s branch to handler `label` of tag `tag`, with the tag's
    /// payload from `buf[1..]` and continuation `k` (`None`: from the
    /// buffer, after the payload); `suspender`, the record that suspended,
    /// is the next prediction of the `resume`s' target (see
    /// [`Translator::predict`]). It is always a continuation's record:
    /// only suspensions branch to label handlers, and both kinds send
    /// their own record (flagged on the fast path, `inline_suspend`; the
    /// `ContSuspend` builtin only reports errors), which `inline_resume`
    /// relies on when it reads the prediction's `self_ref`.
    fn branch_to_handler(
        &mut self,
        tag: u32,
        label: u32,
        buf: Value,
        suspender: Value,
        k: Option<Value>,
    ) -> Result<()> {
        let guess = self.prediction(false);
        self.b.def_var(guess, suspender);
        let mut tys = self.tag_param_types(tag);
        if k.is_none() {
            tys.push(I64);
        }
        let mut vals = self.load_values(buf, 1, &tys);
        vals.extend(k);
        let carried = vals.len();
        let height = self.stack.len();
        self.stack.extend(vals);
        let (target, want) = self.branch_target(label);
        if want != carried {
            bail!("resume handler label carries {want} values, expected {carried}");
        }
        let bargs = self.branch_args(want);
        self.b.ins().jump(target, &block_args(&bargs));
        self.stack.truncate(height);
        Ok(())
    }

    /// After a `resume`'s switch: the continuation returned (results in
    /// `buf[1..]`) or suspended to one of `table`'s label handlers
    /// (`buf[0]` = its index + 1; payload and continuation in `buf[1..]`).
    /// `received` is the switch's payload: on a suspension, the record of
    /// the stack that suspended, the prediction of the next `resume`'s
    /// target (see [`Translator::predict`]; any value is safe).
    fn resume_dispatch(
        &mut self,
        buf: Value,
        table: &ResumeTable,
        results: &[ir::Type],
        received: Value,
        last: Option<Variable>,
    ) -> Result<()> {
        // The fast suspension to handler 0 (`resume_table::FAST_FIRST`):
        // the payload names the record that suspended, whose `self_ref`
        // is the continuation; the buffer holds only the tag's payload.
        let general = self.b.create_block();
        if let Some(&Handle::OnLabel { tag, label }) = table.handlers.first() {
            let flagged = self
                .b
                .ins()
                .band_imm_s(received, resume_table::FAST_FIRST as i64);
            let fast = self.b.create_block();
            // Laid out away from the fast path, which falls through: a
            // loop's suspensions come back this way, a continuation
            // returns only once.
            self.b.set_cold_block(general);
            self.b.ins().brif(flagged, fast, &[], general, &[]);
            self.b.seal_block(fast);
            self.b.switch_to_block(fast);
            let h = self
                .b
                .ins()
                .iadd_imm_s(received, -(resume_table::FAST_FIRST as i64));
            let k = self
                .b
                .ins()
                .load(I64, MemFlags::trusted(), h, cont_record::SELF_REF as i32);
            if let Some(last) = last {
                // What resuming `k` makes current (see `inline_resume`).
                let next = self.next_ref(k);
                self.b.def_var(last, next);
            }
            self.branch_to_handler(tag, label, buf, h, Some(k))?;
        } else {
            self.b.ins().jump(general, &[]);
        }
        self.b.seal_block(general);
        self.b.switch_to_block(general);
        // Otherwise: the continuation returned, a handler of ours was
        // chosen by the general search, or an exception left the
        // continuation: throw it on from here. No reference is this
        // site's repeat any more (see `inline_resume`).
        if let Some(last) = last {
            let none = self.b.ins().iconst(I64, 0);
            self.b.def_var(last, none);
        }
        let effect = self.b.ins().load(I64, MemFlags::trusted(), buf, 0);
        // The handlers first: a suspension is the common case in loops.
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
            self.branch_to_handler(tag, label, buf, received, None)?;
            self.b.seal_block(next);
            self.b.switch_to_block(next);
        }
        let thrown = self.b.ins().icmp_imm_s(
            condcodes::IntCC::Equal,
            effect,
            resume_table::EFFECT_THROW as i64,
        );
        let rethrow = self.b.create_block();
        let not_thrown = self.b.create_block();
        self.b.set_cold_block(rethrow);
        self.b.ins().brif(thrown, rethrow, &[], not_thrown, &[]);
        self.b.seal_block(rethrow);
        self.b.switch_to_block(rethrow);
        let exn = self
            .b
            .ins()
            .load(PTR, MemFlags::trusted(), buf, VAL_RAW_SIZE as i32);
        self.push(exn);
        self.translate_throw_ref();
        self.reachable = true;
        self.b.seal_block(not_thrown);
        self.b.switch_to_block(not_thrown);
        let vals = self.load_values(buf, 1, results);
        self.stack.extend(vals);
        Ok(())
    }

    /// After a `suspend` or `switch` is resumed (`received` being the
    /// switch's payload): if it was resumed by `resume_throw`, which sets
    /// [`THROW_PENDING`] in the payload, throw the pending exception here.
    fn throw_pending(&mut self, received: Value) {
        let f = MemFlags::trusted();
        let flag = self.b.ins().band_imm_s(received, THROW_PENDING);
        let throw = self.b.create_block();
        let go_on = self.b.create_block();
        self.b.set_cold_block(throw);
        self.b.ins().brif(flag, throw, &[], go_on, &[]);
        self.b.seal_block(throw);
        self.b.switch_to_block(throw);
        let cur = self.running_record();
        let exn = self
            .b
            .ins()
            .load(PTR, f, cur, cont_record::PENDING_EXN as i32);
        let zero = self.b.ins().iconst(PTR, 0);
        self.b
            .ins()
            .store(f, zero, cur, cont_record::PENDING_EXN as i32);
        self.push(exn);
        self.translate_throw_ref();
        self.reachable = true;
        self.b.seal_block(go_on);
        self.b.switch_to_block(go_on);
    }

    pub(super) fn translate_suspend(&mut self, tag: u32) {
        let fty = self.tag_func_type(tag);
        let np = fty.params().len();
        let results: Vec<ir::Type> = fty.results().iter().map(|t| clif_type(*t)).collect();
        let mut args = self.popn(np);
        self.canon_all(&mut args);
        let (buf, buf_slot) = self.value_buffer_slot(1 + np.max(results.len()));
        let id = self.entry_tag(tag);
        self.inline_suspend(tag, id, &args, buf, buf_slot);
        let vals = self.load_values(buf, 1, &results);
        self.stack.extend(vals);
    }

    /// The inline part of `suspend`: finds the handler by walking the
    /// running chain, hands it the payload and the suspended continuation,
    /// and switches to its resumer. No handler (the chain reaches a stack
    /// that is not a continuation) goes to the `ContSuspend` builtin,
    /// which traps with `unhandled tag`.
    ///
    /// ```text
    ///   unless this site woke up last, with no call since (recv_site):
    ///     if cur.kind != continuation: search from cur
    ///     cur.recv_buf = buf + 16 (cur.bound is 0)
    ///     cur.recv_type = the tag's type (results)
    ///   if cur.handlers[1] == id:
    ///         found (cur, cur | FAST_FIRST)
    ///   r = cur
    ///   loop: if r.kind != continuation: slow (trap)
    ///         for i in 0..r.handlers[0]: if r.handlers[1 + i] == id:
    ///             h = r; h.resumer_buf[0] = i + 1
    ///             h.resumer_buf[1 + n] = h.self_ref
    ///             h.innermost = cur; found (h, cur)
    ///         r = r.parent
    ///   found (h, send):       (fast: h = cur, whose innermost is cur)
    ///     h.resumer_buf[1..] = payload
    ///     resumer = h.parent
    ///     h.parent = 0; store.current_stack = resumer
    ///     r = stack_switch(&cur.ctx, &resumer.ctx, send)
    /// ```
    ///
    /// (`cur`, the store context, `id` and the receive type as read at the
    /// function's entry, see [`EntryValues`]; `resumer` is predicted from
    /// the payload `r` of the last switch back, see
    /// [`Translator::predict`].)
    fn inline_suspend(
        &mut self,
        tag: u32,
        id: Value,
        payload: &[Value],
        buf: Value,
        buf_slot: ir::StackSlot,
    ) {
        let f = MemFlags::trusted();
        let sc = self.entry_store_ctx();
        let cur = self.running_record();
        let search = self.b.create_block();
        self.b.append_block_param(search, PTR);
        // found(h, send): h handles it; `send` is the switch's payload.
        let found = self.b.create_block();
        self.b.append_block_param(found, PTR);
        self.b.append_block_param(found, PTR);
        // general(h, i): found by the general search, entry i of h's table.
        let general = self.b.create_block();
        self.b.append_block_param(general, PTR);
        self.b.append_block_param(general, PTR);
        self.b.set_cold_block(general);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        // (`handler_search` lays `search` out of line.)

        // First the common case: the running stack is a continuation and
        // the first entry of its resumer's table is the tag. (A running
        // continuation always has a table, and every table has a word
        // after its count: `resume_table::words`.) Otherwise the search
        // below starts over from `cur`.
        // This site woke up last, with no call or `switch` since (see
        // `recv_site`): the running record is a continuation (it was
        // suspended here) whose receive buffer and type are this site's.
        self.entry_values.suspend_sites += 1;
        let site = self.entry_values.suspend_sites;
        let site_var = self.recv_site();
        let last_site = self.b.use_var(site_var);
        let known = self
            .b
            .ins()
            .icmp_imm_s(condcodes::IntCC::Equal, last_site, site);
        let first = self.b.create_block();
        let kind_check = self.b.create_block();
        self.b.set_cold_block(kind_check);
        self.b.ins().brif(known, first, &[], kind_check, &[]);
        self.b.seal_block(kind_check);
        self.b.switch_to_block(kind_check);
        let is_cont = self.is_continuation(cur);
        let set_recv = self.b.create_block();
        self.b.set_cold_block(set_recv);
        self.b
            .ins()
            .brif(is_cont, set_recv, &[], search, &[ir::BlockArg::Value(cur)]);
        self.b.seal_block(set_recv);
        self.b.switch_to_block(set_recv);
        // Where this site receives (they mostly hold it already): whichever
        // handler takes the suspension, `cur` is what waits here.
        let recv = self.b.ins().stack_addr(PTR, buf_slot, VAL_RAW_SIZE as i32);
        self.store_if_changed(recv, cur, cont_record::RECV_BUF);
        // `cur.bound` is 0 already: every resume of a continuation resets
        // it (`inline_resume`, `cont_resume`, `cont_switch`, `cont_throw`).
        let tag_ty = self.env.info.tags[tag as usize];
        let recv = self.entry_recv_word(tag_ty);
        self.store_if_changed(recv, cur, cont_record::RECV_TYPE);
        self.b.ins().jump(first, &[]);
        self.b.seal_block(first);
        self.b.switch_to_block(first);
        let tbl = self.b.ins().load(PTR, f, cur, cont_record::HANDLERS as i32);
        let entry0 = self.b.ins().load(PTR, f, tbl, 8);
        let hit = self.b.ins().icmp(condcodes::IntCC::Equal, entry0, id);
        // The resumer learns the effect (entry 0) and the continuation
        // (`cur.self_ref`) from the payload (`resume_table::FAST_FIRST`).
        let send = self.b.ins().bor_imm_s(cur, resume_table::FAST_FIRST as i64);
        self.b.ins().brif(
            hit,
            found,
            &block_args(&[cur, send]),
            search,
            &[ir::BlockArg::Value(cur)],
        );

        self.handler_search(search, id, general, slow);

        // No handler: the builtin traps with the right error.
        self.b.switch_to_block(slow);
        let n = self.b.ins().iconst(I32, payload.len() as i64);
        self.env
            .call_builtin(&mut self.b, Builtin::ContSuspend, &[id, buf, n]);
        self.b.ins().trap(crate::trap_code(Trap::UnhandledTag));

        // general(h, i): the effect and the continuation go in the
        // resumer's buffer; the payload is our record alone.
        self.b.switch_to_block(general);
        let p = self.b.block_params(general).to_vec();
        let (h, i) = (p[0], p[1]);
        let rbuf = self
            .b
            .ins()
            .load(PTR, f, h, cont_record::RESUMER_BUF as i32);
        let effect = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().store(f, effect, rbuf, 0);
        let k = self.b.ins().load(I64, f, h, cont_record::SELF_REF as i32);
        let koff = ((1 + payload.len()) as u32 * VAL_RAW_SIZE) as i32;
        self.b.ins().store(f, k, rbuf, koff);
        // The chain from `h` down to us is suspended: a resume continues
        // here. (On the fast path `h` is `cur`, the head of its chain,
        // whose `innermost` is itself already.)
        self.b.ins().store(f, cur, h, cont_record::INNERMOST as i32);
        self.b.ins().jump(found, &block_args(&[h, cur]));

        // found(h, send)
        self.b.switch_to_block(found);
        let p = self.b.block_params(found).to_vec();
        let (h, send) = (p[0], p[1]);
        let rbuf = self
            .b
            .ins()
            .load(PTR, f, h, cont_record::RESUMER_BUF as i32);
        self.store_values(rbuf, 1, payload);
        let resumer = self.b.ins().load(PTR, f, h, stack_record::PARENT as i32);
        let guess = self.prediction(true);
        let resumer = self.predict(resumer, guess);
        // (`h.handlers` stays: only the handlers of running records are
        // read, and a resume sets them. `parent` = 0 marks the head of a
        // suspended chain for the collector.)
        let null = self.b.ins().iconst(PTR, 0);
        self.b.ins().store(f, null, h, stack_record::PARENT as i32);
        self.b
            .ins()
            .store(f, resumer, sc, store_ctx::CURRENT_STACK as i32);
        // The payload: our record (flagged on the fast path), the
        // resumer's prediction for its next `resume`; whoever resumes us
        // sends its record, our next prediction of the resumer.
        let received = self.switch_stacks(cur, resumer, send, None);
        let guess = self.prediction(true);
        self.b.def_var(guess, received);
        // Woken up here: the receive fields are this site's.
        let mine = self.b.ins().iconst(I64, site);
        self.b.def_var(site_var, mine);
        self.throw_pending(received);
    }

    /// The general handler search of `suspend` and `switch`, emitted into
    /// block `search(r)` (not yet switched to; its other predecessors
    /// branched to it already): walks the chain from record `r` outward
    /// and jumps to `hit(h, i)` at the first record `h` whose resumer's
    /// table has entry `i` equal to `want`, or to `slow` at the first
    /// record that is not a continuation (no handler). Laid out away from
    /// the common case.
    ///
    /// ```text
    ///   search(r): if r.kind != continuation: slow
    ///              if r.handlers == 0: next(r)
    ///              for i in 0..r.handlers[0]:
    ///                  if r.handlers[1 + i] == want: hit(r, i)
    ///   next(r):   search(r.parent)
    /// ```
    fn handler_search(&mut self, search: ir::Block, want: Value, hit: ir::Block, slow: ir::Block) {
        let f = MemFlags::trusted();
        let scan = self.b.create_block();
        for t in [PTR, PTR, PTR, PTR] {
            // r, table, i, n
            self.b.append_block_param(scan, t);
        }
        let probe = self.b.create_block();
        let next = self.b.create_block();
        self.b.append_block_param(next, PTR);
        let has_table = self.b.create_block();
        let scan_start = self.b.create_block();
        for b in [search, scan, probe, next, has_table, scan_start] {
            self.b.set_cold_block(b);
        }

        // search(r): is r a continuation with a handler table?
        self.b.switch_to_block(search);
        let r = self.b.block_params(search)[0];
        let is_cont = self.is_continuation(r);
        self.b.ins().brif(is_cont, has_table, &[], slow, &[]);
        self.b.seal_block(has_table);
        self.b.switch_to_block(has_table);
        let tbl = self.b.ins().load(PTR, f, r, cont_record::HANDLERS as i32);
        self.b
            .ins()
            .brif(tbl, scan_start, &[], next, &[ir::BlockArg::Value(r)]);
        self.b.seal_block(scan_start);
        self.b.switch_to_block(scan_start);
        let count = self.b.ins().load(PTR, f, tbl, 0);
        let zero = self.b.ins().iconst(PTR, 0);
        self.b.ins().jump(scan, &block_args(&[r, tbl, zero, count]));

        // scan(r, table, i, n): entry i of r's table?
        self.b.switch_to_block(scan);
        let p = self.b.block_params(scan).to_vec();
        let (r, tbl, i, n) = (p[0], p[1], p[2], p[3]);
        let done = self
            .b
            .ins()
            .icmp(condcodes::IntCC::UnsignedGreaterThanOrEqual, i, n);
        self.b
            .ins()
            .brif(done, next, &[ir::BlockArg::Value(r)], probe, &[]);
        self.b.seal_block(probe);
        self.b.switch_to_block(probe);
        let off = self.b.ins().ishl_imm_s(i, 3);
        let at = self.b.ins().iadd(tbl, off);
        let entry = self.b.ins().load(PTR, f, at, 8);
        let found = self.b.ins().icmp(condcodes::IntCC::Equal, entry, want);
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().brif(
            found,
            hit,
            &block_args(&[r, i]),
            scan,
            &block_args(&[r, tbl, i1, n]),
        );

        // next(r): on to the stack that resumed r.
        self.b.switch_to_block(next);
        let r = self.b.block_params(next)[0];
        let parent = self.b.ins().load(PTR, f, r, stack_record::PARENT as i32);
        self.b.ins().jump(search, &[ir::BlockArg::Value(parent)]);
    }

    /// Goes on in a new block when `cond` is set, else to `slow`.
    fn continue_if(&mut self, cond: Value, slow: ir::Block) {
        let next = self.b.create_block();
        self.b.ins().brif(cond, next, &[], slow, &[]);
        self.b.seal_block(next);
        self.b.switch_to_block(next);
    }

    /// The bookkeeping of `switch`: the record to switch to. Generated
    /// code does all of it, as the `ContSwitch` builtin would
    /// (`cont_switch` in `weft::vm::continuation`); only the errors (no
    /// handler, a null or consumed target) call the builtin, which traps
    /// with the right one. The common case, the running continuation's own
    /// resumer handling the switch at its first entry and a single target
    /// with nothing bound, takes no loop and no out-of-line block:
    ///
    /// ```text
    ///   if cur.kind != continuation: slow
    ///   h = cur if cur.handlers[1] == tag | SWITCH
    ///       else the record found by the general search (handler_search)
    ///   t = (store.cont_table + 2 * (contref & INDEX_MASK)).header
    ///   if t.self_ref != contref: slow            (null or consumed)
    ///   in = t.innermost (predicted); bound = in.bound
    ///   next = contref + 1 << GEN_SHIFT
    ///   t.self_ref = next                                 (one-shot)
    ///   h.innermost = cur; cur.recv_buf = buf + 1     (suspended: the
    ///   cur.recv_type, recv_results = type, 0          chain h .. cur)
    ///   in.recv_buf[bound..][..n] = args; then h.self_ref
    ///   in.bound = 0; t.innermost = t                  (when not so)
    ///   t.parent, t.handlers, t.resumer_buf = h's
    ///   h.parent = null; h.handlers = null
    ///   store.current_stack = in
    ///   -> in
    ///   slow: -> ContSwitch(tag, contref, type, buf, n)  (traps)
    /// ```
    ///
    /// `h.self_ref` is the reference that the resume which linked `h`
    /// under its resumer made current; it names the suspended chain now.
    fn inline_switch(
        &mut self,
        cur: Value,
        id: Value,
        contref: Value,
        args: &[Value],
        buf: Value,
        recv_ty: u32,
    ) -> Value {
        let f = MemFlags::trusted();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        // found(h): h's resumer handles the switch.
        let found = self.b.create_block();
        self.b.append_block_param(found, PTR);
        let search = self.b.create_block();
        self.b.append_block_param(search, PTR);
        // general(h, i): found by the general search, at entry i.
        let general = self.b.create_block();
        self.b.append_block_param(general, PTR);
        self.b.append_block_param(general, PTR);
        self.b.set_cold_block(general);
        // Only a continuation record has the header fields read below.
        let is_cont = self.is_continuation(cur);
        self.continue_if(is_cont, slow);
        // A table without entries still has the word after its count
        // (`resume_table::NO_ENTRY`), so entry 0 can always be read.
        let table = self.b.ins().load(PTR, f, cur, cont_record::HANDLERS as i32);
        let first = self.b.ins().load(PTR, f, table, 8);
        let want = self.b.ins().bor_imm_s(id, resume_table::SWITCH as i64);
        let handled = self.b.ins().icmp(condcodes::IntCC::Equal, first, want);
        self.b.ins().brif(
            handled,
            found,
            &[ir::BlockArg::Value(cur)],
            search,
            &[ir::BlockArg::Value(cur)],
        );
        self.handler_search(search, want, general, slow);
        self.b.switch_to_block(general);
        let h = self.b.block_params(general)[0];
        self.b.ins().jump(found, &[ir::BlockArg::Value(h)]);

        self.b.switch_to_block(found);
        let h = self.b.block_params(found)[0];
        let sc = self.entry_store_ctx();
        // A null or stale reference fails here; the builtin then traps
        // with the right error.
        let (t, live) = self.cont_record_of(sc, contref);
        self.continue_if(live, slow);
        let inner_actual = self.b.ins().load(PTR, f, t, cont_record::INNERMOST as i32);
        // In a ring the target's innermost record is the stack that
        // switched to us last, which every wake-up records as the suspend
        // prediction: with it the switch need not wait for the table's
        // header word and `innermost` (see `predict`).
        let guess = self.prediction(true);
        let inner = self.predict(inner_actual, guess);
        let bound = self.b.ins().uload32(f, inner, cont_record::BOUND as i32);
        // Consumed (one-shot), as in `inline_resume`.
        let next = self.next_ref(contref);
        self.b.ins().store(f, next, t, cont_record::SELF_REF as i32);
        // The running chain, from `h` down to `cur`, becomes the suspended
        // continuation, resumed at `cur` with the values of `recv_ty`'s
        // parameters. (`cur.bound` is 0: it runs.)
        self.store_if_changed(cur, h, cont_record::INNERMOST);
        let recv_here = self.b.ins().iadd_imm_s(buf, i64::from(VAL_RAW_SIZE));
        self.b
            .ins()
            .store(f, recv_here, cur, cont_record::RECV_BUF as i32);
        let word = self.entry_recv_word(recv_ty);
        let params_word = self.b.ins().band_imm_s(word, 0xffff_ffff);
        self.b
            .ins()
            .store(f, params_word, cur, cont_record::RECV_TYPE as i32);
        let suspended = self.b.ins().load(I64, f, h, cont_record::SELF_REF as i32);
        // The target's innermost record takes the values after the ones
        // `cont.bind` supplied; mostly a single stack with none bound.
        let recv = self
            .b
            .ins()
            .load(PTR, f, inner, cont_record::RECV_BUF as i32);
        let fix = self.b.create_block();
        self.b.set_cold_block(fix);
        let fill = self.b.create_block();
        self.b.append_block_param(fill, PTR);
        let single = self.b.ins().icmp(condcodes::IntCC::Equal, inner, t);
        self.continue_if(single, fix);
        self.b
            .ins()
            .brif(bound, fix, &[], fill, &[ir::BlockArg::Value(recv)]);
        self.b.seal_block(fix);
        self.b.switch_to_block(fix);
        let skip = self
            .b
            .ins()
            .ishl_imm_s(bound, VAL_RAW_SIZE.trailing_zeros() as i64);
        let dst = self.b.ins().iadd(recv, skip);
        let zero = self.b.ins().iconst(I32, 0);
        self.b
            .ins()
            .store(f, zero, inner, cont_record::BOUND as i32);
        self.b.ins().store(f, t, t, cont_record::INNERMOST as i32);
        self.b.ins().jump(fill, &[ir::BlockArg::Value(dst)]);
        self.b.seal_block(fill);
        self.b.switch_to_block(fill);
        let dst = self.b.block_params(fill)[0];
        self.store_values(dst, 0, args);
        self.store_values(dst, args.len(), &[suspended]);
        // The target takes the running chain's place under the handler.
        let parent = self.b.ins().load(PTR, f, h, stack_record::PARENT as i32);
        let h_table = self.b.ins().load(PTR, f, h, cont_record::HANDLERS as i32);
        let resumer_buf = self
            .b
            .ins()
            .load(PTR, f, h, cont_record::RESUMER_BUF as i32);
        self.b
            .ins()
            .store(f, parent, t, stack_record::PARENT as i32);
        self.b
            .ins()
            .store(f, h_table, t, cont_record::HANDLERS as i32);
        self.b
            .ins()
            .store(f, resumer_buf, t, cont_record::RESUMER_BUF as i32);
        let null = self.b.ins().iconst(PTR, 0);
        self.b.ins().store(f, null, h, stack_record::PARENT as i32);
        self.b.ins().store(f, null, h, cont_record::HANDLERS as i32);
        self.b
            .ins()
            .store(f, inner, sc, store_ctx::CURRENT_STACK as i32);
        let done = self.b.create_block();
        self.b.append_block_param(done, PTR);
        self.b.ins().jump(done, &[ir::BlockArg::Value(inner)]);

        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let count = self.b.ins().iconst(I32, args.len() as i64);
        let ty = self.b.ins().iconst(I32, i64::from(recv_ty));
        // Every way here is an error, which the builtin reports (it
        // would do the general case too, as it does for the runtime).
        let target = self.call_checked(Builtin::ContSwitch, &[id, contref, ty, buf, count]);
        self.b.ins().jump(done, &[ir::BlockArg::Value(target)]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
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
        let id = self.entry_tag(tag);
        let cur = self.running_record();
        // This site's buffer becomes the running record's (both paths).
        self.forget_recv_site();
        let target = self.inline_switch(cur, id, contref, &args, buf, recv_ty);
        // Payloads as for `suspend` (see `inline_suspend`).
        let received = self.switch_stacks(cur, target, cur, None);
        let guess = self.prediction(true);
        self.b.def_var(guess, received);
        self.throw_pending(received);
        let vals = self.load_values(buf, 1, &results);
        self.stack.extend(vals);
    }
}
