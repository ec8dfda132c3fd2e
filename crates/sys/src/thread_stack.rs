//! The calling thread's own stack bounds.
//!
//! ```text
//!   high  +------------------------------+  <- bounds().1
//!         | thread stack (grows down)    |
//!         |   ... frames ...             |
//!   low   +------------------------------+  <- bounds().0
//!         | guard (set up by the thread  |
//!         | library / kernel)            |
//!         +------------------------------+
//! ```
//!
//! This is the thread's own stack, not a fiber or continuation stack the
//! thread may be running on at the moment: the runtime keeps those bounds
//! in its per-stack records.

use std::cell::Cell;

thread_local! {
    /// This thread's stack bounds once computed; `const`-initialised and
    /// without destructor, so a signal handler may read it.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// This thread's stack as `[low, high)`, as reported by
/// `pthread_getattr_np` (computed once per thread).
#[inline]
pub fn bounds() -> (usize, usize) {
    let cached = BOUNDS.get();
    if cached.1 != 0 {
        return cached;
    }
    compute()
}

#[cold]
fn compute() -> (usize, usize) {
    let bounds = query();
    BOUNDS.set(bounds);
    bounds
}

fn query() -> (usize, usize) {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is valid for writes; on success it is initialised.
    let rc = unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
    assert_eq!(rc, 0, "pthread_getattr_np failed: error {rc}");
    let mut addr = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: `attr` was initialised by pthread_getattr_np; the out
    // pointers are valid.
    let rc = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: `attr` is initialised and destroyed exactly once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    assert_eq!(rc, 0, "pthread_attr_getstack failed: error {rc}");
    let low = addr as usize;
    (low, low + size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_contain_a_local_and_differ_per_thread() {
        let local = 0u8;
        let addr = &raw const local as usize;
        let (low, high) = bounds();
        assert!(low < high);
        assert!(
            low <= addr && addr < high,
            "{addr:#x} not in [{low:#x}, {high:#x})"
        );
        assert_eq!(bounds(), (low, high));
        std::thread::spawn(move || {
            let other = bounds();
            assert_ne!(other, (low, high));
            let local = 0u8;
            let addr = &raw const local as usize;
            assert!(other.0 <= addr && addr < other.1);
        })
        .join()
        .unwrap();
    }
}
