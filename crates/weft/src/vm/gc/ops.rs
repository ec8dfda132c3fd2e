//! Runtime side of the GC instructions: the allocation slow path (with
//! its collection), subtype checks beyond the inline fast path, and the
//! bulk array operations generated code calls as builtins.
//!
//! `GcAlloc` is entered through a shim that adds the calling wasm frame's
//! pc, sp and fp (as the throw builtins do), so a collection can walk the
//! stack from exactly that frame, whose references Cranelift spilled to
//! stack-map slots around the call:
//!
//! ```text
//!   wasm frame  --call-->  weft_gc_alloc_shim  --jmp-->  gc_alloc_impl
//!   rdi vmctx, rsi size,   + rcx = [rsp] (return pc)
//!   rdx header             + r8  = rsp + 8 (sp after return)
//!                          + r9  = rbp (the wasm frame's fp)
//! ```

use super::super::instance::InstanceData;
use super::super::stack::Start;
use super::super::store::{Pending, StoreOpaque};
use super::semispace::ObjLayout;
use crate::Trap;
use weft_environ::gc_object;
use weft_environ::wasmparser::CompositeInnerType;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // CAUTION: hand-written assembly. Entered by a `call` from generated
    // code with the C convention and arguments in rdi, rsi, rdx; it must
    // not touch those, nor rbp, nor rsp (8 mod 16, as at any function
    // entry). Jumping keeps the wasm return address as the Rust
    // function's own, so its `ret` goes straight back to wasm.
    ".pushsection .text.weft_gc_alloc_shim,\"ax\",@progbits",
    ".p2align 4",
    ".globl weft_gc_alloc_shim",
    ".hidden weft_gc_alloc_shim",
    ".type weft_gc_alloc_shim,@function",
    "weft_gc_alloc_shim:",
    // The CIE defaults describe this point (CFA = rsp + 8, return address
    // at CFA - 8) and nothing below changes rsp.
    ".cfi_startproc",
    // 4th argument: the return address into the allocating wasm frame.
    "mov rcx, qword ptr [rsp]",
    // 5th argument: that frame's stack pointer once the call returns.
    "lea r8, [rsp + 8]",
    // 6th argument: its frame pointer (generated code keeps one).
    "mov r9, rbp",
    // Tail-jump to the Rust implementation.
    "jmp {gc_alloc_impl}",
    ".cfi_endproc",
    ".size weft_gc_alloc_shim, .-weft_gc_alloc_shim",
    ".popsection",
    gc_alloc_impl = sym gc_alloc_impl,
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// The `GcAlloc` builtin as generated code calls it (see the shim).
    #[link_name = "weft_gc_alloc_shim"]
    pub(crate) fn gc_alloc(vmctx: *mut u8, size: u64, header: u64) -> usize;
}

/// The store and instance behind a vmctx.
///
/// # Safety
///
/// `vmctx` is the vmctx of a live instance.
unsafe fn parts<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, &'a InstanceData) {
    // SAFETY: guaranteed by the caller.
    let inst = unsafe { InstanceData::from_vmctx(vmctx) } as *const InstanceData;
    // SAFETY: the instance's store pointer is its owning store; the
    // instance lives in the store's boxed list, apart from the fields the
    // store reference is used for here.
    unsafe { (&mut *(*inst).store, &*inst) }
}

fn park(store: &mut StoreOpaque, e: crate::Error) {
    store.pending = Some(Pending::Error(e));
}

/// Called only through `weft_gc_alloc_shim`.
unsafe extern "C" fn gc_alloc_impl(
    vmctx: *mut u8,
    size: u64,
    header: u64,
    pc: usize,
    sp: usize,
    fp: usize,
) -> usize {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    // SAFETY: (pc, sp, fp) is the live calling frame.
    match unsafe { alloc_object(store, size, header, Start::Call { pc, fp, sp }) } {
        Ok(p) => p,
        Err(e) => {
            park(store, e);
            0
        }
    }
}

/// Allocates an object of `size` bytes with `header` (type word, and an
/// array's length in the high half), collecting first when the window is
/// used up. Only the header is written.
///
/// # Safety
///
/// `start` is a live frame of the store's current stack, or `LastExit`
/// in host code called from wasm, or anything when no wasm is active;
/// every reference the caller holds is in a root slot.
pub(crate) unsafe fn alloc_object(
    store: &mut StoreOpaque,
    size: u64,
    header: u64,
    start: Start,
) -> crate::Result<usize> {
    if size > gc_object::MAX_OBJECT {
        return Err(Trap::GcHeapOutOfMemory.into());
    }
    let size = size as usize;
    let ctx: *const _ = &*store.vm_store_ctx;
    // SAFETY: the store context is boxed and outlives this call.
    let ctx = unsafe { &*ctx };
    let p = match store.objects.try_bump(ctx, size) {
        Some(p) => p,
        None => {
            if store.objects.window_full(ctx, size) {
                // SAFETY: forwarded (the caller's roots are in slots).
                unsafe { super::roots::collect(store, start, &[]) };
            }
            match store.objects.alloc_no_gc(ctx, size)? {
                Some(p) => p,
                None => return Err(Trap::GcHeapOutOfMemory.into()),
            }
        }
    };
    // SAFETY: `p` is the start of `size` (>= 8) fresh bytes of the heap.
    unsafe { *(p as *mut u64) = header };
    Ok(p)
}

