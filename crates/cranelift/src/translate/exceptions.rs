//! Exception handling: `throw`, `throw_ref`, `try_table` (Wasm 3.0) and the
//! legacy `try`/`catch`/`catch_all`/`rethrow`/`delegate`.
//!
//! Handler scopes are compiled into Cranelift exception tables. While a
//! scope is open, every call the function makes is a `try_call` (or
//! `try_call_indirect`) whose table lists the clauses of all open scopes,
//! innermost first, after one dynamic-context item: the function's vmctx.
//! Cranelift records per call site where the vmctx was saved (an offset
//! from the stack pointer), the frame offset (fp - sp) and each clause's
//! landing pad; the runtime (`weft::vm::exceptions`) reads them back by
//! return address.
//!
//! ```text
//!   try_table (catch $t 1) (catch_all_ref 0) ... call $f ... end
//!
//!   block0:  ...  jump body              (the current block is closed so
//!   land0(exn):   payload = exn_payload(exn); jump label1(payload...)
//!   land1(exn):   jump label0(exn)        landing pads can be built here)
//!   body:    ...
//!            try_call $f(args), [context vmctx,
//!                                tag(vmctx offset of $t's identity): land0(exn),
//!                                default: land1(exn)]  -> normal(results)
//!   normal(results): ...
//! ```
//!
//! A clause's tag is the byte offset of the tag's identity in the vmctx
//! (`VMOffsets::tag`): the runtime matches `*(context + tag) == thrown tag
//! identity`, which is right across instances that import the same tag.
//!
//! `throw` and `throw_ref` call the `Throw`/`ThrowRef` builtins with the
//! `tail` convention, as `try_call`s in handler scopes, so the throwing
//! frame's own handlers are found like any other frame's. The payload
//! registers deliver the exception object (`exnref`) to the landing pad.
//!
//! `exnref` values are declared to need stack maps wherever they are
//! created (parameters, locals, block parameters, call results, loads from
//! globals, tables and payloads, landing pads), so every call lists the
//! frame slots that hold live exceptions: the collector's precise roots.

use super::*;
use cranelift_codegen::ir::{ExceptionTableData, ExceptionTableItem, ExceptionTag};
use weft_environ::wasmparser::{Catch, HeapType, ValType};

/// One open handler scope: a `try_table`, or a legacy `try` whose body or
/// handler is being translated.
pub(super) struct HandlerScope {
    /// `(tag identity offset in the vmctx, or None for a catch-all,
    /// landing pad)`, in clause order.
    pub clauses: Vec<(Option<u32>, ir::Block)>,
    /// What a call inside this scope lists: its clauses, then those of the
    /// enclosing scopes, leaving out clauses for tag slots already listed
    /// (the earlier one always wins) and everything after a catch-all.
    /// Computed once when the scope opens.
    effective: std::rc::Rc<[(Option<u32>, ir::Block)]>,
    /// Control stack depth of the frame that opened the scope.
    pub control_depth: usize,
}

/// Most distinct catch clauses that may be in scope at one point. Nested
/// scopes make every call list the clauses of all of them (less the
/// shadowed ones), so deep nesting with distinct tags would make the
/// tables quadratic in size; beyond this the function is rejected with a
/// clear error.
pub(crate) const MAX_HANDLERS_PER_CALL: usize = 10_000;

/// What a call goes to.
pub(super) enum Callee {
    Direct(ir::FuncRef),
    Indirect(ir::SigRef, Value),
}

/// Whether `ty` is a reference into the exception hierarchy.
pub(crate) fn is_exnref(ty: &ValType) -> bool {
    use weft_environ::wasmparser::AbstractHeapType as A;
    match ty {
        ValType::Ref(r) => matches!(
            r.heap_type(),
            HeapType::Abstract {
                ty: A::Exn | A::NoExn,
                ..
            }
        ),
        _ => false,
    }
}

