//! One line-at-a-time parser per trace format (documented in the crate
//! docs).

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::{Record, TraceError, TLBSIM_HEADER};

/// A trace file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// tlbsim's CSV: `time_ns,guest,queue,op,offset,size`.
    Tlbsim,
    /// fio's `--write_iolog` output, version 2 or 3.
    Fio,
    /// blkparse's default text output (queue events).
    Blkparse,
    /// MSR Cambridge / SNIA block trace CSV.
    Msr,
}

impl Format {
    /// Every format, in the order of `workloads::TRACE_FORMATS`.
    pub const ALL: [Format; 4] = [Format::Tlbsim, Format::Fio, Format::Blkparse, Format::Msr];

    /// The name scenarios and the CLI use.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Tlbsim => "tlbsim",
            Format::Fio => "fio",
            Format::Blkparse => "blkparse",
            Format::Msr => "msr",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = TraceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| TraceError::UnknownFormat(s.to_string()))
    }
}

/// What one line was.
pub(crate) enum Parsed {
    /// Not a request (header, comment, file action, other event).
    Skip,
    /// A request.
    Record(Record),
    /// Nothing after this line is part of the trace (blkparse's summary).
    End,
    /// Not a valid line: what is wrong.
    Bad(String),
}

/// The state of one format's parser.
pub(crate) enum Parser {
    Tlbsim { header_seen: bool },
    Fio(FioState),
    Blkparse,
    Msr { first: bool, base: Option<u64> },
}

pub(crate) struct FioState {
    /// 0 until the header line has been read, then 2 or 3.
    version: u8,
    /// v2: the clock advanced by `wait` actions, µs.
    clock_us: u64,
    /// File names in the order first seen, with their index.
    files: BTreeMap<String, u32>,
}

impl Parser {
    pub(crate) fn new(format: Format) -> Self {
        match format {
            Format::Tlbsim => Parser::Tlbsim { header_seen: false },
            Format::Fio => Parser::Fio(FioState {
                version: 0,
                clock_us: 0,
                files: BTreeMap::new(),
            }),
            Format::Blkparse => Parser::Blkparse,
            Format::Msr => Parser::Msr {
                first: true,
                base: None,
            },
        }
    }

    /// At the end of the file: a problem with the file as a whole, if any.
    pub(crate) fn at_end(&self) -> Option<String> {
        match self {
            Parser::Tlbsim { header_seen: false } => Some(format!(
                "empty trace: expected the header `{TLBSIM_HEADER}`"
            )),
            Parser::Fio(FioState { version: 0, .. }) => Some(
                "empty trace: expected `fio version 2 iolog` or `fio version 3 iolog`".to_string(),
            ),
            _ => None,
        }
    }

    pub(crate) fn parse(&mut self, line: &str) -> Parsed {
        match self {
            Parser::Tlbsim { header_seen } => parse_tlbsim(line, header_seen),
            Parser::Fio(st) => parse_fio(line, st),
            Parser::Blkparse => parse_blkparse(line),
            Parser::Msr { first, base } => {
                let was_first = std::mem::replace(first, false);
                parse_msr(line, was_first, base)
            }
        }
    }
}

fn num<T: FromStr>(field: &str, what: &str) -> Result<T, String> {
    field.trim().parse().map_err(|_| {
        format!(
            "{what} must be a non-negative integer, got `{}`",
            field.trim()
        )
    })
}

fn positive(size: u64) -> Result<u64, String> {
    if size == 0 {
        Err("size must be positive".to_string())
    } else {
        Ok(size)
    }
}

fn bad_or(r: Result<Record, String>) -> Parsed {
    match r {
        Ok(r) => Parsed::Record(r),
        Err(m) => Parsed::Bad(m),
    }
}

fn parse_tlbsim(line: &str, header_seen: &mut bool) -> Parsed {
    if !*header_seen {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.join(",") != TLBSIM_HEADER {
            return Parsed::Bad(format!(
                "expected the header `{TLBSIM_HEADER}`, got `{line}`"
            ));
        }
        *header_seen = true;
        return Parsed::Skip;
    }
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Parsed::Skip;
    }
    bad_or((|| {
        let f: Vec<&str> = t.split(',').collect();
        if f.len() != 6 {
            return Err(format!(
                "expected 6 fields ({TLBSIM_HEADER}), got {}",
                f.len()
            ));
        }
        let read = match f[3].trim().to_ascii_lowercase().as_str() {
            "r" | "read" => true,
            "w" | "write" => false,
            other => return Err(format!("op must be R or W, got `{other}`")),
        };
        Ok(Record {
            at_ns: num(f[0], "time_ns")?,
            device: num(f[1], "guest")?,
            queue: num(f[2], "queue")?,
            read,
            offset: num(f[4], "offset")?,
            size: positive(num(f[5], "size")?)?,
        })
    })())
}