/// Allocates without ever collecting (instantiation: constant
/// expressions hold values the collector cannot see), zeroing the object.
pub(crate) fn alloc_no_gc(store: &mut StoreOpaque, size: u64, header: u64) -> crate::Result<usize> {
    if size > gc_object::MAX_OBJECT {
        return Err(Trap::GcHeapOutOfMemory.into());
    }
    let p = store
        .objects
        .alloc_no_gc(&store.vm_store_ctx, size as usize)?
        .ok_or(Trap::GcHeapOutOfMemory)?;
    // SAFETY: `p` is the start of `size` fresh bytes of the heap.
    unsafe {
        std::ptr::write_bytes(p as *mut u8, 0, size as usize);
        *(p as *mut u64) = header;
    }
    Ok(p)
}

/// Registers with the object heap the layout of every struct and array
/// type of `module` (by canonical id), so the collector can size and
/// trace their objects.
pub(crate) fn register_layouts(store: &mut StoreOpaque, module: &crate::Module) {
    let info = module.info();
    for (i, t) in info.types.iter().enumerate() {
        let id = module.inner.type_ids[i];
        if store.objects.layout(id).is_some() {
            continue;
        }
        match &t.sub.composite_type.inner {
            CompositeInnerType::Struct(_) => {
                let l = ObjLayout::of_struct(&info.struct_layout(i as u32));
                store.objects.register(id, l);
            }
            CompositeInnerType::Array(_) => {
                let (kind, _) = info.array_elem(i as u32);
                store.objects.register(
                    id,
                    ObjLayout::Array {
                        elem: kind.size(),
                        kind,
                    },
                );
            }
            _ => {}
        }
    }
}

/// `IsSubtype`.
pub(crate) unsafe extern "C" fn is_subtype(vmctx: *mut u8, actual: u32, expected: u32) -> u32 {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    u32::from(store.engine.inner.types.is_subtype(actual, expected))
}

/// The length of array `array` (non-null).
///
/// # Safety
///
/// `array` is a live array object.
unsafe fn array_len(array: usize) -> u32 {
    // SAFETY: contract.
    unsafe { *((array + gc_object::ARRAY_LEN as usize) as *const u32) }
}

fn elem_size_of(inst: &InstanceData, ty: u32) -> u32 {
    inst.module.info().array_elem(ty).0.size()
}

fn fits(idx: u32, len: u32, bound: u64) -> bool {
    u64::from(idx) + u64::from(len) <= bound
}

/// Whether elements `[dst, dst + len)` lie inside `array` (0: no array
/// yet, nothing to check).
///
/// # Safety
///
/// `array` is 0 or a live array object.
unsafe fn dst_fits(array: usize, dst: u32, len: u32) -> bool {
    // SAFETY: contract.
    array == 0 || fits(dst, len, u64::from(unsafe { array_len(array) }))
}

/// `ArrayInitData`.
pub(crate) unsafe extern "C" fn array_init_data(
    vmctx: *mut u8,
    ty: u32,
    seg: u32,
    array: usize,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: generated code passes its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    let size = elem_size_of(inst, ty);
    // SAFETY: generated code checked for null; the array is live.
    if !unsafe { dst_fits(array, dst, len) } {
        park(store, Trap::ArrayOutOfBounds.into());
        return 0;
    }
    let bytes: &[u8] = if inst.data_dropped[seg as usize] {
        &[]
    } else {
        inst.module.info().data_segment(seg as usize)
    };
    let n = u64::from(len) * u64::from(size);
    if u64::from(src) + n > bytes.len() as u64 {
        park(store, Trap::MemoryOutOfBounds.into());
        return 0;
    }
    if array != 0 {
        let at = array + gc_object::FIELDS as usize + dst as usize * size as usize;
        // SAFETY: bounds checked above; elements are stored little-endian
        // and packed, exactly as the data segment holds them.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr().add(src as usize),
                at as *mut u8,
                n as usize,
            )
        };
    }
    1
}

