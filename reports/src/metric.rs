//! The metric registry: every metric of a run defined once.
//!
//! A [`MetricDef`] names a metric, gives its [`Unit`], a one-line meaning, a
//! short label for plots, how it is computed from a [`RunResult`], and where
//! it appears: its path in a run of `summary.json`, whether it is a column of
//! `summary.csv` and of sweeps, and whether it is a row of the terminal
//! table. Everything else is generated from [`METRICS`]: [`crate::metrics`]
//! (the CSV and sweep columns), the run objects of `summary.json`,
//! [`crate::table`], the plots' axis titles and `docs/metrics.md`
//! ([`metrics_markdown`]). The per-CPU entries of `summary.json` have their
//! own small registry, [`CPU_METRICS`].
//!
//! Architecture invariant: a metric is added, renamed or explained here and
//! nowhere else.

use machine::{CpuStats, RunResult};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// One scalar metric of a run: its column name and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A count.
    Count(u64),
    /// A ratio or rate.
    Real(f64),
}

impl Metric {
    /// As a float (for plots).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "plots and ratios")]
    pub fn as_f64(self) -> f64 {
        match self {
            Metric::Count(v) => v as f64,
            Metric::Real(v) => v,
        }
    }

    /// CSV text: counts whole, reals by [`format_real`].
    pub(crate) fn to_field(self) -> String {
        match self {
            Metric::Count(v) => v.to_string(),
            Metric::Real(v) => format_real(v),
        }
    }

    /// JSON: counts as integers, reals as floats (so `7.0` stays a real).
    pub(crate) fn to_json(self) -> Value {
        match self {
            Metric::Count(v) => v.into(),
            Metric::Real(v) => v.into(),
        }
    }

    /// A cell of the terminal table: counts whole, reals to `decimals`.
    fn to_cell(self, decimals: usize) -> String {
        match self {
            Metric::Count(v) => v.to_string(),
            Metric::Real(v) => format!("{v:.decimals$}"),
        }
    }
}

/// A float with 6 significant decimals after the point at most, trailing
/// zeros trimmed: stable text for CSV.
fn format_real(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// What a metric's number counts or measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Simulated cycles (of `machine.frequency_ghz`).
    Cycles,
    /// Simulated cycles, mean per completed I/O.
    CyclesPerIo,
    /// Simulated cycles, mean per background memory access.
    CyclesPerAccess,
    /// Events or things, counted.
    Count,
    /// Events, mean per completed I/O.
    CountPerIo,
    /// Completed I/Os per second of simulated time.
    IosPerSecond,
    /// Bytes.
    Bytes,
    /// An identifier (a CPU's index).
    Index,
    /// Yes or no.
    Flag,
    /// A part of a whole, 0 to 1.
    Share,
    /// A part of a whole, 0 to 100.
    Percent,
}

impl Unit {
    /// The unit as words, for axis titles and documentation.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Unit::Cycles => "cycles",
            Unit::CyclesPerIo => "cycles per I/O",
            Unit::CyclesPerAccess => "cycles per access",
            Unit::Count => "count",
            Unit::CountPerIo => "count per I/O",
            Unit::IosPerSecond => "I/Os per second",
            Unit::Bytes => "bytes",
            Unit::Index => "index",
            Unit::Flag => "true or false",
            Unit::Share => "share, 0 to 1",
            Unit::Percent => "percent",
        }
    }
}

/// A metric's row in the terminal table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRow {
    /// Rows are printed by increasing rank. Metrics with the same rank share
    /// one row: their cells are joined by ` / `, in registry order, and the
    /// row has the first one's label.
    pub rank: u8,
    /// The row's label (empty for a metric that joins an earlier row).
    pub label: &'static str,
    /// Decimals of a real value (counts are printed whole).
    pub decimals: usize,
}

/// One metric of a run, defined once.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// Its identifier: the column of `summary.csv` and sweeps.
    pub name: &'static str,
    /// A short human title, for plots.
    pub label: &'static str,
    /// What its number measures.
    pub unit: Unit,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// How it is computed from a run.
    pub value: fn(&RunResult) -> Metric,
    /// Its dotted path in a run object of `summary.json`, if it is there.
    pub json: Option<&'static str>,
    /// Whether it is a column of `summary.csv` and of sweeps.
    pub column: bool,
    /// Its row in the terminal table, if it has one.
    pub table: Option<TableRow>,
    /// Whether it measures collateral damage: what a policy costs CPUs
    /// and work other than the I/O it serves (stolen cycles, useless IPIs,
    /// remote flushes, background work lost). `report.html`'s damage
    /// section lists every metric with this flag, in registry order, so a
    /// metric added later appears there by setting it (`MetricDef::damage`).
    pub damage: bool,
}

impl MetricDef {
    const fn new(
        name: &'static str,
        label: &'static str,
        unit: Unit,
        meaning: &'static str,
        value: fn(&RunResult) -> Metric,
    ) -> Self {
        MetricDef {
            name,
            label,
            unit,
            meaning,
            value,
            json: None,
            column: false,
            table: None,
            damage: false,
        }
    }

    /// A measure of collateral damage, listed in `report.html`'s damage
    /// section (see [`MetricDef::damage`]).
    const fn damage(mut self) -> Self {
        self.damage = true;
        self
    }

    /// Whether it is a part of the latency breakdown (its `summary.json`
    /// path is under `latency_breakdown_cycles_per_io`).
    #[must_use]
    pub fn is_breakdown_part(&self) -> bool {
        self.json.is_some_and(|p| {
            p.starts_with(BREAKDOWN_SECTION) && p[BREAKDOWN_SECTION.len()..].starts_with('.')
        })
    }

