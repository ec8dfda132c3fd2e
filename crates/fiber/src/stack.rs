//! The one stack type: an mmap'd region with a guard page below it, owned
//! by a fiber (and later a continuation) while it runs, then handed back to
//! a [`StackPool`] or unmapped.
//!
//! ## Layout
//!
//! One anonymous private mapping per stack. Example addresses for a 16 KiB
//! stack on a 4 KiB-page machine (`Stack::new(16 * 1024)`); stacks grow
//! down, towards the guard page:
//!
//! ```text
//!   0x7f00_0000_5000  +------------------------------------------+ <- top() = range().end
//!                     | switch header, 32 bytes (x86_64):        |    (page aligned)
//!   0x7f00_0000_4ff8  |   top - 8 : resume pc (frame record .ret)|
//!   0x7f00_0000_4ff0  |   top - 16: switch slot (frame rec. .fp) |
//!   0x7f00_0000_4fe0  |   top - 32: two reserved words           |
//!                     +------------------------------------------+
//!   0x7f00_0000_4fd8  | initial frame, 56 bytes, consumed by the |
//!                     | first resume: return address = the       |
//!                     | start trampoline, then rbp, rbx (entry   |
//!   0x7f00_0000_4fa8  | fn), r12 (entry arg), r13..r15           |
//!                     +------------------------------------------+
//!                     |                                          |
//!                     |   fiber frames, growing down (the first  |
//!                     |   one's return address overwrites the    |
//!                     |   initial frame at top - 40)             |
//!                     |   pages are committed by the kernel on   |
//!                     |   first touch: an untouched stack costs  |
//!                     |   address space only                     |
//!                     v                                          v
//!   0x7f00_0000_1000  +------------------------------------------+ <- range().start
//!                     | guard page: a guard region (Linux 6.13+, |    = guard_range().end
//!                     | MADV_GUARD_INSTALL) or PROT_NONE         |
//!                     | (any access faults: SIGSEGV)             |
//!   0x7f00_0000_0000  +------------------------------------------+ <- guard_range().start
//!                                                                     = mapping start
//! ```
//!
//! The header and the initial frame belong to the switch routine of the
//! architecture (see `arch/x86_64.rs` for what each word means and why the
//! unwinder can walk from the fiber into the resumer through them). Rust
//! code running on the stack never sees them: the fiber's first Rust frame
//! starts below the header.
//!
//! ## Pooling
//!
//! A [`StackPool`] hands out stacks of one size and takes them back when
//! they are dropped (a fiber drops its stack when it finishes, or when it
//! is dropped). It keeps at most `max_cached` idle stacks; more are
//! unmapped. On return, the pages of the usable range are given back to the
//! kernel with `madvise(MADV_DONTNEED)` except for the top `keep_resident`
//! bytes, so an idle pooled stack costs address space, not memory. A stack
//! whose pool has been dropped is simply unmapped.
//!
//! ## Limits
//!
//! Each stack is its own mapping and its guard page splits it into two
//! kernel VMAs, so a process holds at most about `vm.max_map_count / 2`
//! (65,530 / 2 by default) stacks, pooled ones included. That is plenty
//! for host fibers. Continuation stacks that run only wasm code (docs/INVARIANTS.md,
//! invariant 7) need no guard page and are meant to be carved from large
//! pooled regions instead; that allocator will hand out this same `Stack`
//! type (today every `Stack` has a guard page).
//!
//! ## Hooks for the engine (invariant 1 and 3)
//!
//! [`Stack::range`] is the usable range (what the engine turns into its
//! stack limit for code running on the stack, after subtracting whatever
//! red zone its host calls need), and [`Stack::guard_range`] is the range
//! whose faults mean "stack overflow on this stack" for the trap handler.

use crate::Error;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use weft_sys::Mmap;

pub use weft_sys::page_size;

/// `size` rounded up to a whole number of pages, at least one page.
fn usable_size(size: usize) -> Result<usize, Error> {
    let page = page_size();
    let rounded = size
        .max(1)
        .checked_add(page - 1)
        .map(|s| s & !(page - 1))
        .filter(|s| s.checked_add(page).is_some());
    rounded.ok_or(Error::SizeOverflow { requested: size })
}

/// The mapping itself (a guard page, then the usable range), unmapped on
/// drop. Knows nothing about pools.
#[derive(Debug)]
struct Mapping {
    /// The whole mapping; its lowest page is its guard (`Mmap::guarded`).
    mmap: Mmap,
    /// Guard bytes at the bottom (one page).
    guard: usize,
    /// Usable bytes above the guard (a multiple of the page size).
    size: usize,
}

