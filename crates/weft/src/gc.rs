//! References to GC values (`anyref`, `eqref`, `structref`, `arrayref`,
//! `i31ref`) for the embedder.
//!
//! An [`AnyRef`] is a root: the store keeps the value alive, and the
//! collector updates the root when it moves the object, until
//! [`AnyRef::unroot`] (or the store's drop). Copies of an `AnyRef` name
//! the same root.
//!
//! ```
//! use weft::{AnyKind, Engine, Instance, Module, Store, Val};
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module
//!   (type $point (struct (field $x (mut i32)) (field $y (mut i32))))
//!   (func (export "make") (param i32 i32) (result (ref $point))
//!     (struct.new $point (local.get 0) (local.get 1)))
//!   (func (export "sum") (param (ref null $point)) (result i32)
//!     (i32.add (struct.get $point $x (local.get 0))
//!              (struct.get $point $y (local.get 0)))))"#)?;
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let make = instance.get_func(&mut store, "make").unwrap();
//! let mut out = [Val::I32(0)];
//! make.call(&mut store, &[Val::I32(3), Val::I32(4)], &mut out)?;
//! // A rooted handle: it stays valid while the collector moves the struct.
//! let Val::AnyRef(Some(p)) = out[0].clone() else { unreachable!() };
//! assert_eq!(p.kind(&store), AnyKind::Struct);
//! assert_eq!(p.field(&store, 1)?, 4);
//! p.set_field(&mut store, 0, 10)?;
//! let sum = instance.get_func(&mut store, "sum").unwrap();
//! sum.call(&mut store, &[Val::AnyRef(Some(p))], &mut out)?;
//! assert_eq!(out[0].unwrap_i32(), 14);
//! p.unroot(&mut store);
//! # Ok::<(), weft::Error>(())
//! ```

use crate::store::{AsContext, AsContextMut, StoreId};
use crate::vm::StoreOpaque;
use crate::{ExternRef, Result};
use anyhow::bail;
use weft_environ::gc_object;

/// A rooted reference to a value of the `any` hierarchy: a struct, an
/// array, an `i31`, or a host reference converted with
/// `any.convert_extern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnyRef {
    pub(crate) store: StoreId,
    pub(crate) root: u32,
}

/// What an [`AnyRef`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyKind {
    /// An `i31` (the value, sign-extended from 31 bits).
    I31(i32),
    /// A struct object.
    Struct,
    /// An array object of this length.
    Array(u32),
    /// A host reference (an `externref` converted with `any.convert_extern`).
    Host,
}

/// Statistics of a store's GC object heap (see [`crate::Store::gc_heap_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GcHeapStats {
    /// Collections so far.
    pub collections: u64,
    /// Bytes of live objects after the last collection.
    pub bytes_live: usize,
    /// Bytes allocated between the two last collections.
    pub bytes_allocated_before_last: u64,
    /// The most bytes live objects may take (`Config::gc_heap_max_size`).
    pub capacity: usize,
    /// Pause of the last collection, in nanoseconds.
    pub last_pause_ns: u64,
    /// Sum of all pauses, in nanoseconds.
    pub total_pause_ns: u64,
    /// Roots the embedder holds.
    pub host_roots: usize,
    /// Host values behind `externref`s still alive.
    pub host_values: usize,
}

impl AnyRef {
    /// Roots the raw (non-null) reference `raw`.
    pub(crate) fn root(store: &mut StoreOpaque, raw: u64) -> AnyRef {
        AnyRef {
            store: store.id,
            root: store.gc_roots.add(raw),
        }
    }

    /// The raw reference (valid until the next allocation).
    pub(crate) fn raw(&self, store: &StoreOpaque) -> u64 {
        assert!(self.store == store.id, "AnyRef used with another store");
        let raw = store.gc_roots.get(self.root);
        assert!(raw != 0, "AnyRef used after unroot");
        raw
    }

