//! The untyped part of a store: every runtime object, addressed by index.
//!
//! ```text
//! Store<T> --Box--> StoreInner<T> { opaque: StoreOpaque, data: T }
//!                                   |
//!   vm_store_ctx: Box<VMStoreContext>  <- current_stack: read by every
//!                                         prologue (its stack limit)
//!   native_stack: Box<VMStackRecord>   <- record of the embedder's stack
//!   instances: Vec<Box<InstanceData>>  <- each owns its VMContext
//!   funcs / memories / tables / globals: Vec<...>, handles are indices
//! ```

use super::instance::InstanceData;
use super::memory::LinearMemory;
use super::stack::VMStackRecord;
use super::table::TableData;
use super::vmcontext::{VMFuncRef, VMGlobal, VMHostFuncContext, VMStoreContext};
use crate::store::StoreId;
use crate::types::{FuncType, GlobalType, MemoryType, Mutability, TableType, ValType};
use crate::{Engine, Extern, Func, Global, Instance, Memory, Module, Result, Table, Val};
use anyhow::{anyhow, bail};
use std::any::Any;
use std::collections::HashMap;

/// What a function handle refers to.
pub(crate) enum FuncKind {
    /// Function `index` of instance `instance`.
    Wasm { instance: u32 },
    /// A host closure.
    Host(Box<HostFunc>),
}

/// A host function: its vmctx-shaped context plus the closure.
pub(crate) struct HostFunc {
    pub(crate) ctx: Box<VMHostFuncContext>,
    pub(crate) call: Box<super::func::HostCallFn>,
    /// The store the function belongs to.
    pub(crate) store: *mut StoreOpaque,
    /// Keeps the wasm-to-host trampoline alive.
    pub(crate) _code: std::sync::Arc<super::module::RegisteredCode>,
}

pub(crate) struct FuncData {
    pub(crate) kind: FuncKind,
    /// The function's `VMFuncRef` (stable address).
    pub(crate) funcref: *const VMFuncRef,
    pub(crate) type_id: u32,
}

pub(crate) struct GlobalData {
    pub(crate) ty: GlobalType,
    /// Where the value lives: `owned` for a global the host created, the
    /// defining instance's vmctx slot for a global a module defined (the
    /// vmctx never moves and lives as long as the store).
    storage: std::ptr::NonNull<VMGlobal>,
    _owned: Option<Box<VMGlobal>>,
}

impl GlobalData {
    /// The global's storage (what importing instances point at).
    pub(crate) fn storage_ptr(&self) -> *mut VMGlobal {
        self.storage.as_ptr()
    }

    /// The global's raw value.
    pub(crate) fn bits(&self) -> u128 {
        // SAFETY: `storage` is valid for the store's lifetime (see the
        // field), and no reference to it is live while the host runs.
        unsafe { (*self.storage.as_ptr()).bits }
    }

    /// Sets the global's raw value.
    pub(crate) fn set_bits(&mut self, bits: u128) {
        // SAFETY: as in `bits`.
        unsafe { (*self.storage.as_ptr()).bits = bits }
    }
}

/// An error or panic raised by a host function, waiting for the trap it
/// caused to reach the entry point.
pub(crate) enum Pending {
    Error(anyhow::Error),
    Panic(Box<dyn Any + Send>),
}