    /// The part's name in a legend: the label without its ` per I/O`.
    #[must_use]
    pub fn part_label(&self) -> &'static str {
        self.label.strip_suffix(" per I/O").unwrap_or(self.label)
    }

    /// At `path` in `summary.json`.
    const fn json(mut self, path: &'static str) -> Self {
        self.json = Some(path);
        self
    }

    /// A column of `summary.csv` and sweeps.
    const fn column(mut self) -> Self {
        self.column = true;
        self
    }

    /// Both in `summary.json` at `path` and a column.
    const fn both(self, path: &'static str) -> Self {
        self.json(path).column()
    }

    /// A row of the terminal table.
    const fn table(mut self, rank: u8, label: &'static str, decimals: usize) -> Self {
        self.table = Some(TableRow {
            rank,
            label,
            decimals,
        });
        self
    }

    /// The axis title of a plot of it: `latency p99 (cycles)`.
    #[must_use]
    pub fn axis_title(&self) -> String {
        format!("{} ({})", self.label, self.unit.text())
    }
}

use Metric::{Count, Real};
// `N` is the unit `Unit::Count`; `Count` the value `Metric::Count`.
use Unit::{Bytes, Count as N, CountPerIo, Cycles, CyclesPerAccess, CyclesPerIo, IosPerSecond};

/// Mean background cycles per background access (0 when there were none).
#[allow(clippy::cast_precision_loss, reason = "a ratio")]
fn background_cycles_per_access(r: &RunResult) -> Metric {
    let (accesses, cycles) = r.background();
    Real(if accesses == 0 {
        0.0
    } else {
        cycles as f64 / accesses as f64
    })
}

/// Local and remote flushes, over all CPUs.
fn all_flushes(r: &RunResult) -> u64 {
    let f = r.flushes();
    f.local_page + f.local_full + f.remote + f.deferred
}

