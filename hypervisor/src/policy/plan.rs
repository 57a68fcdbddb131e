//! The vocabulary of policy plans: the actions the machine knows how to
//! carry out, each with its cost model documented where it is executed
//! (`machine`'s `invalidate` module).

/// A flush on one CPU of the host domain's translations of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalFlush {
    /// No flush.
    None,
    /// The request's pages (INVLPG each, `costs.invlpg_cycles`), or one full
    /// flush of the host domain's address space above
    /// `host.flush_ceiling_pages` (Linux `tlb_single_page_flush_ceiling`).
    Pages,
}

/// What a shootdown flushes on each CPU it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShootdownFlush {
    /// A full TLB flush of every address space, as Xen's grant unmap does
    /// (xen/common/grant_table.c: one full flush per batch).
    #[default]
    Full,
    /// The unmapped pages only (INVLPG each), a full flush above
    /// `host.flush_ceiling_pages`, as Linux `flush_tlb_mm_range` does.
    Range,
}

/// How many shootdowns one unmap costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShootdownGranularity {
    /// One shootdown per request.
    #[default]
    Request,
    /// One shootdown per page (a backend that unmaps page by page).
    Page,
}

/// An IPI shootdown: the initiator flushes itself, sends one IPI to every
/// other CPU of the host domain (`costs.ipi_send_cycles` each, one after
/// another), each target runs a handler and acknowledges, and the initiator
/// waits for every acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Shootdown {
    /// What every CPU flushes.
    pub flush: ShootdownFlush,
    /// One shootdown per request or per page.
    pub granularity: ShootdownGranularity,
    /// Whether shootdowns are serialized by one lock (Xen's `flush_lock`,
    /// `costs.flush_lock_cycles` per acquisition).
    pub serialized: bool,
    /// Lazy TLB (Linux's `should_flush_tlb`): skip registered CPUs whose
    /// backend thread is not running; such a CPU flushes the host domain's
    /// entries before its next access instead.
    pub skip_lazy: bool,
    /// How the initiator gets the IPIs sent.
    pub send: IpiSend,
    /// Which CPUs are sent an IPI.
    pub targets: ShootdownTargets,
}

/// How a shootdown's IPIs are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IpiSend {
    /// The initiator sends one IPI per target itself (`costs.ipi_send_cycles`
    /// each, one after another).
    #[default]
    PerTarget,
    /// The initiator makes one hypercall (`costs.hypercall_cycles`) and the
    /// hypervisor sends the physical IPIs, `per_target_cycles` each (Xen
    /// `HVMOP_flush_tlbs`, Hyper-V `HvFlushVirtualAddressSpace`, KVM PV TLB
    /// flush).
    Hypercall {
        /// The hypervisor's cost of sending one physical IPI, cycles.
        per_target_cycles: u64,
    },
}

/// Which CPUs a shootdown interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShootdownTargets {
    /// Every other CPU of the host domain (less lazy ones with `skip_lazy`).
    #[default]
    All,
    /// Only the CPUs whose TLB holds one of the flushed pages at the time of
    /// the shootdown (an oracle of access tracking, the upper bound of ABIS,
    /// Amit, USENIX ATC 2017).
    Holders,
}

/// A broadcast invalidation without IPIs (AMD `INVLPGB` + `TLBSYNC`): the
/// initiator issues `ceil(pages / pages_per_instruction)` invalidations
/// (one for a full flush), `issue_cycles` each, then waits `sync_cycles` for
/// `TLBSYNC`; every other CPU's TLB loses the pages with no handler and no
/// stolen cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// What every CPU flushes.
    pub flush: ShootdownFlush,
    /// Cycles to issue one `INVLPGB`.
    pub issue_cycles: u64,
    /// Pages one `INVLPGB` covers (its count field).
    pub pages_per_instruction: u32,
    /// Cycles the initiator waits in `TLBSYNC`.
    pub sync_cycles: u64,
}

