//! Set-associative TLB levels and the per-CPU two-level TLB hierarchy.

use std::borrow::Borrow;

use crate::addr::{Asid, PageSize, Translation, VirtAddr, VirtPage};
use crate::MmuError;

/// Linux's default `tlb_single_page_flush_ceiling` (33 pages,
/// `arch/x86/mm/tlb.c`): a range flush of more pages than this is done as a
/// full flush of the address space instead of page-by-page `INVLPG`s.
pub const LINUX_TLB_SINGLE_PAGE_FLUSH_CEILING: usize = 33;

/// The shape of one TLB level: total entries and associativity (counts of
/// entries; the number of sets is `entries / ways`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct TlbGeometry {
    /// Total number of entries (translations) the level holds.
    pub entries: usize,
    /// Associativity: entries per set.
    pub ways: usize,
}

impl TlbGeometry {
    /// Number of sets (`entries / ways`); meaningful only for a valid geometry.
    #[inline]
    #[must_use]
    pub const fn sets(&self) -> usize {
        match self.entries.checked_div(self.ways) {
            Some(sets) => sets,
            None => 0,
        }
    }

    /// Check that `entries > 0`, `ways > 0` and `entries % ways == 0`.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] naming the violated rule.
    pub fn validate(&self) -> Result<(), MmuError> {
        let reason = if self.entries == 0 {
            "entries must be > 0"
        } else if self.ways == 0 {
            "ways must be > 0"
        } else if self.entries % self.ways != 0 {
            "entries must be a multiple of ways"
        } else {
            return Ok(());
        };
        Err(MmuError::InvalidGeometry {
            entries: self.entries,
            ways: self.ways,
            reason,
        })
    }
}

/// The TLB configuration of one CPU: a first-level data TLB and an optional
/// unified second-level TLB (STLB).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct TlbConfig {
    /// The first-level (L1 data) TLB.
    pub l1: TlbGeometry,
    /// The second-level TLB (STLB), if any.
    pub l2: Option<TlbGeometry>,
}

impl TlbConfig {
    /// Validate both levels.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] for the first invalid level.
    pub fn validate(&self) -> Result<(), MmuError> {
        self.l1.validate()?;
        if let Some(l2) = &self.l2 {
            l2.validate()?;
        }
        Ok(())
    }
}

impl Default for TlbConfig {
    /// Skylake: L1 dTLB 64 entries 4-way, L2 STLB 1536 entries 12-way
    /// (Intel optimization manual, Skylake).
    fn default() -> Self {
        TlbConfig {
            l1: TlbGeometry {
                entries: 64,
                ways: 4,
            },
            l2: Some(TlbGeometry {
                entries: 1536,
                ways: 12,
            }),
        }
    }
}

/// One way of a set: a translation, its validity and its LRU stamp.
#[derive(Clone, Copy, Debug)]
struct Slot {
    t: Translation,
    /// Value of the TLB's access clock at the last use; larger = more recent.
    stamp: u64,
    valid: bool,
}

const EMPTY_SLOT: Slot = Slot {
    t: Translation {
        asid: Asid(0),
        page: VirtPage(0),
        frame: crate::addr::PhysFrame(0),
        size: PageSize::Size4K,
    },
    stamp: 0,
    valid: false,
};

/// One set-associative TLB level with exact LRU replacement within a set.
///
/// Entries are tagged by [`Asid`] and [`PageSize`]; an entry for a 2 MiB page
/// covers its 512 4 KiB pages. The set of an entry is its virtual page number
/// in units of the entry's page size, modulo the number of sets. A lookup
/// probes the 4 KiB set and, when any 2 MiB entry is resident, the 2 MiB set.
///
/// # Invalidation contract
/// An entry stays until evicted (by an [`insert`](Self::insert) into its full
/// set, LRU victim) or invalidated ([`invalidate_page`](Self::invalidate_page),
/// [`invalidate_asid`](Self::invalidate_asid), [`flush_all`](Self::flush_all)).
/// A page-table change does NOT remove it: callers must flush, exactly as an OS
/// must on real hardware. A translation left behind is a *stale* entry.
///
/// Lookups do not allocate.
#[derive(Clone, Debug)]
pub struct SetAssocTlb {
    geometry: TlbGeometry,
    /// `sets * ways` slots; set `s` is `slots[s * ways .. (s + 1) * ways]`.
    slots: Vec<Slot>,
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (index by mask, not modulo).
    set_mask: Option<u64>,
    /// Access clock for LRU stamps (one tick per insert or hit).
    clock: u64,
    occupancy: usize,
    resident_2m: usize,
}

