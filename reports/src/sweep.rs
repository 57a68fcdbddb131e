//! The outputs of a sweep: `sweep.csv` and `sweep.json`.
//!
//! A sweep is a grid of scenario points (the product of its axes) times
//! policies times seeds; each [`SweepRow`] is one simulation. Rows come in
//! grid order (first axis slowest), then policy, then seed, whatever order
//! the simulations finished in, so the files do not depend on `--jobs`.

use serde_json::{json, Map, Value};

use crate::{columns, Metric, ReportError};

/// One axis of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAxis {
    /// Column name in `sweep.csv` (the key, or the keys joined by `+`).
    pub name: String,
    /// The dotted scenario keys this axis sets (all to the same value).
    pub keys: Vec<String>,
    /// Axis title for plots.
    pub label: String,
    /// The values, in order (numbers, strings, or tables as JSON).
    pub values: Vec<Value>,
}

/// One simulation of a sweep: a grid point, a policy and a seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Index of the grid point (row-major over the axes, first axis slowest).
    pub point: usize,
    /// The point's value on each axis.
    pub axis_values: Vec<Value>,
    /// The policy simulated.
    pub policy: String,
    /// The seed.
    pub seed: u64,
    /// Hash of the point's fully resolved scenario (one policy, this seed).
    pub hash: String,
    /// The metrics of [`crate::metrics`] (the registry's columns), in that
    /// order.
    pub metrics: Vec<(String, Metric)>,
}

impl SweepRow {
    /// The value of metric `name`, as a float.
    #[must_use]
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_f64())
    }
}

/// A finished (or merged) sweep.
#[derive(Clone, Debug)]
pub struct Sweep<'a> {
    /// tlbsim's version.
    pub version: &'a str,
    /// The sweep's name (bundled experiment name or file stem).
    pub name: &'a str,
    /// What it asks.
    pub description: &'a str,
    /// Name of the base scenario.
    pub base_name: &'a str,
    /// Hash of the base scenario (after the sweep's and the CLI's `set`).
    pub base_hash: &'a str,
    /// The axes; the first is the x axis of plots.
    pub axes: &'a [SweepAxis],
    /// Policies, in order.
    pub policies: &'a [String],
    /// Seeds, in order.
    pub seeds: &'a [u64],
    /// Every row, in grid, policy, seed order.
    pub rows: &'a [SweepRow],
}

impl Sweep<'_> {
    /// Metric names, in column order (from the first row).
    #[must_use]
    pub fn metric_names(&self) -> Vec<String> {
        self.rows
            .first()
            .map(|r| r.metrics.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    }
}

/// The simulations of one grid point under one policy (one per seed).
#[derive(Clone, Debug)]
pub struct SweepCell<'a> {
    /// Index of the grid point.
    pub point: usize,
    /// The point's value on each axis.
    pub axis_values: &'a [Value],
    /// The policy.
    pub policy: &'a str,
    /// Its rows, one per seed.
    pub rows: Vec<&'a SweepRow>,
}

impl SweepCell<'_> {
    /// The mean over seeds of metric `name` (`None` if no row has it).
    #[must_use]
    pub fn mean(&self, name: &str) -> Option<f64> {
        let ys: Vec<f64> = self.rows.iter().filter_map(|r| r.metric(name)).collect();
        #[allow(clippy::cast_precision_loss, reason = "a mean")]
        (!ys.is_empty()).then(|| ys.iter().sum::<f64>() / ys.len() as f64)
    }

    /// The point's axis values as one label: `16, vm`.
    #[must_use]
    pub fn label(&self) -> String {
        self.axis_values
            .iter()
            .map(value_text)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl<'a> Sweep<'a> {
    /// The rows grouped by grid point and policy, in row order (grid, then
    /// policy).
    #[must_use]
    pub fn cells(&self) -> Vec<SweepCell<'a>> {
        let rows: &'a [SweepRow] = self.rows;
        let mut out: Vec<SweepCell<'a>> = Vec::new();
        for r in rows {
            match out.last_mut() {
                Some(c) if c.point == r.point && c.policy == r.policy => c.rows.push(r),
                _ => out.push(SweepCell {
                    point: r.point,
                    axis_values: &r.axis_values,
                    policy: &r.policy,
                    rows: vec![r],
                }),
            }
        }
        out
    }
}

