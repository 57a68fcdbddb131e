//! MMU models for tlbsim: set-associative TLBs, a per-CPU TLB hierarchy,
//! an x86-64 4-level page table, page-walk caches, the native / nested page
//! walk cost model, and a memory access that detects stale-translation use.
//!
//! Units: page and frame numbers are 4 KiB units, addresses are bytes,
//! latencies are CPU cycles. The crate is pure model: no I/O, no files.

mod addr;
mod page_table;
mod tlb;
mod walk;

pub use addr::{
    Asid, PageSize, PhysFrame, Translation, VirtAddr, VirtPage, PAGES_PER_2M, PAGE_SHIFT,
};
pub use page_table::{Mapping, PageTable, Walk, ENTRIES_PER_NODE, LEVELS};
pub use tlb::{
    FlushKind, HitLevel, SetAssocTlb, TlbConfig, TlbGeometry, TlbHierarchy, TlbLookup,
    LINUX_TLB_SINGLE_PAGE_FLUSH_CEILING,
};
pub use walk::{walk_cost, PageWalkCache, WalkCosts, DEFAULT_PWC_ENTRIES_PER_LEVEL, PWC_LEVELS};

/// Errors of the MMU models.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MmuError {
    /// A TLB geometry violates `entries > 0`, `ways > 0`, `entries % ways == 0`.
    #[error("invalid TLB geometry ({entries} entries, {ways} ways): {reason}")]
    InvalidGeometry {
        /// Configured total entries.
        entries: usize,
        /// Configured associativity.
        ways: usize,
        /// The rule violated.
        reason: &'static str,
    },
    /// The page lies outside the canonical 48-bit virtual address space.
    #[error("virtual page {:#x} is outside the canonical 48-bit address space", .page.0)]
    NonCanonical {
        /// The page (4 KiB units).
        page: VirtPage,
    },
    /// The virtual page is not aligned to the size of the mapping.
    #[error("virtual page {:#x} is not aligned for a {size:?} mapping", .page.0)]
    Misaligned {
        /// The page (4 KiB units).
        page: VirtPage,
        /// The requested mapping size.
        size: PageSize,
    },
    /// The host frame is not aligned to the size of the mapping.
    #[error("host frame {:#x} is not aligned for a {size:?} mapping", .frame.0)]
    MisalignedFrame {
        /// The frame (4 KiB units).
        frame: PhysFrame,
        /// The requested mapping size.
        size: PageSize,
    },
    /// A mapping of the same page and size already exists.
    #[error("virtual page {:#x} is already mapped ({size:?})", .page.0)]
    AlreadyMapped {
        /// The page (4 KiB units).
        page: VirtPage,
        /// The mapping size.
        size: PageSize,
    },
    /// The requested mapping overlaps an existing mapping of the other size.
    #[error(
        "{size:?} mapping at virtual page {:#x} overlaps a {existing_size:?} mapping at {:#x}",
        .page.0,
        .existing.0
    )]
    Overlap {
        /// The requested page (4 KiB units).
        page: VirtPage,
        /// The requested size.
        size: PageSize,
        /// First page of an overlapping existing mapping (4 KiB units).
        existing: VirtPage,
        /// Size of that existing mapping.
        existing_size: PageSize,
    },
    /// No mapping covers the page.
    #[error("virtual page {:#x} is not mapped", .page.0)]
    NotMapped {
        /// The page (4 KiB units).
        page: VirtPage,
    },
    /// The page is inside a 2 MiB mapping but is not its first page
    /// (splitting a 2 MiB mapping is not modelled).
    #[error(
        "virtual page {:#x} is inside the 2 MiB mapping at {:#x}; unmap its base page",
        .page.0,
        .base.0
    )]
    NotHugeBase {
        /// The page given (4 KiB units).
        page: VirtPage,
        /// First page of the 2 MiB mapping (4 KiB units).
        base: VirtPage,
    },
}

