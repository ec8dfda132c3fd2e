//! weft: a WebAssembly runtime built for stack switching.
//!
//! ```
//! use weft::{Engine, Instance, Module, Store, Val};
//!
//! let engine = Engine::default();
//! let module = Module::new(
//!     &engine,
//!     r#"(module (func (export "add") (param i32 i32) (result i32)
//!            local.get 0 local.get 1 i32.add))"#,
//! )?;
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let add = instance.get_func(&mut store, "add").unwrap();
//! let mut results = [Val::I32(0)];
//! add.call(&mut store, &[Val::I32(2), Val::I32(40)], &mut results)?;
//! assert_eq!(results[0].unwrap_i32(), 42);
//! # Ok::<(), weft::Error>(())
//! ```
//!
//! This crate must not depend on the command-line tool, on the `.wast`
//! runner or on WASI: those are built on top of its public API.

mod artifact;
mod cache;
mod continuation;
mod engine;
mod exn;
mod externals;
mod func;
mod gc;
mod instance;
mod limits;
mod linker;
mod module;
mod store;
mod trap;
mod typed;
mod types;
mod values;
pub(crate) mod vm;

pub use cache::{CacheStats, default_cache_directory};
pub use continuation::{ContRef, Resumed};
pub use engine::{Config, Engine, OptLevel};
pub use exn::{Exception, ExnHeapStats, ExnRef};
pub use externals::{Extern, Global, Memory, Table, Tag};
pub use func::{Caller, Func};
pub use gc::{AnyKind, AnyRef, GcHeapStats};
pub use instance::Instance;
pub use limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter,
    StoreLimits, StoreLimitsBuilder,
};
pub use linker::{InstancePre, Linker};
pub use module::{ExportType, ImportType, Module};
pub use store::{AsContext, AsContextMut, ContinuationStats, Store, StoreContext, StoreContextMut};
pub use trap::{FrameInfo, Trap, WasmBacktrace};
pub use typed::{AsyncHostFuture, IntoFunc, RawStore, TypedFunc, V128, WasmList, WasmRet, WasmTy};
pub use types::{
    ExternType, FuncType, GlobalType, HeapType, MemoryType, Mutability, RefType, TableType, ValType,
};
pub use values::{ExternRef, Val};

/// The one error type of the API. Traps are carried as a [`Trap`] that can
/// be recovered with `error.downcast_ref::<Trap>()`, with a
/// [`WasmBacktrace`] attached (`error.downcast_ref::<WasmBacktrace>()`).
pub type Error = anyhow::Error;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
