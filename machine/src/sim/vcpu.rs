//! vCPUs on physical CPUs (`[vcpu]`): the host scheduler deschedules the
//! host domain's vCPUs to run other tenants' vCPUs, and KVM's paravirtual
//! TLB flush skips the preempted ones.
//!
//! # The host schedule
//! Host-domain vCPU `i` runs on physical CPU `i` with `overcommit - 1`
//! other tenants' vCPUs (see [`crate::VcpuConfig`] for the placement). Time
//! is cut into host slices of `host_slice_us`. After each slice of the
//! host-domain vCPU, each other vCPU independently wants one slice with
//! probability `tenant_load`; the `k` that do run one after another, so
//! the host-domain vCPU is *descheduled* for `k` slices, then runs at least
//! one more slice. The first slice of each CPU ends at a uniformly drawn
//! offset, so CPUs are not in step. Each CPU draws from its own random
//! stream (`STREAM_VCPU_BASE + cpu`). Assumptions: round robin at the slice
//! boundary, no wake-up preemption (a vCPU woken while a neighbour runs
//! waits for that neighbour's slice to end, as Xen credit2's 1 ms rate
//! limit and EEVDF's run-to-parity make likely for the first part of a
//! slice), and neighbours that run whole slices.
//!
//! # What a descheduled vCPU does
//! Nothing, until its span ends. A span is interrupt-level work on the
//! CPU's clock (it is neither an IPI handler nor stolen by one): it waits
//! for earlier interrupt-level work, pushes back the thread-level segment
//! it lands in (the ring is not served, a lock held in that segment stays
//! held), and an IPI arriving during it is handled after it. A spinning
//! shootdown initiator (no segment) that is descheduled when its last
//! acknowledgement lands sees it only when it runs again, so the flush lock
//! it holds stays held meanwhile.
//!
//! # Lazily, with no events
//! Like the background workload, the schedule is replayed when something
//! touches a CPU ([`Simulation::vcpu_catch_up`]): every span that starts at
//! or before that cycle is applied first. Accuracy note: a span is applied
//! in order with the interrupt-level work already placed on the CPU, so one
//! that begins during a handler starts when that handler ends (a shift by
//! one handler, microseconds against a slice of milliseconds).
//!
//! # Paravirtual flush
//! With `vcpu.pv_tlb_flush = "on"` a shootdown skips every target whose
//! vCPU is descheduled when the initiator picks its targets
//! (`kvm_flush_tlb_multi`, arch/x86/kernel/kvm.c, reads each target's
//! `steal_time.preempted`), and that vCPU's TLB is flushed whole before it
//! runs again (`KVM_VCPU_FLUSH_TLB`, honoured by `record_steal_time`,
//! arch/x86/kvm/x86.c). The flush's TLB effect is applied at once (nothing
//! runs on the vCPU before its entry), its cost
//! (`costs.full_flush_cycles`) at the entry. `"skip-only"` skips without
//! the flush: a deliberately broken variant for the stale-use checker.
//!
//! # Steal time
//! A span counts as steal time (what KVM reports to the guest) when the
//! vCPU had something to run as it began: a thread-level segment, pending
//! interrupt-level work, the background workload, or a backend that is not
//! asleep. A halted vCPU woken during a span steals the rest of it.

use super::*;
use crate::PvTlbFlush;

/// First random stream of the host schedule (one per CPU).
pub(in crate::sim) const STREAM_VCPU_BASE: u64 = 4_000_000;

/// The host schedule of every host-domain vCPU.
pub(super) struct Vcpus {
    /// Whether any vCPU is ever descheduled.
    pub(super) enabled: bool,
    /// The neighbours every vCPU shares its physical CPU with.
    neighbours: Neighbours,
    /// KVM's paravirtual TLB flush.
    pub(super) pv: PvTlbFlush,
    per_cpu: PerCpu<VcpuState>,
}

/// The other tenants' vCPUs on one physical CPU.
#[derive(Clone, Copy)]
struct Neighbours {
    /// How many.
    others: u32,
    /// Probability that each of them wants a slice.
    load: f64,
    /// The host time slice, cycles.
    slice_cycles: u64,
}

impl Neighbours {
    /// Draws the next span of `s`: the first slice boundary from `from`
    /// (one of the vCPU's slices ends there) at which some neighbour wants
    /// to run, and how many slices they take.
    fn draw_next(self, s: &mut VcpuState, from: u64) {
        let mut at = from;
        loop {
            let k = (0..self.others)
                .filter(|_| s.rng.random::<f64>() < self.load)
                .count() as u64;
            if k > 0 {
                s.next_start = at;
                s.next_len = k * self.slice_cycles;
                return;
            }
            at += self.slice_cycles;
        }
    }
}

/// One vCPU's host schedule.
struct VcpuState {
    rng: SimRng,
    /// The next span not yet applied: its start and length.
    next_start: u64,
    next_len: u64,
    /// The last span applied, `[start, end)`.
    cur_start: u64,
    cur_end: u64,
    /// The last span found the vCPU halted: a wake during it steals the
    /// rest.
    cur_halted: bool,
}

