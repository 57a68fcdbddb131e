//! `[vcpu]` and `[idle]`: the host domain's CPUs as vCPUs on physical CPUs
//! shared with other tenants, and what waking an idle CPU costs. Both are
//! off by default (dedicated CPUs that poll when idle), which is the
//! machine every earlier result was produced on.

use crate::config::Problem;
use sim_core::KeyPath;

/// Largest `vcpu.overcommit`: vCPUs per physical CPU.
pub const MAX_OVERCOMMIT: u32 = 64;
/// Largest `vcpu.host_slice_us` (one second).
pub const MAX_HOST_SLICE_US: f64 = 1e6;
/// Largest `idle.halt_poll_us` and `idle.host_wake_us` (one second).
pub const MAX_IDLE_US: f64 = 1e6;

/// The host domain's CPUs as vCPUs placed on physical CPUs
/// (`machine/src/sim/vcpu.rs` models them).
///
/// Placement: vCPU `i` of the host domain runs on physical CPU `i`, which
/// it shares with `overcommit - 1` vCPUs of other tenants; two vCPUs of
/// the host domain never share a physical CPU. Assumption: the common
/// pinning of a driver domain (dom0 vCPUs pinned one per physical CPU,
/// Xen's `dom0_vcpus_pin`) with other guests' vCPUs floating onto the same
/// CPUs; packing several host-domain vCPUs onto one physical CPU is not
/// modelled.
#[derive(Clone, Debug, PartialEq)]
pub struct VcpuConfig {
    /// vCPUs per physical CPU: the host domain's one plus `overcommit - 1`
    /// other tenants' vCPUs. 1 (the default) is a dedicated CPU: the host
    /// domain's vCPU is never descheduled, as in every earlier result.
    pub overcommit: u32,
    /// The share of host time slices in which each other tenant's vCPU is
    /// runnable (0 to 1): at the end of each slice of the host domain's
    /// vCPU, each of the `overcommit - 1` other vCPUs independently wants
    /// its own slice with this probability. Default 0.5, an assumption (a
    /// half-loaded neighbour); 1 is a neighbour that never idles.
    pub tenant_load: f64,
    /// The host scheduler's time slice, microseconds: how long a vCPU runs
    /// before the scheduler lets another runnable vCPU of the same CPU run.
    /// Default 3,000 us: Linux's EEVDF base slice, `sysctl_sched_base_slice`
    /// = 0.75 ms scaled by `1 + ilog2(min(ncpus, 8))` = 4 on a host of 8 or
    /// more CPUs (kernel/sched/fair.c, `get_update_sysctl_factor`), i.e. a
    /// KVM host. Xen's credit2 runs a vCPU for at most its credit, 10 ms
    /// (`CSCHED2_CREDIT_INIT`, xen/common/sched/credit2.c), and never less
    /// than the 1 ms rate limit (`SCHED_DEFAULT_RATELIMIT_US` = 1000); credit1
    /// slices 30 ms (`CSCHED_DEFAULT_TSLICE_MS`).
    pub host_slice_us: f64,
    /// KVM's paravirtual TLB flush (`KVM_FEATURE_PV_TLB_FLUSH`):
    /// `kvm_flush_tlb_multi` (arch/x86/kernel/kvm.c) sends no IPI to a
    /// target whose vCPU the host preempted, sets `KVM_VCPU_FLUSH_TLB` in
    /// its steal-time area instead, and the host flushes that vCPU's TLB
    /// before it next enters the guest (`record_steal_time`,
    /// arch/x86/kvm/x86.c). Default off.
    pub pv_tlb_flush: PvTlbFlush,
}

/// `vcpu.pv_tlb_flush`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PvTlbFlush {
    /// Every target gets its IPI, preempted or not.
    #[default]
    Off,
    /// Preempted targets are skipped and flushed at their next entry
    /// (KVM's protocol): safe.
    On,
    /// Deliberately broken: preempted targets are skipped and never
    /// flushed (the flag is dropped). It exists so that the stale-use
    /// checker can show what the deferred flush protects; never a real
    /// configuration.
    SkipOnly,
}

impl Default for VcpuConfig {
    fn default() -> Self {
        Self {
            overcommit: 1,
            tenant_load: 0.5,
            host_slice_us: 3_000.0,
            pv_tlb_flush: PvTlbFlush::Off,
        }
    }
}

impl VcpuConfig {
    /// Whether any vCPU can be descheduled (other tenants that want to run).
    #[must_use]
    pub fn shared(&self) -> bool {
        self.overcommit > 1 && self.tenant_load > 0.0
    }

