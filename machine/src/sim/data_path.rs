//! Data paths other than a mapping per request (the plan's
//! [`hypervisor::DataPath`]): persistent grants, whose pool of mapped guest
//! frames outlives requests, and grant copy (in `backend.rs`: the copy
//! hypercall replaces the map, and nothing is unmapped).
//!
//! Persistent grants: the ring's [`hypervisor::PersistentPool`] says which
//! of a request's frames are not mapped yet and which least recently used
//! grants to purge for room. The dequeue + map segment then makes one unmap
//! hypercall for the purged pages, one map hypercall for the missing ones
//! (each only when needed), and, after a purge, waits for the plan's
//! shootdown (`map_flush.rs`) before the data is touched. A request whose
//! frames are all in the pool costs only its dequeue: no hypercall, no
//! flush. The copy through the persistent pages is charged in the data
//! phase (`data.rs`).

use super::*;
use hypervisor::{Persistent, PersistentPool};

impl<O: Observer> Simulation<O> {
    /// The dequeue + map segment of CPU `c`'s current request through its
    /// ring's persistent grants (the map lock, if any, is held).
    pub(super) fn begin_persistent_map(
        &mut self,
        c: CpuId,
        now: u64,
        plan: Persistent,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        let ring = u32::try_from(b).expect("backend count fits u32");
        let (first, pages) = (self.requests[r].first_frame, self.requests[r].pages);
        let admission = self.backends[b]
            .persistent
            .get_or_insert_with(|| PersistentPool::new(ring, plan.grants_per_ring))
            .admit(PhysFrame(first), pages)?;
        let mut cost = self.costs.dequeue_cycles;
        if self.map_lock.enabled {
            cost += self.costs.map_lock_cycles;
        }
        let purged = admission.purged.len() as u64;
        if purged > 0 {
            self.mgr
                .unmap_pages(admission.purged.iter().map(|&(page, _)| page))?;
            cost += self.costs.hypercall_cycles + purged * self.costs.unmap_page_cycles;
        }
        let missing = admission.missing.len() as u64;
        if missing > 0 {
            self.mgr.map_pages(admission.missing.iter().copied())?;
            cost += self.costs.hypercall_cycles + missing * self.costs.map_page_cycles;
            self.guest_pages_mapped += self.window.counted(missing);
        }
        self.requests[r].placement = Some(admission.placement);
        if purged > 0 {
            return self.start_map_shootdown(c, now, plan.purge, cost, sched);
        }
        self.backends[b].phase = Phase::Map;
        self.start_segment(c, now, cost, sched);
        Ok(())
    }
}
