//! Instances and their `VMContext`s; instantiation.
//!
//! ```text
//! InstanceData (boxed: stable address, stored in the vmctx header)
//!   vmctx ----> +0  magic "weft"
//!               +8  store_ctx ---------> StoreOpaque.vm_store_ctx
//!               +16 builtins ----------> BUILTINS table (static)
//!               +24 type_ids ----------> CompiledModule.type_ids
//!               +32 instance ----------> this InstanceData
//!               +48 [16 B; num_globals]   imported: *VMGlobal (elsewhere);
//!                                         defined: the VMGlobal itself
//!               ... VMFuncRef[num_funcs]  (imports copied from exporters)
//!               ... *VMTableDefinition[num_tables]   (owned by the store)
//!               ... *VMMemoryDefinition[num_memories] (owned by the store)
//!               ... *u8[num_memories]      memory bases
//!               ... usize[num_tags]        store-wide tag identities
//! ```

use super::store::StoreOpaque;
use super::vmcontext::{VMFuncRef, VMGlobal, VMMemoryDefinition, VMTableDefinition};
use crate::types::{ExternType, GlobalType, Mutability};
use crate::{Extern, Func, Global, Instance, Memory, Module, Result, Table};
use anyhow::{anyhow, bail};
use weft_environ::{ConstExpr, ConstOp, ElemItems, SegmentMode, VMCONTEXT_MAGIC, VMOffsets, vmctx};

pub(crate) struct InstanceData {
    pub(crate) module: Module,
    vmctx: Vec<u128>,
    offsets: VMOffsets,
    /// Handles of functions that have one (all imports do).
    pub(crate) funcs: Vec<Option<Func>>,
    pub(crate) globals: Vec<Global>,
    pub(crate) tables: Vec<Table>,
    pub(crate) memories: Vec<Memory>,
    pub(crate) tags: Vec<crate::Tag>,
    /// Contents of element segments; `None` once dropped.
    pub(crate) elems: Vec<Option<Box<[usize]>>>,
    /// Whether each data segment was dropped.
    pub(crate) data_dropped: Vec<bool>,
    pub(crate) store: *mut StoreOpaque,
    pub(crate) index: u32,
}

impl InstanceData {
    pub(crate) fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }

    /// Address of function `index`'s `VMFuncRef` in this vmctx.
    pub(crate) fn funcref_ptr(&self, index: u32) -> *const VMFuncRef {
        self.vmctx_ptr()
            .wrapping_add(self.offsets.funcref(index) as usize) as *const VMFuncRef
    }

    /// If `raw` points at one of this vmctx's funcrefs, its function index.
    pub(crate) fn func_index_of_ref(&self, raw: usize) -> Option<u32> {
        let begin = self.vmctx_ptr() as usize + self.offsets.funcrefs_begin() as usize;
        let size = weft_environ::func_ref::SIZE as usize;
        let end = begin + self.offsets.num_funcs as usize * size;
        if raw < begin || raw >= end || !(raw - begin).is_multiple_of(size) {
            return None;
        }
        Some(((raw - begin) / size) as u32)
    }

    fn write<T>(&mut self, offset: u32, value: T) {
        assert!(offset as usize + size_of::<T>() <= self.vmctx.len() * 16);
        // SAFETY: in bounds (checked above) of the 16-aligned vmctx
        // allocation; every field written is aligned for its type (global
        // slots at multiples of 16, everything else pointer- or
        // u32-aligned).
        unsafe { (self.vmctx_ptr().add(offset as usize) as *mut T).write(value) }
    }

    /// The instance behind a vmctx pointer.
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of a live instance.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a mut InstanceData {
        // SAFETY: the caller guarantees a live vmctx, whose header holds the
        // address of its boxed InstanceData.
        unsafe { &mut *(*(vmctx.add(vmctx::INSTANCE as usize) as *const *mut InstanceData)) }
    }
}

fn import_mismatch(module: &str, name: &str, why: String) -> anyhow::Error {
    anyhow!("incompatible import type for `{module}`.`{name}`: {why}")
}

