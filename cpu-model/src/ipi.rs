//! How a CPU sends an IPI to a set of targets (`machine.ipi_delivery`), and
//! the closed forms of a broadcast shootdown under each mode.
//!
//! The mode decides only the *sender's* timeline: how many ICR writes or
//! hypercalls a target list costs it and when each target's IPI leaves. What
//! a target pays on arrival (`ipi_delivery_cycles` in flight, then
//! `ipi_receive_cycles` + `ipi_handler_cycles` + its flush at interrupt
//! level) comes from the [`CostTable`] and is the same under every mode.
//! The machine's event-driven implementations live in `machine/src/sim/ipi/`
//! (one file per mode); the closed forms here are written independently so
//! that a test can check the machine against them.
//!
//! Assumption (all modes): APIC ids equal CPU ids, numbered contiguously
//! from 0, as Linux enumerates them on a single-socket or socket-ordered
//! server; x2APIC clusters are then CPUs `16k..16k+15`.

use crate::costs::latency_after_sends;
use crate::CostTable;

/// CPUs per x2APIC logical cluster: one ICR write reaches any subset of a
/// cluster (`apic_cluster(apicid) = apicid >> 4`). Source: Linux
/// arch/x86/kernel/apic/x2apic_cluster.c.
pub const X2APIC_CLUSTER_CPUS: u32 = 16;

/// Destination vCPUs one KVM PV send-IPI hypercall can name: a bitmap of
/// `2 * BITS_PER_LONG` = 128 APIC ids above a minimum (`KVM_IPI_CLUSTER_SIZE`).
/// Source: Linux arch/x86/kernel/kvm.c (`__send_ipi_mask`,
/// `kvm_send_ipi_mask`).
pub const PV_SEND_IPI_CPUS: u32 = 128;

/// How IPIs leave the sender (`machine.ipi_delivery`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpiDeliveryMode {
    /// One ICR write per target, `ipi_send_cycles` each, one after another
    /// (x2APIC physical mode, or xAPIC). The default: today's behaviour.
    #[default]
    Unicast,
    /// One ICR write (`ipi_send_cycles`) per x2APIC cluster of 16 CPUs that
    /// holds a target, in ascending cluster order (Linux
    /// x2apic_cluster.c, `__x2apic_send_IPI_mask`).
    X2apicCluster,
    /// One ICR write with the all-but-self shorthand: every other CPU is
    /// interrupted, whatever the target list (so lazy-TLB skipping cannot
    /// exclude anyone). Linux uses it only when the mask is all-but-self
    /// (arch/x86/kernel/apic/ipi.c, `apic_use_ipi_shorthand`).
    Shorthand,
    /// KVM paravirtual send-IPI: one hypercall (`ipi_hypercall_cycles`) per
    /// window of 128 consecutive APIC ids holding targets, in ascending
    /// order (Linux arch/x86/kernel/kvm.c, `kvm_send_ipi_mask`).
    PvSendIpi,
}

impl IpiDeliveryMode {
    /// Every mode, in documentation order.
    pub const ALL: [IpiDeliveryMode; 4] = [
        IpiDeliveryMode::Unicast,
        IpiDeliveryMode::X2apicCluster,
        IpiDeliveryMode::Shorthand,
        IpiDeliveryMode::PvSendIpi,
    ];

    /// The name a scenario uses for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            IpiDeliveryMode::Unicast => "unicast",
            IpiDeliveryMode::X2apicCluster => "x2apic-cluster",
            IpiDeliveryMode::Shorthand => "shorthand",
            IpiDeliveryMode::PvSendIpi => "pv-send-ipi",
        }
    }

    /// The mode a scenario names, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The sender's cycles to interrupt every CPU but `initiator` of a machine
