//! `report.html`: one self-contained file per run or sweep.
//!
//! Everything is inline: the plots as SVG elements, a small stylesheet, the
//! resolved scenario as text. There is no script and no reference to
//! another file or host, so it opens offline in any browser, can be mailed
//! or attached to a CI run as is, and two equal runs give byte-identical
//! reports (nothing host-dependent goes in).

use std::fmt::Write as _;

use crate::human::{frequency_from_metrics, human_value};
use crate::metric::{axis_title, metric_def, Metric, MetricDef};
use crate::plots::Plot;
use crate::sweep::{value_text, Sweep, SweepCell};
use crate::{breakdown_parts, columns, damage_metrics, Report};

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}\
figure{margin:1em 0}figcaption{font-size:0.9em;color:#555}svg{max-width:100%;height:auto}\
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:0.85em}code{font-size:0.95em}\
td{white-space:nowrap}td code{color:#666;font-size:0.85em}p.note{font-size:0.9em;color:#555}";

/// The name of the latency breakdown's figure (`plots/latency_breakdown.*`).
const BREAKDOWN_PLOT: &str = "latency_breakdown";

/// Escapes text for HTML element content and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    )
}

/// The SVG element of a plot (any XML declaration dropped).
fn inline_svg(p: &Plot) -> &str {
    let s = p.svg.trim();
    match (s.starts_with("<?xml"), s.find("?>")) {
        (true, Some(i)) => s[i + 2..].trim_start(),
        _ => s,
    }
}

fn figures<'a>(out: &mut String, plots: impl IntoIterator<Item = &'a Plot>) {
    for p in plots {
        let _ = writeln!(
            out,
            "<figure id=\"plot-{}\">\n{}\n<figcaption>{} (<code>plots/{}.png</code>, <code>.svg</code>)</figcaption>\n</figure>",
            escape(&p.name),
            inline_svg(p),
            escape(&p.title),
            escape(&p.name)
        );
    }
}

