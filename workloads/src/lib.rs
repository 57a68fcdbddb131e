//! Guest I/O generators.
//!
//! A guest issues requests on its rings; each ring is steered to one
//! registered CPU of the host domain. [`GuestConfig`] describes a guest,
//! [`Generator`] draws its requests from its own random stream.
//!
//! Architecture invariant: this crate knows nothing of TLBs, policies, files
//! or the CLI; it draws numbers and hands out [`RequestSpec`]s.

use rand::RngExt;
use sim_core::{KeyPath, Problem, SimRng};

/// Bytes per page: sizes are rounded up to whole 4 KiB pages when mapped.
pub const PAGE_BYTES: u64 = 4096;

/// A guest of the simulated machine, numbered from 0 in the order of the
/// scenario's `guests` list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestId(pub u32);

/// How a guest issues requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pattern {
    /// Open loop: Poisson arrivals at `rate_iops`, whatever the backlog.
    Open,
    /// Closed loop: `queue_depth` requests outstanding; each completion
    /// issues the next after `think_time_ns`.
    #[default]
    Closed,
    /// Trace replay: requests and their arrival times come from a recorded
    /// trace (`trace`, `trace_format`, `time_scale`), handed to the machine
    /// as a [`RequestSource`]. Requests larger than `size_bytes` (its
    /// maximum) are split into several, as a block front-end splits a large
    /// bio into ring requests.
    Trace,
}

/// The size of each request, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeSpec {
    /// Every request has this size.
    Fixed(u64),
    /// Uniform between `min` and `max` inclusive, in steps of `align` bytes
    /// (e.g. whole 4 KiB segments).
    Uniform {
        /// Smallest size, bytes.
        min: u64,
        /// Largest size, bytes.
        max: u64,
        /// Granularity, bytes (1 = any size).
        align: u64,
    },
    /// One of `values`, with relative `weights` (equal when empty).
    Choice {
        /// Sizes, bytes.
        values: Vec<u64>,
        /// Relative weights, one per value, or empty for equal weights.
        weights: Vec<f64>,
    },
}

impl Default for SizeSpec {
    fn default() -> Self {
        SizeSpec::Fixed(PAGE_BYTES)
    }
}

impl SizeSpec {
    /// The largest size this spec can draw, bytes.
    #[must_use]
    pub fn max_bytes(&self) -> u64 {
        match self {
            SizeSpec::Fixed(v) => *v,
            SizeSpec::Uniform { max, .. } => *max,
            SizeSpec::Choice { values, .. } => values.iter().copied().max().unwrap_or(0),
        }
    }

    /// Problems with this spec, at paths relative to the guest (the spec is
    /// its `size_bytes`).
    #[must_use]
    pub fn problems(&self) -> Vec<Problem> {
        let at = |fields: &[&'static str], message: String| {
            Problem::new(
                KeyPath::of(&["size_bytes"]).join(&KeyPath::of(fields)),
                message,
            )
        };
        let mut out = Vec::new();
        match self {
            SizeSpec::Fixed(0) => out.push(at(&[], "must be at least 1 byte".to_string())),
            SizeSpec::Fixed(_) => {}
            SizeSpec::Uniform { min, max, align } => {
                if *min == 0 || min > max {
                    out.push(at(
                        &[],
                        format!("needs 1 <= min <= max, got min={min} max={max}"),
                    ));
                }
                if *align == 0 {
                    out.push(at(&["align"], "must be at least 1".to_string()));
                } else if *min >= 1
                    && min <= max
                    && min
                        .div_ceil(*align)
                        .checked_mul(*align)
                        .is_none_or(|m| m > *max)
                {
                    out.push(at(
                        &["align"],
                        format!(
                            "no multiple of align {align} lies within min..=max ({min}..={max})"
                        ),
                    ));
                }
            }
            SizeSpec::Choice { values, weights } => {
                if values.is_empty() || values.contains(&0) {
                    out.push(at(
                        &["values"],
                        "needs at least one size, each at least 1 byte".to_string(),
                    ));
                }
                if !weights.is_empty() && weights.len() != values.len() {
                    out.push(at(
                        &["weights"],
                        format!("has {} weights for {} values", weights.len(), values.len()),
                    ));
                }
                if weights.iter().any(|w| !w.is_finite() || *w < 0.0)
                    || (!weights.is_empty() && weights.iter().sum::<f64>() <= 0.0)
                {
                    out.push(at(
                        &["weights"],
                        "must be finite, non-negative and not all zero".to_string(),
                    ));
                }
            }
        }
        out
    }

