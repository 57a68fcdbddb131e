//! One simulation of one scenario under one policy, with its trace sources.

use hypervisor::PolicySpec;
use machine::{EngineStats, NoObserver, Observer, RunResult, SimError};
use scenarios::Scenario;

/// Simulates `sc` under `policy`.
///
/// # Errors
/// The model reported an error, or a trace could not be opened or read.
pub fn simulate(sc: &Scenario, policy: &PolicySpec) -> Result<(RunResult, EngineStats), SimError> {
    simulate_observed(sc, policy, NoObserver).map(|(r, e, _)| (r, e))
}

/// Simulates `sc` under `policy`, reporting to `obs` (the timeline), and
/// hands the observer back.
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
