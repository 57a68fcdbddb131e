//! The terminal table.

use crate::metric::table_rows;
use crate::Report;
use std::fmt::Write;

/// A comparison table, one column per policy, for a terminal; its rows are
/// the registry's table rows ([`crate::TableRow`]).
#[must_use]
pub fn table(rep: &Report<'_>) -> String {
    let rows = table_rows();
    let label_w = rows.iter().map(|row| row.label.len()).max().unwrap_or(0);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| rep.runs.iter().map(|r| row.cell(r)).collect())
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
    for (row, cells) in rows.iter().zip(&cells) {
        let _ = write!(out, "{:label_w$}", row.label);
        for (cell, w) in cells.iter().zip(&col_w) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    out
}
