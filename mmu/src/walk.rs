//! Page-walk caches (Intel paging-structure caches) and the cost model of a
//! native or nested (two-dimensional) page walk.

use crate::addr::{Asid, VirtAddr};

/// Default entries per level of a [`PageWalkCache`] (32 per level).
pub const DEFAULT_PWC_ENTRIES_PER_LEVEL: usize = 32;

/// Number of upper (non-leaf) levels a [`PageWalkCache`] caches: PML4E,
/// PDPTE, PDE.
pub const PWC_LEVELS: usize = 3;

#[derive(Clone, Copy, Debug)]
struct PwcEntry {
    asid: Asid,
    /// Virtual page number (4 KiB units) shifted right to the level's span.
    prefix: u64,
    /// LRU stamp: larger = more recently used.
    stamp: u64,
}

/// Shift from a 4 KiB virtual page number to the prefix an entry of upper
/// level `level` (0 = PML4E, 1 = PDPTE, 2 = PDE) is keyed by.
#[inline]
const fn prefix_shift(level: usize) -> u32 {
    match level {
        0 => 27,
        1 => 18,
        _ => 9,
    }
}

/// A per-CPU page-walk cache modelling Intel's paging-structure caches
/// (Intel SDM vol. 3, 4.10.3): it caches upper-level (non-leaf) entries —
/// PML4Es, PDPTEs and PDEs that point to a page table — keyed by (ASID,
/// virtual-address prefix at that level), each level a small fully
/// associative LRU cache of a configurable number of entries (default 32).
///
/// A hit on the PDE level lets a walk skip 3 references, on the PDPTE level
/// 2, on the PML4E level 1. Like a TLB, it is not updated by page-table
/// changes: callers must flush ([`flush_addr`](Self::flush_addr) models the
/// paging-structure invalidation done by `INVLPG`; the SDM allows hardware to
/// drop every entry of the current PCID on `INVLPG`, for which callers may
/// use [`flush_asid`](Self::flush_asid)). Lookups do not allocate.
#[derive(Clone, Debug)]
pub struct PageWalkCache {
    levels: [Vec<PwcEntry>; PWC_LEVELS],
    capacity: [usize; PWC_LEVELS],
    clock: u64,
}

impl Default for PageWalkCache {
    /// [`DEFAULT_PWC_ENTRIES_PER_LEVEL`] (32) entries per level.
    fn default() -> Self {
        Self::new(DEFAULT_PWC_ENTRIES_PER_LEVEL)
    }
}

impl PageWalkCache {
    /// A cache with `entries_per_level` entries at each of the three levels
    /// (0 disables caching).
    #[must_use]
    pub fn new(entries_per_level: usize) -> Self {
        Self::with_capacities([entries_per_level; PWC_LEVELS])
    }

    /// A cache with the given entries per level, in order PML4E, PDPTE, PDE.
    #[must_use]
    pub fn with_capacities(capacity: [usize; PWC_LEVELS]) -> Self {
        PageWalkCache {
            levels: capacity.map(Vec::with_capacity),
            capacity,
            clock: 0,
        }
    }

    /// Entries per level (PML4E, PDPTE, PDE).
    #[must_use]
    pub fn capacities(&self) -> [usize; PWC_LEVELS] {
        self.capacity
    }

