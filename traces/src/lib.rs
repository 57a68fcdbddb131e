//! Streaming readers of recorded I/O traces, for tlbsim's trace-driven
//! guests (`pattern = "trace"`).
//!
//! Every reader holds one line of its file in memory at a time, whatever the
//! trace's length (plus, for fio, the names of the files the trace opened),
//! and implements [`workloads::RequestSource`], so the machine pulls requests
//! one by one as simulated time reaches them.
//!
//! # Formats
//!
//! | `trace_format` | file | arrival time | device (`trace_device`) | queue |
//! |---|---|---|---|---|
//! | `tlbsim` | CSV with the header `time_ns,guest,queue,op,offset,size` | `time_ns` | `guest` | `queue` |
//! | `fio` | `fio --write_iolog` output, version 2 or 3 | v3: the timestamp (µs); v2: the sum of the `wait` actions before the record | index of the file in the order the log first names it (0, 1, ..) | the same index |
//! | `blkparse` | `blkparse`'s default text output | the event's time | `major * 256 + minor` (`8,16` is 2064) | the CPU column |
//! | `msr` | MSR Cambridge / SNIA CSV `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime` | Windows filetime (100 ns ticks) minus the file's first timestamp | `DiskNumber` | `DiskNumber` |
//!
//! Details:
//! - `tlbsim`: `op` is `R`/`W` (or `read`/`write`, any case); `size` > 0;
//!   blank lines and lines starting with `#` are skipped.
//! - `fio`: recent fio (3.33 recorded `traces/fio-randrw.iolog`) writes
//!   version 3, older releases version 2. Only `read` and `write` actions
//!   become requests; `add`, `open`,
//!   `close`, `sync`, `datasync` and `trim` are skipped; v2's `wait OFFSET`
//!   advances the clock by OFFSET µs. A v2 log written without `wait`
//!   actions has every request arrive at time 0 (fio's v2 logs carry no
//!   timestamps); scale or record v3 to get real arrival times.
//! - `blkparse`: the **queue** (`Q`) events are used: the moment the request
//!   entered the block layer, the closest to when the guest issued it (`D`
//!   events add the I/O scheduler's delay). `RWBS` with `R` is a read, with
//!   `W` a write; discards (`D`) and requests of zero sectors (flushes) are
//!   skipped; sizes are sectors x 512 bytes. Reading stops at blkparse's
//!   per-CPU summary (`CPU0 (8,0):`).
//! - `msr`: a first line starting with `Timestamp` is taken as a header;
//!   `Type` is `Read` or `Write` (any case); `ResponseTime` is checked and
//!   ignored.
//!
//! # Errors
//!
//! Every problem names the file and 1-based line ([`TraceError`]). A last
//! line with no newline at its end whose fields are incomplete is reported
//! as [`TraceError::Truncated`], never dropped silently.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

mod addr64;
mod addresses;
mod formats;
mod stats;

pub use addr64::{
    addr64_header, convert_to_addr64, ADDR64_HEADER_BYTES, ADDR64_MAGIC, ADDR64_VERSION,
};
pub use addresses::{
    for_each_address, parse_address_line, replay_addresses, AddressFormat, LevelCounts,
};
pub use formats::Format;
pub use stats::{RateBucket, TraceStats};

