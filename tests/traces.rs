//! Trace replay and timelines, end to end through the CLI: the committed
//! real fio trace and the MSR-format sample replay completely under every
//! policy, bad traces are reported by file and line, and timelines have the
//! structure Perfetto / chrome://tracing expect.

use std::path::{Path, PathBuf};
mod common;
use common::{runs_of, text, tlbsim};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

const ALL_POLICIES: &str = "global,percpu,percpu-unsafe";

/// `(policy, io.completed)` of each run of `tlbsim run ARGS --json`.
fn completed(args: &[&str]) -> Vec<(String, u64)> {
    runs_of(args, |r| {
        (
            r["policy"].as_str().unwrap().to_string(),
            r["io"]["completed"].as_u64().unwrap(),
        )
    })
}

/// Read and write records of a fio iolog, counted without the traces crate.
fn fio_requests(p: &Path) -> u64 {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 5 && (f[2] == "read" || f[2] == "write")
        })
        .count() as u64
}

#[test]
fn the_committed_fio_trace_replays_completely_under_each_policy() {
    let n = fio_requests(&repo("traces/fio-randrw.iolog"));
    assert!(n >= 1000, "the committed trace holds {n} requests");
    let runs = completed(&["fio-replay", "--policies", ALL_POLICIES]);
    assert_eq!(runs.len(), 3);
    for (p, c) in runs {
        assert_eq!(c, n, "{p} completed {c} of the trace's {n} requests");
    }
}

