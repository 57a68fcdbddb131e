//! Plots of a run and of a sweep, as PNG and SVG.
//!
//! Every figure is described once (a [`Figure`] of panels) and drawn twice
//! with plotters: into an RGB buffer that the `png` crate encodes, and into
//! an SVG string. Text in the PNG is rasterized from DejaVu Sans, compiled
//! into the binary (the `dejavu` crate; Bitstream Vera / DejaVu licence,
//! which allows embedding and redistribution), so a PNG looks the same on
//! every machine whatever fonts it has. SVG text names the `sans-serif`
//! family and is rendered with the viewer's fonts.
//!
//! Architecture invariant: figures are a pure function of the results (no
//! dates, paths or host data), so equal results give byte-identical files.

use std::sync::Once;

use machine::RunResult;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metric::axis_title;
use crate::sweep::Sweep;

/// A figure that could not be drawn or encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw plot {name}: {message}")]
pub struct PlotError {
    /// The plot's name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// One rendered figure.
#[derive(Clone, Debug)]
pub struct Plot {
    /// File stem under `plots/` (`latency_cdf` gives `latency_cdf.png` and
    /// `latency_cdf.svg`).
    pub name: String,
    /// A one-line caption.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// Colour-blind-safe palette (Okabe and Ito), by series index.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Colours of the latency breakdown's parts, by the part's index in the
/// registry ([`crate::breakdown_parts`]), so a part keeps its colour in
/// every figure: the Okabe and Ito palette, then three further colours
/// (grey, brown, dark blue) for the parts beyond eight.
const PART_EXTRA: [RGBColor; 3] = [
    RGBColor(136, 136, 136),
    RGBColor(140, 86, 75),
    RGBColor(40, 40, 140),
];

fn part_color(i: usize) -> RGBColor {
    let i = i % (PALETTE.len() + PART_EXTRA.len());
    match PALETTE.get(i) {
        Some(c) => *c,
        None => PART_EXTRA[i - PALETTE.len()],
    }
}

/// Each part of the latency breakdown ([`crate::breakdown_parts`]) with
/// the RGB colour of its segments in the `latency_breakdown` figure (for
/// tests that look for the chart in a rendered page).
#[must_use]
pub fn breakdown_part_colors() -> Vec<(&'static str, [u8; 3])> {
    crate::breakdown_parts()
        .enumerate()
        .map(|(i, d)| {
            let c = part_color(i);
            (d.name, [c.0, c.1, c.2])
        })
        .collect()
}

/// Legend entries coloured by series index ([`color`]).
fn by_index(entries: Vec<String>) -> Vec<(String, RGBColor)> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (e, color(i)))
        .collect()
}

const FONT: &str = "sans-serif";
const LEGEND_WIDTH: u32 = 260;

/// Registers the embedded font with plotters (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the `dejavu` crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A point of a line: `y` with an error bar from `lo` to `hi`.
#[derive(Clone, Copy, Debug)]
struct LinePoint {
    x: f64,
    y: f64,
    lo: f64,
    hi: f64,
}

/// One panel of a figure.
#[derive(Clone, Debug)]
enum Panel {
    /// Grouped bars: one group per category, one bar per series.
    Bars {
        title: String,
        x_title: String,
        y_title: String,
        groups: Vec<String>,
        /// Values by series, then group.
        values: Vec<Vec<f64>>,
    },
    /// Lines (with markers and error bars, or as steps).
    Lines {
        title: String,
        x_title: String,
        y_title: String,
        /// Tick positions and their labels.
        x_ticks: Vec<(f64, String)>,
        x_range: (f64, f64),
        /// Points by series.
        series: Vec<Vec<LinePoint>>,
        steps: bool,
    },
    /// Stacked bars: one bar per category, one coloured segment per part,
    /// stacked bottom to top in the order given.
    Stacked {
        title: String,
        x_title: String,
        y_title: String,
        groups: Vec<String>,
        /// Each part: its colour and its value per group.
        parts: Vec<(RGBColor, Vec<f64>)>,
        /// The value axis' top (shared by the panels of one figure).
        y_max: f64,
    },
}

