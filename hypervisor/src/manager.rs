//! The page-table manager and its hypercalls.

use cpu_model::CpuId;
use mmu::{Asid, MmuError, PageSize, PageTable, PhysFrame, VirtPage};
use std::collections::{BTreeMap, VecDeque};

/// The ASID (PCID) that tags the host domain kernel's translations, where the
/// backend driver maps guest pages.
pub const HOST_ASID: Asid = Asid(1);

/// First virtual page of the domain-wide mapping area (1 GiB).
const GLOBAL_AREA_BASE: u64 = 0x4000_0000 >> 12;
/// First virtual page of the per-CPU slot areas (4 GiB); CPU `c`'s slots start
/// `c * stride` pages later, the stride rounded up to 2 MiB so that no two
/// CPUs share a last-level page-table node.
const SLOT_AREA_BASE: u64 = 0x1_0000_0000 >> 12;

/// First virtual page of the backend's own resident pages (12 GiB), clear
/// of the other areas ([`PageTableManager::map_resident`]).
const RESIDENT_BASE: u64 = 0x3_0000_0000 >> 12;
/// First host frame of the backend's resident pages (clear of guests').
const RESIDENT_FRAME_BASE: u64 = 1 << 31;

/// A hypercall that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HvError {
    /// Slots were asked for a CPU the backend did not register.
    #[error("{cpu} is not registered for I/O")]
    NotRegistered {
        /// The CPU.
        cpu: CpuId,
    },
    /// A CPU was registered twice.
    #[error("{cpu} is already registered for I/O")]
    AlreadyRegistered {
        /// The CPU.
        cpu: CpuId,
    },
    /// The CPU id is beyond the machine.
    #[error("{cpu} does not exist (machine has {cpus} CPUs)")]
    NoSuchCpu {
        /// The CPU.
        cpu: CpuId,
        /// CPUs of the machine.
        cpus: u32,
    },
    /// A request needs more pages than the CPU's slots.
    #[error("a request of {pages} pages does not fit in {cpu}'s {slots} slots")]
    TooFewSlots {
        /// The CPU.
        cpu: CpuId,
        /// Pages asked for.
        pages: u32,
        /// Slots the CPU has.
        slots: u32,
    },
    /// The domain-wide mapping area is exhausted.
    #[error("the domain-wide mapping area has no free chunk of {pages} pages")]
    AreaFull {
        /// Pages asked for.
        pages: u32,
    },
    /// The page table refused a change.
    #[error(transparent)]
    Mmu(#[from] MmuError),
    /// Every run of free slots of the CPU is too short: its slots are held
    /// by I/Os still in flight (a finite pool, exhausted for now).
    #[error("{cpu} has no {pages} free slots in a row (its slots are held by I/Os in flight)")]
    SlotsBusy {
        /// The CPU.
        cpu: CpuId,
        /// Pages asked for.
        pages: u32,
    },
}

impl HvError {
    /// Whether the error says a finite pool is exhausted for now (room may
    /// come back when an I/O in flight completes), as opposed to a request
    /// that can never be served.
    #[must_use]
    pub fn is_exhaustion(&self) -> bool {
        matches!(self, HvError::SlotsBusy { .. } | HvError::AreaFull { .. })
    }
}

/// Where a request's buffer pages are mapped: `pages` consecutive virtual
/// pages from `base` in the host domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// First virtual page.
    pub base: VirtPage,
    /// Number of 4 KiB pages.
    pub pages: u32,
    /// Which domain-wide chunk it came from, if any (to release it).
    pub chunk: Option<u32>,
}

/// One CPU's pre-allocated slots: a ring of virtual pages, each free or
/// held by a placement until [`PageTableManager::release`].
#[derive(Clone, Debug)]
struct SlotRing {
    base: VirtPage,
    count: u32,
    next: u32,
    /// Slots held by a placement not yet released.
    held: Vec<bool>,
}

impl SlotRing {
    /// The first run of `pages` free slots starting at or after `from` that
    /// ends before the ring's end.
    fn free_run(&self, from: u32, pages: u32) -> Option<u32> {
        let mut start = from;
        while start + pages <= self.count {
            let run = &self.held[start as usize..(start + pages) as usize];
            match run.iter().rposition(|h| *h) {
                None => return Some(start),
                Some(i) => start += u32::try_from(i).expect("a run fits u32") + 1,
            }
        }
        None
    }

