//! Epoch-deferred invalidation (the plan's [`hypervisor::Epoch`], LATR).
//!
//! An unmap whose plan defers to the epoch has flushed its serving CPU; its
//! pages join the pending list and the request completes at once. Ticks
//! fall on multiples of the plan's `tick_cycles` on every CPU; one
//! [`Event::EpochTick`] is scheduled at the next tick while something is
//! pending. At the tick every CPU other than an entry's initiator flushes
//! the due entries' pages (INVLPG each, one flush of the host domain's
//! address space above the ceiling; its background is replayed up to the
//! tick first; one remote flush per CPU and tick), the flush's cycles are
//! interrupt-level work stolen from that CPU (the extra work of LATR's tick
//! handler), and the placements of entries unmapped before the tick go back
//! to the allocator ([`hypervisor::EpochRelease::AfterEpoch`]; with
//! `AtUnmap` they went back at the unmap). An entry unmapped at the tick's
//! own cycle waits for the next tick.
//!
//! Within one cycle: the tick event runs after the events already pending
//! for its cycle (it was scheduled earlier than they were only if they were
//! scheduled later; either order is safe, since an entry released at a tick
//! was unmapped strictly before it).

use super::*;
use hypervisor::{Epoch, EpochRelease};

/// One unmap waiting for the epoch.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Its pages.
    first: u64,
    pages: u32,
    /// The CPU that unmapped (and flushed) them.
    initiator: CpuId,
    /// When, cycles.
    at: u64,
    /// The placement to release at the tick (`None`: released at unmap).
    keep: Option<Placement>,
}

/// The unmaps waiting for their epoch and the next tick scheduled.
#[derive(Debug, Default)]
pub(super) struct EpochState {
    pending: Vec<Pending>,
    /// The tick period of the plans pending.
    tick_cycles: u64,
    /// Whether an [`Event::EpochTick`] is scheduled.
    scheduled: bool,
}

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s current request was unmapped at `now` and flushed locally
    /// for `local` cycles: its invalidation waits for the next tick; the
    /// request completes.
    pub(super) fn defer_to_epoch(
        &mut self,
        c: CpuId,
        now: u64,
        local: u64,
        plan: Epoch,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (_, r, placement) = self.current_request(c);
        if self.map_lock_through_flush {
            self.release_map_lock(now, sched)?;
        }
        let keep = match plan.release {
            EpochRelease::AfterEpoch => self.requests[r].placement.take(),
            EpochRelease::AtUnmap => None,
        };
        self.epoch.pending.push(Pending {
            first: placement.base.0,
            pages: placement.pages,
            initiator: c,
            at: now,
            keep,
        });
        self.epoch.tick_cycles = plan.tick_cycles;
        self.schedule_epoch_tick(now, sched);
        let r = self.backends[self.backend_of(c)].current;
        self.add_part(r, Part::FlushWait, local);
        self.finish_request_flushes(c, now, local, sched);
        Ok(())
    }

    /// Schedules the first tick after `now` if none is.
    fn schedule_epoch_tick(&mut self, now: u64, sched: &mut Sched<'_>) {
        if self.epoch.scheduled {
            return;
        }
        let tick = self.epoch.tick_cycles.max(1);
        self.epoch.scheduled = true;
        sched.at(Instant((now / tick + 1) * tick), Event::EpochTick);
    }

    /// Every CPU's tick at `now`: the pending entries from before it are
    /// flushed everywhere and their placements released.
    pub(super) fn epoch_tick(&mut self, now: u64, sched: &mut Sched<'_>) {
        self.epoch.scheduled = false;
        let (due, later): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.epoch.pending)
            .into_iter()
            .partition(|p| p.at < now);
        self.epoch.pending = later;
        if !due.is_empty() {
            for x in self.cpus.ids() {
                if self.cpus[x].bg_next != u64::MAX {
                    self.bg_catch_up(x, now);
                }
                let cost = self.epoch_flush_on(x, &due);
                if cost > 0 {
                    self.interrupt(x, now, cost);
                    self.cpus[x].clock.stolen_cycles += cost;
                }
            }
            for p in &due {
                if let Some(placement) = p.keep {
                    self.mgr.release(placement);
                }
            }
        }
        if !self.epoch.pending.is_empty() {
            self.schedule_epoch_tick(now, sched);
        }
    }

    /// CPU `x`'s flush at a tick of the pages of `due` it did not unmap
    /// itself: INVLPG each, or one flush of the host domain's address
    /// space above the ceiling (as Linux's `flush_tlb_mm_range`); returns
    /// its cycles (0 if there was nothing to flush) and counts it as one
    /// remote flush.
    fn epoch_flush_on(&mut self, x: CpuId, due: &[Pending]) -> u64 {
        let pages = due
            .iter()
            .filter(|p| p.initiator != x)
            .flat_map(|p| (0..u64::from(p.pages)).map(move |i| VirtPage(p.first + i)));
        let cpu = &mut self.cpus[x];
        let cost = match cpu.tlb.flush_range(HOST_ASID, pages.clone(), self.ceiling) {
            FlushKind::Pages(0) => return 0,
            FlushKind::Pages(n) => {
                for page in pages {
                    cpu.pwc.flush_addr(HOST_ASID, page.addr());
                }
                n as u64 * self.costs.invlpg_cycles
            }
            FlushKind::Full => {
                cpu.pwc.flush_asid(HOST_ASID);
                self.costs.full_flush_cycles
            }
        };
        cpu.stats.flushes.remote += 1;
        self.close_flushed(x);
        cost
    }
}
