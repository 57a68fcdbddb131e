//! Variability: each cost of the cost table drawn per use from its
//! distribution (`[variability.costs]`), and interrupts-off sections on IPI
//! targets (`[variability.irq_off]`).
//!
//! Each variable cost has its own random stream
//! (`sim_core::rng_stream(seed, STREAM_COST_BASE + index)`, index in
//! [`CostDistributions::entries`] order) and irq-off sections theirs, so
//! making one cost variable leaves every other draw of the run unchanged,
//! and a fixed cost draws no random number at all: a scenario without
//! `[variability]` runs exactly as before it existed.

use crate::config::{CostDistributions, IrqOffConfig, VARIABLE_COSTS};
use cpu_model::CostTable;
use rand::RngExt;
use sim_core::{rng_stream, SimRng};

/// First random-stream id of the variable costs (one stream per cost).
pub(in crate::sim) const STREAM_COST_BASE: u64 = 2_000_000;
/// The random stream of interrupts-off sections.
pub(in crate::sim) const STREAM_IRQ_OFF: u64 = 3_000_000;

/// A cost of the cost table that may vary, by its index in
/// [`CostDistributions::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "each is the cost of the same name")]
pub(super) enum Cost {
    Invlpg = 0,
    FullFlush,
    Hypercall,
    MapPage,
    UnmapPage,
    IpiSend,
    IpiDelivery,
    IpiReceive,
    IpiHypercall,
    IpiHandler,
    Ack,
    FlushLock,
    MapLock,
    MapLockWake,
    Dequeue,
    Notify,
    Complete,
    DataLine,
    Migrate,
}

/// How many draws of one cost are made at a time ([`Drawn::next`]).
const DRAW_BATCH: usize = 32;

/// One variable cost: its mean, distribution and stream (`None`: fixed).
///
/// Draws are made [`DRAW_BATCH`] at a time into `batch` and handed out in
/// order. The stream is this cost's alone and the distribution is fixed
/// for the run, so the values and their order are exactly those of one
/// draw per use: batching only lets the independent draws (each a chain
/// of `ln`, `sqrt`, `cos` and `exp`) be computed side by side
/// ([`Drawing::draw_into`](crate::config::Drawing::draw_into)).
struct Drawn {
    mean: u64,
    /// Its distribution, parameters computed once.
    drawing: crate::config::Drawing,
    rng: Option<SimRng>,
    /// Draws made and not yet used: `batch[next..]`.
    batch: [u64; DRAW_BATCH],
    next: usize,
}

impl Drawn {
    /// The next draw of a variable cost from its stream `rng`.
    #[inline(always)]
    fn next(&mut self) -> u64 {
        if self.next == DRAW_BATCH {
            self.refill();
        }
        let v = self.batch[self.next];
        self.next += 1;
        v
    }

    /// Makes the next [`DRAW_BATCH`] draws (out of line: one use in
    /// `DRAW_BATCH` needs it, and the rest stay a load and an increment).
    #[inline(never)]
    fn refill(&mut self) {
        let rng = self.rng.as_mut().expect("a variable cost has a stream");
        self.drawing.draw_into(rng, &mut self.batch);
        self.next = 0;
    }
}

/// The run's cost draws and irq-off sections.
pub(super) struct Variability {
    costs: Vec<Drawn>,
    irq_off: IrqOffConfig,
    irq_rng: SimRng,
}

impl Variability {
    pub(super) fn new(
        seed: u64,
        costs: &CostTable,
        dists: &CostDistributions,
        irq_off: IrqOffConfig,
    ) -> Self {
        let costs = dists
            .entries(costs)
            .into_iter()
            .zip(0u64..)
            .map(|((_, dist, mean), i)| Drawn {
                mean,
                drawing: dist.with_mean(mean),
                rng: (!dist.is_fixed()).then(|| rng_stream(seed, STREAM_COST_BASE + i)),
                batch: [0; DRAW_BATCH],
                next: DRAW_BATCH,
            })
            .collect::<Vec<_>>();
        debug_assert_eq!(costs.len(), VARIABLE_COSTS);
        Self {
            costs,
            irq_off,
            irq_rng: rng_stream(seed, STREAM_IRQ_OFF),
        }
    }

    /// One use of cost `c`: its mean when fixed, else a draw from its
    /// stream.
    #[inline(always)]
    pub(super) fn draw(&mut self, c: Cost) -> u64 {
        let d = &mut self.costs[c as usize];
        if d.rng.is_none() {
            return d.mean;
        }
        d.next()
    }

    /// `costs` with the per-shootdown sender costs (`ipi_send_cycles`,
    /// `ipi_hypercall_cycles`) drawn for one shootdown.
    pub(super) fn sender_costs(&mut self, costs: &CostTable) -> CostTable {
        let mut out = costs.clone();
        out.ipi_send_cycles = self.draw(Cost::IpiSend);
        out.ipi_hypercall_cycles = self.draw(Cost::IpiHypercall);
        out
    }

