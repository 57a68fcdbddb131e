//! The discrete-event model of the whole machine.
//!
//! # A request's life (on registered CPU `c`)
//! 1. The guest puts it on a ring steered to `c` and notifies; an idle
//!    backend thread wakes `notify_cycles` later.
//! 2. *Dequeue + map* (one thread-level segment): `dequeue_cycles`, the map
//!    hypercall (`hypercall_cycles + pages * map_page_cycles`) into the
//!    placement the policy chooses, and the local flush of the policy's map
//!    plan (INVLPG per page, or one full flush above the ceiling). The page
//!    table changes at the segment's start.
//! 3. *Data*: every cache line (or page) is touched through `c`'s TLB:
//!    `data_line_cycles` per line plus the translation latency of each
//!    lookup. With probability `host.migration_probability` the thread
//!    instead migrates to another CPU `d` and touches the data there, at
//!    interrupt level on `d` (it preempts whatever `d` does), after
//!    `migrate_cycles` and the flush of the policy's foreign-access plan
//!    (claim step 7 for the per-CPU method); then it returns to `c`.
//!    With `host.device_cycles` > 0 the device then serves the request
//!    (fixed or exponential time, its own latency part); the backend waits
//!    for it (an assumption: no pipelining), then unmaps.
//! 4. *Unmap*: the hypercall (`hypercall_cycles + pages * unmap_page_cycles`);
//!    the page table changes at the segment's start. Then the policy's unmap
//!    plan: a local flush, then the remote invalidation. An IPI shootdown
//!    (one per request, or per page): take the flush lock if the plan is
//!    serialized, flush locally, send one IPI per other CPU (timed by
//!    `machine.ipi_delivery`, see `ipi/`: by default `ipi_send_cycles` each,
//!    one after another), each target runs its handler after
//!    `ipi_delivery_cycles` (`ipi_receive_cycles` + `ipi_handler_cycles` +
//!    its flush, stolen from what it was doing), the initiator sees each
//!    acknowledgement `ack_cycles` later, and continues when all are in
//!    (see [`cpu_model::shootdown_latency_cycles`] for the closed form).
//!    Other plans: the unmap joins a batch flushed by one shootdown
//!    (`batch.rs`), or a broadcast invalidation without IPIs
//!    (`broadcast.rs`); a map may need a shootdown first (`map_flush.rs`).
//! 5. *Complete*: the placement is released for reuse (only now, after every
//!    invalidation of the unmap), `complete_cycles`; the latency (arrival to
//!    here) is recorded; a closed-loop guest issues its next request after
//!    its think time.
//!
//! # Within one cycle
//! The engine runs events in `(time, sequence)` order: events of the same
//! cycle run in the order they were scheduled. A handler's effects (a
//! page-table change, a flush, a lock hand-over) are visible at once to
//! every later event of the same cycle. An event scheduled for the current
//! cycle runs after every event already pending for it. Interrupt-level work
//! arriving while a thread-level segment runs pushes that segment's end back
//! (the segment's end event re-schedules itself) instead of cancelling it.
//!
//! # Accuracy notes
//! - A phase's TLB lookups are resolved when the phase starts; page-table
//!   changes and flushes that land during the phase affect later phases.
//! - The background workload is simulated lazily, in time order with
//!   respect to every flush and interrupt that reaches its CPU: before
//!   anything touches a background CPU, its accesses up to that cycle are
//!   accounted, access by access (`background.model = "exact"`) or from its
//!   refill curve (`"curve"`, the default; `background/curve.rs` says what
//!   it assumes). It needs no events of its own.

mod async_io;
mod backend;
mod background;
mod batch;
mod broadcast;
mod cpu;
mod data;
mod data_path;
mod device;
mod drain_unmap;
mod epoch;
mod exposure;
mod guests;
mod header_copy;
mod idle;
mod invalidate;
mod ipi;
mod lock_kind;
mod locks;
mod map_flush;
mod overload;
mod scope;
mod slab;
mod threads;
mod vary;
mod vcpu;
mod window;
mod working_set;

