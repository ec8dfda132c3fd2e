//! Throwing wasm exceptions: allocation, handler search, resume at the
//! handler, and exceptions that reach the host.
//!
//! Generated code calls the `Throw`/`ThrowRef` builtins with Cranelift's
//! `tail` convention (as `try_call`s inside handler scopes). They arrive at
//! the shims below, which add the caller's frame to the arguments and jump
//! to the Rust implementation:
//!
//! ```text
//!   wasm frame F                           shim (no frame of its own)
//!   try_call throw(vmctx, a, b) ---------> rcx = [rsp]      return address in F
//!     [ret: call site of F]                r8  = rsp + 8    F's sp after the call
//!                                          r9  = rbp        F's frame pointer
//!                                          jmp throw_impl(vmctx, a, b, rcx, r8, r9)
//! ```
//!
//! [`throw_exception`] is the one place that unwinds to a handler. It walks
//! the frames with the one walker (`stack::walk`, which follows parent
//! stacks), and for each frame looks up the call site of its return address
//! in its function's sorted call-site table (binary search, no allocation):
//!
//! ```text
//!   call site: ret, frame_offset, [handler: tag offset | catch-all, pad,
//!                                            context sp offset]
//!   sp      = frame.fp - frame_offset          (sp at the call)
//!   vmctx   = [sp + context sp offset]         (saved by the frame)
//!   matches = catch-all || [vmctx + tag offset] == exception's tag identity
//!   resume_at(pc = pad, sp, fp = frame.fp, payload = [exnref, 0])
//! ```
//!
//! The search stops at the first host->wasm entry it would cross: there
//! the exception is uncaught. It is parked in the store as the error
//! [`crate::Exception`] (holding a rooted `ExnRef` and the backtrace from
//! the throw site) and the entry is resumed as for a trap; the entry
//! returns that error. A host function that returns such an error to wasm
//! rethrows the same exception from its caller (`builtins::host_call`).
//!
//! Only generated code (wasm frames, trampolines) and the frames of the
//! builtin that throws are abandoned; those builtins own nothing that
//! needs dropping when they call [`throw_exception`].

use super::code_registry;
use super::entry::resume_at;
use super::gc::heap::RefSlots;
use super::instance::InstanceData;
use super::module::{FuncLoc, ModuleCode};
use super::stack::{Frame, ResumePoint, Start, VMStackRecord, walk};
use super::store::{Pending, StoreOpaque};
use super::traphandlers::TrapRecord;
use super::vmcontext::ValRaw;
use std::ops::ControlFlow;
use weft_environ::Trap;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // CAUTION: hand-written assembly. The shims are entered by a `call`
    // from generated code with the `tail` convention and arguments in
    // rdi, rsi, rdx; they must not touch those, nor rbp, nor rsp: rsp is
    // 8 (mod 16) as at any function entry, and jumping (not calling) keeps
    // it so for the Rust function, which sees the caller's return address
    // as its own (returning from it returns to generated code: ThrowRef
    // returns for a null reference).
    ".pushsection .text.weft_throw_shims,\"ax\",@progbits",
    // ---- weft_throw_shim(vmctx: rdi, tag: esi, values: rdx) ----
    ".p2align 4",
    ".globl weft_throw_shim",
    ".hidden weft_throw_shim",
    ".type weft_throw_shim,@function",
    "weft_throw_shim:",
    // The CIE defaults describe this point (CFA = rsp + 8, return address
    // at CFA - 8) and nothing below changes rsp.
    ".cfi_startproc",
    // 4th argument: the return address into the throwing wasm frame.
    "mov rcx, qword ptr [rsp]",
    // 5th argument: that frame's stack pointer once the call returns.
    "lea r8, [rsp + 8]",
    // 6th argument: its frame pointer (generated code keeps one).
    "mov r9, rbp",
    // Tail-jump to the Rust implementation.
    "jmp {throw_impl}",
    ".cfi_endproc",
    ".size weft_throw_shim, .-weft_throw_shim",
    // ---- weft_throw_ref_shim(vmctx: rdi, exn: rsi) ----
    ".p2align 4",
    ".globl weft_throw_ref_shim",
    ".hidden weft_throw_ref_shim",
    ".type weft_throw_ref_shim,@function",
    "weft_throw_ref_shim:",
    ".cfi_startproc",
    // 3rd argument: the return address into the throwing wasm frame.
    "mov rdx, qword ptr [rsp]",
    // 4th argument: that frame's stack pointer once the call returns.
    "lea rcx, [rsp + 8]",
    // 5th argument: its frame pointer.
    "mov r8, rbp",
    // Tail-jump to the Rust implementation.
    "jmp {throw_ref_impl}",
    ".cfi_endproc",
    ".size weft_throw_ref_shim, .-weft_throw_ref_shim",
    ".popsection",
    throw_impl = sym throw_impl,
    throw_ref_impl = sym throw_ref_impl,
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// The `Throw` builtin as generated code calls it (see the shims).
    #[link_name = "weft_throw_shim"]
    pub(super) fn throw(vmctx: *mut u8, tag: u32, values: *mut ValRaw);
    /// The `ThrowRef` builtin as generated code calls it.
    #[link_name = "weft_throw_ref_shim"]
    pub(super) fn throw_ref(vmctx: *mut u8, exn: usize);
}