    /// Whether virtual page `page` is one of these slots: its index.
    fn index_of(&self, page: VirtPage) -> Option<u32> {
        let off = page.0.checked_sub(self.base.0)?;
        u32::try_from(off).ok().filter(|&i| i < self.count)
    }
}

/// The hypervisor's manager of the host domain's page table.
///
/// Counts every hypercall. Mapping and unmapping change the page table only:
/// flushing TLBs is the caller's job, as the policy's plans say
/// ([`crate::plan`]; the page table is the truth the stale-translation
/// checker compares TLB hits against).
#[derive(Clone, Debug)]
pub struct PageTableManager {
    table: PageTable,
    cpus: u32,
    registered: Vec<bool>,
    slots: Vec<Option<SlotRing>>,
    chunk_pages: u32,
    free_chunks: VecDeque<u32>,
    total_chunks: u32,
    hypercalls: u64,
    /// Slot pages mapped more than once at the same time (by a broken
    /// driver that reuses a slot before its I/O completed): extra maps per
    /// page. Each map overwrote the entry; the page is unmapped when its
    /// last map is.
    overlaps: BTreeMap<u64, u32>,
    /// Whether the slots may be mapped over while held (the broken driver).
    slot_overwrite: bool,
}

impl PageTableManager {
    /// A manager for a host domain running on `cpus` CPUs, whose domain-wide
    /// mapping area holds `chunks` chunks of `chunk_pages` pages each.
    #[must_use]
    pub fn new(cpus: u32, chunks: u32, chunk_pages: u32) -> Self {
        let n = usize::try_from(cpus).expect("CPU count fits usize");
        Self {
            table: PageTable::new(),
            cpus,
            registered: vec![false; n],
            slots: vec![None; n],
            chunk_pages,
            free_chunks: (0..chunks).collect(),
            total_chunks: chunks,
            hypercalls: 0,
            overlaps: BTreeMap::new(),
            slot_overwrite: false,
        }
    }

    /// The host domain's page table (the truth for the stale checker).
    #[must_use]
    pub fn table(&self) -> &PageTable {
        &self.table
    }

    /// Hypercalls served so far.
    #[must_use]
    pub fn hypercalls(&self) -> u64 {
        self.hypercalls
    }

    /// Whether `cpu` is registered for I/O.
    #[must_use]
    pub fn is_registered(&self, cpu: CpuId) -> bool {
        self.registered.get(cpu.index()).copied().unwrap_or(false)
    }

    fn check_cpu(&self, cpu: CpuId) -> Result<(), HvError> {
        if cpu.0 >= self.cpus {
            return Err(HvError::NoSuchCpu {
                cpu,
                cpus: self.cpus,
            });
        }
        Ok(())
    }

    /// Hypercall: the backend driver registers `cpu` for I/O processing
    /// (claim step 1).
    ///
    /// # Errors
    /// Unknown or already registered CPU.
    pub fn register_cpu(&mut self, cpu: CpuId) -> Result<(), HvError> {
        self.hypercalls += 1;
        self.check_cpu(cpu)?;
        let r = &mut self.registered[cpu.index()];
        if *r {
            return Err(HvError::AlreadyRegistered { cpu });
        }
        *r = true;
        Ok(())
    }

    /// Hypercall: pre-allocate `count` page-table slots for registered `cpu`
    /// (claim step 1). Returns the first slot's virtual page.
    ///
    /// # Errors
    /// The CPU is not registered.
    pub fn preallocate_slots(&mut self, cpu: CpuId, count: u32) -> Result<VirtPage, HvError> {
        self.hypercalls += 1;
        self.check_cpu(cpu)?;
        if !self.is_registered(cpu) {
            return Err(HvError::NotRegistered { cpu });
        }
        let stride = u64::from(count).div_ceil(512) * 512;
        let base = VirtPage(SLOT_AREA_BASE + u64::from(cpu.0) * stride.max(512));
        self.slots[cpu.index()] = Some(SlotRing {
            base,
            count,
            next: 0,
            held: vec![false; count as usize],
        });
        Ok(base)
    }

