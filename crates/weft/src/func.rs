//! Functions: wasm exports and host closures.

use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut, StoreId};
use crate::{Extern, FuncType, Result, Val};

/// A WebAssembly function (defined in wasm or by the host), owned by a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// The view of the store a host function gets: its user data and the
/// exports of the instance that called it.
pub struct Caller<'a, T> {
    pub(crate) store: StoreContextMut<'a, T>,
    pub(crate) caller: Option<crate::Instance>,
}

impl<T> Caller<'_, T> {
    /// The store's user data.
    pub fn data(&self) -> &T {
        &self.store.0.data
    }

    /// The store's user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.0.data
    }

    /// The store's remaining fuel (see [`crate::Store::get_fuel`]).
    pub fn get_fuel(&self) -> Result<u64> {
        self.store.0.opaque.get_fuel()
    }

    /// Sets the store's fuel (see [`crate::Store::set_fuel`]).
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.store.0.opaque.set_fuel(fuel)
    }

    /// Collects the store's heap now (see [`crate::Store::gc`]); the wasm
    /// frames that called this function are roots, and the objects they
    /// refer to may move.
    pub fn gc(&mut self) {
        self.store.gc();
    }

    /// The instance whose wasm code made this call (`None` when the host
    /// called the function directly). Lets a host function keep what it
    /// looked up in that instance (its memory, say) for the next call.
    pub fn instance(&self) -> Option<crate::Instance> {
        self.caller
    }

    /// An export of the calling instance (`None` when called from the host
    /// or when there is no such export).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.caller?;
        instance.get_export(&mut self.store, name)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store.0)
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store.0)
    }
}

impl Func {
    /// A host function of type `ty`, implemented by `f`, which reads its
    /// arguments from the first slice and writes its results to the second.
    /// Returning an error traps the calling wasm code; the error is what the
    /// outermost caller receives.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        crate::vm::new_host_func(store.as_context_mut().0, ty, f)
    }

    /// The function's type.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        store.as_context().0.func_ty(*self)
    }

    /// Calls the function with `params`, writing `results`. Argument count
    /// and types are checked against the function's type.
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        crate::vm::call_func(&mut store.as_context_mut().0.opaque, *self, params, results)
    }
}
