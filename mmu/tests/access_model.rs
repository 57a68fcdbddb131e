//! Property test: `mmu::access` against a reference built only from the
//! public API (TLB lookup, a full page-table check of every hit, walk, PWC,
//! TLB fill), over random sequences of accesses, page-table changes (on two
//! tables, one of them sometimes replaced by a clone) and flushes.

use mmu::{
    access, walk_cost, Access, AccessCosts, AccessOutcome, Asid, PageSize, PageTable,
    PageWalkCache, PhysFrame, TlbConfig, TlbGeometry, TlbHierarchy, TlbLookup, Translation,
    VirtAddr, VirtPage, WalkCosts,
};
use proptest::prelude::*;

/// The specification of `access`: every hit is checked against the table.
fn ref_access(
    tlb: &mut TlbHierarchy,
    pwc: &mut PageWalkCache,
    pt: &PageTable,
    asid: Asid,
    va: VirtAddr,
    costs: &AccessCosts,
) -> Access {
    let hit = |t: Translation, latency_cycles: u64, outcome: AccessOutcome| Access {
        latency_cycles,
        outcome,
        stale: pt.translate(va) != Some((t.frame, t.size)),
        frame: Some(t.frame_of(va)),
        walk_refs: 0,
    };
    match tlb.lookup(asid, va) {
        TlbLookup::L1Hit(t) => hit(t, 0, AccessOutcome::L1Hit),
        TlbLookup::L2Hit(t) => hit(t, costs.l2_hit_cycles, AccessOutcome::L2Hit),
        TlbLookup::Miss => {
            let skip = pwc.lookup_skip(asid, va);
            let w = pt.walk(va);
            let referenced = if w.levels_referenced == 0 {
                0
            } else {
                w.levels_referenced.saturating_sub(skip).max(1)
            };
            let (cycles, refs) = walk_cost(referenced, &costs.walk);
            pwc.fill(asid, va, w.upper_levels);
            let (outcome, frame) = match w.result {
                Some((frame, size)) => {
                    let t = Translation {
                        asid,
                        page: va.page().align_down(size),
                        frame,
                        size,
                    };
                    tlb.fill(t);
                    (AccessOutcome::Walk, Some(t.frame_of(va)))
                }
                None => (AccessOutcome::Fault, None),
            };
            Access {
                latency_cycles: costs.l2_hit_cycles + cycles,
                outcome,
                stale: false,
                frame,
                walk_refs: refs,
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Access(usize, Asid, VirtAddr),
    Map(usize, VirtPage, PhysFrame, PageSize),
    Unmap(usize, VirtPage),
    /// Replace table `i` by a clone of table `j`.
    CloneTable(usize, usize),
    FlushAll,
    FlushPage(Asid, VirtPage),
    FlushAsid(Asid),
    Insert(Translation),
}

fn page() -> impl Strategy<Value = VirtPage> {
    (0u64..3, 0u64..40).prop_map(|(r, o)| VirtPage(r * 512 + o * 13 % 512))
}

fn op() -> impl Strategy<Value = Op> {
    let asid = (0u16..2).prop_map(Asid);
    let table = 0usize..2;
    prop_oneof![
        10 => (table.clone(), asid.clone(), page(), 0u64..4096)
            .prop_map(|(t, a, p, o)| Op::Access(t, a, VirtAddr(p.addr().0 + o))),
        4 => (table.clone(), page(), 0u64..4, prop::bool::weighted(0.2)).prop_map(|(t, p, f, huge)| {
            let size = if huge { PageSize::Size2M } else { PageSize::Size4K };
            Op::Map(t, p.align_down(size), PhysFrame(f * 512), size)
        }),
        3 => (table.clone(), page(), prop::bool::weighted(0.3))
            .prop_map(|(t, p, a)| Op::Unmap(t, if a { p.align_down(PageSize::Size2M) } else { p })),
        1 => (table.clone(), table).prop_map(|(i, j)| Op::CloneTable(i, j)),
        1 => Just(Op::FlushAll),
        2 => (asid.clone(), page()).prop_map(|(a, p)| Op::FlushPage(a, p)),
        1 => asid.clone().prop_map(Op::FlushAsid),
        1 => (asid, page(), 0u64..4).prop_map(|(a, p, f)| Op::Insert(Translation {
            asid: a,
            page: p,
            frame: PhysFrame(f),
            size: PageSize::Size4K,
        })),
    ]
}

fn sorted(it: impl Iterator<Item = Translation>) -> Vec<Translation> {
    let mut v: Vec<Translation> = it.collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn access_matches_reference(
        l1 in (1usize..=3, 1usize..=20),
        l2 in prop::option::of((1usize..=4, 1usize..=20)),
        nested in any::<bool>(),
        ops in prop::collection::vec(op(), 1..250),
    ) {
        let geo = |(sets, ways): (usize, usize)| TlbGeometry { entries: sets * ways, ways };
        let cfg = TlbConfig { l1: geo(l1), l2: l2.map(geo) };
        let costs = AccessCosts {
            l2_hit_cycles: 12,
            walk: if nested { WalkCosts::nested(10, 4) } else { WalkCosts::native(10) },
        };
        let mut tlb = TlbHierarchy::new(cfg).unwrap();
        let mut ref_tlb = tlb.clone();
        let mut pwc = PageWalkCache::with_capacities([2, 2, 3]);
        let mut ref_pwc = pwc.clone();
        let mut pts = [PageTable::new(), PageTable::new()];
        for op in ops {
            match op {
                Op::Access(t, a, va) => {
                    let got = access(&mut tlb, &mut pwc, &pts[t], a, va, &costs);
                    let want = ref_access(&mut ref_tlb, &mut ref_pwc, &pts[t], a, va, &costs);
                    prop_assert_eq!(got, want);
                }
                Op::Map(t, p, f, s) => {
                    let _ = pts[t].map(p, f, s);
                }
                Op::Unmap(t, p) => {
                    let _ = pts[t].unmap(p);
                }
                Op::CloneTable(i, j) => pts[i] = pts[j].clone(),
                Op::FlushAll => prop_assert_eq!(tlb.flush_all(), ref_tlb.flush_all()),
                Op::FlushPage(a, p) => prop_assert_eq!(tlb.flush_page(a, p), ref_tlb.flush_page(a, p)),
                Op::FlushAsid(a) => prop_assert_eq!(tlb.flush_asid(a), ref_tlb.flush_asid(a)),
                Op::Insert(t) => {
                    tlb.fill(t);
                    ref_tlb.fill(t);
                }
            }
            prop_assert_eq!(tlb.occupancy(), ref_tlb.occupancy());
        }
        prop_assert_eq!(sorted(tlb.l1.entries()), sorted(ref_tlb.l1.entries()));
        if let (Some(a), Some(b)) = (&tlb.l2, &ref_tlb.l2) {
            prop_assert_eq!(sorted(a.entries()), sorted(b.entries()));
        }
        prop_assert_eq!(pwc.occupancy(), ref_pwc.occupancy());
    }
}
