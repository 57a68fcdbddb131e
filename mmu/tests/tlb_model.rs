//! Property tests: `SetAssocTlb`, `TlbHierarchy` and `PageTable` against
//! naive reference models over random operation sequences.

use std::collections::{BTreeMap, VecDeque};

use mmu::{
    Asid, FlushKind, HitLevel, MmuError, PageSize, PageTable, PhysFrame, SetAssocTlb, TlbConfig,
    TlbGeometry, TlbHierarchy, TlbLookup, Translation, VirtAddr, VirtPage,
};
use proptest::prelude::*;

// ---------------------------------------------------------------- reference TLB

/// Reference set-associative TLB: one `VecDeque` per set, front = MRU.
#[derive(Clone, Debug)]
struct RefTlb {
    ways: usize,
    sets: Vec<VecDeque<Translation>>,
}

impl RefTlb {
    fn new(g: TlbGeometry) -> Self {
        RefTlb {
            ways: g.ways,
            sets: vec![VecDeque::new(); g.entries / g.ways],
        }
    }

    fn set_of(&self, base: VirtPage, size: PageSize) -> usize {
        let vpn = base.0 >> size.shift_4k();
        usize::try_from(vpn % self.sets.len() as u64).unwrap()
    }

    fn pos(&self, asid: Asid, base: VirtPage, size: PageSize) -> Option<(usize, usize)> {
        let s = self.set_of(base, size);
        self.sets[s]
            .iter()
            .position(|t| t.asid == asid && t.page == base && t.size == size)
            .map(|i| (s, i))
    }

    fn lookup(&mut self, asid: Asid, va: VirtAddr) -> Option<Translation> {
        let page = va.page();
        let found = self
            .pos(asid, page, PageSize::Size4K)
            .or_else(|| self.pos(asid, page.align_down(PageSize::Size2M), PageSize::Size2M));
        let (s, i) = found?;
        let t = self.sets[s].remove(i).unwrap();
        self.sets[s].push_front(t);
        Some(t)
    }

    fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        let page = va.page();
        self.pos(asid, page, PageSize::Size4K).is_some()
            || self
                .pos(asid, page.align_down(PageSize::Size2M), PageSize::Size2M)
                .is_some()
    }

    fn insert(&mut self, t: Translation) -> Option<Translation> {
        let t = Translation {
            page: t.page.align_down(t.size),
            frame: PhysFrame(t.frame.0 & !(t.size.pages_4k() - 1)),
            ..t
        };
        if let Some((s, i)) = self.pos(t.asid, t.page, t.size) {
            self.sets[s].remove(i);
            self.sets[s].push_front(t);
            return None;
        }
        let s = self.set_of(t.page, t.size);
        let evicted = if self.sets[s].len() == self.ways {
            self.sets[s].pop_back()
        } else {
            None
        };
        self.sets[s].push_front(t);
        evicted
    }

    fn invalidate_page(&mut self, asid: Asid, page: VirtPage) -> bool {
        let mut removed = false;
        for (base, size) in [
            (page, PageSize::Size4K),
            (page.align_down(PageSize::Size2M), PageSize::Size2M),
        ] {
            if let Some((s, i)) = self.pos(asid, base, size) {
                self.sets[s].remove(i);
                removed = true;
            }
        }
        removed
    }

    fn invalidate_asid(&mut self, asid: Asid) -> usize {
        let mut n = 0;
        for set in &mut self.sets {
            let before = set.len();
            set.retain(|t| t.asid != asid);
            n += before - set.len();
        }
        n
    }

    fn flush_all(&mut self) -> usize {
        let n = self.occupancy();
        for set in &mut self.sets {
            set.clear();
        }
        n
    }

    fn occupancy(&self) -> usize {
        self.sets.iter().map(VecDeque::len).sum()
    }

    fn sorted_entries(&self) -> Vec<Translation> {
        let mut v: Vec<Translation> = self.sets.iter().flatten().copied().collect();
        v.sort();
        v
    }
}

