//! Runtime internals: the only place in this crate (with the `fiber` crate
//! and code memory) where `unsafe` code lives.
//!
//! * `vmcontext`: the `#[repr(C)]` records generated code reads;
//! * `mmap`, `code_memory`: virtual memory and W^X code placement;
//! * `code_registry`, `traphandlers`, `entry_x86_64`: mapping faulting PCs
//!   to traps and unwinding to the host entry;
//! * `gdb_jit`: describing published code to debuggers (gdb's JIT interface);
//! * `module`, `instance`, `store`, `func`, `builtins`: compiled modules,
//!   instances and their vmctx, calls in both directions;
//! * `memory`, `table`, `type_registry`, `backtrace`, `libcalls`.

mod async_fiber;
mod backtrace;
mod builtins;
pub(crate) mod code_memory;
pub(crate) mod code_registry;
#[cfg(target_arch = "x86_64")]
mod entry_x86_64;
mod func;
pub(crate) mod gdb_jit;
mod instance;
mod libcalls;
mod memory;
mod memory_image;
pub(crate) mod mmap;
mod module;
mod store;
mod table;
pub(crate) mod traphandlers;
mod type_registry;
mod vmcontext;

pub(crate) use async_fiber::{block_on, on_fiber};
pub(crate) use func::HOST_RED_ZONE;
pub(crate) use func::{
    HostTrampolines, call_func, call_raw, caller_instance, new_host_func, new_host_func_raw,
};
pub(crate) use instance::instantiate;
pub(crate) use module::{CompiledModule, CompiledParts};
pub(crate) use store::{EpochBehavior, StoreOpaque};
pub(crate) use traphandlers::init_traps;
pub(crate) use type_registry::TypeRegistry;
pub(crate) use vmcontext::ValRaw;
