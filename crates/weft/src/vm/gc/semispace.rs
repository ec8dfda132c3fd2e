//! The managed heap of GC objects (structs and arrays): bump allocation in
//! generated code, collected by copying the live objects between two
//! semispaces (Cheney's algorithm).
//!
//! ```text
//!   one reservation, 2 x capacity, MAP_NORESERVE, made on first use
//!   +------------------------------------+------------------------------------+
//!   | space 0                            | space 1                            |
//!   +------------------------------------+------------------------------------+
//!   ^ base(0)                            ^ base(1)
//!
//!   the active space while wasm allocates
//!   +-----------------------+-----------------+-----------------------------+
//!   | objects (live + dead) | free            | not yet touched / returned  |
//!   +-----------------------+-----------------+-----------------------------+
//!   ^ base                  ^ gc_next         ^ gc_limit                    ^ base + capacity
//!                             (VMStoreContext: generated code bumps gc_next and
//!                              calls GcAlloc when an object would pass gc_limit)
//!
//!   a collection: every root slot and, transitively, every reference
//!   field of a copied object is forwarded:
//!     from-space object  --copy-->  to-space at to_next; its header becomes
//!                                   FORWARDED and its +4 word the new offset
//!   then the spaces swap; gc_next = end of the copies; gc_limit = gc_next +
//!   window, the window being at least MIN_WINDOW and at least twice the
//!   live size (so collection work stays proportional to allocation)
//! ```
//!
//! Only values that point into the from-space at an 8-aligned address are
//! objects: nulls, `i31`s (low bit 1) and host references (low bits
//! `100`) are left alone. Exception objects (`super::heap`) live here
//! too. Reference fields are known from each type's layout
//! (`weft_environ::gc::StructLayout`), registered per canonical type id
//! when a module is instantiated in the store. Objects never hold
//! interior pointers, and generated code reloads every reference from its
//! stack slot after each call (Cranelift user stack maps), so moving is
//! safe everywhere an allocation can happen.

use super::super::vmcontext::VMStoreContext;
use weft_environ::gc::{FieldKind, StructLayout};
use weft_environ::{contref, gc_object};
use weft_sys::mmap::Mmap;

/// A header value no live object has: marks a copied object in the
/// from-space (its `ARRAY_LEN` word then holds the copy's offset in the
/// to-space).
const FORWARDED: u32 = u32::MAX;

/// The smallest allocation window after a collection (bytes).
pub(crate) const MIN_WINDOW: usize = 4 << 20;

/// How a collector sees objects of one canonical type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObjLayout {
    /// A struct of `size` bytes whose reference fields (objects, host
    /// references, exception handles, and the descriptor of a type with
    /// one) are at `refs`.
    Struct {
        size: u32,
        refs: Box<[u32]>,
        /// Every field's offset and kind (for the embedder API).
        fields: Box<[(u32, FieldKind)]>,
    },
    /// An array of `elem`-byte elements of `kind`.
    Array { elem: u32, kind: FieldKind },
}

impl ObjLayout {
    /// The collector's view of a struct layout.
    pub(crate) fn of_struct(l: &StructLayout) -> ObjLayout {
        // The hidden descriptor reference (custom descriptors) is traced
        // like a field; `fields` lists the declared fields only.
        // Continuation fields are traced too (the tag tells them apart):
        // they keep their continuations alive.
        let refs: Vec<u32> = l
            .descriptor
            .into_iter()
            .chain(
                l.fields
                    .iter()
                    .filter(|(_, k)| matches!(k, FieldKind::GcRef | FieldKind::ContRef))
                    .map(|(off, _)| *off),
            )
            .collect();
        ObjLayout::Struct {
            size: l.size,
            refs: refs.into(),
            fields: l.fields.clone().into(),
        }
    }
}

/// Statistics of the heap (see `Store::gc_heap_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub collections: u64,
    pub bytes_live: usize,
    pub bytes_allocated_before_last: u64,
    pub capacity: usize,
    pub window: usize,
    pub last_pause_ns: u64,
    pub total_pause_ns: u64,
}

