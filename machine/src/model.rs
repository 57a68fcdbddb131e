//! The discrete-event model of the whole machine.
//!
//! # A request's life (on registered CPU `c`, policy `P`)
//! 1. The guest puts it on a ring steered to `c` and notifies; an idle
//!    backend thread wakes `notify_cycles` later.
//! 2. *Dequeue + map* (one thread-level segment): `dequeue_cycles`, the map
//!    hypercall (`hypercall_cycles + pages * map_page_cycles`) into the
//!    placement `P` chooses, and the flush the map asks for (percpu: the
//!    request's slots on `c` only, INVLPG each or one full flush above the
//!    ceiling). The page table changes at the segment's start.
//! 3. *Data*: every cache line (or page) is touched through `c`'s TLB:
//!    `data_line_cycles` per line plus the translation latency of each
//!    lookup. With probability `host.migration_probability` the thread
//!    instead migrates to another CPU `d` and touches the data there, at
//!    interrupt level on `d` (it preempts whatever `d` does), after
//!    `migrate_cycles` and, if `P` requires it (claim step 7), a flush of the
//!    request's pages in `d`'s TLB; then it returns to `c`.
//! 4. *Unmap*: the hypercall (`hypercall_cycles + pages * unmap_page_cycles`);
//!    the page table changes at the segment's start. If `P` requires a
//!    shootdown (global), one per request (or per page): take the domain's
//!    flush lock, flush locally, send one IPI per other CPU
//!    (`ipi_send_cycles` each, one after another), each target runs its
//!    handler after `ipi_delivery_cycles` (`ipi_handler_cycles` + its flush,
//!    stolen from what it was doing), the initiator sees each
//!    acknowledgement `ack_cycles` later, and continues when all are in
//!    (see [`cpu_model::shootdown_latency_cycles`] for the closed form).
//! 5. *Complete*: `complete_cycles`; the latency (arrival to here) is
//!    recorded; a closed-loop guest issues its next request after its think
//!    time.
//!
//! # Accuracy notes
//! - A phase's TLB lookups are resolved when the phase starts; page-table
//!   changes and flushes that land during the phase affect later phases.
//! - The background workload is simulated lazily, access by access, exactly
//!   in time order with respect to every flush and interrupt that reaches its
//!   CPU: before anything touches a background CPU, its accesses up to that
//!   cycle are replayed. It needs no events of its own.

use crate::config::{SimConfig, Touch};
use crate::observe::{IpiRecord, NoObserver, Observer, SliceKind};
use crate::stats::{CpuStats, LatencyBreakdown, RunResult};
use cpu_model::{CostTable, CpuClock, CpuId};
use hypervisor::{
    HvError, LocalFlush, MappingPolicy, PageTableManager, Placement, PolicyName,
    RemoteInvalidation, Shootdown as ShootdownPlan, ShootdownFlush, ShootdownGranularity,
    HOST_ASID,
};
use mmu::{
    AccessCosts, AccessOutcome, Asid, FlushKind, MmuError, PageSize, PageTable, PageWalkCache,
    PhysFrame, TlbHierarchy, VirtAddr, VirtPage, WalkCosts,
};
use rand::RngExt;
use sim_core::{
    rng_stream, Control, Cycles, Engine, EventQueue, LatencyHistogram, Model, RunOutcome,
    Scheduler, SimRng,
};
use std::collections::VecDeque;
use workloads::{Generator, Pattern, RequestSource, TimedRequest};

/// The ASID of the background workload's address space.
pub const BACKGROUND_ASID: Asid = Asid(2);
/// First virtual page of the background working set (64 GiB).
const BACKGROUND_BASE: u64 = 0x10_0000_0000 >> 12;
/// First host frame of the background working set.
const BACKGROUND_FRAME_BASE: u64 = 1 << 30;
/// Random-stream ids (one per component, see [`sim_core::rng_stream`]).
const STREAM_MIGRATION: u64 = 1;
const STREAM_SERVICE: u64 = 2;
const STREAM_GUEST_BASE: u64 = 1_000;
const STREAM_BACKGROUND_BASE: u64 = 1_000_000;

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
        cpu: u32,
    },
    /// A thread-level segment's scheduled end.
    SegmentEnd {
        /// The CPU.
        cpu: u32,
    },
    /// A migrated backend thread is back on its CPU.
    MigratedBack {
        /// The thread's home CPU.
        cpu: u32,
    },
    /// A shootdown IPI reaches its target.
    IpiArrive {
        /// The target.
        target: u32,
        /// The shootdown.
        shootdown: u32,
    },
    /// The initiator sees a target's acknowledgement.
    IpiAck {
        /// The shootdown.
        shootdown: u32,
    },
}

/// What the backend thread of a registered CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing to do, asleep.
    Idle,
    /// Notified, about to run.
    Waking,
    /// Dequeue + map segment.
    Map,
    /// Data segment on the home CPU.
    Data,
    /// Data phase on another CPU.
    Away,
    /// Unmap hypercall segment.
    Unmap,
    /// Waiting for the flush lock.
    WaitLock,
    /// Waiting for the map lock before the map hypercall (since the cycle
    /// in `phase_start`).
    WaitMapLockMap,
    /// Waiting for the map lock before the unmap hypercall (since the cycle
    /// in `phase_start`).
    WaitMapLockUnmap,
    /// Waiting for a shootdown's acknowledgements.
    WaitAcks,
    /// Completion segment.
    Complete,
}

/// A backend thread, one per registered CPU.
#[derive(Debug)]
struct Backend {
    ring: VecDeque<u32>,
    phase: Phase,
    current: u32,
    /// Start of the current phase, for the latency breakdown.
    phase_start: u64,
    /// Shootdowns still to do for the current request.
    shootdowns_left: u32,
    /// The IPI shootdown the current request's unmap plan asked for.
    shootdown: ShootdownPlan,
}