/// of `cpus` CPUs under `mode` (the time from its first ICR write or
/// hypercall until its last IPI has left):
///
/// ```text
/// unicast         (cpus - 1) * ipi_send
/// x2apic-cluster  clusters holding a CPU other than the initiator * ipi_send
/// shorthand       ipi_send
/// pv-send-ipi     ceil(span / 128) * ipi_hypercall
/// ```
///
/// `span` is the highest target id minus the lowest plus one. The
/// pv-send-ipi form is exact for `cpus <= 129` and for an initiator at
/// either end (0 or `cpus - 1`); with more CPUs and the initiator's hole
/// inside the range, the kernel's windows (which restart at the first
/// target past the previous window) can need one hypercall fewer.
/// Zero with fewer than two CPUs.
#[must_use]
pub fn broadcast_send_cycles(
    costs: &CostTable,
    mode: IpiDeliveryMode,
    cpus: u32,
    initiator: u32,
) -> u64 {
    if cpus < 2 {
        return 0;
    }
    match mode {
        IpiDeliveryMode::Unicast => u64::from(cpus - 1) * costs.ipi_send_cycles,
        IpiDeliveryMode::X2apicCluster => {
            let clusters = cpus.div_ceil(X2APIC_CLUSTER_CPUS);
            let own = initiator / X2APIC_CLUSTER_CPUS;
            let own_size = (cpus - own * X2APIC_CLUSTER_CPUS).min(X2APIC_CLUSTER_CPUS);
            // The initiator's cluster needs a write only if it has another CPU.
            let written = clusters - u32::from(own_size == 1);
            u64::from(written) * costs.ipi_send_cycles
        }
        IpiDeliveryMode::Shorthand => costs.ipi_send_cycles,
        IpiDeliveryMode::PvSendIpi => {
            let low = u32::from(initiator == 0);
            let high = if initiator == cpus - 1 {
                cpus - 2
            } else {
                cpus - 1
            };
            let span = high - low + 1;
            u64::from(span.div_ceil(PV_SEND_IPI_CPUS)) * costs.ipi_hypercall_cycles
        }
    }
}

/// The closed form of one shootdown of every CPU but `initiator` under
/// `mode`, seen by the initiator, for fixed costs, an uncontended lock and
/// targets not already at interrupt level:
///
/// ```text
/// latency = lock + local_flush + broadcast_send(mode) + ipi_delivery
///         + ipi_receive + ipi_handler + remote_flush + ack
/// ```
///
/// Every target pays the same on arrival under every mode, so the last IPI
/// to leave decides the latency. With one CPU it is `lock + local_flush`.
/// Under `unicast` it equals [`shootdown_latency_cycles`] with
/// `cpus - 1` targets.
///
/// [`shootdown_latency_cycles`]: crate::shootdown_latency_cycles
#[must_use]
pub fn broadcast_shootdown_latency_cycles(
    costs: &CostTable,
    mode: IpiDeliveryMode,
    cpus: u32,
    initiator: u32,
    local_flush: u64,
    remote_flush: u64,
    lock: bool,
) -> u64 {
    let sends = (cpus >= 2).then(|| broadcast_send_cycles(costs, mode, cpus, initiator));
    latency_after_sends(costs, lock, local_flush, sends, remote_flush)
}

