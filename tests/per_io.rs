//! `tlbsim run --per-io FILE.csv`: one row per measured I/O whose sums are
//! the summary's numbers (the I/O count, the mean latency, each latency
//! part's total), with its columns documented in docs/metrics.md.

use std::collections::BTreeMap;
use std::path::Path;
mod common;
use common::{text, tlbsim};
use serde_json::Value;

/// The per-I/O rows of `FILE.csv`, by policy: each row's columns by name.
type Rows = BTreeMap<String, Vec<BTreeMap<String, u64>>>;

fn read_rows(path: &Path) -> (Vec<String>, Vec<String>, Rows) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(header[0], "policy");
    let mut order = Vec::new();
    let mut rows = Rows::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), header.len(), "{l}");
        if order.last().is_none_or(|p: &String| p != f[0]) {
            order.push(f[0].to_string());
        }
        let row = header[1..]
            .iter()
            .zip(&f[1..])
            .map(|(h, v)| (h.clone(), v.parse::<u64>().expect("whole numbers")))
            .collect();
        rows.entry(f[0].to_string()).or_default().push(row);
    }
    (header, order, rows)
}

/// Runs `tlbsim run ARGS --per-io FILE --json`: summary.json and the rows.
fn run(args: &[&str], dir: &Path) -> (Value, Vec<String>, Vec<String>, Rows) {
    let file = dir.join("io.csv");
    let mut a = vec!["run"];
    a.extend(args);
    a.extend(["--json", "--per-io", file.to_str().unwrap()]);
    let out = tlbsim(&a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (header, order, rows) = read_rows(&file);
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["io.csv"], "part files are removed");
    (summary, header, order, rows)
}

/// Checks every run's rows against its summary: the count and the mean
/// latency exactly, and each latency part's total within `slack(run)`
/// cycles below the summary's (what requests still in flight at the stop
/// had added; 0 when none can be).
fn check(
    summary: &Value,
    header: &[String],
    order: &[String],
    rows: &Rows,
    slack: impl Fn(&Value) -> f64,
) {
    let runs = summary["runs"].as_array().unwrap();
    let policies: Vec<String> = runs
        .iter()
        .map(|r| r["policy"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, policies, "rows come policy by policy, in order");
    for run in runs {
        let p = run["policy"].as_str().unwrap();
        let mine = &rows[p];
        let n = run["io"]["completed"].as_u64().unwrap();
        assert_eq!(mine.len() as u64, n, "{p}: one row per measured I/O");
        let sum = |col: &str| mine.iter().map(|r| r[col]).sum::<u64>();
        assert_eq!(sum("pieces"), run["io"]["pieces"].as_u64().unwrap(), "{p}");
        assert_eq!(
            sum("size_bytes"),
            run["io"]["bytes"].as_u64().unwrap(),
            "{p}"
        );
        assert_eq!(
            mine.iter().filter(|r| r["read"] == 1).count() as u64,
            run["io"]["reads"].as_u64().unwrap(),
            "{p}"
        );
        #[allow(
            clippy::cast_precision_loss,
            reason = "a mean, as the summary computes it"
        )]
        let mean = sum("latency_cycles") as f64 / n as f64;
        let want = run["latency_cycles"]["mean"].as_f64().unwrap();
        assert!(
            (mean - want).abs() <= 1e-9 * want,
            "{p}: mean latency {mean} against {want}"
        );
        // The summary's maximum comes from its histogram (3 significant
        // digits).
        let max = mine.iter().map(|r| r["latency_cycles"]).max().unwrap();
        let hist_max = run["latency_cycles"]["max"].as_u64().unwrap();
        assert!(
            max.abs_diff(hist_max) * 1000 <= hist_max,
            "{p}: max latency {max} against the histogram's {hist_max}"
        );
        let parts = run["latency_breakdown_cycles_per_io"].as_object().unwrap();
        for (part, per_io) in parts {
            let col = format!("{part}_cycles");
            assert!(header.contains(&col), "no column {col}");
            #[allow(clippy::cast_precision_loss, reason = "cycle totals far below 2^53")]
            let (have, total) = (sum(&col) as f64, per_io.as_f64().unwrap() * n as f64);
            let gap = total - have;
            // The summary's per-I/O mean is a float: its total is exact to
            // well under a cycle.
            let eps = 0.5 + 1e-12 * total;
            assert!(
                gap >= -eps && gap <= slack(run) + eps,
                "{p}: {col} rows sum to {have}, summary total {total} (slack {})",
                slack(run)
            );
        }
        // An unsplit I/O's parts add up to at most its latency (less by what
        // fell before the window opened). A split I/O's pieces may be
        // served at once on several CPUs, so their sum may exceed it.
        for r in mine.iter().filter(|r| r["pieces"] == 1) {
            let parts: u64 = parts.keys().map(|k| r[&format!("{k}_cycles")]).sum();
            assert!(parts <= r["latency_cycles"], "{r:?}");
        }
    }
}