fn check_import(
    store: &StoreOpaque,
    module: &Module,
    item: &Extern,
    expected: &ExternType,
    index: weft_environ::EntityIndex,
    exact: bool,
) -> Result<(), String> {
    match (item, expected) {
        (Extern::Func(f), ExternType::Func(_)) => {
            let weft_environ::EntityIndex::Function(fi) = index else {
                unreachable!()
            };
            let want = module.inner.type_ids[module.info().functions[fi as usize] as usize];
            let have = store.func_data(*f).type_id;
            // An exact import admits the declared type only.
            let ok = if exact {
                have == want
            } else {
                store.engine.inner.types.is_subtype(have, want)
            };
            if !ok {
                return Err(format!(
                    "expected {}{}, found {}",
                    if exact { "exactly " } else { "" },
                    store.engine.inner.types.func_type(want).unwrap(),
                    store.engine.inner.types.func_type(have).unwrap()
                ));
            }
        }
        (Extern::Global(g), ExternType::Global(want)) => {
            let have = store.global_ty(*g);
            let ok = have.mutability == want.mutability
                && (have.content == want.content
                    || (want.mutability == Mutability::Const
                        && val_subtype(store, &have.content, &want.content)));
            if !ok {
                return Err(format!("expected global {want:?}, found {have:?}"));
            }
        }
        (Extern::Table(t), ExternType::Table(want)) => {
            let have = store.table_ty(*t);
            let max_ok = match (want.max, have.max) {
                (None, _) => true,
                (Some(w), Some(h)) => h <= w,
                (Some(_), None) => false,
            };
            if have.element != want.element || have.table64 != want.table64 {
                return Err(format!(
                    "expected table of {}, found {}",
                    want.element, have.element
                ));
            }
            if have.min < want.min || !max_ok {
                return Err("table limits do not match".to_string());
            }
        }
        (Extern::Memory(m), ExternType::Memory(want)) => {
            let have = store.memory_ty(*m);
            let max_ok = match (want.max, have.max) {
                (None, _) => true,
                (Some(w), Some(h)) => h <= w,
                (Some(_), None) => false,
            };
            if have.memory64 != want.memory64 || have.page_size_log2 != want.page_size_log2 {
                return Err("memory index type or page size does not match".to_string());
            }
            if have.min < want.min || !max_ok {
                return Err("memory limits do not match".to_string());
            }
        }
        (Extern::Tag(t), ExternType::Tag(_)) => {
            let weft_environ::EntityIndex::Tag(ti) = index else {
                unreachable!()
            };
            let want = module.inner.type_ids[module.info().tags[ti as usize] as usize];
            if store.tag_type_id(*t) != want {
                return Err("tag types do not match".to_string());
            }
        }
        (item, want) => {
            return Err(format!(
                "expected a {}, found a {}",
                want.kind(),
                extern_kind(item)
            ));
        }
    }
    Ok(())
}

fn extern_kind(e: &Extern) -> &'static str {
    match e {
        Extern::Func(_) => "function",
        Extern::Global(_) => "global",
        Extern::Table(_) => "table",
        Extern::Memory(_) => "memory",
        Extern::Tag(_) => "tag",
    }
}

fn val_subtype(store: &StoreOpaque, have: &crate::ValType, want: &crate::ValType) -> bool {
    use crate::ValType as V;
    match (have, want) {
        (V::Ref(h), V::Ref(w)) => {
            (!h.nullable || w.nullable) && store.engine.inner.types.heap_subtype(&h.heap, &w.heap)
        }
        _ => have == want,
    }
}

