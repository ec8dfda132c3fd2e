//! Exception objects in a per-store heap, collected by mark and sweep.
//!
//! ```text
//!   exnref (raw, pointer-sized) = handle + 1      0 is null
//!
//!   GcHeap
//!   +--------------------------------------------------------------+
//!   | slots: [Slot; n]        handle = index into slots            |
//!   |   Slot { object: Some(ExnObject { tag, payload }), marked }  |
//!   |   Slot { object: None } ... free, listed in `free` (LIFO),   |
//!   |          its payload vector kept for reuse                   |
//!   | free:  [u32]            handles of free slots                |
//!   | host_roots: [u32]       handles the embedder holds (ExnRef)  |
//!   | live, threshold         collect when live reaches threshold  |
//!   +--------------------------------------------------------------+
//!
//!   ExnObject.payload: [u128; tag params]   one 16-byte slot per value,
//!   the layout generated code loads a `catch` clause's values from
//!   (`ExnPayload` builtin returns its address)
//! ```
//!
//! Objects never move: a handle (and the payload address, until the next
//! allocation) stays valid while the object is reachable. A collection
//! marks from the roots the caller supplies (`super::roots`), follows
//! `exnref` values inside payloads, and frees every unmarked slot. The
//! payload vector of a freed slot keeps its capacity, so a program that
//! throws and catches in a loop reaches a steady state without any
//! allocation.

/// One exception object.
#[derive(Debug)]
pub(crate) struct ExnObject {
    /// The store-wide tag identity (index into the store's tags).
    pub tag: u32,
    /// Payload values, 16 bytes each, in tag parameter order.
    pub payload: Vec<u128>,
    /// Which payload slots hold `exnref`s (traced by the collector).
    pub refs: RefSlots,
}

/// The payload slots of an object that hold `exnref` values (`.0`,
/// traced by this heap) and references to GC objects (`.1`, roots of the
/// object heap, see `super::semispace`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RefSlots(pub std::sync::Arc<[u32]>, pub std::sync::Arc<[u32]>);

#[derive(Debug)]
struct Slot {
    object: Option<ExnObject>,
    /// A free slot's payload vector, kept for the next allocation.
    spare: Vec<u128>,
    marked: bool,
}

/// The heap of one store.
#[derive(Debug)]
pub(crate) struct GcHeap {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Handles held by the embedder (one entry per `ExnRef` root).
    pub(crate) host_roots: Vec<u32>,
    live: usize,
    threshold: usize,
    /// Number of collections so far (for tests and statistics).
    pub(crate) collections: u64,
}

/// Collect once this many objects are live, at least.
const MIN_THRESHOLD: usize = 1024;

impl Default for GcHeap {
    fn default() -> Self {
        GcHeap {
            slots: Vec::new(),
            free: Vec::new(),
            host_roots: Vec::new(),
            live: 0,
            threshold: MIN_THRESHOLD,
            collections: 0,
        }
    }
}

/// The raw `exnref` of handle `h`.
pub(crate) fn raw_of(h: u32) -> usize {
    h as usize + 1
}

/// The handle of a non-null raw `exnref`.
pub(crate) fn handle_of(raw: usize) -> Option<u32> {
    raw.checked_sub(1).and_then(|h| u32::try_from(h).ok())
}

impl GcHeap {
    /// Whether the next allocation should collect first.
    pub(crate) fn wants_collection(&self) -> bool {
        self.live >= self.threshold
    }

    /// Number of live (allocated, not yet reclaimed) objects.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Capacity of the heap in slots (live + free).
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Allocates an object; returns its raw `exnref`. Does not collect
    /// (callers decide, since only they know the roots).
    pub(crate) fn alloc(&mut self, tag: u32, payload: &[u128], refs: RefSlots) -> usize {
        let h = match self.free.pop() {
            Some(h) => h,
            None => {
                let h = u32::try_from(self.slots.len()).expect("more than 2^32 exception objects");
                self.slots.push(Slot {
                    object: None,
                    spare: Vec::new(),
                    marked: false,
                });
                h
            }
        };
        let slot = &mut self.slots[h as usize];
        let mut vals = std::mem::take(&mut slot.spare);
        vals.clear();
        vals.extend_from_slice(payload);
        slot.object = Some(ExnObject {
            tag,
            payload: vals,
            refs,
        });
        self.live += 1;
        raw_of(h)
    }

