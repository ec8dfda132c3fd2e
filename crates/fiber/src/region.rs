//! Small stacks carved from large reserved regions: the allocator meant
//! for stacks that run only wasm (continuation stacks, docs/INVARIANTS.md,
//! invariant 7).
//!
//! A [`SlotPool`] reserves regions of address space (1 GiB by default)
//! read-write with `MAP_NORESERVE`, so an untouched slot costs address
//! space only, and cuts them into fixed-size slots. There is no mmap, no
//! mprotect and no guard page per slot: the code that runs on a slot checks
//! its stack limit in every function prologue, so a slot needs only a red
//! zone below that limit for bounded runtime code (trampolines, a signal
//! frame). Neither `vm.max_map_count` (one kernel mapping per region) nor
//! system calls bound how many slots exist.
//!
//! ## One slot (example: 16 KiB slots, 4 KiB red zone, 64-byte header)
//!
//! ```text
//!   base + 0x4000  +----------------------------------+ <- end (next slot's base)
//!                  | header, 64 bytes: owner's control |
//!   base + 0x3fc0  | context (saved sp/fp/pc) etc.    | <- top(): first frame
//!                  +----------------------------------+    is built below it
//!                  | usable stack, grows down         |
//!                  |   ...                            |
//!   base + 0x1000  +----------------------------------+ <- limit(): the stack
//!                  | red zone: only bounded runtime   |    limit code checks
//!                  | code may run below the limit     |
//!   base + 0x0000  +----------------------------------+ <- base()
//! ```
//!
//! ## Cache colours
//!
//! Slots are a whole number of pages, so without care every slot's header
//! and first frames would sit at the same offset in their pages: the same
//! few sets of every cache indexed by address bits below the page size
//! (all of the L1 data cache, and the part of L2 and L3 indexed by the page
//! offset). A program switching among a few thousand continuations would
//! then miss caches that have room for all of them. So the top of slot `i`
//! is lowered by `64 * (i mod colors)` bytes:
//!
//! ```text
//!   slot i            slot i + 1          slot i + 2
//!   +------------+    +------------+    +------------+ <- end (page aligned)
//!   | header     |    | (64 bytes) |    | (128 bytes)|
//!   +------------+    +------------+    |            |
//!   | frames ... |    | header     |    +------------+
//!                     +------------+    | header     |
//!                     | frames ... |    +------------+
//!                                       | frames ... |
//! ```
//!
//! Consecutive slots get consecutive colours, so the distance between the
//! headers of slots `i` and `i + 1` is the same (slot size + 64 bytes)
//! except once every `colors` slots: programs that visit their
//! continuations in creation order (a scheduler's queue, a chain of
//! filters) touch addresses at a constant stride, which the hardware
//! prefetchers follow. Colours scattered by a hash spread the sets just as
//! well but defeat the prefetchers (measured: 2.4 times slower on a chain
//! of 2,000 filters, 3 times on 10,000 tasks in turn; docs/RATIONALE.md).
//!
//! The colours span at most a quarter of the usable stack, and by default
//! 47 * 64 = 3,008 bytes, so a header and a few hundred bytes of frames
//! still fit in the slot's top page: a suspended continuation with a short
//! stack keeps costing one page.
//!
//! ## Reuse and memory
//!
//! Freed slots go on a LIFO free list, so the next allocation gets the
//! most recently used (warm, resident) slot. Idle slots keep their pages
//! until more than `keep_resident` of them are dirty; then the oldest dirty
//! ones beyond `keep_resident` are given back to the kernel with
//! `madvise(MADV_DONTNEED)` in one batch of at least `decommit_batch`
//! slots, so a burst of short-lived stacks does not cost a system call per
//! free.
//!
//! The pool is not thread-safe by itself (`&mut self`): its owner (a
//! store) uses it from one thread at a time.

use crate::Error;
use weft_sys::{Mmap, page_size};

/// Bytes between two colours: a cache line.
const COLOR_STEP: usize = 64;

