//! 10,000 fibers alive at once on small stacks, with memory figures.
//! Its own test binary (own process), so that the peak RSS it prints is
//! not mixed up with other tests.

use weft_fiber::{Fiber, StackPool, StackPoolConfig, Suspend};

/// A `kB` field of `/proc/self/status`.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn ten_thousand_fibers_alive_at_once() {
    const N: usize = 10_000;
    const STACK: usize = 8 * 1024;
    let pool = StackPool::new(StackPoolConfig {
        stack_size: STACK,
        max_cached: 128,
        keep_resident: 0,
    })
    .unwrap();
    let hwm_before = status_kb("VmHWM:");
    let rss_before = status_kb("VmRSS:");
    let maps_before = map_count();

    let mut fibers: Vec<Fiber<'_, u64, u64, u64>> = (0..N)
        .map(|i| {
            Fiber::new(
                pool.get().unwrap(),
                move |x: u64, s: &Suspend<u64, u64, u64>| {
                    let mut acc = x + i as u64;
                    loop {
                        let next = s.suspend(acc);
                        if next == u64::MAX {
                            return acc;
                        }
                        acc += next;
                    }
                },
            )
            .unwrap()
        })
        .collect();
    // Every fiber starts and suspends: all 10,000 have live frames.
    for (i, f) in fibers.iter_mut().enumerate() {
        assert_eq!(f.resume(1), Err(1 + i as u64));
    }
    // A second round, in reverse order.
    for (i, f) in fibers.iter_mut().enumerate().rev() {
        assert_eq!(f.resume(2), Err(3 + i as u64));
    }
    assert_eq!(pool.in_use(), N);
    let rss_alive = status_kb("VmRSS:");
    let maps_alive = map_count();

    // Finish half of them, drop the other half suspended (cancelled).
    for (i, f) in fibers.iter_mut().enumerate().step_by(2) {
        assert_eq!(f.resume(u64::MAX), Ok(3 + i as u64));
    }
    drop(fibers);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.cached(), 128);

    let hwm_after = status_kb("VmHWM:");
    let per_fiber = (rss_alive.saturating_sub(rss_before)) as f64 * 1024.0 / N as f64;
    let report = format!(
        "{N} fibers with {} KiB stacks (+4 KiB guard): VmRSS {rss_before} kB before, \
         {rss_alive} kB with all alive (~{per_fiber:.0} bytes/fiber); \
         peak VmHWM {hwm_after} kB (was {hwm_before} kB); \
         mappings {maps_before} -> {maps_alive}",
        STACK / 1024
    );
    // Written to stderr directly (not `println!`): the test harness does
    // not capture it, so the figures show in every `cargo test` run.
    std::io::Write::write_all(&mut std::io::stderr(), format!("{report}\n").as_bytes()).unwrap();
    // Sanity: a suspended fiber costs about one touched stack page plus
    // its boxed state, far below its 8 KiB reservation.
    assert!(per_fiber < 8192.0, "{per_fiber} bytes per fiber");
}
