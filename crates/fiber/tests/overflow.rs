//! Stack overflow on a fiber hits the guard page: checked in a child
//! process (this test binary re-run with an environment variable), whose
//! SIGSEGV handler compares the fault address with the stack's guard range
//! and exits with a code saying whether it matched.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft_fiber::{Fiber, Stack, Suspend};

const CHILD_ENV: &str = "WEFT_FIBER_OVERFLOW_CHILD";
const EXIT_IN_GUARD: i32 = 42;
const EXIT_ELSEWHERE: i32 = 43;

static GUARD_LO: AtomicUsize = AtomicUsize::new(0);
static GUARD_HI: AtomicUsize = AtomicUsize::new(0);

/// SIGSEGV/SIGBUS handler of the child. Async-signal-safe: atomics,
/// `write`, `_exit`.
extern "C" fn on_fault(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let in_guard =
        (GUARD_LO.load(Ordering::Relaxed)..GUARD_HI.load(Ordering::Relaxed)).contains(&addr);
    let msg: &[u8] = if in_guard {
        b"child: fault address inside the fiber's guard page\n"
    } else {
        b"child: fault address OUTSIDE the fiber's guard page\n"
    };
    // SAFETY: `write` and `_exit` are async-signal-safe; `msg` is valid.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(if in_guard {
            EXIT_IN_GUARD
        } else {
            EXIT_ELSEWHERE
        });
    }
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]); // 512 bytes per frame
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[7])
}

fn child() -> ! {
    // The handler runs on an alternate stack: the faulting stack is full.
    let alt = vec![0u8; 64 * 1024].leak();
    let ss = libc::stack_t {
        ss_sp: alt.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: alt.len(),
    };
    // SAFETY: plain libc calls with valid arguments; the handler is
    // async-signal-safe.
    unsafe {
        assert_eq!(libc::sigaltstack(&ss, std::ptr::null_mut()), 0);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_fault as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()), 0);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    let stack = Stack::new(64 * 1024).unwrap();
    let guard = stack.guard_range();
    GUARD_LO.store(guard.start, Ordering::Relaxed);
    GUARD_HI.store(guard.end, Ordering::Relaxed);
    eprintln!("child: guard page {guard:x?}");
    let mut fiber = Fiber::new(stack, |(), _s: &Suspend<(), (), u64>| recurse(0)).unwrap();
    let r = fiber.resume(());
    eprintln!("child: recursion returned {r:?} without faulting");
    std::process::exit(1);
}

#[test]
fn overflow_on_a_fiber_hits_the_guard_page() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "overflow_on_a_fiber_hits_the_guard_page",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(EXIT_IN_GUARD),
        "child status {:?} (signal {:?}), stderr:\n{stderr}",
        out.status,
        out.status.signal()
    );
    assert!(stderr.contains("inside the fiber's guard page"), "{stderr}");
}

#[test]
fn overflow_without_a_handler_kills_with_sigsegv() {
    // With only Rust's default handler (which knows the thread's own guard
    // page, not ours) the process dies by SIGSEGV: loud, never silent.
    if std::env::var_os("WEFT_FIBER_OVERFLOW_CHILD_DEFAULT").is_some() {
        let mut fiber = Fiber::new(
            Stack::new(64 * 1024).unwrap(),
            |(), _s: &Suspend<(), (), u64>| recurse(0),
        )
        .unwrap();
        let _ = fiber.resume(());
        std::process::exit(1);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "overflow_without_a_handler_kills_with_sigsegv",
            "--nocapture",
        ])
        .env("WEFT_FIBER_OVERFLOW_CHILD_DEFAULT", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "child status {:?}, stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