    /// The next `pages` free slots of `cpu`'s ring (contiguous, searched
    /// from where the last placement ended, wrapping to the ring's start
    /// when the rest has no free run). A slot stays held until its
    /// placement is released ([`PageTableManager::release`], after the
    /// I/O completed), so it is never reused while an I/O uses it. No
    /// hypercall: the driver owns its slots.
    ///
    /// # Errors
    /// No slots, fewer slots than pages, or no free run of `pages` slots
    /// now ([`HvError::SlotsBusy`]).
    pub fn take_slots(&mut self, cpu: CpuId, pages: u32) -> Result<Placement, HvError> {
        let ring = self.ring_for(cpu, pages)?;
        let start = ring
            .free_run(ring.next, pages)
            .or_else(|| ring.free_run(0, pages))
            .ok_or(HvError::SlotsBusy { cpu, pages })?;
        Ok(Self::hold(ring, start, pages))
    }

    /// Like [`PageTableManager::take_slots`] but the ring wraps without
    /// checking that its slots are free: a broken driver that reuses a
    /// slot before the I/O holding it completed. The map over a held slot
    /// overwrites its entry ([`PageTableManager::map`]), so the earlier I/O
    /// now reaches the later one's frame through it.
    ///
    /// # Errors
    /// No slots, or fewer slots than pages.
    pub fn take_slots_unchecked(&mut self, cpu: CpuId, pages: u32) -> Result<Placement, HvError> {
        self.slot_overwrite = true;
        let ring = self.ring_for(cpu, pages)?;
        let start = if ring.next + pages > ring.count {
            0
        } else {
            ring.next
        };
        Ok(Self::hold(ring, start, pages))
    }

    /// `cpu`'s slot ring, if it can ever hold `pages` pages.
    fn ring_for(&mut self, cpu: CpuId, pages: u32) -> Result<&mut SlotRing, HvError> {
        let ring = self
            .slots
            .get_mut(cpu.index())
            .and_then(Option::as_mut)
            .ok_or(HvError::NotRegistered { cpu })?;
        if pages > ring.count {
            return Err(HvError::TooFewSlots {
                cpu,
                pages,
                slots: ring.count,
            });
        }
        Ok(ring)
    }

    /// Holds `pages` slots of `ring` from `start`.
    fn hold(ring: &mut SlotRing, start: u32, pages: u32) -> Placement {
        ring.held[start as usize..(start + pages) as usize].fill(true);
        ring.next = start + pages;
        Placement {
            base: VirtPage(ring.base.0 + u64::from(start)),
            pages,
            chunk: None,
        }
    }

    /// Slots of `cpu` held now (pages).
    #[must_use]
    pub fn slots_held(&self, cpu: CpuId) -> u32 {
        self.slots
            .get(cpu.index())
            .and_then(Option::as_ref)
            .map_or(0, |r| {
                u32::try_from(r.held.iter().filter(|h| **h).count()).expect("fits u32")
            })
    }

    /// A chunk of the domain-wide area, first-freed first-used.
    ///
    /// # Errors
    /// The area is exhausted, or `pages` exceeds the chunk size.
    pub fn take_chunk(&mut self, pages: u32) -> Result<Placement, HvError> {
        if pages > self.chunk_pages {
            return Err(HvError::AreaFull { pages });
        }
        let chunk = self
            .free_chunks
            .pop_front()
            .ok_or(HvError::AreaFull { pages })?;
        let base = VirtPage(GLOBAL_AREA_BASE + u64::from(chunk) * u64::from(self.chunk_pages));
        Ok(Placement {
            base,
            pages,
            chunk: Some(chunk),
        })
    }

    /// Grows the domain-wide area by `chunks` chunks (a policy that keeps
    /// unmapped placements until a later flush needs room for them). Not a
    /// hypercall: the area is the driver's address space.
    pub fn add_chunks(&mut self, chunks: u32) {
        let next = self.total_chunks;
        self.free_chunks.extend(next..next + chunks);
        self.total_chunks = next + chunks;
    }

