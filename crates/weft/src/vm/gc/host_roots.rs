//! References the embedder holds (`AnyRef`, `StructRef`, `ArrayRef`):
//! slots the collector treats as roots and updates when it moves objects.
//!
//! ```text
//!   HostRoots
//!     slots: [u64]   raw reference per root index (0 when free)
//!     free:  [u32]   free root indices, reused LIFO
//! ```

/// The store's table of embedder-held references.
#[derive(Debug, Default)]
pub(crate) struct HostRoots {
    slots: Vec<u64>,
    free: Vec<u32>,
}

impl HostRoots {
    /// Roots `raw`; returns its root index.
    pub(crate) fn add(&mut self, raw: u64) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = raw;
                i
            }
            None => {
                self.slots.push(raw);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// The current raw reference of root `i` (it changes when the object
    /// moves).
    pub(crate) fn get(&self, i: u32) -> u64 {
        self.slots[i as usize]
    }

    /// Releases root `i`.
    pub(crate) fn remove(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize)
            && *s != 0
        {
            *s = 0;
            self.free.push(i);
        }
    }

    /// Number of live roots.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The root slots, for the collector.
    pub(crate) fn slots_mut(&mut self) -> impl Iterator<Item = *mut u64> + '_ {
        self.slots.iter_mut().map(|s| s as *mut u64)
    }
}

/// The host values behind `externref`s (`ExternRef::new`), by index; a
/// host reference's raw value is `(index + 1) << 3 | 4`. Entries that no
/// root or reachable object refers to are dropped after a collection.
#[derive(Default)]
pub(crate) struct HostValues {
    values: Vec<Option<Box<dyn std::any::Any + Send + Sync>>>,
    free: Vec<u32>,
}

impl std::fmt::Debug for HostValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostValues({} live)", self.len())
    }
}

impl HostValues {
    /// Stores `v`; returns its index.
    pub(crate) fn insert(&mut self, v: Box<dyn std::any::Any + Send + Sync>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.values[i as usize] = Some(v);
                i
            }
            None => {
                self.values.push(Some(v));
                (self.values.len() - 1) as u32
            }
        }
    }

    /// The value at `index`, if alive.
    pub(crate) fn get(&self, index: usize) -> Option<&(dyn std::any::Any + Send + Sync)> {
        self.values.get(index)?.as_deref()
    }

    /// Number of live values.
    pub(crate) fn len(&self) -> usize {
        self.values.len() - self.free.len()
    }

    /// Whether any value exists (a collection then sweeps).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every value whose index is not in `marked` (indices found in
    /// the roots and reachable objects of a collection).
    pub(crate) fn sweep(&mut self, marked: &[u32]) {
        let mut keep = vec![false; self.values.len()];
        for m in marked {
            if let Some(k) = keep.get_mut(*m as usize) {
                *k = true;
            }
        }
        for (i, v) in self.values.iter_mut().enumerate() {
            if v.is_some() && !keep[i] {
                *v = None;
                self.free.push(i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_reused_after_removal() {
        let mut r = HostRoots::default();
        let a = r.add(16);
        let b = r.add(24);
        assert_eq!((r.get(a), r.get(b)), (16, 24));
        r.remove(a);
        assert_eq!(r.len(), 1);
        let c = r.add(32);
        assert_eq!(c, a);
        assert_eq!(r.get(c), 32);
        r.remove(b);
        r.remove(b);
        assert_eq!(r.len(), 1, "removing twice is harmless");
    }

    #[test]
    fn unmarked_host_values_are_dropped_and_indices_reused() {
        let mut h = HostValues::default();
        let a = h.insert(Box::new(1u32));
        let b = h.insert(Box::new(2u32));
        h.sweep(&[b]);
        assert!(h.get(a as usize).is_none());
        assert_eq!(h.get(b as usize).unwrap().downcast_ref::<u32>(), Some(&2));
        assert_eq!(h.len(), 1);
        assert_eq!(h.insert(Box::new(3u32)), a);
    }
}
