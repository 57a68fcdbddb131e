//! A whole small scenario, end to end, per policy.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use machine::{run, PolicyKind, SimConfig, StopConfig};
use std::hint::black_box;

fn small_scenario(c: &mut Criterion) {
    let cfg = SimConfig {
        stop: StopConfig {
            ios: 2_000,
            warmup_ios: 200,
            max_cycles: 0,
        },
        ..SimConfig::default()
    };
    let mut g = c.benchmark_group("scenario_8cpu_2000io");
    g.sample_size(10);
    for p in [PolicyKind::Global, PolicyKind::PerCpu] {
        g.bench_function(p.name(), |b| {
            b.iter(|| black_box(run(&cfg, p).expect("runs")))
        });
    }
    g.finish();
}

criterion_group!(benches, small_scenario);
criterion_main!(benches);
