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
    /// How the backend drives its device: synchronous (the default) or
    /// asynchronous with many I/Os in flight; the device's per-size time.
    pub io: IoPathConfig,
    /// What varies from one use of a cost to the next (default: nothing).
    pub variability: VariabilityConfig,
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
            io: IoPathConfig::default(),
            variability: VariabilityConfig::default(),
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
    /// Which CPUs a shootdown may target (before lazy skipping and the
    /// plan's own target choice). Default `all`, every other CPU.
    pub shootdown_scope: ShootdownScope,
    /// At which level the CPU a backend thread migrated to runs the
    /// migrated data phase. Default `interrupt` (it preempts that CPU like
    /// an interrupt handler, so IPIs to it queue behind it).
    pub migration_level: MigrationLevel,
    /// Flushes per second by *other* domains that take the same flush lock
    /// (Xen's `flush_lock` in xen/arch/x86/smp.c is one
    /// `static DEFINE_SPINLOCK` for the whole hypervisor, not one per
    /// domain): Poisson arrivals, each holding the lock for
    /// `other_domain_flush_cycles`. Default 0: the lock is the host
    /// domain's alone.
    pub other_domain_flushes_per_sec: f64,
    /// How long one of those flushes holds the lock, cycles. Assumption:
    /// 10,000 cycles (4 us at 2.5 GHz), a shootdown of a few physical
    /// CPUs with bare-metal IPI costs (docs/reference/costs.md).
    pub other_domain_flush_cycles: u64,
    /// Whether a serialized shootdown flushes the initiator's own TLB
    /// before it takes the flush lock, as Xen's `flush_area_mask` does
    /// (xen/arch/x86/smp.c: `flush_area_local` first, then
    /// `spin_lock(&flush_lock)` for the remote CPUs), so the local flush
    /// overlaps the wait for the lock. Default false: lock, then flush.
    pub local_flush_before_lock: bool,
    /// Whether a released map lock may be stolen, as a Linux rwsem writer
    /// lock is (kernel/locking/rwsem.c: `up_write` frees the lock and only
    /// wakes the first waiter, which must then take it itself, so a writer
    /// that comes first takes it; the first waiter sets `RWSEM_FLAG_HANDOFF`
    /// and is handed the lock only after `RWSEM_WAIT_TIMEOUT`, 4 ms). With
    /// it, a release hands the lock to the first waiter only if that waiter
    /// spins on a running CPU or has waited 4 ms; a sleeping waiter retries
    /// once woken (`costs.map_lock_wake_cycles` later), one whose vCPU is
    /// descheduled (`[vcpu]`) when it runs again, and whoever asks first
    /// takes the free lock meanwhile. Default false: FIFO hand-over.
    pub map_lock_steal: bool,
}

/// Which CPUs a shootdown may target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShootdownScope {
    /// Every other CPU of the machine.
    #[default]
    All,
    /// Xen: the CPUs in the host domain's dirty cpumask
    /// (`domain->dirty_cpumask`, xen/arch/x86/mm.c and flushtlb.c; a CPU
    /// joins when it runs one of the domain's vCPUs and, with Xen's lazy
    /// context switch, stays while it idles). In this machine every
    /// registered CPU, every CPU running the background workload (a
    /// host-domain process) and every CPU a migrated phase ran on; an idle
    /// CPU that never ran the domain is left out.
    DirtyMask,
    /// Linux: the CPUs in the backend address space's `mm_cpumask`
    /// (arch/x86/mm/tlb.c, `flush_tlb_mm_range`): the registered CPUs
    /// (their backend thread's mm stays loaded when idle, lazily), and a
    /// CPU a migrated phase runs on while it runs there (a background
    /// CPU switches back to the background's mm after it, leaving the
    /// mask; an idle one keeps the mm, lazily). A CPU left out that ran the
    /// mm before flushes when it next switches to it (Linux compares the
    /// mm's `tlb_gen`), modelled as a deferred flush.
    MmCpumask,
}

/// Where a migrated data phase runs on the CPU it migrated to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MigrationLevel {
    /// At interrupt level: it preempts that CPU and IPIs to it wait for it.
    #[default]
    Interrupt,
    /// At thread level, as a migrated thread really runs: it preempts the
    /// CPU's background thread (or its backend's segment), and IPIs that
    /// arrive meanwhile run on top of it and delay it instead.
    Thread,
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