/// One CPU.
struct Cpu {
    clock: CpuClock,
    tlb: TlbHierarchy,
    pwc: PageWalkCache,
    stats: CpuStats,
    /// Index into `backends` if registered.
    backend: Option<usize>,
    /// Background: issue time of its next memory access (`u64::MAX` if none).
    bg_next: u64,
    bg_rng: SimRng,
    /// Planned length of the current segment (busy accounting).
    seg_len: u64,
    /// Start of the current segment.
    seg_start: u64,
    /// Background: when it last resumed after interrupt-level work (timeline).
    bg_resumed: u64,
    /// Lazy TLB: a shootdown of this kind skipped this CPU; flush before
    /// its next host-domain access.
    deferred_flush: Option<ShootdownFlush>,
    /// Cycles added to the next segment (a sleeping lock waiter's wake-up).
    wake_debt: u64,
}

/// A request in flight.
#[derive(Clone, Copy, Debug, Default)]
struct Request {
    guest: u32,
    arrival: u64,
    size_bytes: u64,
    pages: u32,
    read: bool,
    first_frame: u64,
    placement: Option<Placement>,
    flush_wait_start: u64,
}

/// A shootdown in progress.
#[derive(Clone, Copy, Debug, Default)]
struct Shootdown {
    initiator: u32,
    acks_left: u32,
    /// Pages to flush on targets (range flushes).
    first_page: u64,
    pages: u32,
    /// What targets flush.
    flush: ShootdownFlush,
}

/// A fixed-size object pool with a free list: no allocation per request once
/// warmed up, deterministic reuse order.
#[derive(Debug, Default)]
struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T: Default> Slab<T> {
    fn insert(&mut self, v: T) -> u32 {
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = v;
            i
        } else {
            self.items.push(v);
            u32::try_from(self.items.len() - 1).expect("fewer than 2^32 objects in flight")
        }
    }
    fn remove(&mut self, i: u32) {
        self.free.push(i);
    }
    fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}
impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

/// A domain-wide lock with a FIFO of waiting CPUs (the flush lock, the map
/// lock). Disabled, it is always free and never queues anyone.
#[derive(Debug, Default)]
struct FifoLock {
    enabled: bool,
    held: bool,
    waiters: VecDeque<u32>,
}

impl FifoLock {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Takes the lock for `cpu`: true if it may go on now, false if it was
    /// queued.
    fn take(&mut self, cpu: u32) -> bool {
        if !self.enabled {
            return true;
        }
        if self.held {
            self.waiters.push_back(cpu);
            return false;
        }
        self.held = true;
        true
    }

    /// Releases the lock: the first waiter, who now holds it, if any.
    fn release(&mut self) -> Option<u32> {
        if !self.enabled {
            return None;
        }
        let next = self.waiters.pop_front();
        self.held = next.is_some();
        next
    }
}

/// A guest: its generator and where its rings go.
struct Guest {
    gen: Generator,
    /// Trace replay: the stream, and its next request (read one ahead).
    source: Option<Box<dyn RequestSource + Send>>,
    pending: Option<TimedRequest>,
    /// Trace replay: cycles per trace nanosecond (`time_scale` x GHz).
    trace_cycles_per_ns: f64,
    /// Largest request before splitting, bytes.
    split_bytes: u64,
    /// Registered CPU serving each of its rings.
    ring_cpu: Vec<u32>,
    frame_base: u64,
}

/// The simulated machine running one policy.
pub struct Simulation<O: Observer = NoObserver> {
    obs: O,
    ipi_seq: u64,
    service_rng: SimRng,
    process_cycles: u64,
    process_exponential: bool,
    policy: Box<dyn MappingPolicy>,
    costs: CostTable,
    access_costs: AccessCosts,
    touch: Touch,
    ceiling: usize,
    migration_p: f64,
    frequency_ghz: f64,
    bg_pages: u32,
    bg_between: u64,
    warmup_ios: u64,
    stop_ios: u64,

    mgr: PageTableManager,
    bg_table: PageTable,
    cpus: Vec<Cpu>,
    backends: Vec<Backend>,
    guests: Vec<Guest>,
    requests: Slab<Request>,
    shootdowns: Slab<Shootdown>,
    flush_lock: FifoLock,
    map_lock_through_flush: bool,
    map_lock_waiter: crate::config::LockWaiter,
    map_lock: FifoLock,
    migration_rng: SimRng,

