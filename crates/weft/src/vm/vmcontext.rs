//! The `#[repr(C)]` records that generated code reads and writes.
//!
//! Their layouts are defined once, as offsets, in
//! `weft_environ::vmoffsets`; the tests at the bottom of this file check the
//! Rust structs against those numbers.
//!
//! The field diagrams live with the offsets, in `weft_environ::vmoffsets`
//! (one copy); the per-stack record is in `super::stack::record`.

use super::stack::VMStackRecord;
use std::cell::{Cell, UnsafeCell};

/// Per-store record: which stack runs wasm now (its record holds the stack
/// limit every prologue reads) and the epoch state.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMStoreContext {
    pub current_stack: Cell<*mut VMStackRecord>,
    pub epoch_ptr: UnsafeCell<*const u64>,
    pub epoch_deadline: UnsafeCell<u64>,
    /// Fuel used minus fuel given: negative while fuel remains.
    pub fuel_consumed: UnsafeCell<i64>,
    /// The continuation table (`weft_environ::cont_entry`), set when the
    /// store's continuation pool is made.
    pub cont_table: Cell<*const u8>,
    pub cont_table_len: Cell<usize>,
    /// The object heap's bump pointer and window end
    /// (`weft_environ::store_ctx::GC_NEXT`, `GC_LIMIT`; see
    /// `vm::gc::semispace`). Both 0 until the heap is first used, so the
    /// first allocation takes the slow path.
    pub gc_next: Cell<usize>,
    pub gc_limit: Cell<usize>,
}

impl Default for VMStoreContext {
    fn default() -> Self {
        VMStoreContext {
            current_stack: Cell::new(std::ptr::null_mut()),
            epoch_ptr: UnsafeCell::new(std::ptr::null()),
            epoch_deadline: UnsafeCell::new(u64::MAX),
            fuel_consumed: UnsafeCell::new(0),
            cont_table: Cell::new(std::ptr::null()),
            cont_table_len: Cell::new(0),
            gc_next: Cell::new(0),
            gc_limit: Cell::new(0),
        }
    }
}

/// A function reference: what a `funcref` value points to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct VMFuncRef {
    pub wasm_call: *const u8,
    pub vmctx: *mut u8,
    /// The native-ABI entry of a `Func::wrap` closure whose type has one
    /// (`weft_environ::native_host_abi`), or null: wasm functions, and
    /// host functions that take the value-array path through the
    /// `HostCall` builtin.
    pub native_call: *const u8,
    pub type_id: u32,
}

/// A linear memory as generated code sees it.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMMemoryDefinition {
    pub base: *mut u8,
    pub current_length: usize,
}

/// A table as generated code sees it.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMTableDefinition {
    pub base: *mut usize,
    pub current_elements: usize,
}

/// Storage of one global: 16 bytes, enough for a `v128`.
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct VMGlobal {
    pub bits: u128,
}

/// One slot of the array calling convention (16 bytes, little-endian).
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub struct ValRaw {
    pub bits: u128,
}

/// A host function's context, shaped like the head of a `VMContext` so that
/// the wasm-to-host trampoline finds the store and the builtins at the same
/// offsets.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMHostFuncContext {
    pub magic: u32,
    pub _pad: u32,
    pub store_ctx: *mut VMStoreContext,
    pub builtins: *const usize,
    pub host_data: *mut u8,
    pub func_ref: VMFuncRef,
    /// The closure `func_ref.native_call` calls (owned by the host
    /// function).
    pub native_data: *const u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};
    use weft_environ::*;

    #[test]
    fn layouts_match_vmoffsets() {
        assert_eq!(
            offset_of!(VMStoreContext, current_stack) as u32,
            store_ctx::CURRENT_STACK
        );
        assert_eq!(
            offset_of!(VMStoreContext, epoch_ptr) as u32,
            store_ctx::EPOCH_PTR
        );
        assert_eq!(
            offset_of!(VMStoreContext, epoch_deadline) as u32,
            store_ctx::EPOCH_DEADLINE
        );
        assert_eq!(
            offset_of!(VMStoreContext, fuel_consumed) as u32,
            store_ctx::FUEL_CONSUMED
        );
        assert_eq!(
            offset_of!(VMStoreContext, cont_table) as u32,
            store_ctx::CONT_TABLE
        );
        assert_eq!(
            offset_of!(VMStoreContext, cont_table_len) as u32,
            store_ctx::CONT_TABLE_LEN
        );
        assert_eq!(
            offset_of!(VMStoreContext, gc_next) as u32,
            store_ctx::GC_NEXT
        );
        assert_eq!(
            offset_of!(VMStoreContext, gc_limit) as u32,
            store_ctx::GC_LIMIT
        );
        assert_eq!(size_of::<VMStoreContext>() as u32, store_ctx::SIZE);

        assert_eq!(offset_of!(VMFuncRef, wasm_call) as u32, func_ref::WASM_CALL);
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, func_ref::VMCTX);
        assert_eq!(
            offset_of!(VMFuncRef, native_call) as u32,
            func_ref::NATIVE_CALL
        );
        assert_eq!(offset_of!(VMFuncRef, type_id) as u32, func_ref::TYPE_ID);
        assert_eq!(size_of::<VMFuncRef>() as u32, func_ref::SIZE);

        assert_eq!(
            offset_of!(VMMemoryDefinition, base) as u32,
            memory_def::BASE
        );
        assert_eq!(
            offset_of!(VMMemoryDefinition, current_length) as u32,
            memory_def::CURRENT_LENGTH
        );
        assert_eq!(size_of::<VMMemoryDefinition>() as u32, memory_def::SIZE);

        assert_eq!(offset_of!(VMTableDefinition, base) as u32, table_def::BASE);
        assert_eq!(
            offset_of!(VMTableDefinition, current_elements) as u32,
            table_def::CURRENT_ELEMENTS
        );
        assert_eq!(size_of::<VMTableDefinition>() as u32, table_def::SIZE);

        assert_eq!(size_of::<ValRaw>() as u32, VAL_RAW_SIZE);
        assert_eq!(size_of::<VMGlobal>(), 16);

        assert_eq!(offset_of!(VMHostFuncContext, magic) as u32, host_ctx::MAGIC);
        assert_eq!(
            offset_of!(VMHostFuncContext, store_ctx) as u32,
            host_ctx::STORE_CTX
        );
        assert_eq!(
            offset_of!(VMHostFuncContext, builtins) as u32,
            host_ctx::BUILTINS
        );
        assert_eq!(
            offset_of!(VMHostFuncContext, host_data) as u32,
            host_ctx::HOST_DATA
        );
        assert_eq!(
            offset_of!(VMHostFuncContext, func_ref) as u32,
            host_ctx::FUNC_REF
        );
        assert_eq!(
            offset_of!(VMHostFuncContext, native_data) as u32,
            host_ctx::NATIVE_DATA
        );
        assert_eq!(size_of::<VMHostFuncContext>() as u32, host_ctx::SIZE);
    }
}