/// What a broadcast to every CPU but the initiator adds to
/// [`broadcast_shootdown_latency_cycles`] when every target is a blocked
/// halted vCPU that takes `wake` cycles on its own side (`[idle]`: the
/// host's wake-up of its thread, the physical CPU's C-state exit, the VM
/// entry) before its handler runs:
///
/// ```text
/// latency_to_halted = broadcast_shootdown_latency(mode)
///                   + (cpus - 1) * ipi_send_halted_target + wake
/// ```
///
/// Each ICR write or hypercall also kicks, one after another, every
/// destination it names (`ipi_send_halted_target_cycles` each, the host's
/// serial wake-up work in the sender's exit), so under every mode the last
/// IPI leaves `(cpus - 1)` kicks later than [`broadcast_send_cycles`]
/// (`wake` = 0 gives that delay alone); the targets' wakes run in
/// parallel, so only one counts. Zero with fewer than two CPUs.
#[must_use]
pub fn halted_targets_extra_cycles(costs: &CostTable, cpus: u32, wake: u64) -> u64 {
    if cpus < 2 {
        return 0;
    }
    u64::from(cpus - 1) * costs.ipi_send_halted_target_cycles + wake
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shootdown_latency_cycles;

    #[test]
    fn names_round_trip() {
        for m in IpiDeliveryMode::ALL {
            assert_eq!(IpiDeliveryMode::from_name(m.name()), Some(m));
        }
        assert_eq!(IpiDeliveryMode::from_name("multicast"), None);
    }

    #[test]
    fn unicast_equals_the_target_count_form() {
        let c = CostTable::default();
        for cpus in [1, 2, 8, 64] {
            assert_eq!(
                broadcast_shootdown_latency_cycles(
                    &c,
                    IpiDeliveryMode::Unicast,
                    cpus,
                    0,
                    500,
                    250,
                    true
                ),
                shootdown_latency_cycles(&c, u64::from(cpus.saturating_sub(1)), 500, 250, true)
            );
        }
    }

    #[test]
    fn send_counts_per_mode() {
        let c = CostTable::default();
        let sends = |m, cpus, init| broadcast_send_cycles(&c, m, cpus, init) / c.ipi_send_cycles;
        // Clusters: 64 CPUs are 4 clusters; 17 CPUs with CPU 16 sending
        // leave its own one-CPU cluster unwritten.
        assert_eq!(sends(IpiDeliveryMode::X2apicCluster, 64, 0), 4);
        assert_eq!(sends(IpiDeliveryMode::X2apicCluster, 16, 3), 1);
        assert_eq!(sends(IpiDeliveryMode::X2apicCluster, 17, 16), 1);
        assert_eq!(sends(IpiDeliveryMode::X2apicCluster, 17, 0), 2);
        assert_eq!(sends(IpiDeliveryMode::Shorthand, 256, 7), 1);
        let calls = |cpus, init| broadcast_send_cycles(&c, IpiDeliveryMode::PvSendIpi, cpus, init);
        assert_eq!(calls(128, 5), c.ipi_hypercall_cycles);
        assert_eq!(calls(129, 0), c.ipi_hypercall_cycles);
        assert_eq!(calls(129, 5), 2 * c.ipi_hypercall_cycles);
        assert_eq!(calls(256, 0), 2 * c.ipi_hypercall_cycles);
    }

    /// Kicking halted targets adds one `ipi_send_halted_target_cycles` per
    /// target to every mode's send time (the kicks are serial even where
    /// the writes are not), and the wake once (the targets wake in
    /// parallel).
    #[test]
    fn halted_targets_add_one_kick_per_target_in_every_mode() {
        let mut c = CostTable::kvm_guest();
        c.ipi_send_halted_target_cycles = 2_000;
        let wake = 9_000;
        // The same for every mode and initiator: one kick per target.
        for cpus in [2, 17, 80, 129] {
            assert_eq!(
                halted_targets_extra_cycles(&c, cpus, wake),
                u64::from(cpus - 1) * 2_000 + wake,
                "{cpus}"
            );
        }
        // One CPU: nothing to send, nobody to wake.
        assert_eq!(halted_targets_extra_cycles(&c, 1, wake), 0);
        // 80 CPUs from CPU 0, 79 halted targets, each mode by hand: 79 ICR
        // exits, 5 cluster writes, one shorthand write or one hypercall,
        // and 79 kicks in every case.
        let exit = c.ipi_send_cycles;
        for (mode, writes) in [
            (IpiDeliveryMode::Unicast, 79 * exit),
            (IpiDeliveryMode::X2apicCluster, 5 * exit),
            (IpiDeliveryMode::Shorthand, exit),
            (IpiDeliveryMode::PvSendIpi, c.ipi_hypercall_cycles),
        ] {
            assert_eq!(
                broadcast_send_cycles(&c, mode, 80, 0) + halted_targets_extra_cycles(&c, 80, 0),
                writes + 79 * 2_000,
                "{mode:?}"
            );
        }
    }
}