    /// Counts one hypercall that is not a page-table change (a flush the
    /// host domain asks the hypervisor for, Xen `HVMOP_flush_tlbs`).
    pub fn count_hypercall(&mut self) {
        self.hypercalls += 1;
    }

    /// Returns a placement's chunk (if any) to the domain-wide area, or its
    /// slots (if it is in a CPU's slots) to that CPU's ring.
    pub fn release(&mut self, placement: Placement) {
        if let Some(c) = placement.chunk {
            self.free_chunks.push_back(c);
            return;
        }
        for ring in self.slots.iter_mut().flatten() {
            if let Some(i) = ring.index_of(placement.base) {
                let end = (i + placement.pages).min(ring.count);
                ring.held[i as usize..end as usize].fill(false);
                return;
            }
        }
    }

    /// Whether `placement` is in some CPU's slots (not a domain-wide chunk).
    #[must_use]
    pub fn is_slot_placement(&self, placement: Placement) -> bool {
        placement.chunk.is_none() && self.is_slot(placement.base)
    }

    /// Holds a released slot placement's slots again (a thread's slots
    /// restored after a context switch, as Linux's `__kmap_local_sched_in`
    /// re-installs a task's kmap_local slots). Not a hypercall.
    ///
    /// The broken driver that maps over held slots
    /// ([`PageTableManager::take_slots_unchecked`]) holds them again
    /// whatever holds them now, as it maps.
    ///
    /// # Errors
    /// One of its slots is held by another placement (the caller broke
    /// the save/restore discipline), or it is not a slot placement.
    pub fn hold_again(&mut self, placement: Placement) -> Result<(), HvError> {
        let overwrite = self.slot_overwrite;
        for ring in self.slots.iter_mut().flatten() {
            let Some(i) = ring.index_of(placement.base) else {
                continue;
            };
            let run = &mut ring.held[i as usize..(i + placement.pages) as usize];
            if !overwrite && run.iter().any(|h| *h) {
                break;
            }
            run.fill(true);
            return Ok(());
        }
        Err(HvError::SlotsBusy {
            cpu: CpuId(u32::try_from(self.slot_cpu(placement.base)).unwrap_or(u32::MAX)),
            pages: placement.pages,
        })
    }