/// An axis value as CSV text: strings bare, numbers as written, anything
/// else as compact JSON.
#[must_use]
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `sweep.csv`: a header (axis names, `policy`, `seed`, then the metrics),
/// then one row per simulation.
///
/// # Errors
/// CSV encoding failed (it does not for these values).
pub fn sweep_csv(sw: &Sweep<'_>) -> Result<String, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = sw.axes.iter().map(|a| a.name.clone()).collect();
    header.push("policy".to_string());
    header.push("seed".to_string());
    header.extend(sw.metric_names());
    w.write_record(&header)?;
    for r in sw.rows {
        let mut row: Vec<String> = r.axis_values.iter().map(value_text).collect();
        row.push(r.policy.clone());
        row.push(r.seed.to_string());
        row.extend(r.metrics.iter().map(|(_, v)| v.to_field()));
        w.write_record(&row)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Csv(e.into_error().into()))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

/// `sweep.json`: the sweep's definition and every row with its metrics;
/// pretty-printed, newline-terminated, nothing host-dependent.
#[must_use]
pub fn sweep_json(sw: &Sweep<'_>) -> String {
    let axes: Vec<Value> = sw
        .axes
        .iter()
        .map(|a| json!({"name": a.name, "keys": a.keys, "label": a.label, "values": a.values}))
        .collect();
    let rows: Vec<Value> = sw
        .rows
        .iter()
        .map(|r| {
            let axes: Map<String, Value> = sw
                .axes
                .iter()
                .zip(&r.axis_values)
                .map(|(a, v)| (a.name.clone(), v.clone()))
                .collect();
            let metrics: Map<String, Value> = r
                .metrics
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            json!({"point": r.point, "axes": axes, "policy": r.policy, "seed": r.seed,
                   "hash": r.hash, "metrics": metrics})
        })
        .collect();
    let v = json!({
        "tlbsim_version": sw.version,
        "sweep": {"name": sw.name, "description": sw.description},
        "base": {"name": sw.base_name, "hash": sw.base_hash},
        "axes": axes,
        "policies": sw.policies,
        "seeds": sw.seeds,
        "rows": rows,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values always serialize");
    s.push('\n');
    s
}

/// Metrics from their JSON form (as `sweep.json` and point files hold
/// them): exactly the registry's columns ([`crate::columns`]), in their
/// order; integers are counts, other numbers reals. `None` when a column is
/// missing, not a number, or an unknown metric is present (a point file of
/// another build), so the point is simulated again.
#[must_use]
pub fn metrics_from_json(v: &Map<String, Value>) -> Option<Vec<(String, Metric)>> {
    if v.len() != columns().count() {
        return None;
    }
    columns()
        .map(|d| {
            let v = v.get(d.name)?;
            let m = match v.as_u64() {
                Some(c) => Metric::Count(c),
                None => Metric::Real(v.as_f64()?),
            };
            Some((d.name.to_string(), m))
        })
        .collect()
}

/// Metrics in their JSON form (see [`metrics_from_json`]).
#[must_use]
pub fn metrics_to_json(metrics: &[(&str, Metric)]) -> Map<String, Value> {
    metrics
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.to_json()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_round_trip_through_json_text() {
        // Counts, a whole real and a fraction keep their kind and value.
        let m: Vec<(&str, Metric)> = columns()
            .enumerate()
            .map(|(i, d)| {
                let v = match i % 3 {
                    0 => Metric::Count(7),
                    1 => Metric::Real(7.0),
                    _ => Metric::Real(1.0 / 3.0),
                };
                (d.name, v)
            })
            .collect();
        let text = serde_json::to_string(&metrics_to_json(&m)).unwrap();
        let back: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let back = metrics_from_json(&back).unwrap();
        let want: Vec<(String, Metric)> = m.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn metrics_other_than_the_registry_columns_are_not_read_back() {
        let m: Vec<(&str, Metric)> = columns().map(|d| (d.name, Metric::Count(1))).collect();
        let full = metrics_to_json(&m);
        assert!(metrics_from_json(&full).is_some());
        let mut missing = full.clone();
        missing.remove(m[0].0);
        assert!(metrics_from_json(&missing).is_none());
        let mut renamed = missing;
        renamed.insert("no_such_metric".to_string(), 1.into());
        assert!(metrics_from_json(&renamed).is_none());
        let mut text = full;
        text.insert(m[0].0.to_string(), "one".into());
        assert!(metrics_from_json(&text).is_none());
    }
}
