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
mod summary;
mod table;

pub use atomic::{write_atomic, ReportError};
pub use summary::{metrics, summary_csv, summary_json, summary_value, Metric, Report};
pub use table::table;
