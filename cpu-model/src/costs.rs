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
    /// A cost above [`MAX_COST_CYCLES`].
    #[error("must be at most {MAX_COST_CYCLES} cycles, got {value}")]
    TooLarge {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: u64,
    },
}

/// The largest single cost, cycles: 10^10 (4 s at 2.5 GHz), over a million
/// times the slowest real primitive here (a VM exit or a sleeping lock
/// waiter's wake-up, a few microseconds). A bound, not a measurement: it
/// keeps sums of costs over a run far from `u64` overflow.
pub const MAX_COST_CYCLES: u64 = 10_000_000_000;

impl CostError {
    /// The name of the [`CostTable`] field the problem is with.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            CostError::Zero { field } | CostError::TooLarge { field, .. } => field,
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
    /// Initiator's cost of one ICR write (x2APIC), which sends one IPI under
    /// `machine.ipi_delivery = "unicast"` and reaches a whole cluster or
    /// every other CPU under the other modes. Assumption for bare metal:
    /// 200 cycles (no published figure in docs/reference/costs.md); the presets say theirs.
    pub ipi_send_cycles: u64,
    /// From the send of an IPI until its handler starts on the target: on the
    /// host about 1,500 cycles. Source: KVM list RFC, 2020 ("on the host 1.5k
    /// cyc", send to handled).
    pub ipi_delivery_cycles: u64,
    /// What a target pays at interrupt level when an IPI arrives, before its
    /// handler: a VM exit to take the interrupt in a guest without posted
    /// interrupts. Stolen from the target, unlike `ipi_delivery_cycles`
    /// (time in flight). 0 on bare metal: the interrupt entry is in
    /// `ipi_handler_cycles`.
    pub ipi_receive_cycles: u64,
    /// The sender's cost of one KVM PV send-IPI hypercall
    /// (`machine.ipi_delivery = "pv-send-ipi"`), which names up to 128
    /// targets: one vmcall round trip, about 1,550 cycles (kvm-unit-tests
    /// vmexit, Skylake-SP, 2020). KVM's per-target work inside the
    /// hypercall is charged only for blocked halted targets
    /// (`ipi_send_halted_target_cycles`); for running ones it is assumed
    /// free.
    pub ipi_hypercall_cycles: u64,
    /// The sender's host-side, serial work per destination that is a
    /// *blocked halted vCPU* (`idle.halted_vcpu`, idle past
    /// `idle.halt_poll_us`), paid inside the ICR write's exit or the PV
    /// send-IPI hypercall that names it: KVM's `kvm_irq_delivery_to_apic`
    /// loops over the destinations, `kvm_apic_set_irq` -> `kvm_vcpu_kick`,
    /// which for a blocked vCPU is `rcuwait_wake_up` -> `try_to_wake_up`
    /// (virt/kvm/kvm_main.c, arch/x86/kvm/lapic.c). The write or hypercall
    /// ends only after every destination it names is kicked. A running
    /// or polling destination costs nothing here. 0 on bare metal and in
    /// every preset but `kvm-guest` (see there).
    pub ipi_send_halted_target_cycles: u64,
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
            ipi_receive_cycles: 0,
            ipi_hypercall_cycles: 1_550,
            ipi_send_halted_target_cycles: 0,
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

    /// The cost presets `costs.preset` names, in documentation order.
    pub const PRESETS: [&'static str; 6] = [
        "bare-metal",
        "kvm-guest",
        "kvm-guest-posted",
        "xen-pv-dom0",
        "vm",
        "xen-pvh-dom0",
    ];