    /// Draws one size, bytes.
    pub fn draw(&self, rng: &mut SimRng) -> u64 {
        match self {
            SizeSpec::Fixed(v) => *v,
            SizeSpec::Uniform { min, max, align } => {
                let lo = min.div_ceil(*align);
                let hi = (max / align).max(lo);
                rng.random_range(lo..=hi) * align
            }
            SizeSpec::Choice { values, weights } => {
                if weights.is_empty() {
                    values[rng.random_range(0..values.len())]
                } else {
                    let total: f64 = weights.iter().sum();
                    let mut x = rng.random::<f64>() * total;
                    for (v, w) in values.iter().zip(weights) {
                        if x < *w {
                            return *v;
                        }
                        x -= w;
                    }
                    *values.last().expect("validated non-empty")
                }
            }
        }
    }
}

/// One guest: how it issues I/O.
#[derive(Clone, Debug, PartialEq)]
pub struct GuestConfig {
    /// `open` (Poisson arrivals) or `closed` (fixed number outstanding).
    pub pattern: Pattern,
    /// Open loop: mean arrival rate, I/Os per second of simulated time.
    pub rate_iops: f64,
    /// Closed loop: requests outstanding at once.
    pub queue_depth: u32,
    /// Closed loop: pause between a completion and the next request, ns.
    pub think_time_ns: f64,
    /// Request size, bytes: a number, `{ min, max, align }` or
    /// `{ values = [..], weights = [..] }`.
    pub size_bytes: SizeSpec,
    /// Fraction of requests that are reads (guest reads: the backend writes
    /// into the guest's pages).
    pub read_fraction: f64,
    /// Rings (queues) of this guest; ring `q` of guest `g` is served by
    /// registered CPU `(g + q) mod host.io_cpus` unless `cpu_affinity` says
    /// otherwise.
    pub queues: u32,
    /// Guest pages the guest cycles its buffers through; consecutive requests
    /// use different pages, as a real guest's buffer pool does.
    pub buffer_pages: u32,
    /// Trace replay: path of the trace file (relative paths are relative to
    /// the scenario file that set it).
    pub trace: String,
    /// Trace replay: `tlbsim`, `fio` (iolog v2/v3), `blkparse` or `msr`.
    pub trace_format: String,
    /// Trace replay: multiply the trace's inter-arrival times by this (0.5
    /// replays twice as fast).
    pub time_scale: f64,
    /// Trace replay: replay only the records of this trace device/guest
    /// number (the trace's `guest` column, fio's file, MSR's disk); absent:
    /// all records.
    pub trace_device: Option<u32>,
    /// Trace replay: whether the backend serves a recorded request whole
    /// (default) or in pieces, as a split-request protocol would. A split
    /// request is still one I/O (its latency ends with its last piece).
    pub split: Split,
    /// Trace replay: the largest recorded request, bytes, which sizes the
    /// mapping area and must fit `percpu`'s slots. The scenario loader fills
    /// it in by scanning the trace when it is not given; with none, the
    /// guest's `size_bytes` maximum stands for it, and a larger request is a
    /// run error.
    pub max_request_bytes: Option<u64>,
}