fn sorted_entries(tlb: &SetAssocTlb) -> Vec<Translation> {
    let mut v: Vec<Translation> = tlb.entries().collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- strategies

/// Virtual pages over a few 2 MiB regions so that sets and tags collide.
/// Base pages of the regions pages are drawn from: four neighbouring page
/// tables, the top of the lower canonical half and the bottom of the upper
/// half (high address bits, which the TLB keys store apart).
const REGIONS: [u64; 6] = [
    0,
    512,
    1024,
    1536,
    (1 << 35) - 512,
    0xFFFF_8000_0000_0000 >> 12,
];

fn page() -> impl Strategy<Value = VirtPage> {
    (0usize..REGIONS.len(), 0u64..24)
        .prop_map(|(region, off)| VirtPage(REGIONS[region] + off * 23 % 512))
}

fn asid() -> impl Strategy<Value = Asid> {
    (0u16..3).prop_map(Asid)
}

fn translation() -> impl Strategy<Value = Translation> {
    (asid(), page(), 0u64..8, prop::bool::weighted(0.25)).prop_map(|(asid, page, f, huge)| {
        let size = if huge {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        Translation {
            asid,
            page: page.align_down(size),
            frame: PhysFrame(f * 512),
            size,
        }
    })
}

/// Every associativity from 1 to 20 ways (the fast paths switch at 8 and
/// 16), mostly with few sets so that sets fill up, sometimes up to 4,096
/// entries.
fn geometry() -> impl Strategy<Value = TlbGeometry> {
    prop_oneof![
        4 => (1usize..=4, 1usize..=20),
        1 => (1usize..=204, 1usize..=20),
    ]
    .prop_map(|(sets, ways)| TlbGeometry {
        entries: sets * ways,
        ways,
    })
}

#[derive(Clone, Debug)]
enum TlbOp {
    Lookup(Asid, VirtAddr),
    Insert(Translation),
    InvalidatePage(Asid, VirtPage),
    InvalidateAsid(Asid),
    FlushAll,
    FlushRange(Asid, Vec<VirtPage>, usize),
}

fn tlb_op() -> impl Strategy<Value = TlbOp> {
    prop_oneof![
        8 => (asid(), page(), 0u64..4096).prop_map(|(a, p, o)| TlbOp::Lookup(a, VirtAddr(p.addr().0 + o))),
        6 => translation().prop_map(TlbOp::Insert),
        2 => (asid(), page()).prop_map(|(a, p)| TlbOp::InvalidatePage(a, p)),
        1 => asid().prop_map(TlbOp::InvalidateAsid),
        1 => Just(TlbOp::FlushAll),
        1 => (asid(), prop::collection::vec(page(), 0..6), 0usize..5)
            .prop_map(|(a, ps, c)| TlbOp::FlushRange(a, ps, c)),
    ]
}

// ---------------------------------------------------------------- reference hierarchy

struct RefHier {
    l1: RefTlb,
    l2: Option<RefTlb>,
}

impl RefHier {
    fn lookup(&mut self, asid: Asid, va: VirtAddr) -> TlbLookup {
        if let Some(t) = self.l1.lookup(asid, va) {
            return TlbLookup::L1Hit(t);
        }
        if let Some(l2) = &mut self.l2 {
            if let Some(t) = l2.lookup(asid, va) {
                self.l1.insert(t);
                return TlbLookup::L2Hit(t);
            }
        }
        TlbLookup::Miss
    }
    fn fill(&mut self, t: Translation) {
        self.l1.insert(t);
        if let Some(l2) = &mut self.l2 {
            l2.insert(t);
        }
    }
    fn flush_page(&mut self, asid: Asid, p: VirtPage) -> bool {
        let a = self.l1.invalidate_page(asid, p);
        let b = self
            .l2
            .as_mut()
            .is_some_and(|l2| l2.invalidate_page(asid, p));
        a || b
    }
    fn flush_asid(&mut self, asid: Asid) -> usize {
        self.l1.invalidate_asid(asid) + self.l2.as_mut().map_or(0, |l2| l2.invalidate_asid(asid))
    }
    fn flush_all(&mut self) -> usize {
        self.l1.flush_all() + self.l2.as_mut().map_or(0, RefTlb::flush_all)
    }
    fn flush_range(&mut self, asid: Asid, pages: &[VirtPage], ceiling: usize) -> FlushKind {
        if pages.len() > ceiling {
            self.flush_asid(asid);
            FlushKind::Full
        } else {
            for &p in pages {
                self.flush_page(asid, p);
            }
            FlushKind::Pages(pages.len())
        }
    }
    fn occupancy(&self) -> usize {
        self.l1.occupancy() + self.l2.as_ref().map_or(0, RefTlb::occupancy)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn set_assoc_tlb_matches_reference(g in geometry(), ops in prop::collection::vec(tlb_op(), 1..400)) {
        let mut tlb = SetAssocTlb::new(g).unwrap();
        let mut model = RefTlb::new(g);
        for op in ops {
            match op {
                TlbOp::Lookup(a, va) => {
                    prop_assert_eq!(tlb.contains(a, va), model.contains(a, va));
                    prop_assert_eq!(tlb.lookup(a, va), model.lookup(a, va));
                }
                TlbOp::Insert(t) => prop_assert_eq!(tlb.insert(t), model.insert(t)),
                TlbOp::InvalidatePage(a, p) => {
                    prop_assert_eq!(tlb.invalidate_page(a, p), model.invalidate_page(a, p));
                }
                TlbOp::InvalidateAsid(a) => {
                    prop_assert_eq!(tlb.invalidate_asid(a), model.invalidate_asid(a));
                }
                TlbOp::FlushAll | TlbOp::FlushRange(..) => {
                    prop_assert_eq!(tlb.flush_all(), model.flush_all());
                }
            }
            prop_assert_eq!(tlb.occupancy(), model.occupancy());
            prop_assert_eq!(
                tlb.resident_2m(),
                model.sorted_entries().iter().filter(|t| t.size == PageSize::Size2M).count()
            );
        }
        prop_assert_eq!(sorted_entries(&tlb), model.sorted_entries());
    }

    #[test]
    fn tlb_hierarchy_matches_reference(
        g1 in geometry(),
        g2 in prop::option::of(geometry()),
        ops in prop::collection::vec(tlb_op(), 1..200),
    ) {
        let mut h = TlbHierarchy::new(TlbConfig { l1: g1, l2: g2 }).unwrap();
        let mut model = RefHier { l1: RefTlb::new(g1), l2: g2.map(RefTlb::new) };
        for op in ops {
            match op {
                TlbOp::Lookup(a, va) => prop_assert_eq!(h.lookup(a, va), model.lookup(a, va)),
                TlbOp::Insert(t) => {
                    h.fill(t);
                    model.fill(t);
                }
                TlbOp::InvalidatePage(a, p) => {
                    prop_assert_eq!(h.flush_page(a, p), model.flush_page(a, p));
                }
                TlbOp::InvalidateAsid(a) => prop_assert_eq!(h.flush_asid(a), model.flush_asid(a)),
                TlbOp::FlushAll => prop_assert_eq!(h.flush_all(), model.flush_all()),
                TlbOp::FlushRange(a, pages, ceiling) => {
                    prop_assert_eq!(
                        h.flush_range(a, &pages, ceiling),
                        model.flush_range(a, &pages, ceiling)
                    );
                }
            }
            prop_assert_eq!(h.occupancy(), model.occupancy());
        }
        prop_assert_eq!(sorted_entries(&h.l1), model.l1.sorted_entries());
        if let (Some(l2), Some(m2)) = (&h.l2, &model.l2) {
            prop_assert_eq!(sorted_entries(l2), m2.sorted_entries());
        }
    }
}

// ---------------------------------------------------------------- page table

/// Reference page table: base page -> (frame, size).
#[derive(Default)]
struct RefPt {
    map: BTreeMap<u64, (PhysFrame, PageSize)>,
}

impl RefPt {
    fn covering(&self, page: VirtPage) -> Option<(u64, PhysFrame, PageSize)> {
        if let Some(&(f, s)) = self.map.get(&page.0) {
            if s == PageSize::Size4K {
                return Some((page.0, f, s));
            }
        }
        let base = page.align_down(PageSize::Size2M).0;
        match self.map.get(&base) {
            Some(&(f, PageSize::Size2M)) => Some((base, f, PageSize::Size2M)),
            _ => None,
        }
    }

    fn map(&mut self, page: VirtPage, frame: PhysFrame, size: PageSize) -> Result<(), MmuError> {
        if !page.is_aligned(size) {
            return Err(MmuError::Misaligned { page, size });
        }
        if !frame.is_aligned(size) {
            return Err(MmuError::MisalignedFrame { frame, size });
        }
        match size {
            PageSize::Size4K => {
                let base = page.align_down(PageSize::Size2M);
                if let Some(&(_, PageSize::Size2M)) = self.map.get(&base.0) {
                    return Err(MmuError::Overlap {
                        page,
                        size,
                        existing: base,
                        existing_size: PageSize::Size2M,
                    });
                }
                if self.map.contains_key(&page.0) {
                    return Err(MmuError::AlreadyMapped { page, size });
                }
            }
            PageSize::Size2M => {
                if let Some(&(_, PageSize::Size2M)) = self.map.get(&page.0) {
                    return Err(MmuError::AlreadyMapped { page, size });
                }
                if let Some((&p, _)) = self.map.range(page.0..page.0 + 512).next() {
                    return Err(MmuError::Overlap {
                        page,
                        size,
                        existing: VirtPage(p),
                        existing_size: PageSize::Size4K,
                    });
                }
            }
        }
        self.map.insert(page.0, (frame, size));
        Ok(())
    }

    fn unmap(&mut self, page: VirtPage) -> Result<mmu::Mapping, MmuError> {
        match self.covering(page) {
            None => Err(MmuError::NotMapped { page }),
            Some((base, _, _)) if base != page.0 => Err(MmuError::NotHugeBase {
                page,
                base: VirtPage(base),
            }),
            Some((base, frame, size)) => {
                self.map.remove(&base);
                Ok(mmu::Mapping { page, frame, size })
            }
        }
    }

    fn mapped_pages(&self) -> usize {
        self.map
            .values()
            .map(|&(_, s)| usize::try_from(s.pages_4k()).unwrap())
            .sum()
    }
}

#[derive(Clone, Debug)]
enum PtOp {
    Map(VirtPage, PhysFrame, PageSize),
    Unmap(VirtPage),
    Translate(VirtAddr),
}

/// Pages in a few regions: same PT, other PD entries, other PDPT and PML4
/// entries, and the canonical upper half.
fn pt_page() -> impl Strategy<Value = VirtPage> {
    let region = prop::sample::select(vec![0u64, 1 << 9, 1 << 18, 1 << 27, (1 << 36) - (1 << 27)]);
    (region, 0u64..1536).prop_map(|(r, o)| {
        let p = r + o;
        // Upper-half pages: VA bits 63..48 (page bits 51..36) copy VA bit 47.
        if p >> 35 == 1 {
            VirtPage(p | (((1u64 << 52) - 1) & !((1u64 << 36) - 1)))
        } else {
            VirtPage(p)
        }
    })
}

fn pt_op() -> impl Strategy<Value = PtOp> {
    prop_oneof![
        4 => (pt_page(), 0u64..4, prop::bool::weighted(0.3), prop::bool::weighted(0.8)).prop_map(
            |(p, f, huge, aligned)| {
                let size = if huge { PageSize::Size2M } else { PageSize::Size4K };
                let page = if aligned { p.align_down(size) } else { p };
                PtOp::Map(page, PhysFrame(f * 512 + u64::from(!aligned && f == 3)), size)
            }
        ),
        2 => (pt_page(), prop::bool::weighted(0.5)).prop_map(|(p, align)| {
            PtOp::Unmap(if align { p.align_down(PageSize::Size2M) } else { p })
        }),
        4 => (pt_page(), 0u64..4096).prop_map(|(p, o)| PtOp::Translate(VirtAddr(p.addr().0 + o))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn page_table_matches_reference(ops in prop::collection::vec(pt_op(), 1..300)) {
        let mut pt = PageTable::new();
        let mut model = RefPt::default();
        for op in ops {
            match op {
                PtOp::Map(p, f, s) => prop_assert_eq!(pt.map(p, f, s), model.map(p, f, s)),
                PtOp::Unmap(p) => prop_assert_eq!(pt.unmap(p), model.unmap(p)),
                PtOp::Translate(va) => {
                    let expect = model.covering(va.page()).map(|(_, f, s)| (f, s));
                    prop_assert_eq!(pt.translate(va), expect);
                    let w = pt.walk(va);
                    prop_assert_eq!(w.result, expect);
                    prop_assert!(w.upper_levels < w.levels_referenced);
                    prop_assert!(w.levels_referenced <= 4);
                }
            }
            prop_assert_eq!(pt.mapped_pages(), model.mapped_pages());
            prop_assert_eq!(pt.mapping_count(), model.map.len());
        }
        for (&p, &(f, s)) in &model.map {
            prop_assert_eq!(pt.translate(VirtPage(p).addr()), Some((f, s)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `lookup_or_fill` (the address replay's count-only path) leaves
    /// exactly the state of `lookup` + `fill` on a miss, whatever else the
    /// hierarchy went through (fills, flushes of both sizes and ASIDs).
    #[test]
    fn lookup_or_fill_equals_lookup_then_fill(
        g1 in geometry(),
        g2 in prop::option::of(geometry()),
        huge in prop::bool::weighted(0.3),
        ops in prop::collection::vec(tlb_op(), 1..300),
    ) {
        let config = TlbConfig { l1: g1, l2: g2 };
        let mut fast = TlbHierarchy::new(config).unwrap();
        let mut slow = TlbHierarchy::new(config).unwrap();
        let size = if huge { PageSize::Size2M } else { PageSize::Size4K };
        let walk = |a: Asid, va: VirtAddr| Translation {
            asid: a,
            page: va.page().align_down(size),
            frame: PhysFrame(va.page().align_down(size).0 + 7),
            size,
        };
        for op in ops {
            match op {
                TlbOp::Lookup(a, va) => {
                    let level = fast.lookup_or_fill(a, va, || walk(a, va));
                    let want = match slow.lookup(a, va) {
                        TlbLookup::L1Hit(_) => HitLevel::L1,
                        TlbLookup::L2Hit(_) => HitLevel::L2,
                        TlbLookup::Miss => {
                            slow.fill(walk(a, va));
                            HitLevel::Walk
                        }
                    };
                    prop_assert_eq!(level, want);
                }
                TlbOp::Insert(t) => {
                    fast.fill(t);
                    slow.fill(t);
                }
                TlbOp::InvalidatePage(a, p) => {
                    prop_assert_eq!(fast.flush_page(a, p), slow.flush_page(a, p));
                }
                TlbOp::InvalidateAsid(a) => prop_assert_eq!(fast.flush_asid(a), slow.flush_asid(a)),
                TlbOp::FlushAll => prop_assert_eq!(fast.flush_all(), slow.flush_all()),
                TlbOp::FlushRange(a, pages, ceiling) => {
                    prop_assert_eq!(
                        fast.flush_range(a, &pages, ceiling),
                        slow.flush_range(a, &pages, ceiling)
                    );
                }
            }
            prop_assert_eq!(fast.occupancy(), slow.occupancy());
        }
        prop_assert_eq!(sorted_entries(&fast.l1), sorted_entries(&slow.l1));
        if let (Some(a), Some(b)) = (&fast.l2, &slow.l2) {
            prop_assert_eq!(sorted_entries(a), sorted_entries(b));
        }
    }
}
