//! An x86-64 4-level radix page table (PML4, PDPT, PD, PT) for one address
//! space, with 4 KiB (PT-level) and 2 MiB (PD-level) leaves.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::addr::{PageSize, PhysFrame, VirtAddr, VirtPage};
use crate::MmuError;

/// Next block of state tokens to hand out ([`PageTable::token`]); block 0 is
/// never used, so no valid token is 0.
static NEXT_TOKEN_BLOCK: AtomicU64 = AtomicU64::new(1);

/// Versions per token block: a token is `block << 32 | version`.
const TOKEN_VERSION_BITS: u32 = 32;

/// The first token of a fresh block, unique over the process; 0 (no token)
/// once the blocks are exhausted.
fn fresh_token() -> u64 {
    let block = NEXT_TOKEN_BLOCK.fetch_add(1, Ordering::Relaxed);
    if block >> (64 - TOKEN_VERSION_BITS) == 0 {
        block << TOKEN_VERSION_BITS
    } else {
        0
    }
}

/// Entries per page-table node (9 bits of virtual address per level).
pub const ENTRIES_PER_NODE: usize = 512;

/// Number of levels of the radix tree (PML4, PDPT, PD, PT).
pub const LEVELS: u32 = 4;

/// Number of bits of a 4 KiB virtual page number that the tree translates
/// (48-bit virtual addresses minus the 12-bit page offset).
const VPN_BITS: u32 = 36;

/// Index of the level that holds 2 MiB leaves (0 = PML4, 3 = PT).
const PD_LEVEL: usize = 2;

/// One entry of a node: empty, a pointer to a lower node, or a leaf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entry {
    Empty,
    /// Index of the child node in the arena.
    Table(u32),
    /// A present leaf: base host frame (4 KiB units) and size.
    Leaf(PhysFrame, PageSize),
}

/// Index of entry `idx` of node `node` in the flat entry arena.
#[inline]
const fn slot(node: usize, idx: usize) -> usize {
    node * ENTRIES_PER_NODE + idx
}

/// A present mapping as returned by [`PageTable::unmap`]: the `size`-sized
/// virtual page starting at `page` maps the host frames starting at `frame`
/// (both 4 KiB units, aligned to `size`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Mapping {
    /// First 4 KiB virtual page of the mapping.
    pub page: VirtPage,
    /// First 4 KiB host-physical frame of the mapping.
    pub frame: PhysFrame,
    /// Size of the mapping.
    pub size: PageSize,
}

/// The result of a hardware page walk ([`PageTable::walk`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Walk {
    /// The translation found: base host frame (4 KiB units) and page size,
    /// or `None` if the address is not mapped (a page fault).
    pub result: Option<(PhysFrame, PageSize)>,
    /// Page-table entries read by a walk with no paging-structure cache
    /// (1..=4: the present upper entries plus the leaf or the first
    /// non-present entry; 0 for a non-canonical address).
    pub levels_referenced: u32,
    /// Present non-leaf (upper) entries on the path: 0..=3, in order PML4E,
    /// PDPTE, PDE. These are what a [`PageWalkCache`](crate::PageWalkCache)
    /// may cache.
    pub upper_levels: u32,
    /// Arena index of the node read at each level (PML4, PDPT, PD, PT);
    /// `None` for levels the walk did not reach.
    pub nodes: [Option<usize>; 4],
}

/// An x86-64 4-level radix page table (PML4 → PDPT → PD → PT, 512 entries
/// per node, 48-bit canonical virtual addresses) of one address space.
///
/// Nodes live in an arena; an empty lower node is kept after its last
/// mapping is removed (and reused if a 2 MiB leaf later replaces it).
/// Remapping is [`unmap`](Self::unmap) then [`map`](Self::map). Changing the
/// table does not touch any TLB: see [`SetAssocTlb`](crate::SetAssocTlb).
#[derive(Debug)]
pub struct PageTable {
    /// Entry arena: node `n` (index 0 is the PML4, the root) owns entries
    /// `n * 512 .. (n + 1) * 512`.
    entries: Vec<Entry>,
    /// Number of non-empty entries of each node.
    present: Vec<u32>,
    /// Indices of nodes detached from the tree, reusable by `alloc`.
    free: Vec<usize>,
    /// Mapped virtual memory in 4 KiB pages (a 2 MiB leaf counts 512).
    mapped_pages: usize,
    /// Number of leaf entries.
    mappings: usize,
    /// State token: unique over every page table and every state of it (it
    /// changes at each [`map`](Self::map) / [`unmap`](Self::unmap) and a
    /// clone gets its own); 0 = none. A TLB entry filled from a walk of this
    /// table records it, so a hit whose entry carries the current token
    /// cannot be stale.
    token: u64,
}

