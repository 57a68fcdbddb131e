//! IPI delivery: how a shootdown's IPIs leave the sender
//! (`machine.ipi_delivery`), one file per mode, and what a target pays when
//! one arrives.
//!
//! A mode answers, for a target list, when each target's IPI leaves the
//! sender (its cost timeline: ICR writes or hypercalls, one after another)
//! and whether it interrupts every other CPU whatever the list (a
//! shorthand). What a target pays on arrival is the same under every mode
//! and modelled apart from the sender: `ipi_delivery_cycles` in flight, then
//! `ipi_receive_cycles` (a VM exit without posted interrupts) and
//! `ipi_handler_cycles` at interrupt level, stolen from the target
//! (`invalidate.rs`, `ipi_arrive`; each drawn per IPI when
//! `[variability.costs]` makes it vary). The closed forms the machine must equal are
//! [`cpu_model::broadcast_shootdown_latency_cycles`].
//!
//! With `costs.ipi_send_halted_target_cycles` set, each ICR write or
//! hypercall also pays, on the sender and one after another, KVM's kick of
//! every blocked halted vCPU it names (`[idle]`, `idle.halted_vcpu`; whether
//! a target is blocked is read at the send's start): [`add_kicks`], closed
//! form [`cpu_model::halted_targets_extra_cycles`]. Fixed, not drawn.

mod pv_send_ipi;
mod shorthand;
mod unicast;
mod x2apic_cluster;

use super::vary::Cost;
use super::{Event, Instant, Observer, Sched, ShootdownId, Simulation};
use cpu_model::{CostTable, CpuId, IpiDeliveryMode};
use hypervisor::IpiSend;

/// The machine's IPI delivery and its reusable buffers.
pub(super) struct Ipis {
    /// The mode's behaviour.
    pub(super) delivery: &'static dyn IpiDelivery,
    /// Targets of the shootdown being sent.
    pub(super) targets: Vec<CpuId>,
    /// Their departure offsets.
    departs: Vec<u64>,
}

impl Ipis {
    pub(super) fn new(mode: IpiDeliveryMode) -> Self {
        Self {
            delivery: delivery(mode),
            targets: Vec::new(),
            departs: Vec::new(),
        }
    }
}

impl<O: Observer> Simulation<O> {
    /// Sends shootdown `shootdown`'s IPIs to `targets`, the sender
    /// starting at cycle `start`: `send` says who sends them (the guest
    /// through the delivery mode, or the hypervisor after one hypercall,
    /// one physical IPI per target).
    pub(super) fn send_ipis(
        &mut self,
        targets: &[CpuId],
        shootdown: ShootdownId,
        start: u64,
        send: IpiSend,
        sched: &mut Sched<'_>,
    ) {
        let mut departs = std::mem::take(&mut self.ipis.departs);
        match send {
            IpiSend::PerTarget => {
                // One draw of the sender's costs for the whole shootdown.
                let costs = self.vary.sender_costs(&self.costs);
                self.ipis.delivery.send(targets, &costs, &mut departs);
                let kick = self.costs.ipi_send_halted_target_cycles;
                if kick > 0 && self.halted_vcpus() {
                    let kicks: Vec<u64> = targets
                        .iter()
                        .map(|&t| kick * u64::from(self.blocked_halted_vcpu(t, start)))
                        .collect();
                    add_kicks(&mut departs, &kicks);
                }
            }
            IpiSend::Hypercall { per_target_cycles } => {
                departs.clear();
                let hypercall = self.vary.draw(Cost::Hypercall);
                if !targets.is_empty() {
                    // One hypercall; the hypervisor sends the IPIs.
                    self.mgr.count_hypercall();
                }
                departs.extend(
                    (1..=u64::try_from(targets.len()).expect("CPU count fits u64"))
                        .map(|i| hypercall + i * per_target_cycles),
                );
            }
        }
        for (&target, &leave) in targets.iter().zip(&departs) {
            let delivery = self.vary.draw(Cost::IpiDelivery);
            let sent = Instant(start) + sim_core::Span(leave);
            sched.at(
                sent + sim_core::Span(delivery),
                Event::IpiArrive {
                    target,
                    shootdown,
                    sent: sent.0,
                },
            );
        }
        self.ipis.departs = departs;
    }
}

/// How IPIs leave a sender.
pub(super) trait IpiDelivery: Send + Sync {
    /// Whether an IPI reaches every other CPU whatever the target list (so
    /// no CPU can be skipped, e.g. by lazy TLB).
    fn all_others(&self) -> bool {
        false
    }

    /// The sender's timeline for `targets` (in the order given): writes,
    /// for each target in that order, the cycles after the sender starts
    /// sending at which its IPI leaves (`departs`, cleared first).
    fn send(&self, targets: &[CpuId], costs: &CostTable, departs: &mut Vec<u64>);
}

/// The delivery of `mode`.
pub(super) fn delivery(mode: IpiDeliveryMode) -> &'static dyn IpiDelivery {
    match mode {
        IpiDeliveryMode::Unicast => &unicast::Unicast,
        IpiDeliveryMode::X2apicCluster => &x2apic_cluster::X2apicCluster,
        IpiDeliveryMode::Shorthand => &shorthand::Shorthand,
        IpiDeliveryMode::PvSendIpi => &pv_send_ipi::PvSendIpi,
    }
}