    completed: u64,
    measuring: bool,
    window_start: u64,
    latency: LatencyHistogram,
    breakdown: LatencyBreakdown,
    io_completed: u64,
    io_bytes: u64,
    io_reads: u64,
    shootdown_count: u64,
    migrations: u64,
    peak_in_flight: u64,
    error: Option<SimError>,
    total_bg_accesses: u64,
    total_lookups: u64,
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
        // The domain-wide area: room for every backend thread's request twice.
        let mut mgr = PageTableManager::new(n, io * 2, max_pages);
        let io_ids: Vec<CpuId> = (0..io).map(CpuId).collect();
        policy.setup(&mut mgr, &io_ids)?;

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
                backend: registered.then_some(c as usize),
                bg_next: if bg { 0 } else { u64::MAX },
                bg_rng: rng_stream(cfg.seed, STREAM_BACKGROUND_BASE + u64::from(c)),
                seg_len: 0,
                seg_start: 0,
                bg_resumed: 0,
                deferred_flush: None,
                wake_debt: 0,
            });
        }
        let backends = (0..io)
            .map(|_| Backend {
                ring: VecDeque::new(),
                phase: Phase::Idle,
                current: 0,
                phase_start: 0,
                shootdowns_left: 0,
                shootdown: ShootdownPlan::default(),
            })
            .collect();
        sources.resize_with(cfg.guests.len(), || None);
        let mut guests = Vec::with_capacity(cfg.guests.len());
        for (g, (gc, source)) in cfg.guests.iter().zip(sources).enumerate() {
            let g32 = u32::try_from(g).expect("guest count fits u32");
            if gc.pattern == Pattern::Trace && source.is_none() {
                return Err(SimError::MissingSource { guest: g32 });
            }
            guests.push(Guest {
                source,
                pending: None,
                trace_cycles_per_ns: gc.time_scale * cfg.machine.frequency_ghz,
                split_bytes: gc.size_bytes.max_bytes().max(1),
                gen: Generator::new(
                    gc.clone(),
                    cfg.machine.frequency_ghz,
                    rng_stream(cfg.seed, STREAM_GUEST_BASE + u64::from(g32)),
                ),
                ring_cpu: (0..gc.queues).map(|q| (g32 + q) % io).collect(),
                frame_base: (u64::from(g32) + 1) << 20,
            });
        }
        let walk = if cfg.costs.nested_paging {
            WalkCosts::nested(cfg.costs.walk_level_cycles, 4)
        } else {
            WalkCosts::native(cfg.costs.walk_level_cycles)
        };
        Ok(Self {
            obs,
            ipi_seq: 0,
            service_rng: rng_stream(cfg.seed, STREAM_SERVICE),
            process_cycles: cfg.host.process_cycles,
            process_exponential: cfg.host.process_distribution
                == crate::config::Distribution::Exponential,
            policy,
            costs: cfg.costs.clone(),
            access_costs: AccessCosts {
                l2_hit_cycles: cfg.costs.l2_hit_cycles,
                walk,
            },
            touch: cfg.host.touch,
            ceiling: usize::try_from(cfg.host.flush_ceiling_pages).expect("u32 fits usize"),
            migration_p: cfg.host.migration_probability,
            frequency_ghz: cfg.machine.frequency_ghz,
            bg_pages: cfg.background.working_set_pages,
            bg_between: cfg.background.cycles_between_accesses,
            warmup_ios: cfg.stop.warmup_ios,
            stop_ios: cfg.stop.ios,
            mgr,
            bg_table,
            cpus,
            backends,
            guests,
            requests: Slab::default(),
            shootdowns: Slab::default(),
            flush_lock: FifoLock::new(true),
            map_lock_through_flush: cfg.host.map_lock_through_flush,
            map_lock_waiter: cfg.host.map_lock_waiter,
            map_lock: FifoLock::new(cfg.host.map_lock),
            migration_rng: rng_stream(cfg.seed, STREAM_MIGRATION),
            completed: 0,
            measuring: cfg.stop.warmup_ios == 0,
            window_start: 0,
            latency: LatencyHistogram::new(),
            breakdown: LatencyBreakdown::default(),
            io_completed: 0,
            io_bytes: 0,
            io_reads: 0,
            shootdown_count: 0,
            migrations: 0,
            peak_in_flight: 0,
            error: None,
            total_bg_accesses: 0,
            total_lookups: 0,
        })
    }

    /// Schedules every guest's first requests.
    fn seed_events<Q: EventQueue<Event>>(&mut self, sched: &mut Scheduler<Event, Q>) {
        for (g, guest) in self.guests.iter_mut().enumerate() {
            let guest_id = u32::try_from(g).expect("guest count fits u32");
            match guest.gen.config().pattern {
                Pattern::Open => {
                    let dt = guest.gen.next_interarrival_cycles();
                    sched.after(dt, Event::Issue { guest: guest_id });
                }
                Pattern::Closed => {
                    for _ in 0..guest.gen.config().queue_depth {
                        sched.after(0, Event::Issue { guest: guest_id });
                    }
                }
                Pattern::Trace => {
                    let source = guest.source.as_mut().expect("checked at construction");
                    match source.next_request() {
                        Some(Ok(r)) => {
                            let at = trace_cycles(r.at_ns, guest.trace_cycles_per_ns);
                            guest.pending = Some(r);
                            sched.after(at, Event::Issue { guest: guest_id });
                        }
                        Some(Err(e)) => {
                            self.error.get_or_insert(SimError::Trace {
                                guest: guest_id,
                                message: e.message,
                            });
                        }
                        None => {}
                    }
                }
            }
        }
    }

    // ----- background -------------------------------------------------

    /// Replays CPU `c`'s background accesses that issue at or before `until`.
    fn bg_catch_up(&mut self, c: usize, until: u64) {
        let cpu = &mut self.cpus[c];
        while cpu.bg_next <= until {
            let page = cpu.bg_rng.random_range(0..self.bg_pages);
            let va = VirtAddr((BACKGROUND_BASE + u64::from(page)) << 12);
            let a = mmu::access(
                &mut cpu.tlb,
                &mut cpu.pwc,
                &self.bg_table,
                BACKGROUND_ASID,
                va,
                &self.access_costs,
            );
            count_access(&mut cpu.stats, &a);
            let cost = self.bg_between + a.latency_cycles;
            cpu.stats.background_accesses += 1;
            cpu.stats.background_cycles += cost;
            cpu.bg_next += cost;
            self.total_bg_accesses += 1;
            self.total_lookups += 1;
        }
    }

    /// Runs `length` cycles of interrupt-level work on CPU `c` arriving at
    /// `now`; returns `(start, end)`. A background CPU's accesses are replayed
    /// up to the start and its next access is pushed back by the length.
    fn interrupt(&mut self, c: usize, now: u64, length: u64) -> (u64, u64) {
        let start = now.max(self.cpus[c].clock.irq_free_at);
        if self.cpus[c].bg_next != u64::MAX {
            self.bg_catch_up(c, start);
            let cpu = &mut self.cpus[c];
            cpu.bg_next = cpu.bg_next.max(start) + length;
            if O::ENABLED {
                let (id, from) = (cpu.stats.cpu, cpu.bg_resumed);
                cpu.bg_resumed = start + length;
                if start > from {
                    self.obs.slice(id, SliceKind::Background, from, start);
                }
            }
        }
        self.cpus[c].clock.run_interrupt(now, length)
    }

    // ----- flushes ----------------------------------------------------

    /// Flushes `pages` pages from `first` of the host domain on CPU `c` (a
    /// range flush, full above the ceiling). Returns the cycles it costs.
    fn flush_range_local(&mut self, c: usize, first: u64, pages: u32) -> u64 {
        let cpu = &mut self.cpus[c];
        let kind = cpu.tlb.flush_range(
            HOST_ASID,
            (0..u64::from(pages)).map(|i| VirtPage(first + i)),
            self.ceiling,
        );
        match kind {
            FlushKind::Pages(n) => {
                for i in 0..u64::from(pages) {
                    cpu.pwc.flush_addr(HOST_ASID, VirtPage(first + i).addr());
                }
                let n = n as u64;
                cpu.stats.flushes.local_page += n;
                n * self.costs.invlpg_cycles
            }
            FlushKind::Full => {
                cpu.pwc.flush_asid(HOST_ASID);
                cpu.stats.flushes.local_full += 1;
                self.costs.full_flush_cycles
            }
        }
    }

    /// The flush a shootdown does on one CPU; returns its cost. `remote`
    /// says whether it runs in an IPI handler.
    fn shootdown_flush_on(
        &mut self,
        c: usize,
        flush: ShootdownFlush,
        first: u64,
        pages: u32,
        remote: bool,
    ) -> u64 {
        match flush {
            ShootdownFlush::Full => {
                let cpu = &mut self.cpus[c];
                cpu.tlb.flush_all();
                cpu.pwc.flush_all();
                if remote {
                    cpu.stats.flushes.remote += 1;
                } else {
                    cpu.stats.flushes.local_full += 1;
                }
                self.costs.full_flush_cycles
            }
            ShootdownFlush::Range => {
                if remote {
                    let before = self.cpus[c].stats.flushes;
                    let cost = self.flush_range_local(c, first, pages);
                    // Count it as one remote flush, not as local ones.
                    let cpu = &mut self.cpus[c];
                    cpu.stats.flushes = before;
                    cpu.stats.flushes.remote += 1;
                    cost
                } else {
                    self.flush_range_local(c, first, pages)
                }
            }
        }
    }

    // ----- data touch -------------------------------------------------

    /// Touches request `r`'s data on CPU `c` through its TLB; returns the
    /// cycles it takes.
    fn touch_data(&mut self, c: usize, r: u32) -> u64 {
        let req = self.requests[r];
        let placement = req.placement.expect("mapped before touched");
        let lines_total = req.size_bytes.div_ceil(64).max(1);
        let mut cost = lines_total * self.costs.data_line_cycles;
        let cpu = &mut self.cpus[c];
        let table = self.mgr.table();
        let mut lines_left = lines_total;
        for p in 0..u64::from(req.pages) {
            let lines = lines_left.min(64);
            lines_left -= lines;
            let lookups = match self.touch {
                Touch::Line => lines,
                Touch::Page => 1,
            };
            let va = VirtAddr((placement.base.0 + p) << 12);
            let a = mmu::access(
                &mut cpu.tlb,
                &mut cpu.pwc,
                table,
                HOST_ASID,
                va,
                &self.access_costs,
            );
            count_access(&mut cpu.stats, &a);
            self.total_lookups += lookups;
            if a.outcome == AccessOutcome::Fault {
                self.error.get_or_insert(SimError::Fault {
                    cpu: CpuId(cpu.stats.cpu),
                    va: va.0,
                    policy: PolicyName::new(self.policy.name()),
                });
                return cost;
            }
            cost += a.latency_cycles;
            // The page's other lines: the first access left this page's
            // entry in L1 as most recently used, so each further lookup is an
            // L1 hit on the same entry (0 extra cycles, LRU order unchanged,
            // the same stale verdict). Accounting them arithmetically is
            // exactly what looking each up would give.
            let more = lookups - 1;
            cpu.stats.tlb.lookups += more;
            cpu.stats.tlb.l1_hits += more;
            cpu.stats.stale_uses += more * u64::from(a.stale);
        }
        cost
    }

    // ----- backend thread -------------------------------------------

    /// Starts a thread-level segment of `length` cycles on CPU `c`.
    fn start_segment<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        length: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let length =
            length + self.apply_deferred_flush(c) + std::mem::take(&mut self.cpus[c].wake_debt);
        let cpu = &mut self.cpus[c];
        cpu.seg_len = length;
        cpu.seg_start = now.max(cpu.clock.irq_free_at);
        let end = cpu.clock.start_segment(now, length);
        sched.at(Cycles(end), Event::SegmentEnd { cpu: cpu.stats.cpu });
    }

    /// The backend of CPU `c` takes the next request from its ring, or
    /// sleeps.
    fn next_request<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        let Some(r) = self.backends[b].ring.pop_front() else {
            self.backends[b].phase = Phase::Idle;
            return;
        };
        let queue = now.saturating_sub(self.requests[r].arrival);
        if self.measuring {
            self.breakdown.queue += queue;
        }
        let be = &mut self.backends[b];
        be.current = r;
        be.phase_start = now;
        if self.take_map_lock(c, Phase::WaitMapLockMap) {
            self.begin_map(c, now, sched);
        }
    }

    /// Takes the map lock for CPU `c` if `host.map_lock` is on: true if the
    /// caller may go on now, false if `c` now waits in `phase`.
    fn take_map_lock(&mut self, c: usize, phase: Phase) -> bool {
        if self.map_lock.take(self.cpus[c].stats.cpu) {
            return true;
        }
        let b = self.backend_of(c);
        self.backends[b].phase = phase;
        false
    }

    /// Releases the map lock at `now`, handing it to the first waiter.
    fn release_map_lock<Q: EventQueue<Event>>(
        &mut self,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let Some(next) = self.map_lock.release() else {
            return;
        };
        let n = next as usize;
        let b = self.backend_of(n);
        if self.lock_waiter_sleeps(b, now) {
            self.cpus[n].wake_debt += self.costs.map_lock_wake_cycles;
        }
        match self.backends[b].phase {
            Phase::WaitMapLockMap => self.begin_map(n, now, sched),
            Phase::WaitMapLockUnmap => {
                if self.measuring {
                    self.breakdown.unmap += now - self.backends[b].phase_start;
                }
                self.begin_unmap(n, now, sched);
            }
            p => unreachable!("map-lock waiter in phase {p:?}"),
        }
    }

    /// The dequeue + map segment of CPU `c`'s current request (the map lock,
    /// if any, is held).
    fn begin_map<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        let r = self.backends[b].current;
        let cpu_id = CpuId(self.cpus[c].stats.cpu);
        let pages = self.requests[r].pages;
        let placement = match self.policy.place(&mut self.mgr, cpu_id, pages) {
            Ok(p) => p,
            Err(e) => {
                self.error.get_or_insert(SimError::Hypervisor(e));
                return;
            }
        };
        let req = &mut self.requests[r];
        req.placement = Some(placement);
        let frames = (0..u64::from(pages)).map(|i| PhysFrame(req.first_frame + i));
        if let Err(e) = self.mgr.map(placement, frames) {
            self.error.get_or_insert(SimError::Hypervisor(e));
            return;
        }
        let mut cost = self.costs.dequeue_cycles
            + self.costs.hypercall_cycles
            + u64::from(pages) * self.costs.map_page_cycles;
        if self.map_lock.enabled {
            cost += self.costs.map_lock_cycles;
        }
        match self.policy.on_map(placement) {
            LocalFlush::None => {}
            LocalFlush::Pages => cost += self.flush_range_local(c, placement.base.0, pages),
        }
        self.backends[b].phase = Phase::Map;
        self.start_segment(c, now, cost, sched);
    }

    /// The data phase of CPU `c`'s current request: here, or migrated.
    fn start_data<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        let r = self.backends[b].current;
        let n = self.cpus.len();
        let migrate = self.migration_p > 0.0
            && n > 1
            && self.migration_rng.random::<f64>() < self.migration_p;
        let process = self.process_cost();
        if self.measuring {
            self.breakdown.process += process;
        }
        if !migrate {
            let deferred = self.apply_deferred_flush(c);
            let cost = self.touch_data(c, r) + deferred;
            if self.measuring {
                self.breakdown.data += cost;
            }
            let cost = cost + process;
            self.backends[b].phase = Phase::Data;
            self.backends[b].phase_start = now;
            self.start_segment(c, now, cost, sched);
            return;
        }
        // Migrate to d != c, uniformly.
        let mut d = self.migration_rng.random_range(0..n - 1);
        if d >= c {
            d += 1;
        }
        self.migrations += u64::from(self.measuring);
        // Replay d's background up to now so that its accesses precede the flush.
        if self.cpus[d].bg_next != u64::MAX {
            self.bg_catch_up(d, now.max(self.cpus[d].clock.irq_free_at));
        }
        let mut cost = self.costs.migrate_cycles + self.apply_deferred_flush(d);
        let p = self.requests[r].placement.expect("mapped");
        match self.policy.on_foreign_access(p) {
            LocalFlush::None => {}
            LocalFlush::Pages => cost += self.flush_range_local(d, p.base.0, p.pages),
        }
        let migration_cost = cost;
        let data_cost = self.touch_data(d, r);
        cost += data_cost + process;
        let (start, end) = self.interrupt(d, now, cost);
        self.cpus[d].stats.migrated_in_cycles += cost;
        if O::ENABLED {
            self.obs
                .slice(self.cpus[d].stats.cpu, SliceKind::Migrated, start, end);
        }
        if self.measuring {
            self.breakdown.migration += migration_cost + (start - now);
            self.breakdown.data += data_cost;
        }
        self.backends[b].phase = Phase::Away;
        sched.at(
            Cycles(end),
            Event::MigratedBack {
                cpu: self.cpus[c].stats.cpu,
            },
        );
    }

    /// Cycles of protocol processing for one request.
    fn process_cost(&mut self) -> u64 {
        if self.process_cycles == 0 {
            return 0;
        }
        if !self.process_exponential {
            return self.process_cycles;
        }
        let u: f64 = 1.0 - self.service_rng.random::<f64>();
        #[allow(clippy::cast_precision_loss, reason = "a mean in cycles")]
        let mean = self.process_cycles as f64;
        workloads::round_cycles(-u.ln() * mean)
    }

    fn start_unmap<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        self.backends[b].phase_start = now;
        if self.take_map_lock(c, Phase::WaitMapLockUnmap) {
            self.begin_unmap(c, now, sched);
        }
    }

    /// The unmap segment of CPU `c`'s current request (the map lock, if
    /// any, is held).
    fn begin_unmap<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let (b, _, placement) = self.current_request(c);
        if let Err(e) = self.mgr.unmap(placement) {
            self.error.get_or_insert(SimError::Hypervisor(e));
        }
        let mut cost =
            self.costs.hypercall_cycles + u64::from(placement.pages) * self.costs.unmap_page_cycles;
        if self.map_lock.enabled {
            cost += self.costs.map_lock_cycles;
        }
        if self.measuring {
            self.breakdown.unmap += cost;
        }
        self.backends[b].phase = Phase::Unmap;
        self.backends[b].phase_start = now;
        self.start_segment(c, now, cost, sched);
    }

    /// CPU `c`'s backend, its current request and where that request is
    /// mapped.
    fn current_request(&self, c: usize) -> (usize, u32, Placement) {
        let b = self.backend_of(c);
        let r = self.backends[b].current;
        (
            b,
            r,
            self.requests[r]
                .placement
                .expect("the current request is mapped"),
        )
    }

    /// The backend thread of registered CPU `c` (its index in `backends`).
    fn backend_of(&self, c: usize) -> usize {
        self.cpus[c]
            .backend
            .expect("only registered CPUs run backend phases")
    }

    /// Whether a shootdown may skip CPU `x` (lazy TLB): a registered CPU
    /// whose backend thread is not running.
    fn is_lazy(&self, x: usize, now: u64, skip_lazy: bool) -> bool {
        if !skip_lazy || self.cpus[x].clock.segment_active {
            return false;
        }
        self.cpus[x]
            .backend
            .is_some_and(|b| match self.backends[b].phase {
                Phase::Idle | Phase::Waking | Phase::Away => true,
                Phase::WaitMapLockMap | Phase::WaitMapLockUnmap => self.lock_waiter_sleeps(b, now),
                _ => false,
            })
    }

    /// Whether backend `b`, waiting for the map lock, sleeps at `now` (as
    /// opposed to spinning on its CPU).
    fn lock_waiter_sleeps(&self, b: usize, now: u64) -> bool {
        use crate::config::LockWaiter;
        match self.map_lock_waiter {
            LockWaiter::Sleep => true,
            LockWaiter::Spin => false,
            LockWaiter::SpinThenSleep => {
                now.saturating_sub(self.backends[b].phase_start) >= self.costs.map_lock_spin_cycles
            }
        }
    }

    /// A CPU a shootdown skipped flushes before its next host-domain access;
    /// returns the cycles that costs (0 if nothing was deferred).
    fn apply_deferred_flush(&mut self, c: usize) -> u64 {
        let cpu = &mut self.cpus[c];
        let Some(flush) = cpu.deferred_flush.take() else {
            return 0;
        };
        match flush {
            ShootdownFlush::Full => {
                cpu.tlb.flush_all();
                cpu.pwc.flush_all();
            }
            ShootdownFlush::Range => {
                cpu.tlb.flush_asid(HOST_ASID);
                cpu.pwc.flush_asid(HOST_ASID);
            }
        }
        cpu.stats.flushes.local_full += 1;
        self.costs.full_flush_cycles
    }

    /// After the unmap hypercall: the flushes the policy needs, then
    /// completion.
    fn after_unmap<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let (b, r, placement) = self.current_request(c);
        let plan = self.policy.on_unmap(placement);
        let local = match plan.local {
            LocalFlush::None => 0,
            LocalFlush::Pages => self.flush_range_local(c, placement.base.0, placement.pages),
        };
        self.requests[r].flush_wait_start = now;
        match plan.remote {
            RemoteInvalidation::Ipi(sd) => {
                self.backends[b].shootdown = sd;
                self.backends[b].shootdowns_left = match sd.granularity {
                    ShootdownGranularity::Request => 1,
                    ShootdownGranularity::Page => placement.pages,
                };
                // The local flush runs before the shootdown starts.
                self.next_shootdown(c, now + local, sched);
            }
            RemoteInvalidation::None => {
                if self.measuring {
                    self.breakdown.flush_wait += local;
                }
                self.finish_request_flushes(c, now, local, sched);
            }
        }
    }

    /// Starts (or queues for the lock) the next shootdown of CPU `c`'s
    /// request.
    fn next_shootdown<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let serialized = self.backends[self.backend_of(c)].shootdown.serialized;
        if serialized && !self.flush_lock.take(self.cpus[c].stats.cpu) {
            let b = self.backend_of(c);
            self.backends[b].phase = Phase::WaitLock;
            return;
        }
        self.begin_shootdown(c, now, sched);
    }

    /// CPU `c` holds the lock (if any): flush locally and send the IPIs.
    fn begin_shootdown<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let (b, _, placement) = self.current_request(c);
        let plan = self.backends[b].shootdown;
        let (first, pages) = match plan.granularity {
            ShootdownGranularity::Request => (placement.base.0, placement.pages),
            ShootdownGranularity::Page => {
                let done = placement.pages - self.backends[b].shootdowns_left;
                (placement.base.0 + u64::from(done), 1)
            }
        };
        self.backends[b].phase = Phase::WaitAcks;
        self.shootdown_count += u64::from(self.measuring);
        let lock = if plan.serialized {
            self.costs.flush_lock_cycles
        } else {
            0
        };
        // The initiator cannot start while its own interrupt level is busy.
        let t0 = now.max(self.cpus[c].clock.irq_free_at) + lock;
        let local = self.shootdown_flush_on(c, plan.flush, first, pages, false);
        let n = u32::try_from(self.cpus.len()).expect("CPU count fits u32");
        let c32 = self.cpus[c].stats.cpu;
        // Lazy TLB: skipped CPUs flush before their next host-domain access.
        let mut targets = n - 1;
        if plan.skip_lazy {
            for i in 1..n {
                let x = ((c32 + i) % n) as usize;
                if self.is_lazy(x, now, true) {
                    self.cpus[x].deferred_flush = Some(plan.flush);
                    targets -= 1;
                }
            }
        }
        let sd = self.shootdowns.insert(Shootdown {
            initiator: c32,
            acks_left: targets,
            first_page: first,
            pages,
            flush: plan.flush,
        });
        let mut t = t0 + local;
        for i in 1..n {
            let target = (c32 + i) % n;
            if self.is_lazy(target as usize, now, plan.skip_lazy) {
                continue;
            }
            t += self.costs.ipi_send_cycles;
            sched.at(
                Cycles(t + self.costs.ipi_delivery_cycles),
                Event::IpiArrive {
                    target,
                    shootdown: sd,
                },
            );
        }
        self.cpus[c].stats.ipis_sent += u64::from(targets);
        if targets == 0 {
            self.shootdowns.remove(sd);
            // Nothing to wait for: continue once the local flush is done.
            self.shootdown_done(c, t, sched);
        }
    }

    /// Every acknowledgement of CPU `c`'s shootdown is in at `now`.
    fn shootdown_done<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        let released = if self.backends[b].shootdown.serialized {
            self.flush_lock.release()
        } else {
            None
        };
        if let Some(next) = released {
            // Handed over directly (FIFO), at this cycle.
            self.begin_shootdown(next as usize, now, sched);
        }
        self.backends[b].shootdowns_left -= 1;
        if self.backends[b].shootdowns_left > 0 {
            self.next_shootdown(c, now, sched);
            return;
        }
        let r = self.backends[b].current;
        let wait = now - self.requests[r].flush_wait_start;
        if self.measuring {
            self.breakdown.flush_wait += wait;
        }
        self.cpus[c].stats.busy_cycles += u64::from(self.measuring) * wait;
        if self.map_lock_through_flush {
            // The unmap's map lock was kept through its shootdowns.
            self.release_map_lock(now, sched);
        }
        if O::ENABLED {
            let start = self.requests[r].flush_wait_start;
            self.obs
                .slice(self.cpus[c].stats.cpu, SliceKind::FlushWait, start, now);
            self.obs.tlb_occupancy(
                now,
                self.cpus[c].stats.cpu,
                self.cpus[c].tlb.occupancy() as u64,
            );
        }
        self.finish_request_flushes(c, now, 0, sched);
    }

    /// Flushes for the unmap are done: complete the request.
    fn finish_request_flushes<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        extra: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let b = self.backend_of(c);
        let r = self.backends[b].current;
        let placement = self.requests[r].placement.take().expect("mapped");
        self.mgr.release(placement);
        let cost = extra + self.costs.complete_cycles;
        if self.measuring {
            self.breakdown.complete += self.costs.complete_cycles;
        }
        self.backends[b].phase = Phase::Complete;
        self.backends[b].phase_start = now;
        self.start_segment(c, now, cost, sched);
    }

    /// CPU `c`'s current request is complete at `now`.
    fn complete<Q: EventQueue<Event>>(
        &mut self,
        c: usize,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) -> Control {
        let b = self.backend_of(c);
        let r = self.backends[b].current;
        let req = self.requests[r];
        self.requests.remove(r);
        if O::ENABLED {
            self.obs.in_flight(now, self.requests.live() as u64);
        }
        if self.measuring {
            self.latency.record(now - req.arrival);
            self.io_completed += 1;
            self.io_bytes += req.size_bytes;
            self.io_reads += u64::from(req.read);
        }
        self.completed += 1;
        let guest = &self.guests[req.guest as usize];
        if guest.gen.config().pattern == Pattern::Closed {
            sched.after(guest.gen.think_cycles(), Event::Issue { guest: req.guest });
        }
        if !self.measuring && self.completed == self.warmup_ios {
            self.start_window(now);
        }
        if self.measuring && self.stop_ios > 0 && self.io_completed >= self.stop_ios {
            return Control::Stop;
        }
        self.next_request(c, now, sched);
        Control::Continue
    }

    /// Ends the warm-up: every counter restarts at `now`.
    fn start_window(&mut self, now: u64) {
        for c in 0..self.cpus.len() {
            if self.cpus[c].bg_next != u64::MAX {
                self.bg_catch_up(c, now);
            }
            let cpu = &mut self.cpus[c];
            cpu.clock.reset_counters();
            cpu.stats = CpuStats {
                cpu: cpu.stats.cpu,
                registered: cpu.stats.registered,
                ..CpuStats::default()
            };
        }
        self.mgr.reset_counters();
        self.measuring = true;
        self.window_start = now;
    }

    /// A guest issues a request.
    fn issue<Q: EventQueue<Event>>(
        &mut self,
        guest: u32,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let g = &mut self.guests[guest as usize];
        match g.gen.config().pattern {
            Pattern::Open => {
                let spec = g.gen.next_request();
                let dt = g.gen.next_interarrival_cycles();
                sched.after(dt, Event::Issue { guest });
                self.enqueue(guest, spec, now, sched);
            }
            Pattern::Closed => {
                let spec = g.gen.next_request();
                self.enqueue(guest, spec, now, sched);
            }
            Pattern::Trace => {
                let t = g
                    .pending
                    .take()
                    .expect("an Issue is scheduled only with a pending record");
                let split = g.split_bytes;
                let queues = g.gen.config().queues;
                // Read the next record first: its time schedules the next Issue.
                let source = g.source.as_mut().expect("trace guests have a source");
                match source.next_request() {
                    Some(Ok(next)) => {
                        let at = trace_cycles(next.at_ns, g.trace_cycles_per_ns).max(now);
                        g.pending = Some(next);
                        sched.at(Cycles(at), Event::Issue { guest });
                    }
                    Some(Err(e)) => {
                        self.error.get_or_insert(SimError::Trace {
                            guest,
                            message: e.message,
                        });
                    }
                    None => {}
                }
                let mut left = t.size_bytes.max(1);
                while left > 0 {
                    let size_bytes = left.min(split);
                    left -= size_bytes;
                    let g = &mut self.guests[guest as usize];
                    let mut spec = workloads::RequestSpec {
                        size_bytes,
                        read: t.read,
                        queue: t.queue % queues,
                        first_buffer_page: 0,
                    };
                    spec.first_buffer_page = g.gen.buffer_pool().take(spec.pages());
                    self.enqueue(guest, spec, now, sched);
                }
            }
        }
    }

    /// Puts a request of `guest` on its ring and wakes the backend if idle.
    fn enqueue<Q: EventQueue<Event>>(
        &mut self,
        guest: u32,
        spec: workloads::RequestSpec,
        now: u64,
        sched: &mut Scheduler<Event, Q>,
    ) {
        let g = &self.guests[guest as usize];
        let cpu = g.ring_cpu[spec.queue as usize];
        let r = self.requests.insert(Request {
            guest,
            arrival: now,
            size_bytes: spec.size_bytes,
            pages: spec.pages(),
            read: spec.read,
            first_frame: g.frame_base + u64::from(spec.first_buffer_page),
            placement: None,
            flush_wait_start: 0,
        });
        let live = self.requests.live() as u64;
        self.peak_in_flight = self.peak_in_flight.max(live);
        if O::ENABLED {
            self.obs.in_flight(now, live);
        }
        let b = self.cpus[cpu as usize]
            .backend
            .expect("rings go to registered CPUs");
        self.backends[b].ring.push_back(r);
        if self.backends[b].phase == Phase::Idle {
            self.backends[b].phase = Phase::Waking;
            sched.after(self.costs.notify_cycles, Event::Wake { cpu });
        }
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
        self.seed_events(engine.scheduler());
        let budget = (max_cycles > 0).then_some(Cycles(max_cycles));
        let outcome: RunOutcome = engine.run(&mut self, budget);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let end = outcome.end.0;
        for c in 0..self.cpus.len() {
            if self.cpus[c].bg_next != u64::MAX {
                self.bg_catch_up(c, end);
                if O::ENABLED {
                    let from = self.cpus[c].bg_resumed;
                    if end > from {
                        self.obs
                            .slice(self.cpus[c].stats.cpu, SliceKind::Background, from, end);
                    }
                }
            }
        }
        let per_cpu = self
            .cpus
            .iter()
            .map(|c| {
                let mut s = c.stats.clone();
                s.stolen_cycles = c.clock.stolen_cycles;
                s.busy_cycles += c.clock.busy_cycles + s.background_cycles;
                s
            })
            .collect();
        let result = RunResult {
            policy: PolicyName::new(self.policy.name()),
            io_completed: self.io_completed,
            io_bytes: self.io_bytes,
            io_reads: self.io_reads,
            sim_cycles: end.saturating_sub(self.window_start),
            frequency_ghz: self.frequency_ghz,
            latency: self.latency.summary(),
            latency_cdf: self.latency.cdf(),
            breakdown: self.breakdown,
            shootdowns: self.shootdown_count,
            hypercalls: self.mgr.hypercalls(),
            migrations: self.migrations,
            peak_in_flight: self.peak_in_flight,
            per_cpu,
            events: outcome.events,
        };
        let stats = EngineStats {
            events: outcome.events,
            background_accesses: self.total_bg_accesses,
            tlb_lookups: self.total_lookups,
        };
        Ok((result, stats, self.obs))
    }
}

