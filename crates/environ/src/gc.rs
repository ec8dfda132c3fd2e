//! Layouts of managed-heap objects (GC structs and arrays), shared by the
//! compiler, which emits field accesses, and the runtime, which allocates,
//! traces and copies objects.
//!
//! ```text
//!   struct (type (struct (field i8) (field (ref null any)) (field i32)))
//!     +0   header   type id | kind          (gc_object::HEADER)
//!     +4   0                                 (gc_object::ARRAY_LEN)
//!     +8   i8       field 0
//!     +16  anyref   field 1   (8-aligned: traced by the collector)
//!     +24  i32      field 2
//!     size 32 (rounded up to gc_object::ALIGN)
//!
//!   array (type (array (mut i16)))  of length n
//!     +0   header
//!     +4   n
//!     +8   element 0, element 1, ... (2 bytes each)
//!     size 8 + 2n rounded up to 8
//! ```
//!
//! Fields are placed in declaration order, each aligned to its own size
//! (at most 8; `v128` fields are 16 bytes at 8-byte alignment, which
//! x86_64 loads handle). Declaration order keeps a subtype's layout a
//! prefix of its own (subtypes only append fields), so a field access
//! through a supertype reads the same offset.
//!
//! A struct type with a descriptor (`(descriptor $d)`, custom-descriptors
//! proposal) holds a reference to its descriptor object in a hidden first
//! field, before the declared ones:
//!
//! ```text
//!   (type $t (descriptor $d) (struct (field i32)))
//!     +0   header
//!     +4   0
//!     +8   (ref (exact $d))  descriptor  (StructLayout::descriptor; traced)
//!     +16  i32      field 0
//!     size 24
//! ```
//!
//! Validation keeps this a prefix too: a subtype has a descriptor exactly
//! when its supertype has one (the proposal's rule since
//! WebAssembly/custom-descriptors#111, which wasmparser 0.263 enforces), so
//! every subtype of a described type has its descriptor at +8.

use crate::vmoffsets::gc_object;
use wasmparser::{AbstractHeapType, HeapType, StorageType, StructType, ValType};

/// How a field or element is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Plain bits of the given size (1, 2, 4, 8 or 16 bytes).
    Bits(u8),
    /// A reference into the managed heap (`anyref` family, `externref`,
    /// `exnref`): 8 bytes, traced and updated by the collector.
    GcRef,
    /// A continuation reference (`contref`, tagged: see
    /// `vmoffsets::contref`): 8 bytes, traced by the collector (it keeps
    /// the continuation alive) but never changed by it.
    ContRef,
    /// A reference the collector does not trace (`funcref`): 8 bytes.
    OtherRef,
}

impl FieldKind {
    /// Size in bytes.
    pub fn size(self) -> u32 {
        match self {
            FieldKind::Bits(n) => u32::from(n),
            FieldKind::GcRef | FieldKind::ContRef | FieldKind::OtherRef => 8,
        }
    }
}

/// Whether values of reference type with heap type `h` live on the
/// managed heap (and so must be traced, updated when objects move, and
/// recorded in stack maps).
pub fn is_gc_heap_type(h: HeapType) -> bool {
    match h {
        HeapType::Abstract { ty, .. } => matches!(
            ty,
            AbstractHeapType::Any
                | AbstractHeapType::Eq
                | AbstractHeapType::I31
                | AbstractHeapType::Struct
                | AbstractHeapType::Array
                | AbstractHeapType::None
                | AbstractHeapType::Extern
                | AbstractHeapType::NoExtern
                | AbstractHeapType::Exn
                | AbstractHeapType::NoExn
        ),
        // Concrete types: struct and array types are GC types; function
        // and continuation types are not. The caller resolves concrete
        // indices with `ModuleInfo::is_gc_type` where it can; here any
        // concrete type counts (conservatively) as managed.
        HeapType::Concrete(_) | HeapType::Exact(_) => true,
    }
}

/// The storage kind of a value type. `concrete(i)` is the kind of a
/// reference to concrete module type `i` ([`FieldKind::GcRef`] for struct
/// and array types, [`FieldKind::ContRef`] for continuation types,
/// [`FieldKind::OtherRef`] for function types).
pub fn val_kind(v: ValType, concrete: &dyn Fn(u32) -> FieldKind) -> FieldKind {
    match v {
        ValType::I32 | ValType::F32 => FieldKind::Bits(4),
        ValType::I64 | ValType::F64 => FieldKind::Bits(8),
        ValType::V128 => FieldKind::Bits(16),
        ValType::Ref(r) => match r.heap_type() {
            HeapType::Concrete(i) | HeapType::Exact(i) => match i.as_module_index() {
                Some(m) => concrete(m),
                None => FieldKind::GcRef,
            },
            HeapType::Abstract {
                ty: AbstractHeapType::Cont | AbstractHeapType::NoCont,
                ..
            } => FieldKind::ContRef,
            h if is_gc_heap_type(h) => FieldKind::GcRef,
            _ => FieldKind::OtherRef,
        },
    }
}

