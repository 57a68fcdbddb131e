//! The outputs of tlbsim.
//!
//! - [`METRICS`]: the metric registry. Each metric is defined once there
//!   (name, [`Unit`], meaning, how it is computed, where it appears); the
//!   files, the table, plot labels and `docs/metrics.md` are generated from
//!   it.
//! - [`summary_json`]: `summary.json`, the contract users' scripts rely on.
//!   Nothing host-dependent goes in it (no wall time, paths or dates), so two
//!   runs of the same scenario and seed compare byte for byte.
//! - [`summary_csv`]: one row per policy, the registry's columns
//!   ([`metrics`], which sweeps share).
//! - [`table`]: the terminal comparison, one column per policy.
//! - [`write_atomic`]: every file is written to a temporary name in the same
//!   directory and renamed into place, so a crash or Ctrl-C never leaves a
//!   half-written result.
//!
//! Architecture invariant: serialization of results lives here and nowhere
//! else; the model's types stay plain.

mod atomic;
mod engine;
mod headline;
mod html;
mod human;
mod metric;
mod per_io;
mod plots;
mod summary;
mod sweep;
mod table;
mod timeline;

pub use atomic::{abandon_writes, write_atomic, write_atomic_with, ReportError};
pub use engine::{engine_json, EngineRun};
pub use headline::{grouped, headline, micros, sweep_headline};
pub use human::{frequency_from_metrics, human_micros, human_real, human_value};
pub use metric::{
    breakdown_parts, columns, damage_metrics, metric_def, metrics_markdown, CpuMetricDef, Metric,
    MetricDef, TableRow, Unit, CPU_METRICS, METRICS, RUN_JSON_SECTIONS,
};
pub use per_io::{
    discard_per_io, join_per_io, per_io_header, PerIoColumn, PerIoWriter, PER_IO_COLUMNS,
};
pub use summary::{metrics, summary_csv, summary_json, summary_value, Report};
pub use table::table;
pub use timeline::{Timeline, TimelineConfig, DEFAULT_TIMELINE_EVENTS};

pub use html::{escape, run_html, sweep_html};
pub use plots::{
    breakdown_part_colors, format_number, metric_label, run_plots, sweep_plots, write_plots, Plot,
    PlotError,
};
pub use sweep::{
    metrics_from_json, metrics_to_json, sweep_csv, sweep_json, value_text, Sweep, SweepAxis,
    SweepCell, SweepRow,
};
