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
//!   +40  (8 bytes padding: globals are 16-byte aligned)
//!   +48  globals:   [16 bytes; num_globals]      imported globals first:
//!                   an imported global's slot holds a pointer to its
//!                   `VMGlobal` (owned by whoever defined it); a defined
//!                   global's slot is its `VMGlobal` itself, so
//!                   `global.get`/`global.set` of it is one access
//!   ...  funcrefs:  [VMFuncRef; num_funcs]       imported functions first
//!   ...  tables:    [*mut VMTableDefinition; num_tables]
//!   ...  memories:  [*mut VMMemoryDefinition; num_memories]
//!   ...  memory bases: [*mut u8; num_memories]   copies of each memory's
//!                   `VMMemoryDefinition::base` (bases never move), so
//!                   generated code reaches linear memory in one load
//!   ...  tags:      [usize; num_tags]            imported tags first: the
//!                   store-wide identity of each tag (its index in the
//!                   store's tag list), so two instances that share a tag
//!                   see the same number; exception handlers and
//!                   continuation handlers compare these
//!
//! VMFuncRef (32 bytes; a `funcref` value is a pointer to one of these)
//!   +0   wasm_call: code pointer, `tail` calling convention:
//!          fn(callee_vmctx, caller_vmctx, params...) -> results
//!   +8   vmctx: callee's VMContext (or a VMHostFuncContext)
//!   +16  native_call: a host function's native-ABI entry, C convention
//!          (`native_abi.rs`), or 0 (every wasm function, every host
//!          function without one); direct calls of imports test it
//!   +24  type_id: u32 canonical type id, 4 bytes padding
//!
//! VMStoreContext (one per store)
//!   +0   current_stack        -> VMStackRecord of the stack running wasm
//!                             of this store right now
//!   +8   epoch_ptr            -> the engine's current epoch (u64)
//!   +16  epoch_deadline       wasm calls the EpochDeadline builtin once
//!                             *epoch_ptr >= epoch_deadline
//!   +24  fuel_consumed        i64: fuel used minus fuel given (negative
//!                             while fuel remains); wasm traps OutOfFuel
//!                             once it is above zero
//!   +32  cont_table           -> [ContEntry; 2^24], indexed by a
//!                             contref's low bits (slot + 1; entry 0 never
//!                             matches): {current reference, header}
//!   +40  cont_table_len       (0 until the store makes a continuation)
//!
//! VMStackRecord (one per stack that runs wasm: the store's native-stack
//! record, one per fiber, one per continuation as the first field of its
//! header)
//!   +0   ctx_sp               control context of Cranelift's
//!   +8   ctx_fp               `stack_switch`: where this stack continues
//!   +16  ctx_pc               while another one runs (saved sp, fp, pc);
//!                             first, so the record's address is the
//!                             context's
//!   +24  stack_limit          lowest address a wasm frame may use
//!                             (every prologue compares against it)
//!   +32  host_limit           lowest stack pointer at which the
//!                             wasm->host trampoline still calls the host
//!   +40  last_exit_fp         frame pointer of the wasm frame that made
//!                             the last wasm->host call on this stack
//!   +48  last_exit_sp         that frame's stack pointer at the call: the
//!                             return address into it is at sp - 8
//!   +56  entry_sp             stack pointer, frame pointer and resume pc
//!   +64  entry_fp             of the innermost host->wasm entry on this
//!   +72  entry_resume_pc      stack: where a trap unwinds to
//!   +80  stack_low            bounds [low, high) of this stack
//!   +88  stack_high
//!   +96  parent               -> the record of the stack that resumed
//!                             this one (null for a native stack)
//!   +104 activation           innermost active entry (runtime-only)
//!   +112 kind                 0 native, 1 fiber, 2 continuation
//!   +120 gc_spill             while generated code has switched away from
//!                             this stack: address of the slot holding the
//!                             switching frame's managed references
//!   +128 gc_spill_len         how many references that slot holds
//!                             (136 bytes in all)
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
//!   +32  VMFuncRef of this host function (its native_call, when not 0,
//!        is the entry of a `Func::wrap` closure)
//!   +64  native data: the closure that entry calls
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
    /// `current_stack: *mut VMStackRecord`
    pub const CURRENT_STACK: u32 = 0;
    /// `epoch_ptr: *const u64`
    pub const EPOCH_PTR: u32 = 8;
    /// `epoch_deadline: u64`
    pub const EPOCH_DEADLINE: u32 = 16;
    /// `fuel_consumed: i64`
    pub const FUEL_CONSUMED: u32 = 24;
    /// `cont_table: *const ContEntry` (see [`super::cont_entry`])
    pub const CONT_TABLE: u32 = 32;
    /// `cont_table_len: usize`
    pub const CONT_TABLE_LEN: u32 = 40;
    /// `gc_next: usize`: the managed heap's bump pointer (next free byte
    /// of the active semispace; see [`super::gc_object`]).
    pub const GC_NEXT: u32 = 48;
    /// `gc_limit: usize`: allocation past this address takes the
    /// `GcAlloc` slow path (collect or grow).
    pub const GC_LIMIT: u32 = 56;
    /// Size of the record.
    pub const SIZE: u32 = 64;
}