impl SetAssocTlb {
    /// An empty TLB level of the given geometry.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] if `geometry` fails [`TlbGeometry::validate`].
    pub fn new(geometry: TlbGeometry) -> Result<Self, MmuError> {
        geometry.validate()?;
        let sets_usize = geometry.sets();
        let sets = u64::try_from(sets_usize).map_err(|_| MmuError::InvalidGeometry {
            entries: geometry.entries,
            ways: geometry.ways,
            reason: "too many sets",
        })?;
        Ok(SetAssocTlb {
            geometry,
            slots: vec![EMPTY_SLOT; geometry.entries],
            sets,
            set_mask: sets.is_power_of_two().then(|| sets - 1),
            clock: 0,
            occupancy: 0,
            resident_2m: 0,
        })
    }

    /// The geometry this level was built with.
    #[must_use]
    pub fn geometry(&self) -> TlbGeometry {
        self.geometry
    }

    /// Number of valid entries (translations) currently held.
    #[must_use]
    pub fn occupancy(&self) -> usize {
        self.occupancy
    }

    /// Number of valid 2 MiB entries currently held.
    #[must_use]
    pub fn resident_2m(&self) -> usize {
        self.resident_2m
    }

    /// The valid entries, in slot order (set by set, way by way): a
    /// deterministic snapshot for inspection and tests.
    pub fn entries(&self) -> impl Iterator<Item = Translation> + '_ {
        self.slots.iter().filter(|s| s.valid).map(|s| s.t)
    }

    /// Index of the first slot of the set holding `base` (4 KiB units,
    /// aligned to `size`) for entries of size `size`.
    #[inline]
    fn set_start(&self, base: VirtPage, size: PageSize) -> usize {
        let vpn = base.0 >> size.shift_4k();
        let set = match self.set_mask {
            Some(mask) => vpn & mask,
            None => vpn % self.sets,
        };
        #[allow(
            clippy::cast_possible_truncation,
            reason = "set < self.sets, which was converted from a usize"
        )]
        let set = set as usize;
        set * self.geometry.ways
    }

    /// Slot index of the valid entry tagged (asid, base, size), if any.
    #[inline]
    fn find(&self, asid: Asid, base: VirtPage, size: PageSize) -> Option<usize> {
        let start = self.set_start(base, size);
        self.slots[start..start + self.geometry.ways]
            .iter()
            .position(|s| s.valid && s.t.page == base && s.t.asid == asid && s.t.size == size)
            .map(|w| start + w)
    }

    /// Slot index of the entry that translates `page` of `asid` (4 KiB entry
    /// first, then 2 MiB), if any.
    #[inline]
    fn find_covering(&self, asid: Asid, page: VirtPage) -> Option<usize> {
        if let Some(i) = self.find(asid, page, PageSize::Size4K) {
            return Some(i);
        }
        if self.resident_2m > 0 {
            return self.find(asid, page.align_down(PageSize::Size2M), PageSize::Size2M);
        }
        None
    }

    #[inline]
    fn touch(&mut self, i: usize) {
        self.clock += 1;
        self.slots[i].stamp = self.clock;
    }

    fn remove(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        debug_assert!(slot.valid);
        slot.valid = false;
        self.occupancy -= 1;
        if slot.t.size == PageSize::Size2M {
            self.resident_2m -= 1;
        }
    }

    /// Look up the translation of `va` in address space `asid`; a hit makes
    /// the entry most recently used. Finds 4 KiB and 2 MiB entries (a 4 KiB
    /// entry wins if both are resident).
    #[inline]
    pub fn lookup(&mut self, asid: Asid, va: VirtAddr) -> Option<Translation> {
        let i = self.find_covering(asid, va.page())?;
        self.touch(i);
        Some(self.slots[i].t)
    }

    /// Whether a lookup of `va` in `asid` would hit; does not update LRU.
    #[must_use]
    pub fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        self.find_covering(asid, va.page()).is_some()
    }

    /// Insert `t` as the most recently used entry of its set and return the
    /// entry evicted to make room (the set's LRU entry), if any. If an entry
    /// with the same tag (asid, page, size) is present it is updated in
    /// place (new frame), made MRU, and nothing is evicted. The page and
    /// frame of a 2 MiB translation are aligned down to 2 MiB.
    pub fn insert(&mut self, t: Translation) -> Option<Translation> {
        let t = Translation {
            page: t.page.align_down(t.size),
            frame: crate::addr::PhysFrame(t.frame.0 & !(t.size.pages_4k() - 1)),
            ..t
        };
        if let Some(i) = self.find(t.asid, t.page, t.size) {
            self.slots[i].t = t;
            self.touch(i);
            return None;
        }
        let start = self.set_start(t.page, t.size);
        let set = &self.slots[start..start + self.geometry.ways];
        let (victim, evicted) = match set.iter().position(|s| !s.valid) {
            Some(w) => (start + w, None),
            None => {
                let w = set
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.stamp)
                    .map_or(0, |(w, _)| w);
                let old = self.slots[start + w].t;
                self.remove(start + w);
                (start + w, Some(old))
            }
        };
        self.slots[victim] = Slot {
            t,
            stamp: 0,
            valid: true,
        };
        self.touch(victim);
        self.occupancy += 1;
        if t.size == PageSize::Size2M {
            self.resident_2m += 1;
        }
        evicted
    }

    /// `INVLPG` semantics: remove every entry of `asid` that covers 4 KiB
    /// page `page` (a 4 KiB entry for it and a 2 MiB entry containing it).
    /// Returns whether anything was removed.
    pub fn invalidate_page(&mut self, asid: Asid, page: VirtPage) -> bool {
        let mut removed = false;
        if let Some(i) = self.find(asid, page, PageSize::Size4K) {
            self.remove(i);
            removed = true;
        }
        if self.resident_2m > 0 {
            if let Some(i) = self.find(asid, page.align_down(PageSize::Size2M), PageSize::Size2M) {
                self.remove(i);
                removed = true;
            }
        }
        removed
    }

    /// Remove every entry of address space `asid` (`INVPCID` single-context);
    /// returns the number removed.
    pub fn invalidate_asid(&mut self, asid: Asid) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            if self.slots[i].valid && self.slots[i].t.asid == asid {
                self.remove(i);
                n += 1;
            }
        }
        n
    }

    /// Remove every entry; returns the number removed.
    pub fn flush_all(&mut self) -> usize {
        let n = self.occupancy;
        for s in &mut self.slots {
            s.valid = false;
        }
        self.occupancy = 0;
        self.resident_2m = 0;
        n
    }
}

