//! The terminal table.

use crate::Report;
use machine::RunResult;
use std::fmt::Write;

/// A comparison table, one column per policy, for a terminal.
#[must_use]
pub fn table(rep: &Report<'_>) -> String {
    type Row = (&'static str, fn(&RunResult) -> String);
    let rows: [Row; 14] = [
        ("I/Os completed", |r| r.io_completed.to_string()),
        ("IOPS", |r| format!("{:.0}", r.iops())),
        ("latency p50 (cycles)", |r| r.latency.p50.to_string()),
        ("latency p99 (cycles)", |r| r.latency.p99.to_string()),
        ("latency mean (cycles)", |r| {
            format!("{:.0}", r.latency.mean)
        }),
        ("IPIs per I/O", |r| {
            format!("{:.2}", r.per_io(r.ipis_sent()))
        }),
        ("flushes per I/O", |r| {
            let f = r.flushes();
            format!("{:.2}", r.per_io(f.local_page + f.local_full + f.remote))
        }),
        ("  local page / full", |r| {
            let f = r.flushes();
            format!("{} / {}", f.local_page, f.local_full)
        }),
        ("  remote", |r| r.flushes().remote.to_string()),
        ("flush wait per I/O (cycles)", |r| {
            format!("{:.0}", r.per_io(r.breakdown.flush_wait))
        }),
        ("TLB misses per I/O", |r| {
            format!("{:.1}", r.per_io(r.tlb().misses))
        }),
        ("stolen cycles per I/O", |r| {
            format!("{:.0}", r.per_io(r.stolen_cycles()))
        }),
        ("hypercalls per I/O", |r| {
            format!("{:.2}", r.per_io(r.hypercalls))
        }),
        ("stale uses", |r| r.stale_uses().to_string()),
    ];
    let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, f)| rep.runs.iter().map(f).collect())
        .collect();
    let col_w: Vec<usize> = (0..rep.runs.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].len())
                .chain([rep.runs[i].policy.name().len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} (seed {}, hash {})",
        rep.scenario_name,
        rep.seed,
        &rep.scenario_hash[..rep.scenario_hash.len().min(12)]
    );
    let _ = write!(out, "{:label_w$}", "");
    for (r, w) in rep.runs.iter().zip(&col_w) {
        let _ = write!(out, "  {:>w$}", r.policy.name());
    }
    out.push('\n');
    for ((label, _), row) in rows.iter().zip(&cells) {
        let _ = write!(out, "{label:label_w$}");
        for (cell, w) in row.iter().zip(&col_w) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    out
}
