//! Runtime functions called from generated code through the vmctx's
//! builtins table. They are declared once, with their signatures, in
//! `weft_environ::foreach_builtin!`; the table below is generated from that
//! list and checks each function here against its declaration.
//!
//! They run on the wasm stack, below the stack limit's red zone. None may
//! unwind: errors are reported by return value and turned into traps by
//! the generated code.

use super::exceptions::{exn_payload, exn_tag, throw, throw_ref};
use super::func::HostCallFn;
use super::gc::ops::{array_copy, array_init_data, array_init_elem, gc_alloc, is_subtype};
use super::instance::InstanceData;
use super::store::{HostFunc, Pending, StoreOpaque};
use super::vmcontext::{VMHostFuncContext, ValRaw};
use weft_environ::Builtin;

struct Table([*const (); Builtin::COUNT]);
// SAFETY: the table holds addresses of functions; it is never written.
unsafe impl Sync for Table {}

/// The Rust type of a type declared in `weft_environ::foreach_builtin!`.
macro_rules! rust_type {
    (vmctx) => { *mut u8 };
    (u32) => { u32 };
    (u64) => { u64 };
    (usize) => { usize };
    (ptr<$pointee:ident>) => { *mut $pointee };
}

/// The table, in declaration order. Each function is first bound to the
/// function pointer type of its declared signature, so a Rust function
/// whose signature differs from the declaration does not compile.
macro_rules! builtin_table {
    ($(
        $(#[$attr:meta])*
        $variant:ident : $name:ident ( $($param:ident : $ty:ident $(<$pointee:ident>)?),* $(,)? )
            $(-> $result:ident)?;
    )*) => {
        static BUILTINS: Table = Table([$({
            const F: unsafe extern "C" fn($(rust_type!($ty $(<$pointee>)?)),*)
                $(-> rust_type!($result))? = $name;
            F as *const ()
        }),*]);

        /// `(builtin, function address, parameter sizes, result size)` as
        /// the Rust side sees them, for the test against the declaration.
        #[cfg(test)]
        fn rust_view() -> Vec<(Builtin, *const (), Vec<usize>, Option<usize>)> {
            vec![$((
                Builtin::$variant,
                $name as *const (),
                vec![$(size_of::<rust_type!($ty $(<$pointee>)?)>()),*],
                None $(.or(Some(size_of::<rust_type!($result)>())))?,
            )),*]
        }
    };
}

weft_environ::foreach_builtin!(builtin_table);

/// Address of the builtins table stored in every vmctx.
pub(crate) fn table_address() -> usize {
    BUILTINS.0.as_ptr() as usize
}

/// The store and instance behind a vmctx.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance, and the store must not be
/// borrowed elsewhere for the returned lifetime (true while wasm runs: the
/// embedder's borrow is suspended in `Func::call`).
unsafe fn parts<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, *const InstanceData) {
    // SAFETY: guaranteed by the caller.
    let inst = unsafe { InstanceData::from_vmctx(vmctx) } as *const InstanceData;
    // SAFETY: the instance's store pointer is its owning store.
    let store = unsafe { &mut *(*inst).store };
    (store, inst)
}

fn in_bounds(start: u64, len: u64, size: u64) -> bool {
    start.checked_add(len).is_some_and(|end| end <= size)
}

/// `memory.init` / `table.init`: copies `len` items of `segment` from `src`
/// to `dst` in `target`; 1 = ok, 0 = out of bounds (nothing copied).
fn init_from_segment<T: Copy>(
    target: &mut [T],
    dst: u64,
    segment: &[T],
    src: u32,
    len: u32,
) -> u32 {
    let (src, len) = (u64::from(src), u64::from(len));
    if !in_bounds(src, len, segment.len() as u64) || !in_bounds(dst, len, target.len() as u64) {
        return 0;
    }
    target[dst as usize..][..len as usize]
        .copy_from_slice(&segment[src as usize..][..len as usize]);
    1
}

