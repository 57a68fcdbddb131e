//! Criterion benchmarks of the TLB hot paths: a hierarchy hit and a
//! miss + page walk + fill (host nanoseconds per operation).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mmu::{
    access, AccessCosts, Asid, PageSize, PageTable, PageWalkCache, PhysFrame, TlbConfig,
    TlbHierarchy, VirtPage,
};

fn bench_lookup_hit(c: &mut Criterion) {
    let mut tlb = TlbHierarchy::new(TlbConfig::default()).expect("valid default config");
    let asid = Asid(1);
    let mut pt = PageTable::new();
    let mut pwc = PageWalkCache::default();
    let costs = AccessCosts::default();
    // 32 pages: all fit in the 64-entry L1.
    for p in 0..32u64 {
        pt.map(VirtPage(p), PhysFrame(p + 1000), PageSize::Size4K)
            .expect("fresh page");
        access(&mut tlb, &mut pwc, &pt, asid, VirtPage(p).addr(), &costs);
    }
    let mut i = 0u64;
    c.bench_function("tlb_hierarchy_lookup_l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) & 31;
            black_box(tlb.lookup(black_box(asid), black_box(VirtPage(i).addr())))
        });
    });
}

fn bench_miss_walk_fill(c: &mut Criterion) {
    let mut tlb = TlbHierarchy::new(TlbConfig::default()).expect("valid default config");
    let asid = Asid(1);
    let mut pt = PageTable::new();
    let mut pwc = PageWalkCache::default();
    let costs = AccessCosts::default();
    // 16 Ki pages spread over 2 MiB regions: far more than the 1536-entry STLB.
    const N: u64 = 16 * 1024;
    for p in 0..N {
        pt.map(VirtPage(p * 7), PhysFrame(p), PageSize::Size4K)
            .expect("fresh page");
    }
    let mut i = 0u64;
    c.bench_function("access_miss_walk_fill", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            let va = VirtPage(i * 7).addr();
            // Keep the access a miss: drop the translation first.
            tlb.flush_page(asid, va.page());
            black_box(access(&mut tlb, &mut pwc, &pt, asid, black_box(va), &costs))
        });
    });
}

criterion_group!(benches, bench_lookup_hit, bench_miss_walk_fill);
criterion_main!(benches);