/// A distribution of a time with a given mean (the mean is the key the
/// distribution belongs to: `host.process_cycles`, a cost of the cost
/// table, `variability.irq_off.mean_cycles`). Every variant keeps that
/// mean; draws are rounded to whole cycles and never negative.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Distribution {
    /// Always the mean.
    #[default]
    Fixed,
    /// Uniform on `mean * [1 - spread, 1 + spread]`, `spread` within 0..=1
    /// (written `{ dist = "uniform", spread = 0.2 }`).
    Uniform {
        /// Half the width of the range, as a fraction of the mean.
        spread: f64,
    },
    /// Exponential with that mean (memoryless: M/M/1 service).
    Exponential,
    /// Log-normal with that mean and coefficient of variation `cv`
    /// (standard deviation / mean, within 0..=10; written
    /// `{ dist = "lognormal", cv = 0.5 }`): the right-skewed shape measured
    /// latencies of kernel paths have (a long tail above a floor). The
    /// underlying normal has `sigma^2 = ln(1 + cv^2)` and
    /// `mu = ln(mean) - sigma^2 / 2`.
    Lognormal {
        /// Standard deviation over the mean.
        cv: f64,
    },
}

/// Largest coefficient of variation a log-normal distribution may have.
pub const MAX_CV: f64 = 10.0;

impl Distribution {
    /// Whether every draw is the mean (no random number is used).
    #[must_use]
    pub fn is_fixed(&self) -> bool {
        match *self {
            Distribution::Fixed => true,
            Distribution::Uniform { spread } => spread == 0.0,
            Distribution::Exponential | Distribution::Lognormal { .. } => false,
        }
    }

    /// What is wrong with the parameters, if anything.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        match *self {
            Distribution::Uniform { spread } if !(0.0..=1.0).contains(&spread) => Some(format!(
                "uniform spread must be within 0..=1, got {spread:?}"
            )),
            Distribution::Lognormal { cv } if !(cv > 0.0 && cv <= MAX_CV) => Some(format!(
                "lognormal cv must be within 0 (excluded)..={MAX_CV}, got {cv:?}"
            )),
            _ => None,
        }
    }

    /// One draw with mean `mean` cycles from `rng` (none is used when the
    /// mean is 0 or the distribution is fixed, so a fixed cost consumes no
    /// random numbers).
    pub fn draw(&self, mean: u64, rng: &mut sim_core::SimRng) -> u64 {
        self.with_mean(mean).draw(rng)
    }

    /// The distribution with its mean fixed to `mean` cycles, its
    /// parameters computed once for many draws ([`Drawing::draw`] gives
    /// exactly what [`Distribution::draw`] does).
    #[must_use]
    pub fn with_mean(&self, mean: u64) -> Drawing {
        #[allow(clippy::cast_precision_loss, reason = "a mean in cycles")]
        let m = mean as f64;
        let shape = if mean == 0 || self.is_fixed() {
            Shape::Fixed
        } else {
            match *self {
                Distribution::Fixed => Shape::Fixed,
                Distribution::Uniform { spread } => Shape::Uniform { spread },
                Distribution::Exponential => Shape::Exponential,
                Distribution::Lognormal { cv } => {
                    let sigma2 = sim_core::math::ln(cv.mul_add(cv, 1.0));
                    Shape::Lognormal {
                        mu: sim_core::math::ln(m) - sigma2 / 2.0,
                        sigma: sigma2.sqrt(),
                    }
                }
            }
        };
        Drawing { mean, m, shape }
    }
}

/// A [`Distribution`] with its mean and derived parameters fixed
/// ([`Distribution::with_mean`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drawing {
    mean: u64,
    m: f64,
    shape: Shape,
}

/// The parameters a draw uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Fixed,
    Uniform {
        spread: f64,
    },
    Exponential,
    /// The underlying normal's mean and standard deviation.
    Lognormal {
        mu: f64,
        sigma: f64,
    },
}

impl Drawing {
    /// One draw, in cycles (no random number is used when fixed).
    #[inline]
    pub fn draw(&self, rng: &mut sim_core::SimRng) -> u64 {
        use rand::RngExt;
        let m = self.m;
        let x = match self.shape {
            Shape::Fixed => return self.mean,
            Shape::Uniform { spread } => m * (1.0 - spread + 2.0 * spread * rng.random::<f64>()),
            Shape::Exponential => -sim_core::math::ln(1.0 - rng.random::<f64>()) * m,
            Shape::Lognormal { mu, sigma } => {
                // Box-Muller: one standard normal from two uniforms.
                let u1 = 1.0 - rng.random::<f64>();
                let u2 = rng.random::<f64>();
                let z = (-2.0 * sim_core::math::ln(u1)).sqrt()
                    * sim_core::math::cos(std::f64::consts::TAU * u2);
                sim_core::math::exp(sigma.mul_add(z, mu))
            }
        };
        workloads::round_cycles(x)
    }

