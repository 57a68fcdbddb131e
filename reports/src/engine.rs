//! `engine.json`: how fast the simulator ran. Host-dependent (wall time,
//! events per second, peak memory), so kept out of `summary.json`.

use machine::EngineStats;

/// One simulation's engine statistics.
#[derive(Clone, Copy, Debug)]
pub struct EngineRun<'a> {
    /// The policy simulated, by name.
    pub policy: &'a str,
    /// Events and lookups the engine processed.
    pub stats: &'a EngineStats,
    /// Wall-clock seconds the simulation took.
    pub wall_seconds: f64,
}

/// `engine.json` of a run of `runs` that took `wall` seconds in all
/// (wall time, events and TLB lookups per second, peak RSS in bytes).
#[must_use]
pub fn engine_json(version: &str, runs: &[EngineRun<'_>], wall: f64) -> String {
    let per_run: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let (e, w) = (r.stats, r.wall_seconds);
            #[allow(clippy::cast_precision_loss, reason = "a rate")]
            let rate = |n: u64| if w > 0.0 { n as f64 / w } else { 0.0 };
            serde_json::json!({
                "policy": r.policy,
                "events": e.events,
                "wall_seconds": w,
                "events_per_second": rate(e.events),
                "tlb_lookups": e.tlb_lookups,
                "tlb_lookups_per_second": rate(e.tlb_lookups),
                "background_accesses": e.background_accesses,
            })
        })
        .collect();
    let events: u64 = runs.iter().map(|r| r.stats.events).sum();
    let busy: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    #[allow(clippy::cast_precision_loss, reason = "a rate")]
    let eps = if busy > 0.0 {
        events as f64 / busy
    } else {
        0.0
    };
    let v = serde_json::json!({
        "tlbsim_version": version,
        "events": events,
        "wall_seconds": wall,
        "events_per_second": eps,
        "peak_rss_bytes": peak_rss_bytes(),
        "runs": per_run,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
    s.push('\n');
    s
}

/// Peak resident set size of this process (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