    /// The preset `costs.preset` names, if any (see [`CostTable::PRESETS`]).
    #[must_use]
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "bare-metal" => Some(Self::bare_metal()),
            "kvm-guest" => Some(Self::kvm_guest()),
            "kvm-guest-posted" => Some(Self::kvm_guest_posted()),
            "xen-pv-dom0" => Some(Self::xen_pv_dom0()),
            "vm" => Some(Self::host_domain_in_vm()),
            "xen-pvh-dom0" => Some(Self::xen_pvh_dom0()),
            _ => None,
        }
    }

    /// `kvm-guest`: the host domain is a KVM guest (an HVM driver VM) whose
    /// IPIs trap on both sides, as the PV send-IPI patch measured on a
    /// Skylake 2.5 GHz, 80-vCPU VM (W. Li, KVM PV send-IPI patch,
    /// ipi_benchmark, 2018: unicast round trip about 2.5 us, of which about
    /// 2.2 us from the send until the handler runs on a running vCPU).
    ///
    /// - `ipi_send_cycles` = 1,550: the sender's ICR write (WRMSR) exits to
    ///   KVM. Assumption: one VM exit round trip, the vmcall figure of
    ///   kvm-unit-tests vmexit (1,540-1,560 cycles, Skylake-SP, 2020); KVM's
    ///   ICR emulation inside the exit has no published figure of its own.
    /// - `ipi_receive_cycles` = 1,550: the running target vCPU exits to take
    ///   the interrupt (no posted interrupts), stolen from it. Assumption:
    ///   one VM exit round trip, same figure.
    /// - `ipi_delivery_cycles` = 2,400: derived, the 2.2 us send-to-handler
    ///   figure (5,500 cycles at 2.5 GHz) less the two exits above.
    /// - `ipi_handler_cycles` = 650: derived, the 2.5 us round trip (6,250
    ///   cycles) less the 2.2 us to the handler, less `ack_cycles` (100,
    ///   bare metal's assumption). The unicast round trip is then exactly
    ///   2.5 us (the `vm` preset's is 4.0 us).
    /// - `ipi_hypercall_cycles` = 1,550 (bare metal's: one vmcall) for
    ///   `machine.ipi_delivery = "pv-send-ipi"`, which Linux guests use when
    ///   KVM offers it.
    /// - `nested_paging` = true: EPT/NPT two-dimensional walks (Bhargava et
    ///   al., ASPLOS 2008).
    ///
    /// - `ipi_send_halted_target_cycles` = 5,825 (2.33 us at 2.5 GHz): the
    ///   sender's host-side kick of each *blocked halted* target vCPU
    ///   (only with `idle.halted_vcpu`; running targets, the default, pay
    ///   nothing). Source: a measurement on the development machine, not
    ///   the published figure: `benches/kvm_ipi/run.sh 5 200` (2026-12-01,
    ///   Xeon 2.6 GHz, an L1 guest with 2 vCPUs under Firecracker, KVM
    ///   6.18 on PVM; the sender's vCPU thread on one CPU, the targets' on
    ///   the other), the all-but-self ICR write's send time against 1-79
    ///   halted targets: the median over 8 runs of each run's
    ///   least-squares slope (1.38-3.23 us per target; over 1-31 targets
    ///   only, 0.51-1.91 us). Nested and on 2 CPUs: see VALIDATION.md.
    ///
    /// The 79-target broadcast figure of the same patch (92.8 us x2APIC
    /// cluster, 75.7-78.1 us with PV send-IPI) is spent waking *halted*
    /// target vCPUs: with `idle.halted_vcpu` it is compared, not fitted
    /// (VALIDATION.md section 4).
    #[must_use]
    pub fn kvm_guest() -> Self {
        Self {
            ipi_send_halted_target_cycles: 5_825,
            ipi_send_cycles: 1_550,
            ipi_receive_cycles: 1_550,
            ipi_delivery_cycles: 2_400,
            ipi_handler_cycles: 650,
            nested_paging: true,
            ..Self::bare_metal()
        }
    }

    /// `kvm-guest-posted`: a KVM guest with APICv posted interrupts (no VM
    /// exit on a running target, EOI virtualized) and IPI virtualization
    /// (IPIv: the sender's ICR write does not exit). Source: Zeng Guang, KVM
    /// IPIv series: guest IPI send to handled between 2 vCPUs, x2APIC, 4.3k
    /// cycles with APICv, 16% less with IPIv (3,612 cycles), on an Intel
    /// Sapphire Rapids class part.
    ///
    /// - `ipi_send_cycles` = 200: the virtualized ICR write. Assumption:
    ///   bare metal's ICR write (no exit with IPIv).
    /// - `ipi_receive_cycles` = 0: posted interrupt, no exit on the target.
    /// - `ipi_delivery_cycles` = 3,412: derived, 3,612 cycles send to
    ///   handled less the send. Assumption: the series' cycles (Sapphire
    ///   Rapids) are used as cycles of this 2.5 GHz model; the KVM list RFC
    ///   (2020) gives the same order for a posted IPI, 2k cycles.
    /// - `ipi_handler_cycles` = 300, `ack_cycles` = 100: bare metal's
    ///   assumptions (no EOI exit).
    /// - `ipi_hypercall_cycles` = 1,550: one vmcall (kvm-unit-tests vmexit).
    /// - `nested_paging` = true (Bhargava et al., ASPLOS 2008).
    /// - `ipi_send_halted_target_cycles` = 0: with IPIv the ICR write does
    ///   not exit, so the sender's host does not kick a blocked target; its
    ///   physical CPU takes the posted-interrupt wake-up vector instead
    ///   (arch/x86/kvm/vmx/posted_intr.c, `pi_wakeup_handler`).
    ///   Assumption: that wake-up is the target's `[idle]` wake only.
    #[must_use]
    pub fn kvm_guest_posted() -> Self {
        Self {
            ipi_send_cycles: 200,
            ipi_receive_cycles: 0,
            ipi_delivery_cycles: 3_412,
            nested_paging: true,
            ..Self::bare_metal()
        }
    }

    /// `xen-pv-dom0`: a Xen PV host domain (dom0 or a PV driver domain).
    /// Its grant unmaps are hypercalls (`hypercall_cycles`, charged per
    /// map and unmap already), and Xen itself flushes: it sends *physical*
    /// IPIs to the physical CPUs of the domain's dirty mask and runs the
    /// flush handler in the hypervisor, with no VM exit on either side
    /// (xen/common/grant_table.c, xen/arch/x86/smp.c `flush_area_mask`).
    /// So every IPI figure is bare metal's (each documented per field), and
    /// walks are one-dimensional (PV direct paging: `nested_paging` =
    /// false). Assumption: a PV hypercall costs the vmcall figure
    /// (`hypercall_cycles` = 1,550, kvm-unit-tests vmexit); costs.md has no
    /// PV hypercall figure. Xen's x2APIC driver can send in cluster mode
    /// (xen/arch/x86/genapic/x2apic.c): pair with
    /// `machine.ipi_delivery = "x2apic-cluster"` to model it.
    #[must_use]
    pub fn xen_pv_dom0() -> Self {
        Self {
            nested_paging: false,
            ..Self::bare_metal()
        }
    }

    /// `xen-pvh-dom0`: a Xen PVH host domain (dom0 or a driver domain in
    /// an HVM container). As for PV, its grant unmaps are hypercalls and
    /// Xen itself flushes the domain's dirty mask with *physical* IPIs sent
    /// from the hypervisor (xen/common/grant_table.c, xen/arch/x86/smp.c
    /// `flush_area_mask`), so the sender's and the handler's costs are bare
    /// metal's (each documented per field). What differs, each from its
    /// source:
    ///
    /// - `ipi_receive_cycles` = 1,550: a target physical CPU running the
    ///   domain's vCPU in VMX non-root mode takes the physical IPI as an
    ///   external-interrupt VM exit, and Xen re-enters the vCPU after the
    ///   flush: one VM exit round trip (the vmcall figure of kvm-unit-tests
    ///   vmexit, 1,540-1,560 cycles, Skylake-SP, 2020; an assumption that
    ///   an external-interrupt exit costs what a vmcall exit costs). A PV
    ///   dom0 takes it in its own kernel with no exit.
    /// - `nested_paging` = true: an HVM container's walks are
    ///   two-dimensional (EPT; Bhargava et al., ASPLOS 2008).
    /// - `hypercall_cycles` = 1,550: a PVH hypercall is a vmcall (same
    ///   kvm-unit-tests figure), as bare metal's default already is.
    #[must_use]
    pub fn xen_pvh_dom0() -> Self {
        Self {
            ipi_receive_cycles: 1_550,
            nested_paging: true,
            ..Self::bare_metal()
        }
    }

    /// `vm`, kept for the scenarios and goldens that use it; prefer
    /// `kvm-guest` (or `kvm-guest-posted`). A host domain that is itself a
    /// VM (an HVM/PVH dom0 or a driver VM): every IPI costs VM exits and
    /// walks are two-dimensional.
    ///
    /// - `ipi_send_cycles` = 2,937: 92.8 us to broadcast to 79 vCPUs
    ///   (x2APIC cluster) at 2.5 GHz, divided by 79. Source: W. Li, KVM PV
    ///   send-IPI patch, ipi_benchmark, 2018.
    /// - `ipi_delivery_cycles` = 5,500: about 2.2 us delivery at 2.5 GHz.
    ///   Same source.
    /// - `ipi_handler_cycles` = 1,550: the handler's EOI/acknowledgement costs
    ///   one VM exit (kvm-unit-tests vmexit, 2020).
    /// - `nested_paging` = true (Bhargava et al., ASPLOS 2008).
    ///
    /// What is wrong with it (kept unchanged so existing results stay
    /// comparable): the broadcast time is charged to the *sender*, though
    /// the same patch shows PV send-IPI (one hypercall instead of the
    /// exits) still takes 75.7-78.1 us, so the time is on the targets
    /// (waking halted vCPUs); its unicast round trip is 2,937 + 5,500 +
    /// 1,550 + 100 cycles = 4.0 us against the 2.5 us it cites, because the
    /// 2.2 us delivery already includes the send; and it charges an EOI
    /// exit that APICv/AVIC do not take. `kvm-guest` reads the same source
    /// the right way.
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

    /// Checks that the costs the protocol divides or orders by are positive
    /// and that no cost exceeds [`MAX_COST_CYCLES`].
    ///
    /// # Errors
    /// Every zero cost found, in field order, then every cost too large.
    pub fn validate(&self) -> Result<(), Vec<CostError>> {
        let mut problems = self.zero_problems();
        problems.extend(
            self.cycle_costs()
                .into_iter()
                .filter(|&(_, v)| v > MAX_COST_CYCLES)
                .map(|(field, value)| CostError::TooLarge { field, value }),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every cost in cycles, by field name.
    #[must_use]
    pub fn cycle_costs(&self) -> [(&'static str, u64); 23] {
        [
            ("invlpg_cycles", self.invlpg_cycles),
            ("full_flush_cycles", self.full_flush_cycles),
            ("hypercall_cycles", self.hypercall_cycles),
            ("map_page_cycles", self.map_page_cycles),
            ("unmap_page_cycles", self.unmap_page_cycles),
            ("ipi_send_cycles", self.ipi_send_cycles),
            ("ipi_delivery_cycles", self.ipi_delivery_cycles),
            ("ipi_receive_cycles", self.ipi_receive_cycles),
            ("ipi_hypercall_cycles", self.ipi_hypercall_cycles),
            ("ipi_handler_cycles", self.ipi_handler_cycles),
            ("ack_cycles", self.ack_cycles),
            ("flush_lock_cycles", self.flush_lock_cycles),
            ("map_lock_cycles", self.map_lock_cycles),
            ("map_lock_spin_cycles", self.map_lock_spin_cycles),
            ("map_lock_wake_cycles", self.map_lock_wake_cycles),
            ("walk_level_cycles", self.walk_level_cycles),
            ("dequeue_cycles", self.dequeue_cycles),
            ("notify_cycles", self.notify_cycles),
            ("complete_cycles", self.complete_cycles),
            ("data_line_cycles", self.data_line_cycles),
            ("migrate_cycles", self.migrate_cycles),
            ("background_access_cycles", self.background_access_cycles),
            (
                "ipi_send_halted_target_cycles",
                self.ipi_send_halted_target_cycles,
            ),
        ]
    }

    fn zero_problems(&self) -> Vec<CostError> {
        let must_be_positive: [(&'static str, u64); 3] = [
            ("ipi_delivery_cycles", self.ipi_delivery_cycles),
            ("hypercall_cycles", self.hypercall_cycles),
            ("data_line_cycles", self.data_line_cycles),
        ];
        must_be_positive
            .into_iter()
            .filter(|&(_, v)| v == 0)
            .map(|(field, _)| CostError::Zero { field })
            .collect()
    }
}

/// The documented closed form of one shootdown's latency, seen by the
/// initiator, for fixed costs and an uncontended lock, with targets that are
/// not already in an interrupt handler:
///
/// ```text
/// latency = lock + local_flush + targets * ipi_send + ipi_delivery
///         + ipi_receive + ipi_handler + remote_flush + ack
/// ```
///
/// This is the `unicast` delivery mode; every mode's closed form is
/// [`broadcast_shootdown_latency_cycles`](crate::broadcast_shootdown_latency_cycles).
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
    let sends = (targets > 0).then(|| targets * costs.ipi_send_cycles);
    latency_after_sends(costs, lock, local_flush, sends, remote_flush)
}

/// A shootdown's latency once the sender's IPIs take `sends` cycles to
/// leave (`None`: no target), every target paying the same on arrival.
pub(crate) fn latency_after_sends(
    costs: &CostTable,
    lock: bool,
    local_flush: u64,
    sends: Option<u64>,
    remote_flush: u64,
) -> u64 {
    let lock_cycles = if lock { costs.flush_lock_cycles } else { 0 };
    let Some(sends) = sends else {
        return lock_cycles + local_flush;
    };
    lock_cycles
        + local_flush
        + sends
        + costs.ipi_delivery_cycles
        + costs.ipi_receive_cycles
        + costs.ipi_handler_cycles
        + remote_flush
        + costs.ack_cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cost_is_bounded_and_listed() {
        let mut c = CostTable::bare_metal();
        assert!(c.validate().is_ok());
        c.ack_cycles = MAX_COST_CYCLES + 1;
        c.walk_level_cycles = u64::MAX;
        let e = c.validate().unwrap_err();
        let fields: Vec<&str> = e.iter().map(CostError::field).collect();
        assert_eq!(fields, ["ack_cycles", "walk_level_cycles"]);
        assert!(e[1].to_string().contains("at most 10000000000 cycles"));
        // cycle_costs lists distinct fields, every one of them a cost.
        let names: std::collections::BTreeSet<&str> =
            c.cycle_costs().iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), c.cycle_costs().len());
        assert!(names.iter().all(|n| n.ends_with("_cycles")));
    }

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

    /// The unicast round trip (send to the sender seeing the ack, no flush)
    /// and the send-to-handler time each preset derives from its source.
    fn round_trip(c: &CostTable) -> u64 {
        c.ipi_send_cycles
            + c.ipi_delivery_cycles
            + c.ipi_receive_cycles
            + c.ipi_handler_cycles
            + c.ack_cycles
    }

    #[test]
    fn presets_reproduce_the_figures_they_cite() {
        let kvm = CostTable::kvm_guest();
        // 2.5 us round trip and 2.2 us to the handler at 2.5 GHz.
        assert_eq!(round_trip(&kvm), 6_250);
        assert_eq!(
            kvm.ipi_send_cycles + kvm.ipi_delivery_cycles + kvm.ipi_receive_cycles,
            5_500
        );
        // IPIv: 4.3k cycles send to handled, 16% less.
        let posted = CostTable::kvm_guest_posted();
        assert_eq!(
            posted.ipi_send_cycles + posted.ipi_delivery_cycles + posted.ipi_receive_cycles,
            4_300 * 84 / 100
        );
        assert_eq!(posted.ipi_receive_cycles, 0);
        assert!(posted.ipi_send_cycles < kvm.ipi_send_cycles);
        // Xen PV: physical IPIs, one-dimensional walks.
        let xen = CostTable::xen_pv_dom0();
        assert_eq!(round_trip(&xen), round_trip(&CostTable::bare_metal()));
        assert!(!xen.nested_paging);
        // Xen PVH: Xen's physical IPIs, but each target exits once.
        let pvh = CostTable::xen_pvh_dom0();
        assert_eq!(round_trip(&pvh), round_trip(&xen) + 1_550);
        assert_eq!(pvh.ipi_send_cycles, xen.ipi_send_cycles);
        assert!(pvh.nested_paging);
        // `vm` is kept as it was: a 4.0 us round trip.
        assert_eq!(round_trip(&CostTable::host_domain_in_vm()), 10_087);
    }

    #[test]
    fn every_preset_name_resolves_and_validates() {
        for name in CostTable::PRESETS {
            let c = CostTable::preset(name).unwrap_or_else(|| panic!("{name}"));
            assert!(c.validate().is_ok(), "{name}");
        }
        assert_eq!(CostTable::preset("bare-metal"), Some(CostTable::default()));
        assert_eq!(CostTable::preset("cloud"), None);
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
