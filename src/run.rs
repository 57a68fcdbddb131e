//! `tlbsim run`: one scenario, each of its policies, one comparison.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A bundled scenario name (see `tlbsim scenarios`) or a path to a
    /// .toml/.json scenario file.
    pub scenario: String,
    /// Policies to compare, comma-separated (global, percpu, percpu-unsafe);
    /// default: the scenario's `policies`.
    #[arg(long, value_delimiter = ',')]
    policies: Option<Vec<String>>,
    /// Seed of every random stream (overrides the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Override any scenario key: `--set machine.cpus=16`,
    /// `--set guests.0.queue_depth=8`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Write summary.json, summary.csv, engine.json, scenario.toml, plots/
    /// (PNG and SVG) and report.html into this directory (created if
    /// needed; every file written atomically).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Policies simulated in parallel; 0 = one per core (results do not
    /// depend on it).
    #[arg(long, default_value_t = 0, value_name = "N")]
    jobs: usize,
    /// Write a timeline of each run as Chrome trace-event JSON (open it at
    /// ui.perfetto.dev, "Open trace file", or in chrome://tracing). With
    /// several policies, one file each, the policy before `.json`:
    /// `tl.json` -> `tl.global.json`, `tl.percpu.json`.
    #[arg(long, value_name = "FILE.json")]
    timeline: Option<PathBuf>,
    /// Only this window of the timeline, in simulated CYCLES (not seconds):
    /// `0..5000000`; either end may be omitted.
    #[arg(long, value_name = "START..END")]
    timeline_window: Option<String>,
    /// Most events a timeline keeps (the rest are dropped and counted in
    /// the file's otherData).
    #[arg(long, value_name = "N", default_value_t = reports::DEFAULT_TIMELINE_EVENTS)]
    timeline_max_events: usize,
    /// Refuse to start when the estimated memory of the simulations that
    /// run at once exceeds this (`8GiB`, `512MiB`, bytes).
    #[arg(long, value_name = "SIZE", default_value = crate::memory::DEFAULT_MAX_MEMORY, value_parser = crate::memory::parse_size)]
    max_memory: u64,
    /// Write one CSV row per measured I/O (policy, guest, CPU, size,
    /// arrival, latency and each latency part, in cycles; columns in
    /// docs/metrics.md), streamed so memory stays flat, written atomically.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "timeline")]
    per_io: Option<PathBuf>,
}

/// Simulations that run at once: one per policy, at most `jobs` (0: one
/// per core).
pub fn at_once(jobs: usize, simulations: usize) -> usize {
    let threads = if jobs == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        jobs
    };
    threads.min(simulations).max(1)
}

/// Everything the CLI's `--policies` and `--seed` change goes through the
/// scenario's overrides, so the scenario hash covers them.
fn overrides(args: &RunArgs) -> Vec<String> {
    let mut sets = args.sets.clone();
    if let Some(seed) = args.seed {
        sets.push(format!("seed={seed}"));
    }
    if let Some(p) = &args.policies {
        let quoted: Vec<String> = p.iter().map(|s| format!("\"{}\"", s.trim())).collect();
        sets.push(format!("policies=[{}]", quoted.join(",")));
    }
    sets
}

/// Runs `tlbsim run`.
pub fn cmd_run(args: &RunArgs) -> Result<()> {
    let sc =
        scenarios::load(&args.scenario, &overrides(args)).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::memory::check(
        &sc.config,
        at_once(args.jobs, sc.policies.len()),
        args.max_memory,
    )?;
    let timeline = crate::timeline::options(
        args.timeline.as_deref(),
        args.timeline_window.as_deref(),
        args.timeline_max_events,
        &sc,
    )?;
    let compared = match (&timeline, &args.per_io) {
        (None, Some(file)) => sweeps::compare_per_io(&sc, args.jobs, file)?,
        _ => sweeps::compare(&sc, args.jobs, |sc, p| match &timeline {
            None => sweeps::simulate(sc, p).map_err(anyhow::Error::from),
            Some(tl) => tl.simulate(sc, p),
        })?,
    };
    let report = compared.report(&sc);
    let json = reports::summary_json(&report);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        write(dir, "summary.json", json.as_bytes())?;
        write(
            dir,
            "summary.csv",
            reports::summary_csv(&report)?.as_bytes(),
        )?;
        let engine = compared.engine_json();
        write(dir, "engine.json", engine.as_bytes())?;
        write(dir, "scenario.toml", scenarios::to_toml(&sc).as_bytes())?;
        let plots = reports::run_plots(&compared.runs)?;
        reports::write_plots(dir, &plots)?;
        let html = reports::run_html(&report, &sc.description, &scenarios::to_toml(&sc), &plots);
        write(dir, "report.html", html.as_bytes())?;
    }
    for r in &compared.runs {
        let o = r.overload;
        if o.overloaded {
            eprintln!(
                "warning: {}: open-loop arrivals outpace completions: the backlog grew from {} to {} I/Os over {} arrivals (latencies grow with the run's length; see overload in summary.json)",
                r.policy, o.backlog_start, o.backlog_end, o.arrivals
            );
        }
    }
    if args.json {
        print!("{json}");
    } else {
        print!("{}", reports::table(&report));
        if let Some(dir) = &args.out {
            println!("results in {}", dir.display());
        }
    }
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    reports::write_atomic(&dir.join(name), bytes)?;
    Ok(())
}