    /// Problems of this section, at `vcpu.*`.
    pub(crate) fn problems(&self, out: &mut Vec<Problem>) {
        let mut p = |field: &'static str, message: String| {
            out.push(Problem::new(KeyPath::of(&["vcpu", field]), message));
        };
        if self.overcommit == 0 || self.overcommit > MAX_OVERCOMMIT {
            p(
                "overcommit",
                format!(
                    "must be within 1..={MAX_OVERCOMMIT} vCPUs per physical CPU, got {}",
                    self.overcommit
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.tenant_load) {
            p(
                "tenant_load",
                format!("must be within 0..=1, got {:?}", self.tenant_load),
            );
        }
        if !(self.host_slice_us >= 1.0 && self.host_slice_us <= MAX_HOST_SLICE_US) {
            p(
                "host_slice_us",
                format!(
                    "must be within 1..={MAX_HOST_SLICE_US} us, got {:?}",
                    self.host_slice_us
                ),
            );
        }
        if self.pv_tlb_flush != PvTlbFlush::Off && self.overcommit == 1 {
            p(
                "pv_tlb_flush",
                "needs vcpu.overcommit > 1: with dedicated CPUs no vCPU is ever preempted".into(),
            );
        }
    }
}

/// What waking an idle CPU costs (`machine/src/sim/idle.rs`). An idle CPU
/// is one with nothing to run: a registered CPU whose backend waits for
/// work, or a CPU with neither a backend nor the background workload.
#[derive(Clone, Debug, PartialEq)]
pub struct IdleConfig {
    /// The deepest C-state an idle physical CPU enters.
    pub cstate: CState,
    /// Whether an idle host-domain CPU is a *halted vCPU* (HLT exits to the
    /// hypervisor, which blocks it) that the host must wake before it runs
    /// anything, an interrupt handler included. Default false (bare metal,
    /// or a vCPU that polls).
    pub halted_vcpu: bool,
    /// How long the host polls a halted vCPU for a wake-up before it blocks
    /// it, microseconds: a wake within it costs only the VM entry. Default
    /// 200 us: KVM's `halt_poll_ns` default, `KVM_HALT_POLL_NS_DEFAULT` =
    /// 200,000 ns on x86 (arch/x86/include/asm/kvm_host.h; the polling is
    /// described in Documentation/virt/kvm/halt-polling.rst). 0 disables it.
    pub halt_poll_us: f64,
    /// The host's wake-up of a blocked (halted, no longer polled) vCPU:
    /// from the kick until its thread runs again, microseconds, excluding
    /// the physical CPU's C-state exit and the VM entry. Default 3 us, an
    /// assumption read from Documentation/virt/kvm/halt-polling.rst ("a
    /// trip through the scheduler, normally on the order of a few
    /// micro-seconds").
    pub host_wake_us: f64,
}

impl Default for IdleConfig {
    fn default() -> Self {
        Self {
            cstate: CState::Poll,
            halted_vcpu: false,
            halt_poll_us: 200.0,
            host_wake_us: 3.0,
        }
    }
}

impl IdleConfig {
    /// Problems of this section, at `idle.*`.
    pub(crate) fn problems(&self, out: &mut Vec<Problem>) {
        for (field, v) in [
            ("halt_poll_us", self.halt_poll_us),
            ("host_wake_us", self.host_wake_us),
        ] {
            if !(0.0..=MAX_IDLE_US).contains(&v) {
                out.push(Problem::new(
                    KeyPath::of(&["idle", field]),
                    format!("must be within 0..={MAX_IDLE_US} us, got {v:?}"),
                ));
            }
        }
    }
}

/// `idle.cstate`: the deepest idle state of a physical CPU, with the exit
/// latency and target residency `intel_idle` gives it for Skylake-SP
/// (`skx_cstates`, drivers/idle/intel_idle.c): C1 2 us / 2 us, C1E
/// 10 us / 20 us, C6 133 us / 600 us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CState {
    /// The idle loop polls (`idle=poll`, or cpuidle's POLL state): no exit
    /// latency. What every earlier result assumed.
    #[default]
    Poll,
    /// C1 (MWAIT 0x00) at most.
    C1,
    /// C1E (MWAIT 0x01) at most.
    C1e,
    /// C6 (MWAIT 0x20) at most.
    C6,
}

impl CState {
    /// The states a CPU may enter, shallowest first, as
    /// `(exit latency us, target residency us)`: every state of the
    /// Skylake-SP table up to this one.
    #[must_use]
    pub fn states(self) -> &'static [(u32, u32)] {
        const SKX: [(u32, u32); 3] = [(2, 2), (10, 20), (133, 600)];
        match self {
            CState::Poll => &[],
            CState::C1 => &SKX[..1],
            CState::C1e => &SKX[..2],
            CState::C6 => &SKX,
        }
    }

    /// The exit latency, microseconds, of a CPU that has been idle for
    /// `idle_us`: the deepest allowed state whose target residency that
    /// idle period reached. Assumption: an oracle governor (it picks the
    /// state the idle period turned out to deserve); Linux's menu and teo
    /// governors predict it and sometimes miss either way.
    #[must_use]
    pub fn exit_latency_us(self, idle_us: f64) -> u32 {
        self.states()
            .iter()
            .rev()
            .find(|&&(_, residency)| idle_us >= f64::from(residency))
            .map_or(0, |&(exit, _)| exit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_latency_follows_the_skylake_sp_table() {
        assert_eq!(CState::Poll.exit_latency_us(1e9), 0);
        assert_eq!(CState::C6.exit_latency_us(1.0), 0);
        assert_eq!(CState::C6.exit_latency_us(2.0), 2);
        assert_eq!(CState::C6.exit_latency_us(50.0), 10);
        assert_eq!(CState::C6.exit_latency_us(600.0), 133);
        assert_eq!(CState::C1e.exit_latency_us(600.0), 10);
        assert_eq!(CState::C1.exit_latency_us(600.0), 2);
    }

    #[test]
    fn bad_values_are_located() {
        let mut out = Vec::new();
        VcpuConfig {
            overcommit: 0,
            tenant_load: 1.5,
            host_slice_us: 0.0,
            pv_tlb_flush: PvTlbFlush::On,
        }
        .problems(&mut out);
        IdleConfig {
            halt_poll_us: -1.0,
            ..IdleConfig::default()
        }
        .problems(&mut out);
        let keys: Vec<String> = out.iter().map(|p| p.key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "vcpu.overcommit",
                "vcpu.tenant_load",
                "vcpu.host_slice_us",
                "idle.halt_poll_us"
            ]
        );
        let mut none = Vec::new();
        VcpuConfig::default().problems(&mut none);
        IdleConfig::default().problems(&mut none);
        assert!(none.is_empty());
    }
}
