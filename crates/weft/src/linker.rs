//! Linkers: name-based resolution of imports.

use crate::store::AsContextMut;
use crate::{Caller, Engine, Extern, Func, FuncType, Instance, Module, Result, Val};
use anyhow::{anyhow, bail};
use std::collections::HashMap;

/// Resolves a module's imports by `(module, name)` and instantiates it.
pub struct Linker<T> {
    engine: Engine,
    items: HashMap<(String, String), Extern>,
    allow_shadowing: bool,
    _marker: std::marker::PhantomData<fn(T)>,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            items: HashMap::new(),
            allow_shadowing: false,
            _marker: std::marker::PhantomData,
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

    /// Defines `module`.`name` as `item`.
    pub fn define(
        &mut self,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.items.contains_key(&key) {
            bail!("import `{module}`.`{name}` is defined twice");
        }
        self.items.insert(key, item.into());
        Ok(self)
    }

    /// Defines `module`.`name` as a host function.
    pub fn func_new(
        &mut self,
        store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let func = Func::new(store, ty, f);
        self.define(module, name, func)
    }

    /// Defines `module`.`name` as a host function from a typed closure (see
    /// [`Func::wrap`]).
    pub fn func_wrap<Params, Results>(
        &mut self,
        store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
        f: impl crate::IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let func = Func::wrap(store, f);
        self.define(module, name, func)
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

    /// The item defined as `module`.`name`.
    pub fn get(&self, module: &str, name: &str) -> Option<Extern> {
        self.items
            .get(&(module.to_string(), name.to_string()))
            .copied()
    }

    /// Instantiates `module`, resolving each import by name.
    pub fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        let imports = self.resolve(module)?;
        Instance::new(&mut store, module, &imports)
    }

    /// Instantiates `module` on a fiber (see [`Instance::new_async`]).
    pub async fn instantiate_async(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        let imports = self.resolve(module)?;
        Instance::new_async(&mut store, module, &imports).await
    }

    /// Defines `module`.`name` as an async host function (see
    /// [`Func::wrap_async`]).
    pub fn func_wrap_async<P: crate::WasmList, R: crate::WasmRet + 'static>(
        &mut self,
        store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
        f: impl for<'a> Fn(Caller<'a, T>, P) -> crate::AsyncHostFuture<'a, R> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let func = Func::wrap_async(store, f);
        self.define(module, name, func)
    }

    fn resolve(&self, module: &Module) -> Result<Vec<Extern>> {
        let mut imports = Vec::new();
        for import in module.imports() {
            let item = self.get(import.module(), import.name()).ok_or_else(|| {
                anyhow!(
                    "unknown import: `{}`.`{}` ({}) has not been defined",
                    import.module(),
                    import.name(),
                    import.ty().kind()
                )
            })?;
            imports.push(item);
        }
        Ok(imports)
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
