//! Continuations of the stack-switching proposal: their stacks, their
//! records, and the runtime halves of `cont.new`, `cont.bind`, `resume`,
//! `suspend` and `switch`.
//!
//! ## One continuation stack
//!
//! Every continuation runs on a slot of the store's [`ContPool`], carved
//! from large reserved regions by [`weft_fiber::SlotPool`] (no mmap, no
//! guard page per continuation: every wasm prologue checks the stack
//! limit, and only bounded runtime code may run below it). The slot's
//! header is the continuation's [`VMContRecord`], whose first field is the
//! per-stack [`VMStackRecord`], so a continuation's record pointer and its
//! header pointer are the same address.
//!
//! ```text
//!   slot end     +--------------------------------------+ (page aligned)
//!                | 64 * colour bytes, unused (the pool's|
//!                | cache colouring, 0 .. 3,008 bytes)   |
//!   header       +--------------------------------------+
//!                | VMContRecord (header)                |
//!                |   VMStackRecord (limits, exits,      |
//!                |     parent, control context {sp,     |
//!                |     fp, pc}, kind = continuation)    |
//!                |   bound, slot, innermost, handlers,  |
//!                |   resumer_buf, recv_buf, recv_type,  |
//!                |   recv_results, self_ref,            |
//!                |   pending_exn, func_type, nresults,  |
//!                |   funcref, caller_vmctx, args,       |
//!                |   array_trampoline, pool, host_pin   |
//!   top          +--------------------------------------+ = stack_high
//!                | args: [ValRaw; max(params, results)] | <- recv_buf while fresh
//!   args         +--------------------------------------+
//!                | zero frame {saved fp = 0, ret = 0}   | <- initial fp:
//!   args - 16    +--------------------------------------+    the walkers stop here
//!                | {record, 0}                          | <- initial sp
//!   args - 32    +--------------------------------------+
//!                | weft_cont_start, the array-to-wasm   |
//!                | trampoline, wasm frames ... grow down|
//!                |                                      |
//!   limit        +--------------------------------------+ = stack_limit
//!                | red zone (builtins, trampolines)     |
//!   base         +--------------------------------------+ = stack_low
//! ```
//!
//! ## Switching
//!
//! Generated code switches stacks with Cranelift's `stack_switch`, which
//! saves the running stack's `{sp, fp, pc}` into one control context and
//! loads another. Every record has its own control context
//! (`VMStackRecord::ctx_*`), holding where that stack continues while it
//! does not run: a resumer waiting in `resume`, a continuation suspended in
//! `suspend` or `switch`, or a fresh continuation's start
//! (`weft_cont_start`). Before each switch the bookkeeping (one-shot check,
//! parent link, handler table, payload copy,
//! `VMStoreContext::current_stack`) is done either inline by generated
//! code (`resume`, `suspend`, the common case of `switch`: see
//! `weft_cranelift`'s `translate/stack_switching.rs`, which mirrors the
//! functions here field for field) or by a builtin here (`cont.new`,
//! `cont.bind`, the general `switch`, `resume_throw`/`resume_throw_ref`,
//! the embedder's resume, and the trap paths).
//!
//! A `resume` passes its handler table (`weft_environ::resume_table`) and a
//! buffer: `buf[0]` receives the effect (0 = returned, `i + 1` = suspended
//! to handler `i`), `buf[1..]` the results, or the suspension's payload
//! followed by the suspended continuation.
//!
//! ## References
//!
//! A `contref` is one 64-bit word: the tag `010` in the low three bits,
//! the slot index plus one in the next 24 and the slot's generation (low
//! 37 bits) above (`weft_environ::contref`). The generation counts every
//! consumption of a continuation living in the slot (resume, bind,
//! switch) and every reuse of the slot, so a reference that was already
//! used no longer matches: one-shot checks cost one compare, with the
//! record's `self_ref`, the one reference that is not stale. The store's
//! table maps the index to the record; when the slot is retired its
//! entry keeps the last reference (so the next life starts one
//! generation on even though the slot's pages went back to the kernel)
//! and points at [`NO_RECORD`], whose `self_ref` nothing equals. See
//! docs/RATIONALE.md.
//!
//! ## Reclamation
//!
//! A continuation nobody can resume any more is garbage: the managed
//! heap's collector (`super::gc::roots`) marks the continuations reachable
//! from its roots (the tag tells a `contref` from an object in any slot),
//! and [`ContPool::gc_sweep`] retires the rest, so their stacks go back
//! to the pool and old references to them are stale. `cont.new` makes a
//! collection due when the live continuations doubled since the last one
//! ([`ContPool::wants_collection`]).

mod reclaim;
#[cfg(target_arch = "x86_64")]
mod x86_64;

pub(crate) use reclaim::ContTrace;

use super::stack::VMStackRecord;
use super::vmcontext::{VMFuncRef, VMStoreContext, ValRaw};
use std::cell::Cell;
use weft_environ::{Trap, resume_table, stack_record};
use weft_fiber::{SlotPool, SlotPoolConfig};

use weft_environ::contref::{GEN_SHIFT, INDEX_MASK, INDEX_SHIFT, TAG, TAG_MASK};

/// Bytes reserved at the top of each slot for its [`VMContRecord`].
const HEADER_SIZE: usize = 256;

/// The header of a continuation stack. See the module docs. The fields
/// generated code reads and writes have their offsets in
/// `weft_environ::cont_record` (checked by the test below).
#[repr(C)]
pub(crate) struct VMContRecord {
    /// The per-stack record: must stay the first field.
    pub stack: VMStackRecord,
    /// How many of the values it is resumed with `cont.bind` has supplied.
    bound: Cell<u32>,
    /// The slot index.
    slot: u32,
    /// For the outermost stack of a suspended chain: the stack that
    /// suspended, where a resume continues. While the record runs at the
    /// head of its chain (directly under a resumer) it is the record
    /// itself: every way of becoming that head sets it (`cont.new`, the
    /// inline `resume`, [`ContPool::link`], `cont_switch`), so a
    /// suspension of the head by itself (the inline fast path) needs not
    /// store it.
    innermost: Cell<*mut VMContRecord>,
    /// While running: the handler table of the `resume` that resumed it.
    handlers: Cell<*const usize>,
    /// While running: the buffer of the `resume` that resumed it.
    resumer_buf: Cell<*mut ValRaw>,
    /// Where the values this continuation is resumed with go.
    recv_buf: Cell<*mut ValRaw>,
    /// Canonical id of the function type that describes those values:
    /// their types are that type's parameters (fresh, or suspended by
    /// `switch`) or, with `recv_results` = 1, its results (suspended by
    /// `suspend`).
    recv_type: Cell<u32>,
    recv_results: Cell<u32>,
    /// The one reference to this continuation that is not stale (see the
    /// module docs): compared by every one-shot check, one generation on
    /// after every consumption ([`VMContRecord::consume`], or inline in
    /// generated code), what a suspension of the chain it heads hands
    /// over. [`NO_REFERENCE`] once retired.
    self_ref: Cell<u64>,
    /// An exception (raw `exnref`) `resume_throw` left for the suspended
    /// code to throw when it resumes (0: none). The code after `resume_throw`
    /// tells the `suspend` or `switch` it wakes up in with a flag in the
    /// switch's payload (`THROW_PENDING` in `weft_cranelift`'s
    /// `translate/stack_switching.rs`): nothing else reads this field on
    /// the way back in.
    pending_exn: Cell<usize>,
    /// Canonical id of the function type it was created with (its
    /// results are what its resumer receives when it returns).
    func_type: u32,
    /// Results of the continuation's function.
    nresults: u32,
    /// Fresh continuations: the function to run and how (read by
    /// `weft_cont_start`).
    funcref: *const VMFuncRef,
    caller_vmctx: *mut u8,
    args: *mut ValRaw,
    array_trampoline: usize,
    pool: *mut ContPool,
    /// The reference the embedder holds to this continuation, if any
    /// (it is a root while it is not stale; see [`ContPool::pin`]).
    host_pin: Cell<u64>,
}