fn parse_fio(line: &str, st: &mut FioState) -> Parsed {
    if st.version == 0 {
        st.version = match line.trim() {
            "fio version 2 iolog" => 2,
            "fio version 3 iolog" => 3,
            _ => {
                return Parsed::Bad(format!(
                "expected `fio version 2 iolog` or `fio version 3 iolog` (fio --write_iolog), got `{line}`"
            ))
            }
        };
        return Parsed::Skip;
    }
    let mut tok: Vec<&str> = line.split_whitespace().collect();
    if tok.is_empty() {
        return Parsed::Skip;
    }
    let at_us = if st.version == 3 {
        match num::<u64>(tok[0], "the timestamp (µs)") {
            Ok(t) => {
                tok.remove(0);
                Some(t)
            }
            Err(m) => return Parsed::Bad(m),
        }
    } else {
        None
    };
    let form = if st.version == 3 {
        "TIMESTAMP FILE ACTION [OFFSET LENGTH]"
    } else {
        "FILE ACTION [OFFSET LENGTH]"
    };
    if tok.len() != 2 && tok.len() != 4 {
        return Parsed::Bad(format!("expected `{form}`"));
    }
    let next = u32::try_from(st.files.len()).unwrap_or(u32::MAX);
    let file = *st.files.entry(tok[0].to_string()).or_insert(next);
    match (tok[1], tok.len()) {
        ("add" | "open" | "close", 2) => Parsed::Skip,
        ("read" | "write", 4) => bad_or((|| {
            let offset = num(tok[2], "offset")?;
            let size = positive(num(tok[3], "length")?)?;
            let at_ns = at_us.unwrap_or(st.clock_us).saturating_mul(1000);
            Ok(Record {
                at_ns,
                device: file,
                queue: file,
                read: tok[1] == "read",
                offset,
                size,
            })
        })()),
        ("wait", 4) => match num::<u64>(tok[2], "the wait (µs)") {
            Ok(us) => {
                st.clock_us = st.clock_us.saturating_add(us);
                Parsed::Skip
            }
            Err(m) => Parsed::Bad(m),
        },
        ("sync" | "datasync" | "trim", _) => Parsed::Skip,
        (a @ ("add" | "open" | "close" | "read" | "write" | "wait"), n) => {
            Parsed::Bad(format!("action `{a}` with {n} fields: expected `{form}`"))
        }
        (a, _) => Parsed::Bad(format!(
            "unknown action `{a}` (expected add, open, close, read, write, wait, sync, datasync or trim)"
        )),
    }
}

/// `SECONDS.NANOSECONDS` as nanoseconds, exactly.
fn seconds_ns(s: &str) -> Result<u64, String> {
    let err = || format!("time must be SECONDS.NANOSECONDS, got `{s}`");
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: u64 = sec.parse().map_err(|_| err())?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let mut ns: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| err())?
    };
    for _ in frac.len()..9 {
        ns *= 10;
    }
    sec.checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(ns))
        .ok_or_else(err)
}

fn parse_blkparse(line: &str) -> Parsed {
    let tok: Vec<&str> = line.split_whitespace().collect();
    let Some(first) = tok.first() else {
        return Parsed::Skip;
    };
    let dev = first
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    let Some((major, minor)) = dev else {
        if first.starts_with("CPU") || *first == "Total" {
            return Parsed::End;
        }
        return Parsed::Bad(format!(
            "not a blkparse event line (expected `MAJ,MIN CPU SEQ SECONDS PID ACTION ...`), got `{line}`"
        ));
    };
    if tok.len() < 6 {
        return Parsed::Bad(
            "expected `MAJ,MIN CPU SEQ SECONDS PID ACTION ...` (fewer than 6 fields)".to_string(),
        );
    }
    bad_or_skip((|| {
        let cpu: u32 = num(tok[1], "the CPU")?;
        let at_ns = seconds_ns(tok[3])?;
        if tok[5] != "Q" {
            return Ok(None);
        }
        // Q RWBS SECTOR + COUNT [PROCESS]
        if tok.len() < 10 || tok[8] != "+" {
            return Err("a Q event needs `Q RWBS SECTOR + SECTORS [PROCESS]`".to_string());
        }
        let rwbs = tok[6];
        let sector: u64 = num(tok[7], "the sector")?;
        let sectors: u64 = num(tok[9], "the sector count")?;
        if !tok[tok.len() - 1].ends_with(']') {
            return Err("the process name `[...]` is missing".to_string());
        }
        let read = rwbs.contains('R');
        if rwbs.contains('D') || sectors == 0 || !(read || rwbs.contains('W')) {
            return Ok(None);
        }
        Ok(Some(Record {
            at_ns,
            device: major.saturating_mul(256).saturating_add(minor),
            queue: cpu,
            read,
            offset: sector.saturating_mul(512),
            size: sectors.saturating_mul(512),
        }))
    })())
}

fn bad_or_skip(r: Result<Option<Record>, String>) -> Parsed {
    match r {
        Ok(Some(r)) => Parsed::Record(r),
        Ok(None) => Parsed::Skip,
        Err(m) => Parsed::Bad(m),
    }
}

fn parse_msr(line: &str, first: bool, base: &mut Option<u64>) -> Parsed {
    let t = line.trim();
    if first && t.starts_with("Timestamp") {
        return Parsed::Skip;
    }
    if t.is_empty() {
        return Parsed::Skip;
    }
    bad_or((|| {
        let f: Vec<&str> = t.split(',').collect();
        if f.len() != 7 {
            return Err(format!(
                "expected 7 fields (Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime), got {}",
                f.len()
            ));
        }
        let ts: u64 = num(f[0], "Timestamp (Windows filetime)")?;
        let disk: u32 = num(f[2], "DiskNumber")?;
        let read = match f[3].trim().to_ascii_lowercase().as_str() {
            "read" => true,
            "write" => false,
            other => return Err(format!("Type must be Read or Write, got `{other}`")),
        };
        let offset = num(f[4], "Offset")?;
        let size = positive(num(f[5], "Size")?)?;
        let _: u64 = num(f[6], "ResponseTime")?;
        let b = *base.get_or_insert(ts);
        Ok(Record {
            at_ns: ts.saturating_sub(b).saturating_mul(100),
            device: disk,
            queue: disk,
            read,
            offset,
            size,
        })
    })())
}