use backend::{Backend, Phase, Request};
use cpu::{count_access, Cpu, PerCpu};
use guests::{Guest, SplitIo};
use invalidate::Shootdown;
use locks::FifoLock;
use overload::OverloadTracker;
use slab::{RequestId, ShootdownId, Slab, SplitId};
use vary::Cost;
use window::{Completion, Part, Window};

use crate::config::{SimConfig, Touch};
use crate::observe::{IoRecord, IpiRecord, NoObserver, Observer, SliceKind};
use crate::stats::{CpuStats, LatencyBreakdown, RunResult};
use cpu_model::{CostTable, CpuClock, CpuId};
use hypervisor::{
    DataPath, HvError, IpiSend, LocalFlush, MappingPolicy, PageTableManager, Placement, PolicyName,
    RemoteInvalidation, Shootdown as ShootdownPlan, ShootdownFlush, ShootdownGranularity,
    ShootdownTargets, HOST_ASID,
};
use mmu::{
    AccessCosts, AccessOutcome, Asid, FlushKind, MmuError, PageSize, PageTable, PageWalkCache,
    PhysFrame, TlbHierarchy, VirtAddr, VirtPage, WalkCosts,
};
use rand::RngExt;
use sim_core::{
    rng_stream, Control, Engine, EventQueue, Instant, LatencyHistogram, Model, RunOutcome,
    Schedule, Scheduler, SimRng, Span,
};

/// How the model's code schedules events: an object, not a generic queue.
type Sched<'a> = dyn Schedule<Event> + 'a;
use std::collections::VecDeque;
use workloads::{Generator, Pattern, RequestSource, TimedRequest};

/// The ASID of the background workload's address space.
pub const BACKGROUND_ASID: Asid = Asid(2);
/// First virtual page of the background working set (64 GiB).
const BACKGROUND_BASE: u64 = 0x10_0000_0000 >> 12;
/// First host frame of the background working set.
const BACKGROUND_FRAME_BASE: u64 = 1 << 30;
/// Random-stream ids (one per component, see [`sim_core::rng_stream`]).
pub(in crate::sim) const STREAM_MIGRATION: u64 = 1;
pub(in crate::sim) const STREAM_SERVICE: u64 = 2;
pub(in crate::sim) const STREAM_DEVICE: u64 = 3;
pub(in crate::sim) const STREAM_GUEST_BASE: u64 = 1_000;
pub(in crate::sim) const STREAM_BACKGROUND_BASE: u64 = 1_000_000;

