//! Engine-wide canonical type ids.
//!
//! Two function types get the same id exactly when they are equivalent under
//! WebAssembly's iso-recursive type equality: their recursion groups have
//! the same shape, with references inside a group compared by position and
//! references outside compared by canonical id. `call_indirect` and import
//! matching then only compare two `u32`s.
//!
//! The key also covers what the custom-descriptors proposal adds: whether
//! a reference is exact (`(ref (exact $t))` differs from `(ref $t)`) and a
//! struct type's `descriptor`/`describes` clauses, so types that differ
//! only in those get distinct ids.
//!
//! Ids are never reused while the engine lives.

use crate::types::{FuncType, HeapType, RefType, ValType};
use std::collections::HashMap;
use std::sync::Mutex;
use weft_environ::ModuleInfo;
use weft_environ::wasmparser::{
    self as wp, AbstractHeapType, CompositeInnerType, StorageType, UnpackedIndex,
};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CHeap {
    Abstract(AbstractHeapType, bool),
    /// Index within the same recursion group.
    Internal(u32),
    /// Canonical id of a type in an earlier group.
    External(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CVal {
    I32,
    I64,
    F32,
    F64,
    V128,
    I8,
    I16,
    Ref {
        nullable: bool,
        /// `(exact $t)` (custom descriptors).
        exact: bool,
        heap: CHeap,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CComposite {
    Func(Vec<CVal>, Vec<CVal>),
    Struct(Vec<(CVal, bool)>),
    Array(CVal, bool),
    Cont(CHeap),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CSub {
    is_final: bool,
    shared: bool,
    supertypes: Vec<CHeap>,
    /// The `descriptor` clause (custom descriptors).
    descriptor: Option<CHeap>,
    /// The `describes` clause.
    describes: Option<CHeap>,
    composite: CComposite,
}

struct Entry {
    /// The API view of the type when it is a function type.
    func: Option<FuncType>,
    /// The declared supertype's canonical id.
    sup: Option<u32>,
    /// Whether this is an array type (else struct, function or
    /// continuation type).
    is_array: bool,
    /// Struct fields (or an array's one element type): each its reference
    /// type if it is a reference, and whether it is mutable.
    fields: Vec<(Option<RefType>, bool)>,
}

#[derive(Default)]
struct Inner {
    groups: HashMap<Vec<CSub>, u32>,
    entries: Vec<Entry>,
}

/// The registry. One per engine.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    inner: Mutex<Inner>,
}

impl TypeRegistry {
    /// Registers every type of `info`; returns the canonical id of each
    /// module type index.
    pub(crate) fn register_module(&self, info: &ModuleInfo) -> Vec<u32> {
        let mut inner = self.inner.lock().unwrap();
        let mut ids: Vec<u32> = Vec::with_capacity(info.types.len());
        let mut i = 0usize;
        while i < info.types.len() {
            let start = info.types[i].rec_group_start as usize;
            let len = info.types[i].rec_group_len as usize;
            debug_assert_eq!(start, i);
            let group = &info.types[start..start + len];
            let resolve = |idx: u32| -> CHeap {
                let idx = idx as usize;
                if idx >= start && idx < start + len {
                    CHeap::Internal((idx - start) as u32)
                } else {
                    CHeap::External(ids[idx])
                }
            };
            let key: Vec<CSub> = group.iter().map(|t| canon_sub(&t.sub, &resolve)).collect();
            let first = match inner.groups.get(&key) {
                Some(first) => *first,
                None => {
                    let first = inner.entries.len() as u32;
                    for (k, t) in group.iter().enumerate() {
                        let func = t.as_func().map(|f| {
                            api_func_type(
                                f,
                                &|idx: u32| {
                                    let idx = idx as usize;
                                    if idx >= start && idx < start + len {
                                        first + (idx - start) as u32
                                    } else {
                                        ids[idx]
                                    }
                                },
                                info,
                            )
                        });
                        let _ = k;
                        let sup = t.sub.supertype_idxs.first().map(|i| {
                            let idx = module_index(&i.unpack()) as usize;
                            if idx >= start && idx < start + len {
                                first + (idx - start) as u32
                            } else {
                                ids[idx]
                            }
                        });
                        let is_array =
                            matches!(t.sub.composite_type.inner, CompositeInnerType::Array(_));
                        let id_of = |idx: u32| {
                            let idx = idx as usize;
                            if idx >= start && idx < start + len {
                                first + (idx - start) as u32
                            } else {
                                ids[idx]
                            }
                        };
                        let field = |f: &wp::FieldType| {
                            let r = match f.element_type {
                                StorageType::Val(wp::ValType::Ref(r)) => {
                                    Some(api_ref_type(&r, &id_of, info))
                                }
                                _ => None,
                            };
                            (r, f.mutable)
                        };
                        let fields = match &t.sub.composite_type.inner {
                            CompositeInnerType::Struct(st) => st.fields.iter().map(field).collect(),
                            CompositeInnerType::Array(a) => vec![field(&a.0)],
                            _ => Vec::new(),
                        };
                        inner.entries.push(Entry {
                            func,
                            sup,
                            is_array,
                            fields,
                        });
                    }
                    inner.groups.insert(key, first);
                    first
                }
            };
            for k in 0..len {
                ids.push(first + k as u32);
            }
            i += len;
        }
        ids
    }

    /// Registers an API function type (a final type alone in its group).
    pub(crate) fn register_func_type(&self, ty: &FuncType) -> u32 {
        let mut inner = self.inner.lock().unwrap();
        let conv = |v: &ValType| -> CVal {
            match v {
                ValType::I32 => CVal::I32,
                ValType::I64 => CVal::I64,
                ValType::F32 => CVal::F32,
                ValType::F64 => CVal::F64,
                ValType::V128 => CVal::V128,
                ValType::Ref(r) => CVal::Ref {
                    nullable: r.nullable,
                    exact: r.heap.is_exact(),
                    heap: api_heap(&r.heap),
                },
            }
        };
        let key = vec![CSub {
            is_final: true,
            shared: false,
            supertypes: Vec::new(),
            descriptor: None,
            describes: None,
            composite: CComposite::Func(
                ty.params().iter().map(conv).collect(),
                ty.results().iter().map(conv).collect(),
            ),
        }];
        if let Some(id) = inner.groups.get(&key) {
            return *id;
        }
        let id = inner.entries.len() as u32;
        inner.entries.push(Entry {
            func: Some(ty.clone()),
            sup: None,
            is_array: false,
            fields: Vec::new(),
        });
        inner.groups.insert(key, id);
        id
    }

    /// Whether canonical type `sub` is `sup` or declares it (directly or
    /// through its supertypes) as a supertype. Canonical ids make this
    /// exact: equivalent types have one id.
    pub(crate) fn is_subtype(&self, mut sub: u32, sup: u32) -> bool {
        let inner = self.inner.lock().unwrap();
        loop {
            if sub == sup {
                return true;
            }
            match inner.entries.get(sub as usize).and_then(|e| e.sup) {
                Some(s) => sub = s,
                None => return false,
            }
        }
    }

    /// Whether heap type `have` is a subtype of `want` (the GC proposal's
    /// rules over abstract and concrete heap types).
    pub(crate) fn heap_subtype(&self, have: &HeapType, want: &HeapType) -> bool {
        use HeapType as H;
        if have == want {
            return true;
        }
        let is_array = |id: u32| {
            self.inner
                .lock()
                .unwrap()
                .entries
                .get(id as usize)
                .is_some_and(|e| e.is_array)
        };
        match (have, want) {
            // `(exact $t)` <: `$t` and whatever `$t` is a subtype of; only
            // `(exact $t)` itself (equal above) and bottoms are below it.
            (h, w) if h.is_exact() => self.heap_subtype(&h.inexact(), w),
            (H::None, w) => w.is_any(),
            (H::NoFunc, w) => w.is_func(),
            (H::NoExtern, H::Extern) | (H::NoExn, H::Exn) => true,
            (H::NoCont, w) => w.is_cont(),
            (H::I31 | H::Struct | H::Array, H::Eq | H::Any) => true,
            (H::Eq, H::Any) => true,
            (H::Concrete(_), H::Eq | H::Any) => true,
            (H::Concrete(id), H::Struct) => !is_array(*id),
            (H::Concrete(id), H::Array) => is_array(*id),
            (H::Concrete(a), H::Concrete(b))
            | (H::ConcreteFunc(a), H::ConcreteFunc(b))
            | (H::ConcreteCont(a), H::ConcreteCont(b)) => self.is_subtype(*a, *b),
            (H::ConcreteFunc(_), H::Func) | (H::ConcreteCont(_), H::Cont) => true,
            _ => false,
        }
    }

    /// The reference type of field `index` of struct type `id` (or of the
    /// elements of array type `id`, for any index), with whether it is
    /// mutable; `None` if it is not a reference field.
    pub(crate) fn field_ref_type(&self, id: u32, index: u32) -> Option<(HeapType, bool, bool)> {
        let inner = self.inner.lock().unwrap();
        let e = inner.entries.get(id as usize)?;
        let i = if e.is_array { 0 } else { index as usize };
        let (r, mutable) = e.fields.get(i)?;
        r.as_ref().map(|r| (r.heap, r.nullable, *mutable))
    }

    /// The function type with canonical id `id`.
    pub(crate) fn func_type(&self, id: u32) -> Option<FuncType> {
        self.inner
            .lock()
            .unwrap()
            .entries
            .get(id as usize)?
            .func
            .clone()
    }
}

fn api_heap(h: &HeapType) -> CHeap {
    use AbstractHeapType as A;
    match h {
        HeapType::Func => CHeap::Abstract(A::Func, false),
        HeapType::NoFunc => CHeap::Abstract(A::NoFunc, false),
        HeapType::Extern => CHeap::Abstract(A::Extern, false),
        HeapType::NoExtern => CHeap::Abstract(A::NoExtern, false),
        HeapType::Any => CHeap::Abstract(A::Any, false),
        HeapType::Eq => CHeap::Abstract(A::Eq, false),
        HeapType::I31 => CHeap::Abstract(A::I31, false),
        HeapType::Struct => CHeap::Abstract(A::Struct, false),
        HeapType::Array => CHeap::Abstract(A::Array, false),
        HeapType::None => CHeap::Abstract(A::None, false),
        HeapType::Exn => CHeap::Abstract(A::Exn, false),
        HeapType::NoExn => CHeap::Abstract(A::NoExn, false),
        HeapType::Cont => CHeap::Abstract(A::Cont, false),
        HeapType::NoCont => CHeap::Abstract(A::NoCont, false),
        HeapType::ConcreteFunc(id)
        | HeapType::ConcreteCont(id)
        | HeapType::Concrete(id)
        | HeapType::ExactFunc(id)
        | HeapType::ExactCont(id)
        | HeapType::Exact(id) => CHeap::External(*id),
    }
}

fn module_index(idx: &UnpackedIndex) -> u32 {
    match idx {
        UnpackedIndex::Module(i) => *i,
        other => panic!("type reference {other:?} is not a module index"),
    }
}

fn canon_heap(h: wp::HeapType, resolve: &dyn Fn(u32) -> CHeap) -> CHeap {
    match h {
        wp::HeapType::Abstract { shared, ty } => CHeap::Abstract(ty, shared),
        wp::HeapType::Concrete(idx) | wp::HeapType::Exact(idx) => resolve(module_index(&idx)),
    }
}

fn canon_val(v: &wp::ValType, resolve: &dyn Fn(u32) -> CHeap) -> CVal {
    match v {
        wp::ValType::I32 => CVal::I32,
        wp::ValType::I64 => CVal::I64,
        wp::ValType::F32 => CVal::F32,
        wp::ValType::F64 => CVal::F64,
        wp::ValType::V128 => CVal::V128,
        wp::ValType::Ref(r) => CVal::Ref {
            nullable: r.is_nullable(),
            exact: matches!(r.heap_type(), wp::HeapType::Exact(_)),
            heap: canon_heap(r.heap_type(), resolve),
        },
    }
}

fn canon_storage(s: &StorageType, resolve: &dyn Fn(u32) -> CHeap) -> CVal {
    match s {
        StorageType::I8 => CVal::I8,
        StorageType::I16 => CVal::I16,
        StorageType::Val(v) => canon_val(v, resolve),
    }
}

fn canon_sub(sub: &wp::SubType, resolve: &dyn Fn(u32) -> CHeap) -> CSub {
    let c = &sub.composite_type;
    let composite = match &c.inner {
        CompositeInnerType::Func(f) => CComposite::Func(
            f.params().iter().map(|v| canon_val(v, resolve)).collect(),
            f.results().iter().map(|v| canon_val(v, resolve)).collect(),
        ),
        CompositeInnerType::Struct(s) => CComposite::Struct(
            s.fields
                .iter()
                .map(|f| (canon_storage(&f.element_type, resolve), f.mutable))
                .collect(),
        ),
        CompositeInnerType::Array(a) => {
            CComposite::Array(canon_storage(&a.0.element_type, resolve), a.0.mutable)
        }
        CompositeInnerType::Cont(k) => CComposite::Cont(resolve(module_index(&k.0.unpack()))),
    };
    CSub {
        is_final: sub.is_final,
        shared: c.shared,
        supertypes: sub
            .supertype_idxs
            .iter()
            .map(|i| resolve(module_index(&i.unpack())))
            .collect(),
        descriptor: c.descriptor_idx.map(|i| resolve(module_index(&i.unpack()))),
        describes: c.describes_idx.map(|i| resolve(module_index(&i.unpack()))),
        composite,
    }
}

/// Converts a wasmparser value type of `info` to the API's, with concrete
/// types named by canonical id (`id_of` maps module type indices).
pub(crate) fn api_val_type(
    v: &wp::ValType,
    id_of: &dyn Fn(u32) -> u32,
    info: &ModuleInfo,
) -> ValType {
    match v {
        wp::ValType::I32 => ValType::I32,
        wp::ValType::I64 => ValType::I64,
        wp::ValType::F32 => ValType::F32,
        wp::ValType::F64 => ValType::F64,
        wp::ValType::V128 => ValType::V128,
        wp::ValType::Ref(r) => ValType::Ref(api_ref_type(r, id_of, info)),
    }
}

/// Converts a wasmparser reference type (see [`api_val_type`]).
pub(crate) fn api_ref_type(
    r: &wp::RefType,
    id_of: &dyn Fn(u32) -> u32,
    info: &ModuleInfo,
) -> RefType {
    use AbstractHeapType as A;
    let heap = match r.heap_type() {
        wp::HeapType::Abstract { ty, .. } => match ty {
            A::Func => HeapType::Func,
            A::NoFunc => HeapType::NoFunc,
            A::Extern => HeapType::Extern,
            A::NoExtern => HeapType::NoExtern,
            A::Any => HeapType::Any,
            A::Eq => HeapType::Eq,
            A::I31 => HeapType::I31,
            A::Struct => HeapType::Struct,
            A::Array => HeapType::Array,
            A::None => HeapType::None,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::Cont => HeapType::Cont,
            A::NoCont => HeapType::NoCont,
        },
        wp::HeapType::Concrete(idx) | wp::HeapType::Exact(idx) => {
            let m = module_index(&idx);
            let id = id_of(m);
            let exact = matches!(r.heap_type(), wp::HeapType::Exact(_));
            match (
                info.types
                    .get(m as usize)
                    .map(|t| &t.sub.composite_type.inner),
                exact,
            ) {
                (Some(wp::CompositeInnerType::Func(_)), false) => HeapType::ConcreteFunc(id),
                (Some(wp::CompositeInnerType::Func(_)), true) => HeapType::ExactFunc(id),
                (Some(wp::CompositeInnerType::Cont(_)), false) => HeapType::ConcreteCont(id),
                (Some(wp::CompositeInnerType::Cont(_)), true) => HeapType::ExactCont(id),
                (_, false) => HeapType::Concrete(id),
                (_, true) => HeapType::Exact(id),
            }
        }
    };
    RefType {
        nullable: r.is_nullable(),
        heap,
    }
}

fn api_func_type(f: &wp::FuncType, id_of: &dyn Fn(u32) -> u32, info: &ModuleInfo) -> FuncType {
    FuncType::new(
        f.params().iter().map(|v| api_val_type(v, id_of, info)),
        f.results().iter().map(|v| api_val_type(v, id_of, info)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(wat: &str) -> ModuleInfo {
        let bin = wat::parse_str(wat).unwrap();
        weft_environ::translate_module(&bin, weft_environ::default_features())
            .unwrap()
            .info
    }

    #[test]
    fn equal_structures_share_ids_across_modules() {
        let r = TypeRegistry::default();
        let a = r.register_module(&info("(module (type (func (param i32))) (type (func)))"));
        let b = r.register_module(&info("(module (type (func)) (type (func (param i32))))"));
        assert_eq!(a[0], b[1]);
        assert_eq!(a[1], b[0]);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn rec_groups_are_distinct_from_singletons() {
        let r = TypeRegistry::default();
        let a = r.register_module(&info("(module (rec (type (func)) (type (func))))"));
        let b = r.register_module(&info("(module (type (func)))"));
        assert_ne!(a[0], b[0]);
        assert_ne!(a[0], a[1]);
        // Same group shape again: same ids.
        let c = r.register_module(&info("(module (rec (type (func)) (type (func))))"));
        assert_eq!(a, c);
    }

    #[test]
    fn descriptor_clauses_and_exactness_distinguish_types() {
        let r = TypeRegistry::default();
        let plain = r.register_module(&info("(module (rec (type (struct)) (type (struct))))"));
        let described = r.register_module(&info(
            "(module (rec (type (descriptor 1) (struct)) (type (describes 0) (struct))))",
        ));
        assert_ne!(plain, described);
        let again = r.register_module(&info(
            "(module (rec (type $a (descriptor $b) (struct)) (type $b (describes $a) (struct))))",
        ));
        assert_eq!(described, again);
        let inexact = r.register_module(&info(
            "(module (type $s (struct)) (type (func (param (ref $s)))))",
        ));
        let exact = r.register_module(&info(
            "(module (type $s (struct)) (type (func (param (ref (exact $s))))))",
        ));
        assert_eq!(inexact[0], exact[0]);
        assert_ne!(inexact[1], exact[1]);
    }

    #[test]
    fn host_func_types_match_module_types() {
        let r = TypeRegistry::default();
        let a = r.register_module(&info("(module (type (func (param i64) (result f32))))"));
        let h = r.register_func_type(&FuncType::new([ValType::I64], [ValType::F32]));
        assert_eq!(a[0], h);
        assert_eq!(r.func_type(h).unwrap().params(), &[ValType::I64]);
    }
}