/// The store's contents apart from the user data.
pub(crate) struct StoreOpaque {
    pub(crate) engine: Engine,
    pub(crate) id: StoreId,
    pub(crate) vm_store_ctx: Box<VMStoreContext>,
    /// Boxed: the vmctx header points at its `InstanceData`, so it must
    /// not move when the vector grows.
    #[allow(clippy::vec_box)]
    pub(crate) instances: Vec<Box<InstanceData>>,
    pub(crate) funcs: Vec<FuncData>,
    pub(crate) memories: Vec<LinearMemory>,
    pub(crate) tables: Vec<TableData>,
    pub(crate) globals: Vec<GlobalData>,
    pub(crate) extern_refs: super::gc::HostValues,
    /// Canonical type id of each tag.
    pub(crate) tags: Vec<u32>,
    /// `VMFuncRef` address -> handle, for turning raw funcrefs into `Func`s.
    pub(crate) func_by_ref: HashMap<usize, Func>,
    /// Modules instantiated in this store, kept alive with their code.
    pub(crate) modules: Vec<Module>,
    pub(crate) pending: Option<Pending>,
    /// Exception objects (`exnref`s) of this store.
    pub(crate) gc_heap: super::gc::GcHeap,
    /// The heap of GC objects (structs, arrays).
    pub(crate) objects: super::gc::Semispace,
    /// References to GC objects the embedder holds.
    pub(crate) gc_roots: super::gc::HostRoots,
    /// The collector's root-slot buffer, kept between collections.
    pub(crate) gc_scratch: Vec<*mut u64>,
    /// Payload length and `exnref` slots per tag identity, cached.
    pub(crate) tag_layouts: Vec<Option<(usize, super::gc::heap::RefSlots)>>,
    /// The code the last exception handler search ended in (searches
    /// look there first; `vm::exceptions`).
    pub(crate) throw_code_cache: Option<super::exceptions::CodeCache>,
    /// The record of the native stack the embedder calls in on (whichever
    /// thread that is: its bounds are refreshed at each outermost entry).
    /// Fibers bring their own records.
    pub(crate) native_stack: Box<VMStackRecord>,
    /// The `StoreInner<T>` this belongs to (for the resource limiter).
    pub(crate) self_ptr: *mut u8,
    /// What happens when wasm reaches the epoch deadline.
    pub(crate) epoch_behavior: EpochBehavior,
    /// Reaches the embedder's resource limiter (`Store::limiter`), if any.
    pub(crate) with_limiter: Option<super::limits::WithLimiterFn>,
    /// Instances, tables and memories created by instantiation, and their
    /// limits.
    pub(crate) counts: super::limits::ResourceCounts,
    /// Continuation stacks, created with the first continuation.
    pub(crate) continuations: Option<Box<super::continuation::ContPool>>,
    /// The fiber of the store's last finished async call, idle, reused by
    /// its next one (no fiber set-up, and no trip through the engine's
    /// stack pool, whose lock and reference counts cost more than a short
    /// call).
    pub(crate) async_worker: Option<super::async_fiber::Worker>,
}

/// What reaching the epoch deadline does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpochBehavior {
    /// Trap with `Trap::Interrupt`.
    Trap,
    /// On a fiber (async call): move the deadline this many ticks past the
    /// current epoch and yield to the executor once. Traps when not on a
    /// fiber.
    YieldAndUpdate(u64),
}

// SAFETY: raw pointers in the store point into data the store owns; a store
// is only used by one thread at a time (it is `Send`, not `Sync`), like the
// user data it holds.
unsafe impl Send for StoreOpaque {}

impl StoreOpaque {
    pub(crate) fn new(engine: Engine, id: StoreId) -> StoreOpaque {
        let gc_capacity = engine.inner.config.gc_heap_max_size;
        StoreOpaque {
            engine,
            id,
            vm_store_ctx: Box::default(),
            instances: Vec::new(),
            funcs: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            extern_refs: Default::default(),
            tags: Vec::new(),
            func_by_ref: HashMap::new(),
            modules: Vec::new(),
            pending: None,
            gc_heap: Default::default(),
            objects: super::gc::Semispace::new(gc_capacity),
            gc_roots: Default::default(),
            gc_scratch: Vec::new(),
            tag_layouts: Vec::new(),
            throw_code_cache: None,
            native_stack: Box::new(VMStackRecord::new(0, 0, 0)),
            self_ptr: std::ptr::null_mut(),
            epoch_behavior: EpochBehavior::Trap,
            with_limiter: None,
            counts: Default::default(),
            continuations: None,
            async_worker: None,
        }
        .with_epoch_pointer()
        .with_native_stack()
    }

    fn with_native_stack(self) -> Self {
        let record: *const VMStackRecord = &*self.native_stack;
        self.vm_store_ctx.current_stack.set(record.cast_mut());
        self
    }

    fn with_epoch_pointer(self) -> Self {
        let ptr = &*self.engine.inner.epoch as *const std::sync::atomic::AtomicU64 as *const u64;
        // SAFETY: the store context is exclusively ours; the engine (and so
        // its boxed epoch counter) outlives the store, which holds a clone.
        unsafe { *self.vm_store_ctx.epoch_ptr.get() = ptr };
        self
    }

    pub(crate) fn set_epoch_deadline(&mut self, ticks: u64) {
        let deadline = self.engine.current_epoch().saturating_add(ticks);
        // SAFETY: the store context is exclusively ours.
        unsafe { *self.vm_store_ctx.epoch_deadline.get() = deadline };
    }