/// When a batch's placements go back to the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchRelease {
    /// After the batch's shootdown: safe.
    AfterFlush,
    /// At the unmap, before the batch's shootdown: unsafe (a reused virtual
    /// page may still be cached by a TLB with the old frame).
    AtUnmap,
}

/// Unmaps gathered per backend CPU and invalidated by one shootdown per
/// batch (Xen `GNTTAB_UNMAP_BATCH_SIZE`, netback's pending unmaps). The
/// requests of a batch complete to the guest only after its shootdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The shootdown each batch costs (its flush is always full: a batch's
    /// pages are not one range).
    pub shootdown: Shootdown,
    /// Unmaps per batch: a full batch is flushed at once.
    pub size: u32,
    /// A partial batch whose oldest unmap is this old (cycles) is flushed at
    /// the backend's next request boundary (0: never for age). A backend
    /// that runs out of requests flushes its partial batch in any case.
    pub timeout_cycles: u64,
    /// When the placements are released.
    pub release: BatchRelease,
}

/// How other CPUs' TLBs are invalidated after an unmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteInvalidation {
    /// Not at all: no other CPU may hold the translation (or the policy is a
    /// deliberately unsafe variant).
    None,
    /// An IPI shootdown of every other CPU.
    Ipi(Shootdown),
    /// A broadcast invalidation instruction, no IPIs.
    Broadcast(Broadcast),
    /// The unmap joins its backend CPU's batch; one shootdown per batch.
    Batched(Batch),
    /// Remote CPUs invalidate at their next tick (LATR); the placement is
    /// reused only after every CPU passed that epoch.
    Epoch(Epoch),
    /// A cpumask-targeted hardware invalidation without interrupts (Intel
    /// Remote Action Request).
    RemoteAction(RemoteAction),
}

/// When an epoch-invalidated placement goes back to the allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochRelease {
    /// After every CPU passed the next tick (the epoch): safe.
    AfterEpoch,
    /// At the unmap: unsafe (a CPU that has not ticked yet may still cache
    /// the old frame when the virtual page is mapped again).
    AtUnmap,
}

/// Lazy invalidation in the manner of LATR (M. K. Kumar et al., "LATR:
/// Lazy Translation Coherence", ASPLOS 2018): the unmap flushes the
/// initiator's TLB, records the pages, and returns; every other CPU flushes
/// them at its next scheduler tick (ticks fall on multiples of
/// `tick_cycles` on every CPU, Linux's default `skew_tick = 0`; context
/// switches, which LATR also uses, are not modelled: they could only end an
/// epoch earlier). The request completes at once; the virtual pages are
/// reused only after the tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch {
    /// The tick period, cycles (CONFIG_HZ = 1000: 1 ms; 250: 4 ms).
    pub tick_cycles: u64,
    /// When the placement may be reused.
    pub release: EpochRelease,
}

/// A hardware invalidation of a cpumask's TLBs without interrupts (Intel
/// Remote Action Request, RAR: Intel's "Remote Action Request" white paper,
/// 2023; the Linux RAR series, R. van Riel, 2025): the initiator signals
/// each target (`signal_cycles` each), the targets' hardware invalidates
/// without running a handler, and the initiator waits `wait_cycles` for
/// the completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAction {
    /// Which CPUs are signalled.
    pub targets: ShootdownTargets,
    /// What every target flushes.
    pub flush: ShootdownFlush,
    /// Cycles to signal one target.
    pub signal_cycles: u64,
    /// Cycles the initiator waits for the completions (when any target).
    pub wait_cycles: u64,
}

/// How a request's data reaches the host domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DataPath {
    /// The guest frames are mapped at the policy's placement for the
    /// request, and unmapped after it (the unmap plan's flushes follow).
    #[default]
    Mapped,
    /// Persistent grants: a per-ring pool of guest frames mapped once and
    /// kept; data copied through them.
    Persistent(Persistent),
    /// Grant copy: the hypervisor copies between the guest's frames and the
    /// host domain's own buffer (the policy's placement, mapped at set-up);
    /// no guest frame is ever mapped in the host domain.
    Copy(GrantCopy),
}