/// A table of `defs` (rows, each its label and name) by `columns` (one per
/// policy or point), each cell `cell(def, column index)`.
fn metric_table<'a>(
    out: &mut String,
    id: &str,
    columns: &[&str],
    defs: impl Iterator<Item = &'a MetricDef>,
    cell: impl Fn(&MetricDef, usize) -> String,
) {
    let _ = write!(out, "<table id=\"{id}\">\n<tr><th>metric</th>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for d in defs {
        let _ = write!(
            out,
            "<tr><td>{} <code>{}</code></td>",
            escape(d.label),
            escape(d.name)
        );
        for i in 0..columns.len() {
            let _ = write!(out, "<td>{}</td>", escape(&cell(d, i)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// `report.html` of `tlbsim run`: the scenario, the answer in words
/// ([`crate::headline`]), where the latency goes (the breakdown chart and
/// its table), the collateral damage (every metric the registry flags as
/// damage), the summary table (every column metric, one column per
/// policy, numbers for people with microseconds beside cycles), the other
/// plots, and the fully resolved scenario TOML.
#[must_use]
pub fn run_html(
    rep: &Report<'_>,
    description: &str,
    scenario_toml: &str,
    plots: &[Plot],
) -> String {
    let mut out = head(&format!("tlbsim: {}", rep.scenario_name));
    let _ = writeln!(
        out,
        "<h1>tlbsim run: {}</h1>\n<p>{}</p>\n<p>Scenario hash <code>{}</code>, seed {}, tlbsim {}. \
         Counters cover the measured window (after the warm-up); cycles are simulated cycles.</p>",
        escape(rep.scenario_name),
        escape(description).replace('\n', "<br>\n"),
        escape(rep.scenario_hash),
        rep.seed,
        escape(rep.version)
    );
    out.push_str("<h2 id=\"answer\">What this run shows</h2>\n<ul>\n");
    for line in crate::headline(rep.runs) {
        let _ = writeln!(out, "<li>{}</li>", escape(&line));
    }
    out.push_str("</ul>\n");
    let freqs: Vec<Option<f64>> = rep.runs.iter().map(|r| Some(r.frequency_ghz)).collect();
    let policies: Vec<&str> = rep.runs.iter().map(|r| r.policy.name()).collect();
    let cell = |d: &MetricDef, i: usize| human_value(d, (d.value)(&rep.runs[i]), freqs[i]);
    out.push_str(
        "<h2 id=\"breakdown\">Where the latency goes</h2>\n<p>The mean I/O latency of each \
         policy split into the parts of its life (cycles per I/O; microseconds at the run's \
         clock in brackets).</p>\n",
    );
    figures(&mut out, plots.iter().filter(|p| p.name == BREAKDOWN_PLOT));
    let mean = metric_def("latency_mean").into_iter();
    metric_table(
        &mut out,
        "breakdown-table",
        &policies,
        breakdown_parts().chain(mean),
        cell,
    );
    out.push_str(
        "<h2 id=\"damage\">Collateral damage</h2>\n<p>What each policy costs the other CPUs \
         and their work: cycles its IPI handlers take from them, IPIs to CPUs that held none \
         of the pages, flushes it makes them run.</p>\n",
    );
    metric_table(&mut out, "damage-table", &policies, damage_metrics(), cell);
    out.push_str("<h2>Summary</h2>\n");
    metric_table(&mut out, "summary-table", &policies, columns(), cell);
    out.push_str(
        "<p class=\"note\">Exact values: <code>summary.json</code>, <code>summary.csv</code>.</p>\n<h2>Plots</h2>\n",
    );
    figures(&mut out, plots.iter().filter(|p| p.name != BREAKDOWN_PLOT));
    let _ = writeln!(
        out,
        "<h2>Scenario (fully resolved)</h2>\n<p>Run it again with <code>tlbsim run scenario.toml</code>.</p>\n<pre>{}</pre>\n</body>\n</html>",
        escape(scenario_toml)
    );
    out
}

/// A table of a sweep's cells (rows: the axis values, the policy) by
/// `defs` (mean over seeds, for people, cycles with microseconds at the
/// cell's clock beside them).
fn cell_table(
    out: &mut String,
    id: &str,
    sw: &Sweep<'_>,
    cells: &[SweepCell<'_>],
    defs: &[&MetricDef],
) {
    let _ = write!(out, "<table id=\"{id}\">\n<tr>");
    for a in sw.axes {
        let _ = write!(out, "<th>{}</th>", escape(&a.name));
    }
    out.push_str("<th>policy</th>");
    for d in defs {
        let _ = write!(out, "<th>{}</th>", escape(&axis_title(d.name)));
    }
    out.push_str("</tr>\n");
    for c in cells {
        out.push_str("<tr>");
        for v in c.axis_values {
            let _ = write!(out, "<td>{}</td>", escape(&value_text(v)));
        }
        let _ = write!(out, "<td>{}</td>", escape(c.policy));
        let f = frequency_from_metrics(|m| c.mean(m));
        for d in defs {
            let v = c
                .mean(d.name)
                .map_or_else(String::new, |v| human_value(d, Metric::Real(v), f));
            let _ = write!(out, "<td>{}</td>", escape(&v));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// `report.html` of a sweep: its definition, the answer in words
/// ([`crate::sweep_headline`]), where the latency goes (the breakdown
/// chart, one panel per policy, one bar per grid point), the collateral
/// damage (every registry damage metric that is a sweep column, per point
/// and policy), a table of the `table_metrics` (mean over seeds) per grid
/// point and policy, the other plots, and the base scenario TOML.
#[must_use]
pub fn sweep_html(
    sw: &Sweep<'_>,
    base_toml: &str,
    table_metrics: &[String],
    plots: &[Plot],
) -> String {
    let mut out = head(&format!("tlbsim sweep: {}", sw.name));
    let _ = writeln!(
        out,
        "<h1>tlbsim sweep: {}</h1>\n<p>{}</p>\n<p>Base scenario <code>{}</code> (hash <code>{}</code>), \
         policies {}, seeds {}, tlbsim {}. {} simulations.</p>",
        escape(sw.name),
        escape(sw.description).replace('\n', "<br>\n"),
        escape(sw.base_name),
        escape(sw.base_hash),
        escape(&sw.policies.join(", ")),
        escape(
            &sw.seeds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        escape(sw.version),
        sw.rows.len()
    );
    out.push_str("<h2>Axes</h2>\n<ul>\n");
    for a in sw.axes {
        let vals: Vec<String> = a.values.iter().map(value_text).collect();
        let _ = writeln!(
            out,
            "<li><code>{}</code>: {}</li>",
            a.keys
                .iter()
                .map(|k| escape(k))
                .collect::<Vec<_>>()
                .join("</code>, <code>"),
            escape(&vals.join(", "))
        );
    }
    out.push_str("</ul>\n<h2 id=\"answer\">What this sweep shows</h2>\n<ul>\n");
    for line in crate::sweep_headline(sw) {
        let _ = writeln!(out, "<li>{}</li>", escape(&line));
    }
    out.push_str("</ul>\n");
    let cells = sw.cells();
    out.push_str(
        "<h2 id=\"breakdown\">Where the latency goes</h2>\n<p>The mean I/O latency at each \
         point, split into the parts of its life (cycles per I/O, mean over seeds), one panel \
         per policy; the parts' means are in the table of results below and in \
         <code>sweep.csv</code>.</p>\n",
    );
    figures(&mut out, plots.iter().filter(|p| p.name == BREAKDOWN_PLOT));
    out.push_str(
        "<h2 id=\"damage\">Collateral damage</h2>\n<p>What each policy costs the other CPUs \
         and their work at each point (mean over seeds; microseconds at the point's clock in \
         brackets).</p>\n",
    );
    let damage: Vec<&MetricDef> = damage_metrics().filter(|d| d.column).collect();
    cell_table(&mut out, "damage-table", sw, &cells, &damage);
    out.push_str("<h2>Results (mean over seeds)</h2>\n");
    let chosen: Vec<&MetricDef> = table_metrics.iter().filter_map(|m| metric_def(m)).collect();
    cell_table(&mut out, "results-table", sw, &cells, &chosen);
    out.push_str("<p>Every simulation, every metric: <code>sweep.csv</code>, <code>sweep.json</code>.</p>\n<h2>Plots</h2>\n");
    figures(&mut out, plots.iter().filter(|p| p.name != BREAKDOWN_PLOT));
    let _ = writeln!(
        out,
        "<h2>Base scenario (fully resolved)</h2>\n<pre>{}</pre>\n</body>\n</html>",
        escape(base_toml)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