/// The layout of an object on the managed heap (structs and arrays; see
/// `weft`'s `vm::gc::heap`). A reference to it is its address; `anyref`
/// values also encode `i31` and host (extern) references in the low bits:
///
/// ```text
///   anyref / eqref / structref / arrayref / externref (raw, 64 bits)
///     0 .................................... null
///     ........................ pppp pppp 000  object address (8-aligned)
///     vvvv vvvv ... (31 bits) ............ 1  i31: value << 1 | 1
///     iiii iiii ... (index + 1) ........ 100  host reference (externref)
///
///   object (8-aligned)
///     +0  u32  header: canonical type id | kind << KIND_SHIFT
///     +4  u32  array length (arrays), 0 (structs)
///     +8  ...  fields (structs, see `StructLayout`) or elements (arrays)
/// ```
pub mod gc_object {
    /// Offset of the header word (type id and kind).
    pub const HEADER: u32 = 0;
    /// Offset of an array's length.
    pub const ARRAY_LEN: u32 = 4;
    /// Offset of the first field or element.
    pub const FIELDS: u32 = 8;
    /// Objects are allocated in multiples of this, at addresses aligned
    /// to it.
    pub const ALIGN: u32 = 8;
    /// The kind sits in the header's top two bits.
    pub const KIND_SHIFT: u32 = 30;
    /// Mask of the canonical type id in the header.
    pub const ID_MASK: u32 = (1 << KIND_SHIFT) - 1;
    /// Kind of a struct.
    pub const KIND_STRUCT: u32 = 0;
    /// Kind of an array.
    pub const KIND_ARRAY: u32 = 1;
    /// Low bit set: an `i31` value.
    pub const I31_TAG: u64 = 1;
    /// Low three bits `100`: a host reference (`index + 1 << 3 | 4`).
    pub const HOST_TAG: u64 = 4;
    /// Mask of the tag bits.
    pub const TAG_MASK: u64 = 7;
    /// The largest object the heap allocates (bytes).
    pub const MAX_OBJECT: u64 = 1 << 32;
}