/// Latency parameters of a memory access's address translation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AccessCosts {
    /// Cycles of an L2 TLB (STLB) hit, also charged to detect an L2 miss
    /// before a walk (cycles; ~12 cycles STLB hit, Haswell measurement 2013).
    pub l2_hit_cycles: u64,
    /// Page-walk cost parameters.
    pub walk: WalkCosts,
}

impl Default for AccessCosts {
    /// 12-cycle STLB hit and [`WalkCosts::default`].
    fn default() -> Self {
        AccessCosts {
            l2_hit_cycles: 12,
            walk: WalkCosts::default(),
        }
    }
}

/// How an access was translated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AccessOutcome {
    /// L1 TLB hit.
    L1Hit,
    /// L1 miss, L2 TLB hit.
    L2Hit,
    /// TLB miss resolved by a page walk (TLBs and PWC filled).
    Walk,
    /// TLB miss and the page walk found no mapping: a page fault.
    Fault,
}

/// The result of one translated memory access ([`access`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Access {
    /// Translation latency added to the access (cycles): 0 for an L1 hit,
    /// `l2_hit_cycles` for an L2 hit, `l2_hit_cycles` + walk cost for a walk
    /// or fault.
    pub latency_cycles: u64,
    /// How the access was translated.
    pub outcome: AccessOutcome,
    /// The access hit a TLB entry that no longer matches the page table
    /// (page unmapped, or mapped to another frame or size): a stale use, a
    /// use-after-unmap in the modelled system.
    pub stale: bool,
    /// The 4 KiB host-physical frame holding the accessed byte, as the
    /// hardware would use it (from the TLB entry, even when stale); `None`
    /// on a fault.
    pub frame: Option<PhysFrame>,
    /// Page-table memory references made by the walk (count; 0 on a hit).
    pub walk_refs: u64,
}

/// Translate one access to `va` in address space `asid` on a CPU with TLBs
/// `tlb` and page-walk cache `pwc`, against the address space's page table
/// `pt`.
///
/// * TLB hit: the cached translation is used; it is compared with
///   `pt.translate(va)` and a mismatch sets [`Access::stale`].
/// * TLB miss: the PWC gives the number of upper levels to skip, the table
///   is walked (cost [`walk_cost`] of the remaining references), the PWC is
///   filled with the present upper entries, and on success the TLBs are
///   filled; an unmapped address is a [`AccessOutcome::Fault`] (no TLB fill).
///
/// Does not allocate.
pub fn access(
    tlb: &mut TlbHierarchy,
    pwc: &mut PageWalkCache,
    pt: &PageTable,
    asid: Asid,
    va: VirtAddr,
    costs: &AccessCosts,
) -> Access {
    let pt_token = pt.token();
    let (t, token, latency_cycles, outcome) = match tlb.lookup_token(asid, va) {
        (TlbLookup::L1Hit(t), token) => (t, token, 0, AccessOutcome::L1Hit),
        (TlbLookup::L2Hit(t), token) => (t, token, costs.l2_hit_cycles, AccessOutcome::L2Hit),
        (TlbLookup::Miss, _) => return access_miss(tlb, pwc, pt, pt_token, asid, va, costs),
    };
    Access {
        latency_cycles,
        outcome,
        // An entry filled by a walk of `pt` in its current state (same
        // token) still matches it: skip the check.
        stale: !(token != 0 && token == pt_token) && pt.translate(va) != Some((t.frame, t.size)),
        frame: Some(t.frame_of(va)),
        walk_refs: 0,
    }
}