impl<'a, 'm> Translator<'a, 'm> {
    /// Marks the `exnref`s among `vals` (whose wasm types are `tys`) as GC
    /// roots at every safepoint they are live across.
    pub(super) fn declare_refs<'t>(
        &mut self,
        vals: &[Value],
        tys: impl IntoIterator<Item = &'t ValType>,
    ) {
        for (v, t) in vals.iter().zip(tys) {
            if is_exnref(t) {
                self.b.declare_value_needs_stack_map(*v);
            }
        }
    }

    /// The wasm parameter and result types of a block type.
    pub(super) fn block_wasm_sig(&self, ty: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match ty {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![t]),
            BlockType::FuncType(idx) => {
                let f = self.env.info.type_as_func(idx);
                (f.params().to_vec(), f.results().to_vec())
            }
        }
    }

    /// Declares the `exnref` parameters of `block` (typed `tys`).
    pub(super) fn declare_block_refs(&mut self, block: ir::Block, tys: &[ValType]) {
        if tys.iter().any(is_exnref) {
            let params = self.b.block_params(block).to_vec();
            self.declare_refs(&params, tys);
        }
    }

    /// Emits a call; inside handler scopes a `try_call` that lands in
    /// their pads. Returns the call's results (in the block after it).
    pub(super) fn emit_call(&mut self, callee: Callee, args: &[Value]) -> Vec<Value> {
        self.emit_call_within(callee, args, usize::MAX)
    }

    /// [`Self::emit_call`] with only the handler scopes opened by frames
    /// at control depth `max_depth` or less.
    fn emit_call_within(&mut self, callee: Callee, args: &[Value], max_depth: usize) -> Vec<Value> {
        let active = self.active_clauses(max_depth);
        if active.is_empty() {
            let inst = match callee {
                Callee::Direct(f) => self.b.ins().call(f, args),
                Callee::Indirect(sig, ptr) => self.b.ins().call_indirect(sig, ptr, args),
            };
            return self.b.inst_results(inst).to_vec();
        }
        let sig = match callee {
            Callee::Direct(f) => self.b.func.dfg.ext_funcs[f].signature,
            Callee::Indirect(sig, _) => sig,
        };
        let returns: Vec<ir::Type> = self.b.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|p| p.value_type)
            .collect();
        let normal = self.b.create_block();
        for t in &returns {
            self.b.append_block_param(normal, *t);
        }
        let ret_args: Vec<BlockArg> = (0..returns.len() as u32)
            .map(BlockArg::TryCallRet)
            .collect();
        let normal_call = self.b.func.dfg.block_call(normal, &ret_args);
        let mut items = vec![ExceptionTableItem::Context(self.env.vmctx)];
        for &(tag, landing) in active.iter() {
            let call = self
                .b
                .func
                .dfg
                .block_call(landing, &[BlockArg::TryCallExn(0)]);
            items.push(match tag {
                Some(t) => ExceptionTableItem::Tag(ExceptionTag::from_u32(t), call),
                None => ExceptionTableItem::Default(call),
            });
        }
        let et = self
            .b
            .func
            .dfg
            .exception_tables
            .push(ExceptionTableData::new(sig, normal_call, items));
        match callee {
            Callee::Direct(f) => self.b.ins().try_call(f, args, et),
            Callee::Indirect(_, ptr) => self.b.ins().try_call_indirect(ptr, args, et),
        };
        self.b.seal_block(normal);
        self.b.switch_to_block(normal);
        self.b.block_params(normal).to_vec()
    }

    /// The clauses a call lists inside the open handler scopes of frames
    /// at control depth `max_depth` or less (see `HandlerScope::effective`).
    /// Whether a call here is inside some handler scope (and so must be a
    /// `try_call`).
    pub(super) fn in_handler_scope(&self) -> bool {
        !self.active_clauses(usize::MAX).is_empty()
    }

    fn active_clauses(&self, max_depth: usize) -> std::rc::Rc<[(Option<u32>, ir::Block)]> {
        self.handlers
            .iter()
            .rev()
            .find(|s| s.control_depth <= max_depth)
            .map_or_else(|| std::rc::Rc::from(Vec::new()), |s| s.effective.clone())
    }

    /// Opens a handler scope with `clauses` for the frame at
    /// `control_depth`, computing what calls inside it list.
    fn push_scope(&mut self, clauses: Vec<(Option<u32>, ir::Block)>, control_depth: usize) {
        let mut effective: Vec<(Option<u32>, ir::Block)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let outer = self.handlers.last().map(|s| s.effective.clone());
        'all: for c in clauses.iter().chain(outer.iter().flat_map(|o| o.iter())) {
            match c.0 {
                None => {
                    effective.push(*c);
                    break 'all;
                }
                Some(tag) => {
                    if seen.insert(tag) {
                        effective.push(*c);
                    }
                }
            }
            if effective.len() > MAX_HANDLERS_PER_CALL {
                self.too_many_handlers = true;
                break;
            }
        }
        self.handlers.push(HandlerScope {
            clauses,
            effective: effective.into(),
            control_depth,
        });
    }

    /// The signature of the `Throw`/`ThrowRef` builtins as generated code
    /// calls them: Cranelift's `tail` convention, so that a handler resume
    /// restores only sp, fp and pc (the shim in `weft::vm::exceptions`
    /// receives the arguments in the C convention's registers, which are
    /// the same for up to six integers).
    fn throw_signature(&self, which: Builtin) -> ir::Signature {
        let mut sig = ir::Signature::new(cranelift_codegen::isa::CallConv::Tail);
        let clif = |t: weft_environ::BuiltinType| match t {
            weft_environ::BuiltinType::U32 => I32,
            weft_environ::BuiltinType::U64 => I64,
            _ => PTR,
        };
        for p in which.signature().params {
            sig.params.push(ir::AbiParam::new(clif(*p)));
        }
        sig
    }

    /// Calls the `Throw` or `ThrowRef` builtin with `args` (the vmctx is
    /// prepended), through handler scopes.
    fn call_throw_builtin(&mut self, which: Builtin, args: &[Value]) {
        self.call_throw_builtin_within(which, args, usize::MAX)
    }

    /// [`Self::call_throw_builtin`] through the scopes of frames at control
    /// depth `max_depth` or less.
    fn call_throw_builtin_within(&mut self, which: Builtin, args: &[Value], max_depth: usize) {
        let sig = self.throw_signature(which);
        let sig = self.b.import_signature(sig);
        let table = self.env.vmctx_load(&mut self.b, vmctx::BUILTINS);
        let fnptr = self
            .b
            .ins()
            .load(PTR, const_flags(), table, which.offset() as i32);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.env.vmctx);
        all.extend_from_slice(args);
        self.emit_call_within(Callee::Indirect(sig, fnptr), &all, max_depth);
    }

    /// `throw $tag`: the payload goes to a stack array the builtin copies
    /// into a new exception object.
    pub(super) fn translate_throw(&mut self, tag: u32) {
        let ty = self.env.info.tags[tag as usize];
        let n = self.env.info.type_as_func(ty).params().len();
        let mut vals = self.popn(n);
        self.canon_all(&mut vals);
        let slot = self.b.create_sized_stack_slot(ir::StackSlotData::new(
            ir::StackSlotKind::ExplicitSlot,
            (n.max(1) as u32) * weft_environ::VAL_RAW_SIZE,
            4,
        ));
        let addr = self.b.ins().stack_addr(PTR, slot, 0);
        for (i, v) in vals.iter().enumerate() {
            self.b.ins().store(
                MemFlags::trusted(),
                *v,
                addr,
                (i as u32 * weft_environ::VAL_RAW_SIZE) as i32,
            );
        }
        let tag_index = self.b.ins().iconst(I32, i64::from(tag));
        self.call_throw_builtin(Builtin::Throw, &[tag_index, addr]);
        self.b.ins().trap(crate::trap_code(Trap::HostError));
        self.set_unreachable();
    }

    /// `throw_ref`: the builtin returns only for a null reference.
    pub(super) fn translate_throw_ref(&mut self) {
        let exn = self.pop();
        self.call_throw_builtin(Builtin::ThrowRef, &[exn]);
        self.b.ins().trap(crate::trap_code(Trap::NullReference));
        self.set_unreachable();
    }

    /// Loads the payload of exception `exn` (of module tag `tag`).
    fn load_payload(&mut self, exn: Value, tag: u32) -> Vec<Value> {
        let ty = self.env.info.tags[tag as usize];
        let params = self.env.info.type_as_func(ty).params().to_vec();
        if params.is_empty() {
            return Vec::new();
        }
        let call = self
            .env
            .call_builtin(&mut self.b, Builtin::ExnPayload, &[exn]);
        let base = self.b.inst_results(call)[0];
        let mut vals = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            // The payload lies in the object heap, 8-aligned only.
            let v = self.b.ins().load(
                clif_type(*p),
                MemFlags::new().with_notrap(),
                base,
                (i as u32 * weft_environ::VAL_RAW_SIZE) as i32,
            );
            vals.push(v);
        }
        self.declare_refs(&vals, &params);
        vals
    }

    /// A new landing pad block taking the exception object (declared a
    /// root), made current. The caller fills it.
    fn new_landing_pad(&mut self) -> (ir::Block, Value) {
        let landing = self.b.create_block();
        let exn = self.b.append_block_param(landing, PTR);
        self.b.set_cold_block(landing);
        self.b.switch_to_block(landing);
        self.b.declare_value_needs_stack_map(exn);
        (landing, exn)
    }

    /// `try_table`: builds a landing pad per clause (branching to the
    /// clause's label, resolved outside the try_table), then opens the
    /// block and its handler scope.
    pub(super) fn translate_try_table(&mut self, ty: BlockType, catches: &[Catch]) {
        let body = self.b.create_block();
        self.b.ins().jump(body, &[]);
        let mut clauses = Vec::with_capacity(catches.len());
        for c in catches {
            let (tag, with_ref, label) = match *c {
                Catch::One { tag, label } => (Some(tag), false, label),
                Catch::OneRef { tag, label } => (Some(tag), true, label),
                Catch::All { label } => (None, false, label),
                Catch::AllRef { label } => (None, true, label),
            };
            let (landing, exn) = self.new_landing_pad();
            let mut args = match tag {
                Some(t) => self.load_payload(exn, t),
                None => Vec::new(),
            };
            if with_ref {
                args.push(exn);
            }
            self.canon_all(&mut args);
            let (target, _) = self.branch_target(label);
            self.b.ins().jump(target, &block_args(&args));
            clauses.push((tag.map(|t| self.env.offsets.tag(t)), landing));
        }
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        self.open_block(FrameKind::TryTable, ty);
        let control_depth = self.control.len();
        self.push_scope(clauses, control_depth);
    }

    /// Closes the handler scope of the frame being ended (if it opened
    /// one) and seals its landing pads: no call can reach them any more.
    pub(super) fn close_scope_of(&mut self, control_depth: usize) {
        while self
            .handlers
            .last()
            .is_some_and(|s| s.control_depth >= control_depth)
        {
            let scope = self.handlers.pop().unwrap();
            for (_, landing) in scope.clauses {
                self.b.seal_block(landing);
            }
        }
    }
}

