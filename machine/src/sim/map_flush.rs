//! A shootdown a map needs before its buffer is touched (the plan's
//! [`MappingPolicy::map_shootdown`], e.g. a global slot pool that wrapped).
//!
//! The map hypercall has changed the page table; the serving CPU then
//! shoots down as the plan says (queueing for the flush lock if it is
//! serialized) and spins until every acknowledgement is in, and only then
//! runs its dequeue + map segment (whose time, from the dequeue, includes
//! the wait).

use super::*;
use invalidate::Settles;

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s map at `now` needs shootdown `plan` before its segment of
    /// `cost` cycles.
    pub(super) fn start_map_shootdown(
        &mut self,
        c: CpuId,
        now: u64,
        plan: ShootdownPlan,
        cost: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        self.backends[b].map_wait = Some((plan, cost, now));
        if self.take_flush_lock(c, plan.serialized, Phase::WaitMapFlushLock) {
            self.begin_map_shootdown(c, now, sched)?;
        }
        Ok(())
    }

    /// CPU `c` holds the flush lock (if any): its map's shootdown starts.
    pub(super) fn begin_map_shootdown(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let (plan, _, _) = self.backends[b]
            .map_wait
            .expect("a map shootdown is pending");
        self.backends[b].phase = Phase::WaitMapAcks;
        if let Some(t) = self.send_shootdown(c, plan, (0, 0), now, Settles::Map, sched) {
            self.map_shootdown_done(c, t, sched)?;
        }
        Ok(())
    }

    /// Every acknowledgement of CPU `c`'s map shootdown is in at `now`: its
    /// map segment runs.
    pub(super) fn map_shootdown_done(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let (plan, cost, start) = self.backends[b]
            .map_wait
            .take()
            .expect("a map shootdown is pending");
        self.hand_over_flush_lock(plan.serialized, now, sched)?;
        self.spun_for_flush(c, start, now);
        self.backends[b].phase = Phase::Map;
        self.start_segment(c, now, cost, sched);
        Ok(())
    }
}
