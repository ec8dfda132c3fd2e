//! The per-store managed heap (today: exception objects) and its
//! collector.
//!
//! * `heap`: the objects, their 32-bit handles and mark-sweep collection;
//! * `roots`: the precise roots: stack-map slots of every wasm frame the
//!   one walker finds, `exnref` globals and tables, host-held handles.
//!
//! See `docs/RATIONALE.md` ("Why are exception objects 32-bit handles
//! into a non-moving mark-sweep heap?").

pub(crate) mod heap;
pub(crate) mod host_roots;
pub(crate) mod ops;
pub(crate) mod roots;
pub(crate) mod semispace;

pub(crate) use heap::GcHeap;
pub(crate) use host_roots::HostRoots;
pub(crate) use semispace::Semispace;