/// A legacy `try` being translated (one per open `try` frame).
///
/// The body's calls land in one catch-all pad, `dispatch`, which gets the
/// exception; the `catch` clauses, seen later, become a chain of tag
/// tests starting there; an exception no clause takes is rethrown
/// (`ThrowRef`) to the enclosing handlers. `delegate l` makes the pad
/// rethrow to the handlers in effect inside label `l` instead:
///
/// ```text
///   dispatch(exn): tag = exn_tag(exn)
///   test0:  tag == identity($a) ? catch $a handler(payload) : test1
///   test1:  tag == identity($b) ? catch $b handler(payload) : test2
///   test2:  catch_all handler        | no catch_all: throw_ref exn
/// ```
pub(super) struct LegacyTry {
    /// Control depth of the `try` frame (`control.len()` with it pushed).
    control_depth: usize,
    dispatch: ir::Block,
    /// The caught exception (the pad's parameter); `rethrow` throws it.
    exn: Value,
    /// The block where the next clause's test goes, once the body ended.
    next_test: Option<ir::Block>,
    /// The exception's tag identity, computed at the first clause.
    tag: Option<Value>,
    /// Whether the body has ended (a clause began).
    in_handlers: bool,
}

impl LegacyTry {
    /// Control depth of the `try` frame.
    pub(super) fn control_depth(&self) -> usize {
        self.control_depth
    }
}