/// Offsets inside `VMStackRecord`, the per-stack record (see the diagram
/// at the top of this module).
pub mod stack_record {
    /// The control context `{sp, fp, pc}` that Cranelift's `stack_switch`
    /// saves into and loads from: this stack's state while it is not
    /// running (a resumer waiting in `resume`, a suspended continuation).
    /// At offset 0, so a record's address is its context's address and
    /// the switch sequence computes none.
    pub const CONTROL_CONTEXT: u32 = 0;
    /// Saved stack pointer (first word of the control context).
    pub const CTX_SP: u32 = 0;
    /// Saved frame pointer.
    pub const CTX_FP: u32 = 8;
    /// Saved program counter.
    pub const CTX_PC: u32 = 16;
    /// `stack_limit: usize`
    pub const STACK_LIMIT: u32 = 24;
    /// `host_limit: usize`
    pub const HOST_LIMIT: u32 = 32;
    /// `last_exit_fp: usize`: the frame pointer of the wasm frame that
    /// called the host last (0 while no host call is in progress).
    pub const LAST_EXIT_FP: u32 = 40;
    /// `last_exit_sp: usize`: that frame's stack pointer at the call; the
    /// call's return address into the frame is the word below it.
    pub const LAST_EXIT_SP: u32 = 48;
    /// `entry_sp: usize`
    pub const ENTRY_SP: u32 = 56;
    /// `entry_fp: usize`
    pub const ENTRY_FP: u32 = 64;
    /// `entry_resume_pc: usize`
    pub const ENTRY_RESUME_PC: u32 = 72;
    /// `stack_low: usize`
    pub const STACK_LOW: u32 = 80;
    /// `stack_high: usize`
    pub const STACK_HIGH: u32 = 88;
    /// `parent: *mut VMStackRecord`
    pub const PARENT: u32 = 96;
    /// `activation: *const Activation` (read by the runtime only)
    pub const ACTIVATION: u32 = 104;
    /// `kind: usize`: [`KIND_NATIVE`], [`KIND_FIBER`] or
    /// [`KIND_CONTINUATION`].
    pub const KIND: u32 = 112;
    /// `gc_spill: usize`: while the stack is switched away from by
    /// generated code (a resumer waiting in `resume`, a continuation
    /// suspended in `suspend` or `switch`), the address of the explicit
    /// slot holding the managed references of the frame that switched.
    pub const GC_SPILL: u32 = 120;
    /// `gc_spill_len: usize`: how many references that slot holds. It is
    /// 0 except while the record waits in a switch that spilled
    /// references: that switch sets it before and clears it after, and a
    /// host entry clears its record's when a trap unwinds to it (the
    /// trap may have abandoned such a switch).
    pub const GC_SPILL_LEN: u32 = 128;
    /// Size of the record.
    pub const SIZE: u32 = 136;

    /// The record of a native (embedder) stack.
    pub const KIND_NATIVE: usize = 0;
    /// The record of an async fiber.
    pub const KIND_FIBER: usize = 1;
    /// The record of a continuation (the first field of its header).
    pub const KIND_CONTINUATION: usize = 2;
}

/// A continuation reference (`contref`) is one word, tagged so that it
/// can never be mistaken for a managed-heap reference:
///
/// ```text
///   bit 63 ........ 27 26 ............ 3 2 1 0
///   | generation      | slot index + 1   | 0 1 0 |   (0 is null)
/// ```
///
/// The low three bits `010` are [`contref::TAG`]: GC objects are 8-aligned
/// (`000`), `i31`s end in `1`, host references in `100`
/// (`gc_object::TAG_MASK`), so a slot that may hold either kind (a
/// Cranelift stack-map slot, a switch's spill slot) tells them apart. The
/// index field, shifted left by one, is the byte offset of the slot's
/// [`cont_entry`] (16 bytes each): `(r & INDEX_MASK) << 1`.
pub mod contref {
    /// The tag of every non-null reference (low three bits).
    pub const TAG: u64 = 2;
    /// Mask of the tag bits.
    pub const TAG_MASK: u64 = 7;
    /// Where the index field starts.
    pub const INDEX_SHIFT: u32 = 3;
    /// Width of the index field (slot index plus one).
    pub const INDEX_WIDTH: u32 = 24;
    /// Mask of the index field, in place.
    pub const INDEX_MASK: u64 = ((1 << INDEX_WIDTH) - 1) << INDEX_SHIFT;
    /// Where the generation starts.
    pub const GEN_SHIFT: u32 = INDEX_SHIFT + INDEX_WIDTH;
    /// Mask of the generation bits kept in a reference (after shifting).
    pub const GEN_MASK: u64 = (1 << (64 - GEN_SHIFT)) - 1;
    /// Number of table entries (every value of the index field).
    pub const ENTRIES: usize = 1 << INDEX_WIDTH;
}

/// One entry of the store's continuation table, per slot.
pub mod cont_entry {
    /// `last_ref: u64`: the last reference of the slot's last life (its
    /// generation, index and tag, as a `contref`; 0 while the slot was
    /// never used). The next life starts one generation on, so references
    /// from earlier lives stay stale after the slot's pages went back to
    /// the kernel. Only the runtime reads it: while the slot lives, its
    /// record's `cont_record::SELF_REF` is the reference.
    pub const LAST_REF: u32 = 0;
    /// `header: *mut VMContRecord`: the slot's record while it lives;
    /// otherwise (and in entry 0, which a null reference indexes) a
    /// static stand-in whose `cont_record::SELF_REF` word no reference
    /// equals. So every entry a reference can index points at readable
    /// memory, and generated code checks a reference with one load of
    /// `header.self_ref` and one compare, without a null check.
    pub const HEADER: u32 = 8;
    /// Size of an entry.
    pub const SIZE: u32 = 16;
}

