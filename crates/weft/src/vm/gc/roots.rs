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
//! * **Store data.** `exnref` globals and table elements, and handles the
//!   embedder holds (`GcHeap::host_roots`, one entry per `ExnRef`).

use super::super::code_registry;
use super::super::module::ModuleCode;
use super::super::stack::{Start, walk};
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

/// Every raw `exnref` the store's data holds: globals and tables of
/// exception reference type. (Host handles are kept by the heap itself.)
pub(crate) fn store_roots(store: &StoreOpaque, out: &mut Vec<usize>) {
    for g in &store.globals {
        if let crate::ValType::Ref(r) = &g.ty.content
            && is_exn_heap(&r.heap)
        {
            out.push(g.storage.bits as usize);
        }
    }
    for t in &store.tables {
        if is_exn_heap(&t.ty.element.heap) {
            out.extend(t.elems().iter().copied());
        }
    }
}

fn is_exn_heap(h: &crate::HeapType) -> bool {
    matches!(h, crate::HeapType::Exn | crate::HeapType::NoExn)
}

/// The `exnref`s in every wasm frame of the store that is live now, from
/// `start` outwards through every activation and parent stack.
///
/// # Safety
///
/// As for [`walk`]: the store's current record and activations are live
/// and `start` is a live frame of the current stack.
pub(crate) unsafe fn stack_roots(store: &StoreOpaque, start: Start, out: &mut Vec<usize>) {
    let record = store.vm_store_ctx.current_stack.get();
    // SAFETY: the record is live (contract).
    if !unsafe { (*record).is_active() } {
        return;
    }
    // SAFETY: contract.
    unsafe {
        walk(record, start, code_registry::lookup, |frame, _| {
            if frame.is_return_address {
                // SAFETY: the walker found a live frame.
                frame_roots(frame.pc, frame.fp, |slot| out.push(*slot));
            }
            std::ops::ControlFlow::Continue(())
        })
    }
}

/// Collects the store's heap with every root: store data, host handles,
/// the wasm frames from `start`, and `extra` (values in flight, such as a
/// payload being copied into a new exception).
///
/// # Safety
///
/// As for [`stack_roots`] (`start` is ignored when no wasm is active).
pub(crate) unsafe fn collect(store: &mut StoreOpaque, start: Start, extra: &[usize]) {
    // The frames of suspended continuations are not scanned yet (their
    // stacks are not on the running chain, and Cranelift emits no stack
    // map at `stack_switch`): while any continuation is alive, refs may
    // live there, so nothing is reclaimed. Exceptions then wait for the
    // continuations to finish (the GC issue scans suspended stacks).
    if store.continuations.as_ref().is_some_and(|p| p.live() > 0) {
        return;
    }
    let mut roots = Vec::from(extra);
    store_roots(store, &mut roots);
    // SAFETY: forwarded.
    unsafe { stack_roots(store, start, &mut roots) };
    store.gc_heap.collect(roots);
}
