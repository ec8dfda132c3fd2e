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
}
