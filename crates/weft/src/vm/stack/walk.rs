//! The one frame walker: every wasm frame of a store, innermost first,
//! across host activations and stacks.
//!
//! Every function weft generates (wasm functions and trampolines) keeps a
//! frame pointer, so inside one stretch of generated code the callers are
//! found by following `[fp] = caller's fp, [fp + 8] = return address`. A
//! stretch ends where a return address leaves generated code: that is the
//! host->wasm entry (`weft_enter`). What comes next is told by the records
//! (see `record.rs`):
//!
//! ```text
//!   start: a trap (pc, fp, sp)       or the record's last exit
//!     |                                (a host function asking for a
//!     v                                 backtrace: exit pc, [exit fp])
//!   wasm frames of the innermost activation ... entry
//!     |  activation.saved.last_exit: where the enclosing wasm called the
//!     v  host that made this entry (absent: the host called in directly)
//!   wasm frames of the previous activation ... entry
//!     |  ... until the first activation on this stack
//!     v
//!   record.parent (the stack that resumed this one: a fiber's poller,
//!     |  a continuation's resumer), from its last exit and its innermost
//!     v  activation, the same way, until a record without parent
//! ```
//!
//! Frames are visited with their pc, fp and sp, plus what `code_at` says
//! about their code. The signal handler walks with a lock-free lookup
//! (`code_registry::walk_in_handler`); backtraces, and later exception
//! handler search and GC root scans, use the module lookup.

use super::record::VMStackRecord;
use std::ops::ControlFlow;

/// One frame of generated code found by the walker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// For the innermost frame of a trap: the trapping instruction. For
    /// every other frame: the return address of its call to the next
    /// inner frame.
    pub pc: usize,
    /// Whether `pc` is a return address (every frame but a trap's own).
    pub is_return_address: bool,
    /// The frame's frame pointer.
    pub fp: usize,
    /// The frame's stack pointer at `pc` (for callers: the value right
    /// after the call returns, i.e. the callee's frame pointer + 16).
    pub sp: usize,
    /// How many host->wasm entries lie between the walk's start and this
    /// frame (0: the same activation). Exception handler search stops at
    /// the first entry: a throw never unwinds host frames.
    pub host_entries: u32,
    /// The record of the stack the frame is on.
    pub record: *const VMStackRecord,
}

impl Frame {
    /// An address inside the instruction `pc` belongs to: the trapping
    /// instruction itself, or the call before a return address. Use it to
    /// find the function and source offset.
    pub(crate) fn lookup_pc(&self) -> usize {
        if self.is_return_address {
            self.pc - 1
        } else {
            self.pc
        }
    }
}

/// Where a walk begins.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// At a trap in generated code: its pc, fp and sp.
    Trap { pc: usize, fp: usize, sp: usize },
    /// In host code called from wasm: at the current record's last exit.
    LastExit,
    /// In a runtime function called directly from generated code (the
    /// exception throw shim): the caller's frame, with `pc` the return
    /// address of the call.
    Call { pc: usize, fp: usize, sp: usize },
}

/// The wasm frame that made a wasm->host call still in progress, from
/// the exit a record holds: that frame's frame pointer `exit_fp` and its
/// stack pointer at the call `exit_sp` (None if there is no such exit).
///
/// ```text
///   exit_sp -> +--------------------+  wasm caller's frame (fp = exit_fp)
///              | return address     |  pushed by the call: into the
///              +--------------------+  caller, right after the call
///              | callee's frame ... |  the trampoline's or the native
///                                      entry's: alive until it returns
/// ```
///
/// # Safety
///
/// Non-zero fields must describe a wasm frame whose call (to a trampoline
/// or a native entry) has not returned.
unsafe fn exit_frame(exit_fp: usize, exit_sp: usize) -> Option<Frame> {
    if exit_fp == 0 || exit_sp == 0 {
        return None;
    }
    Some(Frame {
        // SAFETY: the call pushed its return address just below the
        // caller's stack pointer, and the callee has not returned.
        pc: unsafe { *((exit_sp - 8) as *const usize) },
        is_return_address: true,
        fp: exit_fp,
        sp: exit_sp,
        host_entries: 0,
        record: std::ptr::null(),
    })
}