/// Turns the outcome of a limited growth into the builtin's result: the
/// old size, `u64::MAX` (failed: -1 in wasm) or `GROW_TRAPPED` with the
/// limiter's error (or panic) parked for the trap that follows.
fn grow_result(
    store: &mut StoreOpaque,
    grow: impl FnOnce(&mut StoreOpaque) -> crate::Result<super::limits::GrowOutcome>,
) -> u64 {
    use super::limits::GrowOutcome;
    let store_ptr: *mut StoreOpaque = store;
    // The limiter is embedder code: nothing may unwind into generated code.
    let attempt = || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: the only use of the store while the closure runs.
            let store = unsafe { &mut *store_ptr };
            grow(store)
        }))
    };
    // On a continuation the growth runs on the native stack below it
    // (invariant 7): the store's `ResourceLimiter` is embedder code of
    // unbounded depth, the continuation has only its red zone left for
    // runtime code.
    let ctx: *const super::vmcontext::VMStoreContext = &*store.vm_store_ctx;
    // SAFETY: entered from wasm on the running stack of this store;
    // `attempt` catches every panic of the embedder's code.
    let attempt = match unsafe { super::continuation::on_host_stack(&*ctx, attempt) } {
        Ok(a) => a,
        Err(trap) => Ok(Err(crate::Error::new(trap))),
    };
    // SAFETY: the closure's borrow of the store has ended.
    let store = unsafe { &mut *store_ptr };
    let pending = match attempt {
        Ok(Ok(GrowOutcome::Grown(old))) => return old,
        Ok(Ok(GrowOutcome::Failed)) => return u64::MAX,
        Ok(Err(e)) => Pending::Error(e),
        Err(panic) => Pending::Panic(panic),
    };
    store.pending = Some(pending);
    weft_environ::GROW_TRAPPED
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u64) -> u64 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive (it is running).
    let m = unsafe { (&(*inst).memories)[mem as usize] };
    grow_result(store, |s| s.grow_memory_limited(m, delta))
}

unsafe extern "C" fn memory_copy(
    vmctx: *mut u8,
    dst_mem: u32,
    dst: u64,
    src_mem: u32,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let (d, s) = unsafe {
        (
            (&(*inst).memories)[dst_mem as usize],
            (&(*inst).memories)[src_mem as usize],
        )
    };
    let src_len = store.memories[s.index as usize].data().len() as u64;
    let dst_len = store.memories[d.index as usize].data().len() as u64;
    if !in_bounds(src, len, src_len) || !in_bounds(dst, len, dst_len) {
        return 0;
    }
    if d.index == s.index {
        let data = store.memories[d.index as usize].data_mut();
        data.copy_within(src as usize..(src + len) as usize, dst as usize);
    } else {
        let src_ptr = store.memories[s.index as usize].data().as_ptr();
        let dst_data = store.memories[d.index as usize].data_mut();
        // SAFETY: two distinct memories never overlap; both ranges were
        // bounds-checked above.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src_ptr.add(src as usize),
                dst_data.as_mut_ptr().add(dst as usize),
                len as usize,
            )
        };
    }
    1
}

/// # Safety
///
/// Called by generated code only, after it checked that `[src, src + len)`
/// and `[dst, dst + len)` lie inside the memory (translate's `MemoryCopy`).
unsafe extern "C" fn memmove(_vmctx: *mut u8, dst: usize, src: usize, len: u64) {
    // SAFETY: both ranges are inside one live memory (contract); they may
    // overlap, which `copy` allows.
    unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, len as usize) }
}

/// # Safety
///
/// Called by generated code only, after it checked that `[dst, dst + len)`
/// lies inside the memory (translate's `MemoryFill`).
unsafe extern "C" fn memset(_vmctx: *mut u8, dst: usize, val: u32, len: u64) {
    // SAFETY: the range is inside a live memory (contract).
    unsafe { std::ptr::write_bytes(dst as *mut u8, val as u8, len as usize) }
}

unsafe extern "C" fn memory_init(
    vmctx: *mut u8,
    mem: u32,
    seg: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let inst = unsafe { &*inst };
    let m = inst.memories[mem as usize];
    let bytes: &[u8] = if inst.data_dropped[seg as usize] {
        &[]
    } else {
        inst.module.info().data_segment(seg as usize)
    };
    init_from_segment(
        store.memories[m.index as usize].data_mut(),
        dst,
        bytes,
        src,
        len,
    )
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, seg: u32) {
    // SAFETY: called by generated code with its own vmctx.
    let inst = unsafe { InstanceData::from_vmctx(vmctx) };
    inst.data_dropped[seg as usize] = true;
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, delta: u64, init: usize) -> u64 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let t = unsafe { (&(*inst).tables)[table as usize] };
    grow_result(store, |s| s.grow_table_limited(t, delta, init))
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u64, val: usize, len: u64) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let t = unsafe { (&(*inst).tables)[table as usize] };
    let elems = store.tables[t.index as usize].elems_mut();
    if !in_bounds(dst, len, elems.len() as u64) {
        return 0;
    }
    elems[dst as usize..][..len as usize].fill(val);
    1
}