/// Xen blkback persistent grants (drivers/block/xen-blkback/blkback.c:
/// `xen_blkbk_map` keeps grants in the ring's `persistent_gnts` tree up to
/// `max_persistent_grants` = 1,056; `purge_persistent_gnt` unmaps the
/// least recently used ones when the pool is full).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistent {
    /// Grants (pages) one ring keeps mapped.
    pub grants_per_ring: u32,
    /// Cycles of copying per KiB through the persistent pages.
    pub copy_cycles_per_kib: u64,
    /// The shootdown a purge's unmap needs (Xen's grant unmap flush).
    pub purge: Shootdown,
}

/// Xen grant copy (`GNTTABOP_copy`, xen/common/grant_table.c
/// `gnttab_copy`; netback's tx path, drivers/net/xen-netback/netback.c
/// `xenvif_tx_build_gops`): one hypercall per request, one copy operation
/// per page, cost per byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantCopy {
    /// Cycles of one copy operation (grant lookup and checks), per page.
    pub op_cycles: u64,
    /// Cycles of copying per KiB.
    pub copy_cycles_per_kib: u64,
}

impl GrantCopy {
    /// The defaults of policy `copy` and of the backend's header copy
    /// (`io.header_copy_*`): 300 cycles per operation for the grant lookup,
    /// the reference and permission checks and the grant-table lock (an
    /// assumption: no published per-operation figure) and 256 cycles per
    /// KiB (an assumption: 4 bytes per cycle, about 10 GB/s at 2.5 GHz).
    pub const DEFAULT: GrantCopy = GrantCopy {
        op_cycles: 300,
        copy_cycles_per_kib: 256,
    };

    /// Cycles of copying `bytes` (rounded up to a whole cycle).
    #[must_use]
    pub fn copy_cycles(&self, bytes: u64) -> u64 {
        (bytes * self.copy_cycles_per_kib).div_ceil(1024)
    }
}

impl DataPath {
    /// Cycles of copying `bytes` on this data path (0 when mapped).
    #[must_use]
    pub fn copy_cycles(&self, bytes: u64) -> u64 {
        match self {
            DataPath::Mapped => 0,
            DataPath::Persistent(p) => GrantCopy {
                op_cycles: 0,
                copy_cycles_per_kib: p.copy_cycles_per_kib,
            }
            .copy_cycles(bytes),
            DataPath::Copy(c) => c.copy_cycles(bytes),
        }
    }

    /// Whether a request's mapping outlives it (no unmap after the
    /// request).
    #[must_use]
    pub fn keeps_mappings(&self) -> bool {
        *self != DataPath::Mapped
    }
}

/// What an unmap needs, in order: the local flush, then the remote
/// invalidation (whose own initiator flush comes on top).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapPlan {
    /// The serving CPU's own flush after the unmap hypercall.
    pub local: LocalFlush,
    /// Other CPUs.
    pub remote: RemoteInvalidation,
}

impl UnmapPlan {
    /// Nothing to flush anywhere.
    pub const NOTHING: UnmapPlan = UnmapPlan {
        local: LocalFlush::None,
        remote: RemoteInvalidation::None,
    };

    /// Whether the plan invalidates other CPUs' TLBs.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.remote != RemoteInvalidation::None
    }
}

/// What the backend does with a request when [`crate::MappingPolicy::place`]
/// finds its finite pool exhausted for now (every run of free slots too
/// short because I/Os in flight hold them; [`crate::HvError::is_exhaustion`]).
/// A policy that falls back to another mapping does so inside `place` and
/// never reports exhaustion for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Exhaustion {
    /// The request waits, first in line, until an I/O of the same backend
    /// completes and releases its placement; then the map is tried again
    /// (blkback waits for free pages, `xen_blkbk_map` / `pending_free_wq`).
    #[default]
    Wait,
    /// The request is refused: the backend answers it with an error at once
    /// (`BLKIF_RSP_ERROR`, a dropped packet) and it is not counted as a
    /// completed I/O.
    Refuse,
}