/// A figure: panels side by side and one legend on the right.
#[derive(Clone, Debug)]
struct Figure {
    name: String,
    title: String,
    size: (u32, u32),
    panels: Vec<Panel>,
    legend_title: String,
    /// Legend entries with their colours.
    legend: Vec<(String, RGBColor)>,
}

type DrawResult = Result<(), String>;

/// A linear f64 axis whose ticks are exactly the given positions.
#[derive(Clone, Debug)]
struct KeyedAxis {
    lo: f64,
    hi: f64,
    keys: Vec<f64>,
}

impl Ranged for KeyedAxis {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let f = if span > 0.0 {
            (value - self.lo) / span
        } else {
            0.5
        };
        #[allow(clippy::cast_possible_truncation, reason = "pixel coordinates")]
        let px = (f64::from(limit.1 - limit.0) * f).round() as i32;
        limit.0 + px
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for KeyedAxis {
    fn format(value: &f64) -> String {
        format_number(*value)
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Formats a number for a tick label: at most 4 significant digits, with a
/// k/M/G suffix for large values.
#[must_use]
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if scaled.fract() == 0.0 {
        format!("{scaled:.0}")
    } else {
        let decimals = if scaled.abs() >= 100.0 {
            1
        } else if scaled.abs() >= 10.0 {
            2
        } else {
            3
        };
        let s = format!("{scaled:.decimals$}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let s = if s == "-0" { "0".to_string() } else { s };
    format!("{s}{suffix}")
}

/// About `target` round tick positions (1, 2, 5 times a power of ten)
/// covering `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<(f64, String)> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    #[allow(clippy::cast_precision_loss, reason = "a small count")]
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut ticks = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 && ticks.len() < 100 {
        ticks.push((t, format_number(t)));
        t += step;
    }
    ticks
}

/// The upper end of a value axis starting at 0: a little above the largest
/// value (1 when everything is 0).
fn y_top(max: f64) -> f64 {
    if max > 0.0 && max.is_finite() {
        max * 1.08
    } else {
        1.0
    }
}

fn draw_figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let (plots, legend) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    let panels = plots.split_evenly((1, fig.panels.len().max(1)));
    for (panel, area) in fig.panels.iter().zip(&panels) {
        match panel {
            Panel::Bars { .. } => draw_bars(area, panel)?,
            Panel::Lines { .. } => draw_lines(area, panel)?,
            Panel::Stacked { .. } => draw_stacked(area, panel)?,
        }
    }
    draw_legend(&legend, &fig.legend_title, &fig.legend)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[(String, RGBColor)],
) -> DrawResult {
    let mut y = 70;
    if !title.is_empty() {
        area.draw(&Text::new(
            title.to_string(),
            (10, y),
            (FONT, 20).into_font(),
        ))
        .map_err(err)?;
        y += 34;
    }
    for (e, c) in entries {
        let c = *c;
        area.draw(&Rectangle::new([(10, y + 3), (34, y + 19)], c.filled()))
            .map_err(err)?;
        area.draw(&Text::new(e.clone(), (42, y), (FONT, 19).into_font()))
            .map_err(err)?;
        y += 30;
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> DrawResult {
    let Panel::Bars {
        title,
        x_title,
        y_title,
        groups,
        values,
    } = panel
    else {
        return Ok(());
    };
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let sf = values.len().max(1) as f64;
    let mut chart = category_chart(area, title, groups.len(), max)?;
    category_mesh(&mut chart, groups, x_title, y_title)?;
    let width = 0.8 / sf;
    for (s, vals) in values.iter().enumerate() {
        let c = color(s);
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let off = -0.4 + s as f64 * width;
        chart
            .draw_series(vals.iter().enumerate().map(|(g, v)| {
                #[allow(clippy::cast_precision_loss, reason = "small counts")]
                let left = g as f64 + off;
                Rectangle::new([(left, 0.0), (left + width * 0.9, *v)], c.filled())
            }))
            .map_err(err)?;
    }
    Ok(())
}

/// The category axis of a bar panel: `n` groups at 0..n, at most 16
/// labelled.
fn category_axis(n: usize) -> KeyedAxis {
    let every = n.max(1).div_ceil(16);
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    KeyedAxis {
        lo: -0.5,
        hi: n.max(1) as f64 - 0.5,
        keys: (0..n).step_by(every).map(|i| i as f64).collect(),
    }
}

/// The label of category tick `x` (empty between categories).
fn category_label(groups: &[String], x: f64) -> String {
    let i = x.round();
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let n = groups.len() as f64;
    if (x - i).abs() < 1e-6 && i >= 0.0 && i < n {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked range"
        )]
        groups.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// A chart of `n` categories on a value axis from 0 to a little above `max`.
fn category_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    n: usize,
    max: f64,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<KeyedAxis, plotters::coord::types::RangedCoordf64>>,
    String,
> {
    ChartBuilder::on(area)
        .caption(title, (FONT, 26))
        .margin(14)
        .x_label_area_size(62)
        .y_label_area_size(96)
        .build_cartesian_2d(category_axis(n), 0.0..y_top(max))
        .map_err(err)
}

/// The mesh of a category chart: category names under the bars, no
/// vertical grid lines.
fn category_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<KeyedAxis, plotters::coord::types::RangedCoordf64>,
    >,
    groups: &[String],
    x_title: &str,
    y_title: &str,
) -> DrawResult {
    let label = |x: &f64| category_label(groups, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(x_title)
        .y_desc(y_title)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| format_number(*v))
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)
}

fn draw_stacked<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> DrawResult {
    let Panel::Stacked {
        title,
        x_title,
        y_title,
        groups,
        parts,
        y_max,
    } = panel
    else {
        return Ok(());
    };
    let mut chart = category_chart(area, title, groups.len(), *y_max)?;
    category_mesh(&mut chart, groups, x_title, y_title)?;
    let mut bottom = vec![0.0; groups.len()];
    for (c, vals) in parts {
        let bars: Vec<Rectangle<(f64, f64)>> = vals
            .iter()
            .zip(bottom.iter_mut())
            .enumerate()
            .filter(|(_, (v, _))| **v > 0.0)
            .map(|(g, (v, b))| {
                #[allow(clippy::cast_precision_loss, reason = "small counts")]
                let x = g as f64;
                let r = Rectangle::new([(x - 0.35, *b), (x + 0.35, *b + v)], c.filled());
                *b += v;
                r
            })
            .collect();
        chart.draw_series(bars).map_err(err)?;
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> DrawResult {
    let Panel::Lines {
        title,
        x_title,
        y_title,
        x_ticks,
        x_range,
        series,
        steps,
    } = panel
    else {
        return Ok(());
    };
    let max = series
        .iter()
        .flatten()
        .map(|p| p.hi.max(p.y))
        .fold(0.0, f64::max);
    let keys: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 26))
        .margin(14)
        .margin_right(28)
        .x_label_area_size(62)
        .y_label_area_size(96)
        .build_cartesian_2d(
            KeyedAxis {
                lo: x_range.0,
                hi: x_range.1,
                keys,
            },
            0.0..y_top(max),
        )
        .map_err(err)?;
    let label = |x: &f64| {
        x_ticks
            .iter()
            .find(|t| (t.0 - x).abs() <= 1e-9 * (1.0 + x.abs()))
            .map(|t| t.1.clone())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_desc(x_title)
        .y_desc(y_title)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| format_number(*v))
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    let cap = (x_range.1 - x_range.0) * 0.008;
    for (s, pts) in series.iter().enumerate() {
        let c = color(s);
        let path: Vec<(f64, f64)> = if *steps {
            let mut v = Vec::with_capacity(pts.len() * 2);
            let mut last_y = 0.0;
            for p in pts {
                v.push((p.x, last_y));
                v.push((p.x, p.y));
                last_y = p.y;
            }
            v
        } else {
            pts.iter().map(|p| (p.x, p.y)).collect()
        };
        chart
            .draw_series(std::iter::once(PathElement::new(path, c.stroke_width(3))))
            .map_err(err)?;
        if *steps {
            continue;
        }
        chart
            .draw_series(pts.iter().map(|p| Circle::new((p.x, p.y), 5, c.filled())))
            .map_err(err)?;
        for p in pts.iter().filter(|p| p.hi > p.lo) {
            let style = c.stroke_width(2);
            chart
                .draw_series([
                    PathElement::new(vec![(p.x, p.lo), (p.x, p.hi)], style),
                    PathElement::new(vec![(p.x - cap, p.lo), (p.x + cap, p.lo)], style),
                    PathElement::new(vec![(p.x - cap, p.hi), (p.x + cap, p.hi)], style),
                ])
                .map_err(err)?;
        }
    }
    Ok(())
}

fn render(fig: &Figure) -> Result<Plot, PlotError> {
    register_font();
    let (w, h) = fig.size;
    let plot_err = |message: String| PlotError {
        name: fig.name.clone(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_figure(&root, fig).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(err(e)))?;
    }
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_figure(&root, fig).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(err(e)))?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| plot_err(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| plot_err(e.to_string()))?;
        writer.finish().map_err(|e| plot_err(e.to_string()))?;
    }
    Ok(Plot {
        name: fig.name.clone(),
        title: fig.title.clone(),
        svg,
        png: png_bytes,
    })
}

