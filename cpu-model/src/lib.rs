//! The CPU side of tlbsim: who runs what, and what each primitive costs.
//!
//! - [`CpuId`]: a physical CPU of the simulated machine.
//! - [`CostTable`]: every cost the model charges, in cycles, each default
//!   naming its source; presets named for real systems
//!   ([`CostTable::preset`]: `bare-metal`, `kvm-guest`, `kvm-guest-posted`,
//!   `xen-pv-dom0`, and the older `vm`).
//! - [`IpiDeliveryMode`]: how a sender's IPIs leave (unicast, x2APIC
//!   cluster, all-but-self shorthand, KVM PV send-IPI), with the closed form
//!   of a broadcast shootdown under each ([`broadcast_shootdown_latency_cycles`]).
//! - [`CpuClock`]: one CPU's two timelines (thread level and interrupt level)
//!   and its accounting of busy and stolen cycles.
//! - [`shootdown_latency_cycles`]: the closed form of the shootdown protocol
//!   for fixed costs, which the machine's event-driven shootdown must equal.
//!
//! Architecture invariant: this crate knows nothing of TLB contents,
//! scenarios, files or the CLI.

mod clock;
mod costs;
mod ipi;

pub use clock::CpuClock;
pub use costs::{shootdown_latency_cycles, CostError, CostTable, MAX_COST_CYCLES};
pub use ipi::{
    broadcast_send_cycles, broadcast_shootdown_latency_cycles, halted_targets_extra_cycles,
    IpiDeliveryMode, PV_SEND_IPI_CPUS, X2APIC_CLUSTER_CPUS,
};

use std::fmt;

/// A physical CPU of the simulated machine, numbered from 0 to
/// `machine.cpus - 1`. The host domain runs on all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CpuId(pub u32);

impl CpuId {
    /// The id as an index into per-CPU vectors.
    #[must_use]
    #[inline]
    pub fn index(self) -> usize {
        usize::try_from(self.0).expect("CPU ids fit in usize")
    }
}

impl fmt::Display for CpuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu{}", self.0)
    }
}
