//! Cost of a bare resume + suspend round trip (two stack switches plus
//! parking a value each way), and of creating + finishing a fiber on a
//! pooled stack.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weft_fiber::{Fiber, Stack, StackPool, StackPoolConfig, Suspend};

fn round_trip(c: &mut Criterion) {
    let mut fiber = Fiber::new(
        Stack::new(64 * 1024).unwrap(),
        |mut x: u64, s: &Suspend<u64, u64, ()>| {
            loop {
                x = s.suspend(x + 1);
            }
        },
    )
    .unwrap();
    c.bench_function("resume+suspend round trip (u64 both ways)", |b| {
        b.iter(|| fiber.resume(black_box(1)))
    });
    let mut unit = Fiber::new(
        Stack::new(64 * 1024).unwrap(),
        |(), s: &Suspend<(), (), ()>| {
            loop {
                s.suspend(());
            }
        },
    )
    .unwrap();
    c.bench_function("resume+suspend round trip (unit)", |b| {
        b.iter(|| unit.resume(()))
    });
}

fn create_and_finish(c: &mut Criterion) {
    let pool = StackPool::new(StackPoolConfig {
        stack_size: 64 * 1024,
        max_cached: 16,
        keep_resident: usize::MAX,
    })
    .unwrap();
    c.bench_function("new fiber on pooled stack + run to completion", |b| {
        b.iter(|| {
            let mut f = Fiber::new(pool.get().unwrap(), |x: u64, _s: &Suspend<u64, (), u64>| {
                x + 1
            })
            .unwrap();
            f.resume(black_box(1))
        })
    });
}

criterion_group!(benches, round_trip, create_and_finish);
criterion_main!(benches);