    /// `out.len()` successive draws into `out`: exactly the values, in
    /// order, of as many calls of [`Drawing::draw`] on `rng`. A log-normal
    /// batch is computed in phases (all uniforms in stream order, then
    /// every `ln`, every `cos`, every `exp`, every rounding) by the batch
    /// functions of `sim_core::math` and `workloads`, which give bit for
    /// bit the scalar functions' values, so each draw is exactly that of
    /// `draw`; the phases let the compiler vectorize and the processor
    /// overlap independent draws (tested: `batched_draws_are_the_single_draws`).
    pub fn draw_into<const N: usize>(&self, rng: &mut sim_core::SimRng, out: &mut [u64; N]) {
        use rand::Rng;
        let Shape::Lognormal { mu, sigma } = self.shape else {
            for v in out.iter_mut() {
                *v = self.draw(rng);
            }
            return;
        };
        // The uniforms as `rng.random::<f64>()` makes them (rand's
        // `StandardUniform`: the top 53 bits of a `u64`, times 2^-53), with
        // a signed conversion, exact below 2^53 and one instruction on
        // baseline x86-64.
        #[allow(
            clippy::cast_possible_wrap,
            clippy::cast_precision_loss,
            reason = "below 2^53: exact"
        )]
        let uniform = |bits: u64| ((bits >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64);
        let mut u1 = [0.0f64; N];
        let mut u2 = [0.0f64; N];
        for (a, b) in u1.iter_mut().zip(u2.iter_mut()) {
            *a = 1.0 - uniform(rng.next_u64());
            *b = std::f64::consts::TAU * uniform(rng.next_u64());
        }
        let (mut ln_u1, mut cos_u2) = ([0.0f64; N], [0.0f64; N]);
        sim_core::math::ln_each(&u1, &mut ln_u1);
        sim_core::math::cos_each(&u2, &mut cos_u2);
        for ((e, l), c) in u1.iter_mut().zip(&ln_u1).zip(&cos_u2) {
            *e = sigma.mul_add((-2.0 * l).sqrt() * c, mu);
        }
        let mut x = [0.0f64; N];
        sim_core::math::exp_each(&u1, &mut x);
        workloads::round_cycles_each(&x, out);
    }
}

/// The distribution of each cost of the cost table that a run draws per
/// use (`[variability.costs]`, each key a `costs.*` name whose value is
/// the mean). Each cost has its own random stream (`sim_core::rng_stream`),
/// so making one cost variable leaves every other draw of the run as it
/// was. Default: every cost fixed. Where a cost is drawn: per flush
/// (`invlpg_cycles` once per range flush, times its pages;
/// `full_flush_cycles`), per hypercall (`hypercall_cycles`, the per-page
/// costs once per hypercall, times its pages), per shootdown
/// (`ipi_send_cycles`, `ipi_hypercall_cycles`: each ICR write or hypercall
/// of one shootdown costs the same draw; `flush_lock_cycles`), per IPI
/// (`ipi_delivery_cycles`, `ipi_receive_cycles`, `ipi_handler_cycles`,
/// `ack_cycles`), per request (`dequeue_cycles`, `notify_cycles`,
/// `complete_cycles`, `migrate_cycles`, `data_line_cycles` once per data
/// phase, times its lines) and per lock use (`map_lock_cycles`,
/// `map_lock_wake_cycles`). The per-access costs of address translation
/// (`l2_hit_cycles`, `walk_level_cycles`, `background_access_cycles`) and
/// the spin threshold `map_lock_spin_cycles` stay fixed.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[allow(missing_docs, reason = "each field is the cost of the same name")]
pub struct CostDistributions {
    pub invlpg_cycles: Distribution,
    pub full_flush_cycles: Distribution,
    pub hypercall_cycles: Distribution,
    pub map_page_cycles: Distribution,
    pub unmap_page_cycles: Distribution,
    pub ipi_send_cycles: Distribution,
    pub ipi_delivery_cycles: Distribution,
    pub ipi_receive_cycles: Distribution,
    pub ipi_hypercall_cycles: Distribution,
    pub ipi_handler_cycles: Distribution,
    pub ack_cycles: Distribution,
    pub flush_lock_cycles: Distribution,
    pub map_lock_cycles: Distribution,
    pub map_lock_wake_cycles: Distribution,
    pub dequeue_cycles: Distribution,
    pub notify_cycles: Distribution,
    pub complete_cycles: Distribution,
    pub data_line_cycles: Distribution,
    pub migrate_cycles: Distribution,
}