impl VMContRecord {
    /// Uses up the reference to this continuation (the next one is one
    /// generation on, [`next_ref`]).
    fn consume(&self) {
        self.self_ref.set(next_ref(self.self_ref.get()));
    }
}

/// The reference one generation after `r` (one more in the bits above
/// `GEN_SHIFT`, wrapping like the reference's generation field).
fn next_ref(r: u64) -> u64 {
    r.wrapping_add(1 << GEN_SHIFT)
}

/// One entry of the store's continuation table (`weft_environ::cont_entry`).
#[repr(C)]
struct ContEntry {
    /// The last reference of the slot's last life, 0 while the slot was
    /// never used.
    last_ref: Cell<u64>,
    /// The live record, else [`NO_RECORD`] (entry 0, retired slots) or
    /// null (never used: no reference indexes it).
    header: Cell<*mut VMContRecord>,
}

impl ContEntry {
    /// The slot's live record, if any.
    fn record(&self) -> Option<*mut VMContRecord> {
        let h = self.header.get();
        (!h.is_null() && h != no_record()).then_some(h)
    }
}

/// The `self_ref` of a retired record and of [`NO_RECORD`]: no tagged
/// reference, and not null either, so nothing compares equal to it.
const NO_REFERENCE: u64 = u64::MAX;
const _: () = assert!(NO_REFERENCE & TAG_MASK != TAG);

/// What the table's entries point at while they have no live record
/// (entry 0, which a null reference indexes, and retired slots), so that
/// generated code can read `header.self_ref` for any reference and fail
/// its compare. Only that word matters; every word is [`NO_REFERENCE`].
/// Read-only: nothing writes through the pointer.
#[repr(C, align(64))]
struct NoRecord([u64; HEADER_SIZE / 8]);

static NO_RECORD: NoRecord = NoRecord([NO_REFERENCE; HEADER_SIZE / 8]);

/// The address of [`NO_RECORD`], typed as the entries' header pointer.
fn no_record() -> *mut VMContRecord {
    (&raw const NO_RECORD).cast::<VMContRecord>().cast_mut()
}

const _: () = assert!(size_of::<VMContRecord>() <= HEADER_SIZE);
const _: () = assert!(std::mem::offset_of!(VMContRecord, stack) == 0);

/// The store's continuation stacks.
pub(crate) struct ContPool {
    slots: SlotPool,
    /// One [`ContEntry`] per slot index (generation and header address),
    /// at a fixed address that the store context publishes for generated
    /// code; reserved for every slot the pool may hand out and touched
    /// page by page.
    table: weft_sys::Mmap,
    store_ctx: *const VMStoreContext,
    /// Continuations created so far (statistics).
    created: u64,
    /// One past the highest slot index ever handed out (the collector
    /// scans the table up to here).
    high: u32,
    /// Continuations reclaimed by collections (statistics).
    collected: u64,
    /// `cont.new` asks for a collection once this many are live.
    threshold: usize,
    /// Most continuations alive at once.
    max: usize,
    /// Collect at every `cont.new` (`WEFT_GC_STRESS_CONTINUATIONS=1`, a
    /// debugging aid for the reclamation).
    stress: bool,
}

/// Whether `WEFT_GC_STRESS_CONTINUATIONS` asks for a collection at every
/// `cont.new` (read once per process).
fn stress_collections() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("WEFT_GC_STRESS_CONTINUATIONS").is_some_and(|v| v != "0"))
}

/// The least collection threshold of continuations (see
/// [`ContPool::wants_collection`]).
pub(crate) const MIN_CONT_THRESHOLD: usize = 1024;

/// Sizes of continuation stacks (from `Config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContStackConfig {
    /// Bytes per continuation stack, header and red zone included.
    pub stack_size: usize,
    /// Bytes below the stack limit for bounded runtime code.
    pub red_zone: usize,
    /// Most continuations alive at once in one store.
    pub max_live: usize,
}

impl ContPool {
    pub(crate) fn new(
        config: ContStackConfig,
        store_ctx: *const VMStoreContext,
    ) -> crate::Result<ContPool> {
        let max_slots = config.max_live.min(weft_environ::contref::ENTRIES - 2);
        let slots = SlotPool::new(SlotPoolConfig {
            slot_size: config.stack_size,
            red_zone: config.red_zone,
            header_size: HEADER_SIZE,
            max_slots,
            ..SlotPoolConfig::default()
        })
        .map_err(|e| anyhow::anyhow!("cannot set up continuation stacks: {e}"))?;
        // Indexed by the low bits of a reference (slot + 1), all 2^24 of
        // them, so generated code needs no bounds check; entry 0 (null)
        // holds a word no reference equals. Untouched pages cost nothing
        // (256 MiB of address space).
        let entries = weft_environ::contref::ENTRIES;
        let table = weft_sys::Mmap::accessible(entries * size_of::<ContEntry>())?;
        // SAFETY: entry 0 of the fresh, zeroed, writable mapping.
        unsafe {
            (*table.as_ptr().cast::<ContEntry>())
                .header
                .set(no_record())
        };
        // SAFETY: the store context outlives its pool.
        let ctx = unsafe { &*store_ctx };
        ctx.cont_table.set(table.as_ptr());
        ctx.cont_table_len.set(entries);
        Ok(ContPool {
            slots,
            table,
            store_ctx,
            created: 0,
            high: 0,
            collected: 0,
            threshold: MIN_CONT_THRESHOLD,
            max: max_slots,
            stress: stress_collections(),
        })
    }

    /// Whether the next `cont.new` should collect first: the live
    /// continuations doubled since the last collection (at least
    /// [`MIN_CONT_THRESHOLD`]), or the pool is full.
    pub(crate) fn wants_collection(&self) -> bool {
        let live = self.live();
        self.stress || live >= self.threshold || live >= self.max
    }

    /// Continuations reclaimed by collections so far.
    pub(crate) fn collected(&self) -> u64 {
        self.collected
    }

    /// Keeps the continuation `contref` names alive for the embedder
    /// until it is consumed (its reference goes stale) or [`Self::unpin`]
    /// is called. Null and stale references are ignored.
    pub(crate) fn pin(&self, contref: u64) {
        if let Ok(c) = self.decode(contref) {
            // SAFETY: a live record (decode).
            unsafe { (*c).host_pin.set(contref) };
        }
    }