/// Offsets inside a continuation's header (`VMContRecord`), after its
/// `VMStackRecord` (which is at offset 0, so a continuation's record and
/// header are the same address).
pub mod cont_record {
    /// `bound: u32`: values already supplied by `cont.bind`.
    pub const BOUND: u32 = super::stack_record::SIZE;
    /// `slot: u32`: the slot index.
    pub const SLOT: u32 = BOUND + 4;
    /// `innermost: *mut VMContRecord`: for the outermost stack of a
    /// suspended chain, the stack to switch into.
    pub const INNERMOST: u32 = BOUND + 8;
    /// `handlers: *const usize`: the resumer's handler table while running.
    pub const HANDLERS: u32 = BOUND + 16;
    /// `resumer_buf: *mut ValRaw`: the resumer's buffer while running.
    pub const RESUMER_BUF: u32 = BOUND + 24;
    /// `recv_buf: *mut ValRaw`: where the values it is resumed with go.
    pub const RECV_BUF: u32 = BOUND + 32;
    /// `recv_type: u32`: canonical id of the function type describing them.
    pub const RECV_TYPE: u32 = BOUND + 40;
    /// `recv_results: u32`: 1 if they are that type's results, 0 if its
    /// parameters.
    pub const RECV_RESULTS: u32 = BOUND + 44;
    /// `self_ref: u64`: the one reference to the continuation that is not
    /// stale, while its slot lives (generation, index and tag). A
    /// reference is checked by comparing it with this word and consumed
    /// (resume, `cont.bind`, `switch`) by storing itself plus one
    /// generation (`1 << contref::GEN_SHIFT`, wrapping within the field);
    /// a suspension of the chain this record heads hands this word over.
    /// In the header's third cache line with the other fields every
    /// switch reads; `pending_exn`, which only `resume_throw` uses, is
    /// after it.
    pub const SELF_REF: u32 = BOUND + 48;
    /// `pending_exn: usize`: an exception (raw `exnref`) that
    /// `resume_throw` asks the suspended code to throw when it resumes.
    pub const PENDING_EXN: u32 = BOUND + 56;
}

/// The handler table a `resume` passes to the runtime (a stack slot of the
/// resuming frame): `[count, entry_0, ..., entry_{count-1}]`, one `usize`
/// each. An entry is the store-wide identity of the handler's tag, with
/// [`resume_table::SWITCH`] set for `(on $tag switch)`; a suspension
/// handled by entry `i` resumes the resumer with effect `i + 1`.
///
/// A table without entries still has the word after the count, holding
/// [`resume_table::NO_ENTRY`], so that `suspend`'s fast path can compare
/// the first word after the count with its tag without reading the count.
pub mod resume_table {
    /// Set in an entry for a switch handler.
    pub const SWITCH: usize = 1 << 63;
    /// The word after the count of a table without entries: no tag
    /// identity (a store index) equals it, with or without [`SWITCH`].
    pub const NO_ENTRY: usize = usize::MAX;
    /// Words of a table with `n` entries.
    pub const fn words(n: usize) -> usize {
        1 + if n == 0 { 1 } else { n }
    }
    /// The effect a `resume` sees when its continuation returned.
    pub const EFFECT_RETURN: usize = 0;
    /// The effect a `resume` sees when an exception left its continuation
    /// uncaught: the raw `exnref` is in `buf[1]`, and the resume throws it
    /// on (so handlers around the `resume` see it).
    pub const EFFECT_THROW: usize = usize::MAX;
    /// Set in the `stack_switch` payload that a suspension sends back to
    /// its resumer when entry 0 of the resumer's table handled it and the
    /// suspending record is the outermost one under the resumer (the
    /// inline `suspend`'s fast path): the rest of the payload is that
    /// record, whose `cont_record::SELF_REF` is the suspended
    /// continuation; the buffer holds only the tag's payload (no effect,
    /// no continuation). Every other switch back to a resumer (a return,
    /// an escaping exception, a suspension found by the general search)
    /// sends a value with this bit clear (a record, or 0) and puts the
    /// effect in `buf[0]`.
    pub const FAST_FIRST: usize = 1;
}

