//! `unicast`: one ICR write per target, one after another (x2APIC physical
//! mode or xAPIC; tlbsim's original protocol).

use super::IpiDelivery;
use cpu_model::{CostTable, CpuId};

/// One `ipi_send_cycles` write per target, in the order given.
pub(super) struct Unicast;

impl IpiDelivery for Unicast {
    fn send(&self, targets: &[CpuId], costs: &CostTable, departs: &mut Vec<u64>) {
        departs.clear();
        departs.extend((1..=targets.len() as u64).map(|i| i * costs.ipi_send_cycles));
    }
}
