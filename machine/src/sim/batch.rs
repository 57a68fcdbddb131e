//! Batched unmaps: a backend CPU gathers its unmaps and invalidates them
//! with one shootdown per batch (the plan's [`hypervisor::Batch`]).
//!
//! A request whose unmap joins the batch leaves its backend thread, which
//! goes on with the next request; the batch is flushed when it is full, at
//! the first request boundary after its oldest unmap is `timeout_cycles`
//! old, or when the thread runs out of requests (so a closed loop whose
//! requests all wait in the batch cannot stall). The shootdown is one full
//! flush (the batch's pages are not one range), sent as the plan says; the
//! thread waits for it (Xen's unmap hypercall spins for the
//! acknowledgements), then completes every request of the batch
//! (`complete_cycles` each, one segment) and only then do they count as
//! done to their guests. With [`BatchRelease::AfterFlush`] the placements go
//! back to the allocator after the shootdown; with
//! [`BatchRelease::AtUnmap`] at the unmap, so the area may be reused while
//! TLBs still hold the old translation.

use super::*;
use hypervisor::{Batch, BatchRelease};
use invalidate::Settles;

/// A backend thread's gathered unmaps.
#[derive(Debug, Default)]
pub(super) struct PendingBatch {
    /// Requests unmapped, waiting for the batch's shootdown.
    pub(super) requests: Vec<RequestId>,
    /// Requests whose shootdown is done, in their completion segment.
    pub(super) completing: Vec<RequestId>,
    /// The plan of the unmaps gathered.
    pub(super) plan: Option<Batch>,
    /// When the oldest gathered unmap joined.
    pub(super) opened: u64,
    /// When the batch's shootdown was asked for.
    pub(super) flush_start: u64,
}

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s current request was unmapped at `now`; its unmap joins the
    /// batch (after `local` cycles of local flush), which is flushed if it
    /// is due; else the thread goes on with its next request.
    pub(super) fn join_batch(
        &mut self,
        c: CpuId,
        now: u64,
        local: u64,
        plan: Batch,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (b, r, _) = self.current_request(c);
        if self.map_lock_through_flush {
            self.release_map_lock(now, sched)?;
        }
        if plan.release == BatchRelease::AtUnmap {
            let placement = self.requests[r].placement.take().expect("mapped");
            self.mgr.release(placement);
        }
        let t = now + local;
        let pending = &mut self.backends[b].pending;
        if pending.requests.is_empty() {
            pending.opened = t;
        }
        pending.requests.push(r);
        pending.plan = Some(plan);
        let full = pending.requests.len() >= plan.size as usize;
        let old = plan.timeout_cycles > 0 && t - pending.opened >= plan.timeout_cycles;
        if full || old {
            self.flush_batch(c, t, sched)
        } else {
            self.next_request(c, t, sched)
        }
    }

    /// CPU `c`'s backend found no request at `now`: if it has a partial
    /// batch, it flushes it (and returns true) instead of sleeping.
    pub(super) fn flush_batch_when_idle(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<bool, SimError> {
        let b = self.backend_of(c);
        if self.backends[b].pending.requests.is_empty() {
            return Ok(false);
        }
        self.flush_batch(c, now, sched)?;
        Ok(true)
    }

    /// CPU `c` asks for its batch's shootdown at `now` (queueing for the
    /// flush lock if the plan is serialized).
    fn flush_batch(&mut self, c: CpuId, now: u64, sched: &mut Sched<'_>) -> Result<(), SimError> {
        let b = self.backend_of(c);
        self.backends[b].pending.flush_start = now;
        let plan = self.backends[b].pending.plan.expect("a batch has a plan");
        if self.take_flush_lock(c, plan.shootdown.serialized, Phase::WaitBatchLock) {
            self.begin_batch_shootdown(c, now, sched)?;
        }
        Ok(())
    }

    /// CPU `c` holds the flush lock (if any): its batch's shootdown starts.
    fn begin_batch_shootdown(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let plan = self.backends[b].pending.plan.expect("a batch has a plan");
        self.backends[b].phase = Phase::WaitBatchAcks;
        let shootdown = ShootdownPlan {
            flush: ShootdownFlush::Full,
            ..plan.shootdown
        };
        if let Some(t) = self.send_shootdown(c, shootdown, (0, 0), now, Settles::Batch, sched) {
            self.batch_shootdown_done(c, t, sched)?;
        }
        Ok(())
    }

    /// Takes the flush lock for CPU `c` if `serialized`: true if it may go
    /// on now, false if it now waits in `phase`.
    pub(super) fn take_flush_lock(&mut self, c: CpuId, serialized: bool, phase: Phase) -> bool {
        if !serialized || self.flush_lock.take(c) {
            return true;
        }
        let b = self.backend_of(c);
        self.backends[b].phase = phase;
        false
    }

    /// Releases the flush lock at `now` if `serialized`, handing it to its
    /// first waiter.
    pub(super) fn hand_over_flush_lock(
        &mut self,
        serialized: bool,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if serialized {
            if let Some(next) = self.flush_lock.release() {
                self.resume_flush_lock_waiter(next, now, sched)?;
            }
        }
        Ok(())
    }

    /// CPU `c` spun from `start` to `now` waiting for a shootdown.
    pub(super) fn spun_for_flush(&mut self, c: CpuId, start: u64, now: u64) {
        self.cpus[c].stats.busy_cycles += self.window.counted(now - start);
        if O::ENABLED {
            self.obs
                .slice(self.cpus[c].stats.cpu, SliceKind::FlushWait, start, now);
        }
    }

    /// The flush lock was handed to `next` at `now`: it starts the shootdown
    /// it was waiting for.
    pub(super) fn resume_flush_lock_waiter(
        &mut self,
        next: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if next == super::scope::OTHER_DOMAIN {
            self.other_flush_holds(now, sched);
            return Ok(());
        }
        match self.backends[self.backend_of(next)].phase {
            Phase::WaitBatchLock => self.begin_batch_shootdown(next, now, sched),
            Phase::WaitMapFlushLock => self.begin_map_shootdown(next, now, sched),
            _ => self.begin_shootdown(next, now, sched),
        }
    }

    /// Every acknowledgement of CPU `c`'s batch shootdown is in at `now`:
    /// release the lock and the placements, then complete the batch.
    pub(super) fn batch_shootdown_done(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let plan = self.backends[b].pending.plan.expect("a batch has a plan");
        self.hand_over_flush_lock(plan.shootdown.serialized, now, sched)?;
        let start = self.backends[b].pending.flush_start;
        self.spun_for_flush(c, start, now);
        let done = std::mem::take(&mut self.backends[b].pending.requests);
        // One segment completes them all: each waits for the whole of it.
        let cost = self.vary.draw(Cost::Complete) * done.len() as u64;
        for &r in &done {
            let wait = now - self.requests[r].flush_wait_start;
            self.add_part(Some(r), Part::FlushWait, wait);
            self.add_part(Some(r), Part::Complete, cost);
            if let Some(placement) = self.requests[r].placement.take() {
                self.mgr.release(placement);
            }
        }
        self.backends[b].pending.completing = done;
        self.backends[b].phase = Phase::CompleteBatch;
        self.backends[b].phase_start = now;
        self.start_segment(c, now, cost, sched);
        Ok(())
    }

    /// CPU `c`'s batch completion segment ends at `now`: every request of
    /// the batch is done; the thread takes its next request.
    pub(super) fn complete_batch(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<Control, SimError> {
        let b = self.backend_of(c);
        let done = std::mem::take(&mut self.backends[b].pending.completing);
        self.backends[b].io.in_flight -= u32::try_from(done.len()).expect("fits u32");
        self.released(now, sched);
        for r in done {
            if self.retire_request(r, now, sched) == Control::Stop {
                return Ok(Control::Stop);
            }
        }
        self.next_request(c, now, sched)?;
        Ok(Control::Continue)
    }
}
