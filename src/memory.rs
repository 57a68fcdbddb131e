//! `--max-memory`: refuse a run or sweep whose estimated memory
//! ([`machine::SimConfig::memory_estimate`], times the simulations that run
//! at once) exceeds a limit, before anything is simulated.

use anyhow::{bail, Result};

/// The default limit: 8 GiB (a laptop's or a small CI runner's memory).
pub const DEFAULT_MAX_MEMORY: &str = "8GiB";

/// Parses `8GiB`, `512MiB`, `64KiB`, `2GB`, `1000000` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}`: expected a size such as 8GiB, 512MiB or 1000000"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}`: too large"))
}

/// Bytes for people: `1.50 GiB`.
fn human(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a size for people")]
    let b = bytes as f64;
    match bytes {
        b0 if b0 >= 1 << 30 => format!("{:.2} GiB", b / f64::from(1u32 << 30)),
        b0 if b0 >= 1 << 20 => format!("{:.1} MiB", b / f64::from(1u32 << 20)),
        _ => format!("{:.0} KiB", b / 1024.0),
    }
}

/// Fails, naming the estimate and its largest parts, when `at_once`
/// simulations of `config` (the largest of a sweep) would need more than
/// `limit` bytes.
pub fn check(config: &machine::SimConfig, at_once: usize, limit: u64) -> Result<()> {
    let est = config.memory_estimate();
    let one = est.total_bytes();
    let n = u64::try_from(at_once.max(1)).unwrap_or(u64::MAX);
    let total = one.saturating_mul(n).saturating_add(machine::PROCESS_BYTES);
    if total <= limit {
        return Ok(());
    }
    let mut parts = est.parts.clone();
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    let parts: Vec<String> = parts
        .iter()
        .take(3)
        .map(|(name, b)| format!("{name} {}", human(*b)))
        .collect();
    bail!(
        "estimated memory {} exceeds --max-memory {}: {n} simulation(s) at once x {} ({}); make the scenario smaller (machine.cpus, TLB entries, queue depths, background.working_set_pages), run fewer at once (--jobs), or raise --max-memory",
        human(total),
        human(limit),
        human(one),
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_garbage() {
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("x").is_err());
        assert!(parse_size("8XB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