/// Visits the frames of one stretch of generated code, from `frame`
/// outwards, until a return address leaves generated code. Returns
/// `Break` if `visit` did.
///
/// # Safety
///
/// `frame` must describe a live frame of generated code (or code_at must
/// reject its pc), and the stretch must be live.
pub(crate) unsafe fn walk_stretch<C>(
    mut frame: Frame,
    code_at: &mut impl FnMut(usize) -> Option<C>,
    visit: &mut impl FnMut(&Frame, C) -> ControlFlow<()>,
) -> ControlFlow<()> {
    while let Some(code) = code_at(frame.lookup_pc()) {
        visit(&frame, code)?;
        let fp = frame.fp;
        if fp == 0 {
            break;
        }
        // SAFETY: `fp` belongs to a frame of generated code (its pc was
        // just found there), which saves [caller fp, return address] at
        // `fp`; the frame is live (contract).
        let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        // Within one stretch frames are on one stack, callers above
        // callees: anything else is a broken chain.
        if ret == 0 || next_fp <= fp {
            break;
        }
        frame = Frame {
            pc: ret,
            is_return_address: true,
            fp: next_fp,
            sp: fp + 16,
            host_entries: frame.host_entries,
            record: frame.record,
        };
    }
    ControlFlow::Continue(())
}

/// Visits every wasm frame reachable from `record` (the running store's
/// current record), innermost first, as described in the module docs.
/// `code_at(pc)` says whether `pc` is in generated code (and what is known
/// about it); `visit` may stop the walk.
///
/// # Safety
///
/// `record` must be the current record of a store whose activations are
/// all live (the walk runs on the thread that runs the store, while it is
/// in wasm or in a host function called from wasm), and `start` must be a
/// live frame of that record's stack.
pub(crate) unsafe fn walk<C>(
    record: *const VMStackRecord,
    start: Start,
    mut code_at: impl FnMut(usize) -> Option<C>,
    mut visit: impl FnMut(&Frame, C) -> ControlFlow<()>,
) {
    let mut record = record;
    // SAFETY: the current record is live (contract).
    let rec = unsafe { &*record };
    let mut next = match start {
        Start::Trap { pc, fp, sp } => Some(Frame {
            pc,
            is_return_address: false,
            fp,
            sp,
            host_entries: 0,
            record: std::ptr::null(),
        }),
        Start::Call { pc, fp, sp } => Some(Frame {
            pc,
            is_return_address: true,
            fp,
            sp,
            host_entries: 0,
            record: std::ptr::null(),
        }),
        // SAFETY: the last exit of a live record is a wasm frame whose
        // host call is in progress while host code called from wasm runs.
        Start::LastExit => unsafe { exit_frame(rec.last_exit_fp.get(), rec.last_exit_sp.get()) },
    };
    let mut activation = rec.activation.get();
    let mut host_entries = 0;
    loop {
        if let Some(mut frame) = next {
            frame.host_entries = host_entries;
            frame.record = record;
            // SAFETY: every frame produced here is live (see above and
            // below), on the stack of `record`.
            if unsafe { walk_stretch(frame, &mut code_at, &mut visit) }.is_break() {
                return;
            }
        }
        if !activation.is_null() {
            // SAFETY: activations linked from a live record are live.
            let a = unsafe { &*activation };
            // SAFETY: the exit the enclosing wasm made is live while this
            // activation (which it is waiting for) is.
            next = unsafe { exit_frame(a.saved.last_exit_fp, a.saved.last_exit_sp) };
            activation = a.prev;
            host_entries += 1;
            if next.is_some() || !activation.is_null() {
                continue;
            }
        }
        // This stack is done: continue on the stack that resumed it.
        // SAFETY: the record is live.
        let (parent, kind) = unsafe { ((*record).parent.get(), (*record).kind.get()) };
        if parent.is_null() {
            return;
        }
        record = parent;
        // SAFETY: a running record's parent is suspended in the switch to
        // it, so it and its activations are live.
        let p = unsafe { &*record };
        next = if kind == weft_environ::stack_record::KIND_CONTINUATION {
            // A continuation's resumer waits in wasm, in the `resume` (or
            // `switch`) that switched away: its control context is that
            // frame (the saved pc is the return point of the switch).
            Some(Frame {
                pc: p.ctx_pc.get(),
                is_return_address: true,
                fp: p.ctx_fp.get(),
                sp: p.ctx_sp.get(),
                host_entries: 0,
                record: std::ptr::null(),
            })
        } else {
            // SAFETY: as for `Start::LastExit`: a fiber's parent is in host
            // code (the poller) called from its last exit, if it has one.
            unsafe { exit_frame(p.last_exit_fp.get(), p.last_exit_sp.get()) }
        };
        activation = p.activation.get();
    }
}
