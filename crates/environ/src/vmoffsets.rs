//! Byte offsets of every record that generated code and the runtime share.
//!
//! These numbers are defined here once. The runtime's `#[repr(C)]` structs
//! (`weft::vm::vmcontext`) are checked against them by unit tests, and the
//! compiler only ever uses these constants.
//!
//! ```text
//! VMContext (one per instance, 16-byte aligned, never moves while the
//! instance lives)
//!
//!   +0   magic: u32 = VMCONTEXT_MAGIC, 4 bytes padding
//!   +8   store_ctx: *mut VMStoreContext    ---> the store's limits record
//!   +16  builtins:  *const [fn; N]         ---> runtime helper functions
//!   +24  type_ids:  *const u32             ---> canonical id per module type
//!   +32  instance:  *mut Instance          ---> runtime back-pointer
//!   +40  funcrefs:  [VMFuncRef; num_funcs]       imported functions first
//!   ...  tables:    [*mut VMTableDefinition; num_tables]
//!   ...  memories:  [*mut VMMemoryDefinition; num_memories]
//!   ...  globals:   [*mut VMGlobal; num_globals]
//!   ...  memory bases: [*mut u8; num_memories]   copies of each memory's
//!                   `VMMemoryDefinition::base` (bases never move), so
//!                   generated code reaches linear memory in one load
//!
//! VMFuncRef (24 bytes; a `funcref` value is a pointer to one of these)
//!   +0   wasm_call: code pointer, `tail` calling convention:
//!          fn(callee_vmctx, caller_vmctx, params...) -> results
//!   +8   vmctx: callee's VMContext (or a VMHostFuncContext)
//!   +16  type_id: u32 canonical type id, 4 bytes padding
//!
//! VMStoreContext (one per store)
//!   +0   stack_limit          lowest stack address wasm may use
//!   +8   last_wasm_exit_fp    frame pointer of the last wasm->host exit
//!   +16  last_wasm_exit_pc    return address of that exit
//!   +24  last_wasm_entry_fp   frame pointer at the last host->wasm entry
//!   +32  epoch_ptr            -> the engine's current epoch (u64)
//!   +40  epoch_deadline       wasm calls the EpochDeadline builtin once
//!                             *epoch_ptr >= epoch_deadline
//!   +48  fuel_consumed        i64: fuel used minus fuel given (negative
//!                             while fuel remains); wasm traps OutOfFuel
//!                             once it is above zero
//!
//! VMMemoryDefinition (16 bytes)     VMTableDefinition (16 bytes)
//!   +0   base: *mut u8                +0   base: *mut usize
//!   +8   current_length: usize        +8   current_elements: usize
//!
//! VMHostFuncContext (a host function's "vmctx")
//!   +0   magic: u32 = VMHOSTFUNC_MAGIC
//!   +8   store_ctx          (same place as in VMContext)
//!   +16  builtins           (same place as in VMContext)
//!   +24  host data pointer  (runtime-owned)
//!   +32  VMFuncRef of this host function
//! ```

/// Magic number at offset 0 of every instance `VMContext` ("weft").
pub const VMCONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"weft");
/// Magic number at offset 0 of every `VMHostFuncContext` ("host").
pub const VMHOSTFUNC_MAGIC: u32 = u32::from_le_bytes(*b"host");

/// Size of a pointer on the targets weft supports.
pub const PTR_SIZE: u32 = 8;

/// Size of one `ValRaw` slot of the array calling convention.
pub const VAL_RAW_SIZE: u32 = 16;

/// Offsets inside `VMStoreContext`.
pub mod store_ctx {
    /// `stack_limit: usize`
    pub const STACK_LIMIT: u32 = 0;
    /// `last_wasm_exit_fp: usize`
    pub const LAST_WASM_EXIT_FP: u32 = 8;
    /// `last_wasm_exit_pc: usize`
    pub const LAST_WASM_EXIT_PC: u32 = 16;
    /// `last_wasm_entry_fp: usize`
    pub const LAST_WASM_ENTRY_FP: u32 = 24;
    /// `epoch_ptr: *const u64`
    pub const EPOCH_PTR: u32 = 32;
    /// `epoch_deadline: u64`
    pub const EPOCH_DEADLINE: u32 = 40;
    /// `fuel_consumed: i64` (last field: appended after the others).
    pub const FUEL_CONSUMED: u32 = 48;
    /// Size of the record.
    pub const SIZE: u32 = 56;
}

