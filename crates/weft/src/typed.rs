//! Statically typed functions: `Func::wrap` for host closures and
//! `TypedFunc` for calling wasm with Rust types.
//!
//! Both work on the raw 16-byte value slots of the array calling convention
//! directly: no `Val` boxing and no allocation per call, with the
//! conversions monomorphised per signature.

use crate::store::{AsContext, AsContextMut, StoreContextMut};
use crate::vm::{StoreOpaque, ValRaw};
use crate::{Caller, ExternRef, Func, FuncType, Result, ValType};
use anyhow::bail;
use std::marker::PhantomData;

/// Access to the store for value conversions; opaque outside this crate.
pub struct RawStore<'a>(pub(crate) &'a mut StoreOpaque);

/// A Rust type that corresponds to a WebAssembly value type.
pub trait WasmTy: Sized + Send + 'static {
    /// The wasm type.
    fn valtype() -> ValType;
    #[doc(hidden)]
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128>;
    #[doc(hidden)]
    fn from_raw(raw: u128, store: &mut RawStore<'_>) -> Self;
    /// How the value crosses a native-ABI host call (the type itself for
    /// numbers; unused for the others, whose functions have no such call:
    /// `crate::vm::native_abi`).
    #[doc(hidden)]
    type Native: Copy + Default;
    #[doc(hidden)]
    fn from_native(n: Self::Native) -> Self;
    #[doc(hidden)]
    fn into_native(self) -> Self::Native;
}

/// The `Native` items of a [`WasmTy`] whose functions never have a
/// native-ABI entry.
macro_rules! no_native {
    () => {
        type Native = u64;
        fn from_native(_: u64) -> Self {
            unreachable!("no native-ABI host call takes this type")
        }
        fn into_native(self) -> u64 {
            unreachable!("no native-ABI host call returns this type")
        }
    };
}

/// The `Native` items of a number type: itself.
macro_rules! native_self {
    () => {
        type Native = Self;
        #[inline(always)]
        fn from_native(n: Self) -> Self {
            n
        }
        #[inline(always)]
        fn into_native(self) -> Self {
            self
        }
    };
}

macro_rules! int_ty {
    ($($t:ty => $vt:ident, $bits:ty;)*) => {$(
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$vt
            }
            fn into_raw(self, _: &mut RawStore<'_>) -> Result<u128> {
                Ok(self as $bits as u128)
            }
            fn from_raw(raw: u128, _: &mut RawStore<'_>) -> Self {
                raw as $bits as $t
            }
            native_self!();
        }
    )*};
}
int_ty! {
    i32 => I32, u32;
    u32 => I32, u32;
    i64 => I64, u64;
    u64 => I64, u64;
}

impl WasmTy for f32 {
    fn valtype() -> ValType {
        ValType::F32
    }
    fn into_raw(self, _: &mut RawStore<'_>) -> Result<u128> {
        Ok(self.to_bits() as u128)
    }
    fn from_raw(raw: u128, _: &mut RawStore<'_>) -> Self {
        f32::from_bits(raw as u32)
    }
    native_self!();
}

impl WasmTy for f64 {
    fn valtype() -> ValType {
        ValType::F64
    }
    fn into_raw(self, _: &mut RawStore<'_>) -> Result<u128> {
        Ok(self.to_bits() as u128)
    }
    fn from_raw(raw: u128, _: &mut RawStore<'_>) -> Self {
        f64::from_bits(raw as u64)
    }
    native_self!();
}

/// A `v128` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct V128(pub u128);

impl WasmTy for V128 {
    fn valtype() -> ValType {
        ValType::V128
    }
    fn into_raw(self, _: &mut RawStore<'_>) -> Result<u128> {
        Ok(self.0)
    }
    fn from_raw(raw: u128, _: &mut RawStore<'_>) -> Self {
        V128(raw)
    }
    no_native!();
}

impl WasmTy for Option<Func> {
    fn valtype() -> ValType {
        ValType::FUNCREF
    }
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128> {
        store
            .0
            .val_to_raw(&crate::Val::FuncRef(self), &ValType::FUNCREF)
    }
    fn from_raw(raw: u128, store: &mut RawStore<'_>) -> Self {
        store.0.func_from_raw(raw as usize)
    }
    no_native!();
}

impl WasmTy for Option<ExternRef> {
    fn valtype() -> ValType {
        ValType::EXTERNREF
    }
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128> {
        store
            .0
            .val_to_raw(&crate::Val::ExternRef(self), &ValType::EXTERNREF)
    }
    fn from_raw(raw: u128, store: &mut RawStore<'_>) -> Self {
        ExternRef::from_raw_gc(store.0, raw as usize)
    }
    no_native!();
}

