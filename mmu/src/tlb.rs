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

    /// The most entries one TLB may have: 65,536, 21x the largest shipping
    /// STLB (AMD Zen 4's 3,072-entry L2 DTLB), so any real or hypothetical
    /// TLB fits while a typo (`2^32`) is refused before it allocates.
    pub const MAX_ENTRIES: usize = 65_536;

    /// Check that `entries > 0`, `ways > 0`, `entries % ways == 0` and
    /// `entries <= MAX_ENTRIES`.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] naming the violated rule.
    pub fn validate(&self) -> Result<(), MmuError> {
        let reason = if self.entries == 0 {
            "entries must be > 0"
        } else if self.ways == 0 {
            "ways must be > 0"
        } else if !self.entries.is_multiple_of(self.ways) {
            "entries must be a multiple of ways"
        } else if self.entries > Self::MAX_ENTRIES {
            "entries must be at most 65536"
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

/// Bit of a key set in every valid slot (an invalid slot's key is 0).
const KEY_VALID: u64 = 1;
/// Bit of a key set for a 2 MiB entry.
const KEY_2M: u64 = 2;
/// Shift of the ASID in a key (bits 2..=17).
const KEY_ASID_SHIFT: u32 = 2;
/// Shift of the low bits of the base page in a key (bits 18..=63).
const KEY_PAGE_SHIFT: u32 = 18;
/// The base page bits above those a key holds (`page >> HI_SHIFT`, 0 in the
/// canonical 48-bit address space) are kept in `SetAssocTlb::his`.
const HI_SHIFT: u32 = 64 - KEY_PAGE_SHIFT;

/// The key of a slot holding an entry of `asid` and `size` for base page
/// `page` (its low 46 bits):
/// `page << 18 | asid << 2 | is_2m << 1 | 1`. Never 0.
#[inline(always)]
const fn key_of(page: u64, asid: Asid, size: PageSize) -> u64 {
    let huge = match size {
        PageSize::Size4K => 0,
        PageSize::Size2M => KEY_2M,
    };
    (page << KEY_PAGE_SHIFT) | ((asid.0 as u64) << KEY_ASID_SHIFT) | huge | KEY_VALID
}

/// Words of a slot's record: frame, token.
const REC_WORDS: usize = 2;
/// Base frame (4 KiB units) of the slot.
const REC_FRAME: usize = 0;
/// Page-table state token the slot was filled under (see [`crate::access`]);
/// 0 = unknown (filled by [`SetAssocTlb::insert`]).
const REC_TOKEN: usize = 1;
/// Sets of at most this many ways keep their LRU order in one word and their
/// valid ways in their fingerprints (else: stamps and keys).
const ORDER_WAYS: usize = 16;
/// Sets of at most this many ways are probed by comparing every key, larger
/// sets by their fingerprints first.
const SCAN_WAYS: usize = 8;
/// Index in a set block of the recency order word.
const ORDER: usize = 1;
/// Index in a set block of the first key.
const KEYS: usize = 4;
/// Index in a set block of the first fingerprint word (ways 0..8; the next
/// word holds ways 8..16).
const FPS: usize = 2;

/// The fingerprint of a key, 1..=255: byte `w % 8` of word `FPS + w / 8` of
/// a set block with `ways <= ORDER_WAYS` is the fingerprint of way `w`'s key,
/// or 0 if the way is invalid.
#[inline(always)]
const fn fingerprint(key: u64) -> u64 {
    let f = key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
    f | (f == 0) as u64
}

/// The high bit of each zero byte of `x`, exactly.
#[inline(always)]
const fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Words per cache line.
const LINE_WORDS: usize = 8;

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
#[derive(Debug)]
pub struct SetAssocTlb {
    geometry: TlbGeometry,
    /// Associativity (`geometry.ways`).
    ways: usize,
    // Each set is one cache-line-aligned block of `stride` words of `words`
    // (from `off + set * stride`), so an access touches few cache lines:
    // * word 0: the epoch the set was last written in (in any other epoch
    //   all its slots are invalid);
    // * word `ORDER`, when `ways <= ORDER_WAYS`: its recency order, nibble
    //   `r` = the way of rank `r` (0 = most recently used), a permutation of
    //   the ways, so the valid ways are in LRU order (exact LRU);
    // * words `FPS..FPS + 2`, when `ways <= ORDER_WAYS`: the fingerprint of
    //   each way ([`fingerprint`]; 0 = invalid);
    // * words `KEYS..KEYS + ways`: the keys of its ways ([`key_of`];
    //   0 = invalid);
    // * from word `recs`: one record of `REC_WORDS` words (frame, token)
    //   per way.
    words: Vec<u64>,
    /// Index in `words` of the first block (aligns the blocks to 64 bytes).
    off: usize,
    /// Words per set block.
    stride: usize,
    /// Offset of the first record in a block.
    recs: usize,
    /// When `ways > ORDER_WAYS`: value of the access clock at each slot's
    /// (`set * ways + way`) last use; larger = more recent, unique among
    /// the valid slots. Empty otherwise.
    stamps: Vec<u64>,
    /// `page >> HI_SHIFT` of each slot's base page, kept once `wide`.
    his: Vec<u64>,
    /// The high bits of the fingerprint bytes of the ways, in the two
    /// fingerprint words (`ways <= ORDER_WAYS`).
    fp_lanes: [u64; 2],
    /// The nibbles of the ranks of a recency order word.
    order_mask: u64,
    /// Whether a page with nonzero high bits was ever inserted (until then
    /// every slot's high bits are 0 and `his` is not read or written).
    wide: bool,
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (index by mask, not modulo).
    set_mask: Option<u64>,
    /// Access clock for LRU stamps (one tick per insert or hit; used when
    /// `ways > ORDER_WAYS`).
    clock: u64,
    /// Current epoch (>= 1): [`flush_all`](Self::flush_all) invalidates every
    /// slot in O(1) by starting a new epoch.
    epoch: u64,
    occupancy: usize,
    resident_2m: usize,
}

/// `words` zeroed with room for `len` words from an offset aligned to 64
/// bytes; returns the buffer and the offset.
fn aligned_words(len: usize) -> (Vec<u64>, usize) {
    let words = vec![0u64; len + LINE_WORDS - 1];
    let addr = words.as_ptr() as usize;
    let off = ((64 - addr % 64) % 64) / 8;
    (words, off)
}

impl Clone for SetAssocTlb {
    fn clone(&self) -> Self {
        let len = self.sets_len();
        let (mut words, off) = aligned_words(len);
        words[off..off + len].copy_from_slice(&self.words[self.off..self.off + len]);
        SetAssocTlb {
            geometry: self.geometry,
            ways: self.ways,
            words,
            off,
            stride: self.stride,
            recs: self.recs,
            stamps: self.stamps.clone(),
            his: self.his.clone(),
            fp_lanes: self.fp_lanes,
            order_mask: self.order_mask,
            wide: self.wide,
            sets: self.sets,
            set_mask: self.set_mask,
            clock: self.clock,
            epoch: self.epoch,
            occupancy: self.occupancy,
            resident_2m: self.resident_2m,
        }
    }
}

impl SetAssocTlb {
    /// An empty TLB level of the given geometry.
    ///
    /// # Errors
    /// [`MmuError::InvalidGeometry`] if `geometry` fails [`TlbGeometry::validate`].
    pub fn new(geometry: TlbGeometry) -> Result<Self, MmuError> {
        geometry.validate()?;
        let too_big = MmuError::InvalidGeometry {
            entries: geometry.entries,
            ways: geometry.ways,
            reason: "too many sets",
        };
        let sets_usize = geometry.sets();
        let sets = u64::try_from(sets_usize).map_err(|_| too_big)?;
        let ways = geometry.ways;
        let recs = (KEYS + ways).next_multiple_of(REC_WORDS);
        let stride = ways
            .checked_mul(REC_WORDS)
            .and_then(|r| r.checked_add(recs))
            .and_then(|s| s.checked_next_multiple_of(LINE_WORDS))
            .ok_or(too_big)?;
        let len = sets_usize.checked_mul(stride).ok_or(too_big)?;
        let (mut words, off) = aligned_words(len);
        if ways <= ORDER_WAYS {
            // Initial recency order: way `r` has rank `r`.
            let order = (0..ways).fold(0u64, |o, w| o | ((w as u64) << (4 * w)));
            for blk in words[off..off + len].chunks_exact_mut(stride) {
                blk[ORDER] = order;
            }
        }
        let masked = ways <= ORDER_WAYS;
        Ok(SetAssocTlb {
            geometry,
            ways,
            words,
            off,
            stride,
            recs,
            stamps: if masked {
                Vec::new()
            } else {
                vec![0; geometry.entries]
            },
            his: vec![0; geometry.entries],
            fp_lanes: [0, 1].map(|word| {
                (0..8)
                    .filter(|b| word * 8 + b < ways)
                    .fold(0, |m, b| m | (0x80 << (8 * b)))
            }),
            order_mask: u64::MAX >> (64 - 4 * ways.clamp(1, ORDER_WAYS)),
            wide: false,
            sets,
            set_mask: sets.is_power_of_two().then(|| sets - 1),
            clock: 0,
            epoch: 1,
            occupancy: 0,
            resident_2m: 0,
        })
    }

    /// Words of all set blocks.
    fn sets_len(&self) -> usize {
        self.geometry.sets() * self.stride
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
        let blocks = self.words[self.off..self.off + self.sets_len()].chunks_exact(self.stride);
        blocks
            .enumerate()
            .filter(|(_, blk)| blk[0] == self.epoch)
            .flat_map(move |(set, blk)| {
                (0..self.ways)
                    .filter(move |&w| blk[KEYS + w] != 0)
                    .map(move |w| self.decode(blk, set, w))
            })
    }

    /// The translation held by way `w` of set `set`, whose block is `blk`.
    #[inline(always)]
    fn decode(&self, blk: &[u64], set: usize, w: usize) -> Translation {
        let key = blk[KEYS + w];
        let rec = self.recs + w * REC_WORDS;
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the ASID field of a key is 16 bits"
        )]
        let asid = Asid((key >> KEY_ASID_SHIFT) as u16);
        let mut page = key >> KEY_PAGE_SHIFT;
        if self.wide {
            page |= self.his[set * self.ways + w] << HI_SHIFT;
        }
        Translation {
            asid,
            page: VirtPage(page),
            frame: PhysFrame(blk[rec + REC_FRAME]),
            size: if key & KEY_2M == 0 {
                PageSize::Size4K
            } else {
                PageSize::Size2M
            },
        }
    }

    /// Whether some set of this level could hold entries for both pages
    /// (see [`TlbHierarchy::may_share_set`]).
    #[inline]
    fn may_share_set(&self, a: VirtPage, b: VirtPage) -> bool {
        let s4 = |p: VirtPage| self.set_index(p, PageSize::Size4K);
        if s4(a) == s4(b) {
            return true;
        }
        if self.resident_2m == 0 {
            return false;
        }
        let s2 = |p: VirtPage| self.set_index(p.align_down(PageSize::Size2M), PageSize::Size2M);
        s2(a) == s2(b) || s2(a) == s4(b) || s4(a) == s2(b)
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

    /// Index in `words` of set `set`'s block.
    #[inline(always)]
    fn block(&self, set: usize) -> usize {
        self.off + set * self.stride
    }

    /// Way of the valid entry tagged (asid, base, size) in set `set`, if any.
    #[inline(always)]
    fn find_in(&self, set: usize, asid: Asid, base: VirtPage, size: PageSize) -> Option<usize> {
        let b = self.block(set);
        let blk = &self.words[b..b + self.stride];
        if blk[0] != self.epoch {
            return None;
        }
        let key = key_of(base.0, asid, size);
        let hi = base.0 >> HI_SHIFT;
        if !self.wide && hi != 0 {
            // Every resident page has high bits 0.
            return None;
        }
        let keys = &blk[KEYS..KEYS + self.ways];
        if self.ways <= SCAN_WAYS && !self.wide {
            // A few keys (one cache line): compare them all directly.
            return keys.iter().position(|&k| k == key);
        }
        if self.ways <= ORDER_WAYS {
            let fp = fingerprint(key) * 0x0101_0101_0101_0101;
            let mut m = zero_bytes(blk[FPS] ^ fp) & self.fp_lanes[0];
            while m != 0 {
                let w = m.trailing_zeros() as usize / 8;
                if keys[w] == key && (!self.wide || self.his[set * self.ways + w] == hi) {
                    return Some(w);
                }
                m &= m - 1;
            }
            if self.ways > 8 {
                let mut m = zero_bytes(blk[FPS + 1] ^ fp) & self.fp_lanes[1];
                while m != 0 {
                    let w = 8 + m.trailing_zeros() as usize / 8;
                    if keys[w] == key && (!self.wide || self.his[set * self.ways + w] == hi) {
                        return Some(w);
                    }
                    m &= m - 1;
                }
            }
            return None;
        }
        if !self.wide {
            return keys.iter().position(|&k| k == key);
        }
        let his = &self.his[set * self.ways..(set + 1) * self.ways];
        keys.iter()
            .zip(his)
            .position(|(&k, &h)| k == key && h == hi)
    }

    /// (set, way) of the entry that translates `page` of `asid` (4 KiB entry
    /// first, then 2 MiB), if any.
    #[inline(always)]
    fn find_covering(&self, asid: Asid, page: VirtPage) -> Option<(usize, usize)> {
        let set = self.set_index(page, PageSize::Size4K);
        if let Some(w) = self.find_in(set, asid, page, PageSize::Size4K) {
            return Some((set, w));
        }
        if self.resident_2m > 0 {
            return self.find_2m(asid, page);
        }
        None
    }

    /// The 2 MiB half of [`find_covering`](Self::find_covering), kept out
    /// of line: most lookups hit a 4 KiB entry or no 2 MiB entry is resident.
    #[inline(never)]
    fn find_2m(&self, asid: Asid, page: VirtPage) -> Option<(usize, usize)> {
        let base = page.align_down(PageSize::Size2M);
        let set = self.set_index(base, PageSize::Size2M);
        self.find_in(set, asid, base, PageSize::Size2M)
            .map(|w| (set, w))
    }

    /// Invalidate way `w` of set `set` (valid).
    #[inline]
    fn remove(&mut self, set: usize, w: usize) {
        let b = self.block(set);
        let key = self.words[b + KEYS + w];
        debug_assert!(key != 0);
        self.words[b + KEYS + w] = 0;
        if self.ways <= ORDER_WAYS {
            self.words[b + FPS + w / 8] &= !(0xff << (8 * (w % 8)));
        }
        self.occupancy -= 1;
        if key & KEY_2M != 0 {
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
        let (set, w) = self.find_covering(asid, va.page())?;
        self.touch(set, w);
        let b = self.block(set);
        let blk = &self.words[b..b + self.stride];
        let token = blk[self.recs + w * REC_WORDS + REC_TOKEN];
        Some((self.decode(blk, set, w), token))
    }

    /// Whether a lookup of `va` in `asid` would hit; does not update LRU.
    #[must_use]
    pub fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        self.find_covering(asid, va.page()).is_some()
    }

    /// The entry a lookup of `va` in `asid` would hit, if any; does not
    /// update LRU.
    #[must_use]
    pub fn peek(&self, asid: Asid, va: VirtAddr) -> Option<Translation> {
        let (set, w) = self.find_covering(asid, va.page())?;
        let b = self.block(set);
        Some(self.decode(&self.words[b..b + self.stride], set, w))
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
        if let Some(w) = self.find_in(set, t.asid, t.page, t.size) {
            let rec = self.block(set) + self.recs + w * REC_WORDS;
            self.words[rec + REC_FRAME] = t.frame.0;
            self.words[rec + REC_TOKEN] = 0;
            self.touch(set, w);
            return None;
        }
        self.place::<true>(set, t, 0)
    }

    /// Insert `t`, whose tag is known not to be resident (a lookup of an
    /// address it covers just missed this level): as [`insert`](Self::insert)
    /// without the tag match; the entry records page-table state token
    /// `token`.
    #[inline]
    fn insert_absent(&mut self, t: Translation, token: u64) {
        let t = Self::aligned(t);
        debug_assert!(self
            .find_in(self.set_index(t.page, t.size), t.asid, t.page, t.size)
            .is_none());
        self.place::<false>(self.set_index(t.page, t.size), t, token);
    }

    /// Make way `w` of set `set` the most recently used.
    #[inline(always)]
    fn touch(&mut self, set: usize, w: usize) {
        if self.ways <= ORDER_WAYS {
            let o = self.block(set) + ORDER;
            self.words[o] = order_touch(self.words[o], w);
        } else {
            self.clock += 1;
            self.stamps[set * self.ways + w] = self.clock;
        }
    }

    /// The least recently used way of set `set` (all its ways valid) when
    /// `ways > ORDER_WAYS`: the smallest stamp.
    #[inline]
    fn lru_way(&self, set: usize) -> usize {
        let start = set * self.ways;
        let mut best = 0;
        let mut min = u64::MAX;
        for (w, &s) in self.stamps[start..start + self.ways].iter().enumerate() {
            if s < min {
                min = s;
                best = w;
            }
        }
        best
    }

    /// Put `t` (aligned, tag not resident) in set `set`, recording `token`:
    /// in its first invalid way, else over the set's LRU entry, which is
    /// returned if `REPORT`.
    #[inline]
    fn place<const REPORT: bool>(
        &mut self,
        set: usize,
        t: Translation,
        token: u64,
    ) -> Option<Translation> {
        let b = self.block(set);
        let (ways, epoch) = (self.ways, self.epoch);
        let blk = &mut self.words[b..b + self.stride];
        if blk[0] != epoch {
            // First write to the set in this epoch: its slots are invalid.
            blk[0] = epoch;
            blk[KEYS..KEYS + ways].fill(0);
            blk[FPS] = 0;
            blk[FPS + 1] = 0;
        }
        let mut evicted = None;
        let key = key_of(t.page.0, t.asid, t.size);
        let w = if ways <= ORDER_WAYS {
            let order = blk[ORDER];
            let m = zero_bytes(blk[FPS]) & self.fp_lanes[0];
            let free = if m != 0 {
                Some(m.trailing_zeros() as usize / 8)
            } else if ways > 8 {
                let m = zero_bytes(blk[FPS + 1]) & self.fp_lanes[1];
                (m != 0).then(|| 8 + m.trailing_zeros() as usize / 8)
            } else {
                None
            };
            let w = if let Some(w) = free {
                // The first free way.
                blk[ORDER] = order_touch(order, w);
                self.occupancy += 1;
                w
            } else {
                // Full: evict the LRU way, which becomes the MRU.
                #[allow(clippy::cast_possible_truncation, reason = "a nibble")]
                let w = ((order >> (4 * (ways - 1))) & 0xf) as usize;
                blk[ORDER] = ((order << 4) | w as u64) & self.order_mask;
                let old_key = blk[KEYS + w];
                self.resident_2m -= usize::from(old_key & KEY_2M != 0);
                if REPORT {
                    evicted = Some(self.decode(&self.words[b..b + self.stride], set, w));
                }
                w
            };
            let blk = &mut self.words[b..b + self.stride];
            let f = FPS + w / 8;
            let shift = 8 * (w % 8);
            blk[f] = (blk[f] & !(0xff << shift)) | (fingerprint(key) << shift);
            w
        } else {
            let w = match blk[KEYS..KEYS + ways].iter().position(|&k| k == 0) {
                Some(w) => w,
                None => {
                    let w = self.lru_way(set);
                    if REPORT {
                        evicted = Some(self.decode(&self.words[b..b + self.stride], set, w));
                    }
                    self.remove(set, w);
                    w
                }
            };
            self.touch(set, w);
            self.occupancy += 1;
            w
        };
        let hi = t.page.0 >> HI_SHIFT;
        if hi != 0 {
            // Until now every slot's high bits were 0, as `his` says.
            self.wide = true;
        }
        if self.wide {
            self.his[set * ways + w] = hi;
        }
        let rec = b + self.recs + w * REC_WORDS;
        self.words[b + KEYS + w] = key;
        self.words[rec + REC_FRAME] = t.frame.0;
        self.words[rec + REC_TOKEN] = token;
        if key & KEY_2M != 0 {
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
        if let Some(w) = self.find_in(set, asid, page, PageSize::Size4K) {
            self.remove(set, w);
            removed = true;
        }
        if self.resident_2m > 0 {
            let base = page.align_down(PageSize::Size2M);
            let set = self.set_index(base, PageSize::Size2M);
            if let Some(w) = self.find_in(set, asid, base, PageSize::Size2M) {
                self.remove(set, w);
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
        // A valid entry of `asid` has these key bits.
        let field = (0xffff << KEY_ASID_SHIFT) | KEY_VALID;
        let want = key_of(0, asid, PageSize::Size4K) & field;
        let (epoch, ways, len) = (self.epoch, self.ways, self.sets_len());
        let mut n = 0usize;
        let mut n_2m = 0usize;
        for blk in self.words[self.off..self.off + len].chunks_exact_mut(self.stride) {
            if blk[0] != epoch {
                continue;
            }
            let mut removed = [0u64; 2];
            for (w, k) in blk[KEYS..KEYS + ways].iter_mut().enumerate() {
                if *k & field == want {
                    n += 1;
                    n_2m += usize::from(*k & KEY_2M != 0);
                    *k = 0;
                    if w < ORDER_WAYS {
                        removed[w / 8] |= 0xff << (8 * (w % 8));
                    }
                }
            }
            if ways <= ORDER_WAYS {
                blk[FPS] &= !removed[0];
                blk[FPS + 1] &= !removed[1];
            }
        }
        self.occupancy -= n;
        self.resident_2m -= n_2m;
        n
    }

    /// Remove every entry; returns the number removed. O(1): starts a new
    /// epoch, in which every set block of an older epoch is invalid.
    pub fn flush_all(&mut self) -> usize {
        let n = self.occupancy;
        if n == 0 {
            // Nothing valid: the slots are already all invalid.
            return 0;
        }
        self.epoch += 1;
        self.occupancy = 0;
        self.resident_2m = 0;
        n
    }
}

/// Recency order `order` (see [`SetAssocTlb`]) after a use of way `w`:
/// `w`'s nibble moves to rank 0, the ranks before it move down one.
#[inline(always)]
fn order_touch(order: u64, w: usize) -> u64 {
    const LOW3: u64 = 0x7777_7777_7777_7777;
    const HIGH: u64 = 0x8888_8888_8888_8888;
    let w = w as u64;
    // Nibbles of `x` are 0 exactly where `order` holds `w`; the first such
    // is `w`'s rank (nibbles past the ways are 0 in `order` and come later).
    let x = order ^ (w * 0x1111_1111_1111_1111);
    let nonzero = (((x & LOW3) + LOW3) | x) & HIGH;
    let at = (!nonzero & HIGH).trailing_zeros() - 3;
    let below = (1u64 << at) - 1;
    (order & !(below | (0xf << at))) | ((order & below) << 4) | w
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

/// Which level a [`TlbHierarchy::lookup_or_fill`] found its translation in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HitLevel {
    /// The first-level TLB.
    L1,
    /// The second-level TLB (L1 has been filled).
    L2,
    /// Neither: the walk's translation was filled into every level.
    Walk,
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

    /// [`lookup`](Self::lookup), then on a miss [`fill`](Self::fill) with
    /// `walk()` (which must cover `va`), in one call that builds no
    /// [`Translation`] for an L1 hit and skips `fill`'s tag search (the
    /// lookup just showed the tag absent): the count-only path of an
    /// address replay (`tlbsim tlb`). The TLB state afterwards is exactly
    /// that of `lookup` + `fill` (page-table token 0, as `fill` records);
    /// `traces`' property tests check the counts against them.
    #[inline]
    pub fn lookup_or_fill(
        &mut self,
        asid: Asid,
        va: VirtAddr,
        walk: impl FnOnce() -> Translation,
    ) -> HitLevel {
        if let Some((set, w)) = self.l1.find_covering(asid, va.page()) {
            self.l1.touch(set, w);
            return HitLevel::L1;
        }
        if let Some(l2) = &mut self.l2 {
            if let Some((t, token)) = l2.lookup_token(asid, va) {
                self.l1.insert_absent(t, token);
                return HitLevel::L2;
            }
        }
        let t = walk();
        debug_assert!(
            t.page.align_down(t.size) == va.page().align_down(t.size),
            "the walk's translation covers the address"
        );
        self.fill_after_miss(t, 0);
        HitLevel::Walk
    }

    /// Whether a lookup of `va` in `asid` would hit in some level (no LRU
    /// update, no fill).
    #[must_use]
    pub fn contains(&self, asid: Asid, va: VirtAddr) -> bool {
        self.l1.contains(asid, va) || self.l2.as_ref().is_some_and(|l2| l2.contains(asid, va))
    }

    /// Whether some level holds an entry (current or stale) for any of
    /// `pages` in `asid`: a read-only query, no LRU update (an oracle of
    /// which CPUs a shootdown must reach).
    pub fn holds_any<I>(&self, asid: Asid, pages: I) -> bool
    where
        I: IntoIterator,
        I::Item: Borrow<VirtPage>,
    {
        pages
            .into_iter()
            .any(|p| self.contains(asid, p.borrow().addr()))
    }

    /// Whether some level caches a translation of 4 KiB page `page` of
    /// `asid` to `frame` (current or stale): a read-only query, no LRU
    /// update.
    #[must_use]
    pub fn caches_frame(&self, asid: Asid, page: VirtPage, frame: PhysFrame) -> bool {
        let to =
            |t: Option<Translation>| t.is_some_and(|t| t.frame.0 + (page.0 - t.page.0) == frame.0);
        to(self.l1.peek(asid, page.addr()))
            || self
                .l2
                .as_ref()
                .is_some_and(|l2| to(l2.peek(asid, page.addr())))
    }

    /// Whether a fill for an access to `filled` may have evicted an entry
    /// that translates `cached`: some level has a set that could hold
    /// both (for 4 KiB entries, and for 2 MiB ones where that level holds
    /// any). `false` is certain: no fill for `filled` touches the sets
    /// `cached`'s entries live in, so an entry for `cached` it found cached
    /// before is still cached. A cheap filter before
    /// [`caches_frame`](Self::caches_frame).
    #[must_use]
    #[inline]
    pub fn may_share_set(&self, filled: VirtPage, cached: VirtPage) -> bool {
        self.l1.may_share_set(filled, cached)
            || self
                .l2
                .as_ref()
                .is_some_and(|l2| l2.may_share_set(filled, cached))
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
    fn holds_any_sees_every_level_and_changes_nothing() {
        let cfg = TlbConfig {
            l1: geo(1, 1),
            l2: Some(geo(4, 4)),
        };
        let mut h = TlbHierarchy::new(cfg).unwrap();
        let a = Asid(1);
        assert!(!h.holds_any(a, [VirtPage(1), VirtPage(2)]));
        h.fill(t4k(1, 1, 10));
        h.fill(t4k(1, 2, 20)); // page 1 now only in L2.
        assert!(
            h.holds_any(a, [VirtPage(7), VirtPage(1)]),
            "an L2 entry counts"
        );
        assert!(h.holds_any(a, [VirtPage(2)].iter()));
        assert!(!h.holds_any(a, [VirtPage(3)]));
        assert!(
            !h.holds_any(Asid(2), [VirtPage(1), VirtPage(2)]),
            "per ASID"
        );
        // Read only: page 1 stays out of L1 (no refill, no LRU update).
        assert_eq!(h.occupancy(), 3);
        assert_eq!(
            h.lookup(a, VirtPage(1).addr()),
            TlbLookup::L2Hit(t4k(1, 1, 10))
        );
        h.flush_page(a, VirtPage(1));
        h.flush_page(a, VirtPage(2));
        assert!(!h.holds_any(a, [VirtPage(1), VirtPage(2)]));
    }

    #[test]
    fn caches_frame_sees_either_level_and_only_the_cached_frame() {
        let mut h = TlbHierarchy::new(TlbConfig::default()).unwrap();
        h.fill(t4k(1, 100, 7));
        assert!(h.caches_frame(Asid(1), VirtPage(100), PhysFrame(7)));
        assert!(!h.caches_frame(Asid(1), VirtPage(100), PhysFrame(8)));
        assert!(!h.caches_frame(Asid(2), VirtPage(100), PhysFrame(7)));
        h.l1.flush_all();
        assert!(
            h.caches_frame(Asid(1), VirtPage(100), PhysFrame(7)),
            "in L2"
        );
        h.flush_page(Asid(1), VirtPage(100));
        assert!(!h.caches_frame(Asid(1), VirtPage(100), PhysFrame(7)));
        h.fill(t2m(1, 512, 1024));
        assert!(h.caches_frame(Asid(1), VirtPage(515), PhysFrame(1027)));
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
