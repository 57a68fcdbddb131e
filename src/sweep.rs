//! `tlbsim sweep` and `tlbsim merge`: the arguments, a progress bar and the
//! terminal messages around the `sweeps` crate.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use sweeps::{Counts, ResolvedSweep, RunOptions};

use sweeps::simulate;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// A bundled experiment (scaling, io-size, migration, ipi-cost, policies,
    /// sensitivity) or a path to a sweep .toml file.
    pub sweep: String,
    /// Simulations run in parallel (0: one per core). Results do not
    /// depend on it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub jobs: usize,
    /// Run only the I-th of N disjoint slices of the simulations (1-based),
    /// for cluster job arrays; join the shards with `tlbsim merge`. `auto`:
    /// the slice of this Slurm array task (`SLURM_ARRAY_TASK_ID`, `_COUNT`)
    /// or Kubernetes indexed Job (`JOB_COMPLETION_INDEX`, 0-based, with
    /// `--shard-count`).
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// With `--shard auto`: how many shards (required for a Kubernetes
    /// indexed Job, whose environment has no count; checked against Slurm's).
    #[arg(long, value_name = "N", requires = "shard")]
    pub shard_count: Option<usize>,
    /// Override a key of the base scenario (after the sweep file's `set`).
    /// Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output directory (created; finished points in it are reused).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Refuse to start when the estimated memory of the simulations that
    /// run at once (`--jobs` of the largest) exceeds this (`8GiB`, `512MiB`,
    /// bytes).
    #[arg(long, value_name = "SIZE", default_value = crate::memory::DEFAULT_MAX_MEMORY, value_parser = crate::memory::parse_size)]
    pub max_memory: u64,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output directories of the shards of one sweep.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the joined sweep (may be one of the shard
    /// directories).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// A progress bar on a terminal only (never on a pipe or with `CI` set).
struct Bar {
    bar: ProgressBar,
    name: String,
}

impl sweeps::Progress for Bar {
    fn start(&self, c: &Counts) {
        self.bar
            .set_length(u64::try_from(c.pending).unwrap_or(u64::MAX));
        let shard = if c.shard.count() > 1 {
            format!(" in shard {}", c.shard)
        } else {
            String::new()
        };
        self.bar.suspend(|| {
            eprintln!(
                "sweep {}: {} simulations{shard}, {} already done, {} to run on {} threads",
                self.name, c.total, c.skipped, c.pending, c.threads
            );
        });
    }

    fn finished_one(&self) {
        self.bar.inc(1);
    }
}

fn progress_bar() -> ProgressBar {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if ci || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} simulations, eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Runs `tlbsim sweep`.
pub fn cmd_sweep(args: &SweepArgs) -> Result<()> {
    let started = Instant::now();
    let sweep = ResolvedSweep::load(&args.sweep, &args.sets)?;
    let shard = sweeps::shard_from_arg(args.shard.as_deref(), args.shard_count, &|k| {
        std::env::var(k).ok()
    })?;
    if let Some(largest) = sweep
        .scenarios
        .iter()
        .max_by_key(|sc| sc.config.memory_estimate().total_bytes())
    {
        crate::memory::check(
            &largest.config,
            crate::run::at_once(args.jobs, sweep.scenarios.len()),
            args.max_memory,
        )?;
    }
    let opts = RunOptions {
        jobs: args.jobs,
        shard,
    };
    let bar = Bar {
        bar: progress_bar(),
        name: sweep.plan.name.clone(),
    };
    // A job's scenario has exactly its one policy (a scenario has at least
    // one).
    let out = args.out.clone();
    crate::interrupt::on_stop(
        move || sweeps::release_lock_if_mine(&out),
        format!(
            "finished points are kept in {}; run the same command again to resume",
            args.out.join("points").display()
        ),
    );
    let one_policy = |sc: &scenarios::Scenario| simulate(sc, &sc.policies[0]).map(|(r, _)| r);
    let simulated = sweeps::run(&sweep, &args.out, &opts, one_policy, &bar);
    bar.bar.finish_and_clear();
    let c = simulated?.counts;
    let (name, secs) = (&sweep.plan.name, started.elapsed().as_secs_f64());
    let ran = c.pending;
    if shard.count() > 1 {
        eprintln!(
            "sweep {name}: shard {shard} done ({ran} run, {} reused) in {secs:.2} s; join the shards with `tlbsim merge DIR... --out DIR`",
            c.skipped
        );
    } else {
        eprintln!(
            "sweep {name}: {} simulations ({ran} run, {} reused) in {secs:.2} s with {} threads; results in {}",
            c.total,
            c.skipped,
            c.threads,
            args.out.display()
        );
    }
    Ok(())
}

/// Runs `tlbsim merge`.
pub fn cmd_merge(args: &MergeArgs) -> Result<()> {
    let out = args.out.clone();
    crate::interrupt::on_stop(
        move || sweeps::release_lock_if_mine(&out),
        "the merge did not finish; run it again".to_string(),
    );
    let m = sweeps::merge(&args.dirs, &args.out)?;
    eprintln!(
        "merge: sweep {}: {} simulations from {} directories ({} point files copied); results in {}",
        m.plan.name,
        m.plan.jobs.len(),
        args.dirs.len(),
        m.copied,
        args.out.display()
    );
    Ok(())
}