/// Number of variable costs ([`CostDistributions::entries`]).
pub const VARIABLE_COSTS: usize = 19;

impl CostDistributions {
    /// Each variable cost's name, its distribution and its mean in `costs`,
    /// in field order (the order of [`VARIABLE_COSTS`] random streams).
    #[must_use]
    pub fn entries(
        &self,
        costs: &CostTable,
    ) -> [(&'static str, Distribution, u64); VARIABLE_COSTS] {
        [
            ("invlpg_cycles", self.invlpg_cycles, costs.invlpg_cycles),
            (
                "full_flush_cycles",
                self.full_flush_cycles,
                costs.full_flush_cycles,
            ),
            (
                "hypercall_cycles",
                self.hypercall_cycles,
                costs.hypercall_cycles,
            ),
            (
                "map_page_cycles",
                self.map_page_cycles,
                costs.map_page_cycles,
            ),
            (
                "unmap_page_cycles",
                self.unmap_page_cycles,
                costs.unmap_page_cycles,
            ),
            (
                "ipi_send_cycles",
                self.ipi_send_cycles,
                costs.ipi_send_cycles,
            ),
            (
                "ipi_delivery_cycles",
                self.ipi_delivery_cycles,
                costs.ipi_delivery_cycles,
            ),
            (
                "ipi_receive_cycles",
                self.ipi_receive_cycles,
                costs.ipi_receive_cycles,
            ),
            (
                "ipi_hypercall_cycles",
                self.ipi_hypercall_cycles,
                costs.ipi_hypercall_cycles,
            ),
            (
                "ipi_handler_cycles",
                self.ipi_handler_cycles,
                costs.ipi_handler_cycles,
            ),
            ("ack_cycles", self.ack_cycles, costs.ack_cycles),
            (
                "flush_lock_cycles",
                self.flush_lock_cycles,
                costs.flush_lock_cycles,
            ),
            (
                "map_lock_cycles",
                self.map_lock_cycles,
                costs.map_lock_cycles,
            ),
            (
                "map_lock_wake_cycles",
                self.map_lock_wake_cycles,
                costs.map_lock_wake_cycles,
            ),
            ("dequeue_cycles", self.dequeue_cycles, costs.dequeue_cycles),
            ("notify_cycles", self.notify_cycles, costs.notify_cycles),
            (
                "complete_cycles",
                self.complete_cycles,
                costs.complete_cycles,
            ),
            (
                "data_line_cycles",
                self.data_line_cycles,
                costs.data_line_cycles,
            ),
            ("migrate_cycles", self.migrate_cycles, costs.migrate_cycles),
        ]
    }
}

/// Sections of interrupts-off time on the CPUs an IPI interrupts
/// (`[variability.irq_off]`): with probability `probability` an arriving
/// IPI finds its target with interrupts disabled (a spinlock held with
/// `spin_lock_irqsave`, a `local_irq_disable` section) and its handler
/// starts only after the rest of that section, `mean_cycles` on average,
/// drawn from `distribution`. Source for the shape: Linux's `irqsoff`
/// latency tracer (Documentation/trace/ftrace.rst) measures exactly these
/// sections; non-RT kernels show sections of a few to tens of
/// microseconds. Default: probability 0 (off). The IPI's flush is still
/// applied at arrival (earlier flushing can hide, never create, a stale
/// use).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IrqOffConfig {
    /// Probability that an IPI finds its target with interrupts off.
    pub probability: f64,
    /// Mean remaining length of such a section, cycles.
    pub mean_cycles: u64,
    /// Distribution of that length.
    pub distribution: Distribution,
}

impl Default for IrqOffConfig {
    fn default() -> Self {
        Self {
            probability: 0.0,
            mean_cycles: 0,
            distribution: Distribution::Exponential,
        }
    }
}

