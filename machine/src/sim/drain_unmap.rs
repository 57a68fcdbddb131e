//! Unmaps gathered into one hypercall (`io.drain_unmaps`, asynchronous
//! path with `io.drain_requests` > 1).
//!
//! As xen-netback's dealloc thread does (drivers/net/xen-netback/netback.c:
//! `xenvif_tx_dealloc_action` gathers every pending slot the stack has
//! released into `tx_unmap_ops` and unmaps them all with one
//! `gnttab_unmap_refs`), a backend thread that takes a request the device
//! finished also takes the finished requests waiting behind it, up to
//! `io.drain_requests` in all, and unmaps them with one hypercall
//! (`costs.hypercall_cycles` once, `unmap_page_cycles` per page of each).
//! Xen flushes the domain's TLBs once per 32 grant unmaps of a hypercall
//! (xen/common/grant_table.c `gnttab_unmap_grant_ref`: the ops are handled
//! in batches of `GNTTAB_UNMAP_BATCH_SIZE` = 32, each followed by one
//! `gnttab_flush_tlb`), so an IPI shootdown plan becomes one full-flush
//! shootdown (the pages are not one range) per 32 pages of the group.
//! xen-blkback does not gather: `__end_block_io_op` ->
//! `xen_blkbk_unmap_and_respond` unmaps each request alone with
//! `gnttab_unmap_refs_async` (its `xen_blkbk_unmap`, "only used in error
//! paths", batches one request's segments, `BLKIF_MAX_SEGMENTS_PER_REQUEST`
//! per hypercall), which is why the knob is off by default.
//!
//! Only requests with nothing left to touch (a write, or any request under
//! DMA) and the same unmap plan as the first join it, and only plans whose
//! remote part is an IPI shootdown or nothing (the other plans already
//! gather or defer their invalidations). Every member waits for the whole
//! unmap, shootdown and completion segment; they complete together, in the
//! order the device finished them.

use super::*;