/// The store's object heap.
#[derive(Debug)]
pub(crate) struct Semispace {
    map: Option<Mmap>,
    /// Bytes per space (the most the live objects may occupy).
    capacity: usize,
    /// Which space generated code allocates in.
    active: usize,
    /// Layouts by canonical type id.
    layouts: Vec<Option<ObjLayout>>,
    /// The reference payload slots of exception objects, by tag identity
    /// (see `super::heap`).
    tag_refs: Vec<Option<Box<[u32]>>>,
    /// Bytes live after the last collection.
    live: usize,
    /// Bytes handed out since the last collection, up to `gc_next`.
    pub(crate) stats: Stats,
}

impl Semispace {
    /// A heap whose live objects may take up to `capacity` bytes; no memory
    /// is reserved until the first allocation.
    pub(crate) fn new(capacity: usize) -> Semispace {
        let page = weft_sys::mmap::page_size();
        Semispace {
            map: None,
            capacity: capacity.next_multiple_of(page).max(page),
            active: 0,
            layouts: Vec::new(),
            tag_refs: Vec::new(),
            live: 0,
            stats: Stats::default(),
        }
    }

    /// Records the layout of canonical type `id`.
    pub(crate) fn register(&mut self, id: u32, layout: ObjLayout) {
        let i = id as usize;
        if self.layouts.len() <= i {
            self.layouts.resize(i + 1, None);
        }
        if self.layouts[i].is_none() {
            self.layouts[i] = Some(layout);
        }
    }

    /// Records which payload slots of exceptions of tag identity `tag`
    /// hold references.
    pub(crate) fn register_tag(&mut self, tag: u32, refs: &[u32]) {
        let i = tag as usize;
        if self.tag_refs.len() <= i {
            self.tag_refs.resize(i + 1, None);
        }
        if self.tag_refs[i].is_none() {
            self.tag_refs[i] = Some(refs.into());
        }
    }

    /// The layout of canonical type `id`, if registered.
    pub(crate) fn layout(&self, id: u32) -> Option<&ObjLayout> {
        self.layouts.get(id as usize)?.as_ref()
    }

    fn base(&self, space: usize) -> usize {
        self.map.as_ref().map_or(0, |m| m.as_ptr() as usize) + space * self.capacity
    }

    /// Reserves the spaces and opens the first window.
    fn reserve(&mut self, ctx: &VMStoreContext) -> anyhow::Result<()> {
        let mut m = Mmap::reserve(2 * self.capacity)?;
        m.make_accessible(0, 2 * self.capacity)?;
        // Exception handles and host references are small integers; the
        // heap must lie above every such value so that neither is ever
        // mistaken for an object.
        anyhow::ensure!(
            m.as_ptr() as usize > u32::MAX as usize,
            "the GC heap was mapped below 4 GiB"
        );
        self.map = Some(m);
        self.active = 0;
        let base = self.base(0);
        ctx.gc_next.set(base);
        ctx.gc_limit.set(base + MIN_WINDOW.min(self.capacity));
        self.stats.capacity = self.capacity;
        self.stats.window = MIN_WINDOW.min(self.capacity);
        Ok(())
    }

    /// Takes `size` bytes from the window if they fit (after the heap is
    /// reserved); `None` if the window is full.
    pub(crate) fn try_bump(&mut self, ctx: &VMStoreContext, size: usize) -> Option<usize> {
        self.map.as_ref()?;
        let next = ctx.gc_next.get();
        let end = next.checked_add(size)?;
        if end > ctx.gc_limit.get() {
            return None;
        }
        ctx.gc_next.set(end);
        Some(next)
    }

    /// Allocates `size` bytes without collecting: reserves the heap on
    /// first use, then bumps, widening the window up to the capacity if
    /// need be. `None` when the space is full.
    pub(crate) fn alloc_no_gc(
        &mut self,
        ctx: &VMStoreContext,
        size: usize,
    ) -> anyhow::Result<Option<usize>> {
        if self.map.is_none() {
            self.reserve(ctx)?;
        }
        if let Some(p) = self.try_bump(ctx, size) {
            return Ok(Some(p));
        }
        let end = self.base(self.active) + self.capacity;
        let next = ctx.gc_next.get();
        if next + size > end {
            return Ok(None);
        }
        ctx.gc_limit
            .set((next + size + self.stats.window.max(size)).min(end));
        Ok(self.try_bump(ctx, size))
    }

