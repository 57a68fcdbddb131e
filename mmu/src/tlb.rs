//! Set-associative TLB levels and the per-CPU two-level TLB hierarchy.

use std::borrow::Borrow;

use crate::addr::{Asid, PageSize, PhysFrame, Translation, VirtAddr, VirtPage};
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

/// Bit of a slot's meta word set for a 2 MiB entry.
const META_2M: u64 = 1;
/// Shift of the ASID in a slot's meta word (bits 1..=16).
const META_ASID_SHIFT: u32 = 1;
/// Shift of the epoch in a slot's meta word (bits 17..=63).
const META_EPOCH_SHIFT: u32 = 17;
/// Largest epoch that fits a meta word; on overflow every slot is cleared.
const MAX_EPOCH: u64 = u64::MAX >> META_EPOCH_SHIFT;

/// The meta word of a slot holding an entry of `asid` and `size` valid in
/// `epoch`: `epoch << 17 | asid << 1 | is_2m`. Slot metas of an older epoch
/// (or 0: never filled / removed) are invalid.
#[inline]
const fn meta_word(epoch: u64, asid: Asid, size: PageSize) -> u64 {
    let huge = match size {
        PageSize::Size4K => 0,
        PageSize::Size2M => META_2M,
    };
    (epoch << META_EPOCH_SHIFT) | ((asid.0 as u64) << META_ASID_SHIFT) | huge
}

/// The tag of a slot: its base page (4 KiB units, aligned to the entry's
/// size) and its meta word ([`meta_word`]). A slot is valid iff the epoch of
/// its meta word is the TLB's current epoch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Tag {
    page: u64,
    meta: u64,
}

impl Tag {
    #[inline(always)]
    fn matches(self, page: u64, meta: u64) -> bool {
        (self.page ^ page) | (self.meta ^ meta) == 0
    }
}

/// The way with the smallest stamp (the first one on ties) of a set.
#[inline]
fn lru_way(stamps: &[u64]) -> usize {
    let mut best = 0;
    let mut min = u64::MAX;
    for (w, &s) in stamps.iter().enumerate() {
        if s < min {
            min = s;
            best = w;
        }
    }
    best
}

/// The valid ways of one set (bit `w` = way `w`), as of epoch `epoch`: in a
/// later epoch the set has no valid way (a flush does not visit the sets).
#[derive(Clone, Copy, Debug)]
struct SetState {
    epoch: u64,
    valid: u64,
}

