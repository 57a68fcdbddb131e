//! The outputs of tlbsim.
//!
//! - [`summary_json`]: `summary.json`, the contract users' scripts rely on.
//!   Nothing host-dependent goes in it (no wall time, paths or dates), so two
//!   runs of the same scenario and seed compare byte for byte.
//! - [`summary_csv`]: one row per policy, the same metrics flattened
//!   ([`metrics`] is the single list both use).
//! - [`table`]: the terminal comparison, one column per policy.
//! - [`write_atomic`]: every file is written to a temporary name in the same
//!   directory and renamed into place, so a crash or Ctrl-C never leaves a
//!   half-written result.
//!
//! Architecture invariant: serialization of results lives here and nowhere
//! else; the model's types stay plain.

mod atomic;
mod engine;
mod html;
mod plots;
mod summary;
mod sweep;
mod table;
mod timeline;

pub use atomic::{write_atomic, write_atomic_with, ReportError};
pub use engine::{engine_json, EngineRun};
pub use summary::{metrics, summary_csv, summary_json, summary_value, Metric, Report};
pub use table::table;
pub use timeline::{Timeline, TimelineConfig, DEFAULT_TIMELINE_EVENTS};

pub use html::{escape, run_html, sweep_html};
pub use plots::{
    format_number, metric_label, run_plots, sweep_plots, write_plots, Plot, PlotError,
};
pub use sweep::{
    metrics_from_json, metrics_to_json, sweep_csv, sweep_json, value_text, Sweep, SweepAxis,
    SweepRow,
};