/// Offsets inside `VMFuncRef`.
pub mod func_ref {
    /// Code pointer of the wasm-callconv entry.
    pub const WASM_CALL: u32 = 0;
    /// Callee vmctx.
    pub const VMCTX: u32 = 8;
    /// A host function's native-ABI entry (C convention, see
    /// `native_abi.rs`), or 0.
    pub const NATIVE_CALL: u32 = 16;
    /// Canonical type id (u32).
    pub const TYPE_ID: u32 = 24;
    /// Size of the record.
    pub const SIZE: u32 = 32;
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
    /// `native_data`: the closure the native entry (the funcref's
    /// `native_call`) calls.
    pub const NATIVE_DATA: u32 = FUNC_REF + super::func_ref::SIZE;
    /// Size of the record.
    pub const SIZE: u32 = NATIVE_DATA + 8;
}

/// The builtins, declared once: runtime helper functions that generated
/// code calls through the `builtins` table of the vmctx.
///
/// `foreach_builtin!(callback)` invokes `callback!` with the whole list.
/// Each entry is
///
/// ```text
/// /// docs
/// Variant: fn_name(param: type, ...) -> result;
/// ```
///
/// (`-> result` is optional). Types: `vmctx` (the calling instance's
/// `VMContext`, always first unless the caller is a trampoline), `u32`,
/// `u64`, `usize`, and `ptr<T>` (a pointer to the runtime type `T`; `T` is
/// resolved in the runtime's `vm::builtins` module and ignored elsewhere).
/// All builtins use the platform's C calling convention. The position in
/// the list is the index in the table.
///
/// Three expansions consume it: [`Builtin`] here (enum, `COUNT`, table
/// offsets, names, [`Builtin::signature`]), the Cranelift signatures
/// (`weft_cranelift`'s `builtin_signature`, from [`Builtin::signature`]),
/// and the runtime's table (`weft`'s `vm::builtins`), which checks each
/// Rust function against the declared signature at compile time.
///
/// To add a builtin: add an entry here, write the
/// `unsafe extern "C" fn fn_name` with exactly that signature in
/// `crates/weft/src/vm/builtins.rs` (the table will not compile otherwise),
/// and call it from generated code with `FuncEnv::call_builtin` (the vmctx
/// is passed first automatically).
#[macro_export]
macro_rules! foreach_builtin {
    ($mac:ident) => {
        $mac! {
            /// Old size in pages, or `u64::MAX` if the memory cannot grow.
            MemoryGrow: memory_grow(vmctx: vmctx, mem: u32, delta: u64) -> u64;
            /// `memory.copy` between two memories; 1 = ok, 0 = out of
            /// bounds (trap).
            MemoryCopy: memory_copy(
                vmctx: vmctx, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64
            ) -> u32;
            /// `memory.copy` within one memory, after generated code checked
            /// both ranges: `memmove(dst, src, len)` on native addresses.
            Memmove: memmove(vmctx: vmctx, dst: usize, src: usize, len: u64);
            /// `memory.fill`, after generated code checked the range:
            /// `memset(dst, val, len)` on a native address.
            Memset: memset(vmctx: vmctx, dst: usize, val: u32, len: u64);
            /// 1 = ok, 0 = out of bounds (trap).
            MemoryInit: memory_init(
                vmctx: vmctx, mem: u32, seg: u32, dst: u64, src: u32, len: u32
            ) -> u32;
            /// `data.drop`.
            DataDrop: data_drop(vmctx: vmctx, seg: u32);
            /// Old size, or `u64::MAX` if the table cannot grow.
            TableGrow: table_grow(vmctx: vmctx, table: u32, delta: u64, init: usize) -> u64;
            /// 1 = ok, 0 = out of bounds (trap).
            TableFill: table_fill(vmctx: vmctx, table: u32, dst: u64, val: usize, len: u64) -> u32;
            /// 1 = ok, 0 = out of bounds (trap).
            TableCopy: table_copy(
                vmctx: vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64
            ) -> u32;
            /// 1 = ok, 0 = out of bounds (trap).
            TableInit: table_init(
                vmctx: vmctx, table: u32, seg: u32, dst: u64, src: u32, len: u32
            ) -> u32;
            /// `elem.drop`.
            ElemDrop: elem_drop(vmctx: vmctx, seg: u32);
            /// Called by the wasm-to-host trampoline with the host function's
            /// context and `len` argument/result slots; 1 = ok, 0 = trap
            /// (the error is pending in the store).
            HostCall: host_call(
                hctx: ptr<VMHostFuncContext>, caller_vmctx: vmctx, values: ptr<ValRaw>, len: u64
            ) -> u32;
            /// The epoch deadline was reached: 1 = continue (the deadline
            /// was moved), 0 = trap with `Interrupt`.
            EpochDeadline: epoch_deadline(vmctx: vmctx) -> u32;
            /// `cont.new`: a fresh continuation running the function
            /// `funcref` (module type index `ty` of the continuation
            /// type); the contref, or 0 = trap (error parked in the store).
            ContNew: cont_new(vmctx: vmctx, funcref: usize, ty: u32) -> u64;
            /// `cont.bind`: binds `n` values from `args` to `contref`; the
            /// new contref, or 0 = trap (error parked).
            ContBind: cont_bind(vmctx: vmctx, contref: u64, args: ptr<ValRaw>, n: u32) -> u64;
            /// `suspend`: finds the handler of tag identity `tag`, gives it
            /// the `n` values in `buf` and the suspended continuation, and
            /// returns the record to switch to (0 = trap, error parked).
            /// `buf` later receives the values the continuation is resumed
            /// with.
            ContSuspend: cont_suspend(vmctx: vmctx, tag: usize, buf: ptr<ValRaw>, n: u32) -> usize;
            /// `switch`: suspends the running continuation to the switch
            /// handler of `tag`, hands it and the `n` values in `buf` to
            /// `contref`, and returns the record to switch to (0 = trap).
            /// `recv_ty` is the module type index of the function type whose
            /// parameters the switching code is later resumed with.
            ContSwitch: cont_switch(
                vmctx: vmctx, tag: usize, contref: u64, recv_ty: u32, buf: ptr<ValRaw>, n: u32
            ) -> usize;
            /// The inline `resume` fast path found `contref` null or stale:
            /// parks the matching trap; always 0.
            ContFail: cont_fail(vmctx: vmctx, contref: u64) -> u32;
            /// `resume_throw`: links `contref` as `resume` does and leaves it
            /// the exception `exn` to throw where it is suspended; returns the
            /// record to switch to, 1 if the continuation never ran (it is
            /// dropped; the caller throws `exn` itself), or 0 = trap.
            ContThrow: cont_throw(
                vmctx: vmctx, contref: u64, exn: usize, buf: ptr<ValRaw>, table: ptr<usize>
            ) -> usize;
            /// A new exception of module tag `tag` with the payload in
            /// `values` (one slot per tag parameter), not thrown: the raw
            /// `exnref`.
            ExnNew: exn_new(vmctx: vmctx, tag: u32, values: ptr<ValRaw>) -> usize;
            /// `throw`: creates an exception of module tag `tag` whose
            /// payload is in `values` (one 16-byte slot per tag parameter)
            /// and unwinds to its handler. Reached through a shim with
            /// Cranelift's `tail` convention (same argument registers),
            /// called with `try_call` inside handler scopes; never returns.
            Throw: throw(vmctx: vmctx, tag: u32, values: ptr<ValRaw>);
            /// `throw_ref`: rethrows exception `exn` (a raw `exnref`), like
            /// `Throw`. Returns only if `exn` is null (the caller traps).
            ThrowRef: throw_ref(vmctx: vmctx, exn: usize);
            /// The address of the payload slots (16 bytes each) of
            /// exception `exn` (non-null), for a `catch` clause to load.
            ExnPayload: exn_payload(vmctx: vmctx, exn: usize) -> usize;
            /// The store-wide tag identity of exception `exn` (non-null),
            /// for a legacy `catch` to compare.
            ExnTag: exn_tag(vmctx: vmctx, exn: usize) -> usize;
            /// The inline bump allocation found no room: allocates `size`
            /// bytes (collecting or growing the heap), writes `header`, and
            /// returns the object's address; 0 = trap (error parked).
            GcAlloc: gc_alloc(vmctx: vmctx, size: u64, header: u64) -> usize;
            /// 1 if canonical type `actual` is a subtype of `expected`.
            IsSubtype: is_subtype(vmctx: vmctx, actual: u32, expected: u32) -> u32;
            /// `array.init_data` of array `array` (non-null) of module type
            /// `ty`; with `array` = 0 only checks that the segment holds the
            /// `len` elements at `src` (`array.new_data` before it
            /// allocates). 1 = ok, 0 = trap (error parked).
            ArrayInitData: array_init_data(
                vmctx: vmctx, ty: u32, seg: u32, array: usize, dst: u32, src: u32, len: u32
            ) -> u32;
            /// `array.init_elem` (as `ArrayInitData`, for element segment `seg`).
            ArrayInitElem: array_init_elem(
                vmctx: vmctx, ty: u32, seg: u32, array: usize, dst: u32, src: u32, len: u32
            ) -> u32;
            /// `array.copy` of `len` elements of `size` bytes between non-null
            /// arrays: 1 = ok, 0 = trap (error parked).
            ArrayCopy: array_copy(
                vmctx: vmctx, dst: usize, dst_idx: u32, src: usize, src_idx: u32, len: u32, size: u32
            ) -> u32;
        }
    };
}