/// A module's registered code and a pointer to it as its concrete type
/// (the `Arc` keeps the pointer valid).
pub(crate) type CodeCache = (
    std::sync::Arc<dyn code_registry::CodeLookup>,
    *const ModuleCode,
);

/// The store and instance behind a vmctx.
///
/// # Safety
///
/// `vmctx` must be the vmctx of a live instance of a store that is running
/// wasm (its embedder borrow is suspended in the call into wasm).
unsafe fn parts<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, &'a InstanceData) {
    // SAFETY: guaranteed by the caller.
    let inst = unsafe { InstanceData::from_vmctx(vmctx) } as *const InstanceData;
    // SAFETY: the instance's store pointer is its owning store, and the
    // instance lives in it.
    unsafe { (&mut *(*inst).store, &*inst) }
}

/// `throw`: allocates the exception and throws it.
///
/// # Safety
///
/// Called only through `weft_throw_shim` by generated code: `values` holds
/// one slot per parameter of module tag `tag`, and (pc, sp, fp) describe
/// the calling wasm frame.
unsafe extern "C" fn throw_impl(
    vmctx: *mut u8,
    tag: u32,
    values: *mut ValRaw,
    pc: usize,
    sp: usize,
    fp: usize,
) {
    // SAFETY: generated code passes its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    let identity = inst.tags[tag as usize].index;
    let (n, _) = store.tag_layout(identity);
    // SAFETY: the generated code stored one slot per tag parameter there.
    let payload: &mut [u128] = unsafe { std::slice::from_raw_parts_mut(values.cast::<u128>(), n) };
    let start = Start::Call { pc, fp, sp };
    // SAFETY: `start` is the live throwing frame.
    match unsafe { alloc_exception(store, identity, payload, start) } {
        // SAFETY: this frame owns nothing that needs dropping (everything
        // above is plain data or already dropped).
        Ok(exn) => unsafe { throw_exception(store, exn, start) },
        // The heap is full: returning makes the caller trap with the
        // parked error.
        Err(e) => store.pending = Some(super::store::Pending::Error(e)),
    }
}

/// Allocates an exception of the tag with store-wide identity `identity`
/// carrying `payload` (one raw slot per tag parameter), collecting first
/// when the heap is due, with the wasm frames from `start` as roots (and
/// the payload's own references, which are updated if they move). Returns
/// the raw `exnref`. With [`throw_exception`] this is what a runtime-side
/// throw needs (e.g. `resume_throw`).
///
/// # Safety
///
/// `start` must be a live frame of the store's current stack (or
/// `LastExit` while a host function called from wasm runs, or any start
/// when no wasm is active).
pub(crate) unsafe fn alloc_exception(
    store: &mut StoreOpaque,
    identity: u32,
    payload: &mut [u128],
    start: Start,
) -> crate::Result<usize> {
    let (_, refs) = store.tag_layout(identity);
    let size = super::gc::heap::size(payload.len());
    let ctx: *const super::vmcontext::VMStoreContext = &*store.vm_store_ctx;
    // SAFETY: the boxed store context outlives this call.
    let window_full = store.objects.window_full(unsafe { &*ctx }, size);
    if store.gc_heap.wants_collection() || window_full {
        let slots: Vec<*mut u64> = refs
            .0
            .iter()
            .chain(refs.1.iter())
            .map(|i| (&mut payload[*i as usize] as *mut u128).cast::<u64>())
            .collect();
        // SAFETY: forwarded; the payload slots are writable.
        unsafe { super::gc::roots::collect(store, start, &slots) };
    }
    alloc_exception_no_gc(store, identity, payload)
}