/// Writes each plot as `DIR/plots/NAME.png` and `DIR/plots/NAME.svg`
/// (atomically, creating `DIR/plots`).
///
/// # Errors
/// A file or the directory cannot be written.
pub fn write_plots(dir: &std::path::Path, plots: &[Plot]) -> Result<(), crate::ReportError> {
    let pdir = dir.join("plots");
    std::fs::create_dir_all(&pdir).map_err(|source| crate::ReportError::Write {
        path: pdir.clone(),
        source,
    })?;
    for p in plots {
        crate::write_atomic(&pdir.join(format!("{}.png", p.name)), &p.png)?;
        crate::write_atomic(&pdir.join(format!("{}.svg", p.name)), p.svg.as_bytes())?;
    }
    Ok(())
}

const SINGLE: (u32, u32) = (1100, 640);

/// The registry's counts that the `ipis_flushes_per_io` plot shows per I/O.
const IPIS_AND_FLUSHES: [&str; 4] = [
    "ipis_sent",
    "flushes_local_page",
    "flushes_local_full",
    "flushes_remote",
];

/// The plots of `tlbsim run`: IPIs and flushes per I/O, latency percentiles
/// and CDF, stolen cycles and TLB misses per CPU; one bar or line per policy.
///
/// # Errors
/// Drawing or PNG encoding failed.
pub fn run_plots(runs: &[RunResult]) -> Result<Vec<Plot>, PlotError> {
    let legend = by_index(runs.iter().map(|r| r.policy.name().to_string()).collect());
    let fig = |name: &str, title: &str, panel: Panel| Figure {
        name: name.to_string(),
        title: title.to_string(),
        size: SINGLE,
        panels: vec![panel],
        legend_title: "policy".to_string(),
        legend: legend.clone(),
    };
    // Counts of the registry, each per completed I/O.
    let events: Vec<&crate::MetricDef> = IPIS_AND_FLUSHES
        .iter()
        .filter_map(|n| crate::metric_def(n))
        .collect();
    let ipis_flushes: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| {
            let per_io = |d: &&crate::MetricDef| match (d.value)(r) {
                crate::Metric::Count(c) => r.per_io(c),
                crate::Metric::Real(v) => v,
            };
            events.iter().map(per_io).collect()
        })
        .collect();
    #[allow(clippy::cast_precision_loss, reason = "plotting")]
    let percentiles: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| {
            let l = &r.latency;
            vec![l.p50 as f64, l.p90 as f64, l.p99 as f64, l.p999 as f64]
        })
        .collect();
    #[allow(clippy::cast_precision_loss, reason = "plotting")]
    let cdf: Vec<Vec<LinePoint>> = runs
        .iter()
        .map(|r| {
            r.latency_cdf
                .iter()
                .map(|&(x, y)| LinePoint {
                    x: x as f64,
                    y,
                    lo: y,
                    hi: y,
                })
                .collect()
        })
        .collect();
    let cdf_max = cdf
        .iter()
        .flatten()
        .map(|p| p.x)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.05;
    let cpus = runs.iter().map(|r| r.per_cpu.len()).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss, reason = "plotting")]
    let per_cpu = |f: &dyn Fn(&machine::CpuStats) -> u64| -> Vec<Vec<f64>> {
        runs.iter()
            .map(|r| {
                (0..cpus)
                    .map(|c| r.per_cpu.get(c).map_or(0.0, |s| f(s) as f64))
                    .collect()
            })
            .collect()
    };
    let cpu_groups: Vec<String> = (0..cpus).map(|c| c.to_string()).collect();
    let ios = runs.first().map_or(0, |r| r.io_completed);
    let figures = [
        fig(
            "ipis_flushes_per_io",
            "IPIs and TLB flushes per I/O, by policy",
            Panel::Bars {
                title: "IPIs and TLB flushes per I/O".to_string(),
                x_title: "event".to_string(),
                y_title: crate::Unit::CountPerIo.text().to_string(),
                groups: events.iter().map(|d| d.label.to_string()).collect(),
                values: ipis_flushes,
            },
        ),
        fig(
            "latency_percentiles",
            "I/O latency percentiles, by policy",
            Panel::Bars {
                title: "I/O latency percentiles".to_string(),
                x_title: "percentile".to_string(),
                y_title: "latency (cycles)".to_string(),
                groups: ["p50", "p90", "p99", "p99.9"]
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                values: percentiles,
            },
        ),
        fig(
            "latency_cdf",
            "I/O latency CDF, by policy",
            Panel::Lines {
                title: "I/O latency CDF".to_string(),
                x_title: "latency (cycles)".to_string(),
                y_title: "fraction of I/Os at or below".to_string(),
                x_ticks: nice_ticks(0.0, cdf_max, 6),
                x_range: (0.0, cdf_max),
                series: cdf,
                steps: true,
            },
        ),
        fig(
            "stolen_cycles_per_cpu",
            "Cycles stolen by IPI handlers on each CPU, by policy",
            Panel::Bars {
                title: format!("Cycles stolen by IPI handlers ({ios} I/Os)"),
                x_title: "CPU".to_string(),
                y_title: "stolen cycles".to_string(),
                groups: cpu_groups.clone(),
                values: per_cpu(&|c| c.stolen_cycles),
            },
        ),
        fig(
            "tlb_misses_per_cpu",
            "TLB misses on each CPU, by policy",
            Panel::Bars {
                title: format!("TLB misses ({ios} I/Os)"),
                x_title: "CPU".to_string(),
                y_title: "TLB misses (page walks)".to_string(),
                groups: cpu_groups,
                values: per_cpu(&|c| c.tlb.misses),
            },
        ),
        breakdown_figure(
            "Latency breakdown per I/O, by policy",
            &[BreakdownPanel {
                title: "Where an I/O's latency goes".to_string(),
                x_title: "policy".to_string(),
                bars: runs
                    .iter()
                    .map(|r| {
                        let parts = crate::breakdown_parts()
                            .map(|d| (d.value)(r).as_f64())
                            .collect();
                        (r.policy.name().to_string(), parts)
                    })
                    .collect(),
            }],
        ),
    ];
    figures.iter().map(render).collect()
}

