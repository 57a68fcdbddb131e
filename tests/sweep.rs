//! `tlbsim sweep` and `tlbsim merge` as a user runs them: the CLI's wiring
//! (`--jobs`, `--shard`, `--set`, `--out`, `merge`), a killed process that
//! resumes without redoing finished points, and errors on the terminal.
//! What sweeps compute (plans, located errors, sharding, resuming, jobs
//! not changing results) is tested in the `sweeps` crate.

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

/// A small sweep: 3 grid points x the base's 2 policies x 2 seeds.
const SWEEP: &str = r#"
base = "default"
replications = 2
set = ["stop.ios = 200", "stop.warmup_ios=20"]

[[axes]]
key = "machine.cpus"
label = "CPUs"
values = [2, 4, 8]
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
fn shards_run_from_the_command_line_merge_into_the_files_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), SWEEP);
    let a = tmp.path().join("a");
    let out = sweep(&file, &a, &["--jobs", "2", "--set", "stop.warmup_ios=10"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sweep small: 12 simulations, 0 already done, 12 to run on 2 threads"),
        "{err}"
    );
    assert!(err.contains("results in"), "{err}");
    let (s1, s2, m) = (
        tmp.path().join("s1"),
        tmp.path().join("s2"),
        tmp.path().join("m"),
    );
    let extra = ["--jobs", "1", "--set", "stop.warmup_ios=10"];
    let out = sweep(&file, &s1, &[&["--shard", "1/2"][..], &extra].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 1/2 done"), "{err}");
    sweep(&file, &s2, &[&["--shard", "2/2"][..], &extra].concat());
    assert!(
        !s1.join("sweep.csv").exists(),
        "a shard alone writes only points"
    );
    let out = run_ok(tlbsim().arg("merge").arg(&s1).arg(&s2).arg("--out").arg(&m));
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 point files copied"));
    assert_same_outputs(&a, &m);

    // Plots are valid PNG and SVG, the figure included.
    for name in ["figure", "ipis_per_io", "iops", "latency_p99"] {
        let png = std::fs::read(a.join(format!("plots/{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
        let svg = std::fs::read_to_string(a.join(format!("plots/{name}.svg"))).unwrap();
        assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    // A bad shard and an incomplete merge are errors on the terminal.
    let out = tlbsim()
        .args(["sweep", "scaling", "--shard", "3/2", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: --shard 3/2: expected I/N"));
    let out = tlbsim()
        .arg("merge")
        .arg(&s1)
        .arg("--out")
        .arg(tmp.path().join("partial"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("6 of 12 simulations have no point file"),
        "{err}"
    );
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
}
