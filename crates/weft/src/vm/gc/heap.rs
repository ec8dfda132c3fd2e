//! Exception objects, on the store's object heap (`super::semispace`)
//! beside structs and arrays: one allocator, one collector, one kind of
//! root.
//!
//! ```text
//!   exnref (raw, pointer-sized) = the object's address      0 is null
//!
//!   exception object (8-aligned)
//!     +0   u32  header: tag identity | KIND_EXN << 30
//!     +4   u32  n = number of payload values
//!     +8   u64  0 (padding: the payload starts 16 bytes in)
//!     +16  [u128; n]  payload, one 16-byte slot per tag parameter, the
//!                     layout generated code loads a `catch` clause's
//!                     values from (`ExnPayload` returns its address)
//! ```
//!
//! The collector traces the payload slots that hold references (from the
//! tag's parameter types, registered per tag identity with
//! `Semispace::register_tag`). The payload address stays valid until the
//! next allocation (which may move the object).
//!
//! Collections are also due by count: when the number of exception
//! objects allocated since the last collection plus its survivors reaches
//! a threshold (twice the survivors, at least 1,024), so that a program
//! throwing in a loop runs in constant memory even when its exceptions are
//! too small to fill an allocation window soon.

use weft_environ::gc_object;

/// Kind of an exception object (header bits above `KIND_SHIFT`).
pub(crate) const KIND_EXN: u32 = 2;
/// Offset of the payload.
pub(crate) const PAYLOAD: usize = 16;

/// The payload slots of a tag that hold `exnref` values (`.0`) and
/// references to GC objects (`.1`); both are traced.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefSlots(pub std::sync::Arc<[u32]>, pub std::sync::Arc<[u32]>);

/// A view of one live exception object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExnObject {
    /// The store-wide tag identity.
    pub tag: u32,
    /// Number of payload values.
    pub len: usize,
    /// Address of the payload (valid until the next allocation; 8-aligned
    /// only, so read it with unaligned loads).
    pub payload: *mut u8,
}

impl ExnObject {
    /// A copy of the payload values.
    ///
    /// # Safety
    ///
    /// No allocation happened since the view was made.
    pub(crate) unsafe fn payload(&self) -> Vec<u128> {
        (0..self.len)
            .map(|i| {
                // SAFETY: contract: the object is where it was, with `len`
                // 16-byte slots from `payload`.
                unsafe { self.payload.add(16 * i).cast::<u128>().read_unaligned() }
            })
            .collect()
    }
}

/// Bytes of an exception object with `n` payload values.
pub(crate) fn size(n: usize) -> usize {
    PAYLOAD + 16 * n
}

/// The header word of an exception of tag identity `tag` with `n` values.
pub(crate) fn header(tag: u32, n: usize) -> u64 {
    u64::from(tag | KIND_EXN << gc_object::KIND_SHIFT) | (n as u64) << 32
}

/// The exception object behind raw `exnref` `raw`, or `None` for null.
///
/// # Safety
///
/// `raw` is null or a live exception object of a store's heap (the
/// collector is precise: wasm and the host's roots hold only such).
pub(crate) unsafe fn get(raw: usize) -> Option<ExnObject> {
    if raw == 0 {
        return None;
    }
    // SAFETY: contract.
    let (h, n) = unsafe { (*(raw as *const u32), *((raw + 4) as *const u32)) };
    debug_assert_eq!(h >> gc_object::KIND_SHIFT, KIND_EXN);
    Some(ExnObject {
        tag: h & gc_object::ID_MASK,
        len: n as usize,
        payload: (raw + PAYLOAD) as *mut u8,
    })
}

/// Collection policy and statistics of the exception objects.
#[derive(Debug)]
pub(crate) struct GcHeap {
    /// Exception objects allocated since the last collection plus its
    /// survivors.
    live: usize,
    /// Collect once `live` reaches this.
    threshold: usize,
}

/// The least collection threshold.
const MIN_THRESHOLD: usize = 1024;

impl Default for GcHeap {
    fn default() -> Self {
        GcHeap {
            live: 0,
            threshold: MIN_THRESHOLD,
        }
    }
}

impl GcHeap {
    /// Whether the next exception allocation should collect first.
    pub(crate) fn wants_collection(&self) -> bool {
        self.live >= self.threshold
    }

    /// Counts one new exception object.
    pub(crate) fn allocated(&mut self) {
        self.live += 1;
    }

    /// After a collection: `survivors` exception objects are live.
    pub(crate) fn collected(&mut self, survivors: usize) {
        self.live = survivors;
        self.threshold = (survivors * 2).max(MIN_THRESHOLD);
    }

    /// Exception objects live (exact right after a collection).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// How many may be live before the next collection.
    pub(crate) fn capacity(&self) -> usize {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collection_threshold_follows_the_survivors() {
        let mut h = GcHeap::default();
        for _ in 0..MIN_THRESHOLD - 1 {
            h.allocated();
        }
        assert!(!h.wants_collection());
        h.allocated();
        assert!(h.wants_collection());
        h.collected(3000);
        assert_eq!((h.live(), h.capacity()), (3000, 6000));
        h.collected(1);
        assert_eq!(h.capacity(), MIN_THRESHOLD);
    }

    #[test]
    fn headers_encode_tag_kind_and_length() {
        let raw = header(5, 3);
        assert_eq!(raw as u32 & gc_object::ID_MASK, 5);
        assert_eq!((raw as u32) >> gc_object::KIND_SHIFT, KIND_EXN);
        assert_eq!(raw >> 32, 3);
        assert_eq!(size(3), 64);
    }
}
