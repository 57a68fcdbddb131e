//! `report.html`: one self-contained file per run or sweep.
//!
//! Everything is inline: the plots as SVG elements, a small stylesheet, the
//! resolved scenario as text. There is no script and no reference to
//! another file or host, so it opens offline in any browser, can be mailed
//! or attached to a CI run as is, and two equal runs give byte-identical
//! reports (nothing host-dependent goes in).

use std::fmt::Write as _;

use crate::metric::axis_title;
use crate::plots::Plot;
use crate::sweep::{value_text, Sweep};
use crate::{metrics, Report};

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}\
figure{margin:1em 0}figcaption{font-size:0.9em;color:#555}svg{max-width:100%;height:auto}\
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:0.85em}code{font-size:0.95em}";

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

fn figures(out: &mut String, plots: &[Plot]) {
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

/// `report.html` of `tlbsim run`: the scenario, the summary table (every
/// metric of [`metrics`], one column per policy), the plots, and the fully
/// resolved scenario TOML.
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
    out.push_str("<h2>Summary</h2>\n<table>\n<tr><th>metric</th>");
    for r in rep.runs {
        let _ = write!(out, "<th>{}</th>", escape(r.policy.name()));
    }
    out.push_str("</tr>\n");
    let cols: Vec<_> = rep.runs.iter().map(metrics).collect();
    if let Some(first) = cols.first() {
        for (i, (name, _)) in first.iter().enumerate() {
            let _ = write!(out, "<tr><td>{}</td>", escape(name));
            for c in &cols {
                let v = c.get(i).map(|(_, v)| v.to_field()).unwrap_or_default();
                let _ = write!(out, "<td>{}</td>", escape(&v));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n<h2>Plots</h2>\n");
    figures(&mut out, plots);
    let _ = writeln!(
        out,
        "<h2>Scenario (fully resolved)</h2>\n<p>Run it again with <code>tlbsim run scenario.toml</code>.</p>\n<pre>{}</pre>\n</body>\n</html>",
        escape(scenario_toml)
    );
    out
}

/// `report.html` of a sweep: its definition, a table of the `table_metrics`
/// (mean over seeds) per grid point and policy, the plots, and the base
/// scenario TOML.
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
    out.push_str("</ul>\n<h2>Results (mean over seeds)</h2>\n<table>\n<tr>");
    for a in sw.axes {
        let _ = write!(out, "<th>{}</th>", escape(&a.name));
    }
    out.push_str("<th>policy</th>");
    for m in table_metrics {
        let _ = write!(out, "<th>{}</th>", escape(&axis_title(m)));
    }
    out.push_str("</tr>\n");
    let mut i = 0;
    while i < sw.rows.len() {
        let r = &sw.rows[i];
        let group: Vec<_> = sw.rows[i..]
            .iter()
            .take_while(|o| o.point == r.point && o.policy == r.policy)
            .collect();
        out.push_str("<tr>");
        for v in &r.axis_values {
            let _ = write!(out, "<td>{}</td>", escape(&value_text(v)));
        }
        let _ = write!(out, "<td>{}</td>", escape(&r.policy));
        for m in table_metrics {
            let ys: Vec<f64> = group.iter().filter_map(|g| g.metric(m)).collect();
            #[allow(clippy::cast_precision_loss, reason = "a mean")]
            let mean = if ys.is_empty() {
                String::new()
            } else {
                crate::plots::format_number(ys.iter().sum::<f64>() / ys.len() as f64)
            };
            let _ = write!(out, "<td>{}</td>", escape(&mean));
        }
        out.push_str("</tr>\n");
        i += group.len().max(1);
    }
    out.push_str("</table>\n<p>Every simulation, every metric: <code>sweep.csv</code>, <code>sweep.json</code>.</p>\n<h2>Plots</h2>\n");
    figures(&mut out, plots);
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
