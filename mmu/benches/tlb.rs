//! Criterion benchmarks of the TLB hot paths: a hierarchy hit (and the same
//! through `lookup_or_fill`, `tlbsim tlb`'s path), an `access`
//! hit (TLB hit plus the stale check against the page table), an L2 hit,
//! a miss + page walk + fill, and the flushes done at every IPI (host
//! nanoseconds per operation).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mmu::{
    access, AccessCosts, Asid, PageSize, PageTable, PageWalkCache, PhysFrame, TlbConfig,
    TlbHierarchy, Translation, VirtPage,
};

/// A default (Skylake) hierarchy, a PWC and a page table mapping `n` 4 KiB
/// pages `0..n`, then each page accessed once (the table does not change
/// after the fills, like the simulator's background table).
fn warm(n: u64) -> (TlbHierarchy, PageWalkCache, PageTable, AccessCosts) {
    let mut tlb = TlbHierarchy::new(TlbConfig::default()).expect("valid default config");
    let mut pt = PageTable::new();
    let mut pwc = PageWalkCache::default();
    let costs = AccessCosts::default();
    for p in 0..n {
        pt.map(VirtPage(p), PhysFrame(p + 1000), PageSize::Size4K)
            .expect("fresh page");
    }
    for p in 0..n {
        access(&mut tlb, &mut pwc, &pt, Asid(1), VirtPage(p).addr(), &costs);
    }
    (tlb, pwc, pt, costs)
}

fn bench_lookup_hit(c: &mut Criterion) {
    // 32 pages: all fit in the 64-entry L1.
    let (mut tlb, _, _, _) = warm(32);
    let asid = Asid(1);
    let mut i = 0u64;
    c.bench_function("tlb_hierarchy_lookup_l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) & 31;
            black_box(tlb.lookup(black_box(asid), black_box(VirtPage(i).addr())))
        });
    });
}

fn bench_lookup_or_fill_hit(c: &mut Criterion) {
    // As `tlb_hierarchy_lookup_l1_hit`, through the count-only path of
    // `tlbsim tlb`'s replay (no `Translation` built for the hit).
    let (mut tlb, _, _, _) = warm(32);
    let asid = Asid(1);
    let mut i = 0u64;
    c.bench_function("tlb_hierarchy_lookup_or_fill_l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) & 31;
            let va = VirtPage(i).addr();
            black_box(tlb.lookup_or_fill(black_box(asid), black_box(va), || {
                unreachable!("every page is resident")
            }))
        });
    });
}

fn bench_access_l1_hit(c: &mut Criterion) {
    let (mut tlb, mut pwc, pt, costs) = warm(32);
    let asid = Asid(1);
    let mut i = 0u64;
    c.bench_function("access_l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) & 31;
            let va = VirtPage(i).addr();
            black_box(access(&mut tlb, &mut pwc, &pt, asid, black_box(va), &costs))
        });
    });
}

fn bench_access_l1_hit_pt_changed(c: &mut Criterion) {
    // As `access_l1_hit`, but the table changed after the fills: every hit
    // is checked against the table.
    let (mut tlb, mut pwc, mut pt, costs) = warm(32);
    pt.map(VirtPage(1 << 20), PhysFrame(1), PageSize::Size4K)
        .expect("fresh page");
    let asid = Asid(1);
    let mut i = 0u64;
    c.bench_function("access_l1_hit_pt_changed", |b| {
        b.iter(|| {
            i = (i + 1) & 31;
            let va = VirtPage(i).addr();
            black_box(access(&mut tlb, &mut pwc, &pt, asid, black_box(va), &costs))
        });
    });
}

fn bench_access_l2_hit(c: &mut Criterion) {
    // 512 pages cycled: they thrash the 64-entry L1 but fit the 1536-entry L2.
    let (mut tlb, mut pwc, pt, costs) = warm(512);
    let asid = Asid(1);
    let mut i = 0u64;
    c.bench_function("access_l2_hit", |b| {
        b.iter(|| {
            i = (i + 1) & 511;
            let va = VirtPage(i).addr();
            black_box(access(&mut tlb, &mut pwc, &pt, asid, black_box(va), &costs))
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

fn bench_flush_all(c: &mut Criterion) {
    // As at an IPI: flush the whole hierarchy (64 + 1536 entries), then the
    // interrupted code refills a few translations.
    let mut tlb = TlbHierarchy::new(TlbConfig::default()).expect("valid default config");
    let mut i = 0u64;
    c.bench_function("tlb_hierarchy_flush_all_refill8", |b| {
        b.iter(|| {
            black_box(tlb.flush_all());
            for k in 0..8 {
                i = i.wrapping_add(1);
                tlb.fill(Translation {
                    asid: Asid(1),
                    page: VirtPage(i * 8 + k),
                    frame: PhysFrame(i),
                    size: PageSize::Size4K,
                });
            }
        });
    });
}

fn bench_flush_asid(c: &mut Criterion) {
    // Full-size hierarchy with two address spaces; flush one and refill it.
    let mut tlb = TlbHierarchy::new(TlbConfig::default()).expect("valid default config");
    let fill = |tlb: &mut TlbHierarchy, asid: u16, n: u64| {
        for p in 0..n {
            tlb.fill(Translation {
                asid: Asid(asid),
                page: VirtPage(p),
                frame: PhysFrame(p),
                size: PageSize::Size4K,
            });
        }
    };
    fill(&mut tlb, 2, 1024);
    c.bench_function("tlb_hierarchy_flush_asid_refill8", |b| {
        b.iter(|| {
            black_box(tlb.flush_asid(black_box(Asid(1))));
            fill(&mut tlb, 1, 8);
        });
    });
}

criterion_group!(
    benches,
    bench_lookup_hit,
    bench_access_l1_hit,
    bench_access_l1_hit_pt_changed,
    bench_access_l2_hit,
    bench_miss_walk_fill,
    bench_flush_all,
    bench_flush_asid,
    bench_lookup_or_fill_hit
);
criterion_main!(benches);
