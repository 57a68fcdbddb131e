//! CPUs: thread-level segments and interrupt-level work on one CPU, and
//! the TLB counters of one access.

use super::*;

/// One CPU.
pub(super) struct Cpu {
    pub(super) clock: CpuClock,
    pub(super) tlb: TlbHierarchy,
    pub(super) pwc: PageWalkCache,
    pub(super) stats: CpuStats,
    /// Index into `backends` if registered.
    pub(super) backend: Option<usize>,
    /// Background: issue time of its next memory access (`u64::MAX` if none).
    pub(super) bg_next: u64,
    pub(super) bg_rng: SimRng,
    /// Background under the curve model: its place on the refill curve.
    pub(super) bg_curve: background::CurveCpu,
    /// Whether a host-domain access ever filled this CPU's TLB (`false`:
    /// it caches no host translation, so a release needs no lookup here).
    pub(super) host_filled: bool,
    /// Planned length of the current segment (busy accounting).
    pub(super) seg_len: u64,
    /// Start of the current segment.
    pub(super) seg_start: u64,
    /// Background: when it last resumed after interrupt-level work (timeline).
    pub(super) bg_resumed: u64,
    /// Lazy TLB: a shootdown of this kind skipped this CPU; flush before
    /// its next host-domain access.
    pub(super) deferred_flush: Option<ShootdownFlush>,
    /// Cycles of the deferred flush the current segment began with.
    pub(super) seg_deferred: u64,
    /// Cycles added to the next segment (a sleeping lock waiter's wake-up).
    pub(super) wake_debt: u64,
    /// When the current segment was asked for (before waiting for the
    /// interrupt level), and the wake-up cycles it carries.
    pub(super) seg_called: u64,
    pub(super) seg_wake: u64,
    /// Translations to released frames this CPU's TLB still caches, with
    /// since when (`exposure.rs`).
    pub(super) exposed: Vec<exposure::Exposed>,
    /// End of the latest migrated data phase that ran or runs here (0:
    /// none yet): the CPU runs the backend's address space until then.
    pub(super) host_until: u64,
    /// Cycles of interrupt-level work that landed while a thread-level
    /// migrated phase ran here (ever growing; each phase compares it with
    /// its value when it was scheduled).
    pub(super) thread_shift: u64,
    /// Whether this CPU ran the host domain (Xen's dirty cpumask).
    pub(super) ran_host: bool,
    /// When a local flush done before taking the flush lock ends
    /// (`host.local_flush_before_lock`), until the shootdown is sent.
    pub(super) pre_flushed: Option<u64>,
}

impl Cpu {
    /// Empties the CPU's TLB and page-walk cache (a full flush, the
    /// background's entries included).
    ///
    /// Architecture invariant: every full flush of a CPU goes through
    /// here, so the background's refill curve restarts with it
    /// (`tests/architecture.rs` checks no other code calls
    /// `tlb.flush_all`).
    pub(super) fn flush_all(&mut self) {
        self.tlb.flush_all();
        self.pwc.flush_all();
        self.bg_curve.flushed();
    }
}

/// Adds one access to a CPU's counters.
#[inline]
pub(super) fn count_access(stats: &mut CpuStats, a: &mmu::Access) {
    stats.tlb.lookups += 1;
    match a.outcome {
        AccessOutcome::L1Hit => stats.tlb.l1_hits += 1,
        AccessOutcome::L2Hit => stats.tlb.l2_hits += 1,
        AccessOutcome::Walk | AccessOutcome::Fault => {
            stats.tlb.misses += 1;
            stats.tlb.walks += 1;
            stats.tlb.walk_refs += a.walk_refs;
        }
    }
    stats.stale_uses += u64::from(a.stale);
}

impl<O: Observer> Simulation<O> {
    /// Runs `length` cycles of interrupt-level work on CPU `c` arriving at
    /// `now`; returns `(start, end)`. A background CPU's accesses are replayed
    /// up to the start and its next access is pushed back by the length.
    /// On a vCPU, its host schedule is applied first (`vcpu.rs`).
    pub(super) fn interrupt(&mut self, c: CpuId, now: u64, length: u64) -> (u64, u64) {
        self.vcpu_wake(c, now);
        self.interrupt_level(c, now, length)
    }

