//! Latency statistics.

use hdrhistogram::Histogram;

/// A latency distribution in cycles, recorded exactly up to 3 significant
/// digits (HdrHistogram), over an unbounded range: values above the current
/// range grow the histogram instead of saturating.
///
/// Memory is bounded by the range of values (logarithmic), never by the number
/// of samples.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum: u128,
}

/// The percentiles a report shows, in cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Arithmetic mean (exact, not from buckets).
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample (exact up to the histogram's precision).
    pub max: u64,
}

impl LatencyHistogram {
    /// An empty histogram with 3 significant digits.
    #[must_use]
    pub fn new() -> Self {
        let mut hist = Histogram::new(3).expect("3 significant digits is a valid precision");
        hist.auto(true);
        Self { hist, sum: 0 }
    }

    /// Records one sample, in cycles.
    #[inline]
    pub fn record(&mut self, cycles: u64) {
        // auto-resize is on, so record only fails for values hdrhistogram can
        // never represent (above u64::MAX / 2); clamp rather than panic.
        let v = cycles.min(u64::MAX / 4);
        self.hist
            .record(v)
            .expect("auto-resizing histogram accepts any clamped value");
        self.sum += u128::from(cycles);
    }

    /// Number of samples.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Exact mean of the samples (0 when empty).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "a mean is reported as f64")]
    pub fn mean(&self) -> f64 {
        if self.hist.is_empty() {
            0.0
        } else {
            self.sum as f64 / self.hist.len() as f64
        }
    }

    /// The value at quantile `q` in `[0, 1]` (0 when empty).
    #[must_use]
    pub fn quantile(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    /// Points of the cumulative distribution: `(value, fraction <= value)`,
    /// one per recorded bucket, in increasing value order.
    #[must_use]
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let total = self.hist.len();
        if total == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for v in self.hist.iter_recorded() {
            #[allow(clippy::cast_precision_loss, reason = "a fraction")]
            let frac = v.quantile_iterated_to();
            out.push((v.value_iterated_to(), frac));
        }
        out
    }

    /// The summary a report shows.
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean: self.mean(),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: if self.hist.is_empty() {
                0
            } else {
                self.hist.max()
            },
        }
    }

    /// Forgets every sample (used at the end of the warm-up).
    pub fn clear(&mut self) {
        self.hist.reset();
        self.sum = 0;
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_uniform() {
        let mut h = LatencyHistogram::new();
        for v in 1..=1000 {
            h.record(v);
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((s.mean - 500.5).abs() < 1e-9);
        assert_eq!(s.p50, 500);
        assert_eq!(s.p99, 990);
        assert_eq!(s.max, 1000);
    }

    #[test]
    fn empty_is_zero() {
        let h = LatencyHistogram::new();
        assert_eq!(h.summary(), LatencySummary::default());
    }

    #[test]
    fn large_values_grow_the_range() {
        let mut h = LatencyHistogram::new();
        h.record(5);
        h.record(10_000_000_000);
        assert!(h.summary().max >= 9_990_000_000);
    }
}