/// Instantiates `module` in `store` with `imports` in import order.
pub(crate) fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance> {
    if !crate::Engine::same(&store.engine, module.engine()) {
        bail!("module was compiled with a different engine than the store's");
    }
    let info = module.info();
    if imports.len() != info.imports.len() {
        bail!(
            "wrong number of imports: module expects {}, {} were provided",
            info.imports.len(),
            imports.len()
        );
    }
    for (import, item) in info.imports.iter().zip(imports) {
        let expected = module.entity_type(import.index);
        check_import(store, module, item, &expected, import.index, import.exact)
            .map_err(|why| import_mismatch(&import.module, &import.name, why))?;
    }

    store.bump_resource_counts(
        info.tables.len() - info.num_imported_tables as usize,
        info.memories.len() - info.num_imported_memories as usize,
    )?;
    let offsets = info.offsets();
    let index = store.instances.len() as u32;
    let mut inst = Box::new(InstanceData {
        module: module.clone(),
        vmctx: vec![0u128; (offsets.size() as usize).div_ceil(16)],
        offsets: offsets.clone(),
        funcs: vec![None; info.functions.len()],
        globals: Vec::new(),
        tables: Vec::new(),
        memories: Vec::new(),
        tags: Vec::new(),
        elems: Vec::new(),
        data_dropped: vec![false; info.data.len()],
        store: store as *mut StoreOpaque,
        index,
    });
    let inst_ptr: *mut InstanceData = &mut *inst;
    inst.write(vmctx::MAGIC, VMCONTEXT_MAGIC);
    inst.write(vmctx::STORE_CTX, &*store.vm_store_ctx as *const _ as usize);
    inst.write(vmctx::BUILTINS, super::builtins::table_address());
    inst.write(vmctx::TYPE_IDS, module.inner.type_ids.as_ptr() as usize);
    inst.write(vmctx::INSTANCE, inst_ptr as usize);
    let vmctx_ptr = inst.vmctx_ptr();

    // Imports.
    let (mut fi, mut gi, mut ti, mut mi) = (0u32, 0u32, 0u32, 0u32);
    for item in imports {
        match item {
            Extern::Func(f) => {
                // SAFETY: the funcref of a live function of this store.
                let r = unsafe { *store.func_data(*f).funcref };
                inst.write(offsets.funcref(fi), r);
                inst.funcs[fi as usize] = Some(*f);
                fi += 1;
            }
            Extern::Global(g) => {
                let p = store.globals[g.index as usize].storage_ptr();
                inst.write(offsets.global(gi), p as usize);
                inst.globals.push(*g);
                gi += 1;
            }
            Extern::Table(t) => {
                let p = &*store.tables[t.index as usize].def as *const VMTableDefinition;
                inst.write(offsets.table(ti), p as usize);
                inst.tables.push(*t);
                ti += 1;
            }
            Extern::Memory(m) => {
                let def = &*store.memories[m.index as usize].def;
                inst.write(
                    offsets.memory(mi),
                    def as *const VMMemoryDefinition as usize,
                );
                inst.write(offsets.memory_base(mi), def.base as usize);
                inst.memories.push(*m);
                mi += 1;
            }
            Extern::Tag(t) => inst.tags.push(*t),
        }
    }
    for ty in &info.tags[info.num_imported_tags as usize..] {
        let id = module.inner.type_ids[*ty as usize];
        let t = store.push_tag(id);
        inst.tags.push(t);
    }
    for k in 0..inst.tags.len() {
        let identity = inst.tags[k].index as usize;
        inst.write(offsets.tag(k as u32), identity);
    }

    // Defined functions.
    for (k, ptr) in module.inner.func_ptrs.iter().enumerate() {
        let f = info.num_imported_funcs + k as u32;
        let type_id = module.inner.type_ids[info.functions[f as usize] as usize];
        inst.write(
            offsets.funcref(f),
            VMFuncRef {
                wasm_call: *ptr as *const u8,
                vmctx: vmctx_ptr,
                native_call: std::ptr::null(),
                type_id,
            },
        );
    }

    // Memories.
    for ty in &info.memories[info.num_imported_memories as usize..] {
        let api = match module.entity_type(weft_environ::EntityIndex::Memory(mi)) {
            ExternType::Memory(m) => m,
            _ => unreachable!(),
        };
        let _ = ty;
        let m = store.new_memory(api)?;
        let def = &*store.memories[m.index as usize].def;
        inst.write(
            offsets.memory(mi),
            def as *const VMMemoryDefinition as usize,
        );
        inst.write(offsets.memory_base(mi), def.base as usize);
        inst.memories.push(m);
        mi += 1;
    }

    store.instances.push(inst);
    store.modules.push(module.clone());
    super::gc::ops::register_layouts(store, module);
    let handle = Instance {
        store: store.id,
        index,
    };

    // Globals (their initialisers may read earlier globals and funcrefs).
    for (k, init) in info.global_inits.iter().enumerate() {
        let g = info.num_imported_globals + k as u32;
        let ty = match module.entity_type(weft_environ::EntityIndex::Global(g)) {
            ExternType::Global(t) => t,
            _ => unreachable!(),
        };
        let bits = eval_const(store, index, init)?;
        let inst = &mut store.instances[index as usize];
        inst.write(offsets.global(g), VMGlobal { bits });
        let slot = inst.vmctx_ptr().wrapping_add(offsets.global(g) as usize);
        let slot = std::ptr::NonNull::new(slot.cast::<VMGlobal>()).expect("a vmctx address");
        // SAFETY: a 16-byte-aligned global slot of this store's instance
        // (the vmctx is a boxed `[u128]` and the slot offset a multiple of
        // 16), just written with the initial value.
        let global = unsafe { store.push_instance_global(GlobalType { ..ty }, slot) };
        store.instances[index as usize].globals.push(global);
    }

    // Tables.
    for (k, decl) in info.tables[info.num_imported_tables as usize..]
        .iter()
        .enumerate()
    {
        let t = info.num_imported_tables + k as u32;
        let ty = match module.entity_type(weft_environ::EntityIndex::Table(t)) {
            ExternType::Table(t) => t,
            _ => unreachable!(),
        };
        let init = match &decl.init {
            Some(e) => eval_const(store, index, e)? as usize,
            None => 0,
        };
        store.check_new_table(&ty)?;
        let table = super::table::TableData::new(ty, init)?;
        let h = store.push_table(table);
        let p = &*store.tables[h.index as usize].def as *const VMTableDefinition;
        let inst = &mut store.instances[index as usize];
        inst.write(offsets.table(t), p as usize);
        inst.tables.push(h);
    }

    // Element segments: evaluate all, apply active ones in order.
    let mut elems = Vec::with_capacity(info.elems.len());
    for seg in &info.elems {
        let items: Box<[usize]> = match &seg.items {
            ElemItems::Functions(fs) => fs
                .iter()
                .map(|f| store.instances[index as usize].funcref_ptr(*f) as usize)
                .collect(),
            ElemItems::Exprs(es) => es
                .iter()
                .map(|e| eval_const(store, index, e).map(|b| b as usize))
                .collect::<Result<_>>()?,
        };
        elems.push(Some(items));
    }
    store.instances[index as usize].elems = elems;
    for (si, seg) in info.elems.iter().enumerate() {
        match &seg.mode {
            SegmentMode::Active {
                index: table,
                offset,
            } => {
                let offset = eval_const(store, index, offset)? as u64;
                let items = store.instances[index as usize].elems[si].take().unwrap();
                let t = store.instances[index as usize].tables[*table as usize];
                let tbl = &mut store.tables[t.index as usize];
                let end = offset.checked_add(items.len() as u64);
                if end.is_none_or(|e| e > tbl.len()) {
                    return Err(crate::Trap::TableOutOfBounds.into());
                }
                tbl.elems_mut()[offset as usize..][..items.len()].copy_from_slice(&items);
            }
            SegmentMode::Declared => {
                store.instances[index as usize].elems[si] = None;
            }
            SegmentMode::Passive => {}
        }
    }

    // Data segments: from copy-on-write images when the module has them
    // (then no segment can trap: see `vm::memory_image`), else copied.
    if let Some(images) = module.inner.memory_images() {
        let num_imported = info.num_imported_memories as usize;
        for (i, image) in images.iter().enumerate() {
            if let Some(image) = image {
                let m = store.instances[index as usize].memories[num_imported + i];
                store.memories[m.index as usize].map_image(image)?;
            }
        }
        for (di, seg) in info.data.iter().enumerate() {
            if matches!(seg.mode, SegmentMode::Active { .. }) {
                store.instances[index as usize].data_dropped[di] = true;
            }
        }
    } else {
        for (di, seg) in info.data.iter().enumerate() {
            if let SegmentMode::Active { index: mem, offset } = &seg.mode {
                let offset = eval_const(store, index, offset)? as u64;
                let m = store.instances[index as usize].memories[*mem as usize];
                let memory = &mut store.memories[m.index as usize];
                let data = memory.data_mut();
                let bytes = &info.data_bytes[seg.range.clone()];
                let end = offset.checked_add(bytes.len() as u64);
                if end.is_none_or(|e| e > data.len() as u64) {
                    return Err(crate::Trap::MemoryOutOfBounds.into());
                }
                data[offset as usize..][..bytes.len()].copy_from_slice(bytes);
                store.instances[index as usize].data_dropped[di] = true;
            }
        }
    }

    // Start function.
    if let Some(start) = info.start {
        let f = store.instance_func(index, start);
        super::func::call_func(store, f, &[], &mut [])?;
    }
    Ok(handle)
}