/// Every metric of a run. Order matters: it is the column order of
/// `summary.csv` and sweeps, and the key order inside each object of
/// `summary.json` (whose top-level order is [`RUN_JSON_SECTIONS`]).
pub static METRICS: &[MetricDef] = &[
    MetricDef::new(
        "io_completed",
        "I/Os completed",
        N,
        "I/Os completed in the measured window",
        |r| Count(r.io_completed),
    )
    .both("io.completed")
    .table(0, "I/Os completed", 0),
    MetricDef::new(
        "io_bytes",
        "bytes moved",
        Bytes,
        "bytes those I/Os moved",
        |r| Count(r.io_bytes),
    )
    .both("io.bytes"),
    MetricDef::new("io_reads", "reads", N, "reads among those I/Os", |r| {
        Count(r.io_reads)
    })
    .json("io.reads"),
    MetricDef::new(
        "sim_cycles",
        "simulated time",
        Cycles,
        "length of the measured window",
        |r| Count(r.sim_cycles),
    )
    .both("sim_cycles"),
    MetricDef::new(
        "iops",
        "throughput",
        IosPerSecond,
        "I/Os completed per second of simulated time",
        |r| Real(r.iops()),
    )
    .both("throughput.iops")
    .table(1, "IOPS", 0),
    MetricDef::new(
        "latency_mean",
        "latency mean",
        Cycles,
        "mean I/O latency, from the guest's request to its completion",
        |r| Real(r.latency.mean),
    )
    .both("latency_cycles.mean")
    .table(4, "latency mean (cycles)", 0),
    MetricDef::new(
        "latency_p50",
        "latency p50",
        Cycles,
        "median I/O latency",
        |r| Count(r.latency.p50),
    )
    .both("latency_cycles.p50")
    .table(2, "latency p50 (cycles)", 0),
    MetricDef::new(
        "latency_p90",
        "latency p90",
        Cycles,
        "90th percentile of I/O latency",
        |r| Count(r.latency.p90),
    )
    .both("latency_cycles.p90"),
    MetricDef::new(
        "latency_p99",
        "latency p99",
        Cycles,
        "99th percentile of I/O latency",
        |r| Count(r.latency.p99),
    )
    .both("latency_cycles.p99")
    .table(3, "latency p99 (cycles)", 0),
    MetricDef::new(
        "latency_p999",
        "latency p99.9",
        Cycles,
        "99.9th percentile of I/O latency",
        |r| Count(r.latency.p999),
    )
    .both("latency_cycles.p999"),
    MetricDef::new(
        "latency_max",
        "latency max",
        Cycles,
        "largest I/O latency",
        |r| Count(r.latency.max),
    )
    .both("latency_cycles.max"),
    MetricDef::new(
        "ipis_sent",
        "IPIs sent",
        N,
        "inter-processor interrupts sent, over all CPUs",
        |r| Count(r.ipis_sent()),
    )
    .both("ipis.sent"),
    MetricDef::new(
        "ipis_received",
        "IPIs received",
        N,
        "inter-processor interrupts received, over all CPUs",
        |r| Count(r.ipis_received()),
    )
    .both("ipis.received"),
    MetricDef::new(
        "ipis_per_io",
        "IPIs per I/O",
        CountPerIo,
        "IPIs sent per completed I/O",
        |r| Real(r.per_io(r.ipis_sent())),
    )
    .both("ipis.per_io")
    .table(5, "IPIs per I/O / useless share", 2),
    MetricDef::new(
        "flushes_local_page",
        "local page flushes",
        N,
        "single-page invalidations run by the CPU that asked for them",
        |r| Count(r.flushes().local_page),
    )
    .both("flushes.local_page")
    .table(7, "  local page / full", 0),
    MetricDef::new(
        "flushes_local_full",
        "local full flushes",
        N,
        "full TLB flushes run by the CPU that asked for them",
        |r| Count(r.flushes().local_full),
    )
    .both("flushes.local_full")
    .table(7, "", 0),
    MetricDef::new(
        "flushes_remote",
        "remote flushes",
        N,
        "flushes run in an IPI handler on behalf of another CPU",
        |r| Count(r.flushes().remote),
    )
    .both("flushes.remote")
    .table(8, "  remote / deferred", 0)
    .damage(),
    MetricDef::new(
        "flushes_per_io",
        "TLB flushes per I/O",
        CountPerIo,
        "local and remote flushes per completed I/O",
        |r| Real(r.per_io(all_flushes(r))),
    )
    .both("flushes.per_io")
    .table(6, "flushes per I/O", 2),
    MetricDef::new(
        "shootdowns",
        "shootdowns",
        N,
        "TLB shootdowns started",
        |r| Count(r.shootdowns),
    )
    .both("shootdowns"),
    MetricDef::new(
        "tlb_lookups",
        "TLB lookups",
        N,
        "TLB lookups, one per memory access that needs a translation",
        |r| Count(r.tlb().lookups),
    )
    .both("tlb.lookups"),
    MetricDef::new("tlb_hits", "TLB hits", N, "TLB hits at any level", |r| {
        Count(r.tlb().hits())
    })
    .both("tlb.hits"),
    MetricDef::new("tlb_l1_hits", "L1 TLB hits", N, "hits in the L1 TLB", |r| {
        Count(r.tlb().l1_hits)
    })
    .json("tlb.l1_hits"),
    MetricDef::new(
        "tlb_l2_hits",
        "L2 TLB hits",
        N,
        "L1 misses that hit the L2 TLB",
        |r| Count(r.tlb().l2_hits),
    )
    .json("tlb.l2_hits"),
    MetricDef::new(
        "tlb_misses",
        "TLB misses",
        N,
        "misses in every TLB level, each one a page walk",
        |r| Count(r.tlb().misses),
    )
    .both("tlb.misses"),
    MetricDef::new(
        "tlb_misses_per_io",
        "TLB misses per I/O",
        CountPerIo,
        "TLB misses per completed I/O, background workload included",
        |r| Real(r.per_io(r.tlb().misses)),
    )
    .table(10, "TLB misses per I/O", 1),
    MetricDef::new(
        "tlb_walks",
        "page walks",
        N,
        "page walks performed (misses, including those that faulted)",
        |r| Count(r.tlb().walks),
    )
    .both("tlb.walks"),
    MetricDef::new(
        "tlb_walk_refs",
        "page-walk references",
        N,
        "page-table memory references made by walks, after walk caches",
        |r| Count(r.tlb().walk_refs),
    )
    .json("tlb.walk_refs"),
    MetricDef::new(
        "hypercalls",
        "hypercalls",
        N,
        "hypercalls the backend made to the page-table manager",
        |r| Count(r.hypercalls),
    )
    .both("hypercalls"),
    MetricDef::new(
        "hypercalls_per_io",
        "hypercalls per I/O",
        CountPerIo,
        "hypercalls per completed I/O",
        |r| Real(r.per_io(r.hypercalls)),
    )
    .table(12, "hypercalls per I/O", 2),
    MetricDef::new(
        "stale_uses",
        "stale uses",
        N,
        "TLB hits on a translation that no longer matched the page table (use after unmap)",
        |r| Count(r.stale_uses()),
    )
    .both("stale_uses")
    .table(13, "stale uses", 0),
    MetricDef::new(
        "stolen_cycles",
        "stolen cycles",
        Cycles,
        "cycles taken by IPI handlers, over all CPUs",
        |r| Count(r.stolen_cycles()),
    )
    .both("stolen_cycles")
    .damage(),
    MetricDef::new(
        "stolen_cycles_per_io",
        "stolen cycles per I/O",
        CyclesPerIo,
        "cycles taken by IPI handlers per completed I/O",
        |r| Real(r.per_io(r.stolen_cycles())),
    )
    .column()
    .table(11, "stolen cycles per I/O", 0)
    .damage(),
    MetricDef::new(
        "migrations",
        "migrations",
        N,
        "backend thread migrations",
        |r| Count(r.migrations),
    )
    .both("migrations"),
    MetricDef::new(
        "peak_in_flight",
        "peak requests in flight",
        N,
        "largest number of requests in flight at once during the measured window",
        |r| Count(r.peak_in_flight),
    )
    .json("peak_in_flight"),
    MetricDef::new(
        "background_accesses",
        "background accesses",
        N,
        "memory accesses of the background workload",
        |r| Count(r.background().0),
    )
    .both("background.accesses"),
    MetricDef::new(
        "background_cycles",
        "background cycles",
        Cycles,
        "cycles those background accesses took, translation included",
        |r| Count(r.background().1),
    )
    .json("background.cycles"),
    MetricDef::new(
        "background_cycles_per_access",
        "background cycles per access",
        CyclesPerAccess,
        "mean cycles of a background access (0 when there were none)",
        background_cycles_per_access,
    )
    .column(),
    MetricDef::new(
        "queue_cycles_per_io",
        "queue wait per I/O",
        CyclesPerIo,
        "waiting on the ring until the backend started the request",
        |r| Real(r.per_io(r.breakdown.queue)),
    )
    .both("latency_breakdown_cycles_per_io.queue"),
    MetricDef::new(
        "map_cycles_per_io",
        "map per I/O",
        CyclesPerIo,
        "dequeue, map hypercall and the map's flushes",
        |r| Real(r.per_io(r.breakdown.map)),
    )
    .both("latency_breakdown_cycles_per_io.map"),
    MetricDef::new(
        "migration_cycles_per_io",
        "migration per I/O",
        CyclesPerIo,
        "migrating the backend thread and back, with the foreign CPU's flush before access",
        |r| Real(r.per_io(r.breakdown.migration)),
    )
    .both("latency_breakdown_cycles_per_io.migration"),
    MetricDef::new(
        "data_cycles_per_io",
        "data touch per I/O",
        CyclesPerIo,
        "touching the data through the TLB",
        |r| Real(r.per_io(r.breakdown.data)),
    )
    .both("latency_breakdown_cycles_per_io.data"),
    MetricDef::new(
        "process_cycles_per_io",
        "processing per I/O",
        CyclesPerIo,
        "protocol processing (`host.process_cycles`)",
        |r| Real(r.per_io(r.breakdown.process)),
    )
    .both("latency_breakdown_cycles_per_io.process"),
    MetricDef::new(
        "unmap_cycles_per_io",
        "unmap per I/O",
        CyclesPerIo,
        "the unmap hypercall, excluding flushes",
        |r| Real(r.per_io(r.breakdown.unmap)),
    )
    .both("latency_breakdown_cycles_per_io.unmap"),
    MetricDef::new(
        "flush_wait_cycles_per_io",
        "flush wait per I/O",
        CyclesPerIo,
        "flush lock wait, local flush and wait for every shootdown acknowledgement",
        |r| Real(r.per_io(r.breakdown.flush_wait)),
    )
    .both("latency_breakdown_cycles_per_io.flush_wait")
    .table(9, "flush wait per I/O (cycles)", 0),
    MetricDef::new(
        "complete_cycles_per_io",
        "completion per I/O",
        CyclesPerIo,
        "completing the request to the guest",
        |r| Real(r.per_io(r.breakdown.complete)),
    )
    .both("latency_breakdown_cycles_per_io.complete"),
    // Added later: appended, so that earlier CSV columns keep their places.
    MetricDef::new(
        "device_cycles_per_io",
        "device per I/O",
        CyclesPerIo,
        "the device serving the request (`host.device_cycles`)",
        |r| Real(r.per_io(r.breakdown.device)),
    )
    .both("latency_breakdown_cycles_per_io.device"),
    MetricDef::new(
        "overload_arrivals",
        "open-loop arrivals",
        N,
        "I/Os open-loop and trace guests issued in the window",
        |r| Count(r.overload.arrivals),
    )
    .json("overload.arrivals"),
    MetricDef::new(
        "overload_backlog_start",
        "open-loop backlog at start",
        N,
        "their I/Os in flight when the window opened",
        |r| Count(r.overload.backlog_start),
    )
    .json("overload.backlog_start"),
    MetricDef::new(
        "overload_backlog_end",
        "open-loop backlog at last arrival",
        N,
        "their I/Os in flight just after the window's last arrival",
        |r| Count(r.overload.backlog_end),
    )
    .json("overload.backlog_end"),
    MetricDef::new(
        "overloaded",
        "overloaded",
        Unit::Flag,
        "1 when arrivals outpace completions: the open-loop backlog grew by more than a tenth of the window's arrivals (machine/src/sim/overload.rs)",
        |r| Count(u64::from(r.overload.overloaded)),
    )
    .both("overload.overloaded")
    .table(14, "open-loop overload", 0),
    MetricDef::new(
        "io_pieces",
        "backend requests",
        N,
        "backend requests completed in the window: one per I/O, one per piece of a trace request split by guests.N.split",
        |r| Count(r.io_pieces),
    )
    .both("io.pieces"),
    MetricDef::new(
        "flushes_deferred",
        "deferred flushes",
        N,
        "full flushes a CPU skipped by a lazy-TLB shootdown ran before its next host-domain access",
        |r| Count(r.flushes().deferred),
    )
    .both("flushes.deferred")
    .table(8, "", 0),
    MetricDef::new(
        "deferred_flush_cycles_per_io",
        "deferred flush per I/O",
        CyclesPerIo,
        "the flush a CPU skipped by a lazy-TLB shootdown runs before touching the data",
        |r| Real(r.per_io(r.breakdown.deferred_flush)),
    )
    .both("latency_breakdown_cycles_per_io.deferred_flush"),
    MetricDef::new(
        "interrupted_cycles_per_io",
        "interrupted per I/O",
        CyclesPerIo,
        "interrupt-level work (IPI handlers, migrated data phases) that pushed back the serving CPU's data, unmap and completion segments",
        |r| Real(r.per_io(r.breakdown.interrupted)),
    )
    .both("latency_breakdown_cycles_per_io.interrupted"),
    MetricDef::new(
        "ipis_useless",
        "useless IPIs",
        N,
        "IPIs whose target's TLB held none of the pages they flush (a shootdown of untracked pages, a batch or a wrapped pool, counts as useful)",
        |r| Count(r.useless_ipis()),
    )
    .both("ipis.useless")
    .damage(),
    MetricDef::new(
        "ipis_useless_share",
        "share of IPIs useless",
        Unit::Share,
        "useless IPIs over IPIs received (0 when none was received)",
        |r| {
            let received = r.ipis_received();
            #[allow(clippy::cast_precision_loss, reason = "a share")]
            Real(if received == 0 {
                0.0
            } else {
                r.useless_ipis() as f64 / received as f64
            })
        },
    )
    .both("ipis.useless_share")
    .table(5, "", 2)
    .damage(),
    // `[vcpu]` and `[idle]` (machine/src/sim/vcpu.rs, idle.rs): columns
    // only, so that summaries of dedicated, polling CPUs keep their keys.
    MetricDef::new(
        "steal_cycles",
        "steal time",
        Cycles,
        "cycles the host domain's vCPUs wanted to run while the host ran another tenant's vCPU on their CPU (vcpu.overcommit), as KVM reports steal time",
        |r| Count(r.steal_cycles()),
    )
    .column(),
    MetricDef::new(
        "pv_flushes",
        "paravirtual flushes",
        N,
        "TLB flushes the host ran at a preempted vCPU's next entry for a shootdown that skipped it (vcpu.pv_tlb_flush)",
        |r| Count(r.pv_flushes()),
    )
    .column(),
    MetricDef::new(
        "idle_wakes",
        "wake-ups from idle",
        N,
        "IPIs, ring notifications and migrated threads that found their CPU idle and waited for it to wake ([idle])",
        |r| Count(r.idle_wakes().0),
    )
    .column(),
    MetricDef::new(
        "idle_wake_cycles",
        "idle wake-up time",
        Cycles,
        "cycles those wake-ups took: C-state exits, halted vCPUs' wake-ups and VM entries",
        |r| Count(r.idle_wakes().1),
    )
    .column(),
    MetricDef::new(
        "release_exposure_count",
        "release exposures",
        N,
        "guest frames released to their guest (request completed) while some TLB still cached a translation to them",
        |r| Count(r.release_exposure.count),
    )
    .both("release_exposure.count")
    .table(15, "release exposures / p99 (cycles)", 0),
    MetricDef::new(
        "release_exposure_p50_cycles",
        "release exposure p50",
        Cycles,
        "median time from such a release until no TLB caches the frame (exposures open when the run stops are cut there)",
        |r| Count(r.release_exposure.p50),
    )
    .both("release_exposure.p50_cycles"),
    MetricDef::new(
        "release_exposure_p99_cycles",
        "release exposure p99",
        Cycles,
        "99th percentile of the time from a release until no TLB caches the frame",
        |r| Count(r.release_exposure.p99),
    )
    .both("release_exposure.p99_cycles")
    .table(15, "", 0),
    MetricDef::new(
        "release_exposure_max_cycles",
        "release exposure max",
        Cycles,
        "longest time from a release until no TLB caches the frame",
        |r| Count(r.release_exposure.max),
    )
    .both("release_exposure.max_cycles"),
    MetricDef::new(
        "background_no_io_accesses",
        "background accesses with no I/O",
        N,
        "background accesses the same background completes in the window with no I/O at all (its no-I/O twin, replayed from the same random stream)",
        |r| Count(r.background_twin_accesses),
    )
    .both("background.no_io_accesses"),
    MetricDef::new(
        "background_work_lost_percent",
        "background work lost",
        Unit::Percent,
        "background accesses the no-I/O twin completes that the run did not, over the twin's, in percent (0 with no background)",
        background_work_lost_percent,
    )
    .both("background.work_lost_percent")
    .table(16, "background work lost (%)", 2)
    .damage(),
    MetricDef::new(
        "slot_waits",
        "slot waits",
        N,
        "maps that found the policy's pool exhausted (every slot held by I/Os in flight) and waited for a completion (machine/src/sim/async_io.rs)",
        |r| Count(r.io_path.slot_waits),
    )
    .both("io_path.slot_waits")
    .table(17, "slot wait / shared / refused", 0),
    MetricDef::new(
        "slot_wait_cycles",
        "slot wait",
        Cycles,
        "cycles those maps waited, summed (part of the map part of their latency)",
        |r| Count(r.io_path.slot_wait_cycles),
    )
    .both("io_path.slot_wait_cycles"),
    MetricDef::new(
        "slot_fallbacks",
        "slot fallbacks",
        N,
        "requests mapped in the shared area because the per-CPU slots were exhausted (each unmapped with a shootdown)",
        |r| Count(r.io_path.fallbacks),
    )
    .both("io_path.fallbacks")
    .table(17, "", 0),
    MetricDef::new(
        "io_refused",
        "requests refused",
        N,
        "requests refused because the pool was exhausted (an error response; not completed I/Os)",
        |r| Count(r.io_path.refused),
    )
    .both("io_path.refused")
    .table(17, "", 0),
    MetricDef::new(
        "thread_switches",
        "backend thread switches",
        N,
        "context switches between backend threads of one CPU (io.threads_per_cpu above 1), each with the kmap_local-style save and restore of the threads' slots (machine/src/sim/threads.rs)",
        |r| Count(r.io_path.thread_switches),
    )
    .both("io_path.thread_switches"),
    MetricDef::new(
        "header_copies",
        "header copies",
        N,
        "requests whose first io.header_copy_bytes were grant-copied instead of mapped, one copy operation per page copied (machine/src/sim/header_copy.rs)",
        |r| Count(r.io_path.header_copies),
    )
    .both("io_path.header_copies"),
];

