//! Locks: a FIFO lock (the flush lock, the map lock), and how a map-lock
//! waiter behaves (spins, sleeps, or spins then sleeps).

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

    /// Releases the map lock at `now`, handing it to the first waiter.
    pub(super) fn release_map_lock(
        &mut self,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let Some(next) = self.map_lock.release() else {
            return Ok(());
        };
        let n = next;
        let b = self.backend_of(n);
        if self.lock_waiter_sleeps(b, now) {
            let wake = self.vary.draw(Cost::MapLockWake);
            self.cpus[n].wake_debt += wake;
        }
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
    fn a_disabled_lock_never_queues() {
        let mut l = FifoLock::new(false);
        assert!(l.take(CpuId(0)) && l.take(CpuId(1)));
        assert_eq!(l.release(), None);
    }
}
