//! Event-queue throughput: one pop and one push per event at a steady number
//! of pending events (the hold model).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::{EventQueue, HeapQueue, Instant, SmallQueue};
use std::hint::black_box;

/// The hold model on the queue `make` builds, in group `name`.
fn hold_on<Q: EventQueue<u64>>(c: &mut Criterion, name: &str, make: fn() -> Q) {
    let mut g = c.benchmark_group(name);
    for pending in [16u64, 256, 4096, 65_536] {
        g.throughput(Throughput::Elements(10_000));
        g.bench_with_input(
            BenchmarkId::from_parameter(pending),
            &pending,
            |b, &pending| {
                let mut q = make();
                // A cheap deterministic spread of delays (xorshift).
                let mut x = 0x9E37_79B9_7F4A_7C15_u64;
                for i in 0..pending {
                    q.push(Instant(i * 7), i);
                }
                b.iter(|| {
                    for _ in 0..10_000 {
                        let (t, e) = q.pop().expect("never empty");
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        q.push(Instant(t.0 + 1 + (x & 1023)), black_box(e));
                    }
                });
            },
        );
    }
    g.finish();
}

fn hold(c: &mut Criterion) {
    // The binary heap keeps its historical group name, so earlier
    // measurements stay comparable.
    hold_on(c, "event_queue_hold", HeapQueue::new);
    hold_on(c, "event_queue_hold_small", SmallQueue::new);
}

criterion_group!(benches, hold);
criterion_main!(benches);
