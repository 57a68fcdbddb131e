//! `shorthand`: one ICR write with the all-but-self destination shorthand
//! interrupts every other CPU (arch/x86/kernel/apic/ipi.c,
//! `apic_use_ipi_shorthand`). It cannot name a subset, so every other CPU
//! is a target.

use super::IpiDelivery;
use cpu_model::{CostTable, CpuId};

/// One `ipi_send_cycles` write; every IPI leaves when it ends.
pub(super) struct Shorthand;

impl IpiDelivery for Shorthand {
    fn all_others(&self) -> bool {
        true
    }

    fn send(&self, targets: &[CpuId], costs: &CostTable, departs: &mut Vec<u64>) {
        departs.clear();
        departs.resize(targets.len(), costs.ipi_send_cycles);
    }
}
