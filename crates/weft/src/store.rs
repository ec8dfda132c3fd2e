//! Stores: the owners of all runtime objects, and the contexts that borrow
//! them.

use crate::Engine;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a store; handles ([`crate::Func`], [`crate::Memory`], ...)
/// carry it so that using a handle with the wrong store is caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn allocate() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Continuation counts of a store ([`Store::continuation_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContinuationStats {
    /// Continuations whose stacks are out of the pool now.
    pub live: usize,
    /// Continuations created since the store was made.
    pub created: u64,
    /// Continuations the collector reclaimed (suspended or never started,
    /// and unreachable) since the store was made.
    pub collected: u64,
}

/// A collection of instances and the objects they own, with user data `T`.
///
/// Instances, functions, memories, tables and globals created in a store
/// live until the store is dropped. The managed heap is collected (see
/// [`Store::gc`]): GC objects (structs, arrays, exceptions), host values
/// behind `externref`s, and suspended or never-started continuations are
/// reclaimed once neither wasm nor a host root can reach them; whatever is
/// left goes with the store.
pub struct Store<T> {
    inner: Box<StoreInner<T>>,
}

/// The store's contents: the untyped part first, then the user data.
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub(crate) opaque: crate::vm::StoreOpaque,
    pub(crate) data: T,
    /// Finds the resource limiter in the data (`Store::limiter`).
    pub(crate) limiter: Option<LimiterGetter<T>>,
    /// The functions made in this store from [`crate::Linker`] host
    /// function definitions, by definition (the `Arc` keeps its address
    /// from being reused while the entry exists).
    pub(crate) linker_funcs: std::collections::HashMap<
        usize,
        (std::sync::Arc<crate::linker::HostFuncDef<T>>, crate::Func),
    >,
}

/// The closure given to [`Store::limiter`].
pub(crate) type LimiterGetter<T> =
    Box<dyn (FnMut(&mut T) -> &mut dyn crate::ResourceLimiter) + Send + Sync>;

impl<T> Deref for StoreInner<T> {
    type Target = crate::vm::StoreOpaque;
    fn deref(&self) -> &Self::Target {
        &self.opaque
    }
}

impl<T> DerefMut for StoreInner<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.opaque
    }
}

impl<T> Store<T> {
    /// A new store using `engine`, holding `data`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let opaque = crate::vm::StoreOpaque::new(engine.clone(), StoreId::allocate());
        let mut inner = Box::new(StoreInner {
            opaque,
            data,
            limiter: None,
            linker_funcs: Default::default(),
        });
        let ptr: *mut StoreInner<T> = &mut *inner;
        inner.opaque.set_self_ptr(ptr.cast());
        Store { inner }
    }

    /// The engine this store uses.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// The user data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// Collects the store's managed heap now: reclaims every struct, array
    /// and exception object, every host value behind an `externref`, and
    /// every suspended or never-started continuation, that neither wasm
    /// (frames, suspended continuations, globals, tables, objects) nor the
    /// host (`AnyRef`, `ExnRef`, `ExternRef` roots not yet unrooted,
    /// `ContRef`s not yet consumed or unrooted) can reach. The store also
    /// collects by itself when its allocation window fills up, exceptions
    /// pile up, or `cont.new` finds the live continuations doubled since
    /// the last collection.
    pub fn gc(&mut self) {
        crate::vm::exceptions::collect_from_host(&mut self.inner.opaque);
    }

    /// Statistics of the store's GC object heap (structs and arrays).
    pub fn gc_heap_stats(&self) -> crate::GcHeapStats {
        gc_stats(&self.inner.opaque)
    }

    /// Statistics of the store's exception heap.
    pub fn exn_heap_stats(&self) -> crate::ExnHeapStats {
        let heap = &self.inner.opaque.gc_heap;
        crate::ExnHeapStats {
            live: heap.live(),
            capacity: heap.capacity(),
            collections: self.inner.opaque.objects.stats.collections,
        }
    }

    /// Sets the epoch deadline to `ticks` beyond the engine's current epoch:
    /// once [`Engine::increment_epoch`] has been called that many times,
    /// running wasm traps with [`crate::Trap::Interrupt`] (requires
    /// [`crate::Config::epoch_interruption`]).
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        self.inner.opaque.set_epoch_deadline(ticks);
    }

    /// Makes reaching the epoch deadline trap (the default behaviour).
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.opaque.epoch_behavior = crate::vm::EpochBehavior::Trap;
    }

    /// With [`crate::Config::async_support`]: when wasm running under an
    /// async call reaches the epoch deadline, it yields to the executor
    /// once and continues with the deadline moved `delta` ticks past the
    /// then-current epoch. Long-running wasm thus shares the thread.
    pub fn epoch_deadline_async_yield_and_update(&mut self, delta: u64) {
        self.inner.opaque.epoch_behavior = crate::vm::EpochBehavior::YieldAndUpdate(delta);
    }

    /// Installs a resource limiter: `limiter` finds it in the store's data
    /// (for example `|data| &mut data.limits` with a
    /// [`crate::StoreLimits`] field). It is asked before every memory and
    /// table growth and allocation in this store, and its instance, table
    /// and memory counts are read now and enforced at instantiation.
    pub fn limiter(
        &mut self,
        limiter: impl (FnMut(&mut T) -> &mut dyn crate::ResourceLimiter) + Send + Sync + 'static,
    ) {
        self.inner.limiter = Some(Box::new(limiter));
        self.inner
            .opaque
            .install_limiter(crate::vm::with_limiter_of::<T>);
    }

    /// Sets the fuel wasm in this store may consume (see
    /// [`crate::Config::consume_fuel`]); fails when fuel is not enabled.
    pub fn set_fuel(&mut self, fuel: u64) -> crate::Result<()> {
        self.inner.opaque.set_fuel(fuel)
    }

    /// The fuel left; fails when fuel is not enabled.
    pub fn get_fuel(&self) -> crate::Result<u64> {
        self.inner.opaque.get_fuel()
    }

    /// Statistics of this store's continuations (stack-switching
    /// proposal): how many are alive now (their stacks are out of the
    /// pool: fresh, running or suspended) and how many were ever created.
    /// A continuation's stack returns to the pool when it returns or a
    /// trap kills it; one that stays suspended holds its stack until the
    /// store is dropped.
    pub fn continuation_stats(&self) -> crate::ContinuationStats {
        match &self.inner.opaque.continuations {
            Some(p) => crate::ContinuationStats {
                live: p.live(),
                created: p.created(),
                collected: p.collected(),
            },
            None => crate::ContinuationStats::default(),
        }
    }

    /// Consumes the store and returns its user data.
    pub fn into_data(self) -> T {
        let inner = *self.inner;
        inner.data
    }
}

