//! Linkers: name-based resolution of imports, and pre-resolved
//! instantiation ([`InstancePre`]).
//!
//! A linker holds two kinds of definitions:
//!
//! ```text
//! Extern      an item of one store (Linker::define, Linker::instance):
//!             usable only with that store
//! HostFunc    a host function defined once (Linker::func_new, func_wrap,
//!             func_wrap_async): usable with every store of the engine; the
//!             first instantiation in a store makes the store's Func from
//!             it, later ones reuse that Func
//! ```

use crate::store::{AsContextMut, StoreContextMut};
use crate::{Caller, Engine, Extern, ExternType, Func, FuncType, Instance, Module, Result, Val};
use anyhow::{anyhow, bail};
use std::collections::HashMap;
use std::sync::Arc;

/// A host function defined in a linker, independent of any store.
pub(crate) struct HostFuncDef<T> {
    /// The function's type, when known without making it.
    ty: Option<FuncType>,
    make: Box<dyn Fn(StoreContextMut<'_, T>) -> Func + Send + Sync>,
}

enum Definition<T> {
    Extern(Extern),
    HostFunc(Arc<HostFuncDef<T>>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::HostFunc(f) => Definition::HostFunc(f.clone()),
        }
    }
}

impl<T: 'static> Definition<T> {
    /// The item in `store`: a host function definition becomes the store's
    /// function for it (made on first use).
    fn to_extern(&self, store: &mut StoreContextMut<'_, T>) -> Extern {
        match self {
            Definition::Extern(e) => *e,
            Definition::HostFunc(def) => {
                let key = Arc::as_ptr(def) as usize;
                if let Some((_, f)) = store.0.linker_funcs.get(&key) {
                    return Extern::Func(*f);
                }
                let f = (def.make)(StoreContextMut(&mut *store.0));
                store.0.linker_funcs.insert(key, (def.clone(), f));
                Extern::Func(f)
            }
        }
    }
}

