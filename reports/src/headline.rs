//! The answer first: a few sentences in plain words and numbers that open
//! `report.html`: which policy serves the most I/O, by how much against the
//! strongest other one, at what tail latency, and what each costs the other
//! CPUs. Everything is computed from the runs; nothing names a policy.

use machine::RunResult;

use crate::human::{frequency_from_metrics, human_micros, human_real};
use crate::sweep::{Sweep, SweepCell};

/// `n` with thousands separators: `1234567` -> `1,234,567`.
#[must_use]
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Simulated cycles as microseconds at `frequency_ghz`, to one decimal.
#[must_use]
pub fn micros(cycles: f64, frequency_ghz: f64) -> String {
    format!("{:.1} µs", cycles / (frequency_ghz * 1_000.0))
}

/// Rounds a non-negative rate or count for display.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "display of non-negative finite values"
)]
fn round(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

/// The headline sentences of a run (plain text; the caller escapes them).
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "per-I/O means for display")]
pub fn headline(runs: &[RunResult]) -> Vec<String> {
    let mut out = Vec::new();
    let mut safe: Vec<&RunResult> = runs.iter().filter(|r| r.stale_uses() == 0).collect();
    safe.sort_by(|a, b| b.iops().total_cmp(&a.iops()));
    match safe.as_slice() {
        [] => out.push("Every policy here used stale translations: none is safe.".to_string()),
        [only] => out.push(format!(
            "{} completes {} I/Os per second, p99 latency {} ({} cycles).",
            only.policy,
            grouped(round(only.iops())),
            micros(only.latency.p99 as f64, only.frequency_ghz),
            grouped(only.latency.p99),
        )),
        [best, second, ..] => out.push(format!(
            "{} serves the most I/O: {} I/Os per second, {:.2}x {} (the strongest other safe \
             policy here, {} I/Os per second), with p99 latency {} against {}.",
            best.policy,
            grouped(round(best.iops())),
            best.iops() / second.iops().max(f64::MIN_POSITIVE),
            second.policy,
            grouped(round(second.iops())),
            micros(best.latency.p99 as f64, best.frequency_ghz),
            micros(second.latency.p99 as f64, second.frequency_ghz),
        )),
    }
    for r in runs {
        let stolen = r.per_io(r.stolen_cycles());
        let ipis = r.per_io(r.ipis_sent());
        let mut s = if r.ipis_sent() == 0 {
            format!("{} sends no IPI", r.policy)
        } else {
            let useless = r.useless_ipis() as f64 / r.ipis_received().max(1) as f64;
            format!(
                "{} sends {ipis:.2} IPIs per I/O ({:.1}% of them to CPUs that held none of the \
                 pages)",
                r.policy,
                useless * 100.0
            )
        };
        if stolen > 0.0 {
            s.push_str(&format!(
                " and steals {} cycles ({}) per I/O from other CPUs",
                grouped(round(stolen)),
                micros(stolen, r.frequency_ghz)
            ));
        }
        if r.stale_uses() > 0 {
            s.push_str(&format!(
                "; it used stale translations {} times, so it is unsafe",
                grouped(r.stale_uses())
            ));
        }
        if r.overload.overloaded {
            s.push_str("; its open-loop guests overload it (latencies grow with the run)");
        }
        s.push('.');
        out.push(s);
    }
    out
}

