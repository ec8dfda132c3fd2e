//! Runtime internals (STUB: being written). The only place, with `fiber`
//! and code memory, where `unsafe` code lives.
#![allow(dead_code, unused_variables)]

use crate::store::{StoreId, StoreInner};
use crate::*;
use std::any::Any;
use weft_environ::{EntityIndex, ModuleInfo};

#[derive(Default)]
pub(crate) struct TypeRegistry;
#[derive(Default)]
pub(crate) struct HostTrampolines;

pub(crate) fn init_traps() {}

pub(crate) struct CompiledModule {
    pub(crate) info: ModuleInfo,
    pub(crate) engine: Engine,
}

impl CompiledModule {
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<CompiledModule> {
        todo!()
    }
    pub(crate) fn entity_type(&self, index: EntityIndex) -> ExternType {
        todo!()
    }
}

pub(crate) struct StoreOpaque {
    pub(crate) engine: Engine,
    pub(crate) id: StoreId,
    pub(crate) extern_refs: Vec<Box<dyn Any + Send + Sync>>,
}

impl StoreOpaque {
    pub(crate) fn new(engine: Engine, id: StoreId) -> StoreOpaque {
        StoreOpaque {
            engine,
            id,
            extern_refs: Vec::new(),
        }
    }
    pub(crate) fn set_self_ptr(&mut self, p: *mut u8) {}
    pub(crate) fn func_ty(&self, f: Func) -> FuncType {
        todo!()
    }
    pub(crate) fn new_global(&mut self, ty: GlobalType, init: Val) -> Result<Global> {
        todo!()
    }
    pub(crate) fn global_ty(&self, g: Global) -> GlobalType {
        todo!()
    }
    pub(crate) fn global_get(&self, g: Global) -> Val {
        todo!()
    }
    pub(crate) fn global_set(&mut self, g: Global, v: Val) -> Result<()> {
        todo!()
    }
    pub(crate) fn new_table(&mut self, ty: TableType, init: Val) -> Result<Table> {
        todo!()
    }
    pub(crate) fn table_ty(&self, t: Table) -> TableType {
        todo!()
    }
    pub(crate) fn table_size(&self, t: Table) -> u64 {
        todo!()
    }
    pub(crate) fn table_get(&self, t: Table, i: u64) -> Option<Val> {
        todo!()
    }
    pub(crate) fn table_set(&mut self, t: Table, i: u64, v: Val) -> Result<()> {
        todo!()
    }
    pub(crate) fn table_grow(&mut self, t: Table, d: u64, v: Val) -> Result<u64> {
        todo!()
    }
    pub(crate) fn new_memory(&mut self, ty: MemoryType) -> Result<Memory> {
        todo!()
    }
    pub(crate) fn memory_ty(&self, m: Memory) -> MemoryType {
        todo!()
    }
    pub(crate) fn memory_size(&self, m: Memory) -> u64 {
        todo!()
    }
    pub(crate) fn memory_data(&self, m: Memory) -> &[u8] {
        todo!()
    }
    pub(crate) fn memory_data_mut(&mut self, m: Memory) -> &mut [u8] {
        todo!()
    }
    pub(crate) fn memory_grow(&mut self, m: Memory, d: u64) -> Result<u64> {
        todo!()
    }
    pub(crate) fn instance_export(&mut self, i: Instance, name: &str) -> Option<Extern> {
        todo!()
    }
    pub(crate) fn instance_module(&self, i: Instance) -> &Module {
        todo!()
    }
}

pub(crate) fn new_host_func<T: 'static>(
    store: &mut StoreInner<T>,
    ty: FuncType,
    f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
) -> Func {
    todo!()
}

pub(crate) fn call_func(
    store: &mut StoreOpaque,
    f: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    todo!()
}

pub(crate) fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance> {
    todo!()
}
