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
}

/// How other CPUs' TLBs are invalidated after an unmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteInvalidation {
    /// Not at all: no other CPU may hold the translation (or the policy is a
    /// deliberately unsafe variant).
    None,
    /// An IPI shootdown of every other CPU.
    Ipi(Shootdown),
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