/// Sets with at most this many ways keep a [`SetState`] bitmask.
const MAX_MASKED_WAYS: usize = 64;

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
    /// Associativity (`geometry.ways`).
    ways: usize,
    // Slots as parallel arrays (struct of arrays), `sets * ways` each; set
    // `s` is `[s * ways .. (s + 1) * ways]`.
    /// Tag of each slot.
    tags: Vec<Tag>,
    /// Base frame (4 KiB units) of each slot.
    frames: Vec<u64>,
    /// Value of the access clock at each slot's last use; larger = more
    /// recent. Unique among the valid slots.
    stamps: Vec<u64>,
    /// Page-table state token each slot was filled under (see
    /// [`crate::access`]); 0 = unknown (filled by [`insert`](Self::insert)).
    tokens: Vec<u64>,
    /// Valid-way bitmask of each set when `ways <= 64`; empty otherwise
    /// (then free ways are found by scanning the tags).
    set_states: Vec<SetState>,
    /// The bits of the `ways` ways (when `set_states` is used).
    ways_mask: u64,
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (index by mask, not modulo).
    set_mask: Option<u64>,
    /// Access clock for LRU stamps (one tick per insert or hit).
    clock: u64,
    /// Current epoch (>= 1): [`flush_all`](Self::flush_all) invalidates every
    /// slot in O(1) by starting a new epoch.
    epoch: u64,
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
        let masked = geometry.ways <= MAX_MASKED_WAYS;
        let empty_set = SetState { epoch: 0, valid: 0 };
        Ok(SetAssocTlb {
            geometry,
            ways: geometry.ways,
            tags: vec![Tag { page: 0, meta: 0 }; geometry.entries],
            frames: vec![0; geometry.entries],
            stamps: vec![0; geometry.entries],
            tokens: vec![0; geometry.entries],
            set_states: if masked {
                vec![empty_set; sets_usize]
            } else {
                Vec::new()
            },
            ways_mask: if masked {
                u64::MAX >> (64 - geometry.ways)
            } else {
                0
            },
            sets,
            set_mask: sets.is_power_of_two().then(|| sets - 1),
            clock: 0,
            epoch: 1,
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
        (0..self.tags.len())
            .filter(|&i| self.is_valid(self.tags[i].meta))
            .map(|i| self.slot(i))
    }

    #[inline(always)]
    fn is_valid(&self, meta: u64) -> bool {
        meta >> META_EPOCH_SHIFT == self.epoch
    }

    /// The translation held by slot `i`.
    #[inline]
    fn slot(&self, i: usize) -> Translation {
        let Tag { page, meta } = self.tags[i];
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the ASID field of a meta word is 16 bits"
        )]
        let asid = Asid((meta >> META_ASID_SHIFT) as u16);
        Translation {
            asid,
            page: VirtPage(page),
            frame: PhysFrame(self.frames[i]),
            size: if meta & META_2M == 0 {
                PageSize::Size4K
            } else {
                PageSize::Size2M
            },
        }
    }

    /// The set holding `base` (4 KiB units, aligned to `size`) for entries
    /// of size `size`.
    #[inline(always)]
    fn set_index(&self, base: VirtPage, size: PageSize) -> usize {
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
        set
    }

    /// Slot index of the valid entry tagged (asid, base, size) in set `set`,
    /// if any.
    #[inline(always)]
    fn find_in(&self, set: usize, asid: Asid, base: VirtPage, size: PageSize) -> Option<usize> {
        let start = set * self.ways;
        let (page, meta) = (base.0, meta_word(self.epoch, asid, size));
        self.tags[start..start + self.ways]
            .iter()
            .position(|t| t.matches(page, meta))
            .map(|w| start + w)
    }

    /// Slot index of the valid entry tagged (asid, base, size), if any.
    #[inline(always)]
    fn find(&self, asid: Asid, base: VirtPage, size: PageSize) -> Option<usize> {
        self.find_in(self.set_index(base, size), asid, base, size)
    }

    /// The 2 MiB half of [`find_covering`](Self::find_covering), kept out
    /// of line: most lookups hit a 4 KiB entry or no 2 MiB entry is resident.
    #[inline(never)]
    fn find_2m(&self, asid: Asid, page: VirtPage) -> Option<usize> {
        self.find(asid, page.align_down(PageSize::Size2M), PageSize::Size2M)
    }

    /// Slot index of the entry that translates `page` of `asid` (4 KiB entry
    /// first, then 2 MiB), if any.
    #[inline(always)]
    fn find_covering(&self, asid: Asid, page: VirtPage) -> Option<usize> {
        if let Some(i) = self.find(asid, page, PageSize::Size4K) {
            return Some(i);
        }
        if self.resident_2m > 0 {
            return self.find_2m(asid, page);
        }
        None
    }

    /// The first invalid way of set `set`, if any.
    #[inline(always)]
    fn free_way(&self, set: usize) -> Option<usize> {
        if self.set_states.is_empty() {
            let start = set * self.ways;
            return self.tags[start..start + self.ways]
                .iter()
                .position(|t| !self.is_valid(t.meta));
        }
        let st = self.set_states[set];
        let valid = if st.epoch == self.epoch { st.valid } else { 0 };
        let free = !valid & self.ways_mask;
        (free != 0).then(|| free.trailing_zeros() as usize)
    }

    #[inline(always)]
    fn touch(&mut self, i: usize) {
        self.clock += 1;
        self.stamps[i] = self.clock;
    }

    /// Invalidate slot `i`, way `i - set * ways` of set `set`.
    #[inline]
    fn remove(&mut self, set: usize, i: usize) {
        let meta = self.tags[i].meta;
        debug_assert!(self.is_valid(meta));
        self.tags[i].meta = 0;
        if let Some(st) = self.set_states.get_mut(set) {
            debug_assert_eq!(st.epoch, self.epoch);
            st.valid &= !(1 << (i - set * self.ways));
        }
        self.occupancy -= 1;
        if meta & META_2M != 0 {
            self.resident_2m -= 1;
        }
    }

    /// Look up the translation of `va` in address space `asid`; a hit makes
    /// the entry most recently used. Finds 4 KiB and 2 MiB entries (a 4 KiB
    /// entry wins if both are resident).
    #[inline]
    pub fn lookup(&mut self, asid: Asid, va: VirtAddr) -> Option<Translation> {
        self.lookup_token(asid, va).map(|(t, _)| t)
    }

    /// [`lookup`](Self::lookup), also returning the page-table state token
    /// the entry was filled under (0 = unknown).
    #[inline(always)]
    fn lookup_token(&mut self, asid: Asid, va: VirtAddr) -> Option<(Translation, u64)> {
        let i = self.find_covering(asid, va.page())?;
        self.touch(i);
        Some((self.slot(i), self.tokens[i]))
    }

    /// Whether a lookup of `va` in `asid` would hit; does not update LRU.
    #[must_use]
    pub fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        self.find_covering(asid, va.page()).is_some()
    }

    /// `t` with page and frame aligned down to its size.
    #[inline(always)]
    fn aligned(t: Translation) -> Translation {
        Translation {
            page: t.page.align_down(t.size),
            frame: PhysFrame(t.frame.0 & !(t.size.pages_4k() - 1)),
            ..t
        }
    }

    /// Insert `t` as the most recently used entry of its set and return the
    /// entry evicted to make room (the set's LRU entry), if any. If an entry
    /// with the same tag (asid, page, size) is present it is updated in
    /// place (new frame), made MRU, and nothing is evicted. The page and
    /// frame of a 2 MiB translation are aligned down to 2 MiB.
    pub fn insert(&mut self, t: Translation) -> Option<Translation> {
        let t = Self::aligned(t);
        let set = self.set_index(t.page, t.size);
        if let Some(i) = self.find_in(set, t.asid, t.page, t.size) {
            self.frames[i] = t.frame.0;
            self.tokens[i] = 0;
            self.touch(i);
            return None;
        }
        self.place(set, t, 0)
    }

    /// Insert `t`, whose tag is known not to be resident (a lookup of an
    /// address it covers just missed this level): as [`insert`](Self::insert)
    /// without the tag match; the entry records page-table state token
    /// `token`.
    #[inline]
    fn insert_absent(&mut self, t: Translation, token: u64) -> Option<Translation> {
        let t = Self::aligned(t);
        debug_assert!(self.find(t.asid, t.page, t.size).is_none());
        self.place(self.set_index(t.page, t.size), t, token)
    }

    /// Put `t` (aligned, tag not resident) in set `set`, recording `token`:
    /// in its first invalid way, else over the set's LRU entry, which is
    /// returned.
    #[inline]
    fn place(&mut self, set: usize, t: Translation, token: u64) -> Option<Translation> {
        let start = set * self.ways;
        let (w, evicted) = match self.free_way(set) {
            Some(w) => (w, None),
            None => {
                let w = lru_way(&self.stamps[start..start + self.ways]);
                let old = self.slot(start + w);
                self.remove(set, start + w);
                (w, Some(old))
            }
        };
        let i = start + w;
        let meta = meta_word(self.epoch, t.asid, t.size);
        self.tags[i] = Tag {
            page: t.page.0,
            meta,
        };
        self.frames[i] = t.frame.0;
        self.tokens[i] = token;
        self.touch(i);
        let epoch = self.epoch;
        if let Some(st) = self.set_states.get_mut(set) {
            if st.epoch != epoch {
                *st = SetState { epoch, valid: 0 };
            }
            st.valid |= 1 << w;
        }
        self.occupancy += 1;
        if meta & META_2M != 0 {
            self.resident_2m += 1;
        }
        evicted
    }

    /// `INVLPG` semantics: remove every entry of `asid` that covers 4 KiB
    /// page `page` (a 4 KiB entry for it and a 2 MiB entry containing it).
    /// Returns whether anything was removed.
    pub fn invalidate_page(&mut self, asid: Asid, page: VirtPage) -> bool {
        let mut removed = false;
        let set = self.set_index(page, PageSize::Size4K);
        if let Some(i) = self.find_in(set, asid, page, PageSize::Size4K) {
            self.remove(set, i);
            removed = true;
        }
        if self.resident_2m > 0 {
            let base = page.align_down(PageSize::Size2M);
            let set = self.set_index(base, PageSize::Size2M);
            if let Some(i) = self.find_in(set, asid, base, PageSize::Size2M) {
                self.remove(set, i);
                removed = true;
            }
        }
        removed
    }

    /// Remove every entry of address space `asid` (`INVPCID` single-context);
    /// returns the number removed.
    pub fn invalidate_asid(&mut self, asid: Asid) -> usize {
        if self.occupancy == 0 {
            return 0;
        }
        // A valid entry of `asid` has this meta word, ignoring the size bit.
        let want = meta_word(self.epoch, asid, PageSize::Size4K);
        let mut n = 0usize;
        let mut n_2m = 0usize;
        for (set, tags) in self.tags.chunks_exact_mut(self.ways).enumerate() {
            let mut removed = 0u64;
            for (w, t) in tags.iter_mut().enumerate() {
                if t.meta & !META_2M == want {
                    n += 1;
                    n_2m += usize::from(t.meta & META_2M != 0);
                    t.meta = 0;
                    if w < MAX_MASKED_WAYS {
                        removed |= 1 << w;
                    }
                }
            }
            if removed != 0 {
                if let Some(st) = self.set_states.get_mut(set) {
                    st.valid &= !removed;
                }
            }
        }
        self.occupancy -= n;
        self.resident_2m -= n_2m;
        n
    }

    /// Remove every entry; returns the number removed. O(1): starts a new
    /// epoch, in which every slot and set state of an older epoch is invalid.
    pub fn flush_all(&mut self) -> usize {
        let n = self.occupancy;
        if n == 0 {
            // Nothing valid: the slots are already all invalid.
            return 0;
        }
        self.epoch += 1;
        if self.epoch > MAX_EPOCH {
            for t in &mut self.tags {
                t.meta = 0;
            }
            for st in &mut self.set_states {
                *st = SetState { epoch: 0, valid: 0 };
            }
            self.epoch = 1;
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
        self.lookup_token(asid, va).0
    }

    /// [`lookup`](Self::lookup), also returning the page-table state token
    /// the hit entry was filled under (0 = unknown or miss).
    #[inline]
    pub(crate) fn lookup_token(&mut self, asid: Asid, va: VirtAddr) -> (TlbLookup, u64) {
        if let Some((t, token)) = self.l1.lookup_token(asid, va) {
            return (TlbLookup::L1Hit(t), token);
        }
        if let Some(l2) = &mut self.l2 {
            if let Some((t, token)) = l2.lookup_token(asid, va) {
                // The L1 lookup of `va` just missed: `t`'s tag is not in L1.
                self.l1.insert_absent(t, token);
                return (TlbLookup::L2Hit(t), token);
            }
        }
        (TlbLookup::Miss, 0)
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

    /// [`fill`](Self::fill) right after a [`lookup`](Self::lookup) of an
    /// address `t` covers returned [`TlbLookup::Miss`] (so no level holds
    /// `t`'s tag), with `t` the result of a walk of a page table in state
    /// `token`.
    #[inline]
    pub(crate) fn fill_after_miss(&mut self, t: Translation, token: u64) {
        self.l1.insert_absent(t, token);
        if let Some(l2) = &mut self.l2 {
            l2.insert_absent(t, token);
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
