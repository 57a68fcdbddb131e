//! The simulated machine: CPUs with private TLBs, the hypervisor's
//! page-table manager, the host domain's backend driver and the guests,
//! wired into one discrete-event model ([`Simulation`]).
//!
//! Input is a plain [`SimConfig`] and a mapping policy (a
//! [`hypervisor::MappingPolicy`], whose plans the machine carries out
//! without knowing which policy it runs); output a plain
//! [`RunResult`]. Architecture invariant: this crate knows nothing of files,
//! the scenario format or the CLI (no serde: `scenarios` owns the input
//! format and converts it into these types).

mod config;
mod memory;
mod observe;
mod sim;
mod stats;
mod vcpu_config;

pub use config::*;
pub use memory::{MemoryEstimate, PROCESS_BYTES};
pub use observe::{IoRecord, IpiRecord, NoObserver, Observer, SliceKind};
pub use sim::{EngineStats, Event, SimError, Simulation, Sources, BACKGROUND_ASID};
pub use stats::*;
pub use vcpu_config::*;

/// Simulates `cfg` under `policy` to its stop condition.
///
/// # Errors
/// The configuration has problems, or the model detected a broken invariant.
pub fn run(
    cfg: &SimConfig,
    policy: Box<dyn hypervisor::MappingPolicy>,
) -> Result<(RunResult, EngineStats), SimError> {
    Simulation::new(cfg, policy)?.run(cfg.stop.max_cycles)
}