/// Result of a [`TlbHierarchy::lookup`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TlbLookup {
    /// Hit in the first-level TLB.
    L1Hit(Translation),
    /// Missed L1, hit in the second-level TLB (L1 has been filled).
    L2Hit(Translation),
    /// Missed every level: a page walk is needed.
    Miss,
}

impl TlbLookup {
    /// The translation found, if any.
    #[must_use]
    pub fn translation(&self) -> Option<Translation> {
        match *self {
            TlbLookup::L1Hit(t) | TlbLookup::L2Hit(t) => Some(t),
            TlbLookup::Miss => None,
        }
    }
}

/// What a [`TlbHierarchy::flush_range`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FlushKind {
    /// Flushed this many 4 KiB pages one by one (one `INVLPG` each).
    Pages(usize),
    /// The range was larger than the ceiling: the whole address space (every
    /// entry of the ASID, as Linux's CR3 reload / `INVPCID` single-context
    /// does) was flushed instead.
    Full,
}

/// The TLBs of one CPU: an L1 TLB and an optional L2 TLB (STLB).
///
/// An L1 miss looks up L2; an L2 hit fills L1; [`fill`](Self::fill) after a
/// page walk fills both levels. The levels are non-inclusive (like ChampSim):
/// an eviction from one level does not remove the entry from the other. The
/// invalidation contract of [`SetAssocTlb`] applies to each level.
#[derive(Clone, Debug)]
pub struct TlbHierarchy {
    /// The first-level TLB.
    pub l1: SetAssocTlb,
    /// The second-level TLB, if configured.
    pub l2: Option<SetAssocTlb>,
}

impl TlbHierarchy {
    /// Empty TLBs of the given configuration.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] if a level's geometry is invalid.
    pub fn new(config: TlbConfig) -> Result<Self, MmuError> {
        Ok(TlbHierarchy {
            l1: SetAssocTlb::new(config.l1)?,
            l2: config.l2.map(SetAssocTlb::new).transpose()?,
        })
    }