unsafe extern "C" fn table_copy(
    vmctx: *mut u8,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let (d, s) = unsafe {
        (
            (&(*inst).tables)[dst_table as usize],
            (&(*inst).tables)[src_table as usize],
        )
    };
    let src_len = store.tables[s.index as usize].len();
    let dst_len = store.tables[d.index as usize].len();
    if !in_bounds(src, len, src_len) || !in_bounds(dst, len, dst_len) {
        return 0;
    }
    if d.index == s.index {
        let elems = store.tables[d.index as usize].elems_mut();
        elems.copy_within(src as usize..(src + len) as usize, dst as usize);
    } else {
        let tmp: Vec<usize> =
            store.tables[s.index as usize].elems()[src as usize..][..len as usize].to_vec();
        store.tables[d.index as usize].elems_mut()[dst as usize..][..len as usize]
            .copy_from_slice(&tmp);
    }
    1
}

unsafe extern "C" fn table_init(
    vmctx: *mut u8,
    table: u32,
    seg: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let inst = unsafe { &*inst };
    let t = inst.tables[table as usize];
    let items: &[usize] = inst.elems[seg as usize].as_deref().unwrap_or(&[]);
    init_from_segment(
        store.tables[t.index as usize].elems_mut(),
        dst,
        items,
        src,
        len,
    )
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, seg: u32) {
    // SAFETY: called by generated code with its own vmctx.
    let inst = unsafe { InstanceData::from_vmctx(vmctx) };
    inst.elems[seg as usize] = None;
}

unsafe extern "C" fn host_call(
    hctx: *mut VMHostFuncContext,
    caller_vmctx: *mut u8,
    values: *mut ValRaw,
    len: u64,
) -> u32 {
    // SAFETY: `hctx` is the host context the trampoline was called with;
    // its host data is the boxed HostFunc, alive as long as the store.
    let host = unsafe { &*((*hctx).host_data as *const HostFunc) };
    // SAFETY: the host function's store is the running store.
    let store = unsafe { &mut *host.store };
    // The trampoline already checked that the host reserve of native
    // stack is left (`Config::host_stack_reserve`).
    let call: *const HostCallFn = &*host.call;
    let store_ptr: *mut StoreOpaque = store;
    // The store context straight from the host context (the same one as
    // the store's, one load fewer on the way to the running record).
    // SAFETY: `hctx` is valid (see above).
    let ctx: *const super::vmcontext::VMStoreContext = unsafe { (*hctx).store_ctx };
    let run = || {
        // SAFETY: the trampoline passes a stack array of `len` slots.
        let slots = unsafe { std::slice::from_raw_parts_mut(values, len as usize) };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: see above; the closure re-borrows the store itself.
            unsafe { (*call)(store_ptr, caller_vmctx, slots) }
        }))
    };
    // On a continuation the host function runs on the native stack below
    // it (invariant 7).
    // SAFETY: entered from wasm on the running stack of this store; `run`
    // catches every panic.
    let result = match unsafe { super::continuation::on_host_stack(&*ctx, run) } {
        Ok(r) => r,
        Err(trap) => {
            // SAFETY: no borrow of the store is live here.
            let store = unsafe { &mut *store_ptr };
            park(store, crate::Error::new(trap));
            return 0;
        }
    };
    // SAFETY: the host function's borrow of the store has ended.
    let store = unsafe { &mut *store_ptr };
    match result {
        Ok(Ok(())) => 1,
        Ok(Err(e)) => {
            // SAFETY: called by the builtin the trampoline called; this
            // frame owns nothing that needs dropping any more.
            unsafe { host_error(store, e) };
            0
        }
        Err(panic) => {
            store.pending = Some(Pending::Panic(panic));
            0
        }
    }
}

/// What a host function that failed with `e` leaves behind before its
/// trampoline traps with `HostError`: a wasm exception (thrown by the
/// host, or one that left wasm through an inner entry) is thrown into the
/// calling wasm code instead, and this does not return; any other error
/// is parked in the store for the entry to return.
///
/// # Safety
///
/// Called from a host function's body (the `HostCall` builtin or a native
/// entry) that a wasm-to-host trampoline called and that owns nothing
/// needing a drop: a throw abandons its frame.
pub(crate) unsafe fn host_error(store: &mut StoreOpaque, e: crate::Error) {
    let exn = e
        .downcast_ref::<crate::Exception>()
        .filter(|x| x.exn().store == store.id)
        .map(|x| x.exn())
        .filter(|exn| store.gc_roots.get(exn.handle) != 0);
    if let Some(exn) = exn {
        drop(e);
        let raw = exn.release(store);
        // SAFETY: the trampoline recorded the exit into the calling wasm
        // frame; the caller's frame owns nothing any more (contract).
        unsafe { super::exceptions::throw_exception(store, raw, super::stack::Start::LastExit) }
    }
    store.pending = Some(Pending::Error(e));
}