    /// Valid entries over all levels.
    #[must_use]
    pub fn occupancy(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    #[inline]
    fn find(&self, level: usize, asid: Asid, prefix: u64) -> Option<usize> {
        self.levels[level]
            .iter()
            .position(|e| e.prefix == prefix && e.asid == asid)
    }

    /// How many upper levels (0..=3) a walk of `va` in `asid` can skip: 3 if
    /// the PDE is cached, else 2 if the PDPTE is, else 1 if the PML4E is,
    /// else 0. The deepest hit entry becomes most recently used.
    #[inline]
    pub fn lookup_skip(&mut self, asid: Asid, va: VirtAddr) -> u32 {
        let page = va.page().0;
        for (level, skip) in [(2usize, 3u32), (1, 2), (0, 1)] {
            if let Some(i) = self.find(level, asid, page >> prefix_shift(level)) {
                self.clock += 1;
                self.levels[level][i].stamp = self.clock;
                return skip;
            }
        }
        0
    }

    /// Cache the first `levels` upper entries (in order PML4E, PDPTE, PDE;
    /// clamped to 3) of a walk of `va` in `asid`, typically
    /// [`Walk::upper_levels`](crate::Walk::upper_levels). Each level evicts
    /// its LRU entry when full.
    pub fn fill(&mut self, asid: Asid, va: VirtAddr, levels: u32) {
        let page = va.page().0;
        let n = usize::try_from(levels).map_or(PWC_LEVELS, |l| l.min(PWC_LEVELS));
        for level in 0..n {
            let prefix = page >> prefix_shift(level);
            self.clock += 1;
            let stamp = self.clock;
            if let Some(i) = self.find(level, asid, prefix) {
                self.levels[level][i].stamp = stamp;
                continue;
            }
            let cap = self.capacity[level];
            if cap == 0 {
                continue;
            }
            let entry = PwcEntry {
                asid,
                prefix,
                stamp,
            };
            let set = &mut self.levels[level];
            if set.len() < cap {
                set.push(entry);
            } else if let Some(victim) = set.iter_mut().min_by_key(|e| e.stamp) {
                *victim = entry;
            }
        }
    }

    /// Remove the entries of `asid` used to translate `va` (one per level),
    /// as `INVLPG` does for that address.
    pub fn flush_addr(&mut self, asid: Asid, va: VirtAddr) {
        let page = va.page().0;
        for level in 0..PWC_LEVELS {
            let prefix = page >> prefix_shift(level);
            self.levels[level].retain(|e| !(e.asid == asid && e.prefix == prefix));
        }
    }

    /// Remove every entry of `asid`.
    pub fn flush_asid(&mut self, asid: Asid) {
        for set in &mut self.levels {
            set.retain(|e| e.asid != asid);
        }
    }

    /// Remove every entry.
    pub fn flush_all(&mut self) {
        for set in &mut self.levels {
            set.clear();
        }
    }
}

/// Cost parameters of a page walk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct WalkCosts {
    /// Cycles per page-table memory reference (cycles).
    pub level_cycles: u64,
    /// Whether walks are nested (two-dimensional: guest page table walked
    /// through the host EPT/NPT), as for a virtualized guest.
    pub nested: bool,
    /// Levels of the host (EPT/NPT) page table walked per guest-physical
    /// address in a nested walk (count; 4 on x86-64).
    pub host_levels: u32,
}

impl WalkCosts {
    /// A native (one-dimensional) walk costing `level_cycles` cycles per
    /// reference.
    #[must_use]
    pub const fn native(level_cycles: u64) -> Self {
        WalkCosts {
            level_cycles,
            nested: false,
            host_levels: 4,
        }
    }

    /// A nested (two-dimensional) walk through a `host_levels`-level host
    /// table, `level_cycles` cycles per reference.
    #[must_use]
    pub const fn nested(level_cycles: u64, host_levels: u32) -> Self {
        WalkCosts {
            level_cycles,
            nested: true,
            host_levels,
        }
    }
}

impl Default for WalkCosts {
    /// Native walk, 20 cycles per reference: a modelling assumption (a
    /// page-table reference mostly served by the data caches), not a
    /// measurement.
    fn default() -> Self {
        Self::native(20)
    }
}