impl<'a, 'm> Translator<'a, 'm> {
    /// `try bt`: opens the block with a catch-all scope into its pad.
    pub(super) fn translate_legacy_try(&mut self, ty: BlockType) {
        let body = self.b.create_block();
        self.b.ins().jump(body, &[]);
        let dispatch = self.b.create_block();
        let exn = self.b.append_block_param(dispatch, PTR);
        self.b.set_cold_block(dispatch);
        self.b.declare_value_needs_stack_map(exn);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        self.open_block(FrameKind::LegacyTry, ty);
        let control_depth = self.control.len();
        self.push_scope(vec![(None, dispatch)], control_depth);
        self.tries.push(LegacyTry {
            control_depth,
            dispatch,
            exn,
            next_test: None,
            tag: None,
            in_handlers: false,
        });
    }

    /// Ends the current arm (body or handler) of the innermost `try`:
    /// branches to its continuation if reachable; at the end of the body,
    /// closes its scope and starts the clause chain at the pad.
    fn end_try_arm(&mut self) {
        let frame = self.control.last_mut().expect("validated: in a try");
        if self.reachable {
            frame.dest_reachable = true;
            let dest = frame.dest;
            let n = frame.results.len();
            let args = self.branch_args(n);
            self.b.ins().jump(dest, &block_args(&args));
        }
        let height = self.control.last().unwrap().height;
        self.stack.truncate(height);
        let t = self.tries.last_mut().expect("validated: in a try");
        if !t.in_handlers {
            t.in_handlers = true;
            t.next_test = Some(t.dispatch);
            let depth = t.control_depth;
            self.close_scope_of(depth);
        }
    }