/// A closed loop with one request outstanding and migrations: nothing is
/// in flight when the run stops, so the rows sum to the summary exactly.
#[test]
fn per_io_rows_sum_exactly_to_the_summary_with_one_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("one.toml");
    std::fs::write(
        &sc,
        "policies = [\"global\", \"percpu\", \"batched\"]\nseed = 5\n\
         [stop]\nios = 3000\nwarmup_ios = 300\n\
         [machine]\ncpus = 8\n[host]\nio_cpus = 2\nmigration_probability = 0.3\n\
         [[guests]]\npattern = \"closed\"\nqueue_depth = 1\nsize_bytes = 8192\nread_fraction = 0.5\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (summary, header, order, rows) = run(&[sc.to_str().unwrap()], &out);
    check(&summary, &header, &order, &rows, |_| 0.0);
    let global = &summary["runs"][0]["latency_breakdown_cycles_per_io"];
    for part in [
        "queue",
        "map",
        "migration",
        "data",
        "unmap",
        "flush_wait",
        "complete",
    ] {
        assert!(global[part].as_f64().unwrap() > 0.0, "{part} is exercised");
    }
}

/// A trace replayed to its end, split into blkif pieces: every I/O
/// completes, so the rows sum to the summary exactly; a row's pieces are
/// the I/O's.
#[test]
fn per_io_rows_of_a_split_trace_sum_exactly_to_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, header, order, rows) = run(
        &["fio-replay", "--set", "guests.0.split=\"blkif\""],
        dir.path(),
    );
    check(&summary, &header, &order, &rows, |_| 0.0);
    let global = &rows["global"];
    assert!(
        global.iter().any(|r| r["pieces"] > 1),
        "some I/Os are split"
    );
    assert_eq!(global.len(), 5000, "the whole trace");
}

/// With many requests in flight, each part's rows fall short of the
/// summary by at most what the requests in flight at the stop added
/// (at most `peak_in_flight` requests, each at most `latency_max` old).
#[test]
fn per_io_rows_sum_to_the_summary_up_to_what_is_in_flight() {
    for scenario in ["default", "migration"] {
        let dir = tempfile::tempdir().unwrap();
        let (summary, header, order, rows) = run(
            &[
                scenario,
                "--set",
                "stop.ios=4000",
                "--set",
                "stop.warmup_ios=400",
            ],
            dir.path(),
        );
        #[allow(clippy::cast_precision_loss, reason = "a bound in cycles")]
        check(&summary, &header, &order, &rows, |r| {
            (r["peak_in_flight"].as_u64().unwrap() * r["latency_cycles"]["max"].as_u64().unwrap())
                as f64
        });
    }
}

#[test]
fn per_io_is_documented_and_refuses_a_timeline() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md"))
            .unwrap();
    for c in reports::per_io_header().trim_end().split(',') {
        assert!(
            docs.contains(&format!("| `{c}` |")),
            "docs/metrics.md lacks {c}"
        );
    }
    let out = tlbsim(&[
        "run",
        "default",
        "--per-io",
        "a.csv",
        "--timeline",
        "t.json",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--timeline"),
        "{}",
        text(&out.stderr)
    );
    // An unwritable place is an error, not a panic, and leaves nothing.
    let out = tlbsim(&[
        "run",
        "default",
        "--set",
        "stop.ios=100",
        "--per-io",
        "/nonexistent-dir/io.csv",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent-dir/"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