fn scenario(dir: &Path, trace: &str, format: &str) -> PathBuf {
    let p = dir.join(format!("{format}.toml"));
    std::fs::write(
        &p,
        format!(
            "extends = \"fio-replay\"\n[[guests]]\npattern = \"trace\"\ntrace = \"{trace}\"\ntrace_format = \"{format}\"\nsize_bytes = 65536\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn the_msr_sample_converted_replays_completely_under_each_policy() {
    let msr = repo("traces/msr-sample.csv");
    let n = std::fs::read_to_string(&msr)
        .unwrap()
        .lines()
        .filter(|l| l.split(',').count() == 7 && !l.starts_with("Timestamp"))
        .count() as u64;
    assert!(n > 0);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("msr.csv");
    let out = tlbsim(&[
        "trace",
        "convert",
        msr.to_str().unwrap(),
        "--from",
        "msr",
        "--to",
        "tlbsim",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() as u64;
    assert_eq!(rows, n + 1, "header plus one row per record");
    // Relative to the scenario file that names it.
    let sc = scenario(dir.path(), "msr.csv", "tlbsim");
    for (p, c) in completed(&[sc.to_str().unwrap(), "--policies", ALL_POLICIES]) {
        assert_eq!(c, n, "{p}");
    }
    // The MSR file replays directly too, with the same result.
    let direct = scenario(dir.path(), msr.to_str().unwrap(), "msr");
    for (p, c) in completed(&[direct.to_str().unwrap(), "--policies", "global"]) {
        assert_eq!(c, n, "{p}");
    }
}

#[test]
fn a_malformed_line_is_reported_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(repo("traces/fio-randrw.iolog")).unwrap();
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    lines[99] = lines[99].replace("read", "reed").replace("write", "wrote");
    let bad = dir.path().join("bad.iolog");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let sc = scenario(dir.path(), "bad.iolog", "fio");
    let out = tlbsim(&["run", sc.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{}:100: unknown action", bad.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let out = tlbsim(&["trace", "stats", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("bad.iolog:100:"));
}

#[test]
fn a_truncated_trace_is_reported_not_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(repo("traces/fio-randrw.iolog")).unwrap();
    // Cut in the middle of line 3001's fields: no newline at the end.
    let cut: usize = src.lines().take(3000).map(|l| l.len() + 1).sum::<usize>() + 12;
    let t = dir.path().join("cut.iolog");
    std::fs::write(&t, &src[..cut]).unwrap();
    let sc = scenario(dir.path(), "cut.iolog", "fio");
    let out = tlbsim(&["run", sc.to_str().unwrap(), "--policies", "percpu"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a truncated trace must not replay");
    assert!(
        err.contains(&format!("{}:3001: truncated trace", t.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_trace_is_a_scenario_error() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path(), "nope.iolog", "fio");
    let out = tlbsim(&["run", sc.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("guests.0.trace: no trace file"), "{err}");
}

#[test]
fn trace_stats_summarizes() {
    let out = tlbsim(&[
        "trace",
        "stats",
        repo("traces/fio-randrw.iolog").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let n = fio_requests(&repo("traces/fio-randrw.iolog"));
    assert!(s.contains(&format!("requests     {n}\n")), "{s}");
    for want in [
        "reads ",
        "writes ",
        "sizes",
        "arrival rate over time",
        "(fio)",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
}

fn load(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn timelines_have_a_track_per_cpu_and_ipi_flows_under_global_only() {
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("tl.json");
    let out = tlbsim(&[
        "run",
        "default",
        "--set",
        "stop.ios=200",
        "--set",
        "stop.warmup_ios=0",
        "--timeline",
        tl.to_str().unwrap(),
        "--timeline-window",
        "0..2000000",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (policy, flows_wanted) in [("global", true), ("percpu", false)] {
        let v = load(&dir.path().join(format!("tl.{policy}.json")));
        let evs = v["traceEvents"].as_array().unwrap();
        let tracks: Vec<(u64, &str)> = evs
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .map(|e| {
                (
                    e["tid"].as_u64().unwrap(),
                    e["args"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(tracks.len(), 8, "one track per CPU");
        assert_eq!(tracks[0].1, "CPU 0 (I/O)");
        let tids: std::collections::BTreeSet<u64> = tracks.iter().map(|t| t.0).collect();
        assert_eq!(tids.len(), 8);
        let slices: Vec<_> = evs.iter().filter(|e| e["ph"] == "X").collect();
        assert!(!slices.is_empty());
        assert!(slices
            .iter()
            .all(|e| tids.contains(&e["tid"].as_u64().unwrap())));
        for name in ["dequeue+map", "data touch", "unmap", "complete"] {
            assert!(
                slices.iter().any(|e| e["name"] == name),
                "{policy}: no {name} slice"
            );
        }
        let starts = evs.iter().filter(|e| e["ph"] == "s").count();
        let ends: Vec<_> = evs.iter().filter(|e| e["ph"] == "f").collect();
        assert_eq!(starts, ends.len());
        assert!(ends.iter().all(|e| e["bp"] == "e" && e["id"].is_u64()));
        if flows_wanted {
            assert!(starts > 0, "global shoots down: IPI flows expected");
            assert!(slices.iter().any(|e| e["name"] == "IPI handler"));
        } else {
            assert_eq!(starts, 0, "percpu sends no IPI");
        }
        let counters: Vec<&str> = evs
            .iter()
            .filter(|e| e["ph"] == "C")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(counters.contains(&"requests in flight"));
        assert!(counters.iter().any(|c| c.starts_with("TLB entries CPU ")));
        let meta = &v["otherData"];
        assert_eq!(meta["policy"], policy);
        assert_eq!(meta["window_start_cycles"], 0);
        assert_eq!(meta["window_end_cycles"], 2_000_000);
        assert_eq!(meta["event_cap"], 1_000_000);
        assert_eq!(meta["truncated"], false);
        // Everything lies inside the window: 2,000,000 cycles at 2.5 GHz = 800 µs.
        assert!(evs
            .iter()
            .filter_map(|e| e["ts"].as_f64())
            .all(|t| (0.0..800.0).contains(&t)));
    }
}

#[test]
fn the_event_cap_bounds_the_timeline_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("cap.json");
    let out = tlbsim(&[
        "run",
        "default",
        "--policies",
        "global",
        "--set",
        "stop.ios=200",
        "--set",
        "stop.warmup_ios=0",
        "--timeline",
        tl.to_str().unwrap(),
        "--timeline-max-events",
        "100",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("drops"));
    let v = load(&tl);
    assert_eq!(v["otherData"]["event_cap"], 100);
    assert_eq!(v["otherData"]["truncated"], true);
    assert!(v["otherData"]["events_dropped"].as_u64().unwrap() > 0);
    let kept = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] != "M")
        .count();
    assert!(kept <= 100, "{kept} events kept");
    // Deterministic: the same run writes the same bytes.
    let again = dir.path().join("again.json");
    let out = tlbsim(&[
        "run",
        "default",
        "--policies",
        "global",
        "--set",
        "stop.ios=200",
        "--set",
        "stop.warmup_ios=0",
        "--timeline",
        again.to_str().unwrap(),
        "--timeline-max-events",
        "100",
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(&tl).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn time_scale_stretches_the_replay() {
    let sim_cycles = |scale: &str| -> u64 {
        let out = tlbsim(&[
            "run",
            "fio-replay",
            "--policies",
            "percpu",
            "--set",
            &format!("guests.0.time_scale={scale}"),
            "--set",
            "background.enabled=false",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["runs"][0]["io"]["completed"].as_u64(),
            Some(fio_requests(&repo("traces/fio-randrw.iolog")))
        );
        v["runs"][0]["sim_cycles"].as_u64().unwrap()
    };
    let (one, two) = (sim_cycles("1.0"), sim_cycles("2.0"));
    // The trace spans ~0.33 s; requests take microseconds, so the run's
    // length is the trace's span times the scale, within a few percent.
    #[allow(clippy::cast_precision_loss, reason = "a ratio")]
    let ratio = two as f64 / one as f64;
    assert!((1.95..2.05).contains(&ratio), "ratio {ratio}");
}