/// Offsets inside `VMFuncRef`.
pub mod func_ref {
    /// Code pointer of the wasm-callconv entry.
    pub const WASM_CALL: u32 = 0;
    /// Callee vmctx.
    pub const VMCTX: u32 = 8;
    /// Canonical type id (u32).
    pub const TYPE_ID: u32 = 16;
    /// Size of the record.
    pub const SIZE: u32 = 24;
}

/// Offsets inside `VMMemoryDefinition`.
pub mod memory_def {
    /// `base: *mut u8`
    pub const BASE: u32 = 0;
    /// `current_length: usize` in bytes.
    pub const CURRENT_LENGTH: u32 = 8;
    /// Size of the record.
    pub const SIZE: u32 = 16;
}

/// Offsets inside `VMTableDefinition`.
pub mod table_def {
    /// `base: *mut usize`
    pub const BASE: u32 = 0;
    /// `current_elements: usize`
    pub const CURRENT_ELEMENTS: u32 = 8;
    /// Size of the record.
    pub const SIZE: u32 = 16;
}

/// Offsets inside the `VMContext` header (the same for every module).
pub mod vmctx {
    /// `magic: u32`
    pub const MAGIC: u32 = 0;
    /// `store_ctx: *mut VMStoreContext`
    pub const STORE_CTX: u32 = 8;
    /// `builtins: *const [usize; Builtin::COUNT]`
    pub const BUILTINS: u32 = 16;
    /// `type_ids: *const u32`
    pub const TYPE_IDS: u32 = 24;
    /// `instance: *mut Instance`
    pub const INSTANCE: u32 = 32;
    /// Size of the header; the per-module arrays follow.
    pub const HEADER_SIZE: u32 = 40;
}

/// Offsets inside `VMHostFuncContext`.
pub mod host_ctx {
    /// `magic: u32`
    pub const MAGIC: u32 = 0;
    /// `store_ctx`, at the same offset as in `VMContext`.
    pub const STORE_CTX: u32 = super::vmctx::STORE_CTX;
    /// `builtins`, at the same offset as in `VMContext`.
    pub const BUILTINS: u32 = super::vmctx::BUILTINS;
    /// Runtime-owned host data pointer.
    pub const HOST_DATA: u32 = 24;
    /// The host function's own `VMFuncRef`.
    pub const FUNC_REF: u32 = 32;
    /// Size of the record.
    pub const SIZE: u32 = 32 + super::func_ref::SIZE;
}

/// Runtime helper functions reachable from generated code through the
/// `builtins` table of the vmctx. The discriminant is the table index.
///
/// All use the platform's C calling convention; signatures are listed as
/// `(params) -> results` with `vmctx` always first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Builtin {
    /// `(vmctx, mem: u32, delta: u64) -> u64` old size in pages or `u64::MAX`.
    MemoryGrow = 0,
    /// `(vmctx, mem: u32, dst: u64, val: u32, len: u64) -> u32` 1 = ok, 0 = trap.
    MemoryFill,
    /// `(vmctx, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> u32`
    MemoryCopy,
    /// `(vmctx, mem: u32, seg: u32, dst: u64, src: u32, len: u32) -> u32`
    MemoryInit,
    /// `(vmctx, seg: u32)`
    DataDrop,
    /// `(vmctx, table: u32, delta: u64, init: usize) -> u64` old size or `u64::MAX`.
    TableGrow,
    /// `(vmctx, table: u32, dst: u64, val: usize, len: u64) -> u32`
    TableFill,
    /// `(vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64) -> u32`
    TableCopy,
    /// `(vmctx, table: u32, seg: u32, dst: u64, src: u32, len: u32) -> u32`
    TableInit,
    /// `(vmctx, seg: u32)`
    ElemDrop,
    /// `(host_ctx, caller_vmctx, values: *mut ValRaw, len: usize) -> u32` 1 = ok.
    HostCall,
    /// `(vmctx) -> u32`: the epoch deadline was reached; 1 = continue (the
    /// deadline was moved), 0 = trap with `Interrupt`.
    EpochDeadline,
}

impl Builtin {
    /// Number of builtins (length of the table).
    pub const COUNT: usize = Builtin::EpochDeadline as usize + 1;

    /// Byte offset of this builtin's pointer inside the builtins table.
    pub fn offset(self) -> u32 {
        self as u32 * PTR_SIZE
    }
}

