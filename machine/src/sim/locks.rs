//! Locks: a FIFO lock (the flush lock, the map lock), how a map-lock
//! waiter behaves (spins, sleeps, or spins then sleeps), and lock stealing
//! (`host.map_lock_steal`: a release passes over waiters that are not
//! running, as a Linux rwsem does before its handoff timeout).
//!
//! # Within one cycle
//! A release that passes over a waiter schedules its `MapLockRetry` at its
//! wake-up (or its vCPU's return); the lock is free from the release on, so
//! any take in between, even in the same cycle, gets it. A retry that finds
//! the lock held queues its waiter first again (it keeps its place).

use super::*;

/// A domain-wide lock with a FIFO of waiting CPUs (the flush lock, the map
/// lock). Disabled, it is always free and never queues anyone.
#[derive(Debug, Default)]
pub(super) struct FifoLock {
    pub(super) enabled: bool,
    pub(super) held: bool,
    pub(super) waiters: VecDeque<CpuId>,
    /// Who holds it (while `held`).
    pub(super) owner: Option<CpuId>,
}

impl FifoLock {
    pub(super) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Takes the lock for `cpu`: true if it may go on now, false if it was
    /// queued.
    pub(super) fn take(&mut self, cpu: CpuId) -> bool {
        if !self.enabled {
            return true;
        }
        if self.held {
            self.waiters.push_back(cpu);
            return false;
        }
        self.held = true;
        self.owner = Some(cpu);
        true
    }

    /// Takes the lock for `cpu`, a waiter passed over at a release: as
    /// [`FifoLock::take`], but it queues first, in the place it had.
    pub(super) fn retake(&mut self, cpu: CpuId) -> bool {
        if self.held {
            self.waiters.push_front(cpu);
            return false;
        }
        self.take(cpu)
    }

    /// Releases the lock: the first waiter, who now holds it, if any.
    pub(super) fn release(&mut self) -> Option<CpuId> {
        if !self.enabled {
            return None;
        }
        let next = self.waiters.pop_front();
        self.held = next.is_some();
        self.owner = next;
        next
    }
}

impl<O: Observer> Simulation<O> {
    /// Takes the map lock for CPU `c` if `host.map_lock` is on: true if the
    /// caller may go on now, false if `c` now waits in `phase`.
    pub(super) fn take_map_lock(&mut self, c: CpuId, phase: Phase) -> bool {
        if self.map_lock.take(c) {
            return true;
        }
        let b = self.backend_of(c);
        self.backends[b].phase = phase;
        false
    }

    /// Releases the map lock at `now`, handing it to the first waiter (with
    /// `host.map_lock_steal`, to the first that is running or has waited
    /// the handoff timeout; the others retry later).
    pub(super) fn release_map_lock(
        &mut self,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if self.map_lock_steal {
            self.pass_over_waiters(now, sched);
        }
        let Some(next) = self.map_lock.release() else {
            return Ok(());
        };
        let b = self.backend_of(next);
        if self.lock_waiter_sleeps(b, now) {
            let wake = self.vary.draw(Cost::MapLockWake);
            self.cpus[next].wake_debt += wake;
        }
        self.resume_map_lock_waiter(next, now, sched)
    }

    /// With `host.map_lock_steal`, at a release at `now`: takes out of the
    /// queue, from its head, every waiter that is not running and has
    /// waited less than the handoff timeout, and schedules its retry: a
    /// sleeping one once woken (`up_write` -> `rwsem_wake` wakes it; it
    /// then tries `rwsem_try_write_lock` itself), one spinning on a
    /// descheduled vCPU when that vCPU runs again. Stops at the first that
    /// spins on a running CPU (it takes the lock the moment it is free: an
    /// optimistic spinner) or has waited `RWSEM_WAIT_TIMEOUT` (it set
    /// `RWSEM_FLAG_HANDOFF`, so nobody may steal it): that one is handed
    /// the lock.
    fn pass_over_waiters(&mut self, now: u64, sched: &mut Sched<'_>) {
        let handoff = self.rwsem_handoff_cycles();
        while let Some(&w) = self.map_lock.waiters.front() {
            let b = self.backend_of(w);
            if now.saturating_sub(self.backends[b].phase_start) >= handoff {
                break;
            }
            let retry = if self.lock_waiter_sleeps(b, now) {
                Some(now + self.vary.draw(Cost::MapLockWake))
            } else {
                self.vcpu_preempted_until(w, now)
            };
            let Some(at) = retry else {
                break;
            };
            self.map_lock.waiters.pop_front();
            sched.at(Instant(at), Event::MapLockRetry { cpu: w });
        }
    }

