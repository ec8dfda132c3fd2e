//! Instances: a module's code bound to its imports, with its own state.

use crate::store::{AsContext, AsContextMut, StoreId};
use crate::{Extern, Func, Global, Memory, Module, Result, Table};

/// An instantiated module, owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Instance {
    /// Instantiates `module` with `imports` given in the module's import
    /// order, then runs its start function.
    ///
    /// Fails with an "unknown import"/"incompatible import type" error when
    /// the imports do not match, and with the trap when initialisation or
    /// the start function traps.
    pub fn new(
        mut store: impl AsContextMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        crate::vm::instantiate(&mut store.as_context_mut().0.opaque, module, imports)
    }

    /// Like [`Instance::new`], but runs initialisation and the start
    /// function on a fiber so they may call async host functions (requires
    /// [`crate::Config::async_support`]).
    pub async fn new_async(
        mut store: impl AsContextMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        let store = &mut store.as_context_mut().0.opaque;
        crate::vm::on_fiber(store, move |s| crate::vm::instantiate(s, module, imports))?.await
    }

    /// The export called `name`.
    pub fn get_export(&self, mut store: impl AsContextMut, name: &str) -> Option<Extern> {
        store.as_context_mut().0.opaque.instance_export(*self, name)
    }

    /// All exports, in the module's order.
    pub fn exports(&self, mut store: impl AsContextMut) -> Vec<(String, Extern)> {
        let store = &mut store.as_context_mut().0.opaque;
        let names: Vec<String> = store
            .instance_module(*self)
            .info()
            .exports
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        names
            .into_iter()
            .filter_map(|n| {
                let e = store.instance_export(*self, &n)?;
                Some((n, e))
            })
            .collect()
    }

    /// The exported function called `name`.
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function called `name`, as a [`crate::TypedFunc`];
    /// fails if there is no such function or its type is not
    /// `Params -> Results`.
    pub fn get_typed_func<Params: crate::WasmList, Results: crate::WasmList>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> crate::Result<crate::TypedFunc<Params, Results>> {
        let f = self
            .get_func(&mut store, name)
            .ok_or_else(|| anyhow::anyhow!("no exported function called `{name}`"))?;
        f.typed(&store)
    }

    /// The exported memory called `name`.
    pub fn get_memory(&self, store: impl AsContextMut, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported global called `name`.
    pub fn get_global(&self, store: impl AsContextMut, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table called `name`.
    pub fn get_table(&self, store: impl AsContextMut, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported tag called `name`.
    pub fn get_tag(&self, store: impl AsContextMut, name: &str) -> Option<crate::Tag> {
        self.get_export(store, name)?.into_tag()
    }

    /// The module this instance was created from.
    pub fn module(&self, store: impl AsContext) -> Module {
        store.as_context().0.instance_module(*self).clone()
    }
}