/// Layout of one module's `VMContext`, computed from its entity counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VMOffsets {
    /// Number of functions (imported + defined).
    pub num_funcs: u32,
    /// Number of tables (imported + defined).
    pub num_tables: u32,
    /// Number of memories (imported + defined).
    pub num_memories: u32,
    /// Number of globals (imported + defined).
    pub num_globals: u32,
}

impl VMOffsets {
    /// Layout for the given counts.
    pub fn new(num_funcs: u32, num_tables: u32, num_memories: u32, num_globals: u32) -> Self {
        VMOffsets {
            num_funcs,
            num_tables,
            num_memories,
            num_globals,
        }
    }

    /// Offset of the `VMFuncRef` array.
    pub fn funcrefs_begin(&self) -> u32 {
        vmctx::HEADER_SIZE
    }
    /// Offset of function `index`'s `VMFuncRef`.
    pub fn funcref(&self, index: u32) -> u32 {
        assert!(index < self.num_funcs);
        self.funcrefs_begin() + index * func_ref::SIZE
    }
    /// Offset of the table pointer array.
    pub fn tables_begin(&self) -> u32 {
        self.funcrefs_begin() + self.num_funcs * func_ref::SIZE
    }
    /// Offset of the pointer to table `index`'s `VMTableDefinition`.
    pub fn table(&self, index: u32) -> u32 {
        assert!(index < self.num_tables);
        self.tables_begin() + index * PTR_SIZE
    }
    /// Offset of the memory pointer array.
    pub fn memories_begin(&self) -> u32 {
        self.tables_begin() + self.num_tables * PTR_SIZE
    }
    /// Offset of the pointer to memory `index`'s `VMMemoryDefinition`.
    pub fn memory(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memories_begin() + index * PTR_SIZE
    }
    /// Offset of the global pointer array.
    pub fn globals_begin(&self) -> u32 {
        self.memories_begin() + self.num_memories * PTR_SIZE
    }
    /// Offset of the pointer to global `index`'s 16-byte storage.
    pub fn global(&self, index: u32) -> u32 {
        assert!(index < self.num_globals);
        self.globals_begin() + index * PTR_SIZE
    }
    /// Offset of the memory base array.
    pub fn memory_bases_begin(&self) -> u32 {
        self.globals_begin() + self.num_globals * PTR_SIZE
    }
    /// Offset of the copy of memory `index`'s base pointer (written once at
    /// instantiation: a memory's base never moves).
    pub fn memory_base(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memory_bases_begin() + index * PTR_SIZE
    }
    /// Total size of the `VMContext`.
    pub fn size(&self) -> u32 {
        self.memory_bases_begin() + self.num_memories * PTR_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_follow_each_other_without_overlap() {
        let o = VMOffsets::new(3, 2, 1, 4);
        assert_eq!(o.funcref(0), vmctx::HEADER_SIZE);
        assert_eq!(o.funcref(2), vmctx::HEADER_SIZE + 2 * func_ref::SIZE);
        assert_eq!(o.table(0), o.funcref(2) + func_ref::SIZE);
        assert_eq!(o.memory(0), o.table(1) + PTR_SIZE);
        assert_eq!(o.global(0), o.memory(0) + PTR_SIZE);
        assert_eq!(o.memory_base(0), o.global(3) + PTR_SIZE);
        assert_eq!(o.size(), o.memory_base(0) + PTR_SIZE);
        // Every field is pointer-aligned.
        for off in [
            o.funcref(1),
            o.table(1),
            o.memory(0),
            o.global(2),
            o.memory_base(0),
            o.size(),
        ] {
            assert_eq!(off % PTR_SIZE, 0);
        }
    }

    #[test]
    fn host_ctx_header_matches_vmctx_header() {
        assert_eq!(host_ctx::STORE_CTX, vmctx::STORE_CTX);
        assert_eq!(host_ctx::BUILTINS, vmctx::BUILTINS);
        assert_ne!(VMCONTEXT_MAGIC, VMHOSTFUNC_MAGIC);
    }

    #[test]
    fn builtin_offsets() {
        assert_eq!(Builtin::MemoryGrow.offset(), 0);
        assert_eq!(
            Builtin::EpochDeadline.offset() as usize,
            (Builtin::COUNT - 1) * 8
        );
    }
}
