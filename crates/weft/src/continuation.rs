//! Continuations (the stack-switching proposal) from the embedder's side:
//! [`ContRef`] values, creating a continuation from a wasm function,
//! resuming it from Rust and handling its suspensions.
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! use weft::{ContRef, Engine, Instance, Module, Resumed, Store, Val};
//! let engine = Engine::default();
//! let mut store = Store::new(&engine, ());
//! let module = Module::new(&engine, r#"(module
//!   (tag $yield (export "yield") (param i32))
//!   (func (export "gen") (param $n i32)
//!     (loop $l
//!       (suspend $yield (local.get $n))
//!       (local.set $n (i32.sub (local.get $n) (i32.const 1)))
//!       (br_if $l (local.get $n)))))"#)?;
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let generator = instance.get_func(&mut store, "gen").unwrap();
//! let tag = instance.get_export(&mut store, "yield").unwrap().into_tag().unwrap();
//! let mut k = ContRef::new(&mut store, &generator)?;
//! let mut args = vec![Val::I32(3)];
//! let mut seen = Vec::new();
//! loop {
//!     match k.resume(&mut store, &args, &[tag])? {
//!         Resumed::Suspended { payload, continuation, .. } => {
//!             seen.push(payload[0].unwrap_i32());
//!             k = continuation;
//!             args.clear();
//!         }
//!         Resumed::Returned(_) => break,
//!     }
//! }
//! assert_eq!(seen, [3, 2, 1]);
//! # Ok(())
//! # }
//! ```

use crate::store::StoreId;
use crate::{AsContextMut, Func, Result, Tag, Val};

/// A reference to a continuation of a store (the `contref` type): one
/// that has not run yet, or one suspended in `suspend` or `switch`.
///
/// Continuations are one-shot: resuming (or binding, or switching to) a
/// continuation uses the reference up, and using it again traps with
/// [`crate::Trap::ContinuationConsumed`]. A suspension hands out a new
/// reference to what is left.
///
/// # Lifetime
///
/// The store's collector reclaims continuations nothing can resume any
/// more (their stacks go back to the pool). A `ContRef` is plain data
/// (`Copy`), so the store cannot see when the embedder drops one: a
/// continuation whose reference the store handed out ([`ContRef::new`],
/// [`Resumed::Suspended`], a [`Val::ContRef`] read from a global, a table,
/// a function's results or a host function's parameters) stays alive
/// until that reference is consumed (by any resume, bind or switch, from
/// wasm or the host) or [`ContRef::unroot`] is called. A reference to a
/// continuation that was reclaimed is stale: resuming it fails with
/// [`crate::Trap::ContinuationConsumed`], never worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContRef {
    pub(crate) store: StoreId,
    pub(crate) raw: u64,
}

/// How a resume from the host ended.
#[derive(Debug)]
pub enum Resumed {
    /// The continuation's function returned these results; the
    /// continuation is gone.
    Returned(Vec<Val>),
    /// It suspended with `tag` (one of the tags the resume handles) and
    /// this payload; `continuation` resumes it (with the tag's result
    /// values).
    Suspended {
        /// The tag it suspended with.
        tag: Tag,
        /// The tag's parameters, as the suspension passed them.
        payload: Vec<Val>,
        /// The rest of the computation.
        continuation: ContRef,
    },
}

impl ContRef {
    /// A fresh continuation that will run the wasm function `func` (host
    /// functions cannot be continuations). Its first resume passes the
    /// function's parameters.
    pub fn new(mut store: impl AsContextMut, func: &Func) -> Result<ContRef> {
        let store = &mut *store.as_context_mut().0;
        let raw = crate::vm::continuation::api_new(store, *func)?;
        Ok(ContRef {
            store: store.id,
            raw,
        })
    }

    /// Resumes the continuation with `args` (the values it waits for: its
    /// function's parameters the first time, the result values of the tag
    /// it suspended with afterwards), handling suspensions with any of
    /// `handle`. Returns when it returns or suspends with one of those
    /// tags; a trap inside is an error (the continuation is then gone),
    /// and so is a suspension with another tag (`unhandled tag`).
    ///
    /// Host functions it calls may call back into wasm, which may resume
    /// other continuations.
    pub fn resume(
        &self,
        mut store: impl AsContextMut,
        args: &[Val],
        handle: &[Tag],
    ) -> Result<Resumed> {
        let store = &mut *store.as_context_mut().0;
        store.check(self.store, "continuation reference");
        let tags = handled(store, handle);
        let r = crate::vm::continuation::api_resume(store, self.raw, args, &tags)?;
        Ok(self.resumed(r, handle))
    }

    /// [`ContRef::resume`] on a fiber, so that async host functions the
    /// continuation calls can await futures (requires
    /// [`crate::Config::async_support`], like [`Func::call_async`]). An
    /// async embedder can keep the continuation a suspension hands back
    /// across its own `.await`s and resume it later, with this or with
    /// [`ContRef::resume`].
    pub async fn resume_async(
        &self,
        mut store: impl AsContextMut,
        args: &[Val],
        handle: &[Tag],
    ) -> Result<Resumed> {
        let store = &mut store.as_context_mut().0;
        store.check(self.store, "continuation reference");
        let tags = handled(store, handle);
        let raw = self.raw;
        let r = crate::vm::on_fiber(&mut store.opaque, move |s| {
            crate::vm::continuation::api_resume(s, raw, args, &tags)
        })?
        .await?;
        Ok(self.resumed(r, handle))
    }

    /// The embedder's view of how a resume from the host ended.
    fn resumed(&self, r: crate::vm::continuation::ApiResumed, handle: &[Tag]) -> Resumed {
        match r {
            crate::vm::continuation::ApiResumed::Returned(vals) => Resumed::Returned(vals),
            crate::vm::continuation::ApiResumed::Suspended {
                handler,
                payload,
                continuation,
            } => Resumed::Suspended {
                tag: handle[handler],
                payload,
                continuation: ContRef {
                    store: self.store,
                    raw: continuation,
                },
            },
        }
    }

    /// Stops keeping the continuation alive on the embedder's behalf (see
    /// [the lifetime rules](ContRef#lifetime)): once nothing in the store
    /// reaches it either, the next collection reclaims it, and this
    /// reference (with every copy of it) goes stale. Returns whether the
    /// embedder's hold was released (`false` for a stale or consumed
    /// reference, or one already unrooted). Wasm may keep using the
    /// continuation as long as it holds a reference of its own.
    pub fn unroot(&self, mut store: impl AsContextMut) -> bool {
        let store = &mut *store.as_context_mut().0;
        store.check(self.store, "continuation reference");
        store
            .continuations
            .as_deref()
            .is_some_and(|pool| pool.unpin(self.raw))
    }

    pub(crate) fn from_raw(store: StoreId, raw: u64) -> Option<ContRef> {
        (raw != 0).then_some(ContRef { store, raw })
    }
}

/// The handled tags as the runtime takes them: (index, canonical type id).
fn handled(store: &crate::vm::StoreOpaque, handle: &[Tag]) -> Vec<(usize, u32)> {
    handle
        .iter()
        .map(|t| (t.index as usize, store.tag_type_id(*t)))
        .collect()
}
