//! The per-stack record and the activations (host->wasm entries) that
//! live on a stack.
//!
//! Every stack that runs wasm has one [`VMStackRecord`]: the store owns the
//! record of the native stack its embedder calls in from, every async
//! fiber owns one, and continuations will own one each. The store context
//! points at the record of the stack that is running
//! (`VMStoreContext::current_stack`); generated code reads its stack limit
//! from there in every prologue, and the wasm->host trampoline writes its
//! exit frame there. Switching stacks is repointing `current_stack` and
//! setting the new record's `parent`: two words.
//!
//! Offsets are defined once in `weft_environ::stack_record` (its module
//! docs have the field diagram) and checked against this struct by the
//! test at the bottom.
//!
//! ## Activations
//!
//! Each host->wasm entry ([`super::super::entry::catch_traps`]) keeps an
//! [`Activation`] in its own Rust frame. It saves the record's entry and
//! exit fields, installs its own resume point, and restores everything
//! when the call returns (normally or by a trap). The record points at the
//! innermost activation; each activation points at the one before it on
//! the same stack. Nesting is tracked exactly once, by this chain:
//!
//! ```text
//!  native stack of the embedder (grows down)        the store's record
//!  +--------------------------------------------+   +-----------------+
//!  | embedder: Func::call                       |   | activation  ----+--+
//!  |   catch_traps frame: Activation #1         |<--+-- (#1 .prev)    |  |
//!  |     saved: exit = 0, entry = 0             |   | entry_sp/fp/pc  |  |
//!  |   weft_enter frame      <- entry #1 sp/fp  |   |   = entry #2    |  |
//!  |   wasm A ... calls host: trampoline        |   | last_exit_fp/pc |  |
//!  |     exit #A: fp, return pc --------------------->  = exit #B     |  |
//!  |   host function H                          |   +-----------------+  |
//!  |     catch_traps frame: Activation #2   <----------------------------+
//!  |       saved: exit = exit #A, entry = #1    |
//!  |     weft_enter frame    <- entry #2 sp/fp  |
//!  |     wasm B ... calls host: exit #B         |
//!  +--------------------------------------------+
//! ```
//!
//! A trap in wasm B resumes at entry #2 (the record's entry fields); when
//! #2 returns it restores exit #A and entry #1, so H continues with the
//! record describing A's activation again.

use super::super::traphandlers::TrapRecord;
use super::super::vmcontext::VMStoreContext;
use std::cell::Cell;

/// The record of one stack that runs wasm. See the module docs.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMStackRecord {
    /// Control context of `stack_switch`: saved stack pointer while this
    /// stack waits (in a `resume`, or suspended). First, so that the
    /// record's address is the context's and a switch computes no address.
    pub ctx_sp: Cell<usize>,
    /// Saved frame pointer.
    pub ctx_fp: Cell<usize>,
    /// Saved program counter (where the stack continues).
    pub ctx_pc: Cell<usize>,
    /// Lowest address a wasm frame may use (checked by every prologue).
    pub stack_limit: Cell<usize>,
    /// Lowest stack pointer at which the wasm->host trampoline still calls
    /// host code: `stack_low` + the configured host stack reserve
    /// (`usize::MAX` on a continuation, where host code never runs).
    pub host_limit: Cell<usize>,
    /// Frame pointer of the wasm frame that made the last wasm->host call
    /// (through the trampoline or directly), 0 when none is in progress.
    pub last_exit_fp: Cell<usize>,
    /// That frame's stack pointer at the call; the call's return address
    /// into it is the word below.
    pub last_exit_sp: Cell<usize>,
    /// Stack pointer to resume the innermost entry with after a trap.
    pub entry_sp: Cell<usize>,
    /// Frame pointer to resume the innermost entry with.
    pub entry_fp: Cell<usize>,
    /// Where to resume the innermost entry (its landing pad).
    pub entry_resume_pc: Cell<usize>,
    /// Lowest address of the stack.
    pub stack_low: Cell<usize>,
    /// One past the highest address of the stack.
    pub stack_high: Cell<usize>,
    /// The record of the stack that resumed this one, while this one runs
    /// (null for a native stack).
    pub parent: Cell<*mut VMStackRecord>,
    /// The innermost active entry on this stack (null when none).
    pub activation: Cell<*const Activation>,
    /// `stack_record::KIND_*`: native, fiber or continuation.
    pub kind: Cell<usize>,
    /// The switching frame's spilled managed references while generated
    /// code has switched away from this stack (`stack_record::GC_SPILL`):
    /// address and count. Meaningful only in that state.
    pub gc_spill: Cell<usize>,
    pub gc_spill_len: Cell<usize>,
}

