//! Idle CPUs (`[idle]`): what it costs to wake a CPU that has nothing to
//! run when an IPI, a ring notification or a migrated thread reaches it.
//!
//! A CPU is idle at a cycle when it runs no thread-level segment, no
//! interrupt-level work (a descheduled span counts as work: see `vcpu.rs`),
//! no background workload, and its backend (if any) is asleep waiting for
//! requests. It has been idle since the later of the cycle its backend went
//! to sleep and the end of its last interrupt-level work.
//!
//! Waking it costs, before anything else runs on it:
//! - on a physical CPU, the exit latency of the C-state it is in
//!   ([`crate::CState::exit_latency_us`]: the deepest state allowed by
//!   `idle.cstate` whose target residency the idle period reached);
//! - on a halted vCPU (`idle.halted_vcpu`), within the host's halt-polling
//!   window (`idle.halt_poll_us`) only the VM entry; past it, the host's
//!   wake-up of the blocked vCPU thread (`idle.host_wake_us`), the physical
//!   CPU's own C-state exit (it has been idle since polling stopped), and
//!   the VM entry. The VM entry is half a VM exit round trip
//!   (`costs.hypercall_cycles / 2`), an assumption: kvm-unit-tests' vmcall
//!   figure times the exit and the entry together.
//!
//! Assumption: the physical CPU under a halted vCPU runs nothing else (with
//! `vcpu.overcommit` a neighbour's slice is modelled by the host schedule,
//! not here). A wake costs latency on the woken CPU, not stolen cycles.

use super::*;

/// When each CPU's backend last went to sleep.
pub(super) struct IdleCpus {
    /// Whether waking costs anything (`idle.cstate` not `poll`, or halted
    /// vCPUs).
    enabled: bool,
    cfg: crate::IdleConfig,
    went_idle: PerCpu<u64>,
}

impl IdleCpus {
    pub(super) fn new(cfg: &crate::IdleConfig, cpus: u32) -> Self {
        Self {
            enabled: cfg.halted_vcpu || cfg.cstate != crate::CState::Poll,
            cfg: cfg.clone(),
            went_idle: PerCpu::new(vec![0; cpus as usize]),
        }
    }
}

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s backend goes to sleep at `now` (its ring is empty).
    pub(super) fn went_idle(&mut self, c: CpuId, now: u64) {
        self.idle.went_idle[c] = now;
    }

    /// The cycles it takes to wake CPU `c` for something that reaches it
    /// at `now` (0 if it is not idle, or waking is free); counted in its
    /// statistics.
    pub(super) fn idle_wake(&mut self, c: CpuId, now: u64) -> u64 {
        if !self.idle.enabled {
            return 0;
        }
        self.vcpu_wake(c, now);
        let Some(idle_us) = self.idle_us(c, now) else {
            return 0;
        };
        let cycles_per_us = self.frequency_ghz * 1e3;
        let cfg = &self.idle.cfg;
        let wake_us = if cfg.halted_vcpu {
            if idle_us < cfg.halt_poll_us {
                0.0
            } else {
                cfg.host_wake_us + f64::from(cfg.cstate.exit_latency_us(idle_us - cfg.halt_poll_us))
            }
        } else {
            f64::from(cfg.cstate.exit_latency_us(idle_us))
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a validated non-negative time of at most seconds"
        )]
        let mut wake = (wake_us * cycles_per_us).round() as u64;
        if cfg.halted_vcpu {
            wake += self.costs.hypercall_cycles / 2;
        }
        if wake > 0 {
            let counted = self.window.counted(1);
            let stats = &mut self.cpus[c].stats;
            stats.idle_wakes += counted;
            stats.idle_wake_cycles += counted * wake;
        }
        wake
    }

    /// How long CPU `c` has been idle at `now`, microseconds (`None`: it
    /// is not idle).
    fn idle_us(&self, c: CpuId, now: u64) -> Option<f64> {
        let cpu = &self.cpus[c];
        let asleep = cpu
            .backend
            .is_none_or(|b| self.backends[b].phase == Phase::Idle);
        if cpu.clock.segment_active
            || cpu.bg_next != u64::MAX
            || cpu.clock.irq_free_at > now
            || !asleep
        {
            return None;
        }
        let since = self.idle.went_idle[c].max(cpu.clock.irq_free_at);
        #[allow(clippy::cast_precision_loss, reason = "a duration in us")]
        Some((now - since) as f64 / (self.frequency_ghz * 1e3))
    }

    /// Whether idle host-domain CPUs are halted vCPUs (`idle.halted_vcpu`).
    pub(super) fn halted_vcpus(&self) -> bool {
        self.idle.cfg.halted_vcpu
    }

    /// Whether CPU `c` is, at `now`, a halted vCPU the host has blocked
    /// (`idle.halted_vcpu`, idle, past the halt-polling window): an IPI's
    /// sender then pays `costs.ipi_send_halted_target_cycles` to kick it.
    pub(super) fn blocked_halted_vcpu(&self, c: CpuId, now: u64) -> bool {
        self.halted_vcpus()
            && self
                .idle_us(c, now)
                .is_some_and(|us| us >= self.idle.cfg.halt_poll_us)
    }
}