/// How a trace guest's requests reach the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Split {
    /// Each recorded request is one backend request, mapped whole.
    #[default]
    None,
    /// Pieces of at most 11 segments of 4 KiB (45,056 bytes): a Xen blkif
    /// request without indirect descriptors
    /// (`BLKIF_MAX_SEGMENTS_PER_REQUEST`, include/xen/interface/io/blkif.h).
    Blkif,
    /// Pieces of at most 32 segments of 4 KiB (131,072 bytes): xen-blkfront's
    /// default `max_indirect_segments` (drivers/block/xen-blkfront.c).
    BlkifIndirect,
    /// Pieces of at most this many bytes.
    Bytes(u64),
}

impl Split {
    /// Largest piece, bytes (`None`: requests are not split).
    #[must_use]
    pub fn piece_bytes(self) -> Option<u64> {
        match self {
            Split::None => None,
            Split::Blkif => Some(11 * PAGE_BYTES),
            Split::BlkifIndirect => Some(32 * PAGE_BYTES),
            Split::Bytes(n) => Some(n),
        }
    }
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            pattern: Pattern::Closed,
            rate_iops: 100_000.0,
            queue_depth: 4,
            think_time_ns: 0.0,
            size_bytes: SizeSpec::default(),
            read_fraction: 0.5,
            queues: 1,
            buffer_pages: 1024,
            trace: String::new(),
            trace_format: "tlbsim".to_string(),
            time_scale: 1.0,
            trace_device: None,
            split: Split::None,
            max_request_bytes: None,
        }
    }
}

impl GuestConfig {
    /// The largest backend request of this guest, bytes: what one mapping
    /// must hold. A synthetic guest's largest size; a trace guest's largest
    /// recorded request (`max_request_bytes`, else the `size_bytes`
    /// maximum), cut to the split's piece size.
    #[must_use]
    pub fn mapped_bytes(&self) -> u64 {
        if self.pattern != Pattern::Trace {
            return self.size_bytes.max_bytes();
        }
        let largest = self
            .max_request_bytes
            .unwrap_or_else(|| self.size_bytes.max_bytes());
        self.split
            .piece_bytes()
            .map_or(largest, |piece| largest.min(piece))
    }