/// A parameter or result type of a builtin, as declared in
/// [`foreach_builtin!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinType {
    /// `vmctx`: a `VMContext` pointer.
    VmCtx,
    /// `ptr<T>`: a pointer to a runtime record.
    Pointer,
    /// `usize`: a pointer-sized integer.
    USize,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
}

impl BuiltinType {
    /// Size in bytes.
    pub fn size(self) -> u32 {
        match self {
            BuiltinType::VmCtx | BuiltinType::Pointer | BuiltinType::USize => PTR_SIZE,
            BuiltinType::U32 => 4,
            BuiltinType::U64 => 8,
        }
    }
}

/// The declared signature of a builtin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinSignature {
    /// Parameter types, in order.
    pub params: &'static [BuiltinType],
    /// The result type, if any.
    pub result: Option<BuiltinType>,
}

macro_rules! builtin_type {
    (vmctx) => {
        BuiltinType::VmCtx
    };
    (ptr) => {
        BuiltinType::Pointer
    };
    (usize) => {
        BuiltinType::USize
    };
    (u32) => {
        BuiltinType::U32
    };
    (u64) => {
        BuiltinType::U64
    };
}

macro_rules! declare_builtins {
    ($(
        $(#[$attr:meta])*
        $variant:ident : $name:ident ( $($param:ident : $ty:ident $(<$pointee:ident>)?),* $(,)? )
            $(-> $result:ident)?;
    )*) => {
        /// Runtime helper functions reachable from generated code through
        /// the `builtins` table of the vmctx; declared in
        /// [`foreach_builtin!`]. The discriminant is the table index.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Builtin {
            $(
                $(#[$attr])*
                #[doc = concat!(
                    "\n\n`", stringify!($name), "(",
                    stringify!($($param: $ty $(<$pointee>)?),*), ")",
                    $(" -> ", stringify!($result),)? "`"
                )]
                $variant,
            )*
        }

        impl Builtin {
            /// Every builtin, in table order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            /// The name of the runtime function.
            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => stringify!($name),)*
                }
            }

            /// The declared signature.
            pub fn signature(self) -> BuiltinSignature {
                match self {
                    $(Builtin::$variant => BuiltinSignature {
                        params: &[$(builtin_type!($ty)),*],
                        result: None $(.or(Some(builtin_type!($result))))?,
                    },)*
                }
            }
        }
    };
}