/// The background work lost to I/O, in percent of the no-I/O twin's
/// accesses (0 with no background).
#[allow(clippy::cast_precision_loss, reason = "a percentage")]
fn background_work_lost_percent(r: &RunResult) -> Metric {
    let twin = r.background_twin_accesses;
    let (done, _) = r.background();
    Real(if twin == 0 {
        0.0
    } else {
        100.0 * (twin as f64 - done as f64) / twin as f64
    })
}

/// The top-level keys of a run object of `summary.json` that hold metrics,
/// in file order (between `policy` first and `per_cpu` last). Inside each,
/// keys follow [`METRICS`].
pub const RUN_JSON_SECTIONS: &[&str] = &[
    "io",
    "sim_cycles",
    "throughput",
    "latency_cycles",
    "latency_breakdown_cycles_per_io",
    "ipis",
    "flushes",
    "shootdowns",
    "tlb",
    "hypercalls",
    "stale_uses",
    "stolen_cycles",
    "migrations",
    "peak_in_flight",
    "background",
    "overload",
    "release_exposure",
    "io_path",
];

/// One entry of a per-CPU object of `summary.json`, defined once.
#[derive(Clone, Copy, Debug)]
pub struct CpuMetricDef {
    /// Its dotted path inside a `per_cpu` entry.
    pub path: &'static str,
    /// What its value measures.
    pub unit: Unit,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// How it is read from the CPU's counters.
    pub value: fn(&CpuStats) -> Value,
}

