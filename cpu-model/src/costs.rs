//! The cost table.
//!
//! Every field is in cycles of the simulated CPU unless its name says
//! otherwise. Defaults are for a bare-metal host domain on a Skylake-class
//! x86 server at 2.5 GHz; each names its source (see
//! `docs/reference/costs.md`). Where no published figure exists the doc says
//! "assumption" and why the value is plausible: change it with `costs.*`.

/// A problem with one cost of a [`CostTable`]; it displays what is wrong
/// with that field ([`CostError::field`] says which).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// A cost that must be positive is zero.
    #[error("must be at least 1 cycle")]
    Zero {
        /// The field's name.
        field: &'static str,
    },
}

impl CostError {
    /// The name of the [`CostTable`] field the problem is with.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            CostError::Zero { field } => field,
        }
    }
}

/// What each primitive costs, in cycles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostTable {
    /// One single-page invalidation (INVLPG) on the local CPU: about 100 ns,
    /// 250 cycles at 2.5 GHz. Source: Linux arch/x86/mm/tlb.c comment on
    /// tlb_single_page_flush_ceiling; N. Amit, LKML 2019.
    pub invlpg_cycles: u64,
    /// One full local TLB flush (CR3 reload), excluding the refill misses it
    /// causes (those are simulated). Assumption: 500 cycles, between one
    /// INVPCID (about 350 cycles, D. Hansen, linux-mm 2017) and a page walk
    /// per entry; no published figure in docs/reference/costs.md.
    pub full_flush_cycles: u64,
    /// A hypercall's round trip (VM exit + entry) excluding the work inside:
    /// about 1,540-1,560 cycles. Source: kvm-unit-tests vmexit (vmcall),
    /// Skylake-SP, 2020.
    pub hypercall_cycles: u64,
    /// Hypervisor work to install one PTE for a grant map (validation,
    /// reference counting, PTE write). Assumption: 300 cycles.
    pub map_page_cycles: u64,
    /// Hypervisor work to clear one PTE for a grant unmap. Assumption: 300
    /// cycles, symmetric with `map_page_cycles`.
    pub unmap_page_cycles: u64,
    /// Initiator's cost to send one IPI (an x2APIC ICR write), per target.
    /// Assumption for bare metal: 200 cycles (no published figure in
    /// docs/reference/costs.md); the VM preset uses the published broadcast figure.
    pub ipi_send_cycles: u64,
    /// From the send of an IPI until its handler starts on the target: on the
    /// host about 1,500 cycles. Source: KVM list RFC, 2020 ("on the host 1.5k
    /// cyc", send to handled).
    pub ipi_delivery_cycles: u64,
    /// The target's handler excluding the flush itself: interrupt entry, exit
    /// and the acknowledgement write. Assumption: 300 cycles.
    pub ipi_handler_cycles: u64,
    /// From the target's acknowledgement write until the spinning initiator
    /// sees it (one cache-line transfer). Assumption: 100 cycles.
    pub ack_cycles: u64,
    /// Taking and releasing the host domain's flush lock when uncontended
    /// (Xen's flush_lock). Assumption: 50 cycles.
    pub flush_lock_cycles: u64,
    /// Taking and releasing the domain-wide map lock when uncontended
    /// (`host.map_lock`). Assumption: 50 cycles, like `flush_lock_cycles`.
    pub map_lock_cycles: u64,
    /// How long a `spin-then-sleep` map-lock waiter spins before it sleeps.
    /// Assumption: 10,000 cycles (4 us at 2.5 GHz), the order of a context
    /// switch pair, past which sleeping is cheaper than spinning.
    pub map_lock_spin_cycles: u64,
    /// Waking a map-lock waiter that went to sleep when the lock is handed
    /// to it (a wake-up IPI and a schedule-in). Assumption: 5,000 cycles
    /// (2 us at 2.5 GHz, the order of the published unicast IPI round trip).
    pub map_lock_wake_cycles: u64,
    /// Extra latency of an L1 dTLB miss that hits the L2 STLB: about 12
    /// cycles. Source: measurement 2013, Haswell.
    pub l2_hit_cycles: u64,
    /// One page-walk memory reference (a page-table entry read that the walk
    /// caches did not cover): about 20 cycles. Source: "STLB miss with cached
    /// walk about 20 cycles more", measurement 2013, Haswell.
    pub walk_level_cycles: u64,
    /// Whether page walks are two-dimensional (the host domain is an HVM/PVH
    /// guest under EPT/NPT): a cold 4-level walk then costs 24 references.
    /// Source: Bhargava et al., ASPLOS 2008. False on bare metal / PV.
    pub nested_paging: bool,
    /// Backend work to take one request off a guest ring. Assumption: 200
    /// cycles (a few cache misses on the shared ring).
    pub dequeue_cycles: u64,
    /// From a guest's notification (event channel) until an idle backend
    /// thread runs. Assumption: 2,000 cycles (an interrupt plus a wake-up).
    pub notify_cycles: u64,
    /// Backend work to complete a request: response on the ring and the
    /// notification to the guest. Assumption: 500 cycles.
    pub complete_cycles: u64,
    /// Touching one 64-byte cache line of I/O data (a copy at about
    /// 10 GB/s), excluding address translation. Assumption: 16 cycles.
    pub data_line_cycles: u64,
    /// Moving the backend thread to another CPU and back (scheduler and two
    /// context switches). Assumption: 5,000 cycles.
    pub migrate_cycles: u64,
    /// One memory access of the background workload, excluding address
    /// translation. Assumption: 4 cycles (an L1 data-cache hit).
    pub background_access_cycles: u64,
}