impl Clone for PageTable {
    fn clone(&self) -> Self {
        PageTable {
            entries: self.entries.clone(),
            present: self.present.clone(),
            free: self.free.clone(),
            mapped_pages: self.mapped_pages,
            mappings: self.mappings,
            token: fresh_token(),
        }
    }
}

impl Default for PageTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `page` (4 KiB units) belongs to a canonical 48-bit virtual
/// address: bits 63..47 of the address are all equal.
#[inline]
fn canonical(page: VirtPage) -> bool {
    let upper = page.0 >> (VPN_BITS - 1);
    // VA bits 63..47 are page bits 51..35: 17 bits, all zero or all one.
    upper == 0 || upper == (u64::MAX >> (64 - 17))
}

/// Index into the node of `level` (0 = PML4 .. 3 = PT) for `page`.
#[inline]
fn index(page: VirtPage, level: usize) -> usize {
    let shift = 9 * (3 - level);
    #[allow(clippy::cast_possible_truncation, reason = "masked to 9 bits (< 512)")]
    let i = ((page.0 >> shift) & 0x1ff) as usize;
    i
}

impl PageTable {
    /// An empty page table: just a PML4 node.
    #[must_use]
    pub fn new() -> Self {
        PageTable {
            entries: vec![Entry::Empty; ENTRIES_PER_NODE],
            present: vec![0],
            free: Vec::new(),
            mapped_pages: 0,
            mappings: 0,
            token: fresh_token(),
        }
    }

    /// Mapped virtual memory in 4 KiB pages (a 2 MiB mapping counts 512).
    #[must_use]
    pub fn mapped_pages(&self) -> usize {
        self.mapped_pages
    }

    /// Number of mappings (leaf entries, 4 KiB or 2 MiB).
    #[must_use]
    pub fn mapping_count(&self) -> usize {
        self.mappings
    }

