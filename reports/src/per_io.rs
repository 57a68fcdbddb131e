//! `tlbsim run --per-io FILE.csv`: one row per measured I/O, for pandas or
//! R.
//!
//! [`PerIoWriter`] is the `machine::Observer` that receives each measured
//! I/O as it completes ([`machine::IoRecord`]) and streams it as a CSV row
//! through a buffered writer into a part file (one per policy, since
//! policies run in parallel); [`join_per_io`] then writes `FILE.csv`
//! atomically (the header, then each policy's part file in policy order)
//! and removes the parts. Memory stays flat whatever the run's length: a
//! row is written and forgotten.
//!
//! The columns are defined once, in [`PER_IO_COLUMNS`] (after the first,
//! `policy`); `docs/metrics.md`'s per-I/O section is generated from them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use machine::{IoRecord, Observer};

use crate::metric::Unit;
use crate::ReportError;

/// One numeric column of the per-I/O CSV.
#[derive(Clone, Copy, Debug)]
pub struct PerIoColumn {
    /// Its header.
    pub name: &'static str,
    /// What its number measures.
    pub unit: Unit,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// Its value for one I/O.
    pub value: fn(&IoRecord) -> u64,
    /// For a latency part: the registry metric (cycles per I/O) whose
    /// run total it adds to.
    pub part_of: Option<&'static str>,
}

const fn col(
    name: &'static str,
    unit: Unit,
    meaning: &'static str,
    value: fn(&IoRecord) -> u64,
) -> PerIoColumn {
    PerIoColumn {
        name,
        unit,
        meaning,
        value,
        part_of: None,
    }
}

const fn part(
    name: &'static str,
    summary: &'static str,
    meaning: &'static str,
    value: fn(&IoRecord) -> u64,
) -> PerIoColumn {
    PerIoColumn {
        name,
        unit: Unit::Cycles,
        meaning,
        value,
        part_of: Some(summary),
    }
}

/// The per-I/O CSV's columns after `policy`, in order. Each latency part
/// names the registry metric it is the per-I/O form of (a test checks
/// that every part of the registry's breakdown has one).
pub static PER_IO_COLUMNS: &[PerIoColumn] = &[
    col(
        "guest",
        Unit::Index,
        "the guest that issued it (its index in the scenario's guests)",
        |r| u64::from(r.guest),
    ),
    col(
        "cpu",
        Unit::Index,
        "the registered CPU whose backend served it (its last piece, if split)",
        |r| u64::from(r.cpu),
    ),
    col("size_bytes", Unit::Bytes, "bytes it moved", |r| {
        r.size_bytes
    }),
    col("read", Unit::Flag, "1 for a read, 0 for a write", |r| {
        u64::from(r.read)
    }),
    col(
        "pieces",
        Unit::Count,
        "backend requests it was served as (1 unless split by guests.N.split)",
        |r| u64::from(r.pieces),
    ),
    col(
        "arrival_cycles",
        Unit::Cycles,
        "when the guest issued it, cycles since the start of the run (warm-up included)",
        |r| r.arrival,
    ),
    col(
        "latency_cycles",
        Unit::Cycles,
        "from its issue to its completion",
        |r| r.latency,
    ),
    part(
        "queue_cycles",
        "queue_cycles_per_io",
        "waiting on the ring until the backend started it",
        |r| r.parts.queue,
    ),
    part(
        "map_cycles",
        "map_cycles_per_io",
        "dequeue, map hypercall and the map's flushes",
        |r| r.parts.map,
    ),
    part(
        "migration_cycles",
        "migration_cycles_per_io",
        "migrating the backend thread and back, with the foreign CPU's flush",
        |r| r.parts.migration,
    ),
    part(
        "data_cycles",
        "data_cycles_per_io",
        "touching the data through the TLB",
        |r| r.parts.data,
    ),
    part(
        "process_cycles",
        "process_cycles_per_io",
        "protocol processing",
        |r| r.parts.process,
    ),
    part(
        "unmap_cycles",
        "unmap_cycles_per_io",
        "the unmap hypercall, excluding flushes",
        |r| r.parts.unmap,
    ),
    part(
        "flush_wait_cycles",
        "flush_wait_cycles_per_io",
        "flush lock wait, local flush and wait for every shootdown acknowledgement",
        |r| r.parts.flush_wait,
    ),
    part(
        "complete_cycles",
        "complete_cycles_per_io",
        "completing it to the guest",
        |r| r.parts.complete,
    ),
    part(
        "device_cycles",
        "device_cycles_per_io",
        "the device serving it",
        |r| r.parts.device,
    ),
    part(
        "deferred_flush_cycles",
        "deferred_flush_cycles_per_io",
        "the flush a CPU skipped by a lazy-TLB shootdown ran before touching its data",
        |r| r.parts.deferred_flush,
    ),
    part(
        "interrupted_cycles",
        "interrupted_cycles_per_io",
        "interrupt-level work that pushed back its data, unmap and completion segments",
        |r| r.parts.interrupted,
    ),
];

/// The per-I/O CSV's header line (with its newline).
#[must_use]
pub fn per_io_header() -> String {
    let mut h = String::from("policy");
    for c in PER_IO_COLUMNS {
        h.push(',');
        h.push_str(c.name);
    }
    h.push('\n');
    h
}

/// The part file of `policy` beside `path` (hidden, named for the
/// process, so concurrent runs do not share one).
fn part_path(path: &Path, policy: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{policy}.{}.part", std::process::id()))
}

/// The observer behind `--per-io`: streams each measured I/O of one
/// policy's run as a CSV row (without header) into its part file.
#[derive(Debug)]
pub struct PerIoWriter {
    policy: String,
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
    /// The first write error (an observer cannot return one).
    error: Option<std::io::Error>,
    line: String,
}

