//! `tlbsim trace stats`: what a trace holds, computed in one streaming pass
//! with bounded memory.

use std::collections::BTreeMap;
use std::fmt;

use crate::{Record, TraceError};

/// Most buckets the arrival-rate series keeps; past this the bucket width
/// doubles and neighbours merge, so memory stays bounded however long the
/// trace spans.
const MAX_RATE_BUCKETS: usize = 1024;
/// Rows `Display` prints of the arrival rate.
const RATE_ROWS: usize = 20;

/// Statistics of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Requests.
    pub records: u64,
    /// Reads among them.
    pub reads: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Earliest arrival, ns.
    pub first_ns: u64,
    /// Latest arrival, ns.
    pub last_ns: u64,
    /// Records whose arrival is earlier than the record before them.
    pub out_of_order: u64,
    /// Request sizes: count per power-of-two bucket (key: the bucket's upper
    /// bound in bytes; a size counts in the smallest bucket >= it).
    pub sizes: BTreeMap<u64, u64>,
    /// Requests per device.
    pub devices: BTreeMap<u32, u64>,
    /// Requests per arrival-time bucket of `rate_bucket_ns`, from time 0.
    pub rate: Vec<u64>,
    /// Width of a `rate` bucket, ns (a power of two times 1 ms).
    pub rate_bucket_ns: u64,
    last_seen: u64,
}

/// One row of the arrival rate over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateBucket {
    /// Start, ns.
    pub start_ns: u64,
    /// End (exclusive), ns.
    pub end_ns: u64,
    /// Requests arriving in it.
    pub requests: u64,
    /// Requests per second.
    pub iops: f64,
}

impl TraceStats {
    /// Statistics of every record of `records`.
    ///
    /// # Errors
    /// The first bad record's error.
    pub fn collect(
        records: impl IntoIterator<Item = Result<Record, TraceError>>,
    ) -> Result<Self, TraceError> {
        let mut s = TraceStats {
            rate_bucket_ns: 1_000_000,
            ..TraceStats::default()
        };
        for r in records {
            s.add(&r?);
        }
        Ok(s)
    }

    /// Counts one record.
    pub fn add(&mut self, r: &Record) {
        if self.rate_bucket_ns == 0 {
            self.rate_bucket_ns = 1_000_000;
        }
        if self.records == 0 {
            self.first_ns = r.at_ns;
            self.last_ns = r.at_ns;
        } else if r.at_ns < self.last_seen {
            self.out_of_order += 1;
        }
        self.last_seen = r.at_ns;
        self.records += 1;
        self.first_ns = self.first_ns.min(r.at_ns);
        self.last_ns = self.last_ns.max(r.at_ns);
        if r.read {
            self.reads += 1;
            self.read_bytes = self.read_bytes.saturating_add(r.size);
        } else {
            self.write_bytes = self.write_bytes.saturating_add(r.size);
        }
        *self
            .sizes
            .entry(r.size.checked_next_power_of_two().unwrap_or(u64::MAX))
            .or_default() += 1;
        *self.devices.entry(r.device).or_default() += 1;
        let mut i = r.at_ns / self.rate_bucket_ns;
        while i >= MAX_RATE_BUCKETS as u64 {
            self.rate = self.rate.chunks(2).map(|c| c.iter().sum()).collect();
            self.rate_bucket_ns = self.rate_bucket_ns.saturating_mul(2);
            i = r.at_ns / self.rate_bucket_ns;
        }
        let i = usize::try_from(i).expect("below MAX_RATE_BUCKETS");
        if self.rate.len() <= i {
            self.rate.resize(i + 1, 0);
        }
        self.rate[i] += 1;
    }

    /// Writes among the records.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.records - self.reads
    }

    /// The arrival rate over time, in at most `rows` rows of equal width
    /// covering time 0 to the last arrival.
    #[must_use]
    pub fn rate_rows(&self, rows: usize) -> Vec<RateBucket> {
        if self.rate.is_empty() || rows == 0 {
            return Vec::new();
        }
        let per = self.rate.len().div_ceil(rows);
        let width = self.rate_bucket_ns.saturating_mul(per as u64);
        self.rate
            .chunks(per)
            .enumerate()
            .map(|(i, c)| {
                let requests: u64 = c.iter().sum();
                let start_ns = width.saturating_mul(i as u64);
                #[allow(clippy::cast_precision_loss, reason = "a rate")]
                let iops = requests as f64 / (width as f64 * 1e-9);
                RateBucket {
                    start_ns,
                    end_ns: start_ns.saturating_add(width),
                    requests,
                    iops,
                }
            })
            .collect()
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (u, name) in UNITS {
        if n >= u && n.is_multiple_of(u) {
            return format!("{} {name}", n / u);
        }
    }
    format!("{n} B")
}

#[allow(clippy::cast_precision_loss, reason = "display only")]
fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

#[allow(clippy::cast_precision_loss, reason = "display only")]
fn secs(ns: u64) -> f64 {
    ns as f64 * 1e-9
}

impl fmt::Display for TraceStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = self.last_ns - self.first_ns;
        writeln!(f, "requests     {}", self.records)?;
        writeln!(
            f,
            "reads        {} ({:.1}%), {} bytes",
            self.reads,
            pct(self.reads, self.records),
            self.read_bytes
        )?;
        writeln!(
            f,
            "writes       {} ({:.1}%), {} bytes",
            self.writes(),
            pct(self.writes(), self.records),
            self.write_bytes
        )?;
        writeln!(
            f,
            "arrivals     {:.6} s to {:.6} s (span {:.6} s)",
            secs(self.first_ns),
            secs(self.last_ns),
            secs(span)
        )?;
        if span > 0 {
            #[allow(clippy::cast_precision_loss, reason = "display only")]
            let iops = self.records.saturating_sub(1) as f64 / secs(span);
            writeln!(f, "mean rate    {iops:.0} requests/s")?;
        }
        if self.out_of_order > 0 {
            writeln!(f, "out of order {} records", self.out_of_order)?;
        }
        writeln!(f, "devices      {}", self.devices.len())?;
        for (d, n) in &self.devices {
            writeln!(f, "  device {d:<8} {n}")?;
        }
        writeln!(
            f,
            "sizes (bucket: requests of at most that size, above the previous)"
        )?;
        for (b, n) in &self.sizes {
            writeln!(
                f,
                "  <= {:>10}  {n:>10}  {:5.1}%",
                bytes(*b),
                pct(*n, self.records)
            )?;
        }
        writeln!(f, "arrival rate over time")?;
        for r in self.rate_rows(RATE_ROWS) {
            writeln!(
                f,
                "  {:>12.6} s .. {:>12.6} s  {:>10} requests  {:>12.0} requests/s",
                secs(r.start_ns),
                secs(r.end_ns),
                r.requests,
                r.iops
            )?;
        }
        Ok(())
    }
}