    /// Whether the window since the last collection is used up (the next
    /// slow-path allocation should collect first).
    pub(crate) fn window_full(&self, ctx: &VMStoreContext, size: usize) -> bool {
        self.map.is_some() && ctx.gc_next.get() + size > ctx.gc_limit.get()
    }

    /// Size in bytes of the object at `obj`.
    ///
    /// # Safety
    ///
    /// `obj` is an object (not forwarded) whose type is registered.
    unsafe fn size_of(&self, obj: usize) -> usize {
        // SAFETY: contract: a header is readable at `obj`.
        let header = unsafe { *(obj as *const u32) };
        if header >> gc_object::KIND_SHIFT == super::heap::KIND_EXN {
            // SAFETY: exception objects keep their length at +4.
            let n = unsafe { *((obj + 4) as *const u32) };
            return super::heap::size(n as usize);
        }
        let id = header & gc_object::ID_MASK;
        match self.layout(id).expect("object of an unregistered type") {
            ObjLayout::Struct { size, .. } => *size as usize,
            ObjLayout::Array { elem, .. } => {
                // SAFETY: arrays have a length word.
                let len = unsafe { *((obj + gc_object::ARRAY_LEN as usize) as *const u32) };
                weft_environ::gc::array_size(*elem, len).expect("allocated arrays fit") as usize
            }
        }
    }