/// Sizes and limits of a [`SlotPool`].
#[derive(Debug, Clone)]
pub struct SlotPoolConfig {
    /// Bytes per slot (rounded up to whole pages, at least one page).
    pub slot_size: usize,
    /// Bytes at the bottom of each slot below the stack limit.
    pub red_zone: usize,
    /// Bytes at the top of each slot reserved for the owner's header.
    pub header_size: usize,
    /// Distinct heights of slot tops, 64 bytes apart (module docs, "Cache
    /// colours"); 1 puts every top at `end - header_size`. Capped so the
    /// colours take at most a quarter of the usable stack.
    pub colors: usize,
    /// Address space reserved per region (rounded to whole slots).
    pub region_size: usize,
    /// Most slots the pool hands out in total (live at once).
    pub max_slots: usize,
    /// Idle slots whose pages stay resident.
    pub keep_resident: usize,
    /// Fewest idle slots decommitted at once.
    pub decommit_batch: usize,
}

impl Default for SlotPoolConfig {
    fn default() -> Self {
        SlotPoolConfig {
            slot_size: 64 * 1024,
            red_zone: 16 * 1024,
            header_size: 64,
            colors: 48,
            region_size: 1 << 30,
            max_slots: 4 << 20,
            keep_resident: 64,
            decommit_batch: 64,
        }
    }
}

/// A slot handed out by a [`SlotPool`]: its index (stable while live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotId(u32);

impl SlotId {
    /// The slot's index in its pool.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Fixed-size stacks carved from large reserved regions (module docs).
#[derive(Debug)]
pub struct SlotPool {
    slot_size: usize,
    red_zone: usize,
    header_size: usize,
    /// Number of colours (at least 1), and `u64::MAX / colors + 1`.
    colors: u32,
    color_magic: u64,
    slots_per_region: usize,
    /// `slots_per_region` is a power of two: `log2` of it (slot index ->
    /// region and offset is a shift and a mask, on every lookup).
    region_shift: u32,
    max_slots: usize,
    keep_resident: usize,
    decommit_batch: usize,
    regions: Vec<Mmap>,
    /// Slots ever handed out: `0..fresh` exist, later ones are untouched.
    fresh: usize,
    /// Idle slots, most recently freed last. `free[..clean]` have been
    /// decommitted; the rest are dirty.
    free: Vec<u32>,
    clean: usize,
    live: usize,
    /// Whether each slot `0..fresh` is handed out (catches double frees).
    is_live: Vec<bool>,
}

impl SlotPool {
    /// A pool with `config`. Reserves nothing until the first allocation.
    pub fn new(config: SlotPoolConfig) -> Result<SlotPool, Error> {
        let page = page_size();
        let slot_size = config
            .slot_size
            .max(page)
            .checked_next_multiple_of(page)
            .ok_or(Error::SizeOverflow {
                requested: config.slot_size,
            })?;
        if config.red_zone + config.header_size >= slot_size {
            return Err(Error::BadSlotLayout {
                slot_size,
                red_zone: config.red_zone,
                header_size: config.header_size,
            });
        }
        // Colours use at most a quarter of what lies between red zone and
        // header.
        let usable = slot_size - config.red_zone - config.header_size;
        let colors = config.colors.clamp(1, usable / 4 / COLOR_STEP + 1) as u32;
        // A power of two, so that finding a slot needs no division.
        let slots_per_region = 1usize << (config.region_size / slot_size).max(1).ilog2();
        if config.max_slots > u32::MAX as usize {
            return Err(Error::SizeOverflow {
                requested: config.max_slots,
            });
        }
        Ok(SlotPool {
            slot_size,
            red_zone: config.red_zone,
            header_size: config.header_size,
            colors,
            color_magic: (u64::MAX / colors as u64).wrapping_add(1),
            slots_per_region,
            region_shift: slots_per_region.trailing_zeros(),
            max_slots: config.max_slots,
            keep_resident: config.keep_resident,
            decommit_batch: config.decommit_batch.max(1),
            regions: Vec::new(),
            fresh: 0,
            free: Vec::new(),
            clean: 0,
            live: 0,
            is_live: Vec::new(),
        })
    }