    /// Problems with this guest, at paths relative to the guest.
    #[must_use]
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = self.size_bytes.problems();
        if self.pattern == Pattern::Open && (!self.rate_iops.is_finite() || self.rate_iops <= 0.0) {
            out.push(Problem::new(
                KeyPath::of(&["rate_iops"]),
                format!(
                    "must be a positive number for an open-loop guest, got {}",
                    self.rate_iops
                ),
            ));
        }
        if self.pattern == Pattern::Closed && self.queue_depth == 0 {
            out.push(Problem::new(
                KeyPath::of(&["queue_depth"]),
                "must be at least 1 for a closed-loop guest".to_string(),
            ));
        }
        if !self.think_time_ns.is_finite() || self.think_time_ns < 0.0 {
            out.push(Problem::new(
                KeyPath::of(&["think_time_ns"]),
                "must be a non-negative number".to_string(),
            ));
        }
        if !(0.0..=1.0).contains(&self.read_fraction) {
            out.push(Problem::new(
                KeyPath::of(&["read_fraction"]),
                format!("must be within 0..=1, got {}", self.read_fraction),
            ));
        }
        if self.queues == 0 || self.queues > MAX_QUEUES {
            out.push(Problem::new(
                KeyPath::of(&["queues"]),
                format!("must be within 1..={MAX_QUEUES}, got {}", self.queues),
            ));
        }
        if self.queue_depth > MAX_QUEUE_DEPTH {
            out.push(Problem::new(
                KeyPath::of(&["queue_depth"]),
                format!(
                    "must be at most {MAX_QUEUE_DEPTH} (requests outstanding per guest), got {}",
                    self.queue_depth
                ),
            ));
        }
        if self.rate_iops > MAX_RATE_IOPS {
            out.push(Problem::new(
                KeyPath::of(&["rate_iops"]),
                format!(
                    "must be at most {MAX_RATE_IOPS:e} I/Os per second, got {:?}",
                    self.rate_iops
                ),
            ));
        }
        if self.think_time_ns > MAX_THINK_TIME_NS {
            out.push(Problem::new(
                KeyPath::of(&["think_time_ns"]),
                format!(
                    "must be at most {MAX_THINK_TIME_NS:e} ns, got {:?}",
                    self.think_time_ns
                ),
            ));
        }
        if self.time_scale > MAX_TIME_SCALE {
            out.push(Problem::new(
                KeyPath::of(&["time_scale"]),
                format!(
                    "must be at most {MAX_TIME_SCALE}, got {:?}",
                    self.time_scale
                ),
            ));
        }
        if self.size_bytes.max_bytes() > MAX_REQUEST_BYTES {
            out.push(Problem::new(
                KeyPath::of(&["size_bytes"]),
                format!(
                    "requests must be at most {MAX_REQUEST_BYTES} bytes (1 GiB), got {}",
                    self.size_bytes.max_bytes()
                ),
            ));
        }
        if self.pattern == Pattern::Trace && self.trace.is_empty() {
            out.push(Problem::new(
                KeyPath::of(&["trace"]),
                "a trace guest needs the path of its trace file".to_string(),
            ));
        }
        if self.pattern == Pattern::Trace && !TRACE_FORMATS.contains(&self.trace_format.as_str()) {
            out.push(Problem::new(
                KeyPath::of(&["trace_format"]),
                format!(
                    "must be one of {}, got `{}`",
                    TRACE_FORMATS.join(", "),
                    self.trace_format
                ),
            ));
        }
        if !self.time_scale.is_finite() || self.time_scale <= 0.0 {
            out.push(Problem::new(
                KeyPath::of(&["time_scale"]),
                format!("must be a positive number, got {}", self.time_scale),
            ));
        }
        if self.pattern != Pattern::Trace && self.split != Split::None {
            out.push(Problem::new(
                KeyPath::of(&["split"]),
                "applies to trace guests only (pattern = \"trace\")".to_string(),
            ));
        }
        if self.split == Split::Bytes(0) {
            out.push(Problem::new(
                KeyPath::of(&["split"]),
                "must be at least 1 byte".to_string(),
            ));
        }
        if let Some(m) = self.max_request_bytes.filter(|&m| m > MAX_REQUEST_BYTES) {
            out.push(Problem::new(
                KeyPath::of(&["max_request_bytes"]),
                format!("must be at most {MAX_REQUEST_BYTES} bytes (1 GiB), got {m}"),
            ));
        }
        if self.max_request_bytes == Some(0) {
            out.push(Problem::new(
                KeyPath::of(&["max_request_bytes"]),
                "must be at least 1 byte".to_string(),
            ));
        }
        let max_pages = self.mapped_bytes().div_ceil(PAGE_BYTES);
        if u64::from(self.buffer_pages) < max_pages {
            out.push(Problem::new(
                KeyPath::of(&["buffer_pages"]),
                format!("must hold the largest request ({max_pages} pages)"),
            ));
        }
        out
    }
}

/// Largest request, bytes (1 GiB: far above any block or network request;
/// a bound so that page counts and byte totals cannot overflow).
pub const MAX_REQUEST_BYTES: u64 = 1 << 30;
/// Most requests a closed-loop guest keeps outstanding (`queue_depth`): 16x
/// the largest NVMe/blk-mq queue of 4,096 tags, and a bound on the run's
/// memory (every outstanding request is one object) and set-up time.
pub const MAX_QUEUE_DEPTH: u32 = 65_536;
/// Most rings (`queues`) per guest: blk-mq and virtio-net use at most one per
/// CPU; 1,024 bounds memory.
pub const MAX_QUEUES: u32 = 1_024;
/// Highest open-loop arrival rate, I/Os per second (1e9: far above any
/// device; a bound so interarrival times stay at least a cycle apart at any
/// supported clock).
pub const MAX_RATE_IOPS: f64 = 1e9;
/// Longest think time, ns (1,000 s).
pub const MAX_THINK_TIME_NS: f64 = 1e12;
/// Largest trace time scale (a trace slowed down a million times).
pub const MAX_TIME_SCALE: f64 = 1e6;