    /// The object behind a raw `exnref`, if it is a live one.
    pub(crate) fn get(&self, raw: usize) -> Option<&ExnObject> {
        self.slots.get(handle_of(raw)? as usize)?.object.as_ref()
    }

    /// The addresses of the GC-reference payload slots of every live
    /// exception (roots of the object heap, which may move what they
    /// reference).
    pub(crate) fn gc_payload_slots(&mut self, out: &mut Vec<*mut u64>) {
        for s in &mut self.slots {
            if let Some(o) = &mut s.object {
                for i in o.refs.1.iter() {
                    out.push((&mut o.payload[*i as usize] as *mut u128).cast::<u64>());
                }
            }
        }
    }

    /// Marks everything reachable from `roots` (raw `exnref` values; nulls
    /// and non-objects are ignored), then frees every unmarked object.
    pub(crate) fn collect(&mut self, roots: impl IntoIterator<Item = usize>) {
        let mut work: Vec<u32> = Vec::new();
        let mark = |slots: &mut Vec<Slot>, raw: usize, work: &mut Vec<u32>| {
            if let Some(h) = handle_of(raw)
                && let Some(s) = slots.get_mut(h as usize)
                && s.object.is_some()
                && !s.marked
            {
                s.marked = true;
                work.push(h);
            }
        };
        for r in roots {
            mark(&mut self.slots, r, &mut work);
        }
        for h in self.host_roots.clone() {
            mark(&mut self.slots, raw_of(h), &mut work);
        }
        while let Some(h) = work.pop() {
            let refs: Vec<usize> = match &self.slots[h as usize].object {
                Some(o) => o
                    .refs
                    .0
                    .iter()
                    .map(|i| o.payload[*i as usize] as usize)
                    .collect(),
                None => Vec::new(),
            };
            for r in refs {
                mark(&mut self.slots, r, &mut work);
            }
        }
        for (i, s) in self.slots.iter_mut().enumerate() {
            if s.marked {
                s.marked = false;
            } else if let Some(o) = s.object.take() {
                s.spare = o.payload;
                self.free.push(i as u32);
                self.live -= 1;
            }
        }
        self.threshold = (self.live * 2).max(MIN_THRESHOLD);
        self.collections += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_objects_are_freed_and_slots_reused() {
        let mut h = GcHeap::default();
        let a = h.alloc(0, &[1, 2], RefSlots::default());
        let b = h.alloc(1, &[], RefSlots::default());
        assert_eq!(h.live(), 2);
        h.collect([a]);
        assert_eq!(h.live(), 1);
        assert!(h.get(a).is_some());
        assert!(h.get(b).is_none());
        let c = h.alloc(2, &[7], RefSlots::default());
        assert_eq!(c, b, "a freed slot is reused");
        assert_eq!(h.get(c).unwrap().payload, vec![7]);
        assert_eq!(h.capacity(), 2);
    }

    #[test]
    fn payload_references_are_traced() {
        let mut h = GcHeap::default();
        let inner = h.alloc(0, &[], RefSlots::default());
        let outer = h.alloc(
            1,
            &[5, inner as u128],
            RefSlots(vec![1].into(), Default::default()),
        );
        let loose = h.alloc(0, &[], RefSlots::default());
        h.collect([outer, 0]);
        assert!(h.get(inner).is_some());
        assert!(h.get(outer).is_some());
        assert!(h.get(loose).is_none());
        h.host_roots.push(handle_of(inner).unwrap());
        h.collect([]);
        assert!(h.get(inner).is_some());
        assert!(h.get(outer).is_none());
    }
}
