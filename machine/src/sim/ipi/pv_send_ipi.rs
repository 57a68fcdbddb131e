//! `pv-send-ipi`: KVM's paravirtual send-IPI, one hypercall for a bitmap
//! of up to 128 destination APIC ids above a minimum (Linux
//! arch/x86/kernel/kvm.c, `__send_ipi_mask`: walking the mask upwards, a
//! target 128 or more above the current window's minimum flushes the
//! hypercall and starts a new window at itself). Assumption: APIC ids equal
//! CPU ids.

use super::{grouped_sends, IpiDelivery};
use cpu_model::{CostTable, CpuId, PV_SEND_IPI_CPUS};

/// One `ipi_hypercall_cycles` hypercall per window, in ascending order.
pub(super) struct PvSendIpi;

impl IpiDelivery for PvSendIpi {
    fn send(&self, targets: &[CpuId], costs: &CostTable, departs: &mut Vec<u64>) {
        grouped_sends(targets, costs.ipi_hypercall_cycles, departs, |t| {
            let mut ids: Vec<u32> = t.iter().map(|c| c.0).collect();
            ids.sort_unstable();
            // Each window's minimum, in ascending order.
            let mut mins: Vec<u32> = Vec::new();
            for id in ids {
                if mins.last().is_none_or(|&m| id - m >= PV_SEND_IPI_CPUS) {
                    mins.push(id);
                }
            }
            t.iter()
                .map(|c| mins.partition_point(|&m| m <= c.0) as u64 - 1)
                .collect()
        });
    }
}
