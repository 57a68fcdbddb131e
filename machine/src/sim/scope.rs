//! Who a shootdown reaches and what it waits for: the shootdown scope
//! (`host.shootdown_scope`: every CPU, Xen's dirty mask or Linux's
//! `mm_cpumask`), a migrated data phase at thread level
//! (`host.migration_level`), the flush lock shared with other domains'
//! flushes (`host.other_domain_flushes_per_sec`) and the local flush before
//! the lock (`host.local_flush_before_lock`).
//!
//! # Within one cycle
//! An other domain's flush arriving at cycle `t` takes the flush lock (or
//! queues for it) in scheduling order with the host domain's shootdowns of
//! that cycle; a lock released at `t` is handed to the first waiter at `t`,
//! whoever it is.

use super::*;
use crate::config::{MigrationLevel, ShootdownScope};

/// The flush-lock waiter that stands for another domain's flush.
pub(super) const OTHER_DOMAIN: CpuId = CpuId(u32::MAX);
/// The random stream of other domains' flush arrivals.
pub(in crate::sim) const STREAM_OTHER_FLUSH: u64 = 4;

/// Other domains' flushes on the shared flush lock: a Poisson process.
pub(super) struct OtherFlushes {
    rng: SimRng,
    mean_interarrival_cycles: f64,
    hold_cycles: u64,
    /// No arrival is scheduled: the process sleeps while the host domain
    /// has nothing in flight (so a finished trace replay can end) and
    /// restarts at the next request (memoryless, so restarting is exact in
    /// distribution).
    dormant: bool,
}

impl OtherFlushes {
    /// The process `cfg` asks for, if any.
    pub(super) fn new(cfg: &SimConfig) -> Option<Self> {
        let rate = cfg.host.other_domain_flushes_per_sec;
        (rate > 0.0).then(|| Self {
            rng: rng_stream(cfg.seed, STREAM_OTHER_FLUSH),
            mean_interarrival_cycles: cfg.machine.frequency_ghz * 1e9 / rate,
            hold_cycles: cfg.host.other_domain_flush_cycles,
            dormant: true,
        })
    }

    fn next_gap(&mut self) -> u64 {
        let u = 1.0 - self.rng.random::<f64>();
        workloads::round_cycles(-sim_core::math::ln(u) * self.mean_interarrival_cycles).max(1)
    }
}

impl<O: Observer> Simulation<O> {
    /// Whether CPU `x` is in the shootdown scope at `now` (before lazy
    /// skipping and the plan's own choice of targets).
    pub(super) fn in_scope(&self, x: CpuId, now: u64) -> bool {
        let cpu = &self.cpus[x];
        match self.scope {
            ShootdownScope::All => true,
            ShootdownScope::DirtyMask => cpu.ran_host,
            ShootdownScope::MmCpumask => {
                cpu.backend.is_some()
                    || now < cpu.host_until
                    || (cpu.host_until > 0 && cpu.bg_next == u64::MAX)
            }
        }
    }

    /// Whether CPU `x`, out of scope, may still hold the host domain's
    /// translations and so flushes when it next runs the domain (Linux's
    /// `tlb_gen` check at switch-in): it ran a migrated phase before. A CPU
    /// out of Xen's dirty mask never ran the domain and holds nothing.
    pub(super) fn out_of_scope_owes_flush(&self, x: CpuId) -> bool {
        self.scope == ShootdownScope::MmCpumask && self.cpus[x].host_until > 0
    }

    /// Whether a migrated data phase runs (or is queued) on CPU `x` at
    /// `now`.
    pub(super) fn runs_migrated(&self, x: CpuId, now: u64) -> bool {
        now < self.cpus[x].host_until
    }

