//! Hardware invalidation without IPIs: broadcast (the plan's
//! [`hypervisor::Broadcast`], AMD `INVLPGB` + `TLBSYNC`) and a cpumask's
//! remote action request (the plan's [`hypervisor::RemoteAction`], Intel
//! RAR: `signal_cycles` per target, then `wait_cycles` if any).
//!
//! The initiator flushes its own TLB, issues the invalidations and waits
//! in `TLBSYNC`; every other CPU's TLB loses the pages with no interrupt,
//! no handler and no stolen cycles. The remote flushes are applied when the
//! invalidation is issued (after replaying background work up to then):
//! earlier than hardware completes them, which can hide, never create, a
//! stale use (as for IPIs, see the crate's accuracy notes).

use super::*;
use hypervisor::{Broadcast, RemoteAction};

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s current request was unmapped at `now` and flushed locally
    /// for `local` cycles: invalidate every CPU by broadcast, then
    /// complete.
    pub(super) fn broadcast_invalidate(
        &mut self,
        c: CpuId,
        now: u64,
        local: u64,
        plan: Broadcast,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (own, _, pages) = self.hardware_invalidate(c, now, plan.flush, false, sched)?;
        let instructions = match plan.flush {
            ShootdownFlush::Full => 1,
            ShootdownFlush::Range if pages as usize > self.ceiling => 1,
            ShootdownFlush::Range => u64::from(pages.div_ceil(plan.pages_per_instruction.max(1))),
        };
        let wait = local + own + instructions * plan.issue_cycles + plan.sync_cycles;
        self.finish_hardware_invalidation(c, now, wait, sched);
        Ok(())
    }

    /// CPU `c`'s current request was unmapped at `now` and flushed locally
    /// for `local` cycles: a remote action request ([`RemoteAction`]) to
    /// the plan's targets, whose hardware flushes with no handler; then
    /// complete.
    pub(super) fn remote_action_invalidate(
        &mut self,
        c: CpuId,
        now: u64,
        local: u64,
        plan: RemoteAction,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let holders = plan.targets == ShootdownTargets::Holders;
        let (own, targets, _) = self.hardware_invalidate(c, now, plan.flush, holders, sched)?;
        let wait = if targets > 0 { plan.wait_cycles } else { 0 };
        let total = local + own + targets * plan.signal_cycles + wait;
        self.finish_hardware_invalidation(c, now, total, sched);
        Ok(())
    }

    /// The flushes of a hardware invalidation of CPU `c`'s current request
    /// at `now`: the initiator's own (`flush`), then every other CPU's (only
    /// those holding one of the pages if `holders_only`), done by the
    /// hardware and charged to no one. Returns the initiator's flush
    /// cycles, the CPUs reached and the request's pages.
    fn hardware_invalidate(
        &mut self,
        c: CpuId,
        now: u64,
        flush: ShootdownFlush,
        holders_only: bool,
        sched: &mut Sched<'_>,
    ) -> Result<(u64, u64, u32), SimError> {
        let (_, _, placement) = self.current_request(c);
        if self.map_lock_through_flush {
            self.release_map_lock(now, sched)?;
        }
        self.window.shootdown();
        let (first, pages) = (placement.base.0, placement.pages);
        let own = self.shootdown_flush_on(c, flush, first, pages, false);
        let n = self.cpus.count();
        let mut reached = 0;
        for x in (1..n).map(|i| CpuId((c.0 + i) % n)) {
            if self.cpus[x].bg_next != u64::MAX {
                self.bg_catch_up(x, now.max(self.cpus[x].clock.irq_free_at));
            }
            let page_range = (0..u64::from(pages)).map(|i| VirtPage(first + i));
            if holders_only && !self.cpus[x].tlb.holds_any(HOST_ASID, page_range) {
                continue;
            }
            reached += 1;
            self.shootdown_flush_on(x, flush, first, pages, true);
        }
        Ok((own, reached, pages))
    }

    /// The initiator's wait of `wait` cycles for a hardware invalidation
    /// (broadcast or remote action) is its flush wait; then complete.
    fn finish_hardware_invalidation(
        &mut self,
        c: CpuId,
        now: u64,
        wait: u64,
        sched: &mut Sched<'_>,
    ) {
        let r = self.backends[self.backend_of(c)].current;
        self.add_part(r, Part::FlushWait, wait);
        if O::ENABLED {
            self.obs.slice(
                self.cpus[c].stats.cpu,
                SliceKind::FlushWait,
                now,
                now + wait,
            );
        }
        self.finish_request_flushes(c, now, wait, sched);
    }
}