/// Why a run could not be set up or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration has problems.
    #[error("invalid configuration: {}", .problems.iter().map(|p| format!("{}: {}", p.key, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// What is wrong.
        problems: Vec<crate::config::Problem>,
    },
    /// The policy could not be built from its parameters.
    #[error("{0}")]
    Policy(#[from] hypervisor::RegistryError),
    /// A hypercall failed: a model bug or an impossible configuration.
    #[error("hypercall failed: {0}")]
    Hypervisor(#[from] HvError),
    /// The MMU refused something.
    #[error("mmu: {0}")]
    Mmu(#[from] MmuError),
    /// A trace guest's source failed (bad or truncated record).
    #[error("guest {guest}: {message}")]
    Trace {
        /// The guest.
        guest: u32,
        /// What is wrong, naming file and line.
        message: String,
    },
    /// A trace guest was given no request source.
    #[error("guest {guest} replays a trace but no trace source was given")]
    MissingSource {
        /// The guest.
        guest: u32,
    },
    /// An event fell at or past the end of the simulated clock (`u64::MAX`
    /// cycles, where time saturates: `sim_core::Instant::END`), so the run
    /// stopped rather than compute results from a clamped clock.
    #[error("the simulated clock would pass 2^64-1 cycles after cycle {at}: shorten the run (stop.ios, stop.max_cycles) or the costs and delays")]
    ClockEnd {
        /// The last time handled.
        at: u64,
    },
    /// The backend touched an unmapped page: a model bug.
    #[error("{cpu} faulted on {va:#x} under {policy}")]
    Fault {
        /// Where.
        cpu: CpuId,
        /// The address.
        va: u64,
        /// Policy simulated.
        policy: PolicyName,
    },
}

/// Engine statistics of a run (host-dependent parts are the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineStats {
    /// Events handled.
    pub events: u64,
    /// Background memory accesses replayed (they need no events).
    pub background_accesses: u64,
    /// TLB lookups made, warm-up included.
    pub tlb_lookups: u64,
}

/// One event. Small and `Copy`: it travels through the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A guest issues a request (open-loop arrival or closed-loop issue).
    Issue {
        /// The guest.
        guest: u32,
    },
    /// An idle backend thread wakes on a notification.
    Wake {
        /// Its CPU.
        cpu: CpuId,
    },
    /// A thread-level segment's scheduled end.
    SegmentEnd {
        /// The CPU.
        cpu: CpuId,
    },
    /// A migrated backend thread is back on its CPU.
    MigratedBack {
        /// The thread's home CPU.
        cpu: CpuId,
    },
    /// The device finished CPU `cpu`'s current request.
    DeviceDone {
        /// The backend's CPU.
        cpu: CpuId,
    },
    /// The device finished a request an asynchronous backend submitted.
    IoDone {
        /// The backend's CPU.
        cpu: CpuId,
        /// The request.
        request: RequestId,
    },
    /// A shootdown IPI reaches its target.
    IpiArrive {
        /// The target.
        target: CpuId,
        /// The shootdown.
        shootdown: ShootdownId,
        /// When the IPI left its sender (cycles): the timeline's send time,
        /// so a drawn delivery time shows as drawn.
        sent: u64,
    },
    /// The initiator sees a shootdown's last acknowledgement: one event for
    /// all of its targets', in the place the latest one's own would have
    /// had (`ipi_taken`).
    IpiAck {
        /// The shootdown.
        shootdown: ShootdownId,
    },
    /// A scheduler tick of every CPU with epoch-deferred invalidations
    /// pending (`epoch.rs`).
    EpochTick,
    /// Another domain's flush arrives at the shared flush lock
    /// (`host.other_domain_flushes_per_sec`).
    OtherFlush,
    /// Another domain's flush releases the shared flush lock.
    OtherFlushDone,
    /// A map-lock waiter passed over at a release (`host.map_lock_steal`:
    /// asleep, or its vCPU descheduled) tries to take the lock again.
    MapLockRetry {
        /// The waiter's CPU.
        cpu: CpuId,
    },
    /// A shootdown IPI that found its target with interrupts off
    /// (`[variability.irq_off]`) is taken now that they are on again: its
    /// handler runs (its flush was applied at arrival).
    IpiTaken {
        /// The target.
        target: CpuId,
        /// The shootdown.
        shootdown: ShootdownId,
        /// The flush's cost, applied at arrival (cycles).
        flush_cycles: u32,
        /// When the IPI left its sender (cycles).
        sent: u64,
    },
}

/// The simulated machine running one policy.
pub struct Simulation<O: Observer = NoObserver> {
    obs: O,
    ipi_seq: u64,
    ipis: ipi::Ipis,
    service_rng: SimRng,
    process_cycles: u64,
    process_distribution: crate::config::Distribution,
    device_rng: SimRng,
    device_cycles: u64,
    device_distribution: crate::config::Distribution,
    vary: vary::Variability,
    scope: crate::config::ShootdownScope,
    migration_level: crate::config::MigrationLevel,
    local_flush_before_lock: bool,
    other_flushes: Option<scope::OtherFlushes>,
    policy: Box<dyn MappingPolicy>,
    costs: CostTable,
    access_costs: AccessCosts,
    touch: Touch,
    header_bytes: u64,
    io: crate::config::IoPathConfig,
    /// The backend's header copy (`io.header_copy_bytes`), if any.
    header_copy: Option<header_copy::HeaderCopy>,
    /// First page of the backend's working set (`io.backend_working_set_pages`).
    resident: VirtPage,
    ceiling: usize,
    migration_p: f64,
    frequency_ghz: f64,
    bg_pages: u32,
    bg_between: u64,