/// `[variability]`: what varies from one use of a cost to the next.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct VariabilityConfig {
    /// Each cost's distribution around its `costs.*` mean.
    pub costs: CostDistributions,
    /// Interrupts-off sections on IPI targets.
    pub irq_off: IrqOffConfig,
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
            shootdown_scope: ShootdownScope::All,
            migration_level: MigrationLevel::Interrupt,
            other_domain_flushes_per_sec: 0.0,
            other_domain_flush_cycles: 10_000,
            local_flush_before_lock: false,
            map_lock_steal: false,
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
    /// How its accesses are accounted: replayed one by one, or from the
    /// mean refill curve after a flush (`machine/src/sim/background/`).
    pub model: BackgroundModel,
}

/// How the background workload's accesses are accounted
/// (`background.model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackgroundModel {
    /// Every access replayed on the CPU's real TLB: cost grows with CPUs x
    /// simulated time. The reference.
    Exact,
    /// From the mean refill curve after a full flush, measured once per
    /// configuration with the real TLB model: cost per catch-up does not
    /// grow with the time it covers. Agrees with `Exact` within 1% on the
    /// headline metrics (tested); `background/curve.rs` says what it
    /// assumes.
    #[default]
    Curve,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            working_set_pages: 1024,
            cycles_between_accesses: 100,
            model: BackgroundModel::default(),
        }
    }
}

