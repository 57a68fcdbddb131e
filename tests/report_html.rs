//! `tlbsim run --out DIR` and `tlbsim sweep --out DIR` write valid plots and
//! a self-contained report.html that opens with its answer, then shows
//! where the latency goes (the breakdown chart) and the collateral damage,
//! and renders offline in headless Chromium.
//!
//! The Chromium checks are reported as *ignored* (never as passed), with
//! the reason printed, only outside CI when no `chromium` is installed;
//! under `CI=true` they must run (`.ci/run` installs the Debian package).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tlbsim(args: &[&str], out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_tlbsim"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("tlbsim runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn run_default(out: &Path) {
    tlbsim(
        &[
            "run",
            "migration",
            "--policies",
            "global,percpu,percpu-unsafe",
            "--set",
            "stop.ios=1000",
            "--set",
            "stop.warmup_ios=100",
        ],
        out,
    );
}

/// A small sweep: 2 migration rates x 3 policies x 2 seeds.
const SWEEP: &str = r#"
description = "report test"
base = "migration"
policies = ["global", "percpu", "percpu-unsafe"]
seeds = [1, 2]
figure = ["latency_p99"]

[set]
stop.ios = 400
stop.warmup_ios = 40

[[axes]]
key = "host.migration_probability"
label = "migration probability"
values = [0.0, 0.3]
"#;

