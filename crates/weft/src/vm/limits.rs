//! The store side of resource limits: reaching the embedder's
//! [`ResourceLimiter`] (which lives in the typed part of the store) from the
//! untyped `StoreOpaque`, and every growth and allocation that must ask it.
//!
//! ```text
//! Store<T>::limiter(f)  stores f in StoreInner<T>::limiter and
//!                       StoreOpaque::with_limiter = with_limiter_of::<T>
//! StoreOpaque::limiter(|l| ...)
//!   -> with_limiter_of::<T>(self_ptr, callback)
//!        -> f(&mut StoreInner<T>::data) -> &mut dyn ResourceLimiter
//!        -> callback(limiter)
//! ```
//!
//! Only the `limiter` and `data` fields of the `StoreInner<T>` are touched
//! on the way, never the `StoreOpaque` the caller is borrowing.

use super::store::StoreOpaque;
use crate::limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter,
};
use crate::store::StoreInner;
use crate::{Memory, Result, Table};
use anyhow::bail;

/// The typed accessor of a store's limiter: calls the callback with it
/// (if one is installed).
pub(crate) type WithLimiterFn = unsafe fn(*mut u8, &mut dyn FnMut(&mut dyn ResourceLimiter));

/// [`WithLimiterFn`] for stores with data `T`.
///
/// # Safety
/// `inner` must be the live `StoreInner<T>` whose `opaque` is the caller's
/// store, and neither its `limiter` nor its `data` field may be borrowed
/// elsewhere during the call.
pub(crate) unsafe fn with_limiter_of<T>(
    inner: *mut u8,
    callback: &mut dyn FnMut(&mut dyn ResourceLimiter),
) {
    let inner = inner.cast::<StoreInner<T>>();
    // SAFETY: per the contract, `inner` is live and these two fields are
    // not borrowed elsewhere; they are disjoint from `opaque`, which the
    // caller holds.
    let (limiter, data) = unsafe {
        (
            &mut *std::ptr::addr_of_mut!((*inner).limiter),
            &mut *std::ptr::addr_of_mut!((*inner).data),
        )
    };
    if let Some(get) = limiter {
        callback(get(data));
    }
}

/// Counts of what instantiation has created in a store, and their limits.
#[derive(Debug, Clone)]
pub(crate) struct ResourceCounts {
    instances: usize,
    tables: usize,
    memories: usize,
    instance_limit: usize,
    table_limit: usize,
    memory_limit: usize,
}

impl Default for ResourceCounts {
    fn default() -> Self {
        ResourceCounts {
            instances: 0,
            tables: 0,
            memories: 0,
            instance_limit: DEFAULT_INSTANCE_LIMIT,
            table_limit: DEFAULT_TABLE_LIMIT,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        }
    }
}

fn bump(count: &mut usize, limit: usize, by: usize, what: &str) -> Result<()> {
    let new = count.saturating_add(by);
    if new > limit {
        bail!("resource limit exceeded: {what} count too high at {new} (the limit is {limit})");
    }
    *count = new;
    Ok(())
}

/// What a growth request came to.
pub(crate) enum GrowOutcome {
    /// Grown; the old size (pages or elements).
    Grown(u64),
    /// Refused or failed: `memory.grow` / `table.grow` return -1.
    Failed,
}

impl StoreOpaque {
    /// Installs the typed accessor (from `Store::limiter`) and reads the
    /// limiter's count limits.
    pub(crate) fn install_limiter(&mut self, with: WithLimiterFn) {
        self.with_limiter = Some(with);
        if let Some((i, t, m)) = self.limiter(|l| (l.instances(), l.tables(), l.memories())) {
            self.counts.instance_limit = i;
            self.counts.table_limit = t;
            self.counts.memory_limit = m;
        }
    }

    /// Runs `f` with the store's limiter; `None` when there is none.
    pub(crate) fn limiter<R>(
        &mut self,
        f: impl FnOnce(&mut dyn ResourceLimiter) -> R,
    ) -> Option<R> {
        let with = self.with_limiter?;
        let mut f = Some(f);
        let mut out = None;
        // SAFETY: `self_ptr` is the `StoreInner<T>` holding `self` (set in
        // `Store::new`), `with` was installed by `Store::limiter` for that
        // same `T`, and nothing else borrows its `limiter` or `data` while
        // the store is borrowed through `self`.
        unsafe {
            with(self.self_ptr, &mut |l| {
                if let Some(f) = f.take() {
                    out = Some(f(l));
                }
            })
        };
        out
    }