    /// A slot: the most recently freed one if any, else a fresh one (a new
    /// region is reserved when the current ones are used up).
    pub fn alloc(&mut self) -> Result<SlotId, Error> {
        if let Some(i) = self.free.pop() {
            self.clean = self.clean.min(self.free.len());
            self.live += 1;
            self.is_live[i as usize] = true;
            return Ok(SlotId(i));
        }
        if self.fresh >= self.max_slots {
            return Err(Error::SlotsExhausted {
                max: self.max_slots,
            });
        }
        if self.fresh == self.regions.len() * self.slots_per_region {
            let len = self.slots_per_region * self.slot_size;
            let err = |err: anyhow::Error| Error::Map {
                size: len,
                guard: 0,
                err: err.into(),
            };
            let mut region = Mmap::reserve(len).map_err(err)?;
            region.make_accessible(0, len).map_err(err)?;
            self.regions.push(region);
        }
        let i = self.fresh as u32;
        self.fresh += 1;
        self.live += 1;
        self.is_live.push(true);
        Ok(SlotId(i))
    }

    /// Returns a slot to the pool. Its contents must no longer be needed.
    ///
    /// # Panics
    ///
    /// If the slot is not live in this pool (a double free).
    pub fn free(&mut self, slot: SlotId) {
        let live = self.is_live.get_mut(slot.0 as usize);
        assert!(
            live.as_deref() == Some(&true),
            "slot {} is not live in this pool",
            slot.0
        );
        if let Some(l) = live {
            *l = false;
        }
        self.free.push(slot.0);
        self.live -= 1;
        let dirty = self.free.len() - self.clean;
        if dirty >= self.keep_resident + self.decommit_batch {
            let end = self.free.len() - self.keep_resident;
            // One madvise per run of adjacent slots (freed stacks are often
            // neighbours: the pool hands out slots in order).
            let mut batch: Vec<usize> = self.free[self.clean..end]
                .iter()
                .map(|i| *i as usize)
                .collect();
            batch.sort_unstable();
            let mut k = 0;
            while k < batch.len() {
                let (region, first) = self.locate(batch[k]);
                let mut run = 1;
                while k + run < batch.len()
                    && batch[k + run] == batch[k] + run
                    && self.locate(batch[k + run]).0 == region
                {
                    run += 1;
                }
                // A failed madvise only means the pages stay resident.
                let _ = self.regions[region].decommit(first * self.slot_size, run * self.slot_size);
                k += run;
            }
            self.clean = end;
        }
    }

    /// Region and position in it of slot index `i`.
    #[inline]
    fn locate(&self, i: usize) -> (usize, usize) {
        (i >> self.region_shift, i & (self.slots_per_region - 1))
    }

    /// The live slot with index `index`, if there is one.
    pub fn slot_by_index(&self, index: u32) -> Option<SlotId> {
        (self.is_live.get(index as usize) == Some(&true)).then_some(SlotId(index))
    }

    /// Lowest address of the slot.
    #[inline]
    pub fn base(&self, slot: SlotId) -> usize {
        let (region, offset) = self.locate(slot.0 as usize);
        self.regions[region].as_ptr() as usize + offset * self.slot_size
    }

    /// The stack limit of the slot: `base + red_zone`.
    #[inline]
    pub fn limit(&self, slot: SlotId) -> usize {
        self.base(slot) + self.red_zone
    }

    /// Where the first frame is built: just below the header, which sits
    /// `64 * colour` bytes below the slot's end (module docs).
    #[inline]
    pub fn top(&self, slot: SlotId) -> usize {
        self.base(slot) + self.slot_size - self.header_size - self.color_offset(slot)
    }

    /// How far the slot's header is lowered: `COLOR_STEP` times its
    /// colour, `index mod colors` (module docs).
    #[inline]
    fn color_offset(&self, slot: SlotId) -> usize {
        // `index % colors` without a division (Lemire's remainder by
        // multiplication, exact for 32-bit operands): `cont.new` runs this.
        let low = self.color_magic.wrapping_mul(slot.0 as u64);
        let color = ((low as u128 * self.colors as u128) >> 64) as usize;
        color * COLOR_STEP
    }

    /// The slot's header (`header_size` bytes at [`SlotPool::top`]).
    #[inline]
    pub fn header(&self, slot: SlotId) -> *mut u8 {
        self.top(slot) as *mut u8
    }

    /// Bytes per slot (page-rounded).
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Slots handed out and not freed.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Idle slots on the free list.
    pub fn idle(&self) -> usize {
        self.free.len()
    }

    /// Idle slots whose pages were given back to the kernel.
    pub fn decommitted(&self) -> usize {
        self.clean
    }

