//! The bundled `default` is a documented real system with variability
//! (issue 10): its latencies spread and its seeds differ, while
//! `fixed-baseline` (the previous default) still has every cost fixed.

mod common;
use common::runs_of;

/// `(policy, iops, p50, p99, stale uses)` of `tlbsim run ARGS`.
fn runs(args: &[&str]) -> Vec<(String, f64, f64, f64, u64)> {
    runs_of(args, |r| {
        (
            r["policy"].as_str().unwrap().to_string(),
            r["throughput"]["iops"].as_f64().unwrap(),
            r["latency_cycles"]["p50"].as_f64().unwrap(),
            r["latency_cycles"]["p99"].as_f64().unwrap(),
            r["stale_uses"].as_u64().unwrap(),
        )
    })
}

#[test]
fn default_global_has_a_tail_and_seeds_differ() {
    let mut iops = Vec::new();
    for seed in ["1", "2", "3"] {
        let r = runs(&["default", "--seed", seed, "--policies", "global"]);
        let (policy, i, p50, p99, stale) = r[0].clone();
        assert_eq!(policy, "global");
        assert!(p99 / p50 > 1.2, "seed {seed}: p99/p50 = {}", p99 / p50);
        assert_eq!(stale, 0);
        iops.push(i);
    }
    assert!(
        iops[0] != iops[1] && iops[1] != iops[2] && iops[0] != iops[2],
        "{iops:?}"
    );
}

#[test]
fn fixed_baseline_keeps_every_cost_fixed() {
    for (policy, _, p50, p99, _) in runs(&["fixed-baseline"]) {
        assert_eq!(p50, p99, "{policy}: fixed costs, closed loop");
    }
}