impl Default for CostTable {
    fn default() -> Self {
        Self::bare_metal()
    }
}

impl CostTable {
    /// A bare-metal (or PV) host domain: the defaults documented per field.
    #[must_use]
    pub fn bare_metal() -> Self {
        Self {
            invlpg_cycles: 250,
            full_flush_cycles: 500,
            hypercall_cycles: 1_550,
            map_page_cycles: 300,
            unmap_page_cycles: 300,
            ipi_send_cycles: 200,
            ipi_delivery_cycles: 1_500,
            ipi_handler_cycles: 300,
            ack_cycles: 100,
            flush_lock_cycles: 50,
            map_lock_cycles: 50,
            map_lock_spin_cycles: 10_000,
            map_lock_wake_cycles: 5_000,
            l2_hit_cycles: 12,
            walk_level_cycles: 20,
            nested_paging: false,
            dequeue_cycles: 200,
            notify_cycles: 2_000,
            complete_cycles: 500,
            data_line_cycles: 16,
            migrate_cycles: 5_000,
            background_access_cycles: 4,
        }
    }

    /// A host domain that is itself a VM (an HVM/PVH dom0 or a driver VM):
    /// every IPI costs VM exits and walks are two-dimensional.
    ///
    /// - `ipi_send_cycles` = 2,937: 92.8 us to broadcast to 79 vCPUs
    ///   (x2APIC cluster) at 2.5 GHz, divided by 79. Source: W. Li, KVM PV
    ///   send-IPI patch, ipi_benchmark, 2018.
    /// - `ipi_delivery_cycles` = 5,500: about 2.2 us delivery at 2.5 GHz.
    ///   Same source.
    /// - `ipi_handler_cycles` = 1,550: the handler's EOI/acknowledgement costs
    ///   one VM exit (kvm-unit-tests vmexit, 2020).
    /// - `nested_paging` = true (Bhargava et al., ASPLOS 2008).
    #[must_use]
    pub fn host_domain_in_vm() -> Self {
        Self {
            ipi_send_cycles: 2_937,
            ipi_delivery_cycles: 5_500,
            ipi_handler_cycles: 1_550,
            nested_paging: true,
            ..Self::bare_metal()
        }
    }

    /// Checks that the costs the protocol divides or orders by are positive.
    ///
    /// # Errors
    /// Every zero cost found, in field order.
    pub fn validate(&self) -> Result<(), Vec<CostError>> {
        let must_be_positive: [(&'static str, u64); 3] = [
            ("ipi_delivery_cycles", self.ipi_delivery_cycles),
            ("hypercall_cycles", self.hypercall_cycles),
            ("data_line_cycles", self.data_line_cycles),
        ];
        let problems: Vec<CostError> = must_be_positive
            .into_iter()
            .filter(|&(_, v)| v == 0)
            .map(|(field, _)| CostError::Zero { field })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The documented closed form of one shootdown's latency, seen by the
/// initiator, for fixed costs and an uncontended lock, with targets that are
/// not already in an interrupt handler:
///
/// ```text
/// latency = lock + local_flush + targets * ipi_send + ipi_delivery
///         + ipi_handler + remote_flush + ack
/// ```
///
/// The initiator takes the lock, flushes locally, then sends the IPIs one
/// after another; the last target is the last to receive its IPI, handles it
/// (entry, flush, acknowledgement) and the initiator sees the acknowledgement
/// `ack` cycles later. With zero targets the latency is `lock + local_flush`.
#[must_use]
pub fn shootdown_latency_cycles(
    costs: &CostTable,
    targets: u64,
    local_flush: u64,
    remote_flush: u64,
    lock: bool,
) -> u64 {
    let lock_cycles = if lock { costs.flush_lock_cycles } else { 0 };
    if targets == 0 {
        return lock_cycles + local_flush;
    }
    lock_cycles
        + local_flush
        + targets * costs.ipi_send_cycles
        + costs.ipi_delivery_cycles
        + costs.ipi_handler_cycles
        + remote_flush
        + costs.ack_cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_differ_where_documented() {
        let bare = CostTable::bare_metal();
        let vm = CostTable::host_domain_in_vm();
        assert!(vm.ipi_send_cycles > bare.ipi_send_cycles);
        assert!(vm.ipi_delivery_cycles > bare.ipi_delivery_cycles);
        assert!(vm.nested_paging && !bare.nested_paging);
        assert_eq!(vm.invlpg_cycles, bare.invlpg_cycles);
        assert!(bare.validate().is_ok());
    }

    #[test]
    fn zero_delivery_rejected() {
        let c = CostTable {
            ipi_delivery_cycles: 0,
            data_line_cycles: 0,
            ..CostTable::default()
        };
        let problems = c.validate().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(CostError::field).collect();
        assert_eq!(fields, ["ipi_delivery_cycles", "data_line_cycles"]);
        assert_eq!(problems[0].to_string(), "must be at least 1 cycle");
    }

    #[test]
    fn closed_form_grows_linearly_in_targets() {
        let c = CostTable::default();
        let a = shootdown_latency_cycles(&c, 7, 500, 500, true);
        let b = shootdown_latency_cycles(&c, 8, 500, 500, true);
        assert_eq!(b - a, c.ipi_send_cycles);
        assert_eq!(shootdown_latency_cycles(&c, 0, 500, 500, false), 500);
    }
}