/// Cycles from a trace's nanoseconds (already scaled by `time_scale`).
#[allow(clippy::cast_precision_loss, reason = "trace times far below 2^53 ns")]
fn trace_cycles(at_ns: u64, cycles_per_ns: f64) -> u64 {
    workloads::round_cycles(at_ns as f64 * cycles_per_ns)
}

/// Adds one access to a CPU's counters.
#[inline]
fn count_access(stats: &mut CpuStats, a: &mmu::Access) {
    stats.tlb.lookups += 1;
    match a.outcome {
        AccessOutcome::L1Hit => stats.tlb.l1_hits += 1,
        AccessOutcome::L2Hit => stats.tlb.l2_hits += 1,
        AccessOutcome::Walk | AccessOutcome::Fault => {
            stats.tlb.misses += 1;
            stats.tlb.walks += 1;
            stats.tlb.walk_refs += a.walk_refs;
        }
    }
    stats.stale_uses += u64::from(a.stale);
}

impl<O: Observer> Model for Simulation<O> {
    type Event = Event;

    fn handle<Q: EventQueue<Event>>(
        &mut self,
        now: Cycles,
        event: Event,
        sched: &mut Scheduler<Event, Q>,
    ) -> Control {
        let now = now.0;
        match event {
            Event::Issue { guest } => self.issue(guest, now, sched),
            Event::Wake { cpu } => {
                let c = cpu as usize;
                let b = self.backend_of(c);
                if self.backends[b].phase == Phase::Waking {
                    self.next_request(c, now, sched);
                }
            }
            Event::SegmentEnd { cpu } => {
                let c = cpu as usize;
                if let Some(end) = self.cpus[c].clock.segment_end(now) {
                    sched.at(Cycles(end), Event::SegmentEnd { cpu });
                    return Control::Continue;
                }
                if self.measuring {
                    self.cpus[c].clock.busy_cycles += self.cpus[c].seg_len;
                }
                let b = self.cpus[c].backend.expect("segments run on backend CPUs");
                if O::ENABLED {
                    let kind = match self.backends[b].phase {
                        Phase::Map => SliceKind::Map,
                        Phase::Data => SliceKind::Data,
                        Phase::Unmap => SliceKind::Unmap,
                        _ => SliceKind::Complete,
                    };
                    let (id, start, occupancy) = {
                        let cpu = &self.cpus[c];
                        (cpu.stats.cpu, cpu.seg_start, cpu.tlb.occupancy() as u64)
                    };
                    self.obs.slice(id, kind, start, now);
                    self.obs.tlb_occupancy(now, id, occupancy);
                }
                match self.backends[b].phase {
                    Phase::Map => {
                        if self.measuring {
                            self.breakdown.map += now - self.backends[b].phase_start;
                        }
                        self.release_map_lock(now, sched);
                        self.start_data(c, now, sched);
                    }
                    Phase::Data => self.start_unmap(c, now, sched),
                    Phase::Unmap => {
                        let (_, _, placement) = self.current_request(c);
                        let holds_through_flush = self.map_lock_through_flush
                            && self.policy.on_unmap(placement).is_remote();
                        if !holds_through_flush {
                            self.release_map_lock(now, sched);
                        }
                        self.after_unmap(c, now, sched);
                    }
                    Phase::Complete => return self.complete(c, now, sched),
                    p => unreachable!("segment ended in phase {p:?}"),
                }
            }
            Event::MigratedBack { cpu } => self.start_unmap(cpu as usize, now, sched),
            Event::IpiArrive { target, shootdown } => {
                let c = target as usize;
                let sd = self.shootdowns[shootdown];
                if self.cpus[c].bg_next != u64::MAX {
                    self.bg_catch_up(c, now.max(self.cpus[c].clock.irq_free_at));
                }
                let flush = self.shootdown_flush_on(c, sd.flush, sd.first_page, sd.pages, true);
                let length = self.costs.ipi_handler_cycles + flush;
                let (start, end) = self.interrupt(c, now, length);
                let cpu = &mut self.cpus[c];
                cpu.clock.stolen_cycles += length;
                cpu.stats.ipis_received += 1;
                if O::ENABLED {
                    self.ipi_seq += 1;
                    self.obs.slice(target, SliceKind::IpiHandler, start, end);
                    self.obs.ipi(IpiRecord {
                        from: sd.initiator,
                        to: target,
                        id: self.ipi_seq,
                        sent: now - self.costs.ipi_delivery_cycles,
                        handler_start: start,
                        handler_end: end,
                        acked: end + self.costs.ack_cycles,
                    });
                    self.obs
                        .tlb_occupancy(end, target, self.cpus[c].tlb.occupancy() as u64);
                }
                sched.at(
                    Cycles(end + self.costs.ack_cycles),
                    Event::IpiAck { shootdown },
                );
            }
            Event::IpiAck { shootdown } => {
                let sd = &mut self.shootdowns[shootdown];
                sd.acks_left -= 1;
                if sd.acks_left == 0 {
                    let initiator = sd.initiator as usize;
                    self.shootdowns.remove(shootdown);
                    self.shootdown_done(initiator, now, sched);
                }
            }
        }
        if self.error.is_some() {
            return Control::Stop;
        }
        Control::Continue
    }
}
