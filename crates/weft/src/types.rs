//! Types of values and of external entities, as the embedding API sees them.

use std::fmt;
use std::sync::Arc;

/// The type of a WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl ValType {
    /// `funcref`, i.e. `(ref null func)`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`, i.e. `(ref null extern)`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);
    /// `exnref`, i.e. `(ref null exn)`.
    pub const EXNREF: ValType = ValType::Ref(RefType {
        nullable: true,
        heap: HeapType::Exn,
    });

    /// `anyref`, i.e. `(ref null any)`.
    pub const ANYREF: ValType = ValType::Ref(RefType {
        nullable: true,
        heap: HeapType::Any,
    });

    /// Whether this is a reference type.
    pub fn is_ref(&self) -> bool {
        matches!(self, ValType::Ref(_))
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => write!(f, "{r}"),
        }
    }
}

/// A reference type: nullability plus heap type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefType {
    /// Whether `null` is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Func,
    };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Extern,
    };

    /// Whether values of this type are function references (as opposed to
    /// extern or GC references).
    pub fn is_func(&self) -> bool {
        self.heap.is_func()
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nullable {
            write!(f, "(ref null {})", self.heap)
        } else {
            write!(f, "(ref {})", self.heap)
        }
    }
}

/// A heap type. Concrete types are named by their engine-wide canonical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// `func`
    Func,
    /// `nofunc`
    NoFunc,
    /// `extern`
    Extern,
    /// `noextern`
    NoExtern,
    /// `any`
    Any,
    /// `eq`
    Eq,
    /// `i31`
    I31,
    /// `struct`
    Struct,
    /// `array`
    Array,
    /// `none`
    None,
    /// `exn`
    Exn,
    /// `noexn`
    NoExn,
    /// `cont` (stack switching)
    Cont,
    /// `nocont`
    NoCont,
    /// A concrete continuation type, by engine canonical type id.
    ConcreteCont(u32),
    /// A concrete function type, by engine canonical type id.
    ConcreteFunc(u32),
    /// A concrete non-function (GC) type, by engine canonical type id.
    Concrete(u32),
    /// `(exact $t)` of a continuation type (custom descriptors): that
    /// type only, no subtype.
    ExactCont(u32),
    /// `(exact $t)` of a function type.
    ExactFunc(u32),
    /// `(exact $t)` of a struct or array type.
    Exact(u32),
}

impl HeapType {
    /// Whether references of this heap type are function references.
    pub fn is_func(&self) -> bool {
        matches!(
            self,
            HeapType::Func | HeapType::NoFunc | HeapType::ConcreteFunc(_) | HeapType::ExactFunc(_)
        )
    }

    /// Whether references of this heap type are continuation references.
    pub fn is_cont(&self) -> bool {
        matches!(
            self,
            HeapType::Cont | HeapType::NoCont | HeapType::ConcreteCont(_) | HeapType::ExactCont(_)
        )
    }

    /// Whether references of this heap type belong to the `any`
    /// hierarchy (GC values).
    pub fn is_any(&self) -> bool {
        matches!(
            self,
            HeapType::Any
                | HeapType::Eq
                | HeapType::I31
                | HeapType::Struct
                | HeapType::Array
                | HeapType::None
                | HeapType::Concrete(_)
                | HeapType::Exact(_)
        )
    }

    /// Whether this is an exact heap type `(exact $t)`.
    pub fn is_exact(&self) -> bool {
        matches!(
            self,
            HeapType::ExactCont(_) | HeapType::ExactFunc(_) | HeapType::Exact(_)
        )
    }

    /// The inexact heap type `$t` of an exact `(exact $t)`; other heap
    /// types unchanged.
    pub fn inexact(self) -> HeapType {
        match self {
            HeapType::ExactCont(id) => HeapType::ConcreteCont(id),
            HeapType::ExactFunc(id) => HeapType::ConcreteFunc(id),
            HeapType::Exact(id) => HeapType::Concrete(id),
            h => h,
        }
    }