    mgr: PageTableManager,
    bg_table: PageTable,
    /// The background's refill curve (`None`: the exact model, or none).
    bg_curve: Option<std::sync::Arc<background::RefillCurve>>,
    cpus: PerCpu<Cpu>,
    backends: Vec<Backend>,
    guests: Vec<Guest>,
    requests: Slab<Request, RequestId>,
    splits: Slab<SplitIo, SplitId>,
    /// Pages of the mapping area: the largest backend request.
    max_pages: u32,
    shootdowns: Slab<Shootdown, ShootdownId>,
    flush_lock: FifoLock,
    map_lock_through_flush: bool,
    map_lock_waiter: crate::config::LockWaiter,
    map_lock: FifoLock,
    /// `host.map_lock_steal`: a release may pass over waiters that are not
    /// running (`locks.rs`).
    map_lock_steal: bool,
    /// The map lock when it is a shared kind (`io.map_lock_kind`; `None`
    /// for the exclusive lock or none).
    shared_lock: Option<crate::config::LockKind>,
    migration_rng: SimRng,
    /// The host schedule of the host domain's vCPUs (`[vcpu]`).
    vcpus: vcpu::Vcpus,
    /// What waking an idle CPU costs (`[idle]`).
    idle: idle::IdleCpus,
    /// Several backend threads per CPU (`io.threads_per_cpu`).
    threads: threads::Threads,
    /// The device's queues (`io.device_queues`).
    device: device::Device,

    window: Window,
    overload: OverloadTracker,
    peak_in_flight: u64,
    /// The first error a handler returned (the engine's model interface
    /// returns only a control value): the run stops and reports it.
    error: Option<SimError>,
    total_bg_accesses: u64,
    total_lookups: u64,
    /// Epoch-deferred invalidations (`epoch.rs`).
    epoch: epoch::EpochState,
    /// Release exposures measured in the window (`exposure.rs`).
    exposure: LatencyHistogram,
    /// Guest pages mapped into the host domain in the window.
    guest_pages_mapped: u64,
    /// The scenario seed (the no-I/O twin replays the background from it).
    seed: u64,
    /// The cycle of the event being handled.
    now: u64,
    /// Warm-up I/Os, TLB geometry and page-walk-cache size (the no-I/O
    /// twin rebuilds the background's CPUs from them).
    warmup_ios: u64,
    tlb_config: mmu::TlbConfig,
    pwc_entries: usize,
}

/// The request sources of trace guests, by guest index (`None` for a
/// synthetic guest).
pub type Sources = Vec<Option<Box<dyn RequestSource + Send>>>;

impl Simulation<NoObserver> {
    /// Builds the machine for `cfg` under `policy`, with the hypervisor set
    /// up (CPUs registered, slots pre-allocated as the policy does).
    ///
    /// # Errors
    /// The configuration has problems, or a set-up hypercall failed.
    pub fn new(cfg: &SimConfig, policy: Box<dyn MappingPolicy>) -> Result<Self, SimError> {
        Self::with_parts(cfg, policy, Vec::new(), NoObserver)
    }
}