/// Where and how an entry is resumed after a trap: its frame's stack and
/// frame pointers and the landing pad's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResumePoint {
    pub pc: usize,
    pub sp: usize,
    pub fp: usize,
}

impl VMStackRecord {
    /// A record for the stack `[low, high)` with nothing running on it.
    pub(crate) fn new(low: usize, high: usize, host_reserve: usize) -> VMStackRecord {
        let r = VMStackRecord {
            ctx_sp: Cell::new(0),
            ctx_fp: Cell::new(0),
            ctx_pc: Cell::new(0),
            stack_limit: Cell::new(0),
            host_limit: Cell::new(0),
            last_exit_fp: Cell::new(0),
            last_exit_sp: Cell::new(0),
            entry_sp: Cell::new(0),
            entry_fp: Cell::new(0),
            entry_resume_pc: Cell::new(0),
            stack_low: Cell::new(0),
            stack_high: Cell::new(0),
            parent: Cell::new(std::ptr::null_mut()),
            activation: Cell::new(std::ptr::null()),
            kind: Cell::new(weft_environ::stack_record::KIND_NATIVE),
            gc_spill: Cell::new(0),
            gc_spill_len: Cell::new(0),
        };
        r.set_bounds(low, high, host_reserve);
        r
    }

    /// Sets the stack's bounds and the host limit that follows from them.
    pub(crate) fn set_bounds(&self, low: usize, high: usize, host_reserve: usize) {
        self.stack_low.set(low);
        self.stack_high.set(high);
        self.host_limit.set(low.saturating_add(host_reserve));
    }

    /// The stack's bounds `[low, high)`.
    pub(crate) fn bounds(&self) -> (usize, usize) {
        (self.stack_low.get(), self.stack_high.get())
    }

    /// Whether an entry is active on this stack.
    pub(crate) fn is_active(&self) -> bool {
        !self.activation.get().is_null()
    }

    /// The innermost entry's resume point.
    pub(crate) fn resume_point(&self) -> ResumePoint {
        ResumePoint {
            pc: self.entry_resume_pc.get(),
            sp: self.entry_sp.get(),
            fp: self.entry_fp.get(),
        }
    }
}

/// The exit and entry fields of a record, as one activation found them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SavedRecord {
    pub last_exit_fp: usize,
    pub last_exit_sp: usize,
    pub entry_sp: usize,
    pub entry_fp: usize,
    pub entry_resume_pc: usize,
}

/// Reads the word at `p` with a single load of its own size.
///
/// For words that were just written with word stores (the entry routine's
/// and the last [`SavedRecord::restore`]'s writes of record fields, an
/// entry call's arguments): the compiler merges neighbouring plain reads
/// into 16-byte loads, and a load covering two stores that still wait in
/// the store buffer cannot be forwarded from there; it stalls until both
/// commit. A third of `catch_traps`' samples in a loop of typed host->wasm
/// calls sat on such a load, and a by-value copy of an entry call made the
/// call 15 -> 20 ns.
///
/// # Safety
///
/// `p` must be valid and aligned for a read of `T`.
#[inline]
pub(crate) unsafe fn load_word<T: Copy>(p: *const T) -> T {
    // SAFETY: forwarded from the caller; volatile keeps it one load.
    unsafe { p.read_volatile() }
}

impl SavedRecord {
    /// Reads the fields one word at a time ([`load_word`]).
    fn take(r: &VMStackRecord) -> SavedRecord {
        // SAFETY: `as_ptr` of a live cell is valid and aligned.
        let word = |c: &Cell<usize>| unsafe { load_word(c.as_ptr()) };
        SavedRecord {
            last_exit_fp: word(&r.last_exit_fp),
            last_exit_sp: word(&r.last_exit_sp),
            entry_sp: word(&r.entry_sp),
            entry_fp: word(&r.entry_fp),
            entry_resume_pc: word(&r.entry_resume_pc),
        }
    }

    fn restore(&self, r: &VMStackRecord) {
        r.last_exit_fp.set(self.last_exit_fp);
        r.last_exit_sp.set(self.last_exit_sp);
        r.entry_sp.set(self.entry_sp);
        r.entry_fp.set(self.entry_fp);
        r.entry_resume_pc.set(self.entry_resume_pc);
    }
}

