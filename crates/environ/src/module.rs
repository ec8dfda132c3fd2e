//! The static description of a WebAssembly module after validation.

use std::collections::HashMap;
use wasmparser::{FuncType, GlobalType, MemoryType, RefType, SubType, TableType, ValType};

/// What kind of entity an import or export refers to, with its index in the
/// module's index space of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityIndex {
    /// A function index.
    Function(u32),
    /// A table index.
    Table(u32),
    /// A memory index.
    Memory(u32),
    /// A global index.
    Global(u32),
    /// A tag index (exception handling and stack switching).
    Tag(u32),
}

/// One import of the module.
#[derive(Debug, Clone)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// The entity the import defines in this module.
    pub index: EntityIndex,
    /// A function import declared `(func (exact ...))` (custom
    /// descriptors): the provided function's type must be exactly the
    /// declared one, not a subtype.
    pub exact: bool,
}

/// A constant expression, kept as a small stack program (inline up to two
/// operators: most are one `*.const` or `global.get`, and a module may
/// have tens of thousands, e.g. one per data segment).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstExpr {
    /// Operators in order.
    pub ops: smallvec::SmallVec<[ConstOp; 2]>,
}

/// One operator of a constant expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstOp {
    /// `i32.const`
    I32Const(i32),
    /// `i64.const`
    I64Const(i64),
    /// `f32.const` (bits)
    F32Const(u32),
    /// `f64.const` (bits)
    F64Const(u64),
    /// `v128.const`
    V128Const(u128),
    /// `global.get`
    GlobalGet(u32),
    /// `ref.null` of the given heap type
    RefNull,
    /// `ref.func`
    RefFunc(u32),
    /// `i32.add`
    I32Add,
    /// `i32.sub`
    I32Sub,
    /// `i32.mul`
    I32Mul,
    /// `i64.add`
    I64Add,
    /// `i64.sub`
    I64Sub,
    /// `i64.mul`
    I64Mul,
    /// `ref.i31`
    RefI31,
    /// `struct.new` of a module type
    StructNew(u32),
    /// `struct.new_default`
    StructNewDefault(u32),
    /// `struct.new_desc`: the fields, then the descriptor
    StructNewDesc(u32),
    /// `struct.new_default_desc`: the descriptor
    StructNewDefaultDesc(u32),
    /// `array.new`
    ArrayNew(u32),
    /// `array.new_default`
    ArrayNewDefault(u32),
    /// `array.new_fixed` (type, length)
    ArrayNewFixed(u32, u32),
}

/// Where an element segment goes.
#[derive(Debug, Clone)]
pub enum SegmentMode {
    /// Applied to a table/memory at instantiation, then dropped.
    Active {
        /// Table or memory index.
        index: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Available to `table.init` / `memory.init` until dropped.
    Passive,
    /// Declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Debug, Clone)]
pub enum ElemItems {
    /// Function indices.
    Functions(Vec<u32>),
    /// Constant expressions producing references.
    Exprs(Vec<ConstExpr>),
}

impl ElemItems {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElemItems::Functions(f) => f.len(),
            ElemItems::Exprs(e) => e.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Debug, Clone)]
pub struct ElemSegment {
    /// Active, passive or declared.
    pub mode: SegmentMode,
    /// Element type.
    pub ty: RefType,
    /// The references.
    pub items: ElemItems,
}

/// A data segment.
#[derive(Debug, Clone)]
pub struct DataSegment {
    /// Active (memory index + offset) or passive.
    pub mode: SegmentMode,
    /// Where its bytes are in [`ModuleInfo::data_bytes`].
    pub range: std::ops::Range<usize>,
}

/// A table declared by the module, with its optional initial value
/// expression (function-references proposal).
#[derive(Debug, Clone)]
pub struct TableDecl {
    /// The table's type.
    pub ty: TableType,
    /// Initial value of every element; `None` means null.
    pub init: Option<ConstExpr>,
}

/// A module-level type: one member of a recursion group.
#[derive(Debug, Clone)]
pub struct ModuleType {
    /// The type as written in the module; type references inside it are
    /// module type indices.
    pub sub: SubType,
    /// Index of the first type of this type's recursion group.
    pub rec_group_start: u32,
    /// Number of types in the recursion group.
    pub rec_group_len: u32,
}

impl ModuleType {
    /// The function type, if this is a function type.
    pub fn as_func(&self) -> Option<&FuncType> {
        match &self.sub.composite_type.inner {
            wasmparser::CompositeInnerType::Func(f) => Some(f),
            _ => None,
        }
    }
}

/// Everything the compiler and runtime need to know about a module, apart
/// from function bodies.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// The module's name from the name section.
    pub name: Option<String>,
    /// Types by type index.
    pub types: Vec<ModuleType>,
    /// Type index of each function (imported functions first).
    pub functions: Vec<u32>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Tables (imported first).
    pub tables: Vec<TableDecl>,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Memories (imported first).
    pub memories: Vec<MemoryType>,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Globals (imported first).
    pub globals: Vec<GlobalType>,
    /// Initialisers of defined globals (index = global index - imported).
    pub global_inits: Vec<ConstExpr>,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Tag types (type index), imported first.
    pub tags: Vec<u32>,
    /// Number of imported tags.
    pub num_imported_tags: u32,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Exports in order.
    pub exports: Vec<(String, EntityIndex)>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elems: Vec<ElemSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// The bytes of every data segment, one after the other (one buffer
    /// rather than one per segment: Go programs have ~80,000 segments).
    pub data_bytes: Vec<u8>,
    /// Function names from the name section.
    pub func_names: HashMap<u32, String>,
}

