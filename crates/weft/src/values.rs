//! Runtime values as the embedding API sees them.

use crate::store::{AsContext, AsContextMut, StoreId};
use crate::{Func, HeapType, RefType, ValType};
use std::any::Any;

/// A WebAssembly value.
#[derive(Debug, Clone)]
pub enum Val {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32`, as its bit pattern (NaN payloads are preserved).
    F32(u32),
    /// `f64`, as its bit pattern.
    F64(u64),
    /// `v128`
    V128(u128),
    /// A function reference or null.
    FuncRef(Option<Func>),
    /// An external reference or null.
    ExternRef(Option<ExternRef>),
    /// A continuation reference or null (stack switching).
    ContRef(Option<crate::ContRef>),
    /// An exception reference or null (see [`crate::ExnRef`]).
    ExnRef(Option<crate::ExnRef>),
    /// A reference of the `any` hierarchy (`anyref`, `eqref`,
    /// `structref`, `arrayref`, `i31ref`, concrete struct and array types).
    AnyRef(Option<crate::AnyRef>),
}

impl Val {
    /// The null reference of the given reference type's hierarchy.
    pub fn null_ref(ty: &RefType) -> Val {
        if ty.heap.is_extern() {
            Val::ExternRef(None)
        } else if ty.heap.is_cont() {
            Val::ContRef(None)
        } else if matches!(ty.heap, HeapType::Exn | HeapType::NoExn) {
            Val::ExnRef(None)
        } else if ty.heap.is_any() {
            Val::AnyRef(None)
        } else {
            Val::FuncRef(None)
        }
    }

    /// The default (zero / null) value of a type.
    pub fn default_for(ty: &ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) => Val::null_ref(r),
        }
    }

    /// The type of this value, as precisely as it is known without a store.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(None) => ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::NoFunc,
            }),
            Val::FuncRef(Some(_)) => ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Func,
            }),
            Val::ExternRef(None) => ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::NoExtern,
            }),
            Val::ExternRef(Some(_)) => ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Extern,
            }),
            Val::ContRef(None) => ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::NoCont,
            }),
            Val::ContRef(Some(_)) => ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Cont,
            }),
            Val::ExnRef(None) => ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::NoExn,
            }),
            Val::ExnRef(Some(_)) => ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Exn,
            }),
            Val::AnyRef(None) => ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::None,
            }),
            Val::AnyRef(Some(_)) => ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Any,
            }),
        }
    }

    /// The `i32`, panicking on another type.
    pub fn unwrap_i32(&self) -> i32 {
        match self {
            Val::I32(v) => *v,
            other => panic!("expected i32, found {other:?}"),
        }
    }

    /// The `i64`, panicking on another type.
    pub fn unwrap_i64(&self) -> i64 {
        match self {
            Val::I64(v) => *v,
            other => panic!("expected i64, found {other:?}"),
        }
    }

    /// The `f32`, panicking on another type.
    pub fn unwrap_f32(&self) -> f32 {
        match self {
            Val::F32(v) => f32::from_bits(*v),
            other => panic!("expected f32, found {other:?}"),
        }
    }

    /// The `f64`, panicking on another type.
    pub fn unwrap_f64(&self) -> f64 {
        match self {
            Val::F64(v) => f64::from_bits(*v),
            other => panic!("expected f64, found {other:?}"),
        }
    }

    /// Whether this is a null reference.
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            Val::FuncRef(None)
                | Val::ExternRef(None)
                | Val::ExnRef(None)
                | Val::ContRef(None)
                | Val::AnyRef(None)
        )
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

/// A reference to a host value, owned by a store (the `externref` type),
/// or a GC value converted with `extern.convert_any`.
///
/// An `ExternRef` is a root: the store keeps what it refers to alive until
/// [`ExternRef::unroot`] (or the store's drop). Host values that neither
/// wasm nor a root can reach any more are dropped by the next collection
/// (`Store::gc`, or one the GC heap starts). Copies of an `ExternRef` name
/// the same root; [`ExternRef::same`] tells whether two roots name the same
/// reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExternRef {
    pub(crate) store: StoreId,
    /// The root (see `vm::gc::HostRoots`) holding the raw reference.
    pub(crate) root: u32,
}

impl ExternRef {
    /// Moves `value` into the store and returns a (rooted) reference to it.
    pub fn new<T: Any + Send + Sync>(mut store: impl AsContextMut, value: T) -> ExternRef {
        let store = store.as_context_mut().0;
        let index = store.extern_refs.insert(Box::new(value));
        let raw = ((index as u64 + 1) << 3) | weft_environ::gc_object::HOST_TAG;
        ExternRef::root(store, raw as usize)
    }

    /// Roots the raw (non-null) reference `raw`.
    pub(crate) fn root(store: &mut crate::vm::StoreOpaque, raw: usize) -> ExternRef {
        ExternRef {
            store: store.id,
            root: store.gc_roots.add(raw as u64),
        }
    }

    fn raw_in(&self, store: &crate::vm::StoreOpaque) -> u64 {
        assert_eq!(
            store.id, self.store,
            "ExternRef used with a different store"
        );
        let raw = store.gc_roots.get(self.root);
        assert!(raw != 0, "ExternRef used after unroot");
        raw
    }

    /// The host value behind the reference; `()` for a GC value converted
    /// with `extern.convert_any` (see [`ExternRef::as_any`]).
    pub fn data<'a>(&self, store: &'a impl AsContext) -> &'a (dyn Any + Send + Sync) {
        let store = store.as_context().0;
        let raw = self.raw_in(store);
        if raw & weft_environ::gc_object::TAG_MASK == weft_environ::gc_object::HOST_TAG {
            store
                .extern_refs
                .get(((raw >> 3) - 1) as usize)
                .expect("a rooted host value is alive")
        } else {
            &()
        }
    }

    /// The GC value this reference wraps (`extern.convert_any`), rooted
    /// anew, if it is one.
    pub fn as_any(&self, mut store: impl AsContextMut) -> Option<crate::AnyRef> {
        let store = store.as_context_mut().0;
        let raw = self.raw_in(store);
        (raw & weft_environ::gc_object::TAG_MASK != weft_environ::gc_object::HOST_TAG)
            .then(|| crate::AnyRef::root(store, raw))
    }

    /// Whether `self` and `other` refer to the same host value or object.
    pub fn same(&self, other: &ExternRef, store: impl AsContext) -> bool {
        let store = store.as_context().0;
        self.raw_in(store) == other.raw_in(store)
    }

    /// Releases the root; the value may then be reclaimed.
    pub fn unroot(self, mut store: impl AsContextMut) {
        let store = store.as_context_mut().0;
        assert_eq!(
            store.id, self.store,
            "ExternRef used with a different store"
        );
        store.gc_roots.remove(self.root);
    }

    /// The raw value stored in tables and passed to wasm: a host
    /// reference is `(index + 1) << 3 | 4` (see `weft_environ::gc_object`),
    /// so that 0 stays null and host references never look like objects
    /// or `i31`s; a wrapped GC value is its own raw reference.
    pub(crate) fn to_raw(self, store: &crate::vm::StoreOpaque) -> usize {
        self.raw_in(store) as usize
    }

    /// Inverse of [`ExternRef::to_raw`], rooting the value; `None` for null.
    pub(crate) fn from_raw_gc(store: &mut crate::vm::StoreOpaque, raw: usize) -> Option<ExternRef> {
        (raw != 0).then(|| ExternRef::root(store, raw))
    }
}