/// Grant unmaps Xen does between two TLB flushes of one unmap hypercall
/// (xen/common/grant_table.c: `GNTTAB_UNMAP_BATCH_SIZE` = 32, "Number of
/// unmap operations that are done between each tlb flush"), one per page.
pub(super) const UNMAP_BATCH_OPS: u32 = 32;

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s thread starts the unmap of its current request at `now`:
    /// the finished requests waiting behind it join its hypercall, if
    /// `io.drain_unmaps` says so.
    pub(super) fn gather_unmaps(&mut self, c: CpuId, now: u64) {
        if !self.io.asynchronous || !self.io.drain_unmaps || self.io.drain_requests <= 1 {
            return;
        }
        let (b, _, placement) = self.current_request(c);
        let plan = self.policy.on_unmap(placement);
        if !matches!(
            plan.remote,
            RemoteInvalidation::Ipi(_) | RemoteInvalidation::None
        ) {
            return;
        }
        let mut group = std::mem::take(&mut self.backends[b].io.unmap_group);
        while group.len() + 1 < self.io.drain_requests as usize {
            let Some(&r) = self.backends[b].io.done.front() else {
                break;
            };
            let req = &self.requests[r];
            let touches = req.read && self.touch != Touch::Dma;
            let Some(p) = req.placement else { break };
            if touches || self.policy.on_unmap(p) != plan {
                break;
            }
            self.backends[b].io.done.pop_front();
            // Its wait for the thread counts as queueing, as a finished
            // request taken alone.
            let queue = now - self.requests[r].ready_at;
            self.add_part(Some(r), Part::Queue, queue);
            group.push(r);
        }
        self.backends[b].io.unmap_group = group;
    }

    /// Unmaps the group riding in CPU `c`'s current unmap hypercall (no
    /// hypercall of their own); returns their pages.
    pub(super) fn unmap_group(&mut self, c: CpuId, now: u64) -> Result<u32, SimError> {
        let b = self.backend_of(c);
        let mut pages = 0;
        for i in 0..self.backends[b].io.unmap_group.len() {
            let r = self.backends[b].io.unmap_group[i];
            let p = self.requests[r]
                .placement
                .expect("a finished request is mapped");
            self.mgr.unmap_in_batch(p)?;
            self.thread_unmapped(b, r);
            if O::ENABLED {
                self.obs.unmapped(now, p.base.0, p.pages);
            }
            pages += p.pages;
        }
        Ok(pages)
    }

    /// The group's share of CPU `c`'s unmap segment of `cost` cycles: each
    /// member waits for the whole of it.
    pub(super) fn group_unmapped(&mut self, c: CpuId, cost: u64) {
        let b = self.backend_of(c);
        for i in 0..self.backends[b].io.unmap_group.len() {
            let r = self.backends[b].io.unmap_group[i];
            self.add_part(Some(r), Part::Unmap, cost);
        }
    }

    /// The local flush of the group's pages under plan `local`; returns its
    /// cycles.
    pub(super) fn group_local_flush(&mut self, c: CpuId, local: LocalFlush) -> u64 {
        let b = self.backend_of(c);
        let mut flush = 0;
        if local == LocalFlush::Pages {
            for i in 0..self.backends[b].io.unmap_group.len() {
                let r = self.backends[b].io.unmap_group[i];
                let p = self.requests[r]
                    .placement
                    .expect("a finished request is mapped");
                flush += self.flush_range_local(c, p.base.0, p.pages);
            }
        }
        flush
    }

    /// The shootdown of CPU `c`'s unmap (its current request has `pages`
    /// pages) and how many times it runs: the plan's own, once; or for a
    /// group, one full flush per [`UNMAP_BATCH_OPS`] pages of the group
    /// (Xen's flush per unmap batch).
    pub(super) fn group_shootdown(
        &self,
        c: CpuId,
        sd: ShootdownPlan,
        pages: u32,
    ) -> (ShootdownPlan, u32) {
        let b = self.backend_of(c);
        if self.backends[b].io.unmap_group.is_empty() {
            return (sd, 1);
        }
        let group_pages: u32 = self.backends[b]
            .io
            .unmap_group
            .iter()
            .map(|&r| self.requests[r].pages)
            .sum();
        let plan = ShootdownPlan {
            flush: ShootdownFlush::Full,
            granularity: ShootdownGranularity::Request,
            ..sd
        };
        (plan, (pages + group_pages).div_ceil(UNMAP_BATCH_OPS))
    }

    /// CPU `c`'s unmap flushes are done at `now` (`wait` cycles after they
    /// began, `complete` the completion segment): the group's placements
    /// are released and its members charged their flush wait and the
    /// whole completion segment.
    pub(super) fn group_flushed(&mut self, c: CpuId, wait: u64, complete: u64) {
        let b = self.backend_of(c);
        for i in 0..self.backends[b].io.unmap_group.len() {
            let r = self.backends[b].io.unmap_group[i];
            self.add_part(Some(r), Part::FlushWait, wait);
            self.add_part(Some(r), Part::Complete, complete);
            if let Some(p) = self.requests[r].placement.take() {
                self.mgr.release(p);
            }
        }
    }

    /// The completion draws of CPU `c`'s current request and its group.
    pub(super) fn completion_cost(&mut self, c: CpuId) -> u64 {
        let n = 1 + self.backends[self.backend_of(c)].io.unmap_group.len() as u64;
        self.vary.draw(Cost::Complete) * n
    }

    /// CPU `c`'s completion segment ended at `now`: the group's members
    /// are complete too, after the current request. `Stop` when the window
    /// is full.
    pub(super) fn retire_group(&mut self, c: CpuId, now: u64, sched: &mut Sched<'_>) -> Control {
        let b = self.backend_of(c);
        let group = std::mem::take(&mut self.backends[b].io.unmap_group);
        self.backends[b].io.in_flight -= u32::try_from(group.len()).expect("fits u32");
        for r in group {
            if self.retire_request(r, now, sched) == Control::Stop {
                return Control::Stop;
            }
        }
        Control::Continue
    }
}