impl<O: Observer> Simulation<O> {
    /// Like [`Simulation::new`], with request sources for trace guests and an
    /// observer.
    ///
    /// # Errors
    /// The configuration has problems, a trace guest has no source, or a
    /// set-up hypercall failed.
    pub fn with_parts(
        cfg: &SimConfig,
        mut policy: Box<dyn MappingPolicy>,
        mut sources: Sources,
        obs: O,
    ) -> Result<Self, SimError> {
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(SimError::Invalid { problems });
        }
        let n = cfg.machine.cpus;
        let io = cfg.host.io_cpus;
        let max_pages = u32::try_from(cfg.max_request_pages()).expect("validated");
        // The domain-wide area: room for every backend thread's requests in
        // flight (one when synchronous) and one more.
        let in_flight = if cfg.io.asynchronous {
            cfg.io.ring_slots
        } else {
            1
        };
        let mut mgr = PageTableManager::new(n, io * (in_flight + 1), max_pages);
        let io_ids: Vec<CpuId> = (0..io).map(CpuId).collect();
        policy.setup(&mut mgr, &io_ids)?;
        let resident = mgr.map_resident(cfg.io.backend_working_set_pages)?;
        let header_copy = header_copy::HeaderCopy::new(&cfg.io, policy.data_path());
        // A policy's own lock is a spinlock (kmap_lock): its waiters spin.
        let policy_lock = !cfg.host.map_lock && policy.serializes_maps();
        // A shared (reader-writer) grant-table lock serializes nothing; a
        // policy's own lock stays exclusive.
        let shared_lock = (cfg.host.map_lock
            && cfg.io.map_lock_kind != crate::config::LockKind::Exclusive
            && !policy.serializes_maps())
        .then_some(cfg.io.map_lock_kind);
        let map_lock = (cfg.host.map_lock || policy_lock) && shared_lock.is_none();
        let map_lock_waiter = if policy_lock {
            crate::config::LockWaiter::Spin
        } else {
            cfg.host.map_lock_waiter
        };
        // Set-up hypercalls (registration, slot pre-allocation) happen
        // before the run: they belong to no measured window, warm-up or not.
        mgr.reset_counters();