    /// Look up `va` of `asid`: L1, then L2 (an L2 hit fills L1).
    #[inline]
    pub fn lookup(&mut self, asid: Asid, va: VirtAddr) -> TlbLookup {
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

    /// Whether a lookup of `va` in `asid` would hit in some level (no LRU
    /// update, no fill).
    #[must_use]
    pub fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        self.l1.contains(asid, va) || self.l2.as_ref().is_some_and(|l2| l2.contains(asid, va))
    }

    /// Install `t` (the result of a page walk) in every level.
    pub fn fill(&mut self, t: Translation) {
        self.l1.insert(t);
        if let Some(l2) = &mut self.l2 {
            l2.insert(t);
        }
    }

    /// `INVLPG` of `page` in `asid` at every level; returns whether any
    /// entry was removed.
    pub fn flush_page(&mut self, asid: Asid, page: VirtPage) -> bool {
        let a = self.l1.invalidate_page(asid, page);
        let b = self
            .l2
            .as_mut()
            .is_some_and(|l2| l2.invalidate_page(asid, page));
        a || b
    }

    /// Remove every entry of `asid` at every level; returns the number removed.
    pub fn flush_asid(&mut self, asid: Asid) -> usize {
        self.l1.invalidate_asid(asid) + self.l2.as_mut().map_or(0, |l2| l2.invalidate_asid(asid))
    }

    /// Remove every entry at every level; returns the number removed.
    pub fn flush_all(&mut self) -> usize {
        self.l1.flush_all() + self.l2.as_mut().map_or(0, SetAssocTlb::flush_all)
    }

    /// Flush a range of 4 KiB pages of `asid` as Linux's
    /// `flush_tlb_mm_range` does: up to `ceiling` pages are flushed one by
    /// one ([`FlushKind::Pages`]); more than `ceiling` pages become a flush of
    /// the whole address space ([`FlushKind::Full`], same as
    /// [`flush_asid`](Self::flush_asid)). Linux's default ceiling is
    /// `tlb_single_page_flush_ceiling` = 33
    /// ([`LINUX_TLB_SINGLE_PAGE_FLUSH_CEILING`]). Does not allocate; the
    /// iterator is consumed only up to `ceiling + 1` items.
    ///
    /// `pages` may be a slice (`&[VirtPage]`), a `Vec`, or any iterator of
    /// `VirtPage` or `&VirtPage`.
    pub fn flush_range<I>(&mut self, asid: Asid, pages: I, ceiling: usize) -> FlushKind
    where
        I: IntoIterator,
        I::Item: Borrow<VirtPage>,
    {
        let mut n = 0usize;
        for page in pages {
            let page = *page.borrow();
            if n == ceiling {
                // A (ceiling + 1)-th page: the full flush subsumes the page
                // flushes already done, so the end state matches deciding
                // up front.
                self.flush_asid(asid);
                return FlushKind::Full;
            }
            self.flush_page(asid, page);
            n += 1;
        }
        FlushKind::Pages(n)
    }

