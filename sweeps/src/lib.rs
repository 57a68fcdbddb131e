//! Sweeps of tlbsim: a grid of scenario points (the product of the sweep's
//! axes) times policies times seeds, each one simulation, run in parallel,
//! resumable and shardable, and assembled into `sweep.csv`, `sweep.json`,
//! plots and `report.html`.
//!
//! The pieces, in the order a sweep goes through them:
//!
//! - [`SweepSpec`]: a parsed sweep file (or a bundled experiment, see
//!   [`experiments`]); every problem located as `FILE:LINE: KEY: MESSAGE`
//!   with [`scenarios::Diagnostic`].
//! - [`ResolvedSweep`]: the spec resolved against its base scenario into a
//!   [`Plan`] (every [`Job`]: grid point, policy, seed, [`ScenarioHash`])
//!   and the fully resolved scenario of each job.
//! - [`PointStore`]: `points/HASH.json`, one finished simulation each,
//!   written atomically; what makes a sweep resumable.
//! - [`run`]: runs the jobs of a [`Shard`] not yet in the store, with the
//!   simulation given as a function, so that neither this crate nor its
//!   tests need the CLI; [`assemble`] and [`merge`] write the summary files.
//!
//! Layout of an output directory:
//!
//! - `.lock`: the pid and host of the sweep (or merge) writing it, while it
//!   runs ([`DirLock`]); a second one refuses to start.
//! - `plan.json`: the sweep fully resolved (base scenario TOML, axes,
//!   policies, seeds, and every job with its scenario hash). Written first;
//!   [`merge`] checks that shards agree on it byte for byte. It holds no
//!   machine path (bundled traces are `repo:` paths, see
//!   [`scenarios::trace_file`]), so two checkouts write the same plan.
//! - `points/HASH.json`: one finished simulation, written as soon as it
//!   finishes. `HASH` is the hash of the job's fully resolved scenario: the
//!   base, the `set` overrides, the point's axis values, the seed, and
//!   `policies = [POLICY]`. A re-run skips every job whose point file exists
//!   and was written by this tlbsim version.
//! - `sweep.csv`, `sweep.json`, `plots/`, `report.html`: assembled from the
//!   point files once every job of the plan is done, in plan order, so they
//!   do not depend on `--jobs`, completion order, sharding or interruptions.

mod compare;
mod error;
mod lock;
mod merge;
mod plan;
mod run;
mod shard_env;
mod spec;
mod store;

pub use compare::{compare, compare_per_io, simulate, simulate_observed, Comparison, EngineEntry};
pub use error::SweepError;
pub use lock::{lock_path, release_lock_if_mine, DirLock};
pub use merge::{assemble, merge, Merged};
pub use plan::{Job, Plan, PolicyName, ResolvedSweep, ScenarioHash};
pub use reports::SweepAxis;
pub use run::{cost_estimate, run, Counts, Outcome, Progress, RunOptions, Shard};
pub use shard_env::{shard_from_arg, shard_from_env};
pub use spec::{experiments, Assignment, AxisSpec, AxisValue, Experiment, SweepSpec};
pub use store::PointStore;

/// tlbsim's version (the workspace's), recorded in `plan.json` and in
/// every point file; a point file of another version is redone.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Metrics of the headline figure (`plots/figure.*`) when the sweep file
/// names none.
pub const DEFAULT_FIGURE: [&str; 3] = ["ipis_per_io", "iops", "latency_p99"];