impl PerIoWriter {
    /// A writer of `policy`'s rows for the per-I/O file `path`.
    ///
    /// # Errors
    /// The part file cannot be created.
    pub fn create(path: &Path, policy: &str) -> Result<Self, ReportError> {
        let part = part_path(path, policy);
        let file = File::create(&part).map_err(|source| ReportError::Write {
            path: part.clone(),
            source,
        })?;
        Ok(Self {
            policy: policy.to_string(),
            path: part,
            out: BufWriter::with_capacity(1 << 16, file),
            rows: 0,
            error: None,
            line: String::with_capacity(256),
        })
    }

    /// Flushes the part file; the rows written.
    ///
    /// # Errors
    /// A row or the flush could not be written (the part file is removed).
    pub fn finish(mut self) -> Result<u64, ReportError> {
        let flushed = self.out.flush();
        let result = match (self.error.take(), flushed) {
            (Some(source), _) | (None, Err(source)) => Err(ReportError::Write {
                path: self.path.clone(),
                source,
            }),
            (None, Ok(())) => Ok(self.rows),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        result
    }
}

impl Observer for PerIoWriter {
    const ENABLED: bool = false;
    const RECORDS_IOS: bool = true;

    fn io(&mut self, io: &IoRecord) {
        if self.error.is_some() {
            return;
        }
        use std::fmt::Write as _;
        self.line.clear();
        self.line.push_str(&self.policy);
        for c in PER_IO_COLUMNS {
            let _ = write!(self.line, ",{}", (c.value)(io));
        }
        self.line.push('\n');
        match self.out.write_all(self.line.as_bytes()) {
            Ok(()) => self.rows += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

/// Writes the per-I/O file `path` atomically: the header, then the part
/// files of `policies` in that order (each removed once copied, and all of
/// them on error).
///
/// # Errors
/// A part file cannot be read or `path` cannot be written.
pub fn join_per_io(path: &Path, policies: &[&str]) -> Result<(), ReportError> {
    let parts: Vec<PathBuf> = policies.iter().map(|p| part_path(path, p)).collect();
    let result = crate::write_atomic_with(path, |w| -> Result<(), std::io::Error> {
        w.write_all(per_io_header().as_bytes())?;
        for p in &parts {
            std::io::copy(&mut File::open(p)?, w)?;
        }
        Ok(())
    })
    .map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    });
    for p in &parts {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Removes the part files of `policies` for `path` (after a failed run).
pub fn discard_per_io(path: &Path, policies: &[&str]) {
    for p in policies {
        let _ = std::fs::remove_file(part_path(path, p));
    }
}

/// The per-I/O section of `docs/metrics.md`.
#[must_use]
pub fn per_io_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "\n## Per I/O (`tlbsim run --per-io FILE.csv`)\n\n\
         One row per measured I/O (every I/O `io_completed` counts), in \
         completion order within a policy, policies in the scenario's order. \
         Every value is a whole number. The latency parts of a row are the \
         cycles it added to the run's breakdown: summed over the rows and \
         divided by `io_completed` they give the `..._cycles_per_io` metric \
         named, except for what requests still in flight when the run \
         stopped had added. `latency_cycles` averages to `latency_mean` \
         exactly. An unsplit I/O's parts add up to its latency, less what \
         fell before the window opened; a split I/O's parts are its pieces' \
         sums, and pieces served at once on several CPUs may add up to more.\n\n\
         | column | unit | meaning | part of |\n|---|---|---|---|\n\
         | `policy` | name | the policy simulated |  |\n",
    );
    for c in PER_IO_COLUMNS {
        let part = c.part_of.map_or_else(String::new, |p| format!("`{p}`"));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {part} |",
            c.name,
            c.unit.text(),
            c.meaning
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_breakdown_part_has_a_column() {
        let mine: Vec<&str> = PER_IO_COLUMNS.iter().filter_map(|c| c.part_of).collect();
        let registry: Vec<&str> = crate::breakdown_parts().map(|d| d.name).collect();
        let mut a = mine.clone();
        let mut b = registry.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(
            a, b,
            "per-I/O parts {mine:?} against the registry's {registry:?}"
        );
        for c in PER_IO_COLUMNS {
            assert!(
                !c.meaning.contains('\n') && !c.meaning.is_empty(),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn rows_are_streamed_then_joined_in_policy_order() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("io.csv");
        let rec = |latency| IoRecord {
            guest: 1,
            cpu: 2,
            size_bytes: 4096,
            read: true,
            pieces: 1,
            arrival: 10,
            latency,
            parts: machine::LatencyBreakdown {
                queue: 3,
                ..Default::default()
            },
        };
        // Written in the opposite order of the policies, as threads may.
        let mut b = PerIoWriter::create(&path, "b").unwrap();
        b.io(&rec(7));
        assert_eq!(b.finish().unwrap(), 1);
        let mut a = PerIoWriter::create(&path, "a").unwrap();
        a.io(&rec(5));
        a.io(&rec(6));
        assert_eq!(a.finish().unwrap(), 2);
        join_per_io(&path, &["a", "b"]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], per_io_header().trim_end());
        assert_eq!(lines.len(), 4);
        assert!(
            lines[1].starts_with("a,1,2,4096,1,1,10,5,3,0"),
            "{}",
            lines[1]
        );
        assert!(
            lines[3].starts_with("b,1,2,4096,1,1,10,7,3,"),
            "{}",
            lines[3]
        );
        let cols = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols));
        // Only FILE.csv is left.
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