/// The epoch deadline was reached: trap, per the store's setting.
unsafe extern "C" fn epoch_deadline(vmctx: *mut u8) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    match store.epoch_behavior {
        super::store::EpochBehavior::Trap => 0,
        super::store::EpochBehavior::YieldAndUpdate(delta) => {
            if !super::async_fiber::on_a_fiber() {
                return 0;
            }
            store.set_epoch_deadline(delta);
            super::async_fiber::wake_current();
            // A cancelled fiber unwinds out of the suspension: catch it here
            // (nothing may unwind through generated code), park it, trap.
            let store_ptr: *mut StoreOpaque = store;
            match std::panic::catch_unwind(super::async_fiber::suspend_once) {
                Ok(Ok(())) => 1,
                Ok(Err(_)) => 0,
                Err(payload) => {
                    // SAFETY: the store is alive; the suspension is over.
                    unsafe { (*store_ptr).pending = Some(Pending::Panic(payload)) };
                    0
                }
            }
        }
    }
}

// ---- continuations (`super::continuation`) --------------------------------

/// The store's continuation pool, or (when it cannot be made) the error
/// parked and 0 returned from the calling builtin.
macro_rules! pool_or_return {
    ($store:expr) => {
        match super::continuation::pool_of($store) {
            Ok(p) => p,
            Err(e) => {
                park($store, e);
                return 0;
            }
        }
    };
}

/// Parks `e` for the `HostError` trap generated code raises on a zero
/// result.
fn park(store: &mut StoreOpaque, e: crate::Error) {
    store.pending = Some(Pending::Error(e));
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // CAUTION: hand-written assembly, as `weft_gc_alloc_shim`: entered by
    // a `call` from generated code with the C convention and arguments in
    // rdi, rsi, rdx, it adds the caller's pc (rcx), sp after the return
    // (r8) and fp (r9) and tail-jumps to the Rust implementation, whose
    // `ret` goes straight back to wasm.
    ".pushsection .text.weft_cont_new_shim,\"ax\",@progbits",
    ".p2align 4",
    ".globl weft_cont_new_shim",
    ".hidden weft_cont_new_shim",
    ".type weft_cont_new_shim,@function",
    "weft_cont_new_shim:",
    ".cfi_startproc",
    "mov rcx, qword ptr [rsp]",
    "lea r8, [rsp + 8]",
    "mov r9, rbp",
    "jmp {cont_new_impl}",
    ".cfi_endproc",
    ".size weft_cont_new_shim, .-weft_cont_new_shim",
    ".popsection",
    cont_new_impl = sym cont_new_impl,
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// The `ContNew` builtin as generated code calls it (see the shim).
    #[link_name = "weft_cont_new_shim"]
    fn cont_new(vmctx: *mut u8, funcref: usize, ty: u32) -> u64;
}

/// Called only through `weft_cont_new_shim`, with the calling wasm
/// frame's pc, sp and fp: a safepoint, where a collection may run.
unsafe extern "C" fn cont_new_impl(
    vmctx: *mut u8,
    funcref: usize,
    ty: u32,
    pc: usize,
    sp: usize,
    fp: usize,
) -> u64 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let module = unsafe { &(*inst).module };
    let c = module
        .inner
        .cont_new_info(ty)
        .expect("validated: cont.new names a continuation type");
    if pool_or_return!(store).wants_collection() {
        // Many continuations since the last collection: reclaim the
        // abandoned ones first (programs that allocate no GC objects
        // collect only here).
        // SAFETY: (pc, sp, fp) is the live calling frame, whose references
        // are in stack-map slots around this call.
        unsafe { super::gc::roots::collect(store, super::stack::Start::Call { pc, fp, sp }, &[]) };
    }
    let pool = pool_or_return!(store);
    // SAFETY: `funcref` is null or a live funcref of this store of the
    // continuation type's function type (validation), whose trampoline is
    // `c.trampoline`.
    let made = unsafe {
        super::continuation::cont_new(
            pool,
            funcref as *const _,
            vmctx,
            c.trampoline,
            c.func_type,
            c.nparams,
            c.nresults,
        )
    };
    match made {
        Ok(r) => r,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

unsafe extern "C" fn cont_fail(vmctx: *mut u8, contref: u64) -> u32 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    let e = match super::continuation::pool_of(store) {
        Ok(pool) => super::continuation::cont_fail(pool, contref),
        Err(e) => e,
    };
    park(store, e);
    0
}