/// Allocates an exception without collecting (see [`alloc_exception`]).
pub(crate) fn alloc_exception_no_gc(
    store: &mut StoreOpaque,
    identity: u32,
    payload: &[u128],
) -> crate::Result<usize> {
    use super::gc::heap;
    let n = payload.len();
    let size = heap::size(n);
    let p = store
        .objects
        .alloc_no_gc(&store.vm_store_ctx, size)?
        .ok_or(crate::Trap::GcHeapOutOfMemory)?;
    // SAFETY: `p` is the start of `size` fresh bytes of the heap; the
    // payload follows the 16-byte header.
    unsafe {
        *(p as *mut u64) = heap::header(identity, n);
        *((p + 8) as *mut u64) = 0;
        // (Objects are 8-aligned: copy bytes, not `u128`s.)
        std::ptr::copy_nonoverlapping(
            payload.as_ptr().cast::<u8>(),
            (p + heap::PAYLOAD) as *mut u8,
            16 * n,
        );
    }
    store.gc_heap.allocated();
    Ok(p)
}

/// `throw_ref`: returns (and the caller traps) for null.
///
/// # Safety
///
/// Called only through `weft_throw_ref_shim` by generated code.
unsafe extern "C" fn throw_ref_impl(vmctx: *mut u8, exn: usize, pc: usize, sp: usize, fp: usize) {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    // Null traps in the caller.
    if exn == 0 {
        return;
    }
    // SAFETY: nothing here needs dropping.
    unsafe { throw_exception(store, exn, Start::Call { pc, fp, sp }) }
}

/// `ExnPayload`: the address of the payload of exception `exn`.
///
/// # Safety
///
/// Called by generated code with its own vmctx.
pub(super) unsafe extern "C" fn exn_payload(vmctx: *mut u8, exn: usize) -> usize {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    let _ = store;
    // SAFETY: a caught exception is a live object (or null, which makes
    // the load fault rather than read garbage).
    unsafe { super::gc::heap::get(exn) }.map_or(0, |o| o.payload as usize)
}

/// `ExnTag`: the tag identity of exception `exn`.
///
/// # Safety
///
/// Called by generated code with its own vmctx.
pub(super) unsafe extern "C" fn exn_tag(vmctx: *mut u8, exn: usize) -> usize {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    let _ = store;
    // SAFETY: a caught exception is a live object.
    unsafe { super::gc::heap::get(exn) }.map_or(usize::MAX, |o| o.tag as usize)
}

/// The landing pad in `frame` (a caller suspended at return address
/// `frame.pc`, in function `loc` of `module`) for an exception of tag
/// identity `tag`, if any.
///
/// # Safety
///
/// `frame` must be a live wasm frame found by the walker in `loc`.
unsafe fn handler_in(
    module: &ModuleCode,
    loc: &FuncLoc,
    frame: &Frame,
    tag: usize,
) -> Option<ResumePoint> {
    let ret = (frame.pc - module.base() - loc.start) as u32;
    let i = loc.call_sites.binary_search_by_key(&ret, |c| c.ret).ok()?;
    let site = &loc.call_sites[i];
    let sp = frame.fp - site.frame_offset as usize;
    for h in &site.handlers {
        let matches = match h.tag {
            None => true,
            Some(tag_offset) => {
                let Some(ctx) = h.context_sp_offset else {
                    continue;
                };
                // SAFETY: the frame saved its vmctx at this offset from its
                // stack pointer for the call (Cranelift's exception
                // context); the vmctx's tag array holds identities.
                unsafe {
                    let vmctx = *((sp + ctx as usize) as *const usize);
                    *((vmctx + tag_offset as usize) as *const usize) == tag
                }
            }
        };
        if matches {
            return Some(ResumePoint {
                pc: module.base() + loc.start + h.offset as usize,
                sp,
                fp: frame.fp,
            });
        }
    }
    None
}

