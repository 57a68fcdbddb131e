//! `tlbsim run --timeline FILE.json`: a run watched by
//! [`reports::Timeline`] and written as Chrome trace-event JSON.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hypervisor::{PolicyName, PolicySpec};
use machine::{EngineStats, RunResult};
use scenarios::Scenario;

use sweeps::simulate_observed;

/// Where and what to record.
#[derive(Clone, Debug)]
pub struct TimelineOptions {
    path: PathBuf,
    start: u64,
    end: Option<u64>,
    max_events: usize,
    /// Several policies: one file each.
    per_policy: bool,
}

/// `--timeline-window START..END` (cycles; either end may be omitted).
fn parse_window(w: &str) -> Result<(u64, Option<u64>)> {
    let Some((a, b)) = w.split_once("..") else {
        bail!("--timeline-window must be START..END in cycles (e.g. 0..5000000), got `{w}`");
    };
    let num = |s: &str, what: &str| -> Result<Option<u64>> {
        let s = s.trim().replace('_', "");
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .with_context(|| format!("--timeline-window: {what} `{s}` is not a number of cycles"))
    };
    let start = num(a, "START")?.unwrap_or(0);
    let end = num(b, "END")?;
    if end.is_some_and(|e| e <= start) {
        bail!("--timeline-window: END must be after START, got `{w}`");
    }
    Ok((start, end))
}

/// The options of `tlbsim run`'s timeline flags, if `--timeline` is given.
///
/// # Errors
/// A bad window.
pub fn options(
    path: Option<&Path>,
    window: Option<&str>,
    max_events: usize,
    sc: &Scenario,
) -> Result<Option<TimelineOptions>> {
    let Some(path) = path else {
        if window.is_some() {
            bail!("--timeline-window needs --timeline FILE.json");
        }
        return Ok(None);
    };
    let (start, end) = window.map_or(Ok((0, None)), parse_window)?;
    Ok(Some(TimelineOptions {
        path: path.to_path_buf(),
        start,
        end,
        max_events,
        per_policy: sc.policies.len() > 1,
    }))
}

/// `FILE` for one policy, `FILE` with `.POLICY` before its extension for
/// several (`tl.json` -> `tl.global.json`; no extension: `tl` ->
/// `tl.global.json`).
#[must_use]
pub fn file_for(path: &Path, policy: &PolicyName, per_policy: bool) -> PathBuf {
    if !per_policy {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "json".to_string(), |e| e.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.{}.{ext}", policy.name()))
}

impl TimelineOptions {
    /// Simulates `sc` under `policy` recording a timeline, and writes it.
    ///
    /// # Errors
    /// The simulation failed, or the file cannot be written.
    pub fn simulate(&self, sc: &Scenario, policy: &PolicySpec) -> Result<(RunResult, EngineStats)> {
        let tl = reports::Timeline::new(reports::TimelineConfig {
            scenario: sc.name.clone(),
            policy: policy.name.to_string(),
            cpus: sc.config.machine.cpus,
            io_cpus: sc.config.host.io_cpus,
            frequency_ghz: sc.config.machine.frequency_ghz,
            window_start: self.start,
            window_end: self.end,
            max_events: self.max_events,
        });
        let (r, e, tl) = simulate_observed(sc, policy, tl)?;
        let file = file_for(&self.path, &policy.name, self.per_policy);
        reports::write_atomic(&file, tl.to_json().as_bytes())?;
        if tl.dropped() > 0 {
            eprintln!(
                "warning: timeline {} keeps its first {} events and drops {} (raise --timeline-max-events or narrow --timeline-window)",
                file.display(),
                tl.events(),
                tl.dropped()
            );
        }
        Ok((r, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_file_names() {
        assert_eq!(parse_window("10..20").unwrap(), (10, Some(20)));
        assert_eq!(parse_window("..1_000").unwrap(), (0, Some(1000)));
        assert_eq!(parse_window("5..").unwrap(), (5, None));
        assert!(parse_window("20..10").is_err());
        assert!(parse_window("abc").is_err());
        assert_eq!(
            file_for(Path::new("out/tl.json"), &PolicyName::new("percpu"), true),
            Path::new("out/tl.percpu.json")
        );
        assert_eq!(
            file_for(Path::new("tl.json"), &PolicyName::new("global"), false),
            Path::new("tl.json")
        );
    }
}