/// The backend's I/O path (`[io]`): how requests reach the device and
/// come back. Every default keeps the synchronous path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoPathConfig {
    /// Asynchronous backend, as blkback: map, submit to the device and go
    /// on with the next request; when the device is done the request is
    /// queued back to its backend thread, which unmaps and completes it
    /// (xen-blkback `dispatch_rw_block_io` submits the bios,
    /// `__end_block_io_op` -> `xen_blkbk_unmap_and_respond` at completion).
    /// A read's data is touched when the device is done (it exists only
    /// then), a write's before submission. Default false: the backend
    /// waits for its device (`host.device_cycles`) before its next request.
    pub asynchronous: bool,
    /// Requests one backend thread may have in flight (dequeued, not yet
    /// completed) when asynchronous: the ring's slots (a one-page blkif
    /// ring holds 32, `__CONST_RING_SIZE(blkif, 4096)`; each request
    /// carries up to `BLKIF_MAX_SEGMENTS_PER_REQUEST` = 11 pages, more with
    /// indirect descriptors, as the guest's size says). Default 32.
    pub ring_slots: u32,
    /// Device time per KiB of a request, cycles, on top of
    /// `host.device_cycles` (a transfer term: 0.4 cycles per byte is
    /// about 6 GB/s at 2.5 GHz). Default 0.
    pub device_cycles_per_kib: u64,
    /// Pages of the backend's own working set (kernel text and data, the
    /// ring, bio/skb pages) that a backend thread touches, one lookup
    /// each, when it dequeues a request. They are host-domain pages, so a
    /// full flush of the domain (a local flush above
    /// `host.flush_ceiling_pages`, a `full` shootdown) evicts them and the
    /// next request refills them: the refill is what Linux's
    /// `tlb_single_page_flush_ceiling` trades INVLPGs against
    /// (Documentation/arch/x86/tlb.rst: after a full flush, entries of
    /// other areas "must be refilled later, at some cost"). Assumption: not
    /// global pages (with page-table isolation, or a PV domain whose
    /// flushes drop everything). The size is a parameter, not measured: at
    /// the default costs a full flush breaks even with 33 INVLPGs
    /// (`33 x invlpg_cycles - full_flush_cycles` = 7,750 cycles) when the
    /// refill costs that much, about 390 pages of one-level walks
    /// (`walk_level_cycles` = 20 each over an L2 hit). Default 0 (none).
    pub backend_working_set_pages: u32,
    /// What kind of lock `host.map_lock` is (Xen's grant-table lock and its
    /// successors). Default `exclusive`, the lock as it was.
    pub map_lock_kind: LockKind,
    /// Requests a backend thread takes from its ring at once whose maps
    /// go in one hypercall (xen-blkback and netback drain the ring with
    /// `RING_FINAL_CHECK_FOR_REQUESTS` and batch their grant maps in one
    /// `GNTTABOP_map_grant_ref`): of up to this many requests taken in a
    /// row, only the first map pays `costs.hypercall_cycles` and counts a
    /// hypercall. Assumption: each request is still mapped just before its
    /// data (the batch's later page-table changes land a little later than
    /// in one hypercall; they are fresh entries, so no TLB holds them).
    /// Default 1 (one hypercall per map).
    pub drain_requests: u32,
    /// Whether a thread taking a request the device finished also unmaps
    /// the finished requests waiting behind it (up to `drain_requests` in
    /// all) in the same hypercall, with one shootdown for them all, as
    /// xen-netback's dealloc thread does (`xenvif_tx_dealloc_action`: one
    /// `gnttab_unmap_refs` for every released slot; see
    /// `machine/src/sim/drain_unmap.rs`). Default false: each request is
    /// unmapped alone at its completion, as xen-blkback does
    /// (`xen_blkbk_unmap_and_respond`). Asynchronous path only.
    pub drain_unmaps: bool,
    /// Backend threads per registered CPU, each serving its own share of
    /// the rings steered to that CPU (ring `i` of the CPU goes to thread
    /// `i mod threads_per_cpu`), as several xen-blkback rings or
    /// xen-netback queues have a kernel thread each. Only one runs at a
    /// time; a thread runs until it has nothing it may do or has run
    /// `thread_slice_cycles` while another has work, then the CPU switches
    /// (`switch_cycles`), and the kmap_local-style save and restore of the
    /// threads' per-CPU slots runs (`machine/src/sim/threads.rs`). Above 1
    /// it needs `asynchronous` (a synchronous thread would only wait for
    /// its device) and no migration. Default 1 (one thread, no switches).
    pub threads_per_cpu: u32,
    /// Cycles of one context switch between two backend threads of a CPU,
    /// besides the save and restore of their slots. Default 2,500 (1 us at
    /// 2.5 GHz). Assumption: the order of published measurements of a
    /// switch between two threads pinned to one core (about 1-1.5 us,
    /// Sigoure 2010, "How long does it take to make a context switch?",
    /// futex ping-pong), not measured here.
    pub switch_cycles: u64,
    /// Cycles a backend thread runs before it yields to another thread of
    /// its CPU that has work (at its next request boundary). Default
    /// 1,875,000 (0.75 ms at 2.5 GHz: Linux's `sysctl_sched_base_slice`,
    /// kernel/sched/fair.c, the slice EEVDF gives a task before a runnable
    /// peer may preempt it).
    pub thread_slice_cycles: u64,
    /// Whether switching a thread out flushes its slots from the local TLB
    /// (Linux `__kmap_local_sched_out`, mm/highmem.c: each of the task's
    /// kmap_local slots has its PTE cleared and then
    /// `arch_kmap_local_post_unmap`, on x86 `flush_tlb_one_kernel`) and
    /// switching one in runs the policy's map-time flush of the slots it
    /// restores. Default true. `false` is a deliberately broken variant:
    /// a thread switched back in may hit another thread's translation of
    /// the same slot, a stale use.
    pub switch_flush: bool,
    /// Requests the device serves at once, shared by every backend; the
    /// others wait first come, first served (`machine/src/sim/device.rs`).
    /// Default 0: no bound, every request in flight served in parallel
    /// (an assumption: an NVMe drive at these depths).
    pub device_queues: u32,
    /// Bytes at the start of each request that the backend grant-copies
    /// into its own buffer instead of mapping them, as xen-netback does
    /// with the first `XEN_NETBACK_TX_COPY_LEN` = 128 bytes of a packet
    /// (drivers/net/xen-netback/netback.c, `xenvif_tx_build_gops`: one
    /// `GNTTABOP_copy` operation of `min(size, 128)` bytes into the skb's
    /// linear area per packet, all of a drain's operations in one
    /// `gnttab_batch_copy`; only a packet larger than that has its first
    /// slot's rest and its further slots grant-mapped, as frags). A request
    /// of at most this many bytes is never mapped: no map, no unmap, no
    /// flush, no translation. Larger ones map only the pages holding bytes
    /// beyond it. Applies to policies that map per request
    /// (`hypervisor::DataPath::Mapped`); `copy` already copies the whole
    /// request in its one `GNTTABOP_copy`, and persistent grants read the
    /// header through their pool (`machine/src/sim/header_copy.rs`), so
    /// neither changes. Default 0: off, every byte mapped.
    pub header_copy_bytes: u64,
    /// Cycles of one header grant-copy operation (`gnttab_copy_one`: the
    /// grant's acquire and release, `acquire_grant_for_copy` /
    /// `release_grant_for_copy`, the frame checks). Default 300,
    /// `hypervisor::GrantCopy::DEFAULT`, as policy `copy` (an assumption).
    pub header_copy_op_cycles: u64,
    /// Cycles per KiB of the header copy (the hypervisor's `memcpy`).
    /// Default 256, as policy `copy` (an assumption: 4 bytes per cycle).
    pub header_copy_cycles_per_kib: u64,
}