const fn cpu(
    path: &'static str,
    unit: Unit,
    meaning: &'static str,
    value: fn(&CpuStats) -> Value,
) -> CpuMetricDef {
    CpuMetricDef {
        path,
        unit,
        meaning,
        value,
    }
}

/// Every entry of a per-CPU object of `summary.json`, in key order.
pub static CPU_METRICS: &[CpuMetricDef] = &[
    cpu("cpu", Unit::Index, "the CPU's index", |c| c.cpu.into()),
    cpu(
        "registered",
        Unit::Flag,
        "whether the backend registered it for I/O",
        |c| c.registered.into(),
    ),
    cpu(
        "busy_cycles",
        Cycles,
        "cycles of thread-level work (backend phases or background)",
        |c| c.busy_cycles.into(),
    ),
    cpu(
        "stolen_cycles",
        Cycles,
        "cycles taken by IPI handlers on this CPU",
        |c| c.stolen_cycles.into(),
    ),
    cpu(
        "migrated_in_cycles",
        Cycles,
        "cycles of migrated backend work run here on top of its own",
        |c| c.migrated_in_cycles.into(),
    ),
    cpu("ipis_sent", N, "IPIs this CPU sent", |c| c.ipis_sent.into()),
    cpu("ipis_received", N, "IPIs this CPU received", |c| {
        c.ipis_received.into()
    }),
    cpu(
        "ipis_useless",
        N,
        "IPIs this CPU received while holding none of the flushed pages",
        |c| c.useless_ipis.into(),
    ),
    cpu(
        "flushes.local_page",
        N,
        "single-page invalidations this CPU asked for and ran",
        |c| c.flushes.local_page.into(),
    ),
    cpu(
        "flushes.local_full",
        N,
        "full flushes this CPU asked for and ran",
        |c| c.flushes.local_full.into(),
    ),
    cpu(
        "flushes.remote",
        N,
        "flushes run here in an IPI handler for another CPU",
        |c| c.flushes.remote.into(),
    ),
    cpu(
        "flushes.deferred",
        N,
        "flushes run here before an access, owed to a lazy-TLB shootdown that skipped it",
        |c| c.flushes.deferred.into(),
    ),
    cpu(
        "tlb_lookups",
        N,
        "TLB lookups of every access made on this CPU",
        |c| c.tlb.lookups.into(),
    ),
    cpu("tlb_misses", N, "TLB misses of those accesses", |c| {
        c.tlb.misses.into()
    }),
    cpu("stale_uses", N, "stale-translation uses on this CPU", |c| {
        c.stale_uses.into()
    }),
    cpu(
        "background_accesses",
        N,
        "background memory accesses completed here",
        |c| c.background_accesses.into(),
    ),
    cpu(
        "background_cycles",
        Cycles,
        "cycles those background accesses took",
        |c| c.background_cycles.into(),
    ),
];

