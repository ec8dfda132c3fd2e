//! How generated code reaches the runtime: signatures, the vmctx and the
//! records it points to (memories, tables, globals, function references,
//! builtins).
//!
//! All loads of "constant while the instance lives" data (the vmctx arrays,
//! memory bases, immutable globals) are marked `readonly` + `can_move` so
//! Cranelift can hoist and share them.

use cranelift_codegen::ir::{
    self, AbiParam, ArgumentPurpose, InstBuilder, MemFlagsData as MemFlags, Signature, Value, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::FunctionBuilder;
use weft_environ::wasmparser::{FuncType, ValType};
use weft_environ::{
    Builtin, BuiltinType, ModuleInfo, Trap, VMOffsets, func_ref, memory_def, table_def, vmctx,
};

/// Pointer type on all supported targets.
pub const PTR: ir::Type = types::I64;

/// The CLIF type of a wasm value type. References are pointers; vectors are
/// canonically `i8x16`.
pub fn clif_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        ValType::Ref(_) => PTR,
    }
}

/// The signature of a wasm function:
/// `tail fn(callee_vmctx, caller_vmctx, params...) -> results`.
pub fn wasm_signature(_isa: &dyn TargetIsa, ty: &FuncType) -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params
        .push(AbiParam::special(PTR, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(PTR));
    for p in ty.params() {
        sig.params.push(AbiParam::new(clif_type(*p)));
    }
    for r in ty.results() {
        sig.returns.push(AbiParam::new(clif_type(*r)));
    }
    sig
}

/// The native signature of a builtin, from its declaration in
/// `weft_environ::foreach_builtin!`.
pub fn builtin_signature(isa: &dyn TargetIsa, b: Builtin) -> Signature {
    let clif = |t: BuiltinType| match t {
        BuiltinType::VmCtx | BuiltinType::Pointer | BuiltinType::USize => PTR,
        BuiltinType::U32 => types::I32,
        BuiltinType::U64 => types::I64,
    };
    let declared = b.signature();
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params
        .extend(declared.params.iter().map(|t| AbiParam::new(clif(*t))));
    sig.returns
        .extend(declared.result.map(|t| AbiParam::new(clif(t))));
    sig
}

/// Flags for loads of data that never changes while the instance lives.
pub fn const_flags() -> MemFlags {
    MemFlags::trusted().with_readonly().with_can_move()
}

/// Disjoint alias regions, created in this order at the start of every
/// function (`declare_alias_regions`). Cranelift's alias analysis treats a
/// store without a region as a fence for every load; tagging linear-memory
/// accesses, global values and table slots lets loads of one survive
/// stores to another (e.g. a mutable `__stack_pointer` global need not be
/// reloaded after every store to linear memory). Nothing but wasm
/// `*.load`/`*.store` touches linear memory, nothing but `global.get/set`
/// touches global storage, and nothing but table operations touches table
/// records from generated code; calls (builtins, host functions) are fences.
#[derive(Clone, Copy)]
pub enum Region {
    /// Linear memories.
    Heap = 0,
    /// Global values' storage.
    Globals = 1,
    /// Table definitions (base, length) and element slots.
    Tables = 2,
    /// The store context's fuel counter (`crate::fuel`).
    Fuel = 3,
    /// Fields and headers of GC objects (structs, arrays).
    GcObjects = 4,
    /// The store context's GC bump pointer and limit.
    GcAlloc = 5,
}

impl Region {
    /// The Cranelift alias region (same index in every function).
    pub fn id(self) -> ir::AliasRegion {
        ir::AliasRegion::from_u32(self as u32)
    }

    /// `flags` tagged with this region.
    pub fn flags(self, flags: MemFlags) -> MemFlags {
        flags.with_alias_region(Some(self.id()))
    }
}

/// Creates the [`Region`]s in `func`; call before any instruction is built.
pub fn declare_alias_regions(func: &mut ir::Function) {
    for (i, name) in [
        "wasm heap",
        "wasm globals",
        "wasm tables",
        "fuel",
        "gc objects",
        "gc allocation",
    ]
    .into_iter()
    .enumerate()
    {
        let r = func.dfg.alias_regions.insert(ir::AliasRegionData {
            user_id: i as u32,
            description: name.into(),
        });
        debug_assert_eq!(r.as_u32(), i as u32);
    }
}

/// Per-function view of the module used during translation.
pub struct FuncEnv<'m> {
    pub isa: &'m dyn TargetIsa,
    pub info: &'m ModuleInfo,
    pub offsets: VMOffsets,
    /// The function's vmctx parameter.
    pub vmctx: Value,
    /// Signatures of wasm function types imported into the CLIF function,
    /// by module type index.
    sig_refs: std::collections::HashMap<u32, ir::SigRef>,
    builtin_sigs: std::collections::HashMap<u32, ir::SigRef>,
    direct_funcs: std::collections::HashMap<u32, ir::FuncRef>,
}

