//! Queueing theory against the whole engine: one registered CPU, Poisson
//! arrivals, (near-)deterministic or exponential service, nothing else on the
//! machine. The mean wait on the ring (`breakdown.queue`, arrival to dequeue)
//! must match Pollaczek-Khinchine:
//!
//! ```text
//! M/G/1:  Wq = lambda * E[S^2] / (2 (1 - rho)),  rho = lambda * E[S]
//! M/D/1:  Wq = rho * S / (2 (1 - rho))           (E[S^2] = S^2)
//! M/M/1:  Wq = rho * S / (1 - rho)               (E[S^2] = 2 S^2)
//! ```
//!
//! This checks the event engine (ordering, time), the arrival process
//! (Poisson at `rate_iops`), the service path and the latency accounting
//! together. See VALIDATION.md for the choice of S and the tolerance.

use machine::{Distribution, SimConfig};
use workloads::{GuestConfig, Pattern, SizeSpec};

/// Mean protocol-processing time, cycles: dominates the service time.
const PROCESS: u64 = 100_000;
/// Measured I/Os per replication, after `WARMUP`.
const IOS: u64 = 100_000;
const WARMUP: u64 = 2_000;
/// Independent replications (seeds) per utilisation.
const REPS: u64 = 16;

/// Replications: `REPS`, or `TLBSIM_QUEUEING_REPS` for a longer study.
fn reps() -> u64 {
    std::env::var("TLBSIM_QUEUEING_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(REPS)
}
const GHZ: f64 = 2.5;

/// One registered CPU and nothing else: no background, no notify latency,
/// one 4 KiB request touched once, a fixed or exponential processing time.
fn config(rate_iops: f64, dist: Distribution, seed: u64) -> SimConfig {
    let mut c = SimConfig {
        seed,
        ..SimConfig::default()
    };
    c.stop.ios = IOS;
    c.stop.warmup_ios = WARMUP;
    c.machine.cpus = 1;
    c.machine.frequency_ghz = GHZ;
    c.host.io_cpus = 1;
    c.host.touch = machine::Touch::Page;
    c.host.process_cycles = PROCESS;
    c.host.process_distribution = dist;
    c.background.enabled = false;
    c.costs.notify_cycles = 0;
    c.guests = vec![GuestConfig {
        pattern: Pattern::Open,
        rate_iops,
        size_bytes: SizeSpec::Fixed(4096),
        queues: 1,
        ..GuestConfig::default()
    }];
    c
}

struct Measured {
    /// Mean wait on the ring, cycles.
    wq: f64,
    /// Mean service time (everything after the dequeue), cycles.
    s: f64,
    /// Mean of the part of the service that is not protocol processing.
    fixed: f64,
}

#[allow(clippy::cast_precision_loss, reason = "means of cycle counts")]
fn measure(rate_iops: f64, dist: Distribution, seed: u64) -> Measured {
    let cfg = config(rate_iops, dist, seed);
    let policy = Box::new(hypervisor::PerCpuSlots::new(64));
    let (r, _) = machine::run(&cfg, policy).expect("runs");
    let b = r.breakdown;
    let n = r.io_completed as f64;
    assert!(r.io_completed >= IOS, "completed {}", r.io_completed);
    let service = b.map + b.migration + b.data + b.process + b.unmap + b.flush_wait + b.complete;
    Measured {
        wq: b.queue as f64 / n,
        s: service as f64 / n,
        fixed: (service - b.process) as f64 / n,
    }
}

/// Runs `REPS` replications at utilisation `rho` and compares with P-K.
/// Returns (relative error, relative standard error).
#[allow(clippy::cast_precision_loss, reason = "statistics")]
fn check(rho: f64, dist: Distribution) -> (f64, f64) {
    // The deterministic part of the service (dequeue, map hypercall, local
    // flush, one TLB lookup and walk, unmap hypercall, completion) is
    // measured from a short pilot run, not recomputed from the cost table:
    // the check is about the queue, not about re-deriving the service path.
    let fixed = measure(1_000.0, Distribution::Fixed, 999).fixed;
    let m = PROCESS as f64;
    let es = fixed + m;
    let es2 = match dist {
        Distribution::Fixed => es * es,
        // S = fixed + X, X ~ Exp(m): E[S^2] = (fixed + m)^2 + m^2.
        Distribution::Exponential => es * es + m * m,
        // X with mean m and coefficient of variation cv: Var X = (cv m)^2;
        // uniform on m[1 - s, 1 + s]: Var X = (s m)^2 / 3.
        Distribution::Lognormal { cv } => es * es + (cv * m).powi(2),
        Distribution::Uniform { spread } => es * es + (spread * m).powi(2) / 3.0,
    };
    let lambda_per_cycle = rho / es;
    let rate_iops = lambda_per_cycle * GHZ * 1e9;
    let theory = lambda_per_cycle * es2 / (2.0 * (1.0 - rho));
    let runs: Vec<Measured> = (1..=reps())
        .map(|seed| measure(rate_iops, dist, seed))
        .collect();
    let means: Vec<f64> = runs.iter().map(|x| x.wq).collect();
    let k = reps() as f64;
    let mean = means.iter().sum::<f64>() / k;
    let var = means.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let se = (var / k).sqrt();
    let s_meas = runs.iter().map(|x| x.s).sum::<f64>() / k;
    let rel = mean / theory - 1.0;
    println!(
        "{dist:?} rho={rho:.2}: E[S] theory {es:.0} measured {s_meas:.0} cycles; \
         Wq theory {theory:.0} measured {mean:.0} cycles ({:+.2}%), \
         standard error {se:.0} ({:.2}%), {} x {IOS} I/Os",
        100.0 * rel,
        100.0 * se / theory,
        reps()
    );
    // The service really is what the formula assumes (within the noise of
    // the exponential draws: sd(S) / sqrt(n) is 0.3% of m per run).
    assert!(
        (s_meas / es - 1.0).abs() < 0.005,
        "service {s_meas} vs {es}"
    );
    (rel, se / theory)
}

fn assert_agrees(rho: f64, dist: Distribution) {
    let (rel, se) = check(rho, dist);
    // Tolerance: three standard errors of the mean wait (measured across the
    // independent replications), and the run is long enough that this is a
    // few percent (see VALIDATION.md).
    assert!(
        se < 0.03,
        "run too short for a few-percent check: SE {:.2}%",
        100.0 * se
    );
    assert!(
        rel.abs() < 3.0 * se,
        "{dist:?} at rho {rho}: mean wait off by {:+.2}% (3 SE = {:.2}%)",
        100.0 * rel,
        300.0 * se
    );
}

#[test]
fn md1_low_utilisation() {
    assert_agrees(0.3, Distribution::Fixed);
}

#[test]
fn md1_half() {
    assert_agrees(0.5, Distribution::Fixed);
}

#[test]
fn md1_high_utilisation() {
    assert_agrees(0.8, Distribution::Fixed);
}

#[test]
fn mm1_low_utilisation() {
    assert_agrees(0.3, Distribution::Exponential);
}

#[test]
fn mm1_half() {
    assert_agrees(0.5, Distribution::Exponential);
}

#[test]
fn mm1_high_utilisation() {
    assert_agrees(0.7, Distribution::Exponential);
}

/// M/G/1 with a log-normal processing time (cv 1.5, heavier than
/// exponential): the Pollaczek-Khinchine mean wait holds for any service
/// distribution, so it checks the log-normal draws through the machine.
#[test]
fn mg1_lognormal_half() {
    assert_agrees(0.5, Distribution::Lognormal { cv: 1.5 });
}