    /// [`Simulation::interrupt`] without applying the host schedule (which
    /// uses it to place a descheduled span).
    pub(super) fn interrupt_level(&mut self, c: CpuId, now: u64, length: u64) -> (u64, u64) {
        let start = now.max(self.cpus[c].clock.irq_free_at);
        self.pause_background(c, start, length);
        let (start, end) = self.cpus[c].clock.run_interrupt(now, length);
        self.delay_thread_level_migrated(c, start, length);
        (start, end)
    }

    /// Work of `length` cycles from `start` on CPU `c` pauses its
    /// background workload, if any: its accesses are replayed up to
    /// `start` and its next one is pushed back by `length`.
    pub(super) fn pause_background(&mut self, c: CpuId, start: u64, length: u64) {
        if self.cpus[c].bg_next != u64::MAX {
            self.bg_catch_up(c, start);
            let cpu = &mut self.cpus[c];
            cpu.bg_next = cpu.bg_next.max(start) + length;
            if O::ENABLED {
                let (id, from) = (cpu.stats.cpu, cpu.bg_resumed);
                cpu.bg_resumed = start + length;
                if start > from {
                    self.obs.slice(id, SliceKind::Background, from, start);
                }
            }
        }
    }

    /// Starts a thread-level segment of `length` cycles on CPU `c`.
    pub(super) fn start_segment(&mut self, c: CpuId, now: u64, length: u64, sched: &mut Sched<'_>) {
        self.vcpu_wake(c, now);
        // A flush owed to a lazy-TLB shootdown runs first; its cost is its
        // own part of the latency (the phase's part leaves it out).
        let deferred = self.apply_deferred_flush(c);
        let serving = self.serving(c);
        self.add_part(serving, Part::DeferredFlush, deferred);
        let wake = std::mem::take(&mut self.cpus[c].wake_debt);
        let length = length + deferred + wake;
        // A thread-level migrated phase here runs first (one thread at a
        // time; at interrupt level, `irq_free_at` already covers it).
        let now = if self.migration_level == crate::config::MigrationLevel::Thread {
            now.max(self.cpus[c].host_until)
        } else {
            now
        };
        let cpu = &mut self.cpus[c];
        cpu.seg_deferred = deferred;
        cpu.seg_wake = wake;
        cpu.seg_called = now;
        cpu.seg_len = length;
        cpu.seg_start = now.max(cpu.clock.irq_free_at);
        let end = cpu.clock.start_segment(now, length);
        sched.at(Instant(end), Event::SegmentEnd { cpu: cpu.clock.id });
    }
}

/// One value per CPU of the machine, indexed by [`CpuId`].
#[derive(Debug)]
pub(super) struct PerCpu<T>(Vec<T>);

impl<T> PerCpu<T> {
    /// The values of CPUs `0..values.len()`, in order.
    pub(super) fn new(values: Vec<T>) -> Self {
        assert!(u32::try_from(values.len()).is_ok(), "CPU ids are u32");
        Self(values)
    }

    /// How many CPUs.
    pub(super) fn count(&self) -> u32 {
        u32::try_from(self.0.len()).expect("checked at construction")
    }

    /// Every CPU's id, in order.
    pub(super) fn ids(&self) -> impl Iterator<Item = CpuId> + use<T> {
        (0..self.count()).map(CpuId)
    }

    /// Every CPU's value, in id order.
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> std::ops::Index<CpuId> for PerCpu<T> {
    type Output = T;
    fn index(&self, c: CpuId) -> &T {
        &self.0[c.index()]
    }
}

impl<T> std::ops::IndexMut<CpuId> for PerCpu<T> {
    fn index_mut(&mut self, c: CpuId) -> &mut T {
        &mut self.0[c.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_values_are_indexed_by_id() {
        let mut v = PerCpu::new(vec![10, 11, 12]);
        assert_eq!(v.count(), 3);
        assert_eq!(v.ids().collect::<Vec<_>>(), [CpuId(0), CpuId(1), CpuId(2)]);
        v[CpuId(2)] += 5;
        assert_eq!(v.iter().copied().collect::<Vec<_>>(), [10, 11, 17]);
    }
}
