//! `tlbsim trace`: convert traces to tlbsim's CSV and summarize them.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use traces::{Format, TraceReader, TraceStats};

/// `tlbsim trace` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TraceCommand {
    /// Convert a trace to tlbsim's CSV (`time_ns,guest,queue,op,offset,size`),
    /// streaming (memory stays flat however long the trace).
    Convert {
        /// The input trace.
        input: PathBuf,
        /// Input format: tlbsim, fio (iolog v2/v3), blkparse (text) or msr
        /// (MSR Cambridge / SNIA CSV); default: guessed from the first line.
        #[arg(long, value_name = "FMT")]
        from: Option<String>,
        /// Output format (only `tlbsim`).
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
            if to != "tlbsim" {
                bail!("--to: only `tlbsim` output is supported, got `{to}`");
            }
            let format = format_of(input, from.as_deref())?;
            let reader = TraceReader::open(input, format, *device)?;
            let n = write_streaming_atomic(output, |w| {
                Ok(traces::write_tlbsim(
                    reader,
                    w,
                    &output.display().to_string(),
                )?)
            })?;
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

/// Streams `fill`'s output to a temporary file beside `path`, syncs it and
/// renames it over `path` (the convention of `reports::write_atomic`, which
/// needs the whole content in memory; a converted trace can be gigabytes).
/// On error the temporary file is removed and `path` is untouched.
fn write_streaming_atomic<T>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> Result<T>,
) -> Result<T> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        let v = fill(&mut w)?;
        w.flush()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(v)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