/// Adds the sender's serial host work per destination (`kicks[i]` cycles
/// for target `i`: `costs.ipi_send_halted_target_cycles` for a blocked
/// halted vCPU, else 0) to the departures `departs` a mode wrote: an ICR
/// write or hypercall ends only once KVM has kicked every destination it
/// names (`kvm_irq_delivery_to_apic`'s loop), so each later write starts
/// later too. Targets that leave together left on the same write, so a
/// target leaves after every kick of its write and of all earlier ones.
/// Simplification: all of one write's targets leave when its last kick
/// ends (KVM kicks them one by one inside it; the initiator's wait, set by
/// the last, is the same). Kick order within a write does not matter here.
fn add_kicks(departs: &mut [u64], kicks: &[u64]) {
    let mut order: Vec<usize> = (0..departs.len()).collect();
    order.sort_by_key(|&i| departs[i]);
    let mut total = 0;
    let mut i = 0;
    while i < order.len() {
        let leave = departs[order[i]];
        let mut j = i;
        while j < order.len() && departs[order[j]] == leave {
            total += kicks[order[j]];
            j += 1;
        }
        for &k in &order[i..j] {
            departs[k] = leave + total;
        }
        i = j;
    }
}

/// Groups `targets` by `group(target)` and charges `cost` per group, groups
/// in ascending order (the kernel walks its cpumask upwards): each target's
/// IPI leaves when its group's send ends. `group_of` gives each target's
/// group, in the order of `targets`.
fn grouped_sends(
    targets: &[CpuId],
    cost: u64,
    departs: &mut Vec<u64>,
    mut group_of: impl FnMut(&[CpuId]) -> Vec<u64>,
) {
    let groups = group_of(targets);
    let mut order: Vec<u64> = groups.clone();
    order.sort_unstable();
    order.dedup();
    departs.clear();
    departs.extend(groups.iter().map(|g| {
        let rank = order.partition_point(|x| x < g) as u64;
        (rank + 1) * cost
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departs(mode: IpiDeliveryMode, targets: &[u32], costs: &CostTable) -> Vec<u64> {
        let t: Vec<CpuId> = targets.iter().copied().map(CpuId).collect();
        let mut out = vec![7; 3];
        delivery(mode).send(&t, costs, &mut out);
        out
    }

    #[test]
    fn kicks_delay_their_write_and_every_later_one() {
        // Unicast: one write each, 100 apart; the second target is halted.
        let mut d = vec![100, 200, 300];
        add_kicks(&mut d, &[0, 50, 0]);
        assert_eq!(d, [100, 250, 350]);
        // Two cluster writes (order given out of order): both of the first
        // write's targets are halted, one of the second's.
        let mut d = vec![200, 100, 100, 200];
        add_kicks(&mut d, &[7, 5, 5, 0]);
        assert_eq!(d, [217, 110, 110, 217]);
        // Shorthand: one write, three kicks.
        let mut d = vec![100; 3];
        add_kicks(&mut d, &[5; 3]);
        assert_eq!(d, [115; 3]);
    }

    #[test]
    fn each_mode_times_its_sends() {
        let c = CostTable::default();
        let s = c.ipi_send_cycles;
        assert_eq!(
            departs(IpiDeliveryMode::Unicast, &[3, 1, 2], &c),
            [s, 2 * s, 3 * s]
        );
        // CPUs 17 and 33 are in clusters 1 and 2, 3 in cluster 0.
        assert_eq!(
            departs(IpiDeliveryMode::X2apicCluster, &[17, 33, 3, 18], &c),
            [2 * s, 3 * s, s, 2 * s]
        );
        assert_eq!(departs(IpiDeliveryMode::Shorthand, &[5, 1], &c), [s, s]);
        let h = c.ipi_hypercall_cycles;
        // Windows of 128 ids from the lowest target: 1..=128, then 129...
        assert_eq!(
            departs(IpiDeliveryMode::PvSendIpi, &[200, 1, 128, 129], &c),
            [2 * h, h, h, 2 * h]
        );
        assert!(departs(IpiDeliveryMode::PvSendIpi, &[], &c).is_empty());
        assert!(delivery(IpiDeliveryMode::Shorthand).all_others());
        assert!(!delivery(IpiDeliveryMode::X2apicCluster).all_others());
    }

    /// The machine's timeline agrees with the closed form's send counts
    /// when every other CPU is a target (targets in the machine's order:
    /// starting after the initiator).
    #[test]
    fn last_departure_is_the_closed_form_send_time() {
        let c = CostTable::default();
        for mode in IpiDeliveryMode::ALL {
            for (cpus, init) in [(2, 0), (17, 16), (17, 3), (64, 9), (129, 5), (256, 0)] {
                let t: Vec<CpuId> = (1..cpus).map(|i| CpuId((init + i) % cpus)).collect();
                let mut d = Vec::new();
                delivery(mode).send(&t, &c, &mut d);
                let last = d.iter().copied().max().unwrap_or(0);
                assert_eq!(
                    last,
                    cpu_model::broadcast_send_cycles(&c, mode, cpus, init),
                    "{mode:?} {cpus} CPUs from {init}"
                );
            }
        }
    }
}
