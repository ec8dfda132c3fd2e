//! weft-fiber: the one stack type of weft, and fibers that run closures on
//! those stacks with a hand-written, unwinder-friendly stack switch.
//!
//! * [`Stack`] / [`StackPool`]: an mmap'd stack with a guard page below it,
//!   any size from one page up, pooled and reused, unmapped when not
//!   pooled (docs/INVARIANTS.md, invariant 2). Used for host fibers now, and meant for
//!   continuation stacks later.
//! * [`SlotPool`]: small guard-less stacks carved from
//!   large reserved regions, for stacks that run only wasm (continuations;
//!   not used by the engine yet).
//! * [`Fiber`] / [`Suspend`]: runs a closure on a `Stack`; the closure
//!   suspends with a value and is resumed with a value; panics come out of
//!   [`Fiber::resume`]; dropping a suspended fiber unwinds it (see
//!   [`fiber`'s docs](fiber) and [`Cancelled`]).
//! * The switch (`arch/x86_64.rs`): callee-saved registers + stack pointer,
//!   with DWARF CFI and a frame-pointer record so that gdb, perf and
//!   `std::backtrace` walk from a frame on a fiber into the frames of
//!   whoever resumed it (docs/INVARIANTS.md, invariant 6). Other architectures compile,
//!   and [`Fiber::new`] returns [`Error::UnsupportedArchitecture`].
//!
//! ```
//! use weft_fiber::{Fiber, Stack};
//!
//! let stack = Stack::new(64 * 1024).unwrap();
//! let mut fiber = Fiber::new(stack, |first: u32, s| {
//!     let second = s.suspend(first * 10); // out: 10, in: 2
//!     format!("{first} then {second}")
//! })
//! .unwrap();
//! assert_eq!(fiber.resume(1), Err(10));
//! assert_eq!(fiber.resume(2), Ok("1 then 2".to_string()));
//! assert!(fiber.done());
//! ```
//!
//! ## Stack limits (for the engine)
//!
//! This crate does not know about wasm stack limits; it exposes what the
//! engine needs to keep docs/INVARIANTS.md, invariant 1 ("stack limits follow the
//! running stack"): [`Stack::range`] (usable `low..high`) and
//! [`Stack::guard_range`], via [`Fiber::stack`] on the resumer's side and
//! [`Suspend::stack_range`] / [`Suspend::guard_range`] on the fiber. The
//! engine makes the fiber's stack record the running one around
//! [`Fiber::resume`] (and restores the resumer's after), and its trap
//! handler treats a fault at the bottom of the running stack as a stack
//! overflow.
//! Without a handler that recognises it, a guard-page hit kills the
//! process with SIGSEGV (never silent corruption; Rust's own overflow
//! handler only knows the thread's main stack).
//!
//! ## Dependencies
//!
//! This crate must not depend on any weft crate but `weft-sys` (the one
//! mmap wrapper and page size), nor on anything wasm-specific (`weft`,
//! `weft-environ`, `weft-cranelift`, ...): it knows stacks and switches,
//! nothing else. Its other dependencies are `std`, `libc`, `anyhow` (the
//! errors of `weft-sys`) and `thiserror`. Unix only; the switch is x86_64
//! only for now.

mod arch;
pub mod fiber;
pub mod region;
pub mod stack;

pub use fiber::{Cancelled, Fiber, Suspend};
pub use region::{SlotId, SlotPool, SlotPoolConfig};
pub use stack::{Stack, StackPool, StackPoolConfig, page_size};

/// Errors of this crate: stack mapping failures and unsupported targets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Mapping a stack failed (the system call and OS error are in `err`).
    #[error(
        "cannot map a fiber stack of {size} usable bytes plus a {guard}-byte guard page: {err}"
    )]
    Map {
        /// Usable bytes requested (page-rounded).
        size: usize,
        /// Guard bytes below the usable range.
        guard: usize,
        /// What failed.
        err: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The requested stack size does not fit the address space.
    #[error("fiber stack size of {requested} bytes overflows the address space")]
    SizeOverflow {
        /// The size that was asked for.
        requested: usize,
    },
    /// A slot pool's slots cannot hold their red zone and header.
    #[error(
        "a stack slot of {slot_size} bytes cannot hold a red zone of {red_zone} bytes \
         and a header of {header_size} bytes"
    )]
    BadSlotLayout {
        /// Page-rounded slot size.
        slot_size: usize,
        /// Requested red zone.
        red_zone: usize,
        /// Requested header size.
        header_size: usize,
    },
    /// A slot pool handed out as many slots as it may.
    #[error("all {max} stack slots of the pool are in use")]
    SlotsExhausted {
        /// The pool's `max_slots`.
        max: usize,
    },
    /// No stack-switch routine exists for this architecture yet.
    #[error(
        "fibers are not supported on this architecture ({arch}): \
         weft-fiber has no stack-switch routine for it"
    )]
    UnsupportedArchitecture {
        /// `std::env::consts::ARCH`.
        arch: &'static str,
    },
}