    /// Regions reserved so far (one kernel mapping each).
    pub fn regions(&self) -> usize {
        self.regions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(slot_size: usize, region_size: usize, keep: usize, batch: usize) -> SlotPool {
        SlotPool::new(SlotPoolConfig {
            slot_size,
            red_zone: 1024,
            header_size: 64,
            colors: 1,
            region_size,
            max_slots: 2 << 20,
            keep_resident: keep,
            decommit_batch: batch,
        })
        .unwrap()
    }

    #[test]
    fn layout_of_a_slot() {
        let mut p = pool(16 * 1024, 1 << 20, 8, 8);
        let s = p.alloc().unwrap();
        let base = p.base(s);
        assert_eq!(base % page_size(), 0);
        assert_eq!(p.limit(s), base + 1024);
        assert_eq!(p.top(s), base + 16 * 1024 - 64);
        // The whole slot is writable from the start.
        // SAFETY: the slot is live and ours; these addresses lie inside it.
        unsafe {
            (base as *mut u8).write(1);
            ((p.top(s) - 8) as *mut u64).write(2);
            p.header(s).write(3);
        }
        let t = p.alloc().unwrap();
        assert_eq!(p.base(t), base + 16 * 1024, "slots are adjacent");
    }

    #[test]
    fn slot_tops_are_spread_over_the_colours_evenly() {
        let colored = |slot_size: usize, colors: usize| {
            SlotPool::new(SlotPoolConfig {
                slot_size,
                red_zone: 4096,
                header_size: 256,
                colors,
                region_size: 64 << 20,
                ..SlotPoolConfig::default()
            })
            .unwrap()
        };
        let mut p = colored(64 * 1024, 48);
        let slots: Vec<SlotId> = (0..48 * 20).map(|_| p.alloc().unwrap()).collect();
        let mut uses = [0usize; 48];
        for s in &slots {
            let below_end = p.base(*s) + p.slot_size() - 256 - p.top(*s);
            assert_eq!(below_end % 64, 0, "tops stay cache-line aligned");
            assert_eq!(p.header(*s) as usize, p.top(*s));
            uses[below_end / 64] += 1;
        }
        // Consecutive slots take consecutive colours, wrapping after 48: the
        // same distance between neighbours' tops except at the wrap.
        assert!(uses.iter().all(|&n| n == 20), "{uses:?}");
        for (k, w) in slots.windows(2).enumerate() {
            let step = p.top(w[1]) as isize - p.top(w[0]) as isize;
            let expect = if (k + 1) % 48 == 0 {
                64 * 1024 + 47 * 64
            } else {
                64 * 1024 - 64
            };
            assert_eq!(step, expect as isize, "slots {k} and {}", k + 1);
        }
        // Small slots: the colours take at most a quarter of the usable
        // stack (16 KiB - 4 KiB - 256 B = 12,032 B: up to 3,008 B).
        let mut small = colored(16 * 1024, 1000);
        let lowest = (0..200)
            .map(|_| {
                let s = small.alloc().unwrap();
                small.base(s) + small.slot_size() - 256 - small.top(s)
            })
            .max()
            .unwrap();
        assert_eq!(lowest, 47 * 64);
        // One colour: every top at the end minus the header.
        let mut one = colored(64 * 1024, 1);
        let s = one.alloc().unwrap();
        let t = one.alloc().unwrap();
        assert_eq!(one.top(s), one.base(s) + 64 * 1024 - 256);
        assert_eq!(one.top(t), one.base(t) + 64 * 1024 - 256);
    }

    #[test]
    fn the_colour_is_the_index_modulo_the_colours() {
        for colors in 1..=64 {
            let p = SlotPool::new(SlotPoolConfig {
                colors,
                ..SlotPoolConfig::default()
            })
            .unwrap();
            let probe = (0..5000u32).chain([1 << 24, (1 << 24) - 1, u32::MAX - 1, u32::MAX]);
            for i in probe.chain((0..2000).map(|k| k * 2_147_483)) {
                let got = p.color_offset(SlotId(i));
                assert_eq!(
                    got,
                    (i as usize % colors) * 64,
                    "index {i}, {colors} colours"
                );
            }
        }
    }

    #[test]
    fn freed_slots_are_reused_last_in_first_out() {
        let mut p = pool(4096, 1 << 20, 100, 100);
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        let c = p.alloc().unwrap();
        p.free(a);
        p.free(c);
        assert_eq!(p.alloc().unwrap(), c);
        assert_eq!(p.alloc().unwrap(), a);
        assert_eq!(p.live(), 3);
        p.free(b);
        assert_eq!(p.idle(), 1);
    }

    #[test]
    fn a_million_slots_live_at_once_in_a_few_mappings() {
        let n = 1_000_000;
        // One-page slots, 256 MiB regions: 16 mappings for a million.
        let mut p = pool(4096, 256 << 20, usize::MAX / 2, 1);
        let slots: Vec<SlotId> = (0..n).map(|_| p.alloc().unwrap()).collect();
        assert_eq!(p.live(), n);
        assert_eq!(p.regions(), n.div_ceil((256 << 20) / 4096));
        // Touch every 256th slot's top word (16 MiB of pages in all).
        for s in slots.iter().step_by(256) {
            // SAFETY: a live slot's top word lies inside it.
            unsafe { ((p.top(*s) - 8) as *mut u64).write(s.index() as u64) };
        }
        for s in slots.iter().step_by(256) {
            // SAFETY: as above.
            let v = unsafe { ((p.top(*s) - 8) as *const u64).read() };
            assert_eq!(v, s.index() as u64);
        }
        for s in slots {
            p.free(s);
        }
        assert_eq!(p.live(), 0);
        assert_eq!(p.idle(), n);
    }

    #[test]
    fn idle_slots_beyond_the_resident_count_are_decommitted_in_batches() {
        let mut p = pool(4096, 1 << 20, 4, 8);
        let slots: Vec<SlotId> = (0..20).map(|_| p.alloc().unwrap()).collect();
        for s in &slots {
            // SAFETY: a live slot's top word lies inside it.
            unsafe { ((p.top(*s) - 8) as *mut u64).write(0xfeed) };
        }
        let read = |p: &SlotPool, s: SlotId| {
            // SAFETY: the slot stays mapped (regions are never unmapped
            // while the pool lives); decommitted pages read as zero.
            unsafe { ((p.top(s) - 8) as *const u64).read() }
        };
        // 11 frees: below keep (4) + batch (8) dirty, nothing decommitted.
        for s in &slots[..11] {
            p.free(*s);
        }
        assert_eq!(p.decommitted(), 0);
        assert!(slots[..11].iter().all(|s| read(&p, *s) == 0xfeed));
        // The 12th reaches the threshold: all but the 4 newest go.
        p.free(slots[11]);
        assert_eq!(p.decommitted(), 8);
        for (k, s) in slots[..12].iter().enumerate() {
            let expect = if k < 8 { 0 } else { 0xfeed };
            assert_eq!(read(&p, *s), expect, "slot {k}");
        }
        // Reusing takes the hot ones first; clean ones are handed out zeroed.
        for k in (8..12).rev() {
            assert_eq!(p.alloc().unwrap(), slots[k]);
        }
        assert_eq!(p.alloc().unwrap(), slots[7]);
        assert_eq!(p.decommitted(), 7);
    }

    #[test]
    fn limits_are_errors() {
        let e = SlotPool::new(SlotPoolConfig {
            slot_size: 4096,
            ..SlotPoolConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("red zone"), "{e}");
        let mut p = SlotPool::new(SlotPoolConfig {
            slot_size: 64 * 1024,
            max_slots: 2,
            ..SlotPoolConfig::default()
        })
        .unwrap();
        p.alloc().unwrap();
        p.alloc().unwrap();
        let e = p.alloc().unwrap_err();
        assert!(e.to_string().contains("all 2 stack slots"), "{e}");
    }

    #[test]
    #[should_panic(expected = "not live")]
    fn freeing_a_slot_that_was_never_handed_out_panics() {
        let mut p = pool(4096, 1 << 20, 4, 4);
        p.free(SlotId(5));
    }

    #[test]
    #[should_panic(expected = "not live")]
    fn freeing_a_slot_twice_panics() {
        let mut p = pool(4096, 1 << 20, 4, 4);
        let s = p.alloc().unwrap();
        p.free(s);
        p.free(s);
    }
}