impl WasmTy for Option<crate::AnyRef> {
    fn valtype() -> ValType {
        ValType::ANYREF
    }
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128> {
        store
            .0
            .val_to_raw(&crate::Val::AnyRef(self), &ValType::ANYREF)
    }
    /// A non-null reference becomes a host root (see [`crate::AnyRef`]).
    fn from_raw(raw: u128, store: &mut RawStore<'_>) -> Self {
        match store.0.raw_to_val(raw, &ValType::ANYREF) {
            crate::Val::AnyRef(a) => a,
            _ => None,
        }
    }
    no_native!();
}

impl WasmTy for Option<crate::ExnRef> {
    fn valtype() -> ValType {
        ValType::EXNREF
    }
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128> {
        store
            .0
            .val_to_raw(&crate::Val::ExnRef(self), &ValType::EXNREF)
    }
    /// A non-null exception becomes a host root (see [`crate::ExnRef`]).
    fn from_raw(raw: u128, store: &mut RawStore<'_>) -> Self {
        match store.0.raw_to_val(raw, &ValType::EXNREF) {
            crate::Val::ExnRef(e) => e,
            _ => None,
        }
    }
    no_native!();
}

/// A list of wasm values as a Rust tuple (or a single value): the
/// parameters or results of a typed function.
pub trait WasmList: Sized + Send + 'static {
    /// Number of values.
    const LEN: usize;
    /// The wasm types, in order.
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    fn store_raw(self, store: &mut RawStore<'_>, out: &mut [ValRaw]) -> Result<()>;
    #[doc(hidden)]
    fn load_raw(store: &mut RawStore<'_>, slots: &[ValRaw]) -> Self;
    /// What a native-ABI host call returns for these results: `ok` alone
    /// (none) or [`NativeRet`] (one); unused for more.
    #[doc(hidden)]
    type NativeRet: Copy;
    #[doc(hidden)]
    fn native_ok(self) -> Self::NativeRet;
    #[doc(hidden)]
    fn native_failed() -> Self::NativeRet;
}

/// A native-ABI host call's single result and its `ok` flag, returned in
/// two registers (see `weft_environ::native_host_abi`).
#[doc(hidden)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NativeRet<V> {
    value: V,
    ok: u64,
}

impl<T: WasmTy> WasmList for T {
    const LEN: usize = 1;
    fn valtypes() -> Vec<ValType> {
        vec![T::valtype()]
    }
    fn store_raw(self, store: &mut RawStore<'_>, out: &mut [ValRaw]) -> Result<()> {
        out[0].bits = self.into_raw(store)?;
        Ok(())
    }
    fn load_raw(store: &mut RawStore<'_>, slots: &[ValRaw]) -> Self {
        T::from_raw(slots[0].bits, store)
    }
    type NativeRet = NativeRet<T::Native>;
    #[inline(always)]
    fn native_ok(self) -> NativeRet<T::Native> {
        NativeRet {
            value: self.into_native(),
            ok: 1,
        }
    }
    fn native_failed() -> NativeRet<T::Native> {
        // The value of a failed call is never read: the trampoline traps
        // on `ok` = 0.
        NativeRet {
            value: T::Native::default(),
            ok: 0,
        }
    }
}

macro_rules! tuple_list {
    ($n:expr; $($t:ident $i:tt),*) => {
        impl<$($t: WasmTy),*> WasmList for ($($t,)*) {
            const LEN: usize = $n;
            fn valtypes() -> Vec<ValType> {
                vec![$($t::valtype()),*]
            }
            #[allow(unused_variables)]
            fn store_raw(self, store: &mut RawStore<'_>, out: &mut [ValRaw]) -> Result<()> {
                $(out[$i].bits = self.$i.into_raw(store)?;)*
                Ok(())
            }
            #[allow(unused_variables, clippy::unused_unit)]
            fn load_raw(store: &mut RawStore<'_>, slots: &[ValRaw]) -> Self {
                ($($t::from_raw(slots[$i].bits, store),)*)
            }
            tuple_native!($($t $i),*);
        }
    };
}