use workloads::{RequestSource, SourceError, TimedRequest};

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line that is not a record of the format.
    #[error("{file}:{line}: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The last line has no newline at its end and is incomplete: the file
    /// was cut short (a copy or a recording interrupted).
    #[error(
        "{file}:{line}: truncated trace: the last line has no newline at its end and {message}"
    )]
    Truncated {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is incomplete.
        message: String,
    },
    /// A binary (addr64) address trace that is not well formed.
    #[error("{file}: byte {offset}: {message}")]
    Binary {
        /// The file.
        file: String,
        /// 0-based byte offset of the problem.
        offset: u64,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A TLB geometry the mmu model refuses (address-trace replay).
    #[error("{error}")]
    Tlb {
        /// Why.
        error: mmu::MmuError,
    },
    /// A format name that is not one of [`Format::ALL`].
    #[error("unknown trace format `{0}` (known: tlbsim, fio, blkparse, msr)")]
    UnknownFormat(String),
    /// Writing converted output failed.
    #[error("cannot write {file}: {source}")]
    Write {
        /// The output.
        file: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<TraceError> for SourceError {
    fn from(e: TraceError) -> Self {
        SourceError {
            message: e.to_string(),
        }
    }
}

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Arrival time, ns from the start of the trace.
    pub at_ns: u64,
    /// The trace's device (see the crate docs for each format).
    pub device: u32,
    /// The trace's queue / thread / CPU.
    pub queue: u32,
    /// Whether it is a read.
    pub read: bool,
    /// Byte offset on the device.
    pub offset: u64,
    /// Size, bytes (> 0).
    pub size: u64,
}

impl Record {
    /// The request the machine replays.
    #[must_use]
    pub fn request(&self) -> TimedRequest {
        TimedRequest {
            at_ns: self.at_ns,
            size_bytes: self.size,
            read: self.read,
            queue: self.queue,
            offset: self.offset,
        }
    }
}

/// Reads lines one at a time, numbering them and noting whether each ended
/// with a newline.
struct Lines {
    inner: Box<dyn BufRead + Send>,
    file: String,
    buf: Vec<u8>,
    line: u64,
}

/// One line: its number, text (without the line ending) and whether it
/// ended with a newline.
struct Line<'a> {
    no: u64,
    text: &'a str,
    complete: bool,
}

impl Lines {
    fn next_line(&mut self) -> Result<Option<Line<'_>>, TraceError> {
        self.buf.clear();
        let n = self
            .inner
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| TraceError::Io {
                file: self.file.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let complete = self.buf.last() == Some(&b'\n');
        let mut end = self.buf.len();
        while end > 0 && matches!(self.buf[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let text = std::str::from_utf8(&self.buf[..end]).map_err(|e| TraceError::Malformed {
            file: self.file.clone(),
            line: self.line,
            message: format!("not UTF-8 text ({e})"),
        })?;
        Ok(Some(Line {
            no: self.line,
            text,
            complete,
        }))
    }
}

/// A streaming reader of one trace file: an iterator of [`Record`]s (only
/// those of its device, if it has a device filter) and a
/// [`RequestSource`].
pub struct TraceReader {
    lines: Lines,
    parser: formats::Parser,
    device: Option<u32>,
    failed: bool,
}

impl std::fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceReader")
            .field("file", &self.lines.file)
            .field("line", &self.lines.line)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl TraceReader {
    /// Opens `path` as a trace of `format`, keeping only the records of
    /// `device` (all when `None`).
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path, format: Format, device: Option<u32>) -> Result<Self, TraceError> {
        let file = path.display().to_string();
        let f = File::open(path).map_err(|source| TraceError::Io {
            file: file.clone(),
            source,
        })?;
        Ok(Self::from_reader(
            BufReader::with_capacity(64 * 1024, f),
            &file,
            format,
            device,
        ))
    }

    /// A reader of any byte stream; `name` is what errors call it.
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        name: &str,
        format: Format,
        device: Option<u32>,
    ) -> Self {
        Self {
            lines: Lines {
                inner: Box::new(BufReader::new(reader)),
                file: name.to_string(),
                buf: Vec::with_capacity(256),
                line: 0,
            },
            parser: formats::Parser::new(format),
            device,
            failed: false,
        }
    }

    /// The next record of the trace (of its device), `None` at the end.
    ///
    /// # Errors
    /// A malformed or truncated line, or a read error. After an error the
    /// reader yields nothing more.
    pub fn next_record(&mut self) -> Option<Result<Record, TraceError>> {
        if self.failed {
            return None;
        }
        let r = self.next_inner();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }

    fn next_inner(&mut self) -> Option<Result<Record, TraceError>> {
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return self.parser.at_end().map(|message| {
                        Err(TraceError::Malformed {
                            file: self.lines.file.clone(),
                            line: self.lines.line.max(1),
                            message,
                        })
                    })
                }
                Err(e) => return Some(Err(e)),
            };
            let (no, complete) = (line.no, line.complete);
            match self.parser.parse(line.text) {
                formats::Parsed::Skip => {}
                formats::Parsed::End => return None,
                formats::Parsed::Record(r) => {
                    if self.device.is_none_or(|d| d == r.device) {
                        return Some(Ok(r));
                    }
                }
                formats::Parsed::Bad(message) => {
                    let file = self.lines.file.clone();
                    return Some(Err(if complete {
                        TraceError::Malformed {
                            file,
                            line: no,
                            message,
                        }
                    } else {
                        TraceError::Truncated {
                            file,
                            line: no,
                            message,
                        }
                    }));
                }
            }
        }
    }
}