        let mut bg_table = PageTable::new();
        if cfg.background.enabled {
            for i in 0..u64::from(cfg.background.working_set_pages) {
                bg_table.map(
                    VirtPage(BACKGROUND_BASE + i),
                    PhysFrame(BACKGROUND_FRAME_BASE + i),
                    PageSize::Size4K,
                )?;
            }
        }
        let pwc_entries = usize::try_from(cfg.machine.pwc_entries).expect("u32 fits usize");
        let mut cpus = Vec::with_capacity(n as usize);
        for c in 0..n {
            let registered = c < io;
            let bg = cfg.background.enabled && !registered;
            cpus.push(Cpu {
                clock: CpuClock::new(CpuId(c)),
                tlb: TlbHierarchy::new(cfg.machine.tlb)?,
                pwc: PageWalkCache::new(pwc_entries),
                stats: CpuStats {
                    cpu: c,
                    registered,
                    ..CpuStats::default()
                },
                backend: registered.then_some(c as usize * cfg.io.threads_per_cpu as usize),
                bg_next: if bg { 0 } else { u64::MAX },
                bg_rng: rng_stream(cfg.seed, STREAM_BACKGROUND_BASE + u64::from(c)),
                bg_curve: background::CurveCpu::default(),
                host_filled: false,
                seg_len: 0,
                seg_start: 0,
                bg_resumed: 0,
                deferred_flush: None,
                seg_deferred: 0,
                seg_called: 0,
                seg_wake: 0,
                wake_debt: 0,
                exposed: Vec::new(),
                host_until: 0,
                thread_shift: 0,
                ran_host: registered || bg,
                pre_flushed: None,
            });
        }
        let per_cpu = cfg.io.threads_per_cpu as usize;
        let backends = (0..io as usize * per_cpu)
            .map(|_| Backend {
                ring: VecDeque::new(),
                phase: Phase::Idle,
                current: None,
                phase_start: 0,
                shootdowns_left: 0,
                shootdown: ShootdownPlan::default(),
                pending: batch::PendingBatch::default(),
                map_wait: None,
                persistent: None,
                io: async_io::AsyncState::default(),
                away: None,
            })
            .collect();
        sources.resize_with(cfg.guests.len(), || None);
        let mut guests = Vec::with_capacity(cfg.guests.len());
        // Rings steered to each CPU so far: the next one's thread.
        let mut rings_on = vec![0usize; io as usize];
        for (g, (gc, source)) in cfg.guests.iter().zip(sources).enumerate() {
            let g32 = u32::try_from(g).expect("guest count fits u32");
            if gc.pattern == Pattern::Trace && source.is_none() {
                return Err(SimError::MissingSource { guest: g32 });
            }
            guests.push(Guest {
                source,
                pending: None,
                trace_cycles_per_ns: gc.time_scale * cfg.machine.frequency_ghz,
                piece_bytes: gc.split.piece_bytes(),
                gen: Generator::new(
                    gc.clone(),
                    cfg.machine.frequency_ghz,
                    rng_stream(cfg.seed, STREAM_GUEST_BASE + u64::from(g32)),
                ),
                ring_cpu: (0..gc.queues).map(|q| CpuId((g32 + q) % io)).collect(),
                ring_thread: (0..gc.queues)
                    .map(|q| {
                        let c = ((g32 + q) % io) as usize;
                        let k = rings_on[c] % per_cpu;
                        rings_on[c] += 1;
                        c * per_cpu + k
                    })
                    .collect(),
                frame_base: (u64::from(g32) + 1) << 20,
            });
        }
        let walk = if cfg.costs.nested_paging {
            WalkCosts::nested(cfg.costs.walk_level_cycles, 4)
        } else {
            WalkCosts::native(cfg.costs.walk_level_cycles)
        };
        let access_costs = AccessCosts {
            l2_hit_cycles: cfg.costs.l2_hit_cycles,
            walk,
        };
        Ok(Self {
            obs,
            ipi_seq: 0,
            ipis: ipi::Ipis::new(cfg.machine.ipi_delivery),
            service_rng: rng_stream(cfg.seed, STREAM_SERVICE),
            process_cycles: cfg.host.process_cycles,
            process_distribution: cfg.host.process_distribution,
            device_rng: rng_stream(cfg.seed, STREAM_DEVICE),
            device_cycles: cfg.host.device_cycles,
            device_distribution: cfg.host.device_distribution,
            vary: vary::Variability::new(
                cfg.seed,
                &cfg.costs,
                &cfg.variability.costs,
                cfg.variability.irq_off,
            ),
            scope: cfg.host.shootdown_scope,
            migration_level: cfg.host.migration_level,
            local_flush_before_lock: cfg.host.local_flush_before_lock,
            other_flushes: scope::OtherFlushes::new(cfg),
            policy,
            costs: cfg.costs.clone(),
            access_costs,
            touch: cfg.host.touch,
            header_bytes: cfg.host.touch_header_bytes,
            io: cfg.io.clone(),
            header_copy,
            resident,
            ceiling: usize::try_from(cfg.host.flush_ceiling_pages).expect("u32 fits usize"),
            migration_p: cfg.host.migration_probability,
            frequency_ghz: cfg.machine.frequency_ghz,
            bg_pages: cfg.background.working_set_pages,
            bg_between: cfg.background.cycles_between_accesses,
            mgr,
            bg_curve: background::curve_for(cfg, &bg_table, access_costs, pwc_entries),
            bg_table,
            cpus: PerCpu::new(cpus),
            backends,
            guests,
            requests: Slab::default(),
            splits: Slab::default(),
            max_pages,
            shootdowns: Slab::default(),
            flush_lock: FifoLock::new(true),
            map_lock_through_flush: cfg.host.map_lock_through_flush,
            map_lock_waiter,
            map_lock: FifoLock::new(map_lock),
            map_lock_steal: cfg.host.map_lock_steal,
            shared_lock,
            migration_rng: rng_stream(cfg.seed, STREAM_MIGRATION),
            vcpus: vcpu::Vcpus::new(&cfg.vcpu, n, cfg.machine.frequency_ghz, cfg.seed),
            idle: idle::IdleCpus::new(&cfg.idle, n),
            threads: threads::Threads::new(io as usize, per_cpu),
            device: device::Device::default(),
            window: Window::new(&cfg.stop),
            overload: OverloadTracker::default(),
            peak_in_flight: 0,
            error: None,
            total_bg_accesses: 0,
            total_lookups: 0,
            epoch: epoch::EpochState::default(),
            exposure: LatencyHistogram::new(),
            guest_pages_mapped: 0,
            seed: cfg.seed,
            now: 0,
            warmup_ios: cfg.stop.warmup_ios,
            tlb_config: cfg.machine.tlb,
            pwc_entries,
        })
    }

    /// Runs the simulation to its stop condition.
    ///
    /// # Errors
    /// A model invariant broke (a fault or a failed hypercall).
    pub fn run(self, max_cycles: u64) -> Result<(RunResult, EngineStats), SimError> {
        self.run_observed(max_cycles).map(|(r, e, _)| (r, e))
    }

    /// Runs the simulation to its stop condition and hands the observer back.
    ///
    /// # Errors
    /// A model invariant broke (a fault or a failed hypercall), or a trace
    /// source failed.
    pub fn run_observed(
        mut self,
        max_cycles: u64,
    ) -> Result<(RunResult, EngineStats, O), SimError> {
        let mut engine: Engine<Event> = Engine::new();
        self.seed_events(engine.scheduler())?;
        let budget = (max_cycles > 0).then_some(Instant(max_cycles));
        let outcome: RunOutcome = engine.run(&mut self, budget);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if outcome.reason == sim_core::EndReason::ClockEnd {
            return Err(SimError::ClockEnd { at: outcome.end.0 });
        }
        let end = outcome.end.0;
        for c in self.cpus.ids() {
            self.vcpu_catch_up(c, end);
            if self.cpus[c].bg_next != u64::MAX {
                self.bg_catch_up(c, end);
            }
            // Exposures still open at the end are cut there (lower bounds).
            self.close_all_exposures(c, end);
            if O::ENABLED && self.cpus[c].bg_next != u64::MAX {
                let from = self.cpus[c].bg_resumed;
                if end > from {
                    self.obs
                        .slice(self.cpus[c].stats.cpu, SliceKind::Background, from, end);
                }
            }
        }
        let per_cpu = self
            .cpus
            .iter()
            .map(|c| {
                let mut s = c.stats.clone();
                c.bg_curve.add_to(&mut s);
                s.stolen_cycles = c.clock.stolen_cycles;
                s.busy_cycles += c.clock.busy_cycles + s.background_cycles;
                s
            })
            .collect();
        let result = RunResult {
            policy: PolicyName::new(self.policy.name()),
            io_completed: self.window.io_completed,
            io_bytes: self.window.io_bytes,
            io_reads: self.window.io_reads,
            io_pieces: self.window.io_pieces,
            sim_cycles: end.saturating_sub(self.window.start),
            frequency_ghz: self.frequency_ghz,
            latency: self.window.latency.summary(),
            latency_cdf: self.window.latency.cdf(),
            breakdown: self.window.breakdown,
            shootdowns: self.window.shootdowns,
            hypercalls: self.mgr.hypercalls(),
            migrations: self.window.migrations,
            overload: self.overload.result(),
            peak_in_flight: self.peak_in_flight,
            release_exposure: self.exposure.summary(),
            background_twin_accesses: self.background_twin(end),
            guest_pages_mapped: self.guest_pages_mapped,
            per_cpu,
            events: outcome.events,
            io_path: self.window.io_path,
        };
        let stats = EngineStats {
            events: outcome.events,
            background_accesses: self.total_bg_accesses,
            tlb_lookups: self.total_lookups,
        };
        Ok((result, stats, self.obs))
    }
}