/// The kind of the map lock / grant-table lock (`io.map_lock_kind`), and
/// what a map or unmap hypercall of `P` pages pays for it, `k` being the
/// other backend CPUs inside a map or unmap segment when it starts (the
/// CPUs whose atomics bounce the lock's cache line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LockKind {
    /// One exclusive lock around the whole map or unmap segment, all
    /// backends serialized (Xen before 4.6: `spin_lock(&rgt->lock)` in
    /// `__gnttab_map_grant_ref`): `costs.map_lock_cycles` once.
    #[default]
    Exclusive,
    /// A reader-writer lock taken for reading by each grant operation
    /// (Xen 4.6+, xen/common/grant_table.c `grant_read_lock` in
    /// `map_grant_ref` and `unmap_common`): readers do not exclude each
    /// other, but each acquisition's atomic moves the shared lock word:
    /// `P x map_lock_cycles x (1 + k)`. Assumption: the line's transfer
    /// costs one `map_lock_cycles` per CPU contending for it.
    ReaderWriter,
    /// The reader-writer lock plus one active-entry lock per grant (Xen
    /// 4.6+ `active_entry_acquire`, distinct grants, so uncontended):
    /// `P x map_lock_cycles x (2 + k)`.
    PerEntry,
    /// A per-CPU reader-writer lock (Xen's `percpu_rwlock`,
    /// xen/include/xen/rwlock.h, used for the grant table since 4.7): a
    /// reader writes only its own CPU's flag, so its cost does not grow
    /// with contenders; plus the active-entry locks:
    /// `P x map_lock_cycles x 2`.
    PerCpuReaderWriter,
}

impl Default for IoPathConfig {
    fn default() -> Self {
        Self {
            asynchronous: false,
            ring_slots: 32,
            device_cycles_per_kib: 0,
            backend_working_set_pages: 0,
            map_lock_kind: LockKind::Exclusive,
            drain_requests: 1,
            drain_unmaps: false,
            threads_per_cpu: 1,
            switch_cycles: 2_500,
            thread_slice_cycles: 1_875_000,
            switch_flush: true,
            device_queues: 0,
            header_copy_bytes: 0,
            header_copy_op_cycles: hypervisor::GrantCopy::DEFAULT.op_cycles,
            header_copy_cycles_per_kib: hypervisor::GrantCopy::DEFAULT.copy_cycles_per_kib,
        }
    }
}

/// Largest `io.header_copy_bytes` (1 MiB; netback copies 128).
pub const MAX_HEADER_COPY_BYTES: u64 = 1 << 20;

/// Most backend threads per registered CPU (`io.threads_per_cpu`).
pub const MAX_THREADS_PER_CPU: u32 = 64;

/// Largest `io.switch_cycles` and `io.thread_slice_cycles` (10^10 cycles,
/// 4 s at 2.5 GHz, the bound of the other per-use costs).
pub const MAX_SWITCH_CYCLES: u64 = 10_000_000_000;

/// Largest backend working set, pages (64 MiB).
pub const MAX_BACKEND_WORKING_SET_PAGES: u32 = 16_384;