/// The `summary.json` section of the latency breakdown's parts.
const BREAKDOWN_SECTION: &str = "latency_breakdown_cycles_per_io";

/// The parts of the latency breakdown (cycles per I/O), in registry order:
/// every metric under `latency_breakdown_cycles_per_io`, so a part added
/// to the registry is drawn and written without further change.
pub fn breakdown_parts() -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(|d| d.is_breakdown_part())
}

/// The measures of collateral damage, in registry order (see
/// `MetricDef::damage`).
pub fn damage_metrics() -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(|d| d.damage)
}

/// The definition of the run metric `name`.
#[must_use]
pub fn metric_def(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// The metrics that are columns of `summary.csv` and sweeps, in order.
pub fn columns() -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(|d| d.column)
}

/// The axis title of a plot of metric `name` (its name when unknown).
pub(crate) fn axis_title(name: &str) -> String {
    metric_def(name).map_or_else(|| name.replace('_', " "), MetricDef::axis_title)
}

/// Inserts `v` at the dotted `path` of `map`, creating objects on the way.
fn insert_at(map: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let inner = map.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = inner {
                insert_at(m, rest, v);
            }
        }
    }
}

/// The first key of a dotted path.
fn section(path: &str) -> &str {
    path.split_once('.').map_or(path, |(head, _)| head)
}

/// A run's metrics as `summary.json` nests them, sections in
/// [`RUN_JSON_SECTIONS`] order.
pub(crate) fn run_json_metrics(r: &RunResult) -> Map<String, Value> {
    let mut out = Map::new();
    for s in RUN_JSON_SECTIONS {
        for d in METRICS {
            if let Some(path) = d.json.filter(|p| section(p) == *s) {
                insert_at(&mut out, path, (d.value)(r).to_json());
            }
        }
    }
    out
}