impl<O: Observer> Model for Simulation<O> {
    type Event = Event;

    fn handle<Q: EventQueue<Event>>(
        &mut self,
        now: Instant,
        event: Event,
        sched: &mut Scheduler<Event, Q>,
    ) -> Control {
        match self.dispatch(now, event, sched) {
            Ok(control) => control,
            Err(e) => {
                self.error = Some(e);
                Control::Stop
            }
        }
    }
}

impl<O: Observer> Simulation<O> {
    /// Handles one event (see the module docs for what happens within one
    /// cycle).
    fn dispatch(
        &mut self,
        now: Instant,
        event: Event,
        sched: &mut Sched<'_>,
    ) -> Result<Control, SimError> {
        let now = now.0;
        self.now = now;
        match event {
            Event::Issue { guest } => self.issue(guest, now, sched)?,
            Event::Wake { cpu } => {
                let c = cpu;
                let b = self.backend_of(c);
                if self.backends[b].phase == Phase::Waking {
                    // An idle CPU wakes first (`[idle]`; 0 by default).
                    let wake = self.idle_wake(c, now);
                    self.cpus[c].wake_debt += wake;
                    self.next_request(c, now, sched)?;
                }
            }
            Event::SegmentEnd { cpu } => return self.segment_end(cpu, now, sched),
            Event::MigratedBack { cpu } => self.migrated_back(cpu, now, sched)?,
            Event::DeviceDone { cpu } => {
                self.device_finished(now, sched);
                self.start_unmap(cpu, now, sched)?;
            }
            Event::IoDone { cpu, request } => {
                self.device_finished(now, sched);
                self.io_done(cpu, request, now, sched);
            }
            Event::IpiArrive {
                target,
                shootdown,
                sent,
            } => self.ipi_arrive(target, shootdown, sent, now, sched),
            Event::IpiAck { shootdown } => self.ipi_ack(shootdown, now, sched)?,
            Event::EpochTick => self.epoch_tick(now, sched),
            Event::OtherFlush => self.other_flush(now, sched),
            Event::OtherFlushDone => self.other_flush_done(now, sched)?,
            Event::MapLockRetry { cpu } => self.retry_map_lock(cpu, now, sched)?,
            Event::IpiTaken {
                target,
                shootdown,
                flush_cycles,
                sent,
            } => self.ipi_taken(target, shootdown, u64::from(flush_cycles), sent, now, sched),
        }
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    /// Every component's random streams are its own: the id ranges (a base
    /// plus one per CPU, guest, cost or replica, up to the largest count
    /// the scenario keys allow) never overlap. (The vCPU schedule's base
    /// once equalled the irq-off stream's, so vCPU 0 and the irq-off draws
    /// shared a stream.)
    #[test]
    fn stream_id_ranges_are_disjoint() {
        let max_cpus = 1 << 16;
        let mut ranges = [
            ("migration", STREAM_MIGRATION, 1),
            ("service", STREAM_SERVICE, 1),
            ("device", STREAM_DEVICE, 1),
            ("other-domain flushes", scope::STREAM_OTHER_FLUSH, 1),
            ("guests", STREAM_GUEST_BASE, 1 << 16),
            ("background", STREAM_BACKGROUND_BASE, max_cpus),
            ("costs", vary::STREAM_COST_BASE, 64),
            ("irq-off", vary::STREAM_IRQ_OFF, 1),
            ("vcpus", vcpu::STREAM_VCPU_BASE, max_cpus),
            ("background curve", background::STREAM_CURVE_BASE, 1 << 10),
        ];
        ranges.sort_by_key(|r| r.1);
        for w in ranges.windows(2) {
            assert!(
                w[0].1 + w[0].2 <= w[1].1,
                "{} [{}, +{}) overlaps {} at {}",
                w[0].0,
                w[0].1,
                w[0].2,
                w[1].0,
                w[1].1
            );
        }
    }
}