    /// Copies every object reachable from `roots` (addresses of slots
    /// holding raw references) to the other space, updates the slots, and
    /// makes that space active. Returns how many exception objects
    /// survived; `host_marks` receives the index of every host reference
    /// found in a root or a live object.
    ///
    /// Continuation references (`contref`s, told apart by their tag) found
    /// in roots and objects are handed to `more`, which returns further
    /// root slots (what the continuations it keeps hold); it is called
    /// whenever the objects reachable so far are all copied, until it
    /// returns none.
    ///
    /// # Safety
    ///
    /// Every root, and every slot `more` returns, is a valid, writable
    /// slot; every reference value in the heap's objects and roots is
    /// null, tagged or a live object of the active space. Nothing may use
    /// a from-space address after.
    pub(crate) unsafe fn collect(
        &mut self,
        ctx: &VMStoreContext,
        roots: &[*mut u64],
        host_marks: &mut Vec<u32>,
        more: &mut dyn FnMut(&[u64], &mut Vec<*mut u64>),
    ) -> usize {
        let mut conts: Vec<u64> = Vec::new();
        let mut extra: Vec<*mut u64> = Vec::new();
        // Host and continuation references (left alone otherwise).
        let host = |v: usize, marks: &mut Vec<u32>, conts: &mut Vec<u64>| {
            let v = v as u64;
            if v & gc_object::TAG_MASK == gc_object::HOST_TAG {
                marks.push(((v >> 3) - 1) as u32);
            } else if v & contref::TAG_MASK == contref::TAG {
                conts.push(v);
            }
        };
        if self.map.is_none() {
            let mut pending: Vec<*mut u64> = roots.to_vec();
            loop {
                for r in &pending {
                    // SAFETY: roots are valid slots (contract).
                    host(unsafe { **r } as usize, host_marks, &mut conts);
                }
                pending.clear();
                more(&conts, &mut pending);
                conts.clear();
                if pending.is_empty() {
                    return 0;
                }
            }
        }
        let mut exceptions = 0;
        let t0 = std::time::Instant::now();
        let from = self.base(self.active);
        let from_end = ctx.gc_next.get();
        let to_space = 1 - self.active;
        let to = self.base(to_space);
        let mut to_next = to;
        let forward = |slot: *mut u64,
                       to_next: &mut usize,
                       this: &Semispace,
                       marks: &mut Vec<u32>,
                       conts: &mut Vec<u64>| {
            // SAFETY: slots are valid (contract / fields of copied objects).
            let v = unsafe { *slot } as usize;
            if v < from || v >= from_end || v & gc_object::TAG_MASK as usize != 0 {
                host(v, marks, conts);
                return;
            }
            // SAFETY: `v` is an object (or a forwarded one) of the from-space.
            let header = unsafe { *(v as *const u32) };
            let new = if header == FORWARDED {
                // SAFETY: a forwarded object keeps its copy's offset at +4.
                to + unsafe { *((v + 4) as *const u32) } as usize
            } else {
                // SAFETY: a live object of a registered type.
                let size = unsafe { this.size_of(v) };
                // SAFETY: the to-space has room for every live byte (it is as
                // large as the from-space), and the ranges are disjoint.
                unsafe {
                    std::ptr::copy_nonoverlapping(v as *const u8, *to_next as *mut u8, size);
                    *(v as *mut u32) = FORWARDED;
                    *((v + 4) as *mut u32) = (*to_next - to) as u32;
                }
                let n = *to_next;
                *to_next += size;
                n
            };
            // SAFETY: see above.
            unsafe { *slot = new as u64 };
        };
        for r in roots {
            forward(*r, &mut to_next, self, host_marks, &mut conts);
        }
        let mut scan = to;
        loop {
            if scan >= to_next {
                // Everything reachable so far is copied: the continuations
                // found may hold more roots.
                more(&conts, &mut extra);
                conts.clear();
                if extra.is_empty() {
                    break;
                }
                for r in &extra {
                    forward(*r, &mut to_next, self, host_marks, &mut conts);
                }
                extra.clear();
                continue;
            }
            // SAFETY: `scan` walks the copies, each a complete object.
            let header = unsafe { *(scan as *const u32) };
            if header >> gc_object::KIND_SHIFT == super::heap::KIND_EXN {
                exceptions += 1;
                // SAFETY: exception objects keep their length at +4.
                let n = unsafe { *((scan + 4) as *const u32) } as usize;
                let tag = (header & gc_object::ID_MASK) as usize;
                if let Some(Some(refs)) = self.tag_refs.get(tag) {
                    for i in refs.iter() {
                        let slot = scan + super::heap::PAYLOAD + 16 * *i as usize;
                        forward(slot as *mut u64, &mut to_next, self, host_marks, &mut conts);
                    }
                }
                scan += super::heap::size(n);
                continue;
            }
            let id = header & gc_object::ID_MASK;
            let layout = self.layout(id).expect("object of an unregistered type");
            let size = match layout {
                ObjLayout::Struct { size, refs, .. } => {
                    for off in refs.iter() {
                        forward(
                            (scan + *off as usize) as *mut u64,
                            &mut to_next,
                            self,
                            host_marks,
                            &mut conts,
                        );
                    }
                    *size as usize
                }
                ObjLayout::Array { elem, kind } => {
                    // SAFETY: arrays have a length word.
                    let len = unsafe { *((scan + gc_object::ARRAY_LEN as usize) as *const u32) };
                    if matches!(kind, FieldKind::GcRef | FieldKind::ContRef) {
                        for i in 0..len as usize {
                            let slot = scan + gc_object::FIELDS as usize + 8 * i;
                            forward(slot as *mut u64, &mut to_next, self, host_marks, &mut conts);
                        }
                    }
                    weft_environ::gc::array_size(*elem, len).expect("allocated arrays fit") as usize
                }
            };
            scan += size;
        }
        let allocated = from_end - from;
        self.live = to_next - to;
        self.active = to_space;
        // Twice the live size (a heap of three times the live data): the
        // copying work per allocated byte stays at most one half.
        let window = MIN_WINDOW.max(2 * self.live).min(self.capacity - self.live);
        ctx.gc_next.set(to_next);
        ctx.gc_limit.set(to_next + window);
        // Give the from-space's pages back beyond what the next cycle will
        // touch again, so a heap that shrank does not keep its peak.
        let keep = (self.live + window).next_multiple_of(weft_sys::mmap::page_size());
        // (Only when it is worth a system call and the faults that follow.)
        if allocated > keep + keep / 4 {
            let off = self.base(1 - to_space) - self.base(0) + keep;
            if let Some(m) = self.map.as_mut() {
                let _ = m.decommit(off, allocated - keep);
            }
        }
        let pause = t0.elapsed().as_nanos() as u64;
        self.stats.collections += 1;
        self.stats.bytes_live = self.live;
        self.stats.bytes_allocated_before_last = allocated as u64;
        self.stats.window = window;
        self.stats.last_pause_ns = pause;
        self.stats.total_pause_ns += pause;
        exceptions
    }
}
