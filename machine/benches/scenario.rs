//! A whole small scenario, end to end, per policy.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use hypervisor::{BuildContext, Registry};
use machine::{run, SimConfig, StopConfig};
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
    let registry = Registry::builtin();
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    for p in ["global", "percpu"] {
        let spec = registry.resolve(p, &[]).expect("built-in policy");
        g.bench_function(p, |b| {
            b.iter(|| {
                let policy = registry.build(&spec, &ctx).expect("builds");
                black_box(run(&cfg, policy).expect("runs"))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, small_scenario);
criterion_main!(benches);