/// Cost of a page walk that references `levels_referenced` page-table
/// levels (after page-walk-cache skips): `(cycles, memory_refs)`.
///
/// * Native: `refs = g`, with `g = levels_referenced`.
/// * Nested (2D, EPT/NPT): each of the `g` guest references first needs a
///   host walk of `h = host_levels` references to translate its
///   guest-physical address, then the reference itself; finally the
///   guest-physical result needs one more host walk:
///   `refs = g * (h + 1) + h = (g + 1) * (h + 1) - 1`, i.e. 24 for a cold
///   4-level guest walk over a 4-level host table (Bhargava et al., ASPLOS
///   2008).
///
/// `cycles = refs * level_cycles`. Zero levels (no walk) cost `(0, 0)`.
#[must_use]
pub fn walk_cost(levels_referenced: u32, costs: &WalkCosts) -> (u64, u64) {
    if levels_referenced == 0 {
        return (0, 0);
    }
    let g = u64::from(levels_referenced);
    let refs = if costs.nested {
        let h = u64::from(costs.host_levels);
        (g + 1) * (h + 1) - 1
    } else {
        g
    };
    (refs.saturating_mul(costs.level_cycles), refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_nested_costs() {
        let native = WalkCosts::native(10);
        assert_eq!(walk_cost(4, &native), (40, 4));
        assert_eq!(walk_cost(1, &native), (10, 1));
        assert_eq!(walk_cost(0, &native), (0, 0));
        let nested = WalkCosts::nested(10, 4);
        assert_eq!(walk_cost(4, &nested), (240, 24));
        // PDE cached: one guest reference (5) plus the final host walk (4).
        assert_eq!(walk_cost(1, &nested), (90, 9));
        assert_eq!(walk_cost(4, &WalkCosts::nested(1, 5)), (29, 29));
    }

    #[test]
    fn pwc_skip_counts() {
        let mut pwc = PageWalkCache::default();
        let a = Asid(1);
        let va = VirtAddr(0x7f12_3456_7000);
        assert_eq!(pwc.lookup_skip(a, va), 0);
        pwc.fill(a, va, 3);
        assert_eq!(pwc.occupancy(), 3);
        assert_eq!(pwc.lookup_skip(a, va), 3);
        // Same 2 MiB region: PDE hit.
        assert_eq!(pwc.lookup_skip(a, VirtAddr(va.0 + 0x1000)), 3);
        // Same 1 GiB region, other 2 MiB: PDPTE hit.
        assert_eq!(pwc.lookup_skip(a, VirtAddr(va.0 + (4 << 20))), 2);
        // Same 512 GiB region, other 1 GiB: PML4E hit.
        assert_eq!(pwc.lookup_skip(a, VirtAddr(va.0 + (4 << 30))), 1);
        // Other region / other ASID: nothing.
        assert_eq!(pwc.lookup_skip(a, VirtAddr(0x1000)), 0);
        assert_eq!(pwc.lookup_skip(Asid(2), va), 0);
        // A 2 MiB walk caches only PML4E and PDPTE.
        let b = Asid(2);
        pwc.fill(b, va, 2);
        assert_eq!(pwc.lookup_skip(b, va), 2);
        pwc.fill(b, va, 9); // clamped to 3
        assert_eq!(pwc.lookup_skip(b, va), 3);

        pwc.flush_addr(a, va);
        assert_eq!(pwc.lookup_skip(a, va), 0);
        assert_eq!(pwc.lookup_skip(b, va), 3);
        pwc.flush_asid(b);
        assert_eq!(pwc.occupancy(), 0);
        pwc.fill(a, va, 3);
        pwc.flush_all();
        assert_eq!(pwc.lookup_skip(a, va), 0);
    }

    #[test]
    fn pwc_lru_eviction() {
        let mut pwc = PageWalkCache::with_capacities([2, 2, 2]);
        let a = Asid(0);
        let r = |i: u64| VirtAddr(i << 21); // distinct PDEs, same PDPTE
        pwc.fill(a, r(0), 3);
        pwc.fill(a, r(1), 3);
        assert_eq!(pwc.lookup_skip(a, r(0)), 3); // r(1) is now LRU
        pwc.fill(a, r(2), 3);
        assert_eq!(pwc.lookup_skip(a, r(1)), 2);
        assert_eq!(pwc.lookup_skip(a, r(0)), 3);
        assert_eq!(pwc.lookup_skip(a, r(2)), 3);
        assert_eq!(pwc.occupancy(), 4);
        let mut off = PageWalkCache::new(0);
        off.fill(a, r(0), 3);
        assert_eq!(off.lookup_skip(a, r(0)), 0);
    }
}
