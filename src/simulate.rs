//! One simulation of one scenario under one policy: the single place where
//! a scenario's guests get their request sources.

use machine::{EngineStats, PolicyKind, RunResult, SimError};
use scenarios::Scenario;

/// Simulates `sc` under `policy`.
///
/// # Errors
/// The model reported an error.
pub fn simulate(sc: &Scenario, policy: PolicyKind) -> Result<(RunResult, EngineStats), SimError> {
    machine::run(&sc.config, policy)
}
