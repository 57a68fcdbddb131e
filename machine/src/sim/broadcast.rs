//! Broadcast invalidation without IPIs (the plan's
//! [`hypervisor::Broadcast`], AMD `INVLPGB` + `TLBSYNC`).
//!
//! The initiator flushes its own TLB, issues the invalidations and waits
//! in `TLBSYNC`; every other CPU's TLB loses the pages with no interrupt,
//! no handler and no stolen cycles. The remote flushes are applied when the
//! invalidation is issued (after replaying background work up to then):
//! earlier than hardware completes them, which can hide, never create, a
//! stale use (as for IPIs, see the crate's accuracy notes).

use super::*;
use hypervisor::Broadcast;

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
        let (_, _, placement) = self.current_request(c);
        if self.map_lock_through_flush {
            self.release_map_lock(now, sched)?;
        }
        self.window.shootdown();
        let (first, pages) = (placement.base.0, placement.pages);
        let own = self.shootdown_flush_on(c, plan.flush, first, pages, false);
        let n = self.cpus.count();
        for x in (1..n).map(|i| CpuId((c.0 + i) % n)) {
            if self.cpus[x].bg_next != u64::MAX {
                self.bg_catch_up(x, now.max(self.cpus[x].clock.irq_free_at));
            }
            // The hardware's work on the target: not charged to it.
            self.shootdown_flush_on(x, plan.flush, first, pages, true);
        }
        let instructions = match plan.flush {
            ShootdownFlush::Full => 1,
            ShootdownFlush::Range if pages as usize > self.ceiling => 1,
            ShootdownFlush::Range => u64::from(pages.div_ceil(plan.pages_per_instruction.max(1))),
        };
        let wait = local + own + instructions * plan.issue_cycles + plan.sync_cycles;
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
        Ok(())
    }
}