    /// Undoes [`Self::pin`] (nothing happens for a reference that is not
    /// pinned or is stale). Returns whether it was pinned.
    pub(crate) fn unpin(&self, contref: u64) -> bool {
        if let Ok(c) = self.decode(contref) {
            // SAFETY: a live record (decode).
            let c = unsafe { &*c };
            if c.host_pin.get() == contref {
                c.host_pin.set(0);
                return true;
            }
        }
        false
    }

    /// Continuations alive now (their stacks are out of the pool).
    pub(crate) fn live(&self) -> usize {
        self.slots.live()
    }

    /// Continuations created so far.
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// The table entry of slot `index` (at `index + 1`).
    fn entry(&self, index: u32) -> &ContEntry {
        let at = index as usize + 1;
        assert!(at < self.table.len() / size_of::<ContEntry>());
        // SAFETY: in bounds (checked), zero-initialised entries are valid
        // (never used, null header), and the mapping lives with the pool.
        unsafe { &*self.table.as_ptr().cast::<ContEntry>().add(at) }
    }

    /// The record `contref` names, if it is not stale. Null is `Err(Null)`.
    fn decode(&self, contref: u64) -> Result<*mut VMContRecord, Trap> {
        if contref == 0 {
            return Err(Trap::NullContinuation);
        }
        let field = (contref & INDEX_MASK) >> INDEX_SHIFT;
        if contref & TAG_MASK != TAG || field == 0 {
            return Err(Trap::ContinuationConsumed);
        }
        let Some(c) = self.entry((field - 1) as u32).record() else {
            return Err(Trap::ContinuationConsumed);
        };
        // SAFETY: a live record of the table.
        if unsafe { (*c).self_ref.get() } != contref {
            return Err(Trap::ContinuationConsumed);
        }
        Ok(c)
    }

    /// The first reference of a new life in slot `index`: one generation
    /// past the last reference of the last life.
    fn first_ref(&self, index: u32) -> u64 {
        let last = match self.entry(index).last_ref.get() {
            0 => ((u64::from(index) + 1) << INDEX_SHIFT) | TAG,
            r => r,
        };
        next_ref(last)
    }

    /// A fresh continuation that will run `funcref` (of a function type
    /// with `nparams` parameters and `nresults` results) through the
    /// array-to-wasm trampoline `array_trampoline`.
    ///
    /// # Safety
    /// `funcref` must be a live function reference of this store and
    /// `array_trampoline` the trampoline of its type.
    unsafe fn create(
        &mut self,
        funcref: *const VMFuncRef,
        caller_vmctx: *mut u8,
        array_trampoline: usize,
        func_type: u32,
        nparams: u32,
        nresults: u32,
    ) -> crate::Result<u64> {
        if cfg!(not(target_arch = "x86_64")) {
            anyhow::bail!(
                "continuations are not supported on {} yet",
                std::env::consts::ARCH
            );
        }
        let slot = self
            .slots
            .alloc()
            .map_err(|e| anyhow::anyhow!("cannot create a continuation: {e}"))?;
        let index = slot.index();
        self.high = self.high.max(index + 1);
        // A new life in the slot: older references to it are stale.
        let first = self.first_ref(index);
        self.created += 1;
        let top = self.slots.top(slot);
        let nvals = nparams.max(nresults) as usize;
        let args = (top - nvals * size_of::<ValRaw>()) & !15;
        let frame = args - 16;
        // `weft_cont_start` finds its record at its initial sp (below the
        // zero frame, 16-byte aligned like `frame`; see `x86_64.rs`).
        let start_sp = frame - 16;
        let header: *mut VMContRecord = self.slots.header(slot).cast();
        let pool: *mut ContPool = self;
        let record = VMStackRecord::new(self.slots.base(slot), top, 0);
        let limit = self.slots.limit(slot);
        record.stack_limit.set(limit);
        // Host functions called from a continuation run on the native
        // stack (`run_off_continuation`): a host limit above every address
        // sends the wasm->host trampoline to its cold path, which checks
        // only the wasm limit and takes the value-array path.
        record.host_limit.set(usize::MAX);
        record.kind.set(stack_record::KIND_CONTINUATION);
        record.ctx_sp.set(start_sp);
        record.ctx_fp.set(frame);
        #[cfg(target_arch = "x86_64")]
        record.ctx_pc.set(x86_64::start_address());
        // SAFETY: the slot is ours (just allocated); header, argument area
        // and zero frame lie inside it, above the limit, and are aligned
        // (the header is at the slot's top, pointer-aligned by the pool).
        unsafe {
            (frame as *mut [usize; 2]).write([0, 0]);
            (start_sp as *mut [usize; 2]).write([header as usize, 0]);
            header.write(VMContRecord {
                stack: record,
                bound: Cell::new(0),
                slot: index,
                innermost: Cell::new(header),
                handlers: Cell::new(std::ptr::null()),
                resumer_buf: Cell::new(std::ptr::null_mut()),
                recv_buf: Cell::new(args as *mut ValRaw),
                recv_type: Cell::new(func_type),
                recv_results: Cell::new(0),
                pending_exn: Cell::new(0),
                self_ref: Cell::new(first),
                func_type,
                nresults,
                funcref,
                caller_vmctx,
                args: args as *mut ValRaw,
                array_trampoline,
                pool,
                host_pin: Cell::new(0),
            });
        }
        self.entry(index).header.set(header);
        Ok(first)
    }

    /// Links the chain whose outermost record is `o` and innermost
    /// `inner` under the running stack, with the resumer's handler table
    /// and buffer, and makes `inner` the running record (what `resume` and
    /// `resume_throw` do before switching; the inline `resume` does the
    /// same in generated code).
    fn link(
        &self,
        o: &VMContRecord,
        inner: *mut VMContRecord,
        table: *const usize,
        buf: *mut ValRaw,
    ) {
        // SAFETY: the store context outlives its pool.
        let ctx = unsafe { &*self.store_ctx };
        o.stack.parent.set(ctx.current_stack.get());
        o.handlers.set(table);
        o.resumer_buf.set(buf);
        // Running at the head of its chain: its own innermost record (see
        // `innermost`).
        o.innermost.set((o as *const VMContRecord).cast_mut());
        ctx.current_stack.set(inner.cast());
    }

    /// Returns the slot of a continuation that is done (returned or
    /// killed) to the pool; its references become stale.
    ///
    /// # Safety
    /// `cont` must be a live record of this pool that no stack runs on
    /// any more (or the one whose last instructions are running, which
    /// then switch away without touching their stack's memory beyond the
    /// current frame).
    unsafe fn retire(&mut self, cont: *mut VMContRecord) {
        // SAFETY: live record of this pool (contract).
        let c = unsafe { &*cont };
        let e = self.entry(c.slot);
        e.last_ref.set(c.self_ref.get());
        c.self_ref.set(NO_REFERENCE);
        e.header.set(no_record());
        let slot = self
            .slots
            .slot_by_index(c.slot)
            .expect("a live continuation's slot is live");
        self.slots.free(slot);
    }
}

// Dropping the pool (with its store) unmaps every stack: suspended
// continuations nobody resumed and no collection reclaimed (see
// `reclaim`) die with the store. Their stacks hold only
// wasm frames, so there is nothing to drop on them.

/// Copies `n` values.
///
/// # Safety
/// Both ranges must be valid for `n` values and not overlap.
#[inline]
unsafe fn copy_values(src: *const ValRaw, dst: *mut ValRaw, n: usize) {
    // Payloads are a few values: a loop beats a call to memcpy.
    for i in 0..n {
        // SAFETY: forwarded to the caller.
        unsafe { dst.add(i).write(src.add(i).read()) }
    }
}