    /// Number of page-table nodes (4 KiB page-table pages) in the tree,
    /// including the PML4 and empty nodes that are kept.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.present.len() - self.free.len()
    }

    /// An empty node: a freed one if any, else a new one (as a `Table`
    /// entry's `u32` index).
    /// The current state token (see the `token` field); 0 = none.
    #[inline]
    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    /// Move to a new state token (conservatively, on every map / unmap).
    #[inline]
    fn bump_token(&mut self) {
        if self.token == 0 {
            return;
        }
        let next = self.token + 1;
        self.token = if next.trailing_zeros() >= TOKEN_VERSION_BITS {
            // This block's versions are used up.
            fresh_token()
        } else {
            next
        };
    }

    fn alloc(&mut self) -> u32 {
        let i = if let Some(i) = self.free.pop() {
            // Only empty nodes are freed.
            debug_assert_eq!(self.present[i], 0);
            i
        } else {
            self.entries
                .resize(self.entries.len() + ENTRIES_PER_NODE, Entry::Empty);
            self.present.push(0);
            self.present.len() - 1
        };
        u32::try_from(i).expect("page-table arena exceeds u32::MAX nodes")
    }

    fn set(&mut self, node: usize, idx: usize, e: Entry) {
        let entry = &mut self.entries[slot(node, idx)];
        let was = *entry != Entry::Empty;
        let is = e != Entry::Empty;
        *entry = e;
        match (was, is) {
            (false, true) => self.present[node] += 1,
            (true, false) => self.present[node] -= 1,
            _ => {}
        }
    }

    /// Map the `size`-sized virtual page starting at `page` onto the host
    /// frames starting at `frame` (4 KiB units). A 2 MiB mapping needs both
    /// aligned to 512 pages; it may replace an empty PT node.
    ///
    /// # Errors
    /// [`MmuError::NonCanonical`] for an address outside the 48-bit space,
    /// [`MmuError::Misaligned`] / [`MmuError::MisalignedFrame`] for a 2 MiB
    /// mapping not 2 MiB-aligned, [`MmuError::AlreadyMapped`] if a mapping of
    /// the same page and size exists, [`MmuError::Overlap`] if a mapping of
    /// the other size overlaps it.
    pub fn map(
        &mut self,
        page: VirtPage,
        frame: PhysFrame,
        size: PageSize,
    ) -> Result<(), MmuError> {
        self.bump_token();
        if !canonical(page) {
            return Err(MmuError::NonCanonical { page });
        }
        if !page.is_aligned(size) {
            return Err(MmuError::Misaligned { page, size });
        }
        if !frame.is_aligned(size) {
            return Err(MmuError::MisalignedFrame { frame, size });
        }
        let leaf_level = match size {
            PageSize::Size4K => 3,
            PageSize::Size2M => PD_LEVEL,
        };
        let mut node = 0usize;
        for level in 0..leaf_level {
            let idx = index(page, level);
            node = match self.entries[slot(node, idx)] {
                Entry::Table(child) => child as usize,
                Entry::Empty => {
                    let child = self.alloc();
                    self.set(node, idx, Entry::Table(child));
                    child as usize
                }
                Entry::Leaf(_, existing) => {
                    // Only a 2 MiB leaf at the PD level can be met here.
                    return Err(MmuError::Overlap {
                        page,
                        size,
                        existing: page.align_down(existing),
                        existing_size: existing,
                    });
                }
            };
        }
        let idx = index(page, leaf_level);
        match self.entries[slot(node, idx)] {
            Entry::Empty => {}
            Entry::Leaf(..) => return Err(MmuError::AlreadyMapped { page, size }),
            Entry::Table(child) => {
                let child = child as usize;
                // A 2 MiB leaf over a PT node: allowed only if it is empty.
                if self.present[child] != 0 {
                    return Err(MmuError::Overlap {
                        page,
                        size,
                        existing: self.first_mapped_in(child, page),
                        existing_size: PageSize::Size4K,
                    });
                }
                self.free.push(child);
            }
        }
        self.set(node, idx, Entry::Leaf(frame, size));
        self.mappings += 1;
        self.mapped_pages += usize::try_from(size.pages_4k()).unwrap_or(usize::MAX);
        Ok(())
    }

    /// First mapped 4 KiB page in PT node `pt`, whose first page is `base`
    /// (for error reporting).
    fn first_mapped_in(&self, pt: usize, base: VirtPage) -> VirtPage {
        let off = self.entries[slot(pt, 0)..slot(pt + 1, 0)]
            .iter()
            .position(|e| *e != Entry::Empty)
            .unwrap_or(0);
        VirtPage(base.0 + u64::try_from(off).unwrap_or(0))
    }

    /// Remove the mapping of `page`. For a 2 MiB mapping `page` must be its
    /// base (splitting a 2 MiB page is not modelled). Lower nodes are kept.
    ///
    /// # Errors
    /// [`MmuError::NotMapped`] if no mapping covers `page`,
    /// [`MmuError::NotHugeBase`] if a 2 MiB mapping covers it but does not
    /// start at it, [`MmuError::NonCanonical`] for an address outside the
    /// 48-bit space.
    pub fn unmap(&mut self, page: VirtPage) -> Result<Mapping, MmuError> {
        self.bump_token();
        if !canonical(page) {
            return Err(MmuError::NonCanonical { page });
        }
        let mut node = 0usize;
        for level in 0..4 {
            let idx = index(page, level);
            match self.entries[slot(node, idx)] {
                Entry::Empty => return Err(MmuError::NotMapped { page }),
                Entry::Table(child) => node = child as usize,
                Entry::Leaf(frame, size) => {
                    let base = page.align_down(size);
                    if base != page {
                        return Err(MmuError::NotHugeBase { page, base });
                    }
                    self.set(node, idx, Entry::Empty);
                    self.mappings -= 1;
                    self.mapped_pages -= usize::try_from(size.pages_4k()).unwrap_or(0);
                    return Ok(Mapping { page, frame, size });
                }
            }
        }
        // A PT entry is never a table.
        Err(MmuError::NotMapped { page })
    }

    /// Functional translation of `va` (no cost, no side effect): the base
    /// host frame (4 KiB units) and size of the mapping covering it.
    #[inline]
    #[must_use]
    pub fn translate(&self, va: VirtAddr) -> Option<(PhysFrame, PageSize)> {
        let page = va.page();
        if !canonical(page) {
            return None;
        }
        let mut node = 0usize;
        for level in 0..4 {
            match self.entries[slot(node, index(page, level))] {
                Entry::Empty => return None,
                Entry::Leaf(frame, size) => return Some((frame, size)),
                Entry::Table(child) => node = child as usize,
            }
        }
        // A PT entry is never a table.
        None
    }

    /// The mapping covering 4 KiB page `page`, if any.
    #[must_use]
    pub fn mapping_of(&self, page: VirtPage) -> Option<Mapping> {
        self.translate(page.addr()).map(|(frame, size)| Mapping {
            page: page.align_down(size),
            frame,
            size,
        })
    }

    /// A hardware page walk of `va`: the translation, the number of entries
    /// read, the present upper-level entries and the nodes visited. Does not
    /// allocate.
    #[must_use]
    pub fn walk(&self, va: VirtAddr) -> Walk {
        let page = va.page();
        let mut w = Walk {
            result: None,
            levels_referenced: 0,
            upper_levels: 0,
            nodes: [None; 4],
        };
        if !canonical(page) {
            return w;
        }
        let mut node = 0usize;
        for level in 0..4 {
            w.nodes[level] = Some(node);
            w.levels_referenced += 1;
            match self.entries[slot(node, index(page, level))] {
                Entry::Empty => return w,
                Entry::Leaf(frame, size) => {
                    w.result = Some((frame, size));
                    return w;
                }
                Entry::Table(child) => {
                    w.upper_levels += 1;
                    node = child as usize;
                }
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K4: PageSize = PageSize::Size4K;
    const M2: PageSize = PageSize::Size2M;

    #[test]
    fn map_translate_unmap_4k() {
        let mut pt = PageTable::new();
        assert_eq!(pt.node_count(), 1);
        pt.map(VirtPage(0x12345), PhysFrame(77), K4).unwrap();
        assert_eq!(pt.node_count(), 4);
        assert_eq!(pt.mapped_pages(), 1);
        assert_eq!(
            pt.translate(VirtAddr(0x1234_5fff)),
            Some((PhysFrame(77), K4))
        );
        assert_eq!(pt.translate(VirtAddr(0x1234_6000)), None);
        assert_eq!(
            pt.map(VirtPage(0x12345), PhysFrame(78), K4),
            Err(MmuError::AlreadyMapped {
                page: VirtPage(0x12345),
                size: K4
            })
        );
        let m = pt.unmap(VirtPage(0x12345)).unwrap();
        assert_eq!(
            m,
            Mapping {
                page: VirtPage(0x12345),
                frame: PhysFrame(77),
                size: K4
            }
        );
        assert_eq!(pt.translate(VirtAddr(0x1234_5000)), None);
        assert_eq!(
            pt.unmap(VirtPage(0x12345)),
            Err(MmuError::NotMapped {
                page: VirtPage(0x12345)
            })
        );
        assert_eq!(pt.mapped_pages(), 0);
        // Empty nodes are kept.
        assert_eq!(pt.node_count(), 4);
        // Remap = unmap then map.
        pt.map(VirtPage(0x12345), PhysFrame(80), K4).unwrap();
        assert_eq!(
            pt.translate(VirtAddr(0x1234_5000)),
            Some((PhysFrame(80), K4))
        );
    }

    #[test]
    fn map_2m_and_errors() {
        let mut pt = PageTable::new();
        assert_eq!(
            pt.map(VirtPage(513), PhysFrame(0), M2),
            Err(MmuError::Misaligned {
                page: VirtPage(513),
                size: M2
            })
        );
        assert_eq!(
            pt.map(VirtPage(512), PhysFrame(1), M2),
            Err(MmuError::MisalignedFrame {
                frame: PhysFrame(1),
                size: M2
            })
        );
        pt.map(VirtPage(512), PhysFrame(1024), M2).unwrap();
        assert_eq!(pt.mapped_pages(), 512);
        assert_eq!(pt.mapping_count(), 1);
        assert_eq!(pt.node_count(), 3);
        assert_eq!(
            pt.translate(VirtPage(1000).addr()),
            Some((PhysFrame(1024), M2))
        );
        assert_eq!(
            pt.mapping_of(VirtPage(1000)),
            Some(Mapping {
                page: VirtPage(512),
                frame: PhysFrame(1024),
                size: M2
            })
        );
        assert!(matches!(
            pt.map(VirtPage(600), PhysFrame(5), K4),
            Err(MmuError::Overlap { existing, existing_size: M2, .. }) if existing == VirtPage(512)
        ));
        assert!(matches!(
            pt.map(VirtPage(512), PhysFrame(0), M2),
            Err(MmuError::AlreadyMapped { .. })
        ));
        assert_eq!(
            pt.unmap(VirtPage(600)),
            Err(MmuError::NotHugeBase {
                page: VirtPage(600),
                base: VirtPage(512)
            })
        );
        assert_eq!(pt.unmap(VirtPage(512)).unwrap().size, M2);
        assert_eq!(pt.mapped_pages(), 0);

        // A 2M mapping over a non-empty PT is an overlap; over an empty one
        // it replaces the PT node.
        pt.map(VirtPage(1024 + 3), PhysFrame(9), K4).unwrap();
        assert!(matches!(
            pt.map(VirtPage(1024), PhysFrame(0), M2),
            Err(MmuError::Overlap { existing, existing_size: K4, .. }) if existing == VirtPage(1027)
        ));
        let nodes = pt.node_count();
        pt.unmap(VirtPage(1027)).unwrap();
        pt.map(VirtPage(1024), PhysFrame(0), M2).unwrap();
        assert_eq!(pt.node_count(), nodes - 1);
        pt.unmap(VirtPage(1024)).unwrap();
        // The freed PT node is reused.
        pt.map(VirtPage(1024), PhysFrame(3), K4).unwrap();
        assert_eq!(pt.node_count(), nodes);
    }

    #[test]
    fn canonical_addresses() {
        let mut pt = PageTable::new();
        let high = VirtAddr(0xffff_8000_0000_0000).page();
        pt.map(high, PhysFrame(1), K4).unwrap();
        assert_eq!(pt.translate(high.addr()), Some((PhysFrame(1), K4)));
        assert_eq!(pt.translate(VirtAddr(0x0000_8000_0000_0000)), None);
        let bad = VirtAddr(0x0000_8000_0000_0000).page();
        assert_eq!(
            pt.map(bad, PhysFrame(1), K4),
            Err(MmuError::NonCanonical { page: bad })
        );
        assert_eq!(pt.walk(bad.addr()).levels_referenced, 0);
    }

    #[test]
    fn walk_paths() {
        let mut pt = PageTable::new();
        let w = pt.walk(VirtAddr(0x1000));
        assert_eq!(
            (w.result, w.levels_referenced, w.upper_levels),
            (None, 1, 0)
        );
        assert_eq!(w.nodes, [Some(0), None, None, None]);

        pt.map(VirtPage(1), PhysFrame(5), K4).unwrap();
        let w = pt.walk(VirtAddr(0x1000));
        assert_eq!(w.result, Some((PhysFrame(5), K4)));
        assert_eq!((w.levels_referenced, w.upper_levels), (4, 3));
        assert!(w.nodes.iter().all(Option::is_some));
        // Neighbouring unmapped page: full path, non-present PTE.
        let w = pt.walk(VirtAddr(0x2000));
        assert_eq!(
            (w.result, w.levels_referenced, w.upper_levels),
            (None, 4, 3)
        );

        pt.map(VirtPage(512), PhysFrame(512), M2).unwrap();
        let w = pt.walk(VirtPage(700).addr());
        assert_eq!(w.result, Some((PhysFrame(512), M2)));
        assert_eq!((w.levels_referenced, w.upper_levels), (3, 2));
        assert_eq!(w.nodes[3], None);
    }
}
