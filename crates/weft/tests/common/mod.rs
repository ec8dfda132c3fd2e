//! Helpers shared by the integration tests that drive async calls by hand.
//! Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

/// Polls `f` to completion on this thread, busy-waking (the futures in the
/// tests wake themselves or are ready at once).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending `n` times (waking itself each time), then ready.
pub struct YieldN(pub u32);

impl Future for YieldN {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Uses about `kib` KiB of stack, one frame of a 1 KiB buffer per level,
/// and returns `kib` (what host code that needs far more stack than a
/// continuation has does in the tests).
#[inline(never)]
pub fn use_stack(kib: u32) -> u32 {
    #[inline(never)]
    fn deep(n: u32, buf: &mut [u8; 1024]) -> u32 {
        let mut local = [0u8; 1024];
        local[n as usize % 1024] = n as u8;
        buf[0] = buf[0].wrapping_add(local[n as usize % 1024]);
        if n == 0 {
            std::hint::black_box(buf[0]);
            return 0;
        }
        deep(n - 1, std::hint::black_box(&mut local)) + 1
    }
    let mut buf = [0u8; 1024];
    deep(kib, &mut buf)
}