    /// An `i31ref` of the low 31 bits of `value`.
    pub fn from_i31(mut store: impl AsContextMut, value: i32) -> AnyRef {
        let store = store.as_context_mut().0;
        let raw = u64::from(((value as u32) << 1) | 1);
        AnyRef::root(store, raw)
    }

    /// `any.convert_extern` of a host reference.
    pub fn from_extern(mut store: impl AsContextMut, e: ExternRef) -> Result<AnyRef> {
        let store = store.as_context_mut().0;
        store.check(e.store, "extern reference");
        let raw = e.to_raw(store) as u64;
        Ok(AnyRef::root(store, raw))
    }

    /// `extern.convert_any`: the host reference this was made from, or an
    /// `ExternRef` wrapping the object.
    pub fn to_extern(&self, mut store: impl AsContextMut) -> ExternRef {
        let store = store.as_context_mut().0;
        let raw = self.raw(store);
        ExternRef::from_raw_gc(store, raw as usize).expect("non-null")
    }

    /// What the reference refers to.
    pub fn kind(&self, store: impl AsContext) -> AnyKind {
        let store = store.as_context().0;
        kind_of(self.raw(store))
    }

    /// The host value, if this is a host reference converted with
    /// `any.convert_extern`.
    pub fn host_data<'a>(
        &self,
        store: &'a impl AsContext,
    ) -> Option<&'a (dyn std::any::Any + Send + Sync)> {
        let store = store.as_context().0;
        let raw = self.raw(store);
        if raw & gc_object::TAG_MASK != gc_object::HOST_TAG {
            return None;
        }
        store.extern_refs.get(((raw >> 3) - 1) as usize)
    }

    /// The `i31` value (sign-extended), if this is an `i31ref`.
    pub fn as_i31(&self, store: impl AsContext) -> Option<i32> {
        match self.kind(store) {
            AnyKind::I31(v) => Some(v),
            _ => None,
        }
    }

    /// Field `index` of a struct, or element `index` of an array, as a
    /// raw little-endian value: the field's bytes zero-extended (`i8` and
    /// `i16` fields read unsigned; references are raw bits, use
    /// [`AnyRef::ref_field`] for them).
    pub fn field(&self, store: impl AsContext, index: u32) -> Result<u128> {
        let store = store.as_context().0;
        let (at, size, _) = field_addr(store, self.raw(store), index)?;
        // SAFETY: `field_addr` checked that the field lies in the object.
        Ok(unsafe { crate::vm::gc_read_field(at, size) })
    }

    /// Writes field or element `index` (see [`AnyRef::field`]): plain
    /// data only, and only into mutable fields.
    pub fn set_field(&self, mut store: impl AsContextMut, index: u32, value: u128) -> Result<()> {
        let store = store.as_context_mut().0;
        let (at, size, is_ref) = field_addr(store, self.raw(store), index)?;
        if is_ref {
            bail!("field {index} holds a reference; set it with `set_ref_field`");
        }
        // SAFETY: `field_addr` checked that the field lies in the object.
        unsafe { crate::vm::gc_write_field(at, size, value) };
        Ok(())
    }

    /// A reference field or element `index`, rooted (`None` for null).
    pub fn ref_field(&self, mut store: impl AsContextMut, index: u32) -> Result<Option<AnyRef>> {
        let store = store.as_context_mut().0;
        let (at, size, is_ref) = field_addr(store, self.raw(store), index)?;
        if !is_ref {
            bail!("field {index} is not a reference");
        }
        // SAFETY: `field_addr` checked that the field lies in the object.
        let raw = unsafe { crate::vm::gc_read_field(at, size) } as u64;
        Ok((raw != 0).then(|| AnyRef::root(store, raw)))
    }

    /// Writes reference field or element `index` (mutable fields only):
    /// `value` must be of the field's type (checked), `None` for null.
    pub fn set_ref_field(
        &self,
        mut store: impl AsContextMut,
        index: u32,
        value: Option<AnyRef>,
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        let raw = match value {
            Some(v) => v.raw(store),
            None => 0,
        };
        let (at, size, is_ref) = field_addr(store, self.raw(store), index)?;
        if !is_ref {
            bail!("field {index} is not a reference; set it with `set_field`");
        }
        let (heap, nullable) = field_ref_type(store, self.raw(store), index)?;
        if raw == 0 && !nullable {
            bail!("field {index} is not nullable");
        }
        if raw != 0 && !store.any_matches(raw, &heap) {
            bail!("the value is not of field {index}'s type ({heap})");
        }
        // SAFETY: `field_addr` checked that the field lies in the object.
        unsafe { crate::vm::gc_write_field(at, size, u128::from(raw)) };
        Ok(())
    }

    /// Releases the root; the value may then be collected.
    pub fn unroot(self, mut store: impl AsContextMut) {
        let store = store.as_context_mut().0;
        assert!(self.store == store.id, "AnyRef used with another store");
        store.gc_roots.remove(self.root);
    }
}

