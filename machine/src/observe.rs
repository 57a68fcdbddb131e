//! Hooks through which a run can be watched (the timeline view).
//!
//! The model calls an [`Observer`] at every slice of CPU time, every IPI and
//! every change of the counters a timeline shows, and, if it asks, at every
//! measured I/O's completion ([`IoRecord`], for `tlbsim run --per-io`). The default
//! [`NoObserver`] compiles to nothing: the simulation is generic over the
//! observer, and each call site is guarded by [`Observer::ENABLED`].

use crate::stats::LatencyBreakdown;

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

/// One measured I/O, reported as it completes: an I/O the measured window
/// counts (in `io_completed`), in cycles. For an I/O split into pieces
/// (`guests.N.split`), its parts are the sums over its pieces (which may be
/// served at the same time on several CPUs, so they may add up to more than
/// its latency) and `cpu` is the CPU that served its last piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoRecord {
    /// The guest that issued it (its index in the scenario's `guests`).
    pub guest: u32,
    /// The registered CPU whose backend served it.
    pub cpu: u32,
    /// Bytes it moved.
    pub size_bytes: u64,
    /// Whether it was a read.
    pub read: bool,
    /// Backend requests it was served as (1 unless split).
    pub pieces: u32,
    /// When the guest issued it, cycles since the start of the run (the
    /// warm-up included; it may precede the window's opening).
    pub arrival: u64,
    /// From its issue to its completion, cycles.
    pub latency: u64,
    /// The parts of its latency that fell inside the measured window (all
    /// of them, except for an I/O issued before the window opened): exactly
    /// what it adds to the run's `LatencyBreakdown`.
    pub parts: LatencyBreakdown,
}

/// Receives what happens during a run. Every method has an empty default.
pub trait Observer {
    /// Whether the model should call this observer's timeline methods
    /// (`slice`, `ipi`, `in_flight`, `tlb_occupancy`) at all, and compute
    /// what the calls need, such as TLB occupancy.
    const ENABLED: bool = true;

    /// Whether the model should keep each request's latency parts and call
    /// [`Observer::io`] as each measured I/O completes. Off by default, so
    /// a run without a per-I/O observer keeps nothing per request.
    const RECORDS_IOS: bool = false;

    /// A measured I/O completed (only called when [`Observer::RECORDS_IOS`]).
    fn io(&mut self, _io: &IoRecord) {}

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