/// One panel of the latency breakdown figure: one stacked bar per entry
/// (its label and its value of each part of [`crate::breakdown_parts`], in
/// cycles per I/O).
struct BreakdownPanel {
    title: String,
    x_title: String,
    bars: Vec<(String, Vec<f64>)>,
}

/// The `latency_breakdown` figure: stacked bars of the breakdown's parts
/// (bottom to top in registry order, each part its own colour in every
/// figure), panels side by side on one value axis. A part that is zero in
/// every bar is left out of the bars and the legend.
fn breakdown_figure(title: &str, panels: &[BreakdownPanel]) -> Figure {
    let defs: Vec<&crate::MetricDef> = crate::breakdown_parts().collect();
    let shown: Vec<usize> = (0..defs.len())
        .filter(|&i| {
            panels
                .iter()
                .flat_map(|p| &p.bars)
                .any(|(_, parts)| parts.get(i).is_some_and(|v| *v > 0.0))
        })
        .collect();
    let y_max = panels
        .iter()
        .flat_map(|p| &p.bars)
        .map(|(_, parts)| parts.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let n = u32::try_from(panels.len()).unwrap_or(1).max(1);
    Figure {
        name: "latency_breakdown".to_string(),
        title: title.to_string(),
        size: if n == 1 {
            SINGLE
        } else {
            (LEGEND_WIDTH + 560 * n, 640)
        },
        panels: panels
            .iter()
            .map(|p| Panel::Stacked {
                title: p.title.clone(),
                x_title: p.x_title.clone(),
                y_title: crate::Unit::CyclesPerIo.text().to_string(),
                groups: p.bars.iter().map(|(l, _)| l.clone()).collect(),
                parts: shown
                    .iter()
                    .map(|&i| {
                        let vals = p
                            .bars
                            .iter()
                            .map(|(_, parts)| parts.get(i).copied().unwrap_or(0.0))
                            .collect();
                        (part_color(i), vals)
                    })
                    .collect(),
                y_max,
            })
            .collect(),
        legend_title: "part (bottom up)".to_string(),
        legend: shown
            .iter()
            .rev()
            .map(|&i| (defs[i].part_label().to_string(), part_color(i)))
            .collect(),
    }
}

/// The breakdown figure of a sweep: one panel per policy, one stacked bar
/// per grid point (labelled by its axis values), each part the mean over
/// seeds.
fn sweep_breakdown(sw: &Sweep<'_>) -> Figure {
    let cells = sw.cells();
    let names: Vec<&str> = sw.axes.iter().map(|a| a.label.as_str()).collect();
    let panels: Vec<BreakdownPanel> = sw
        .policies
        .iter()
        .map(|policy| BreakdownPanel {
            title: policy.clone(),
            x_title: names.join(", "),
            bars: cells
                .iter()
                .filter(|c| c.policy == policy)
                .map(|c| {
                    let label = c
                        .axis_values
                        .iter()
                        .map(|v| format_label(&crate::sweep::value_text(v)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let parts = crate::breakdown_parts()
                        .map(|d| c.mean(d.name).unwrap_or(0.0))
                        .collect();
                    (label, parts)
                })
                .collect(),
        })
        .collect();
    breakdown_figure(
        &format!(
            "Latency breakdown per I/O at each point of {}, by policy",
            sw.name
        ),
        &panels,
    )
}

/// A human title and unit for a metric of [`crate::metrics`], from the
/// registry: `("latency p99", "cycles")`, `("IPIs per I/O", "count per
/// I/O")`; an unknown name gives itself with spaces and no unit.
#[must_use]
pub fn metric_label(name: &str) -> (String, &'static str) {
    crate::metric_def(name).map_or_else(
        || (name.replace('_', " "), ""),
        |d| (d.label.to_string(), d.unit.text()),
    )
}

/// Where the x positions of a sweep's points go: numbers spanning 16x or
/// more are placed on a log2 scale, other numbers linearly, anything else
/// by index.
/// Tick positions with their labels.
type Ticks = Vec<(f64, String)>;

fn x_layout(values: &[serde_json::Value]) -> (Vec<f64>, Ticks, (f64, f64)) {
    let nums: Option<Vec<f64>> = values.iter().map(serde_json::Value::as_f64).collect();
    let labels: Vec<String> = values.iter().map(crate::sweep::value_text).collect();
    let xs: Vec<f64> = match nums {
        Some(n) if !n.is_empty() => {
            let lo = n.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = n.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if lo > 0.0 && hi / lo >= 16.0 {
                n.iter().map(|v| v.log2()).collect()
            } else {
                n
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        _ => (0..values.len()).map(|i| i as f64).collect(),
    };
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    let every = xs.len().div_ceil(12).max(1);
    // Sizes in whole KiB (e.g. request sizes) read better in binary units.
    let binary = values
        .iter()
        .all(|v| v.as_u64().is_some_and(|n| n >= 1024 && n % 1024 == 0));
    let ticks = xs
        .iter()
        .zip(values.iter().zip(&labels))
        .step_by(every)
        .map(|(x, (v, l))| match v.as_u64() {
            Some(n) if binary => (*x, binary_size(n)),
            _ => (*x, format_label(l)),
        })
        .collect();
    (xs, ticks, (lo - pad, hi + pad))
}

/// `4096` -> `4 KiB`, `1048576` -> `1 MiB` (whole KiB only).
fn binary_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

/// Shortens a numeric label (`1048576` -> `1.049M`); leaves other text.
fn format_label(l: &str) -> String {
    match l.parse::<f64>() {
        Ok(v) if v.abs() >= 1e4 => format_number(v),
        _ => l.to_string(),
    }
}

/// Lines of one metric of a sweep: one series per (policy, other axes)
/// combination, each point the mean over seeds with a min..max error bar.
fn sweep_series(sw: &Sweep<'_>, xs: &[f64], metric: &str) -> Vec<Vec<LinePoint>> {
    let keys = series_keys(sw);
    let mut out = Vec::with_capacity(keys.len());
    for (policy, rest) in &keys {
        let mut pts = Vec::new();
        for (xi, x) in xs.iter().enumerate() {
            let ys: Vec<f64> = sw
                .rows
                .iter()
                .filter(|r| {
                    &r.policy == policy
                        && r.axis_values.first() == sw.axes.first().and_then(|a| a.values.get(xi))
                        && r.axis_values.get(1..).unwrap_or(&[]) == rest.as_slice()
                })
                .filter_map(|r| r.metric(metric))
                .collect();
            if ys.is_empty() {
                continue;
            }
            #[allow(clippy::cast_precision_loss, reason = "a mean")]
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            pts.push(LinePoint {
                x: *x,
                y: mean,
                lo: ys.iter().copied().fold(f64::INFINITY, f64::min),
                hi: ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            });
        }
        out.push(pts);
    }
    out
}

/// The (policy, values of the axes after the first) combinations, in order:
/// other axes' values first (grid order), then policies as listed.
fn series_keys(sw: &Sweep<'_>) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut rests: Vec<Vec<serde_json::Value>> = vec![Vec::new()];
    for axis in sw.axes.iter().skip(1) {
        rests = rests
            .iter()
            .flat_map(|r| {
                axis.values.iter().map(move |v| {
                    let mut r = r.clone();
                    r.push(v.clone());
                    r
                })
            })
            .collect();
    }
    let mut keys = Vec::new();
    for rest in rests {
        for p in sw.policies {
            keys.push((p.clone(), rest.clone()));
        }
    }
    keys
}

fn sweep_legend(sw: &Sweep<'_>) -> (String, Vec<String>) {
    let keys = series_keys(sw);
    let entries = keys
        .iter()
        .map(|(p, rest)| {
            let mut parts = vec![p.clone()];
            parts.extend(
                rest.iter()
                    .map(|v| format_label(&crate::sweep::value_text(v))),
            );
            parts.join(", ")
        })
        .collect();
    let mut title = vec!["policy".to_string()];
    title.extend(sw.axes.iter().skip(1).map(|a| a.name.clone()));
    (title.join(", "), entries)
}

fn sweep_panel(sw: &Sweep<'_>, metric: &str) -> Panel {
    let first = sw.axes.first();
    let values = first.map(|a| a.values.as_slice()).unwrap_or(&[]);
    let (xs, x_ticks, x_range) = x_layout(values);
    let (title, _) = metric_label(metric);
    let x_title = first.map_or_else(String::new, |a| a.label.clone());
    Panel::Lines {
        title,
        x_title,
        y_title: axis_title(metric),
        x_ticks,
        x_range,
        series: sweep_series(sw, &xs, metric),
        steps: false,
    }
}

/// The plots of a sweep: `figure` (the metrics of `figure_metrics` side by
/// side), then one plot per metric of [`crate::metrics`] against the first
/// axis; one line per policy (and per combination of the other axes'
/// values); points are means over seeds, error bars span min to max.
///
/// # Errors
/// Drawing or PNG encoding failed.
pub fn sweep_plots(sw: &Sweep<'_>, figure_metrics: &[String]) -> Result<Vec<Plot>, PlotError> {
    let (legend_title, legend) = sweep_legend(sw);
    let legend = by_index(legend);
    let mut figures = Vec::new();
    if !figure_metrics.is_empty() {
        let n = u32::try_from(figure_metrics.len()).unwrap_or(1);
        figures.push(Figure {
            name: "figure".to_string(),
            title: format!("{}: {}", sw.name, figure_metrics.join(", ")),
            size: (LEGEND_WIDTH + 640 * n, 600),
            panels: figure_metrics.iter().map(|m| sweep_panel(sw, m)).collect(),
            legend_title: legend_title.clone(),
            legend: legend.clone(),
        });
    }
    figures.push(sweep_breakdown(sw));
    for metric in sw.metric_names() {
        let (title, _) = metric_label(&metric);
        figures.push(Figure {
            name: metric.clone(),
            title: format!(
                "{title} against {}",
                sw.axes.first().map_or("", |a| &a.label)
            ),
            size: SINGLE,
            panels: vec![sweep_panel(sw, &metric)],
            legend_title: legend_title.clone(),
            legend: legend.clone(),
        });
    }
    figures.iter().map(render).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(7.0), "7");
        assert_eq!(format_number(0.125), "0.125");
        assert_eq!(format_number(45056.0), "45.06k");
        assert_eq!(format_number(1_048_576.0), "1.049M");
        assert_eq!(format_number(2_500_000_000.0), "2.5G");
    }

    #[test]
    fn the_per_io_events_plot_shows_registry_counts() {
        for n in IPIS_AND_FLUSHES {
            let d = crate::metric_def(n).expect("a registry metric");
            assert_eq!(d.unit, crate::Unit::Count, "{n}");
        }
    }

    #[test]
    fn every_part_has_its_own_colour() {
        let colors = breakdown_part_colors();
        for (i, (a, ca)) in colors.iter().enumerate() {
            for (b, cb) in &colors[i + 1..] {
                assert_ne!(ca, cb, "{a} and {b} share a colour");
            }
        }
    }

    #[test]
    fn ticks_are_round() {
        let t: Vec<f64> = nice_ticks(0.0, 105.0, 6).iter().map(|t| t.0).collect();
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }

    #[test]
    fn wide_numeric_axes_are_log2() {
        let vals: Vec<serde_json::Value> = [2, 4, 256].iter().map(|v| (*v).into()).collect();
        let (xs, ticks, _) = x_layout(&vals);
        assert_eq!(xs, vec![1.0, 2.0, 8.0]);
        assert_eq!(ticks[2].1, "256");
        let cats: Vec<serde_json::Value> = vec!["bare-metal".into(), "vm".into()];
        assert_eq!(x_layout(&cats).0, vec![0.0, 1.0]);
        let sizes: Vec<serde_json::Value> = [4096, 1_048_576].iter().map(|v| (*v).into()).collect();
        let labels: Vec<String> = x_layout(&sizes).1.into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["4 KiB", "1 MiB"]);
    }
}