impl Mapping {
    /// Maps `size` usable bytes (already page-rounded) plus a guard page
    /// below them (`Mmap::guarded`: a guard region where the kernel has
    /// them, else `PROT_NONE`). Nothing is committed: the kernel commits
    /// pages on first touch.
    fn new(size: usize) -> Result<Mapping, Error> {
        let guard = page_size();
        let err = |err: anyhow::Error| Error::Map {
            size,
            guard,
            err: err.into(),
        };
        // No overflow: checked by `usable_size`.
        let mmap = Mmap::guarded(size + guard, guard).map_err(err)?;
        Ok(Mapping { mmap, guard, size })
    }

    fn low(&self) -> usize {
        self.mmap.as_ptr() as usize + self.guard
    }

    fn top(&self) -> usize {
        self.low() + self.size
    }

    /// Gives the physical pages of the usable range back to the kernel,
    /// except the top `keep` bytes. Returns false if that failed.
    fn decommit(&mut self, keep: usize) -> bool {
        let page = page_size();
        let keep = keep.min(self.size).next_multiple_of(page).min(self.size);
        let len = self.size - keep;
        // The stack is idle (being returned to the pool): no live Rust
        // object is stored in it, and it reads as zeros afterwards, which is
        // fine for a stack.
        self.mmap.decommit(self.guard, len).is_ok()
    }
}

/// A stack for a fiber: usable memory with a guard page below it (a
/// guard region, or `PROT_NONE` on kernels without them). See the
/// [module docs](self) for the layout.
///
/// Dropping a `Stack` returns it to its [`StackPool`] (if it came from one
/// that is still alive and not full) or unmaps it.
#[derive(Debug)]
pub struct Stack {
    mapping: Option<Mapping>,
    pool: Option<Weak<PoolShared>>,
}

impl Stack {
    /// Maps a stack with at least `size` usable bytes (rounded up to whole
    /// pages, at least one page) and a guard page below them. Not pooled:
    /// dropping it unmaps it.
    ///
    /// Memory is committed by the kernel page by page as the stack is
    /// touched, so a large `size` costs address space only.
    pub fn new(size: usize) -> Result<Stack, Error> {
        let size = usable_size(size)?;
        Ok(Stack {
            mapping: Some(Mapping::new(size)?),
            pool: None,
        })
    }

    fn mapping(&self) -> &Mapping {
        self.mapping
            .as_ref()
            .expect("stack mapping present until drop")
    }

    /// The top of the stack: the highest address + 1 (page aligned). The
    /// first frame is built just below it.
    pub fn top(&self) -> *mut u8 {
        let m = self.mapping();
        // SAFETY: `guard + size` is the length of the mapping, so this is
        // its one-past-the-end address.
        unsafe { m.mmap.as_ptr().add(m.guard + m.size) }
    }

    /// Usable bytes (a multiple of the page size).
    pub fn size(&self) -> usize {
        self.mapping().size
    }

    /// The usable range `low..high` (`high == top()`): code running on
    /// this stack has its stack pointer in here. An engine sets its stack
    /// limit for code running on the fiber to `low` plus the red zone its
    /// host calls need.
    pub fn range(&self) -> Range<usize> {
        let m = self.mapping();
        m.low()..m.top()
    }

    /// The guard page range: a fault address in here is a stack overflow
    /// on this stack.
    pub fn guard_range(&self) -> Range<usize> {
        let m = self.mapping();
        let base = m.mmap.as_ptr() as usize;
        base..base + m.guard
    }

    /// Whether this stack came from a [`StackPool`].
    pub fn is_pooled(&self) -> bool {
        self.pool.is_some()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let Some(mapping) = self.mapping.take() else {
            return;
        };
        match self.pool.as_ref().and_then(Weak::upgrade) {
            Some(pool) => pool.give_back(mapping),
            None => drop(mapping),
        }
    }
}

/// Configuration of a [`StackPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackPoolConfig {
    /// Usable bytes per stack (rounded up to whole pages).
    pub stack_size: usize,
    /// At most this many idle stacks are kept for reuse; stacks returned
    /// beyond that are unmapped.
    pub max_cached: usize,
    /// When a stack returns to the pool, its usable pages are decommitted
    /// (`madvise(MADV_DONTNEED)`) except for this many bytes at the top
    /// (rounded up to whole pages). `usize::MAX` keeps everything
    /// resident (no syscall on return).
    pub keep_resident: usize,
}

impl Default for StackPoolConfig {
    fn default() -> Self {
        StackPoolConfig {
            stack_size: 1 << 20,
            max_cached: 64,
            keep_resident: 0,
        }
    }
}

/// A pool of stacks of one size. Cloning gives another handle to the same
/// pool; the cached stacks are unmapped when the last handle is dropped.
/// Thread-safe.
#[derive(Debug, Clone)]
pub struct StackPool {
    shared: Arc<PoolShared>,
}