    /// Runs a migrated data phase of `cost` cycles on CPU `d`, asked for
    /// at `now`; returns `(start, end)` (the end before any delay by
    /// interrupts, see [`Simulation::migrated_back`]).
    pub(super) fn run_migrated(&mut self, d: CpuId, now: u64, cost: u64) -> (u64, u64) {
        self.cpus[d].ran_host = true;
        if self.migration_level == MigrationLevel::Interrupt {
            let (start, end) = self.interrupt(d, now, cost);
            self.cpus[d].host_until = self.cpus[d].host_until.max(end);
            return (start, end);
        }
        // Thread level: after the running handler and any earlier migrated
        // phase here; it preempts the background thread (or the backend's
        // segment) but not the interrupt level.
        let start = now
            .max(self.cpus[d].clock.irq_free_at)
            .max(self.cpus[d].host_until);
        self.pause_background(d, start, cost);
        let cpu = &mut self.cpus[d];
        if cpu.clock.segment_active {
            cpu.clock.debt_cycles += cost;
        }
        let end = start + cost;
        cpu.host_until = end;
        (start, end)
    }

    /// Interrupt-level work of `length` cycles starting at `start` on CPU
    /// `c`: at thread level, a migrated phase running there is delayed by
    /// it.
    pub(super) fn delay_thread_level_migrated(&mut self, c: CpuId, start: u64, length: u64) {
        let cpu = &mut self.cpus[c];
        if self.migration_level == MigrationLevel::Thread && start < cpu.host_until {
            cpu.host_until += length;
            cpu.thread_shift += length;
        }
    }

    /// A migrated phase's scheduled end for home CPU `c` at `now`: if
    /// interrupts delayed it (thread level), re-arms itself; else the
    /// backend goes on after its data phase.
    pub(super) fn migrated_back(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        if let Some((d, shift)) = self.backends[b].away {
            let current = self.cpus[d].thread_shift;
            if current > shift {
                let delay = current - shift;
                let r = self.backends[b].current;
                self.add_part(r, Part::Interrupted, delay);
                self.backends[b].away = Some((d, current));
                sched.at(Instant(now + delay), Event::MigratedBack { cpu: c });
                return Ok(());
            }
            self.backends[b].away = None;
        }
        self.after_data(c, now, sched)
    }

    /// Schedules the next other domain's flush if the process sleeps (at a
    /// new request).
    pub(super) fn wake_other_flushes(&mut self, now: u64, sched: &mut Sched<'_>) {
        if let Some(o) = &mut self.other_flushes {
            if o.dormant {
                o.dormant = false;
                let gap = o.next_gap();
                sched.at(Instant(now + gap), Event::OtherFlush);
            }
        }
    }

    /// Another domain's flush arrives at `now`: it takes the shared flush
    /// lock (or queues for it); the next one is scheduled while the host
    /// domain has requests in flight.
    pub(super) fn other_flush(&mut self, now: u64, sched: &mut Sched<'_>) {
        let in_flight = self.requests.live() > 0;
        let Some(o) = &mut self.other_flushes else {
            return;
        };
        if in_flight {
            let gap = o.next_gap();
            sched.at(Instant(now + gap), Event::OtherFlush);
        } else {
            o.dormant = true;
        }
        let hold = o.hold_cycles;
        if self.flush_lock.take(OTHER_DOMAIN) {
            sched.at(Instant(now + hold), Event::OtherFlushDone);
        }
    }

    /// The flush lock was handed to another domain's flush at `now`.
    pub(super) fn other_flush_holds(&mut self, now: u64, sched: &mut Sched<'_>) {
        let hold = self.other_flushes.as_ref().map_or(0, |o| o.hold_cycles);
        sched.at(Instant(now + hold), Event::OtherFlushDone);
    }

    /// Another domain's flush releases the lock at `now`.
    pub(super) fn other_flush_done(
        &mut self,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if let Some(next) = self.flush_lock.release() {
            self.resume_flush_lock_waiter(next, now, sched)?;
        }
        Ok(())
    }

    /// With `host.local_flush_before_lock`, a serialized shootdown of CPU
    /// `c` flushes locally before it asks for the lock (Xen's
    /// `flush_area_mask`); the flush's end is kept for the send.
    pub(super) fn flush_before_lock(&mut self, c: CpuId, now: u64) {
        let (b, _, _) = self.current_request(c);
        let plan = self.backends[b].shootdown;
        let (first, pages) = self.shootdown_range(c);
        let cost = self.shootdown_flush_on(c, plan.flush, first, pages, false);
        let done = now.max(self.cpus[c].clock.irq_free_at) + cost;
        self.cpus[c].pre_flushed = Some(done);
    }
}
