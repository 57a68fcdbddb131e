//! The plain configuration of one simulation run.
//!
//! Every type here has a `Default` that is the documented default of its
//! scenario key. These are plain Rust types: the `scenarios` crate owns the
//! file format, converts it into these, validates with
//! [`SimConfig::problems`] (each problem at a typed [`KeyPath`]) and hands
//! them over.
//! What a mapping policy decides (its flushes, its slots) is not here: it is
//! the policy's parameters (`hypervisor::Registry`).

use cpu_model::CostTable;
use mmu::TlbConfig;
use workloads::GuestConfig;

pub use sim_core::{KeyPath, KeySegment, Problem};

/// Everything one run needs, except the policy (built from the
/// `hypervisor::Registry`).
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// When the run ends and what is measured.
    pub stop: StopConfig,
    /// The physical machine.
    pub machine: MachineConfig,
    /// What each primitive costs, cycles.
    pub costs: CostTable,
    /// The host domain and its backend driver.
    pub host: HostConfig,
    /// The background workload on CPUs not registered for I/O.
    pub background: BackgroundConfig,
    /// The guests issuing I/O.
    pub guests: Vec<GuestConfig>,
    /// The host domain's CPUs as vCPUs sharing physical CPUs (off by
    /// default: dedicated CPUs).
    pub vcpu: crate::VcpuConfig,
    /// What waking an idle CPU costs (off by default: idle CPUs poll).
    pub idle: crate::IdleConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            stop: StopConfig::default(),
            machine: MachineConfig::default(),
            costs: CostTable::default(),
            host: HostConfig::default(),
            background: BackgroundConfig::default(),
            guests: vec![GuestConfig::default()],
            vcpu: crate::VcpuConfig::default(),
            idle: crate::IdleConfig::default(),
        }
    }
}

/// When a run ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopConfig {
    /// I/Os to complete in the measured window (after the warm-up).
    pub ios: u64,
    /// I/Os completed before measuring starts; their statistics are dropped.
    pub warmup_ios: u64,
    /// Optional budget of simulated cycles (0 = none): the run ends at this
    /// cycle even if fewer I/Os completed.
    pub max_cycles: u64,
}

impl Default for StopConfig {
    fn default() -> Self {
        Self {
            ios: 20_000,
            warmup_ios: 2_000,
            max_cycles: 0,
        }
    }
}

/// The physical machine.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineConfig {
    /// CPUs; the host domain runs on all of them.
    pub cpus: u32,
    /// Clock frequency, GHz: converts cycles to seconds (IOPS, ns inputs).
    /// Default 2.5 GHz, the Skylake machine of the KVM IPI figures.
    pub frequency_ghz: f64,
    /// Each CPU's TLB hierarchy (default: Skylake, 64-entry 4-way L1 dTLB and
    /// 1,536-entry 12-way STLB, Intel optimization manual).
    pub tlb: TlbConfig,
    /// Entries per level of each CPU's paging-structure (page-walk) cache.
    pub pwc_entries: u32,
    /// How a shootdown's IPIs leave the sender (one ICR write per target,
    /// per x2APIC cluster, one all-but-self shorthand, or KVM PV send-IPI
    /// hypercalls; see [`cpu_model::IpiDeliveryMode`]). Default `unicast`.
    pub ipi_delivery: cpu_model::IpiDeliveryMode,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            cpus: 8,
            frequency_ghz: 2.5,
            tlb: TlbConfig::default(),
            pwc_entries: 32,
            ipi_delivery: cpu_model::IpiDeliveryMode::Unicast,
        }
    }
}

/// How the backend touches a request's data through the TLB, and what it
/// is charged for it (`costs.data_line_cycles` per 64-byte line it touches,
/// plus the translation latency of each lookup).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Touch {
    /// A copy: every cache line of the request, one TLB lookup per line.
    #[default]
    Line,
    /// A copy of every line, but with one TLB lookup counted per page: the
    /// timing of `Line` (a page's further lookups are L1 hits costing 0
    /// cycles) with fewer lookups in the counters. What `page` meant before
    /// it was fixed; kept so calibrated scenarios keep their results.
    PageLookup,
    /// One cache line per page (a scan that reads one word of each page):
    /// one lookup and one line charged per page.
    Page,
    /// A peek at the request's first `host.touch_header_bytes` bytes
    /// (protocol headers), one lookup per line of them.
    Header,
    /// No CPU access to the data: the device moves it by DMA (blkback,
    /// zero-copy netback). No TLB lookups and no line cost.
    Dma,
}

/// `host.touch_header_bytes` default: Linux xen-netback grant-copies the
/// first 128 bytes of each packet (`XEN_NETBACK_TX_COPY_LEN`,
/// drivers/net/xen-netback/netback.c), the header it parses.
pub const DEFAULT_TOUCH_HEADER_BYTES: u64 = 128;