    /// Whether references of this heap type are extern references.
    pub fn is_extern(&self) -> bool {
        matches!(self, HeapType::Extern | HeapType::NoExtern)
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Func => f.write_str("func"),
            HeapType::NoFunc => f.write_str("nofunc"),
            HeapType::Extern => f.write_str("extern"),
            HeapType::NoExtern => f.write_str("noextern"),
            HeapType::Any => f.write_str("any"),
            HeapType::Eq => f.write_str("eq"),
            HeapType::I31 => f.write_str("i31"),
            HeapType::Struct => f.write_str("struct"),
            HeapType::Array => f.write_str("array"),
            HeapType::None => f.write_str("none"),
            HeapType::Exn => f.write_str("exn"),
            HeapType::NoExn => f.write_str("noexn"),
            HeapType::Cont => f.write_str("cont"),
            HeapType::NoCont => f.write_str("nocont"),
            HeapType::ConcreteCont(id) => write!(f, "(cont type #{id})"),
            HeapType::ConcreteFunc(id) => write!(f, "(func type #{id})"),
            HeapType::Concrete(id) => write!(f, "(type #{id})"),
            HeapType::ExactCont(id) => write!(f, "(exact (cont type #{id}))"),
            HeapType::ExactFunc(id) => write!(f, "(exact (func type #{id}))"),
            HeapType::Exact(id) => write!(f, "(exact (type #{id}))"),
        }
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Arc<[ValType]>,
    results: Arc<[ValType]>,
}

impl FuncType {
    /// A new function type.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        if !self.params.is_empty() {
            f.write_str(" (param")?;
            for p in self.params.iter() {
                write!(f, " {p}")?;
            }
            f.write_str(")")?;
        }
        if !self.results.is_empty() {
            f.write_str(" (result")?;
            for r in self.results.iter() {
                write!(f, " {r}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(")")
    }
}

/// Whether a global can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// `const`
    Const,
    /// `mut`
    Var,
}

/// The type of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// Content type.
    pub content: ValType,
    /// Mutability.
    pub mutability: Mutability,
}

impl GlobalType {
    /// A new global type.
    pub fn new(content: ValType, mutability: Mutability) -> GlobalType {
        GlobalType {
            content,
            mutability,
        }
    }
}

/// The type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    /// Element type.
    pub element: RefType,
    /// Minimum size in elements.
    pub min: u64,
    /// Maximum size in elements.
    pub max: Option<u64>,
    /// Whether the table is indexed with `i64` (memory64 proposal).
    pub table64: bool,
}

impl TableType {
    /// A new 32-bit-indexed table type.
    pub fn new(element: RefType, min: u32, max: Option<u32>) -> TableType {
        TableType {
            element,
            min: min.into(),
            max: max.map(Into::into),
            table64: false,
        }
    }
}

/// The type of a linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Minimum size in pages.
    pub min: u64,
    /// Maximum size in pages.
    pub max: Option<u64>,
    /// Whether the memory is indexed with `i64`.
    pub memory64: bool,
    /// Whether the memory is shared (threads proposal).
    pub shared: bool,
    /// log2 of the page size (16 unless the custom-page-sizes proposal says
    /// otherwise).
    pub page_size_log2: u8,
}

impl MemoryType {
    /// A new 32-bit memory type with 64 KiB pages.
    pub fn new(min: u32, max: Option<u32>) -> MemoryType {
        MemoryType {
            min: min.into(),
            max: max.map(Into::into),
            memory64: false,
            shared: false,
            page_size_log2: 16,
        }
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.page_size_log2
    }
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A global.
    Global(GlobalType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// An exception tag.
    Tag(FuncType),
}

impl ExternType {
    /// A short name of the kind of entity ("function", "memory", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "function",
            ExternType::Global(_) => "global",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Tag(_) => "tag",
        }
    }
}
