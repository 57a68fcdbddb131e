//! `tlbsim._tlbsim`: the Rust side of the `tlbsim` Python package. It only
//! translates: scenarios are loaded by `scenarios`, simulated by
//! [`sweeps::compare`] (what `tlbsim run` calls) and reported by `reports`,
//! so a summary is byte for byte the CLI's. `tlbsim/__init__.py` holds the
//! Python API.

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _tlbsim,
    ScenarioError,
    PyValueError,
    "A scenario or sweep that cannot be loaded; the message is `FILE:LINE: KEY: MESSAGE`, as the CLI prints it."
);

fn scenario_error(e: impl std::fmt::Display) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

fn runtime_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Loads `scenario` (bundled name or path) with `overrides` (`KEY=VALUE`)
/// and simulates each policy on `jobs` threads; returns `(summary.json,
/// summary.csv)` as text.
#[pyfunction]
#[pyo3(signature = (scenario, overrides, jobs=0))]
fn run(
    py: Python<'_>,
    scenario: &str,
    overrides: Vec<String>,
    jobs: usize,
) -> PyResult<(String, String)> {
    let sc = scenarios::load(scenario, &overrides).map_err(scenario_error)?;
    let compared = py
        .detach(|| sweeps::compare(&sc, jobs, sweeps::simulate))
        .map_err(runtime_error)?;
    summaries(&sc, &compared)
}

/// `(summary.json, summary.csv)` of `compared` runs of `sc`.
fn summaries(
    sc: &scenarios::Scenario,
    compared: &sweeps::Comparison,
) -> PyResult<(String, String)> {
    let report = compared.report(sc);
    let csv = reports::summary_csv(&report).map_err(runtime_error)?;
    Ok((reports::summary_json(&report), csv))
}

/// As [`run`], also writing one CSV row per measured I/O to `path` (as
/// `tlbsim run --per-io`, the same code: [`sweeps::compare_per_io`]).
#[pyfunction]
#[pyo3(signature = (scenario, overrides, path, jobs=0))]
fn run_per_io(
    py: Python<'_>,
    scenario: &str,
    overrides: Vec<String>,
    path: std::path::PathBuf,
    jobs: usize,
) -> PyResult<(String, String)> {
    let sc = scenarios::load(scenario, &overrides).map_err(scenario_error)?;
    let compared = py
        .detach(|| sweeps::compare_per_io(&sc, jobs, &path))
        .map_err(runtime_error)?;
    summaries(&sc, &compared)
}

/// A sweep's progress reported to a Python callable `callback(done,
/// total)`: once with `done = 0` before the first simulation, then after
/// each (in increasing `done`, whatever thread finished it). The first
/// exception the callable raises is kept and raised when the sweep ends.
struct PyProgress {
    callback: Py<PyAny>,
    /// Simulations finished, and how many there are to run.
    done: std::sync::Mutex<(usize, usize)>,
    error: std::sync::Mutex<Option<PyErr>>,
}

impl PyProgress {
    fn report(&self, finished: usize) {
        let Ok(mut d) = self.done.lock() else {
            return;
        };
        d.0 += finished;
        let (done, total) = *d;
        Python::attach(|py| {
            if let Err(e) = self.callback.call1(py, (done, total)) {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
            }
        });
    }
}

impl sweeps::Progress for PyProgress {
    fn start(&self, counts: &sweeps::Counts) {
        if let Ok(mut d) = self.done.lock() {
            *d = (0, counts.pending);
        }
        self.report(0);
    }

    fn finished_one(&self) {
        self.report(1);
    }
}

/// Runs sweep `sweep` (bundled experiment or path) with `overrides` into
/// folder `out` (resumable, as `tlbsim sweep --out`), only the jobs of
/// `shard` (`I/N`, or `auto` with `shard_count`, as `--shard` and
/// `--shard-count`), reporting to `progress(done, total)` if given; returns
/// the path of its sweep.csv, or `None` for a shard (its points are joined
/// with `tlbsim merge`).
#[pyfunction]
#[pyo3(signature = (sweep, overrides, out, jobs=0, shard=None, shard_count=None, progress=None))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword arguments")]
fn sweep(
    py: Python<'_>,
    sweep: &str,
    overrides: Vec<String>,
    out: std::path::PathBuf,
    jobs: usize,
    shard: Option<String>,
    shard_count: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Option<String>> {
    let resolved = sweeps::ResolvedSweep::load(sweep, &overrides).map_err(scenario_error)?;
    let shard = sweeps::shard_from_arg(shard.as_deref(), shard_count, &|k| std::env::var(k).ok())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let opts = sweeps::RunOptions { jobs, shard };
    let one_policy =
        |sc: &scenarios::Scenario| sweeps::simulate(sc, &sc.policies[0]).map(|(r, _)| r);
    let watcher = progress.map(|callback| PyProgress {
        callback,
        done: std::sync::Mutex::new((0, 0)),
        error: std::sync::Mutex::new(None),
    });
    let outcome = py.detach(|| {
        let p: &dyn sweeps::Progress = match &watcher {
            Some(w) => w,
            None => &(),
        };
        sweeps::run(&resolved, &out, &opts, one_policy, p)
    });
    if let Some(e) = watcher.and_then(|w| w.error.into_inner().ok().flatten()) {
        return Err(e);
    }
    let outcome = outcome.map_err(runtime_error)?;
    Ok(outcome
        .assembled
        .then(|| out.join("sweep.csv").display().to_string()))
}

/// A scenario or sweep given as a Python dict (here its JSON text) as the
/// TOML file text the loaders read.
#[pyfunction]
fn toml_from_json(json: &str) -> PyResult<String> {
    let value: toml::Value = serde_json::from_str(json)
        .map_err(|e| scenario_error(format!("not a scenario in the TOML structure: {e}")))?;
    toml::to_string(&value).map_err(|e| scenario_error(format!("not a TOML table: {e}")))
}

/// The bundled scenarios: `(name, description)` pairs.
#[pyfunction]
fn scenarios_list() -> Vec<(String, String)> {
    scenarios::bundled()
        .iter()
        .map(|b| (b.name.to_string(), b.description.to_string()))
        .collect()
}

/// The module.
#[pymodule]
fn _tlbsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("__version__", sweeps::VERSION)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_per_io, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(scenarios_list, m)?)?;
    m.add_function(wrap_pyfunction!(toml_from_json, m)?)?;
    Ok(())
}