/// The storage kind of a field's storage type (see [`val_kind`]).
pub fn storage_kind(s: StorageType, concrete: &dyn Fn(u32) -> FieldKind) -> FieldKind {
    match s {
        StorageType::I8 => FieldKind::Bits(1),
        StorageType::I16 => FieldKind::Bits(2),
        StorageType::Val(v) => val_kind(v, concrete),
    }
}

/// Where each field of a struct type lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructLayout {
    /// Object size in bytes, header included, a multiple of
    /// `gc_object::ALIGN`.
    pub size: u32,
    /// `(offset from the object's address, kind)` per declared field.
    pub fields: Vec<(u32, FieldKind)>,
    /// Offset of the hidden descriptor reference (a [`FieldKind::GcRef`],
    /// never null once the object is initialised), for struct types with a
    /// descriptor.
    pub descriptor: Option<u32>,
}

impl StructLayout {
    /// Lays out `fields` (see the module docs), without a descriptor.
    pub fn new(fields: impl IntoIterator<Item = FieldKind>) -> StructLayout {
        StructLayout::with_descriptor(false, fields)
    }

    /// Lays out `fields` after a hidden descriptor reference when
    /// `descriptor` is set (see the module docs).
    pub fn with_descriptor(
        descriptor: bool,
        fields: impl IntoIterator<Item = FieldKind>,
    ) -> StructLayout {
        let mut off = gc_object::FIELDS;
        let descriptor = descriptor.then(|| {
            let at = off;
            off += FieldKind::GcRef.size();
            at
        });
        let mut out = Vec::new();
        for k in fields {
            let align = k.size().min(8);
            off = off.next_multiple_of(align);
            out.push((off, k));
            off += k.size();
        }
        StructLayout {
            size: off.next_multiple_of(gc_object::ALIGN),
            fields: out,
            descriptor,
        }
    }

    /// The layout of a wasmparser struct type, with a hidden descriptor
    /// field when `descriptor` is set (the type has a `descriptor` clause).
    pub fn of(
        s: &StructType,
        descriptor: bool,
        concrete: &dyn Fn(u32) -> FieldKind,
    ) -> StructLayout {
        StructLayout::with_descriptor(
            descriptor,
            s.fields
                .iter()
                .map(|f| storage_kind(f.element_type, concrete)),
        )
    }
}

/// Size in bytes of an array object of `len` elements of `elem` bytes, or
/// `None` if it exceeds [`gc_object::MAX_OBJECT`].
pub fn array_size(elem: u32, len: u32) -> Option<u64> {
    let bytes = u64::from(gc_object::FIELDS) + u64::from(elem) * u64::from(len);
    let bytes = bytes.next_multiple_of(u64::from(gc_object::ALIGN));
    (bytes <= gc_object::MAX_OBJECT).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_aligned_in_declaration_order() {
        let l = StructLayout::new([
            FieldKind::Bits(1),
            FieldKind::GcRef,
            FieldKind::Bits(4),
            FieldKind::Bits(2),
            FieldKind::Bits(16),
        ]);
        let offs: Vec<u32> = l.fields.iter().map(|f| f.0).collect();
        assert_eq!(offs, vec![8, 16, 24, 28, 32]);
        assert_eq!(l.size, 48);
        assert_eq!(StructLayout::new([]).size, 8);
    }

    #[test]
    fn the_descriptor_comes_first() {
        let l = StructLayout::with_descriptor(true, [FieldKind::Bits(1), FieldKind::Bits(8)]);
        assert_eq!(l.descriptor, Some(8));
        let offs: Vec<u32> = l.fields.iter().map(|f| f.0).collect();
        assert_eq!(offs, vec![16, 24]);
        assert_eq!(l.size, 32);
        let empty = StructLayout::with_descriptor(true, []);
        assert_eq!((empty.descriptor, empty.size), (Some(8), 16));
        assert_eq!(StructLayout::new([FieldKind::Bits(4)]).descriptor, None);
    }

    #[test]
    fn a_subtype_layout_extends_its_supertype() {
        let sup = StructLayout::new([FieldKind::Bits(1), FieldKind::GcRef]);
        let sub = StructLayout::new([FieldKind::Bits(1), FieldKind::GcRef, FieldKind::Bits(8)]);
        assert_eq!(&sub.fields[..2], &sup.fields[..]);
    }

    #[test]
    fn array_sizes_round_up_and_cap() {
        assert_eq!(array_size(1, 0), Some(8));
        assert_eq!(array_size(1, 1), Some(16));
        assert_eq!(array_size(2, 4), Some(16));
        assert_eq!(array_size(16, u32::MAX), None);
    }
}