/// The value range of `f` over `cells`: `(min, its cell, max, its cell)`.
fn range<'c, 'a>(
    cells: &[&'c SweepCell<'a>],
    f: impl Fn(&SweepCell<'a>) -> f64,
) -> Option<(f64, &'c SweepCell<'a>, f64, &'c SweepCell<'a>)> {
    let mut it = cells.iter();
    let first = it.next()?;
    let v = f(first);
    let mut out = (v, *first, v, *first);
    for c in it {
        let v = f(c);
        if v < out.0 {
            out.0 = v;
            out.1 = c;
        }
        if v > out.2 {
            out.2 = v;
            out.3 = c;
        }
    }
    Some(out)
}

/// The headline sentences of a sweep (plain text; the caller escapes
/// them): which safe policy serves the most I/O at how many grid points,
/// its lead over the strongest other safe policy there (smallest and
/// largest, with the points), and what each policy steals from other CPUs
/// across the points. Means over seeds; nothing names a policy.
#[must_use]
pub fn sweep_headline(sw: &Sweep<'_>) -> Vec<String> {
    let cells = sw.cells();
    let iops = |c: &SweepCell<'_>| c.mean("iops").unwrap_or(0.0);
    let safe = |c: &SweepCell<'_>| c.mean("stale_uses").unwrap_or(0.0) == 0.0;
    let mut points: Vec<usize> = cells.iter().map(|c| c.point).collect();
    points.dedup();
    let n = points.len();
    // Per point: the best safe cell and the strongest other safe cell.
    let mut wins: Vec<(&SweepCell<'_>, Option<&SweepCell<'_>>)> = Vec::new();
    for p in &points {
        let mut at: Vec<&SweepCell<'_>> =
            cells.iter().filter(|c| c.point == *p && safe(c)).collect();
        at.sort_by(|a, b| iops(b).total_cmp(&iops(a)));
        if let Some(best) = at.first() {
            wins.push((best, at.get(1).copied()));
        }
    }
    let mut out = Vec::new();
    let count = |policy: &str| wins.iter().filter(|(b, _)| b.policy == policy).count();
    let Some(top) = sw
        .policies
        .iter()
        .max_by_key(|p| {
            (
                count(p),
                std::cmp::Reverse(sw.policies.iter().position(|q| q == *p)),
            )
        })
        .filter(|p| count(p) > 0)
    else {
        out.push(
            "No policy here is safe at any point: every one used stale translations.".to_string(),
        );
        return out;
    };
    let mut first = format!(
        "{top} serves the most I/O at {} of the {n} points of this sweep",
        count(top)
    );
    let others: Vec<String> = sw
        .policies
        .iter()
        .filter(|p| *p != top && count(p) > 0)
        .map(|p| format!("{p} at {}", count(p)))
        .collect();
    if !others.is_empty() {
        first.push_str(&format!(" ({})", others.join(", ")));
    }
    first.push('.');
    out.push(first);
    let leads: Vec<(&SweepCell<'_>, &SweepCell<'_>)> = wins
        .iter()
        .filter(|(b, _)| b.policy == top)
        .filter_map(|(b, s)| s.map(|s| (*b, s)))
        .collect();
    let ratio = |b: &SweepCell<'_>, s: &SweepCell<'_>| iops(b) / iops(s).max(f64::MIN_POSITIVE);
    if let [(b, s)] = leads.as_slice() {
        out.push(format!(
            "There it completes {} I/Os per second, {:.2}x {} (the strongest other safe policy).",
            grouped(round(iops(b))),
            ratio(b, s),
            s.policy
        ));
    } else if let (Some(lo), Some(hi)) = (
        leads
            .iter()
            .min_by(|x, y| ratio(x.0, x.1).total_cmp(&ratio(y.0, y.1))),
        leads
            .iter()
            .max_by(|x, y| ratio(x.0, x.1).total_cmp(&ratio(y.0, y.1))),
    ) {
        out.push(format!(
            "Its lead over the strongest other safe policy ranges from {:.2}x ({} at {}) to \
             {:.2}x ({} at {}).",
            ratio(lo.0, lo.1),
            lo.1.policy,
            lo.0.label(),
            ratio(hi.0, hi.1),
            hi.1.policy,
            hi.0.label()
        ));
    }
    for p in sw.policies {
        let mine: Vec<&SweepCell<'_>> = cells.iter().filter(|c| c.policy == p).collect();
        let stolen = |c: &SweepCell<'_>| c.mean("stolen_cycles_per_io").unwrap_or(0.0);
        let Some((lo, lo_at, hi, hi_at)) = range(&mine, stolen) else {
            continue;
        };
        let us = |v: f64, c: &SweepCell<'_>| {
            frequency_from_metrics(|m| c.mean(m))
                .map_or_else(String::new, |f| format!(" ({})", human_micros(v, f)))
        };
        let mut s = if hi == 0.0 {
            format!("{p} steals no cycles from other CPUs at any point")
        } else if (hi - lo).abs() < f64::EPSILON * hi {
            format!(
                "{p} steals {} cycles{} per I/O from other CPUs at every point",
                human_real(hi),
                us(hi, hi_at)
            )
        } else {
            format!(
                "{p} steals {} cycles{} per I/O from other CPUs at {} to {}{} at {}",
                human_real(lo),
                us(lo, lo_at),
                lo_at.label(),
                human_real(hi),
                us(hi, hi_at),
                hi_at.label()
            )
        };
        let unsafe_at = mine.iter().filter(|c| !safe(c)).count();
        if unsafe_at > 0 {
            s.push_str(&format!(
                "; it used stale translations at {unsafe_at} of {n} points, so it is unsafe"
            ));
        }
        s.push('.');
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(867_152), "867,152");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(micros(85_375.0, 2.5), "34.1 µs");
    }
}