/// One active host->wasm entry; lives in the frame of the `catch_traps`
/// call that made it, and is linked from its stack's record while the call
/// runs.
#[derive(Debug)]
pub(crate) struct Activation {
    /// The previous activation on the same stack (null for the first).
    pub prev: *const Activation,
    /// The record's fields before this entry (restored when it ends). Its
    /// exit fields are where the wasm of `prev` called out to the host
    /// that made this entry (zero when the host called in directly).
    pub saved: SavedRecord,
    /// The store context this thread ran before this entry (restored when
    /// it ends; read by the signal handler).
    pub saved_current_store: *const VMStoreContext,
    /// Set by the signal handler before it resumes at this entry.
    pub trap: Cell<Option<TrapRecord>>,
}

impl Activation {
    /// Links a new activation into `record`; [`Activation::unlink`] undoes
    /// it. The activation must stay at one address in between.
    pub(crate) fn new(record: &VMStackRecord, current_store: *const VMStoreContext) -> Activation {
        Activation {
            prev: record.activation.get(),
            saved: SavedRecord::take(record),
            saved_current_store: current_store,
            trap: Cell::new(None),
        }
    }

    /// Makes this the record's innermost activation.
    pub(crate) fn link(&self, record: &VMStackRecord) {
        record.activation.set(self);
    }

    /// Restores the record as it was before this activation.
    pub(crate) fn unlink(&self, record: &VMStackRecord) {
        self.saved.restore(record);
        record.activation.set(self.prev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};
    use weft_environ::stack_record as o;

    #[test]
    fn layout_matches_vmoffsets() {
        assert_eq!(
            offset_of!(VMStackRecord, stack_limit) as u32,
            o::STACK_LIMIT
        );
        assert_eq!(offset_of!(VMStackRecord, host_limit) as u32, o::HOST_LIMIT);
        assert_eq!(
            offset_of!(VMStackRecord, last_exit_fp) as u32,
            o::LAST_EXIT_FP
        );
        assert_eq!(
            offset_of!(VMStackRecord, last_exit_sp) as u32,
            o::LAST_EXIT_SP
        );
        assert_eq!(offset_of!(VMStackRecord, entry_sp) as u32, o::ENTRY_SP);
        assert_eq!(offset_of!(VMStackRecord, entry_fp) as u32, o::ENTRY_FP);
        assert_eq!(
            offset_of!(VMStackRecord, entry_resume_pc) as u32,
            o::ENTRY_RESUME_PC
        );
        assert_eq!(offset_of!(VMStackRecord, stack_low) as u32, o::STACK_LOW);
        assert_eq!(offset_of!(VMStackRecord, stack_high) as u32, o::STACK_HIGH);
        assert_eq!(offset_of!(VMStackRecord, parent) as u32, o::PARENT);
        assert_eq!(offset_of!(VMStackRecord, activation) as u32, o::ACTIVATION);
        assert_eq!(offset_of!(VMStackRecord, ctx_sp) as u32, o::CTX_SP);
        assert_eq!(offset_of!(VMStackRecord, ctx_fp) as u32, o::CTX_FP);
        assert_eq!(offset_of!(VMStackRecord, ctx_pc) as u32, o::CTX_PC);
        assert_eq!(o::CONTROL_CONTEXT, o::CTX_SP);
        assert_eq!(offset_of!(VMStackRecord, kind) as u32, o::KIND);
        assert_eq!(offset_of!(VMStackRecord, gc_spill) as u32, o::GC_SPILL);
        assert_eq!(
            offset_of!(VMStackRecord, gc_spill_len) as u32,
            o::GC_SPILL_LEN
        );
        assert_eq!(size_of::<VMStackRecord>() as u32, o::SIZE);
    }

    #[test]
    fn activations_nest_and_restore_the_record() {
        let r = VMStackRecord::new(0x1000, 0x9000, 0x800);
        assert_eq!(r.host_limit.get(), 0x1800);
        assert!(!r.is_active());
        let a = Activation::new(&r, std::ptr::null());
        a.link(&r);
        r.entry_sp.set(0x8000);
        r.last_exit_fp.set(0x7000);
        r.last_exit_sp.set(0x1234);
        let b = Activation::new(&r, std::ptr::null());
        b.link(&r);
        assert_eq!(b.saved.last_exit_fp, 0x7000);
        assert_eq!(b.prev, &a as *const Activation);
        r.entry_sp.set(0x6000);
        r.last_exit_fp.set(0x5000);
        b.unlink(&r);
        assert_eq!(r.entry_sp.get(), 0x8000);
        assert_eq!(r.last_exit_fp.get(), 0x7000);
        assert_eq!(r.last_exit_sp.get(), 0x1234);
        assert_eq!(r.activation.get(), &a as *const Activation);
        a.unlink(&r);
        assert!(!r.is_active());
        assert_eq!(r.last_exit_fp.get(), 0);
        assert_eq!(r.entry_sp.get(), 0);
    }
}
