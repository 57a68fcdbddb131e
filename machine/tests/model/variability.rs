//! Variability of costs (`[variability.costs]`) and interrupts-off sections
//! (`[variability.irq_off]`) through the whole machine.

use super::{base, go};
use machine::{
    CostDistributions, Distribution, IrqOffConfig, RunResult, SimConfig, VariabilityConfig,
};

/// IPI costs log-normal, and targets sometimes with interrupts off.
fn varied(seed: u64) -> SimConfig {
    let ln = Distribution::Lognormal { cv: 1.0 };
    SimConfig {
        seed,
        variability: VariabilityConfig {
            costs: CostDistributions {
                ipi_delivery_cycles: ln,
                ipi_handler_cycles: ln,
                ..CostDistributions::default()
            },
            irq_off: IrqOffConfig {
                probability: 0.05,
                mean_cycles: 10_000,
                distribution: Distribution::Exponential,
            },
        },
        ..base(4_000)
    }
}

#[test]
fn varying_ipi_costs_spreads_global_latency_and_seeds_differ() {
    let fixed = go(&base(4_000), "global");
    // Fixed costs, closed loop: every request waits the same.
    assert_eq!(fixed.latency.p50, fixed.latency.p99);
    let a = go(&varied(1), "global");
    let b = go(&varied(2), "global");
    #[allow(clippy::cast_precision_loss, reason = "a ratio")]
    let tail = a.latency.p99 as f64 / a.latency.p50 as f64;
    assert!(tail > 1.05, "p99/p50 = {tail}");
    assert_ne!(a.sim_cycles, b.sim_cycles, "seeds 1 and 2 agree");
    assert_eq!(a.stale_uses(), 0);
    // Same seed, same run.
    let again = go(&varied(1), "global");
    assert_eq!(a.sim_cycles, again.sim_cycles);
    assert_eq!(a.latency, again.latency);
    // The same mean costs, yet a slower mean: the initiator waits for the
    // slowest of its 7 targets, and the mean of a maximum is above the
    // maximum of the means (and irq-off sections only add).
    let mean_ratio = a.latency.mean / fixed.latency.mean;
    assert!((1.0..3.0).contains(&mean_ratio), "{mean_ratio}");
}

#[test]
fn a_cost_that_is_never_used_changes_nothing() {
    // percpu sends no IPI: varying IPI costs and irq-off sections draws
    // nothing (each cost has its own stream), so the run is the fixed one.
    let fixed = go(&base(2_000), "percpu");
    let mut cfg = varied(1);
    cfg.stop = base(2_000).stop;
    let v = go(&cfg, "percpu");
    assert_eq!(fixed.sim_cycles, v.sim_cycles);
    assert_eq!(fixed.latency, v.latency);
    // Varying a cost percpu does use changes its run.
    cfg.variability.costs.hypercall_cycles = Distribution::Uniform { spread: 0.5 };
    let h = go(&cfg, "percpu");
    assert_ne!(fixed.latency, h.latency);
    assert_eq!(h.stale_uses(), 0);
}

#[test]
fn irq_off_sections_delay_the_shootdown() {
    let mut cfg = base(2_000);
    let plain = go(&cfg, "global");
    cfg.variability.irq_off = IrqOffConfig {
        probability: 0.2,
        mean_cycles: 20_000,
        distribution: Distribution::Fixed,
    };
    let off = go(&cfg, "global");
    let wait = |r: &RunResult| r.breakdown.flush_wait / r.io_completed.max(1);
    // 7 targets, each off with probability 0.2: most shootdowns wait for
    // at least one 20,000-cycle section.
    assert!(
        wait(&off) > wait(&plain) + 5_000,
        "flush wait {} vs {}",
        wait(&off),
        wait(&plain)
    );
    assert_eq!(off.stale_uses(), 0);
}
