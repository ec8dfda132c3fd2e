//! Exceptions from the host's side: exception objects ([`ExnRef`]) and
//! the error an uncaught exception becomes ([`Exception`]).
//!
//! ```
//! use weft::{Engine, Exception, ExnRef, FuncType, Linker, Module, Store, Tag, Val, ValType};
//!
//! # fn main() -> weft::Result<()> {
//! let engine = Engine::default();
//! let mut store = Store::new(&engine, ());
//! let tag = Tag::new(&mut store, &FuncType::new([ValType::I32], []));
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "tag" (tag $t (param i32)))
//!       (import "host" "fail" (func $fail))
//!       (func (export "run") (result i32)
//!         (block $caught (result i32)
//!           (try_table (catch $t $caught) (call $fail))
//!           (i32.const -1))))
//! "#)?;
//! let mut linker = Linker::new(&engine);
//! linker.define("host", "tag", tag)?;
//! // A host function throws a wasm exception that wasm catches.
//! linker.func_wrap("host", "fail", move |mut caller: weft::Caller<'_, ()>| -> weft::Result<()> {
//!     let exn = ExnRef::new(&mut caller, tag, &[Val::I32(42)])?;
//!     Err(Exception::new(exn).into())
//! })?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
//! assert_eq!(run.call(&mut store, ())?, 42);
//! # Ok(())
//! # }
//! ```
//!
//! An exception that no wasm handler catches reaches the embedder as an
//! error that downcasts to [`Exception`]; its tag and payload are read
//! with [`ExnRef::tag`] and [`ExnRef::payload`].
//!
//! `ExnRef`s held by the host are GC roots of the store's exception heap
//! until [`ExnRef::unroot`] (or until the store is dropped); wasm-held
//! exceptions are found precisely and reclaimed once unreachable.

use crate::store::{AsContext, AsContextMut, StoreId};
use crate::{Result, Tag, Val, WasmBacktrace};
use anyhow::bail;
use std::fmt;

/// A reference to an exception object of a store (the `exnref` type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExnRef {
    pub(crate) store: StoreId,
    pub(crate) handle: u32,
}

impl ExnRef {
    /// A host root for the live object `raw` (a raw `exnref`).
    pub(crate) fn root(store: &mut crate::vm::StoreOpaque, raw: usize) -> ExnRef {
        assert!(raw != 0, "non-null exnref");
        ExnRef {
            store: store.id,
            handle: store.gc_roots.add(raw as u64),
        }
    }

    /// The raw `exnref` (valid until the next allocation).
    pub(crate) fn raw(&self, store: &crate::vm::StoreOpaque) -> usize {
        assert!(self.store == store.id, "exception used with another store");
        let raw = store.gc_roots.get(self.handle) as usize;
        assert!(raw != 0, "exception used after unroot");
        raw
    }

    /// Drops one host root of this object and returns its raw value (the
    /// object must be used right away, e.g. thrown).
    pub(crate) fn release(self, store: &mut crate::vm::StoreOpaque) -> usize {
        let raw = store.gc_roots.get(self.handle) as usize;
        store.gc_roots.remove(self.handle);
        raw
    }

    /// A new exception of `tag` carrying `payload` (one value per tag
    /// parameter).
    pub fn new(mut store: impl AsContextMut, tag: Tag, payload: &[Val]) -> Result<ExnRef> {
        let ctx = store.as_context_mut();
        let store = &mut *ctx.0;
        let ty = store.tag_ty(tag);
        if payload.len() != ty.params().len() {
            bail!(
                "tag {ty} takes {} payload values, {} were given",
                ty.params().len(),
                payload.len()
            );
        }
        let mut raw = Vec::with_capacity(payload.len());
        for (i, (v, t)) in payload.iter().zip(ty.params()).enumerate() {
            raw.push(
                store
                    .val_to_raw(v, t)
                    .map_err(|e| anyhow::anyhow!("payload value {i}: {e}"))?,
            );
        }
        let exn = crate::vm::exceptions::new_from_host(store, tag, &mut raw)?;
        Ok(ExnRef::root(store, exn))
    }

    /// The exception's tag.
    pub fn tag(&self, store: impl AsContext) -> Tag {
        self.tag_in(store.as_context().0)
    }

    fn tag_in(&self, store: &crate::vm::StoreOpaque) -> Tag {
        assert!(self.store == store.id, "exception used with another store");
        // SAFETY: a rooted exception is a live object.
        let o = unsafe { crate::vm::exn_object(self.raw(store)) }.expect("non-null");
        Tag {
            store: store.id,
            index: o.tag,
        }
    }

    /// The exception's payload values, in tag parameter order.
    pub fn payload(&self, mut store: impl AsContextMut) -> Vec<Val> {
        let ctx = store.as_context_mut();
        let store = &mut *ctx.0;
        assert!(self.store == store.id, "exception used with another store");
        let tag = self.tag_in(store);
        let ty = store.tag_ty(tag);
        // SAFETY: a rooted exception is a live object, and nothing
        // allocates while its payload is copied out.
        let bits: Vec<u128> = unsafe {
            crate::vm::exn_object(self.raw(store))
                .expect("non-null")
                .payload()
        };
        bits.iter()
            .zip(ty.params())
            .map(|(b, t)| store.raw_to_val(*b, t))
            .collect()
    }

    /// Stops holding the object: once wasm does not hold it either, the
    /// collector may reclaim it. Using `self` afterwards is an error.
    pub fn unroot(self, mut store: impl AsContextMut) {
        let ctx = store.as_context_mut();
        let store = &mut *ctx.0;
        assert!(self.store == store.id, "exception used with another store");
        self.release(store);
    }
}

/// Statistics of a store's exception heap ([`crate::Store::exn_heap_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExnHeapStats {
    /// Exception objects allocated and not reclaimed (exact right after a
    /// collection: the survivors plus those allocated since).
    pub live: usize,
    /// How many exception objects may be live before the next collection
    /// is due (twice the last survivors, at least 1,024).
    pub capacity: usize,
    /// Collections so far.
    pub collections: u64,
}

/// A wasm exception as an error: what an uncaught exception becomes at
/// the embedder, and what a host function returns to throw one into wasm.
#[derive(Debug, Clone)]
pub struct Exception {
    exn: ExnRef,
    backtrace: WasmBacktrace,
}

impl Exception {
    /// An error that throws `exn` when a host function returns it to wasm.
    pub fn new(exn: ExnRef) -> Exception {
        Exception {
            exn,
            backtrace: WasmBacktrace::default(),
        }
    }

    pub(crate) fn with_backtrace(exn: ExnRef, backtrace: WasmBacktrace) -> Exception {
        Exception { exn, backtrace }
    }

    /// The exception object.
    pub fn exn(&self) -> ExnRef {
        self.exn
    }

    /// The wasm frames from the throw site outwards (empty for an
    /// exception made by the host).
    pub fn backtrace(&self) -> &WasmBacktrace {
        &self.backtrace
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uncaught wasm exception")?;
        if !self.backtrace.frames.is_empty() {
            write!(f, "\n{}", self.backtrace)?;
        }
        Ok(())
    }
}

impl std::error::Error for Exception {}
