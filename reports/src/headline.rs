//! The answer first: a few sentences in plain words and numbers that open
//! `report.html`: which policy serves the most I/O, by how much against the
//! strongest other one, at what tail latency, and what each costs the other
//! CPUs. Everything is computed from the runs; nothing names a policy.

use machine::RunResult;

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
