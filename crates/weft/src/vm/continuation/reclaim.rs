//! Which continuations a collection keeps, and retiring the rest.
//!
//! The live records of the pool fall into three groups when a collection
//! starts:
//!
//! ```text
//!   parent = null        the outermost record of a suspended chain, or a
//!                        fresh continuation: what a `contref` names. Its
//!                        chain is innermost -> parent -> ... -> itself.
//!   on such a chain      an inner record of a suspended chain: it lives
//!                        and dies with the chain's outermost record.
//!   anything else        running: on the chain from the store's current
//!                        record (`running`), always kept; its frames are
//!                        the walk's.
//! ```
//!
//! A continuation is marked when a root holds a reference to it that is
//! not stale (the collector reports every tagged `contref` it finds in a
//! slot to [`ContTrace::found`]), when the embedder pinned it
//! ([`super::ContPool::pin`]), or when it runs. A marked chain's records
//! are then scanned ([`ContTrace::drain`]): their spill slots and frames
//! (by the caller's `frame_roots`), bound `cont.bind` values and pending
//! `resume_throw` exception, which may lead to more objects and more
//! continuations, until nothing new is found. The unmarked rest is
//! retired by [`super::ContPool::gc_sweep`].
//!
//! Should a record not fit these groups (a running record that is not on
//! the current chain, so its frames cannot be walked, or a chain that does
//! not end where it should), the collection keeps every continuation and
//! scans them all, as if none could be reclaimed: never a live one freed.

use super::super::stack::VMStackRecord;
use super::{ContPool, VMContRecord};
use weft_environ::stack_record;

/// `owner` of a running record.
const RUNNING: u32 = u32::MAX;
/// `owner` of a slot without a live record.
const NONE: u32 = u32::MAX - 1;

/// One collection's view of the continuations.
pub(crate) struct ContTrace<'p> {
    pool: &'p ContPool,
    /// Per slot index: the slot of the outermost record of its chain,
    /// [`RUNNING`] or [`NONE`].
    owner: Vec<u32>,
    /// Per slot index: whether the continuation (for an outermost record:
    /// its whole chain) is kept.
    marked: Vec<bool>,
    /// Outermost records marked but not scanned yet.
    work: Vec<u32>,
    /// Set when some record did not fit (see the module docs).
    keep_all: bool,
    /// Running records that are not on the current chain (then
    /// `keep_all`): scanned from their control contexts, as suspended
    /// records are.
    detached: Vec<u32>,
}

impl ContPool {
    /// The record in slot `index`, if live.
    fn record(&self, index: u32) -> Option<&VMContRecord> {
        // SAFETY: the table's live records are live.
        self.entry(index).record().map(|h| unsafe { &*h })
    }

    /// Starts a collection's marking: `running` are the records of the
    /// chain from the store's current record.
    pub(crate) fn trace(&self, running: &[*const VMStackRecord]) -> ContTrace<'_> {
        let high = self.high;
        let mut t = ContTrace {
            pool: self,
            owner: vec![NONE; high as usize],
            marked: vec![false; high as usize],
            work: Vec::new(),
            keep_all: false,
            detached: Vec::new(),
        };
        // Chains of suspended and fresh continuations.
        for i in 0..high {
            let Some(c) = self.record(i) else { continue };
            if !c.stack.parent.get().is_null() {
                continue;
            }
            let head: *const VMContRecord = c;
            let mut r: *const VMContRecord = c.innermost.get();
            let mut steps = 0;
            loop {
                // SAFETY: records on a suspended chain are live; checked
                // to be continuations before the cast below.
                let rec = unsafe { &*r };
                match self.record(rec.slot) {
                    Some(x) if std::ptr::eq(x, rec) && t.owner[rec.slot as usize] == NONE => {
                        t.owner[rec.slot as usize] = i;
                    }
                    _ => t.keep_all = true,
                }
                if r == head || t.keep_all {
                    break;
                }
                let p = rec.stack.parent.get();
                steps += 1;
                let is_cont = |p: *mut VMStackRecord| {
                    // SAFETY: a non-null parent of a live record is live.
                    unsafe { (*p).kind.get() == stack_record::KIND_CONTINUATION }
                };
                if p.is_null() || steps > high || !is_cont(p) {
                    t.keep_all = true;
                    break;
                }
                r = p.cast::<VMContRecord>();
            }
        }
        // The rest runs; it must be on the current chain.
        for i in 0..high {
            let Some(c) = self.record(i) else { continue };
            if t.owner[i as usize] != NONE {
                continue;
            }
            let rec: *const VMStackRecord = &c.stack;
            if !running.contains(&rec) {
                t.keep_all = true;
                t.detached.push(i);
            }
            t.owner[i as usize] = RUNNING;
            t.marked[i as usize] = true;
        }
        for i in 0..high {
            let Some(c) = self.record(i) else { continue };
            if t.keep_all || (c.host_pin.get() != 0 && c.host_pin.get() == c.self_ref.get()) {
                t.mark(i);
            }
        }
        t
    }

    /// Retires the continuations of `dead` (from [`ContTrace::finish`])
    /// and sets the next collection threshold.
    ///
    /// # Safety
    /// `dead` lists slots of live records that no stack runs on and that
    /// nothing can resume (the unmarked records of a complete trace).
    pub(crate) unsafe fn gc_sweep(&mut self, dead: &[u32]) {
        for &i in dead {
            let h = self.entry(i).record();
            debug_assert!(h.is_some());
            if let Some(h) = h {
                // SAFETY: contract: a live record nothing runs on.
                unsafe { self.retire(h) };
                self.collected += 1;
            }
        }
        self.threshold = (2 * self.live()).max(super::MIN_CONT_THRESHOLD);
    }
}