/// `WasmList::NativeRet` of a tuple: `ok` alone for `()`, the value and
/// `ok` for `(A,)`, unused for longer ones.
macro_rules! tuple_native {
    () => {
        type NativeRet = u64;
        #[inline(always)]
        fn native_ok(self) -> u64 {
            1
        }
        fn native_failed() -> u64 {
            0
        }
    };
    ($t:ident $i:tt) => {
        type NativeRet = NativeRet<$t::Native>;
        #[inline(always)]
        fn native_ok(self) -> NativeRet<$t::Native> {
            self.0.native_ok()
        }
        fn native_failed() -> NativeRet<$t::Native> {
            <$t as WasmList>::native_failed()
        }
    };
    ($($t:ident $i:tt),*) => {
        type NativeRet = u64;
        fn native_ok(self) -> u64 {
            unreachable!("no native-ABI host call returns several values")
        }
        fn native_failed() -> u64 {
            unreachable!("no native-ABI host call returns several values")
        }
    };
}
tuple_list!(0;);
tuple_list!(1; A 0);
tuple_list!(2; A 0, B 1);
tuple_list!(3; A 0, B 1, C 2);
tuple_list!(4; A 0, B 1, C 2, D 3);
tuple_list!(5; A 0, B 1, C 2, D 3, E 4);
tuple_list!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_list!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_list!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_list!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_list!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);

/// What a wrapped host closure may return: results, or a `Result` of them
/// (an `Err` traps the calling wasm code).
pub trait WasmRet {
    /// The result values.
    type Results: WasmList;
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Results>;
}

impl<R: WasmList> WasmRet for R {
    type Results = R;
    fn into_result(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmList> WasmRet for Result<R> {
    type Results = R;
    fn into_result(self) -> Result<R> {
        self
    }
}

/// Closures that `Func::wrap` accepts: `Fn(Caller<T>, A1, ..., An) -> R` or
/// `Fn(A1, ..., An) -> R` with `Ai: WasmTy` and `R: WasmRet`.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_func(self, store: StoreContextMut<'_, T>) -> Func;

    /// A maker of this host function for any store (what a [`crate::Linker`]
    /// keeps): each call creates the function in the given store, sharing
    /// the one closure.
    #[doc(hidden)]
    fn into_func_maker(self) -> Box<dyn Fn(StoreContextMut<'_, T>) -> Func + Send + Sync>;
}

macro_rules! into_func {
    ($($a:ident $i:tt),*) => {
        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: WasmRet,
        {
            #[allow(unused_variables, non_snake_case)]
            fn into_func(self, store: StoreContextMut<'_, T>) -> Func {
                let ty = FuncType::new(vec![$($a::valtype()),*], R::Results::valtypes());
                let this = std::sync::Arc::new(self);
                /// The native-ABI entry of a `Func::wrap` closure `F`: what the
                /// wasm-to-host trampoline calls, in the C convention, for types
                /// that `crate::vm::native_abi` accepts.
                ///
                /// # Safety
                ///
                /// Called only by a wasm-to-host trampoline with the host context
                /// of a function created by `into_func` above for this `F`.
                #[allow(non_snake_case, clippy::too_many_arguments)]
                unsafe extern "C" fn native_entry<T: 'static, F, R, $($a: WasmTy),*>(
                    hctx: *mut u8,
                    caller_vmctx: *mut u8,
                    $($a: $a::Native),*
                ) -> <R::Results as WasmList>::NativeRet
                where
                    F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
                    R: WasmRet,
                {
                    // SAFETY: (contract) the host context of a function made by
                    // `into_func`, whose native data is its `Arc<F>`'s closure.
                    let (sp, data) = unsafe { crate::vm::native_host_parts(hctx) };
                    // SAFETY: see above; the host function owns the `Arc`.
                    let f = unsafe { &*data.cast::<F>() };
                    // The closure's error is parked here rather than returned
                    // through `catch_unwind`: its result crosses in memory,
                    // and a `Result<i32, _>` stored as tag and value but
                    // reloaded as one word stalled store forwarding on every
                    // call. A `NativeRet` is stored and loaded field by field.
                    let mut error = None;
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        // SAFETY: `sp` is the `StoreInner<T>` the function was
                        // created in, exclusively ours while the host call runs.
                        let inner = unsafe { &mut *(sp as *mut crate::store::StoreInner<T>) };
                        let caller = crate::vm::caller_instance(&inner.opaque, caller_vmctx);
                        match f(Caller { store: StoreContextMut(inner), caller }, $($a::from_native($a)),*)
                            .into_result()
                        {
                            Ok(r) => r.native_ok(),
                            Err(e) => {
                                error = Some(e);
                                <R::Results as WasmList>::native_failed()
                            }
                        }
                    }));
                    let failure = match (result, error) {
                        (Ok(r), None) => return r,
                        (Ok(_), Some(e)) => Ok(e),
                        (Err(panic), _) => Err(panic),
                    };
                    // SAFETY: nothing in this frame needs a drop any more; the
                    // closure's borrow of the store has ended.
                    unsafe { crate::vm::native_host_failed(sp, failure) };
                    <R::Results as WasmList>::native_failed()
                }

                // The native-ABI entry (`weft_environ::native_host_abi`)
                // calls the same closure with the arguments in registers.
                let native = crate::vm::native_abi(&ty).then(|| crate::vm::NativeEntry {
                    call: native_entry::<T, F, R, $($a),*> as *const () as usize,
                    data: std::sync::Arc::as_ptr(&this).cast(),
                });
                let call = move |sp: *mut StoreOpaque, caller_vmctx: *mut u8, raw: &mut [ValRaw]| {
                    // SAFETY: `sp` is the `StoreInner<T>` this function was
                    // created in, exclusively ours while the host call runs.
                    let inner = unsafe { &mut *(sp as *mut crate::store::StoreInner<T>) };
                    let rs = &mut RawStore(&mut inner.opaque);
                    $(let $a = $a::from_raw(raw[$i].bits, rs);)*
                    let caller = crate::vm::caller_instance(&inner.opaque, caller_vmctx);
                    let r = this(Caller { store: StoreContextMut(inner), caller }, $($a),*)
                        .into_result()?;
                    // SAFETY: as above; the caller's borrow has ended.
                    let inner = unsafe { &mut *(sp as *mut crate::store::StoreInner<T>) };
                    r.store_raw(&mut RawStore(&mut inner.opaque), raw)
                };
                crate::vm::new_host_func_native(&mut store.0.opaque, ty, Box::new(call), native)
            }