    /// How long an arriving IPI waits for its target to enable interrupts
    /// again: 0 unless it found it inside an irq-off section.
    pub(super) fn irq_off_delay(&mut self) -> u64 {
        let p = self.irq_off.probability;
        if p <= 0.0 || self.irq_off.mean_cycles == 0 {
            return 0;
        }
        if self.irq_rng.random::<f64>() >= p {
            return 0;
        }
        self.irq_off
            .distribution
            .draw(self.irq_off.mean_cycles, &mut self.irq_rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Distribution;

    fn mean_and_cv(d: Distribution, mean: u64, n: u32) -> (f64, f64) {
        let mut rng = rng_stream(7, 0);
        let xs: Vec<f64> = (0..n).map(|_| d.draw(mean, &mut rng) as f64).collect();
        let m = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / f64::from(n);
        (m, var.sqrt() / m)
    }

    #[test]
    fn each_distribution_keeps_its_mean_and_spread() {
        let n = 200_000;
        let (m, cv) = mean_and_cv(Distribution::Fixed, 1_000, 10);
        assert_eq!((m, cv), (1_000.0, 0.0));
        let (m, cv) = mean_and_cv(Distribution::Exponential, 1_000, n);
        assert!(
            (m - 1_000.0).abs() < 10.0 && (cv - 1.0).abs() < 0.02,
            "{m} {cv}"
        );
        let (m, cv) = mean_and_cv(Distribution::Lognormal { cv: 0.5 }, 1_000, n);
        assert!(
            (m - 1_000.0).abs() < 10.0 && (cv - 0.5).abs() < 0.02,
            "{m} {cv}"
        );
        // Uniform on [800, 1200]: cv = 0.2 / sqrt(3).
        let (m, cv) = mean_and_cv(Distribution::Uniform { spread: 0.2 }, 1_000, n);
        assert!((m - 1_000.0).abs() < 2.0, "{m}");
        assert!((cv - 0.2 / 3f64.sqrt()).abs() < 0.005, "{cv}");
    }

    /// A batch is bit for bit the draws one at a time, for every shape,
    /// at means from 1 cycle to 10^12 and spreads up to the largest cv
    /// allowed, and the stream is left where single draws leave it.
    #[test]
    fn batched_draws_are_the_single_draws() {
        let shapes = [
            Distribution::Fixed,
            Distribution::Uniform { spread: 0.7 },
            Distribution::Exponential,
            Distribution::Lognormal { cv: 0.05 },
            Distribution::Lognormal { cv: 0.5 },
            Distribution::Lognormal { cv: 10.0 },
        ];
        for (i, d) in shapes.into_iter().enumerate() {
            for mean in [1, 7, 1_000, 123_457, 1_000_000_000_000] {
                let drawing = d.with_mean(mean);
                let mut one = rng_stream(11, i as u64);
                let mut many = one.clone();
                for _ in 0..40 {
                    let mut batch = [0u64; DRAW_BATCH];
                    drawing.draw_into(&mut many, &mut batch);
                    let singles: Vec<u64> =
                        (0..DRAW_BATCH).map(|_| drawing.draw(&mut one)).collect();
                    assert_eq!(batch.as_slice(), singles.as_slice(), "{d:?} mean {mean}");
                }
                assert_eq!(one.random::<u64>(), many.random::<u64>(), "{d:?}");
            }
        }
    }

    #[test]
    fn fixed_costs_draw_nothing_and_streams_are_independent() {
        let costs = CostTable::default();
        let fixed = CostDistributions::default();
        let mut v = Variability::new(1, &costs, &fixed, IrqOffConfig::default());
        assert_eq!(v.draw(Cost::IpiHandler), costs.ipi_handler_cycles);
        assert_eq!(v.irq_off_delay(), 0);
        // Varying a second cost does not change the first's draws.
        let one = CostDistributions {
            ipi_handler_cycles: Distribution::Exponential,
            ..CostDistributions::default()
        };
        let two = CostDistributions {
            ack_cycles: Distribution::Lognormal { cv: 1.0 },
            ..one
        };
        let mut a = Variability::new(1, &costs, &one, IrqOffConfig::default());
        let mut b = Variability::new(1, &costs, &two, IrqOffConfig::default());
        let mut acks = 0;
        for _ in 0..100 {
            acks += b.draw(Cost::Ack);
            assert_eq!(a.draw(Cost::IpiHandler), b.draw(Cost::IpiHandler));
            assert_eq!(a.draw(Cost::Ack), costs.ack_cycles);
        }
        assert_ne!(acks, 100 * costs.ack_cycles);
    }

    #[test]
    fn irq_off_sections_come_with_their_probability() {
        let irq = IrqOffConfig {
            probability: 0.25,
            mean_cycles: 4_000,
            distribution: Distribution::Fixed,
        };
        let mut v = Variability::new(3, &CostTable::default(), &CostDistributions::default(), irq);
        let hits = (0..40_000).filter(|_| v.irq_off_delay() == 4_000).count();
        assert!((9_500..10_500).contains(&hits), "{hits}");
    }

    #[test]
    fn cost_indices_follow_the_entries() {
        let names: Vec<&str> = CostDistributions::default()
            .entries(&CostTable::default())
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(names[Cost::Invlpg as usize], "invlpg_cycles");
        assert_eq!(names[Cost::IpiHandler as usize], "ipi_handler_cycles");
        assert_eq!(names[Cost::Migrate as usize], "migrate_cycles");
        assert_eq!(names.len(), VARIABLE_COSTS);
    }
}