    /// The CPU index whose slots hold `page` (`usize::MAX` if none).
    fn slot_cpu(&self, page: VirtPage) -> usize {
        self.slots
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.index_of(page).is_some()))
            .unwrap_or(usize::MAX)
    }

    /// Whether `page` is a slot of some CPU.
    fn is_slot(&self, page: VirtPage) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|r| r.index_of(page).is_some())
    }

    /// Hypercall: map guest frames `frames` at `placement` (claim steps 4-5).
    /// One hypercall maps the whole request, as a batched grant-map does.
    ///
    /// # Errors
    /// A page is already mapped (the caller broke exclusivity).
    pub fn map(
        &mut self,
        placement: Placement,
        frames: impl IntoIterator<Item = PhysFrame>,
    ) -> Result<(), HvError> {
        self.hypercalls += 1;
        self.map_in_batch(placement, frames)
    }

    /// Like [`PageTableManager::map`], but the grant operations ride in an
    /// earlier hypercall's batch (a backend that drained several requests
    /// maps them all with one `GNTTABOP_map_grant_ref`): no hypercall is
    /// counted.
    ///
    /// # Errors
    /// A page is already mapped (the caller broke exclusivity).
    pub fn map_in_batch(
        &mut self,
        placement: Placement,
        frames: impl IntoIterator<Item = PhysFrame>,
    ) -> Result<(), HvError> {
        for (i, frame) in (0..u64::from(placement.pages)).zip(frames) {
            let page = VirtPage(placement.base.0 + i);
            if self.slot_overwrite && self.table.mapping_of(page).is_some() && self.is_slot(page) {
                // The broken driver's map over a held slot: the entry is
                // overwritten; the page stays mapped until its last map is
                // unmapped.
                self.table.unmap(page)?;
                *self.overlaps.entry(page.0).or_insert(0) += 1;
            }
            self.table.map(page, frame, PageSize::Size4K)?;
        }
        Ok(())
    }

    /// Hypercall: unmap a request's pages (one batched hypercall).
    ///
    /// # Errors
    /// A page is not mapped.
    pub fn unmap(&mut self, placement: Placement) -> Result<(), HvError> {
        self.hypercalls += 1;
        self.unmap_in_batch(placement)
    }

    /// Like [`PageTableManager::unmap`], but the grant operations ride in
    /// an earlier unmap's hypercall (one `GNTTABOP_unmap_grant_ref` for the
    /// finished requests a backend gathered): no hypercall is counted.
    ///
    /// # Errors
    /// A page is not mapped.
    pub fn unmap_in_batch(&mut self, placement: Placement) -> Result<(), HvError> {
        for i in 0..u64::from(placement.pages) {
            let page = VirtPage(placement.base.0 + i);
            if let Some(extra) = self.overlaps.get_mut(&page.0) {
                // Another map of this slot is still live (see `map`).
                *extra -= 1;
                if *extra == 0 {
                    self.overlaps.remove(&page.0);
                }
                continue;
            }
            self.table.unmap(page)?;
        }
        Ok(())
    }

    /// Hypercall: map each `(page, frame)` pair (one batched hypercall, as a
    /// grant-map of scattered grants).
    ///
    /// # Errors
    /// A page is already mapped.
    pub fn map_pages(
        &mut self,
        pages: impl IntoIterator<Item = (VirtPage, PhysFrame)>,
    ) -> Result<(), HvError> {
        self.hypercalls += 1;
        for (page, frame) in pages {
            self.table.map(page, frame, PageSize::Size4K)?;
        }
        Ok(())
    }

    /// Hypercall: unmap each page (one batched hypercall).
    ///
    /// # Errors
    /// A page is not mapped.
    pub fn unmap_pages(
        &mut self,
        pages: impl IntoIterator<Item = VirtPage>,
    ) -> Result<(), HvError> {
        self.hypercalls += 1;
        for page in pages {
            self.table.unmap(page)?;
        }
        Ok(())
    }

    /// Maps `pages` pages of the host domain's own (kernel text and data,
    /// the ring, bio/skb pages: a backend's working set) at a fixed area,
    /// once, before the run; returns the first page. Not a hypercall: the
    /// domain's kernel mappings exist from boot.
    ///
    /// # Errors
    /// The area is mapped already.
    pub fn map_resident(&mut self, pages: u32) -> Result<VirtPage, HvError> {
        for i in 0..u64::from(pages) {
            self.table.map(
                VirtPage(RESIDENT_BASE + i),
                PhysFrame(RESIDENT_FRAME_BASE + i),
                PageSize::Size4K,
            )?;
        }
        Ok(VirtPage(RESIDENT_BASE))
    }

    /// Forgets the hypercall count (end of warm-up).
    pub fn reset_counters(&mut self) {
        self.hypercalls = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmu::VirtAddr;

    #[test]
    fn slots_need_registration() {
        let mut m = PageTableManager::new(4, 4, 16);
        assert_eq!(
            m.preallocate_slots(CpuId(1), 16),
            Err(HvError::NotRegistered { cpu: CpuId(1) })
        );
        m.register_cpu(CpuId(1)).unwrap();
        assert_eq!(
            m.register_cpu(CpuId(1)),
            Err(HvError::AlreadyRegistered { cpu: CpuId(1) })
        );
        assert!(matches!(
            m.register_cpu(CpuId(9)),
            Err(HvError::NoSuchCpu { .. })
        ));
        m.preallocate_slots(CpuId(1), 16).unwrap();
        assert_eq!(m.hypercalls(), 5);
    }

    #[test]
    fn slot_ring_wraps_and_cpus_do_not_overlap() {
        let mut m = PageTableManager::new(2, 1, 16);
        for c in 0..2 {
            m.register_cpu(CpuId(c)).unwrap();
            m.preallocate_slots(CpuId(c), 10).unwrap();
        }
        let a = m.take_slots(CpuId(0), 4).unwrap();
        let b = m.take_slots(CpuId(0), 4).unwrap();
        assert_eq!(b.base.0, a.base.0 + 4);
        assert!(
            matches!(m.take_slots(CpuId(0), 4), Err(HvError::SlotsBusy { .. })),
            "no slot is reused while held"
        );
        m.release(a);
        let c = m.take_slots(CpuId(0), 4).unwrap();
        assert_eq!(c.base, a.base, "wrapped to the released run");
        assert_eq!(m.slots_held(CpuId(0)), 8);
        let other = m.take_slots(CpuId(1), 10).unwrap();
        assert!(other.base.0 >= a.base.0 + 512);
        assert!(matches!(
            m.take_slots(CpuId(1), 11),
            Err(HvError::TooFewSlots { .. })
        ));
    }

    #[test]
    fn a_free_run_is_found_past_held_slots() {
        let mut m = PageTableManager::new(1, 0, 0);
        m.register_cpu(CpuId(0)).unwrap();
        m.preallocate_slots(CpuId(0), 8).unwrap();
        let a = m.take_slots(CpuId(0), 3).unwrap();
        let b = m.take_slots(CpuId(0), 3).unwrap();
        m.release(a);
        // 2 free at the end, 3 at the start: wraps past the short run.
        let c = m.take_slots(CpuId(0), 3).unwrap();
        assert_eq!(c.base, a.base);
        m.release(b);
        let d = m.take_slots(CpuId(0), 5).unwrap();
        assert_eq!(d.base, b.base, "the released run and the tail join");
    }

    #[test]
    fn a_saved_placement_is_held_again_only_where_its_slots_are_free() {
        let mut m = PageTableManager::new(1, 1, 4);
        m.register_cpu(CpuId(0)).unwrap();
        m.preallocate_slots(CpuId(0), 4).unwrap();
        let a = m.take_slots(CpuId(0), 4).unwrap();
        assert!(m.is_slot_placement(a));
        let chunk = m.take_chunk(4).unwrap();
        assert!(!m.is_slot_placement(chunk));
        // Saved: released, the slots taken by another thread's placement.
        m.release(a);
        let b = m.take_slots(CpuId(0), 2).unwrap();
        assert!(m.hold_again(a).is_err(), "b holds two of a's slots");
        m.release(b);
        m.hold_again(a).unwrap();
        assert_eq!(m.slots_held(CpuId(0)), 4);
        assert!(m.take_slots(CpuId(0), 1).is_err());
    }

    #[test]
    fn the_unchecked_ring_overwrites_a_held_slot_until_its_last_unmap() {
        let mut m = PageTableManager::new(1, 0, 0);
        m.register_cpu(CpuId(0)).unwrap();
        m.preallocate_slots(CpuId(0), 4).unwrap();
        let a = m.take_slots_unchecked(CpuId(0), 4).unwrap();
        m.map(a, (0..4).map(|i| PhysFrame(10 + i))).unwrap();
        let b = m.take_slots_unchecked(CpuId(0), 4).unwrap();
        assert_eq!(a.base, b.base, "reused while held");
        m.map(b, (0..4).map(|i| PhysFrame(20 + i))).unwrap();
        let va = mmu::VirtAddr(a.base.0 << 12);
        assert_eq!(m.table().translate(va).map(|t| t.0), Some(PhysFrame(20)));
        m.unmap(a).unwrap();
        assert!(m.table().translate(va).is_some(), "b's map is still live");
        m.unmap(b).unwrap();
        assert_eq!(m.table().translate(va), None);
    }

    #[test]
    fn map_unmap_changes_the_table() {
        let mut m = PageTableManager::new(1, 2, 4);
        let p = m.take_chunk(3).unwrap();
        m.map(p, (0..3).map(|i| PhysFrame(100 + i))).unwrap();
        assert_eq!(
            m.table()
                .translate(VirtAddr((p.base.0 + 2) << 12))
                .map(|t| t.0),
            Some(PhysFrame(102))
        );
        assert!(
            m.map(p, (0..3).map(PhysFrame)).is_err(),
            "double map is refused"
        );
        m.unmap(p).unwrap();
        assert_eq!(m.table().translate(p.base.addr()), None);
        m.release(p);
        let q = m.take_chunk(1).unwrap();
        assert_ne!(q.chunk, p.chunk, "FIFO reuse");
        let _r = m.take_chunk(1).unwrap();
        assert!(matches!(m.take_chunk(1), Err(HvError::AreaFull { .. })));
    }
}