/// Most requests in flight per backend thread (a blkif ring of 32 pages
/// with multi-page rings, `max_ring_page_order` = 4, holds 512; this bound
/// is generous).
pub const MAX_RING_SLOTS: u32 = 65_536;

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
        if self.io.drain_requests == 0 || self.io.drain_requests > MAX_RING_SLOTS {
            p(
                &["io", "drain_requests"],
                format!(
                    "must be within 1..={MAX_RING_SLOTS}, got {}",
                    self.io.drain_requests
                ),
            );
        }
        if self.io.threads_per_cpu == 0 || self.io.threads_per_cpu > MAX_THREADS_PER_CPU {
            p(
                &["io", "threads_per_cpu"],
                format!(
                    "must be within 1..={MAX_THREADS_PER_CPU}, got {}",
                    self.io.threads_per_cpu
                ),
            );
        } else if self.io.threads_per_cpu > 1 {
            if !self.io.asynchronous {
                p(
                    &["io", "threads_per_cpu"],
                    "above 1 needs io.asynchronous = true (a synchronous thread only waits for its device)"
                        .into(),
                );
            }
            if self.host.migration_probability > 0.0 {
                p(
                    &["io", "threads_per_cpu"],
                    "above 1 needs host.migration_probability = 0 (a thread's slots are its CPU's)"
                        .into(),
                );
            }
        }
        if self.io.switch_cycles > MAX_SWITCH_CYCLES {
            p(
                &["io", "switch_cycles"],
                format!(
                    "must be at most {MAX_SWITCH_CYCLES} cycles, got {}",
                    self.io.switch_cycles
                ),
            );
        }
        if self.io.thread_slice_cycles == 0 || self.io.thread_slice_cycles > MAX_SWITCH_CYCLES {
            p(
                &["io", "thread_slice_cycles"],
                format!(
                    "must be within 1..={MAX_SWITCH_CYCLES} cycles, got {}",
                    self.io.thread_slice_cycles
                ),
            );
        }
        if self.io.device_queues > MAX_RING_SLOTS {
            p(
                &["io", "device_queues"],
                format!(
                    "must be within 0..={MAX_RING_SLOTS}, got {}",
                    self.io.device_queues
                ),
            );
        }
        if self.io.ring_slots == 0 || self.io.ring_slots > MAX_RING_SLOTS {
            p(
                &["io", "ring_slots"],
                format!(
                    "must be within 1..={MAX_RING_SLOTS}, got {}",
                    self.io.ring_slots
                ),
            );
        }
        if self.io.backend_working_set_pages > MAX_BACKEND_WORKING_SET_PAGES {
            p(
                &["io", "backend_working_set_pages"],
                format!(
                    "must be at most {MAX_BACKEND_WORKING_SET_PAGES} pages, got {}",
                    self.io.backend_working_set_pages
                ),
            );
        }
        if self.io.header_copy_bytes > MAX_HEADER_COPY_BYTES {
            p(
                &["io", "header_copy_bytes"],
                format!(
                    "must be within 0..={MAX_HEADER_COPY_BYTES} bytes, got {}",
                    self.io.header_copy_bytes
                ),
            );
        }
        for (field, v) in [
            ("device_cycles_per_kib", self.io.device_cycles_per_kib),
            ("header_copy_op_cycles", self.io.header_copy_op_cycles),
            (
                "header_copy_cycles_per_kib",
                self.io.header_copy_cycles_per_kib,
            ),
        ] {
            if v > MAX_SPAN_CYCLES {
                p(
                    &["io", field],
                    format!("must be at most {MAX_SPAN_CYCLES} cycles, got {v}"),
                );
            }
        }
        let rate = self.host.other_domain_flushes_per_sec;
        if !(0.0..=1e9).contains(&rate) {
            p(
                &["host", "other_domain_flushes_per_sec"],
                format!("must be within 0..=1e9 per second, got {rate}"),
            );
        }
        if self.host.other_domain_flush_cycles > MAX_SPAN_CYCLES
            || (rate > 0.0 && self.host.other_domain_flush_cycles == 0)
        {
            p(
                &["host", "other_domain_flush_cycles"],
                format!(
                    "must be within 1..={MAX_SPAN_CYCLES} cycles, got {}",
                    self.host.other_domain_flush_cycles
                ),
            );
        }
        for (field, d) in [
            ("process_distribution", self.host.process_distribution),
            ("device_distribution", self.host.device_distribution),
        ] {
            if let Some(m) = d.problem() {
                p(&["host", field], m);
            }
        }
        for (field, d, _) in self.variability.costs.entries(&self.costs) {
            if let Some(m) = d.problem() {
                p(&["variability", "costs", field], m);
            }
        }
        let irq = &self.variability.irq_off;
        if !(0.0..=1.0).contains(&irq.probability) {
            p(
                &["variability", "irq_off", "probability"],
                format!("must be within 0..=1, got {}", irq.probability),
            );
        }
        if irq.mean_cycles > MAX_SPAN_CYCLES {
            p(
                &["variability", "irq_off", "mean_cycles"],
                format!(
                    "must be at most {MAX_SPAN_CYCLES} cycles, got {}",
                    irq.mean_cycles
                ),
            );
        }
        if let Some(m) = irq.distribution.problem() {
            p(&["variability", "irq_off", "distribution"], m);
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
