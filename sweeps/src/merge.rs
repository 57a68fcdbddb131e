//! Assembling the summary files from the point files, and merging shards.

use std::path::{Path, PathBuf};

use reports::SweepRow;

use crate::{Plan, PointStore, SweepError};

/// Writes `sweep.csv`, `sweep.json`, the plots and `report.html` of `plan`
/// into `dir`, from the point files of `dir`, in plan order.
///
/// # Errors
/// A job has no point file ([`SweepError::MissingPoints`]), a `figure`
/// metric is unknown, or a file cannot be written.
pub fn assemble(dir: &Path, plan: &Plan) -> Result<(), SweepError> {
    let store = PointStore::new(dir);
    let mut rows = Vec::with_capacity(plan.jobs.len());
    let mut missing = Vec::new();
    for j in &plan.jobs {
        match store.read(&j.hash) {
            Some(metrics) => rows.push(SweepRow {
                point: j.point,
                axis_values: j.axis_values.clone(),
                policy: j.policy.to_string(),
                seed: j.seed,
                hash: j.hash.to_string(),
                metrics,
            }),
            None => missing.push(j),
        }
    }
    if let Some(first) = missing.first() {
        return Err(SweepError::MissingPoints {
            dir: store.dir().to_path_buf(),
            missing: missing.len(),
            total: plan.jobs.len(),
            first: Box::new((*first).clone()),
        });
    }
    let policies: Vec<String> = plan.policies.iter().map(ToString::to_string).collect();
    let sw = reports::Sweep {
        version: crate::VERSION,
        name: &plan.name,
        description: &plan.description,
        base_name: &plan.base_name,
        base_hash: plan.base_hash.as_str(),
        axes: &plan.axes,
        policies: &policies,
        seeds: &plan.seeds,
        rows: &rows,
    };
    let known = sw.metric_names();
    if let Some(bad) = plan.figure.iter().find(|m| !known.contains(m)) {
        return Err(SweepError::UnknownMetric {
            metric: bad.clone(),
            known,
        });
    }
    reports::write_atomic(&dir.join("sweep.csv"), reports::sweep_csv(&sw)?.as_bytes())?;
    reports::write_atomic(&dir.join("sweep.json"), reports::sweep_json(&sw).as_bytes())?;
    let plots = reports::sweep_plots(&sw, &plan.figure)?;
    reports::write_plots(dir, &plots)?;
    let html = reports::sweep_html(&sw, &plan.base_toml, &plan.figure, &plots);
    reports::write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(())
}

/// Reads and parses `DIR/plan.json`, returning its text too.
pub(crate) fn read_plan(dir: &Path) -> Result<(String, Plan), SweepError> {
    let path = dir.join("plan.json");
    let text = std::fs::read_to_string(&path).map_err(|error| SweepError::Read {
        path: path.clone(),
        error,
    })?;
    let plan = Plan::from_json(&text).ok_or(SweepError::BadPlan { path })?;
    Ok((text, plan))
}

/// What [`merge`] did.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The merged plan.
    pub plan: Plan,
    /// Point files copied into the output directory.
    pub copied: usize,
}

/// Joins the output directories of a sharded sweep into `out` (which may be
/// one of them): checks they hold the same `plan.json`, copies their point
/// files, and writes exactly the files one unsharded run writes.
///
/// # Errors
/// No directory, a directory without a plan, plans that differ, jobs no
/// shard finished, or a file that cannot be read or written.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, SweepError> {
    let mut first: Option<(String, Plan, &Path)> = None;
    for d in dirs {
        let (text, plan) = read_plan(d)?;
        match &first {
            None => first = Some((text, plan, d)),
            Some((t, _, fd)) if *t != text => {
                return Err(SweepError::PlanMismatch {
                    first: fd.to_path_buf(),
                    other: d.clone(),
                })
            }
            Some(_) => {}
        }
    }
    let (text, plan, _) = first.ok_or(SweepError::NothingToMerge)?;
    let target = PointStore::new(out);
    target.create()?;
    let _lock = crate::DirLock::acquire(out)?;
    let mut copied = 0;
    for j in &plan.jobs {
        if target.has(&j.hash) {
            continue;
        }
        for d in dirs {
            if target.copy_from(&PointStore::new(d), &j.hash)? {
                copied += 1;
                break;
            }
        }
    }
    reports::write_atomic(&out.join("plan.json"), text.as_bytes())?;
    assemble(out, &plan)?;
    Ok(Merged { plan, copied })
}