/// `ArrayInitElem`.
pub(crate) unsafe extern "C" fn array_init_elem(
    vmctx: *mut u8,
    _ty: u32,
    seg: u32,
    array: usize,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: generated code passes its own vmctx.
    let (store, inst) = unsafe { parts(vmctx) };
    // SAFETY: generated code checked for null; the array is live.
    if !unsafe { dst_fits(array, dst, len) } {
        park(store, Trap::ArrayOutOfBounds.into());
        return 0;
    }
    let items: &[usize] = inst.elems[seg as usize].as_deref().unwrap_or(&[]);
    if !fits(src, len, items.len() as u64) {
        park(store, Trap::TableOutOfBounds.into());
        return 0;
    }
    if array != 0 {
        let at = array + gc_object::FIELDS as usize + dst as usize * 8;
        for (i, v) in items[src as usize..][..len as usize].iter().enumerate() {
            // SAFETY: bounds checked above; reference elements are 8 bytes.
            unsafe { *((at + 8 * i) as *mut u64) = *v as u64 };
        }
    }
    1
}

/// `ArrayCopy`.
pub(crate) unsafe extern "C" fn array_copy(
    vmctx: *mut u8,
    dst: usize,
    dst_idx: u32,
    src: usize,
    src_idx: u32,
    len: u32,
    size: u32,
) -> u32 {
    // SAFETY: generated code passes its own vmctx.
    let (store, _) = unsafe { parts(vmctx) };
    // SAFETY: generated code checked both for null; both are live arrays.
    let (dlen, slen) = unsafe { (array_len(dst), array_len(src)) };
    if !fits(dst_idx, len, u64::from(dlen)) || !fits(src_idx, len, u64::from(slen)) {
        park(store, Trap::ArrayOutOfBounds.into());
        return 0;
    }
    let f = gc_object::FIELDS as usize;
    let s = size as usize;
    // SAFETY: both ranges are inside their arrays (checked); they may
    // overlap (one array), hence `copy`.
    unsafe {
        std::ptr::copy(
            (src + f + src_idx as usize * s) as *const u8,
            (dst + f + dst_idx as usize * s) as *mut u8,
            len as usize * s,
        )
    };
    1
}

/// Writes the raw value `v` (a `ValRaw`-style slot: little-endian, low
/// bytes) as a field of `size` bytes at `at`.
///
/// # Safety
///
/// `at` is `size` writable bytes inside a live object.
pub(crate) unsafe fn write_field(at: usize, size: u32, v: u128) {
    let bytes = v.to_le_bytes();
    // SAFETY: contract; `size` <= 16.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, size as usize) };
}

/// Reads a field of `size` bytes at `at` as a raw slot (zero-extended).
///
/// # Safety
///
/// `at` is `size` readable bytes inside a live object.
pub(crate) unsafe fn read_field(at: usize, size: u32) -> u128 {
    let mut bytes = [0u8; 16];
    // SAFETY: contract; `size` <= 16.
    unsafe { std::ptr::copy_nonoverlapping(at as *const u8, bytes.as_mut_ptr(), size as usize) };
    u128::from_le_bytes(bytes)
}

/// A new struct of module type `ty` of `module` with raw field values
/// `vals` (zeros when `None`) and, for a type with a descriptor, the
/// descriptor reference `desc` (validated to be of the descriptor type;
/// null traps), allocated without collecting.
pub(crate) fn new_struct_no_gc(
    store: &mut StoreOpaque,
    module: &crate::Module,
    ty: u32,
    vals: Option<&[u128]>,
    desc: Option<u64>,
) -> crate::Result<usize> {
    let layout = module.info().struct_layout(ty);
    if desc == Some(0) {
        return Err(Trap::NullReference.into());
    }
    let id = module.inner.type_ids[ty as usize];
    let p = alloc_no_gc(store, u64::from(layout.size), u64::from(id))?;
    if let (Some(off), Some(d)) = (layout.descriptor, desc) {
        // SAFETY: the descriptor slot lies inside the new object.
        unsafe { write_field(p + off as usize, 8, u128::from(d)) };
    }
    if let Some(vals) = vals {
        for ((off, k), v) in layout.fields.iter().zip(vals) {
            // SAFETY: the field lies inside the new object.
            unsafe { write_field(p + *off as usize, k.size(), *v) };
        }
    }
    Ok(p)
}

/// A new array of module type `ty` of `module` with `len` elements, each
/// the raw value `fill` or `vals[i]`, allocated without collecting.
pub(crate) fn new_array_no_gc(
    store: &mut StoreOpaque,
    module: &crate::Module,
    ty: u32,
    len: u32,
    fill: u128,
    vals: Option<&[u128]>,
) -> crate::Result<usize> {
    let (kind, _) = module.info().array_elem(ty);
    let elem = kind.size();
    let size = weft_environ::gc::array_size(elem, len).ok_or(Trap::GcHeapOutOfMemory)?;
    let id = module.inner.type_ids[ty as usize];
    let header =
        u64::from(id | gc_object::KIND_ARRAY << gc_object::KIND_SHIFT) | u64::from(len) << 32;
    let p = alloc_no_gc(store, size, header)?;
    for i in 0..len as usize {
        let v = vals.map_or(fill, |v| v[i]);
        // SAFETY: element `i` lies inside the new array.
        unsafe { write_field(p + gc_object::FIELDS as usize + i * elem as usize, elem, v) };
    }
    Ok(p)
}