fn run_sweep(dir: &Path) -> PathBuf {
    let file = dir.join("small.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = dir.join("sweep");
    tlbsim(&["sweep", file.to_str().unwrap()], &out);
    out
}

const PLOTS: [&str; 6] = [
    "ipis_flushes_per_io",
    "latency_percentiles",
    "latency_cdf",
    "stolen_cycles_per_cpu",
    "tlb_misses_per_cpu",
    "latency_breakdown",
];

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The text of the element that starts at `id="ID"` up to the next `<h2`
/// (a section), or to the end of its `</table>` / `</figure>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element id={id}"));
    let rest = &html[start..];
    let end = ["<h2", "</table>", "</figure>"]
        .iter()
        .filter_map(|m| rest[1..].find(m).map(|i| i + 1))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

fn check_plot_files(out: &Path, names: &[&str]) {
    for name in names {
        let png = std::fs::read(out.join(format!("plots/{name}.png"))).unwrap();
        let (w, h) = png_size(&png);
        assert!(w >= 800 && h >= 500, "{name}.png is {w}x{h}");
        assert!(png.len() > 5_000, "{name}.png is nearly empty");
        let svg = std::fs::read_to_string(out.join(format!("plots/{name}.svg"))).unwrap();
        assert!(svg.trim_start().starts_with("<svg"), "{name}.svg");
        assert!(svg.contains("<text"), "{name}.svg has no text");
    }
}

/// The breakdown figure draws one segment per non-zero part of each bar, in
/// that part's colour; the damage table has a row per damage metric of the
/// registry.
fn check_breakdown_and_damage(html: &str, bars: &[Vec<(&str, f64)>]) {
    let fig = section(html, "plot-latency_breakdown");
    assert!(fig.contains("<svg"), "the breakdown chart is inline");
    let colors = reports::breakdown_part_colors();
    // Black is also the text's fill.
    for (name, rgb) in colors.iter().filter(|(_, rgb)| *rgb != [0, 0, 0]) {
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", rgb[0], rgb[1], rgb[2]);
        let nonzero = bars
            .iter()
            .filter(|b| b.iter().any(|(n, v)| n == name && *v > 0.0))
            .count();
        // One filled rectangle per bar where the part is non-zero, plus
        // its legend swatch.
        let drawn = fig.matches(&fill).count();
        let want = if nonzero == 0 { 0 } else { nonzero + 1 };
        assert_eq!(
            drawn, want,
            "{name}: {fill} drawn {drawn} times, want {want}"
        );
    }
    let damage = section(html, "damage-table");
    for d in reports::damage_metrics().filter(|d| d.column) {
        assert!(
            damage.contains(&format!("<code>{}</code>", d.name))
                || damage.contains(&format!("<th>{}", reports::escape(&d.axis_title()))),
            "damage section lacks {}",
            d.name
        );
    }
    for bad in ["<script", "src=", "href=", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
}

/// Each policy's breakdown parts from a run object of summary.json.
fn run_bars(summary: &Value) -> Vec<Vec<(&'static str, f64)>> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            reports::breakdown_parts()
                .map(|d| {
                    let key = d.json.unwrap().split_once('.').unwrap().1;
                    (
                        d.name,
                        r["latency_breakdown_cycles_per_io"][key].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Metric name -> value.
type Metrics = serde_json::Map<String, Value>;

/// A grid point (its axes as JSON text), a policy and the mean over seeds
/// of each metric.
type Cell = (String, String, Metrics);

/// Mean over seeds of each (point, policy) of sweep.json's rows.
fn sweep_cells(sweep: &Value) -> Vec<Cell> {
    type Group<'a> = (String, String, Vec<&'a Metrics>);
    let mut cells: Vec<Group<'_>> = Vec::new();
    for row in sweep["rows"].as_array().unwrap() {
        let point = row["axes"].to_string();
        let policy = row["policy"].as_str().unwrap().to_string();
        let m = row["metrics"].as_object().unwrap();
        match cells.last_mut() {
            Some(c) if c.0 == point && c.1 == policy => c.2.push(m),
            _ => cells.push((point, policy, vec![m])),
        }
    }
    cells
        .into_iter()
        .map(|(point, policy, ms)| {
            let mut mean = serde_json::Map::new();
            for k in ms[0].keys() {
                #[allow(clippy::cast_precision_loss, reason = "a mean")]
                let v = ms.iter().map(|m| m[k].as_f64().unwrap()).sum::<f64>() / ms.len() as f64;
                mean.insert(k.clone(), v.into());
            }
            (point, policy, mean)
        })
        .collect()
}

/// Each cell's breakdown parts (one bar of the sweep's chart).
fn cell_bars(cells: &[Cell]) -> Vec<Vec<(&'static str, f64)>> {
    cells
        .iter()
        .map(|c| {
            reports::breakdown_parts()
                .map(|d| (d.name, c.2[d.name].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

fn run_writes_plots_and_a_report_that_answers_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_default(&out);
    check_plot_files(&out, &PLOTS);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for p in PLOTS {
        assert!(html.contains(&format!("id=\"plot-{p}\"")), "{p} not inline");
    }
    assert_eq!(html.matches("<svg").count(), PLOTS.len());
    assert!(
        html.contains("migration_probability"),
        "the resolved scenario is in the report"
    );
    assert!(
        html.contains("<code>ipis_per_io</code>"),
        "the summary table is in the report"
    );
    // The answer comes first, with numbers taken from the run's own summary.
    let summary = read_json(&out.join("summary.json"));
    // Safe runs only: a policy that used stale translations is no answer.
    let mut runs: Vec<&Value> = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stale_uses"] == 0)
        .collect();
    runs.sort_by(|a, b| {
        b["throughput"]["iops"]
            .as_f64()
            .unwrap()
            .total_cmp(&a["throughput"]["iops"].as_f64().unwrap())
    });
    let (best, second) = (runs[0], runs[1]);
    let ratio = best["throughput"]["iops"].as_f64().unwrap()
        / second["throughput"]["iops"].as_f64().unwrap();
    let order: Vec<usize> = [
        "id=\"answer\"",
        "id=\"breakdown\"",
        "id=\"damage\"",
        "<h2>Summary</h2>",
    ]
    .iter()
    .map(|m| html.find(m).unwrap_or_else(|| panic!("no {m}")))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "answer, breakdown, damage, then the table: {order:?}"
    );
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive rate, for display"
    )]
    let best_iops = best["throughput"]["iops"].as_f64().unwrap().round() as u64;
    let want = format!(
        "{} serves the most I/O: {} I/Os per second, {ratio:.2}x {}",
        best["policy"].as_str().unwrap(),
        reports::grouped(best_iops),
        second["policy"].as_str().unwrap()
    );
    assert!(
        section(&html, "answer").contains(&want),
        "no headline {want:?}"
    );
    assert!(
        html.contains("steals"),
        "the damage to other CPUs is stated"
    );
    check_breakdown_and_damage(&html, &run_bars(&summary));
    // The damage table's stolen cycles per I/O: the summary's number, for
    // people, with microseconds beside it.
    let global = &summary["runs"][0];
    assert_eq!(global["policy"], "global");
    let stolen =
        global["stolen_cycles"].as_f64().unwrap() / global["io"]["completed"].as_f64().unwrap();
    let cell = format!(
        "{} ({})",
        reports::human_real(stolen),
        reports::human_micros(stolen, 2.5)
    );
    let row = section(&html, "damage-table")
        .lines()
        .find(|l| l.contains("<code>stolen_cycles_per_io</code>"))
        .expect("a stolen-cycles row");
    assert!(
        row.contains(&format!("<td>{cell}</td>")),
        "{row} lacks {cell}"
    );
    // Same inputs, byte-identical report.
    let again = tmp.path().join("again");
    run_default(&again);
    assert_eq!(
        html,
        std::fs::read_to_string(again.join("report.html")).unwrap()
    );
}

fn sweep_report_answers_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_sweep(tmp.path());
    check_plot_files(&out, &["latency_breakdown", "figure"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let sweep = read_json(&out.join("sweep.json"));
    let cells = sweep_cells(&sweep);
    // The answer: the safe policy with the most IOPS at the most points.
    let mut wins: Vec<(String, usize)> = Vec::new();
    let points: Vec<String> = {
        let mut p: Vec<String> = cells.iter().map(|c| c.0.clone()).collect();
        p.dedup();
        p
    };
    // Ties go to the policy listed first, as the headline's stable sort does.
    let policies: Vec<&str> = sweep["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in &points {
        let mut best: Option<&Cell> = None;
        for c in cells
            .iter()
            .filter(|c| &c.0 == p && c.2["stale_uses"].as_f64() == Some(0.0))
        {
            let iops = |c: &Cell| c.2["iops"].as_f64().unwrap();
            if best.is_none_or(|b| iops(c) > iops(b)) {
                best = Some(c);
            }
        }
        let best = best.expect("a safe policy");
        match wins.iter_mut().find(|w| w.0 == best.1) {
            Some(w) => w.1 += 1,
            None => wins.push((best.1.clone(), 1)),
        }
    }
    wins.sort_by_key(|w| {
        (
            std::cmp::Reverse(w.1),
            policies.iter().position(|p| *p == w.0),
        )
    });
    let want = format!(
        "{} serves the most I/O at {} of the {} points of this sweep",
        wins[0].0,
        wins[0].1,
        points.len()
    );
    assert!(
        section(&html, "answer").contains(&want),
        "no headline {want:?}"
    );
    let order: Vec<usize> = [
        "id=\"answer\"",
        "id=\"breakdown\"",
        "id=\"damage\"",
        "Results (mean over seeds)",
    ]
    .iter()
    .map(|m| html.find(m).unwrap_or_else(|| panic!("no {m}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let bars = cell_bars(&cells);
    check_breakdown_and_damage(&html, &bars);
    // One damage row per point and policy.
    let damage = section(&html, "damage-table");
    assert_eq!(damage.matches("<tr>").count(), cells.len() + 1);
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Runs headless Chromium on `report` with `mode` (`--dump-dom` or
/// `--screenshot=FILE`); its standard output.
fn browse(report: &Path, profile: &Path, mode: &str) -> String {
    let browser = chromium().expect("no chromium (apt-get install chromium): .ci/run installs it");
    let report = report.canonicalize().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,3000",
            mode,
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// RGB pixels of a screenshot with exactly colour `rgb`.
fn count_pixels(png_bytes: &[u8], rgb: [u8; 3]) -> usize {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks_exact(bpp)
        .filter(|p| p[..3] == rgb)
        .count()
}

/// The report in Chromium: the parsed page keeps the headline, the
/// breakdown chart and the damage table; the screenshot is painted (not
/// blank) and shows the breakdown chart's own colours. `bars` are the
/// chart's bars (part name, value) and `series` the number of policies
/// (whose colours the other charts also use).
fn renders_in_chromium(report: &Path, bars: &[Vec<(&str, f64)>], series: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dom = browse(report, &tmp.path().join("p1"), "--dump-dom");
    let answer = section(&dom, "answer");
    assert!(answer.matches("<li>").count() >= 2, "headline: {answer}");
    assert!(answer.contains("serves the most I/O"), "headline: {answer}");
    let fig = section(&dom, "plot-latency_breakdown");
    assert!(
        fig.matches("<rect").count() > bars.len(),
        "breakdown chart in the DOM"
    );
    let damage = section(&dom, "damage-table");
    assert!(damage.contains("stolen_cycles_per_io") || damage.contains("stolen cycles per I/O"));
    let shot = tmp.path().join("shot.png");
    browse(
        report,
        &tmp.path().join("p2"),
        &format!("--screenshot={}", shot.display()),
    );
    let png_bytes = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(png_size(&png_bytes), (1200, 3000));
    // A blank page compresses to a few KiB; the tables and plots do not.
    assert!(
        png_bytes.len() > 100_000,
        "screenshot is only {} bytes",
        png_bytes.len()
    );
    // Parts drawn in a colour no other chart uses (not a policy's, not
    // black): each non-zero one is painted, and the largest covers more
    // than two legend swatches' worth (24 x 16 pixels each) of pixels.
    let colors = reports::breakdown_part_colors();
    let own: Vec<(&str, [u8; 3], f64)> = colors
        .iter()
        .enumerate()
        .filter(|(i, (_, rgb))| *i >= series && *rgb != [0, 0, 0])
        .map(|(_, (name, rgb))| {
            let largest = bars
                .iter()
                .flat_map(|b| b.iter().filter(|(n, _)| n == name).map(|(_, v)| *v))
                .fold(0.0, f64::max);
            (*name, *rgb, largest)
        })
        .filter(|(_, _, v)| *v > 0.0)
        .collect();
    assert!(!own.is_empty(), "no part to look for");
    for (name, rgb, _) in &own {
        assert!(count_pixels(&png_bytes, *rgb) > 0, "{name} not painted");
    }
    let (name, rgb, _) = own
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .expect("a part");
    let n = count_pixels(&png_bytes, *rgb);
    assert!(n > 2 * 24 * 16, "{name}: only {n} pixels of its colour");
}

fn run_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_default(&out);
    let summary = read_json(&out.join("summary.json"));
    renders_in_chromium(&out.join("report.html"), &run_bars(&summary), 3);
}

fn sweep_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_sweep(tmp.path());
    let cells = sweep_cells(&read_json(&out.join("sweep.json")));
    let bars = cell_bars(&cells);
    renders_in_chromium(&out.join("report.html"), &bars, 3);
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let no_browser = chromium().is_none();
    if no_browser && !ci {
        eprintln!(
            "report_html: the headless-Chromium checks are ignored: chromium is not installed \
             (apt-get install chromium); CI=true requires them"
        );
    }
    let skip = no_browser && !ci;
    let trials = vec![
        libtest_mimic::Trial::test("run_writes_plots_and_a_report_that_answers_first", || {
            run_writes_plots_and_a_report_that_answers_first();
            Ok(())
        }),
        libtest_mimic::Trial::test("sweep_report_answers_first", || {
            sweep_report_answers_first();
            Ok(())
        }),
        libtest_mimic::Trial::test("run_report_renders_in_headless_chromium", || {
            run_report_renders_in_headless_chromium();
            Ok(())
        })
        .with_ignored_flag(skip),
        libtest_mimic::Trial::test("sweep_report_renders_in_headless_chromium", || {
            sweep_report_renders_in_headless_chromium();
            Ok(())
        })
        .with_ignored_flag(skip),
    ];
    libtest_mimic::run(&args, trials).exit();
}