/// Trace formats a trace guest can name in `trace_format`.
pub const TRACE_FORMATS: [&str; 4] = ["tlbsim", "fio", "blkparse", "msr"];

/// One recorded request of a trace, as a [`RequestSource`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedRequest {
    /// Arrival time, ns from the start of the trace.
    pub at_ns: u64,
    /// Size, bytes.
    pub size_bytes: u64,
    /// Whether it is a read.
    pub read: bool,
    /// The trace's queue/thread of the request (mapped to a ring modulo the
    /// guest's `queues`).
    pub queue: u32,
    /// Byte offset on the device (not used by the TLB model; kept for
    /// statistics).
    pub offset: u64,
}

/// A bad record in a request source: the message names the file and line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What is wrong, with file and line.
    pub message: String,
}

/// A stream of recorded requests in arrival order (trace replay). Sources
/// stream: they hold one record at a time, whatever the trace's length.
pub trait RequestSource {
    /// The next request, `None` when exhausted, or an error for a bad or
    /// truncated record.
    fn next_request(&mut self) -> Option<Result<TimedRequest, SourceError>>;
}

/// The guest's buffer pool: consecutive requests use consecutive guest
/// pages, wrapping around, as a real guest's buffer pool does.
#[derive(Clone, Debug)]
pub struct BufferPool {
    pages: u32,
    next: u32,
}

impl BufferPool {
    /// A pool of `pages` guest pages.
    #[must_use]
    pub fn new(pages: u32) -> Self {
        Self { pages, next: 0 }
    }

    /// The first page for a request of `pages` pages (never straddles the
    /// pool's end).
    pub fn take(&mut self, pages: u32) -> u32 {
        if self.next + pages > self.pages {
            self.next = 0;
        }
        let first = self.next;
        self.next += pages;
        first
    }
}

/// One request as a guest issues it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    /// Size, bytes.
    pub size_bytes: u64,
    /// Whether it is a read.
    pub read: bool,
    /// Which of the guest's rings it goes on.
    pub queue: u32,
    /// Index of its first page in the guest's buffer pool.
    pub first_buffer_page: u32,
}

impl RequestSpec {
    /// Pages the request spans (whole 4 KiB pages, at least one).
    #[must_use]
    pub fn pages(&self) -> u32 {
        u32::try_from(self.size_bytes.div_ceil(PAGE_BYTES).max(1))
            .expect("request sizes are validated small")
    }
}

/// Draws a guest's requests and inter-arrival times from its own stream.
pub struct Generator {
    cfg: GuestConfig,
    rng: SimRng,
    pool: BufferPool,
    next_queue: u32,
    /// Mean inter-arrival, cycles (open loop).
    mean_interarrival_cycles: f64,
    /// Think time, cycles (closed loop).
    think_cycles: u64,
}

impl Generator {
    /// A generator for `cfg` on a machine clocked at `frequency_ghz`, drawing
    /// from `rng` (the guest's own stream).
    #[must_use]
    pub fn new(cfg: GuestConfig, frequency_ghz: f64, rng: SimRng) -> Self {
        let cycles_per_second = frequency_ghz * 1e9;
        let mean_interarrival_cycles = cycles_per_second / cfg.rate_iops.max(f64::MIN_POSITIVE);
        let think_cycles = round_cycles(cfg.think_time_ns * frequency_ghz);
        let pool = BufferPool::new(cfg.buffer_pages);
        Self {
            cfg,
            rng,
            pool,
            next_queue: 0,
            mean_interarrival_cycles,
            think_cycles,
        }
    }

    /// The guest's buffer pool (trace replay takes its pages from it too).
    pub fn buffer_pool(&mut self) -> &mut BufferPool {
        &mut self.pool
    }

    /// The guest's configuration.
    #[must_use]
    pub fn config(&self) -> &GuestConfig {
        &self.cfg
    }