    /// `catch $tag` (`Some`) or `catch_all` (`None`) of the innermost try.
    pub(super) fn translate_legacy_catch(&mut self, tag: Option<u32>) {
        self.end_try_arm();
        let t = self.tries.last_mut().unwrap();
        let Some(test) = t.next_test.take() else {
            // After a catch_all nothing can be reached (the validator
            // rejects clauses after it anyway).
            self.reachable = false;
            return;
        };
        let exn = t.exn;
        self.b.switch_to_block(test);
        if let Some(tag) = tag {
            let have = match self.tries.last().unwrap().tag {
                Some(v) => v,
                None => {
                    let call = self.env.call_builtin(&mut self.b, Builtin::ExnTag, &[exn]);
                    let v = self.b.inst_results(call)[0];
                    self.tries.last_mut().unwrap().tag = Some(v);
                    v
                }
            };
            let want = self.env.tag_identity(&mut self.b, tag);
            let hit = self.b.ins().icmp(IntCC::Equal, have, want);
            let handler = self.b.create_block();
            let next = self.b.create_block();
            self.b.ins().brif(hit, handler, &[], next, &[]);
            self.b.seal_block(handler);
            self.b.seal_block(next);
            self.tries.last_mut().unwrap().next_test = Some(next);
            self.b.switch_to_block(handler);
            let payload = self.load_payload(exn, tag);
            self.stack.extend(payload);
        }
        self.reachable = true;
    }

    /// The end of a `try` frame (called by `translate_end` before the
    /// frame is popped): an exception no clause took is rethrown outwards.
    pub(super) fn end_legacy_try(&mut self) {
        self.end_try_arm();
        let t = self.tries.pop().unwrap();
        if let Some(test) = t.next_test {
            self.b.switch_to_block(test);
            self.call_throw_builtin(Builtin::ThrowRef, &[t.exn]);
            self.b.ins().trap(crate::trap_code(Trap::NullReference));
        }
        self.reachable = false;
    }

    /// `delegate l`: ends the try; its pad rethrows to the handlers in
    /// effect inside label `l` (counted outside the try).
    pub(super) fn translate_delegate(&mut self, relative_depth: u32) {
        self.end_try_arm();
        let t = self.tries.pop().unwrap();
        let test = t.next_test.expect("delegate ends the body");
        self.b.switch_to_block(test);
        // The try is control[len - 1]; label l is control[len - 2 - l], and
        // the scopes in effect inside it were opened at depth <= len - 1 - l.
        let max_depth = self.control.len() - 1 - relative_depth as usize;
        self.call_throw_builtin_within(Builtin::ThrowRef, &[t.exn], max_depth);
        self.b.ins().trap(crate::trap_code(Trap::NullReference));
        self.reachable = false;
        self.translate_end();
    }

    /// `rethrow l`: throws again the exception caught by the try at label
    /// `l` (in one of its handlers).
    pub(super) fn translate_rethrow(&mut self, relative_depth: u32) {
        let depth = self.control.len() - relative_depth as usize;
        let exn = self
            .tries
            .iter()
            .rev()
            .find(|t| t.control_depth == depth)
            .expect("validated: rethrow names a catch")
            .exn;
        self.call_throw_builtin(Builtin::ThrowRef, &[exn]);
        self.b.ins().trap(crate::trap_code(Trap::NullReference));
        self.set_unreachable();
    }
}
