//! `x2apic-cluster`: Linux's x2APIC cluster mode writes the ICR once per
//! 16-CPU logical cluster holding a target, with the OR of the targets'
//! logical ids (arch/x86/kernel/apic/x2apic_cluster.c,
//! `__x2apic_send_IPI_mask`; `apic_cluster(apicid) = apicid >> 4`).
//! Assumption: APIC ids equal CPU ids.

use super::{grouped_sends, IpiDelivery};
use cpu_model::{CostTable, CpuId, X2APIC_CLUSTER_CPUS};

/// One `ipi_send_cycles` write per cluster, clusters in ascending order.
pub(super) struct X2apicCluster;

impl IpiDelivery for X2apicCluster {
    fn send(&self, targets: &[CpuId], costs: &CostTable, departs: &mut Vec<u64>) {
        grouped_sends(targets, costs.ipi_send_cycles, departs, |t| {
            t.iter()
                .map(|c| u64::from(c.0 / X2APIC_CLUSTER_CPUS))
                .collect()
        });
    }
}
