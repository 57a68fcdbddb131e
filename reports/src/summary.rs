//! summary.json and summary.csv.

use crate::metric::{columns, cpu_json, run_json_metrics, Metric};
use crate::ReportError;
use machine::RunResult;
use serde_json::{json, Map, Value};

/// What a summary is about.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// tlbsim's version.
    pub version: &'a str,
    /// Scenario name (bundled name or file stem).
    pub scenario_name: &'a str,
    /// Hash of the fully resolved scenario.
    pub scenario_hash: &'a str,
    /// Seed of the run.
    pub seed: u64,
    /// One run per policy, in the order asked for.
    pub runs: &'a [RunResult],
}

/// Every scalar metric of a run that is a column of `summary.csv` and of
/// sweeps, in column order: generated from the registry
/// ([`crate::METRICS`]), which summary.csv, sweeps and plots share.
#[must_use]
pub fn metrics(r: &RunResult) -> Vec<(&'static str, Metric)> {
    columns().map(|d| (d.name, (d.value)(r))).collect()
}

/// A run object of `summary.json`: its policy, its metrics at their
/// registry paths, then its per-CPU entries.
fn run_value(r: &RunResult) -> Value {
    let mut run = Map::new();
    run.insert("policy".to_string(), r.policy.name().into());
    run.extend(run_json_metrics(r));
    let per_cpu: Vec<Value> = r.per_cpu.iter().map(cpu_json).collect();
    run.insert("per_cpu".to_string(), per_cpu.into());
    Value::Object(run)
}

/// The summary as a JSON value.
#[must_use]
pub fn summary_value(rep: &Report<'_>) -> Value {
    json!({
        "tlbsim_version": rep.version,
        "scenario": {"name": rep.scenario_name, "hash": rep.scenario_hash},
        "seed": rep.seed,
        "runs": rep.runs.iter().map(run_value).collect::<Vec<_>>(),
    })
}

/// `summary.json`: pretty-printed, keys in a fixed order, newline-terminated.
#[must_use]
pub fn summary_json(rep: &Report<'_>) -> String {
    let mut s =
        serde_json::to_string_pretty(&summary_value(rep)).expect("JSON values always serialize");
    s.push('\n');
    s
}

/// `summary.csv`: a header, then one row per policy (`scenario`, `hash`,
/// `seed`, `policy`, then [`metrics`]).
///
/// # Errors
/// CSV encoding failed (it does not for these values).
pub fn summary_csv(rep: &Report<'_>) -> Result<String, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["scenario", "hash", "seed", "policy"];
    if !rep.runs.is_empty() {
        header.extend(columns().map(|d| d.name));
    }
    w.write_record(&header)?;
    for r in rep.runs {
        let mut row = vec![
            rep.scenario_name.to_string(),
            rep.scenario_hash.to_string(),
            rep.seed.to_string(),
            r.policy.name().to_string(),
        ];
        row.extend(metrics(r).into_iter().map(|(_, v)| v.to_field()));
        w.write_record(&row)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Csv(e.into_error().into()))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}
