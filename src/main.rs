//! `tlbsim`: the command line. The only place that wires scenarios, the
//! machine model and reports together.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod interrupt;
mod run;
mod sweep;
mod timeline;
mod tlb_cmd;
mod trace;

/// Cycle-level simulator of multi-CPU MMUs/TLBs during virtualized I/O:
/// what each way of mapping guest I/O buffers costs in TLB flushes, IPIs and
/// cycles.
#[derive(Parser, Debug)]
#[command(name = "tlbsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario under each of its policies and compare them.
    Run(run::RunArgs),
    /// List the bundled scenarios (name, then description), or show one
    /// fully resolved.
    Scenarios {
        /// Print this scenario (bundled name or path), fully resolved, as TOML.
        #[arg(long, value_name = "SCENARIO")]
        show: Option<String>,
    },
    /// List the mapping policies: what each does, the real system it
    /// stands for, and its parameters (`[policy.NAME]` in a scenario).
    Policies,
    /// Replay an address trace through the TLB model alone; print hits and
    /// misses per level as JSON.
    Tlb(tlb_cmd::TlbArgs),
    /// Run a sweep: a grid of scenario points x policies x seeds, in
    /// parallel, resumable, shardable (`--shard I/N`).
    Sweep(sweep::SweepArgs),
    /// Join the output directories of a sharded sweep into the files one
    /// unsharded run would have written.
    Merge(sweep::MergeArgs),
    /// Convert an I/O trace to tlbsim's CSV, or summarize one.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!("error: cannot handle SIGINT/SIGTERM: {e}");
        std::process::exit(1);
    }
    let result = match cli.command {
        Command::Run(args) => run::cmd_run(&args),
        Command::Scenarios { show } => cmd_scenarios(show.as_deref()),
        Command::Policies => {
            cmd_policies();
            Ok(())
        }
        Command::Tlb(args) => tlb_cmd::cmd_tlb(&args),
        Command::Sweep(args) => sweep::cmd_sweep(&args),
        Command::Merge(args) => sweep::cmd_merge(&args),
        Command::Trace(cmd) => trace::cmd_trace(&cmd),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn cmd_policies() {
    let registry = hypervisor::Registry::builtin();
    let w = registry.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in registry.iter() {
        let warn = if p.unsafe_variant {
            " [deliberately unsafe]"
        } else {
            ""
        };
        println!("{:w$}  {}{warn}", p.name, p.summary);
        println!("{:w$}  stands for: {}", "", p.stands_for);
        for param in p.params {
            println!(
                "{:w$}    policy.{}.{} = {} ({}): {}",
                "",
                p.name,
                param.name,
                param.default,
                param.allowed(),
                param.doc
            );
        }
    }
}

fn cmd_scenarios(show: Option<&str>) -> Result<()> {
    if let Some(name) = show {
        let sc = scenarios::load(name, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        print!("{}", scenarios::to_toml(&sc));
        return Ok(());
    }
    let list = scenarios::bundled();
    let w = list.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in list {
        println!("{:w$}  {}", b.name, b.description);
    }
    Ok(())
}
