//! summary.json and summary.csv.

use crate::ReportError;
use machine::RunResult;
use serde_json::{json, Value};

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

/// One scalar metric of a run: its column name and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A count.
    Count(u64),
    /// A ratio or rate.
    Real(f64),
}

impl Metric {
    /// As a float (for plots).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "plots and ratios")]
    pub fn as_f64(self) -> f64 {
        match self {
            Metric::Count(v) => v as f64,
            Metric::Real(v) => v,
        }
    }

    pub(crate) fn to_field(self) -> String {
        match self {
            Metric::Count(v) => v.to_string(),
            Metric::Real(v) => format_real(v),
        }
    }
}

/// A float with 6 significant decimals after the point at most, trailing
/// zeros trimmed: stable text for CSV.
fn format_real(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Every scalar metric of a run, in CSV column order. The single list that
/// summary.csv, sweeps and plots share.
#[must_use]
pub fn metrics(r: &RunResult) -> Vec<(&'static str, Metric)> {
    use Metric::{Count, Real};
    let tlb = r.tlb();
    let fl = r.flushes();
    let (bg_accesses, bg_cycles) = r.background();
    let b = &r.breakdown;
    #[allow(clippy::cast_precision_loss, reason = "a ratio")]
    let bg_cpa = if bg_accesses == 0 {
        0.0
    } else {
        bg_cycles as f64 / bg_accesses as f64
    };
    vec![
        ("io_completed", Count(r.io_completed)),
        ("io_bytes", Count(r.io_bytes)),
        ("sim_cycles", Count(r.sim_cycles)),
        ("iops", Real(r.iops())),
        ("latency_mean", Real(r.latency.mean)),
        ("latency_p50", Count(r.latency.p50)),
        ("latency_p90", Count(r.latency.p90)),
        ("latency_p99", Count(r.latency.p99)),
        ("latency_p999", Count(r.latency.p999)),
        ("latency_max", Count(r.latency.max)),
        ("ipis_sent", Count(r.ipis_sent())),
        ("ipis_received", Count(r.ipis_received())),
        ("ipis_per_io", Real(r.per_io(r.ipis_sent()))),
        ("flushes_local_page", Count(fl.local_page)),
        ("flushes_local_full", Count(fl.local_full)),
        ("flushes_remote", Count(fl.remote)),
        (
            "flushes_per_io",
            Real(r.per_io(fl.local_page + fl.local_full + fl.remote)),
        ),
        ("shootdowns", Count(r.shootdowns)),
        ("tlb_lookups", Count(tlb.lookups)),
        ("tlb_hits", Count(tlb.hits())),
        ("tlb_misses", Count(tlb.misses)),
        ("tlb_walks", Count(tlb.walks)),
        ("hypercalls", Count(r.hypercalls)),
        ("stale_uses", Count(r.stale_uses())),
        ("stolen_cycles", Count(r.stolen_cycles())),
        ("stolen_cycles_per_io", Real(r.per_io(r.stolen_cycles()))),
        ("migrations", Count(r.migrations)),
        ("background_accesses", Count(bg_accesses)),
        ("background_cycles_per_access", Real(bg_cpa)),
        ("queue_cycles_per_io", Real(r.per_io(b.queue))),
        ("map_cycles_per_io", Real(r.per_io(b.map))),
        ("migration_cycles_per_io", Real(r.per_io(b.migration))),
        ("data_cycles_per_io", Real(r.per_io(b.data))),
        ("process_cycles_per_io", Real(r.per_io(b.process))),
        ("unmap_cycles_per_io", Real(r.per_io(b.unmap))),
        ("flush_wait_cycles_per_io", Real(r.per_io(b.flush_wait))),
        ("complete_cycles_per_io", Real(r.per_io(b.complete))),
    ]
}

fn run_value(r: &RunResult) -> Value {
    let tlb = r.tlb();
    let fl = r.flushes();
    let (bg_accesses, bg_cycles) = r.background();
    let b = &r.breakdown;
    let per_cpu: Vec<Value> = r
        .per_cpu
        .iter()
        .map(|c| {
            json!({
                "cpu": c.cpu,
                "registered": c.registered,
                "busy_cycles": c.busy_cycles,
                "stolen_cycles": c.stolen_cycles,
                "migrated_in_cycles": c.migrated_in_cycles,
                "ipis_sent": c.ipis_sent,
                "ipis_received": c.ipis_received,
                "flushes": {"local_page": c.flushes.local_page, "local_full": c.flushes.local_full, "remote": c.flushes.remote},
                "tlb_lookups": c.tlb.lookups,
                "tlb_misses": c.tlb.misses,
                "stale_uses": c.stale_uses,
                "background_accesses": c.background_accesses,
                "background_cycles": c.background_cycles,
            })
        })
        .collect();
    json!({
        "policy": r.policy.name(),
        "io": {"completed": r.io_completed, "bytes": r.io_bytes, "reads": r.io_reads},
        "sim_cycles": r.sim_cycles,
        "throughput": {"iops": r.iops()},
        "latency_cycles": {
            "mean": r.latency.mean, "p50": r.latency.p50, "p90": r.latency.p90,
            "p99": r.latency.p99, "p999": r.latency.p999, "max": r.latency.max,
        },
        "latency_breakdown_cycles_per_io": {
            "queue": r.per_io(b.queue), "map": r.per_io(b.map), "migration": r.per_io(b.migration),
            "data": r.per_io(b.data),
            "process": r.per_io(b.process), "unmap": r.per_io(b.unmap), "flush_wait": r.per_io(b.flush_wait),
            "complete": r.per_io(b.complete),
        },
        "ipis": {"sent": r.ipis_sent(), "received": r.ipis_received(), "per_io": r.per_io(r.ipis_sent())},
        "flushes": {"local_page": fl.local_page, "local_full": fl.local_full, "remote": fl.remote,
                    "per_io": r.per_io(fl.local_page + fl.local_full + fl.remote)},
        "shootdowns": r.shootdowns,
        "tlb": {"lookups": tlb.lookups, "hits": tlb.hits(), "l1_hits": tlb.l1_hits, "l2_hits": tlb.l2_hits,
                "misses": tlb.misses, "walks": tlb.walks, "walk_refs": tlb.walk_refs},
        "hypercalls": r.hypercalls,
        "stale_uses": r.stale_uses(),
        "stolen_cycles": r.stolen_cycles(),
        "migrations": r.migrations,
        "peak_in_flight": r.peak_in_flight,
        "background": {"accesses": bg_accesses, "cycles": bg_cycles},
        "per_cpu": per_cpu,
    })
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
    if let Some(r) = rep.runs.first() {
        header.extend(metrics(r).into_iter().map(|(k, _)| k));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_are_stable_text() {
        assert_eq!(format_real(7.0), "7");
        assert_eq!(format_real(0.125), "0.125");
        assert_eq!(format_real(1.0 / 3.0), "0.333333");
        assert_eq!(format_real(0.0), "0");
    }
}
