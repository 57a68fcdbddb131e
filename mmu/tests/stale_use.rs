//! Stale-translation detection: a TLB entry that survives an unmap/remap
//! without a flush is reported as a stale use.

use mmu::{
    access, AccessCosts, AccessOutcome, Asid, PageSize, PageTable, PageWalkCache, PhysFrame,
    TlbConfig, TlbHierarchy, VirtPage,
};

fn setup() -> (TlbHierarchy, PageWalkCache, PageTable, AccessCosts) {
    (
        TlbHierarchy::new(TlbConfig::default()).unwrap(),
        PageWalkCache::default(),
        PageTable::new(),
        AccessCosts::default(),
    )
}

#[test]
fn remap_without_flush_is_stale() {
    let (mut tlb, mut pwc, mut pt, costs) = setup();
    let (a, page) = (Asid(7), VirtPage(0x4_2000));
    pt.map(page, PhysFrame(100), PageSize::Size4K).unwrap();
    let first = access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);
    assert_eq!(first.outcome, AccessOutcome::Walk);
    assert!(!first.stale);

    pt.unmap(page).unwrap();
    pt.map(page, PhysFrame(200), PageSize::Size4K).unwrap();
    let second = access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);
    assert_eq!(second.outcome, AccessOutcome::L1Hit);
    assert!(second.stale);
    // The hardware uses the cached (old) frame.
    assert_eq!(second.frame, Some(PhysFrame(100)));
}

#[test]
fn unmap_without_flush_is_stale() {
    let (mut tlb, mut pwc, mut pt, costs) = setup();
    let (a, page) = (Asid(1), VirtPage(9));
    pt.map(page, PhysFrame(1), PageSize::Size4K).unwrap();
    access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);
    pt.unmap(page).unwrap();
    tlb.l1.flush_all(); // still cached in L2
    let x = access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);
    assert_eq!(x.outcome, AccessOutcome::L2Hit);
    assert!(x.stale);
    assert_eq!(x.frame, Some(PhysFrame(1)));
}

#[test]
fn remap_with_flush_walks_fresh() {
    let (mut tlb, mut pwc, mut pt, costs) = setup();
    let (a, page) = (Asid(7), VirtPage(0x4_2000));
    pt.map(page, PhysFrame(100), PageSize::Size4K).unwrap();
    access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);

    pt.unmap(page).unwrap();
    pt.map(page, PhysFrame(200), PageSize::Size4K).unwrap();
    assert!(tlb.flush_page(a, page));
    pwc.flush_addr(a, page.addr());
    let x = access(&mut tlb, &mut pwc, &pt, a, page.addr(), &costs);
    assert_eq!(x.outcome, AccessOutcome::Walk);
    assert!(!x.stale);
    assert_eq!(x.frame, Some(PhysFrame(200)));
}

#[test]
fn huge_page_split_without_flush_is_stale() {
    let (mut tlb, mut pwc, mut pt, costs) = setup();
    let a = Asid(2);
    pt.map(VirtPage(512), PhysFrame(1024), PageSize::Size2M)
        .unwrap();
    access(&mut tlb, &mut pwc, &pt, a, VirtPage(600).addr(), &costs);
    // Replace the 2 MiB page by a 4 KiB page at the same frame: size changed.
    pt.unmap(VirtPage(512)).unwrap();
    pt.map(VirtPage(600), PhysFrame(1024 + 88), PageSize::Size4K)
        .unwrap();
    let x = access(&mut tlb, &mut pwc, &pt, a, VirtPage(600).addr(), &costs);
    assert_eq!(x.outcome, AccessOutcome::L1Hit);
    assert!(x.stale);
    // Another ASID never sees the entry.
    let y = access(
        &mut tlb,
        &mut pwc,
        &pt,
        Asid(3),
        VirtPage(600).addr(),
        &costs,
    );
    assert_eq!(y.outcome, AccessOutcome::Walk);
    assert!(!y.stale);
}
