//! Precise roots of the managed heap.
//!
//! * **Frames.** Cranelift spills every value declared to need a stack
//!   map (all `exnref`s, see `weft_cranelift`'s `translate::exceptions`)
//!   to a stack slot across each call, and records the slots per return
//!   address. [`frame_roots`] maps one frame (its return address and frame
//!   pointer, as the one walker reports it) to those slots:
//!
//!   ```text
//!     fp ->  [saved fp][return address]      frame of a wasm function
//!            ...
//!            slot   <- sp + offset            offsets from the stack map
//!     sp = fp - frame_size  (the stack pointer at the call)
//!   ```
//!
//!   Any walk can call it per frame (a GC, and later a continuation root
//!   scan: suspended continuations whose refs were spilled around the
//!   switch).
//! * **Store data.** Globals and table elements of managed and
//!   continuation types, and handles the embedder holds
//!   (`GcHeap::host_roots`, one entry per `ExnRef`).
//! * **Continuations.** A slot may hold a `contref` (tag `010`) as well as
//!   an object: the collector hands those to the pool's [`ContTrace`],
//!   which keeps what they name and returns the roots of each
//!   continuation it keeps (spill slot, frames, bound values, pending
//!   exception), until nothing new is reached; the unreached
//!   continuations are then retired (see `continuation::reclaim`).

use super::super::code_registry;
use super::super::continuation::ContTrace;
use super::super::module::ModuleCode;
use super::super::stack::{Frame, Start, VMStackRecord, walk, walk_stretch};
use super::super::store::StoreOpaque;

/// Calls `visit` with the address of every `exnref` slot of the wasm frame
/// whose return address is `pc` and frame pointer `fp`. Frames that are
/// not wasm functions, and calls without live `exnref`s, have none.
///
/// # Safety
///
/// `pc`/`fp` must describe a live frame (as found by the walker) whose
/// caller is suspended in the call at `pc`.
pub(crate) unsafe fn frame_roots(pc: usize, fp: usize, mut visit: impl FnMut(*mut usize)) {
    let Some(code) = code_registry::lookup(pc - 1) else {
        return;
    };
    let Some(module) = code.as_any().downcast_ref::<ModuleCode>() else {
        return;
    };
    let Some((loc, off)) = module.func_at(pc - 1) else {
        return;
    };
    let ret = off + 1;
    let Ok(i) = loc.stack_maps.binary_search_by_key(&ret, |m| m.ret) else {
        return;
    };
    let map = &loc.stack_maps[i];
    let sp = fp - map.frame_size as usize;
    for slot in &map.slots {
        visit((sp + *slot as usize) as *mut usize);
    }
}

/// The addresses of every slot in the store's data that may hold a
/// managed reference (an object of the heap: struct, array or
/// exception) or a continuation reference: globals, table elements and
/// element segments of such types, and the embedder's roots (`AnyRef`,
/// `ExnRef`).
pub(crate) fn store_root_slots(store: &mut StoreOpaque, out: &mut Vec<*mut u64>) {
    for g in &mut store.globals {
        if let crate::ValType::Ref(r) = &g.ty.content
            && is_traced_heap(&r.heap)
        {
            out.push(g.storage_ptr().cast::<u64>());
        }
    }
    for t in &mut store.tables {
        if is_traced_heap(&t.ty.element.heap) {
            out.extend(
                t.elems_mut()
                    .iter_mut()
                    .map(|e| (e as *mut usize).cast::<u64>()),
            );
        }
    }
    for (i, inst) in store.instances.iter_mut().enumerate() {
        let info = store.modules[i].info();
        for (seg, items) in info.elems.iter().zip(inst.elems.iter_mut()) {
            let ty = weft_environ::wasmparser::ValType::Ref(seg.ty);
            if let Some(items) = items
                && (info.is_gc_ref(ty) || info.is_cont_ref(ty))
            {
                out.extend(items.iter_mut().map(|e| (e as *mut usize).cast::<u64>()));
            }
        }
    }
    out.extend(store.gc_roots.slots_mut());
}

/// Whether the collector reads slots of heap type `h`: managed references
/// and continuation references.
pub(crate) fn is_traced_heap(h: &crate::HeapType) -> bool {
    is_managed_heap(h) || h.is_cont()
}

/// Whether references of heap type `h` are managed (GC objects, host
/// references in the `extern` hierarchy, exceptions).
pub(crate) fn is_managed_heap(h: &crate::HeapType) -> bool {
    use crate::HeapType as H;
    matches!(
        h,
        H::Any
            | H::Eq
            | H::I31
            | H::Struct
            | H::Array
            | H::None
            | H::Concrete(_)
            | H::Exact(_)
            | H::Extern
            | H::NoExtern
            | H::Exn
            | H::NoExn
    )
}

