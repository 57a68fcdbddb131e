//! A policy that maps every request into the domain-wide area, needs no
//! flush on map or on a foreign access, and invalidates as one fixed unmap
//! plan says: the shape of `broadcast`, `hypercall-flush` and `targeted`
//! (each file documents its real system; this one is only their shared
//! implementation).

use super::plan::{LocalFlush, UnmapPlan};
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

/// The domain-wide area with one unmap plan.
#[derive(Clone, Debug)]
pub struct DomainArea {
    /// The registry name it runs as.
    pub name: &'static str,
    /// What every unmap needs.
    pub unmap: UnmapPlan,
}

impl MappingPolicy for DomainArea {
    fn name(&self) -> &str {
        self.name
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
        mgr.take_chunk(pages)
    }
    fn on_map(&self, _: Placement) -> LocalFlush {
        // Mapping a fresh PTE needs no flush (x86 does not cache non-present
        // entries).
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        // The unmap's invalidation reaches every CPU that may hold the pages
        // before the area is reused.
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        self.unmap
    }
}