/// A linear memory's base and bound as seen by one access.
pub struct HeapInfo {
    pub base: Value,
    /// Current length in bytes; only loaded when the access needs an
    /// explicit bounds check.
    pub needs_check: bool,
    pub def: Value,
    pub memory64: bool,
}

impl<'m> FuncEnv<'m> {
    pub fn new(isa: &'m dyn TargetIsa, info: &'m ModuleInfo, vmctx: Value) -> Self {
        FuncEnv {
            isa,
            info,
            offsets: info.offsets(),
            vmctx,
            sig_refs: Default::default(),
            builtin_sigs: Default::default(),
            direct_funcs: Default::default(),
        }
    }

    /// The CLIF signature reference for wasm type index `ty`.
    pub fn sig_ref(&mut self, b: &mut FunctionBuilder<'_>, ty: u32) -> ir::SigRef {
        if let Some(s) = self.sig_refs.get(&ty) {
            return *s;
        }
        let sig = wasm_signature(self.isa, self.info.type_as_func(ty));
        let s = b.import_signature(sig);
        self.sig_refs.insert(ty, s);
        s
    }

    /// Loads a pointer-sized field of the vmctx that is constant.
    pub fn vmctx_load(&self, b: &mut FunctionBuilder<'_>, offset: u32) -> Value {
        b.ins().load(PTR, const_flags(), self.vmctx, offset as i32)
    }

    /// The store-wide identity of tag `index` (imported tags first), as a
    /// pointer-sized integer: equal for every instance that shares the tag.
    pub fn tag_identity(&self, b: &mut FunctionBuilder<'_>, index: u32) -> Value {
        self.vmctx_load(b, self.offsets.tag(index))
    }