#[derive(Debug)]
struct PoolShared {
    /// Page-rounded usable size of every stack of this pool.
    size: usize,
    max_cached: usize,
    keep_resident: usize,
    /// Idle stacks, most recently returned last (reused first: its top
    /// pages are the most likely to be resident and in cache).
    cached: Mutex<Vec<Mapping>>,
    /// Stacks handed out and not yet dropped.
    in_use: AtomicUsize,
}

impl PoolShared {
    fn give_back(&self, mut mapping: Mapping) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.len() < self.max_cached
            && (self.keep_resident == usize::MAX || mapping.decommit(self.keep_resident))
        {
            cached.push(mapping);
        }
        // Otherwise `mapping` is dropped here: unmapped.
    }
}

impl StackPool {
    /// A pool handing out stacks of `config.stack_size` usable bytes.
    pub fn new(config: StackPoolConfig) -> Result<StackPool, Error> {
        Ok(StackPool {
            shared: Arc::new(PoolShared {
                size: usable_size(config.stack_size)?,
                max_cached: config.max_cached,
                keep_resident: config.keep_resident,
                cached: Mutex::new(Vec::new()),
                in_use: AtomicUsize::new(0),
            }),
        })
    }

    /// A stack from the pool: a cached one if there is one, else a fresh
    /// mapping. It returns to this pool when dropped.
    pub fn get(&self) -> Result<Stack, Error> {
        let cached = self
            .shared
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let mapping = match cached {
            Some(m) => m,
            None => Mapping::new(self.shared.size)?,
        };
        self.shared.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Stack {
            mapping: Some(mapping),
            pool: Some(Arc::downgrade(&self.shared)),
        })
    }

    /// Usable bytes of every stack of this pool (page-rounded).
    pub fn stack_size(&self) -> usize {
        self.shared.size
    }

    /// Number of idle stacks held for reuse.
    pub fn cached(&self) -> usize {
        self.shared
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Number of stacks handed out by [`StackPool::get`] and not yet
    /// dropped (returned or unmapped).
    pub fn in_use(&self) -> usize {
        self.shared.in_use.load(Ordering::Relaxed)
    }

    /// Unmaps every idle stack.
    pub fn clear(&self) {
        let idle =
            std::mem::take(&mut *self.shared.cached.lock().unwrap_or_else(|e| e.into_inner()));
        drop(idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_pages() {
        let page = page_size();
        let s = Stack::new(1).unwrap();
        assert_eq!(s.size(), page);
        let s = Stack::new(page + 1).unwrap();
        assert_eq!(s.size(), 2 * page);
        assert_eq!(s.range().end, s.top() as usize);
        assert_eq!(s.range().len(), 2 * page);
        assert_eq!(s.guard_range().end, s.range().start);
        assert_eq!(s.guard_range().len(), page);
        assert!(!s.is_pooled());
    }

    #[test]
    fn absurd_size_is_a_clear_error() {
        let e = Stack::new(usize::MAX - 10).unwrap_err();
        assert!(matches!(e, Error::SizeOverflow { .. }), "{e}");
        // Fits in usize but not in the address space.
        let e = Stack::new(1 << 62).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("mmap"), "{msg}");
        assert!(msg.contains(&(1usize << 62).to_string()), "{msg}");
    }

    #[test]
    fn usable_range_is_writable() {
        let s = Stack::new(3 * page_size()).unwrap();
        for addr in s.range().step_by(page_size()) {
            // SAFETY: `addr` is inside the stack's usable (read-write) range
            // and nothing else uses this stack.
            unsafe { (addr as *mut u64).write_volatile(0x5a5a) };
        }
    }

    #[test]
    fn pool_reuses_and_caps() {
        let pool = StackPool::new(StackPoolConfig {
            stack_size: 8 * 1024,
            max_cached: 2,
            keep_resident: 0,
        })
        .unwrap();
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        let c = pool.get().unwrap();
        assert!(a.is_pooled());
        assert_eq!(pool.in_use(), 3);
        assert_eq!(pool.cached(), 0);
        let a_top = a.top();
        drop(a);
        drop(b);
        drop(c);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.cached(), 2, "capped at max_cached");
        let again = pool.get().unwrap();
        assert_eq!(pool.cached(), 1);
        let again2 = pool.get().unwrap();
        assert!(again.top() == a_top || again2.top() == a_top || pool.cached() == 0);
        drop((again, again2));
        pool.clear();
        assert_eq!(pool.cached(), 0);
    }

    #[test]
    fn stack_outliving_its_pool_is_unmapped() {
        let pool = StackPool::new(StackPoolConfig {
            stack_size: 4096,
            max_cached: 4,
            keep_resident: 0,
        })
        .unwrap();
        let s = pool.get().unwrap();
        drop(pool);
        drop(s); // must not panic or leak; the pool is gone
    }
}
