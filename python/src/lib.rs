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
    let report = compared.report(&sc);
    let csv = reports::summary_csv(&report).map_err(runtime_error)?;
    Ok((reports::summary_json(&report), csv))
}

/// Runs sweep `sweep` (bundled experiment or path) with `overrides` into
/// folder `out` (resumable, as `tlbsim sweep --out`); returns the path of
/// its sweep.csv.
#[pyfunction]
#[pyo3(signature = (sweep, overrides, out, jobs=0))]
fn sweep(
    py: Python<'_>,
    sweep: &str,
    overrides: Vec<String>,
    out: std::path::PathBuf,
    jobs: usize,
) -> PyResult<String> {
    let resolved = sweeps::ResolvedSweep::load(sweep, &overrides).map_err(scenario_error)?;
    let opts = sweeps::RunOptions {
        jobs,
        shard: sweeps::Shard::ALL,
    };
    let one_policy =
        |sc: &scenarios::Scenario| sweeps::simulate(sc, &sc.policies[0]).map(|(r, _)| r);
    py.detach(|| sweeps::run(&resolved, &out, &opts, one_policy, &()))
        .map_err(runtime_error)?;
    Ok(out.join("sweep.csv").display().to_string())
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
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(scenarios_list, m)?)?;
    m.add_function(wrap_pyfunction!(toml_from_json, m)?)?;
    Ok(())
}
