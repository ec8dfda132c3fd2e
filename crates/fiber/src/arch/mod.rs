//! Per-architecture stack switching. Each port provides:
//!
//! * `RESERVED_TOP`: bytes at the top of a stack used by the switch header
//!   and the initial frame;
//! * `init_stack(top, entry, arg) -> slot`: lay out a fresh stack so that
//!   the first `switch(slot)` runs `entry(arg)` on it;
//! * `switch(slot)`: save this side in `*slot` and resume the side that
//!   was there.
//!
//! Architectures without a port compile the `unsupported` module instead,
//! and `Fiber::new` returns [`crate::Error::UnsupportedArchitecture`].
//! (`--cfg weft_fiber_unsupported` selects it on x86_64 too, to test that
//! path.)

/// The function a fresh stack starts in. Must never return: when the fiber
/// is finished it switches away for the last time.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: *mut u8) -> !;

#[cfg(all(target_arch = "x86_64", not(weft_fiber_unsupported)))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", not(weft_fiber_unsupported)))]
pub(crate) use x86_64::{RESERVED_TOP, init_stack, switch};

/// Whether this build has a stack-switch routine for the target.
pub(crate) const SUPPORTED: bool = cfg!(all(target_arch = "x86_64", not(weft_fiber_unsupported)));

#[cfg(not(all(target_arch = "x86_64", not(weft_fiber_unsupported))))]
mod unsupported;
#[cfg(not(all(target_arch = "x86_64", not(weft_fiber_unsupported))))]
pub(crate) use unsupported::{RESERVED_TOP, init_stack, switch};
