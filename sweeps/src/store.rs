//! The point store: `DIR/points/HASH.json`, one finished simulation each.

use std::path::{Path, PathBuf};

use machine::RunResult;
use reports::Metric;
use scenarios::Scenario;
use serde_json::{json, Value};

use crate::{Job, ScenarioHash, SweepError, VERSION};

/// The finished simulations of a sweep output directory. Each point file
/// is written atomically ([`reports::write_atomic`]), so a killed sweep
/// leaves only whole files, and holds the job's metrics and its whole
/// `summary.json`.
#[derive(Clone, Debug)]
pub struct PointStore {
    dir: PathBuf,
}

impl PointStore {
    /// The store of the sweep output directory `dir` (its `points/`).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.join("points"),
        }
    }

    /// Creates the directory (and the output directory around it).
    ///
    /// # Errors
    /// [`SweepError::CreateDir`].
    pub fn create(&self) -> Result<(), SweepError> {
        std::fs::create_dir_all(&self.dir).map_err(|error| SweepError::CreateDir {
            path: self.dir.clone(),
            error,
        })
    }

    /// The `points/` directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The point file of `hash`.
    #[must_use]
    pub fn path(&self, hash: &ScenarioHash) -> PathBuf {
        self.dir.join(format!("{hash}.json"))
    }

    /// The metrics of a finished job, if its file exists, is complete and
    /// was written by this version for this hash.
    #[must_use]
    pub fn read(&self, hash: &ScenarioHash) -> Option<Vec<(String, Metric)>> {
        let text = std::fs::read_to_string(self.path(hash)).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        if v["tlbsim_version"] != VERSION || v["hash"] != hash.as_str() {
            return None;
        }
        reports::metrics_from_json(v["metrics"].as_object()?)
    }

    /// Whether the job of `hash` is finished (see [`PointStore::read`]).
    #[must_use]
    pub fn has(&self, hash: &ScenarioHash) -> bool {
        self.read(hash).is_some()
    }

    /// Records the result `r` of `job`, whose scenario is `sc`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, job: &Job, sc: &Scenario, r: &RunResult) -> Result<(), SweepError> {
        let report = reports::Report {
            version: VERSION,
            scenario_name: &sc.name,
            scenario_hash: job.hash.as_str(),
            seed: job.seed,
            runs: std::slice::from_ref(r),
        };
        let v = json!({
            "tlbsim_version": VERSION,
            "hash": job.hash.as_str(),
            "policy": job.policy.name(),
            "seed": job.seed,
            "metrics": reports::metrics_to_json(&reports::metrics(r)),
            "summary": reports::summary_value(&report),
        });
        let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
        s.push('\n');
        reports::write_atomic(&self.path(&job.hash), s.as_bytes())?;
        Ok(())
    }

    /// Copies the finished point of `hash` from `other`; false if `other`
    /// does not have it.
    ///
    /// # Errors
    /// The file cannot be read or written.
    pub fn copy_from(&self, other: &PointStore, hash: &ScenarioHash) -> Result<bool, SweepError> {
        if !other.has(hash) {
            return Ok(false);
        }
        let src = other.path(hash);
        let bytes = std::fs::read(&src).map_err(|error| SweepError::Read { path: src, error })?;
        reports::write_atomic(&self.path(hash), &bytes)?;
        Ok(true)
    }
}
