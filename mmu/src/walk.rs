//! Page-walk caches (Intel paging-structure caches) and the cost model of a
//! native or nested (two-dimensional) page walk.

use crate::addr::{Asid, VirtAddr};

/// Default entries per level of a [`PageWalkCache`] (32 per level).
pub const DEFAULT_PWC_ENTRIES_PER_LEVEL: usize = 32;

/// Number of upper (non-leaf) levels a [`PageWalkCache`] caches: PML4E,
/// PDPTE, PDE.
pub const PWC_LEVELS: usize = 3;

/// One level of a [`PageWalkCache`]: a fully associative LRU cache whose
/// entries are packed keys ([`pwc_key`]) with LRU stamps, as parallel arrays
/// allocated once at the level's capacity.
#[derive(Clone, Debug)]
struct PwcLevel {
    keys: Vec<u64>,
    /// LRU stamp of each entry: larger = more recently used.
    stamps: Vec<u64>,
    capacity: usize,
    /// Index of the most recently found or filled entry: checked first by
    /// [`find`](Self::find) (keys are unique, so this changes no result).
    hint: usize,
}

impl PwcLevel {
    fn new(capacity: usize) -> Self {
        PwcLevel {
            keys: Vec::with_capacity(capacity),
            stamps: Vec::with_capacity(capacity),
            capacity,
            hint: 0,
        }
    }

    /// Index of the entry with key `key` (keys are unique within a level).
    #[inline]
    fn find(&mut self, key: u64) -> Option<usize> {
        if self.keys.get(self.hint) == Some(&key) {
            return Some(self.hint);
        }
        let i = self.keys.iter().position(|&k| k == key)?;
        self.hint = i;
        Some(i)
    }

    /// Keep only the entries whose key satisfies `keep` (order preserved).
    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let mut n = 0;
        for i in 0..self.keys.len() {
            if keep(self.keys[i]) {
                self.keys[n] = self.keys[i];
                self.stamps[n] = self.stamps[i];
                n += 1;
            }
        }
        self.keys.truncate(n);
        self.stamps.truncate(n);
    }
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

/// The key of the level-`level` entry for `va` in `asid`: the prefix in the
/// upper bits, the ASID in the low 16. Exact: a page number of a 64-bit
/// address has 52 bits, so a prefix has at most 43.
#[inline]
fn pwc_key(level: usize, asid: Asid, va: VirtAddr) -> u64 {
    ((va.page().0 >> prefix_shift(level)) << 16) | u64::from(asid.0)
}

/// The ASID of a packed PWC key.
#[inline]
fn key_asid(key: u64) -> u16 {
    #[allow(clippy::cast_possible_truncation, reason = "low 16 bits")]
    let a = key as u16;
    a
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
    levels: [PwcLevel; PWC_LEVELS],
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
            levels: capacity.map(PwcLevel::new),
            clock: 0,
        }
    }

    /// Entries per level (PML4E, PDPTE, PDE).
    #[must_use]
    pub fn capacities(&self) -> [usize; PWC_LEVELS] {
        [
            self.levels[0].capacity,
            self.levels[1].capacity,
            self.levels[2].capacity,
        ]
    }

    /// Valid entries over all levels.
    #[must_use]
    pub fn occupancy(&self) -> usize {
        self.levels.iter().map(|l| l.keys.len()).sum()
    }

    /// How many upper levels (0..=3) a walk of `va` in `asid` can skip: 3 if
    /// the PDE is cached, else 2 if the PDPTE is, else 1 if the PML4E is,
    /// else 0. The deepest hit entry becomes most recently used.
    #[inline]
    pub fn lookup_skip(&mut self, asid: Asid, va: VirtAddr) -> u32 {
        for (level, skip) in [(2usize, 3u32), (1, 2), (0, 1)] {
            let l = &mut self.levels[level];
            if let Some(i) = l.find(pwc_key(level, asid, va)) {
                self.clock += 1;
                l.stamps[i] = self.clock;
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
        let n = usize::try_from(levels).map_or(PWC_LEVELS, |l| l.min(PWC_LEVELS));
        for level in 0..n {
            let key = pwc_key(level, asid, va);
            self.clock += 1;
            let stamp = self.clock;
            let l = &mut self.levels[level];
            if let Some(i) = l.find(key) {
                l.stamps[i] = stamp;
                continue;
            }
            if l.capacity == 0 {
                continue;
            }
            if l.keys.len() < l.capacity {
                l.hint = l.keys.len();
                l.keys.push(key);
                l.stamps.push(stamp);
            } else if let Some(victim) = l
                .stamps
                .iter()
                .enumerate()
                .min_by_key(|&(_, &s)| s)
                .map(|(i, _)| i)
            {
                l.hint = victim;
                l.keys[victim] = key;
                l.stamps[victim] = stamp;
            }
        }
    }

    /// Remove the entries of `asid` used to translate `va` (one per level),
    /// as `INVLPG` does for that address.
    pub fn flush_addr(&mut self, asid: Asid, va: VirtAddr) {
        for (level, l) in self.levels.iter_mut().enumerate() {
            let key = pwc_key(level, asid, va);
            if l.find(key).is_some() {
                l.retain(|k| k != key);
            }
        }
    }

    /// Remove every entry of `asid`.
    pub fn flush_asid(&mut self, asid: Asid) {
        for l in &mut self.levels {
            if l.keys.iter().any(|&k| key_asid(k) == asid.0) {
                l.retain(|k| key_asid(k) != asid.0);
            }
        }
    }

    /// Remove every entry.
    pub fn flush_all(&mut self) {
        for l in &mut self.levels {
            l.keys.clear();
            l.stamps.clear();
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