            #[allow(non_snake_case)]
            fn into_func_maker(self) -> Box<dyn Fn(StoreContextMut<'_, T>) -> Func + Send + Sync> {
                let f = std::sync::Arc::new(self);
                Box::new(move |store| {
                    let f = f.clone();
                    <_ as IntoFunc<T, ($($a,)*), R>>::into_func(
                        // Inlined into the native entry, so that the `Caller`
                        // stays in registers instead of crossing a call in
                        // memory.
                        #[inline(always)]
                        move |caller: Caller<'_, T>, $($a: $a),*| f(caller, $($a),*),
                        store,
                    )
                })
            }
        }

        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, (NoCaller, $($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: WasmRet,
        {
            fn into_func(self, store: StoreContextMut<'_, T>) -> Func {
                #[allow(non_snake_case)]
                let f = move |_: Caller<'_, T>, $($a: $a),*| self($($a),*);
                <_ as IntoFunc<T, ($($a,)*), R>>::into_func(f, store)
            }

            fn into_func_maker(self) -> Box<dyn Fn(StoreContextMut<'_, T>) -> Func + Send + Sync> {
                #[allow(non_snake_case)]
                let f = move |_: Caller<'_, T>, $($a: $a),*| self($($a),*);
                <_ as IntoFunc<T, ($($a,)*), R>>::into_func_maker(f)
            }
        }
    };
}

/// Marker distinguishing closures without a `Caller` parameter.
#[doc(hidden)]
pub struct NoCaller;

into_func!();
into_func!(A1 0);
into_func!(A1 0, A2 1);
into_func!(A1 0, A2 1, A3 2);
into_func!(A1 0, A2 1, A3 2, A4 3);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8);
into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9);

impl Func {
    /// A host function from a Rust closure with typed parameters and
    /// results, e.g. `Func::wrap(&mut store, |a: i32, b: i32| a + b)` or
    /// `Func::wrap(&mut store, |caller: Caller<'_, T>, x: i64| -> Result<i64> { ... })`.
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        f.into_func(store.as_context_mut())
    }

    /// A typed view of this function; fails if the types do not match.
    pub fn typed<Params: WasmList, Results: WasmList>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<Params, Results>> {
        let ty = self.ty(&store);
        let (p, r) = (Params::valtypes(), Results::valtypes());
        if ty.params() != p.as_slice() || ty.results() != r.as_slice() {
            bail!(
                "type mismatch: function is {ty}, requested {}",
                FuncType::new(p.iter().copied(), r.iter().copied())
            );
        }
        let entry = crate::vm::entry_of(&store.as_context().0.opaque, *self)?;
        Ok(TypedFunc {
            func: *self,
            entry,
            _marker: PhantomData,
        })
    }
}