/// The kind of the non-null raw reference `raw`.
pub(crate) fn kind_of(raw: u64) -> AnyKind {
    if raw & gc_object::I31_TAG != 0 {
        AnyKind::I31(((raw as u32) as i32) >> 1)
    } else if raw & gc_object::TAG_MASK == gc_object::HOST_TAG {
        AnyKind::Host
    } else {
        // SAFETY: a rooted untagged reference is a live object.
        let header = unsafe { *(raw as *const u32) };
        if header >> gc_object::KIND_SHIFT == gc_object::KIND_ARRAY {
            // SAFETY: arrays have a length word.
            AnyKind::Array(unsafe { *((raw + u64::from(gc_object::ARRAY_LEN)) as *const u32) })
        } else {
            AnyKind::Struct
        }
    }
}

/// The heap type and nullability of reference field/element `index` of
/// object `raw` (which must have one).
fn field_ref_type(store: &StoreOpaque, raw: u64, index: u32) -> Result<(crate::HeapType, bool)> {
    // SAFETY: a rooted untagged reference is a live object.
    let header = unsafe { *(raw as *const u32) };
    let id = header & gc_object::ID_MASK;
    match store.engine.inner.types.field_ref_type(id, index) {
        Some((heap, nullable, mutable)) => {
            if !mutable {
                bail!("field {index} is immutable");
            }
            Ok((heap, nullable))
        }
        None => bail!("field {index} is not a reference of the `any` hierarchy"),
    }
}

/// (address, size, is a reference) of field/element `index` of object `raw`.
fn field_addr(store: &StoreOpaque, raw: u64, index: u32) -> Result<(usize, u32, bool)> {
    use crate::vm::ObjLayout;
    if raw & gc_object::TAG_MASK != 0 {
        bail!("not a struct or array");
    }
    // SAFETY: a rooted untagged reference is a live object.
    let header = unsafe { *(raw as *const u32) };
    let Some(layout) = store.objects.layout(header & gc_object::ID_MASK) else {
        bail!("object of an unknown type");
    };
    match layout {
        ObjLayout::Struct { fields, .. } => {
            let Some((off, k)) = fields.get(index as usize) else {
                bail!("struct has no field {index}");
            };
            Ok((
                raw as usize + *off as usize,
                k.size(),
                *k == weft_environ::gc::FieldKind::GcRef,
            ))
        }
        ObjLayout::Array { elem, kind } => {
            // SAFETY: arrays have a length word.
            let len = unsafe { *((raw + u64::from(gc_object::ARRAY_LEN)) as *const u32) };
            if index >= len {
                bail!("array index {index} out of bounds (length {len})");
            }
            Ok((
                raw as usize + gc_object::FIELDS as usize + (*elem * index) as usize,
                *elem,
                *kind == weft_environ::gc::FieldKind::GcRef,
            ))
        }
    }
}