    /// Total valid entries over all levels (an entry present in both levels
    /// counts twice).
    #[must_use]
    pub fn occupancy(&self) -> usize {
        self.l1.occupancy() + self.l2.as_ref().map_or(0, SetAssocTlb::occupancy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::PhysFrame;

    fn t4k(asid: u16, page: u64, frame: u64) -> Translation {
        Translation {
            asid: Asid(asid),
            page: VirtPage(page),
            frame: PhysFrame(frame),
            size: PageSize::Size4K,
        }
    }

    fn t2m(asid: u16, page: u64, frame: u64) -> Translation {
        Translation {
            asid: Asid(asid),
            page: VirtPage(page),
            frame: PhysFrame(frame),
            size: PageSize::Size2M,
        }
    }

    fn geo(entries: usize, ways: usize) -> TlbGeometry {
        TlbGeometry { entries, ways }
    }

    #[test]
    fn geometry_validation() {
        assert!(geo(64, 4).validate().is_ok());
        assert_eq!(geo(64, 4).sets(), 16);
        assert_eq!(geo(1536, 12).sets(), 128);
        assert!(matches!(
            geo(0, 4).validate(),
            Err(MmuError::InvalidGeometry { entries: 0, .. })
        ));
        assert!(matches!(
            geo(64, 0).validate(),
            Err(MmuError::InvalidGeometry { ways: 0, .. })
        ));
        assert!(geo(10, 4).validate().is_err());
        assert!(SetAssocTlb::new(geo(10, 4)).is_err());
        assert!(TlbConfig::default().validate().is_ok());
        let bad = TlbConfig {
            l1: geo(64, 4),
            l2: Some(geo(7, 2)),
        };
        assert!(TlbHierarchy::new(bad).is_err());
    }

    #[test]
    fn default_is_skylake() {
        let c = TlbConfig::default();
        assert_eq!(c.l1, geo(64, 4));
        assert_eq!(c.l2, Some(geo(1536, 12)));
    }

    #[test]
    fn lru_order_in_a_set() {
        // 1 set, 2 ways.
        let mut tlb = SetAssocTlb::new(geo(2, 2)).unwrap();
        let a = Asid(1);
        assert_eq!(tlb.insert(t4k(1, 10, 100)), None);
        assert_eq!(tlb.insert(t4k(1, 11, 101)), None);
        // Touch 10: 11 becomes LRU.
        assert!(tlb.lookup(a, VirtPage(10).addr()).is_some());
        assert_eq!(tlb.insert(t4k(1, 12, 102)), Some(t4k(1, 11, 101)));
        // contains() must not update LRU: 10 stays LRU.
        assert!(tlb.contains(a, VirtPage(10).addr()));
        assert_eq!(tlb.insert(t4k(1, 13, 103)), Some(t4k(1, 10, 100)));
        // Re-inserting a present tag updates it and makes it MRU.
        assert_eq!(tlb.insert(t4k(1, 12, 999)), None);
        assert_eq!(
            tlb.lookup(a, VirtPage(12).addr()).unwrap().frame,
            PhysFrame(999)
        );
        assert_eq!(tlb.insert(t4k(1, 14, 104)), Some(t4k(1, 13, 103)));
        assert_eq!(tlb.occupancy(), 2);
    }

    #[test]
    fn sets_are_independent() {
        // 2 sets x 1 way: even pages to set 0, odd to set 1.
        let mut tlb = SetAssocTlb::new(geo(2, 1)).unwrap();
        assert_eq!(tlb.insert(t4k(1, 0, 1)), None);
        assert_eq!(tlb.insert(t4k(1, 1, 2)), None);
        assert_eq!(tlb.insert(t4k(1, 2, 3)), Some(t4k(1, 0, 1)));
        assert!(tlb.contains(Asid(1), VirtPage(1).addr()));
    }

    #[test]
    fn non_power_of_two_sets() {
        let mut tlb = SetAssocTlb::new(geo(3, 1)).unwrap();
        for p in 0..3 {
            assert_eq!(tlb.insert(t4k(1, p, p)), None);
        }
        assert_eq!(tlb.insert(t4k(1, 3, 3)), Some(t4k(1, 0, 0)));
    }

    #[test]
    fn asid_tags() {
        let mut tlb = SetAssocTlb::new(geo(8, 2)).unwrap();
        tlb.insert(t4k(1, 5, 50));
        tlb.insert(t4k(2, 5, 60));
        assert_eq!(
            tlb.lookup(Asid(1), VirtPage(5).addr()).unwrap().frame,
            PhysFrame(50)
        );
        assert_eq!(
            tlb.lookup(Asid(2), VirtPage(5).addr()).unwrap().frame,
            PhysFrame(60)
        );
        assert!(tlb.lookup(Asid(3), VirtPage(5).addr()).is_none());
        assert_eq!(tlb.invalidate_asid(Asid(1)), 1);
        assert!(!tlb.contains(Asid(1), VirtPage(5).addr()));
        assert!(tlb.contains(Asid(2), VirtPage(5).addr()));
        assert_eq!(tlb.flush_all(), 1);
        assert_eq!(tlb.occupancy(), 0);
    }

    #[test]
    fn two_mib_entries_cover_512_pages() {
        let mut tlb = SetAssocTlb::new(geo(16, 4)).unwrap();
        tlb.insert(t2m(1, 1024, 2048));
        assert_eq!(tlb.resident_2m(), 1);
        for p in [1024, 1300, 1535] {
            let t = tlb.lookup(Asid(1), VirtAddr((p << 12) + 7)).unwrap();
            assert_eq!(t, t2m(1, 1024, 2048));
            assert_eq!(t.frame_of(VirtPage(p).addr()), PhysFrame(2048 + p - 1024));
        }
        assert!(tlb.lookup(Asid(1), VirtPage(1536).addr()).is_none());
        assert!(tlb.lookup(Asid(1), VirtPage(1023).addr()).is_none());
        // Misaligned 2M insert is aligned down.
        tlb.insert(t2m(1, 2048 + 5, 4096 + 5));
        assert_eq!(
            tlb.lookup(Asid(1), VirtPage(2048 + 100).addr()),
            Some(t2m(1, 2048, 4096))
        );
    }

    #[test]
    fn invalidate_page_on_2m_entry() {
        let mut tlb = SetAssocTlb::new(geo(16, 4)).unwrap();
        tlb.insert(t2m(1, 512, 0));
        tlb.insert(t4k(1, 700, 9));
        assert!(!tlb.invalidate_page(Asid(2), VirtPage(600)));
        // INVLPG of any 4K page inside the 2M page removes it (and the 4K one
        // only if it is that page).
        assert!(tlb.invalidate_page(Asid(1), VirtPage(600)));
        assert!(!tlb.contains(Asid(1), VirtPage(512).addr()));
        assert!(tlb.contains(Asid(1), VirtPage(700).addr()));
        assert_eq!(tlb.resident_2m(), 0);
        assert!(tlb.invalidate_page(Asid(1), VirtPage(700)));
        assert_eq!(tlb.occupancy(), 0);
        assert!(!tlb.invalidate_page(Asid(1), VirtPage(700)));
    }

    #[test]
    fn hierarchy_fill_and_l2_refill() {
        let cfg = TlbConfig {
            l1: geo(1, 1),
            l2: Some(geo(4, 4)),
        };
        let mut h = TlbHierarchy::new(cfg).unwrap();
        let a = Asid(1);
        assert_eq!(h.lookup(a, VirtPage(1).addr()), TlbLookup::Miss);
        h.fill(t4k(1, 1, 10));
        assert_eq!(
            h.lookup(a, VirtPage(1).addr()),
            TlbLookup::L1Hit(t4k(1, 1, 10))
        );
        h.fill(t4k(1, 2, 20)); // evicts page 1 from L1 only.
        assert_eq!(h.occupancy(), 3);
        assert_eq!(
            h.lookup(a, VirtPage(1).addr()),
            TlbLookup::L2Hit(t4k(1, 1, 10))
        );
        assert_eq!(
            h.lookup(a, VirtPage(1).addr()),
            TlbLookup::L1Hit(t4k(1, 1, 10))
        );
        assert!(h.flush_page(a, VirtPage(1)));
        assert_eq!(h.lookup(a, VirtPage(1).addr()), TlbLookup::Miss);
        assert_eq!(h.flush_asid(a), 1);
        h.fill(t4k(2, 1, 10));
        assert_eq!(h.flush_all(), 2);
    }

    #[test]
    fn hierarchy_without_l2() {
        let cfg = TlbConfig {
            l1: geo(4, 4),
            l2: None,
        };
        let mut h = TlbHierarchy::new(cfg).unwrap();
        h.fill(t4k(1, 1, 10));
        assert!(h.contains(Asid(1), VirtPage(1).addr()));
        assert_eq!(h.occupancy(), 1);
        assert!(h.l2.is_none());
    }

    #[test]
    fn flush_range_ceiling() {
        let mut h = TlbHierarchy::new(TlbConfig::default()).unwrap();
        let a = Asid(3);
        for p in 0..100 {
            h.fill(t4k(3, p, p));
        }
        h.fill(t4k(4, 0, 0));
        let ceiling = LINUX_TLB_SINGLE_PAGE_FLUSH_CEILING;
        let pages: Vec<VirtPage> = (0..33).map(VirtPage).collect();
        assert_eq!(h.flush_range(a, &pages, ceiling), FlushKind::Pages(33));
        assert!(!h.contains(a, VirtPage(32).addr()));
        assert!(h.contains(a, VirtPage(33).addr()));
        assert_eq!(
            h.flush_range(a, (40..74).map(VirtPage), ceiling),
            FlushKind::Full
        );
        assert!(!h.contains(a, VirtPage(99).addr()));
        // Other address spaces survive a full (per-ASID) flush.
        assert!(h.contains(Asid(4), VirtPage(0).addr()));
        assert_eq!(
            h.flush_range(a, std::iter::empty::<VirtPage>(), ceiling),
            FlushKind::Pages(0)
        );
        assert_eq!(h.flush_range(a, &pages[..2], ceiling), FlushKind::Pages(2));
        assert_eq!(h.flush_range(a, [VirtPage(1)], 0), FlushKind::Full);
    }
}
