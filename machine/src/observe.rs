//! Hooks through which a run can be watched (the timeline view).
//!
//! The model calls an [`Observer`] at every slice of CPU time, every IPI and
//! every change of the counters a timeline shows. The default
//! [`NoObserver`] compiles to nothing: the simulation is generic over the
//! observer, and each call site is guarded by [`Observer::ENABLED`].

/// What a CPU was doing during a slice of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SliceKind {
    /// Dequeue and map hypercall (with the map's flushes).
    Map,
    /// Touching a request's data on its own CPU (and protocol processing).
    Data,
    /// Unmap hypercall.
    Unmap,
    /// Waiting for the flush lock and for a shootdown's acknowledgements.
    FlushWait,
    /// Completing a request to the guest.
    Complete,
    /// An IPI handler (entry, flush, acknowledgement).
    IpiHandler,
    /// A migrated backend thread's data phase, on a foreign CPU.
    Migrated,
    /// The background workload.
    Background,
    /// The host ran another tenant's vCPU on this CPU (`[vcpu]`).
    Descheduled,
}

impl SliceKind {
    /// A short name for displays.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SliceKind::Map => "dequeue+map",
            SliceKind::Data => "data touch",
            SliceKind::Unmap => "unmap",
            SliceKind::FlushWait => "flush wait",
            SliceKind::Complete => "complete",
            SliceKind::IpiHandler => "IPI handler",
            SliceKind::Migrated => "migrated data touch",
            SliceKind::Background => "background",
            SliceKind::Descheduled => "descheduled (another tenant)",
        }
    }
}

/// One shootdown IPI, from send to acknowledgement seen, in cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpiRecord {
    /// Sending CPU.
    pub from: u32,
    /// Target CPU.
    pub to: u32,
    /// Sequence number of the IPI in the run (unique).
    pub id: u64,
    /// When the initiator sent it.
    pub sent: u64,
    /// When the target's handler started.
    pub handler_start: u64,
    /// When the target's handler ended (acknowledgement written).
    pub handler_end: u64,
    /// When the initiator saw the acknowledgement.
    pub acked: u64,
}

/// Receives what happens during a run. Every method has an empty default.
pub trait Observer {
    /// Whether the model should call this observer at all (and compute what
    /// the calls need, such as TLB occupancy).
    const ENABLED: bool = true;

    /// CPU `cpu` did `kind` from `start` to `end` (cycles).
    fn slice(&mut self, _cpu: u32, _kind: SliceKind, _start: u64, _end: u64) {}

    /// A shootdown IPI completed its round trip.
    fn ipi(&mut self, _ipi: IpiRecord) {}

    /// Requests in flight (issued, not completed) changed to `requests` at `t`.
    fn in_flight(&mut self, _t: u64, _requests: u64) {}

    /// CPU `cpu`'s TLBs (all levels) held `entries` entries at `t`.
    fn tlb_occupancy(&mut self, _t: u64, _cpu: u32, _entries: u64) {}

    /// Guest frames were mapped at `pages` virtual pages from `first_page`
    /// at `t` (the page table changed).
    fn mapped(&mut self, _t: u64, _first_page: u64, _pages: u32) {}

    /// The `pages` virtual pages from `first_page` were unmapped at `t`.
    fn unmapped(&mut self, _t: u64, _first_page: u64, _pages: u32) {}
}

/// The observer that watches nothing; calls to it compile away.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    const ENABLED: bool = false;
}