/// The host domain and its backend driver.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// CPUs the backend registers for I/O: CPUs `0..io_cpus`, each running
    /// one backend thread. The others run the background workload.
    pub io_cpus: u32,
    /// Probability that a request's data phase runs on another CPU (the
    /// backend thread migrates there and back).
    pub migration_probability: f64,
    /// How the data phase touches the data: every line (`line`, a copy),
    /// `page-lookup` (every line, one lookup counted per page), one line per
    /// page (`page`), the first `touch_header_bytes` (`header`) or nothing
    /// (`dma`). Default `line`.
    pub touch: Touch,
    /// Bytes of each request a `header` touch reads (default 128,
    /// [`DEFAULT_TOUCH_HEADER_BYTES`]).
    pub touch_header_bytes: u64,
    /// Range flushes above this many pages become full flushes (Linux
    /// tlb_single_page_flush_ceiling = 33).
    pub flush_ceiling_pages: u32,
    /// Serialize the map and unmap hypercalls of all backends with one
    /// domain-wide lock (Linux's `mmap_lock`, Xen's per-domain grant-table
    /// lock), costing `costs.map_lock_cycles` per acquisition. Default false.
    pub map_lock: bool,
    /// Whether the map lock stays held through the unmap's shootdown (Linux
    /// munmap flushes under `mmap_lock`); false releases it when the unmap
    /// hypercall's own work ends. Default false.
    pub map_lock_through_flush: bool,
    /// What a backend waiting for the map lock does: `sleep` (its CPU goes
    /// idle, so lazy TLB may skip it; waking costs `costs.map_lock_wake_cycles`),
    /// `spin` (it keeps its CPU, which stays a shootdown target), or
    /// `spin-then-sleep` (spins `costs.map_lock_spin_cycles`, then sleeps;
    /// Linux rwsem waiters spin first). Default `sleep`.
    pub map_lock_waiter: LockWaiter,
    /// Mean cycles of protocol processing per request in the data phase
    /// (block layer, netfilter...), on top of touching the data. Default 0.
    pub process_cycles: u64,
    /// Distribution of that processing time.
    pub process_distribution: Distribution,
    /// Mean cycles the device takes to serve a request after the data phase
    /// (the disk or NIC; 0 = none, the default). The request completes (is
    /// unmapped) after it. Assumption: the backend waits for its device
    /// before taking its next request (no pipelining of requests to the
    /// device), so this adds to every request's service time.
    pub device_cycles: u64,
    /// Distribution of the device time.
    pub device_distribution: Distribution,
}

/// What a thread does while it waits for a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LockWaiter {
    /// Sleeps: its CPU is idle until the lock is handed over.
    #[default]
    Sleep,
    /// Spins: its CPU stays busy with it.
    Spin,
    /// Spins for a while, then sleeps.
    SpinThenSleep,
}

/// A distribution of a time with a given mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Distribution {
    /// Always the mean.
    #[default]
    Fixed,
    /// Exponential with that mean (memoryless: M/M/1 service).
    Exponential,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            io_cpus: 2,
            migration_probability: 0.0,
            touch: Touch::Line,
            touch_header_bytes: DEFAULT_TOUCH_HEADER_BYTES,
            flush_ceiling_pages: 33,
            map_lock: false,
            map_lock_through_flush: false,
            map_lock_waiter: LockWaiter::Sleep,
            process_cycles: 0,
            process_distribution: Distribution::Fixed,
            device_cycles: 0,
            device_distribution: Distribution::Fixed,
        }
    }
}

/// The background workload: a host-domain process whose threads run on every
/// CPU not registered for I/O, touching a working set of pages. It exists to
/// measure the collateral damage of shootdowns: stolen cycles, lost TLB
/// entries, slowdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackgroundConfig {
    /// Whether the background workload runs.
    pub enabled: bool,
    /// Pages of its working set (4 KiB each), accessed uniformly at random.
    pub working_set_pages: u32,
    /// Cycles of work between two of its memory accesses (each access is a
    /// TLB lookup on a random page of the working set; its translation
    /// latency comes on top). Assumption: 100 cycles, a thread that touches
    /// a new page every few dozen instructions.
    pub cycles_between_accesses: u64,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            working_set_pages: 1024,
            cycles_between_accesses: 100,
        }
    }
}

/// Slowest and fastest clock, GHz (real CPUs run 0.5-6 GHz; the bounds keep
/// every conversion between cycles and seconds finite).
pub const MIN_FREQUENCY_GHZ: f64 = 0.1;
/// See [`MIN_FREQUENCY_GHZ`].
pub const MAX_FREQUENCY_GHZ: f64 = 10.0;
/// Most I/Os a run may measure or warm up with (a billion: hours of wall
/// time; a bound on run length).
pub const MAX_IOS: u64 = 1_000_000_000;
/// Most entries per page-walk-cache level (real ones have 16-64).
pub const MAX_PWC_ENTRIES: u32 = 4_096;
/// Longest single configured span of work, cycles (10^10: 4 s at 2.5 GHz).
pub const MAX_SPAN_CYCLES: u64 = 10_000_000_000;
/// Largest background working set, pages (2^24 pages = 64 GiB).
pub const MAX_BACKGROUND_PAGES: u32 = 1 << 24;

