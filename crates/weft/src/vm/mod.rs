//! Runtime internals: the only place in this crate (with the `fiber` crate
//! and code memory) where `unsafe` code lives.
//!
//! * `vmcontext`: the `#[repr(C)]` records generated code reads;
//! * `stack`: the per-stack records, activations and the one frame walker;
//! * `entry`: host->wasm entries and the `resume_at` unwind primitive;
//! * `code_memory`: W^X code placement (virtual memory is `weft_sys`);
//! * `code_registry`, `traphandlers`: mapping faulting PCs to traps and
//!   resuming at the nearest entry;
//! * `gdb_jit`: describing published code to debuggers (gdb's JIT interface);
//! * `module`, `instance`, `store`, `func`, `builtins`: compiled modules,
//!   instances and their vmctx, calls in both directions;
//! * `exceptions`: throwing (the `Throw`/`ThrowRef` shims), handler
//!   search with the walker, resume at the landing pad, uncaught
//!   exceptions at the entry;
//! * `gc`: the per-store heap of GC objects (structs, arrays, exceptions),
//!   its precise roots and copying collector;
//! * `limits`: the embedder's resource limiter, asked before growth;
//! * `memory`, `table`, `type_registry`, `backtrace`, `libcalls`.

mod async_fiber;
mod backtrace;
mod builtins;
pub(crate) mod code_memory;
pub(crate) mod code_registry;
pub(crate) mod continuation;
mod entry;
pub(crate) mod exceptions;
mod func;
pub(crate) mod gc;
pub(crate) mod gdb_jit;
mod instance;
mod libcalls;
mod limits;
mod memory;
pub(crate) mod memory_image;
pub(crate) mod module;
pub(crate) mod stack;
mod store;
mod table;
pub(crate) mod traphandlers;
mod type_registry;
mod vmcontext;

pub(crate) use async_fiber::{block_on, on_fiber};
pub(crate) use backtrace::capture as capture_backtrace;
pub(crate) use func::{
    Entry, HostTrampolines, NativeEntry, call_entry, call_func, caller_instance, entry_of,
    native_abi, native_host_failed, native_host_parts, new_host_func, new_host_func_native,
    new_host_func_raw,
};
pub(crate) use instance::instantiate;
pub(crate) use limits::with_limiter_of;
pub(crate) use module::{ArtifactSource, CompiledModule, CompiledParts, FuncLoc};
pub(crate) use store::{EpochBehavior, StoreOpaque};
pub(crate) use traphandlers::init_traps;
pub(crate) use type_registry::TypeRegistry;
pub(crate) use vmcontext::ValRaw;

pub(crate) use gc::heap::get as exn_object;
pub(crate) use gc::ops::{read_field as gc_read_field, write_field as gc_write_field};
pub(crate) use gc::semispace::ObjLayout;
