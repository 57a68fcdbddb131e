//! SIGINT and SIGTERM stop `tlbsim sweep` and `tlbsim run` cleanly: no
//! temporary or half-written file anywhere, every finished point kept, the
//! lock released, and a rerun resumes from the kept points, ending with the
//! files of an uninterrupted run. Also: a second sweep on a directory in use
//! refuses, naming the directory and the holder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn tlbsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlbsim"))
}

/// 16 simulations of a few hundred milliseconds each.
const SWEEP: &str = r#"
base = "default"
replications = 2
set = ["stop.ios = 3000", "stop.warmup_ios=100"]

[[axes]]
key = "machine.cpus"
label = "CPUs"
values = [2, 4, 8, 16]
"#;
const TOTAL: usize = 16;

fn start_sweep(file: &Path, out: &Path) -> Child {
    tlbsim()
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The finished point files and their modification times.
fn points(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let Ok(rd) = std::fs::read_dir(dir.join("points")) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .map(|p| {
            let t = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, t)
        })
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -s {sig} failed");
}

/// Waits for `child` to exit (at most 60 s) and returns its output.
fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("tlbsim did not stop within 60 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// No temporary file (`.NAME.PID.tmp`), no lock, and every JSON file parses
/// whole.
fn assert_only_whole_files(dir: &Path) {
    for f in all_files(dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.starts_with('.'), "left behind: {}", f.display());
        if name.ends_with(".json") {
            let text = std::fs::read_to_string(&f).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{} is not whole JSON: {e}", f.display()));
        }
    }
}

fn interrupted_sweep_resumes(sig: &str, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = tmp.path().join("out");
    let child = start_sweep(&file, &out);
    let deadline = Instant::now() + Duration::from_secs(120);
    while points(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no 3 points within 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = points(&out);
    signal(&child, sig);
    let stopped = wait_bounded(child);
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(code), "{err}");
    assert!(err.contains(&format!("stopped by SIG{sig}")), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    let kept = points(&out);
    assert!(kept.len() < TOTAL, "the sweep finished before the signal");
    // Everything finished before the signal is kept, untouched.
    for p in &before {
        assert!(kept.contains(p), "{} lost or rewritten", p.0.display());
    }
    assert_only_whole_files(&out);
    assert!(
        !out.join("sweep.csv").exists(),
        "assembled from a partial sweep"
    );

    // The rerun runs exactly the points not kept, redoes none of the kept.
    let resumed = finish(
        tlbsim()
            .arg("sweep")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .args(["--jobs", "2"]),
    );
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        err.contains(&format!(
            "{} already done, {} to run",
            kept.len(),
            TOTAL - kept.len()
        )),
        "{err}"
    );
    let after = points(&out);
    assert_eq!(after.len(), TOTAL);
    for p in &kept {
        assert!(after.contains(p), "{} was redone", p.0.display());
    }
    assert_only_whole_files(&out);
    // The same results as an uninterrupted sweep.
    let clean = tmp.path().join("clean");
    finish(
        tlbsim()
            .arg("sweep")
            .arg(&file)
            .arg("--out")
            .arg(&clean)
            .args(["--jobs", "2"]),
    );
    for f in ["sweep.csv", "sweep.json", "plan.json"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(clean.join(f)).unwrap(),
            "{f} differs from an uninterrupted sweep's"
        );
    }
}

#[test]
fn sigint_stops_a_sweep_that_then_resumes() {
    interrupted_sweep_resumes("INT", 130);
}

#[test]
fn sigterm_stops_a_sweep_that_then_resumes() {
    interrupted_sweep_resumes("TERM", 143);
}

#[test]
fn sigterm_stops_a_run_leaving_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let child = tlbsim()
        .args(["run", "default", "--set", "stop.ios=100000000", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "TERM");
    let stopped = wait_bounded(child);
    assert_eq!(
        stopped.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert_eq!(all_files(&out), Vec::<PathBuf>::new());
}

#[test]
fn a_second_sweep_on_a_directory_in_use_refuses_naming_it_and_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = tmp.path().join("out");
    let first = start_sweep(&file, &out);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join(".lock").exists() {
        assert!(Instant::now() < deadline, "no lock within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = tlbsim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{} is in use by another tlbsim sweep (pid {}",
            out.display(),
            first.id()
        )),
        "{err}"
    );
    // The first is not disturbed: it finishes, with every point, and frees
    // the directory.
    let done = wait_bounded(first);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(points(&out).len(), TOTAL);
    assert_only_whole_files(&out);
    finish(tlbsim().arg("sweep").arg(&file).arg("--out").arg(&out));
}