    /// Cycles until the next open-loop arrival: exponential with mean
    /// `1 / rate_iops` (a Poisson process), at least 1 cycle.
    pub fn next_interarrival_cycles(&mut self) -> u64 {
        // Inverse transform on (0, 1]: never ln(0).
        let u: f64 = 1.0 - self.rng.random::<f64>();
        round_cycles(-sim_core::math::ln(u) * self.mean_interarrival_cycles).max(1)
    }

    /// Closed loop: cycles between a completion and the next request.
    #[must_use]
    pub fn think_cycles(&self) -> u64 {
        self.think_cycles
    }

    /// Draws the next request. Rings are used round-robin; buffer pages are
    /// used in order through the pool and wrap around.
    pub fn next_request(&mut self) -> RequestSpec {
        let size_bytes = self.cfg.size_bytes.draw(&mut self.rng);
        let read = self.rng.random::<f64>() < self.cfg.read_fraction;
        let queue = self.next_queue;
        self.next_queue = (self.next_queue + 1) % self.cfg.queues;
        let spec = RequestSpec {
            size_bytes,
            read,
            queue,
            first_buffer_page: 0,
        };
        let first_buffer_page = self.pool.take(spec.pages());
        RequestSpec {
            first_buffer_page,
            ..spec
        }
    }
}

/// From 2^52 on every `f64` is an integer: rounding is the identity.
const INTEGRAL_FROM: f64 = 4_503_599_627_370_496.0;

/// Rounds a non-negative cycle count given as `f64` to `u64`.
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to [0, 2^63] first"
)]
#[inline]
pub fn round_cycles(x: f64) -> u64 {
    if !(x.is_finite() && x > 0.0) {
        0
    } else if x < INTEGRAL_FROM {
        // `x.round()` (half away from zero) without the library call that
        // baseline x86-64 makes for it: `t` is exact (`x < 2^52`), and so
        // is `x - t` (Sterbenz: `t <= x < t + 1`), so this is exactly
        // `x.round()` (tested against it).
        let t = x as u64;
        #[allow(clippy::cast_precision_loss, reason = "t < 2^52: exact")]
        let frac = x - t as f64;
        t + u64::from(frac >= 0.5)
    } else {
        x.min(9.2e18) as u64
    }
}