impl SimConfig {
    /// Every problem with this configuration (empty when it can run), each
    /// at the [`KeyPath`] of the offending field.
    #[must_use]
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut p = |fields: &[&'static str], message: String| {
            out.push(Problem::new(KeyPath::of(fields), message));
        };
        let all_trace = !self.guests.is_empty()
            && self
                .guests
                .iter()
                .all(|g| g.pattern == workloads::Pattern::Trace);
        if self.stop.ios == 0 && self.stop.max_cycles == 0 && !all_trace {
            p(
                &["stop", "ios"],
                "must be at least 1 (or set stop.max_cycles, or replay only traces)".into(),
            );
        }
        if self.machine.cpus == 0 || self.machine.cpus > 4096 {
            p(
                &["machine", "cpus"],
                format!("must be within 1..=4096, got {}", self.machine.cpus),
            );
        }
        if !(MIN_FREQUENCY_GHZ..=MAX_FREQUENCY_GHZ).contains(&self.machine.frequency_ghz) {
            p(
                &["machine", "frequency_ghz"],
                format!(
                    "must be within {MIN_FREQUENCY_GHZ}..={MAX_FREQUENCY_GHZ} GHz, got {:?}",
                    self.machine.frequency_ghz
                ),
            );
        }
        for (field, v) in [("ios", self.stop.ios), ("warmup_ios", self.stop.warmup_ios)] {
            if v > MAX_IOS {
                p(
                    &["stop", field],
                    format!("must be at most {MAX_IOS} I/Os, got {v}"),
                );
            }
        }
        if self.machine.pwc_entries > MAX_PWC_ENTRIES {
            p(
                &["machine", "pwc_entries"],
                format!(
                    "must be within 1..={MAX_PWC_ENTRIES}, got {}",
                    self.machine.pwc_entries
                ),
            );
        }
        for (field, v) in [
            ("process_cycles", self.host.process_cycles),
            ("device_cycles", self.host.device_cycles),
        ] {
            if v > MAX_SPAN_CYCLES {
                p(
                    &["host", field],
                    format!("must be at most {MAX_SPAN_CYCLES} cycles, got {v}"),
                );
            }
        }
        if self.background.working_set_pages > MAX_BACKGROUND_PAGES {
            p(
                &["background", "working_set_pages"],
                format!(
                    "must be at most {MAX_BACKGROUND_PAGES} pages, got {}",
                    self.background.working_set_pages
                ),
            );
        }
        if self.background.cycles_between_accesses > MAX_SPAN_CYCLES {
            p(
                &["background", "cycles_between_accesses"],
                format!(
                    "must be at most {MAX_SPAN_CYCLES} cycles, got {}",
                    self.background.cycles_between_accesses
                ),
            );
        }
        if let Err(e) = self.machine.tlb.l1.validate() {
            p(&["machine", "tlb", "l1"], e.to_string());
        }
        if let Some(l2) = &self.machine.tlb.l2 {
            if let Err(e) = l2.validate() {
                p(&["machine", "tlb", "l2"], e.to_string());
            }
        }
        if self.machine.pwc_entries == 0 {
            p(&["machine", "pwc_entries"], "must be at least 1".into());
        }
        if let Err(problems) = self.costs.validate() {
            for e in problems {
                p(&["costs", e.field()], e.to_string());
            }
        }
        if self.host.io_cpus == 0 || self.host.io_cpus > self.machine.cpus {
            p(
                &["host", "io_cpus"],
                format!(
                    "must be within 1..=machine.cpus ({}), got {}",
                    self.machine.cpus, self.host.io_cpus
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.host.migration_probability) {
            p(
                &["host", "migration_probability"],
                format!(
                    "must be within 0..=1, got {}",
                    self.host.migration_probability
                ),
            );
        }
        if self.host.migration_probability > 0.0 && self.machine.cpus < 2 {
            p(
                &["host", "migration_probability"],
                "needs at least 2 CPUs to migrate between".into(),
            );
        }
        if self.host.touch == Touch::Header && self.host.touch_header_bytes == 0 {
            p(
                &["host", "touch_header_bytes"],
                "must be at least 1 with host.touch = \"header\"".into(),
            );
        }
        if self.background.enabled && self.background.working_set_pages == 0 {
            p(
                &["background", "working_set_pages"],
                "must be at least 1".into(),
            );
        }
        if self.background.enabled && self.background.cycles_between_accesses == 0 {
            p(
                &["background", "cycles_between_accesses"],
                "must be at least 1".into(),
            );
        }
        if self.guests.is_empty() {
            p(&["guests"], "needs at least one guest".into());
        }
        for (i, g) in self.guests.iter().enumerate() {
            let guest = KeyPath::of(&["guests"]).index(i);
            out.extend(g.problems().into_iter().map(|p| p.under(&guest)));
        }
        self.vcpu.problems(&mut out);
        self.idle.problems(&mut out);
        out
    }

    /// Pages of the largest request any guest can issue.
    #[must_use]
    pub fn max_request_pages(&self) -> u64 {
        self.guests
            .iter()
            .map(|g| g.mapped_bytes().div_ceil(workloads::PAGE_BYTES).max(1))
            .max()
            .unwrap_or(1)
    }
}
