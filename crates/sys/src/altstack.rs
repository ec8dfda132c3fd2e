//! Per-thread alternate signal stacks.
//!
//! A stack overflow in generated code faults with the stack pointer inside
//! the guard region, so the handler must run elsewhere. [`ensure`]
//! installs a 64 KiB alternate stack on the calling thread unless it
//! already has one at least that large, and frees it at thread exit:
//!
//! ```text
//!   mmap base                  base + 4 KiB                 base + 68 KiB
//!   +--------------------------+---------------------------------------+
//!   | guard page (PROT_NONE)   | usable signal stack (RW), grows down  |
//!   +--------------------------+---------------------------------------+
//!                              ^ ss_sp                                 ^ top
//! ```

use crate::mmap::{Mmap, page_size};

/// Usable size of the alternate signal stacks we allocate.
pub const SIZE: usize = 64 * 1024;

/// This thread's alternate stack, if we installed it. Dropped at thread
/// exit.
struct AltStack {
    /// The mapping (guard page + stack), `None` if the thread already
    /// had a large enough alternate stack.
    mmap: Option<Mmap>,
    /// The `ss_sp` we installed.
    sp: *mut libc::c_void,
    /// The thread's previous alternate stack, restored on drop.
    prev: libc::stack_t,
}

thread_local! {
    static ALT_STACK: AltStack = AltStack::install();
}

/// Makes sure this thread has an alternate signal stack.
pub fn ensure() {
    ALT_STACK.with(|_| {});
}

fn current() -> libc::stack_t {
    // SAFETY: an all-zero stack_t is valid, then filled by the query.
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying into valid memory.
    let rc = unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
    assert_eq!(rc, 0, "sigaltstack query failed");
    cur
}

impl AltStack {
    fn install() -> AltStack {
        let prev = current();
        let keep = prev.ss_flags & libc::SS_ONSTACK != 0
            || (prev.ss_flags & libc::SS_DISABLE == 0 && prev.ss_size >= SIZE);
        if keep {
            return AltStack {
                mmap: None,
                sp: prev.ss_sp,
                prev,
            };
        }
        let page = page_size();
        let mut mmap = Mmap::reserve(page + SIZE)
            .unwrap_or_else(|e| panic!("failed to allocate an alternate signal stack: {e:#}"));
        mmap.make_accessible(page, SIZE)
            .unwrap_or_else(|e| panic!("failed to allocate an alternate signal stack: {e:#}"));
        let sp = mmap.as_ptr().wrapping_add(page).cast::<libc::c_void>();
        let new = libc::stack_t {
            ss_sp: sp,
            ss_flags: 0,
            ss_size: SIZE,
        };
        // SAFETY: `new` describes memory we own for the life of this
        // thread (freed in Drop, after uninstalling it).
        let rc = unsafe { libc::sigaltstack(&new, std::ptr::null_mut()) };
        assert_eq!(
            rc,
            0,
            "sigaltstack failed: {}",
            std::io::Error::last_os_error()
        );
        AltStack {
            mmap: Some(mmap),
            sp,
            prev,
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if self.mmap.is_none() {
            return;
        }
        let cur = current();
        // Uninstall only if ours is still the installed one (something
        // else, e.g. std's own thread teardown, may have replaced or
        // disabled it already).
        if cur.ss_sp == self.sp && cur.ss_flags & libc::SS_DISABLE == 0 {
            let restore = if self.prev.ss_flags & libc::SS_DISABLE == 0 {
                self.prev
            } else {
                libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                }
            };
            // SAFETY: restores a disabled alternate stack, or the one
            // that was installed before ours. Its owner has not freed
            // it: std's per-thread handler, the usual owner, disables
            // the alternate stack before unmapping its memory, and then
            // the check above would have failed.
            unsafe { libc::sigaltstack(&restore, std::ptr::null_mut()) };
        }
        // `self.mmap` is unmapped when the fields drop.
    }
}

/// The alternate stack this thread uses, as (ss_sp, ss_size).
pub fn installed() -> (usize, usize) {
    let cur = current();
    (cur.ss_sp as usize, cur.ss_size)
}
