//! Numbers for people, as `report.html` shows them: thousands separators,
//! a precision that suits the size of the number, shares as percentages,
//! and simulated cycles with the time they stand for (microseconds at the
//! run's clock frequency) beside them.

use crate::headline::grouped;
use crate::metric::{Metric, MetricDef, Unit};

/// Rounds `v` to `decimals` and groups its integer part: `12345.678` at 1
/// decimal gives `12,345.7`.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the integer part of a finite value below 2^63, for display"
)]
fn grouped_real(v: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int = int.parse::<u64>().map_or_else(|_| int.to_string(), grouped);
    let sign = if v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// A real number for people: whole (grouped) from 1,000 up, one decimal
/// from 100, two from 1, three significant digits below 1; `0` for zero.
#[must_use]
pub fn human_real(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    let decimals = if a >= 1_000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Three significant digits: 0.0123 (10^-2 <= a < 10^-1) -> 4 decimals.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small positive count of decimals"
        )]
        let decimals = (2.0 - a.log10().floor()).clamp(3.0, 9.0) as usize;
        decimals
    };
    grouped_real(v, decimals)
}

/// Cycles as microseconds at `frequency_ghz`, precision for people:
/// `85,375` cycles at 2.5 GHz gives `34.15 µs`.
#[must_use]
pub fn human_micros(cycles: f64, frequency_ghz: f64) -> String {
    format!("{} µs", human_real(cycles / (frequency_ghz * 1_000.0)))
}

/// A metric's value for people, in its unit: counts grouped, shares as
/// percentages, flags as yes or no, and cycles (in total, per I/O or per
/// access) with their time in microseconds beside them when the clock
/// frequency is known.
#[must_use]
pub fn human_value(d: &MetricDef, m: Metric, frequency_ghz: Option<f64>) -> String {
    let v = m.as_f64();
    let number = match m {
        Metric::Count(c) => grouped(c),
        Metric::Real(r) => human_real(r),
    };
    match d.unit {
        Unit::Cycles | Unit::CyclesPerIo | Unit::CyclesPerAccess => {
            match frequency_ghz.filter(|f| *f > 0.0 && f.is_finite()) {
                Some(f) if v != 0.0 => format!("{number} ({})", human_micros(v, f)),
                _ => number,
            }
        }
        Unit::Share => format!("{}%", human_real(v * 100.0)),
        Unit::Percent => format!("{}%", human_real(v)),
        Unit::Flag => if v == 0.0 { "no" } else { "yes" }.to_string(),
        Unit::IosPerSecond => human_real(v.round()),
        Unit::Index => number,
        Unit::Count | Unit::CountPerIo | Unit::Bytes => number,
    }
}

/// The clock frequency (GHz) of a sweep row, from its own metrics: `iops =
/// io_completed * f * 1e9 / sim_cycles` (the definition of
/// `RunResult::iops`), so `f = iops * sim_cycles / (io_completed * 1e9)`.
/// `None` when the row completed no I/O. The sweep files carry no
/// frequency column; this keeps them unchanged.
#[must_use]
pub fn frequency_from_metrics(metric: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    let ios = metric("io_completed")?;
    let f = metric("iops")? * metric("sim_cycles")? / (ios * 1e9);
    (ios > 0.0 && f.is_finite() && f > 0.0).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::metric_def;

    #[test]
    fn reals_for_people() {
        assert_eq!(human_real(0.0), "0");
        assert_eq!(human_real(468_779.298_706), "468,779");
        assert_eq!(human_real(1_000.4), "1,000");
        assert_eq!(human_real(123.456), "123.5");
        assert_eq!(human_real(2.0), "2.00");
        assert_eq!(human_real(0.123_456), "0.123");
        assert_eq!(human_real(0.001_234_5), "0.00123");
        assert_eq!(human_real(-1_234.6), "-1,235");
        assert_eq!(human_real(-0.000_1), "-0.000100");
    }

    #[test]
    fn values_in_their_units() {
        let d = |n| metric_def(n).expect("a registry metric");
        assert_eq!(
            human_value(d("stolen_cycles"), Metric::Count(85_375), Some(2.5)),
            "85,375 (34.15 µs)"
        );
        assert_eq!(
            human_value(d("stolen_cycles"), Metric::Count(0), Some(2.5)),
            "0"
        );
        assert_eq!(
            human_value(d("stolen_cycles_per_io"), Metric::Real(1_250.0), None),
            "1,250"
        );
        assert_eq!(
            human_value(d("ipis_useless_share"), Metric::Real(0.5), None),
            "50.00%"
        );
        assert_eq!(
            human_value(d("ipis_sent"), Metric::Count(1_234_567), None),
            "1,234,567"
        );
        assert_eq!(human_value(d("overloaded"), Metric::Count(1), None), "yes");
    }

    #[test]
    fn frequency_back_from_a_rows_metrics() {
        // 1,000 I/Os in 2.5e6 cycles at 2.5 GHz: 1e6 I/Os per second.
        let m = |n: &str| match n {
            "io_completed" => Some(1_000.0),
            "iops" => Some(1e6),
            "sim_cycles" => Some(2.5e6),
            _ => None,
        };
        let f = frequency_from_metrics(m).expect("a frequency");
        assert!((f - 2.5).abs() < 1e-12, "{f}");
        assert_eq!(
            frequency_from_metrics(|n| (n != "io_completed").then_some(1.0)),
            None
        );
    }
}
