//! One simulation of one scenario under one policy: the single place where
//! a scenario's guests get their request sources.

use hypervisor::{BuildContext, PolicySpec, Registry};
use machine::{EngineStats, NoObserver, Observer, RunResult, SimError, Sources};
use scenarios::Scenario;
use workloads::Pattern;

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
    let ctx = BuildContext {
        max_request_pages: sc.config.max_request_pages(),
    };
    let policy = Registry::builtin().build(policy, &ctx)?;
    machine::Simulation::with_parts(&sc.config, policy, trace_sources(sc)?, obs)?
        .run_observed(sc.config.stop.max_cycles)
}

/// A streaming reader of each trace guest's file (paths are absolute once
/// the scenario is loaded), `None` for synthetic guests.
fn trace_sources(sc: &Scenario) -> Result<Sources, SimError> {
    sc.config
        .guests
        .iter()
        .enumerate()
        .map(|(g, gc)| {
            if gc.pattern != Pattern::Trace {
                return Ok(None);
            }
            traces::open_source(
                std::path::Path::new(&gc.trace),
                &gc.trace_format,
                gc.trace_device,
            )
            .map(Some)
            .map_err(|e| SimError::Trace {
                guest: u32::try_from(g).unwrap_or(u32::MAX),
                message: e.to_string(),
            })
        })
        .collect()
}