impl ModuleInfo {
    /// The bytes of data segment `index`.
    pub fn data_segment(&self, index: usize) -> &[u8] {
        &self.data_bytes[self.data[index].range.clone()]
    }

    /// Whether module type `ty` is a struct or array type (a managed-heap
    /// object type).
    pub fn is_gc_type(&self, ty: u32) -> bool {
        matches!(
            self.types
                .get(ty as usize)
                .map(|t| &t.sub.composite_type.inner),
            Some(
                wasmparser::CompositeInnerType::Struct(_)
                    | wasmparser::CompositeInnerType::Array(_)
            )
        )
    }

    /// The layout of struct type `ty`.
    pub fn struct_layout(&self, ty: u32) -> crate::gc::StructLayout {
        match &self.types[ty as usize].sub.composite_type.inner {
            wasmparser::CompositeInnerType::Struct(s) => crate::gc::StructLayout::of(
                s,
                self.types[ty as usize]
                    .sub
                    .composite_type
                    .descriptor_idx
                    .is_some(),
                &|i| self.concrete_ref_kind(i),
            ),
            other => panic!("type {ty} is not a struct type: {other:?}"),
        }
    }

    /// The element storage and mutability of array type `ty`.
    pub fn array_elem(&self, ty: u32) -> (crate::gc::FieldKind, wasmparser::StorageType) {
        match &self.types[ty as usize].sub.composite_type.inner {
            wasmparser::CompositeInnerType::Array(a) => (
                crate::gc::storage_kind(a.0.element_type, &|i| self.concrete_ref_kind(i)),
                a.0.element_type,
            ),
            other => panic!("type {ty} is not an array type: {other:?}"),
        }
    }

    /// The field storage types of struct type `ty`.
    pub fn struct_fields(&self, ty: u32) -> Vec<wasmparser::StorageType> {
        match &self.types[ty as usize].sub.composite_type.inner {
            wasmparser::CompositeInnerType::Struct(s) => {
                s.fields.iter().map(|f| f.element_type).collect()
            }
            other => panic!("type {ty} is not a struct type: {other:?}"),
        }
    }

    /// Whether a value of type `v` is a managed-heap reference (needs a
    /// stack map, is traced).
    pub fn is_gc_ref(&self, v: ValType) -> bool {
        crate::gc::val_kind(v, &|i| self.concrete_ref_kind(i)) == crate::gc::FieldKind::GcRef
    }

    /// Whether values of `v` are continuation references (`contref`).
    pub fn is_cont_ref(&self, v: ValType) -> bool {
        crate::gc::val_kind(v, &|i| self.concrete_ref_kind(i)) == crate::gc::FieldKind::ContRef
    }

    /// How a reference to concrete module type `ty` is stored.
    pub fn concrete_ref_kind(&self, ty: u32) -> crate::gc::FieldKind {
        match self
            .types
            .get(ty as usize)
            .map(|t| &t.sub.composite_type.inner)
        {
            Some(
                wasmparser::CompositeInnerType::Struct(_)
                | wasmparser::CompositeInnerType::Array(_),
            ) => crate::gc::FieldKind::GcRef,
            Some(wasmparser::CompositeInnerType::Cont(_)) => crate::gc::FieldKind::ContRef,
            _ => crate::gc::FieldKind::OtherRef,
        }
    }

    /// The function type of function `func`.
    pub fn func_type(&self, func: u32) -> &FuncType {
        self.type_as_func(self.functions[func as usize])
    }

    /// The function type at type index `ty` (must be a function type).
    pub fn type_as_func(&self, ty: u32) -> &FuncType {
        self.types[ty as usize]
            .as_func()
            .expect("validated: type is a function type")
    }

    /// Whether function `func` is imported.
    pub fn is_imported_func(&self, func: u32) -> bool {
        func < self.num_imported_funcs
    }

    /// The VMContext layout of instances of this module.
    pub fn offsets(&self) -> crate::VMOffsets {
        crate::VMOffsets::new(
            self.functions.len() as u32,
            self.tables.len() as u32,
            self.memories.len() as u32,
            self.globals.len() as u32,
            self.tags.len() as u32,
        )
    }

    /// Name of function `func` for backtraces: the name section's name, or
    /// `None`.
    pub fn func_name(&self, func: u32) -> Option<&str> {
        self.func_names.get(&func).map(|s| s.as_str())
    }
}

/// Whether a value type is a reference type.
pub fn is_ref(ty: ValType) -> bool {
    matches!(ty, ValType::Ref(_))
}
