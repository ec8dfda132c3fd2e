//! Memories, tables, globals, and the `Extern` sum of importable things.

use crate::store::{AsContext, AsContextMut, StoreId};
use crate::{ExternType, Func, GlobalType, MemoryType, Result, TableType, Val};

/// Anything that can be imported or exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// An exception tag.
    Tag(Tag),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }
    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }
    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }
    /// The tag, if this is one.
    pub fn into_tag(self) -> Option<Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }
    /// The type of this entity.
    pub fn ty(&self, store: impl AsContext) -> ExternType {
        let store = store.as_context();
        match self {
            Extern::Func(f) => ExternType::Func(f.ty(&store)),
            Extern::Global(g) => ExternType::Global(g.ty(&store)),
            Extern::Table(t) => ExternType::Table(t.ty(&store)),
            Extern::Memory(m) => ExternType::Memory(m.ty(&store)),
            Extern::Tag(t) => ExternType::Tag(t.ty(&store)),
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<Tag> for Extern {
    fn from(t: Tag) -> Extern {
        Extern::Tag(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

/// A global variable owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Global {
    /// A new global of type `ty` holding `init`.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, init: Val) -> Result<Global> {
        store.as_context_mut().0.new_global(ty, init)
    }
    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        store.as_context().0.global_ty(*self)
    }
    /// The current value.
    pub fn get(&self, mut store: impl AsContextMut) -> Val {
        store.as_context_mut().0.global_get(*self)
    }
    /// Sets the value; fails for immutable globals or a wrong type.
    pub fn set(&self, mut store: impl AsContextMut, val: Val) -> Result<()> {
        store.as_context_mut().0.global_set(*self, val)
    }
}

/// A table of references owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Table {
    /// A new table of type `ty` with every element set to `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        store.as_context_mut().0.new_table(ty, init)
    }
    /// The table's type (with its current size as minimum).
    pub fn ty(&self, store: impl AsContext) -> TableType {
        store.as_context().0.table_ty(*self)
    }
    /// Current number of elements.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store.as_context().0.table_size(*self)
    }
    /// Element `index`, or `None` when out of bounds.
    pub fn get(&self, mut store: impl AsContextMut, index: u64) -> Option<Val> {
        store.as_context_mut().0.table_get(*self, index)
    }
    /// Sets element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, val: Val) -> Result<()> {
        store.as_context_mut().0.table_set(*self, index, val)
    }
    /// Grows by `delta` elements set to `init`; returns the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        store.as_context_mut().0.table_grow(*self, delta, init)
    }
}

/// A linear memory owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Memory {
    /// A new memory of type `ty`.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        store.as_context_mut().0.new_memory(ty)
    }
    /// The memory's type (with its current size as minimum).
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        store.as_context().0.memory_ty(*self)
    }
    /// Current size in pages.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store.as_context().0.memory_size(*self)
    }
    /// The memory's bytes.
    pub fn data<'a, T: 'a>(&self, store: impl Into<crate::StoreContext<'a, T>>) -> &'a [u8] {
        store.into().0.memory_data(*self)
    }
    /// The memory's bytes, mutably.
    pub fn data_mut<'a, T: 'a>(
        &self,
        store: impl Into<crate::StoreContextMut<'a, T>>,
    ) -> &'a mut [u8] {
        store.into().0.opaque.memory_data_mut(*self)
    }
    /// The memory's bytes and the store's data, both mutably: a host
    /// function can read guest memory while it updates its own state,
    /// without copying between the two borrows.
    #[inline]
    pub fn data_and_store_mut<'a, T: 'a>(
        &self,
        store: impl Into<crate::StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let inner = store.into().0;
        (inner.opaque.memory_data_mut(*self), &mut inner.data)
    }
    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        store.as_context_mut().0.memory_grow(*self, delta)
    }
}

/// An exception tag owned by a store. Tags can be defined, imported and
/// exported; exceptions of a tag are made, thrown and inspected with
/// [`crate::ExnRef`] and [`crate::Exception`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Tag {
    /// A new tag whose payload has the parameter types of `ty`.
    pub fn new(mut store: impl AsContextMut, ty: &crate::FuncType) -> Tag {
        store.as_context_mut().0.new_tag(ty)
    }
    /// The tag's type.
    pub fn ty(&self, store: impl AsContext) -> crate::FuncType {
        store.as_context().0.tag_ty(*self)
    }
}
