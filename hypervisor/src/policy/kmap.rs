//! `kmap`: one global pool of mapping slots under one lock, flushed on every
//! CPU each time the pool wraps.
//!
//! Stands for Linux's `kmap()` before `kmap_local_page` (mm/highmem.c:
//! `map_new_virtual` takes the next free slot of the `LAST_PKMAP` = 1,024
//! entry pool under `kmap_lock`; `kunmap_high` only drops the slot's count,
//! no flush; when the search wraps to slot 0, `flush_all_zero_pkmaps`
//! clears every unmapped slot and calls `flush_tlb_kernel_range` over the
//! whole pool, a shootdown of every CPU, a full flush above
//! `tlb_single_page_flush_ceiling`).
//!
//! Cost: the lock around every map and unmap (`costs.map_lock_cycles` and
//! its contention, the machine's map lock), and one shootdown of every
//! other CPU (IPIs, handlers, acknowledgements, a full flush each) per lap
//! of the pool, paid by the request whose map wrapped it; no flush on
//! individual unmaps.
//!
//! Safe: an unmapped slot is reused only after a wrap, whose shootdown
//! completes (on every CPU) before the wrapping request's buffer is touched;
//! slots still mapped at the wrap are skipped and wait for the next one.
//! A request takes contiguous slots (Linux maps page by page; a model
//! simplification that only changes which slots, not how often it wraps).

use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{LocalFlush, Shootdown, ShootdownFlush, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;
use mmu::VirtPage;

/// First virtual page of the pool (8 GiB), clear of the other areas.
const POOL_BASE: u64 = 0x2_0000_0000 >> 12;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "kmap",
    summary: "one global pool of slots under one lock; no flush on unmap; a shootdown of every \
              CPU each time the pool wraps",
    stands_for: "Linux kmap() before kmap_local (mm/highmem.c map_new_virtual, \
                 flush_all_zero_pkmaps, LAST_PKMAP = 1024)",
    unsafe_variant: false,
    params: &[ParamSpec {
        name: "slots",
        kind: ParamKind::Int {
            min: 1,
            max: 1 << 20,
        },
        default: ParamValue::Int(1024),
        doc: "pages in the global pool (Linux LAST_PKMAP = 1,024 on x86-32 with PAE: 512); \
              must hold the largest request",
    }],
    build,
};

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    let slots = ctx.pages_param(p, "slots")?;
    let slots = usize::try_from(slots).expect("declared within usize");
    Ok(Box::new(GlobalPool {
        taken: vec![false; slots],
        next: 0,
        wrapped: false,
    }))
}

/// The global pool.
#[derive(Clone, Debug)]
pub struct GlobalPool {
    /// Slots taken since the last wrap flush (mapped, or unmapped and not
    /// yet flushed).
    taken: Vec<bool>,
    /// Where the search for free slots goes on.
    next: usize,
    /// Whether the last placement wrapped the pool.
    wrapped: bool,
}

impl GlobalPool {
    /// The first run of `pages` free slots from `from` before the pool's
    /// end.
    fn free_run(&self, from: usize, pages: usize) -> Option<usize> {
        let mut start = from;
        while start + pages <= self.taken.len() {
            match self.taken[start..start + pages].iter().rposition(|t| *t) {
                None => return Some(start),
                Some(i) => start += i + 1,
            }
        }
        None
    }
}

impl MappingPolicy for GlobalPool {
    fn name(&self) -> &str {
        INFO.name
    }
    fn setup(&mut self, _: &mut PageTableManager, _: &[CpuId]) -> Result<(), HvError> {
        Ok(())
    }
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        _cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        let n = pages as usize;
        self.wrapped = false;
        let start = match self.free_run(self.next, n) {
            Some(s) => s,
            None => {
                // flush_all_zero_pkmaps: every slot no longer mapped is free
                // again (after the shootdown the map will wait for).
                for (i, t) in self.taken.iter_mut().enumerate() {
                    *t = mgr
                        .table()
                        .mapping_of(VirtPage(POOL_BASE + i as u64))
                        .is_some();
                }
                self.wrapped = true;
                self.free_run(0, n).ok_or(HvError::AreaFull { pages })?
            }
        };
        self.taken[start..start + n].fill(true);
        self.next = start + n;
        Ok(Placement {
            base: VirtPage(POOL_BASE + start as u64),
            pages,
            chunk: None,
        })
    }
    fn on_map(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        // Every CPU is flushed before a slot is reused.
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        UnmapPlan::NOTHING
    }
    fn map_shootdown(&self, _: Placement) -> Option<Shootdown> {
        self.wrapped.then_some(Shootdown {
            flush: ShootdownFlush::Full,
            serialized: false,
            ..Shootdown::default()
        })
    }
    fn serializes_maps(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_wraps_once_per_lap_and_skips_mapped_slots() {
        let mut mgr = PageTableManager::new(2, 0, 0);
        let mut p = GlobalPool {
            taken: vec![false; 8],
            next: 0,
            wrapped: false,
        };
        let a = p.place(&mut mgr, CpuId(0), 3).unwrap();
        mgr.map(a, (0..3).map(mmu::PhysFrame)).unwrap();
        let b = p.place(&mut mgr, CpuId(0), 3).unwrap();
        assert!(p.map_shootdown(b).is_none());
        assert_eq!(b.base.0, a.base.0 + 3);
        // 2 slots left: the next 3-page request wraps; `a` is still mapped,
        // so it lands after `a`, and that map needs the shootdown.
        let c = p.place(&mut mgr, CpuId(0), 3).unwrap();
        assert!(p.map_shootdown(c).is_some());
        assert_eq!(c.base.0, a.base.0 + 3);
        // While `a` is mapped, at most 5 contiguous slots are ever free.
        assert!(p.place(&mut mgr, CpuId(0), 6).is_err());
    }
}
