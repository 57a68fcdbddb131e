//! Helpers of the sweeps crate's tests: a real simulation function, a
//! small sweep, and comparisons of output directories.

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::{Path, PathBuf};

use machine::{NoObserver, RunResult, SimError};
use scenarios::Scenario;

/// Simulates a job's scenario under its one policy, trace guests included.
pub fn simulate(sc: &Scenario) -> Result<RunResult, SimError> {
    let sources = scenarios::trace_sources(&sc.config)?;
    let policy = sc.build_policy(&sc.policies[0])?;
    machine::Simulation::with_parts(&sc.config, policy, sources, NoObserver)?
        .run_observed(sc.config.stop.max_cycles)
        .map(|(r, _, _)| r)
}

/// A small sweep: 3 grid points x 2 policies x 2 seeds.
pub const SWEEP: &str = r#"
description = "test sweep"
base = "default"
policies = ["global", "percpu"]
seeds = [1, 2]

[set]
stop.ios = 200
stop.warmup_ios = 20

[axes]
"machine.cpus" = [2, 4, 8]
"#;

/// Parses `text` as the sweep file `t.toml` and resolves it.
pub fn resolve(text: &str) -> sweeps::ResolvedSweep {
    let spec = sweeps::SweepSpec::parse("t", "t.toml", text, None).unwrap();
    sweeps::ResolvedSweep::new(&spec, &[]).unwrap()
}

/// Runs `sweep` into `dir` with `jobs` threads and `shard` ("I/N").
pub fn run(sweep: &sweeps::ResolvedSweep, dir: &Path, jobs: usize, shard: &str) -> sweeps::Outcome {
    let opts = sweeps::RunOptions {
        jobs,
        shard: shard.parse().unwrap(),
    };
    sweeps::run(sweep, dir, &opts, simulate, &()).unwrap()
}

/// Every file under `dir`, relative path -> bytes, sorted.
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

/// Asserts `a` and `b` hold the same files with the same bytes.
pub fn assert_same_files(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{} differs between {} and {}",
            name.display(),
            a.display(),
            b.display()
        );
    }
}