/// What a builtin reports when it cannot go on: a trap to raise.
pub(crate) type ContResult<T> = Result<T, crate::Error>;

fn trap(t: Trap) -> crate::Error {
    crate::Error::new(t)
}

/// The store's pool, created on first use.
#[inline]
pub(crate) fn pool_of(store: &mut super::store::StoreOpaque) -> crate::Result<&mut ContPool> {
    if store.continuations.is_none() {
        let ctx: *const VMStoreContext = &*store.vm_store_ctx;
        let config = store.engine.config().cont_stacks;
        store.continuations = Some(Box::new(ContPool::new(config, ctx)?));
    }
    Ok(store.continuations.as_mut().expect("created above"))
}

/// `cont.new`.
///
/// # Safety
/// `funcref` must be null or a live function reference of the store, of
/// function type `(nparams, nresults)` whose trampoline is
/// `array_trampoline`.
pub(crate) unsafe fn cont_new(
    pool: &mut ContPool,
    funcref: *const VMFuncRef,
    caller_vmctx: *mut u8,
    array_trampoline: usize,
    func_type: u32,
    nparams: u32,
    nresults: u32,
) -> ContResult<u64> {
    if funcref.is_null() {
        return Err(trap(Trap::NullReference));
    }
    // SAFETY: forwarded to the caller.
    unsafe {
        pool.create(
            funcref,
            caller_vmctx,
            array_trampoline,
            func_type,
            nparams,
            nresults,
        )
    }
}

/// The trap for a `contref` that the inline `resume` fast path rejected
/// (null or stale).
pub(crate) fn cont_fail(pool: &ContPool, contref: u64) -> crate::Error {
    match pool.decode(contref) {
        Err(t) => trap(t),
        // Not reached: the fast path checks what `decode` checks.
        Ok(_) => trap(Trap::ContinuationConsumed),
    }
}

/// `cont.bind`: binds `n` values from `args`.
///
/// # Safety
/// `args` must hold `n` values, and the continuation must take at least
/// `n` more (validation guarantees it).
pub(crate) unsafe fn cont_bind(
    pool: &mut ContPool,
    contref: u64,
    args: *const ValRaw,
    n: u32,
) -> ContResult<u64> {
    let outer = pool.decode(contref).map_err(trap)?;
    // SAFETY: decode returned the live record the reference names.
    let o = unsafe { &*outer };
    o.consume();
    // SAFETY: the innermost record of a suspended or fresh chain is live.
    let inner = unsafe { &*o.innermost.get() };
    let bound = inner.bound.get();
    // SAFETY: the receive buffer holds every value the continuation takes
    // (validation: `bound + n` of them at most).
    unsafe { copy_values(args, inner.recv_buf.get().add(bound as usize), n as usize) };
    inner.bound.set(bound + n);
    Ok(o.self_ref.get())
}

/// `resume`: the record to switch to.
///
/// # Safety
/// Called by generated code on the store's running stack; `buf` is the
/// resume's buffer (`buf[0]` effect, then values), holding `n` arguments
/// at `buf[1..]`; `table` its handler table; both live until the switch
/// back.
pub(crate) unsafe fn cont_resume(
    pool: &mut ContPool,
    contref: u64,
    buf: *mut ValRaw,
    n: u32,
    table: *const usize,
) -> ContResult<*mut VMStackRecord> {
    let outer = pool.decode(contref).map_err(trap)?;
    // SAFETY: a live record (decode).
    let o = unsafe { &*outer };
    o.consume();
    let inner_ptr = o.innermost.get();
    // SAFETY: the innermost record of the chain is live.
    let inner = unsafe { &*inner_ptr };
    let bound = inner.bound.get();
    // SAFETY: see `cont_bind`; `buf[1..=n]` holds the arguments.
    unsafe {
        copy_values(
            buf.add(1),
            inner.recv_buf.get().add(bound as usize),
            n as usize,
        )
    };
    inner.bound.set(0);
    pool.link(o, inner_ptr, table, buf);
    Ok(inner_ptr.cast())
}

/// `resume_throw`: the record to switch to, or 1 when the continuation
/// never ran (it is retired; the caller throws `exn` itself).
///
/// # Safety
/// As for [`cont_resume`]; `exn` is a live raw `exnref` of the store.
pub(crate) unsafe fn cont_throw(
    pool: &mut ContPool,
    contref: u64,
    exn: usize,
    buf: *mut ValRaw,
    table: *const usize,
) -> ContResult<usize> {
    let outer = pool.decode(contref).map_err(trap)?;
    // SAFETY: a live record (decode) and its chain's innermost record.
    let (o, inner_ptr) = unsafe { (&*outer, (*outer).innermost.get()) };
    o.consume();
    // SAFETY: as above.
    let inner = unsafe { &*inner_ptr };
    #[cfg(target_arch = "x86_64")]
    let fresh = inner_ptr == outer && inner.stack.ctx_pc.get() == x86_64::start_address();
    #[cfg(not(target_arch = "x86_64"))]
    let fresh = false;
    if fresh {
        // SAFETY: it never ran: nothing is on its stack.
        unsafe { pool.retire(outer) };
        return Ok(1);
    }
    inner.pending_exn.set(exn);
    inner.bound.set(0);
    pool.link(o, inner_ptr, table, buf);
    Ok(inner_ptr as usize)
}

/// The continuation between the running stack and the handler of `tag`
/// (of the wanted kind): the record whose resumer handles it and the
/// handler's index in that resumer's table.
///
/// # Safety
/// `current` must be the store's running record.
unsafe fn find_handler(
    current: *mut VMStackRecord,
    tag: usize,
    switch: bool,
) -> Option<(*mut VMContRecord, usize)> {
    let want = if switch {
        tag | resume_table::SWITCH
    } else {
        tag
    };
    let mut r = current;
    loop {
        // SAFETY: the running record and its parents are live.
        let rec = unsafe { &*r };
        if rec.kind.get() != stack_record::KIND_CONTINUATION {
            return None;
        }
        let c = r.cast::<VMContRecord>();
        // SAFETY: a continuation record is the head of its header.
        let table = unsafe { (*c).handlers.get() };
        if !table.is_null() {
            // SAFETY: a running continuation's resumer keeps its table
            // (`[count, entries...]`) alive while it waits.
            let entries = unsafe { std::slice::from_raw_parts(table.add(1), *table) };
            if let Some(i) = entries.iter().position(|e| *e == want) {
                return Some((c, i));
            }
        }
        r = rec.parent.get();
    }
}

/// The running chain from `h` (its outermost record, whose resumer
/// handles the suspension) down to `cur` (the stack that suspends or
/// switches, waiting with `buf`) becomes a suspended continuation: it will
/// be resumed at `cur` with values described by `recv_type` (its results
/// for `suspend`, its parameters for `switch`) arriving in `buf[1..]`.
fn suspend_chain(
    h: &VMContRecord,
    cur: &VMContRecord,
    buf: *mut ValRaw,
    recv_type: u32,
    results: bool,
) {
    h.innermost.set((cur as *const VMContRecord).cast_mut());
    // `buf` stays valid: it is in `cur`'s frame, which waits for the resume.
    cur.recv_buf.set(buf.wrapping_add(1));
    cur.bound.set(0);
    cur.recv_type.set(recv_type);
    cur.recv_results.set(u32::from(results));
}