/// The TLB-miss half of [`access`]: walk, PWC and TLB fills. `pt_token` is
/// `pt`'s state token.
#[inline(never)]
fn access_miss(
    tlb: &mut TlbHierarchy,
    pwc: &mut PageWalkCache,
    pt: &PageTable,
    pt_token: u64,
    asid: Asid,
    va: VirtAddr,
    costs: &AccessCosts,
) -> Access {
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
            // The lookup in `access` missed every level.
            tlb.fill_after_miss(t, pt_token);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (TlbHierarchy, PageWalkCache, PageTable, AccessCosts) {
        (
            TlbHierarchy::new(TlbConfig::default()).unwrap(),
            PageWalkCache::default(),
            PageTable::new(),
            AccessCosts {
                l2_hit_cycles: 12,
                walk: WalkCosts::native(10),
            },
        )
    }

    #[test]
    fn access_latencies() {
        let (mut tlb, mut pwc, mut pt, costs) = setup();
        let a = Asid(1);
        pt.map(VirtPage(5), PhysFrame(50), PageSize::Size4K)
            .unwrap();
        let va = VirtAddr(0x5123);
        let x = access(&mut tlb, &mut pwc, &pt, a, va, &costs);
        assert_eq!(x.outcome, AccessOutcome::Walk);
        assert_eq!(x.latency_cycles, 12 + 40);
        assert_eq!(x.walk_refs, 4);
        assert_eq!(x.frame, Some(PhysFrame(50)));
        assert!(!x.stale);
        let x = access(&mut tlb, &mut pwc, &pt, a, va, &costs);
        assert_eq!((x.outcome, x.latency_cycles), (AccessOutcome::L1Hit, 0));
        tlb.l1.flush_all();
        let x = access(&mut tlb, &mut pwc, &pt, a, va, &costs);
        assert_eq!((x.outcome, x.latency_cycles), (AccessOutcome::L2Hit, 12));
        // Neighbouring page: PWC has the PDE, one reference.
        pt.map(VirtPage(6), PhysFrame(60), PageSize::Size4K)
            .unwrap();
        let x = access(&mut tlb, &mut pwc, &pt, a, VirtPage(6).addr(), &costs);
        assert_eq!(
            (x.outcome, x.latency_cycles, x.walk_refs),
            (AccessOutcome::Walk, 22, 1)
        );
        // Unmapped page in the same PT: fault after one reference, no fill.
        let x = access(&mut tlb, &mut pwc, &pt, a, VirtPage(7).addr(), &costs);
        assert_eq!(
            (x.outcome, x.frame, x.walk_refs),
            (AccessOutcome::Fault, None, 1)
        );
        assert!(!tlb.contains(a, VirtPage(7).addr()));
    }

    #[test]
    fn access_2m_frame_offset() {
        let (mut tlb, mut pwc, mut pt, costs) = setup();
        pt.map(VirtPage(512), PhysFrame(2048), PageSize::Size2M)
            .unwrap();
        let x = access(
            &mut tlb,
            &mut pwc,
            &pt,
            Asid(0),
            VirtPage(515).addr(),
            &costs,
        );
        assert_eq!(
            (x.outcome, x.frame, x.walk_refs),
            (AccessOutcome::Walk, Some(PhysFrame(2051)), 3)
        );
        let x = access(
            &mut tlb,
            &mut pwc,
            &pt,
            Asid(0),
            VirtPage(700).addr(),
            &costs,
        );
        assert_eq!(
            (x.outcome, x.frame),
            (AccessOutcome::L1Hit, Some(PhysFrame(2048 + 188)))
        );
    }

    #[test]
    fn nested_cold_walk_is_24_refs() {
        let (mut tlb, mut pwc, mut pt, _) = setup();
        let costs = AccessCosts {
            l2_hit_cycles: 12,
            walk: WalkCosts::nested(10, 4),
        };
        pt.map(VirtPage(1), PhysFrame(1), PageSize::Size4K).unwrap();
        let x = access(&mut tlb, &mut pwc, &pt, Asid(0), VirtPage(1).addr(), &costs);
        assert_eq!((x.walk_refs, x.latency_cycles), (24, 12 + 240));
    }

    #[test]
    fn error_messages() {
        let e = MmuError::NotMapped {
            page: VirtPage(0x10),
        };
        assert_eq!(e.to_string(), "virtual page 0x10 is not mapped");
        let e = TlbGeometry {
            entries: 10,
            ways: 4,
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("multiple"));
    }
}
