//! `tlbsim trace`: convert traces to tlbsim's CSV and summarize them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use traces::{Format, TraceReader, TraceStats};

/// `tlbsim trace` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TraceCommand {
    /// Convert a trace to tlbsim's CSV (`time_ns,guest,queue,op,offset,size`),
    /// streaming (memory stays flat however long the trace); or, with
    /// `--to addr64`, an address trace of `tlbsim tlb` (text or addr64) to
    /// the binary addr64 format (traces/README.md), which `tlbsim tlb`
    /// recognizes by its magic and reads many times faster.
    Convert {
        /// The input trace.
        input: PathBuf,
        /// Input format: tlbsim, fio (iolog v2/v3), blkparse (text) or msr
        /// (MSR Cambridge / SNIA CSV); default: guessed from the first line.
        #[arg(long, value_name = "FMT")]
        from: Option<String>,
        /// Output format: `tlbsim` (I/O trace CSV) or `addr64` (`tlbsim tlb`'s
        /// binary address trace; the input is then an address trace, and
        /// --from and --device do not apply).
        #[arg(long, value_name = "FMT", default_value = "tlbsim")]
        to: String,
        /// Keep only this device's records (fio: file index; blkparse:
        /// major*256+minor; msr: DiskNumber; tlbsim: guest).
        #[arg(long, value_name = "N")]
        device: Option<u32>,
        /// Output file (written atomically: a temporary file renamed into
        /// place).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: PathBuf,
    },
    /// Summarize a trace: requests, read/write mix, size histogram, devices,
    /// arrival rate over time.
    Stats {
        /// The trace.
        input: PathBuf,
        /// Its format (default: guessed from the first line).
        #[arg(long, value_name = "FMT")]
        format: Option<String>,
        /// Only this device's records.
        #[arg(long, value_name = "N")]
        device: Option<u32>,
    },
}

fn format_of(path: &Path, given: Option<&str>) -> Result<Format> {
    Ok(match given {
        Some(f) => f.parse()?,
        None => traces::detect_format(path)?,
    })
}

/// `tlbsim trace convert --to addr64`: an address trace (text or addr64) to
/// addr64, written atomically.
fn convert_addr64(
    input: &Path,
    from: Option<&str>,
    device: Option<u32>,
    output: &Path,
) -> Result<()> {
    if from.is_some() || device.is_some() {
        bail!("--to addr64 converts an address trace: --from and --device do not apply");
    }
    let in_name = input.display().to_string();
    let out_name = output.display().to_string();
    let file = std::fs::File::open(input).with_context(|| format!("cannot open {in_name}"))?;
    let n = reports::write_atomic_with(output, |w| -> Result<u64> {
        Ok(traces::convert_to_addr64(file, &in_name, w, &out_name)?)
    })
    .with_context(|| format!("cannot write {out_name}"))?;
    eprintln!("converted {n} addresses from {in_name} to {out_name} (addr64)");
    Ok(())
}

/// Runs `tlbsim trace ...`.
///
/// # Errors
/// A bad trace (naming file and line), an unknown format, or an output that
/// cannot be written.
pub fn cmd_trace(cmd: &TraceCommand) -> Result<()> {
    match cmd {
        TraceCommand::Convert {
            input,
            from,
            to,
            device,
            output,
        } => {
            if to == "addr64" {
                return convert_addr64(input, from.as_deref(), *device, output);
            }
            if to != "tlbsim" {
                bail!("--to: `tlbsim` or `addr64`, got `{to}`");
            }
            let format = format_of(input, from.as_deref())?;
            let reader = TraceReader::open(input, format, *device)?;
            // Streamed: a converted trace can be gigabytes.
            let n = reports::write_atomic_with(output, |w| -> Result<u64> {
                Ok(traces::write_tlbsim(
                    reader,
                    w,
                    &output.display().to_string(),
                )?)
            })
            .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "converted {n} requests from {} ({format}) to {}",
                input.display(),
                output.display()
            );
            Ok(())
        }
        TraceCommand::Stats {
            input,
            format,
            device,
        } => {
            let format = format_of(input, format.as_deref())?;
            let stats = TraceStats::collect(TraceReader::open(input, format, *device)?)?;
            println!("trace        {} ({format})", input.display());
            print!("{stats}");
            Ok(())
        }
    }
}
