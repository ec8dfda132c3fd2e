//! The process-wide map from published code ranges to their metadata.
//!
//! The trap handler receives nothing but a faulting program counter; this
//! registry turns it into "which compiled code is this, and does it expect
//! to trap here?". Backtraces use the same lookup for PC -> function.
//!
//! ```text
//!   REGISTRY: RwLock<BTreeMap<start, (end, Arc<dyn CodeLookup>)>>
//!
//!   address space   ... [start_a, end_a) ...... [start_b, end_b) ...
//!                         module A code           module B code
//!
//!   lookup(pc): greatest start <= pc, then check pc < end.
//! ```
//!
//! Ranges never overlap (enforced by [`register`]). Code must be
//! unregistered before its memory is unmapped, and a range may only be
//! registered once its code is published.
//!
//! Signal handlers must not block or allocate, so they use
//! [`lookup_trap_in_handler`], which takes the read lock with `try_read`
//! only. A failed `try_read` can only mean that another thread is inside
//! [`register`]/[`unregister`] (or waiting to enter them) right now: the
//! faulting thread itself never holds the lock while generated code runs.
//! The handler therefore retries with `sched_yield` for a bounded number of
//! rounds, then gives up (the signal is then treated as not ours).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, TryLockError};
use weft_environ::Trap;

/// Metadata of one published code range.
///
/// Implementations are called from signal handlers: [`CodeLookup::trap_at`]
/// must be async-signal-safe: no allocation, no locks, no panics (a binary
/// search over a sorted, immutable table is the intended shape).
pub(crate) trait CodeLookup: Send + Sync + 'static {
    /// The trap that generated code expects at `pc`, if `pc` is a
    /// trapping instruction. `pc` is an absolute address inside the
    /// registered range.
    fn trap_at(&self, pc: usize) -> Option<Trap>;

    /// For downcasting to the concrete type (e.g. a compiled module).
    fn as_any(&self) -> &dyn std::any::Any;
}

struct Entry {
    end: usize,
    info: Arc<dyn CodeLookup>,
}

static REGISTRY: RwLock<BTreeMap<usize, Entry>> = RwLock::new(BTreeMap::new());

/// Finds the entry containing `pc` in an already locked map.
fn find(map: &BTreeMap<usize, Entry>, pc: usize) -> Option<&Entry> {
    let (_, entry) = map.range(..=pc).next_back()?;
    (pc < entry.end).then_some(entry)
}

/// Registers the code range `[start, end)`.
///
/// # Panics
///
/// If the range is empty or overlaps a registered range.
pub(crate) fn register(start: usize, end: usize, info: Arc<dyn CodeLookup>) {
    assert!(start < end, "empty code range {start:#x}..{end:#x}");
    let mut map = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if let Some((&s, e)) = map.range(..end).next_back() {
        assert!(
            e.end <= start,
            "code range {start:#x}..{end:#x} overlaps registered range {s:#x}..{:#x}",
            e.end
        );
    }
    map.insert(start, Entry { end, info });
}

/// Removes the range registered at `start`; returns whether there was one.
///
/// The entry's `Arc` is dropped after the lock is released, so a
/// `CodeLookup` with an expensive destructor does not stall signal
/// handlers.
pub(crate) fn unregister(start: usize) -> bool {
    let removed = REGISTRY
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&start);
    removed.is_some()
}

/// The metadata of the code containing `pc`, if any. Not for signal
/// handlers (it may block).
pub(crate) fn lookup(pc: usize) -> Option<Arc<dyn CodeLookup>> {
    let map = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    find(&map, pc).map(|e| e.info.clone())
}

/// How many times the signal-handler lookup retries a contended lock.
const HANDLER_LOCK_RETRIES: u32 = 10_000;