/// Resolves a module's imports by `(module, name)` and instantiates it.
///
/// Host functions defined with [`Linker::func_new`], [`Linker::func_wrap`]
/// and [`Linker::func_wrap_async`] belong to no store: one linker serves
/// every store of its engine (e.g. one store per request). Items of a
/// particular store ([`Linker::define`], [`Linker::instance`]) are usable
/// with that store only.
pub struct Linker<T> {
    engine: Engine,
    items: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            items: self.items.clone(),
            allow_shadowing: self.allow_shadowing,
        }
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            items: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The engine this linker was made for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition may replace an earlier one of the same
    /// name (default: no, it is an error).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<&mut Self> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.items.contains_key(&key) {
            bail!("import `{module}`.`{name}` is defined twice");
        }
        self.items.insert(key, def);
        Ok(self)
    }

    /// Defines `module`.`name` as `item` (an item of one store).
    pub fn define(
        &mut self,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Defines `module`.`name` as a host function of type `ty` (see
    /// [`Func::new`]), usable with every store of the engine.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let f = Arc::new(f);
        let fty = ty.clone();
        let make = move |store: StoreContextMut<'_, T>| {
            let f = f.clone();
            Func::new(store, fty.clone(), move |c, a, r| f(c, a, r))
        };
        self.insert_host_func(module, name, Some(ty), Box::new(make))
    }

    /// Defines `module`.`name` as a host function made by `make` in each
    /// store that uses it.
    fn insert_host_func(
        &mut self,
        module: &str,
        name: &str,
        ty: Option<FuncType>,
        make: Box<dyn Fn(StoreContextMut<'_, T>) -> Func + Send + Sync>,
    ) -> Result<&mut Self> {
        self.insert(
            module,
            name,
            Definition::HostFunc(Arc::new(HostFuncDef { ty, make })),
        )
    }

    /// Defines `module`.`name` as a host function from a typed closure (see
    /// [`Func::wrap`]), usable with every store of the engine.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl crate::IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        self.insert_host_func(module, name, None, f.into_func_maker())
    }

    /// Defines `module`.`name` as an async host function (see
    /// [`Func::wrap_async`]), usable with every store of the engine.
    pub fn func_wrap_async<P: crate::WasmList, R: crate::WasmRet + 'static>(
        &mut self,
        module: &str,
        name: &str,
        f: impl for<'a> Fn(Caller<'a, T>, P) -> crate::AsyncHostFuture<'a, R> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let f = Arc::new(f);
        let make = move |store: StoreContextMut<'_, T>| {
            let f = f.clone();
            Func::wrap_async(store, move |c, p| f(c, p))
        };
        let ty = FuncType::new(P::valtypes(), <R::Results as crate::WasmList>::valtypes());
        self.insert_host_func(module, name, Some(ty), Box::new(make))
    }

    /// Defines every export of `instance` under the module name `module`.
    pub fn instance(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        for (name, item) in instance.exports(&mut store) {
            self.define(module, &name, item)?;
        }
        Ok(self)
    }

    /// The item defined as `module`.`name`, as an item of `store` (a host
    /// function definition gives the store's function for it).
    pub fn get(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        let def = self.items.get(&(module.to_string(), name.to_string()))?;
        Some(def.to_extern(&mut store.as_context_mut()))
    }

    /// Instantiates `module`, resolving each import by name.
    pub fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        self.instantiate_pre(module)?.instantiate(&mut store)
    }

    /// Instantiates `module` on a fiber (see [`Instance::new_async`]).
    pub async fn instantiate_async(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        self.instantiate_pre(module)?
            .instantiate_async(&mut store)
            .await
    }

    /// Resolves `module`'s imports by name once, for any number of
    /// instantiations later ([`InstancePre::instantiate`]). Fails when an
    /// import is not defined, or is a host function of the wrong type.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>> {
        if !Engine::same(&self.engine, module.engine()) {
            bail!("the module was compiled for another engine than the linker's");
        }
        let mut defs = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let def = self
                .items
                .get(&(import.module().to_string(), import.name().to_string()))
                .ok_or_else(|| {
                    anyhow!(
                        "unknown import: `{}`.`{}` ({}) has not been defined",
                        import.module(),
                        import.name(),
                        import.ty().kind()
                    )
                })?;
            if let Definition::HostFunc(f) = def {
                match (import.ty(), &f.ty) {
                    (ExternType::Func(want), Some(have)) if want != have => bail!(
                        "incompatible import type for `{}`.`{}`: expected {want}, the linker \
                         defines {have}",
                        import.module(),
                        import.name()
                    ),
                    (ExternType::Func(_), _) => {}
                    (other, _) => bail!(
                        "incompatible import type for `{}`.`{}`: expected {}, the linker \
                         defines a function",
                        import.module(),
                        import.name(),
                        other.kind()
                    ),
                }
            }
            defs.push(def.clone());
        }
        Ok(InstancePre {
            module: module.clone(),
            defs: defs.into(),
        })
    }

    /// Instantiates `module` and defines its exports under `name`.
    pub fn module(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        name: &str,
        module: &Module,
    ) -> Result<&mut Self> {
        let instance = self.instantiate(&mut store, module)?;
        self.instance(store, name, instance)
    }
}

/// A module with its imports resolved ([`Linker::instantiate_pre`]):
/// instantiating it again costs no name lookups. Host function definitions
/// among the imports work with every store of the engine; store items only
/// with their store. Cheap to clone.
pub struct InstancePre<T> {
    module: Module,
    defs: Arc<[Definition<T>]>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            defs: self.defs.clone(),
        }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module this instantiates.
    pub fn module(&self) -> &Module {
        &self.module
    }

    fn imports(&self, store: &mut impl AsContextMut<Data = T>) -> Vec<Extern> {
        let mut cx = store.as_context_mut();
        self.defs.iter().map(|d| d.to_extern(&mut cx)).collect()
    }

    /// A new instance in `store` (see [`Instance::new`]).
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let imports = self.imports(&mut store);
        Instance::new(&mut store, &self.module, &imports)
    }

    /// A new instance in `store`, initialised on a fiber (see
    /// [`Instance::new_async`]).
    pub async fn instantiate_async(
        &self,
        mut store: impl AsContextMut<Data = T>,
    ) -> Result<Instance> {
        let imports = self.imports(&mut store);
        Instance::new_async(&mut store, &self.module, &imports).await
    }
}