    /// Linux's rwsem handoff timeout in cycles: `RWSEM_WAIT_TIMEOUT` =
    /// `DIV_ROUND_UP(HZ, 250)` jiffies, 4 ms at HZ 250 or 1000
    /// (kernel/locking/rwsem.c, "at least 4ms ... before initiating the
    /// handoff protocol").
    fn rwsem_handoff_cycles(&self) -> u64 {
        const RWSEM_WAIT_TIMEOUT_US: f64 = 4_000.0;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a positive cycle count far below 2^64"
        )]
        let cycles = (RWSEM_WAIT_TIMEOUT_US * 1_000.0 * self.frequency_ghz).round() as u64;
        cycles
    }

    /// A waiter passed over at a release (`pass_over_waiters`) tries again
    /// at `now`: it takes the lock if it is free, or queues first again.
    pub(super) fn retry_map_lock(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if self.map_lock.retake(c) {
            self.resume_map_lock_waiter(c, now, sched)?;
        }
        Ok(())
    }

    /// CPU `n`, which waited for the map lock, holds it at `now`: it goes
    /// on with the map or unmap it waited in.
    fn resume_map_lock_waiter(
        &mut self,
        n: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(n);
        match self.backends[b].phase {
            Phase::WaitMapLockMap => self.begin_map(n, now, sched)?,
            Phase::WaitMapLockUnmap => {
                let waited = now - self.backends[b].phase_start;
                self.add_part(self.backends[b].current, Part::Unmap, waited);
                self.begin_unmap(n, now, sched)?;
            }
            p => unreachable!("map-lock waiter in phase {p:?}"),
        }
        Ok(())
    }

    /// Whether the map lock's owner is a vCPU the host has descheduled at
    /// `now` (as far as its schedule has been applied): a Linux rwsem
    /// waiter then stops spinning and sleeps (`rwsem_spin_on_owner` stops
    /// when `owner_on_cpu` is false, which is `vcpu_is_preempted` on a KVM
    /// guest; kernel/locking/rwsem.c). Never with dedicated CPUs.
    fn lock_owner_preempted(&self, now: u64) -> bool {
        self.map_lock
            .owner
            .is_some_and(|o| self.map_lock.held && self.vcpu_descheduled_at(o, now))
    }

    /// Whether backend `b`, waiting for the map lock, sleeps at `now` (as
    /// opposed to spinning on its CPU).
    pub(super) fn lock_waiter_sleeps(&self, b: usize, now: u64) -> bool {
        use crate::config::LockWaiter;
        match self.map_lock_waiter {
            LockWaiter::Sleep => true,
            LockWaiter::Spin => false,
            LockWaiter::SpinThenSleep => {
                now.saturating_sub(self.backends[b].phase_start) >= self.costs.map_lock_spin_cycles
                    || self.lock_owner_preempted(now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_get_the_lock_in_arrival_order() {
        let mut l = FifoLock::new(true);
        assert!(l.take(CpuId(0)), "free: taken at once");
        assert!(!l.take(CpuId(3)));
        assert!(!l.take(CpuId(1)));
        assert_eq!(l.release(), Some(CpuId(3)), "handed to the first waiter");
        assert!(l.held, "the waiter now holds it");
        assert_eq!(l.release(), Some(CpuId(1)));
        assert_eq!(l.release(), None);
        assert!(!l.held);
        assert!(l.take(CpuId(2)));
    }

    #[test]
    fn a_passed_over_waiter_keeps_its_place() {
        let mut l = FifoLock::new(true);
        assert!(l.take(CpuId(0)));
        assert!(!l.take(CpuId(1)));
        // Its retry finds the lock held (stolen): it queues first again.
        assert!(!l.retake(CpuId(2)));
        assert_eq!(l.waiters, [CpuId(2), CpuId(1)]);
        assert_eq!(l.release(), Some(CpuId(2)));
        l.waiters.clear();
        assert_eq!(l.release(), None);
        assert!(l.retake(CpuId(3)), "free: taken at once");
        assert_eq!(l.owner, Some(CpuId(3)));
    }

    #[test]
    fn a_disabled_lock_never_queues() {
        let mut l = FifoLock::new(false);
        assert!(l.take(CpuId(0)) && l.take(CpuId(1)));
        assert_eq!(l.release(), None);
    }
}
