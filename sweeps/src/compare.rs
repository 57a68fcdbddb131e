//! One scenario under each of its policies, simulated in parallel, and the
//! comparison's reports: what `tlbsim run` and the Python package
//! (`python/`) both do, so neither repeats the other.

use std::time::Instant;

use hypervisor::PolicySpec;
use machine::{EngineStats, NoObserver, Observer, RunResult, SimError};
use rayon::prelude::*;
use scenarios::Scenario;

use crate::SweepError;

/// Simulates `sc` under `policy`: builds the policy with
/// [`Scenario::build_policy`] and the trace sources with
/// [`scenarios::trace_sources`].
///
/// # Errors
/// The model reported an error, or a trace could not be opened or read.
pub fn simulate(sc: &Scenario, policy: &PolicySpec) -> Result<(RunResult, EngineStats), SimError> {
    simulate_observed(sc, policy, NoObserver).map(|(r, e, _)| (r, e))
}

/// [`simulate`], reporting to `obs` (e.g. a timeline), which it hands back.
///
/// # Errors
/// As [`simulate`].
pub fn simulate_observed<O: Observer>(
    sc: &Scenario,
    policy: &PolicySpec,
    obs: O,
) -> Result<(RunResult, EngineStats, O), SimError> {
    let policy = sc.build_policy(policy)?;
    let sources = scenarios::trace_sources(&sc.config)?;
    machine::Simulation::with_parts(&sc.config, policy, sources, obs)?
        .run_observed(sc.config.stop.max_cycles)
}

/// A per-I/O run's rows did not match its count of measured I/Os.
#[derive(Debug, thiserror::Error)]
#[error("per-I/O rows of {policy}: {rows} written for {ios} I/Os measured")]
struct RowCount {
    policy: String,
    rows: u64,
    ios: u64,
}

/// [`compare`] with [`simulate`], also writing one CSV row per measured
/// I/O of every policy to `file` (`tlbsim run --per-io`; see
/// [`reports::PerIoWriter`]): streamed into per-policy part files while the
/// policies run in parallel, then joined atomically in policy order. On
/// error no part file is left and `file` is untouched.
///
/// # Errors
/// As [`compare`], or a per-I/O file cannot be written.
pub fn compare_per_io(
    sc: &Scenario,
    jobs: usize,
    file: &std::path::Path,
) -> Result<Comparison, SweepError> {
    let one = |sc: &Scenario,
               p: &PolicySpec|
     -> Result<(RunResult, EngineStats), Box<dyn std::error::Error + Send + Sync>> {
        let w = reports::PerIoWriter::create(file, &p.to_string())?;
        let (r, e, w) = simulate_observed(sc, p, w)?;
        let rows = w.finish()?;
        if rows != r.io_completed {
            return Err(Box::new(RowCount {
                policy: p.to_string(),
                rows,
                ios: r.io_completed,
            }));
        }
        Ok((r, e))
    };
    let names: Vec<String> = sc.policies.iter().map(ToString::to_string).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match compare(sc, jobs, one) {
        Ok(c) => {
            reports::join_per_io(file, &names).map_err(|error| SweepError::Write { error })?;
            Ok(c)
        }
        Err(e) => {
            reports::discard_per_io(file, &names);
            Err(e)
        }
    }
}

/// One policy's run within a [`Comparison`].
#[derive(Clone, Debug)]
pub struct EngineEntry {
    /// The policy's name.
    pub policy: String,
    /// The engine's own statistics.
    pub stats: EngineStats,
    /// Wall-clock seconds of this simulation.
    pub wall_seconds: f64,
}

/// The runs of every policy of a scenario, in the scenario's policy order.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One result per policy.
    pub runs: Vec<RunResult>,
    /// One engine entry per policy.
    pub engines: Vec<EngineEntry>,
    /// Wall-clock seconds of the whole comparison.
    pub wall_seconds: f64,
}

impl Comparison {
    /// The report of these runs of `sc` (summary.json, summary.csv, the
    /// table and report.html are made from it).
    #[must_use]
    pub fn report<'a>(&'a self, sc: &'a Scenario) -> reports::Report<'a> {
        reports::Report {
            version: crate::VERSION,
            scenario_name: &sc.name,
            scenario_hash: &sc.hash,
            seed: sc.config.seed,
            runs: &self.runs,
        }
    }

    /// engine.json of these runs.
    #[must_use]
    pub fn engine_json(&self) -> String {
        let runs: Vec<reports::EngineRun<'_>> = self
            .engines
            .iter()
            .map(|e| reports::EngineRun {
                policy: &e.policy,
                stats: &e.stats,
                wall_seconds: e.wall_seconds,
            })
            .collect();
        reports::engine_json(crate::VERSION, &runs, self.wall_seconds)
    }
}

/// Simulates `sc` under each of its policies with `simulate` (e.g.
/// [`simulate`]) on `jobs` threads (0: one per core); results do not depend
/// on `jobs`.
///
/// # Errors
/// The scenario names no policy, the threads cannot start, or a simulation
/// failed (the first policy's error, in policy order).
pub fn compare<F, E>(sc: &Scenario, jobs: usize, simulate: F) -> Result<Comparison, SweepError>
where
    F: Fn(&Scenario, &PolicySpec) -> Result<(RunResult, EngineStats), E> + Sync,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    if sc.policies.is_empty() {
        return Err(SweepError::NoScenarioPolicy {
            scenario: sc.name.clone(),
        });
    }
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|error| SweepError::Threads { error })?;
    let outcomes: Vec<Result<(RunResult, EngineStats, f64), E>> = pool.install(|| {
        sc.policies
            .par_iter()
            .map(|p| {
                let t = Instant::now();
                simulate(sc, p).map(|(r, e)| (r, e, t.elapsed().as_secs_f64()))
            })
            .collect()
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    let mut engines = Vec::new();
    for (p, o) in sc.policies.iter().zip(outcomes) {
        let (r, stats, wall) = o.map_err(|e| SweepError::Policy {
            policy: p.to_string(),
            error: e.into(),
        })?;
        runs.push(r);
        engines.push(EngineEntry {
            policy: p.to_string(),
            stats,
            wall_seconds: wall,
        });
    }
    Ok(Comparison {
        runs,
        engines,
        wall_seconds,
    })
}
