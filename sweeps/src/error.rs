//! The one error type of this crate.

use std::path::PathBuf;

use scenarios::ScenarioError;

use crate::{Job, PolicyName};

/// Everything that can go wrong planning, running or merging a sweep.
///
/// Embedded errors (`error` fields) are part of the message, so printing
/// the error once says everything.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A name that is neither an existing file nor a bundled experiment.
    #[error("unknown sweep `{name}`: no such file and no bundled experiment of that name (bundled: {})", available.join(", "))]
    UnknownSweep {
        /// The name given.
        name: String,
        /// The bundled experiments' names.
        available: Vec<String>,
    },
    /// A file that could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// An output directory that could not be created.
    #[error("cannot create output directory {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The sweep file is not valid: a syntax error, or every problem found,
    /// one per line, as `FILE:LINE: KEY: MESSAGE`.
    #[error("{error}")]
    Spec {
        /// The located problems (reusing the scenario format's diagnostics).
        error: ScenarioError,
    },
    /// The base scenario cannot be loaded (a missing base names the sweep
    /// file's line of `base`; problems that come from the sweep's `set`
    /// name the sweep file's lines).
    #[error("{error}\n  (the base scenario `{base}` of sweep {sweep})")]
    Base {
        /// The sweep's name.
        sweep: String,
        /// The base as given (a bundled name or a path).
        base: String,
        /// The located problems.
        error: ScenarioError,
    },
    /// A grid point's scenario is not valid (a bad axis value names the
    /// sweep file's line of that value).
    #[error("{error}\n  (grid point {point} of sweep {sweep}: {assignments})")]
    Point {
        /// The sweep's name.
        sweep: String,
        /// Index of the grid point (row-major, first axis slowest).
        point: usize,
        /// The point's overrides, `KEY=VALUE` separated by spaces.
        assignments: String,
        /// The located problems.
        error: ScenarioError,
    },
    /// The sweep (its base scenario, after `policies`) runs no policy.
    #[error("sweep {sweep} runs no policy")]
    NoPolicy {
        /// The sweep's name.
        sweep: String,
    },
    /// A shard that is not `I/N` with `1 <= I <= N`.
    #[error("--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 2/8")]
    Shard {
        /// The text given.
        text: String,
    },
    /// `--shard auto` found no usable scheduler environment.
    #[error("--shard auto: {message}")]
    ShardEnv {
        /// What was missing or wrong.
        message: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {error}")]
    Threads {
        /// Why.
        error: rayon::ThreadPoolBuildError,
    },
    /// A simulation failed.
    #[error(
        "simulating grid point {point} ({axis_values}), policy {policy}, seed {seed}: {error}"
    )]
    Simulation {
        /// Index of the grid point.
        point: usize,
        /// The point's axis values, comma-separated.
        axis_values: String,
        /// The policy simulated.
        policy: PolicyName,
        /// The seed.
        seed: u64,
        /// What the simulation function reported.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A scenario with no policy to compare ([`crate::compare`]).
    #[error("scenario {scenario} names no policy to run")]
    NoScenarioPolicy {
        /// The scenario's name.
        scenario: String,
    },
    /// One policy's simulation of a comparison failed ([`crate::compare`]).
    #[error("simulating policy {policy}: {error}")]
    Policy {
        /// The policy.
        policy: String,
        /// What the simulation reported.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An output file could not be written.
    #[error("{error}")]
    Write {
        /// Why.
        error: reports::ReportError,
    },
    /// A plot could not be drawn.
    #[error("{error}")]
    Plot {
        /// Why.
        error: reports::PlotError,
    },
    /// A `plan.json` that does not parse as a plan.
    #[error("{} is not a sweep plan of this tlbsim version", path.display())]
    BadPlan {
        /// The file.
        path: PathBuf,
    },
    /// Directories to merge that hold different plans.
    #[error("{} and {} hold different sweeps (their plan.json differ): merge only shards of one sweep run with the same options", first.display(), other.display())]
    PlanMismatch {
        /// The first directory.
        first: PathBuf,
        /// The first directory whose plan differs from it.
        other: PathBuf,
    },
    /// [`crate::merge`] was given no directory.
    #[error("no directory to merge")]
    NothingToMerge,
    /// Jobs of the plan have no point file: shards are missing.
    #[error("{missing} of {total} simulations have no point file in {} (first: grid point {}, policy {}, seed {}, hash {}); run the missing shards or re-run the sweep", dir.display(), first.point, first.policy, first.seed, first.hash)]
    MissingPoints {
        /// The `points/` directory.
        dir: PathBuf,
        /// How many jobs have no point file.
        missing: usize,
        /// How many jobs the plan has.
        total: usize,
        /// The first job without one, in plan order.
        first: Box<Job>,
    },
    /// Another sweep holds the output directory ([`crate::DirLock`]).
    #[error("{} is in use by another tlbsim sweep (pid {pid} on {host}, lock file {}): wait for it to finish or use another --out; if that process is gone (e.g. its machine rebooted), remove the lock file", dir.display(), path.display())]
    Locked {
        /// The output directory.
        dir: PathBuf,
        /// Its lock file.
        path: PathBuf,
        /// The holder's process id.
        pid: u32,
        /// The holder's host.
        host: String,
    },
    /// The lock file could not be created, written or read.
    #[error("cannot lock the output directory: {}: {error}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A `figure` metric that is not a column of `sweep.csv`.
    #[error("figure metric `{metric}` is not a metric (columns: {})", known.join(", "))]
    UnknownMetric {
        /// The name given.
        metric: String,
        /// The metrics there are.
        known: Vec<String>,
    },
    /// A shard count given with an explicit shard (`I/N` names its count).
    #[error("--shard-count goes with --shard auto only (--shard {text} names its count)")]
    ShardCount {
        /// The shard given.
        text: String,
    },
}

impl From<reports::ReportError> for SweepError {
    fn from(error: reports::ReportError) -> Self {
        SweepError::Write { error }
    }
}

impl From<reports::PlotError> for SweepError {
    fn from(error: reports::PlotError) -> Self {
        SweepError::Plot { error }
    }
}
