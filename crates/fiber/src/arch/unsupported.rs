//! Stand-in for architectures without a stack-switch port. Never called:
//! `Fiber::new` checks [`super::SUPPORTED`] and returns
//! `Error::UnsupportedArchitecture` first.

use super::EntryFn;

/// Nothing is reserved: no stack is ever initialised.
pub(crate) const RESERVED_TOP: usize = 0;

/// # Safety
///
/// Never call: there is no switch routine for this architecture.
pub(crate) unsafe fn init_stack(_top: *mut u8, _entry: EntryFn, _arg: *mut u8) -> *mut usize {
    unreachable!("weft-fiber: no stack switch for {}", std::env::consts::ARCH)
}

/// # Safety
///
/// Never call: there is no switch routine for this architecture.
pub(crate) unsafe fn switch(_slot: *mut usize) {
    unreachable!("weft-fiber: no stack switch for {}", std::env::consts::ARCH)
}