/// `suspend`: the record to switch to.
///
/// # Safety
/// As for [`cont_resume`]; `buf` holds the `n` payload values at
/// `buf[1..]` and later receives the values the continuation is resumed
/// with (there too).
pub(crate) unsafe fn cont_suspend(
    pool: &mut ContPool,
    tag: usize,
    tag_type: u32,
    buf: *mut ValRaw,
    n: u32,
) -> ContResult<*mut VMStackRecord> {
    // SAFETY: the store context outlives its pool.
    let ctx = unsafe { &*pool.store_ctx };
    let current = ctx.current_stack.get();
    // SAFETY: the running record.
    let (handler, index) =
        unsafe { find_handler(current, tag, false) }.ok_or_else(|| trap(Trap::UnhandledTag))?;
    // SAFETY: live records (the running chain).
    let (h, cur) = unsafe { (&*handler, &*current.cast::<VMContRecord>()) };
    let resumer_buf = h.resumer_buf.get();
    // SAFETY: the resumer's buffer holds the effect, the payload and the
    // continuation (the compiler sized it for every handler it lists).
    unsafe {
        copy_values(buf.add(1), resumer_buf.add(1), n as usize);
        (*resumer_buf).bits = (index + 1) as u128;
    }
    suspend_chain(h, cur, buf, tag_type, true);
    let contref = h.self_ref.get();
    // SAFETY: as above.
    unsafe { (*resumer_buf.add(1 + n as usize)).bits = u128::from(contref) };
    let resumer = h.stack.parent.get();
    h.stack.parent.set(std::ptr::null_mut());
    h.handlers.set(std::ptr::null());
    ctx.current_stack.set(resumer);
    Ok(resumer)
}

/// `switch`: the record to switch to. Generated code does all of this
/// inline (`inline_switch` in `weft-cranelift`) and calls the builtin only
/// when its checks fail, for the error; this stays the complete reference
/// the inline code mirrors.
///
/// # Safety
/// As for [`cont_suspend`]; `buf[1..]` holds the `n` values for the
/// target, which also receives the suspended continuation after them.
pub(crate) unsafe fn cont_switch(
    pool: &mut ContPool,
    tag: usize,
    contref: u64,
    recv_type: u32,
    buf: *mut ValRaw,
    n: u32,
) -> ContResult<*mut VMStackRecord> {
    // SAFETY: the store context outlives its pool.
    let ctx = unsafe { &*pool.store_ctx };
    let current = ctx.current_stack.get();
    let target = pool.decode(contref).map_err(trap)?;
    // SAFETY: the running record.
    let (handler, _) =
        unsafe { find_handler(current, tag, true) }.ok_or_else(|| trap(Trap::UnhandledTag))?;
    // SAFETY: live records.
    let (h, cur, t) = unsafe { (&*handler, &*current.cast::<VMContRecord>(), &*target) };
    t.consume();
    // The running chain, from its handler down, becomes the suspended
    // continuation handed to the target.
    suspend_chain(h, cur, buf, recv_type, false);
    let suspended = h.self_ref.get();
    let t_inner_ptr = t.innermost.get();
    // SAFETY: the target chain's innermost record is live.
    let t_inner = unsafe { &*t_inner_ptr };
    let bound = t_inner.bound.get() as usize;
    // SAFETY: the target takes these `n` values and the continuation.
    unsafe {
        let dst = t_inner.recv_buf.get().add(bound);
        copy_values(buf.add(1), dst, n as usize);
        (*dst.add(n as usize)).bits = u128::from(suspended);
    }
    t_inner.bound.set(0);
    // The target takes the running chain's place under the handler.
    t.stack.parent.set(h.stack.parent.get());
    t.handlers.set(h.handlers.get());
    t.resumer_buf.set(h.resumer_buf.get());
    t.innermost.set((t as *const VMContRecord).cast_mut());
    h.stack.parent.set(std::ptr::null_mut());
    h.handlers.set(std::ptr::null());
    ctx.current_stack.set(t_inner_ptr.cast());
    Ok(t_inner_ptr.cast())
}

/// Called by `weft_cont_start` on the continuation's own stack when its
/// function returned (results in `args`): hands the results to the
/// resumer, retires the continuation and returns the record to switch to.
///
/// # Safety
/// `cont` must be the running continuation, about to switch away for good.
unsafe extern "C" fn cont_returned(cont: *mut VMContRecord) -> *mut VMStackRecord {
    // SAFETY: the running continuation (contract).
    let c = unsafe { &*cont };
    let parent = c.stack.parent.get();
    let buf = c.resumer_buf.get();
    // SAFETY: the resumer's buffer holds the effect and the results.
    unsafe {
        (*buf).bits = resume_table::EFFECT_RETURN as u128;
        copy_values(c.args, buf.add(1), c.nresults as usize);
    }
    // SAFETY: the pool outlives its continuations.
    let pool = unsafe { &mut *c.pool };
    // SAFETY: the store context outlives its pool.
    unsafe { &*pool.store_ctx }.current_stack.set(parent);
    // SAFETY: nothing will run on this stack after the switch that follows.
    unsafe { pool.retire(cont) };
    parent
}

/// Room left between the frame a root stack waits in and the host code
/// that a continuation's host call runs below it.
const HOST_GAP: usize = 256;