/// [`round_cycles`] of each of `xs`, into `out`, bit for bit: the common
/// case (`0 < x < 2^52`) without a branch per value, which the compiler
/// vectorizes; any other value is rounded by `round_cycles` itself.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "0 < x < 2^52 on the common path: exact conversions"
)]
pub fn round_cycles_each<const N: usize>(xs: &[f64; N], out: &mut [u64; N]) {
    sim_core::math::each_with_fallback(
        xs,
        out,
        // `!(x > 0 && x < 2^52)`, also true for NaN, without a branch.
        |x| !((x > 0.0) & (x < INTEGRAL_FROM)),
        // In range, `x as i64` truncates exactly as `x as u64` does, and
        // converting back is exact (as in `round_cycles`).
        |x| {
            let t = x as i64;
            (t as u64) + u64::from(x - t as f64 >= 0.5)
        },
        round_cycles,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::rng_stream;

    /// `round_cycles_each` is `round_cycles` of each value, at the
    /// boundaries and at random values of every magnitude.
    #[test]
    fn round_cycles_each_is_round_cycles() {
        use rand::RngExt;
        let mut rng = rng_stream(3, 0);
        let mut xs: Vec<f64> = vec![
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            -1.0,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.3e18,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
        ];
        for _ in 0..400_000 {
            let e: i32 = rng.random_range(-60..70);
            xs.push(rng.random::<f64>() * 2f64.powi(e));
            xs.push(f64::from_bits(rng.random()));
            xs.push(rng.random_range(0..1u64 << 40) as f64 + 0.5);
        }
        for chunk in xs.chunks(32) {
            let mut a = [0.0; 32];
            a[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0u64; 32];
            round_cycles_each(&a, &mut out);
            for (x, r) in a.iter().zip(out) {
                assert_eq!(r, round_cycles(*x), "{x:e}");
            }
        }
    }

    /// `round_cycles` is exactly `x.round().min(9.2e18) as u64` for
    /// positive finite `x` and 0 otherwise, at the boundaries and at random
    /// bit patterns of every magnitude.
    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        clippy::cast_possible_wrap,
        reason = "a reference of the same casts, and test inputs built from bits"
    )]
    fn round_cycles_equals_the_library_round() {
        fn reference(x: f64) -> u64 {
            if x.is_finite() && x > 0.0 {
                x.round().min(9.2e18) as u64
            } else {
                0
            }
        }
        let mut xs = vec![
            0.0,
            -0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            1e-300,
            f64::MIN_POSITIVE,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            4_503_599_627_370_497.0,
            9.2e18,
            9.3e18,
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -3.5,
        ];
        let mut bits = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..200_000 {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            xs.push(f64::from_bits(bits));
            // Magnitudes a cost takes: 2^-10 to 2^70, with half-way points.
            let e = (bits >> 58) as i32 + (bits >> 52 & 0xF) as i32 - 10;
            let m = (bits & 0xFFFF_FFFF) as f64 / 4_294_967_296.0;
            xs.push((1.0 + m) * 2f64.powi(e));
            xs.push(((bits & 0xFFFF_FFFF) as f64) + 0.5);
        }
        for x in xs {
            assert_eq!(
                round_cycles(x),
                reference(x),
                "x = {x:e} ({:#x})",
                x.to_bits()
            );
        }
    }

    #[test]
    fn poisson_mean_matches_rate() {
        let cfg = GuestConfig {
            pattern: Pattern::Open,
            rate_iops: 1e6,
            ..GuestConfig::default()
        };
        let mut g = Generator::new(cfg, 2.5, rng_stream(1, 7));
        let n = 200_000u32;
        let total: u64 = (0..n).map(|_| g.next_interarrival_cycles()).sum();
        let mean = total as f64 / f64::from(n);
        // 2.5 GHz / 1 MIOPS = 2,500 cycles; standard error 2500/sqrt(n) ~ 5.6.
        assert!((mean - 2_500.0).abs() < 30.0, "mean {mean}");
    }

    #[test]
    fn uniform_sizes_are_aligned_and_in_range() {
        let s = SizeSpec::Uniform {
            min: 4096,
            max: 45_056,
            align: 4096,
        };
        let mut rng = rng_stream(3, 0);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..10_000 {
            let v = s.draw(&mut rng);
            assert!((4096..=45_056).contains(&v) && v.is_multiple_of(4096));
            seen.insert(v);
        }
        assert_eq!(seen.len(), 11, "all 11 segment counts drawn");
    }

    #[test]
    fn weighted_choice_respects_weights() {
        let s = SizeSpec::Choice {
            values: vec![64, 1500],
            weights: vec![3.0, 1.0],
        };
        let mut rng = rng_stream(3, 1);
        let small = (0..40_000).filter(|_| s.draw(&mut rng) == 64).count();
        assert!((29_000..31_000).contains(&small), "{small}");
    }

    #[test]
    fn buffers_cycle_through_pool() {
        let cfg = GuestConfig {
            size_bytes: SizeSpec::Fixed(8192),
            buffer_pages: 5,
            ..GuestConfig::default()
        };
        let mut g = Generator::new(cfg, 2.5, rng_stream(1, 1));
        let firsts: Vec<u32> = (0..4).map(|_| g.next_request().first_buffer_page).collect();
        assert_eq!(firsts, vec![0, 2, 0, 2]);
    }

    #[test]
    fn problems_are_reported() {
        let cfg = GuestConfig {
            read_fraction: 1.5,
            queues: 0,
            ..GuestConfig::default()
        };
        let keys: Vec<String> = cfg.problems().iter().map(|p| p.key.to_string()).collect();
        assert_eq!(keys, ["read_fraction", "queues"]);
    }
}