unsafe extern "C" fn cont_throw(
    vmctx: *mut u8,
    contref: u64,
    exn: usize,
    buf: *mut ValRaw,
    table: *mut usize,
) -> usize {
    // SAFETY: called by generated code with its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    if exn == 0 {
        park(store, crate::Error::new(weft_environ::Trap::NullReference));
        return 0;
    }
    let pool = pool_or_return!(store);
    // SAFETY: generated code passes its resume buffer and table, and a
    // live exception.
    match unsafe { super::continuation::cont_throw(pool, contref, exn, buf, table) } {
        Ok(r) => r,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

unsafe extern "C" fn exn_new(vmctx: *mut u8, tag: u32, values: *mut ValRaw) -> usize {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let identity = unsafe { (&(*inst).tags)[tag as usize].index };
    let (n, _) = super::exceptions::tag_layout(store, identity);
    // SAFETY: generated code stored one slot per tag parameter there.
    let payload: &mut [u128] = unsafe { std::slice::from_raw_parts_mut(values.cast::<u128>(), n) };
    // No collection here (the calling frame's pc is not known to walk from;
    // the heap widens its window instead).
    match super::exceptions::alloc_exception_no_gc(store, identity, payload) {
        Ok(exn) => exn,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

unsafe extern "C" fn cont_bind(vmctx: *mut u8, contref: u64, args: *mut ValRaw, n: u32) -> u64 {
    // SAFETY: called by generated code with its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    let pool = pool_or_return!(store);
    // SAFETY: generated code passes `n` values (validated types).
    match unsafe { super::continuation::cont_bind(pool, contref, args, n) } {
        Ok(r) => r,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

/// Turns a switching builtin's outcome into its result.
fn switch_result(
    store: &mut StoreOpaque,
    r: super::continuation::ContResult<*mut super::stack::VMStackRecord>,
) -> usize {
    match r {
        Ok(p) => p as usize,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

unsafe extern "C" fn cont_suspend(vmctx: *mut u8, tag: usize, buf: *mut ValRaw, n: u32) -> usize {
    // SAFETY: called by generated code with its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    // The tag identity is the tag's index in the store.
    let tag_type = store.tags[tag];
    let pool = pool_or_return!(store);
    // SAFETY: generated code passes its suspend buffer.
    let r = unsafe { super::continuation::cont_suspend(pool, tag, tag_type, buf, n) };
    switch_result(store, r)
}

unsafe extern "C" fn cont_switch(
    vmctx: *mut u8,
    tag: usize,
    contref: u64,
    recv_ty: u32,
    buf: *mut ValRaw,
    n: u32,
) -> usize {
    // SAFETY: called by generated code with its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: the instance is alive.
    let inst = unsafe { &*inst };
    let recv_type = inst.module.inner.type_ids[recv_ty as usize];
    let pool = pool_or_return!(store);
    // SAFETY: generated code passes its switch buffer.
    let r = unsafe { super::continuation::cont_switch(pool, tag, contref, recv_type, buf, n) };
    switch_result(store, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_declarations() {
        let view = rust_view();
        assert_eq!(view.len(), Builtin::COUNT);
        assert_eq!(BUILTINS.0.len(), Builtin::COUNT);
        for (i, (b, addr, params, result)) in view.iter().enumerate() {
            assert_eq!(*b, Builtin::ALL[i]);
            // The generated code loads `table[b.offset()]`: that slot must
            // hold this builtin's function.
            assert_eq!(BUILTINS.0[*b as usize], *addr, "{b:?}: wrong table slot");
            let declared = b.signature();
            let sizes: Vec<usize> = declared.params.iter().map(|t| t.size() as usize).collect();
            assert_eq!(*params, sizes, "{b:?}: parameters");
            assert_eq!(
                *result,
                declared.result.map(|t| t.size() as usize),
                "{b:?}: result"
            );
        }
        let mut addrs: Vec<usize> = BUILTINS.0.iter().map(|p| *p as usize).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(
            addrs.len(),
            Builtin::COUNT,
            "two slots hold the same function"
        );
    }
}
