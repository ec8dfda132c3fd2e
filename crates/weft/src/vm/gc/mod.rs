//! The per-store managed heap and its collector.
//!
//! * `semispace`: the object heap (two semispaces, bump allocation in
//!   generated code, Cheney copying) and object layouts by type;
//! * `heap`: exception objects on that heap, and when they make a
//!   collection due;
//! * `ops`: the allocation slow path and the GC builtins;
//! * `roots`: the precise roots: stack-map slots of every wasm frame the
//!   one walker finds, spill slots and frames of suspended continuations,
//!   globals, tables, element segments, host-held handles;
//! * `host_roots`: the embedder's roots (`AnyRef`, `ExnRef`).
//!
//! See `docs/RATIONALE.md` ("Why are GC objects on a copying semispace
//! heap, addressed by raw pointers?").

pub(crate) mod heap;
pub(crate) mod host_roots;
pub(crate) mod ops;
pub(crate) mod roots;
pub(crate) mod semispace;

pub(crate) use heap::GcHeap;
pub(crate) use host_roots::{HostRoots, HostValues};
pub(crate) use semispace::Semispace;