/// A shared borrow of a store.
pub struct StoreContext<'a, T>(pub(crate) &'a StoreInner<T>);

/// An exclusive borrow of a store.
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut StoreInner<T>);

fn gc_stats(o: &crate::vm::StoreOpaque) -> crate::GcHeapStats {
    let st = o.objects.stats;
    crate::GcHeapStats {
        collections: st.collections,
        bytes_live: st.bytes_live,
        bytes_allocated_before_last: st.bytes_allocated_before_last,
        capacity: st.capacity,
        last_pause_ns: st.last_pause_ns,
        total_pause_ns: st.total_pause_ns,
        host_roots: o.gc_roots.len(),
        host_values: o.extern_refs.len(),
    }
}

impl<T> StoreContext<'_, T> {
    /// Statistics of the store's GC object heap (see
    /// [`Store::gc_heap_stats`]).
    pub fn gc_heap_stats(&self) -> crate::GcHeapStats {
        gc_stats(&self.0.opaque)
    }
}

impl<T> StoreContextMut<'_, T> {
    /// Statistics of the store's GC object heap (see
    /// [`Store::gc_heap_stats`]).
    pub fn gc_heap_stats(&self) -> crate::GcHeapStats {
        gc_stats(&self.0.opaque)
    }

    /// Collects the store's heap now (see [`Store::gc`]). From a host
    /// function called by wasm, the wasm frames below it are roots.
    pub fn gc(&mut self) {
        crate::vm::exceptions::collect_from_host(&mut self.0.opaque);
    }

    /// The user data.
    pub fn data(&self) -> &T {
        &self.0.data
    }
    /// The user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }
}

/// Anything that can lend a store for reading.
pub trait AsContext {
    /// The store's user data type.
    type Data;
    /// Borrows the store.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Anything that can lend a store for writing.
pub trait AsContextMut: AsContext {
    /// Borrows the store exclusively.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(&self.inner)
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut self.inner)
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

impl<'a, T> From<&'a Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a Store<T>) -> Self {
        StoreContext(&s.inner)
    }
}
impl<'a, T> From<&'a mut Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContext(&s.inner)
    }
}
impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContextMut(&mut s.inner)
    }
}
impl<'a, T> From<StoreContextMut<'a, T>> for StoreContext<'a, T> {
    fn from(s: StoreContextMut<'a, T>) -> Self {
        StoreContext(s.0)
    }
}
impl<'a, 'b: 'a, T> From<&'a mut crate::Caller<'b, T>> for StoreContextMut<'a, T> {
    fn from(c: &'a mut crate::Caller<'b, T>) -> Self {
        StoreContextMut(c.store.0)
    }
}
impl<'a, 'b: 'a, T> From<&'a crate::Caller<'b, T>> for StoreContext<'a, T> {
    fn from(c: &'a crate::Caller<'b, T>) -> Self {
        StoreContext(c.store.0)
    }
}
