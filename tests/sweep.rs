//! `tlbsim sweep` and `tlbsim merge` as a user runs them: results that do
//! not depend on `--jobs`, shards that merge into the files of one run, a
//! killed sweep that resumes without redoing finished points, and sweep
//! file errors that name file, line and key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn tlbsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlbsim"))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("tlbsim runs");
    assert!(
        out.status.success(),
        "tlbsim failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A small sweep: 3 grid points x 2 policies x 2 seeds.
const SWEEP: &str = r#"
description = "test sweep"
base = "default"
policies = ["global", "percpu"]
seeds = [1, 2]

[set]
stop.ios = 200
stop.warmup_ios = 20

[axes]
"machine.cpus" = [2, 4, 8]
"#;

fn sweep_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("small.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> Output {
    run_ok(
        tlbsim()
            .arg("sweep")
            .arg(file)
            .arg("--out")
            .arg(out)
            .args(extra),
    )
}

/// Every output file of a sweep (not the point files), relative path ->
/// bytes.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        "sweep.csv".to_string(),
        "sweep.json".to_string(),
        "report.html".to_string(),
        "plan.json".to_string(),
    ];
    let mut plots: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| format!("plots/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    plots.sort();
    files.extend(plots);
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            (f, bytes)
        })
        .collect()
}

fn assert_same_outputs(a: &Path, b: &Path) {
    let (oa, ob) = (outputs(a), outputs(b));
    let names = |o: &[(String, Vec<u8>)]| o.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&oa), names(&ob));
    for ((name, x), (_, y)) in oa.iter().zip(&ob) {
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn jobs_do_not_change_results_and_shards_merge_into_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), SWEEP);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    sweep(&file, &a, &["--jobs", "1"]);
    sweep(&file, &b, &["--jobs", "2"]);
    assert_same_outputs(&a, &b);

    // The CSV holds the full grid, each row once, in grid/policy/seed order.
    let csv = std::fs::read_to_string(a.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("machine.cpus,policy,seed,io_completed,"),
        "{header}"
    );
    let keys: Vec<String> = lines
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    let mut want = Vec::new();
    for cpus in [2, 4, 8] {
        for p in ["global", "percpu"] {
            for seed in [1, 2] {
                want.push(format!("{cpus},{p},{seed}"));
            }
        }
    }
    assert_eq!(keys, want);

    // Two shards, merged, give byte-identical files.
    let (s1, s2, m) = (
        tmp.path().join("s1"),
        tmp.path().join("s2"),
        tmp.path().join("m"),
    );
    sweep(&file, &s1, &["--shard", "1/2", "--jobs", "1"]);
    sweep(&file, &s2, &["--shard", "2/2", "--jobs", "1"]);
    assert!(
        !s1.join("sweep.csv").exists(),
        "a shard alone writes only points"
    );
    let n1 = std::fs::read_dir(s1.join("points")).unwrap().count();
    let n2 = std::fs::read_dir(s2.join("points")).unwrap().count();
    assert_eq!(n1 + n2, 12, "the shards are disjoint and cover the grid");
    run_ok(tlbsim().arg("merge").arg(&s1).arg(&s2).arg("--out").arg(&m));
    assert_same_outputs(&a, &m);

    // Merging an incomplete set of shards is an error naming what is missing.
    let partial = tmp.path().join("partial");
    let out = tlbsim()
        .arg("merge")
        .arg(&s1)
        .arg("--out")
        .arg(&partial)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("6 of 12 simulations have no point file"),
        "{err}"
    );

    // Plots are valid PNG and SVG, the figure included.
    for name in ["figure", "ipis_per_io", "iops", "latency_p99"] {
        let png = std::fs::read(a.join(format!("plots/{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
        let svg = std::fs::read_to_string(a.join(format!("plots/{name}.svg"))).unwrap();
        assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}

fn point_files(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("points"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let t = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, t)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn rerun_skips_finished_points() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), SWEEP);
    let a = tmp.path().join("a");
    sweep(&file, &a, &["--jobs", "2"]);
    let before = outputs(&a);
    let points = point_files(&a);
    assert_eq!(points.len(), 12);
    // Lose two points; a re-run redoes exactly those.
    std::fs::remove_file(&points[0].0).unwrap();
    std::fs::remove_file(&points[5].0).unwrap();
    let out = sweep(&file, &a, &["--jobs", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10 already done, 2 to run"), "{err}");
    let after = point_files(&a);
    for (i, (p, t)) in points.iter().enumerate() {
        assert_eq!(&after[i].0, p);
        if i != 0 && i != 5 {
            assert_eq!(after[i].1, *t, "{} was rewritten", p.display());
        }
    }
    assert_eq!(outputs(&a), before);
    // Nothing left to do: a third run only reassembles.
    let out = sweep(&file, &a, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("12 already done, 0 to run"), "{err}");
}

#[test]
fn a_killed_sweep_resumes_without_redoing_finished_points() {
    let tmp = tempfile::tempdir().unwrap();
    // Bigger points, so the sweep is still running when killed.
    let file = sweep_file(
        tmp.path(),
        &SWEEP
            .replace("stop.ios = 200", "stop.ios = 3000")
            .replace("[2, 4, 8]", "[2, 4, 8, 16]"),
    );
    let a = tmp.path().join("a");
    let mut child = tlbsim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&a)
        .args(["--jobs", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_dir(a.join("points"))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))
                })
                .count()
            })
            .unwrap_or(0);
        if n >= 3 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let done = point_files(&a);
    assert!(done.len() >= 3, "{} points before the kill", done.len());
    assert!(done.len() < 16, "the sweep finished before it was killed");
    let out = sweep(&file, &a, &["--jobs", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} already done, {} to run",
            done.len(),
            16 - done.len()
        )),
        "{err}"
    );
    let after = point_files(&a);
    assert_eq!(after.len(), 16);
    for (p, t) in &done {
        let now = after.iter().find(|(q, _)| q == p).unwrap();
        assert_eq!(now.1, *t, "{} was redone", p.display());
    }
    let csv = std::fs::read_to_string(a.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 17);
}

#[test]
fn sweep_file_errors_name_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(
        tmp.path(),
        "base = \"default\"\nseedz = [1]\n\n[axes]\n\"machine.cpus\" = 4\n",
    );
    let out = tlbsim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display().to_string();
    assert!(err.contains(&format!("{f}:2: seedz: unknown key")), "{err}");
    assert!(
        err.contains(&format!("{f}:5: axes.machine.cpus: must be a list")),
        "{err}"
    );
    // A bad scenario key in an axis is the scenario loader's error.
    let file = sweep_file(
        tmp.path(),
        "base = \"default\"\n[axes]\n\"machine.cpuz\" = [4]\n",
    );
    let out = tlbsim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(tmp.path().join("o2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("machine.cpuz"), "{err}");
}