    /// Checks and counts the instance, tables and memories that
    /// instantiating a module defining `tables` tables and `memories`
    /// memories creates.
    pub(crate) fn bump_resource_counts(&mut self, tables: usize, memories: usize) -> Result<()> {
        let saved = self.counts.clone();
        let c = &mut self.counts;
        let r = bump(&mut c.instances, c.instance_limit, 1, "instance")
            .and_then(|()| bump(&mut c.tables, c.table_limit, tables, "table"))
            .and_then(|()| bump(&mut c.memories, c.memory_limit, memories, "memory"));
        if r.is_err() {
            self.counts = saved;
        }
        r
    }

    /// Asks the limiter whether a new memory of type `ty` may be created.
    pub(crate) fn check_new_memory(&mut self, ty: &crate::MemoryType) -> Result<()> {
        let Some(bytes) = ty.min.checked_mul(ty.page_size()) else {
            // Unrepresentable: creating the memory fails with its own error.
            return Ok(());
        };
        let max = ty.max.and_then(|m| m.checked_mul(ty.page_size()));
        let allowed = self.limiter(|l| l.memory_growing(0, to_usize(bytes), max.map(to_usize)));
        match allowed {
            None | Some(Ok(true)) => Ok(()),
            Some(Ok(false)) => bail!(
                "memory minimum size of {} pages exceeds the store's memory limits",
                ty.min
            ),
            Some(Err(e)) => Err(e),
        }
    }

    /// Asks the limiter whether a new table of type `ty` may be created.
    pub(crate) fn check_new_table(&mut self, ty: &crate::TableType) -> Result<()> {
        let allowed = self.limiter(|l| l.table_growing(0, to_usize(ty.min), ty.max.map(to_usize)));
        match allowed {
            None | Some(Ok(true)) => Ok(()),
            Some(Ok(false)) => bail!(
                "table minimum size of {} elements exceeds the store's table limits",
                ty.min
            ),
            Some(Err(e)) => Err(e),
        }
    }

    /// Grows memory `m` by `delta` pages, asking the limiter first. `Err`
    /// means the limiter wants a trap (or host error) with that error.
    pub(crate) fn grow_memory_limited(&mut self, m: Memory, delta: u64) -> Result<GrowOutcome> {
        let mem = &self.memories[m.index as usize];
        let old = mem.pages();
        if delta == 0 {
            return Ok(GrowOutcome::Grown(old));
        }
        let page = mem.ty.page_size();
        let current = mem.data().len();
        let maximum = mem.ty.max.and_then(|p| p.checked_mul(page)).map(to_usize);
        let Some(desired) = old.checked_add(delta).and_then(|p| p.checked_mul(page)) else {
            return Ok(GrowOutcome::Failed);
        };
        match self.limiter(|l| l.memory_growing(current, to_usize(desired), maximum)) {
            Some(Ok(false)) => return Ok(GrowOutcome::Failed),
            Some(Err(e)) => return Err(e),
            None | Some(Ok(true)) => {}
        }
        match self.memories[m.index as usize].try_grow(delta) {
            Ok(old) => Ok(GrowOutcome::Grown(old)),
            Err(e) => match self.limiter(|l| l.memory_grow_failed(e)) {
                Some(Err(e)) => Err(e),
                None | Some(Ok(())) => Ok(GrowOutcome::Failed),
            },
        }
    }

    /// Grows table `t` by `delta` elements set to `init`, asking the
    /// limiter first; as [`StoreOpaque::grow_memory_limited`].
    pub(crate) fn grow_table_limited(
        &mut self,
        t: Table,
        delta: u64,
        init: usize,
    ) -> Result<GrowOutcome> {
        let table = &self.tables[t.index as usize];
        let old = table.len();
        if delta == 0 {
            return Ok(GrowOutcome::Grown(old));
        }
        let maximum = table.ty.max.map(to_usize);
        let Some(desired) = old.checked_add(delta) else {
            return Ok(GrowOutcome::Failed);
        };
        match self.limiter(|l| l.table_growing(to_usize(old), to_usize(desired), maximum)) {
            Some(Ok(false)) => return Ok(GrowOutcome::Failed),
            Some(Err(e)) => return Err(e),
            None | Some(Ok(true)) => {}
        }
        match self.tables[t.index as usize].try_grow(delta, init) {
            Ok(old) => Ok(GrowOutcome::Grown(old)),
            Err(e) => match self.limiter(|l| l.table_grow_failed(e)) {
                Some(Err(e)) => Err(e),
                None | Some(Ok(())) => Ok(GrowOutcome::Failed),
            },
        }
    }
}

/// Sizes beyond the address space saturate (the limiter sees "huge").
fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}