/// One CPU's object of `summary.json`.
pub(crate) fn cpu_json(c: &CpuStats) -> Value {
    let mut out = Map::new();
    for d in CPU_METRICS {
        insert_at(&mut out, d.path, (d.value)(c));
    }
    Value::Object(out)
}

/// One row of the terminal table: its label and the metrics it shows.
pub(crate) struct Row {
    /// The row's label.
    pub label: &'static str,
    /// Its metrics (more than one share the row's cells, joined by ` / `).
    pub defs: Vec<&'static MetricDef>,
    /// Decimals of real values.
    pub decimals: usize,
}

impl Row {
    /// The row's cell for one run.
    pub fn cell(&self, r: &RunResult) -> String {
        self.defs
            .iter()
            .map(|d| match ((d.value)(r), d.unit) {
                (Metric::Count(v), Unit::Flag) => if v == 0 { "no" } else { "yes" }.to_string(),
                (m, _) => m.to_cell(self.decimals),
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// The terminal table's rows, by rank.
pub(crate) fn table_rows() -> Vec<Row> {
    let mut ranked: Vec<(TableRow, &'static MetricDef)> = METRICS
        .iter()
        .filter_map(|d| d.table.map(|t| (t, d)))
        .collect();
    ranked.sort_by_key(|(t, _)| t.rank); // stable: registry order within a rank
    let mut rows: Vec<Row> = Vec::new();
    let mut last_rank = None;
    for (t, d) in ranked {
        match rows.last_mut() {
            Some(row) if last_rank == Some(t.rank) => row.defs.push(d),
            _ => rows.push(Row {
                label: t.label,
                defs: vec![d],
                decimals: t.decimals,
            }),
        }
        last_rank = Some(t.rank);
    }
    rows
}

/// `docs/metrics.md`: every metric as a markdown table (name, unit,
/// meaning, where it appears), then the per-CPU entries.
#[must_use]
pub fn metrics_markdown() -> String {
    let mut out = String::from(
        "# Metrics\n\n\
         Generated from the metric registry (`reports/src/metric.rs`) by\n\
         `reports::metrics_markdown`; do not edit by hand. Regenerate with\n\
         `TLBSIM_BLESS=1 cargo nextest run --release -p reports`.\n\n\
         Counters cover the measured window (after the warm-up); cycles are\n\
         simulated cycles. A metric with a CSV column has its name as the\n\
         column of `summary.csv` and `sweep.csv`, as the key of a row's\n\
         `metrics` in `sweep.json` and as a metric a sweep's `figure` can\n\
         name; `summary.json` holds it at the path given, in each of `runs`.\n\n\
         ## Per run\n\n\
         A metric marked *damage* is listed in `report.html`'s collateral\n\
         damage section.\n\n\
         | name | unit | meaning | summary.json | CSV column | table row | damage |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let rows = table_rows();
    for d in METRICS {
        let json = d.json.map_or_else(String::new, |p| format!("`{p}`"));
        let csv = if d.column { "yes" } else { "" };
        let row = rows
            .iter()
            .find(|row| row.defs.iter().any(|x| x.name == d.name))
            .map_or("", |row| row.label.trim());
        let damage = if d.damage { "yes" } else { "" };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {json} | {csv} | {row} | {damage} |",
            d.name,
            d.unit.text(),
            d.meaning
        );
    }
    out.push_str(
        "\n## Per CPU\n\n\
         Each entry of a run's `per_cpu` list in `summary.json`.\n\n\
         | key | unit | meaning |\n|---|---|---|\n",
    );
    for d in CPU_METRICS {
        let _ = writeln!(out, "| `{}` | {} | {} |", d.path, d.unit.text(), d.meaning);
    }
    out.push_str(&crate::per_io::per_io_markdown());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn reals_are_stable_text() {
        assert_eq!(format_real(7.0), "7");
        assert_eq!(format_real(0.125), "0.125");
        assert_eq!(format_real(1.0 / 3.0), "0.333333");
        assert_eq!(format_real(0.0), "0");
    }

    #[test]
    fn every_metric_has_a_unit_a_label_and_a_meaning() {
        for d in METRICS {
            assert!(!d.unit.text().is_empty(), "{}", d.name);
            assert!(!d.label.trim().is_empty(), "{} has no label", d.name);
            assert!(!d.meaning.trim().is_empty(), "{} has no meaning", d.name);
            assert!(!d.meaning.contains('\n'), "{}: one line", d.name);
            assert!(
                d.json.is_some() || d.column || d.table.is_some(),
                "{} appears nowhere",
                d.name
            );
        }
        for d in CPU_METRICS {
            assert!(!d.unit.text().is_empty(), "{}", d.path);
            assert!(!d.meaning.trim().is_empty(), "{} has no meaning", d.path);
        }
    }

    #[test]
    fn names_and_json_paths_are_unique() {
        let mut names = HashSet::new();
        for d in METRICS {
            assert!(names.insert(d.name), "metric {} defined twice", d.name);
        }
        let mut paths = HashSet::new();
        for p in METRICS.iter().filter_map(|d| d.json) {
            assert!(paths.insert(p), "JSON path {p} used twice");
            // Neither a prefix of another path nor extending a scalar one.
            for q in METRICS.iter().filter_map(|d| d.json) {
                assert!(!q.starts_with(&format!("{p}.")), "{q} is inside scalar {p}");
            }
        }
        let mut cpu_paths = HashSet::new();
        for d in CPU_METRICS {
            assert!(cpu_paths.insert(d.path), "per-CPU {} twice", d.path);
        }
    }

    #[test]
    fn json_sections_are_exactly_those_the_metrics_use() {
        let used: HashSet<&str> = METRICS.iter().filter_map(|d| d.json).map(section).collect();
        let listed: HashSet<&str> = RUN_JSON_SECTIONS.iter().copied().collect();
        assert_eq!(used, listed);
        assert_eq!(
            listed.len(),
            RUN_JSON_SECTIONS.len(),
            "a section listed twice"
        );
        // Non-metric keys of a run object stay out of the registry.
        assert!(!listed.contains("policy") && !listed.contains("per_cpu"));
    }

    #[test]
    fn csv_column_order_is_unchanged() {
        let cols: Vec<&str> = columns().map(|d| d.name).collect();
        assert_eq!(
            cols,
            [
                "io_completed",
                "io_bytes",
                "sim_cycles",
                "iops",
                "latency_mean",
                "latency_p50",
                "latency_p90",
                "latency_p99",
                "latency_p999",
                "latency_max",
                "ipis_sent",
                "ipis_received",
                "ipis_per_io",
                "flushes_local_page",
                "flushes_local_full",
                "flushes_remote",
                "flushes_per_io",
                "shootdowns",
                "tlb_lookups",
                "tlb_hits",
                "tlb_misses",
                "tlb_walks",
                "hypercalls",
                "stale_uses",
                "stolen_cycles",
                "stolen_cycles_per_io",
                "migrations",
                "background_accesses",
                "background_cycles_per_access",
                "queue_cycles_per_io",
                "map_cycles_per_io",
                "migration_cycles_per_io",
                "data_cycles_per_io",
                "process_cycles_per_io",
                "unmap_cycles_per_io",
                "flush_wait_cycles_per_io",
                "complete_cycles_per_io",
                "device_cycles_per_io",
                "overloaded",
                "io_pieces",
                "flushes_deferred",
                "deferred_flush_cycles_per_io",
                "interrupted_cycles_per_io",
                "ipis_useless",
                "ipis_useless_share",
                "steal_cycles",
                "pv_flushes",
                "idle_wakes",
                "idle_wake_cycles",
                "release_exposure_count",
                "release_exposure_p50_cycles",
                "release_exposure_p99_cycles",
                "release_exposure_max_cycles",
                "background_no_io_accesses",
                "background_work_lost_percent",
                "slot_waits",
                "slot_wait_cycles",
                "slot_fallbacks",
                "io_refused",
                "thread_switches",
                "header_copies",
            ]
        );
    }

    #[test]
    fn table_rows_have_distinct_ranks_and_labels() {
        let rows = table_rows();
        let labels: Vec<&str> = rows.iter().map(|r| r.label).collect();
        assert_eq!(
            labels,
            [
                "I/Os completed",
                "IOPS",
                "latency p50 (cycles)",
                "latency p99 (cycles)",
                "latency mean (cycles)",
                "IPIs per I/O / useless share",
                "flushes per I/O",
                "  local page / full",
                "  remote / deferred",
                "flush wait per I/O (cycles)",
                "TLB misses per I/O",
                "stolen cycles per I/O",
                "hypercalls per I/O",
                "stale uses",
                "open-loop overload",
                "release exposures / p99 (cycles)",
                "background work lost (%)",
                "slot wait / shared / refused",
            ]
        );
        // A metric joining a row has no label of its own; a row's first has one.
        for row in &rows {
            assert!(!row.label.is_empty());
            for d in &row.defs[1..] {
                assert_eq!(d.table.map(|t| t.label), Some(""), "{}", d.name);
            }
        }
    }

    #[test]
    fn breakdown_parts_are_the_latency_breakdown_section() {
        let parts: Vec<&str> = breakdown_parts().map(|d| d.name).collect();
        assert_eq!(parts.len(), 11, "{parts:?}");
        for d in breakdown_parts() {
            assert_eq!(d.unit, Unit::CyclesPerIo, "{}", d.name);
            assert!(d.column, "{} is drawn for sweeps too", d.name);
            assert!(!d.part_label().ends_with("per I/O"), "{}", d.name);
        }
        assert!(parts.contains(&"interrupted_cycles_per_io"));
        assert!(!parts.contains(&"latency_mean"));
    }

    #[test]
    fn damage_metrics_are_flagged_in_the_registry() {
        let names: Vec<&str> = damage_metrics().map(|d| d.name).collect();
        for n in ["stolen_cycles_per_io", "ipis_useless", "flushes_remote"] {
            assert!(names.contains(&n), "{n} is damage");
        }
        assert!(!names.contains(&"iops"));
    }

    #[test]
    fn json_paths_nest_into_sections() {
        let mut m = Map::new();
        insert_at(&mut m, "a.b", 1.into());
        insert_at(&mut m, "c", 2.into());
        insert_at(&mut m, "a.d", 3.into());
        assert_eq!(Value::Object(m).to_string(), r#"{"a":{"b":1,"d":3},"c":2}"#);
    }

    #[test]
    fn axis_titles_carry_the_unit() {
        assert_eq!(axis_title("latency_p99"), "latency p99 (cycles)");
        assert_eq!(axis_title("iops"), "throughput (I/Os per second)");
        assert_eq!(axis_title("no_such_metric"), "no such metric");
    }

    /// `docs/metrics.md` is what the registry renders; `TLBSIM_BLESS=1`
    /// rewrites it.
    #[test]
    fn docs_metrics_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
        let want = metrics_markdown();
        if std::env::var_os("TLBSIM_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write docs/metrics.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/metrics.md differs from the metric registry; regenerate it with \
             TLBSIM_BLESS=1 cargo nextest run --release -p reports"
        );
    }
}