/// The trap expected at `pc`, for use inside a signal handler: never
/// blocks indefinitely, never allocates.
pub(crate) fn lookup_trap_in_handler(pc: usize) -> Option<Trap> {
    for _ in 0..HANDLER_LOCK_RETRIES {
        let map = match REGISTRY.try_read() {
            Ok(map) => map,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // SAFETY: `sched_yield` is async-signal-safe and has no
                // preconditions.
                unsafe { libc::sched_yield() };
                continue;
            }
        };
        return find(&map, pc)?.info.trap_at(pc);
    }
    None
}

/// Runs `f` with a lookup "is `pc` in registered code?" usable inside a
/// signal handler: the read lock is tried (never waited for) once for the
/// whole call, so `f` may ask many times without taking it again. Returns
/// `None` if the lock could not be had (another thread is registering
/// code right now).
pub(crate) fn with_handler_lookup<R>(f: impl FnOnce(&dyn Fn(usize) -> bool) -> R) -> Option<R> {
    let map = match REGISTRY.try_read() {
        Ok(map) => map,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    Some(f(&|pc| find(&map, pc).is_some()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `CodeLookup` for tests: traps at fixed offsets from `base`.
    pub(crate) struct TestCode {
        pub(crate) base: usize,
        pub(crate) traps: Vec<(usize, Trap)>,
    }

    impl CodeLookup for TestCode {
        fn trap_at(&self, pc: usize) -> Option<Trap> {
            let off = pc.checked_sub(self.base)?;
            self.traps.iter().find(|(o, _)| *o == off).map(|(_, t)| *t)
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    /// Unregisters a range when dropped (also on test failure).
    pub(crate) struct Registered(pub(crate) usize);

    impl Registered {
        pub(crate) fn new(start: usize, end: usize, traps: Vec<(usize, Trap)>) -> Registered {
            register(start, end, Arc::new(TestCode { base: start, traps }));
            Registered(start)
        }
    }

    impl Drop for Registered {
        fn drop(&mut self) {
            unregister(self.0);
        }
    }

    // Fake, never-dereferenced address ranges far from anything mapped by
    // other tests (the registry is process-global).
    const BASE: usize = 0x7e57_0000_0000;

    #[test]
    fn lookup_finds_and_misses() {
        let _a = Registered::new(
            BASE,
            BASE + 0x100,
            vec![(0x10, Trap::UnreachableCodeReached)],
        );
        let _b = Registered::new(
            BASE + 0x100,
            BASE + 0x180,
            vec![(0, Trap::MemoryOutOfBounds)],
        );

        let a = lookup(BASE).expect("start of range a");
        let a = a.as_any().downcast_ref::<TestCode>().unwrap();
        assert_eq!(a.base, BASE);
        assert_eq!(
            lookup(BASE + 0xff)
                .unwrap()
                .as_any()
                .downcast_ref::<TestCode>()
                .unwrap()
                .base,
            BASE
        );
        assert_eq!(
            lookup(BASE + 0x100)
                .unwrap()
                .as_any()
                .downcast_ref::<TestCode>()
                .unwrap()
                .base,
            BASE + 0x100
        );
        assert!(lookup(BASE - 1).is_none());
        assert!(lookup(BASE + 0x180).is_none());

        assert_eq!(
            lookup_trap_in_handler(BASE + 0x10),
            Some(Trap::UnreachableCodeReached)
        );
        assert_eq!(lookup_trap_in_handler(BASE + 0x11), None);
        assert_eq!(
            lookup_trap_in_handler(BASE + 0x100),
            Some(Trap::MemoryOutOfBounds)
        );
        assert_eq!(lookup_trap_in_handler(BASE + 0x200), None);
    }

    #[test]
    fn unregister_removes() {
        let start = BASE + 0x1000;
        register(
            start,
            start + 8,
            Arc::new(TestCode {
                base: start,
                traps: vec![],
            }),
        );
        assert!(lookup(start + 4).is_some());
        assert!(unregister(start));
        assert!(!unregister(start));
        assert!(lookup(start + 4).is_none());
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn overlapping_ranges_are_rejected() {
        let start = BASE + 0x2000;
        let _a = Registered::new(start, start + 0x10, vec![]);
        let _b = Registered::new(start + 0x8, start + 0x20, vec![]);
    }
}