/// Runs `f` off the continuation stack when the running stack is a
/// continuation (invariant 7: host code never runs on a continuation
/// stack). `f` then runs on the root of the running chain (the native or
/// fiber stack whose wasm waits in the `resume` that started the chain),
/// below that waiting frame, under a record of its own:
///
/// ```text
///   host record H (this frame)  --parent-->  continuation C (running the
///     bounds and limits of the                 host call: its last exit is
///     root's stack, kind native               the trampoline's frame)
///                                            --parent--> ... --> root R
///                                                (waits in `resume` at
///                                                 its control context)
/// ```
///
/// While `f` runs, H is the running record: host->wasm entries made by
/// `f` link their activations to it, `resume`s in that wasm save their
/// state into H's control context (R's stays intact for C to return to),
/// and walkers go H -> C (from its last exit, as from a fiber into its
/// poller) -> ... -> R (from its control context). Returns `Ok(false)`
/// without calling `f` when not on a continuation, and
/// `Err(StackOverflow)` when the root has less than its host reserve left.
///
/// # Safety
/// Must be called from runtime code entered from wasm on the running
/// stack of the store whose context is `ctx`. `f` must not unwind.
pub(crate) unsafe fn run_off_continuation(
    ctx: &VMStoreContext,
    f: &mut dyn FnMut(),
) -> Result<bool, Trap> {
    let cur = ctx.current_stack.get();
    // SAFETY: the running record and its parents are live.
    let is_cont =
        |r: *mut VMStackRecord| unsafe { (*r).kind.get() == stack_record::KIND_CONTINUATION };
    if !is_cont(cur) {
        return Ok(false);
    }
    let mut root = cur;
    while is_cont(root) {
        // SAFETY: as above; a running continuation always has a parent.
        root = unsafe { (*root).parent.get() };
    }
    // SAFETY: live record (see above).
    let r = unsafe { &*root };
    let sp = (r.ctx_sp.get() - HOST_GAP) & !15;
    if sp < r.host_limit.get() {
        return Err(Trap::StackOverflow);
    }
    let host = VMStackRecord::new(r.stack_low.get(), r.stack_high.get(), 0);
    host.stack_limit.set(r.stack_limit.get());
    host.host_limit.set(r.host_limit.get());
    host.parent.set(cur);
    let host_ptr: *const VMStackRecord = &host;
    ctx.current_stack.set(host_ptr.cast_mut());
    unsafe extern "C" fn run(data: *mut u8) {
        // SAFETY: `data` is the `&mut dyn FnMut()` below, alive for the call.
        let f = unsafe { &mut *data.cast::<&mut dyn FnMut()>() };
        f();
    }
    let mut f = f;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sp` is below everything live on the root stack (its wasm
    // waits at ctx_sp) and above its host limit; `f` does not unwind.
    unsafe {
        x86_64::call_on_stack(sp, run, (&mut f as *mut &mut dyn FnMut()).cast())
    };
    ctx.current_stack.set(cur);
    Ok(true)
}

/// Runs `f` where embedder code may run and returns its result: here,
/// unless the running stack is a continuation, then on the root of its
/// chain ([`run_off_continuation`], whose `Err(StackOverflow)` this
/// returns without running `f`). For host calls and the store's
/// `ResourceLimiter` alike.
///
/// # Safety
/// As for [`run_off_continuation`].
pub(crate) unsafe fn on_host_stack<R>(
    ctx: &VMStoreContext,
    f: impl FnOnce() -> R,
) -> Result<R, Trap> {
    // SAFETY: the running record is live while wasm runs (contract).
    if unsafe { (*ctx.current_stack.get()).kind.get() } != stack_record::KIND_CONTINUATION {
        return Ok(f());
    }
    let mut f = Some(f);
    let mut out = None;
    {
        let mut run = || out = f.take().map(|f| f());
        // SAFETY: forwarded (contract).
        unsafe { run_off_continuation(ctx, &mut run) }?;
    }
    Ok(out.expect("on a continuation, run_off_continuation runs the closure"))
}

/// Runs `f` on the root of the running chain (below the frame it waits
/// in, as [`run_off_continuation`] does) when the running stack is a
/// continuation, leaving the running record as it is: for runtime work
/// that needs more stack than the red zone has and walks the running
/// chain itself (a collection). Returns `false` without calling `f` when
/// the running stack is not a continuation or the root has less than its
/// host reserve left (the caller then runs `f` where it is).
///
/// # Safety
/// As for [`run_off_continuation`].
pub(crate) unsafe fn on_root_stack(ctx: &VMStoreContext, f: &mut dyn FnMut()) -> bool {
    let cur = ctx.current_stack.get();
    // SAFETY: the running record and its parents are live.
    let is_cont =
        |r: *mut VMStackRecord| unsafe { (*r).kind.get() == stack_record::KIND_CONTINUATION };
    if cur.is_null() || !is_cont(cur) {
        return false;
    }
    let mut root = cur;
    while is_cont(root) {
        // SAFETY: as above; a running continuation always has a parent.
        root = unsafe { (*root).parent.get() };
    }
    // SAFETY: live record (see above).
    let r = unsafe { &*root };
    let sp = (r.ctx_sp.get() - HOST_GAP) & !15;
    if sp < r.host_limit.get() {
        return false;
    }
    unsafe extern "C" fn run(data: *mut u8) {
        // SAFETY: `data` is the `&mut dyn FnMut()` below, alive for the call.
        let f = unsafe { &mut *data.cast::<&mut dyn FnMut()>() };
        f();
    }
    let mut f = f;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sp` is below everything live on the root stack (its wasm
    // waits at ctx_sp) and above its host limit; `f` does not unwind.
    unsafe {
        x86_64::call_on_stack(sp, run, (&mut f as *mut &mut dyn FnMut()).cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    f();
    true
}

/// An exception `exn` (raw `exnref`) left the running continuation
/// `record` uncaught: retires it and continues its resumer after its
/// `resume` with the effect `EFFECT_THROW` (and `exn` in `buf[1]`), where
/// generated code throws it on.
///
/// # Safety
/// `record` must be the store's running record, a continuation, and the
/// caller's frames (on its stack) must own nothing that needs dropping.
pub(crate) unsafe fn escape_continuation(record: *mut VMStackRecord, exn: usize) -> ! {
    let c = record.cast::<VMContRecord>();
    // SAFETY: the running continuation (contract).
    let (parent, buf, pool) = unsafe {
        (
            (*c).stack.parent.get(),
            (*c).resumer_buf.get(),
            &mut *(*c).pool,
        )
    };
    // SAFETY: the resumer's buffer has the effect slot and at least one
    // value slot (the compiler reserves one for every resume).
    unsafe {
        (*buf).bits = resume_table::EFFECT_THROW as u128;
        (*buf.add(1)).bits = exn as u128;
    }
    // SAFETY: the store context outlives its pool.
    unsafe { &*pool.store_ctx }.current_stack.set(parent);
    // SAFETY: nothing runs on this stack after the jump below.
    unsafe { pool.retire(c) };
    // SAFETY: the resumer waits at its control context (saved by the
    // switch that started this continuation); all its registers but the
    // stack and frame pointers are dead there.
    let to = unsafe {
        super::stack::ResumePoint {
            pc: (*parent).ctx_pc.get(),
            sp: (*parent).ctx_sp.get(),
            fp: (*parent).ctx_fp.get(),
        }
    };
    // SAFETY: see above.
    unsafe { super::entry::resume_at(to, [0, 0]) }
}

/// After a trap unwound to the entry whose record is `until`: every
/// continuation between the stack that trapped (`from`) and it is dead;
/// their slots go back to the pool.
///
/// # Safety
/// `from` must be the store's running record at the time of the trap and
/// `until` one of its ancestors (or `from` itself).
pub(crate) unsafe fn kill_chain(from: *mut VMStackRecord, until: *mut VMStackRecord) {
    let mut r = from;
    while !r.is_null() && r != until {
        // SAFETY: records of the trapped chain stay live until retired here.
        let rec = unsafe { &*r };
        let parent = rec.parent.get();
        if rec.kind.get() == stack_record::KIND_CONTINUATION {
            let c = r.cast::<VMContRecord>();
            // SAFETY: a continuation record; no code runs on it any more.
            unsafe {
                let pool = &mut *(*c).pool;
                (*c).stack.parent.set(std::ptr::null_mut());
                pool.retire(c);
            }
        }
        r = parent;
    }
}

// ---- the embedder's side (`crate::ContRef`) ---------------------------------

/// What a continuation expects and produces, for the embedder API.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect {
    /// Canonical function type whose parameters (or results, with
    /// `recv_results`) are the values a resume passes...
    pub recv_type: u32,
    pub recv_results: bool,
    /// ...after the first `bound` of them, which `cont.bind` supplied.
    pub bound: u32,
    /// Canonical function type whose results the continuation returns.
    pub func_type: u32,
}

/// What `contref` takes and returns (it must not be stale).
pub(crate) fn expect(pool: &ContPool, contref: u64) -> crate::Result<Expect> {
    let outer = pool.decode(contref).map_err(trap)?;
    // SAFETY: a live record (decode), and its chain's innermost record.
    let (o, inner) = unsafe { (&*outer, &*(*outer).innermost.get()) };
    Ok(Expect {
        recv_type: inner.recv_type.get(),
        recv_results: inner.recv_results.get() != 0,
        bound: inner.bound.get(),
        func_type: o.func_type,
    })
}

/// A fresh continuation of the wasm function behind `funcref`, made by
/// the embedder.
///
/// # Safety
/// As for [`cont_new`], with `vmctx` the function's own instance.
pub(crate) unsafe fn host_cont_new(
    pool: &mut ContPool,
    funcref: *const VMFuncRef,
    vmctx: *mut u8,
    array_trampoline: usize,
    func_type: u32,
    nparams: u32,
    nresults: u32,
) -> crate::Result<u64> {
    // SAFETY: forwarded to the caller.
    unsafe {
        cont_new(
            pool,
            funcref,
            vmctx,
            array_trampoline,
            func_type,
            nparams,
            nresults,
        )
    }
}

/// The data of one embedder resume, handed to [`host_resume_shim`].
pub(crate) struct HostResume {
    pub pool: *mut ContPool,
    pub contref: u64,
    /// `[effect, values...]`, as a `resume` in wasm has it.
    pub buf: *mut ValRaw,
    pub n: u32,
    /// `[count, tag identities...]`.
    pub table: *const usize,
    /// Set when the resume could not start (stale or null reference).
    pub error: Option<crate::Error>,
    /// The payload of the switch back (see [`resumed_with`]).
    pub received: usize,
}

/// What a resumer learns when its continuation switches back with
/// payload `received`: the effect and, from the fast suspension path
/// (`resume_table::FAST_FIRST`), the suspended continuation, which is
/// otherwise in `buf` after the tag's payload.
fn resumed_with(received: usize, buf: &[ValRaw]) -> (usize, Option<u64>) {
    if received & resume_table::FAST_FIRST == 0 {
        return (buf[0].bits as usize, None);
    }
    let h = (received & !resume_table::FAST_FIRST) as *const VMContRecord;
    // SAFETY: a flagged payload is the record of the continuation that
    // just suspended to this resumer: live, as the suspended chain's
    // outermost record.
    let k = unsafe { (*h).self_ref.get() };
    (resume_table::EFFECT_RETURN + 1, Some(k))
}

/// Entered through `enter_wasm` (so traps in the continuation unwind to
/// that entry): resumes the continuation from Rust and returns when it
/// returns or suspends to one of the embedder's handlers.
///
/// # Safety
/// `data` must be a live [`HostResume`] whose buffer and table hold what
/// its fields say.
pub(crate) unsafe extern "C" fn host_resume_shim(data: *mut u8) {
    // SAFETY: contract.
    let d = unsafe { &mut *data.cast::<HostResume>() };
    // SAFETY: the pool is the store's, alive while the store runs this.
    let pool = unsafe { &mut *d.pool };
    // SAFETY: the store context outlives its pool.
    let current = unsafe { &*pool.store_ctx }.current_stack.get();
    // This stack waits in Rust, holding no references in a spill slot
    // (what the collector reads of a resumer; see `stack_record::GC_SPILL`).
    // SAFETY: the running record is live.
    unsafe { (*current).gc_spill_len.set(0) };
    // SAFETY: contract (buffer, table).
    match unsafe { cont_resume(pool, d.contref, d.buf, d.n, d.table) } {
        Err(e) => d.error = Some(e),
        #[cfg(target_arch = "x86_64")]
        Ok(target) => {
            let ctx = stack_record::CONTROL_CONTEXT as usize;
            // SAFETY: `current` is the running record, `target` the
            // continuation's innermost record that cont_resume linked
            // under it; both control contexts are live. The payload is the
            // resumer's record, as from a wasm `resume` (a hint only).
            d.received = unsafe {
                x86_64::host_switch(
                    current.cast::<u8>().add(ctx).cast(),
                    target.cast::<u8>().add(ctx).cast(),
                    current as usize,
                )
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        Ok(_) => unreachable!("no continuation exists on this architecture"),
    }
}

/// `ContRef::new`: a fresh continuation running the wasm function `f`.
pub(crate) fn api_new(store: &mut super::store::StoreOpaque, f: crate::Func) -> crate::Result<u64> {
    let data = store.func_data(f);
    let (funcref, type_id) = (data.funcref, data.type_id);
    let instance = match &data.kind {
        super::store::FuncKind::Wasm { instance } => *instance,
        super::store::FuncKind::Host(_) => {
            anyhow::bail!("a continuation needs a wasm function; this is a host function")
        }
    };
    let module = &store.instances[instance as usize].module;
    let tramp = module
        .inner
        .trampoline(type_id)
        .ok_or_else(|| anyhow::anyhow!("no entry trampoline for the function's type"))?;
    let ty = store.func_ty(f);
    let (np, nr) = (ty.params().len() as u32, ty.results().len() as u32);
    // SAFETY: the funcref of a live wasm function of this store.
    let vmctx = unsafe { (*funcref).vmctx };
    if pool_of(store)?.wants_collection() {
        // SAFETY: called by the embedder: no wasm runs, or a host function
        // called from wasm does (its caller's exit is recorded).
        unsafe { super::gc::roots::collect(store, super::stack::Start::LastExit, &[]) };
    }
    let pool = pool_of(store)?;
    // SAFETY: a live wasm funcref of this store, its instance's vmctx and
    // the trampoline of its type.
    let raw = unsafe { host_cont_new(pool, funcref, vmctx, tramp, type_id, np, nr) }?;
    // The embedder holds it (see `crate::ContRef`).
    pool.pin(raw);
    Ok(raw)
}

/// What `ContRef::resume` got back.
pub(crate) enum ApiResumed {
    Returned(Vec<crate::Val>),
    Suspended {
        handler: usize,
        payload: Vec<crate::Val>,
        continuation: u64,
    },
}

/// `ContRef::resume`: resumes `contref` with `args`, handling the tags
/// `tags` (store-wide identities with their canonical types).
pub(crate) fn api_resume(
    store: &mut super::store::StoreOpaque,
    contref: u64,
    args: &[crate::Val],
    tags: &[(usize, u32)],
) -> crate::Result<ApiResumed> {
    let exp = expect(pool_of(store)?, contref)?;
    let types = &store.engine.inner.types;
    let recv = types
        .func_type(exp.recv_type)
        .expect("registered continuation type");
    let recv_tys: Vec<crate::ValType> = if exp.recv_results {
        recv.results().to_vec()
    } else {
        recv.params().to_vec()
    };
    let want = &recv_tys[exp.bound as usize..];
    if args.len() != want.len() {
        anyhow::bail!(
            "the continuation takes {} values, {} were given",
            want.len(),
            args.len()
        );
    }
    let results = types
        .func_type(exp.func_type)
        .expect("registered function type")
        .results()
        .to_vec();
    let tag_types: Vec<crate::FuncType> = tags
        .iter()
        .map(|(_, ty)| types.func_type(*ty).expect("registered tag type"))
        .collect();
    let slots = tag_types
        .iter()
        .map(|t| t.params().len() + 1)
        .chain([args.len(), results.len(), 1])
        .max()
        .unwrap_or(1);
    let mut buf = vec![ValRaw { bits: 0 }; 1 + slots];
    for (i, (v, ty)) in args.iter().zip(want).enumerate() {
        buf[1 + i].bits = store.val_to_raw(v, ty)?;
    }
    let mut table: Vec<usize> = Vec::with_capacity(resume_table::words(tags.len()));
    table.push(tags.len());
    table.extend(tags.iter().map(|(id, _)| *id));
    if tags.is_empty() {
        table.push(resume_table::NO_ENTRY);
    }
    let mut data = HostResume {
        pool: &mut **store.continuations.as_mut().expect("created above"),
        contref,
        buf: buf.as_mut_ptr(),
        n: args.len() as u32,
        table: table.as_ptr(),
        error: None,
        received: 0,
    };
    // SAFETY: the shim resumes through the runtime and generated code
    // only; `data`, `buf` and `table` outlive the call.
    unsafe {
        super::func::enter_wasm(
            store,
            &super::entry::EntryCall::one(host_resume_shim, (&mut data as *mut HostResume).cast()),
        )?
    };
    if let Some(e) = data.error {
        return Err(e);
    }
    let (effect, fast_k) = resumed_with(data.received, &buf);
    if effect == resume_table::EFFECT_THROW {
        // An exception left the continuation: the host gets it as the
        // error a call would have returned.
        let exn = crate::ExnRef::root(store, buf[1].bits as usize);
        return Err(crate::Error::new(crate::Exception::new(exn)));
    }
    if effect == resume_table::EFFECT_RETURN {
        let vals = results
            .iter()
            .enumerate()
            .map(|(i, ty)| store.raw_to_val(buf[1 + i].bits, ty))
            .collect();
        return Ok(ApiResumed::Returned(vals));
    }
    let handler = effect - 1;
    let params = tag_types[handler].params();
    let continuation = fast_k.unwrap_or(buf[1 + params.len()].bits as u64);
    // The embedder holds it (see `crate::ContRef`).
    store.pin_continuation(continuation);
    let payload = params
        .iter()
        .enumerate()
        .map(|(i, ty)| store.raw_to_val(buf[1 + i].bits, ty))
        .collect();
    Ok(ApiResumed::Suspended {
        handler,
        payload,
        continuation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;
    use weft_environ::contref::GEN_MASK;
    use weft_environ::{cont_entry, cont_record as o};

    #[test]
    fn layout_matches_vmoffsets() {
        assert_eq!(offset_of!(VMContRecord, stack), 0);
        assert_eq!(offset_of!(VMContRecord, bound) as u32, o::BOUND);
        assert_eq!(offset_of!(VMContRecord, slot) as u32, o::SLOT);
        assert_eq!(offset_of!(VMContRecord, innermost) as u32, o::INNERMOST);
        assert_eq!(offset_of!(VMContRecord, handlers) as u32, o::HANDLERS);
        assert_eq!(offset_of!(VMContRecord, resumer_buf) as u32, o::RESUMER_BUF);
        assert_eq!(offset_of!(VMContRecord, recv_buf) as u32, o::RECV_BUF);
        assert_eq!(offset_of!(VMContRecord, recv_type) as u32, o::RECV_TYPE);
        assert_eq!(offset_of!(VMContRecord, self_ref) as u32, o::SELF_REF);
        assert_eq!(
            offset_of!(VMContRecord, recv_results) as u32,
            o::RECV_RESULTS
        );
        assert_eq!(offset_of!(VMContRecord, pending_exn) as u32, o::PENDING_EXN);
        assert_eq!(offset_of!(ContEntry, last_ref) as u32, cont_entry::LAST_REF);
        assert_eq!(offset_of!(ContEntry, header) as u32, cont_entry::HEADER);
        assert_eq!(size_of::<ContEntry>() as u32, cont_entry::SIZE);
    }

    #[test]
    fn references_encode_slot_and_generation() {
        let ctx = VMStoreContext::default();
        let config = ContStackConfig {
            stack_size: 64 * 1024,
            red_zone: 8 * 1024,
            max_live: 16,
        };
        let pool = ContPool::new(config, &ctx).unwrap();
        assert_eq!(ctx.cont_table_len.get(), weft_environ::contref::ENTRIES);
        assert_eq!(pool.decode(0).unwrap_err(), Trap::NullContinuation);
        let generation = 1 << GEN_SHIFT;
        // Slot 3, never used: its first reference is generation 1.
        let first = pool.first_ref(3);
        assert_eq!(first, generation | (4 << INDEX_SHIFT) | TAG);
        // Untagged words are never references.
        assert_eq!(
            pool.decode(first & !TAG_MASK).unwrap_err(),
            Trap::ContinuationConsumed
        );
        // No record in the slot: stale.
        assert_eq!(pool.decode(first).unwrap_err(), Trap::ContinuationConsumed);
        // A record holding it (zeroed memory is a valid `VMContRecord`:
        // cells, integers and raw pointers).
        let mut mem = Box::new(NoRecord([0; HEADER_SIZE / 8]));
        let rec = (&raw mut *mem).cast::<VMContRecord>();
        // SAFETY: `rec` is the boxed, zeroed, aligned header-sized buffer.
        let c = unsafe { &*rec };
        c.self_ref.set(first);
        pool.entry(3).header.set(rec);
        assert_eq!(pool.decode(first).unwrap(), rec);
        // Consumed: the old reference is stale, the next one live.
        c.consume();
        assert_eq!(pool.decode(first).unwrap_err(), Trap::ContinuationConsumed);
        let next = c.self_ref.get();
        assert_eq!(next, first + generation);
        assert_eq!(pool.decode(next).unwrap(), rec);
        // Retired (what `retire` leaves): the entry keeps the last
        // reference and points at the stand-in; the next life starts one
        // generation on.
        pool.entry(3).last_ref.set(next);
        pool.entry(3).header.set(no_record());
        assert_eq!(pool.decode(next).unwrap_err(), Trap::ContinuationConsumed);
        assert_eq!(pool.first_ref(3), next + generation);
        // An index past the live slots is stale, not a crash.
        assert_eq!(
            pool.decode(generation | (1000 << INDEX_SHIFT) | TAG)
                .unwrap_err(),
            Trap::ContinuationConsumed
        );
        // Entry 0 (what a null reference indexes) points at the stand-in,
        // whose `self_ref` word, as generated code reads it, is no
        // reference.
        // SAFETY: entry 0 of the pool's table.
        let null_entry = unsafe { (*pool.table.as_ptr().cast::<ContEntry>()).header.get() };
        assert_eq!(null_entry, no_record());
        // SAFETY: the stand-in is HEADER_SIZE bytes, SELF_REF is inside.
        let word = unsafe {
            no_record()
                .cast::<u8>()
                .add(o::SELF_REF as usize)
                .cast::<u64>()
                .read()
        };
        assert_eq!(word, NO_REFERENCE);
        // The generation wraps within its bits: the index and tag stay.
        pool.entry(7)
            .last_ref
            .set((GEN_MASK << GEN_SHIFT) | (8 << INDEX_SHIFT) | TAG);
        assert_eq!(pool.first_ref(7), (8 << INDEX_SHIFT) | TAG);
    }
}