/// The addresses of the reference slots of every wasm frame of the store
/// that is live now, from `start` outwards through every activation and
/// parent stack.
///
/// # Safety
///
/// As for [`walk`]: the store's current record and activations are live
/// and `start` is a live frame of the current stack.
pub(crate) unsafe fn stack_root_slots(store: &StoreOpaque, start: Start, out: &mut Vec<*mut u64>) {
    let record = store.vm_store_ctx.current_stack.get();
    // Wasm runs when some record of the chain has an entry (a
    // continuation's own record has none: its entry is on the native
    // stack that resumed it).
    let mut r: *const VMStackRecord = record;
    let mut active = false;
    while !r.is_null() {
        // SAFETY: the chain's records are live (contract).
        let rec = unsafe { &*r };
        active |= rec.is_active();
        r = rec.parent.get();
    }
    if !active {
        return;
    }
    // SAFETY: contract.
    unsafe {
        walk(record, start, code_registry::lookup, |frame, _| {
            if frame.is_return_address {
                // SAFETY: the walker found a live frame.
                frame_roots(frame.pc, frame.fp, |slot| out.push(slot.cast::<u64>()));
            }
            std::ops::ControlFlow::Continue(())
        })
    }
}

/// The spill slot of a record that generated code switched away from.
///
/// # Safety
///
/// `r` waits in a switch made by generated code (or has a zero count).
unsafe fn spill_slots(r: &VMStackRecord, out: &mut Vec<*mut u64>) {
    let base = r.gc_spill.get() as *mut u64;
    let n = r.gc_spill_len.get();
    // The slot is in the frame that switched, at or above the stack
    // pointer saved by that switch. One below it belongs to a frame that
    // is gone (a count that should have been cleared, see
    // `stack_record::GC_SPILL_LEN`): reading it would take whatever is
    // there now for references.
    assert!(
        n == 0 || base as usize >= r.ctx_sp.get(),
        "stale spill slot {base:p} below the waiting stack pointer {:#x}",
        r.ctx_sp.get()
    );
    for i in 0..n {
        // SAFETY: the spill slot holds `gc_spill_len` words (contract).
        out.push(unsafe { base.add(i) });
    }
}

/// The records of the chain from the store's current record, outwards;
/// `out` receives the spill slots of the resumers waiting on it (a
/// continuation's parent waits in a switch made by generated code, or
/// with a zero count in Rust).
///
/// # Safety
///
/// The store's current record and its parents are live.
unsafe fn running_chain(store: &StoreOpaque, out: &mut Vec<*mut u64>) -> Vec<*const VMStackRecord> {
    let mut running: Vec<*const VMStackRecord> = Vec::new();
    let mut r = store.vm_store_ctx.current_stack.get() as *const VMStackRecord;
    while !r.is_null() {
        running.push(r);
        // SAFETY: records on the running chain are live (contract).
        let rec = unsafe { &*r };
        let p = rec.parent.get();
        if !p.is_null() && rec.kind.get() == weft_environ::stack_record::KIND_CONTINUATION {
            // SAFETY: a continuation's resumer waits in a switch.
            unsafe { spill_slots(&*p, out) };
        }
        r = p;
    }
    running
}

/// What a collection knows about the code at one lookup pc (see
/// [`Frame::lookup_pc`]): `None` when it is not generated code (a walk
/// stops there), else the frame size and slots of the stack map at that
/// call (none: no references live across it).
type CodeAt = Option<Option<(u32, std::rc::Rc<[u32]>)>>;

/// Per collection: [`CodeAt`] by lookup pc. Suspended continuations of one
/// program wait at a few places, so this saves most code-registry
/// lookups (a lock and a tree search each).
#[derive(Default)]
struct FrameCache(std::collections::HashMap<usize, CodeAt>);

impl FrameCache {
    fn at(&mut self, lookup_pc: usize) -> CodeAt {
        self.0
            .entry(lookup_pc)
            .or_insert_with(|| {
                let code = code_registry::lookup(lookup_pc)?;
                let map = code
                    .as_any()
                    .downcast_ref::<ModuleCode>()
                    .and_then(|m| m.func_at(lookup_pc))
                    .and_then(|(loc, off)| {
                        let i = loc
                            .stack_maps
                            .binary_search_by_key(&(off + 1), |m| m.ret)
                            .ok()?;
                        let m = &loc.stack_maps[i];
                        Some((m.frame_size, m.slots.as_slice().into()))
                    });
                Some(map)
            })
            .clone()
    }
}