/// A function with statically known parameter and result types.
pub struct TypedFunc<Params, Results> {
    func: Func,
    /// Resolved by [`Func::typed`]: calls go straight to the trampoline.
    entry: crate::vm::Entry,
    _marker: PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

impl<P, R> std::fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFunc")
            .field("func", &self.func)
            .finish()
    }
}

/// Slots kept on the stack for typed calls; more spill to the heap.
const INLINE_SLOTS: usize = 8;

impl<P: WasmList, R: WasmList> TypedFunc<P, R> {
    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }

    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R> {
        call_typed(
            &mut store.as_context_mut().0.opaque,
            self.func,
            self.entry,
            params,
        )
    }

    /// Calls the function on a fiber (see [`Func::call_async`]).
    pub async fn call_async(&self, mut store: impl AsContextMut, params: P) -> Result<R> {
        let (func, entry) = (self.func, self.entry);
        let store = &mut store.as_context_mut().0.opaque;
        crate::vm::on_fiber(store, move |s| call_typed(s, func, entry, params))?.await
    }
}

#[inline]
fn call_typed<P: WasmList, R: WasmList>(
    store: &mut StoreOpaque,
    func: Func,
    entry: crate::vm::Entry,
    params: P,
) -> Result<R> {
    {
        let n = P::LEN.max(R::LEN).max(1);
        let mut inline = [ValRaw::default(); INLINE_SLOTS];
        let mut heap;
        let slots: &mut [ValRaw] = if n <= INLINE_SLOTS {
            &mut inline[..n]
        } else {
            heap = vec![ValRaw::default(); n];
            &mut heap
        };
        params.store_raw(&mut RawStore(store), slots)?;
        crate::vm::call_entry(store, func, entry, slots)?;
        Ok(R::load_raw(&mut RawStore(store), slots))
    }
}

/// Async host closures: `Fn(Caller<T>, Params) -> Box<dyn Future<Output = R>>`
/// where `Params` is a tuple of [`WasmTy`] (e.g. `(i32, i64)` or `()`).
pub type AsyncHostFuture<'a, R> = Box<dyn std::future::Future<Output = R> + Send + 'a>;

impl Func {
    /// A host function whose body is a future. Calling it from wasm that
    /// runs under [`Func::call_async`] suspends the wasm (its fiber) while
    /// the future is pending; calling it outside an async call traps with
    /// an error saying so.
    pub fn wrap_async<T: 'static, P: WasmList, R: WasmRet + 'static>(
        mut store: impl AsContextMut<Data = T>,
        f: impl for<'a> Fn(Caller<'a, T>, P) -> AsyncHostFuture<'a, R> + Send + Sync + 'static,
    ) -> Func {
        let ty = FuncType::new(P::valtypes(), R::Results::valtypes());
        let call = move |sp: *mut StoreOpaque, caller_vmctx: *mut u8, raw: &mut [ValRaw]| {
            // SAFETY: `sp` is the `StoreInner<T>` this function was created
            // in, exclusively ours while the host call runs.
            let inner = unsafe { &mut *(sp as *mut crate::store::StoreInner<T>) };
            let params = P::load_raw(&mut RawStore(&mut inner.opaque), raw);
            let caller = crate::vm::caller_instance(&inner.opaque, caller_vmctx);
            let fut = f(
                Caller {
                    store: StoreContextMut(inner),
                    caller,
                },
                params,
            );
            let mut fut = Box::into_pin(fut);
            let r = crate::vm::block_on(fut.as_mut())?.into_result()?;
            drop(fut);
            // SAFETY: as above; the future (and its borrow) is gone.
            let inner = unsafe { &mut *(sp as *mut crate::store::StoreInner<T>) };
            r.store_raw(&mut RawStore(&mut inner.opaque), raw)
        };
        crate::vm::new_host_func_raw(&mut store.as_context_mut().0.opaque, ty, Box::new(call))
    }

    /// Calls the function on a fiber, so that async host functions it
    /// reaches can await futures (requires [`crate::Config::async_support`]).
    /// The returned future is `Send` when the store data is: it may be polled
    /// on a different thread each time (e.g. by a multi-threaded executor).
    pub async fn call_async(
        &self,
        mut store: impl AsContextMut,
        params: &[crate::Val],
        results: &mut [crate::Val],
    ) -> Result<()> {
        let func = *self;
        let store = &mut store.as_context_mut().0.opaque;
        crate::vm::on_fiber(store, move |s| {
            crate::vm::call_func(s, func, params, results)
        })?
        .await
    }
}