    /// Calls builtin `which` with `args` (the vmctx is prepended).
    pub fn call_builtin(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        which: Builtin,
        args: &[Value],
    ) -> ir::Inst {
        let sig = match self.builtin_sigs.get(&(which as u32)) {
            Some(s) => *s,
            None => {
                let s = b.import_signature(builtin_signature(self.isa, which));
                self.builtin_sigs.insert(which as u32, s);
                s
            }
        };
        let table = self.vmctx_load(b, vmctx::BUILTINS);
        let fnptr = b
            .ins()
            .load(PTR, const_flags(), table, which.offset() as i32);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.vmctx);
        all.extend_from_slice(args);
        b.ins().call_indirect(sig, fnptr, &all)
    }

    /// Emits a trap if `cond` is non-zero.
    pub fn trapnz(&self, b: &mut FunctionBuilder<'_>, cond: Value, trap: Trap) {
        b.ins().trapnz(cond, crate::trap_code(trap));
    }

    /// Emits a trap if `cond` is zero.
    pub fn trapz(&self, b: &mut FunctionBuilder<'_>, cond: Value, trap: Trap) {
        b.ins().trapz(cond, crate::trap_code(trap));
    }

    // ---- memories -------------------------------------------------------

    /// Base pointer and bounds-check needs of memory `index`.
    pub fn heap(&mut self, b: &mut FunctionBuilder<'_>, index: u32) -> HeapInfo {
        let ty = &self.info.memories[index as usize];
        let def = self.vmctx_load(b, self.offsets.memory(index));
        // The base of a memory never moves (weft reserves its whole virtual
        // range up front), so the vmctx holds a copy of it: one load, not
        // two through the definition (which is only needed for the length).
        let base = self.vmctx_load(b, self.offsets.memory_base(index));
        HeapInfo {
            base,
            needs_check: heap_needs_explicit_checks(ty),
            def,
            memory64: ty.memory64,
        }
    }

    /// Computes the native address of a `size`-byte access at wasm address
    /// `index` + `offset`, trapping when it is out of bounds.
    /// Returns the address and the remaining immediate offset to fold into
    /// the load/store.
    pub fn heap_addr(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        memory: u32,
        index: Value,
        offset: u64,
        size: u32,
    ) -> (Value, i32) {
        let heap = self.heap(b, memory);
        let index64 = if heap.memory64 {
            index
        } else {
            b.ins().uextend(types::I64, index)
        };
        if heap.needs_check {
            let len = b.ins().load(
                PTR,
                MemFlags::trusted(),
                heap.def,
                memory_def::CURRENT_LENGTH as i32,
            );
            // end = index + offset + size, trapping on overflow.
            let extent = offset.checked_add(u64::from(size));
            let oob = match extent {
                Some(extent) => {
                    let k = b.ins().iconst(types::I64, extent as i64);
                    let end = b.ins().uadd_overflow_trap(
                        index64,
                        k,
                        crate::trap_code(Trap::MemoryOutOfBounds),
                    );
                    b.ins()
                        .icmp(ir::condcodes::IntCC::UnsignedGreaterThan, end, len)
                }
                None => b.ins().iconst(types::I8, 1),
            };
            self.trapnz(b, oob, Trap::MemoryOutOfBounds);
        }
        let mut addr = b.ins().iadd(heap.base, index64);
        let imm = if let Ok(off) = i32::try_from(offset) {
            off
        } else {
            addr = b.ins().iadd_imm_s(addr, offset as i64);
            0
        };
        (addr, imm)
    }

    // ---- globals --------------------------------------------------------

    /// Address of global `index`'s storage, and whether it is mutable: a
    /// defined global lives in its vmctx slot, an imported one wherever
    /// the slot's pointer (loaded once per function) says.
    pub fn global_addr(&self, b: &mut FunctionBuilder<'_>, index: u32) -> (Value, bool) {
        let slot = self.offsets.global(index);
        let addr = if index < self.info.num_imported_globals {
            self.vmctx_load(b, slot)
        } else {
            b.ins().iadd_imm_s(self.vmctx, i64::from(slot))
        };
        (addr, self.info.globals[index as usize].mutable)
    }

    // ---- tables ---------------------------------------------------------

    /// The table definition pointer of table `index`.
    pub fn table_def(&self, b: &mut FunctionBuilder<'_>, index: u32) -> Value {
        self.vmctx_load(b, self.offsets.table(index))
    }

    /// Loads the element slot address for `elem` of table `index`, trapping
    /// with `trap` when out of bounds. `elem` has the table's index type.
    pub fn table_elem_addr(
        &self,
        b: &mut FunctionBuilder<'_>,
        table: u32,
        elem: Value,
        trap: Trap,
    ) -> Value {
        let def = self.table_def(b, table);
        let table64 = self.info.tables[table as usize].ty.table64;
        let elem = if table64 {
            elem
        } else {
            b.ins().uextend(types::I64, elem)
        };
        let len = b.ins().load(
            PTR,
            Region::Tables.flags(MemFlags::trusted()),
            def,
            table_def::CURRENT_ELEMENTS as i32,
        );
        let oob = b
            .ins()
            .icmp(ir::condcodes::IntCC::UnsignedGreaterThanOrEqual, elem, len);
        self.trapnz(b, oob, trap);
        let base = b.ins().load(
            PTR,
            Region::Tables.flags(MemFlags::trusted()),
            def,
            table_def::BASE as i32,
        );
        let scaled = b.ins().ishl_imm_u(elem, 3);
        b.ins().iadd(base, scaled)
    }

    // ---- calls ----------------------------------------------------------

    /// The CLIF function reference for a direct call to defined function
    /// `func` of this module (resolved by a relocation).
    pub fn direct_func(&mut self, b: &mut FunctionBuilder<'_>, func: u32) -> ir::FuncRef {
        if let Some(f) = self.direct_funcs.get(&func) {
            return *f;
        }
        let ty = self.info.functions[func as usize];
        let signature = self.sig_ref(b, ty);
        let name = b
            .func
            .declare_imported_user_function(ir::UserExternalName::new(0, func));
        let f = b.import_function(ir::ExtFuncData {
            name: ir::ExternalName::user(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.direct_funcs.insert(func, f);
        f
    }

    /// Loads the code pointer and vmctx of a `VMFuncRef`.
    pub fn load_funcref(&self, b: &mut FunctionBuilder<'_>, funcref: Value) -> (Value, Value) {
        let flags = MemFlags::trusted().with_readonly();
        let code = b
            .ins()
            .load(PTR, flags, funcref, func_ref::WASM_CALL as i32);
        let callee_vmctx = b.ins().load(PTR, flags, funcref, func_ref::VMCTX as i32);
        (code, callee_vmctx)
    }

    /// The address of function `func`'s `VMFuncRef` in this vmctx (the
    /// value of `ref.func`).
    pub fn funcref_addr(&self, b: &mut FunctionBuilder<'_>, func: u32) -> Value {
        b.ins()
            .iadd_imm_s(self.vmctx, i64::from(self.offsets.funcref(func)))
    }

    /// Canonical type id of module type `ty` (loaded from the vmctx).
    pub fn type_id(&self, b: &mut FunctionBuilder<'_>, ty: u32) -> Value {
        let ids = self.vmctx_load(b, vmctx::TYPE_IDS);
        b.ins()
            .load(types::I32, const_flags(), ids, (ty * 4) as i32)
    }
}

/// Whether accesses to a memory of this type need explicit bounds checks.
/// 32-bit memories with pages of at least the OS page size are protected by
/// their 8 GiB virtual reservation (4 GiB + 4 GiB guard) instead.
pub fn heap_needs_explicit_checks(ty: &weft_environ::wasmparser::MemoryType) -> bool {
    ty.memory64 || ty.page_size_log2() < 12
}