impl Iterator for TraceReader {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

impl RequestSource for TraceReader {
    fn next_request(&mut self) -> Option<Result<TimedRequest, SourceError>> {
        self.next_record()
            .map(|r| r.map(|r| r.request()).map_err(SourceError::from))
    }
}

/// Opens a trace as the request source of a trace guest: `format` is the
/// guest's `trace_format`, `device` its `trace_device`.
///
/// # Errors
/// Unknown format, or the file cannot be opened.
pub fn open_source(
    path: &Path,
    format: &str,
    device: Option<u32>,
) -> Result<Box<dyn RequestSource + Send>, TraceError> {
    let format: Format = format.parse()?;
    Ok(Box::new(TraceReader::open(path, format, device)?))
}

/// The largest request of a trace (of `device`, if given), bytes, in one
/// streaming pass (constant memory): what a trace guest's mapping area and
/// `percpu`'s slots must hold. 0 for a trace with no requests.
///
/// # Errors
/// Unknown format, the file cannot be read, or a bad record (by file and
/// line).
pub fn max_request_bytes(
    path: &Path,
    format: &str,
    device: Option<u32>,
) -> Result<u64, TraceError> {
    let format: Format = format.parse()?;
    let mut reader = TraceReader::open(path, format, device)?;
    let mut largest = 0;
    while let Some(r) = reader.next_record() {
        largest = largest.max(r?.size);
    }
    Ok(largest)
}

/// Guesses a file's format from its first non-blank line: fio's version
/// line, the `tlbsim` header, a blkparse event (`MAJ,MIN ...`), or seven
/// comma-separated fields (MSR, with or without its header).
///
/// # Errors
/// The file cannot be read, or its first line fits no format.
pub fn detect_format(path: &Path) -> Result<Format, TraceError> {
    let file = path.display().to_string();
    let f = File::open(path).map_err(|source| TraceError::Io {
        file: file.clone(),
        source,
    })?;
    let mut lines = Lines {
        inner: Box::new(BufReader::new(f)),
        file: file.clone(),
        buf: Vec::new(),
        line: 0,
    };
    while let Some(l) = lines.next_line()? {
        let t = l.text.trim();
        if t.is_empty() {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        let is_dev = first
            .split_once(',')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
        return if t.starts_with("fio version") {
            Ok(Format::Fio)
        } else if t.replace(' ', "") == TLBSIM_HEADER {
            Ok(Format::Tlbsim)
        } else if is_dev && t.split_whitespace().count() >= 6 {
            Ok(Format::Blkparse)
        } else if t.split(',').count() == 7 {
            Ok(Format::Msr)
        } else {
            Err(TraceError::Malformed {
                file,
                line: l.no,
                message: "cannot tell the trace's format from this line: give --format (tlbsim, fio, blkparse, msr)".to_string(),
            })
        };
    }
    Err(TraceError::Malformed {
        file,
        line: 1,
        message: "empty trace".to_string(),
    })
}

/// The header line of the `tlbsim` CSV format.
pub const TLBSIM_HEADER: &str = "time_ns,guest,queue,op,offset,size";

/// Writes `records` as a `tlbsim` CSV (header first) to `out`, streaming;
/// returns how many records were written. `name` is what errors call the
/// output.
///
/// # Errors
/// A bad input record (the input's error, naming its file and line) or a
/// write error.
pub fn write_tlbsim(
    records: impl IntoIterator<Item = Result<Record, TraceError>>,
    out: &mut impl Write,
    name: &str,
) -> Result<u64, TraceError> {
    let werr = |source| TraceError::Write {
        file: name.to_string(),
        source,
    };
    writeln!(out, "{TLBSIM_HEADER}").map_err(werr)?;
    let mut n = 0u64;
    for r in records {
        let r = r?;
        writeln!(
            out,
            "{},{},{},{},{},{}",
            r.at_ns,
            r.device,
            r.queue,
            if r.read { 'R' } else { 'W' },
            r.offset,
            r.size
        )
        .map_err(werr)?;
        n += 1;
    }
    out.flush().map_err(werr)?;
    Ok(n)
}

#[cfg(test)]
mod tests;