foreach_builtin!(declare_builtins);

impl Builtin {
    /// Number of builtins (length of the table).
    pub const COUNT: usize = Builtin::ALL.len();

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
    /// Number of tags (imported + defined).
    pub num_tags: u32,
}

impl VMOffsets {
    /// Layout for the given counts.
    pub fn new(
        num_funcs: u32,
        num_tables: u32,
        num_memories: u32,
        num_globals: u32,
        num_tags: u32,
    ) -> Self {
        VMOffsets {
            num_funcs,
            num_tables,
            num_memories,
            num_globals,
            num_tags,
        }
    }

    /// Offset of the global slots (16 bytes each, 16-byte aligned).
    pub fn globals_begin(&self) -> u32 {
        vmctx::HEADER_SIZE.next_multiple_of(16)
    }
    /// Offset of global `index`'s 16-byte slot: the global's `VMGlobal`
    /// itself for a defined global, a pointer to it for an imported one.
    pub fn global(&self, index: u32) -> u32 {
        assert!(index < self.num_globals);
        self.globals_begin() + index * 16
    }
    /// Offset of the `VMFuncRef` array.
    pub fn funcrefs_begin(&self) -> u32 {
        self.globals_begin() + self.num_globals * 16
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
    /// Offset of the memory base array.
    pub fn memory_bases_begin(&self) -> u32 {
        self.memories_begin() + self.num_memories * PTR_SIZE
    }
    /// Offset of the copy of memory `index`'s base pointer (written once at
    /// instantiation: a memory's base never moves).
    pub fn memory_base(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memory_bases_begin() + index * PTR_SIZE
    }
    /// Offset of the tag identity array.
    pub fn tags_begin(&self) -> u32 {
        self.memory_bases_begin() + self.num_memories * PTR_SIZE
    }
    /// Offset of tag `index`'s store-wide identity (a `usize`).
    pub fn tag(&self, index: u32) -> u32 {
        assert!(index < self.num_tags);
        self.tags_begin() + index * PTR_SIZE
    }
    /// Total size of the `VMContext`.
    pub fn size(&self) -> u32 {
        self.tags_begin() + self.num_tags * PTR_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_follow_each_other_without_overlap() {
        let o = VMOffsets::new(3, 2, 1, 4, 2);
        assert_eq!(o.global(0), 48);
        assert_eq!(o.global(3), 48 + 3 * 16);
        assert_eq!(o.funcref(0), o.global(3) + 16);
        assert_eq!(o.funcref(2), o.funcref(0) + 2 * func_ref::SIZE);
        assert_eq!(o.table(0), o.funcref(2) + func_ref::SIZE);
        assert_eq!(o.memory(0), o.table(1) + PTR_SIZE);
        assert_eq!(o.memory_base(0), o.memory(0) + PTR_SIZE);
        assert_eq!(o.tag(0), o.memory_base(0) + PTR_SIZE);
        assert_eq!(o.size(), o.tag(1) + PTR_SIZE);
        // Every field is pointer-aligned.
        // Global slots hold a `VMGlobal` (16-byte aligned) in place.
        for g in 0..4 {
            assert_eq!(o.global(g) % 16, 0);
        }
        for off in [
            o.funcref(1),
            o.table(1),
            o.memory(0),
            o.global(2),
            o.memory_base(0),
            o.tag(1),
            o.size(),
        ] {
            assert_eq!(off % PTR_SIZE, 0);
        }
    }

    #[test]
    fn instance_and_host_contexts_are_told_apart_by_magic() {
        assert_ne!(VMCONTEXT_MAGIC, VMHOSTFUNC_MAGIC);
    }

    #[test]
    fn builtin_offsets() {
        assert_eq!(Builtin::MemoryGrow.offset(), 0);
        assert_eq!(
            Builtin::ArrayCopy.offset() as usize,
            (Builtin::COUNT - 1) * 8
        );
    }

    #[test]
    fn builtin_list_is_consistent() {
        assert_eq!(Builtin::COUNT, Builtin::ALL.len());
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "{b:?}: discriminant is not its table index");
            assert_eq!(b.offset(), i as u32 * PTR_SIZE);
        }
        let mut names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Builtin::COUNT, "duplicate builtin names");
        assert_eq!(Builtin::TableGrow.name(), "table_grow");
        let sig = Builtin::TableGrow.signature();
        assert_eq!(
            sig.params,
            [
                BuiltinType::VmCtx,
                BuiltinType::U32,
                BuiltinType::U64,
                BuiltinType::USize
            ]
        );
        assert_eq!(sig.result, Some(BuiltinType::U64));
        assert_eq!(Builtin::DataDrop.signature().result, None);
        assert_eq!(
            Builtin::HostCall.signature().params[0],
            BuiltinType::Pointer
        );
    }
}