/// Throws exception `exn` (a raw `exnref` of a live object in `store`'s heap)
/// from `start`: resumes at the innermost matching handler among the wasm
/// frames up to the nearest host->wasm entry, or makes that entry return
/// the [`crate::Exception`] error. This is the one runtime entry point for
/// throwing: `throw`, `throw_ref`, host functions' exceptions, and (for
/// stack switching) `resume_throw` use it.
///
/// # Safety
///
/// `start` must be a live frame of the store's current stack (or
/// `LastExit` while a host function called from wasm runs). Every frame
/// between the caller and the handler or entry is abandoned without
/// running destructors: the caller's own frames must own nothing that
/// needs dropping.
pub(crate) unsafe fn throw_exception(store: &mut StoreOpaque, exn: usize, start: Start) -> ! {
    // SAFETY: callers throw live exception objects.
    let tag = match unsafe { super::gc::heap::get(exn) } {
        Some(o) => o.tag as usize,
        None => panic!("throwing a null exception"),
    };
    let record = store.vm_store_ctx.current_stack.get();
    let mut found = None;
    // Whether the search reached the end of the running continuation: its
    // resumer's `resume` is not a call site, so the exception leaves the
    // continuation through it (`escape_continuation`) and is thrown on
    // from there.
    let mut left_continuation = false;
    // Consecutive frames (and consecutive throws) are mostly in the same
    // module: ask the last one's tables first, the registry (a read lock)
    // only when the pc is elsewhere. The store keeps the last module's
    // code between throws.
    let mut last = store.throw_code_cache.take();
    let code_at = |pc: usize| -> Option<(*const ModuleCode, *const FuncLoc)> {
        if let Some((_, m)) = &last {
            // SAFETY: the Arc next to the pointer keeps the code alive.
            let module = unsafe { &**m };
            if let Some((loc, _)) = module.func_at(pc) {
                return Some((*m, loc));
            }
        }
        let c = code_registry::lookup(pc)?;
        let m: *const ModuleCode = c.as_any().downcast_ref::<ModuleCode>()?;
        // SAFETY: `c` keeps the code alive (and is kept in `last`).
        let (loc, _) = unsafe { &*m }.func_at(pc)?;
        let loc: *const FuncLoc = loc;
        last = Some((c, m));
        Some((m, loc))
    };
    // SAFETY: the store's records are live; `start` is (contract). The
    // module pointers stay valid while the visitor runs: the code of a
    // live frame stays registered (its module is kept by its instance).
    unsafe {
        walk(record, start, code_at, |frame, (module, loc)| {
            if frame.host_entries > 0 {
                return ControlFlow::Break(());
            }
            if frame.record != record.cast_const() {
                left_continuation = true;
                return ControlFlow::Break(());
            }
            if !frame.is_return_address {
                return ControlFlow::Continue(());
            }
            // The frame is live and was found in `module` by the walker.
            if let Some(to) = handler_in(&*module, &*loc, frame, tag) {
                found = Some((to, frame.record));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
    };
    store.throw_code_cache = last;
    match found {
        Some((to, handler_record)) => {
            // The handler may be on a stack that resumed the running one
            // (an exception leaving a continuation through its `resume`):
            // the continuations in between are dead, and the handler's
            // stack runs again.
            let handler_record = handler_record.cast_mut();
            if handler_record != record {
                // SAFETY: `handler_record` is an ancestor of the running
                // record on this walk (no host entry in between), and no
                // code runs on the stacks between them any more.
                unsafe { super::continuation::kill_chain(record, handler_record) };
                store.vm_store_ctx.current_stack.set(handler_record);
            }
            // SAFETY: the handler's frame is live above us; it expects the
            // exception in the first payload register.
            unsafe { resume_at(to, [exn, 0]) }
        }
        None if left_continuation
            // SAFETY: the running record is live.
            && unsafe { (*record).kind.get() }
                == weft_environ::stack_record::KIND_CONTINUATION =>
        {
            // SAFETY: the running record is a continuation whose frames
            // hold no handler; forwarded.
            unsafe { super::continuation::escape_continuation(record, exn) }
        }
        // SAFETY: forwarded.
        None => unsafe { uncaught(store, exn, start) },
    }
}

/// Parks `exn` as the pending error and resumes at the nearest entry.
///
/// # Safety
///
/// As for [`throw_exception`].
unsafe fn uncaught(store: &mut StoreOpaque, exn: usize, start: Start) -> ! {
    let record = store.vm_store_ctx.current_stack.get();
    // The backtrace from the throw site, before the frames are abandoned.
    let mut pcs = Vec::new();
    // SAFETY: as in `throw_exception`.
    unsafe {
        walk(record, start, code_registry::lookup, |frame, _| {
            pcs.push(frame.lookup_pc());
            if pcs.len() >= super::traphandlers::MAX_TRAP_FRAMES {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
    };
    let backtrace = super::backtrace::symbolize(&pcs);
    drop(pcs);
    let exn_ref = crate::ExnRef::root(store, exn);
    store.pending = Some(Pending::Error(anyhow::Error::new(
        crate::Exception::with_backtrace(exn_ref, backtrace),
    )));
    // SAFETY: the current record and its parents are live.
    let target = unsafe { record_with_entry(record) }
        .expect("an exception was thrown outside of any host->wasm entry");
    // SAFETY: an active record's activation is live.
    let activation = unsafe { &*target.activation.get() };
    activation.trap.set(Some(TrapRecord {
        trap: Trap::HostError,
        pc: 0,
        fp: 0,
        fault_addr: None,
        frames: 0,
    }));
    let to = target.resume_point();
    // SAFETY: the entry's resume point is live further up; it expects a
    // non-zero payload; nothing owned is left in this frame.
    unsafe { resume_at(to, [1, 0]) }
}

/// The record to resume when an exception is uncaught: the running one or
/// the nearest one up its parent chain with an active entry.
///
/// # Safety
///
/// `record` and its parents must be live.
unsafe fn record_with_entry(mut record: *const VMStackRecord) -> Option<&'static VMStackRecord> {
    while !record.is_null() {
        // SAFETY: live (contract).
        let r = unsafe { &*record };
        if r.is_active() {
            return Some(r);
        }
        record = r.parent.get();
    }
    None
}

/// `exn_layout` of a store: (payload length, `exnref` slots) of the tag
/// with identity `identity`.
pub(crate) fn tag_layout(store: &mut StoreOpaque, identity: u32) -> (usize, RefSlots) {
    if let Some(Some(l)) = store.tag_layouts.get(identity as usize) {
        return l.clone();
    }
    let ty = store.tag_ty(crate::Tag {
        store: store.id,
        index: identity,
    });
    let is_exn = |t: &crate::ValType| matches!(t, crate::ValType::Ref(r) if matches!(r.heap, crate::HeapType::Exn | crate::HeapType::NoExn));
    // Objects and continuation references (the collector reads both; a
    // continuation in a payload stays alive with the exception).
    let is_obj = |t: &crate::ValType| matches!(t, crate::ValType::Ref(r) if !matches!(r.heap, crate::HeapType::Exn | crate::HeapType::NoExn) && super::gc::roots::is_traced_heap(&r.heap));
    let pick = |f: &dyn Fn(&crate::ValType) -> bool| -> Vec<u32> {
        ty.params()
            .iter()
            .enumerate()
            .filter(|(_, t)| f(t))
            .map(|(i, _)| i as u32)
            .collect()
    };
    let refs = pick(&is_exn);
    let objs = pick(&is_obj);
    let all: Vec<u32> = refs.iter().chain(objs.iter()).copied().collect();
    store.objects.register_tag(identity, &all);
    let layout = (ty.params().len(), RefSlots(refs.into(), objs.into()));
    if store.tag_layouts.len() <= identity as usize {
        store.tag_layouts.resize(identity as usize + 1, None);
    }
    store.tag_layouts[identity as usize] = Some(layout.clone());
    layout
}

/// Collects the store's heap from host code (outside wasm, or in a host
/// function called from wasm: then the wasm frames below are roots).
pub(crate) fn collect_from_host(store: &mut StoreOpaque) {
    // SAFETY: as in `new_from_host`.
    unsafe { super::gc::roots::collect(store, Start::LastExit, &[]) };
}

/// Allocates an exception of `tag` with raw payload `payload` from the
/// host (collecting first when the heap wants to, with every root: store
/// data, host handles, and the wasm frames live below the host function
/// this may be called from). Returns the raw `exnref`.
pub(crate) fn new_from_host(
    store: &mut StoreOpaque,
    tag: crate::Tag,
    payload: &mut [u128],
) -> crate::Result<usize> {
    // SAFETY: the host runs either outside wasm (no active entry: no
    // frames are walked) or in a host function called from wasm, whose
    // trampoline recorded the last exit of the current stack.
    unsafe { alloc_exception(store, tag.index, payload, Start::LastExit) }
}