impl ContTrace<'_> {
    /// Marks the continuation in slot `i` (and its chain).
    fn mark(&mut self, i: u32) {
        let o = self.owner[i as usize];
        if o == RUNNING || o == NONE {
            return;
        }
        if !self.marked[o as usize] {
            self.marked[o as usize] = true;
            self.work.push(o);
        }
    }

    /// A root or a reachable object holds the (tagged, non-null)
    /// reference `contref`: unless stale, what it names is kept.
    pub(crate) fn found(&mut self, contref: u64) {
        if let Ok(c) = self.pool.decode(contref) {
            // SAFETY: a live record (decode).
            let slot = unsafe { (*c).slot };
            if (slot as usize) < self.owner.len() {
                self.mark(slot);
            }
        }
    }

    /// Whether marked continuations wait to be scanned.
    pub(crate) fn has_work(&self) -> bool {
        !self.work.is_empty() || !self.detached.is_empty()
    }

    /// Scans the marked chains not scanned yet: `out` receives their
    /// bound values' and pending exceptions' slots that may hold
    /// references (`traced(recv_type, results?)` says which values of a
    /// function type's parameters or results are), and `frame_roots` is
    /// called with each record (for its spill slot and frames).
    pub(crate) fn drain(
        &mut self,
        traced: &mut dyn FnMut(u32, bool) -> Vec<bool>,
        frame_roots: &mut dyn FnMut(&VMStackRecord, &mut Vec<*mut u64>),
        out: &mut Vec<*mut u64>,
    ) {
        while let Some(o) = self.work.pop() {
            let Some(head) = self.pool.record(o) else {
                continue;
            };
            let head: *const VMContRecord = head;
            // SAFETY: the chain was checked in `trace`: live continuation
            // records from the innermost up to `head`.
            let mut r: *const VMContRecord = unsafe { (*head).innermost.get() };
            loop {
                // SAFETY: see above.
                let c = unsafe { &*r };
                self.marked[c.slot as usize] = true;
                record_slots(c, traced, out);
                frame_roots(&c.stack, out);
                if r == head {
                    break;
                }
                r = c.stack.parent.get().cast::<VMContRecord>();
            }
        }
        for d in std::mem::take(&mut self.detached) {
            if let Some(c) = self.pool.record(d) {
                record_slots(c, traced, out);
                frame_roots(&c.stack, out);
            }
        }
    }

    /// The running records' bound values and pending exceptions (their
    /// frames and spill slots are the walk's).
    pub(crate) fn running_slots(
        &self,
        traced: &mut dyn FnMut(u32, bool) -> Vec<bool>,
        out: &mut Vec<*mut u64>,
    ) {
        for (i, o) in self.owner.iter().enumerate() {
            if *o == RUNNING
                && let Some(c) = self.pool.record(i as u32)
            {
                record_slots(c, traced, out);
            }
        }
    }

    /// The slots of the continuations to retire.
    pub(crate) fn finish(self) -> Vec<u32> {
        if self.keep_all {
            return Vec::new();
        }
        (0..self.owner.len())
            .filter(|&i| {
                let o = self.owner[i];
                o != NONE && o != RUNNING && !self.marked[o as usize]
            })
            .map(|i| i as u32)
            .collect()
    }
}

/// The slots of `c`'s bound values that may hold references, and of its
/// pending exception.
fn record_slots(
    c: &VMContRecord,
    traced: &mut dyn FnMut(u32, bool) -> Vec<bool>,
    out: &mut Vec<*mut u64>,
) {
    let bound = c.bound.get() as usize;
    if bound > 0 {
        let refs = traced(c.recv_type.get(), c.recv_results.get() != 0);
        for i in (0..bound).filter(|i| refs.get(*i).copied().unwrap_or(false)) {
            // SAFETY: the receive buffer holds `bound` values.
            out.push(unsafe { c.recv_buf.get().add(i) }.cast::<u64>());
        }
    }
    if c.pending_exn.get() != 0 {
        out.push(c.pending_exn.as_ptr().cast::<u64>());
    }
}
