//! Overload is reported: an open-loop guest whose arrivals outpace
//! completions over the window is flagged in summary.json, the table and a
//! warning.

mod common;
use common::{runs_of, text, tlbsim};

/// `(policy, overloaded, arrivals, backlog growth)` of each run.
fn overload(scenario: &str) -> Vec<(String, u64, u64, u64)> {
    runs_of(
        &[
            scenario,
            "--set",
            "stop.ios=5000",
            "--set",
            "stop.warmup_ios=500",
        ],
        |r| {
            let o = &r["overload"];
            (
                r["policy"].as_str().unwrap().to_string(),
                o["overloaded"].as_u64().unwrap(),
                o["arrivals"].as_u64().unwrap(),
                o["backlog_end"].as_u64().unwrap() - o["backlog_start"].as_u64().unwrap(),
            )
        },
    )
}

#[test]
fn netif_is_overloaded_under_global_only() {
    let runs = overload("netif");
    let global = runs.iter().find(|r| r.0 == "global").expect("global runs");
    assert_eq!(global.1, 1, "{global:?}");
    assert!(global.3 * 10 > global.2, "the backlog grew by over a tenth");
    let percpu = runs.iter().find(|r| r.0 == "percpu").expect("percpu runs");
    assert_eq!(percpu.1, 0, "{percpu:?}");
    let out = tlbsim(&["run", "netif", "--set", "stop.ios=5000"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning: global: open-loop arrivals outpace completions"));
    let table = text(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("open-loop overload"))
        .expect("a table row");
    assert_eq!(
        row.split_whitespace().skip(2).collect::<Vec<_>>(),
        ["yes", "no"]
    );
}

#[test]
fn default_is_not_overloaded() {
    for (policy, overloaded, arrivals, _) in overload("default") {
        assert_eq!(overloaded, 0, "{policy}");
        assert_eq!(
            arrivals, 0,
            "closed-loop guests only: no open-loop arrivals"
        );
    }
}