impl Vcpus {
    /// The schedules of `cpus` vCPUs for `cfg`, drawn from `seed`.
    pub(super) fn new(cfg: &crate::VcpuConfig, cpus: u32, frequency_ghz: f64, seed: u64) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a validated positive slice of at most a second"
        )]
        let slice_cycles = ((cfg.host_slice_us * frequency_ghz * 1e3).round() as u64).max(1);
        let enabled = cfg.shared();
        let neighbours = Neighbours {
            others: cfg.overcommit.saturating_sub(1),
            load: cfg.tenant_load,
            slice_cycles,
        };
        let states = (0..cpus)
            .map(|c| {
                let mut rng = rng_stream(seed, STREAM_VCPU_BASE + u64::from(c));
                let first = if enabled {
                    rng.random_range(0..slice_cycles)
                } else {
                    u64::MAX
                };
                let mut s = VcpuState {
                    rng,
                    next_start: first,
                    next_len: 0,
                    cur_start: 0,
                    cur_end: 0,
                    cur_halted: false,
                };
                if enabled {
                    neighbours.draw_next(&mut s, first);
                }
                s
            })
            .collect();
        Self {
            enabled,
            neighbours,
            pv: cfg.pv_tlb_flush,
            per_cpu: PerCpu::new(states),
        }
    }

    /// The end of the span CPU `c` is descheduled in at `now`, if it is
    /// (as far as the schedule has been applied).
    fn descheduled_until(&self, c: CpuId, now: u64) -> Option<u64> {
        let s = &self.per_cpu[c];
        (self.enabled && s.cur_start <= now && now < s.cur_end).then_some(s.cur_end)
    }
}

impl<O: Observer> Simulation<O> {
    /// Applies CPU `c`'s host schedule up to cycle `until`: every span that
    /// starts at or before it (see the module docs).
    pub(super) fn vcpu_catch_up(&mut self, c: CpuId, until: u64) {
        if !self.vcpus.enabled {
            return;
        }
        while self.vcpus.per_cpu[c].next_start <= until {
            let (s, len) = {
                let st = &self.vcpus.per_cpu[c];
                (st.next_start, st.next_len)
            };
            let runnable = self.vcpu_runnable(c, s);
            let (start, end) = self.interrupt_level(c, s, len);
            if runnable {
                self.cpus[c].stats.steal_cycles += self.window.counted(len);
            }
            if O::ENABLED {
                self.obs
                    .slice(self.cpus[c].stats.cpu, SliceKind::Descheduled, start, end);
            }
            let n = self.vcpus.neighbours;
            let st = &mut self.vcpus.per_cpu[c];
            st.cur_start = start;
            st.cur_end = end;
            st.cur_halted = !runnable;
            n.draw_next(st, end + n.slice_cycles);
        }
    }

    /// Whether CPU `c`'s vCPU had something to run at cycle `t`.
    fn vcpu_runnable(&self, c: CpuId, t: u64) -> bool {
        let cpu = &self.cpus[c];
        if cpu.clock.segment_active || cpu.clock.irq_free_at > t || cpu.bg_next != u64::MAX {
            return true;
        }
        cpu.backend.is_some_and(|b| {
            !matches!(
                self.backends[b].phase,
                Phase::Idle | Phase::Waking | Phase::Device | Phase::Away
            )
        })
    }

    /// Something wakes CPU `c` at `now` (an interrupt, a segment): the
    /// schedule is applied up to `now`, and a halted vCPU woken during a
    /// span steals the rest of it.
    pub(super) fn vcpu_wake(&mut self, c: CpuId, now: u64) {
        if !self.vcpus.enabled {
            return;
        }
        self.vcpu_catch_up(c, now);
        if let Some(end) = self.vcpus.descheduled_until(c, now) {
            let st = &mut self.vcpus.per_cpu[c];
            if st.cur_halted {
                st.cur_halted = false;
                self.cpus[c].stats.steal_cycles += self.window.counted(end - now);
            }
        }
    }

    /// Whether CPU `c`'s vCPU is descheduled at `now`, as far as its
    /// schedule has been applied (callers catch it up first).
    pub(super) fn vcpu_descheduled_at(&self, c: CpuId, now: u64) -> bool {
        self.vcpus.descheduled_until(c, now).is_some()
    }

    /// Applies every CPU's host schedule up to `now` (before a shootdown
    /// picks its targets, which reads who is descheduled).
    pub(super) fn vcpu_catch_up_all(&mut self, now: u64) {
        if self.vcpus.enabled {
            for c in self.cpus.ids() {
                self.vcpu_catch_up(c, now);
            }
        }
    }

    /// If CPU `c`'s vCPU is descheduled at `now`, the cycle it runs again.
    pub(super) fn vcpu_preempted_until(&mut self, c: CpuId, now: u64) -> Option<u64> {
        if !self.vcpus.enabled {
            return None;
        }
        self.vcpu_catch_up(c, now);
        self.vcpus.descheduled_until(c, now)
    }

    /// Paravirtual TLB flush: whether the shootdown being sent at `now`
    /// skips target `x` (its vCPU is preempted). A skipped vCPU's TLB is
    /// flushed before it runs again (`"on"`), or never (`"skip-only"`).
    pub(super) fn pv_flush_skips(&mut self, x: CpuId, now: u64) -> bool {
        if self.vcpus.pv == PvTlbFlush::Off {
            return false;
        }
        let Some(entry) = self.vcpu_preempted_until(x, now) else {
            return false;
        };
        if self.vcpus.pv == PvTlbFlush::On {
            let cpu = &mut self.cpus[x];
            cpu.flush_all();
            cpu.stats.pv_flushes += self.window.counted(1);
            // The host flushes at the vCPU's next entry, before it runs.
            let cost = self.costs.full_flush_cycles;
            self.interrupt_level(x, entry, cost);
        }
        true
    }
}
