//! Shared metadata for weft, used by both the compiler and the runtime.
//!
//! This crate holds what the Wasm-to-CLIF compiler (`weft-cranelift`) and the
//! runtime (`weft`) must agree on:
//!
//! * [`ModuleInfo`]: the result of parsing and validating a module's sections
//!   (types, imports, functions, tables, memories, globals, segments, names);
//! * [`VMOffsets`]: the byte layout of an instance's `VMContext` and of the
//!   other records that generated code reads and writes;
//! * [`Trap`]: the trap codes shared by generated code and the trap handler;
//! * [`ModuleLimits`]: compile-time limits on a module's size and complexity;
//! * [`native_host_abi`]: which host functions wasm calls in the C calling
//!   convention directly.
//!
//! It must not depend on Cranelift, on the runtime, or on anything that
//! touches the operating system: it is pure data plus `wasmparser`.

pub mod gc;
mod limits;
mod module;
mod native_abi;
mod translate;
mod trap;
mod vmoffsets;

pub use limits::{GROW_TRAPPED, ModuleLimits};
pub use module::*;
pub use native_abi::{native_host_abi, native_host_direct};
pub use translate::{
    FunctionBodyData, ModuleTranslation, default_features, module_info_of_validated,
    translate_module, translate_module_with_limits,
};
pub use trap::Trap;
pub use vmoffsets::*;
pub use wasmparser;