/// The roots on the stack of a record that waits in a switch (a
/// suspended continuation's, or a fresh one's): its spill slot and the
/// stack-map slots of its frames.
///
/// ```text
///   suspended continuation stack
///     ctx {sp, fp, pc}  -> frame that ran `suspend`/`switch`/`resume`
///                          (its references: the record's spill slot)
///     [fp] -> caller    -> frames suspended in calls: stack maps
///     ...               -> trampoline, weft_cont_start: the walk stops
/// ```
///
/// # Safety
///
/// `rec` is suspended (or fresh): its control context and spill slot
/// describe its stack.
unsafe fn waiting_stack_roots(
    rec: &VMStackRecord,
    cache: &mut FrameCache,
    out: &mut Vec<*mut u64>,
) {
    // SAFETY: a suspended (or fresh, count 0) record.
    unsafe { spill_slots(rec, out) };
    let top = Frame {
        pc: rec.ctx_pc.get(),
        is_return_address: true,
        fp: rec.ctx_fp.get(),
        sp: rec.ctx_sp.get(),
        host_entries: 0,
        record: rec,
    };
    // SAFETY: a suspended stack's frames are live and linked by frame
    // pointers down from its control context; a fresh stack's context is
    // not generated code, so the walk stops at once.
    let _ = unsafe {
        walk_stretch(top, &mut |pc| cache.at(pc), &mut |frame: &Frame, map| {
            // As `frame_roots`: the slots are offsets from the stack
            // pointer at the call, `fp - frame_size`.
            if let Some((frame_size, slots)) = map {
                let sp = frame.fp - frame_size as usize;
                out.extend(slots.iter().map(|s| (sp + *s as usize) as *mut u64));
            }
            std::ops::ControlFlow::Continue(())
        })
    };
}

/// Collects the heap with every root: store data, host handles, the wasm
/// frames from `start`, the continuations reachable from them, and
/// `extra_slots` (slots of the caller holding references in flight, such
/// as a payload being copied into a new exception; they are updated).
/// Continuations nothing reaches are retired. On a continuation stack the
/// work runs on the root of the running chain (the red zone is for
/// bounded code only).
///
/// # Safety
///
/// As for [`stack_root_slots`] (`start` is ignored when no wasm is
/// active); `extra_slots` are valid and writable.
pub(crate) unsafe fn collect(store: &mut StoreOpaque, start: Start, extra_slots: &[*mut u64]) {
    let ctx: *const super::super::vmcontext::VMStoreContext = &*store.vm_store_ctx;
    let store_ptr: *mut StoreOpaque = store;
    // SAFETY: forwarded; the closure is the only user of the store while
    // it runs.
    let mut run = || unsafe { collect_here(&mut *store_ptr, start, extra_slots) };
    // SAFETY: the store context outlives the call; `run` does not unwind
    // (a panic in it aborts at the `extern "C"` boundary).
    if !unsafe { super::super::continuation::on_root_stack(&*ctx, &mut run) } {
        run();
    }
}

/// [`collect`], on the stack it is called on.
///
/// # Safety
///
/// As for [`collect`].
unsafe fn collect_here(store: &mut StoreOpaque, start: Start, extra_slots: &[*mut u64]) {
    // One buffer for the root slots, kept by the store between
    // collections: a collection allocates little once it has grown.
    let mut slots = std::mem::take(&mut store.gc_scratch);
    slots.clear();
    slots.extend_from_slice(extra_slots);
    store_root_slots(store, &mut slots);
    // SAFETY: forwarded.
    unsafe { stack_root_slots(store, start, &mut slots) };
    // SAFETY: the store's records are live.
    let running = unsafe { running_chain(store, &mut slots) };
    let types = &store.engine.inner.types;
    // Which values of a function type's parameters or results the
    // collector reads (bound `cont.bind` values).
    let mut traced = |ty: u32, results: bool| -> Vec<bool> {
        types.func_type(ty).map_or_else(Vec::new, |f| {
            let vals = if results { f.results() } else { f.params() };
            vals.iter()
                .map(|v| matches!(v, crate::ValType::Ref(r) if is_traced_heap(&r.heap)))
                .collect()
        })
    };
    let mut trace: Option<ContTrace<'_>> =
        store.continuations.as_deref().map(|p| p.trace(&running));
    if let Some(t) = &trace {
        t.running_slots(&mut traced, &mut slots);
    }
    let mut cache = FrameCache::default();
    let mut more = |found: &[u64], out: &mut Vec<*mut u64>| {
        if let Some(t) = trace.as_mut() {
            for c in found {
                t.found(*c);
            }
            if t.has_work() {
                t.drain(
                    &mut traced,
                    // SAFETY: the trace hands over suspended or fresh
                    // records only (or, keeping everything, records that
                    // do not run on the current chain).
                    &mut |rec, out| unsafe { waiting_stack_roots(rec, &mut cache, out) },
                    out,
                );
            }
        }
    };
    let mut marks = Vec::new();
    // SAFETY: every slot gathered above (and by `more`) is live and
    // writable, and holds a null, tagged or object reference (the
    // collector is precise).
    let exceptions = unsafe {
        store
            .objects
            .collect(&store.vm_store_ctx, &slots, &mut marks, &mut more)
    };
    let dead = trace.map(ContTrace::finish);
    if let (Some(dead), Some(pool)) = (dead, store.continuations.as_deref_mut()) {
        // SAFETY: the unmarked records of a complete trace: nothing runs
        // on them and no root can resume them.
        unsafe { pool.gc_sweep(&dead) };
    }
    store.gc_heap.collected(exceptions);
    if !store.extern_refs.is_empty() {
        store.extern_refs.sweep(&marks);
    }
    store.gc_scratch = slots;
}