/// Evaluates a constant expression in the context of instance `inst`.
fn eval_const(store: &mut StoreOpaque, inst: u32, expr: &ConstExpr) -> Result<u128> {
    let mut stack: Vec<u128> = Vec::with_capacity(2);
    for op in &expr.ops {
        let v = match *op {
            ConstOp::I32Const(v) => v as u32 as u128,
            ConstOp::I64Const(v) => v as u64 as u128,
            ConstOp::F32Const(v) => v as u128,
            ConstOp::F64Const(v) => v as u128,
            ConstOp::V128Const(v) => v,
            ConstOp::GlobalGet(g) => {
                let h = store.instances[inst as usize].globals[g as usize];
                store.globals[h.index as usize].bits()
            }
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => store.instances[inst as usize].funcref_ptr(f) as usize as u128,
            ConstOp::RefI31 => {
                let x = stack.pop().unwrap() as u32;
                u128::from((x << 1) | 1)
            }
            ConstOp::StructNew(ty)
            | ConstOp::StructNewDefault(ty)
            | ConstOp::StructNewDesc(ty)
            | ConstOp::StructNewDefaultDesc(ty) => {
                let module = store.instances[inst as usize].module.clone();
                // The descriptor is the last operand (`struct.new_desc`).
                let desc = match *op {
                    ConstOp::StructNewDesc(_) | ConstOp::StructNewDefaultDesc(_) => {
                        Some(stack.pop().unwrap() as u64)
                    }
                    _ => None,
                };
                let vals = match *op {
                    ConstOp::StructNew(_) | ConstOp::StructNewDesc(_) => {
                        let n = module.info().struct_fields(ty).len();
                        Some(stack.split_off(stack.len() - n))
                    }
                    _ => None,
                };
                super::gc::ops::new_struct_no_gc(store, &module, ty, vals.as_deref(), desc)? as u128
            }
            ConstOp::ArrayNew(ty) | ConstOp::ArrayNewDefault(ty) => {
                let module = store.instances[inst as usize].module.clone();
                let len = stack.pop().unwrap() as u32;
                let fill = if let ConstOp::ArrayNew(_) = *op {
                    stack.pop().unwrap()
                } else {
                    0
                };
                super::gc::ops::new_array_no_gc(store, &module, ty, len, fill, None)? as u128
            }
            ConstOp::ArrayNewFixed(ty, n) => {
                let module = store.instances[inst as usize].module.clone();
                let vals = stack.split_off(stack.len() - n as usize);
                super::gc::ops::new_array_no_gc(store, &module, ty, n, 0, Some(&vals))? as u128
            }
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().unwrap() as u32;
                let a = stack.pop().unwrap() as u32;
                (match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().unwrap() as u64;
                let a = stack.pop().unwrap() as u64;
                (match *op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
        };
        stack.push(v);
    }
    stack
        .pop()
        .ok_or_else(|| anyhow!("empty constant expression"))
}