    pub(crate) fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        if !self.engine.config().consume_fuel {
            bail!("fuel is not configured in this store (Config::consume_fuel)");
        }
        let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        // SAFETY: the store context is exclusively ours.
        unsafe { *self.vm_store_ctx.fuel_consumed.get() = -fuel };
        Ok(())
    }

    pub(crate) fn get_fuel(&self) -> Result<u64> {
        if !self.engine.config().consume_fuel {
            bail!("fuel is not configured in this store (Config::consume_fuel)");
        }
        // SAFETY: the store context is ours; wasm is not running while the
        // embedder holds the store.
        let used = unsafe { *self.vm_store_ctx.fuel_consumed.get() };
        Ok(used.min(0).unsigned_abs())
    }

    pub(crate) fn set_self_ptr(&mut self, p: *mut u8) {
        self.self_ptr = p;
    }

    #[inline]
    pub(crate) fn check(&self, store: StoreId, what: &str) {
        assert!(
            store == self.id,
            "{what} used with a store it does not belong to"
        );
    }

    // ---- functions --------------------------------------------------------

    pub(crate) fn func_data(&self, f: Func) -> &FuncData {
        self.check(f.store, "function");
        &self.funcs[f.index as usize]
    }

    pub(crate) fn func_ty(&self, f: Func) -> FuncType {
        let id = self.func_data(f).type_id;
        self.engine
            .inner
            .types
            .func_type(id)
            .expect("registered function type")
    }

    pub(crate) fn push_func(&mut self, data: FuncData) -> Func {
        let f = Func {
            store: self.id,
            index: self.funcs.len() as u32,
        };
        self.func_by_ref.insert(data.funcref as usize, f);
        self.funcs.push(data);
        f
    }

    /// The `Func` behind a raw funcref value (0 = null).
    pub(crate) fn func_from_raw(&mut self, raw: usize) -> Option<Func> {
        if raw == 0 {
            return None;
        }
        if let Some(f) = self.func_by_ref.get(&raw) {
            return Some(*f);
        }
        // A funcref inside some instance's vmctx that has no handle yet.
        for i in 0..self.instances.len() {
            if let Some(index) = self.instances[i].func_index_of_ref(raw) {
                let f = self.instance_func(i as u32, index);
                self.func_by_ref.insert(raw, f);
                return Some(f);
            }
        }
        panic!("funcref {raw:#x} does not belong to this store")
    }

    /// The handle of function `index` of instance `instance`.
    pub(crate) fn instance_func(&mut self, instance: u32, index: u32) -> Func {
        if let Some(f) = self.instances[instance as usize].funcs[index as usize] {
            return f;
        }
        let inst = &self.instances[instance as usize];
        let funcref = inst.funcref_ptr(index);
        // SAFETY: `funcref` points into the instance's live vmctx.
        let type_id = unsafe { (*funcref).type_id };
        let f = self.push_func(FuncData {
            kind: FuncKind::Wasm { instance },
            funcref,
            type_id,
        });
        self.instances[instance as usize].funcs[index as usize] = Some(f);
        f
    }

    // ---- value conversion -------------------------------------------------

    /// Converts an API value to raw bits for `ty`, checking it fits.
    pub(crate) fn val_to_raw(&self, v: &Val, ty: &ValType) -> Result<u128> {
        Ok(match (v, ty) {
            (Val::I32(x), ValType::I32) => *x as u32 as u128,
            (Val::I64(x), ValType::I64) => *x as u64 as u128,
            (Val::F32(x), ValType::F32) => *x as u128,
            (Val::F64(x), ValType::F64) => *x as u128,
            (Val::V128(x), ValType::V128) => *x,
            (Val::FuncRef(f), ValType::Ref(r)) if r.heap.is_func() => match f {
                None if r.nullable => 0,
                None => bail!("null reference passed where {ty} is expected"),
                Some(f) => {
                    let data = self.func_data(*f);
                    if let crate::HeapType::ConcreteFunc(id) | crate::HeapType::ExactFunc(id) =
                        r.heap
                        && id != data.type_id
                    {
                        bail!("function reference of the wrong type passed where {ty} is expected");
                    }
                    data.funcref as usize as u128
                }
            },
            (Val::ExternRef(e), ValType::Ref(r)) if r.heap.is_extern() => match e {
                None if r.nullable => 0,
                None => bail!("null reference passed where {ty} is expected"),
                Some(e) => {
                    self.check(e.store, "extern reference");
                    e.to_raw(self) as u128
                }
            },
            (Val::ContRef(c), ValType::Ref(r)) if r.heap.is_cont() => match c {
                None if r.nullable => 0,
                None => bail!("null reference passed where {ty} is expected"),
                Some(c) => {
                    self.check(c.store, "continuation reference");
                    u128::from(c.raw)
                }
            },
            (Val::ExnRef(e), ValType::Ref(r))
                if matches!(r.heap, crate::HeapType::Exn | crate::HeapType::NoExn) =>
            {
                match e {
                    None if r.nullable => 0,
                    None => bail!("null reference passed where {ty} is expected"),
                    Some(e) => {
                        self.check(e.store, "exception reference");
                        let raw = self.gc_roots.get(e.handle);
                        if raw == 0 {
                            bail!("exception reference used after it was unrooted");
                        }
                        u128::from(raw)
                    }
                }
            }
            (Val::AnyRef(a), ValType::Ref(r)) if r.heap.is_any() => match a {
                None if r.nullable => 0,
                None => bail!("null reference passed where {ty} is expected"),
                Some(a) => {
                    self.check(a.store, "GC reference");
                    let raw = a.raw(self);
                    if !self.any_matches(raw, &r.heap) {
                        bail!("GC reference of the wrong type passed where {ty} is expected");
                    }
                    u128::from(raw)
                }
            },
            (
                Val::FuncRef(None)
                | Val::ExternRef(None)
                | Val::ExnRef(None)
                | Val::ContRef(None)
                | Val::AnyRef(None),
                ValType::Ref(r),
            ) if r.nullable => 0,
            (v, ty) => bail!(
                "type mismatch: expected a value of type {ty}, found {:?}",
                v.ty()
            ),
        })
    }

    /// Whether the non-null raw reference `raw` of the `any` hierarchy is
    /// of heap type `heap`.
    pub(crate) fn any_matches(&self, raw: u64, heap: &crate::HeapType) -> bool {
        use crate::HeapType as H;
        use weft_environ::gc_object as g;
        let tag = raw & g::TAG_MASK;
        let header = || {
            // SAFETY: an untagged reference held by the embedder is a live
            // object (rooted).
            unsafe { *(raw as *const u32) }
        };
        match heap {
            H::Any => true,
            H::Eq => tag != g::HOST_TAG,
            H::I31 => raw & g::I31_TAG != 0,
            H::Struct => tag == 0 && header() >> g::KIND_SHIFT == g::KIND_STRUCT,
            H::Array => tag == 0 && header() >> g::KIND_SHIFT == g::KIND_ARRAY,
            H::Concrete(id) => {
                tag == 0
                    && self
                        .engine
                        .inner
                        .types
                        .is_subtype(header() & g::ID_MASK, *id)
            }
            H::Exact(id) => tag == 0 && header() & g::ID_MASK == *id,
            _ => false,
        }
    }

    /// Converts raw bits of type `ty` to an API value.
    pub(crate) fn raw_to_val(&mut self, bits: u128, ty: &ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(bits as u32 as i32),
            ValType::I64 => Val::I64(bits as u64 as i64),
            ValType::F32 => Val::F32(bits as u32),
            ValType::F64 => Val::F64(bits as u64),
            ValType::V128 => Val::V128(bits),
            ValType::Ref(r) if r.heap.is_extern() => {
                Val::ExternRef(crate::ExternRef::from_raw_gc(self, bits as usize))
            }
            // A reference is the slot's low 64 bits (the rest of a 16-byte
            // slot may hold anything).
            ValType::Ref(r) if r.heap.is_any() => {
                let raw = bits as u64;
                Val::AnyRef((raw != 0).then(|| crate::AnyRef::root(self, raw)))
            }
            ValType::Ref(r) if r.heap.is_cont() => {
                // The embedder holds it now: a root until it is consumed
                // or unrooted (`ContRef::unroot`).
                self.pin_continuation(bits as u64);
                Val::ContRef(crate::ContRef::from_raw(self.id, bits as u64))
            }
            ValType::Ref(r) if matches!(r.heap, crate::HeapType::Exn | crate::HeapType::NoExn) => {
                let raw = bits as usize;
                Val::ExnRef((raw != 0).then(|| crate::ExnRef::root(self, raw)))
            }
            ValType::Ref(_) => Val::FuncRef(self.func_from_raw(bits as usize)),
        }
    }

    // ---- globals ------------------------------------------------------------

    /// A global the host creates: its storage is a box of its own.
    pub(crate) fn push_global(&mut self, ty: GlobalType, bits: u128) -> Global {
        let mut owned = Box::new(VMGlobal { bits });
        let storage = std::ptr::NonNull::from(&mut *owned);
        self.push_global_data(GlobalData {
            ty,
            storage,
            _owned: Some(owned),
        })
    }

    /// A global an instance defines, stored in its vmctx slot at `slot`.
    ///
    /// # Safety
    ///
    /// `slot` must be a 16-byte-aligned global slot of the vmctx of an
    /// instance of this store (it lives as long as the store), holding
    /// the global's initial value.
    pub(crate) unsafe fn push_instance_global(
        &mut self,
        ty: GlobalType,
        slot: std::ptr::NonNull<VMGlobal>,
    ) -> Global {
        self.push_global_data(GlobalData {
            ty,
            storage: slot,
            _owned: None,
        })
    }

    fn push_global_data(&mut self, data: GlobalData) -> Global {
        let g = Global {
            store: self.id,
            index: self.globals.len() as u32,
        };
        self.globals.push(data);
        g
    }

    pub(crate) fn new_global(&mut self, ty: GlobalType, init: Val) -> Result<Global> {
        let bits = self.val_to_raw(&init, &ty.content)?;
        Ok(self.push_global(ty, bits))
    }

    pub(crate) fn global_ty(&self, g: Global) -> GlobalType {
        self.check(g.store, "global");
        self.globals[g.index as usize].ty
    }

    pub(crate) fn global_get(&mut self, g: Global) -> Val {
        self.check(g.store, "global");
        let data = &self.globals[g.index as usize];
        let (bits, ty) = (data.bits(), data.ty.content);
        self.raw_to_val(bits & mask(&ty), &ty)
    }

    pub(crate) fn global_set(&mut self, g: Global, v: Val) -> Result<()> {
        self.check(g.store, "global");
        let ty = self.globals[g.index as usize].ty;
        if ty.mutability != Mutability::Var {
            bail!("cannot set an immutable global");
        }
        let bits = self.val_to_raw(&v, &ty.content)?;
        self.globals[g.index as usize].set_bits(bits);
        Ok(())
    }

    // ---- tables -------------------------------------------------------------

    pub(crate) fn new_table(&mut self, ty: TableType, init: Val) -> Result<Table> {
        let raw = self.val_to_raw(&init, &ValType::Ref(ty.element))? as usize;
        self.check_new_table(&ty)?;
        let t = TableData::new(ty, raw)?;
        Ok(self.push_table(t))
    }

    pub(crate) fn push_table(&mut self, t: TableData) -> Table {
        let h = Table {
            store: self.id,
            index: self.tables.len() as u32,
        };
        self.tables.push(t);
        h
    }

    pub(crate) fn table_ty(&self, t: Table) -> TableType {
        self.check(t.store, "table");
        self.tables[t.index as usize].current_ty()
    }

    pub(crate) fn table_size(&self, t: Table) -> u64 {
        self.check(t.store, "table");
        self.tables[t.index as usize].len()
    }

    pub(crate) fn table_get(&mut self, t: Table, i: u64) -> Option<Val> {
        self.check(t.store, "table");
        let table = &self.tables[t.index as usize];
        let raw = table.get(i)?;
        let ty = ValType::Ref(table.ty.element);
        Some(self.raw_to_val(raw as u128, &ty))
    }

    pub(crate) fn table_set(&mut self, t: Table, i: u64, v: Val) -> Result<()> {
        self.check(t.store, "table");
        let ty = ValType::Ref(self.tables[t.index as usize].ty.element);
        let raw = self.val_to_raw(&v, &ty)? as usize;
        if !self.tables[t.index as usize].set(i, raw) {
            bail!("table index {i} out of bounds");
        }
        Ok(())
    }

    pub(crate) fn table_grow(&mut self, t: Table, delta: u64, init: Val) -> Result<u64> {
        self.check(t.store, "table");
        let ty = ValType::Ref(self.tables[t.index as usize].ty.element);
        let raw = self.val_to_raw(&init, &ty)? as usize;
        match self.grow_table_limited(t, delta, raw)? {
            super::limits::GrowOutcome::Grown(old) => Ok(old),
            super::limits::GrowOutcome::Failed => {
                Err(anyhow!("failed to grow table by {delta} elements"))
            }
        }
    }

    // ---- memories -----------------------------------------------------------

    pub(crate) fn new_memory(&mut self, ty: MemoryType) -> Result<Memory> {
        self.check_new_memory(&ty)?;
        let m = LinearMemory::new(ty)?;
        Ok(self.push_memory(m))
    }

    pub(crate) fn push_memory(&mut self, m: LinearMemory) -> Memory {
        let h = Memory {
            store: self.id,
            index: self.memories.len() as u32,
        };
        self.memories.push(m);
        h
    }

    pub(crate) fn memory_ty(&self, m: Memory) -> MemoryType {
        self.check(m.store, "memory");
        self.memories[m.index as usize].current_ty()
    }

    pub(crate) fn memory_size(&self, m: Memory) -> u64 {
        self.check(m.store, "memory");
        self.memories[m.index as usize].pages()
    }

    pub(crate) fn memory_data(&self, m: Memory) -> &[u8] {
        self.check(m.store, "memory");
        self.memories[m.index as usize].data()
    }

    #[inline]
    pub(crate) fn memory_data_mut(&mut self, m: Memory) -> &mut [u8] {
        self.check(m.store, "memory");
        self.memories[m.index as usize].data_mut()
    }

    pub(crate) fn memory_grow(&mut self, m: Memory, delta: u64) -> Result<u64> {
        self.check(m.store, "memory");
        match self.grow_memory_limited(m, delta)? {
            super::limits::GrowOutcome::Grown(old) => Ok(old),
            super::limits::GrowOutcome::Failed => {
                Err(anyhow!("failed to grow memory by {delta} pages"))
            }
        }
    }

    // ---- tags -------------------------------------------------------------

    pub(crate) fn new_tag(&mut self, ty: &FuncType) -> crate::Tag {
        let id = self.engine.inner.types.register_func_type(ty);
        self.push_tag(id)
    }

    pub(crate) fn push_tag(&mut self, type_id: u32) -> crate::Tag {
        let t = crate::Tag {
            store: self.id,
            index: self.tags.len() as u32,
        };
        self.tags.push(type_id);
        t
    }

    /// Payload length and `exnref` slots of the tag with identity `identity`.
    /// Keeps the continuation `raw` names alive while the embedder holds
    /// a reference to it (see `ContPool::pin`).
    pub(crate) fn pin_continuation(&mut self, raw: u64) {
        if raw != 0
            && let Some(pool) = self.continuations.as_deref()
        {
            pool.pin(raw);
        }
    }

    pub(crate) fn tag_layout(&mut self, identity: u32) -> (usize, super::gc::heap::RefSlots) {
        super::exceptions::tag_layout(self, identity)
    }

    pub(crate) fn tag_type_id(&self, t: crate::Tag) -> u32 {
        self.check(t.store, "tag");
        self.tags[t.index as usize]
    }

    pub(crate) fn tag_ty(&self, t: crate::Tag) -> FuncType {
        let id = self.tag_type_id(t);
        self.engine
            .inner
            .types
            .func_type(id)
            .expect("registered tag type")
    }

    // ---- instances ----------------------------------------------------------

    pub(crate) fn instance_export(&mut self, i: Instance, name: &str) -> Option<Extern> {
        self.check(i.store, "instance");
        let inst = &self.instances[i.index as usize];
        let (_, index) = inst.module.info().exports.iter().find(|(n, _)| n == name)?;
        let index = *index;
        Some(self.instance_entity(i.index, index))
    }

    pub(crate) fn instance_entity(&mut self, i: u32, index: weft_environ::EntityIndex) -> Extern {
        use weft_environ::EntityIndex as E;
        let inst = &self.instances[i as usize];
        match index {
            E::Function(f) => Extern::Func(self.instance_func(i, f)),
            E::Global(g) => Extern::Global(inst.globals[g as usize]),
            E::Table(t) => Extern::Table(inst.tables[t as usize]),
            E::Memory(m) => Extern::Memory(inst.memories[m as usize]),
            E::Tag(t) => Extern::Tag(inst.tags[t as usize]),
        }
    }

    pub(crate) fn instance_module(&self, i: Instance) -> &Module {
        self.check(i.store, "instance");
        &self.instances[i.index as usize].module
    }
}

/// Bits of a value type inside a 16-byte slot.
pub(crate) fn mask(ty: &ValType) -> u128 {
    match ty {
        ValType::I32 | ValType::F32 => u32::MAX as u128,
        ValType::I64 | ValType::F64 | ValType::Ref(_) => u64::MAX as u128,
        ValType::V128 => u128::MAX,
    }
}
